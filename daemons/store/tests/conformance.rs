//! The storage conformance suite: every test runs against SQLite and against PostgreSQL
//! (a fresh database per test on `NEXUS_TEST_POSTGRES_URL`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use nexus_store::migrate::{self, AppMigrations, Migration};
use nexus_store::testing::TestDb;
use nexus_store::{BlobKey, BlobStore, Db, EventBus, NewEvent, OrgId, Outbox, StoreError};

nexus_store::each_backend!(
    migrations_apply_once_and_in_order,
    edited_migrations_are_refused,
    newer_database_is_refused,
    broken_migration_rolls_back,
    outbox_events_commit_with_the_change,
    outbox_delivers_in_order_to_every_subscriber,
    outbox_runner_dispatches_on_wake,
);

static APP_V1: &[Migration] = &[Migration::new(
    1,
    "things",
    "CREATE TABLE things (id BIGINT PRIMARY KEY, org_id TEXT NOT NULL, name TEXT NOT NULL)",
)];
static APP_V2: &[Migration] = &[
    Migration::new(
        1,
        "things",
        "CREATE TABLE things (id BIGINT PRIMARY KEY, org_id TEXT NOT NULL, name TEXT NOT NULL)",
    ),
    Migration::new(
        2,
        "things_index",
        "CREATE INDEX things_org ON things (org_id)",
    ),
];

fn app(list: &'static [Migration]) -> AppMigrations {
    AppMigrations {
        app: "conformance",
        sqlite: list,
        postgres: list,
    }
}

async fn setup(db: &Db) {
    migrate::run(db, &[&nexus_store::MIGRATIONS])
        .await
        .expect("store migrations");
}

async fn migrations_apply_once_and_in_order(db: &Db) {
    let v1 = app(APP_V1);
    let first = migrate::run(db, &[&nexus_store::MIGRATIONS, &v1])
        .await
        .expect("first run");
    assert_eq!(
        first.applied,
        vec![
            "store/0001 outbox",
            "store/0002 audit",
            "conformance/0001 things"
        ]
    );
    let again = migrate::run(db, &[&nexus_store::MIGRATIONS, &v1])
        .await
        .expect("second run");
    assert!(again.applied.is_empty(), "nothing to do the second time");
    let v2 = app(APP_V2);
    let upgrade = migrate::run(db, &[&nexus_store::MIGRATIONS, &v2])
        .await
        .expect("upgrade");
    assert_eq!(upgrade.applied, vec!["conformance/0002 things_index"]);
    // Two runners at once (two daemons starting together) must not both apply.
    let list = [&v2];
    let (a, b) = tokio::join!(migrate::run(db, &list), migrate::run(db, &list));
    assert!(a.expect("a").applied.is_empty() && b.expect("b").applied.is_empty());
}

async fn edited_migrations_are_refused(db: &Db) {
    migrate::run(db, &[&app(APP_V1)]).await.expect("first run");
    static EDITED: &[Migration] = &[Migration::new(
        1,
        "things",
        "CREATE TABLE things (id BIGINT PRIMARY KEY)",
    )];
    match migrate::run(db, &[&app(EDITED)]).await {
        Err(StoreError::MigrationChanged { app, version, .. }) => {
            assert_eq!((app.as_str(), version), ("conformance", 1))
        }
        other => panic!("expected MigrationChanged, got {other:?}"),
    }
}

async fn newer_database_is_refused(db: &Db) {
    migrate::run(db, &[&app(APP_V2)]).await.expect("v2");
    match migrate::run(db, &[&app(APP_V1)]).await {
        Err(e @ StoreError::MigrationFromTheFuture { .. }) => {
            assert!(e.to_string().contains("newer release"), "{e}");
        }
        other => panic!("expected MigrationFromTheFuture, got {other:?}"),
    }
}

async fn broken_migration_rolls_back(db: &Db) {
    static BROKEN: &[Migration] = &[Migration::new(
        1,
        "broken",
        "CREATE TABLE half (id BIGINT PRIMARY KEY); CREATE TABLE half (id BIGINT PRIMARY KEY);",
    )];
    let err = migrate::run(db, &[&app(BROKEN)])
        .await
        .expect_err("must fail");
    assert!(matches!(err, StoreError::MigrationFailed { .. }), "{err:?}");
    // Nothing of it remains: the fixed migration applies cleanly.
    let ok = migrate::run(db, &[&app(APP_V1)])
        .await
        .expect("fixed migration");
    assert_eq!(ok.applied, vec!["conformance/0001 things"]);
    let exists = match db {
        Db::Sqlite(p) => sqlx::query("SELECT 1 FROM half").execute(p).await.is_ok(),
        Db::Postgres(p) => sqlx::query("SELECT 1 FROM half").execute(p).await.is_ok(),
    };
    assert!(
        !exists,
        "the failed migration's first statement was rolled back"
    );
}

