//! Identity on SQLite.

super::sql::sql_store!(
    SqliteStore,
    sqlx::SqlitePool,
    nexus_store::outbox::sqlite::append,
    nexus_store::audit::sqlite::append
);

super::sql_mfa::sql_mfa_store!(
    SqliteStore,
    sqlx::Sqlite,
    nexus_store::audit::sqlite::append
);
