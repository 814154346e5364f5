//! Second factors and password reset links, written once for both backends like `sql.rs`.

macro_rules! sql_credential_store {
    ($name:ident, $db:ty, $audit:path) => {
        #[async_trait::async_trait]
        impl crate::store::CredentialStore for $name {
            async fn begin_totp(
                &self,
                org: nexus_store::OrgId,
                user: crate::model::UserId,
                secret: &[u8],
                actor: &nexus_store::audit::Actor,
            ) -> crate::error::Result<()> {
                let mut tx = nexus_store::BeginWrite::begin_write(&self.pool).await?;
                // A confirmed authenticator is replaced only by removing it first.
                let r = sqlx::query(
                    "INSERT INTO mfa_totp (user_id, org_id, secret, created_at) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (user_id) DO UPDATE SET secret = excluded.secret, created_at = excluded.created_at \
                     WHERE mfa_totp.confirmed_at IS NULL AND mfa_totp.org_id = excluded.org_id",
                )
                .bind(user)
                .bind(org)
                .bind(secret)
                .bind(chrono::Utc::now())
                .execute(&mut *tx)
                .await?;
                if r.rows_affected() == 0 {
                    return Err(crate::error::IdentityError::Conflict(
                        "an authenticator app is already set up; remove it before adding another".into(),
                    ));
                }
                let record = nexus_store::audit::NewRecord::new(
                    Some(org),
                    actor,
                    "mfa.totp.enrolment_started",
                    format!("user:{user}"),
                    serde_json::json!({}),
                );
                $audit(&mut *tx, &record).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn totp(
                &self,
                org: nexus_store::OrgId,
                user: crate::model::UserId,
            ) -> crate::error::Result<Option<crate::model::TotpRecord>> {
                let row: Option<crate::store::TotpRow> = sqlx::query_as(
                    "SELECT user_id, org_id, secret, created_at, confirmed_at, last_step FROM mfa_totp WHERE org_id = $1 AND user_id = $2",
                )
                .bind(org)
                .bind(user)
                .fetch_optional(&self.pool)
                .await?;
                Ok(row.map(Into::into))
            }

            async fn confirm_totp(
                &self,
                org: nexus_store::OrgId,
                user: crate::model::UserId,
                step: i64,
                recovery_hashes: &[String],
                actor: &nexus_store::audit::Actor,
            ) -> crate::error::Result<()> {
                let mut tx = nexus_store::BeginWrite::begin_write(&self.pool).await?;
                let r = sqlx::query(
                    "UPDATE mfa_totp SET confirmed_at = $1, last_step = $2 WHERE org_id = $3 AND user_id = $4 AND confirmed_at IS NULL",
                )
                .bind(chrono::Utc::now())
                .bind(step)
                .bind(org)
                .bind(user)
                .execute(&mut *tx)
                .await?;
                if r.rows_affected() == 0 {
                    return Err(crate::error::IdentityError::NotFound(
                        "an authenticator app being set up; start again".into(),
                    ));
                }
                Self::put_recovery_codes(&mut tx, org, user, recovery_hashes).await?;
                let record = nexus_store::audit::NewRecord::new(
                    Some(org),
                    actor,
                    "mfa.totp.enabled",
                    format!("user:{user}"),
                    serde_json::json!({ "recovery_codes": recovery_hashes.len() }),
                );
                $audit(&mut *tx, &record).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn accept_totp_step(
                &self,
                org: nexus_store::OrgId,
                user: crate::model::UserId,
                step: i64,
            ) -> crate::error::Result<bool> {
                // One statement, so two logins racing with the same code cannot both win.
                let r = sqlx::query(
                    "UPDATE mfa_totp SET last_step = $1 WHERE org_id = $2 AND user_id = $3 AND confirmed_at IS NOT NULL AND last_step < $1",
                )
                .bind(step)
                .bind(org)
                .bind(user)
                .execute(&self.pool)
                .await?;
                Ok(r.rows_affected() == 1)
            }

            async fn use_recovery_code(
                &self,
                org: nexus_store::OrgId,
                user: crate::model::UserId,
                code_hash: &str,
                actor: &nexus_store::audit::Actor,
            ) -> crate::error::Result<bool> {
                let mut tx = nexus_store::BeginWrite::begin_write(&self.pool).await?;
                let r = sqlx::query(
                    "UPDATE mfa_recovery_codes SET used_at = $1 WHERE org_id = $2 AND user_id = $3 AND code_hash = $4 AND used_at IS NULL",
                )
                .bind(chrono::Utc::now())
                .bind(org)
                .bind(user)
                .bind(code_hash)
                .execute(&mut *tx)
                .await?;
                if r.rows_affected() == 0 {
                    return Ok(false);
                }
                let record = nexus_store::audit::NewRecord::new(
                    Some(org),
                    actor,
                    "mfa.recovery_code.used",
                    format!("user:{user}"),
                    serde_json::json!({}),
                );
                $audit(&mut *tx, &record).await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn replace_recovery_codes(
                &self,
                org: nexus_store::OrgId,
                user: crate::model::UserId,
                code_hashes: &[String],
                actor: &nexus_store::audit::Actor,
            ) -> crate::error::Result<()> {
                let mut tx = nexus_store::BeginWrite::begin_write(&self.pool).await?;
                Self::put_recovery_codes(&mut tx, org, user, code_hashes).await?;
                let record = nexus_store::audit::NewRecord::new(
                    Some(org),
                    actor,
                    "mfa.recovery_codes.replaced",
                    format!("user:{user}"),
                    serde_json::json!({ "recovery_codes": code_hashes.len() }),
                );
                $audit(&mut *tx, &record).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn recovery_codes_left(
                &self,
                org: nexus_store::OrgId,
                user: crate::model::UserId,
            ) -> crate::error::Result<i64> {
                let n: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM mfa_recovery_codes WHERE org_id = $1 AND user_id = $2 AND used_at IS NULL",
                )
                .bind(org)
                .bind(user)
                .fetch_one(&self.pool)
                .await?;
                Ok(n)
            }

            async fn remove_totp(
                &self,
                org: nexus_store::OrgId,
                user: crate::model::UserId,
                actor: &nexus_store::audit::Actor,
            ) -> crate::error::Result<bool> {
                let mut tx = nexus_store::BeginWrite::begin_write(&self.pool).await?;
                let r = sqlx::query("DELETE FROM mfa_totp WHERE org_id = $1 AND user_id = $2")
                    .bind(org)
                    .bind(user)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("DELETE FROM mfa_recovery_codes WHERE org_id = $1 AND user_id = $2")
                    .bind(org)
                    .bind(user)
                    .execute(&mut *tx)
                    .await?;
                if r.rows_affected() == 0 {
                    return Ok(false);
                }
                let record = nexus_store::audit::NewRecord::new(
                    Some(org),
                    actor,
                    "mfa.totp.removed",
                    format!("user:{user}"),
                    serde_json::json!({}),
                );
                $audit(&mut *tx, &record).await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn create_password_reset(
                &self,
                org: nexus_store::OrgId,
                user: crate::model::UserId,
                token_hash: &str,
                expires_at: chrono::DateTime<chrono::Utc>,
                purpose: crate::model::LinkPurpose,
                actor: &nexus_store::audit::Actor,
            ) -> crate::error::Result<()> {
                let mut tx = nexus_store::BeginWrite::begin_write(&self.pool).await?;
                // Only the newest link of a kind works: a forwarded or leaked older mail is
                // useless, and a reset request cannot cancel a setup link.
                sqlx::query("DELETE FROM password_resets WHERE org_id = $1 AND user_id = $2 AND used_at IS NULL AND purpose = $3")
                    .bind(org)
                    .bind(user)
                    .bind(purpose.as_str())
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(
                    "INSERT INTO password_resets (token_hash, org_id, user_id, created_at, expires_at, purpose) VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(token_hash)
                .bind(org)
                .bind(user)
                .bind(chrono::Utc::now())
                .bind(expires_at)
                .bind(purpose.as_str())
                .execute(&mut *tx)
                .await?;
                let record = nexus_store::audit::NewRecord::new(
                    Some(org),
                    actor,
                    purpose.audit_action(),
                    format!("user:{user}"),
                    serde_json::json!({ "expires_at": expires_at }),
                );
                $audit(&mut *tx, &record).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn password_reset(
                &self,
                token_hash: &str,
                now: chrono::DateTime<chrono::Utc>,
            ) -> crate::error::Result<Option<(nexus_store::OrgId, crate::model::UserId)>> {
                let row: Option<(nexus_store::OrgId, crate::model::UserId)> = sqlx::query_as(
                    "SELECT org_id, user_id FROM password_resets WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2",
                )
                .bind(token_hash)
                .bind(now)
                .fetch_optional(&self.pool)
                .await?;
                Ok(row)
            }

            async fn use_password_reset(
                &self,
                token_hash: &str,
                now: chrono::DateTime<chrono::Utc>,
                actor: &nexus_store::audit::Actor,
            ) -> crate::error::Result<bool> {
                let mut tx = nexus_store::BeginWrite::begin_write(&self.pool).await?;
                let row: Option<(nexus_store::OrgId, crate::model::UserId)> = sqlx::query_as(
                    "UPDATE password_resets SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1 RETURNING org_id, user_id",
                )
                .bind(now)
                .bind(token_hash)
                .fetch_optional(&mut *tx)
                .await?;
                let Some((org, user)) = row else {
                    return Ok(false);
                };
                // One link used spends the others: a setup link left lying around must not
                // set the password again after a reset, nor the other way round.
                sqlx::query("DELETE FROM password_resets WHERE org_id = $1 AND user_id = $2 AND used_at IS NULL")
                    .bind(org)
                    .bind(user)
                    .execute(&mut *tx)
                    .await?;
                let record = nexus_store::audit::NewRecord::new(
                    Some(org),
                    actor,
                    "password.reset_link_used",
                    format!("user:{user}"),
                    serde_json::json!({}),
                );
                $audit(&mut *tx, &record).await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn create_auth_code(
                &self,
                c: &crate::model::AuthCode,
                actor: &nexus_store::audit::Actor,
            ) -> crate::error::Result<()> {
                let mut tx = nexus_store::BeginWrite::begin_write(&self.pool).await?;
                sqlx::query(
                    "INSERT INTO oauth_codes (code_hash, client_id, org_id, user_id, redirect_uri, scope, nonce, code_challenge, auth_time, expires_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                )
                .bind(&c.code_hash)
                .bind(&c.client_id)
                .bind(c.org)
                .bind(c.user)
                .bind(&c.redirect_uri)
                .bind(&c.scope)
                .bind(&c.nonce)
                .bind(&c.code_challenge)
                .bind(c.auth_time)
                .bind(c.expires_at)
                .execute(&mut *tx)
                .await?;
                let record = nexus_store::audit::NewRecord::new(
                    Some(c.org),
                    actor,
                    "oidc.authorized",
                    format!("client:{}", c.client_id),
                    serde_json::json!({ "user": c.user, "scope": c.scope }),
                );
                $audit(&mut *tx, &record).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn take_auth_code(
                &self,
                code_hash: &str,
            ) -> crate::error::Result<Option<crate::model::AuthCode>> {
                let row: Option<crate::store::AuthCodeRow> = sqlx::query_as(
                    "DELETE FROM oauth_codes WHERE code_hash = $1 \
                     RETURNING code_hash, client_id, org_id, user_id, redirect_uri, scope, nonce, code_challenge, auth_time, expires_at",
                )
                .bind(code_hash)
                .fetch_optional(&self.pool)
                .await?;
                Ok(row.map(Into::into))
            }

            async fn create_refresh_token(
                &self,
                t: &crate::model::RefreshToken,
            ) -> crate::error::Result<()> {
                sqlx::query(
                    "INSERT INTO oauth_refresh_tokens (token_hash, family, client_id, org_id, user_id, scope, auth_time, created_at, expires_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(&t.token_hash)
                .bind(t.family)
                .bind(&t.client_id)
                .bind(t.org)
                .bind(t.user)
                .bind(&t.scope)
                .bind(t.auth_time)
                .bind(t.created_at)
                .bind(t.expires_at)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn use_refresh_token(
                &self,
                token_hash: &str,
                now: chrono::DateTime<chrono::Utc>,
            ) -> crate::error::Result<crate::store::RefreshUse> {
                let mut tx = nexus_store::BeginWrite::begin_write(&self.pool).await?;
                let row: Option<crate::store::RefreshRow> = sqlx::query_as(
                    "UPDATE oauth_refresh_tokens SET used_at = $1 \
                     WHERE token_hash = $2 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > $1 \
                     RETURNING token_hash, family, client_id, org_id, user_id, scope, auth_time, created_at, expires_at",
                )
                .bind(now)
                .bind(token_hash)
                .fetch_optional(&mut *tx)
                .await?;
                if let Some(row) = row {
                    tx.commit().await?;
                    return Ok(crate::store::RefreshUse::Valid(row.into()));
                }
                let spent: Option<(uuid::Uuid, nexus_store::OrgId, String)> = sqlx::query_as(
                    "SELECT family, org_id, client_id FROM oauth_refresh_tokens WHERE token_hash = $1 AND used_at IS NOT NULL",
                )
                .bind(token_hash)
                .fetch_optional(&mut *tx)
                .await?;
                let Some((family, org, client)) = spent else {
                    return Ok(crate::store::RefreshUse::Invalid);
                };
                sqlx::query("UPDATE oauth_refresh_tokens SET revoked_at = $1 WHERE family = $2 AND revoked_at IS NULL")
                    .bind(now)
                    .bind(family)
                    .execute(&mut *tx)
                    .await?;
                let record = nexus_store::audit::NewRecord::new(
                    Some(org),
                    &nexus_store::audit::Actor::new(&format!("client:{client}"), ""),
                    "oidc.refresh_token_replayed",
                    format!("client:{client}"),
                    serde_json::json!({ "family": family }),
                );
                $audit(&mut *tx, &record).await?;
                tx.commit().await?;
                Ok(crate::store::RefreshUse::Replayed)
            }
        }

        impl $name {
            /// Replaces a user's recovery codes inside `tx`.
            async fn put_recovery_codes(
                tx: &mut sqlx::Transaction<'_, $db>,
                org: nexus_store::OrgId,
                user: crate::model::UserId,
                code_hashes: &[String],
            ) -> crate::error::Result<()> {
                sqlx::query("DELETE FROM mfa_recovery_codes WHERE org_id = $1 AND user_id = $2")
                    .bind(org)
                    .bind(user)
                    .execute(&mut **tx)
                    .await?;
                for hash in code_hashes {
                    sqlx::query(
                        "INSERT INTO mfa_recovery_codes (user_id, org_id, code_hash) VALUES ($1, $2, $3)",
                    )
                    .bind(user)
                    .bind(org)
                    .bind(hash)
                    .execute(&mut **tx)
                    .await?;
                }
                Ok(())
            }
        }
    };
}

pub(crate) use sql_credential_store;