/// Appends an event in a transaction that is committed or rolled back.
async fn append_in_tx(db: &Db, org: OrgId, kind: &str, commit: bool) {
    let ev = NewEvent::new(
        org,
        "conformance",
        kind,
        serde_json::json!({ "kind": kind }),
    );
    match db {
        Db::Sqlite(p) => {
            let mut tx = p.begin().await.unwrap();
            nexus_store::outbox::sqlite::append(&mut tx, &ev)
                .await
                .unwrap();
            if commit {
                tx.commit().await.unwrap()
            } else {
                tx.rollback().await.unwrap()
            }
        }
        Db::Postgres(p) => {
            let mut tx = p.begin().await.unwrap();
            nexus_store::outbox::postgres::append(&mut tx, &ev)
                .await
                .unwrap();
            if commit {
                tx.commit().await.unwrap()
            } else {
                tx.rollback().await.unwrap()
            }
        }
    }
}

async fn outbox_events_commit_with_the_change(db: &Db) {
    setup(db).await;
    let bus = EventBus::new(16);
    let mut rx = bus.subscribe();
    let outbox = Outbox::new(db.clone(), bus);
    let org = OrgId::generate();
    append_in_tx(db, org, "kept", true).await;
    append_in_tx(db, org, "rolled-back", false).await;
    assert_eq!(outbox.dispatch_pending().await.unwrap(), 1);
    let ev = rx.recv().await.unwrap();
    assert_eq!(
        (ev.kind.as_str(), ev.org, ev.app.as_str()),
        ("kept", org, "conformance")
    );
    assert_eq!(ev.payload["kind"], "kept");
    assert_eq!(
        outbox.dispatch_pending().await.unwrap(),
        0,
        "dispatched events are not sent again"
    );
}

async fn outbox_delivers_in_order_to_every_subscriber(db: &Db) {
    setup(db).await;
    let bus = EventBus::new(1024);
    let (mut a, mut b) = (bus.subscribe(), bus.subscribe());
    let outbox = Outbox::new(db.clone(), bus);
    let org = OrgId::generate();
    for i in 0..300 {
        append_in_tx(db, org, &format!("e{i}"), true).await;
    }
    assert_eq!(
        outbox.dispatch_pending().await.unwrap(),
        300,
        "more than one batch"
    );
    for rx in [&mut a, &mut b] {
        let mut last = 0;
        for i in 0..300 {
            let ev = rx.recv().await.unwrap();
            assert_eq!(ev.kind, format!("e{i}"));
            assert!(ev.seq > last, "sequence increases");
            last = ev.seq;
        }
    }
    assert_eq!(outbox.prune().await.unwrap(), 0, "recent events are kept");
}

async fn outbox_runner_dispatches_on_wake(db: &Db) {
    setup(db).await;
    let bus = EventBus::new(16);
    let mut rx = bus.subscribe();
    let outbox = Outbox::new(db.clone(), bus);
    let cancel = tokio_util::sync::CancellationToken::new();
    // A long poll interval: delivery within the timeout proves the wake-up works.
    let task = tokio::spawn(
        outbox
            .clone()
            .run(Duration::from_secs(3600), cancel.clone()),
    );
    tokio::time::sleep(Duration::from_millis(50)).await;
    append_in_tx(db, OrgId::generate(), "woken", true).await;
    outbox.wake();
    let ev = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .expect("delivered promptly")
        .unwrap();
    assert_eq!(ev.kind, "woken");
    cancel.cancel();
    task.await.unwrap();
}

// Blobs: local filesystem (the S3 backend is exercised when the Drive app brings a real
// S3-compatible server into the tests).

fn blob_store() -> (tempfile::TempDir, BlobStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = BlobStore::open("file://blobs", dir.path()).unwrap();
    (dir, store)
}

