//! The metadata database: SQLite (embedded default) or PostgreSQL, chosen from the URL.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::StoreError;

/// Which backend a [`Db`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        })
    }
}

/// Pool settings.
#[derive(Debug, Clone)]
pub struct DbOptions {
    pub max_connections: u32,
    pub connect_timeout: Duration,
}

impl Default for DbOptions {
    fn default() -> Self {
        Self {
            max_connections: 8,
            connect_timeout: Duration::from_secs(5),
        }
    }
}

/// A connection pool to one of the two backends.
///
/// Apps never match on this outside their own `store/sqlite.rs` and `store/postgres.rs`.
#[derive(Debug, Clone)]
pub enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

impl Db {
    /// Connects to `url` (`sqlite:///abs/path.db`, `sqlite://relative.db`, `sqlite::memory:`,
    /// `postgres://…`, `postgresql://…`). A relative SQLite path is resolved against `base`.
    pub async fn connect(url: &str, base: &Path, opts: &DbOptions) -> Result<Self, StoreError> {
        if let Some(rest) = url.strip_prefix("sqlite:") {
            Self::connect_sqlite(rest, base, opts).await
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Self::connect_postgres(url, opts).await
        } else {
            Err(StoreError::UnsupportedDatabaseUrl { url: redact(url) })
        }
    }

    async fn connect_sqlite(rest: &str, base: &Path, opts: &DbOptions) -> Result<Self, StoreError> {
        let (path_part, query) = match rest.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (rest, None),
        };
        let memory = path_part == ":memory:";
        let path: PathBuf = if memory {
            PathBuf::from(":memory:")
        } else {
            sqlite_file(path_part, base).ok_or_else(|| StoreError::UnsupportedDatabaseUrl {
                url: format!("sqlite:{rest}"),
            })?
        };
        let mut options = if memory {
            SqliteConnectOptions::from_str("sqlite::memory:")?
        } else {
            SqliteConnectOptions::new().filename(&path)
        };
        if let Some(q) = query {
            // Allow the documented sqlx query options (mode=ro, …) to pass through.
            options = SqliteConnectOptions::from_str(&format!("sqlite://{}?{q}", path.display()))?;
        }
        let options = options
            .create_if_missing(true)
            // WAL lets readers proceed while one writer commits; NORMAL sync is durable across
            // application crashes and only risks the last transactions on power loss, which is
            // the usual trade-off for WAL.
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            .pragma("temp_store", "memory")
            .pragma("cache_size", "-16384")
            .optimize_on_close(true, None);
        let pool = SqlitePoolOptions::new()
            // An in-memory database exists once per connection: keep exactly one.
            .max_connections(if memory {
                1
            } else {
                opts.max_connections.max(1)
            })
            .min_connections(if memory { 1 } else { 0 })
            .acquire_timeout(opts.connect_timeout)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await
            .map_err(|e| StoreError::SqliteOpen {
                path: path.display().to_string(),
                cause: describe(&e),
            })?;
        Ok(Self::Sqlite(pool))
    }

    async fn connect_postgres(url: &str, opts: &DbOptions) -> Result<Self, StoreError> {
        let options = PgConnectOptions::from_str(url)
            .map_err(|_| StoreError::UnsupportedDatabaseUrl { url: redact(url) })?;
        let target = format!("{}:{}", options.get_host(), options.get_port());
        // One direct attempt first: the pool retries until its timeout and then reports only
        // that it timed out, while a refused connection should be named at once.
        match tokio::time::timeout(
            opts.connect_timeout,
            sqlx::ConnectOptions::connect(&options),
        )
        .await
        {
            Err(_) => {
                return Err(StoreError::Unreachable {
                    target,
                    cause: format!("no answer within {} s", opts.connect_timeout.as_secs()),
                });
            }
            Ok(Err(e)) => return Err(classify_pg_error(&target, e)),
            Ok(Ok(conn)) => {
                let _ = sqlx::Connection::close(conn).await;
            }
        }
        let pool = PgPoolOptions::new()
            .max_connections(opts.max_connections.max(1))
            .acquire_timeout(opts.connect_timeout)
            .connect_with(options)
            .await
            .map_err(|e| classify_pg_error(&target, e))?;
        Ok(Self::Postgres(pool))
    }

    pub fn backend(&self) -> Backend {
        match self {
            Self::Sqlite(_) => Backend::Sqlite,
            Self::Postgres(_) => Backend::Postgres,
        }
    }

    /// Connections open and idle, for the metrics endpoint.
    pub fn pool_stats(&self) -> (u32, usize) {
        match self {
            Self::Sqlite(p) => (p.size(), p.num_idle()),
            Self::Postgres(p) => (p.size(), p.num_idle()),
        }
    }

    /// A cheap round trip that proves the database answers (readiness).
    pub async fn ping(&self) -> Result<(), StoreError> {
        match self {
            Self::Sqlite(p) => sqlx::query("SELECT 1").execute(p).await.map(|_| ())?,
            Self::Postgres(p) => sqlx::query("SELECT 1").execute(p).await.map(|_| ())?,
        }
        Ok(())
    }

    pub async fn close(&self) {
        match self {
            Self::Sqlite(p) => p.close().await,
            Self::Postgres(p) => p.close().await,
        }
    }
}

