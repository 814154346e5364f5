//! Configuration: versioned TOML, unknown keys rejected, layered
//! defaults → file → `NEXUS_*` environment → command-line flags, every problem reported at once.
//!
//! serde stops at the first error, and `deny_unknown_fields` at the first unknown key. To
//! report everything together the loader merges the layers into one TOML table, then
//! deserializes it repeatedly: each failing key is recorded and removed (its default applies)
//! until the rest deserializes; unknown keys are collected with `serde_ignored` on the way.
//! Every message names the key, the layer it came from, and what to do.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use toml::{Table, Value};

/// The config format this release reads. Bump it when a key changes meaning or goes away.
pub const CONFIG_VERSION: i64 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    /// Config format version; must be 1.
    pub version: i64,
    /// Where this node keeps its databases, blobs, secrets and sockets. Relative paths in
    /// this file are resolved against it. Empty: the directory of the config file.
    pub state_dir: PathBuf,
    pub server: ServerConfig,
    pub admin: AdminConfig,
    pub database: DatabaseConfig,
    pub blobs: BlobsConfig,
    pub log: LogConfig,
    pub web: WebConfig,
    pub auth: AuthConfig,
    pub mail: MailConfig,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ServerConfig {
    /// Public HTTP address, HOST:PORT.
    pub listen: String,
    /// The URL users reach this node at. Empty: derived from `listen`.
    pub public_url: String,
    /// Apps this daemon runs: names, or "all".
    pub apps: Vec<String>,
    /// The daemon's name in logs and status (`web`, `mail`, `worker` …).
    pub name: String,
    /// Seconds in-flight requests get to finish on shutdown.
    pub shutdown_timeout_secs: u64,
    /// Seconds after which a request is answered with 503.
    pub request_timeout_secs: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AdminConfig {
    /// Unix socket for health, readiness, metrics and status (mode 0600).
    pub socket: PathBuf,
    /// Optional loopback TCP address for the same endpoints (for a Prometheus scraper).
    /// Empty: none. Only loopback addresses are accepted.
    pub listen: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DatabaseConfig {
    /// `sqlite://nexus.db` (relative to state_dir) or `postgres://user@host/db`.
    /// Empty: SQLite in the state directory.
    pub url: String,
    /// Read the URL from this file instead (keeps a password out of the config).
    pub url_file: PathBuf,
    pub max_connections: u32,
    pub connect_timeout_secs: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BlobsConfig {
    /// `file://blobs` (relative to state_dir), `file:///abs`, or `s3://bucket/prefix?…`.
    pub url: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Pretty on a terminal, plain otherwise.
    Auto,
    /// One line per event, no colours; what the journal wants.
    Plain,
    /// Compact and coloured, for a terminal.
    Pretty,
    /// One JSON object per line.
    Json,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LogConfig {
    /// A tracing filter: `info`, `debug`, `nexus_store=debug,info` …
    pub level: String,
    pub format: LogFormat,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct WebConfig {
    /// Directory with the built web front-end. Empty: found next to the binary
    /// (`../share/nexus/web`) or in the source tree (`web/dist`).
    pub dir: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AuthConfig {
    /// Hours a login session lasts after the login.
    pub session_hours: u64,
    /// Failed logins per account within `lockout_minutes` before it is locked temporarily.
    pub max_failures_per_account: u32,
    /// Failed logins per client address within `lockout_minutes` before it is throttled.
    pub max_failures_per_address: u32,
    pub lockout_minutes: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct MailConfig {
    /// The relay for the e-mail NEXUS sends (password resets): `smtp://host:25` (plain),
    /// `smtp://user:pass@host:587?tls=required` (STARTTLS), `smtps://user:pass@host:465`.
    /// Empty: NEXUS sends no e-mail, and password reset by e-mail is off.
    pub smtp_url: String,
    /// A file holding `smtp_url`, to keep the relay's password out of this file.
    pub smtp_url_file: PathBuf,
    /// The sender of those messages, e.g. `NEXUS <nexus@example.com>`.
    pub from: String,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            version: CONFIG_VERSION,
            state_dir: PathBuf::new(),
            server: ServerConfig::default(),
            admin: AdminConfig::default(),
            database: DatabaseConfig::default(),
            blobs: BlobsConfig::default(),
            log: LogConfig::default(),
            web: WebConfig::default(),
            auth: AuthConfig::default(),
            mail: MailConfig::default(),
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".to_owned(),
            public_url: String::new(),
            apps: vec!["all".to_owned()],
            name: "web".to_owned(),
            shutdown_timeout_secs: 8,
            request_timeout_secs: 30,
        }
    }
}

impl Default for AdminConfig {
    fn default() -> Self {
        Self {
            socket: PathBuf::from("run/nexusd.sock"),
            listen: String::new(),
        }
    }
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: String::new(),
            url_file: PathBuf::new(),
            max_connections: 8,
            connect_timeout_secs: 5,
        }
    }
}

impl Default for BlobsConfig {
    fn default() -> Self {
        Self {
            url: "file://blobs".to_owned(),
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            level: "info".to_owned(),
            format: LogFormat::Auto,
        }
    }
}

impl Default for WebConfig {
    fn default() -> Self {
        Self {
            dir: PathBuf::new(),
        }
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            session_hours: 24 * 14,
            max_failures_per_account: 5,
            max_failures_per_address: 20,
            lockout_minutes: 15,
        }
    }
}

/// Where a value came from, so an error can say which layer to fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Default,
    File(PathBuf),
    Env(String),
    Flag(String),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Default => f.write_str("built-in default"),
            Self::File(p) => write!(f, "{}", p.display()),
            Self::Env(name) => write!(f, "environment variable {name}"),
            Self::Flag(flag) => write!(f, "command-line flag {flag}"),
        }
    }
}

