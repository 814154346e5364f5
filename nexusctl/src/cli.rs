//! Command-line interface.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, Parser, Subcommand};

use crate::{
    alerts, backup, control, daemons, dash, logs, provision, state::StateDir, status, supervisor,
    top,
};

/// Operate NEXUS: provision an instance, run it, and see how it is doing.
///
/// Without flags everything uses the default state directory
/// (~/.local/share/nexus, or $NEXUS_STATE_DIR) and port 8080.
#[derive(Debug, Parser)]
#[command(name = "nexusctl", version, propagate_version = true)]
pub struct Cli {
    /// The instance's state directory (config, databases, blobs, secrets, sockets).
    #[arg(long, global = true, env = "NEXUS_STATE_DIR", value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Provision a new instance: config, secrets, databases and an administrator, and print
    /// the one-use link where the administrator sets a password. Nothing is left behind if
    /// any step fails.
    Init(InitArgs),
    /// Run the whole platform in the foreground (provisioning it first if needed) until
    /// Ctrl-C or SIGTERM. Prints the URL to open.
    Up(UpArgs),
    /// Show each daemon and app: state, health, version, uptime, memory.
    Status {
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Stop an instance started with `nexusctl up` (sends it SIGTERM and waits).
    Stop,
    /// Evaluate the alerts now and list them, most severe first: services down, unhealthy
    /// or restarting, a full disk, certificates about to expire, failed or overdue backups,
    /// error spikes (settings: <state dir>/alerts.toml). `nexusctl up` evaluates them every
    /// 15 s and prints each new one; with email_to set, new and resolved alerts are e-mailed.
    ///
    /// Example: `nexusctl alerts` or `nexusctl alerts --json`.
    Alerts {
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
        /// Send a test message to the alert e-mail recipients (email_to in alerts.toml)
        /// instead, to check the mail set-up.
        #[arg(long)]
        test_mail: bool,
    },
    /// Restart one service gracefully (under `nexusctl up` its supervisor does it; on a
    /// systemd host, systemd) and wait until it is ready again.
    ///
    /// Example: `nexusctl restart web`.
    Restart {
        /// The service (daemon): web.
        service: String,
    },
    /// Every few seconds, a line per running daemon: requests and errors per second,
    /// latency p50/p99, requests in flight, CPU, memory and database pool use since the
    /// last line. Ctrl-C ends it.
    ///
    /// Example: `nexusctl top --interval 5` or `nexusctl top --count 1`.
    Top {
        /// Seconds between lines.
        #[arg(short, long, default_value_t = 2.0, value_name = "SECS")]
        interval: f64,
        /// Stop after this many lines per daemon.
        #[arg(short = 'n', long, value_name = "N")]
        count: Option<u64>,
    },
    /// The live dashboard: services with state, uptime, CPU and memory; request rate and
    /// latency over time; alerts; the last and next backup; disk; the selected service's
    /// warnings and errors. Restart a service from it (r, with confirmation); ? for help.
    Dash,
    /// Print a service's log (every service's, prefixed, without SERVICE): the lines its
    /// daemon wrote under `nexusctl up` (kept in <state dir>/logs, 8 MiB and one older file
    /// per service), or on a systemd host the journal's.
    ///
    /// Example: `nexusctl logs web -n 50 --follow`.
    Logs {
        /// The service: web, or backup (the scheduled backups `nexusctl up` ran).
        service: Option<String>,
        /// How many of the last lines to print.
        #[arg(short = 'n', long, default_value_t = 100, value_name = "N")]
        lines: usize,
        /// Keep printing lines as they are written, until Ctrl-C.
        #[arg(short, long)]
        follow: bool,
    },
    /// Manage users: add, list, disable, enable, reset-password, reset-mfa (`nexusctl users --help`).
    ///
    /// Example: `nexusctl users add --email ann@example.org --role admin`.
    #[command(disable_help_flag = true)]
    Users(Forwarded),
    /// Manage organizations: create, list (`nexusctl orgs --help`).
    ///
    /// Example: `nexusctl orgs create --name "Acme"`.
    #[command(disable_help_flag = true)]
    Orgs(Forwarded),
    /// Check the audit log's hash chain (`verify`; exit 3 when tampered with) or export it as
    /// JSON Lines (`export [--org SLUG]`) (`nexusctl audit --help`).
    ///
    /// Example: `nexusctl audit verify` or `nexusctl audit export --org acme`.
    #[command(disable_help_flag = true)]
    Audit(Forwarded),
    /// Manage the keys that sign API tokens: list, rotate, retire (`nexusctl keys --help`).
    ///
    /// Example: `nexusctl keys rotate`.
    #[command(disable_help_flag = true)]
    Keys(Forwarded),
    /// Back up the running instance into an encrypted, deduplicated repository (a directory
    /// or S3), on a schedule or now, and list, verify and prune its snapshots
    /// (`nexusctl backup --help`).
    ///
    /// Example: `nexusctl backup create --repo /mnt/backup/nexus --passphrase-file ~/.nexus-pass`.
    Backup {
        #[command(subcommand)]
        command: backup::BackupCommand,
    },
    /// Rebuild a complete instance from a backup snapshot into a new --state-dir; every file is
    /// checked against its checksum, and nothing is left behind if anything fails.
    ///
    /// Example: `nexusctl restore --repo /mnt/backup/nexus --passphrase-file ~/.nexus-pass --state-dir /srv/nexus-new`.
    Restore(backup::RestoreArgs),
    /// Upgrade to a signed release bundle: verify it, snapshot the data, switch, migrate,
    /// restart and wait until every service is healthy; on any failure, return to the running
    /// release and its data automatically.
    ///
    /// Example: `nexusctl upgrade --bundle nexus-0.2.0-x86_64-linux.nexus`.
    Upgrade(crate::release::upgrade::UpgradeArgs),
    /// Return to the previous release (or finish rolling back an interrupted upgrade).
    ///
    /// Example: `nexusctl rollback`, or `nexusctl rollback --restore-snapshot` when the
    /// upgrade changed the database schema.
    Rollback(crate::release::upgrade::RollbackArgs),
    /// Make and check signed release bundles, manage the keys this instance trusts, list the
    /// installed releases (`nexusctl release --help`).
    ///
    /// Example: `nexusctl release build --key ~/.nexus-release.key`.
    Release {
        #[command(subcommand)]
        command: crate::release::ReleaseCommand,
    },
    /// Check the instance's configuration and report every problem at once.
    Configtest {
        /// The nexusd binary [default: next to nexusctl, then $PATH].
        #[arg(long, env = "NEXUSD", value_name = "PATH")]
        nexusd: Option<PathBuf>,
    },
}

/// The rest of the command line, passed to `nexusd` unchanged (so `--help` shows nexusd's).
#[derive(Debug, Args, Clone)]
pub struct Forwarded {
    /// The subcommand and its options, e.g. `add --email ann@example.org`.
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "ARGS"
    )]
    pub args: Vec<String>,
}

