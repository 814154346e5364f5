//! Releases: signed bundles (`nexusctl release …`), and moving an instance between them
//! (`nexusctl upgrade`, `nexusctl rollback`).

pub mod bundle;
pub mod keys;
pub mod layout;
pub mod upgrade;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Subcommand;

use crate::cli::fail;
use crate::state::StateDir;

#[derive(Debug, Subcommand)]
pub enum ReleaseCommand {
    /// Make a new ed25519 key pair for signing release bundles: FILE (secret, owner-only) and
    /// FILE.pub (give it to the instances that should accept your bundles).
    ///
    /// Example: `nexusctl release keygen --out ~/.nexus-release.key`.
    Keygen {
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Make a signed release bundle from the built tree: nexusd, nexusctl and the web assets
    /// (the migrations are inside nexusd; the manifest records the schema they reach).
    ///
    /// Example: `nexusctl release build --key ~/.nexus-release.key` after `./dev build`.
    Build {
        /// The secret key from `release keygen`.
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// Where to write the bundle [default: nexus-VERSION-TARGET.nexus here].
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// The release's version (semantic versioning) [default: what nexusd reports].
        #[arg(long, value_name = "VERSION")]
        release_version: Option<String>,
        /// The nexusd binary [default: next to nexusctl, then $PATH].
        #[arg(long, value_name = "PATH")]
        nexusd: Option<PathBuf>,
        /// The nexusctl binary [default: this one].
        #[arg(long, value_name = "PATH")]
        nexusctl: Option<PathBuf>,
        /// The built web front-end [default: $NEXUS_WEB_DIR, next to nexusd, or web/dist].
        #[arg(long, value_name = "DIR")]
        web: Option<PathBuf>,
    },
    /// Check a bundle's signature (against the keys this instance trusts) and every file's
    /// hash, without installing anything. Exit 2 when it is unsigned, foreign or tampered with.
    Verify { bundle: PathBuf },
    /// Trust bundles signed by this public key (a `.pub` file from `release keygen`).
    Trust { key: PathBuf },
    /// List the releases installed on this instance (current, previous).
    List,
}

pub fn run(dir: &StateDir, command: ReleaseCommand) -> Result<ExitCode> {
    match command {
        ReleaseCommand::Keygen { out } => {
            let (public, key) = keys::generate(&out)?;
            println!(
                "wrote the signing key {} (keep it secret) and its public key {} (key {})",
                out.display(),
                public.display(),
                keys::key_id(&key)
            );
            println!(
                "instances accept bundles it signs after `nexusctl release trust {}`",
                public.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        ReleaseCommand::Build {
            key,
            out,
            release_version,
            nexusd,
            nexusctl,
            web,
        } => build(key, out, release_version, nexusd, nexusctl, web),
        ReleaseCommand::Verify { bundle } => {
            let (trusted, dirs) = keys::trusted(dir);
            let (m, signer) = bundle::open(&bundle, &trusted, &dirs, None)?;
            println!(
                "{}: NEXUS {} for {}, {} files, signed by trusted key {}",
                bundle.display(),
                m.version,
                m.target,
                m.files.len(),
                keys::key_id(&signer)
            );
            Ok(ExitCode::SUCCESS)
        }
        ReleaseCommand::Trust { key } => {
            if !dir.is_provisioned() {
                return fail(
                    2,
                    format!(
                        "{} has no config.toml: run `nexusctl init` first, then trust the key",
                        dir.root.display()
                    ),
                );
            }
            let k = keys::add_trusted(dir, &key)?;
            println!(
                "{} now accepts release bundles signed by key {}",
                dir.root.display(),
                keys::key_id(&k)
            );
            Ok(ExitCode::SUCCESS)
        }
        ReleaseCommand::List => {
            let current = layout::link_version(&layout::current_dir(dir));
            let previous = layout::link_version(&layout::previous_link(dir));
            let installed = layout::installed(dir);
            if installed.is_empty() {
                let running = layout::current(dir).map(|r| r.version).ok();
                println!(
                    "no release installed yet (the instance runs the nexusd next to nexusctl{}); `nexusctl upgrade --bundle FILE` installs one",
                    running.map(|v| format!(", {v}")).unwrap_or_default()
                );
            }
            for v in installed {
                let mark = if current.as_deref() == Some(&v) {
                    "  (current)"
                } else if previous.as_deref() == Some(&v) {
                    "  (previous: `nexusctl rollback` returns to it)"
                } else {
                    ""
                };
                println!("{v}{mark}");
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn build(
    key: PathBuf,
    out: Option<PathBuf>,
    version: Option<String>,
    nexusd: Option<PathBuf>,
    nexusctl: Option<PathBuf>,
    web: Option<PathBuf>,
) -> Result<ExitCode> {
    let signing = keys::read_secret(&key)?;
    let nexusd = crate::daemons::find_nexusd(nexusd.as_deref())?;
    let nexusctl = match nexusctl {
        Some(p) if p.is_file() => p,
        Some(p) => return fail(2, format!("no nexusctl binary at {}", p.display())),
        None => std::env::current_exe().context("cannot find this nexusctl binary")?,
    };
    let web = match web.or_else(|| std::env::var_os("NEXUS_WEB_DIR").map(PathBuf::from)) {
        Some(w) => w,
        None => nexusd
            .parent()
            .and_then(web_beside)
            .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../web/dist"))),
    };
    if !web.join("index.html").is_file() {
        return fail(
            2,
            format!(
                "{} has no built web front-end (index.html): build it with `./dev build-web`, or pass --web DIR",
                web.display()
            ),
        );
    }
    let (reported, schema) = layout::describe(&nexusd)?;
    let version = version.unwrap_or(reported);
    if semver::Version::parse(&version).is_err() {
        return fail(
            2,
            format!("{version:?} is not a semantic version like 1.4.2: pass --release-version"),
        );
    }
    let mut files = vec![
        ("bin/nexusd".to_owned(), nexusd, 0o755),
        ("bin/nexusctl".to_owned(), nexusctl, 0o755),
    ];
    files.extend(web_files(&web)?);
    let out = out.unwrap_or_else(|| {
        PathBuf::from(format!("nexus-{version}-{}.nexus", bundle::this_target()))
    });
    let started = std::time::Instant::now();
    let (m, size) = bundle::build(
        &bundle::Inputs {
            version,
            schema,
            files,
        },
        &signing,
        &out,
    )?;
    println!(
        "wrote {} ({:.1} MiB, {} files, NEXUS {} for {}) in {:.1} s, signed by key {}",
        out.display(),
        size as f64 / (1024.0 * 1024.0),
        m.files.len(),
        m.version,
        m.target,
        started.elapsed().as_secs_f64(),
        keys::key_id(&signing.verifying_key())
    );
    Ok(ExitCode::SUCCESS)
}

/// The web assets installed beside a `bin/` directory, as nexusd looks for them.
pub fn web_beside(bin: &Path) -> Option<PathBuf> {
    [bin.join("../share/nexus/web"), bin.join("web")]
        .into_iter()
        .find(|d| d.join("index.html").is_file())
}

/// Every file under `web`, as `share/nexus/web/…` in a release.
pub fn web_files(web: &Path) -> Result<Vec<(String, PathBuf, u32)>> {
    let mut out = Vec::new();
    let mut stack = vec![web.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).with_context(|| format!("cannot read {}", d.display()))? {
            let e = e?;
            let path = e.path();
            let kind = e.file_type()?;
            if kind.is_dir() {
                stack.push(path);
            } else if kind.is_file() {
                let rel = path
                    .strip_prefix(web)
                    .context("a web file outside the web directory")?;
                let Some(rel) = rel.to_str() else {
                    return fail(2, format!("{} is not a UTF-8 name", path.display()));
                };
                out.push((format!("share/nexus/web/{rel}"), path, 0o644));
            }
        }
    }
    out.sort();
    Ok(out)
}
