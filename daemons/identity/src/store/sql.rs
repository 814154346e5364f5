//! The SQL both backends share.
//!
//! SQLite and PostgreSQL accept the same `$n` placeholders and, for identity's tables, the
//! same statements; the column types differ and live in each backend's migrations. So the
//! implementation is written once here and stamped out per backend by `sql_store!`, which
//! keeps `sqlite.rs` and `postgres.rs` side by side and lets either one override a query
//! when the dialects diverge.

/// Ends every session of a user except one token hash (`''` keeps none).
pub(crate) const END_USER_SESSIONS: &str =
    "DELETE FROM sessions WHERE org_id = $1 AND user_id = $2 AND token_hash <> $3";

macro_rules! sql_store {
    ($name:ident, $pool:ty, $db:ty, $append:path, $audit:path) => {
        #[derive(Debug, Clone)]
        pub struct $name {
            pool: $pool,
            /// The same database, for the backend-neutral audit helpers.
            db: nexus_store::Db,
            outbox: nexus_store::Outbox,
        }

        impl $name {
            pub fn new(pool: $pool, db: nexus_store::Db, outbox: nexus_store::Outbox) -> Self {
                Self { pool, db, outbox }
            }

            /// Inserts an account, with its `identity.user.created` event and audit record,
            /// in the caller's transaction.
            pub(crate) async fn insert_user_in(
                tx: &mut sqlx::Transaction<'_, $db>,
                org: nexus_store::OrgId,
                u: &crate::model::NewUser,
                actor: &nexus_store::audit::Actor,
            ) -> crate::error::Result<crate::model::User> {
                let user = crate::model::User {
                    id: crate::model::UserId::generate(),
                    org,
                    email: u.email.clone(),
                    display_name: u.display_name.clone(),
                    role: u.role,
                    password_hash: u.password_hash.clone(),
                    must_change_password: u.must_change_password,
                    disabled: false,
                    created_at: chrono::Utc::now(),
                    directory: None,
                };
                sqlx::query(
                    "INSERT INTO users (id, org_id, email, display_name, role, password_hash, must_change_password, disabled, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(user.id)
                .bind(org)
                .bind(&user.email)
                .bind(&user.display_name)
                .bind(user.role.as_str())
                .bind(&user.password_hash)
                .bind(user.must_change_password)
                .bind(user.disabled)
                .bind(user.created_at)
                .execute(&mut **tx)
                .await
                .map_err(|e| crate::store::conflict_or(e, &format!("user `{}`", u.email)))?;
                let event = nexus_store::NewEvent::new(
                    org,
                    "identity",
                    "identity.user.created",
                    serde_json::json!({ "user_id": user.id, "email": user.email, "role": user.role }),
                );
                $append(&mut **tx, &event).await?;
                let record = nexus_store::audit::NewRecord::new(
                    Some(org),
                    actor,
                    "user.created",
                    format!("user:{}", user.id),
                    serde_json::json!({ "email": user.email, "role": user.role }),
                );
                $audit(&mut **tx, &record).await?;
                Ok(user)
            }
        }

        #[async_trait::async_trait]
        impl crate::store::IdentityStore for $name {
            async fn create_org(
                &self,
                slug: &str,
                name: &str,
                actor: &nexus_store::audit::Actor,
            ) -> crate::error::Result<crate::model::Organization> {
                let org = crate::model::Organization {
                    id: nexus_store::OrgId::generate(),
                    slug: slug.to_owned(),
                    name: name.to_owned(),
                    brand_color: String::new(),
                    created_at: chrono::Utc::now(),
                };
                let mut tx = nexus_store::BeginWrite::begin_write(&self.pool).await?;
                sqlx::query("INSERT INTO organizations (id, slug, name, created_at) VALUES ($1, $2, $3, $4)")
                    .bind(org.id)
                    .bind(&org.slug)
                    .bind(&org.name)
                    .bind(org.created_at)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| crate::store::conflict_or(e, &format!("organization `{slug}`")))?;
                let event = nexus_store::NewEvent::new(
                    org.id,
                    "identity",
                    "identity.org.created",
                    serde_json::json!({ "org_id": org.id, "slug": org.slug }),
                );
                $append(&mut *tx, &event).await?;
                let record = nexus_store::audit::NewRecord::new(
                    Some(org.id),
                    actor,
                    "org.created",
                    format!("org:{}", org.id),
                    serde_json::json!({ "slug": org.slug, "name": org.name }),
                );
                $audit(&mut *tx, &record).await?;
                tx.commit().await?;
                self.outbox.wake();
                Ok(org)
            }

            async fn org(&self, org: nexus_store::OrgId) -> crate::error::Result<Option<crate::model::Organization>> {
                let row: Option<crate::store::OrgRow> =
                    sqlx::query_as("SELECT id, slug, name, brand_color, created_at FROM organizations WHERE id = $1")
                        .bind(org)
                        .fetch_optional(&self.pool)
                        .await?;
                Ok(row.map(Into::into))
            }

            async fn list_orgs(&self) -> crate::error::Result<Vec<crate::model::Organization>> {
                let rows: Vec<crate::store::OrgRow> =
                    sqlx::query_as("SELECT id, slug, name, brand_color, created_at FROM organizations ORDER BY slug")
                        .fetch_all(&self.pool)
                        .await?;
                Ok(rows.into_iter().map(Into::into).collect())
            }

            async fn org_by_slug(&self, slug: &str) -> crate::error::Result<Option<crate::model::Organization>> {
                let row: Option<crate::store::OrgRow> =
                    sqlx::query_as("SELECT id, slug, name, brand_color, created_at FROM organizations WHERE slug = $1")
                        .bind(slug)
                        .fetch_optional(&self.pool)
                        .await?;
                Ok(row.map(Into::into))
            }

            async fn set_disabled(
                &self,
                org: nexus_store::OrgId,
                id: crate::model::UserId,
                disabled: bool,
                actor: &nexus_store::audit::Actor,
            ) -> crate::error::Result<()> {
                let mut tx = nexus_store::BeginWrite::begin_write(&self.pool).await?;
                let r = sqlx::query("UPDATE users SET disabled = $1 WHERE org_id = $2 AND id = $3")
                    .bind(disabled)
                    .bind(org)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                if r.rows_affected() == 0 {
                    return Err(crate::error::IdentityError::NotFound(format!("user {id}")));
                }
                if disabled {
                    let role: String = sqlx::query_scalar("SELECT role FROM users WHERE org_id = $1 AND id = $2")
                        .bind(org)
                        .bind(id)
                        .fetch_one(&mut *tx)
                        .await?;
                    let owners: i64 = sqlx::query_scalar(crate::store::sql_directory::COUNT_OWNERS)
                        .bind(org)
                        .bind(false)
                        .fetch_one(&mut *tx)
                        .await?;
                    if role == "owner" && owners == 0 {
                        return Err(crate::error::IdentityError::Forbidden(
                            "this is the organization's last enabled owner; make someone else owner first".into(),
                        ));
                    }
                    sqlx::query("DELETE FROM sessions WHERE org_id = $1 AND user_id = $2")
                        .bind(org)
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                    for revoke in crate::store::REVOKE_USER_TOKENS {
                        sqlx::query(revoke)
                            .bind(chrono::Utc::now())
                            .bind(org)
                            .bind(id)
                            .execute(&mut *tx)
                            .await?;
                    }
                }
                let kind = if disabled { "identity.user.disabled" } else { "identity.user.enabled" };
                let event = nexus_store::NewEvent::new(org, "identity", kind, serde_json::json!({ "user_id": id }));
                $append(&mut *tx, &event).await?;
                let action = if disabled { "user.disabled" } else { "user.enabled" };
                let record = nexus_store::audit::NewRecord::new(
                    Some(org),
                    actor,
                    action,
                    format!("user:{id}"),
                    serde_json::json!({}),
                );
                $audit(&mut *tx, &record).await?;
                tx.commit().await?;
                self.outbox.wake();
                Ok(())
            }

            async fn count_orgs(&self) -> crate::error::Result<i64> {
                Ok(sqlx::query_scalar("SELECT COUNT(*) FROM organizations").fetch_one(&self.pool).await?)
            }

            async fn create_user(
                &self,
                org: nexus_store::OrgId,
                u: &crate::model::NewUser,
                actor: &nexus_store::audit::Actor,
            ) -> crate::error::Result<crate::model::User> {
                let mut tx = nexus_store::BeginWrite::begin_write(&self.pool).await?;
                let user = Self::insert_user_in(&mut tx, org, u, actor).await?;
                tx.commit().await?;
                self.outbox.wake();
                Ok(user)
            }

            async fn user(
                &self,
                org: nexus_store::OrgId,
                id: crate::model::UserId,
            ) -> crate::error::Result<Option<crate::model::User>> {
                let row: Option<crate::store::UserRow> = sqlx::query_as(concat!(
                    select_users!(),
                    "WHERE org_id = $1 AND id = $2"
                ))
                .bind(org)
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
                row.map(TryInto::try_into).transpose()
            }

            async fn user_by_email(
                &self,
                org: nexus_store::OrgId,
                email: &str,
            ) -> crate::error::Result<Option<crate::model::User>> {
                let row: Option<crate::store::UserRow> = sqlx::query_as(concat!(
                    select_users!(),
                    "WHERE org_id = $1 AND email = $2"
                ))
                .bind(org)
                .bind(email)
                .fetch_optional(&self.pool)
                .await?;
                row.map(TryInto::try_into).transpose()
            }

            async fn list_users(&self, org: nexus_store::OrgId) -> crate::error::Result<Vec<crate::model::User>> {
                let rows: Vec<crate::store::UserRow> = sqlx::query_as(concat!(
                    select_users!(),
                    "WHERE org_id = $1 ORDER BY email"
                ))
                .bind(org)
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter().map(TryInto::try_into).collect()
            }

            async fn find_login(&self, email: &str) -> crate::error::Result<Vec<crate::model::User>> {
                let rows: Vec<crate::store::UserRow> = sqlx::query_as(concat!(
                    select_users!(),
                    "WHERE email = $1 ORDER BY created_at"
                ))
                .bind(email)
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter().map(TryInto::try_into).collect()
            }

            async fn set_password(
                &self,
                org: nexus_store::OrgId,
                id: crate::model::UserId,
                hash: &str,
                must_change: bool,
                end: crate::store::EndSessions<'_>,
                actor: &nexus_store::audit::Actor,
            ) -> crate::error::Result<()> {
                let mut tx = nexus_store::BeginWrite::begin_write(&self.pool).await?;
                let r = sqlx::query("UPDATE users SET password_hash = $1, must_change_password = $2 WHERE org_id = $3 AND id = $4")
                    .bind(hash)
                    .bind(must_change)
                    .bind(org)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                if r.rows_affected() == 0 {
                    return Err(crate::error::IdentityError::NotFound(format!("user {id}")));
                }
                // A new password makes every unused setup or reset link of the account void:
                // one lost or leaked before must not set the password again.
                sqlx::query("DELETE FROM password_resets WHERE org_id = $1 AND user_id = $2 AND used_at IS NULL")
                    .bind(org)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                let event = nexus_store::NewEvent::new(
                    org,
                    "identity",
                    "identity.password.changed",
                    serde_json::json!({ "user_id": id }),
                );
                $append(&mut *tx, &event).await?;
                let keep = match end {
                    crate::store::EndSessions::None => None,
                    crate::store::EndSessions::AllExcept(token_hash) => Some(token_hash),
                    crate::store::EndSessions::All => Some(""),
                };
                let mut ended = 0;
                if let Some(keep) = keep {
                    ended = sqlx::query(crate::store::sql::END_USER_SESSIONS)
                        .bind(org)
                        .bind(id)
                        .bind(keep)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                }
                let action = if must_change { "user.password_reset" } else { "user.password_changed" };
                let record = nexus_store::audit::NewRecord::new(
                    Some(org),
                    actor,
                    action,
                    format!("user:{id}"),
                    serde_json::json!({ "sessions_ended": ended }),
                );
                $audit(&mut *tx, &record).await?;
                tx.commit().await?;
                self.outbox.wake();
                Ok(())
            }

            async fn create_session(
                &self,
                s: &crate::model::Session,
                method: &str,
                actor: &nexus_store::audit::Actor,
            ) -> crate::error::Result<()> {
                let mut tx = nexus_store::BeginWrite::begin_write(&self.pool).await?;
                sqlx::query(
                    "INSERT INTO sessions (token_hash, org_id, user_id, created_at, expires_at, client) VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(&s.token_hash)
                .bind(s.org)
                .bind(s.user)
                .bind(s.created_at)
                .bind(s.expires_at)
                .bind(&s.client)
                .execute(&mut *tx)
                .await?;
                let record = nexus_store::audit::NewRecord::new(
                    Some(s.org),
                    actor,
                    "session.login",
                    format!("user:{}", s.user),
                    serde_json::json!({ "expires_at": s.expires_at, "method": method }),
                );
                $audit(&mut *tx, &record).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn session(&self, token_hash: &str) -> crate::error::Result<Option<crate::model::Session>> {
                let row: Option<crate::store::SessionRow> = sqlx::query_as(
                    "SELECT token_hash, org_id, user_id, created_at, expires_at, client FROM sessions WHERE token_hash = $1",
                )
                .bind(token_hash)
                .fetch_optional(&self.pool)
                .await?;
                Ok(row.map(Into::into))
            }

            async fn user_sessions(
                &self,
                org: nexus_store::OrgId,
                user: crate::model::UserId,
                now: chrono::DateTime<chrono::Utc>,
            ) -> crate::error::Result<Vec<crate::model::Session>> {
                let rows: Vec<crate::store::SessionRow> = sqlx::query_as(
                    "SELECT token_hash, org_id, user_id, created_at, expires_at, client FROM sessions \
                     WHERE org_id = $1 AND user_id = $2 AND expires_at > $3 ORDER BY created_at DESC",
                )
                .bind(org)
                .bind(user)
                .bind(now)
                .fetch_all(&self.pool)
                .await?;
                Ok(rows.into_iter().map(Into::into).collect())
            }

            async fn delete_session(
                &self,
                org: nexus_store::OrgId,
                token_hash: &str,
                actor: &nexus_store::audit::Actor,
            ) -> crate::error::Result<()> {
                let mut tx = nexus_store::BeginWrite::begin_write(&self.pool).await?;
                let user: Option<crate::model::UserId> =
                    sqlx::query_scalar("DELETE FROM sessions WHERE org_id = $1 AND token_hash = $2 RETURNING user_id")
                        .bind(org)
                        .bind(token_hash)
                        .fetch_optional(&mut *tx)
                        .await?;
                if let Some(user) = user {
                    let record = nexus_store::audit::NewRecord::new(
                        Some(org),
                        actor,
                        "session.logout",
                        format!("user:{user}"),
                        serde_json::json!({}),
                    );
                    $audit(&mut *tx, &record).await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn delete_user_sessions(
                &self,
                org: nexus_store::OrgId,
                user: crate::model::UserId,
                keep: Option<&str>,
                actor: &nexus_store::audit::Actor,
            ) -> crate::error::Result<u64> {
                let mut tx = nexus_store::BeginWrite::begin_write(&self.pool).await?;
                let ended = sqlx::query(crate::store::sql::END_USER_SESSIONS)
                    .bind(org)
                    .bind(user)
                    .bind(keep.unwrap_or(""))
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if ended > 0 {
                    let record = nexus_store::audit::NewRecord::new(
                        Some(org),
                        actor,
                        "session.revoked",
                        format!("user:{user}"),
                        serde_json::json!({ "sessions_ended": ended, "kept_current": keep.is_some() }),
                    );
                    $audit(&mut *tx, &record).await?;
                }
                tx.commit().await?;
                Ok(ended)
            }

            async fn delete_expired_sessions(&self, now: chrono::DateTime<chrono::Utc>) -> crate::error::Result<u64> {
                let r = sqlx::query("DELETE FROM sessions WHERE expires_at < $1")
                    .bind(now)
                    .execute(&self.pool)
                    .await?;
                Ok(r.rows_affected())
            }

            async fn create_api_token(
                &self,
                t: &crate::model::ApiToken,
                actor: &nexus_store::audit::Actor,
            ) -> crate::error::Result<()> {
                let mut tx = nexus_store::BeginWrite::begin_write(&self.pool).await?;
                sqlx::query(
                    "INSERT INTO api_tokens (id, org_id, user_id, name, scopes, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(t.id)
                .bind(t.org)
                .bind(t.user)
                .bind(&t.name)
                .bind(&t.scopes)
                .bind(t.created_at)
                .bind(t.expires_at)
                .execute(&mut *tx)
                .await?;
                let record = nexus_store::audit::NewRecord::new(
                    Some(t.org),
                    actor,
                    "token.created",
                    format!("token:{}", t.id),
                    serde_json::json!({ "user_id": t.user, "name": t.name, "scopes": t.scopes, "expires_at": t.expires_at }),
                );
                $audit(&mut *tx, &record).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn list_api_tokens(
                &self,
                org: nexus_store::OrgId,
                user: crate::model::UserId,
            ) -> crate::error::Result<Vec<crate::model::ApiToken>> {
                let rows: Vec<crate::store::ApiTokenRow> = sqlx::query_as(
                    "SELECT id, org_id, user_id, name, scopes, created_at, expires_at, revoked_at FROM api_tokens \
                     WHERE org_id = $1 AND user_id = $2 ORDER BY created_at DESC",
                )
                .bind(org)
                .bind(user)
                .fetch_all(&self.pool)
                .await?;
                Ok(rows.into_iter().map(Into::into).collect())
            }

            async fn revoke_api_token(
                &self,
                org: nexus_store::OrgId,
                user: crate::model::UserId,
                id: uuid::Uuid,
                actor: &nexus_store::audit::Actor,
            ) -> crate::error::Result<()> {
                let mut tx = nexus_store::BeginWrite::begin_write(&self.pool).await?;
                let r = sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE org_id = $2 AND user_id = $3 AND id = $4 AND revoked_at IS NULL")
                    .bind(chrono::Utc::now())
                    .bind(org)
                    .bind(user)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                if r.rows_affected() == 0 {
                    return Err(crate::error::IdentityError::NotFound(format!("token {id}")));
                }
                let record = nexus_store::audit::NewRecord::new(
                    Some(org),
                    actor,
                    "token.revoked",
                    format!("token:{id}"),
                    serde_json::json!({ "user_id": user }),
                );
                $audit(&mut *tx, &record).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn revoked_api_tokens(
                &self,
                now: chrono::DateTime<chrono::Utc>,
            ) -> crate::error::Result<Vec<uuid::Uuid>> {
                Ok(sqlx::query_scalar("SELECT id FROM api_tokens WHERE revoked_at IS NOT NULL AND expires_at > $1")
                    .bind(now)
                    .fetch_all(&self.pool)
                    .await?)
            }

            async fn create_client(
                &self,
                c: &crate::model::OAuthClient,
                actor: &nexus_store::audit::Actor,
            ) -> crate::error::Result<()> {
                let mut tx = nexus_store::BeginWrite::begin_write(&self.pool).await?;
                sqlx::query(
                    "INSERT INTO oauth_clients (id, org_id, name, secret_hash, scopes, created_at, disabled, redirect_uris) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(&c.id)
                .bind(c.org)
                .bind(&c.name)
                .bind(&c.secret_hash)
                .bind(&c.scopes)
                .bind(c.created_at)
                .bind(c.disabled)
                .bind(&c.redirect_uris)
                .execute(&mut *tx)
                .await?;
                let record = nexus_store::audit::NewRecord::new(
                    Some(c.org),
                    actor,
                    "client.created",
                    format!("client:{}", c.id),
                    serde_json::json!({ "name": c.name, "scopes": c.scopes, "redirect_uris": c.redirect_uris }),
                );
                $audit(&mut *tx, &record).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn client(&self, id: &str) -> crate::error::Result<Option<crate::model::OAuthClient>> {
                let row: Option<crate::store::ClientRow> = sqlx::query_as(
                    "SELECT id, org_id, name, secret_hash, scopes, created_at, disabled, redirect_uris FROM oauth_clients WHERE id = $1",
                )
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
                Ok(row.map(Into::into))
            }

            async fn list_clients(&self, org: nexus_store::OrgId) -> crate::error::Result<Vec<crate::model::OAuthClient>> {
                let rows: Vec<crate::store::ClientRow> = sqlx::query_as(
                    "SELECT id, org_id, name, secret_hash, scopes, created_at, disabled, redirect_uris FROM oauth_clients WHERE org_id = $1 ORDER BY created_at",
                )
                .bind(org)
                .fetch_all(&self.pool)
                .await?;
                Ok(rows.into_iter().map(Into::into).collect())
            }

            async fn disable_client(
                &self,
                org: nexus_store::OrgId,
                id: &str,
                actor: &nexus_store::audit::Actor,
            ) -> crate::error::Result<()> {
                let mut tx = nexus_store::BeginWrite::begin_write(&self.pool).await?;
                let r = sqlx::query("UPDATE oauth_clients SET disabled = $1 WHERE org_id = $2 AND id = $3 AND disabled = $4")
                    .bind(true)
                    .bind(org)
                    .bind(id)
                    .bind(false)
                    .execute(&mut *tx)
                    .await?;
                if r.rows_affected() == 0 {
                    return Err(crate::error::IdentityError::NotFound(format!("client {id}")));
                }
                sqlx::query("UPDATE oauth_refresh_tokens SET revoked_at = $1 WHERE client_id = $2 AND revoked_at IS NULL")
                    .bind(chrono::Utc::now())
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                let record = nexus_store::audit::NewRecord::new(
                    Some(org),
                    actor,
                    "client.disabled",
                    format!("client:{id}"),
                    serde_json::json!({}),
                );
                $audit(&mut *tx, &record).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn disabled_clients(&self) -> crate::error::Result<Vec<String>> {
                Ok(sqlx::query_scalar("SELECT id FROM oauth_clients WHERE disabled = $1")
                    .bind(true)
                    .fetch_all(&self.pool)
                    .await?)
            }

            async fn audit(&self, record: &nexus_store::audit::NewRecord) -> crate::error::Result<()> {
                nexus_store::audit::record(&self.db, record).await?;
                Ok(())
            }

            async fn audit_log(
                &self,
                org: nexus_store::OrgId,
                after: i64,
                limit: i64,
            ) -> crate::error::Result<Vec<nexus_store::audit::Record>> {
                Ok(nexus_store::audit::list(&self.db, Some(org), after, limit).await?)
            }
        }
    };
}

pub(crate) use sql_store;