#[derive(Debug, Args, Clone)]
pub struct InitArgs {
    /// Public address to serve on.
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR:PORT")]
    pub listen: SocketAddr,
    /// Use PostgreSQL instead of the embedded SQLite: postgres://user:password@host/db.
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,
    /// Name of the first organization.
    #[arg(long, default_value = "My Organization")]
    pub org_name: String,
    /// E-mail address of the administrator.
    #[arg(long, default_value = "admin@nexus.local")]
    pub admin_email: String,
    /// The nexusd binary [default: next to nexusctl, then $PATH].
    #[arg(long, env = "NEXUSD", value_name = "PATH")]
    pub nexusd: Option<PathBuf>,
    /// Print JSON for scripts.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args, Clone)]
pub struct UpArgs {
    /// Public address to serve on [default: the instance's configured address, 127.0.0.1:8080].
    /// Port 0 picks a free port; the URL printed when ready has the real one.
    #[arg(long, value_name = "ADDR:PORT")]
    pub listen: Option<SocketAddr>,
    /// The nexusd binary [default: next to nexusctl, then $PATH].
    #[arg(long, env = "NEXUSD", value_name = "PATH")]
    pub nexusd: Option<PathBuf>,
}

/// An error that carries the process exit code.
#[derive(Debug)]
pub struct Exit(pub u8);

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit status {}", self.0)
    }
}

impl std::error::Error for Exit {}

/// Fails with `message` and exit code `code`.
pub fn fail<T>(code: u8, message: impl std::fmt::Display) -> Result<T> {
    Err(anyhow::Error::new(Exit(code)).context(message.to_string()))
}

