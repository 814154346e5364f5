//! Scheduled backups and what became of them.
//!
//! `backup schedule` writes `<state>/backup/schedule.toml`: the repository, its passphrase
//! file, how often (`every` seconds, or daily `at` HH:MM local time) and the retention
//! policy. `backup run` does what it says (create, then prune). Who calls `backup run`:
//! `nexusctl up`'s supervisor when it is due, or on a systemd host the `nexus-backup.timer`
//! this writes. Every `backup create` of the instance, scheduled or not, records its outcome
//! in `<state>/backup/status.json`; the alerts read both files.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use chrono::{DateTime, Local, NaiveTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use crate::cli::fail;
use crate::state::{StateDir, write_atomic};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Schedule {
    pub repo: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passphrase_file: Option<PathBuf>,
    #[serde(default)]
    pub include_secrets: bool,
    /// Every this many seconds…
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub every_secs: Option<u64>,
    /// …or daily at this local time, `HH:MM`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
    #[serde(default)]
    pub keep_last: u32,
    #[serde(default)]
    pub keep_daily: u32,
    #[serde(default)]
    pub keep_weekly: u32,
    #[serde(default)]
    pub keep_monthly: u32,
    /// When it was set (Unix seconds): the first run is one period after.
    pub created: i64,
}

/// What the last backups of this instance did.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Status {
    pub last_attempt: Option<Attempt>,
    pub last_success: Option<Attempt>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Attempt {
    /// Unix seconds.
    pub started: i64,
    pub finished: i64,
    pub ok: bool,
    pub repo: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default)]
    pub bytes: u64,
    #[serde(default)]
    pub added_bytes: u64,
}

pub fn dir(state: &StateDir) -> PathBuf {
    state.root.join("backup")
}

fn schedule_file(state: &StateDir) -> PathBuf {
    dir(state).join("schedule.toml")
}

fn status_file(state: &StateDir) -> PathBuf {
    dir(state).join("status.json")
}

/// The instance's schedule; `None` when there is none (an unreadable one is an error).
pub fn load(state: &StateDir) -> Result<Option<Schedule>> {
    let path = schedule_file(state);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    toml::from_str(&text).map(Some).with_context(|| {
        format!(
            "{} is damaged: set it again with `nexusctl backup schedule`",
            path.display()
        )
    })
}

pub fn save(state: &StateDir, s: &Schedule) -> Result<()> {
    write_atomic(&schedule_file(state), toml::to_string(s)?.as_bytes())
}

pub fn remove(state: &StateDir) -> Result<bool> {
    match std::fs::remove_file(schedule_file(state)) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e).context("cannot remove the backup schedule"),
    }
}

pub fn status(state: &StateDir) -> Status {
    std::fs::read(status_file(state))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

/// Records the outcome of a backup of this instance.
pub fn record(state: &StateDir, attempt: Attempt) -> Result<()> {
    let mut st = status(state);
    if attempt.ok {
        st.last_success = Some(attempt.clone());
    }
    st.last_attempt = Some(attempt);
    write_atomic(&status_file(state), &serde_json::to_vec_pretty(&st)?)
}

/// `30s`, `15m`, `6h`, `1d` (or plain seconds) → seconds.
pub fn parse_every(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let (num, unit) = t
        .find(|c: char| !c.is_ascii_digit())
        .map_or((t, "s"), |i| t.split_at(i));
    let n: u64 = num
        .parse()
        .map_err(|_| format!("`{text}`: use a number and s, m, h or d, e.g. 6h"))?;
    let secs = match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        _ => return Err(format!("`{text}`: the unit is s, m, h or d, e.g. 6h")),
    };
    if secs == 0 {
        return Err("the interval must be longer than zero".to_owned());
    }
    Ok(secs)
}

/// `HH:MM` → the time of day.
pub fn parse_at(text: &str) -> Result<NaiveTime, String> {
    NaiveTime::parse_from_str(text.trim(), "%H:%M")
        .map_err(|_| format!("`{text}`: give a time of day as HH:MM, e.g. 02:30"))
}

