//! Passkeys and WebAuthn ceremonies, written once for both backends like `sql.rs`.

macro_rules! select_passkeys {
    () => {
        "SELECT id, org_id, user_id, name, credential_id, passkey, created_at, last_used_at FROM passkeys"
    };
}

pub(crate) const USER_PASSKEYS: &str = concat!(
    select_passkeys!(),
    " WHERE org_id = $1 AND user_id = $2 ORDER BY created_at"
);
pub(crate) const PASSKEY_BY_CREDENTIAL: &str =
    concat!(select_passkeys!(), " WHERE credential_id = $1");

macro_rules! sql_passkey_store {
    ($name:ident, $audit:path) => {
        #[async_trait::async_trait]
        impl crate::store::PasskeyStore for $name {
            async fn create_passkey(
                &self,
                p: &crate::model::PasskeyRecord,
                actor: &nexus_store::audit::Actor,
            ) -> crate::error::Result<()> {
                let mut tx = nexus_store::BeginWrite::begin_write(&self.pool).await?;
                sqlx::query(
                    "INSERT INTO passkeys (id, org_id, user_id, name, credential_id, passkey, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(p.id)
                .bind(p.org)
                .bind(p.user)
                .bind(&p.name)
                .bind(&p.credential_id)
                .bind(&p.passkey)
                .bind(p.created_at)
                .execute(&mut *tx)
                .await
                .map_err(|e| crate::store::conflict_or(e, "this passkey"))?;
                let record = nexus_store::audit::NewRecord::new(
                    Some(p.org),
                    actor,
                    "mfa.passkey.added",
                    format!("user:{}", p.user),
                    serde_json::json!({ "passkey_id": p.id, "name": p.name }),
                );
                $audit(&mut *tx, &record).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn list_passkeys(
                &self,
                org: nexus_store::OrgId,
                user: crate::model::UserId,
            ) -> crate::error::Result<Vec<crate::model::PasskeyRecord>> {
                let rows: Vec<crate::store::PasskeyRow> = sqlx::query_as(crate::store::sql_passkeys::USER_PASSKEYS)
                .bind(org)
                .bind(user)
                .fetch_all(&self.pool)
                .await?;
                Ok(rows.into_iter().map(Into::into).collect())
            }

            async fn passkey_by_credential(
                &self,
                credential_id: &str,
            ) -> crate::error::Result<Option<crate::model::PasskeyRecord>> {
                let row: Option<crate::store::PasskeyRow> = sqlx::query_as(crate::store::sql_passkeys::PASSKEY_BY_CREDENTIAL)
                .bind(credential_id)
                .fetch_optional(&self.pool)
                .await?;
                Ok(row.map(Into::into))
            }

            async fn record_passkey_use(
                &self,
                id: uuid::Uuid,
                passkey: &str,
                now: chrono::DateTime<chrono::Utc>,
            ) -> crate::error::Result<()> {
                sqlx::query("UPDATE passkeys SET passkey = $1, last_used_at = $2 WHERE id = $3")
                    .bind(passkey)
                    .bind(now)
                    .bind(id)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn delete_passkeys(
                &self,
                org: nexus_store::OrgId,
                user: crate::model::UserId,
                id: Option<uuid::Uuid>,
                actor: &nexus_store::audit::Actor,
            ) -> crate::error::Result<u64> {
                let mut tx = nexus_store::BeginWrite::begin_write(&self.pool).await?;
                let removed = match id {
                    Some(id) => sqlx::query("DELETE FROM passkeys WHERE org_id = $1 AND user_id = $2 AND id = $3")
                        .bind(org)
                        .bind(user)
                        .bind(id)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected(),
                    None => sqlx::query("DELETE FROM passkeys WHERE org_id = $1 AND user_id = $2")
                        .bind(org)
                        .bind(user)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected(),
                };
                if removed == 0 {
                    return match id {
                        Some(id) => Err(crate::error::IdentityError::NotFound(format!("passkey {id}"))),
                        None => Ok(0),
                    };
                }
                let record = nexus_store::audit::NewRecord::new(
                    Some(org),
                    actor,
                    "mfa.passkey.removed",
                    format!("user:{user}"),
                    serde_json::json!({ "passkey_id": id, "removed": removed }),
                );
                $audit(&mut *tx, &record).await?;
                tx.commit().await?;
                Ok(removed)
            }

            async fn create_ceremony(
                &self,
                id_hash: &str,
                kind: &str,
                state: &str,
                expires_at: chrono::DateTime<chrono::Utc>,
            ) -> crate::error::Result<()> {
                // Expired ceremonies nobody finished go with the next one started.
                sqlx::query("DELETE FROM webauthn_ceremonies WHERE expires_at < $1")
                    .bind(chrono::Utc::now())
                    .execute(&self.pool)
                    .await?;
                sqlx::query("INSERT INTO webauthn_ceremonies (id_hash, kind, state, expires_at) VALUES ($1, $2, $3, $4)")
                    .bind(id_hash)
                    .bind(kind)
                    .bind(state)
                    .bind(expires_at)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn take_ceremony(
                &self,
                id_hash: &str,
                kind: &str,
                now: chrono::DateTime<chrono::Utc>,
            ) -> crate::error::Result<Option<String>> {
                let row: Option<(String, String, chrono::DateTime<chrono::Utc>)> = sqlx::query_as(
                    "DELETE FROM webauthn_ceremonies WHERE id_hash = $1 RETURNING kind, state, expires_at",
                )
                .bind(id_hash)
                .fetch_optional(&self.pool)
                .await?;
                Ok(row.and_then(|(k, state, exp)| (k == kind && exp > now).then_some(state)))
            }
        }
    };
}

pub(crate) use sql_passkey_store;