#[tokio::test]
async fn blobs_stream_in_and_out_in_pieces() {
    let (_dir, store) = blob_store();
    let org = OrgId::generate();
    let key = BlobKey::new(org, "drive", "files/big.bin").unwrap();
    // 24 MiB in 64 KiB chunks: several multipart parts.
    let chunk = Bytes::from((0..65536u32).map(|i| (i % 251) as u8).collect::<Vec<u8>>());
    let n_chunks = 384;
    let body =
        futures::stream::iter((0..n_chunks).map(move |_| Ok::<_, std::io::Error>(chunk.clone())));
    let written = store.put_stream(&key, body).await.unwrap();
    assert_eq!(written, 65536 * n_chunks);
    assert_eq!(store.size(&key).await.unwrap(), Some(written));
    let mut stream = store.get_stream(&key).await.unwrap();
    let mut total = 0u64;
    let mut pieces = 0;
    while let Some(piece) = stream.next().await {
        let piece = piece.unwrap();
        for (i, b) in piece.iter().enumerate() {
            assert_eq!(*b, (((total as usize + i) % 65536) % 251) as u8);
        }
        total += piece.len() as u64;
        pieces += 1;
    }
    assert_eq!(total, written);
    assert!(pieces > 1, "read back as a stream, not one buffer");
    assert_eq!(store.list(org, "drive").await.unwrap().len(), 1);
    store.delete(&key).await.unwrap();
    assert_eq!(store.size(&key).await.unwrap(), None);
    store.delete(&key).await.expect("deleting twice is fine");
}

#[tokio::test]
async fn failed_upload_leaves_nothing() {
    let (dir, store) = blob_store();
    let org = OrgId::generate();
    let key = BlobKey::new(org, "drive", "broken.bin").unwrap();
    let body = futures::stream::iter(vec![
        Ok(Bytes::from(vec![1u8; 6 * 1024 * 1024])),
        Err(std::io::Error::other("client went away")),
    ]);
    let err = store.put_stream(&key, body).await.unwrap_err();
    assert!(matches!(err, StoreError::BlobStream(_)), "{err:?}");
    assert_eq!(store.size(&key).await.unwrap(), None);
    let leftovers: Vec<_> = walk(dir.path())
        .into_iter()
        .filter(|p| p.is_file())
        .collect();
    assert!(leftovers.is_empty(), "no partial files: {leftovers:?}");
    assert!(matches!(
        store.get_stream(&key).await,
        Err(StoreError::BlobNotFound { .. })
    ));
}

fn walk(p: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(p) {
        for e in rd.flatten() {
            let path = e.path();
            out.push(path.clone());
            if path.is_dir() {
                out.extend(walk(&path));
            }
        }
    }
    out
}

#[test]
fn blob_keys_cannot_escape() {
    let org = OrgId::generate();
    for bad in [
        "",
        "../x",
        "a//b",
        "a/./b",
        "a/../../etc/passwd",
        "tab\there",
    ] {
        assert!(
            BlobKey::new(org, "drive", bad).is_err(),
            "{bad:?} must be refused"
        );
    }
    assert!(
        BlobKey::new(org, "Drive", "x").is_err(),
        "app part is lowercase"
    );
    assert_eq!(
        BlobKey::new(org, "drive", "a/b.txt").unwrap().as_str(),
        format!("{org}/drive/a/b.txt")
    );
}

#[test]
fn blob_urls_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(
        BlobStore::open("ftp://x", dir.path()),
        Err(StoreError::BlobUrl { .. })
    ));
    let s = BlobStore::open(
        "s3://bucket/prefix?region=us-east-1&endpoint=http://127.0.0.1:9&allow_http=true",
        dir.path(),
    )
    .unwrap();
    assert_eq!(s.describe(), "s3://bucket/prefix");
    assert!(matches!(
        BlobStore::open("s3://bucket?no_such_option=1", dir.path()),
        Err(StoreError::BlobUrl { .. })
    ));
}

#[tokio::test]
async fn sqlite_uses_wal_and_foreign_keys() {
    let t = TestDb::sqlite().await.unwrap();
    let Db::Sqlite(pool) = &t.db else {
        panic!("sqlite")
    };
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(mode, "wal");
    let fk: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(fk, 1);
    t.cleanup().await.unwrap();
}

