//! The periodic jobs `nexusctl up` runs beside the daemons: scheduled backups and alert
//! evaluation. On a systemd host, timers run the same commands (`nexusctl backup run`,
//! `nexusctl alerts`).

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::backup::schedule;
use crate::state::StateDir;
use crate::supervisor::Token;

/// The longest the scheduler sleeps before looking at the schedule again (it may change).
const RECHECK: Duration = Duration::from_secs(15);
/// Runs started by this scheduler are at least one period, and at most this, apart even
/// when the last one failed before it could record itself.
const MAX_GAP: Duration = Duration::from_secs(60);

/// Runs `nexusctl backup run` whenever the schedule says, until `stop` fires. Its output
/// goes to `logs/backup.log` (`nexusctl logs backup`).
pub async fn backups(dir: StateDir, nexusd: crate::daemons::Nexusd, mut stop: Token) {
    let mut last_started: Option<Instant> = None;
    loop {
        let mut gap = MAX_GAP;
        let due_in = match schedule::load(&dir) {
            Ok(Some(s)) => {
                gap = gap.min(Duration::from_secs(s.every_secs.unwrap_or(u64::MAX)));
                let last = schedule::status(&dir).last_attempt.map(|a| a.started);
                (s.next_run(last) - chrono::Utc::now())
                    .to_std()
                    .unwrap_or(Duration::ZERO)
            }
            Ok(None) => RECHECK,
            Err(e) => {
                eprintln!("nexusctl: {e:#}");
                RECHECK * 4
            }
        };
        let too_soon = last_started
            .map(|t| gap.saturating_sub(t.elapsed()))
            .unwrap_or(Duration::ZERO);
        let wait = due_in.max(too_soon);
        if !wait.is_zero() {
            tokio::select! {
                _ = tokio::time::sleep(wait.min(RECHECK)) => continue,
                _ = stop.fired() => return,
            }
        }
        last_started = Some(Instant::now());
        if !run_backup(&dir, &nexusd, &mut stop).await {
            return;
        }
    }
}

/// One `backup run`; false when NEXUS is stopping (the backup was interrupted; the
/// repository stays valid and the next run resumes it).
async fn run_backup(dir: &StateDir, nexusd: &crate::daemons::Nexusd, stop: &mut Token) -> bool {
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("nexusctl: cannot run the scheduled backup: {e}");
            return true;
        }
    };
    let log = match crate::logs::LogFile::open(&dir.log_file("backup")) {
        Ok(f) => Some(Arc::new(Mutex::new(f))),
        Err(e) => {
            eprintln!("nexusctl: {e:#}; the scheduled backup's output is not kept");
            None
        }
    };
    let mut cmd = tokio::process::Command::new(exe);
    // The binary of the installed release at the time of the run, unless one was pinned.
    if let Some(pinned) = nexusd.pinned() {
        cmd.env("NEXUSD", pinned);
    }
    cmd.arg("--state-dir")
        .arg(&dir.root)
        .args(["backup", "run", "--quiet"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("nexusctl: cannot run the scheduled backup: {e}");
            return true;
        }
    };
    if let Some(log) = &log {
        if let Some(out) = child.stdout.take() {
            crate::logs::pump(out, log.clone(), false);
        }
        if let Some(err) = child.stderr.take() {
            crate::logs::pump(err, log.clone(), true);
        }
    }
    tokio::select! {
        status = child.wait() => {
            match status {
                Ok(s) if s.success() => {}
                _ => eprintln!("nexusctl: the scheduled backup failed; see `nexusctl logs backup` and `nexusctl alerts`"),
            }
            true
        }
        _ = stop.fired() => {
            if let Some(pid) = child.id() {
                crate::supervisor::terminate(&mut child, pid).await;
            }
            false
        }
    }
}

/// How often the alerts are evaluated.
const ALERTS_EVERY: Duration = Duration::from_secs(15);

/// Evaluates the alerts every 15 s (first once the daemons had time to start), announcing
/// each new one on the terminal, until `stop` fires.
pub async fn alerts(dir: StateDir, mut stop: Token) {
    let mut known: std::collections::HashSet<String> = crate::alerts::last(&dir)
        .map(|r| r.alerts.into_iter().map(|a| a.id).collect())
        .unwrap_or_default();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(ALERTS_EVERY) => {}
            _ = stop.fired() => return,
        }
        match crate::alerts::evaluate(&dir).await {
            Ok(report) => {
                for a in &report.alerts {
                    if a.severity > crate::alerts::Severity::Info && !known.contains(&a.id) {
                        eprintln!("nexusctl: alert ({}): {}", a.severity, a.summary);
                    }
                }
                known = report.alerts.into_iter().map(|a| a.id).collect();
            }
            Err(e) => eprintln!("nexusctl: cannot evaluate the alerts: {e:#}"),
        }
    }
}
