//! Alerts: what needs an operator's attention, evaluated continuously (`nexusctl up`
//! every 15 s) and on demand (`nexusctl alerts`, which a timer can run on a systemd host).
//!
//! The rules: a service down, unhealthy or restarting; the state directory's disk above a
//! threshold; a TLS certificate close to expiry; the last backup failed or the last
//! successful one older than the schedule allows; a spike of server errors. Settings come
//! from `<state>/alerts.toml` (all optional). The result, with when each alert began and
//! what the next evaluation compares against, is kept in `<state>/run/alerts.json`, which
//! the dashboard reads.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use nexus_wire::{DaemonState, StatusReport};
use serde::{Deserialize, Serialize};

use crate::backup::schedule;
use crate::state::StateDir;

/// How long a restart stays an alert.
const RESTART_WINDOW_SECS: i64 = 600;
/// Fewer server errors than this between two evaluations are never a spike.
const MIN_ERRORS: u64 = 5;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Alert when the state directory's file system is fuller than this (percent).
    pub disk_percent: f64,
    /// Certificates (PEM files) to watch, besides `<state>/tls/*.pem`.
    pub certificates: Vec<PathBuf>,
    /// Alert this many days before a certificate expires.
    pub certificate_days: i64,
    /// Alert when more than this share of requests (percent) failed with a server error.
    pub error_rate_percent: f64,
    /// E-mail these addresses when alerts begin and end (through the config's `[mail]`
    /// relay, by `nexusd send-mail`). Empty: no e-mail.
    pub email_to: Vec<String>,
    /// The least severe alert that is e-mailed.
    pub email_severity: Severity,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            disk_percent: 90.0,
            certificates: Vec::new(),
            certificate_days: 14,
            error_rate_percent: 5.0,
            email_to: Vec::new(),
            email_severity: Severity::Warning,
        }
    }
}

pub use nexus_wire::{Alert, AlertSeverity as Severity};

/// `run/alerts.json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Report {
    pub evaluated_at: i64,
    pub alerts: Vec<Alert>,
    /// What the next evaluation compares against.
    #[serde(default)]
    pub memory: HashMap<String, DaemonMemory>,
    /// The e-mail state: what the recipients were last told about.
    #[serde(default)]
    pub mail: MailState,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MailState {
    /// The alerts (id, summary) the last e-mail that went out left open.
    pub open: Vec<(String, String)>,
    /// Why the last attempt failed, and when to try again (Unix seconds).
    pub error: Option<String>,
    pub retry_at: Option<i64>,
}

/// After a failed alert e-mail, the next try waits this long.
const MAIL_RETRY_SECS: i64 = 300;
/// How long one alert e-mail may take.
const MAIL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DaemonMemory {
    pub restarts: u32,
    pub last_restart_at: Option<i64>,
    pub requests: u64,
    pub errors: u64,
    pub at: i64,
}

/// What the rules look at, gathered once.
pub struct Inputs {
    pub now: i64,
    pub status: StatusReport,
    /// (used, total) bytes of the state directory's file system.
    pub disk: Option<(u64, u64)>,
    /// (file, not-after as Unix seconds) of each watched certificate, or why it is unreadable.
    pub certificates: Vec<(PathBuf, Result<i64, String>)>,
    pub schedule: Option<schedule::Schedule>,
    pub backups: schedule::Status,
}

