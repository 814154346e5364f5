//! Releases: signed bundles, `nexusctl upgrade` with its health gate and automatic rollback,
//! and `nexusctl rollback` — against a running `nexusctl up` instance.
//!
//! The broken release is `nexusd-broken` (daemons/upgrade-fixture): the real nexusd plus an
//! app whose first migration writes a table; its second migration fails under
//! `UPGRADE_FIXTURE_FAULT=migration`, and its health check fails unless
//! `UPGRADE_FIXTURE_FAULT=none`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::{Up, nexusctl, text};

fn ctl(dir: &Path, args: &[&str]) -> Output {
    nexusctl()
        .arg("--state-dir")
        .arg(dir)
        .args(args)
        .output()
        .unwrap()
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

fn fails(out: &Output, code: i32, needle: &str) -> String {
    let err = text(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(code),
        "stdout: {}\nstderr: {err}",
        text(&out.stdout)
    );
    assert!(err.contains(needle), "{needle:?} not in: {err}");
    err
}

fn bin(name: &str) -> PathBuf {
    let p = PathBuf::from(env!("CARGO_BIN_EXE_nexusctl")).with_file_name(name);
    assert!(
        p.is_file(),
        "{} is missing: run `cargo build --workspace --bins` first (./dev test does)",
        p.display()
    );
    p
}

/// `nexusctl upgrade --bundle BUNDLE` with the broken release's second migration failing.
fn upgrade_with_failing_migration(dir: &Path, bundle: &Path) -> Output {
    nexusctl()
        .env("UPGRADE_FIXTURE_FAULT", "migration")
        .arg("--state-dir")
        .arg(dir)
        .arg("upgrade")
        .arg("--bundle")
        .arg(bundle)
        .output()
        .unwrap()
}

fn users(dir: &Path) -> String {
    ok(&ctl(dir, &["users", "list"]))
}

fn status(dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&ctl(dir, &["status", "--json"]).stdout).unwrap()
}

fn healthy_on(dir: &Path, release: &str) {
    let s = status(dir);
    assert_eq!(s["healthy"], true, "{s}");
    assert_eq!(s["release"], release, "{s}");
}

fn sqlite_tables(db: &Path) -> String {
    let out = std::process::Command::new("sqlite3")
        .arg(db)
        .arg(".tables")
        .output()
        .expect("sqlite3 (Debian: apt-get install sqlite3)");
    text(&out.stdout)
}

/// Polls the public API every 20 ms; returns the longest time it got no answer.
struct Poller {
    stop: Arc<AtomicBool>,
    handle: std::thread::JoinHandle<Duration>,
}

