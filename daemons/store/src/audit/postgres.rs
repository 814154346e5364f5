//! Audit appends for PostgreSQL.

use sqlx::PgConnection;

use super::{NewRecord, Record};
use crate::StoreError;

/// Key of the transaction-scoped advisory lock that serializes appends ("NXAUDIT1").
const LOCK_KEY: i64 = 0x4e58_4155_4449_5431;

/// Appends `rec` inside the caller's transaction and returns it as stored.
///
/// An advisory lock held until the transaction ends serializes appenders, so each reads
/// the head the previous one committed (READ COMMITTED sees it once the lock is granted).
pub async fn append(conn: &mut PgConnection, rec: &NewRecord) -> Result<Record, StoreError> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(LOCK_KEY)
        .execute(&mut *conn)
        .await?;
    let head: Option<(i64, String)> = sqlx::query_as(super::HEAD_SQL)
        .fetch_optional(&mut *conn)
        .await?;
    let r = rec.seal(head);
    sqlx::query(super::INSERT_SQL)
        .bind(r.seq)
        .bind(&r.at)
        .bind(&r.org_id)
        .bind(&r.actor)
        .bind(&r.source)
        .bind(&r.action)
        .bind(&r.target)
        .bind(&r.detail)
        .bind(&r.prev_hash)
        .bind(&r.hash)
        .execute(conn)
        .await?;
    Ok(r)
}
