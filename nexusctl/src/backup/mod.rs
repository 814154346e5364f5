//! Backups: `nexusctl backup init|create|list|verify|prune` and `nexusctl restore`.
//!
//! A repository is content-addressed (FastCDC chunks named by a keyed BLAKE3 hash, stored
//! once however many files and backups hold them), compressed (zstd) and encrypted (age), and
//! written through object_store: a local directory or any S3-compatible bucket. See
//! `repo.rs` for the layout and `crypto.rs` for the keys.

mod create;
pub(crate) use create::hostname;
mod crypto;
mod files_cache;
mod lock;
mod maintain;
mod progress;
mod repo;
mod restore;
pub mod schedule;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};

use crate::state::StateDir;
pub use progress::size as size_text;
use progress::{Mode, Progress};
use repo::{Access, Credentials, Repo};

#[derive(Debug, Args, Clone)]
pub struct RepoArgs {
    /// The repository: a directory, file:///path, or s3://bucket/prefix?endpoint=…&region=…
    /// (credentials from the AWS_* environment variables).
    #[arg(long, env = "NEXUS_BACKUP_REPO", value_name = "URL")]
    pub repo: String,
    /// A file whose first line is the repository's passphrase.
    #[arg(long, env = "NEXUS_BACKUP_PASSPHRASE_FILE", value_name = "FILE")]
    pub passphrase_file: Option<PathBuf>,
    /// An age identity file or SSH private key of one of the repository's recipients (needed
    /// to read a recipient repository: restore, verify, prune).
    #[arg(long, env = "NEXUS_BACKUP_IDENTITY", value_name = "FILE")]
    pub identity: Option<PathBuf>,
    /// Print JSON for scripts (and no progress).
    #[arg(long)]
    pub json: bool,
    /// Print nothing but errors.
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Debug, Subcommand)]
pub enum BackupCommand {
    /// Create a repository, encrypted with a passphrase (--passphrase-file) or to age/SSH
    /// public keys (--recipient, --recipients-file) so that this machine can write backups
    /// it cannot read back.
    ///
    /// Example: `nexusctl backup init --repo /mnt/backup/nexus --passphrase-file ~/.nexus-pass`.
    Init {
        #[command(flatten)]
        repo: RepoArgs,
        /// An age (age1…) or SSH (ssh-ed25519 …) public key to encrypt to (repeatable).
        #[arg(long, value_name = "KEY")]
        recipient: Vec<String>,
        /// A file of recipients, one per line.
        #[arg(long, value_name = "FILE")]
        recipients_file: Option<PathBuf>,
    },
    /// Back up the instance while it runs: a consistent copy of the database, the blobs, the
    /// config and (with --include-secrets) the secrets. Only what the repository does not
    /// hold yet is stored; an interrupted backup is resumed by the next one.
    ///
    /// Example: `nexusctl backup create --repo /mnt/backup/nexus --passphrase-file ~/.nexus-pass`.
    Create {
        #[command(flatten)]
        repo: RepoArgs,
        /// Also back up secrets/ (session and signing keys, database password file). Without
        /// them a restored instance makes new ones: everybody signs in again.
        #[arg(long)]
        include_secrets: bool,
        /// The nexusd binary [default: next to nexusctl, then $PATH].
        #[arg(long, env = "NEXUSD", value_name = "PATH")]
        nexusd: Option<PathBuf>,
    },
    /// List the snapshots in a repository.
    List {
        #[command(flatten)]
        repo: RepoArgs,
    },
    /// Read every chunk of the repository and authenticate it, restoring nothing; exit 3 if
    /// anything is missing or damaged, naming the snapshots it affects.
    Verify {
        #[command(flatten)]
        repo: RepoArgs,
    },
    /// Forget the snapshots a retention policy does not keep, and delete the data only they
    /// used.
    ///
    /// Example: `nexusctl backup prune --repo … --keep-daily 7 --keep-weekly 4 --keep-monthly 12`.
    Prune {
        #[command(flatten)]
        repo: RepoArgs,
        /// Keep the newest N snapshots.
        #[arg(long, default_value_t = 0, value_name = "N")]
        keep_last: u32,
        /// Keep the newest snapshot of each of the last N days that have one.
        #[arg(long, default_value_t = 0, value_name = "N")]
        keep_daily: u32,
        /// Keep the newest snapshot of each of the last N weeks that have one.
        #[arg(long, default_value_t = 0, value_name = "N")]
        keep_weekly: u32,
        /// Keep the newest snapshot of each of the last N months that have one.
        #[arg(long, default_value_t = 0, value_name = "N")]
        keep_monthly: u32,
        /// Only say what would be removed.
        #[arg(long)]
        dry_run: bool,
    },
    /// Back up on a schedule: `nexusctl up` runs `backup run` when it is due, and on a
    /// systemd host a timer (nexus-backup.timer) does. A failed or overdue backup is an
    /// alert (`nexusctl alerts`). Without options, shows the schedule.
    ///
    /// Example: `nexusctl backup schedule --repo /mnt/backup/nexus --passphrase-file
    /// /root/nexus-backup.pass --at 02:30 --keep-daily 7 --keep-weekly 4 --keep-monthly 12`.
    Schedule(ScheduleArgs),
    /// Run the scheduled backup now: create a snapshot, then prune by the schedule's
    /// policy. This is what the schedule runs.
    Run {
        /// Print nothing but errors.
        #[arg(short, long)]
        quiet: bool,
        /// The nexusd binary [default: next to nexusctl, then $PATH].
        #[arg(long, env = "NEXUSD", value_name = "PATH")]
        nexusd: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
pub struct ScheduleArgs {
    /// The repository (made with `backup init`).
    #[arg(long, env = "NEXUS_BACKUP_REPO", value_name = "URL")]
    pub repo: Option<String>,
    /// The repository's passphrase file (not needed for a repository encrypted to
    /// recipients).
    #[arg(long, env = "NEXUS_BACKUP_PASSPHRASE_FILE", value_name = "FILE")]
    pub passphrase_file: Option<PathBuf>,
    /// Back up every this long: 30m, 6h, 1d.
    #[arg(long, value_name = "INTERVAL", value_parser = schedule::parse_every, conflicts_with = "at")]
    pub every: Option<u64>,
    /// Back up daily at this local time, HH:MM [default: 02:30 when --every is not given].
    #[arg(long, value_name = "HH:MM", value_parser = parse_at_text)]
    pub at: Option<String>,
    /// Also back up secrets/.
    #[arg(long)]
    pub include_secrets: bool,
    /// After each backup, keep the newest N snapshots…
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub keep_last: u32,
    /// …the newest of each of the last N days…
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub keep_daily: u32,
    /// …of the last N weeks…
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub keep_weekly: u32,
    /// …and of the last N months, and prune the rest (none: never prune).
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub keep_monthly: u32,
    /// Stop backing up on a schedule.
    #[arg(long, conflicts_with_all = ["repo", "every", "at"])]
    pub off: bool,
    /// Print JSON for scripts.
    #[arg(long)]
    pub json: bool,
}

fn parse_at_text(text: &str) -> Result<String, String> {
    schedule::parse_at(text).map(|t| t.format("%H:%M").to_string())
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    #[command(flatten)]
    pub repo: RepoArgs,
    /// The snapshot (an id or a unique prefix) [default: the newest].
    #[arg(long, value_name = "ID")]
    pub snapshot: Option<String>,
    /// For a PostgreSQL snapshot: the new, empty database to load it into.
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,
    /// Where to put the blobs [default: where they were if that was inside the state
    /// directory, else <state dir>/blobs].
    #[arg(long, value_name = "URL")]
    pub blobs_url: Option<String>,
    /// The nexusd binary [default: next to nexusctl, then $PATH].
    #[arg(long, env = "NEXUSD", value_name = "PATH")]
    pub nexusd: Option<PathBuf>,
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

fn credentials(args: &RepoArgs, state: Option<&StateDir>) -> Result<Credentials> {
    let passphrase = args
        .passphrase_file
        .as_deref()
        .map(crypto::read_passphrase_file)
        .transpose()?;
    let identities = match &args.identity {
        Some(p) => crypto::read_identity_file(p)?,
        None => Vec::new(),
    };
    Ok(Credentials {
        passphrase,
        identities,
        local_keys: state.map(local_keys_dir),
    })
}

fn local_keys_dir(state: &StateDir) -> PathBuf {
    state.root.join("secrets").join("backup")
}

fn print_json<T: serde::Serialize>(value: &T) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

pub fn run(state: &StateDir, cmd: BackupCommand) -> Result<ExitCode> {
    let rt = runtime()?;
    match cmd {
        BackupCommand::Init {
            repo,
            mut recipient,
            recipients_file,
        } => {
            if let Some(f) = &recipients_file {
                recipient.extend(crypto::read_recipients_file(f)?);
            }
            let creds = credentials(&repo, state.is_provisioned().then_some(state))?;
            let r = rt.block_on(Repo::init(&repo.repo, &creds, recipient))?;
            if repo.json {
                print_json(&serde_json::json!({
                    "repo": r.url, "id": r.config.id, "mode": r.config.mode,
                    "recipients": r.config.recipients,
                }))?;
            } else if !repo.quiet {
                println!(
                    "created the backup repository {} ({})",
                    r.url,
                    match r.config.mode {
                        repo::KeyMode::Passphrase =>
                            "encrypted with the passphrase: keep it safe, without it nothing can be restored",
                        repo::KeyMode::Recipients =>
                            "encrypted to the recipients: restoring needs one of their identities",
                    }
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        BackupCommand::Create {
            repo,
            include_secrets,
            nexusd,
        } => {
            let nexusd = crate::daemons::Nexusd::for_instance(state, nexusd.as_deref())?.path()?;
            let progress = Progress::new(Mode::choose(repo.json, repo.quiet));
            let (_, snap) = create_recorded(
                state,
                &rt,
                &repo,
                Access::Write,
                &nexusd,
                include_secrets,
                &progress,
            )?;
            if repo.json {
                print_json(&snap)?;
            }
            Ok(ExitCode::SUCCESS)
        }
        BackupCommand::Schedule(args) => set_schedule(state, &rt, args),
        BackupCommand::Run { quiet, nexusd } => {
            let Some(sched) = schedule::load(state)? else {
                return crate::cli::fail(
                    2,
                    "no backup is scheduled: set one with `nexusctl backup schedule --repo …`",
                );
            };
            let nexusd = crate::daemons::Nexusd::for_instance(state, nexusd.as_deref())?.path()?;
            let repo = RepoArgs {
                repo: sched.repo.clone(),
                passphrase_file: sched.passphrase_file.clone(),
                identity: None,
                json: false,
                quiet,
            };
            let progress = Progress::new(Mode::choose(false, quiet));
            let policy = sched.policy();
            // Opened once (unlocking the key costs a second): for reading too when it prunes.
            let access = if policy.is_empty() {
                Access::Write
            } else {
                Access::Read
            };
            let (r, _) = create_recorded(
                state,
                &rt,
                &repo,
                access,
                &nexusd,
                sched.include_secrets,
                &progress,
            )?;
            if !policy.is_empty() {
                let report = maintain::prune(&r, rt.handle(), policy, false, &progress)?;
                if !quiet {
                    println!(
                        "pruned: kept {} snapshots, removed {}, {} freed",
                        report.kept.len(),
                        report.removed.len(),
                        progress::size(report.bytes_freed)
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        BackupCommand::List { repo } => {
            let creds = credentials(&repo, state.is_provisioned().then_some(state))?;
            let r = rt.block_on(Repo::open(&repo.repo, creds, Access::Write))?;
            let snaps = rt.block_on(r.snapshots())?;
            if repo.json {
                print_json(&snaps)?;
            } else {
                println!(
                    "{:<16}  {:<24}  {:<16}  {:>6}  {:>10}  {:>10}  DATABASE",
                    "ID", "TIME", "HOST", "FILES", "SIZE", "ADDED"
                );
                for s in &snaps {
                    println!(
                        "{:<16}  {:<24}  {:<16}  {:>6}  {:>10}  {:>10}  {}{}",
                        s.id,
                        s.time,
                        s.host,
                        s.files,
                        progress::size(s.bytes),
                        progress::size(s.added_bytes),
                        s.database,
                        if s.secrets { " +secrets" } else { "" }
                    );
                }
                if snaps.is_empty() {
                    println!("(no snapshots yet)");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        BackupCommand::Verify { repo } => {
            let progress = Progress::new(Mode::choose(repo.json, repo.quiet));
            let creds = credentials(&repo, state.is_provisioned().then_some(state))?;
            let r = rt.block_on(Repo::open(&repo.repo, creds, Access::Read))?;
            let report = rt.block_on(maintain::verify(&r, &progress))?;
            if repo.json {
                print_json(&report)?;
            } else if !repo.quiet || !report.problems.is_empty() {
                for p in &report.problems {
                    eprintln!("damaged: {p}");
                }
                let verdict = if report.problems.is_empty() {
                    "intact"
                } else {
                    "DAMAGED"
                };
                println!(
                    "repository {}: {verdict}: {} snapshots, {} packs, {} chunks, {} checked{}",
                    r.url,
                    report.snapshots,
                    report.packs,
                    report.chunks,
                    progress::size(report.bytes),
                    if report.damaged_snapshots.is_empty() {
                        String::new()
                    } else {
                        format!(
                            "; snapshots affected: {}",
                            report.damaged_snapshots.join(", ")
                        )
                    }
                );
            }
            Ok(if report.problems.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(3)
            })
        }
        BackupCommand::Prune {
            repo,
            keep_last,
            keep_daily,
            keep_weekly,
            keep_monthly,
            dry_run,
        } => {
            let progress = Progress::new(Mode::choose(repo.json, repo.quiet));
            let creds = credentials(&repo, state.is_provisioned().then_some(state))?;
            let r = rt.block_on(Repo::open(&repo.repo, creds, Access::Read))?;
            let policy = maintain::Policy {
                last: keep_last,
                daily: keep_daily,
                weekly: keep_weekly,
                monthly: keep_monthly,
            };
            let report = maintain::prune(&r, rt.handle(), policy, dry_run, &progress)?;
            if repo.json {
                print_json(&report)?;
            } else if !repo.quiet {
                println!(
                    "{}kept {} snapshots, removed {}{}; {} packs deleted, {} rewritten, {} freed",
                    if dry_run { "dry run: would have " } else { "" },
                    report.kept.len(),
                    report.removed.len(),
                    if report.removed.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", report.removed.join(", "))
                    },
                    report.packs_deleted,
                    report.packs_repacked,
                    progress::size(report.bytes_freed)
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `backup create`, with its outcome recorded for the alerts (and the dashboard); returns
/// the repository, opened with `access`, with the snapshot.
fn create_recorded(
    state: &StateDir,
    rt: &tokio::runtime::Runtime,
    repo: &RepoArgs,
    access: Access,
    nexusd: &std::path::Path,
    include_secrets: bool,
    progress: &Progress,
) -> Result<(Repo, repo::Snapshot)> {
    let started = chrono::Utc::now().timestamp();
    let result = (|| {
        let creds = credentials(repo, Some(state))?;
        let r = rt.block_on(Repo::open(&repo.repo, creds, access))?;
        let snap = create::create(&r, rt.handle(), state, nexusd, include_secrets, progress)?;
        Ok((r, snap))
    })();
    // Only an instance that exists has a status to keep.
    if state.is_provisioned() {
        let attempt = schedule::Attempt {
            started,
            finished: chrono::Utc::now().timestamp(),
            ok: result.is_ok(),
            repo: repo.repo.clone(),
            snapshot: result.as_ref().ok().map(|(_, s)| s.id.clone()),
            error: result.as_ref().err().map(|e| format!("{e:#}")),
            bytes: result.as_ref().map_or(0, |(_, s)| s.bytes),
            added_bytes: result.as_ref().map_or(0, |(_, s)| s.added_bytes),
        };
        if let Err(e) = schedule::record(state, attempt) {
            eprintln!("nexusctl: {e:#}; the alerts will not know of this backup");
        }
    }
    result
}

fn set_schedule(
    state: &StateDir,
    rt: &tokio::runtime::Runtime,
    args: ScheduleArgs,
) -> Result<ExitCode> {
    if !state.is_provisioned() {
        return crate::cli::fail(
            2,
            format!(
                "{} has no config.toml: there is no instance to back up",
                state.root.display()
            ),
        );
    }
    if args.off {
        let removed = schedule::remove(state)?;
        let systemd = schedule::apply_systemd(None, &state.root)?;
        if !args.json {
            println!(
                "{}{}",
                if removed {
                    "backups are no longer scheduled"
                } else {
                    "no backup was scheduled"
                },
                if systemd {
                    " (nexus-backup.timer removed)"
                } else {
                    ""
                }
            );
        } else {
            print_json(&serde_json::json!({ "scheduled": false }))?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let Some(repo_url) = args.repo.clone() else {
        // No repository given: show the schedule.
        let sched = schedule::load(state)?;
        let status = schedule::status(state);
        if args.json {
            print_json(&serde_json::json!({
                "schedule": sched,
                "next_run": sched.as_ref().map(|s| s.next_run(status.last_attempt.as_ref().map(|a| a.started)).to_rfc3339()),
                "status": status,
            }))?;
        } else if let Some(s) = sched {
            println!(
                "backing up {} to {}; next run {}",
                s.describe(),
                s.repo,
                s.next_run(status.last_attempt.as_ref().map(|a| a.started))
                    .with_timezone(&chrono::Local)
                    .format("%Y-%m-%d %H:%M")
            );
        } else {
            println!(
                "no backup is scheduled: set one with `nexusctl backup schedule --repo URL --at 02:30 …`"
            );
        }
        return Ok(ExitCode::SUCCESS);
    };
    let passphrase_file = match &args.passphrase_file {
        Some(p) => Some(
            std::path::absolute(p).with_context(|| format!("cannot resolve {}", p.display()))?,
        ),
        None => None,
    };
    let repo_args = RepoArgs {
        repo: repo_url.clone(),
        passphrase_file: passphrase_file.clone(),
        identity: None,
        json: false,
        quiet: true,
    };
    // Opened now, so a wrong passphrase or a missing repository is found today, not at 02:30.
    let creds = credentials(&repo_args, Some(state))?;
    let r = rt.block_on(Repo::open(&repo_url, creds, Access::Write))?;
    let sched = schedule::Schedule {
        repo: repo_url,
        passphrase_file,
        include_secrets: args.include_secrets,
        every_secs: args.every,
        at: match (args.every, args.at) {
            (Some(_), _) => None,
            (None, Some(at)) => Some(at),
            (None, None) => Some("02:30".to_owned()),
        },
        keep_last: args.keep_last,
        keep_daily: args.keep_daily,
        keep_weekly: args.keep_weekly,
        keep_monthly: args.keep_monthly,
        created: chrono::Utc::now().timestamp(),
    };
    if !sched.policy().is_empty() && r.config.mode == repo::KeyMode::Recipients {
        return crate::cli::fail(
            2,
            "this repository is encrypted to recipients, and pruning it needs an identity this \
             machine does not hold: schedule without --keep-*, and prune from a machine with a \
             recipient's identity (`nexusctl backup prune --identity …`)",
        );
    }
    schedule::save(state, &sched)?;
    let systemd = schedule::apply_systemd(Some(&sched), &state.root)?;
    let next = sched.next_run(None);
    if args.json {
        print_json(&serde_json::json!({
            "schedule": sched, "next_run": next.to_rfc3339(), "systemd_timer": systemd,
        }))?;
    } else {
        println!(
            "backing up {} to {}; first run {}; run by {}",
            sched.describe(),
            sched.repo,
            next.with_timezone(&chrono::Local).format("%Y-%m-%d %H:%M"),
            if systemd {
                "nexus-backup.timer"
            } else {
                "`nexusctl up` while it runs"
            }
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub fn restore(state: &StateDir, args: RestoreArgs) -> Result<ExitCode> {
    let rt = runtime()?;
    let nexusd = crate::daemons::find_nexusd(args.nexusd.as_deref())?;
    let progress = Progress::new(Mode::choose(args.repo.json, args.repo.quiet));
    let creds = credentials(&args.repo, None)?;
    let r = rt.block_on(Repo::open(&args.repo.repo, creds, Access::Read))?;
    let restored = rt.block_on(restore::restore(
        &r,
        &restore::Options {
            target: &state.root,
            snapshot: args.snapshot.as_deref(),
            database_url: args.database_url.as_deref(),
            blobs_url: args.blobs_url.as_deref(),
            nexusd: &nexusd,
        },
        &progress,
    ))?;
    if args.repo.json {
        print_json(&restored)?;
    }
    Ok(ExitCode::SUCCESS)
}
