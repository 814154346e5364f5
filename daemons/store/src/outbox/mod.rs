//! The transactional outbox.
//!
//! An app writes its domain event with [`sqlite::append`] or [`postgres::append`] inside the
//! transaction that makes the change, so the event exists exactly when the change does. The
//! [`Outbox`] dispatcher then reads pending events in order, publishes them on the
//! [`EventBus`], and marks them dispatched in the same transaction, after publishing: a
//! crash in between delivers the events again (at least once), never loses them.
//!
//! Each pending event is claimed by one process. With several daemons on one database an
//! event therefore reaches the in-process bus of the daemon that claimed it; fan-out between
//! processes and nodes (NATS) is planned.

pub mod postgres;
pub mod sqlite;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::{Db, Event, EventBus, OrgId, StoreError};

/// An event to be written in the current transaction.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub org: OrgId,
    pub app: &'static str,
    pub kind: String,
    pub payload: serde_json::Value,
}

impl NewEvent {
    pub fn new(
        org: OrgId,
        app: &'static str,
        kind: impl Into<String>,
        payload: serde_json::Value,
    ) -> Self {
        Self {
            org,
            app,
            kind: kind.into(),
            payload,
        }
    }

    pub(crate) fn fresh_id() -> Uuid {
        Uuid::now_v7()
    }
}

/// A row read back from the outbox.
#[derive(Debug, Clone)]
pub(crate) struct Pending {
    pub seq: i64,
    pub id: Uuid,
    pub org: OrgId,
    pub app: String,
    pub kind: String,
    pub payload: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

impl From<Pending> for Event {
    fn from(p: Pending) -> Self {
        Event {
            id: p.id,
            seq: p.seq,
            org: p.org,
            app: p.app,
            kind: p.kind,
            payload: p.payload,
            created_at: p.created_at,
        }
    }
}

/// Moves committed events from the outbox table to the bus.
#[derive(Debug, Clone)]
pub struct Outbox {
    db: Db,
    bus: EventBus,
    wake: Arc<Notify>,
}

/// How many events one dispatch round moves at most.
const BATCH: i64 = 256;
/// How long a dispatched event stays in the table (for replay and debugging).
const RETENTION: chrono::TimeDelta = chrono::TimeDelta::days(7);

impl Outbox {
    pub fn new(db: Db, bus: EventBus) -> Self {
        Self {
            db,
            bus,
            wake: Arc::new(Notify::new()),
        }
    }

    pub fn bus(&self) -> &EventBus {
        &self.bus
    }

    /// Call after committing a transaction that appended events, so they go out at once
    /// instead of at the next poll.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Dispatches everything pending now; returns how many events went out.
    pub async fn dispatch_pending(&self) -> Result<usize, StoreError> {
        let mut total = 0;
        loop {
            let bus = &self.bus;
            let mut publish = |p: Pending| {
                bus.publish(p.into());
            };
            let n = match &self.db {
                Db::Sqlite(pool) => sqlite::claim_batch(&mut publish, pool, BATCH).await?,
                Db::Postgres(pool) => postgres::claim_batch(&mut publish, pool, BATCH).await?,
            };
            total += n;
            if i64::try_from(n).unwrap_or(i64::MAX) < BATCH {
                return Ok(total);
            }
        }
    }

    /// Deletes dispatched events older than the retention period.
    pub async fn prune(&self) -> Result<u64, StoreError> {
        let before = Utc::now() - RETENTION;
        match &self.db {
            Db::Sqlite(pool) => sqlite::prune(pool, before).await,
            Db::Postgres(pool) => postgres::prune(pool, before).await,
        }
    }

    /// Runs until `cancel` fires: dispatches on every wake-up and at least every `poll`
    /// (events appended by other processes on the same database are found by the poll).
    pub async fn run(self, poll: Duration, cancel: CancellationToken) {
        let mut since_prune = tokio::time::Instant::now();
        loop {
            if let Err(e) = self.dispatch_pending().await {
                tracing::warn!(error = %e, "outbox dispatch failed; retrying");
            }
            if since_prune.elapsed() > Duration::from_secs(3600) {
                since_prune = tokio::time::Instant::now();
                if let Err(e) = self.prune().await {
                    tracing::warn!(error = %e, "outbox prune failed");
                }
            }
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(poll) => {}
            }
        }
        // Deliver what was committed before shutdown began.
        if let Err(e) = self.dispatch_pending().await {
            tracing::warn!(error = %e, "final outbox dispatch failed; events stay pending for the next start");
        }
    }
}