impl Schedule {
    /// When the next run is due, given the last attempt (Unix seconds). A run missed while
    /// nothing was running is due at once.
    pub fn next_run(&self, last_attempt: Option<i64>) -> DateTime<Utc> {
        let base = last_attempt.unwrap_or(self.created).max(self.created);
        let base_t = Utc.timestamp_opt(base, 0).single().unwrap_or_else(Utc::now);
        if let Some(every) = self.every_secs {
            return base_t
                + chrono::Duration::seconds(i64::try_from(every).unwrap_or(i64::MAX / 2));
        }
        let at = self
            .at
            .as_deref()
            .and_then(|a| parse_at(a).ok())
            .unwrap_or(NaiveTime::MIN);
        // The first HH:MM (local time) after the base.
        let local = base_t.with_timezone(&Local);
        let mut day = local.date_naive();
        for _ in 0..3 {
            if let Some(t) = Local
                .from_local_datetime(&day.and_time(at))
                .earliest()
                .map(|t| t.with_timezone(&Utc))
                && t > base_t
            {
                return t;
            }
            day = day.succ_opt().unwrap_or(day);
        }
        base_t + chrono::Duration::days(1)
    }

    /// How old the last successful backup may be before it is an alert: two periods.
    pub fn max_age_secs(&self) -> i64 {
        let period = self.every_secs.unwrap_or(86_400);
        i64::try_from(period.saturating_mul(2)).unwrap_or(i64::MAX)
    }

    pub fn policy(&self) -> super::maintain::Policy {
        super::maintain::Policy {
            last: self.keep_last,
            daily: self.keep_daily,
            weekly: self.keep_weekly,
            monthly: self.keep_monthly,
        }
    }

    /// In words: "every 6 h", "daily at 02:30".
    pub fn describe(&self) -> String {
        match (self.every_secs, &self.at) {
            (Some(s), _) if s % 86_400 == 0 => format!("every {} d", s / 86_400),
            (Some(s), _) if s % 3600 == 0 => format!("every {} h", s / 3600),
            (Some(s), _) if s % 60 == 0 => format!("every {} min", s / 60),
            (Some(s), _) => format!("every {s} s"),
            (None, Some(at)) => format!("daily at {at}"),
            (None, None) => "daily".to_owned(),
        }
    }
}

/// The systemd units that run the schedule on a systemd host: a oneshot service running
/// `nexusctl backup run` and its timer.
pub fn systemd_units(s: &Schedule, nexusctl: &Path, state: &Path) -> (String, String) {
    let service = format!(
        "[Unit]\n\
         Description=NEXUS scheduled backup\n\
         After=network-online.target nexus-web.service\n\
         Wants=network-online.target\n\n\
         [Service]\n\
         Type=oneshot\n\
         ExecStart={} --state-dir {} backup run --quiet\n\
         Nice=10\n\
         IOSchedulingClass=idle\n",
        nexusctl.display(),
        state.display()
    );
    let when = match (s.every_secs, &s.at) {
        (Some(secs), _) => format!("OnActiveSec={secs}s\nOnUnitActiveSec={secs}s\n"),
        (None, at) => format!(
            "OnCalendar=*-*-* {}:00\nPersistent=true\n",
            at.as_deref().unwrap_or("00:00")
        ),
    };
    let timer = format!(
        "[Unit]\n\
         Description=NEXUS scheduled backup ({})\n\n\
         [Timer]\n\
         {when}\
         RandomizedDelaySec=0\n\n\
         [Install]\n\
         WantedBy=timers.target\n",
        s.describe()
    );
    (service, timer)
}

