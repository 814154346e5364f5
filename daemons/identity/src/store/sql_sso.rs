//! Outside OpenID Connect providers and the sign-ins they link to accounts, written once for
//! both backends like `sql.rs`. Audit records go through the federation store's `audit_in`
//! and accounts are created with `sql.rs`'s `insert_user_in`, so both stay in one place.

macro_rules! select_providers {
    () => {
        "SELECT id, org_id, name, issuer, client_id, client_secret, create_users, trust_email, \
         created_at FROM identity_providers"
    };
}

pub(crate) const ORG_PROVIDERS: &str =
    concat!(select_providers!(), " WHERE org_id = $1 ORDER BY name");
pub(crate) const ONE_PROVIDER: &str =
    concat!(select_providers!(), " WHERE org_id = $1 AND id = $2");
pub(crate) const PROVIDER_BY_ID: &str = concat!(select_providers!(), " WHERE id = $1");
pub(crate) const ALL_PROVIDERS: &str = concat!(select_providers!(), " ORDER BY name, created_at");

/// What the audit log keeps of a provider added or changed (never the secret).
pub(crate) fn audit_details(p: &crate::model::IdentityProvider) -> serde_json::Value {
    serde_json::json!({
        "name": p.name,
        "issuer": p.issuer,
        "client_id": p.client_id,
        "create_users": p.create_users,
        "trust_email": p.trust_email,
    })
}

