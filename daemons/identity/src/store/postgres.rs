//! Identity on PostgreSQL.

super::sql::sql_store!(
    PgStore,
    sqlx::PgPool,
    sqlx::Postgres,
    nexus_store::outbox::postgres::append,
    nexus_store::audit::postgres::append
);

super::sql_credentials::sql_credential_store!(
    PgStore,
    sqlx::Postgres,
    nexus_store::audit::postgres::append
);

super::sql_directory::sql_directory_store!(
    PgStore,
    sqlx::Postgres,
    nexus_store::audit::postgres::append
);

super::sql_passkeys::sql_passkey_store!(PgStore, nexus_store::audit::postgres::append);

super::sql_directories::sql_federation_store!(
    PgStore,
    sqlx::Postgres,
    nexus_store::outbox::postgres::append
);

super::sql_sso::sql_sso_store!(PgStore, sqlx::Postgres);