pub fn load_settings(dir: &StateDir) -> Result<Settings> {
    let path = dir.root.join("alerts.toml");
    match std::fs::read_to_string(&path) {
        Ok(text) => toml::from_str(&text).with_context(|| format!("{} is wrong", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Settings::default()),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

pub fn file(dir: &StateDir) -> PathBuf {
    dir.run_dir().join("alerts.json")
}

fn save(dir: &StateDir, report: &Report) -> Result<()> {
    crate::state::write_atomic(&file(dir), &serde_json::to_vec_pretty(report)?)
}

/// The last evaluation's report, if any.
pub fn last(dir: &StateDir) -> Option<Report> {
    let raw = std::fs::read(file(dir)).ok()?;
    serde_json::from_slice(&raw).ok()
}

/// Gathers the inputs, evaluates the rules against the last report and stores the result.
pub async fn evaluate(dir: &StateDir) -> Result<Report> {
    let settings = load_settings(dir)?;
    let status = crate::status::collect(dir).await;
    let mut cert_files = settings.certificates.clone();
    if let Ok(rd) = std::fs::read_dir(dir.root.join("tls")) {
        let mut found: Vec<PathBuf> = rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "pem" || x == "crt"))
            .collect();
        found.sort();
        cert_files.extend(found);
    }
    let inputs = Inputs {
        now: chrono::Utc::now().timestamp(),
        status,
        disk: disk_usage(&dir.root),
        certificates: cert_files
            .into_iter()
            .map(|p| {
                let r = certificate_not_after(&p);
                (p, r)
            })
            .collect(),
        schedule: schedule::load(dir).unwrap_or(None),
        backups: schedule::status(dir),
    };
    let prev = last(dir);
    let mut report = rules(&inputs, &settings, prev.as_ref());
    let mail_alert_since = prev
        .as_ref()
        .and_then(|p| p.alerts.iter().find(|a| a.id == "alert-mail"))
        .map(|a| a.since);
    let prev_mail = prev.map(|p| p.mail).unwrap_or_default();
    report.mail = match mail_due(&report, &settings, &prev_mail) {
        None => prev_mail,
        Some(message) => {
            match send_mail(dir, &settings.email_to, &message.subject, &message.body).await {
                Ok(()) => MailState {
                    open: message.open,
                    error: None,
                    retry_at: None,
                },
                Err(e) => MailState {
                    error: Some(format!("{e:#}")),
                    retry_at: Some(report.evaluated_at + MAIL_RETRY_SECS),
                    ..prev_mail
                },
            }
        }
    };
    if let Some(why) = &report.mail.error {
        let since = mail_alert_since.unwrap_or(report.evaluated_at);
        report.alerts.push(Alert {
            id: "alert-mail".to_owned(),
            severity: Severity::Warning,
            summary: format!("alert e-mails cannot be sent: {why}"),
            action: Some(
                "check [mail] in config.toml and email_to in alerts.toml; test with `nexusctl alerts --test-mail`"
                    .to_owned(),
            ),
            since,
        });
    }
    save(dir, &report)?;
    Ok(report)
}

/// An alert e-mail to send.
#[derive(Debug)]
pub struct MailMessage {
    pub subject: String,
    pub body: String,
    /// What stays open once it is sent.
    pub open: Vec<(String, String)>,
}

/// The e-mail this evaluation owes the recipients, if any: one message for every alert
/// (at or above the configured severity) that began and every one that ended since the
/// last e-mail that went out. After a failure, nothing until the retry time.
pub fn mail_due(report: &Report, settings: &Settings, prev: &MailState) -> Option<MailMessage> {
    if settings.email_to.is_empty() {
        return None;
    }
    if prev.retry_at.is_some_and(|t| report.evaluated_at < t) {
        return None;
    }
    let current: Vec<&Alert> = report
        .alerts
        .iter()
        .filter(|a| a.severity >= settings.email_severity && a.id != "alert-mail")
        .collect();
    let began: Vec<&Alert> = current
        .iter()
        .copied()
        .filter(|a| !prev.open.iter().any(|(id, _)| *id == a.id))
        .collect();
    let ended: Vec<&(String, String)> = prev
        .open
        .iter()
        .filter(|(id, _)| !current.iter().any(|a| a.id == *id))
        .collect();
    if began.is_empty() && ended.is_empty() {
        return None;
    }
    let host = crate::backup::hostname();
    let subject = match (began.first(), began.len(), ended.len()) {
        (Some(a), 1, 0) => format!("[NEXUS {host}] {}: {}", a.severity, a.summary),
        (Some(a), n, 0) => format!("[NEXUS {host}] {n} alerts: {}, …", a.summary),
        (None, _, n) if current.is_empty() => {
            format!("[NEXUS {host}] resolved ({n}): everything is well again")
        }
        (None, _, n) => format!("[NEXUS {host}] {n} resolved, {} still open", current.len()),
        (Some(_), b, e) => format!("[NEXUS {host}] {b} new alerts, {e} resolved"),
    };
    let mut body = String::new();
    let line = |body: &mut String, a: &Alert| {
        body.push_str(&format!("  {:<8}  {}\n", a.severity.to_string(), a.summary));
        if let Some(act) = &a.action {
            body.push_str(&format!("            → {act}\n"));
        }
    };
    if !began.is_empty() {
        body.push_str("New:\n");
        for a in &began {
            line(&mut body, a);
        }
        body.push('\n');
    }
    if !ended.is_empty() {
        body.push_str("Resolved:\n");
        for (_, summary) in &ended {
            body.push_str(&format!("  {summary}\n"));
        }
        body.push('\n');
    }
    let still: Vec<&&Alert> = current.iter().filter(|a| !began.contains(a)).collect();
    if !still.is_empty() {
        body.push_str("Still open:\n");
        for a in still {
            line(&mut body, a);
        }
        body.push('\n');
    }
    body.push_str(&format!(
        "Evaluated on {host} at {}. `nexusctl alerts` and `nexusctl dash` show the current state.\n",
        chrono::DateTime::from_timestamp(report.evaluated_at, 0)
            .map_or_else(|| report.evaluated_at.to_string(), |t| t.to_rfc3339())
    ));
    Some(MailMessage {
        subject,
        body,
        open: current
            .iter()
            .map(|a| (a.id.clone(), a.summary.clone()))
            .collect(),
    })
}

/// Sends one message through `nexusd send-mail` (which reads the relay from the config).
pub async fn send_mail(dir: &StateDir, to: &[String], subject: &str, body: &str) -> Result<()> {
    use tokio::io::AsyncWriteExt;
    let nexusd = crate::daemons::Nexusd::for_instance(dir, None)?.path()?;
    let mut cmd = tokio::process::Command::new(&nexusd);
    cmd.arg("send-mail")
        .arg("--state-dir")
        .arg(&dir.root)
        .args(["--log-level", "warn", "--subject", subject]);
    for t in to {
        cmd.arg("--to").arg(t);
    }
    let mut child = cmd
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("cannot run {}", nexusd.display()))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(body.as_bytes()).await?;
    }
    let out = tokio::time::timeout(MAIL_TIMEOUT, child.wait_with_output())
        .await
        .map_err(|_| {
            anyhow::anyhow!(
                "the mail relay did not answer within {} s",
                MAIL_TIMEOUT.as_secs()
            )
        })??;
    if out.status.success() {
        return Ok(());
    }
    let err = String::from_utf8_lossy(&out.stderr);
    let err = err.trim().trim_start_matches("nexusd: ");
    anyhow::bail!(
        "{}",
        if err.is_empty() {
            "nexusd send-mail failed"
        } else {
            err
        }
    )
}

