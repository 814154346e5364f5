//! Backups end to end against a running instance: online snapshot while the instance
//! serves and writes, restore on a "new machine" with every row and blob byte-identical, the
//! restored instance serving, and the faults an operator meets (wrong passphrase, damaged
//! data, missing repository, a backup killed half-way, a write-only machine).
//! Needs nexusd next to nexusctl (`cargo build --bins`) and the sqlite3 command.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{Up, http_login, nexusctl, run, text};

/// Every row of every table and every schema line, as SQL lines in a canonical order (a
/// database copy may order schema objects differently): equal means byte-identical rows.
fn sql_dump(db: &Path) -> Vec<String> {
    let out = std::process::Command::new("sqlite3")
        .arg("-readonly")
        .arg(db)
        .arg(".dump")
        .output()
        .expect("sqlite3 is needed (Debian package sqlite3)");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mut lines: Vec<String> = text(&out.stdout).lines().map(str::to_owned).collect();
    lines.sort();
    lines
}

fn assert_same_rows(got: &[String], want: &[String], what: &str) {
    let missing: Vec<_> = want.iter().filter(|l| !got.contains(l)).take(5).collect();
    let extra: Vec<_> = got.iter().filter(|l| !want.contains(l)).take(5).collect();
    assert!(
        got == want,
        "{what}: missing {missing:?}, unexpected {extra:?}"
    );
}

fn blob_files(root: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            } else {
                let rel = e.path().strip_prefix(root).unwrap().display().to_string();
                out.push((rel, std::fs::read(e.path()).unwrap()));
            }
        }
    }
    out.sort();
    out
}

