//! The instance's alerts, for the admin console. `nexusctl` evaluates them (under
//! `nexusctl up` every 15 s; elsewhere whenever `nexusctl alerts` runs) and
//! keeps the result in `<state>/run/alerts.json`; daemons only read that file, so showing
//! them costs nothing until somebody looks.

use std::path::Path;

use nexus_wire::{Alert, InstanceAlerts};
use serde::Deserialize;

/// Where `nexusctl` keeps the last evaluation, relative to the state directory.
pub const FILE: &str = "run/alerts.json";

/// An evaluation older than this is shown as possibly out of date.
pub const STALE_AFTER_SECS: i64 = 300;

#[derive(Deserialize)]
struct Stored {
    evaluated_at: i64,
    alerts: Vec<Alert>,
}

/// The last evaluation, as of `now` (Unix seconds). No file: never evaluated (empty and
/// stale). A file that cannot be read or parsed is an error that names it.
pub fn read(state_dir: &Path, now: i64) -> Result<InstanceAlerts, String> {
    let path = state_dir.join(FILE);
    match std::fs::read(&path) {
        Ok(raw) => {
            let stored: Stored = serde_json::from_slice(&raw).map_err(|e| {
                format!(
                    "{} is damaged ({e}); `nexusctl alerts` writes it anew",
                    path.display()
                )
            })?;
            Ok(InstanceAlerts {
                evaluated_at: Some(stored.evaluated_at),
                stale: now - stored.evaluated_at > STALE_AFTER_SECS,
                alerts: stored.alerts,
            })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(InstanceAlerts {
            evaluated_at: None,
            alerts: Vec::new(),
            stale: true,
        }),
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_evaluated_fresh_stale_and_damaged() {
        let dir = tempfile::tempdir().unwrap();
        let never = read(dir.path(), 1000).unwrap();
        assert_eq!(never.evaluated_at, None);
        assert!(never.stale && never.alerts.is_empty());

        std::fs::create_dir_all(dir.path().join("run")).unwrap();
        // What nexusctl writes, including what only it reads (`memory`).
        std::fs::write(
            dir.path().join(FILE),
            r#"{"evaluated_at": 1000, "memory": {}, "alerts": [
                {"id": "disk", "severity": "warning", "summary": "disk 95% full", "since": 900}
            ]}"#,
        )
        .unwrap();
        let fresh = read(dir.path(), 1010).unwrap();
        assert_eq!(fresh.evaluated_at, Some(1000));
        assert!(!fresh.stale);
        assert_eq!(fresh.alerts[0].id, "disk");
        assert_eq!(fresh.alerts[0].severity, nexus_wire::AlertSeverity::Warning);
        assert!(read(dir.path(), 1000 + STALE_AFTER_SECS + 1).unwrap().stale);

        std::fs::write(dir.path().join(FILE), "{not json").unwrap();
        let err = read(dir.path(), 1000).unwrap_err();
        assert!(err.contains("damaged"), "{err}");
    }
}