pub fn run(cli: Cli) -> Result<ExitCode> {
    let dir = StateDir::new(cli.state_dir)?;
    match cli.command {
        Command::Init(args) => {
            let nexusd = daemons::find_nexusd(args.nexusd.as_deref())?;
            if dir.is_provisioned() {
                return fail(
                    2,
                    format!(
                        "{} is already provisioned; nothing was changed (use `nexusctl up` to run it)",
                        dir.root.display()
                    ),
                );
            }
            let p = provision::init(&dir, &nexusd, &args)?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&p)?);
            } else {
                provision::print_credentials(&p, &p.url);
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Up(args) => {
            let binary = daemons::Nexusd::for_instance(&dir, args.nexusd.as_deref())?;
            let nexusd = binary.path()?;
            let mut first_run = None;
            if !dir.is_provisioned() {
                let init = InitArgs {
                    listen: args.listen.unwrap_or_else(default_listen),
                    database_url: None,
                    org_name: "My Organization".to_owned(),
                    admin_email: "admin@nexus.local".to_owned(),
                    nexusd: None,
                    json: false,
                };
                first_run = Some(provision::init(&dir, &nexusd, &init)?);
            }
            supervisor::up(&dir, &binary, args.listen, first_run.as_ref())
        }
        Command::Status { json } => status::run(&dir, json),
        Command::Users(f) => forward(&dir, "users", &f.args),
        Command::Orgs(f) => forward(&dir, "orgs", &f.args),
        Command::Audit(f) => forward(&dir, "audit", &f.args),
        Command::Keys(f) => forward(&dir, "keys", &f.args),
        Command::Stop => supervisor::stop(&dir),
        Command::Restart { service } => control::restart(&dir, &service),
        Command::Alerts { json, test_mail } => alerts::run(&dir, json, test_mail),
        Command::Dash => dash::run(&dir),
        Command::Top { interval, count } => top::run(&dir, interval, count),
        Command::Logs {
            service,
            lines,
            follow,
        } => logs::show(&dir, service.as_deref(), lines, follow),
        Command::Backup { command } => backup::run(&dir, command),
        Command::Restore(args) => backup::restore(&dir, args),
        Command::Upgrade(args) => crate::release::upgrade::upgrade(&dir, &args),
        Command::Rollback(args) => crate::release::upgrade::rollback(&dir, &args),
        Command::Release { command } => crate::release::run(&dir, command),
        Command::Configtest { nexusd } => {
            if !dir.is_provisioned() {
                return fail(
                    2,
                    format!(
                        "{} has no config.toml: run `nexusctl init` first",
                        dir.root.display()
                    ),
                );
            }
            let nexusd = daemons::Nexusd::for_instance(&dir, nexusd.as_deref())?.path()?;
            let status = std::process::Command::new(nexusd)
                .arg("configtest")
                .arg("--state-dir")
                .arg(&dir.root)
                .env_remove("NEXUS_CONFIG")
                .status()?;
            Ok(ExitCode::from(
                u8::try_from(status.code().unwrap_or(1)).unwrap_or(1),
            ))
        }
    }
}

/// Runs `nexusd WHAT --state-dir DIR ARGS…` on the instance and passes its exit code on.
/// nexusd owns the logic (it has the identity app); nexusctl stays small.
fn forward(dir: &StateDir, what: &str, args: &[String]) -> Result<ExitCode> {
    let asks_help = args.is_empty()
        || args
            .iter()
            .any(|a| a == "--help" || a == "-h" || a == "help");
    if !asks_help && !dir.is_provisioned() {
        return fail(
            2,
            format!(
                "{} has no config.toml: run `nexusctl init` first",
                dir.root.display()
            ),
        );
    }
    let explicit = std::env::var_os("NEXUSD").map(PathBuf::from);
    let nexusd = daemons::Nexusd::for_instance(dir, explicit.as_deref())?.path()?;
    let status = std::process::Command::new(nexusd)
        .arg(what)
        .arg("--state-dir")
        .arg(&dir.root)
        .args(args)
        .env_remove("NEXUS_CONFIG")
        .env("NEXUS_LOG_LEVEL", "warn")
        .status()?;
    Ok(ExitCode::from(
        u8::try_from(status.code().unwrap_or(1)).unwrap_or(1),
    ))
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_command_line_is_well_formed() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
