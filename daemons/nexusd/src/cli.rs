//! Command-line interface.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// The NEXUS daemon: serves the NEXUS apps (Hub, identity, …) over HTTP and their protocols.
///
/// Configuration is read in layers: built-in defaults, then the config file, then NEXUS_*
/// environment variables, then the flags below. `nexusd configtest --keys` lists every key.
#[derive(Debug, Parser)]
#[command(name = "nexusd", version, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon until SIGTERM or SIGINT, then drain in-flight requests and stop.
    Serve(ServeArgs),
    /// Bring the database schema up to date and exit.
    Migrate(ConfigArgs),
    /// Check the configuration and report every problem at once.
    Configtest(ConfigtestArgs),
    /// Create the first organization and its administrator; print the administrator's setup link.
    Provision(ProvisionArgs),
    /// Write a consistent copy of the database while the daemons keep running (SQLite file or
    /// PostgreSQL SQL); used by `nexusctl backup create`.
    Dump(DumpArgs),
    /// Load a copy written by `dump` into an empty database; used by `nexusctl restore`.
    Load(LoadArgs),
    /// Manage users: add, list, disable, enable, reset-password, reset-mfa.
    Users {
        #[command(flatten)]
        config: ConfigArgs,
        #[command(subcommand)]
        command: UsersCommand,
    },
    /// Manage organizations: create, list.
    Orgs {
        #[command(flatten)]
        config: ConfigArgs,
        #[command(subcommand)]
        command: OrgsCommand,
    },
    /// Check or export the audit log.
    Audit {
        #[command(flatten)]
        config: ConfigArgs,
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Manage the keys that sign API tokens: list, rotate, retire.
    Keys {
        #[command(flatten)]
        config: ConfigArgs,
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Send a plain-text e-mail (body on stdin) through the configured relay ([mail]); used by
    /// `nexusctl` for alert e-mails.
    SendMail(SendMailArgs),
    /// Print the version.
    Version {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args, Clone)]
pub struct ConfigArgs {
    /// Config file [default: STATE_DIR/config.toml if present, else /etc/nexus/config.toml if present].
    #[arg(long, short = 'c', env = "NEXUS_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// State directory (databases, blobs, secrets, sockets). Key: state_dir.
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Database URL: sqlite://nexus.db or postgres://user@host/db. Key: database.url.
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,
    /// Log filter: error, warn, info, debug, trace. Key: log.level.
    #[arg(long, value_name = "FILTER")]
    pub log_level: Option<String>,
    /// Set any key, e.g. --set server.request_timeout_secs=60 (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
}

#[derive(Debug, Args, Clone)]
pub struct ServeArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Public address, HOST:PORT. Key: server.listen.
    #[arg(long, value_name = "ADDR:PORT")]
    pub listen: Option<String>,
    /// Apps to run, comma-separated, or "all". Key: server.apps.
    #[arg(long, value_name = "APPS")]
    pub apps: Option<String>,
    /// This daemon's name in logs and status. Key: server.name.
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Admin socket path. Key: admin.socket.
    #[arg(long, value_name = "PATH")]
    pub admin_socket: Option<PathBuf>,
}

#[derive(Debug, Args, Clone)]
pub struct ConfigtestArgs {
    #[command(flatten)]
    pub serve: ServeArgs,
    /// List every key with its environment variable and default, and exit.
    #[arg(long)]
    pub keys: bool,
    /// Print the effective configuration as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args, Clone)]
pub struct ProvisionArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Name of the first organization.
    #[arg(long, default_value = "My Organization")]
    pub org_name: String,
    /// E-mail address of the administrator.
    #[arg(long, default_value = "admin@nexus.local")]
    pub admin_email: String,
    /// Print JSON (for nexusctl).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args, Clone)]
pub struct DumpArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// The file to write (must not exist).
    #[arg(long)]
    pub out: PathBuf,
    /// Print JSON (for nexusctl): the backend and where the blobs are.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args, Clone)]
pub struct SendMailArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// A recipient; repeat for several.
    #[arg(long, required = true, value_name = "ADDRESS")]
    pub to: Vec<String>,
    /// The subject line.
    #[arg(long)]
    pub subject: String,
}

#[derive(Debug, Args, Clone)]
pub struct LoadArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// The dump to load.
    #[arg(long)]
    pub from: PathBuf,
    /// What the dump holds: sqlite or postgres.
    #[arg(long, value_parser = ["sqlite", "postgres"])]
    pub backend: String,
    /// Replace the current database instead of loading into an empty one (every daemon
    /// stopped; used by `nexusctl upgrade` to roll back). What is there now is kept in DIR:
    /// the SQLite file moved there, or a PostgreSQL dump written there.
    #[arg(long, value_name = "DIR")]
    pub replace_keeping: Option<PathBuf>,
}

#[derive(Debug, Subcommand, Clone)]
pub enum UsersCommand {
    /// Add a user; prints a one-time password they change at first login.
    Add {
        /// E-mail address (the login name).
        #[arg(long)]
        email: String,
        /// Display name [default: the part of the e-mail before @].
        #[arg(long)]
        name: Option<String>,
        #[arg(long, default_value = "member", value_parser = ["owner", "admin", "member", "guest"])]
        role: String,
        /// Organization slug [default: the only organization].
        #[arg(long)]
        org: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// List the users of an organization.
    List {
        /// Organization slug [default: the only organization].
        #[arg(long)]
        org: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Disable a user and end all their sessions.
    Disable {
        #[arg(long)]
        email: String,
        #[arg(long)]
        org: Option<String>,
    },
    /// Re-enable a disabled user.
    Enable {
        #[arg(long)]
        email: String,
        #[arg(long)]
        org: Option<String>,
    },
    /// Replace a user's password with a new one-time password and end their sessions.
    ResetPassword {
        #[arg(long)]
        email: String,
        #[arg(long)]
        org: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove a user's authenticator app and recovery codes (they lost their phone); their
    /// next login asks for the password only, and they can set up a new one.
    ResetMfa {
        #[arg(long)]
        email: String,
        #[arg(long)]
        org: Option<String>,
    },
}

#[derive(Debug, Subcommand, Clone)]
pub enum OrgsCommand {
    /// Create an organization (a new, fully separate tenant).
    Create {
        /// Its name.
        #[arg(long)]
        name: String,
        /// Its short identifier [default: derived from the name].
        #[arg(long)]
        slug: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// List every organization.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand, Clone)]
pub enum AuditCommand {
    /// Check every record of the hash chain. Exit 0: intact; 3: records were edited,
    /// deleted or inserted (each is named); 1: the check could not run.
    ///
    /// The newest record seen is kept in STATE_DIR/audit.head, so the next verification
    /// also notices removed newest records or a rebuilt chain; keep the printed head hash
    /// somewhere else too for protection against someone who can write both.
    Verify {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print the records as JSON Lines (oldest first), hashes included, for archiving or
    /// another tool.
    Export {
        /// Only this organization's records [default: all, instance-wide ones included].
        #[arg(long)]
        org: Option<String>,
        /// Only records after this sequence number.
        #[arg(long, default_value_t = 0)]
        after: i64,
    },
}

#[derive(Debug, Subcommand, Clone)]
pub enum KeysCommand {
    /// List the signing keys, newest (the one that signs) last.
    List,
    /// Add a new signing key. New tokens are signed with it; tokens signed by the older
    /// keys stay valid until they expire or their key is retired.
    Rotate,
    /// Remove a key: every token it signed stops working at once.
    Retire {
        /// The key id, as `keys list` shows it.
        kid: String,
    },
}
