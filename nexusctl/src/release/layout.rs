//! Where an instance keeps its releases and upgrade records.
//!
//! ```text
//! <state dir>/releases/<version>/      one installed release: bin/nexusd, bin/nexusctl,
//!                                      share/nexus/web/, manifest.json
//! <state dir>/releases/current  -> <version>   what the services run
//! <state dir>/releases/previous -> <version>   what `nexusctl rollback` returns to
//! <state dir>/upgrades/journal.json    the last upgrade or rollback and how far it got
//! <state dir>/upgrades/<id>/           its pre-upgrade snapshot (database, config.toml)
//! ```
//!
//! The links are switched atomically (a new link renamed over the old one), so a crash
//! leaves one release or the other, never neither.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::bundle::{self, FileEntry, Manifest};
use crate::state::StateDir;

pub fn releases_dir(dir: &StateDir) -> PathBuf {
    dir.root.join("releases")
}

pub fn current_dir(dir: &StateDir) -> PathBuf {
    releases_dir(dir).join("current")
}

pub fn previous_link(dir: &StateDir) -> PathBuf {
    releases_dir(dir).join("previous")
}

pub fn release_dir(dir: &StateDir, version: &str) -> PathBuf {
    releases_dir(dir).join(version)
}

pub fn upgrades_dir(dir: &StateDir) -> PathBuf {
    dir.root.join("upgrades")
}

/// The version a link points at.
pub fn link_version(link: &Path) -> Option<String> {
    let target = std::fs::read_link(link).ok()?;
    Some(target.file_name()?.to_string_lossy().into_owned())
}

/// Points `link` at the release `version` (atomically), or removes it with `None`.
pub fn set_link(link: &Path, version: Option<&str>) -> Result<()> {
    let Some(version) = version else {
        return match std::fs::remove_file(link) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(e).with_context(|| format!("cannot remove {}", link.display()))
            }
            _ => Ok(()),
        };
    };
    let mut tmp = link.as_os_str().to_owned();
    tmp.push(".new");
    let tmp = PathBuf::from(tmp);
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(version, &tmp)
        .with_context(|| format!("cannot create {}", tmp.display()))?;
    std::fs::rename(&tmp, link).with_context(|| format!("cannot switch {}", link.display()))
}

/// The release the instance runs now.
#[derive(Debug, Clone)]
pub struct Release {
    pub version: String,
    pub schema: BTreeMap<String, u64>,
    pub nexusd: PathBuf,
    /// Installed under `releases/`; `false` for binaries found next to nexusctl or on `$PATH`
    /// (an instance never upgraded yet).
    pub installed: bool,
}

/// What `nexusd version --json` says about a binary.
pub fn describe(nexusd: &Path) -> Result<(String, BTreeMap<String, u64>)> {
    #[derive(serde::Deserialize)]
    struct Version {
        version: String,
        #[serde(default)]
        schema: BTreeMap<String, u64>,
    }
    let out = std::process::Command::new(nexusd)
        .args(["version", "--json"])
        .output()
        .with_context(|| format!("cannot run {}", nexusd.display()))?;
    let v: Version = serde_json::from_slice(&out.stdout)
        .with_context(|| format!("{} printed no version (is it a nexusd?)", nexusd.display()))?;
    Ok((v.version, v.schema))
}

pub fn current(dir: &StateDir) -> Result<Release> {
    let cur = current_dir(dir);
    if let Some(m) = bundle::installed_manifest(&cur) {
        return Ok(Release {
            version: m.version,
            schema: m.schema,
            nexusd: cur.join("bin").join("nexusd"),
            installed: true,
        });
    }
    let nexusd = crate::daemons::Nexusd::for_instance(dir, None)?.path()?;
    let (version, schema) = describe(&nexusd)?;
    Ok(Release {
        version,
        schema,
        nexusd,
        installed: false,
    })
}

/// Installs the binaries an instance runs before its first upgrade as a release of their
/// own (`releases/<version>/`), so a rollback has something to return to.
pub fn adopt(dir: &StateDir, release: &Release) -> Result<Release> {
    let target = release_dir(dir, &release.version);
    let staging = releases_dir(dir).join(format!(".adopting-{}", release.version));
    let _ = std::fs::remove_dir_all(&staging);
    let mut files = vec![("bin/nexusd".to_owned(), release.nexusd.clone(), 0o755)];
    if let Ok(me) = std::env::current_exe() {
        files.push(("bin/nexusctl".to_owned(), me, 0o755));
    }
    if let Some(web) = release.nexusd.parent().and_then(super::web_beside) {
        files.extend(super::web_files(&web)?);
    }
    let mut entries = Vec::new();
    for (path, source, mode) in &files {
        let to = staging.join(path);
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        std::fs::copy(source, &to)
            .with_context(|| format!("cannot copy {} to {}", source.display(), to.display()))?;
        let (size, blake3) = bundle::hash_file(&to)?;
        entries.push(FileEntry {
            path: path.clone(),
            size,
            mode: *mode,
            blake3,
        });
    }
    let manifest = Manifest {
        format: bundle::FORMAT,
        product: "nexus".to_owned(),
        version: release.version.clone(),
        target: bundle::this_target(),
        created_at: crate::state::now_secs(),
        schema: release.schema.clone(),
        files: entries,
    };
    bundle::write_manifest(&staging, &manifest)?;
    if target.exists() {
        std::fs::remove_dir_all(&target)
            .with_context(|| format!("cannot replace {}", target.display()))?;
    }
    std::fs::rename(&staging, &target)
        .with_context(|| format!("cannot install {}", target.display()))?;
    set_link(&current_dir(dir), Some(&release.version))?;
    Ok(Release {
        nexusd: target.join("bin").join("nexusd"),
        installed: true,
        ..release.clone()
    })
}

/// Every installed release's version, oldest first by semantic version.
pub fn installed(dir: &StateDir) -> Vec<String> {
    let mut versions: Vec<String> = std::fs::read_dir(releases_dir(dir))
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect();
    versions.sort_by(
        |a, b| match (semver::Version::parse(a), semver::Version::parse(b)) {
            (Ok(x), Ok(y)) => x.cmp(&y),
            _ => a.cmp(b),
        },
    );
    versions
}
