//! Database dumps for backups: a consistent copy taken while the daemons keep running, and
//! loading such a copy into an empty database on restore.
//!
//! - SQLite: `VACUUM INTO` writes a transactionally consistent copy from one read transaction,
//!   so under WAL the daemons keep reading and writing while it runs. The copy is a database
//!   file again, loaded by copying it into place.
//! - PostgreSQL: `pg_dump` (one repeatable-read snapshot) in plain SQL, loaded with `psql` in
//!   a single transaction. These are the tools made for it and they match the server's
//!   version; NEXUS does not reimplement them.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::str::FromStr;
use std::time::Duration;

use sqlx::Connection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};

use crate::db::sqlite_file;
use crate::{Backend, StoreError};

/// Which backend a database URL names.
pub fn backend_of(url: &str) -> Result<Backend, StoreError> {
    if url.starts_with("sqlite:") {
        Ok(Backend::Sqlite)
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Backend::Postgres)
    } else {
        Err(StoreError::UnsupportedDatabaseUrl {
            url: crate::db::redact(url),
        })
    }
}

/// Writes a consistent copy of the database at `url` to `out` (which must not exist): a
/// SQLite file, or PostgreSQL plain SQL. Returns the backend.
pub async fn dump(url: &str, base: &Path, out: &Path) -> Result<Backend, StoreError> {
    if out.exists() {
        return Err(StoreError::Dump(format!(
            "{} already exists: choose a new file for the dump",
            out.display()
        )));
    }
    match backend_of(url)? {
        Backend::Sqlite => {
            let path = sqlite_path(url, base)?;
            if !path.is_file() {
                return Err(StoreError::Dump(format!(
                    "there is no database at {}: check the state directory",
                    path.display()
                )));
            }
            let mut conn = open_sqlite(&path).await?;
            let out_text = out
                .to_str()
                .ok_or_else(|| StoreError::Dump(format!("{} is not valid UTF-8", out.display())))?;
            sqlx::query("VACUUM INTO ?")
                .bind(out_text)
                .execute(&mut conn)
                .await
                .map_err(|e| {
                    StoreError::Dump(format!(
                        "cannot copy the database {} to {}: {e}",
                        path.display(),
                        out.display()
                    ))
                })?;
            let _ = conn.close().await;
            Ok(Backend::Sqlite)
        }
        Backend::Postgres => {
            let (clean, password) = split_password(url)?;
            let mut cmd = tokio::process::Command::new("pg_dump");
            cmd.args(["--format=plain", "--no-owner", "--no-privileges", "--file"])
                .arg(out)
                .arg("--dbname")
                .arg(&clean);
            run_pg_tool(cmd, password, "pg_dump").await?;
            Ok(Backend::Postgres)
        }
    }
}

/// Loads a dump made by [`dump`] into the database at `url`, which must be empty (a SQLite
/// file that does not exist yet, or a PostgreSQL database without tables). All or nothing.
pub async fn load(url: &str, base: &Path, from: &Path, kind: Backend) -> Result<(), StoreError> {
    let target = backend_of(url)?;
    if target != kind {
        return Err(StoreError::Dump(format!(
            "this dump is of a {kind} database and cannot be loaded into {target}: restore it \
             into a {kind} database"
        )));
    }
    match kind {
        Backend::Sqlite => load_sqlite(&sqlite_path(url, base)?, from).await,
        Backend::Postgres => {
            let mut conn = pg_connect(url).await?;
            let tables: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM information_schema.tables \
                 WHERE table_schema NOT IN ('pg_catalog', 'information_schema')",
            )
            .fetch_one(&mut conn)
            .await?;
            let _ = conn.close().await;
            if tables > 0 {
                return Err(StoreError::Dump(format!(
                    "the database {} already has {tables} tables: restore into a new, empty database",
                    crate::db::redact(url)
                )));
            }
            let (clean, password) = split_password(url)?;
            let mut cmd = tokio::process::Command::new("psql");
            cmd.args([
                "-X",
                "--quiet",
                "--no-psqlrc",
                "-v",
                "ON_ERROR_STOP=1",
                "--single-transaction",
                "--file",
            ])
            .arg(from)
            .arg("--dbname")
            .arg(&clean);
            run_pg_tool(cmd, password, "psql").await
        }
    }
}

/// Puts the database at `url` back to the dump `from` (an upgrade's pre-upgrade snapshot,
/// when the upgrade is rolled back). Every daemon must be stopped. What is there now is kept,
/// not deleted: a SQLite file is moved into `aside/`, a PostgreSQL database is dumped to
/// `aside/database.sql` before its `public` schema is emptied; then the dump is loaded as by
/// [`load`].
pub async fn replace(
    url: &str,
    base: &Path,
    from: &Path,
    kind: Backend,
    aside: &Path,
) -> Result<(), StoreError> {
    let target = backend_of(url)?;
    if target != kind {
        return Err(StoreError::Dump(format!(
            "this dump is of a {kind} database and cannot replace a {target} one"
        )));
    }
    if !from.is_file() {
        return Err(StoreError::Dump(format!(
            "there is no dump at {}",
            from.display()
        )));
    }
    std::fs::create_dir_all(aside)
        .map_err(|e| StoreError::Dump(format!("cannot create {}: {e}", aside.display())))?;
    match kind {
        Backend::Sqlite => {
            let path = sqlite_path(url, base)?;
            for suffix in ["", "-wal", "-shm"] {
                let file = PathBuf::from(format!("{}{suffix}", path.display()));
                if !file.exists() {
                    continue;
                }
                let name = file
                    .file_name()
                    .map(|n| n.to_os_string())
                    .unwrap_or_default();
                std::fs::rename(&file, aside.join(name)).map_err(|e| {
                    StoreError::Dump(format!(
                        "cannot move {} aside into {}: {e}",
                        file.display(),
                        aside.display()
                    ))
                })?;
            }
            load_sqlite(&path, from).await
        }
        Backend::Postgres => {
            dump(url, base, &aside.join("database.sql")).await?;
            let mut conn = pg_connect(url).await?;
            sqlx::raw_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
                .execute(&mut conn)
                .await?;
            let _ = conn.close().await;
            load(url, base, from, kind).await
        }
    }
}

