//! `nexusctl upgrade --bundle FILE` and `nexusctl rollback`.
//!
//! An upgrade: verify the bundle → install it under `releases/<version>/` → stop the services
//! → snapshot the database and config (with nothing writing, so the snapshot is exactly the
//! data the old release left) → switch `releases/current` → run the new release's migrations
//! → start the services → health gate (every daemon's `/readyz`, which runs each app's health
//! check) → commit. A failure at any step after the services stopped rolls back: the old
//! release's binaries, and its data from the snapshot (the failed release's database is kept
//! aside, never deleted). Every step is recorded in `upgrades/journal.json` before the next
//! begins, so an upgrade killed half-way is finished by `nexusctl rollback`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Args;
use serde::{Deserialize, Serialize};

use super::{bundle, keys, layout};
use crate::cli::fail;
use crate::control::ServiceControl;
use crate::state::{StateDir, now_secs};

#[derive(Debug, Args, Clone)]
pub struct UpgradeArgs {
    /// The signed release bundle (`nexusctl release build` makes one).
    #[arg(long, value_name = "FILE")]
    pub bundle: PathBuf,
    /// How long every service may take to become healthy on the new release before the
    /// upgrade is rolled back.
    #[arg(long, default_value_t = 60, value_name = "SECS")]
    pub health_timeout: u64,
}

#[derive(Debug, Args, Clone)]
pub struct RollbackArgs {
    /// When the current release changed the database schema: put the data back as it was
    /// before the upgrade (the pre-upgrade snapshot). Changes made since are kept aside in
    /// the upgrade's directory, not carried over.
    #[arg(long)]
    pub restore_snapshot: bool,
    /// How long every service may take to become healthy again.
    #[arg(long, default_value_t = 60, value_name = "SECS")]
    pub health_timeout: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum Phase {
    /// Services being stopped; nothing changed yet.
    Stopping,
    /// The snapshot is complete; the data is unchanged.
    Snapshotted,
    /// `releases/current` points at the new release; migrations may have run.
    Switched,
    Migrated,
    Started,
    Committed,
    RolledBack,
}

impl Phase {
    fn finished(self) -> bool {
        matches!(self, Phase::Committed | Phase::RolledBack)
    }
}

/// The record of the last upgrade (or rollback), rewritten at every step.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Journal {
    id: String,
    /// The release to return to on failure.
    from: String,
    to: String,
    phase: Phase,
    started_at: u64,
    /// Whether the services ran when it began (they are started again at the end).
    services_running: bool,
    /// `sqlite` or `postgres`, once the snapshot was taken.
    backend: Option<String>,
    /// The pre-upgrade snapshot: `database.dump` and `config.toml`.
    snapshot: PathBuf,
    /// What `releases/previous` pointed at before, put back if the upgrade fails.
    #[serde(default)]
    previous_before: Option<String>,
    finished_at: Option<u64>,
    error: Option<String>,
}

fn journal_path(dir: &StateDir) -> PathBuf {
    layout::upgrades_dir(dir).join("journal.json")
}

fn read_journal(dir: &StateDir) -> Option<Journal> {
    serde_json::from_slice(&std::fs::read(journal_path(dir)).ok()?).ok()
}

fn write_journal(dir: &StateDir, j: &Journal) -> Result<()> {
    crate::state::write_atomic(&journal_path(dir), &serde_json::to_vec_pretty(j)?)
}

/// One upgrade or rollback at a time per instance.
fn lock(dir: &StateDir) -> Result<nix::fcntl::Flock<std::fs::File>> {
    let path = layout::upgrades_dir(dir).join("lock");
    crate::state::private_dir(&layout::upgrades_dir(dir))?;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    match nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusiveNonblock) {
        Ok(l) => Ok(l),
        Err(_) => fail(
            4,
            "another upgrade or rollback is running on this instance: wait for it to finish",
        ),
    }
}

fn say(line: impl std::fmt::Display) {
    println!("{line}");
}

