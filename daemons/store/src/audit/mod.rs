//! The audit log: append-only, hash-chained records of who changed what, when, and from where.
//!
//! An app appends a record with [`sqlite::append`] or [`postgres::append`] inside the
//! transaction that makes the change, after the change's own write, so the record exists
//! exactly when the change does. Records form one chain for the whole instance: record `n`
//! carries the SHA-256 of record `n-1` (`prev_hash`) and its own hash over its fields and
//! that link. [`verify`] walks the chain and names every record that was edited, removed or
//! inserted; an [`Anchor`] (the head seen by the previous verification, kept outside the
//! database) also exposes removal of the newest records and a rewrite of the whole chain.
//!
//! Written here rather than taken from a crate: the chain is a few lines over `sha2`, and it
//! has to live in the same SQL transaction as each change, which no audit crate offers.

pub mod postgres;
pub mod sqlite;

use crate::BeginWrite;
use chrono::SecondsFormat;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{Db, OrgId, StoreError};

/// The newest record's sequence number and hash (the same SQL on both backends).
pub(crate) const HEAD_SQL: &str = "SELECT seq, hash FROM nexus_audit ORDER BY seq DESC LIMIT 1";
/// Inserts a sealed record; the binds follow [`Record`]'s field order.
pub(crate) const INSERT_SQL: &str = "INSERT INTO nexus_audit \
     (seq, at, org_id, actor, source, action, target, detail, prev_hash, hash) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";

/// `prev_hash` of the first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Who made a change and from where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// A user (`email (id)`), `operator:<unix user>` for the command line, or `system`.
    pub who: String,
    /// The client address, or `local` for the command line.
    pub from: String,
}

impl Actor {
    pub fn new(who: impl Into<String>, from: impl Into<String>) -> Self {
        Self {
            who: who.into(),
            from: from.into(),
        }
    }

    /// The daemon itself (scheduled jobs, first-boot provisioning).
    pub fn system() -> Self {
        Self::new("system", "local")
    }
}

/// A record to append in the current transaction.
#[derive(Debug, Clone)]
pub struct NewRecord {
    /// The organization the change belongs to; `None` for instance-wide changes.
    pub org: Option<OrgId>,
    pub actor: Actor,
    /// What happened, `area.verb`: `user.created`, `session.login_failed`, …
    pub action: String,
    /// What it happened to: `user:<id>`, `org:<id>`, …
    pub target: String,
    /// Further facts (never secrets).
    pub detail: serde_json::Value,
}

impl NewRecord {
    pub fn new(
        org: Option<OrgId>,
        actor: &Actor,
        action: impl Into<String>,
        target: impl Into<String>,
        detail: serde_json::Value,
    ) -> Self {
        Self {
            org,
            actor: actor.clone(),
            action: action.into(),
            target: target.into(),
            detail,
        }
    }

    /// The record that follows `prev` (`None`: the first one), with its hash.
    pub(crate) fn seal(&self, prev: Option<(i64, String)>) -> Record {
        let (prev_seq, prev_hash) = prev.unwrap_or((0, GENESIS.to_owned()));
        let mut r = Record {
            seq: prev_seq.saturating_add(1),
            at: chrono::Utc::now().to_rfc3339_opts(SecondsFormat::Micros, true),
            org_id: self.org.map(|o| o.to_string()).unwrap_or_default(),
            actor: self.actor.who.clone(),
            source: self.actor.from.clone(),
            action: self.action.clone(),
            target: self.target.clone(),
            detail: self.detail.to_string(),
            prev_hash,
            hash: String::new(),
        };
        r.hash = r.compute_hash();
        r
    }
}

/// A stored record, exactly as hashed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct Record {
    pub seq: i64,
    /// RFC 3339, UTC, microseconds.
    pub at: String,
    /// The organization's id, or empty for instance-wide records.
    pub org_id: String,
    pub actor: String,
    pub source: String,
    pub action: String,
    pub target: String,
    /// A JSON object.
    pub detail: String,
    pub prev_hash: String,
    pub hash: String,
}

impl Record {
    /// SHA-256 over the previous hash and every field, as a JSON array (unambiguous: no
    /// field can run into the next), hex-encoded.
    pub fn compute_hash(&self) -> String {
        let fields = serde_json::json!([
            self.seq,
            self.at,
            self.org_id,
            self.actor,
            self.source,
            self.action,
            self.target,
            self.detail,
        ]);
        let mut h = Sha256::new();
        h.update(self.prev_hash.as_bytes());
        h.update(b"\n");
        h.update(fields.to_string().as_bytes());
        hex(&h.finalize())
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// The head of the chain as seen by a verification, to keep outside the database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Anchor {
    pub seq: i64,
    pub hash: String,
}

/// What a verification found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Verification {
    pub records: u64,
    pub head: Option<Anchor>,
    /// Every break in the chain, oldest first (at most [`MAX_PROBLEMS`]).
    pub problems: Vec<String>,
}

impl Verification {
    pub fn is_intact(&self) -> bool {
        self.problems.is_empty()
    }
}

pub const MAX_PROBLEMS: usize = 50;
const PAGE: i64 = 1000;

