//! Outbox queries for SQLite.

use crate::BeginWrite;
use chrono::{DateTime, Utc};
use sqlx::{Row, SqliteConnection, SqlitePool};
use uuid::Uuid;

use super::{NewEvent, Pending};
use crate::{OrgId, StoreError};

/// Appends `event` inside the caller's transaction; returns the event id.
pub async fn append(conn: &mut SqliteConnection, event: &NewEvent) -> Result<Uuid, StoreError> {
    let id = NewEvent::fresh_id();
    sqlx::query(
        "INSERT INTO nexus_outbox (event_id, org_id, app, kind, payload, created_at) VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(id)
    .bind(event.org)
    .bind(event.app)
    .bind(&event.kind)
    .bind(event.payload.to_string())
    .bind(Utc::now())
    .execute(conn)
    .await?;
    Ok(id)
}

pub(crate) async fn claim_batch(
    publish: &mut (dyn FnMut(Pending) + Send),
    pool: &SqlitePool,
    limit: i64,
) -> Result<usize, StoreError> {
    // One writer at a time in SQLite: BEGIN IMMEDIATE makes the claim exclusive.
    let mut tx = pool.begin_write().await?;
    let rows = sqlx::query(
        "SELECT seq, event_id, org_id, app, kind, payload, created_at FROM nexus_outbox \
         WHERE dispatched_at IS NULL ORDER BY seq LIMIT ?",
    )
    .bind(limit)
    .fetch_all(&mut *tx)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let payload: String = r.try_get("payload")?;
        out.push(Pending {
            seq: r.try_get("seq")?,
            id: r.try_get("event_id")?,
            org: r.try_get::<OrgId, _>("org_id")?,
            app: r.try_get("app")?,
            kind: r.try_get("kind")?,
            payload: serde_json::from_str(&payload)
                .map_err(|e| StoreError::Corrupt(format!("outbox payload is not JSON: {e}")))?,
            created_at: r.try_get("created_at")?,
        });
    }
    // Publish before marking: if the process dies in between, the commit never happens and
    // the events go out again on the next start (at least once, never lost).
    let n = out.len();
    let last = out.last().map(|p| p.seq);
    for p in out {
        publish(p);
    }
    if let Some(last) = last {
        sqlx::query(
            "UPDATE nexus_outbox SET dispatched_at = ? WHERE dispatched_at IS NULL AND seq <= ?",
        )
        .bind(Utc::now())
        .bind(last)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(n)
}

pub(crate) async fn prune(pool: &SqlitePool, before: DateTime<Utc>) -> Result<u64, StoreError> {
    let r = sqlx::query(
        "DELETE FROM nexus_outbox WHERE dispatched_at IS NOT NULL AND dispatched_at < ?",
    )
    .bind(before)
    .execute(pool)
    .await?;
    Ok(r.rows_affected())
}