/// One problem found in the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigIssue {
    /// Dotted key (`server.listen`), or empty for the file as a whole.
    pub key: String,
    pub origin: Origin,
    pub problem: String,
    pub fix: String,
}

impl fmt::Display for ConfigIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            write!(f, "{}: {}", self.origin, self.problem)?;
        } else {
            write!(f, "{} ({}): {}", self.key, self.origin, self.problem)?;
        }
        if !self.fix.is_empty() {
            write!(f, " — {}", self.fix)?;
        }
        Ok(())
    }
}

/// Every problem found, reported together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigIssue>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        writeln!(
            f,
            "the configuration has {n} problem{}:",
            if n == 1 { "" } else { "s" }
        )?;
        for issue in &self.0 {
            writeln!(f, "  - {issue}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// The inputs to [`load`], one per layer above the defaults.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// A config file; it must exist when given.
    pub file: Option<PathBuf>,
    /// Environment variables (normally `std::env::vars()`); only `NEXUS_*` are read.
    pub env: Vec<(String, String)>,
    /// `(dotted key, value, flag name)` from the command line.
    pub flags: Vec<(String, String, String)>,
}

impl Sources {
    /// The process environment and the given file.
    pub fn from_process(file: Option<PathBuf>) -> Self {
        Self {
            file,
            env: std::env::vars().collect(),
            flags: Vec::new(),
        }
    }

    pub fn flag(mut self, key: &str, value: impl Into<String>, flag: &str) -> Self {
        self.flags
            .push((key.to_owned(), value.into(), flag.to_owned()));
        self
    }
}

/// Environment variables that are ours but are not config keys.
const NON_KEY_ENV: &[&str] = &["NEXUS_CONFIG", "NEXUS_SUPERVISOR_PID"];

/// Loads and validates the configuration from all layers.
pub fn load(sources: &Sources) -> Result<Config, ConfigErrors> {
    load_with_warnings(sources).map(|(c, _)| c)
}

/// Like [`load`], also returning what is suspicious but not wrong (unknown `NEXUS_*`
/// environment variables), for the caller to print.
pub fn load_with_warnings(sources: &Sources) -> Result<(Config, Vec<ConfigIssue>), ConfigErrors> {
    let mut issues = Vec::new();
    let defaults = default_table();
    let mut merged = Table::new();
    let mut origins: BTreeMap<String, Origin> = BTreeMap::new();

    // Layer 1: the file.
    let mut file_dir = None;
    if let Some(path) = &sources.file {
        let origin = Origin::File(path.clone());
        file_dir = path.parent().map(Path::to_path_buf);
        match std::fs::read_to_string(path) {
            Err(e) => issues.push(ConfigIssue {
                key: String::new(),
                origin,
                problem: format!("cannot read the file: {e}"),
                fix: "check the path, or run `nexusctl init` to create one".to_owned(),
            }),
            Ok(text) => match text.parse::<Table>() {
                Err(e) => issues.push(ConfigIssue {
                    key: String::new(),
                    origin,
                    problem: format!("not valid TOML: {}", e.message()),
                    fix: describe_span(&text, e.span()),
                }),
                Ok(table) => {
                    match table.get("version") {
                        None => issues.push(ConfigIssue {
                            key: "version".to_owned(),
                            origin: origin.clone(),
                            problem: "missing".to_owned(),
                            fix: format!("add `version = {CONFIG_VERSION}` at the top of the file"),
                        }),
                        Some(Value::Integer(v)) if *v == CONFIG_VERSION => {}
                        Some(other) => issues.push(ConfigIssue {
                            key: "version".to_owned(),
                            origin: origin.clone(),
                            problem: format!("this release reads version {CONFIG_VERSION}, the file says {other}"),
                            fix: "run `nexusctl upgrade` to migrate the config, or use the release that wrote it".to_owned(),
                        }),
                    }
                    for key in leaf_keys(&table) {
                        origins.insert(key, origin.clone());
                    }
                    merged = table;
                }
            },
        }
    }

    // Layer 2: NEXUS_* environment variables, one per known key. Other NEXUS_* variables
    // (a test harness's, a script's) are not ours to refuse: they are reported as warnings,
    // with a suggestion when they look like a misspelt key.
    let env_names: BTreeMap<String, String> = leaf_keys(&defaults)
        .into_iter()
        .filter(|k| k != "version")
        .map(|k| (env_name(&k), k))
        .collect();
    let mut warnings = Vec::new();
    for (name, raw) in &sources.env {
        if !name.starts_with("NEXUS_")
            || NON_KEY_ENV.contains(&name.as_str())
            || name.starts_with("NEXUS_TEST_")
        {
            continue;
        }
        let origin = Origin::Env(name.clone());
        match env_names.get(name) {
            None => warnings.push(ConfigIssue {
                key: String::new(),
                origin,
                problem: "not a NEXUS setting; ignored".to_owned(),
                fix: suggest(name, env_names.keys().map(String::as_str))
                    .map(|s| format!("did you mean {s}?"))
                    .unwrap_or_else(|| "`nexusd configtest --keys` lists the variables".to_owned()),
            }),
            Some(key) => match typed_value(&defaults, key, raw) {
                Ok(v) => {
                    set_path(&mut merged, key, v);
                    origins.insert(key.clone(), origin);
                }
                Err(problem) => issues.push(ConfigIssue {
                    key: key.clone(),
                    origin,
                    problem,
                    fix: String::new(),
                }),
            },
        }
    }

    // Layer 3: flags.
    let all_keys = leaf_keys(&defaults);
    for (key, raw, flag) in &sources.flags {
        let origin = Origin::Flag(flag.clone());
        match typed_value(&defaults, key, raw) {
            Ok(v) => {
                set_path(&mut merged, key, v);
                origins.insert(key.clone(), origin);
            }
            Err(problem) => issues.push(ConfigIssue {
                key: key.clone(),
                origin,
                problem,
                fix: if get_path(&defaults, key).is_none() {
                    suggest(key, all_keys.iter().map(String::as_str))
                        .map(|s| format!("did you mean `{s}`?"))
                        .unwrap_or_else(|| "`nexusd configtest --keys` lists every key".to_owned())
                } else {
                    String::new()
                },
            }),
        }
    }

    // Deserialize, collecting every type error and unknown key.
    let origin_of = |key: &str| -> Origin {
        let mut k = key.to_owned();
        loop {
            if let Some(o) = origins.get(&k) {
                return o.clone();
            }
            match k.rfind(['.', '[']) {
                Some(i) => k.truncate(i),
                None => return Origin::Default,
            }
        }
    };
    let mut config = Config::default();
    for _ in 0..256 {
        let mut unknown = Vec::new();
        let value = Value::Table(merged.clone());
        let mut on_unknown = |path: serde_ignored::Path<'_>| unknown.push(path.to_string());
        let de = serde_ignored::Deserializer::new(value, &mut on_unknown);
        match serde_path_to_error::deserialize::<_, Config>(de) {
            Ok(c) => {
                for key in unknown {
                    let sibling_keys = siblings(&defaults, &key);
                    let last = key.rsplit('.').next().unwrap_or(&key).to_owned();
                    issues.push(ConfigIssue {
                        origin: origin_of(&key),
                        problem: "unknown key".to_owned(),
                        fix: suggest(&last, sibling_keys.iter().map(String::as_str))
                            .map(|s| format!("did you mean `{s}`?"))
                            .unwrap_or_else(|| {
                                "remove it; `nexusd configtest --keys` lists every key".to_owned()
                            }),
                        key,
                    });
                }
                config = c;
                break;
            }
            Err(e) => {
                let key = e.path().to_string();
                // The TOML error repeats the key on further lines; the key is shown already.
                let inner = e.inner().to_string();
                issues.push(ConfigIssue {
                    origin: origin_of(&key),
                    problem: inner.lines().next().unwrap_or_default().trim().to_owned(),
                    fix: String::new(),
                    key: key.clone(),
                });
                if key.is_empty() || key == "." || !remove_path(&mut merged, &key) {
                    break;
                }
            }
        }
    }

    if config.state_dir.as_os_str().is_empty()
        && let Some(dir) = file_dir
    {
        config.state_dir = if dir.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            dir
        };
    }
    // A relative state directory (from a flag, or a relative --config) is relative to where
    // the command runs; make it absolute once, so paths inside it are not resolved twice.
    if config.state_dir.is_relative()
        && !config.state_dir.as_os_str().is_empty()
        && let Ok(cwd) = std::env::current_dir()
    {
        config.state_dir = cwd.join(&config.state_dir);
    }
    validate(&config, &origin_of, &mut issues);

    // Keep the order stable and the list free of repeats.
    issues.dedup();
    if issues.is_empty() {
        Ok((config, warnings))
    } else {
        Err(ConfigErrors(issues))
    }
}

