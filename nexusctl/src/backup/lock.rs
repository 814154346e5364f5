//! Repository locks: backups may run side by side, but never while a prune rewrites packs
//! (a backup could count on a chunk that prune is deleting).
//!
//! A lock is an object `locks/ID` naming its holder; a backup renews its lock as it uploads.
//! A lock not renewed for [`STALE_AFTER`], or whose process is gone from this machine, was
//! left by a process that died (kill -9, power loss) and is ignored, so nothing stays locked
//! forever.

use std::sync::Arc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::Result;
use object_store::ObjectStore;
use serde::{Deserialize, Serialize};

use super::repo::{self, Repo};
use crate::cli::fail;

pub const STALE_AFTER: Duration = Duration::from_secs(30 * 60);
const RENEW_AFTER: Duration = Duration::from_secs(5 * 60);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Backup,
    Prune,
}

#[derive(Debug, Serialize, Deserialize)]
struct Record {
    kind: Kind,
    host: String,
    pid: u32,
    /// Unix seconds of the last renewal.
    time: i64,
}

/// A lock this process holds.
#[derive(Clone)]
pub struct Held {
    name: String,
    kind: Kind,
    renewed: Arc<Mutex<Instant>>,
}

fn record(kind: Kind) -> Result<Vec<u8>> {
    Ok(serde_json::to_vec(&Record {
        kind,
        host: super::create::hostname(),
        pid: std::process::id(),
        time: chrono::Utc::now().timestamp(),
    })?)
}

pub async fn acquire(repo: &Repo, kind: Kind) -> Result<Held> {
    let now = chrono::Utc::now().timestamp();
    for (name, _) in repo.list("locks/").await? {
        let Some(raw) = repo::get_opt(&repo.store, &name).await? else {
            continue;
        };
        let Ok(other) = serde_json::from_slice::<Record>(&raw) else {
            continue;
        };
        let age = now.saturating_sub(other.time);
        // Left by a process that died: on this machine we can tell at once.
        let dead_here = other.host == super::create::hostname() && !crate::state::alive(other.pid);
        if age > STALE_AFTER.as_secs() as i64 || dead_here {
            if dead_here {
                let _ = repo::delete(&repo.store, &name).await;
            }
            continue;
        }
        let clash = kind == Kind::Prune || other.kind == Kind::Prune;
        if clash {
            let what = match other.kind {
                Kind::Backup => "a backup",
                Kind::Prune => "a prune",
            };
            return fail(
                4,
                format!(
                    "{what} by {} (pid {}) is using the repository (lock {name}, renewed {age} s ago): \
                     try again when it is done; a lock left by a process that died expires after {} minutes",
                    other.host,
                    other.pid,
                    STALE_AFTER.as_secs() / 60
                ),
            );
        }
    }
    let name = format!("locks/{}", repo::random_id());
    repo::put(&repo.store, &name, record(kind)?).await?;
    Ok(Held {
        name,
        kind,
        renewed: Arc::new(Mutex::new(Instant::now())),
    })
}

impl Held {
    /// Renews the lock if it is getting old.
    pub async fn refresh(&self, store: &Arc<dyn ObjectStore>) {
        let due = self
            .renewed
            .lock()
            .map(|t| t.elapsed() > RENEW_AFTER)
            .unwrap_or(false);
        if due {
            if let Ok(rec) = record(self.kind) {
                let _ = repo::put(store, &self.name, rec).await;
            }
            if let Ok(mut t) = self.renewed.lock() {
                *t = Instant::now();
            }
        }
    }
}

pub async fn release(repo: &Repo, held: &Held) {
    let _ = repo::delete(&repo.store, &held.name).await;
}
