//! The audit log on both backends: concurrent appends form one unbroken chain, and every kind
//! of tampering is named by `verify`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use nexus_store::audit::{self, Actor, Anchor, NewRecord};
use nexus_store::{Db, OrgId, migrate};

nexus_store::each_backend!(
    concurrent_appends_form_one_chain,
    records_roll_back_with_their_transaction,
    code_cannot_update_or_delete_records,
    edited_record_is_detected,
    deleted_record_is_detected,
    deleted_newest_records_are_detected_by_the_anchor,
    rewritten_chain_is_detected_by_the_anchor,
    listing_by_organization,
);

async fn setup(db: &Db) {
    migrate::run(db, &[&nexus_store::MIGRATIONS]).await.unwrap();
}

fn new(org: OrgId, action: &str) -> NewRecord {
    NewRecord::new(
        Some(org),
        &Actor::new("alice@example.com (u1)", "192.0.2.1"),
        action,
        "user:u2",
        serde_json::json!({ "n": action }),
    )
}

async fn fill(db: &Db, org: OrgId, n: usize) {
    for i in 0..n {
        audit::record(db, &new(org, &format!("test.{i}")))
            .await
            .unwrap();
    }
}

/// Runs `sql` as an attacker with direct database access would: triggers off first.
async fn tamper(db: &Db, sql: &str) {
    match db {
        Db::Sqlite(_) => {
            let script = format!(
                "DROP TRIGGER nexus_audit_no_update; DROP TRIGGER nexus_audit_no_delete; {sql};"
            );
            exec(db, &script).await.unwrap();
        }
        Db::Postgres(_) => {
            let script = format!("DROP TRIGGER nexus_audit_append_only ON nexus_audit; {sql};");
            exec(db, &script).await.unwrap();
        }
    }
}

async fn exec(db: &Db, sql: &str) -> Result<(), String> {
    let sql = sqlx::AssertSqlSafe(sql.to_owned());
    match db {
        Db::Sqlite(p) => sqlx::raw_sql(sql).execute(p).await.map(|_| ()),
        Db::Postgres(p) => sqlx::raw_sql(sql).execute(p).await.map(|_| ()),
    }
    .map_err(|e| e.to_string())
}

