//! Identity on SQLite.

super::sql::sql_store!(
    SqliteStore,
    sqlx::SqlitePool,
    nexus_store::outbox::sqlite::append,
    nexus_store::audit::sqlite::append
);
