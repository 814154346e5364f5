//! Daemon logs. Under nexusctl's supervisor each line a daemon writes goes on to the terminal
//! as before and into `logs/<daemon>.log` in the state directory (rotated at 8 MiB, one old
//! file kept as `<daemon>.log.1`), which `nexusctl logs` prints and follows. On a systemd
//! host the journal keeps them instead, and `nexusctl logs` asks `journalctl`.
//!
//! Written here rather than taken from a crate: the rotating writers (tracing-appender,
//! file-rotate) rotate by time or wrap a `tracing` subscriber, while this is a byte pump from
//! a child's pipes with one size cap, a few dozen lines.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};

use crate::cli::fail;
use crate::state::StateDir;

/// A log file grows to this size, then becomes `<name>.1` (replacing the older one).
pub const MAX_LOG_BYTES: u64 = 8 << 20;
/// How often `--follow` looks for new lines.
const FOLLOW_POLL: Duration = Duration::from_millis(200);

/// A daemon's log file, appended to line by line.
#[derive(Debug)]
pub struct LogFile {
    path: PathBuf,
    file: File,
    size: u64,
    limit: u64,
}

impl LogFile {
    pub fn open(path: &Path) -> Result<Self> {
        Self::with_limit(path, MAX_LOG_BYTES)
    }

    fn with_limit(path: &Path, limit: u64) -> Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create the log directory {}", dir.display()))?;
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("cannot open the log file {}", path.display()))?;
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        Ok(Self {
            path: path.to_path_buf(),
            file,
            size,
            limit,
        })
    }

    /// Appends one line (a newline is added), rotating first when it would not fit.
    pub fn write_line(&mut self, line: &str) -> std::io::Result<()> {
        let len = u64::try_from(line.len())
            .unwrap_or(u64::MAX)
            .saturating_add(1);
        if self.size > 0 && self.size.saturating_add(len) > self.limit {
            std::fs::rename(&self.path, old_path(&self.path))?;
            self.file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)?;
            self.size = 0;
        }
        self.file.write_all(line.as_bytes())?;
        self.file.write_all(b"\n")?;
        self.size = self.size.saturating_add(len);
        Ok(())
    }
}

fn old_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".1");
    PathBuf::from(name)
}

/// Copies a child's output, line by line, to our stdout or stderr and into its log. A log
/// that cannot be written is reported once and the lines still reach the terminal.
pub fn pump(
    reader: impl AsyncRead + Unpin + Send + 'static,
    log: Arc<Mutex<LogFile>>,
    to_stderr: bool,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut reader = BufReader::new(reader);
        let mut buf = Vec::new();
        let mut warned = false;
        loop {
            buf.clear();
            match reader.read_until(b'\n', &mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            let text = String::from_utf8_lossy(&buf);
            let line = text.trim_end_matches(['\n', '\r']);
            // Not println!: it panics when the terminal is gone, and the pipe must keep being
            // drained (a daemon blocked on a full pipe stops answering).
            let _ = if to_stderr {
                writeln!(std::io::stderr().lock(), "{line}")
            } else {
                writeln!(std::io::stdout().lock(), "{line}")
            };
            let written = match log.lock() {
                Ok(mut f) => f.write_line(line),
                Err(_) => Ok(()),
            };
            if let Err(e) = written
                && !warned
            {
                warned = true;
                let _ = writeln!(
                    std::io::stderr().lock(),
                    "nexusctl: cannot write the daemon's log file: {e}"
                );
            }
        }
    })
}

