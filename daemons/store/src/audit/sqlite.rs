//! Audit appends for SQLite.

use sqlx::SqliteConnection;

use super::{NewRecord, Record};
use crate::StoreError;

/// Appends `rec` inside the caller's transaction and returns it as stored.
///
/// Call it after the change's own write (or in a `BEGIN IMMEDIATE` transaction): SQLite then
/// holds the database's single write lock, so no other writer can take the same sequence
/// number between reading the head and inserting.
pub async fn append(conn: &mut SqliteConnection, rec: &NewRecord) -> Result<Record, StoreError> {
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