fn checks(dir: &StateDir) -> Result<()> {
    if !dir.is_provisioned() {
        return fail(
            2,
            format!(
                "{} has no config.toml: run `nexusctl init` first",
                dir.root.display()
            ),
        );
    }
    if let Some(rec) = dir.read_record()
        && !rec.stopped
        && crate::state::alive(rec.pid)
        && let Some(pinned) = rec.pinned_nexusd
    {
        return fail(
            2,
            format!(
                "this instance runs the nexusd given with --nexusd or $NEXUSD ({}), which an upgrade does not replace: stop it and start `nexusctl up` without it",
                pinned.display()
            ),
        );
    }
    Ok(())
}

pub fn upgrade(dir: &StateDir, args: &UpgradeArgs) -> Result<ExitCode> {
    checks(dir)?;
    let _lock = lock(dir)?;
    if let Some(j) = read_journal(dir).filter(|j| !j.phase.finished()) {
        return fail(
            2,
            format!(
                "the upgrade from {} to {} was interrupted; run `nexusctl rollback` to finish returning to {}, then upgrade again",
                j.from, j.to, j.from
            ),
        );
    }
    let started = Instant::now();
    let current = layout::current(dir)?;
    let (trusted, trust_dirs) = keys::trusted(dir);
    let staging = layout::releases_dir(dir).join(".staging");
    let (manifest, signer) = bundle::open(&args.bundle, &trusted, &trust_dirs, Some(&staging))?;
    let refuse = |message: String| -> Result<ExitCode> {
        let _ = std::fs::remove_dir_all(&staging);
        fail(2, message)
    };
    if manifest.target != bundle::this_target() {
        return refuse(format!(
            "{} is built for {}, and this machine is {}",
            args.bundle.display(),
            manifest.target,
            bundle::this_target()
        ));
    }
    match (
        semver::Version::parse(&manifest.version),
        semver::Version::parse(&current.version),
    ) {
        (Ok(new), Ok(old)) if new > old => {}
        (Ok(_), Ok(_)) => {
            return refuse(format!(
                "{} is NEXUS {}, not newer than the running {}; nothing was changed (`nexusctl rollback` returns to the previous release)",
                args.bundle.display(),
                manifest.version,
                current.version
            ));
        }
        _ => {
            return refuse(format!(
                "cannot compare the versions {} and {}",
                manifest.version, current.version
            ));
        }
    }
    say(format!(
        "verified NEXUS {} for {} ({} files), signed by trusted key {}",
        manifest.version,
        manifest.target,
        manifest.files.len(),
        keys::key_id(&signer)
    ));
    let installed = layout::release_dir(dir, &manifest.version);
    if installed.exists() {
        std::fs::remove_dir_all(&installed)
            .with_context(|| format!("cannot replace {}", installed.display()))?;
    }
    std::fs::rename(&staging, &installed)
        .with_context(|| format!("cannot install {}", installed.display()))?;
    let current = if current.installed {
        current
    } else {
        say(format!(
            "keeping the running {} as a release to return to",
            current.version
        ));
        layout::adopt(dir, &current)?
    };

    let control = crate::control::running(dir);
    let id = format!("{}-to-{}-{}", current.version, manifest.version, now_secs());
    let mut journal = Journal {
        snapshot: layout::upgrades_dir(dir).join(&id),
        id,
        from: current.version.clone(),
        to: manifest.version.clone(),
        phase: Phase::Stopping,
        started_at: now_secs(),
        services_running: control.is_some(),
        backend: None,
        previous_before: layout::link_version(&layout::previous_link(dir)),
        finished_at: None,
        error: None,
    };
    write_journal(dir, &journal)?;
    let new_nexusd = installed.join("bin").join("nexusd");
    let timeout = Duration::from_secs(args.health_timeout);
    match apply(
        dir,
        &mut journal,
        control.as_deref(),
        &current,
        &new_nexusd,
        timeout,
    ) {
        Ok(down) => {
            journal.phase = Phase::Committed;
            journal.finished_at = Some(now_secs());
            write_journal(dir, &journal)?;
            prune(dir, &journal);
            let down = down.map_or_else(
                || " (NEXUS was not running: `nexusctl up` starts the new release)".to_owned(),
                |d| format!("; services were down {:.1} s", d.as_secs_f64()),
            );
            say(format!(
                "upgraded from {} to {} in {:.1} s{down}; `nexusctl rollback` returns to {}",
                journal.from,
                journal.to,
                started.elapsed().as_secs_f64(),
                journal.from
            ));
            Ok(ExitCode::SUCCESS)
        }
        Err(cause) => {
            let cause = reason(&cause);
            eprintln!(
                "nexusctl: the upgrade to {} failed; rolling back to {}",
                journal.to, journal.from
            );
            journal.error = Some(cause.clone());
            let back = Instant::now();
            let restore_data = journal.phase >= Phase::Switched;
            match restore(dir, &mut journal, control.as_deref(), restore_data, timeout) {
                Ok(down) => {
                    // The failed release is not kept installed; its bundle is where it was.
                    let _ = std::fs::remove_dir_all(layout::release_dir(dir, &journal.to));
                    fail(
                        1,
                        format!(
                            "the upgrade to {} failed: {cause}\nNEXUS is back on {} with its data as it was before the upgrade (rolled back in {:.1} s{}); the failed release's database is kept in {}",
                            journal.to,
                            journal.from,
                            back.elapsed().as_secs_f64(),
                            down.map(|d| format!(", services down {:.1} s", d.as_secs_f64()))
                                .unwrap_or_default(),
                            journal.snapshot.display()
                        ),
                    )
                }
                Err(e) => fail(
                    1,
                    format!(
                        "the upgrade to {} failed: {cause}\nrolling back to {} failed too: {}\nthe pre-upgrade snapshot is in {}: run `nexusctl rollback` to try again",
                        journal.to,
                        journal.from,
                        reason(&e),
                        journal.snapshot.display()
                    ),
                ),
            }
        }
    }
}