/// Checks that need more than a type: addresses parse, URLs have a known scheme, …
fn validate(c: &Config, origin_of: &dyn Fn(&str) -> Origin, issues: &mut Vec<ConfigIssue>) {
    let mut bad = |key: &str, problem: String, fix: &str| {
        issues.push(ConfigIssue {
            key: key.to_owned(),
            origin: origin_of(key),
            problem,
            fix: fix.to_owned(),
        })
    };
    if c.state_dir.as_os_str().is_empty() {
        bad(
            "state_dir",
            "not set".to_owned(),
            "set state_dir, pass --state-dir, or give a config file inside the state directory",
        );
    }
    if c.server.listen.parse::<SocketAddr>().is_err() {
        bad(
            "server.listen",
            format!("`{}` is not an address", c.server.listen),
            "use HOST:PORT with an IP address, e.g. 127.0.0.1:8080 or [::]:443",
        );
    }
    let url = &c.server.public_url;
    if !(url.is_empty() || url.starts_with("http://") || url.starts_with("https://")) {
        bad(
            "server.public_url",
            format!("`{}` is not an http(s) URL", c.server.public_url),
            "use e.g. https://nexus.example.com",
        );
    }
    if c.server.apps.is_empty() {
        bad(
            "server.apps",
            "no apps selected".to_owned(),
            "list app names, or \"all\"",
        );
    }
    if c.server.name.is_empty()
        || !c
            .server
            .name
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_')
    {
        bad(
            "server.name",
            format!("`{}` is not a daemon name", c.server.name),
            "use letters, digits, '-' or '_'",
        );
    }
    if c.server.shutdown_timeout_secs == 0 || c.server.shutdown_timeout_secs > 300 {
        bad(
            "server.shutdown_timeout_secs",
            format!("{} is out of range", c.server.shutdown_timeout_secs),
            "use 1 to 300 seconds",
        );
    }
    if c.server.request_timeout_secs == 0 {
        bad(
            "server.request_timeout_secs",
            "must be at least 1".to_owned(),
            "use a number of seconds, e.g. 30",
        );
    }
    if c.admin.socket.as_os_str().is_empty() {
        bad(
            "admin.socket",
            "not set".to_owned(),
            "give a path for the admin socket, e.g. run/nexusd.sock",
        );
    }
    if !c.admin.listen.is_empty() {
        match c.admin.listen.parse::<SocketAddr>() {
            Ok(a) if a.ip().is_loopback() => {}
            Ok(a) => bad(
                "admin.listen",
                format!("{a} is not a loopback address; the admin interface must never be public"),
                "use 127.0.0.1:PORT or [::1]:PORT, or leave it empty and use the admin socket",
            ),
            Err(_) => bad(
                "admin.listen",
                format!("`{}` is not an address", c.admin.listen),
                "use 127.0.0.1:PORT",
            ),
        }
    }
    let url = &c.database.url;
    if !(url.is_empty()
        || url.starts_with("sqlite:")
        || url.starts_with("postgres://")
        || url.starts_with("postgresql://"))
    {
        bad(
            "database.url",
            format!("unsupported scheme in `{}`", nexus_store::db::redact(url)),
            "use sqlite://nexus.db or postgres://user@host/db",
        );
    }
    if !url.is_empty() && !c.database.url_file.as_os_str().is_empty() {
        bad(
            "database.url_file",
            "set together with database.url".to_owned(),
            "keep only one of the two",
        );
    }
    if c.database.max_connections == 0 {
        bad(
            "database.max_connections",
            "must be at least 1".to_owned(),
            "use e.g. 8",
        );
    }
    if c.database.connect_timeout_secs == 0 {
        bad(
            "database.connect_timeout_secs",
            "must be at least 1".to_owned(),
            "use e.g. 5",
        );
    }
    let b = &c.blobs.url;
    if !(b.starts_with("file://") || b.starts_with("s3://")) {
        bad(
            "blobs.url",
            format!("unsupported scheme in `{b}`"),
            "use file://blobs or s3://bucket/prefix",
        );
    }
    const LEVELS: &[&str] = &["error", "warn", "info", "debug", "trace", "off"];
    let plain_word = |d: &str| !d.contains('=') && !d.contains("::") && !d.contains('[');
    let unknown_level = c
        .log
        .level
        .split(',')
        .map(str::trim)
        .any(|d| plain_word(d) && !LEVELS.contains(&d));
    if unknown_level || tracing_subscriber::EnvFilter::try_new(&c.log.level).is_err() {
        bad(
            "log.level",
            format!("`{}` is not a log filter", c.log.level),
            "use error, warn, info, debug or trace",
        );
    }
    if c.auth.session_hours == 0 {
        bad(
            "auth.session_hours",
            "must be at least 1".to_owned(),
            "use e.g. 336 (two weeks)",
        );
    }
    let smtp = &c.mail.smtp_url;
    if !(smtp.is_empty() || smtp.starts_with("smtp://") || smtp.starts_with("smtps://")) {
        bad(
            "mail.smtp_url",
            "unsupported scheme (the URL is not shown: it may hold a password)".to_owned(),
            "use smtp://host:25, smtp://user:pass@host:587?tls=required or smtps://user:pass@host:465",
        );
    }
    if !smtp.is_empty() && !c.mail.smtp_url_file.as_os_str().is_empty() {
        bad(
            "mail.smtp_url_file",
            "set together with mail.smtp_url".to_owned(),
            "keep only one of the two",
        );
    }
    let sends_mail = !smtp.is_empty() || !c.mail.smtp_url_file.as_os_str().is_empty();
    if sends_mail && c.mail.from.trim().is_empty() {
        bad(
            "mail.from",
            "is empty while a mail relay is set".to_owned(),
            "set the sender, e.g. `NEXUS <nexus@example.com>`",
        );
    } else if !c.mail.from.is_empty() && c.mail.from.parse::<lettre::message::Mailbox>().is_err() {
        bad(
            "mail.from",
            format!("`{}` is not a sender address", c.mail.from),
            "use e.g. `NEXUS <nexus@example.com>`",
        );
    }
    if c.auth.lockout_minutes == 0 {
        bad(
            "auth.lockout_minutes",
            "must be at least 1".to_owned(),
            "use e.g. 15",
        );
    }
}