fn random_bytes(n: usize, seed: u64) -> Vec<u8> {
    // xorshift: incompressible, reproducible.
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

fn add_user(d: &str, email: &str) -> String {
    let o = run(&["--state-dir", d, "users", "add", "--email", email, "--json"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    v["one_time_password"].as_str().unwrap().to_owned()
}

fn ready_url(up: &Up) -> String {
    up.wait_for("NEXUS is ready at", Duration::from_secs(60))
        .last()
        .unwrap()
        .trim_start_matches("NEXUS is ready at ")
        .to_owned()
}

#[test]
fn online_backup_restores_a_byte_identical_instance() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("state");
    let d = dir.to_str().unwrap();
    let repo = tmp.path().join("repo");
    let r = repo.to_str().unwrap();
    let pass = tmp.path().join("pass");
    std::fs::write(&pass, "a long and private passphrase\n").unwrap();
    let p = pass.to_str().unwrap();

    let up = Up::start(&dir, "127.0.0.1:0");
    let url = ready_url(&up);
    let ann_password = add_user(d, "ann@example.org");
    // Blobs as an app stores them: a large one spanning many chunks, small ones, an empty one.
    let blobs = dir.join("blobs");
    let org = blobs.join("0195f2b1-0000-7000-8000-000000000001/drive");
    std::fs::create_dir_all(org.join("reports")).unwrap();
    std::fs::write(org.join("big.bin"), random_bytes(9 * 1024 * 1024, 7)).unwrap();
    std::fs::write(org.join("reports/q1.txt"), "quarterly\n".repeat(5000)).unwrap();
    std::fs::write(org.join("empty"), b"").unwrap();

    let missing = run(&["backup", "list", "--repo", r, "--passphrase-file", p]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        text(&missing.stderr).contains("there is no backup repository"),
        "{}",
        text(&missing.stderr)
    );
    let init = run(&["backup", "init", "--repo", r, "--passphrase-file", p]);
    assert!(init.status.success(), "{}", text(&init.stderr));
    let again = run(&["backup", "init", "--repo", r, "--passphrase-file", p]);
    assert_eq!(
        again.status.code(),
        Some(2),
        "a repository is never overwritten"
    );

    // Online: users are added and the API answers while the backup runs.
    let writer = {
        let d = d.to_owned();
        std::thread::spawn(move || {
            for i in 0..4 {
                add_user(&d, &format!("during{i}@example.org"));
            }
        })
    };
    let during = nexusctl()
        .args([
            "--state-dir",
            d,
            "backup",
            "create",
            "--repo",
            r,
            "--passphrase-file",
            p,
            "--json",
        ])
        .output()
        .unwrap();
    assert!(during.status.success(), "{}", text(&during.stderr));
    common::hit(&url, 3);
    writer.join().unwrap();

    // Quiet now (once the daemon has dispatched the events of those users, which it marks
    // in the outbox a moment later): a second snapshot is compared with the live database
    // row by row.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let pending = std::process::Command::new("sqlite3")
            .arg("-readonly")
            .arg(dir.join("nexus.db"))
            .arg("SELECT count(*) FROM nexus_outbox WHERE dispatched_at IS NULL")
            .output()
            .unwrap();
        if text(&pending.stdout).trim() == "0" {
            break;
        }
        assert!(Instant::now() < deadline, "the outbox was never dispatched");
        std::thread::sleep(Duration::from_millis(100));
    }
    let before = sql_dump(&dir.join("nexus.db"));
    let second = nexusctl()
        .args([
            "--state-dir",
            d,
            "backup",
            "create",
            "--repo",
            r,
            "--passphrase-file",
            p,
            "--include-secrets",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(second.status.success(), "{}", text(&second.stderr));
    assert_same_rows(
        &sql_dump(&dir.join("nexus.db")),
        &before,
        "nothing wrote during the second backup",
    );
    let snap: serde_json::Value = serde_json::from_slice(&second.stdout).unwrap();
    let total = snap["bytes"].as_u64().unwrap();
    let added = snap["added_bytes"].as_u64().unwrap();
    assert!(total > 9 * 1024 * 1024, "{snap}");
    assert!(
        added < total / 10,
        "deduplicated against the first backup: {snap}"
    );

    let listed: serde_json::Value = serde_json::from_slice(
        &run(&[
            "backup",
            "list",
            "--repo",
            r,
            "--passphrase-file",
            p,
            "--json",
        ])
        .stdout,
    )
    .unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 2);
    let verify = run(&["backup", "verify", "--repo", r, "--passphrase-file", p]);
    assert!(
        verify.status.success(),
        "{}{}",
        text(&verify.stdout),
        text(&verify.stderr)
    );
    assert!(
        text(&verify.stdout).contains("intact"),
        "{}",
        text(&verify.stdout)
    );

    // Wrong passphrase: a clear error, nothing restored.
    let wrong = tmp.path().join("wrong");
    std::fs::write(&wrong, "not it\n").unwrap();
    let new = tmp.path().join("restored");
    let n = new.to_str().unwrap();
    let bad = run(&[
        "--state-dir",
        n,
        "restore",
        "--repo",
        r,
        "--passphrase-file",
        wrong.to_str().unwrap(),
    ]);
    assert_eq!(bad.status.code(), Some(1), "{}", text(&bad.stderr));
    assert!(
        text(&bad.stderr).contains("wrong passphrase"),
        "{}",
        text(&bad.stderr)
    );
    assert!(!new.exists());

    // The "new machine": restore, then compare every row and every blob byte.
    let restored = run(&[
        "--state-dir",
        n,
        "restore",
        "--repo",
        r,
        "--passphrase-file",
        p,
        "--json",
    ]);
    assert!(restored.status.success(), "{}", text(&restored.stderr));
    assert_same_rows(
        &sql_dump(&new.join("nexus.db")),
        &before,
        "every row restored",
    );
    assert_eq!(
        blob_files(&new.join("blobs")),
        blob_files(&blobs),
        "every blob restored"
    );
    assert_eq!(
        std::fs::read(new.join("secrets/session.key")).unwrap(),
        std::fs::read(dir.join("secrets/session.key")).unwrap()
    );
    drop(up);

    // The restored instance starts and serves; Ann's password works there.
    let up2 = Up::start(&new, "127.0.0.1:0");
    let url2 = ready_url(&up2);
    common::hit(&url2, 1);
    assert_ne!(http_login(&url2, "ann@example.org", &ann_password), 401);
    assert_eq!(
        http_login(&url2, "ann@example.org", "not-her-password-1"),
        401
    );
    drop(up2);

    // The first, online snapshot restores too, with the users added so far.
    let first_id = listed[0]["id"].as_str().unwrap();
    let older = tmp.path().join("older");
    let o = run(&[
        "--state-dir",
        older.to_str().unwrap(),
        "restore",
        "--repo",
        r,
        "--passphrase-file",
        p,
        "--snapshot",
        &first_id[..6],
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let check = std::process::Command::new("sqlite3")
        .arg(older.join("nexus.db"))
        .arg("PRAGMA integrity_check")
        .output()
        .unwrap();
    assert_eq!(text(&check.stdout).trim(), "ok");

    // Damage one pack: verify names it, restore refuses and leaves nothing.
    let pack = walk_files(&repo.join("data"))
        .into_iter()
        .max_by_key(|f| std::fs::metadata(f).unwrap().len())
        .unwrap();
    let mut bytes = std::fs::read(&pack).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x55;
    std::fs::write(&pack, bytes).unwrap();
    let damaged = run(&["backup", "verify", "--repo", r, "--passphrase-file", p]);
    assert_eq!(damaged.status.code(), Some(3));
    assert!(
        text(&damaged.stderr).contains("damaged"),
        "{}",
        text(&damaged.stderr)
    );
    let third = tmp.path().join("third");
    let refused = run(&[
        "--state-dir",
        third.to_str().unwrap(),
        "restore",
        "--repo",
        r,
        "--passphrase-file",
        p,
    ]);
    assert_ne!(refused.status.code(), Some(0));
    assert!(
        text(&refused.stderr).contains("nothing was restored")
            || text(&refused.stderr).contains("damaged"),
        "{}",
        text(&refused.stderr)
    );
    assert!(!third.exists());
    let leftovers: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("restore-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

fn walk_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            } else {
                out.push(e.path());
            }
        }
    }
    out
}

#[test]
fn a_killed_backup_leaves_a_valid_repository_and_the_next_one_resumes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("state");
    let d = dir.to_str().unwrap();
    assert!(run(&["init", "--state-dir", d]).status.success());
    let org = dir.join("blobs/0195f2b1-0000-7000-8000-000000000002/drive");
    std::fs::create_dir_all(&org).unwrap();
    for i in 0..6 {
        std::fs::write(
            org.join(format!("part{i}.bin")),
            random_bytes(24 * 1024 * 1024, 100 + i),
        )
        .unwrap();
        set_mtime(&org.join(format!("part{i}.bin")), 3600);
    }
    // Recipients: this machine writes backups it cannot read.
    let identity = age::x25519::Identity::generate();
    let id_file = tmp.path().join("identity.txt");
    {
        use age::secrecy::ExposeSecret;
        std::fs::write(
            &id_file,
            format!("{}\n", identity.to_string().expose_secret()),
        )
        .unwrap();
    }
    let recipient = identity.to_public().to_string();
    let repo = tmp.path().join("repo");
    let r = repo.to_str().unwrap();
    let init = run(&[
        "--state-dir",
        d,
        "backup",
        "init",
        "--repo",
        r,
        "--recipient",
        &recipient,
    ]);
    assert!(init.status.success(), "{}", text(&init.stderr));

    let mut child = nexusctl()
        .args(["--state-dir", d, "backup", "create", "--repo", r])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while repo
        .join("index")
        .read_dir()
        .map(|d| d.count())
        .unwrap_or(0)
        < 3
    {
        assert!(Instant::now() < deadline, "the backup wrote no packs");
        assert!(
            child.try_wait().unwrap().is_none(),
            "the backup ended before it could be killed"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    let id = id_file.to_str().unwrap();
    let listed = run(&["--state-dir", d, "backup", "list", "--repo", r, "--json"]);
    assert!(listed.status.success(), "{}", text(&listed.stderr));
    assert_eq!(
        text(&listed.stdout).trim(),
        "[]",
        "no snapshot from a killed backup"
    );
    let verify = run(&["backup", "verify", "--repo", r, "--identity", id]);
    assert!(
        verify.status.success(),
        "valid after kill -9: {}{}",
        text(&verify.stdout),
        text(&verify.stderr)
    );

    let resumed = run(&["--state-dir", d, "backup", "create", "--repo", r, "--json"]);
    assert!(resumed.status.success(), "{}", text(&resumed.stderr));
    let snap: serde_json::Value = serde_json::from_slice(&resumed.stdout).unwrap();
    assert!(
        snap["added_bytes"].as_u64().unwrap() < snap["bytes"].as_u64().unwrap() - 20 * 1024 * 1024,
        "the packs of the killed backup were reused: {snap}"
    );

    // Without the identity nothing can be read back; with it, everything.
    let new = tmp.path().join("restored");
    let n = new.to_str().unwrap();
    let no_key = run(&["--state-dir", n, "restore", "--repo", r]);
    assert_eq!(no_key.status.code(), Some(2));
    assert!(
        text(&no_key.stderr).contains("--identity"),
        "{}",
        text(&no_key.stderr)
    );
    let ok = run(&["--state-dir", n, "restore", "--repo", r, "--identity", id]);
    assert!(ok.status.success(), "{}", text(&ok.stderr));
    assert_eq!(
        blob_files(&new.join("blobs")),
        blob_files(&dir.join("blobs"))
    );

    // Unchanged files are not read again (the files cache), a changed one is, even with its
    // size kept and its mtime set back.
    let second = run(&["--state-dir", d, "backup", "create", "--repo", r, "--json"]);
    assert!(second.status.success(), "{}", text(&second.stderr));
    let snap: serde_json::Value = serde_json::from_slice(&second.stdout).unwrap();
    assert!(
        snap["read_bytes"].as_u64().unwrap() < 4 * 1024 * 1024,
        "only the database copy and the config were read: {snap}"
    );
    let changed = org.join("part0.bin");
    std::fs::write(&changed, random_bytes(24 * 1024 * 1024, 999)).unwrap();
    set_mtime(&changed, 7200);
    let third = run(&["--state-dir", d, "backup", "create", "--repo", r, "--json"]);
    assert!(third.status.success(), "{}", text(&third.stderr));
    let snap: serde_json::Value = serde_json::from_slice(&third.stdout).unwrap();
    let read = snap["read_bytes"].as_u64().unwrap();
    assert!(
        (24 * 1024 * 1024..30 * 1024 * 1024).contains(&read),
        "the changed file, and only it, was read: {snap}"
    );

    // Prune keeps what the policy says and frees what only the others used.
    let none = run(&["backup", "prune", "--repo", r, "--identity", id]);
    assert_eq!(
        none.status.code(),
        Some(2),
        "a prune without a policy is refused"
    );
    let pruned = run(&[
        "backup",
        "prune",
        "--repo",
        r,
        "--identity",
        id,
        "--keep-last",
        "1",
        "--json",
    ]);
    assert!(pruned.status.success(), "{}", text(&pruned.stderr));
    let report: serde_json::Value = serde_json::from_slice(&pruned.stdout).unwrap();
    assert_eq!(report["removed"].as_array().unwrap().len(), 2, "{report}");
    let verify = run(&["backup", "verify", "--repo", r, "--identity", id]);
    assert!(
        verify.status.success(),
        "{}{}",
        text(&verify.stdout),
        text(&verify.stderr)
    );
    // The kept snapshot, mostly taken from the files cache, restores every byte.
    let again = tmp.path().join("restored-again");
    let ok = run(&[
        "--state-dir",
        again.to_str().unwrap(),
        "restore",
        "--repo",
        r,
        "--identity",
        id,
    ]);
    assert!(ok.status.success(), "{}", text(&ok.stderr));
    assert_eq!(
        blob_files(&again.join("blobs")),
        blob_files(&dir.join("blobs"))
    );
}

/// Sets a file's modification time `secs_ago` seconds into the past.
fn set_mtime(path: &Path, secs_ago: u64) {
    let f = std::fs::File::options().write(true).open(path).unwrap();
    f.set_modified(std::time::SystemTime::now() - Duration::from_secs(secs_ago))
        .unwrap();
}