/// An error's message with its causes, without the exit status our own failures carry.
fn reason(e: &anyhow::Error) -> String {
    e.chain()
        .filter(|c| !c.is::<crate::cli::Exit>())
        .map(|c| c.to_string())
        .collect::<Vec<_>>()
        .join(": ")
}

/// The upgrade's steps after the new release is installed; returns how long the services
/// were down (`None` when none ran).
fn apply(
    dir: &StateDir,
    journal: &mut Journal,
    control: Option<&dyn ServiceControl>,
    old: &layout::Release,
    new_nexusd: &Path,
    timeout: Duration,
) -> Result<Option<Duration>> {
    let services = crate::daemons::names();
    let down = Instant::now();
    if let Some(c) = control {
        for s in &services {
            say(format!("stopping {s}"));
            c.stop(s)?;
        }
    }
    let backend = snapshot(dir, &old.nexusd, &journal.snapshot)?;
    say(format!(
        "took the pre-upgrade snapshot of the {backend} database and config in {:.1} s",
        down.elapsed().as_secs_f64()
    ));
    journal.backend = Some(backend);
    journal.phase = Phase::Snapshotted;
    write_journal(dir, journal)?;

    layout::set_link(&layout::previous_link(dir), Some(&journal.from))?;
    layout::set_link(&layout::current_dir(dir), Some(&journal.to))?;
    journal.phase = Phase::Switched;
    write_journal(dir, journal)?;

    say(format!("migrating the database with {}", journal.to));
    let root = dir.root.as_os_str();
    crate::daemons::run_nexusd(
        new_nexusd,
        &["migrate".as_ref(), "--state-dir".as_ref(), root],
        "its database migrations failed",
    )?;
    journal.phase = Phase::Migrated;
    write_journal(dir, journal)?;

    let Some(c) = control else {
        return Ok(None);
    };
    for s in &services {
        say(format!("starting {s} on {}", journal.to));
        c.start(s)?;
    }
    let downtime = down.elapsed();
    say(format!(
        "waiting for every service to be healthy (up to {} s)",
        timeout.as_secs()
    ));
    health_gate(dir, timeout)?;
    journal.phase = Phase::Started;
    write_journal(dir, journal)?;
    Ok(Some(downtime))
}