impl Config {
    /// Resolves a path from the config against the state directory.
    pub fn resolve(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.state_dir.join(p)
        }
    }

    /// The database URL, read from `url_file` when set; defaults to SQLite in the state dir.
    pub fn database_url(&self) -> std::io::Result<String> {
        if !self.database.url_file.as_os_str().is_empty() {
            let text = std::fs::read_to_string(self.resolve(&self.database.url_file))?;
            return Ok(text.trim().to_owned());
        }
        if self.database.url.is_empty() {
            Ok(format!(
                "sqlite://{}",
                self.resolve(Path::new("nexus.db")).display()
            ))
        } else {
            Ok(self.database.url.clone())
        }
    }

    /// The mail relay URL, read from `smtp_url_file` when set; empty when mail is off.
    pub fn smtp_url(&self) -> std::io::Result<String> {
        if !self.mail.smtp_url_file.as_os_str().is_empty() {
            let text = std::fs::read_to_string(self.resolve(&self.mail.smtp_url_file))?;
            return Ok(text.trim().to_owned());
        }
        Ok(self.mail.smtp_url.clone())
    }

    pub fn listen_addr(&self) -> Option<SocketAddr> {
        self.server.listen.parse().ok()
    }

    /// The URL users reach this daemon at.
    pub fn public_url(&self, bound: SocketAddr) -> String {
        if !self.server.public_url.is_empty() {
            return self.server.public_url.trim_end_matches('/').to_owned() + "/";
        }
        let host = match bound.ip() {
            ip if ip.is_unspecified() => "localhost".to_owned(),
            std::net::IpAddr::V6(v6) => format!("[{v6}]"),
            ip => ip.to_string(),
        };
        format!("http://{host}:{}/", bound.port())
    }

    /// The config written by `nexusctl init`, as TOML text with comments.
    pub fn to_toml(&self) -> Result<String, toml::ser::Error> {
        toml::to_string_pretty(self)
    }
}

