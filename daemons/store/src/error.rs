use thiserror::Error;

/// Everything the store can fail with. Messages say what to do about it.
#[derive(Debug, Error)]
pub enum StoreError {
    #[error(
        "unsupported database URL `{url}`: use sqlite:///path/to/nexus.db or postgres://user@host/db"
    )]
    UnsupportedDatabaseUrl { url: String },

    #[error(
        "cannot reach PostgreSQL at {target}: {cause}. Check that the server is running and \
         that database.url is correct"
    )]
    Unreachable { target: String, cause: String },

    #[error(
        "PostgreSQL at {target} refused the login: {cause}. Check the user, password and database name in database.url"
    )]
    AccessDenied { target: String, cause: String },

    #[error(
        "cannot open the SQLite database {path}: {cause}. Check that its directory exists and is writable"
    )]
    SqliteOpen { path: String, cause: String },

    #[error(
        "migration {app}/{version:04} ({name}) was changed after it was applied to this \
         database; restore the original migration file or restore the database from a backup"
    )]
    MigrationChanged {
        app: String,
        version: i64,
        name: String,
    },

    #[error(
        "this database has migration {app}/{version:04}, which this NEXUS version does not \
         know: it was written by a newer release. Run that release, or restore a backup"
    )]
    MigrationFromTheFuture { app: String, version: i64 },

    #[error("migration {app}/{version:04} ({name}) failed: {cause}")]
    MigrationFailed {
        app: String,
        version: i64,
        name: String,
        cause: String,
    },

    #[error("invalid blob store URL `{url}`: {cause}. Use file:///path or s3://bucket/prefix")]
    BlobUrl { url: String, cause: String },

    #[error("invalid blob key `{key}`: {cause}")]
    BlobKey { key: String, cause: String },

    #[error("blob {key} does not exist")]
    BlobNotFound { key: String },

    #[error("blob store error: {0}")]
    Blob(#[from] object_store::Error),

    #[error("blob stream failed: {0}")]
    BlobStream(std::io::Error),

    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),

    #[error("stored data is invalid: {0}")]
    Corrupt(String),

    /// A database dump or load (for backups) could not be made; the message says why and
    /// what to do.
    #[error("{0}")]
    Dump(String),
}

impl StoreError {
    /// True when a request could succeed later without any change (pool exhausted, server
    /// restarting): the caller answers 503 rather than 500.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::Unreachable { .. } | Self::Database(sqlx::Error::PoolTimedOut)
        )
    }
}