/// The file of a SQLite URL's path part (after `sqlite:`), resolved against `base`; `None`
/// for an empty path.
pub(crate) fn sqlite_file(path_part: &str, base: &Path) -> Option<PathBuf> {
    let p = path_part.strip_prefix("//").unwrap_or(path_part);
    if p.is_empty() {
        return None;
    }
    let p = PathBuf::from(p);
    Some(if p.is_absolute() { p } else { base.join(p) })
}

fn classify_pg_error(target: &str, e: sqlx::Error) -> StoreError {
    let cause = describe(&e);
    match &e {
        sqlx::Error::Database(db)
            if db
                .code()
                .is_some_and(|c| c.starts_with("28") || c == "3D000") =>
        {
            StoreError::AccessDenied {
                target: target.to_owned(),
                cause,
            }
        }
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::Tls(_) => {
            StoreError::Unreachable {
                target: target.to_owned(),
                cause,
            }
        }
        _ => StoreError::Unreachable {
            target: target.to_owned(),
            cause,
        },
    }
}

fn describe(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::PoolTimedOut => "no answer before the connect timeout".to_owned(),
        sqlx::Error::Io(io) => io.to_string(),
        sqlx::Error::Database(db) => db.message().to_owned(),
        other => other.to_string(),
    }
}

/// Hides a password in a database URL before it reaches a log or an error message.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_owned(),
    }
}

/// Starts a transaction that is going to write.
///
/// SQLite's plain `BEGIN` takes the write lock only at the first write, and a transaction that
/// has already read cannot wait for that lock: SQLite answers `SQLITE_BUSY` at once, ignoring
/// `busy_timeout`, because waiting could deadlock. Every store transaction that reads, checks
/// and then writes would fail under concurrent writers. `BEGIN IMMEDIATE` takes the lock up
/// front, where waiting is safe, so writers queue for up to `busy_timeout` instead.
/// PostgreSQL locks per row and needs nothing special.
pub trait BeginWrite {
    type Database: sqlx::Database;

    fn begin_write(
        &self,
    ) -> impl std::future::Future<
        Output = Result<sqlx::Transaction<'static, Self::Database>, sqlx::Error>,
    > + Send;
}

impl BeginWrite for SqlitePool {
    type Database = sqlx::Sqlite;

    fn begin_write(
        &self,
    ) -> impl std::future::Future<
        Output = Result<sqlx::Transaction<'static, sqlx::Sqlite>, sqlx::Error>,
    > + Send {
        self.begin_with("BEGIN IMMEDIATE")
    }
}

impl BeginWrite for PgPool {
    type Database = sqlx::Postgres;

    fn begin_write(
        &self,
    ) -> impl std::future::Future<
        Output = Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error>,
    > + Send {
        self.begin()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact("postgres://nexus:secret@db:5432/nexus"),
            "postgres://nexus:***@db:5432/nexus"
        );
        assert_eq!(redact("sqlite:///x.db"), "sqlite:///x.db");
    }

    #[tokio::test]
    async fn rejects_unknown_scheme() {
        let err = Db::connect("mysql://x", Path::new("/tmp"), &DbOptions::default()).await;
        assert!(matches!(
            err,
            Err(StoreError::UnsupportedDatabaseUrl { .. })
        ));
    }

    #[tokio::test]
    async fn unreachable_postgres_is_named() {
        // Port 1 on loopback: nothing listens there, the connection is refused at once.
        let opts = DbOptions {
            max_connections: 1,
            connect_timeout: Duration::from_secs(2),
        };
        match Db::connect("postgres://nexus@127.0.0.1:1/nexus", Path::new("/"), &opts).await {
            Err(StoreError::Unreachable { target, .. }) => assert_eq!(target, "127.0.0.1:1"),
            other => panic!("expected Unreachable, got {other:?}"),
        }
    }
}