macro_rules! sql_sso_store {
    ($name:ident, $db:ty) => {
        impl $name {
            async fn insert_link_in(
                tx: &mut sqlx::Transaction<'_, $db>,
                provider: &crate::model::IdentityProvider,
                subject: &str,
                user: crate::model::UserId,
                by_address: bool,
                actor: &nexus_store::audit::Actor,
            ) -> crate::error::Result<()> {
                sqlx::query(
                    "INSERT INTO external_logins (provider_id, subject, org_id, user_id, created_at, last_login_at, by_address) \
                     VALUES ($1, $2, $3, $4, $5, $5, $6)",
                )
                .bind(provider.id)
                .bind(subject)
                .bind(provider.org)
                .bind(user)
                .bind(chrono::Utc::now())
                .bind(by_address)
                .execute(&mut **tx)
                .await
                .map_err(|e| {
                    crate::store::conflict_or(
                        e,
                        &format!("a sign-in through {} for this account", provider.name),
                    )
                })?;
                Self::audit_in(
                    tx,
                    provider.org,
                    actor,
                    "user.sso_linked",
                    format!("user:{user}"),
                    serde_json::json!({ "provider": provider.id, "provider_name": provider.name, "subject": subject, "by_address": by_address }),
                )
                .await
            }
        }

        #[async_trait::async_trait]
        impl crate::store::SsoStore for $name {
            async fn create_provider(
                &self,
                p: &crate::model::IdentityProvider,
                actor: &nexus_store::audit::Actor,
            ) -> crate::error::Result<()> {
                let mut tx = nexus_store::BeginWrite::begin_write(&self.pool).await?;
                sqlx::query(
                    "INSERT INTO identity_providers (id, org_id, name, issuer, client_id, client_secret, \
                     create_users, trust_email, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(p.id)
                .bind(p.org)
                .bind(&p.name)
                .bind(&p.issuer)
                .bind(&p.client_id)
                .bind(&p.client_secret)
                .bind(p.create_users)
                .bind(p.trust_email)
                .bind(p.created_at)
                .execute(&mut *tx)
                .await
                .map_err(|e| crate::store::conflict_or(e, &format!("a sign-in provider named `{}`", p.name)))?;
                self.commit_audited(
                    tx,
                    p.org,
                    actor,
                    "sso_provider.created",
                    format!("sso_provider:{}", p.id),
                    crate::store::sql_sso::audit_details(p),
                )
                .await
            }

            async fn update_provider(
                &self,
                p: &crate::model::IdentityProvider,
                actor: &nexus_store::audit::Actor,
            ) -> crate::error::Result<()> {
                let mut tx = nexus_store::BeginWrite::begin_write(&self.pool).await?;
                let old_issuer = Self::org_text(
                    &mut tx,
                    "SELECT issuer FROM identity_providers WHERE org_id = $1 AND id = $2",
                    p.org,
                    p.id,
                    "sign-in provider",
                )
                .await?;
                // A subject is unique only at its issuer: links made at another one would
                // open accounts for whoever has the same `sub` at the new one.
                let mut links_removed = 0;
                if old_issuer.trim_end_matches('/') != p.issuer.trim_end_matches('/') {
                    links_removed = sqlx::query(
                        "DELETE FROM external_logins WHERE org_id = $1 AND provider_id = $2",
                    )
                    .bind(p.org)
                    .bind(p.id)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                }
                let changed = sqlx::query(
                    "UPDATE identity_providers SET name = $1, issuer = $2, client_id = $3, \
                     client_secret = $4, create_users = $5, trust_email = $6 WHERE org_id = $7 AND id = $8",
                )
                .bind(&p.name)
                .bind(&p.issuer)
                .bind(&p.client_id)
                .bind(&p.client_secret)
                .bind(p.create_users)
                .bind(p.trust_email)
                .bind(p.org)
                .bind(p.id)
                .execute(&mut *tx)
                .await
                .map_err(|e| crate::store::conflict_or(e, &format!("a sign-in provider named `{}`", p.name)))?
                .rows_affected();
                if changed == 0 {
                    return Err(crate::error::IdentityError::NotFound(format!("sign-in provider {}", p.id)));
                }
                self.commit_audited(
                    tx,
                    p.org,
                    actor,
                    "sso_provider.updated",
                    format!("sso_provider:{}", p.id),
                    {
                        let mut d = crate::store::sql_sso::audit_details(p);
                        d["links_removed"] = links_removed.into();
                        d
                    },
                )
                .await
            }

            async fn providers(
                &self,
                org: nexus_store::OrgId,
            ) -> crate::error::Result<Vec<crate::model::IdentityProvider>> {
                let rows: Vec<crate::store::ProviderRow> =
                    sqlx::query_as(crate::store::sql_sso::ORG_PROVIDERS)
                        .bind(org)
                        .fetch_all(&self.pool)
                        .await?;
                Ok(rows.into_iter().map(Into::into).collect())
            }

            async fn provider(
                &self,
                org: nexus_store::OrgId,
                id: uuid::Uuid,
            ) -> crate::error::Result<Option<crate::model::IdentityProvider>> {
                let row: Option<crate::store::ProviderRow> =
                    sqlx::query_as(crate::store::sql_sso::ONE_PROVIDER)
                        .bind(org)
                        .bind(id)
                        .fetch_optional(&self.pool)
                        .await?;
                Ok(row.map(Into::into))
            }

            async fn provider_by_id(
                &self,
                id: uuid::Uuid,
            ) -> crate::error::Result<Option<crate::model::IdentityProvider>> {
                let row: Option<crate::store::ProviderRow> =
                    sqlx::query_as(crate::store::sql_sso::PROVIDER_BY_ID)
                        .bind(id)
                        .fetch_optional(&self.pool)
                        .await?;
                Ok(row.map(Into::into))
            }

            async fn unlink_login(
                &self,
                provider: &crate::model::IdentityProvider,
                user: crate::model::UserId,
                actor: &nexus_store::audit::Actor,
            ) -> crate::error::Result<()> {
                let mut tx = nexus_store::BeginWrite::begin_write(&self.pool).await?;
                let gone = sqlx::query(
                    "DELETE FROM external_logins WHERE org_id = $1 AND provider_id = $2 AND user_id = $3",
                )
                .bind(provider.org)
                .bind(provider.id)
                .bind(user)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if gone == 0 {
                    return Err(crate::error::IdentityError::NotFound(format!(
                        "a sign-in through {} for this account",
                        provider.name
                    )));
                }
                self.commit_audited(
                    tx,
                    provider.org,
                    actor,
                    "user.sso_unlinked",
                    format!("user:{user}"),
                    serde_json::json!({ "provider": provider.id, "provider_name": provider.name }),
                )
                .await
            }

            async fn all_providers(
                &self,
            ) -> crate::error::Result<Vec<crate::model::IdentityProvider>> {
                let rows: Vec<crate::store::ProviderRow> =
                    sqlx::query_as(crate::store::sql_sso::ALL_PROVIDERS)
                        .fetch_all(&self.pool)
                        .await?;
                Ok(rows.into_iter().map(Into::into).collect())
            }

            async fn delete_provider(
                &self,
                org: nexus_store::OrgId,
                id: uuid::Uuid,
                actor: &nexus_store::audit::Actor,
            ) -> crate::error::Result<()> {
                let mut tx = nexus_store::BeginWrite::begin_write(&self.pool).await?;
                // Links first: SQLite enforces the cascade only with foreign keys on.
                sqlx::query("DELETE FROM external_logins WHERE org_id = $1 AND provider_id = $2")
                    .bind(org)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                let name = Self::org_text(
                    &mut tx,
                    "DELETE FROM identity_providers WHERE org_id = $1 AND id = $2 RETURNING name",
                    org,
                    id,
                    "sign-in provider",
                )
                .await?;
                self.commit_audited(
                    tx,
                    org,
                    actor,
                    "sso_provider.deleted",
                    format!("sso_provider:{id}"),
                    serde_json::json!({ "name": name }),
                )
                .await
            }

            async fn linked_user(
                &self,
                provider: &crate::model::IdentityProvider,
                subject: &str,
                at: chrono::DateTime<chrono::Utc>,
            ) -> crate::error::Result<Option<(crate::model::UserId, bool)>> {
                let user: Option<(crate::model::UserId, bool)> = sqlx::query_as(
                    "UPDATE external_logins SET last_login_at = $1 \
                     WHERE provider_id = $2 AND subject = $3 AND org_id = $4 RETURNING user_id, by_address",
                )
                .bind(at)
                .bind(provider.id)
                .bind(subject)
                .bind(provider.org)
                .fetch_optional(&self.pool)
                .await?;
                Ok(user)
            }

            async fn link_login(
                &self,
                provider: &crate::model::IdentityProvider,
                subject: &str,
                user: crate::model::UserId,
                by_address: bool,
                actor: &nexus_store::audit::Actor,
            ) -> crate::error::Result<()> {
                let mut tx = nexus_store::BeginWrite::begin_write(&self.pool).await?;
                Self::insert_link_in(&mut tx, provider, subject, user, by_address, actor).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn create_linked_user(
                &self,
                provider: &crate::model::IdentityProvider,
                subject: &str,
                user: &crate::model::NewUser,
                actor: &nexus_store::audit::Actor,
            ) -> crate::error::Result<crate::model::User> {
                let mut tx = nexus_store::BeginWrite::begin_write(&self.pool).await?;
                let created = Self::insert_user_in(&mut tx, provider.org, user, actor).await?;
                Self::insert_link_in(&mut tx, provider, subject, created.id, false, actor).await?;
                tx.commit().await?;
                self.outbox.wake();
                Ok(created)
            }

            async fn user_links(
                &self,
                org: nexus_store::OrgId,
                user: crate::model::UserId,
            ) -> crate::error::Result<Vec<String>> {
                let names: Vec<String> = sqlx::query_scalar(
                    "SELECT p.name FROM external_logins l JOIN identity_providers p ON p.id = l.provider_id \
                     WHERE l.org_id = $1 AND l.user_id = $2 ORDER BY p.name",
                )
                .bind(org)
                .bind(user)
                .fetch_all(&self.pool)
                .await?;
                Ok(names)
            }
        }
    };
}

pub(crate) use sql_sso_store;
