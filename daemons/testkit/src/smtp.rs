//! A real SMTP server for tests: Python's aiosmtpd (Debian: python3-aiosmtpd) storing every
//! message it receives in a Maildir.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// A running SMTP sink on loopback; stopped when dropped.
pub struct SmtpSink {
    pub port: u16,
    child: Child,
    dir: tempfile::TempDir,
}

impl SmtpSink {
    /// Starts the sink. `None` when aiosmtpd is not installed, unless the environment
    /// demands the real tools (`NEXUS_TEST_REQUIRE_TOOLS=1`, as `./dev test` sets): then
    /// that is an error.
    pub async fn start() -> Result<Option<Self>> {
        let Some(python) = crate::python_with("aiosmtpd", "python3-aiosmtpd")? else {
            return Ok(None);
        };
        let dir = tempfile::Builder::new().prefix("nexus-smtp-").tempdir()?;
        // A free port: bind, read it, release it for the sink.
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let child = Command::new(python)
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(dir.path().join("Maildir"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start aiosmtpd")?;
        let sink = Self { port, child, dir };
        let deadline = Instant::now() + Duration::from_secs(10);
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            if Instant::now() > deadline {
                bail!("aiosmtpd did not listen on port {port} within 10 s");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(Some(sink))
    }

    /// `smtp://127.0.0.1:PORT`, for `mail.smtp_url`.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Every message received so far, as raw RFC 5322 text, oldest first.
    pub fn messages(&self) -> Result<Vec<String>> {
        let new = self.dir.path().join("Maildir").join("new");
        let mut files: Vec<_> = match std::fs::read_dir(&new) {
            Ok(rd) => rd.filter_map(|e| e.ok()).collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
        files.sort_by_key(|e| e.metadata().and_then(|m| m.modified()).ok());
        files
            .iter()
            .map(|e| std::fs::read_to_string(e.path()).map_err(Into::into))
            .collect()
    }

    /// Waits until at least `n` messages arrived; returns them all.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Result<Vec<String>> {
        let deadline = Instant::now() + timeout;
        loop {
            let m = self.messages()?;
            if m.len() >= n {
                return Ok(m);
            }
            if Instant::now() > deadline {
                bail!(
                    "{} message(s) arrived within {timeout:?}, wanted {n}",
                    m.len()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