/// Walks the whole chain in pages; `anchor` is the head a previous verification saw.
pub async fn verify(db: &Db, anchor: Option<&Anchor>) -> Result<Verification, StoreError> {
    let mut v = Verification::default();
    let mut prev: Option<Record> = None;
    let mut anchor_seen = false;
    loop {
        let after = prev.as_ref().map_or(0, |r| r.seq);
        let page = list(db, None, after, PAGE).await?;
        let done = (page.len() as i64) < PAGE;
        for r in page {
            check(&mut v, prev.as_ref(), &r);
            if let Some(a) = anchor
                && a.seq == r.seq
            {
                anchor_seen = true;
                if a.hash != r.hash {
                    problem(
                        &mut v,
                        format!(
                            "record {} differs from when the log was last verified: the log was rewritten",
                            r.seq
                        ),
                    );
                }
            }
            v.records += 1;
            prev = Some(r);
        }
        if done {
            break;
        }
    }
    if let Some(a) = anchor
        && !anchor_seen
    {
        problem(
            &mut v,
            format!(
                "record {} (the newest when the log was last verified) is gone: records were deleted",
                a.seq
            ),
        );
    }
    v.head = prev.map(|r| Anchor {
        seq: r.seq,
        hash: r.hash,
    });
    Ok(v)
}

fn problem(v: &mut Verification, p: String) {
    if v.problems.len() < MAX_PROBLEMS {
        v.problems.push(p);
    }
}

fn check(v: &mut Verification, prev: Option<&Record>, r: &Record) {
    let (expected_seq, expected_prev) =
        prev.map_or((1, GENESIS), |p| (p.seq.saturating_add(1), p.hash.as_str()));
    if r.seq != expected_seq {
        let missing = if r.seq > expected_seq {
            format!(
                "records {expected_seq} to {} are missing: deleted",
                r.seq - 1
            )
        } else {
            format!("record {} is out of order", r.seq)
        };
        problem(v, missing);
    } else if r.prev_hash != expected_prev {
        problem(
            v,
            format!(
                "record {} does not follow record {}: inserted or replaced",
                r.seq,
                r.seq - 1
            ),
        );
    }
    if r.compute_hash() != r.hash {
        problem(
            v,
            format!("record {} was edited after it was written", r.seq),
        );
    }
}

/// Records after `after` in order, at most `limit`; only `org`'s when given.
pub async fn list(
    db: &Db,
    org: Option<OrgId>,
    after: i64,
    limit: i64,
) -> Result<Vec<Record>, StoreError> {
    const ALL: &str = "SELECT seq, at, org_id, actor, source, action, target, detail, prev_hash, hash \
                       FROM nexus_audit WHERE seq > $1 ORDER BY seq LIMIT $2";
    const ORG: &str = "SELECT seq, at, org_id, actor, source, action, target, detail, prev_hash, hash \
                       FROM nexus_audit WHERE org_id = $3 AND seq > $1 ORDER BY seq LIMIT $2";
    let org = org.map(|o| o.to_string());
    let sql = if org.is_some() { ORG } else { ALL };
    Ok(match db {
        Db::Sqlite(pool) => {
            let q = sqlx::query_as(sql).bind(after).bind(limit);
            let q = if let Some(o) = &org { q.bind(o) } else { q };
            q.fetch_all(pool).await?
        }
        Db::Postgres(pool) => {
            let q = sqlx::query_as(sql).bind(after).bind(limit);
            let q = if let Some(o) = &org { q.bind(o) } else { q };
            q.fetch_all(pool).await?
        }
    })
}

/// Appends one record in a transaction of its own, for events that change nothing else (a
/// failed login).
pub async fn record(db: &Db, rec: &NewRecord) -> Result<Record, StoreError> {
    match db {
        Db::Sqlite(pool) => {
            let mut tx = pool.begin_write().await?;
            let r = sqlite::append(&mut tx, rec).await?;
            tx.commit().await?;
            Ok(r)
        }
        Db::Postgres(pool) => {
            let mut tx = pool.begin().await?;
            let r = postgres::append(&mut tx, rec).await?;
            tx.commit().await?;
            Ok(r)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(action: &str) -> NewRecord {
        NewRecord::new(
            Some(OrgId::generate()),
            &Actor::new("alice@example.com", "192.0.2.7"),
            action,
            "user:1",
            serde_json::json!({ "role": "member" }),
        )
    }

    #[test]
    fn sealing_links_records() {
        let a = rec("user.created").seal(None);
        assert_eq!(a.seq, 1);
        assert_eq!(a.prev_hash, GENESIS);
        assert_eq!(a.hash, a.compute_hash());
        let b = rec("user.disabled").seal(Some((a.seq, a.hash.clone())));
        assert_eq!(b.seq, 2);
        assert_eq!(b.prev_hash, a.hash);
    }

    #[test]
    fn every_field_is_covered_by_the_hash() {
        let r = rec("user.created").seal(None);
        let edits: Vec<fn(&mut Record)> = vec![
            |r| r.seq += 1,
            |r| r.at.push('0'),
            |r| r.org_id.clear(),
            |r| r.actor.push('x'),
            |r| r.source = "10.0.0.1".into(),
            |r| r.action = "user.deleted".into(),
            |r| r.target.push('2'),
            |r| r.detail = "{}".into(),
            |r| r.prev_hash = "1".repeat(64),
        ];
        for edit in edits {
            let mut e = r.clone();
            edit(&mut e);
            assert_ne!(e.compute_hash(), r.hash, "{e:?}");
        }
    }

    #[test]
    fn fields_cannot_run_into_each_other() {
        let mut a = rec("x").seal(None);
        a.actor = "ab".into();
        a.source = "c".into();
        let mut b = a.clone();
        b.actor = "a".into();
        b.source = "bc".into();
        assert_ne!(a.compute_hash(), b.compute_hash());
    }
}