/// Every documented key with its environment variable, for `configtest --keys`.
pub fn describe_keys() -> Vec<(String, String, String)> {
    let defaults = default_table();
    leaf_keys(&defaults)
        .into_iter()
        .map(|k| {
            let default = get_path(&defaults, &k)
                .map(Value::to_string)
                .unwrap_or_default();
            (env_name(&k), default, k)
        })
        .map(|(env, default, key)| (key, env, default))
        .collect()
}

fn default_table() -> Table {
    match Value::try_from(Config::default()) {
        Ok(Value::Table(t)) => t,
        _ => Table::new(),
    }
}

fn env_name(key: &str) -> String {
    format!("NEXUS_{}", key.replace('.', "_").to_ascii_uppercase())
}

/// Dotted paths of every non-table value.
fn leaf_keys(t: &Table) -> Vec<String> {
    fn walk(prefix: &str, t: &Table, out: &mut Vec<String>) {
        for (k, v) in t {
            let key = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            match v {
                Value::Table(inner) => walk(&key, inner, out),
                _ => out.push(key),
            }
        }
    }
    let mut out = Vec::new();
    walk("", t, &mut out);
    out
}

fn get_path<'a>(t: &'a Table, key: &str) -> Option<&'a Value> {
    let mut parts = key.split('.');
    let first = parts.next()?;
    let mut cur = t.get(first)?;
    for p in parts {
        cur = cur.as_table()?.get(p)?;
    }
    Some(cur)
}

