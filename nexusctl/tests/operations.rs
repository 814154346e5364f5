//! Operating a running instance: scheduled backups, alerts, the dashboard.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{Up, run, text};

fn alerts(d: &str) -> Vec<serde_json::Value> {
    let out = run(&["--state-dir", d, "alerts", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    serde_json::from_slice::<Vec<serde_json::Value>>(&out.stdout).unwrap()
}

fn ids(alerts: &[serde_json::Value]) -> Vec<String> {
    alerts
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Waits until `f` holds, up to `secs`.
fn eventually(secs: u64, what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(Instant::now() < deadline, "never: {what}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Writes alerts.toml: alert e-mails to `email_to`, if given. The disk rule has its unit
/// test; how full this machine's disk is is not ours to assert, so it is off.
fn alert_settings(dir: &Path, email_to: Option<&str>) {
    let mut settings = "disk_percent = 100\n".to_owned();
    if let Some(to) = email_to {
        settings.push_str(&format!("email_to = [\"{to}\"]\n"));
    }
    std::fs::write(dir.join("alerts.toml"), settings).unwrap();
}

fn certificate(dir: &Path, name: &str, days: u32) {
    std::fs::create_dir_all(dir).unwrap();
    let out = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args([
            "-nodes",
            "-subj",
            "/CN=nexus.test",
            "-days",
            &days.to_string(),
        ])
        .arg("-keyout")
        .arg(dir.join(format!("{name}.key")))
        .arg("-out")
        .arg(dir.join(format!("{name}.pem")))
        .output()
        .expect("openssl (Debian: apt-get install openssl)");
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn scheduled_backups_run_under_up_and_what_goes_wrong_is_an_alert() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("state");
    let d = dir.to_str().unwrap();
    assert!(run(&["init", "--state-dir", d]).status.success());
    alert_settings(&dir, None);

    // Stopped: that is the first alert.
    let a = alerts(d);
    assert_eq!(ids(&a)[0], "down", "{a:?}");
    assert_eq!(a[0]["severity"], "critical");
    assert!(ids(&a).contains(&"backup-unscheduled".to_owned()));

    let mut up = Up::start(&dir, "127.0.0.1:0");
    up.wait_for("NEXUS is ready at", Duration::from_secs(60));
    let a = alerts(d);
    assert_eq!(ids(&a), ["backup-unscheduled"], "{a:?}");
    assert_eq!(a[0]["severity"], "info");

    // A certificate about to expire, one fine.
    certificate(&dir.join("tls"), "soon", 2);
    certificate(&dir.join("tls"), "fine", 90);
    let a = alerts(d);
    let cert = a
        .iter()
        .find(|x| x["id"].as_str().unwrap().ends_with("soon.pem"))
        .unwrap_or_else(|| panic!("{a:?}"));
    assert_eq!(cert["severity"], "critical");
    assert!(
        cert["summary"].as_str().unwrap().contains("expires in"),
        "{cert}"
    );
    assert!(!ids(&a).iter().any(|i| i.ends_with("fine.pem")));
    std::fs::remove_dir_all(dir.join("tls")).unwrap();

    // A schedule is checked when it is set: a wrong passphrase is refused then, not later.
    let repo = tmp.path().join("repo");
    let r = repo.to_str().unwrap();
    let pass = tmp.path().join("pass");
    std::fs::write(&pass, "correct horse battery staple\n").unwrap();
    let p = pass.to_str().unwrap();
    let init = run(&[
        "--state-dir",
        d,
        "backup",
        "init",
        "--repo",
        r,
        "--passphrase-file",
        p,
    ]);
    assert!(init.status.success(), "{}", text(&init.stderr));
    let wrong = tmp.path().join("wrong");
    std::fs::write(&wrong, "not it\n").unwrap();
    let refused = run(&[
        "--state-dir",
        d,
        "backup",
        "schedule",
        "--repo",
        r,
        "--passphrase-file",
        wrong.to_str().unwrap(),
        "--every",
        "2s",
    ]);
    assert_ne!(refused.status.code(), Some(0));
    assert!(
        text(&refused.stderr).contains("passphrase"),
        "{}",
        text(&refused.stderr)
    );

    let set = run(&[
        "--state-dir",
        d,
        "backup",
        "schedule",
        "--repo",
        r,
        "--passphrase-file",
        p,
        "--every",
        "2s",
        "--keep-last",
        "2",
    ]);
    assert!(set.status.success(), "{}", text(&set.stderr));
    assert!(
        text(&set.stdout).contains("every 2 s"),
        "{}",
        text(&set.stdout)
    );

    // The supervisor runs it when due, again and again, pruning to the last two.
    let snapshots = || -> usize {
        let out = run(&[
            "backup",
            "list",
            "--repo",
            r,
            "--passphrase-file",
            p,
            "--json",
        ]);
        serde_json::from_slice::<Vec<serde_json::Value>>(&out.stdout)
            .map(|v| v.len())
            .unwrap_or(0)
    };
    let shown = || -> serde_json::Value {
        let out = run(&["--state-dir", d, "backup", "schedule", "--json"]);
        serde_json::from_slice(&out.stdout).unwrap()
    };
    eventually(90, "two scheduled backups", || {
        shown()["status"]["last_success"]["snapshot"].is_string() && snapshots() >= 2
    });
    let first = shown()["status"]["last_success"]["snapshot"].clone();
    eventually(90, "a third backup, pruned to two", || {
        shown()["status"]["last_success"]["snapshot"] != first && snapshots() == 2
    });
    assert!(!ids(&alerts(d)).iter().any(|i| i.starts_with("backup")));

    // The passphrase file disappears: the next run fails, and that is an alert.
    std::fs::rename(&pass, tmp.path().join("moved")).unwrap();
    eventually(60, "a backup-failed alert", || {
        alerts(d).iter().any(|a| {
            a["id"] == "backup-failed"
                && a["severity"] == "critical"
                && a["summary"].as_str().unwrap().contains("passphrase")
        })
    });
    let logs = run(&["--state-dir", d, "logs", "backup", "-n", "50"]);
    assert!(logs.status.success(), "{}", text(&logs.stderr));
    assert!(
        text(&logs.stdout).contains("passphrase"),
        "the scheduled run's error is in its log: {}",
        text(&logs.stdout)
    );

    let off = run(&["--state-dir", d, "backup", "schedule", "--off"]);
    assert!(off.status.success(), "{}", text(&off.stderr));
    assert_eq!(ids(&alerts(d)), ["backup-unscheduled"]);
    let (code, _) = up.terminate();
    assert_eq!(code, Some(0));
}

/// tmux on a private socket, killed (with its sessions) when dropped.
struct Tmux(String);

impl Tmux {
    fn cmd(&self, args: &[&str]) -> std::process::Output {
        std::process::Command::new("tmux")
            .args(["-L", &self.0])
            .args(args)
            .output()
            .expect("tmux (Debian: apt-get install tmux)")
    }

    fn screen(&self) -> String {
        text(&self.cmd(&["capture-pane", "-p", "-t", "dash"]).stdout)
    }

    fn keys(&self, keys: &str) {
        assert!(
            self.cmd(&["send-keys", "-t", "dash", keys])
                .status
                .success()
        );
    }

    fn wait_for(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let s = self.screen();
            if s.contains(needle) {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "no {needle:?} on the screen:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd(&["kill-server"]);
    }
}

#[test]
fn the_dashboard_in_a_terminal_restarts_a_service_when_asked() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("state");
    let d = dir.to_str().unwrap();
    let mut up = Up::start(&dir, "127.0.0.1:0");
    up.wait_for("NEXUS is ready at", Duration::from_secs(60));
    let pid = |d: &str| -> u64 {
        let out = run(&["--state-dir", d, "status", "--json"]);
        let s: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        s["daemons"][0]["pid"].as_u64().unwrap_or(0)
    };
    let before = pid(d);

    let tmux = Tmux(format!("nexus-test-{}", std::process::id()));
    let exe = env!("CARGO_BIN_EXE_nexusctl");
    let command = format!("{exe} --state-dir {d} dash");
    let started = tmux.cmd(&[
        "new-session",
        "-d",
        "-s",
        "dash",
        "-x",
        "110",
        "-y",
        "36",
        &command,
    ]);
    assert!(started.status.success(), "{}", text(&started.stderr));

    let s = tmux.wait_for("Services");
    assert!(s.contains("ALL WELL"), "{s}");
    tmux.wait_for("running");
    assert!(s.contains("web"), "{s}");
    assert!(s.contains("not scheduled"), "{s}");

    tmux.keys("?");
    tmux.wait_for("any key closes this help");
    tmux.keys("x");
    let deadline = Instant::now() + Duration::from_secs(10);
    while tmux.screen().contains("any key closes this help") {
        assert!(Instant::now() < deadline, "help stays open");
        std::thread::sleep(Duration::from_millis(100));
    }

    tmux.keys("r");
    tmux.wait_for("Restart web?");
    tmux.keys("y");
    tmux.wait_for("web restarted and ready");
    assert_ne!(pid(d), before, "a new web process");

    tmux.keys("q");
    let deadline = Instant::now() + Duration::from_secs(10);
    while tmux.cmd(&["has-session", "-t", "dash"]).status.success() {
        assert!(
            Instant::now() < deadline,
            "q did not quit:\n{}",
            tmux.screen()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let (code, _) = up.terminate();
    assert_eq!(code, Some(0));
}

/// Subjects of the messages the sink holds, in order.
fn subjects(sink: &nexus_testkit::smtp::SmtpSink) -> Vec<String> {
    sink.messages()
        .unwrap()
        .iter()
        .filter_map(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("Subject: ").map(str::to_owned))
        })
        .collect()
}

#[test]
fn alerts_are_e_mailed_when_they_begin_and_end_and_a_failing_relay_is_an_alert() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let Some(sink) = rt.block_on(nexus_testkit::smtp::SmtpSink::start()).unwrap() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("state");
    let d = dir.to_str().unwrap();
    assert!(run(&["init", "--state-dir", d]).status.success());

    // No recipients: the test message says where to put them.
    let none = run(&["--state-dir", d, "alerts", "--test-mail"]);
    assert_eq!(none.status.code(), Some(2));
    assert!(
        text(&none.stderr).contains("email_to"),
        "{}",
        text(&none.stderr)
    );

    let mut config = std::fs::read_to_string(dir.join("config.toml")).unwrap();
    config.push_str(&format!(
        "\n[mail]\nsmtp_url = \"{}\"\nfrom = \"NEXUS <nexus@test.example>\"\n",
        sink.url()
    ));
    std::fs::write(dir.join("config.toml"), config).unwrap();
    alert_settings(&dir, Some("ops@test.example"));

    let test = run(&["--state-dir", d, "alerts", "--test-mail"]);
    assert!(test.status.success(), "{}", text(&test.stderr));
    rt.block_on(sink.wait_for(1, Duration::from_secs(10)))
        .unwrap();
    assert!(subjects(&sink)[0].contains("test of the alert e-mails"));

    // Stopped: a critical alert begins, and is mailed once, not at every evaluation.
    let a = alerts(d);
    assert_eq!(ids(&a)[0], "down");
    let got = rt
        .block_on(sink.wait_for(2, Duration::from_secs(10)))
        .unwrap();
    assert!(
        subjects(&sink)[1].contains("CRITICAL"),
        "{:?}",
        subjects(&sink)
    );
    assert!(got[1].contains("To: ops@test.example"), "{}", got[1]);
    assert!(got[1].contains("New:"), "{}", got[1]);
    // The info alert (no backups scheduled) is below the default severity.
    assert!(!got[1].contains("no backups are scheduled"), "{}", got[1]);
    alerts(d);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(sink.messages().unwrap().len(), 2);

    // Running: it ended, and that is mailed too.
    let mut up = Up::start(&dir, "127.0.0.1:0");
    up.wait_for("NEXUS is ready at", Duration::from_secs(60));
    let resolved = rt.block_on(async {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            // `up` evaluates every 15 s; asking evaluates now.
            let _ = run(&["--state-dir", d, "alerts", "--json"]);
            if let Some(s) = subjects(&sink).get(2) {
                return s.clone();
            }
            assert!(Instant::now() < deadline, "no resolution mail");
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    });
    assert!(resolved.contains("resolved"), "{resolved}");

    // A relay that refuses: the alert that could not be mailed is still shown, and the
    // failure is an alert of its own with what to do.
    alert_settings(&dir, Some("not an address"));
    certificate(&dir.join("tls"), "soon", 2);
    let a = alerts(d);
    let mail = a
        .iter()
        .find(|x| x["id"] == "alert-mail")
        .unwrap_or_else(|| panic!("{a:?}"));
    assert_eq!(mail["severity"], "warning");
    assert!(
        mail["summary"].as_str().unwrap().contains("not an address"),
        "{mail}"
    );
    assert!(ids(&a).iter().any(|i| i.ends_with("soon.pem")), "{a:?}");

    // Fixed and tested: the next evaluation sends what was owed, and the failure is gone.
    alert_settings(&dir, Some("ops@test.example"));
    let test = run(&["--state-dir", d, "alerts", "--test-mail"]);
    assert!(test.status.success(), "{}", text(&test.stderr));
    let a = alerts(d);
    assert!(!ids(&a).contains(&"alert-mail".to_owned()), "{a:?}");
    let got = rt
        .block_on(sink.wait_for(5, Duration::from_secs(10)))
        .unwrap();
    assert!(got[4].contains("soon.pem"), "{}", got[4]);
    up.terminate();
}
