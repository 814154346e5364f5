//! Per-app, per-backend migration histories.
//!
//! Written here rather than with `sqlx::migrate::Migrator` because that keeps one linear
//! history per database, while NEXUS has many apps, each with its own numbered history that
//! must not collide with the others' and that can be installed or removed independently.
//! The rules are sqlx's: ordered versions, a checksum per applied migration (an edited
//! migration is refused), each migration in its own transaction.

use crate::BeginWrite;
use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::{Db, StoreError};

/// One migration: a version (1, 2, …), a short name and its SQL.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

impl Migration {
    pub const fn new(version: i64, name: &'static str, sql: &'static str) -> Self {
        Self { version, name, sql }
    }

    fn checksum(&self) -> String {
        let digest = Sha256::digest(self.sql.as_bytes());
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// An app's migrations, one list per backend, kept side by side in
/// `migrations/sqlite/` and `migrations/postgres/` of the app's crate.
#[derive(Debug)]
pub struct AppMigrations {
    pub app: &'static str,
    pub sqlite: &'static [Migration],
    pub postgres: &'static [Migration],
}

/// What [`run`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct MigrationReport {
    /// `app/version name` of every migration applied by this run.
    pub applied: Vec<String>,
}

const BOOTSTRAP: &str = "CREATE TABLE IF NOT EXISTS nexus_migrations (
    app        TEXT   NOT NULL,
    version    BIGINT NOT NULL,
    name       TEXT   NOT NULL,
    checksum   TEXT   NOT NULL,
    applied_at BIGINT NOT NULL,
    PRIMARY KEY (app, version)
)";

/// Brings every app's schema up to date. Safe to run concurrently from several processes:
/// PostgreSQL serialises on an advisory lock, SQLite on its write lock.
pub async fn run(db: &Db, apps: &[&AppMigrations]) -> Result<MigrationReport, StoreError> {
    let mut report = MigrationReport::default();
    match db {
        Db::Sqlite(pool) => {
            sqlx::raw_sql(BOOTSTRAP).execute(pool).await?;
        }
        Db::Postgres(pool) => {
            // `IF NOT EXISTS` on an existing table makes PostgreSQL send a NOTICE, which
            // would be logged at every start; look first.
            let exists: bool =
                sqlx::query_scalar("SELECT to_regclass('nexus_migrations') IS NOT NULL")
                    .fetch_one(pool)
                    .await?;
            if !exists {
                sqlx::raw_sql(BOOTSTRAP).execute(pool).await?;
            }
        }
    }
    for app in apps {
        let list = match db {
            Db::Sqlite(_) => app.sqlite,
            Db::Postgres(_) => app.postgres,
        };
        check_order(app.app, list)?;
        for m in list {
            if apply_one(db, app.app, m).await? {
                report
                    .applied
                    .push(format!("{}/{:04} {}", app.app, m.version, m.name));
            }
        }
        check_no_future(db, app.app, list).await?;
    }
    Ok(report)
}

fn check_order(app: &str, list: &[Migration]) -> Result<(), StoreError> {
    for (i, m) in list.iter().enumerate() {
        let expected = i64::try_from(i).unwrap_or(i64::MAX).saturating_add(1);
        if m.version != expected {
            return Err(StoreError::MigrationFailed {
                app: app.to_owned(),
                version: m.version,
                name: m.name.to_owned(),
                cause: format!("versions must run 1, 2, 3… without gaps; expected {expected}"),
            });
        }
    }
    Ok(())
}

/// Applies `m` unless it is already recorded; returns whether it ran.
async fn apply_one(db: &Db, app: &str, m: &Migration) -> Result<bool, StoreError> {
    let checksum = m.checksum();
    let now = chrono::Utc::now().timestamp();
    let failed = |e: sqlx::Error| StoreError::MigrationFailed {
        app: app.to_owned(),
        version: m.version,
        name: m.name.to_owned(),
        cause: e.to_string(),
    };
    let recorded: Option<String> = match db {
        Db::Sqlite(pool) => {
            // BEGIN IMMEDIATE takes the write lock up front, so two processes cannot both
            // decide that the same migration is missing.
            let mut tx = pool.begin_write().await?;
            let row =
                sqlx::query("SELECT checksum FROM nexus_migrations WHERE app = ? AND version = ?")
                    .bind(app)
                    .bind(m.version)
                    .fetch_optional(&mut *tx)
                    .await?;
            match row {
                Some(r) => Some(r.try_get::<String, _>(0)?),
                None => {
                    sqlx::raw_sql(m.sql)
                        .execute(&mut *tx)
                        .await
                        .map_err(failed)?;
                    sqlx::query("INSERT INTO nexus_migrations (app, version, name, checksum, applied_at) VALUES (?, ?, ?, ?, ?)")
                        .bind(app)
                        .bind(m.version)
                        .bind(m.name)
                        .bind(&checksum)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                    tx.commit().await?;
                    None
                }
            }
        }
        Db::Postgres(pool) => {
            let mut tx = pool.begin().await?;
            // One lock for all NEXUS migrations: the constant is "nexus" in ASCII.
            sqlx::query("SELECT pg_advisory_xact_lock(110101120117115)")
                .execute(&mut *tx)
                .await?;
            let row = sqlx::query(
                "SELECT checksum FROM nexus_migrations WHERE app = $1 AND version = $2",
            )
            .bind(app)
            .bind(m.version)
            .fetch_optional(&mut *tx)
            .await?;
            match row {
                Some(r) => Some(r.try_get::<String, _>(0)?),
                None => {
                    sqlx::raw_sql(m.sql)
                        .execute(&mut *tx)
                        .await
                        .map_err(failed)?;
                    sqlx::query("INSERT INTO nexus_migrations (app, version, name, checksum, applied_at) VALUES ($1, $2, $3, $4, $5)")
                        .bind(app)
                        .bind(m.version)
                        .bind(m.name)
                        .bind(&checksum)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                    tx.commit().await?;
                    None
                }
            }
        }
    };
    match recorded {
        None => {
            tracing::info!(app, version = m.version, name = m.name, "applied migration");
            Ok(true)
        }
        Some(sum) if sum == checksum => Ok(false),
        Some(_) => Err(StoreError::MigrationChanged {
            app: app.to_owned(),
            version: m.version,
            name: m.name.to_owned(),
        }),
    }
}

async fn check_no_future(db: &Db, app: &str, list: &[Migration]) -> Result<(), StoreError> {
    let newest = i64::try_from(list.len()).unwrap_or(i64::MAX);
    let max: Option<i64> = match db {
        Db::Sqlite(pool) => {
            sqlx::query_scalar("SELECT MAX(version) FROM nexus_migrations WHERE app = ?")
                .bind(app)
                .fetch_one(pool)
                .await?
        }
        Db::Postgres(pool) => {
            sqlx::query_scalar("SELECT MAX(version) FROM nexus_migrations WHERE app = $1")
                .bind(app)
                .fetch_one(pool)
                .await?
        }
    };
    match max {
        Some(v) if v > newest => Err(StoreError::MigrationFromTheFuture {
            app: app.to_owned(),
            version: v,
        }),
        _ => Ok(()),
    }
}
