//! Identity on SQLite.

super::sql::sql_store!(
    SqliteStore,
    sqlx::SqlitePool,
    sqlx::Sqlite,
    nexus_store::outbox::sqlite::append,
    nexus_store::audit::sqlite::append
);

super::sql_credentials::sql_credential_store!(
    SqliteStore,
    sqlx::Sqlite,
    nexus_store::audit::sqlite::append
);

super::sql_directory::sql_directory_store!(
    SqliteStore,
    sqlx::Sqlite,
    nexus_store::audit::sqlite::append
);

super::sql_passkeys::sql_passkey_store!(SqliteStore, nexus_store::audit::sqlite::append);

super::sql_directories::sql_federation_store!(
    SqliteStore,
    sqlx::Sqlite,
    nexus_store::outbox::sqlite::append
);

super::sql_sso::sql_sso_store!(SqliteStore, sqlx::Sqlite);