impl Poller {
    fn start(url: &str) -> Self {
        let host = url
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::spawn(move || {
            use std::io::{Read, Write};
            let mut longest = Duration::ZERO;
            let mut down_since: Option<Instant> = None;
            while !flag.load(Ordering::Relaxed) {
                let answered = (|| -> std::io::Result<bool> {
                    let mut s = std::net::TcpStream::connect(&host)?;
                    s.set_read_timeout(Some(Duration::from_secs(2)))?;
                    write!(
                        s,
                        "GET /api/apps HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
                    )?;
                    let mut resp = String::new();
                    s.read_to_string(&mut resp)?;
                    Ok(resp.starts_with("HTTP/1.1 200"))
                })()
                .unwrap_or(false);
                match (answered, down_since) {
                    (false, None) => down_since = Some(Instant::now()),
                    (true, Some(t)) => {
                        longest = longest.max(t.elapsed());
                        down_since = None;
                    }
                    _ => {}
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            longest
        });
        Self { stop, handle }
    }

    fn finish(self) -> Duration {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.join().unwrap()
    }
}

#[test]
fn upgrades_commit_when_healthy_and_roll_back_binaries_and_data_when_not() {
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path();
    let dir = work.join("instance");
    let key = work.join("release.key");
    let good = work.join("good.nexus");
    let broken = work.join("broken.nexus");
    let w = |p: &Path| p.to_str().unwrap().to_owned();

    // Bundles: a good 0.2.0 (this build, as a newer release) and a broken 0.2.1.
    ok(&nexusctl()
        .args(["release", "keygen", "--out", &w(&key)])
        .output()
        .unwrap());
    let build = |out: &Path, version: &str, nexusd: &Path| {
        ok(&nexusctl()
            .args([
                "release",
                "build",
                "--key",
                &w(&key),
                "--release-version",
                version,
            ])
            .args(["--out", &w(out), "--nexusd", &w(nexusd)])
            .output()
            .unwrap())
    };
    let built = build(&good, "0.2.0", &bin("nexusd"));
    assert!(built.contains("NEXUS 0.2.0"), "{built}");
    build(&broken, "0.2.1", &bin("nexusd-broken"));

    // Provision; the key is not trusted yet.
    ok(&ctl(&dir, &["init", "--listen", "127.0.0.1:0"]));
    fails(
        &ctl(&dir, &["release", "verify", &w(&good)]),
        2,
        "not signed by a key this instance trusts",
    );
    ok(&ctl(
        &dir,
        &["release", "trust", &format!("{}.pub", w(&key))],
    ));
    let verified = ok(&ctl(&dir, &["release", "verify", &w(&good)]));
    assert!(verified.contains("signed by trusted key"), "{verified}");

    // Tampered, re-signed-manifest and unsigned variants, repacked with the standard tools.
    let unpacked = work.join("unpacked");
    std::fs::create_dir_all(&unpacked).unwrap();
    let sh = |script: &str| {
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(script)
            .current_dir(&unpacked)
            .output()
            .unwrap();
        assert!(out.status.success(), "{script}: {}", text(&out.stderr));
    };
    sh(&format!("zstd -dc {} | tar x", w(&good)));
    let payload = "files/share/nexus/web/index.html";
    let entries = format!(
        "manifest.json manifest.sig $(zstd -dc {} | tar t | grep '^files/')",
        w(&good)
    );
    sh(&format!("echo '<!-- injected -->' >> {payload}"));
    sh(&format!("tar c {entries} | zstd -q -o ../tampered.nexus"));
    fails(
        &ctl(
            &dir,
            &["release", "verify", &w(&work.join("tampered.nexus"))],
        ),
        2,
        "has been tampered with",
    );
    sh(&format!("zstd -dc {} | tar x {payload}", w(&good)));
    sh("sed -i 's/\"0.2.0\"/\"9.9.9\"/' manifest.json");
    sh(&format!("tar c {entries} | zstd -q -o ../forged.nexus"));
    fails(
        &ctl(&dir, &["release", "verify", &w(&work.join("forged.nexus"))]),
        2,
        "not signed by a key this instance trusts",
    );
    sh(&format!(
        "tar c manifest.json $(zstd -dc {} | tar t | grep '^files/') | zstd -q -o ../unsigned.nexus",
        w(&good)
    ));
    let out = ctl(
        &dir,
        &["upgrade", "--bundle", &w(&work.join("unsigned.nexus"))],
    );
    fails(&out, 2, "expected manifest.sig");
    assert!(!dir.join("releases").join("9.9.9").exists());

    let mut up = Up::start(&dir, "127.0.0.1:0");
    let url = up
        .wait_for("NEXUS is ready at", Duration::from_secs(60))
        .last()
        .unwrap()
        .trim_start_matches("NEXUS is ready at ")
        .to_owned();
    ok(&ctl(
        &dir,
        &["users", "add", "--email", "before@example.org"],
    ));

    // A good upgrade: committed, with the API answering again within moments.
    let poller = Poller::start(&url);
    let done = ok(&ctl(&dir, &["upgrade", "--bundle", &w(&good)]));
    let gap = poller.finish();
    assert!(done.contains("upgraded from 0.1.0 to 0.2.0"), "{done}");
    assert!(done.contains("keeping the running 0.1.0"), "{done}");
    assert!(gap < Duration::from_secs(10), "the API was down {gap:?}");
    eprintln!("longest time without an answer during the upgrade: {gap:?}");
    healthy_on(&dir, "0.2.0");
    assert_eq!(status(&dir)["previous_release"], "0.1.0");
    fails(
        &ctl(&dir, &["upgrade", "--bundle", &w(&good)]),
        2,
        "not newer than the running 0.2.0",
    );
    // A failed upgrade from here leaves `rollback` pointing where it did.
    let out = upgrade_with_failing_migration(&dir, &broken);
    fails(&out, 1, "NEXUS is back on 0.2.0");
    healthy_on(&dir, "0.2.0");
    assert_eq!(status(&dir)["previous_release"], "0.1.0");

    // Rollback on request: the schema did not change, so the data stays as it is.
    ok(&ctl(
        &dir,
        &["users", "add", "--email", "during@example.org"],
    ));
    let back = ok(&ctl(&dir, &["rollback"]));
    assert!(back.contains("rolled back from 0.2.0 to 0.1.0"), "{back}");
    healthy_on(&dir, "0.1.0");
    let list = users(&dir);
    assert!(
        list.contains("before@example.org") && list.contains("during@example.org"),
        "{list}"
    );
    fails(&ctl(&dir, &["rollback"]), 2, "no previous release");

    let db = dir.join("nexus.db");
    // A failing migration: the first one of the broken release ran, the second failed.
    let out = upgrade_with_failing_migration(&dir, &broken);
    let err = fails(&out, 1, "upgrade-probe/0002 (fails) failed");
    assert!(err.contains("NEXUS is back on 0.1.0"), "{err}");
    healthy_on(&dir, "0.1.0");
    assert!(!sqlite_tables(&db).contains("upgrade_probe"));
    assert!(!dir.join("releases").join("0.2.1").exists());
    assert_eq!(status(&dir)["previous_release"], serde_json::Value::Null);
    let list = users(&dir);
    assert!(
        list.contains("before@example.org") && list.contains("during@example.org"),
        "{list}"
    );

    // A daemon that never becomes healthy: migrated, started, failing its health check.
    let out = ctl(
        &dir,
        &["upgrade", "--bundle", &w(&broken), "--health-timeout", "3"],
    );
    let err = fails(&out, 1, "not healthy after 3 s");
    assert!(err.contains("broken on purpose"), "{err}");
    assert!(err.contains("NEXUS is back on 0.1.0"), "{err}");
    healthy_on(&dir, "0.1.0");
    assert!(!sqlite_tables(&db).contains("upgrade_probe"));
    // The failed release's database is kept aside, with what its migration wrote.
    let kept = std::fs::read_dir(dir.join("upgrades"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains("-to-0.2.1-"))
        .flat_map(|e| std::fs::read_dir(e.path()).unwrap().flatten())
        .filter(|e| e.file_name().to_string_lossy().starts_with("replaced-"))
        .map(|e| e.path().join("nexus.db"))
        .collect::<Vec<_>>();
    assert!(
        kept.iter()
            .any(|p| sqlite_tables(p).contains("upgrade_probe")),
        "{kept:?}"
    );

    // An upgrade killed half-way (here: while it waits for health) is finished by rollback.
    let mut child = nexusctl()
        .arg("--state-dir")
        .arg(&dir)
        .args(["upgrade", "--bundle", &w(&broken), "--health-timeout", "60"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    {
        use std::io::BufRead;
        let lines = std::io::BufReader::new(child.stdout.take().unwrap());
        for line in lines.lines() {
            if line
                .unwrap()
                .contains("waiting for every service to be healthy")
            {
                break;
            }
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    fails(
        &ctl(&dir, &["upgrade", "--bundle", &w(&good)]),
        2,
        "was interrupted",
    );
    let back = ok(&ctl(&dir, &["rollback"]));
    assert!(back.contains("back on 0.1.0"), "{back}");
    healthy_on(&dir, "0.1.0");
    assert!(!sqlite_tables(&db).contains("upgrade_probe"));
    let (code, _) = up.terminate();
    assert_eq!(code, Some(0));

    // A healthy release that changed the schema: committed; going back needs the snapshot.
    let mut up = Up::start_with(&dir, "127.0.0.1:0", &[("UPGRADE_FIXTURE_FAULT", "none")]);
    up.wait_for("NEXUS is ready at", Duration::from_secs(60));
    let done = ok(&ctl(&dir, &["upgrade", "--bundle", &w(&broken)]));
    assert!(done.contains("upgraded from 0.1.0 to 0.2.1"), "{done}");
    healthy_on(&dir, "0.2.1");
    assert!(sqlite_tables(&db).contains("upgrade_probe"));
    ok(&ctl(
        &dir,
        &["users", "add", "--email", "after@example.org"],
    ));
    let err = fails(&ctl(&dir, &["rollback"]), 2, "changed the database schema");
    assert!(err.contains("--restore-snapshot"), "{err}");
    healthy_on(&dir, "0.2.1");
    let back = ok(&ctl(&dir, &["rollback", "--restore-snapshot"]));
    assert!(back.contains("rolled back from 0.2.1 to 0.1.0"), "{back}");
    healthy_on(&dir, "0.1.0");
    assert!(!sqlite_tables(&db).contains("upgrade_probe"));
    let list = users(&dir);
    assert!(
        list.contains("during@example.org") && !list.contains("after@example.org"),
        "{list}"
    );
    let (code, _) = up.terminate();
    assert_eq!(code, Some(0));
}

/// The PostgreSQL server for tests, if any; fails when the run said it is required.
fn postgres_admin() -> Option<String> {
    match std::env::var("NEXUS_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("NEXUS_TEST_REQUIRE_POSTGRES").as_deref() != Ok("1"),
                "NEXUS_TEST_REQUIRE_POSTGRES=1 but NEXUS_TEST_POSTGRES_URL is not set"
            );
            None
        }
    }
}

fn psql(url: &str, sql: &str) -> String {
    let out = std::process::Command::new("psql")
        .args([
            "-X",
            "-A",
            "-t",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            url,
            "-c",
            sql,
        ])
        .output()
        .expect("psql (Debian: apt-get install postgresql-client)");
    assert!(out.status.success(), "{sql}: {}", text(&out.stderr));
    text(&out.stdout).trim().to_owned()
}

#[test]
fn a_failed_upgrade_of_a_postgresql_instance_puts_its_database_back() {
    let Some(admin) = postgres_admin() else {
        return;
    };
    let name = format!(
        "nexus_upgrade_{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos()
    );
    psql(&admin, &format!("CREATE DATABASE {name}"));
    let (base, _) = admin.rsplit_once('/').unwrap();
    let url = format!("{base}/{name}");

    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path();
    let dir = work.join("instance");
    let key = work.join("release.key");
    let broken = work.join("broken.nexus");
    let w = |p: &Path| p.to_str().unwrap().to_owned();
    ok(&nexusctl()
        .args(["release", "keygen", "--out", &w(&key)])
        .output()
        .unwrap());
    ok(&nexusctl()
        .args([
            "release",
            "build",
            "--key",
            &w(&key),
            "--release-version",
            "0.2.1",
        ])
        .args(["--out", &w(&broken), "--nexusd", &w(&bin("nexusd-broken"))])
        .output()
        .unwrap());
    ok(&ctl(
        &dir,
        &["init", "--listen", "127.0.0.1:0", "--database-url", &url],
    ));
    ok(&ctl(
        &dir,
        &["release", "trust", &format!("{}.pub", w(&key))],
    ));
    let mut up = Up::start(&dir, "127.0.0.1:0");
    up.wait_for("NEXUS is ready at", Duration::from_secs(60));
    ok(&ctl(&dir, &["users", "add", "--email", "kept@example.org"]));

    let out = upgrade_with_failing_migration(&dir, &broken);
    let err = fails(&out, 1, "upgrade-probe/0002 (fails) failed");
    assert!(err.contains("NEXUS is back on 0.1.0"), "{err}");
    assert!(
        text(&out.stdout).contains("snapshot of the postgres database"),
        "{}",
        text(&out.stdout)
    );
    healthy_on(&dir, "0.1.0");
    assert_eq!(
        psql(&url, "SELECT to_regclass('upgrade_probe') IS NULL"),
        "t"
    );
    assert!(users(&dir).contains("kept@example.org"));
    // What the failed release wrote is kept in a dump beside the snapshot.
    let kept = std::fs::read_dir(dir.join("upgrades"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_type().unwrap().is_dir())
        .flat_map(|e| std::fs::read_dir(e.path()).unwrap().flatten())
        .filter(|e| e.file_name().to_string_lossy().starts_with("replaced-"))
        .map(|e| std::fs::read_to_string(e.path().join("database.sql")).unwrap())
        .collect::<Vec<_>>();
    assert!(
        kept.iter()
            .any(|sql| sql.contains("written by the broken release"))
    );

    let (code, _) = up.terminate();
    assert_eq!(code, Some(0));
    psql(&admin, &format!("DROP DATABASE {name} WITH (FORCE)"));
}