/// `nexusctl logs [SERVICE] [-n N] [--follow]`.
pub fn show(dir: &StateDir, service: Option<&str>, lines: usize, follow: bool) -> Result<ExitCode> {
    // The daemons, and the scheduled backups `nexusctl up` runs.
    let mut names = crate::daemons::names();
    names.push("backup");
    let chosen: Vec<&str> = match service {
        Some(s) if names.contains(&s) => vec![s],
        Some(s) => return fail(2, crate::daemons::unknown_service(s, &names)),
        None => names.clone(),
    };
    let files: Vec<(&str, PathBuf)> = chosen
        .iter()
        .map(|n| (*n, dir.log_file(n)))
        .filter(|(_, p)| p.is_file() || old_path(p).is_file())
        .collect();
    if files.is_empty() {
        if Path::new("/run/systemd/system").is_dir()
            && crate::daemons::on_path("journalctl").is_some()
        {
            return journal(&chosen, lines, follow);
        }
        return fail(
            1,
            format!(
                "no logs in {} yet: they appear once `nexusctl up` has run there (on a systemd host, see `journalctl -u nexus-web`)",
                dir.logs_dir().display()
            ),
        );
    }
    let prefix = files.len() > 1;
    let mut positions = Vec::new();
    for (name, path) in &files {
        let (tail, end) = last_lines(path, lines)?;
        for l in tail {
            print_line(name, &l, prefix);
        }
        positions.push(end);
    }
    if !follow {
        return Ok(ExitCode::SUCCESS);
    }
    let mut partial = vec![String::new(); files.len()];
    loop {
        std::thread::sleep(FOLLOW_POLL);
        for (i, (name, path)) in files.iter().enumerate() {
            let Ok(mut f) = File::open(path) else {
                continue;
            };
            let size = f.metadata().map(|m| m.len()).unwrap_or(0);
            if size < positions[i] {
                // Rotated (or truncated): the new file is read from its start.
                positions[i] = 0;
                partial[i].clear();
            }
            if size == positions[i] {
                continue;
            }
            f.seek(SeekFrom::Start(positions[i]))?;
            let mut fresh = Vec::new();
            f.take(size - positions[i]).read_to_end(&mut fresh)?;
            positions[i] = size;
            partial[i].push_str(&String::from_utf8_lossy(&fresh));
            while let Some(n) = partial[i].find('\n') {
                let line: String = partial[i].drain(..=n).collect();
                print_line(name, line.trim_end_matches(['\n', '\r']), prefix);
            }
        }
    }
}

fn print_line(name: &str, line: &str, prefix: bool) {
    if prefix {
        println!("{name} | {line}");
    } else {
        println!("{line}");
    }
}

/// The last whole lines within the last `max_bytes` of a log (for the dashboard, which
/// reads it every second and must not read 8 MiB each time).
pub fn tail(path: &Path, max_bytes: u64) -> Vec<String> {
    let Ok(mut f) = File::open(path) else {
        return Vec::new();
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let start = len.saturating_sub(max_bytes);
    if f.seek(SeekFrom::Start(start)).is_err() {
        return Vec::new();
    }
    let mut bytes = Vec::new();
    if f.take(max_bytes).read_to_end(&mut bytes).is_err() {
        return Vec::new();
    }
    let text = String::from_utf8_lossy(&bytes);
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    if start > 0 && !lines.is_empty() {
        lines.remove(0); // cut in the middle
    }
    lines
}

/// The last `n` lines of a log (its rotated part first), and the current file's length.
fn last_lines(path: &Path, n: usize) -> Result<(Vec<String>, u64)> {
    let mut text = String::new();
    for p in [old_path(path), path.to_path_buf()] {
        if let Ok(bytes) = std::fs::read(&p) {
            text.push_str(&String::from_utf8_lossy(&bytes));
        }
    }
    let end = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let all: Vec<&str> = text.lines().collect();
    let start = all.len().saturating_sub(n);
    Ok((all[start..].iter().map(|l| (*l).to_owned()).collect(), end))
}

/// The journal's lines for the services' units (`nexus-<service>.service`).
fn journal(services: &[&str], lines: usize, follow: bool) -> Result<ExitCode> {
    let mut cmd = std::process::Command::new("journalctl");
    cmd.arg("--no-pager").arg("-n").arg(lines.to_string());
    for s in services {
        cmd.arg("-u").arg(format!("nexus-{s}.service"));
    }
    if follow {
        cmd.arg("--follow");
    }
    let status = cmd.status().context("cannot run journalctl")?;
    Ok(ExitCode::from(
        u8::try_from(status.code().unwrap_or(1)).unwrap_or(1),
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn rotates_at_the_limit_and_keeps_one_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("logs/web.log");
        let mut log = LogFile::with_limit(&path, 20).unwrap();
        for line in ["one 5678", "two 5678", "three 78", "four 678"] {
            log.write_line(line).unwrap();
        }
        // 9 bytes a line: two fit in 20, the third starts a new file.
        assert_eq!(
            std::fs::read_to_string(old_path(&path)).unwrap(),
            "one 5678\ntwo 5678\n"
        );
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "three 78\nfour 678\n"
        );
        log.write_line("five 678").unwrap();
        assert_eq!(
            std::fs::read_to_string(old_path(&path)).unwrap(),
            "three 78\nfour 678\n"
        );
        let (tail, end) = last_lines(&path, 3).unwrap();
        assert_eq!(tail, ["three 78", "four 678", "five 678"]);
        assert_eq!(end, 9);
        // Reopened, it goes on where it was.
        let mut again = LogFile::with_limit(&path, 20).unwrap();
        again.write_line("six 5678").unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "five 678\nsix 5678\n"
        );
    }
}
