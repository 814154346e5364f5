//! The layout of an instance's state directory.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone)]
pub struct StateDir {
    pub root: PathBuf,
}

/// What a running `nexusctl up` records in `run/supervisor.json` for `status` and `stop`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SupervisorRecord {
    pub pid: u32,
    pub started_at: u64,
    pub url: String,
    /// Set when the supervisor stopped cleanly.
    pub stopped: bool,
    /// The nexusd given with `--nexusd`/`$NEXUSD`, which upgrades do not replace.
    #[serde(default)]
    pub pinned_nexusd: Option<PathBuf>,
    pub daemons: Vec<DaemonRecord>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DaemonRecord {
    pub name: String,
    pub pid: Option<u32>,
    pub admin_socket: PathBuf,
    pub restarts: u32,
    pub state: nexus_wire::DaemonState,
}

impl StateDir {
    /// The given directory, or the default one under the user's data directory.
    pub fn new(dir: Option<PathBuf>) -> Result<Self> {
        let root = match dir {
            Some(d) => d,
            None => dirs::data_dir()
                .map(|d| d.join("nexus"))
                .context("cannot find your data directory (is $HOME set?): pass --state-dir")?,
        };
        let root = if root.is_absolute() {
            root
        } else {
            std::env::current_dir()
                .context("cannot read the current directory: pass an absolute --state-dir")?
                .join(root)
        };
        Ok(Self { root })
    }

    pub fn config(&self) -> PathBuf {
        self.root.join("config.toml")
    }

    pub fn is_provisioned(&self) -> bool {
        self.config().is_file()
    }

    /// Where the supervisor keeps each daemon's output.
    pub fn logs_dir(&self) -> PathBuf {
        self.root.join("logs")
    }

    pub fn log_file(&self, daemon: &str) -> PathBuf {
        self.logs_dir().join(format!("{daemon}.log"))
    }

    pub fn run_dir(&self) -> PathBuf {
        self.root.join("run")
    }

    pub fn supervisor_file(&self) -> PathBuf {
        self.run_dir().join("supervisor.json")
    }

    pub fn admin_socket(&self, daemon: &str) -> PathBuf {
        self.run_dir().join(format!("{daemon}.sock"))
    }

    /// Where a running `nexusctl up` takes requests (`restart SERVICE`).
    pub fn control_socket(&self) -> PathBuf {
        self.run_dir().join("supervisor.sock")
    }

    pub fn notify_socket(&self, daemon: &str) -> PathBuf {
        self.run_dir().join(format!("{daemon}.notify"))
    }

    pub fn read_record(&self) -> Option<SupervisorRecord> {
        let text = std::fs::read_to_string(self.supervisor_file()).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// Writes the record atomically (temp file + rename), so readers never see half of it.
    pub fn write_record(&self, rec: &SupervisorRecord) -> Result<()> {
        write_atomic(&self.supervisor_file(), &serde_json::to_vec_pretty(rec)?)
    }
}

/// Creates `dir` (and its parents) readable by the owner only, if missing.
pub fn private_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .mode(0o700)
        .recursive(true)
        .create(dir)
        .with_context(|| format!("cannot create {}", dir.display()))
}

/// Replaces `path` with `bytes` atomically (a temporary file beside it, then a rename), so
/// readers see the old content or the new, never half; its directory is made if missing.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(parent) = path.parent() {
        private_dir(parent)?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))
}

/// True if a process with this pid exists and has not exited (a zombie waiting for its
/// parent to collect it counts as exited).
pub fn alive(pid: u32) -> bool {
    let Ok(raw) = i32::try_from(pid) else {
        return false;
    };
    if nix::sys::signal::kill(nix::unistd::Pid::from_raw(raw), None).is_err() {
        return false;
    }
    // /proc/PID/stat: "pid (comm) S …"; comm may hold spaces or parentheses, so read the
    // state after the last ')'.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_none_or(|state| state != "Z" && state != "X"),
        Err(_) => true,
    }
}

pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The configured public URL of an instance (from its config file), for status output.
pub fn configured_listen(config: &Path) -> Option<String> {
    let text = std::fs::read_to_string(config).ok()?;
    let table: toml::Table = text.parse().ok()?;
    table
        .get("server")?
        .get("listen")?
        .as_str()
        .map(str::to_owned)
}