#[tokio::test]
async fn sqlite_in_an_unwritable_place_says_so() {
    let file = tempfile::NamedTempFile::new().unwrap();
    // A path below a regular file can never be created, even by root.
    let url = format!("sqlite://{}/nexus.db", file.path().display());
    match Db::connect(
        &url,
        std::path::Path::new("/"),
        &nexus_store::DbOptions::default(),
    )
    .await
    {
        Err(e @ StoreError::SqliteOpen { .. }) => {
            assert!(e.to_string().contains("writable"), "{e}")
        }
        other => panic!("expected SqliteOpen, got {other:?}"),
    }
}

/// `dump::replace`, which puts an upgrade's pre-upgrade snapshot back: on both backends.
mod replacing_a_database {
    use nexus_store::testing::TestDb;

    #[tokio::test]
    async fn sqlite() {
        let t = TestDb::sqlite().await.expect("sqlite");
        super::replace_restores_the_dump_and_keeps_what_was_there(t).await;
    }

    #[tokio::test]
    async fn postgres() {
        let Some(t) = TestDb::postgres().await.expect("postgres") else {
            return;
        };
        super::replace_restores_the_dump_and_keeps_what_was_there(t).await;
    }
}

async fn exec(db: &Db, sql: &'static str) {
    match db {
        Db::Sqlite(pool) => {
            sqlx::raw_sql(sql).execute(pool).await.expect(sql);
        }
        Db::Postgres(pool) => {
            sqlx::raw_sql(sql).execute(pool).await.expect(sql);
        }
    }
}

async fn names(db: &Db) -> Vec<String> {
    let q = "SELECT name FROM things ORDER BY id";
    match db {
        Db::Sqlite(pool) => sqlx::query_scalar(q).fetch_all(pool).await.expect(q),
        Db::Postgres(pool) => sqlx::query_scalar(q).fetch_all(pool).await.expect(q),
    }
}

async fn replace_restores_the_dump_and_keeps_what_was_there(t: nexus_store::testing::TestDb) {
    use nexus_store::dump;
    let base = std::path::Path::new("/");
    let work = tempfile::tempdir().expect("tempdir");
    let v1 = app(APP_V1);
    migrate::run(&t.db, &[&nexus_store::MIGRATIONS, &v1])
        .await
        .expect("v1");
    exec(
        &t.db,
        "INSERT INTO things (id, org_id, name) VALUES (1, 'o', 'kept')",
    )
    .await;
    let snapshot = work.path().join("snapshot.dump");
    let backend = dump::dump(&t.url, base, &snapshot).await.expect("dump");

    // What an upgrade does after its snapshot: a newer schema, and rows written under it.
    let v2 = app(APP_V2);
    migrate::run(&t.db, &[&nexus_store::MIGRATIONS, &v2])
        .await
        .expect("v2");
    exec(
        &t.db,
        "INSERT INTO things (id, org_id, name) VALUES (2, 'o', 'later')",
    )
    .await;
    t.db.close().await;

    let aside = work.path().join("aside");
    dump::replace(&t.url, base, &snapshot, backend, &aside)
        .await
        .expect("replace");
    let db = Db::connect(&t.url, base, &nexus_store::DbOptions::default())
        .await
        .expect("reopen");
    assert_eq!(names(&db).await, vec!["kept".to_owned()]);
    // The old schema's owner accepts it again (no migration from the future).
    migrate::run(&db, &[&nexus_store::MIGRATIONS, &v1])
        .await
        .expect("v1 again");
    db.close().await;
    // What was replaced is kept, not deleted.
    let kept: Vec<String> = std::fs::read_dir(&aside)
        .expect("aside")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    match backend {
        nexus_store::Backend::Sqlite => assert!(kept.contains(&"nexus.db".to_owned()), "{kept:?}"),
        nexus_store::Backend::Postgres => {
            let sql = std::fs::read_to_string(aside.join("database.sql")).expect("database.sql");
            assert!(
                sql.contains("later"),
                "the replaced rows are in the kept dump"
            );
        }
    }
    // A dump of the other backend is refused before anything is touched.
    let other = match backend {
        nexus_store::Backend::Sqlite => nexus_store::Backend::Postgres,
        nexus_store::Backend::Postgres => nexus_store::Backend::Sqlite,
    };
    let refused = dump::replace(&t.url, base, &snapshot, other, &aside).await;
    assert!(refused.is_err());
    t.cleanup().await.expect("cleanup");
}