/// Installs (or with `None` removes) the timer on a systemd host; does nothing elsewhere.
/// Returns whether systemd now runs it.
pub fn apply_systemd(s: Option<&Schedule>, state: &Path) -> Result<bool> {
    if !Path::new("/run/systemd/system").is_dir() || crate::daemons::on_path("systemctl").is_none()
    {
        return Ok(false);
    }
    let units = std::env::var_os("NEXUS_SYSTEMD_UNIT_DIR")
        .map_or_else(|| PathBuf::from("/etc/systemd/system"), PathBuf::from);
    let service_path = units.join("nexus-backup.service");
    let timer_path = units.join("nexus-backup.timer");
    let systemctl = |args: &[&str]| -> Result<()> {
        let out = std::process::Command::new("systemctl")
            .args(args)
            .output()
            .context("cannot run systemctl")?;
        if out.status.success() {
            Ok(())
        } else {
            fail(
                1,
                format!(
                    "systemctl {} failed: {}",
                    args.join(" "),
                    String::from_utf8_lossy(&out.stderr).trim()
                ),
            )
        }
    };
    match s {
        Some(s) => {
            let exe = std::env::current_exe().context("cannot find this nexusctl")?;
            let (service, timer) = systemd_units(s, &exe, state);
            std::fs::write(&service_path, service)
                .with_context(|| format!("cannot write {}", service_path.display()))?;
            std::fs::write(&timer_path, timer)
                .with_context(|| format!("cannot write {}", timer_path.display()))?;
            systemctl(&["daemon-reload"])?;
            systemctl(&["enable", "--now", "nexus-backup.timer"])?;
            // A changed timer takes its new times from a restart.
            systemctl(&["restart", "nexus-backup.timer"])?;
        }
        None => {
            if timer_path.exists() {
                systemctl(&["disable", "--now", "nexus-backup.timer"])?;
            }
            let _ = std::fs::remove_file(&timer_path);
            let _ = std::fs::remove_file(&service_path);
            systemctl(&["daemon-reload"])?;
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn every(secs: u64) -> Schedule {
        Schedule {
            repo: "/backup".into(),
            passphrase_file: None,
            include_secrets: false,
            every_secs: Some(secs),
            at: None,
            keep_last: 0,
            keep_daily: 7,
            keep_weekly: 0,
            keep_monthly: 0,
            created: 1_000_000,
        }
    }

    #[test]
    fn intervals_parse_with_units_and_refuse_nonsense() {
        assert_eq!(parse_every("30s"), Ok(30));
        assert_eq!(parse_every("15m"), Ok(900));
        assert_eq!(parse_every("6h"), Ok(21_600));
        assert_eq!(parse_every("1d"), Ok(86_400));
        assert_eq!(parse_every("90"), Ok(90));
        assert!(parse_every("0h").is_err());
        assert!(parse_every("6 hours").is_err());
        assert!(parse_every("h").is_err());
        assert!(parse_at("02:30").is_ok());
        assert!(parse_at("25:00").is_err());
    }

    #[test]
    fn the_next_run_follows_the_last_attempt_or_the_schedule_itself() {
        let s = every(3600);
        assert_eq!(s.next_run(None).timestamp(), 1_000_000 + 3600);
        assert_eq!(s.next_run(Some(2_000_000)).timestamp(), 2_000_000 + 3600);
        // An attempt before the schedule was set does not make the first run early.
        assert_eq!(s.next_run(Some(10)).timestamp(), 1_000_000 + 3600);
        assert_eq!(s.max_age_secs(), 7200);

        let mut daily = every(0);
        daily.every_secs = None;
        daily.at = Some("02:30".into());
        let next = daily.next_run(Some(2_000_000)).with_timezone(&Local);
        assert_eq!(next.format("%H:%M").to_string(), "02:30");
        let gap = next.timestamp() - 2_000_000;
        assert!((1..=86_400 + 3600).contains(&gap), "{gap}");
        assert_eq!(daily.describe(), "daily at 02:30");
        assert_eq!(daily.max_age_secs(), 2 * 86_400);
    }

    #[test]
    fn systemd_units_run_backup_run_on_the_schedule() {
        let (service, timer) = systemd_units(
            &every(21_600),
            Path::new("/usr/bin/nexusctl"),
            Path::new("/var/lib/nexus"),
        );
        assert!(
            service.contains(
                "ExecStart=/usr/bin/nexusctl --state-dir /var/lib/nexus backup run --quiet"
            )
        );
        assert!(service.contains("Type=oneshot"));
        assert!(timer.contains("OnUnitActiveSec=21600s"), "{timer}");
        assert!(timer.contains("every 6 h"));
        let mut daily = every(0);
        daily.every_secs = None;
        daily.at = Some("02:30".into());
        let (_, timer) = systemd_units(&daily, Path::new("/x"), Path::new("/y"));
        assert!(timer.contains("OnCalendar=*-*-* 02:30:00"), "{timer}");
        assert!(timer.contains("Persistent=true"));
    }
}
