//! Which daemons make up an instance, and where the `nexusd` binary is.
//!
//! The appliance runs the same split as systemd units (`nexus-web.service`, …); here
//! nexusctl's own supervisor runs them. Today every app lives in the web daemon; the mail,
//! meet and worker daemons join as those apps arrive.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::cli::fail;

#[derive(Debug, Clone, Copy)]
pub struct DaemonSpec {
    pub name: &'static str,
    /// The `--apps` value.
    pub apps: &'static str,
    /// Whether this daemon serves the public HTTP port.
    pub public: bool,
}

pub const DAEMONS: &[DaemonSpec] = &[DaemonSpec {
    name: "web",
    apps: "all",
    public: true,
}];

/// The names of the daemons, for messages.
pub fn names() -> Vec<&'static str> {
    DAEMONS.iter().map(|d| d.name).collect()
}

/// What to say about a service name that is none of `names`.
pub fn unknown_service(service: &str, names: &[&str]) -> String {
    format!(
        "no service `{service}`; the services are: {}",
        names.join(", ")
    )
}

/// Which `nexusd` an instance runs: the one given with `--nexusd` (or `$NEXUSD`), else the
/// installed release's (`<state dir>/releases/current/bin/nexusd`, once `nexusctl upgrade`
/// has installed one), else the one next to nexusctl or on `$PATH`. Looked up each time it
/// is used, so a running supervisor starts the new release after an upgrade switched it.
#[derive(Debug, Clone)]
pub struct Nexusd {
    pinned: Option<PathBuf>,
    release: PathBuf,
    found: Option<PathBuf>,
}

impl Nexusd {
    pub fn for_instance(dir: &crate::state::StateDir, explicit: Option<&Path>) -> Result<Self> {
        let pinned = explicit.map(|p| find_nexusd(Some(p))).transpose()?;
        let release = crate::release::layout::current_dir(dir)
            .join("bin")
            .join("nexusd");
        let found = if pinned.is_none() && !release.is_file() {
            Some(find_nexusd(None)?)
        } else {
            find_nexusd(None).ok()
        };
        Ok(Self {
            pinned,
            release,
            found,
        })
    }

    /// The binary to run now.
    pub fn path(&self) -> Result<PathBuf> {
        if let Some(p) = &self.pinned {
            return Ok(p.clone());
        }
        if self.release.is_file() {
            return Ok(self.release.clone());
        }
        match &self.found {
            Some(p) => Ok(p.clone()),
            None => find_nexusd(None),
        }
    }

    /// The binary given explicitly, which upgrades do not replace.
    pub fn pinned(&self) -> Option<&Path> {
        self.pinned.as_deref()
    }
}

/// `explicit`, else `nexusd` next to this executable, else on `$PATH`.
pub fn find_nexusd(explicit: Option<&Path>) -> Result<PathBuf> {
    if let Some(p) = explicit {
        if p.is_file() {
            return Ok(p.to_path_buf());
        }
        return fail(
            2,
            format!(
                "nexusd not found at {} (from --nexusd or $NEXUSD)",
                p.display()
            ),
        );
    }
    if let Ok(exe) = std::env::current_exe()
        && let Some(sibling) = exe.parent().map(|d| d.join("nexusd"))
        && sibling.is_file()
    {
        return Ok(sibling);
    }
    if let Some(found) = on_path("nexusd") {
        return Ok(found);
    }
    fail(
        2,
        "cannot find the nexusd binary next to nexusctl or on $PATH: build it with `cargo build -p nexusd`, or pass --nexusd PATH",
    )
}

/// `program` in a directory of `$PATH`, if it is there.
pub fn on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

/// Runs `nexusd ARGS… --log-level warn` for an operator command and returns its stdout; on
/// failure, fails with exit code 1 and `what: <nexusd's message>`.
pub fn run_nexusd(nexusd: &Path, args: &[&std::ffi::OsStr], what: &str) -> Result<Vec<u8>> {
    let out = std::process::Command::new(nexusd)
        .args(args)
        .arg("--log-level")
        .arg("warn")
        .env_remove("NEXUS_CONFIG")
        .env_remove("NEXUS_DATABASE_URL")
        .output()
        .with_context(|| format!("cannot run {}", nexusd.display()))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let message = stderr
            .lines()
            .map(|l| l.trim_start_matches("nexusd: "))
            .collect::<Vec<_>>()
            .join("\n");
        return fail(1, format!("{what}: {}", message.trim()));
    }
    Ok(out.stdout)
}
