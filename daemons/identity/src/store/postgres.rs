//! Identity on PostgreSQL.

super::sql::sql_store!(
    PgStore,
    sqlx::PgPool,
    nexus_store::outbox::postgres::append,
    nexus_store::audit::postgres::append
);

super::sql_mfa::sql_mfa_store!(
    PgStore,
    sqlx::Postgres,
    nexus_store::audit::postgres::append
);