pub fn disk_usage(path: &Path) -> Option<(u64, u64)> {
    let st = nix::sys::statvfs::statvfs(path).ok()?;
    let frag = st.fragment_size();
    let total = st.blocks().saturating_mul(frag);
    // What an unprivileged writer can still use: reserved blocks count as used.
    let avail = st.blocks_available().saturating_mul(frag);
    (total > 0).then(|| (total.saturating_sub(avail), total))
}

fn certificate_not_after(path: &Path) -> Result<i64, String> {
    let pem = std::fs::read(path).map_err(|e| format!("cannot read it: {e}"))?;
    let (_, pem) = x509_parser::pem::parse_x509_pem(&pem)
        .map_err(|e| format!("not a PEM certificate: {e}"))?;
    let cert = pem
        .parse_x509()
        .map_err(|e| format!("not an X.509 certificate: {e}"))?;
    Ok(cert.validity().not_after.timestamp())
}

/// The rules, as a pure function of what was gathered and the previous report.
pub fn rules(inp: &Inputs, settings: &Settings, prev: Option<&Report>) -> Report {
    let now = inp.now;
    let mut alerts: Vec<Alert> = Vec::new();
    let mut memory = HashMap::new();
    let mut add = |id: String, severity: Severity, summary: String, action: Option<&str>| {
        alerts.push(Alert {
            id,
            severity,
            summary,
            action: action.map(str::to_owned),
            since: now,
        });
    };

    // Services.
    if inp.status.supervisor_pid.is_none() {
        add(
            "down".to_owned(),
            Severity::Critical,
            "NEXUS is not running".to_owned(),
            Some("start it: `nexusctl up` (or `systemctl start nexus.target` on the appliance)"),
        );
    }
    for d in &inp.status.daemons {
        let name = &d.name;
        let before = prev.and_then(|p| p.memory.get(name));
        let mut mem = DaemonMemory {
            restarts: d.restarts,
            last_restart_at: before.and_then(|b| b.last_restart_at),
            requests: 0,
            errors: 0,
            at: now,
        };
        if inp.status.supervisor_pid.is_some() {
            match d.state {
                DaemonState::Failed | DaemonState::Stopped => add(
                    format!("service-down:{name}"),
                    Severity::Critical,
                    format!(
                        "{name} is down{}",
                        d.problem
                            .as_deref()
                            .map(|p| format!(": {p}"))
                            .unwrap_or_default()
                    ),
                    Some("see `nexusctl logs` for why; `nexusctl restart` it"),
                ),
                DaemonState::Running if !d.healthy => {
                    let sick: Vec<String> = d
                        .apps
                        .iter()
                        .filter(|a| !a.healthy)
                        .map(|a| {
                            format!("{} ({})", a.id, a.detail.as_deref().unwrap_or("unhealthy"))
                        })
                        .collect();
                    add(
                        format!("service-unhealthy:{name}"),
                        Severity::Critical,
                        format!(
                            "{name} is running but not healthy: {}",
                            if sick.is_empty() {
                                d.problem.clone().unwrap_or_else(|| "no answer".to_owned())
                            } else {
                                sick.join(", ")
                            }
                        ),
                        Some("see `nexusctl status` and `nexusctl logs`"),
                    );
                }
                DaemonState::Restarting | DaemonState::Starting => add(
                    format!("service-restarting:{name}"),
                    Severity::Warning,
                    format!("{name} is restarting"),
                    None,
                ),
                _ => {}
            }
        }
        if before.is_some_and(|b| d.restarts > b.restarts) {
            mem.last_restart_at = Some(now);
        }
        if let Some(at) = mem.last_restart_at
            && now - at < RESTART_WINDOW_SECS
        {
            add(
                format!("service-restarted:{name}"),
                Severity::Warning,
                format!(
                    "{name} crashed and was restarted ({} time{} since NEXUS started)",
                    d.restarts,
                    if d.restarts == 1 { "" } else { "s" }
                ),
                Some("see `nexusctl logs` for what it said before it stopped"),
            );
        }
        if let Some(m) = &d.metrics {
            mem.requests = m.requests;
            mem.errors = m.errors;
            if let Some(b) = before
                && m.requests >= b.requests
                && m.errors >= b.errors
            {
                let requests = m.requests - b.requests;
                let errors = m.errors - b.errors;
                let share = if requests == 0 {
                    0.0
                } else {
                    errors as f64 * 100.0 / requests as f64
                };
                if errors >= MIN_ERRORS && share > settings.error_rate_percent {
                    add(
                        format!("error-rate:{name}"),
                        Severity::Warning,
                        format!(
                            "{name}: {errors} of {requests} requests ({share:.0}%) failed with a server error in the last {} s",
                            (now - b.at).max(1)
                        ),
                        Some("see `nexusctl logs` for the errors"),
                    );
                }
            }
        }
        memory.insert(name.clone(), mem);
    }

    // Disk.
    if let Some((used, total)) = inp.disk {
        let pct = used as f64 * 100.0 / total as f64;
        if pct >= settings.disk_percent {
            let critical = pct >= (settings.disk_percent + 100.0) / 2.0;
            add(
                "disk".to_owned(),
                if critical {
                    Severity::Critical
                } else {
                    Severity::Warning
                },
                format!(
                    "the disk of the state directory is {pct:.0}% full ({} free)",
                    crate::backup::size_text(total - used)
                ),
                Some("free space, or move blobs to S3 (`blobs.url`)"),
            );
        }
    }

    // Certificates.
    for (path, not_after) in &inp.certificates {
        let id = format!("certificate:{}", path.display());
        match not_after {
            Ok(t) => {
                let days = (t - now).div_euclid(86_400);
                if *t <= now {
                    add(
                        id,
                        Severity::Critical,
                        format!("the certificate {} has expired", path.display()),
                        Some("renew it"),
                    );
                } else if days < settings.certificate_days {
                    add(
                        id,
                        if days < 3 {
                            Severity::Critical
                        } else {
                            Severity::Warning
                        },
                        format!(
                            "the certificate {} expires in {days} day{}",
                            path.display(),
                            if days == 1 { "" } else { "s" }
                        ),
                        Some("renew it"),
                    );
                }
            }
            Err(why) => add(
                id,
                Severity::Warning,
                format!(
                    "the certificate {} cannot be checked: {why}",
                    path.display()
                ),
                None,
            ),
        }
    }

    // Backups.
    match &inp.schedule {
        None => add(
            "backup-unscheduled".to_owned(),
            Severity::Info,
            "no backups are scheduled".to_owned(),
            Some("`nexusctl backup schedule --repo … --at 02:30`"),
        ),
        Some(s) => {
            if let Some(a) = &inp.backups.last_attempt
                && !a.ok
            {
                add(
                    "backup-failed".to_owned(),
                    Severity::Critical,
                    format!(
                        "the last backup failed: {}",
                        a.error.as_deref().unwrap_or("no reason recorded")
                    ),
                    Some("see `nexusctl logs backup`; try `nexusctl backup run`"),
                );
            }
            let last_ok = inp.backups.last_success.as_ref().map(|a| a.finished);
            let age = now - last_ok.unwrap_or(s.created);
            if age > s.max_age_secs() {
                add(
                    "backup-overdue".to_owned(),
                    Severity::Warning,
                    match last_ok {
                        Some(_) => format!(
                            "the last successful backup is {} old (the schedule is {})",
                            age_text(age),
                            s.describe()
                        ),
                        None => format!(
                            "no backup has succeeded since backups were scheduled {} ago",
                            age_text(age)
                        ),
                    },
                    Some(
                        "is `nexusctl up` (or nexus-backup.timer) running? see `nexusctl logs backup`",
                    ),
                );
            }
        }
    }

    // An alert that goes on keeps the time it began.
    for a in &mut alerts {
        if let Some(p) = prev.and_then(|p| p.alerts.iter().find(|x| x.id == a.id)) {
            a.since = p.since;
        }
    }
    alerts.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.since.cmp(&b.since)));
    Report {
        evaluated_at: now,
        alerts,
        memory,
        mail: MailState::default(),
    }
}