async fn concurrent_appends_form_one_chain(db: &Db) {
    setup(db).await;
    let org = OrgId::generate();
    let mut tasks = Vec::new();
    for t in 0..8 {
        let db = db.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..10 {
                audit::record(&db, &new(org, &format!("t{t}.{i}")))
                    .await
                    .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let v = audit::verify(db, None).await.unwrap();
    assert!(v.is_intact(), "{:?}", v.problems);
    assert_eq!(v.records, 80);
    assert_eq!(v.head.unwrap().seq, 80);
}

async fn records_roll_back_with_their_transaction(db: &Db) {
    setup(db).await;
    let org = OrgId::generate();
    match db {
        Db::Sqlite(pool) => {
            let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.unwrap();
            audit::sqlite::append(&mut tx, &new(org, "kept"))
                .await
                .unwrap();
            tx.commit().await.unwrap();
            let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.unwrap();
            audit::sqlite::append(&mut tx, &new(org, "dropped"))
                .await
                .unwrap();
            tx.rollback().await.unwrap();
        }
        Db::Postgres(pool) => {
            let mut tx = pool.begin().await.unwrap();
            audit::postgres::append(&mut tx, &new(org, "kept"))
                .await
                .unwrap();
            tx.commit().await.unwrap();
            let mut tx = pool.begin().await.unwrap();
            audit::postgres::append(&mut tx, &new(org, "dropped"))
                .await
                .unwrap();
            tx.rollback().await.unwrap();
        }
    }
    fill(db, org, 1).await;
    let all = audit::list(db, None, 0, 10).await.unwrap();
    let actions: Vec<_> = all.iter().map(|r| r.action.as_str()).collect();
    assert_eq!(actions, ["kept", "test.0"]);
    assert!(audit::verify(db, None).await.unwrap().is_intact());
}

async fn code_cannot_update_or_delete_records(db: &Db) {
    setup(db).await;
    fill(db, OrgId::generate(), 2).await;
    for sql in [
        "UPDATE nexus_audit SET actor = 'x'",
        "DELETE FROM nexus_audit",
    ] {
        let e = exec(db, sql).await.unwrap_err();
        assert!(e.contains("append-only"), "{e}");
    }
}

async fn edited_record_is_detected(db: &Db) {
    setup(db).await;
    fill(db, OrgId::generate(), 5).await;
    tamper(db, "UPDATE nexus_audit SET actor = 'mallory' WHERE seq = 3").await;
    let v = audit::verify(db, None).await.unwrap();
    assert_eq!(v.problems, ["record 3 was edited after it was written"]);
}

async fn deleted_record_is_detected(db: &Db) {
    setup(db).await;
    fill(db, OrgId::generate(), 5).await;
    tamper(db, "DELETE FROM nexus_audit WHERE seq IN (2, 3)").await;
    let v = audit::verify(db, None).await.unwrap();
    assert_eq!(v.problems, ["records 2 to 3 are missing: deleted"]);
    assert_eq!(v.records, 3);
}

async fn deleted_newest_records_are_detected_by_the_anchor(db: &Db) {
    setup(db).await;
    fill(db, OrgId::generate(), 5).await;
    let first = audit::verify(db, None).await.unwrap();
    let anchor = first.head.unwrap();
    assert_eq!(anchor.seq, 5);
    tamper(db, "DELETE FROM nexus_audit WHERE seq >= 4").await;
    let without = audit::verify(db, None).await.unwrap();
    assert!(without.is_intact(), "a shortened chain is still a chain");
    let with = audit::verify(db, Some(&anchor)).await.unwrap();
    assert_eq!(
        with.problems,
        ["record 5 (the newest when the log was last verified) is gone: records were deleted"]
    );
}

async fn rewritten_chain_is_detected_by_the_anchor(db: &Db) {
    setup(db).await;
    let org = OrgId::generate();
    fill(db, org, 3).await;
    let anchor: Anchor = audit::verify(db, None).await.unwrap().head.unwrap();
    // Rebuild the whole chain without record 2, with correct hashes throughout.
    let kept: Vec<_> = audit::list(db, None, 0, 10)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.seq != 2)
        .collect();
    tamper(db, "DELETE FROM nexus_audit").await;
    let mut prev: Option<(i64, String)> = None;
    for old in kept {
        let mut r = old.clone();
        r.seq = prev.as_ref().map_or(1, |p| p.0 + 1);
        r.prev_hash = prev
            .as_ref()
            .map_or(audit::GENESIS.to_owned(), |p| p.1.clone());
        r.hash = r.compute_hash();
        let sql = format!(
            "INSERT INTO nexus_audit VALUES ({}, '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}')",
            r.seq,
            r.at,
            r.org_id,
            r.actor,
            r.source,
            r.action,
            r.target,
            r.detail,
            r.prev_hash,
            r.hash
        );
        exec(db, &sql).await.unwrap();
        prev = Some((r.seq, r.hash));
    }
    fill(db, org, 1).await;
    assert!(audit::verify(db, None).await.unwrap().is_intact());
    let v = audit::verify(db, Some(&anchor)).await.unwrap();
    assert_eq!(
        v.problems,
        ["record 3 differs from when the log was last verified: the log was rewritten"]
    );
}

async fn listing_by_organization(db: &Db) {
    setup(db).await;
    let (a, b) = (OrgId::generate(), OrgId::generate());
    fill(db, a, 3).await;
    fill(db, b, 2).await;
    fill(db, a, 1).await;
    let only_b = audit::list(db, Some(b), 0, 100).await.unwrap();
    assert_eq!(only_b.len(), 2);
    assert!(only_b.iter().all(|r| r.org_id == b.to_string()));
    let a_page = audit::list(db, Some(a), 1, 2).await.unwrap();
    assert_eq!(a_page.iter().map(|r| r.seq).collect::<Vec<_>>(), [2, 3]);
}
