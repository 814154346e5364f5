//! Storage for every NEXUS app.
//!
//! - [`Db`]: metadata in SQLite (the embedded default, WAL mode) or PostgreSQL (scale-out),
//!   chosen from the database URL. Apps put their queries behind a storage trait of their own
//!   with one implementation per backend; nothing outside those implementations matches on
//!   the backend.
//! - [`migrate`]: an ordered, checksummed migration history per app and per backend.
//! - [`BlobStore`]: files through `object_store` (local filesystem or S3-compatible), streamed.
//! - [`outbox`] and [`EventBus`]: domain events written in the same transaction as the change
//!   they describe, then delivered to in-process subscribers.
//! - [`audit`]: the append-only, hash-chained audit log, written in the same transactions.
//! - [`OrgId`]: the tenant every row belongs to.

pub mod audit;
pub mod blob;
pub mod bus;
pub mod db;
pub mod dump;
pub mod error;
pub mod migrate;
pub mod outbox;
pub mod tenancy;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use blob::{BlobKey, BlobStore, open_object_store};
pub use bus::{Event, EventBus};
pub use db::{Backend, BeginWrite, Db, DbOptions};
pub use error::StoreError;
pub use migrate::{AppMigrations, Migration};
pub use outbox::{NewEvent, Outbox};
pub use tenancy::OrgId;

/// The store's own tables (migration history lives in its own bootstrap table).
pub static MIGRATIONS: AppMigrations = AppMigrations {
    app: "store",
    sqlite: &[
        Migration::new(
            1,
            "outbox",
            include_str!("../migrations/sqlite/0001_outbox.sql"),
        ),
        Migration::new(
            2,
            "audit",
            include_str!("../migrations/sqlite/0002_audit.sql"),
        ),
    ],
    postgres: &[
        Migration::new(
            1,
            "outbox",
            include_str!("../migrations/postgres/0001_outbox.sql"),
        ),
        Migration::new(
            2,
            "audit",
            include_str!("../migrations/postgres/0002_audit.sql"),
        ),
    ],
};
