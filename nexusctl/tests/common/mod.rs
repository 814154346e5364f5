//! Helpers the nexusctl test suites share.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub fn nexusctl() -> Command {
    let exe = PathBuf::from(env!("CARGO_BIN_EXE_nexusctl"));
    let nexusd = exe.with_file_name("nexusd");
    assert!(
        nexusd.is_file(),
        "{} is missing: run `cargo build --bins` first (./dev test does)",
        nexusd.display()
    );
    let mut cmd = Command::new(exe);
    cmd.env_remove("NEXUS_STATE_DIR")
        .env("NEXUS_LOG_LEVEL", "warn");
    cmd
}

pub fn run(args: &[&str]) -> Output {
    nexusctl().args(args).output().unwrap()
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

pub struct Up {
    pub child: Child,
    pub lines: mpsc::Receiver<String>,
}

impl Up {
    pub fn start(dir: &Path, listen: &str) -> Self {
        Self::start_logging(dir, listen, "warn")
    }

    /// With the daemon logging at `level`.
    pub fn start_logging(dir: &Path, listen: &str, level: &str) -> Self {
        Self::start_with(dir, listen, &[("NEXUS_LOG_LEVEL", level)])
    }

    /// With these variables in the environment of the supervisor (and so of its daemons).
    pub fn start_with(dir: &Path, listen: &str, env: &[(&str, &str)]) -> Self {
        let mut child = nexusctl()
            .envs(env.iter().copied())
            .args([
                "up",
                "--state-dir",
                dir.to_str().unwrap(),
                "--listen",
                listen,
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, lines) = mpsc::channel();
        let out = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let err = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                eprintln!("[up] {line}");
            }
        });
        Self { child, lines }
    }

    /// Waits for a stdout line containing `needle`; returns every line read.
    pub fn wait_for(&self, needle: &str, timeout: Duration) -> Vec<String> {
        let deadline = Instant::now() + timeout;
        let mut seen = Vec::new();
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(l) => {
                    let hit = l.contains(needle);
                    seen.push(l);
                    if hit {
                        return seen;
                    }
                }
                Err(_) => break,
            }
        }
        panic!("no line with {needle:?} within {timeout:?}; got {seen:?}");
    }

    pub fn terminate(&mut self) -> (Option<i32>, Duration) {
        let start = Instant::now();
        nix_kill(self.child.id(), "TERM");
        let status = self.child.wait().unwrap();
        (status.code(), start.elapsed())
    }
}

impl Drop for Up {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

pub fn nix_kill(pid: u32, sig: &str) {
    let ok = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status()
        .unwrap();
    assert!(ok.success());
}

pub fn http_login(url: &str, email: &str, password: &str) -> u16 {
    use std::io::{Read, Write};
    let host = url.trim_start_matches("http://").trim_end_matches('/');
    let body = serde_json::json!({ "email": email, "password": password }).to_string();
    let mut s = std::net::TcpStream::connect(host).unwrap();
    write!(
        s,
        "POST /api/session HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    resp.split_whitespace().nth(1).unwrap().parse().unwrap()
}

pub fn hit(url: &str, n: usize) {
    use std::io::{Read, Write};
    let rest = url.trim_start_matches("http://");
    let (host, _) = rest.split_once('/').unwrap_or((rest, ""));
    for _ in 0..n {
        let mut s = std::net::TcpStream::connect(host).unwrap();
        write!(
            s,
            "GET /api/apps HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut answer = Vec::new();
        s.read_to_end(&mut answer).unwrap();
        assert!(answer.starts_with(b"HTTP/1.1 "), "{}", text(&answer));
    }
}
