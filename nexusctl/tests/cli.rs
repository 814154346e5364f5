//! nexusctl end to end: provisioning (all or nothing), the supervisor, status and stop.
//! Needs the nexusd binary next to nexusctl (`cargo build --bins`, which `./dev test` does).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Up, hit, http_login, nexusctl, nix_kill, run, text};

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

fn leftovers(parent: &Path) -> Vec<String> {
    std::fs::read_dir(parent)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn init_with_unreachable_postgres_writes_nothing() {
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("state");
    let o = run(&[
        "init",
        "--state-dir",
        dir.to_str().unwrap(),
        "--database-url",
        "postgres://nexus:pw@127.0.0.1:1/nexus",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    let e = text(&o.stderr);
    assert!(
        e.contains("nothing was written") && e.contains("cannot reach PostgreSQL at 127.0.0.1:1"),
        "{e}"
    );
    assert!(
        leftovers(parent.path()).is_empty(),
        "left behind: {:?}",
        leftovers(parent.path())
    );
}

#[test]
fn init_in_an_unwritable_place_is_refused() {
    let file = tempfile::NamedTempFile::new().unwrap();
    let o = run(&[
        "init",
        "--state-dir",
        file.path().join("state").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let e = text(&o.stderr);
    assert!(
        e.contains("cannot create") && e.contains("--state-dir"),
        "{e}"
    );
}

#[test]
fn init_provisions_once() {
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("state");
    let o = run(&[
        "init",
        "--state-dir",
        dir.to_str().unwrap(),
        "--json",
        "--admin-email",
        "boss@example.org",
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["admin_email"], "boss@example.org");
    let link = v["setup_link"].as_str().unwrap();
    assert!(link.starts_with("http://127.0.0.1:"), "{link}");
    let token = link.split_once("/setup#token=").unwrap().1;
    assert!(token.len() >= 40, "{link}");
    assert_eq!(v["setup_link_days"], 7);
    for f in ["config.toml", "nexus.db", "secrets/session.key"] {
        assert!(dir.join(f).exists(), "{f} missing");
    }
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
        0o700
    );
    assert_eq!(
        leftovers(parent.path()),
        vec!["state"],
        "no temporary directory left"
    );
    let again = run(&["init", "--state-dir", dir.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(2));
    assert!(text(&again.stderr).contains("already provisioned"));
    let ok = run(&["configtest", "--state-dir", dir.to_str().unwrap()]);
    assert!(ok.status.success(), "{}", text(&ok.stderr));
}

#[test]
fn init_refuses_a_non_empty_directory() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("precious.txt"), "keep me").unwrap();
    let o = run(&["init", "--state-dir", dir.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("is not empty"));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("precious.txt")).unwrap(),
        "keep me"
    );
}

#[test]
fn status_of_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let o = run(&[
        "status",
        "--state-dir",
        dir.path().join("none").to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(3));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["healthy"], false);
    assert_eq!(v["daemons"][0]["state"], "stopped");
}

/// `nexusctl up` in the background, with its stdout lines on a channel.
fn status_json(dir: &Path) -> serde_json::Value {
    let o = run(&["status", "--state-dir", dir.to_str().unwrap(), "--json"]);
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
fn up_status_crash_restart_and_stop() {
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("state");
    // Port 0: the daemon picks a free port and nexusctl reports the one it got.
    let mut up = Up::start(&dir, "127.0.0.1:0");
    let lines = up.wait_for("NEXUS is ready at", Duration::from_secs(60));
    let url = lines
        .last()
        .unwrap()
        .trim_start_matches("NEXUS is ready at ")
        .to_owned();
    // Port 0: the link waits for the port the daemon got, then names it.
    let setup = format!("within 7 days at: {url}setup#token=");
    assert!(
        lines.iter().any(|l| l.contains(&setup)),
        "first run prints the setup link ({setup}): {lines:?}"
    );
    assert!(
        url.starts_with("http://127.0.0.1:") && !url.starts_with("http://127.0.0.1:0/"),
        "{url}"
    );
    let port: u16 = url
        .trim_start_matches("http://127.0.0.1:")
        .trim_end_matches('/')
        .parse()
        .unwrap();
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok(),
        "serving at {url}"
    );

    let s = status_json(&dir);
    assert_eq!(s["healthy"], true, "{s}");
    assert_eq!(s["url"], url.as_str());
    let web = &s["daemons"][0];
    assert_eq!(
        (
            web["name"].as_str(),
            web["state"].as_str(),
            web["ready"].as_bool()
        ),
        (Some("web"), Some("running"), Some(true))
    );
    let first_pid = web["pid"].as_u64().unwrap();

    // A second `up` on the same state directory is refused.
    let twice = run(&[
        "up",
        "--state-dir",
        dir.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
    ]);
    assert_eq!(twice.status.code(), Some(2));
    assert!(text(&twice.stderr).contains("already running"));

    // A crashed daemon is restarted.
    nix_kill(first_pid as u32, "KILL");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let s = status_json(&dir);
        let web = &s["daemons"][0];
        if web["state"] == "running"
            && web["ready"] == true
            && web["pid"].as_u64() != Some(first_pid)
        {
            assert_eq!(web["restarts"], 1);
            break;
        }
        assert!(Instant::now() < deadline, "not restarted: {s}");
        std::thread::sleep(Duration::from_millis(200));
    }

    // A restart on request: graceful, answered once ready again, and not counted as a crash.
    let before = status_json(&dir)["daemons"][0]["pid"].as_u64().unwrap();
    let d = dir.to_str().unwrap();
    let restarted = run(&["restart", "web", "--state-dir", d]);
    assert!(restarted.status.success(), "{}", text(&restarted.stderr));
    assert!(text(&restarted.stdout).contains("web restarted and ready"));
    let s = status_json(&dir);
    let web = &s["daemons"][0];
    assert_eq!(web["state"], "running", "{s}");
    assert_eq!(web["restarts"], 1, "{s}");
    assert_ne!(web["pid"].as_u64(), Some(before));
    // (Port 0: each start picks a free port; the status has the one it got now.)
    let now = s["url"].as_str().unwrap().trim_start_matches("http://");
    assert!(
        std::net::TcpStream::connect(now.trim_end_matches('/')).is_ok(),
        "serving again: {s}"
    );
    let unknown = run(&["restart", "mail", "--state-dir", d]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(text(&unknown.stderr).contains("the services are: web"));

    let (code, took) = up.terminate();
    assert_eq!(code, Some(0));
    assert!(took < Duration::from_secs(10), "stopped in {took:?}");
    let s = status_json(&dir);
    assert_eq!(s["daemons"][0]["state"], "stopped");
    let not_running = run(&["restart", "web", "--state-dir", d]);
    assert_eq!(
        not_running.status.code(),
        Some(3),
        "{}",
        text(&not_running.stderr)
    );
    assert!(!dir.join("run/web.sock").exists(), "admin socket removed");

    // The second run reuses the instance and prints no password.
    let mut up = Up::start(&dir, "127.0.0.1:0");
    let lines = up.wait_for("NEXUS is ready at", Duration::from_secs(60));
    assert!(!lines.iter().any(|l| l.contains("setup#token")));
    let stop = run(&["stop", "--state-dir", dir.to_str().unwrap()]);
    assert!(stop.status.success());
    assert_eq!(up.child.wait().unwrap().code(), Some(0));
}

#[test]
fn up_on_a_busy_port_fails_fast() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("state");
    let start = Instant::now();
    let o = run(&[
        "up",
        "--state-dir",
        dir.to_str().unwrap(),
        "--listen",
        &addr,
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(start.elapsed() < Duration::from_secs(20));
    let e = text(&o.stderr);
    assert!(
        e.contains("already in use") && e.contains("before it was ready"),
        "{e}"
    );
    let s = status_json(&dir);
    assert_eq!(s["daemons"][0]["state"], "failed");
}

#[test]
fn daemons_stop_when_the_supervisor_is_killed() {
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("state");
    // At info level the daemon logs as it drains, into the pipe its dead supervisor no
    // longer reads: that must not stop it from stopping.
    let mut up = Up::start_logging(&dir, "127.0.0.1:0", "info");
    up.wait_for("NEXUS is ready at", Duration::from_secs(60));
    let pid = status_json(&dir)["daemons"][0]["pid"].as_u64().unwrap() as u32;
    up.child.kill().unwrap();
    up.child.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    while Path::new(&format!("/proc/{pid}")).exists() {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        if stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "nexusd {pid} outlived its supervisor"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// POST /api/session over a plain TCP connection; returns the status code.
#[test]
fn users_and_orgs_from_the_command_line() {
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("state");
    let d = dir.to_str().unwrap();
    let none = run(&["users", "--state-dir", d, "list"]);
    assert_eq!(none.status.code(), Some(2), "not provisioned yet");
    assert!(run(&["init", "--state-dir", d]).status.success());

    let added = run(&[
        "--state-dir",
        d,
        "users",
        "add",
        "--email",
        "Ann@Example.org",
        "--role",
        "admin",
        "--json",
    ]);
    assert!(added.status.success(), "{}", text(&added.stderr));
    let ann: serde_json::Value = serde_json::from_slice(&added.stdout).unwrap();
    assert_eq!(
        (ann["email"].as_str(), ann["role"].as_str()),
        (Some("ann@example.org"), Some("admin"))
    );
    let dup = run(&[
        "--state-dir",
        d,
        "users",
        "add",
        "--email",
        "ann@example.org",
    ]);
    assert_eq!(dup.status.code(), Some(2));
    assert!(
        text(&dup.stderr).contains("already exists"),
        "{}",
        text(&dup.stderr)
    );

    assert!(
        run(&["--state-dir", d, "orgs", "create", "--name", "Beta Ltd"])
            .status
            .success()
    );
    let orgs: serde_json::Value =
        serde_json::from_slice(&run(&["--state-dir", d, "orgs", "list", "--json"]).stdout).unwrap();
    let slugs: Vec<&str> = orgs
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["slug"].as_str().unwrap())
        .collect();
    assert_eq!(slugs, ["beta-ltd", "my-organization"]);
    let ambiguous = run(&["--state-dir", d, "users", "list"]);
    assert_eq!(ambiguous.status.code(), Some(2));
    assert!(
        text(&ambiguous.stderr).contains("--org"),
        "{}",
        text(&ambiguous.stderr)
    );
    let listed: serde_json::Value = serde_json::from_slice(
        &run(&[
            "--state-dir",
            d,
            "users",
            "list",
            "--org",
            "my-organization",
            "--json",
        ])
        .stdout,
    )
    .unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 2);
    let beta: serde_json::Value = serde_json::from_slice(
        &run(&[
            "--state-dir",
            d,
            "users",
            "list",
            "--org",
            "beta-ltd",
            "--json",
        ])
        .stdout,
    )
    .unwrap();
    assert!(beta.as_array().unwrap().is_empty(), "tenants are separate");

    // On a running instance: disable locks out, reset-password gives a working password.
    let mut up = Up::start(&dir, "127.0.0.1:0");
    let lines = up.wait_for("NEXUS is ready at", Duration::from_secs(60));
    let url = lines
        .last()
        .unwrap()
        .trim_start_matches("NEXUS is ready at ")
        .to_owned();
    let otp = ann["one_time_password"].as_str().unwrap();
    assert_eq!(http_login(&url, "ann@example.org", otp), 200);
    let org = ["--org", "my-organization"];
    assert!(
        run(&[
            &[
                "--state-dir",
                d,
                "users",
                "disable",
                "--email",
                "ann@example.org"
            ][..],
            &org
        ]
        .concat())
        .status
        .success()
    );
    assert_eq!(http_login(&url, "ann@example.org", otp), 403);
    assert!(
        run(&[
            &[
                "--state-dir",
                d,
                "users",
                "enable",
                "--email",
                "ann@example.org"
            ][..],
            &org
        ]
        .concat())
        .status
        .success()
    );
    let reset = run(&[
        &[
            "--state-dir",
            d,
            "users",
            "reset-password",
            "--email",
            "ann@example.org",
            "--json",
        ][..],
        &org,
    ]
    .concat());
    assert!(reset.status.success(), "{}", text(&reset.stderr));
    let new_otp =
        serde_json::from_slice::<serde_json::Value>(&reset.stdout).unwrap()["one_time_password"]
            .as_str()
            .unwrap()
            .to_owned();
    assert_eq!(
        http_login(&url, "ann@example.org", otp),
        401,
        "the old password is gone"
    );
    assert_eq!(http_login(&url, "ann@example.org", &new_otp), 200);
    let mfa = run(&[
        &[
            "--state-dir",
            d,
            "users",
            "reset-mfa",
            "--email",
            "ann@example.org",
        ][..],
        &org,
    ]
    .concat());
    assert!(mfa.status.success(), "{}", text(&mfa.stderr));
    assert!(text(&mfa.stdout).contains("had no authenticator app"));
    let (code, _) = up.terminate();
    assert_eq!(code, Some(0));
}

/// Runs SQL on the instance's SQLite database directly, as someone with file access could.
fn tamper(state: &Path, sql: &'static str) {
    use sqlx::{Connection, Executor};
    let url = format!("sqlite://{}", state.join("nexus.db").display());
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(async {
            let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
            c.execute(sqlx::raw_sql(sql)).await.unwrap();
            c.close().await.unwrap();
        });
}

#[test]
fn audit_log_is_verified_and_exported() {
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("state");
    let d = dir.to_str().unwrap();
    assert!(run(&["init", "--state-dir", d]).status.success());
    for email in ["a@example.org", "b@example.org"] {
        let o = run(&["--state-dir", d, "users", "add", "--email", email]);
        assert!(o.status.success(), "{}", text(&o.stderr));
    }
    let o = run(&[
        "--state-dir",
        d,
        "users",
        "disable",
        "--email",
        "a@example.org",
    ]);
    assert!(o.status.success());

    let exported = run(&["--state-dir", d, "audit", "export"]);
    assert!(exported.status.success(), "{}", text(&exported.stderr));
    let records: Vec<serde_json::Value> = text(&exported.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let actions: Vec<&str> = records
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "org.created",
            "user.created",
            "account.setup_link_created",
            "user.created",
            "user.created",
            "user.disabled"
        ]
    );
    let who = records[1]["actor"].as_str().unwrap();
    assert!(who.starts_with("operator:"), "{who}");
    assert_eq!(records[1]["source"], "local");
    assert!(
        records
            .iter()
            .all(|r| r["hash"].as_str().unwrap().len() == 64)
    );

    let ok = run(&["--state-dir", d, "audit", "verify", "--json"]);
    assert!(ok.status.success(), "{}", text(&ok.stderr));
    let v: serde_json::Value = serde_json::from_slice(&ok.stdout).unwrap();
    assert_eq!(
        (v["intact"].as_bool(), v["records"].as_u64()),
        (Some(true), Some(6))
    );
    assert!(dir.join("audit.head").is_file(), "the head is kept");

    // Removing the newest records (even with the triggers dropped) is noticed thanks to
    // the kept head; editing one is noticed by its hash.
    tamper(
        &dir,
        "DROP TRIGGER nexus_audit_no_update; DROP TRIGGER nexus_audit_no_delete; \
         DELETE FROM nexus_audit WHERE seq = 6; \
         UPDATE nexus_audit SET actor = 'someone else' WHERE seq = 2;",
    );
    let bad = run(&["--state-dir", d, "audit", "verify"]);
    assert_eq!(bad.status.code(), Some(3));
    let out = text(&bad.stdout);
    assert!(out.contains("record 2 was edited"), "{out}");
    assert!(out.contains("record 6 (the newest"), "{out}");
    assert!(
        text(&bad.stderr).contains("tampered"),
        "{}",
        text(&bad.stderr)
    );
}

#[test]
fn signing_keys_rotate_and_retire() {
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("state");
    let d = dir.to_str().unwrap();
    assert!(run(&["init", "--state-dir", d]).status.success());
    let list = |expect: usize| -> Vec<String> {
        let o = run(&["--state-dir", d, "keys", "list"]);
        assert!(o.status.success(), "{}", text(&o.stderr));
        let kids: Vec<String> = text(&o.stdout)
            .lines()
            .map(|l| l.split_whitespace().next().unwrap().to_owned())
            .collect();
        assert_eq!(kids.len(), expect, "{kids:?}");
        kids
    };
    let first = list(1).remove(0);
    assert!(run(&["--state-dir", d, "keys", "rotate"]).status.success());
    let both = list(2);
    assert_eq!(both[0], first, "the new key sorts last");
    let unknown = run(&["--state-dir", d, "keys", "retire", "nope"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(
        text(&unknown.stderr).contains("keys list"),
        "{}",
        text(&unknown.stderr)
    );
    assert!(
        run(&["--state-dir", d, "keys", "retire", &first])
            .status
            .success()
    );
    let last = list(1).remove(0);
    let only = run(&["--state-dir", d, "keys", "retire", &last]);
    assert_eq!(only.status.code(), Some(2));
    assert!(
        text(&only.stderr).contains("rotate"),
        "{}",
        text(&only.stderr)
    );
}

#[test]
fn logs_are_kept_printed_and_followed() {
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("state");
    let d = dir.to_str().unwrap();
    // Nothing has run here: no logs, and a clear word; an unknown service is named.
    let o = run(&["logs", "--state-dir", d]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("no logs in"),
        "{}",
        text(&o.stderr)
    );
    let o = run(&["logs", "mail", "--state-dir", d]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("no service `mail`; the services are: web"),
        "{}",
        text(&o.stderr)
    );

    let mut up = Up::start_logging(&dir, "127.0.0.1:0", "info");
    up.wait_for("ready at", Duration::from_secs(60));
    // The daemon's lines reach the terminal as before and the log file.
    let deadline = Instant::now() + Duration::from_secs(10);
    let printed = loop {
        let o = run(&["logs", "--state-dir", d]);
        let out = text(&o.stdout);
        if o.status.success() && out.contains("ready") {
            break out;
        }
        assert!(Instant::now() < deadline, "no ready line in the log: {out}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(printed.contains("ready daemon=web"), "{printed}");
    let o = run(&["logs", "web", "-n", "1", "--state-dir", d]);
    assert!(o.status.success());
    assert_eq!(text(&o.stdout).lines().count(), 1, "{}", text(&o.stdout));

    // --follow prints what the daemon writes next: its shutdown.
    let mut follow = nexusctl()
        .args(["logs", "--follow", "-n", "0", "--state-dir", d])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let out = follow.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    std::thread::sleep(Duration::from_millis(500));
    let (code, _) = up.terminate();
    assert_eq!(code, Some(0));
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut seen = Vec::new();
    while !seen.iter().any(|l: &String| l.contains("stopped")) {
        let left = deadline
            .checked_duration_since(Instant::now())
            .unwrap_or_else(|| panic!("--follow printed no shutdown: {seen:?}"));
        if let Ok(l) = rx.recv_timeout(left) {
            seen.push(l);
        }
    }
    assert!(
        !seen.iter().any(|l| l.contains("ready daemon=web")),
        "-n 0 printed old lines: {seen:?}"
    );
    let _ = follow.kill();
    let _ = follow.wait();
}

/// `n` plain HTTP requests to `url` (http://host:port/…), each on its own connection.
#[test]
fn status_and_top_summarise_the_metrics() {
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("state");
    let d = dir.to_str().unwrap();
    let o = run(&["top", "--count", "1", "--state-dir", d]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("not running"),
        "{}",
        text(&o.stderr)
    );

    let mut up = Up::start(&dir, "127.0.0.1:0");
    let lines = up.wait_for("ready at", Duration::from_secs(60));
    let url = lines
        .iter()
        .find_map(|l| l.split("ready at ").nth(1))
        .unwrap()
        .trim()
        .to_owned();
    hit(&url, 25);

    let v = status_json(&dir);
    let m = &v["daemons"][0]["metrics"];
    assert!(m["requests"].as_u64().unwrap() >= 25, "{v}");
    assert_eq!(m["errors"], 0, "{v}");
    assert!(m["latency_p99_ms"].as_f64().unwrap() > 0.0, "{v}");
    assert!(m["db_connections"].as_u64().unwrap() >= 1, "{v}");
    assert!(m["cpu_seconds"].as_f64().unwrap() > 0.0, "{v}");
    let o = run(&["status", "--state-dir", d]);
    let human = text(&o.stdout);
    assert!(
        human.contains("requests,") && human.contains("latency p50"),
        "{human}"
    );

    // top: requests made during the interval show as a rate.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let hammer = {
        let (url, stop) = (url.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                hit(&url, 1);
                std::thread::sleep(Duration::from_millis(10));
            }
        })
    };
    let o = run(&["top", "--interval", "1", "--count", "1", "--state-dir", d]);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    hammer.join().unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    let mut rows = out.lines();
    assert!(rows.next().unwrap().contains("REQ/S"), "{out}");
    let row: Vec<&str> = rows.next().unwrap().split_whitespace().collect();
    assert_eq!(row[1], "web", "{out}");
    assert!(
        row[2].parse::<f64>().unwrap() > 0.0,
        "no requests per second: {out}"
    );
    let o = run(&["top", "--interval", "0", "--state-dir", d]);
    assert_eq!(o.status.code(), Some(2));
    let (code, _) = up.terminate();
    assert_eq!(code, Some(0));
}