/// Writes `database.dump` and `config.toml` into `to`; returns the database backend.
fn snapshot(dir: &StateDir, nexusd: &Path, to: &Path) -> Result<String> {
    if to.exists() {
        std::fs::remove_dir_all(to).with_context(|| format!("cannot clear {}", to.display()))?;
    }
    crate::state::private_dir(to)?;
    let out = to.join("database.dump");
    let printed = crate::daemons::run_nexusd(
        nexusd,
        &[
            "dump".as_ref(),
            "--state-dir".as_ref(),
            dir.root.as_os_str(),
            "--out".as_ref(),
            out.as_os_str(),
            "--json".as_ref(),
        ],
        "cannot take the pre-upgrade snapshot",
    )?;
    #[derive(Deserialize)]
    struct Dumped {
        backend: String,
    }
    let dumped: Dumped = serde_json::from_slice(&printed)
        .context("nexusd dump printed no backend; nothing was changed")?;
    std::fs::copy(dir.config(), to.join("config.toml"))
        .with_context(|| format!("cannot copy {}", dir.config().display()))?;
    Ok(dumped.backend)
}

/// Returns the instance to `journal.from`: binaries, and with `restore_data` the database
/// and config from the snapshot (what is there now is kept aside in the snapshot directory).
/// Returns how long the services were down, when they are started again.
fn restore(
    dir: &StateDir,
    journal: &mut Journal,
    control: Option<&dyn ServiceControl>,
    restore_data: bool,
    timeout: Duration,
) -> Result<Option<Duration>> {
    let back_to = layout::release_dir(dir, &journal.from);
    let old_nexusd = back_to.join("bin").join("nexusd");
    if !old_nexusd.is_file() {
        return fail(
            1,
            format!(
                "release {} is not installed anymore ({} is missing)",
                journal.from,
                old_nexusd.display()
            ),
        );
    }
    let services = crate::daemons::names();
    let down = Instant::now();
    if let Some(c) = control {
        for s in &services {
            c.stop(s)?;
        }
    }
    layout::set_link(&layout::current_dir(dir), Some(&journal.from))?;
    // A failed upgrade leaves `previous` as it was; after a rollback there is none (unless
    // the one before is still installed).
    let previous = journal
        .previous_before
        .as_deref()
        .filter(|v| *v != journal.from && layout::release_dir(dir, v).is_dir());
    layout::set_link(&layout::previous_link(dir), previous)?;
    if restore_data {
        let Some(backend) = journal.backend.clone() else {
            return fail(
                1,
                "the upgrade recorded no snapshot to restore; restore a backup with `nexusctl restore`",
            );
        };
        let aside = journal.snapshot.join(format!("replaced-{}", now_secs()));
        let dump = journal.snapshot.join("database.dump");
        crate::daemons::run_nexusd(
            &old_nexusd,
            &[
                "load".as_ref(),
                "--state-dir".as_ref(),
                dir.root.as_os_str(),
                "--from".as_ref(),
                dump.as_os_str(),
                "--backend".as_ref(),
                backend.as_ref(),
                "--replace-keeping".as_ref(),
                aside.as_os_str(),
            ],
            "cannot put the pre-upgrade database back",
        )?;
        let config = std::fs::read(journal.snapshot.join("config.toml"))
            .context("cannot read the pre-upgrade config.toml")?;
        crate::state::write_atomic(&dir.config(), &config)?;
        say(format!(
            "restored the {backend} database and config as they were before the upgrade"
        ));
    }
    let mut downtime = None;
    if journal.services_running
        && let Some(c) = control
    {
        for s in &services {
            say(format!("starting {s} on {}", journal.from));
            c.start(s)?;
        }
        downtime = Some(down.elapsed());
        health_gate(dir, timeout)?;
    }
    journal.phase = Phase::RolledBack;
    journal.finished_at = Some(now_secs());
    write_journal(dir, journal)?;
    Ok(downtime)
}

