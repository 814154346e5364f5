//! `nexusctl init`: provision a state directory, all or nothing.
//!
//! Everything is built in a temporary sibling directory and renamed into place only when
//! every step worked, so a failure (bad database URL, unwritable disk, …) leaves nothing
//! half-written behind.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};

use crate::cli::{InitArgs, fail};
use crate::state::StateDir;

/// What `init` made; printed once.
#[derive(Debug, Clone, Serialize)]
pub struct Provisioned {
    pub state_dir: PathBuf,
    pub url: String,
    pub org_name: String,
    pub admin_email: String,
    /// The one-use first-login link (`…/setup#token=…`).
    pub setup_link: String,
    /// The same without the address (`setup#token=…`), for when the port is chosen at start.
    pub setup_path: String,
    pub setup_link_days: u32,
}

#[derive(Deserialize)]
struct ProvisionOutput {
    org: OrgOut,
    admin: AdminOut,
    setup_link: String,
    setup_path: String,
    setup_link_days: u32,
}

#[derive(Deserialize)]
struct OrgOut {
    name: String,
}

#[derive(Deserialize)]
struct AdminOut {
    email: String,
}

/// A directory being built next to its final place: removed when dropped unless `keep` was
/// set (provisioning and restore completed).
pub struct Staging {
    pub path: PathBuf,
    pub keep: bool,
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

pub fn init(dir: &StateDir, nexusd: &Path, args: &InitArgs) -> Result<Provisioned> {
    let root = &dir.root;
    if root.exists() {
        if !root.is_dir() {
            return fail(
                2,
                format!(
                    "{} exists and is not a directory: choose another --state-dir",
                    root.display()
                ),
            );
        }
        let mut entries =
            std::fs::read_dir(root).with_context(|| format!("cannot read {}", root.display()))?;
        if entries.next().is_some() {
            return fail(
                2,
                format!(
                    "{} exists, is not empty and has no config.toml: choose an empty or new --state-dir",
                    root.display()
                ),
            );
        }
    }
    let (Some(parent), Some(name)) = (root.parent(), root.file_name()) else {
        return fail(
            2,
            format!(
                "{} cannot be a state directory: choose a directory below /",
                root.display()
            ),
        );
    };
    if let Err(e) = std::fs::create_dir_all(parent) {
        return fail(
            2,
            format!(
                "cannot create {}: {e}: choose a writable --state-dir",
                parent.display()
            ),
        );
    }

    let bar = spinner();
    bar.set_message("preparing the state directory");
    let staging = Staging {
        path: parent.join(format!(
            ".{}.tmp-{}",
            name.to_string_lossy(),
            std::process::id()
        )),
        keep: false,
    };
    if let Err(e) = std::fs::DirBuilder::new().mode(0o700).create(&staging.path) {
        bar.finish_and_clear();
        return fail(
            2,
            format!(
                "cannot write in {}: {e}: choose a writable --state-dir or fix its permissions",
                parent.display()
            ),
        );
    }

    bar.set_message("writing the configuration");
    write_config(&staging.path, args)?;

    bar.set_message("creating the databases, secrets and the administrator");
    let out = Command::new(nexusd)
        .arg("provision")
        .arg("--state-dir")
        .arg(&staging.path)
        .arg("--org-name")
        .arg(&args.org_name)
        .arg("--admin-email")
        .arg(&args.admin_email)
        .arg("--json")
        .arg("--log-level")
        .arg("warn")
        .env_remove("NEXUS_CONFIG")
        .output()
        .with_context(|| format!("cannot run {}", nexusd.display()))?;
    if !out.status.success() {
        bar.finish_and_clear();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let message = stderr
            .lines()
            .filter(|l| l.starts_with("nexusd: ") || !l.contains(" ERROR "))
            .map(|l| l.trim_start_matches("nexusd: "))
            .collect::<Vec<_>>()
            .join("\n");
        let code = u8::try_from(out.status.code().unwrap_or(1)).unwrap_or(1);
        return fail(
            code,
            format!(
                "provisioning failed, nothing was written: {}",
                message.trim()
            ),
        );
    }
    let parsed: ProvisionOutput = serde_json::from_slice(&out.stdout)
        .context("nexusd provision printed something unexpected")?;

    bar.set_message("moving the state directory into place");
    if root.exists() {
        std::fs::remove_dir(root)
            .with_context(|| format!("cannot replace the empty directory {}", root.display()))?;
    }
    std::fs::rename(&staging.path, root)
        .with_context(|| format!("cannot move the new state directory to {}", root.display()))?;
    let mut staging = staging;
    staging.keep = true;
    bar.finish_and_clear();

    Ok(Provisioned {
        state_dir: root.clone(),
        url: format!("http://{}/", display_listen(args.listen)),
        org_name: parsed.org.name,
        admin_email: parsed.admin.email,
        setup_link: parsed.setup_link,
        setup_path: parsed.setup_path,
        setup_link_days: parsed.setup_link_days,
    })
}

fn display_listen(addr: std::net::SocketAddr) -> String {
    if addr.ip().is_unspecified() {
        format!("localhost:{}", addr.port())
    } else {
        addr.to_string()
    }
}

fn write_config(dir: &Path, args: &InitArgs) -> Result<()> {
    let mut text = format!(
        "# NEXUS configuration, written by `nexusctl init`.\n\
         # Every key with its NEXUS_* environment variable and default: `nexusd configtest --keys`.\n\
         # Relative paths are relative to this directory.\n\
         version = 1\n\n\
         [server]\n\
         listen = \"{}\"\n",
        args.listen
    );
    if let Some(url) = &args.database_url {
        // Keep a password out of the config file: the URL goes into a 0600 secret file.
        let secrets = dir.join("secrets");
        std::fs::DirBuilder::new()
            .mode(0o700)
            .recursive(true)
            .create(&secrets)?;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(secrets.join("database-url"))?;
        f.write_all(url.as_bytes())?;
        text.push_str("\n[database]\nurl_file = \"secrets/database-url\"\n");
    }
    std::fs::write(dir.join("config.toml"), text).context("cannot write config.toml")?;
    Ok(())
}

fn spinner() -> ProgressBar {
    let bar = ProgressBar::new_spinner();
    if let Ok(style) = ProgressStyle::with_template("{spinner} {msg}") {
        bar.set_style(style);
    }
    bar.enable_steady_tick(Duration::from_millis(100));
    bar
}

/// Prints where the administrator sets up their account; `base` is the instance's address
/// with a trailing `/`.
pub fn print_credentials(p: &Provisioned, base: &str) {
    println!(
        "Provisioned a new NEXUS instance in {}",
        p.state_dir.display()
    );
    println!(
        "Set up the administrator {} within {} days at: {base}{}",
        p.admin_email, p.setup_link_days, p.setup_path
    );
    println!(
        "(The link works once and is not shown again. Lost it? \
         `nexusctl users reset-password --email {}` prints a one-time password.)",
        p.admin_email
    );
}
