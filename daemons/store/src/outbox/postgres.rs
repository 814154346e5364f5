//! Outbox queries for PostgreSQL.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool, Row};
use uuid::Uuid;

use super::{NewEvent, Pending};
use crate::{OrgId, StoreError};

/// Appends `event` inside the caller's transaction; returns the event id.
pub async fn append(conn: &mut PgConnection, event: &NewEvent) -> Result<Uuid, StoreError> {
    let id = NewEvent::fresh_id();
    sqlx::query(
        "INSERT INTO nexus_outbox (event_id, org_id, app, kind, payload, created_at) VALUES ($1, $2, $3, $4, $5::jsonb, $6)",
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
    pool: &PgPool,
    limit: i64,
) -> Result<usize, StoreError> {
    // SKIP LOCKED lets several nodes dispatch from one database without double delivery
    // inside a round and without waiting on each other.
    let mut tx = pool.begin().await?;
    let rows = sqlx::query(
        "SELECT seq, event_id, org_id, app, kind, payload::text AS payload, created_at FROM nexus_outbox \
         WHERE dispatched_at IS NULL ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED",
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
    // Publish before marking (see the SQLite twin): a crash in between means redelivery.
    let seqs: Vec<i64> = out.iter().map(|p| p.seq).collect();
    for p in out {
        publish(p);
    }
    if !seqs.is_empty() {
        sqlx::query("UPDATE nexus_outbox SET dispatched_at = $1 WHERE seq = ANY($2)")
            .bind(Utc::now())
            .bind(&seqs)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(seqs.len())
}

pub(crate) async fn prune(pool: &PgPool, before: DateTime<Utc>) -> Result<u64, StoreError> {
    let r = sqlx::query(
        "DELETE FROM nexus_outbox WHERE dispatched_at IS NOT NULL AND dispatched_at < $1",
    )
    .bind(before)
    .execute(pool)
    .await?;
    Ok(r.rows_affected())
}