/// Waits until every daemon's `/readyz` (readiness plus each app's health check) answers 200
/// twice in a row, or fails with the last answer after `timeout`.
fn health_gate(dir: &StateDir, timeout: Duration) -> Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(async {
        let deadline = Instant::now() + timeout;
        let mut healthy_rounds = 0;
        loop {
            let mut last_problem = None;
            for name in crate::daemons::names() {
                let answer = crate::admin_client::get(
                    &dir.admin_socket(name),
                    "/readyz",
                    Duration::from_secs(2),
                )
                .await;
                match answer {
                    Ok((200, _)) => {}
                    Ok((code, body)) => {
                        last_problem = Some(format!(
                            "{name} answers {code}: {}",
                            String::from_utf8_lossy(&body).trim()
                        ));
                    }
                    Err(e) => last_problem = Some(format!("{name}: {e:#}")),
                }
            }
            match last_problem {
                None => {
                    healthy_rounds += 1;
                    if healthy_rounds >= 2 {
                        return Ok(());
                    }
                }
                Some(problem) => {
                    healthy_rounds = 0;
                    if Instant::now() >= deadline {
                        return fail(
                            1,
                            format!(
                                "not healthy after {} s ({problem}); see `nexusctl logs`",
                                timeout.as_secs()
                            ),
                        );
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    })
}

/// After a committed upgrade: keeps the current and previous releases and this upgrade's
/// snapshot, removes older ones.
fn prune(dir: &StateDir, journal: &Journal) {
    for v in layout::installed(dir) {
        if v != journal.from && v != journal.to {
            let _ = std::fs::remove_dir_all(layout::release_dir(dir, &v));
        }
    }
    if let Ok(entries) = std::fs::read_dir(layout::upgrades_dir(dir)) {
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) && e.file_name() != journal.id.as_str() {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
}

pub fn rollback(dir: &StateDir, args: &RollbackArgs) -> Result<ExitCode> {
    checks(dir)?;
    let _lock = lock(dir)?;
    let control = crate::control::running(dir);
    let timeout = Duration::from_secs(args.health_timeout);
    let started = Instant::now();
    let last = read_journal(dir);
    if let Some(mut j) = last.clone().filter(|j| !j.phase.finished()) {
        say(format!(
            "finishing the interrupted upgrade from {} to {}: returning to {}",
            j.from, j.to, j.from
        ));
        j.services_running = control.is_some();
        let restore_data = j.phase >= Phase::Switched;
        restore(dir, &mut j, control.as_deref(), restore_data, timeout)?;
        say(format!(
            "back on {} in {:.1} s",
            j.from,
            started.elapsed().as_secs_f64()
        ));
        return Ok(ExitCode::SUCCESS);
    }
    let Some(previous) = layout::link_version(&layout::previous_link(dir)) else {
        return fail(
            2,
            "there is no previous release to return to (see `nexusctl release list`)",
        );
    };
    let current = layout::current(dir)?;
    let Some(prev) = bundle::installed_manifest(&layout::release_dir(dir, &previous)) else {
        return fail(
            1,
            format!("release {previous} is not installed anymore; nothing was changed"),
        );
    };
    let snapshot = last
        .filter(|j| j.phase == Phase::Committed && j.from == previous && j.to == current.version);
    let schema_changed = prev.schema != current.schema;
    if schema_changed && !args.restore_snapshot {
        let when = snapshot
            .as_ref()
            .and_then(|j| chrono::DateTime::from_timestamp(i64::try_from(j.started_at).ok()?, 0))
            .map(|t| format!(" (taken {})", t.format("%Y-%m-%d %H:%M UTC")))
            .unwrap_or_default();
        return fail(
            2,
            format!(
                "{} changed the database schema, which {previous} cannot read; nothing was changed.\n`nexusctl rollback --restore-snapshot` returns to {previous} with the data as it was before the upgrade{when}: what changed since is kept aside, not carried over (take a backup first if it matters)",
                current.version
            ),
        );
    }
    let mut j = match (schema_changed, snapshot) {
        (true, None) => {
            return fail(
                2,
                format!(
                    "no snapshot from before the upgrade to {} is kept; restore a backup with `nexusctl restore` instead",
                    current.version
                ),
            );
        }
        (_, Some(j)) => j,
        (false, None) => Journal {
            id: format!("{}-back-to-{previous}-{}", current.version, now_secs()),
            snapshot: PathBuf::new(),
            from: previous.clone(),
            to: current.version.clone(),
            phase: Phase::Committed,
            started_at: now_secs(),
            services_running: false,
            backend: None,
            previous_before: None,
            finished_at: None,
            error: None,
        },
    };
    j.services_running = control.is_some();
    let down = restore(dir, &mut j, control.as_deref(), schema_changed, timeout)?;
    say(format!(
        "rolled back from {} to {previous} in {:.1} s{}",
        current.version,
        started.elapsed().as_secs_f64(),
        down.map(|d| format!("; services were down {:.1} s", d.as_secs_f64()))
            .unwrap_or_default()
    ));
    Ok(ExitCode::SUCCESS)
}
