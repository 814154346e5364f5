//! The nexusd binary on bad input: one clear error naming the fix, a non-zero exit.

use std::path::Path;
use std::process::{Command, Output};

fn nexusd(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_nexusd"));
    cmd.args(args)
        .env_remove("NEXUS_CONFIG")
        .env("NEXUS_LOG_LEVEL", "warn");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run nexusd")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn version_prints_the_version() {
    let o = nexusd(&["version", "--json"], &[]);
    assert!(o.status.success());
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
}

#[test]
fn bad_config_reports_every_problem_at_once() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("config.toml"),
        "version = 1\n[server]\nlisten = \"localhost\"\nappz = [\"hub\"]\n[database]\nmax_connections = \"many\"\n",
    )
    .unwrap();
    let d = dir.path().to_str().unwrap();
    let o = nexusd(
        &["configtest", "--state-dir", d],
        &[("NEXUS_SERVER_NAMe", "x")],
    );
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(e.contains("3 problems"), "{e}");
    assert!(
        e.contains("server.listen") && e.contains("use HOST:PORT"),
        "{e}"
    );
    assert!(
        e.contains("server.appz") && e.contains("did you mean `apps`?"),
        "{e}"
    );
    assert!(
        e.contains("database.max_connections") && e.contains("expected u32"),
        "{e}"
    );
    // The same file refuses to serve, and nothing is created.
    let o = nexusd(&["serve", "--state-dir", d], &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(!dir.path().join("nexus.db").exists());
}

#[test]
fn unknown_environment_variable_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let o = nexusd(
        &["configtest", "--state-dir", dir.path().to_str().unwrap()],
        &[("NEXUS_SERVER_LISTN", "x")],
    );
    assert!(
        o.status.success(),
        "a stray variable is a warning, not an error"
    );
    let e = stderr(&o);
    assert!(
        e.contains("warning") && e.contains("did you mean NEXUS_SERVER_LISTEN?"),
        "{e}"
    );
}

#[test]
fn relative_state_dir_works() {
    let dir = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_nexusd"))
        .args(["migrate", "--state-dir", "rel"])
        .current_dir(dir.path())
        .env_remove("NEXUS_CONFIG")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(dir.path().join("rel/nexus.db").is_file());
    assert!(!dir.path().join("rel/rel").exists());
}

#[test]
fn configtest_accepts_a_good_config_and_lists_keys() {
    let dir = tempfile::tempdir().unwrap();
    let o = nexusd(
        &[
            "configtest",
            "--state-dir",
            dir.path().to_str().unwrap(),
            "--set",
            "server.listen=127.0.0.1:9999",
        ],
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("127.0.0.1:9999"));
    let keys = nexusd(&["configtest", "--keys"], &[]);
    assert!(String::from_utf8_lossy(&keys.stdout).contains("NEXUS_DATABASE_URL"));
}

#[test]
fn busy_port_names_the_port_and_the_fix() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let o = nexusd(
        &[
            "serve",
            "--state-dir",
            dir.path().to_str().unwrap(),
            "--listen",
            &addr,
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(
        e.contains(&addr) && e.contains("already in use") && e.contains("--listen"),
        "{e}"
    );
}

#[test]
fn unwritable_state_dir_is_refused() {
    let file = tempfile::NamedTempFile::new().unwrap();
    let below_a_file = Path::new(file.path()).join("state");
    let o = nexusd(
        &[
            "serve",
            "--state-dir",
            below_a_file.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(
        e.contains("cannot use the state directory") && e.contains("--state-dir"),
        "{e}"
    );
}

#[test]
fn unreachable_postgres_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let o = nexusd(
        &[
            "serve",
            "--state-dir",
            dir.path().to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            "postgres://nexus:secret@127.0.0.1:1/nexus",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(
        e.contains("cannot reach PostgreSQL at 127.0.0.1:1") && e.contains("database.url"),
        "{e}"
    );
    assert!(!e.contains("secret"), "the password is never printed: {e}");
    assert!(
        !dir.path().join("run/nexusd.sock").exists(),
        "no admin socket left behind"
    );
    assert!(!dir.path().join("nexus.db").exists());
}

#[test]
fn state_dir_from_the_environment_finds_its_config() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("config.toml"),
        "version = 1\n[server]\nlisten = \"127.0.0.1:4567\"\n",
    )
    .unwrap();
    let o = nexusd(
        &["configtest"],
        &[("NEXUS_STATE_DIR", dir.path().to_str().unwrap())],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("127.0.0.1:4567"));
}

#[test]
fn relative_config_path_works() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("rel")).unwrap();
    std::fs::write(dir.path().join("rel/config.toml"), "version = 1\n").unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_nexusd"))
        .args(["migrate", "--config", "rel/config.toml"])
        .current_dir(dir.path())
        .env_remove("NEXUS_CONFIG")
        .env_remove("NEXUS_STATE_DIR")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(dir.path().join("rel/nexus.db").is_file());
}