fn set_path(t: &mut Table, key: &str, v: Value) {
    let parts: Vec<&str> = key.split('.').collect();
    let Some((last, parents)) = parts.split_last() else {
        return;
    };
    let mut cur = t;
    for p in parents {
        let entry = cur
            .entry((*p).to_owned())
            .or_insert_with(|| Value::Table(Table::new()));
        if !entry.is_table() {
            *entry = Value::Table(Table::new());
        }
        let Value::Table(next) = entry else { return };
        cur = next;
    }
    cur.insert((*last).to_owned(), v);
}

/// Removes the value at a serde_path_to_error path (`a.b`, `a.b[2]` → removes `a.b`).
fn remove_path(t: &mut Table, key: &str) -> bool {
    let key = key.split('[').next().unwrap_or(key);
    let parts: Vec<&str> = key.split('.').collect();
    let Some((last, parents)) = parts.split_last() else {
        return false;
    };
    let mut cur = t;
    for p in parents {
        match cur.get_mut(*p) {
            Some(Value::Table(next)) => cur = next,
            _ => return false,
        }
    }
    cur.remove(*last).is_some()
}

/// Converts a string from the environment or a flag into the type the default has.
fn typed_value(defaults: &Table, key: &str, raw: &str) -> Result<Value, String> {
    match get_path(defaults, key) {
        None => Err("not a NEXUS setting".to_owned()),
        Some(Value::Integer(_)) => raw
            .trim()
            .parse::<i64>()
            .map(Value::Integer)
            .map_err(|_| format!("`{raw}` is not a whole number")),
        Some(Value::Boolean(_)) => match raw.trim() {
            "true" | "1" | "yes" | "on" => Ok(Value::Boolean(true)),
            "false" | "0" | "no" | "off" => Ok(Value::Boolean(false)),
            _ => Err(format!("`{raw}` is not true or false")),
        },
        Some(Value::Array(_)) => Ok(Value::Array(
            raw.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| Value::String(s.to_owned()))
                .collect(),
        )),
        Some(_) => Ok(Value::String(raw.to_owned())),
    }
}