pub fn age_text(secs: i64) -> String {
    let s = secs.max(0);
    match s {
        0..=119 => format!("{s} s"),
        120..=7199 => format!("{} min", s / 60),
        7200..=172_799 => format!("{} h", s / 3600),
        _ => format!("{} days", s / 86_400),
    }
}

/// `nexusctl alerts --test-mail`: one message to the configured recipients, now.
fn test_mail(dir: &StateDir, rt: &tokio::runtime::Runtime) -> Result<ExitCode> {
    let settings = load_settings(dir)?;
    if settings.email_to.is_empty() {
        return crate::cli::fail(
            2,
            format!(
                "no recipients: set email_to = [\"you@example.com\"] in {}",
                dir.root.join("alerts.toml").display()
            ),
        );
    }
    let host = crate::backup::hostname();
    let body = format!(
        "This is a test of the alert e-mails of NEXUS on {host}.\n\
         Alerts of severity {} and above are sent here when they begin and when they end.\n",
        settings.email_severity
    );
    match rt.block_on(send_mail(
        dir,
        &settings.email_to,
        &format!("[NEXUS {host}] test of the alert e-mails"),
        &body,
    )) {
        Ok(()) => {
            // Mail works now: the next evaluation retries at once what failed before.
            if let Some(mut report) = last(dir)
                && report.mail.retry_at.take().is_some()
            {
                save(dir, &report)?;
            }
            println!("sent a test message to {}", settings.email_to.join(", "));
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => crate::cli::fail(1, format!("{e:#}")),
    }
}

/// `nexusctl alerts`: evaluate now and print.
pub fn run(dir: &StateDir, json: bool, test: bool) -> Result<ExitCode> {
    if !dir.is_provisioned() {
        return crate::cli::fail(
            2,
            format!(
                "{} has no config.toml: run `nexusctl init` first",
                dir.root.display()
            ),
        );
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    if test {
        return test_mail(dir, &rt);
    }
    let report = rt.block_on(evaluate(dir))?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report.alerts)?);
        return Ok(ExitCode::SUCCESS);
    }
    if report.alerts.is_empty() {
        println!("no alerts: everything is well");
    }
    for a in &report.alerts {
        println!(
            "{:<8}  {}  (for {})",
            a.severity.to_string(),
            a.summary,
            age_text(report.evaluated_at - a.since)
        );
        if let Some(act) = &a.action {
            println!("          → {act}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use nexus_wire::{DaemonStatus, MetricsSummary};

    fn daemon(state: DaemonState, restarts: u32, requests: u64, errors: u64) -> DaemonStatus {
        DaemonStatus {
            name: "web".into(),
            state,
            pid: Some(10),
            ready: true,
            healthy: state == DaemonState::Running,
            version: Some("0.1.0".into()),
            uptime_secs: Some(5.0),
            restarts,
            apps: Vec::new(),
            rss_bytes: None,
            problem: None,
            metrics: Some(MetricsSummary {
                requests,
                errors,
                latency_p50_ms: None,
                latency_p99_ms: None,
                in_flight: 0,
                cpu_seconds: None,
                db_connections: None,
                db_idle: None,
            }),
        }
    }

    fn inputs(now: i64, d: DaemonStatus) -> Inputs {
        Inputs {
            now,
            status: StatusReport {
                state_dir: "/x".into(),
                url: Some("http://127.0.0.1:8080/".into()),
                healthy: d.healthy,
                supervisor_pid: Some(1),
                daemons: vec![d],
                release: None,
                previous_release: None,
            },
            disk: Some((10, 100)),
            certificates: Vec::new(),
            schedule: Some(schedule::Schedule {
                repo: "/b".into(),
                passphrase_file: None,
                include_secrets: false,
                every_secs: Some(3600),
                at: None,
                keep_last: 0,
                keep_daily: 0,
                keep_weekly: 0,
                keep_monthly: 0,
                created: now - 60,
            }),
            backups: schedule::Status::default(),
        }
    }

    fn ids(r: &Report) -> Vec<&str> {
        r.alerts.iter().map(|a| a.id.as_str()).collect()
    }

    #[test]
    fn a_healthy_instance_has_no_alerts() {
        let s = Settings::default();
        let r = rules(
            &inputs(1000, daemon(DaemonState::Running, 0, 100, 0)),
            &s,
            None,
        );
        assert!(r.alerts.is_empty(), "{:?}", r.alerts);
    }

    #[test]
    fn down_restarting_and_error_spikes_are_raised_and_keep_their_start() {
        let s = Settings::default();
        let first = rules(
            &inputs(1000, daemon(DaemonState::Running, 0, 100, 0)),
            &s,
            None,
        );
        // 40 more requests, 10 of them failed; and a crash.
        let second = rules(
            &inputs(1015, daemon(DaemonState::Running, 1, 140, 10)),
            &s,
            Some(&first),
        );
        assert_eq!(ids(&second), ["service-restarted:web", "error-rate:web"]);
        assert!(second.alerts[1].summary.contains("10 of 40 requests (25%)"));
        // Still within the window: the restart stays raised, from when it was seen first.
        let third = rules(
            &inputs(1300, daemon(DaemonState::Running, 1, 150, 10)),
            &s,
            Some(&second),
        );
        assert_eq!(ids(&third), ["service-restarted:web"]);
        assert_eq!(third.alerts[0].since, 1015);
        let later = rules(
            &inputs(1700, daemon(DaemonState::Running, 1, 150, 10)),
            &s,
            Some(&third),
        );
        assert!(later.alerts.is_empty());
        let down = rules(
            &inputs(1800, daemon(DaemonState::Failed, 1, 150, 10)),
            &s,
            Some(&later),
        );
        assert_eq!(down.alerts[0].severity, Severity::Critical);
        assert_eq!(ids(&down), ["service-down:web"]);
    }

    #[test]
    fn a_few_errors_are_not_a_spike() {
        let s = Settings::default();
        let first = rules(
            &inputs(1000, daemon(DaemonState::Running, 0, 0, 0)),
            &s,
            None,
        );
        let second = rules(
            &inputs(1015, daemon(DaemonState::Running, 0, 4, 4)),
            &s,
            Some(&first),
        );
        assert!(second.alerts.is_empty());
    }

    #[test]
    fn disk_certificates_and_backups() {
        let s = Settings::default();
        let mut i = inputs(100_000, daemon(DaemonState::Running, 0, 0, 0));
        i.disk = Some((92, 100));
        i.certificates = vec![
            (PathBuf::from("/tls/a.pem"), Ok(100_000 + 5 * 86_400 + 10)),
            (PathBuf::from("/tls/b.pem"), Ok(99_000)),
            (PathBuf::from("/tls/c.pem"), Ok(100_000 + 60 * 86_400)),
        ];
        i.backups.last_attempt = Some(schedule::Attempt {
            started: 99_000,
            finished: 99_010,
            ok: false,
            repo: "/b".into(),
            snapshot: None,
            error: Some("cannot reach the repository".into()),
            bytes: 0,
            added_bytes: 0,
        });
        if let Some(sc) = &mut i.schedule {
            sc.created = 100_000 - 3 * 3600;
        }
        let r = rules(&i, &s, None);
        let by_id: HashMap<&str, &Alert> = r.alerts.iter().map(|a| (a.id.as_str(), a)).collect();
        assert_eq!(by_id["disk"].severity, Severity::Warning);
        assert!(
            by_id["certificate:/tls/a.pem"]
                .summary
                .contains("expires in 5 days")
        );
        assert_eq!(by_id["certificate:/tls/b.pem"].severity, Severity::Critical);
        assert!(!by_id.contains_key("certificate:/tls/c.pem"));
        assert!(
            by_id["backup-failed"]
                .summary
                .contains("cannot reach the repository")
        );
        assert!(
            by_id["backup-overdue"]
                .summary
                .contains("no backup has succeeded")
        );
        // Critical first.
        assert_eq!(r.alerts[0].severity, Severity::Critical);

        i.disk = Some((97, 100));
        i.schedule = None;
        let r = rules(&i, &s, None);
        let by_id: HashMap<&str, &Alert> = r.alerts.iter().map(|a| (a.id.as_str(), a)).collect();
        assert_eq!(by_id["disk"].severity, Severity::Critical);
        assert_eq!(by_id["backup-unscheduled"].severity, Severity::Info);
    }
}