async fn pg_connect(url: &str) -> Result<sqlx::postgres::PgConnection, StoreError> {
    let options = sqlx::postgres::PgConnectOptions::from_str(url).map_err(|_| {
        StoreError::UnsupportedDatabaseUrl {
            url: crate::db::redact(url),
        }
    })?;
    sqlx::postgres::PgConnection::connect_with(&options)
        .await
        .map_err(|e| StoreError::Dump(format!("cannot connect to {}: {e}", crate::db::redact(url))))
}

fn sqlite_path(url: &str, base: &Path) -> Result<PathBuf, StoreError> {
    let rest = url.strip_prefix("sqlite:").unwrap_or(url);
    let path_part = rest.split_once('?').map_or(rest, |(p, _)| p);
    if path_part == ":memory:" {
        return Err(StoreError::Dump(
            "an in-memory database cannot be backed up or restored".to_owned(),
        ));
    }
    sqlite_file(path_part, base).ok_or_else(|| StoreError::UnsupportedDatabaseUrl {
        url: url.to_owned(),
    })
}

async fn open_sqlite(path: &Path) -> Result<SqliteConnection, StoreError> {
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(false)
        .busy_timeout(Duration::from_secs(30));
    SqliteConnection::connect_with(&options)
        .await
        .map_err(|e| StoreError::SqliteOpen {
            path: path.display().to_string(),
            cause: e.to_string(),
        })
}

/// Copies the file next to `target`, checks it is a sound SQLite database, and only then
/// renames it into place: a failure leaves no database behind.
async fn load_sqlite(target: &Path, from: &Path) -> Result<(), StoreError> {
    for p in [
        target.to_path_buf(),
        PathBuf::from(format!("{}-wal", target.display())),
    ] {
        if p.exists() {
            return Err(StoreError::Dump(format!(
                "{} already exists: restore into a new state directory",
                p.display()
            )));
        }
    }
    let staging = PathBuf::from(format!(
        "{}.restoring-{}",
        target.display(),
        std::process::id()
    ));
    let copy = || -> std::io::Result<()> {
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::copy(from, &staging)?;
        std::fs::File::open(&staging)?.sync_all()
    };
    if let Err(e) = copy() {
        let _ = std::fs::remove_file(&staging);
        return Err(StoreError::Dump(format!(
            "cannot write {}: {e}",
            staging.display()
        )));
    }
    let checked = async {
        let mut conn = open_sqlite(&staging).await?;
        let verdict: String = sqlx::query_scalar("PRAGMA integrity_check")
            .fetch_one(&mut conn)
            .await?;
        let _ = conn.close().await;
        if verdict == "ok" {
            Ok(())
        } else {
            Err(StoreError::Dump(format!(
                "the restored database is damaged ({verdict}); nothing was restored"
            )))
        }
    }
    .await;
    if let Err(e) = checked.and_then(|()| {
        std::fs::rename(&staging, target)
            .map_err(|e| StoreError::Dump(format!("cannot move the database into place: {e}")))
    }) {
        let _ = std::fs::remove_file(&staging);
        return Err(e);
    }
    Ok(())
}

/// The URL without its password (which goes to the tool through `PGPASSWORD`, not its
/// command line, where other users of the machine could read it).
fn split_password(url: &str) -> Result<(String, Option<String>), StoreError> {
    let mut parsed = url::Url::parse(url).map_err(|_| StoreError::UnsupportedDatabaseUrl {
        url: crate::db::redact(url),
    })?;
    let password = parsed.password().map(|p| {
        percent_encoding::percent_decode_str(p)
            .decode_utf8_lossy()
            .into_owned()
    });
    if password.is_some() {
        let _ = parsed.set_password(None);
    }
    Ok((parsed.to_string(), password))
}

async fn run_pg_tool(
    mut cmd: tokio::process::Command,
    password: Option<String>,
    tool: &str,
) -> Result<(), StoreError> {
    if let Some(p) = password {
        cmd.env("PGPASSWORD", p);
    }
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let out = cmd.output().await.map_err(|e| {
        StoreError::Dump(if e.kind() == std::io::ErrorKind::NotFound {
            format!(
                "{tool} is not installed: install the PostgreSQL client tools of the server's \
                 version (Debian: postgresql-client)"
            )
        } else {
            format!("cannot run {tool}: {e}")
        })
    })?;
    if out.status.success() {
        return Ok(());
    }
    let mut stderr = String::from_utf8_lossy(&out.stderr).trim().to_owned();
    if stderr.len() > 2000 {
        stderr.truncate(stderr.floor_char_boundary(2000));
        stderr.push('…');
    }
    Err(StoreError::Dump(format!("{tool} failed: {stderr}")))
}