/// The known keys beside an unknown one, for "did you mean".
fn siblings(defaults: &Table, key: &str) -> Vec<String> {
    match key.rsplit_once('.') {
        None => defaults.keys().cloned().collect(),
        Some((parent, _)) => get_path(defaults, parent)
            .and_then(Value::as_table)
            .map(|t| t.keys().cloned().collect())
            .unwrap_or_default(),
    }
}

fn suggest<'a>(word: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .map(|c| (strsim::jaro_winkler(word, c), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

fn describe_span(text: &str, span: Option<std::ops::Range<usize>>) -> String {
    match span {
        Some(r) => {
            let before = &text[..r.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let col = before.rsplit('\n').next().map_or(0, str::len) + 1;
            format!("fix line {line}, column {col}")
        }
        None => "fix the TOML syntax".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, text: &str) -> PathBuf {
        let p = dir.join("config.toml");
        std::fs::write(&p, text).expect("write config");
        p
    }

    #[test]
    fn defaults_need_only_a_state_dir() {
        let c =
            load(&Sources::default().flag("state_dir", "/tmp/x", "--state-dir")).expect("valid");
        assert_eq!(c.server.listen, "127.0.0.1:8080");
        assert_eq!(c.state_dir, PathBuf::from("/tmp/x"));
    }

    #[test]
    fn layers_apply_in_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = write(
            dir.path(),
            "version = 1\n[server]\nlisten = \"127.0.0.1:1000\"\napps = [\"hub\"]\n",
        );
        let mut s = Sources::from_process(Some(file));
        s.env = vec![("NEXUS_SERVER_LISTEN".into(), "127.0.0.1:2000".into())];
        let c = load(&s).expect("valid");
        assert_eq!(c.server.listen, "127.0.0.1:2000", "env beats file");
        assert_eq!(c.server.apps, vec!["hub"], "file beats default");
        assert_eq!(
            c.state_dir,
            dir.path(),
            "state dir defaults to the file's directory"
        );
        let c = load(
            &s.clone()
                .flag("server.listen", "127.0.0.1:3000", "--listen"),
        )
        .expect("valid");
        assert_eq!(c.server.listen, "127.0.0.1:3000", "flag beats env");
    }

    #[test]
    fn env_lists_and_numbers_are_typed() {
        let mut s = Sources::default().flag("state_dir", "/x", "--state-dir");
        s.env = vec![
            ("NEXUS_SERVER_APPS".into(), "hub, identity".into()),
            ("NEXUS_DATABASE_MAX_CONNECTIONS".into(), "3".into()),
        ];
        let c = load(&s).expect("valid");
        assert_eq!(c.server.apps, vec!["hub", "identity"]);
        assert_eq!(c.database.max_connections, 3);
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = write(
            dir.path(),
            "version = 1\nservr = 1\n[server]\nlisten = \"nowhere\"\nshutdown_timeout_secs = \"soon\"\n[database]\nmax_conections = 4\nurl = \"mysql://x\"\n",
        );
        let mut s = Sources::from_process(Some(file.clone()));
        s.env = vec![("NEXUS_DATABASE_CONNECT_TIMEOUT_SECS".into(), "five".into())];
        let errs = load(&s).expect_err("invalid");
        let text = errs.to_string();
        let keys: Vec<&str> = errs.0.iter().map(|i| i.key.as_str()).collect();
        for expected in [
            "servr",
            "server.listen",
            "server.shutdown_timeout_secs",
            "database.max_conections",
            "database.url",
            "database.connect_timeout_secs",
        ] {
            assert!(keys.contains(&expected), "missing {expected} in {text}");
        }
        assert!(text.contains("did you mean `server`?"), "{text}");
        assert!(text.contains("did you mean `max_connections`?"), "{text}");
        assert!(
            text.contains(&file.display().to_string()),
            "names the file: {text}"
        );
    }

    #[test]
    fn mail_settings_are_checked_without_showing_the_password() {
        let mut s = Sources::default().flag("state_dir", "/x", "--state-dir");
        s.env = vec![(
            "NEXUS_MAIL_SMTP_URL".into(),
            "http://user:secret@relay".into(),
        )];
        let errs = load(&s).expect_err("invalid");
        let text = errs.to_string();
        let keys: Vec<&str> = errs.0.iter().map(|i| i.key.as_str()).collect();
        assert!(keys.contains(&"mail.smtp_url"), "{text}");
        assert!(
            keys.contains(&"mail.from"),
            "a relay needs a sender: {text}"
        );
        assert!(!text.contains("secret"), "{text}");
        s.env = vec![
            ("NEXUS_MAIL_SMTP_URL".into(), "smtp://relay:25".into()),
            ("NEXUS_MAIL_FROM".into(), "NEXUS <nexus@example.com>".into()),
        ];
        let c = load(&s).expect("valid");
        assert_eq!(c.smtp_url().expect("url"), "smtp://relay:25");
        assert!(
            crate::mail::Mailer::from_config(&c)
                .expect("mailer")
                .enabled()
        );
        s.env = vec![("NEXUS_MAIL_FROM".into(), "not an address".into())];
        assert!(
            load(&s).is_err(),
            "a bad sender is refused even without a relay"
        );
    }

    #[test]
    fn syntax_errors_name_the_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = write(dir.path(), "version = 1\n[server\nlisten = 1\n");
        let errs = load(&Sources::from_process(Some(file))).expect_err("invalid");
        assert!(errs.to_string().contains("line 2"), "{errs}");
    }

    #[test]
    fn version_is_required_and_checked() {
        let dir = tempfile::tempdir().expect("tempdir");
        let errs = load(&Sources::from_process(Some(write(
            dir.path(),
            "[server]\n",
        ))))
        .expect_err("invalid");
        assert!(errs.to_string().contains("add `version = 1`"), "{errs}");
        let errs = load(&Sources::from_process(Some(write(
            dir.path(),
            "version = 7\n",
        ))))
        .expect_err("invalid");
        assert_eq!(errs.0[0].key, "version");
    }

    #[test]
    fn admin_listener_must_be_loopback() {
        let s = Sources::default()
            .flag("state_dir", "/x", "--state-dir")
            .flag("admin.listen", "0.0.0.0:9000", "--admin-listen");
        let errs = load(&s).expect_err("invalid");
        assert!(errs.to_string().contains("must never be public"), "{errs}");
    }

    #[test]
    fn written_config_reads_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let text = Config::default().to_toml().expect("serialize");
        let file = write(dir.path(), &text);
        let c = load(&Sources::from_process(Some(file))).expect("valid");
        assert_eq!(c.server, Config::default().server);
    }

    #[test]
    fn keys_are_documented_with_env_names() {
        let keys = describe_keys();
        assert!(
            keys.iter()
                .any(|(k, e, _)| k == "server.listen" && e == "NEXUS_SERVER_LISTEN")
        );
    }

    #[test]
    fn unknown_environment_variables_are_warnings() {
        let mut s = Sources::default().flag("state_dir", "/x", "--state-dir");
        s.env = vec![
            ("NEXUS_LOG_LEVL".into(), "debug".into()),
            ("NEXUS_E2E_KEEP".into(), "1".into()),
        ];
        let (_, warnings) = load_with_warnings(&s).expect("valid");
        let text: Vec<String> = warnings.iter().map(ToString::to_string).collect();
        assert_eq!(text.len(), 2, "{text:?}");
        assert!(
            text.iter()
                .any(|t| t.contains("did you mean NEXUS_LOG_LEVEL?")),
            "{text:?}"
        );
    }

    #[test]
    fn relative_state_dir_becomes_absolute() {
        let c =
            load(&Sources::default().flag("state_dir", "some/dir", "--state-dir")).expect("valid");
        assert!(c.state_dir.is_absolute());
        assert!(c.state_dir.ends_with("some/dir"));
    }

    #[test]
    fn log_levels_and_unknown_flags_are_checked() {
        let s = Sources::default()
            .flag("state_dir", "/x", "--state-dir")
            .flag("log.level", "verbose", "--log-level")
            .flag("servr.listen", "1", "--set servr.listen");
        let errs = load(&s).expect_err("invalid");
        let text = errs.to_string();
        assert!(text.contains("log.level"), "{text}");
        assert!(text.contains("did you mean `server.listen`?"), "{text}");
        let ok = Sources::default()
            .flag("state_dir", "/x", "--state-dir")
            .flag("log.level", "nexus_store=debug,info", "--log-level");
        assert!(load(&ok).is_ok());
    }
}
