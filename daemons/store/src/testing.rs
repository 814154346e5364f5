//! Helpers for tests that need a real database: a fresh SQLite file or a fresh PostgreSQL
//! database per test.
//!
//! PostgreSQL tests read `NEXUS_TEST_POSTGRES_URL` (a URL whose user may create databases).
//! When it is unset they are skipped with a message — unless `NEXUS_TEST_REQUIRE_POSTGRES=1`
//! (set by the project's test command), which turns a missing server into a failure.

use std::path::PathBuf;

/// Generates, for each named `async fn NAME(db: &Db)` suite function in scope, a test
/// `sqlite::NAME` on a fresh SQLite database and a test `postgres::NAME` on a fresh
/// PostgreSQL database: one conformance suite, both backends.
#[macro_export]
macro_rules! each_backend {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    let t = $crate::testing::TestDb::sqlite().await.expect("sqlite");
                    super::$name(&t.db).await;
                    t.cleanup().await.expect("cleanup");
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    let Some(t) = $crate::testing::TestDb::postgres().await.expect("postgres") else { return };
                    super::$name(&t.db).await;
                    t.cleanup().await.expect("cleanup");
                }
            )*
        }
    };
}

use sqlx::Connection;

use crate::{Db, DbOptions, StoreError};

/// A database that exists for one test and is dropped afterwards (PostgreSQL) or lives in a
/// temporary directory (SQLite).
#[derive(Debug)]
pub struct TestDb {
    pub db: Db,
    pub url: String,
    cleanup: Option<(String, String)>,
    _dir: Option<TempDirGuard>,
}

#[derive(Debug)]
struct TempDirGuard(PathBuf);

impl Drop for TempDirGuard {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl TestDb {
    /// A fresh SQLite database in its own temporary directory.
    pub async fn sqlite() -> Result<Self, StoreError> {
        let dir = std::env::temp_dir().join(format!("nexus-test-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).map_err(|e| StoreError::SqliteOpen {
            path: dir.display().to_string(),
            cause: e.to_string(),
        })?;
        let url = format!("sqlite://{}/nexus.db", dir.display());
        let db = Db::connect(&url, &dir, &DbOptions::default()).await?;
        Ok(Self {
            db,
            url,
            cleanup: None,
            _dir: Some(TempDirGuard(dir)),
        })
    }

    /// A fresh PostgreSQL database, or `None` when no server is configured for tests.
    pub async fn postgres() -> Result<Option<Self>, StoreError> {
        let Some(admin_url) = postgres_admin_url() else {
            return Ok(None);
        };
        let name = format!("nexus_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = sqlx::PgConnection::connect(&admin_url).await?;
        // `name` is built from a UUID above, never from input.
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await?;
        admin.close().await?;
        let url = with_database(&admin_url, &name)?;
        let db = Db::connect(&url, std::path::Path::new("/"), &DbOptions::default()).await?;
        Ok(Some(Self {
            db,
            url,
            cleanup: Some((admin_url, name)),
            _dir: None,
        }))
    }

    /// Closes the pool and drops the PostgreSQL database.
    pub async fn cleanup(mut self) -> Result<(), StoreError> {
        self.db.close().await;
        if let Some((admin_url, name)) = self.cleanup.take() {
            let mut admin = sqlx::PgConnection::connect(&admin_url).await?;
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
            .execute(&mut admin)
            .await?;
            admin.close().await?;
        }
        Ok(())
    }
}

/// The PostgreSQL server for tests, if any. Fails loudly (rather than skipping) when the test
/// run said PostgreSQL is required.
pub fn postgres_admin_url() -> Option<String> {
    match std::env::var("NEXUS_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            let required = std::env::var("NEXUS_TEST_REQUIRE_POSTGRES").is_ok_and(|v| v == "1");
            assert!(
                !required,
                "NEXUS_TEST_REQUIRE_POSTGRES=1 but NEXUS_TEST_POSTGRES_URL is not set: start PostgreSQL (./dev test does) or unset the requirement"
            );
            eprintln!("skipping PostgreSQL half: NEXUS_TEST_POSTGRES_URL is not set");
            None
        }
    }
}

fn with_database(admin_url: &str, name: &str) -> Result<String, StoreError> {
    let mut u = url::Url::parse(admin_url).map_err(|_| StoreError::UnsupportedDatabaseUrl {
        url: crate::db::redact(admin_url),
    })?;
    u.set_path(&format!("/{name}"));
    Ok(u.to_string())
}
