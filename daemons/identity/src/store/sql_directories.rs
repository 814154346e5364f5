//! Outside directories (LDAP) and the users and groups their syncs bring in, written once
//! for both backends like `sql.rs`.

macro_rules! select_directories {
    () => {
        "SELECT id, org_id, name, settings, bind_password, created_at, last_sync_at, last_sync, \
         last_error FROM directories"
    };
}

pub(crate) const ORG_DIRECTORIES: &str =
    concat!(select_directories!(), " WHERE org_id = $1 ORDER BY name");
pub(crate) const ONE_DIRECTORY: &str =
    concat!(select_directories!(), " WHERE org_id = $1 AND id = $2");
pub(crate) const ALL_DIRECTORIES: &str = concat!(select_directories!(), " ORDER BY created_at");
pub(crate) const DIRECTORY_NAME: &str =
    "SELECT name FROM directories WHERE org_id = $1 AND id = $2";

/// A directory's settings as stored (JSON).
pub(crate) fn settings_text(d: &crate::model::Directory) -> crate::error::Result<String> {
    serde_json::to_string(&d.settings)
        .map_err(|e| crate::error::IdentityError::Invalid(e.to_string()))
}

/// What the audit log keeps of a directory added or changed (never the password).
pub(crate) fn audit_details(d: &crate::model::Directory) -> serde_json::Value {
    serde_json::json!({ "name": d.name, "url": d.settings.url, "bind_dn": d.settings.bind_dn })
}

macro_rules! sql_federation_store {
    ($name:ident, $db:ty, $append:path) => {
        impl $name {
            /// Disables an account the directory no longer vouches for: its sessions end and
            /// its tokens are revoked in the same transaction, as an administrator's disable
            /// does; `details` say why, for the audit record.
            async fn disable_in(
                tx: &mut sqlx::Transaction<'_, $db>,
                org: nexus_store::OrgId,
                user: crate::model::UserId,
                at: chrono::DateTime<chrono::Utc>,
                actor: &nexus_store::audit::Actor,
                details: serde_json::Value,
            ) -> crate::error::Result<()> {
                sqlx::query("UPDATE users SET disabled = $1 WHERE org_id = $2 AND id = $3")
                    .bind(true)
                    .bind(org)
                    .bind(user)
                    .execute(&mut **tx)
                    .await?;
                sqlx::query("DELETE FROM sessions WHERE org_id = $1 AND user_id = $2")
                    .bind(org)
                    .bind(user)
                    .execute(&mut **tx)
                    .await?;
                for revoke in crate::store::REVOKE_USER_TOKENS {
                    sqlx::query(revoke).bind(at).bind(org).bind(user).execute(&mut **tx).await?;
                }
                let event = nexus_store::NewEvent::new(
                    org,
                    "identity",
                    "identity.user.disabled",
                    serde_json::json!({ "user_id": user }),
                );
                $append(&mut **tx, &event).await?;
                Self::audit_in(tx, org, actor, "user.disabled", format!("user:{user}"), details).await
            }

            /// Whether another account of `org` than `except` has `email`.
            async fn email_taken(
                tx: &mut sqlx::Transaction<'_, $db>,
                org: nexus_store::OrgId,
                email: &str,
                except: Option<crate::model::UserId>,
            ) -> crate::error::Result<bool> {
                let n: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM users WHERE org_id = $1 AND email = $2 AND id <> $3",
                )
                .bind(org)
                .bind(email)
                .bind(except.map_or(uuid::Uuid::nil(), |u| u.0))
                .fetch_one(&mut **tx)
                .await?;
                Ok(n > 0)
            }

            async fn group_name_taken(
                tx: &mut sqlx::Transaction<'_, $db>,
                org: nexus_store::OrgId,
                name: &str,
                except: uuid::Uuid,
            ) -> crate::error::Result<bool> {
                let n: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM org_groups WHERE org_id = $1 AND name = $2 AND id <> $3",
                )
                .bind(org)
                .bind(name)
                .bind(except)
                .fetch_one(&mut **tx)
                .await?;
                Ok(n > 0)
            }
        }

        #[async_trait::async_trait]
        impl crate::store::FederationStore for $name {
            async fn create_directory(
                &self,
                d: &crate::model::Directory,
                actor: &nexus_store::audit::Actor,
            ) -> crate::error::Result<()> {
                let settings = crate::store::sql_directories::settings_text(d)?;
                let mut tx = nexus_store::BeginWrite::begin_write(&self.pool).await?;
                sqlx::query(
                    "INSERT INTO directories (id, org_id, name, settings, bind_password, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(d.id)
                .bind(d.org)
                .bind(&d.name)
                .bind(&settings)
                .bind(&d.bind_password)
                .bind(d.created_at)
                .execute(&mut *tx)
                .await
                .map_err(|e| crate::store::conflict_or(e, &format!("a directory named `{}`", d.name)))?;
                self.commit_audited(
                    tx,
                    d.org,
                    actor,
                    "directory.created",
                    format!("directory:{}", d.id),
                    crate::store::sql_directories::audit_details(d),
                )
                .await
            }

            async fn update_directory(
                &self,
                d: &crate::model::Directory,
                actor: &nexus_store::audit::Actor,
            ) -> crate::error::Result<()> {
                let settings = crate::store::sql_directories::settings_text(d)?;
                let mut tx = nexus_store::BeginWrite::begin_write(&self.pool).await?;
                let changed = sqlx::query(
                    "UPDATE directories SET name = $1, settings = $2, bind_password = $3 \
                     WHERE org_id = $4 AND id = $5",
                )
                .bind(&d.name)
                .bind(&settings)
                .bind(&d.bind_password)
                .bind(d.org)
                .bind(d.id)
                .execute(&mut *tx)
                .await
                .map_err(|e| crate::store::conflict_or(e, &format!("a directory named `{}`", d.name)))?
                .rows_affected();
                if changed == 0 {
                    return Err(crate::error::IdentityError::NotFound(format!("directory {}", d.id)));
                }
                self.commit_audited(
                    tx,
                    d.org,
                    actor,
                    "directory.updated",
                    format!("directory:{}", d.id),
                    crate::store::sql_directories::audit_details(d),
                )
                .await
            }

            async fn directories(
                &self,
                org: nexus_store::OrgId,
            ) -> crate::error::Result<Vec<crate::model::Directory>> {
                let rows: Vec<crate::store::DirectoryRow> =
                    sqlx::query_as(crate::store::sql_directories::ORG_DIRECTORIES)
                        .bind(org)
                        .fetch_all(&self.pool)
                        .await?;
                rows.into_iter().map(TryInto::try_into).collect()
            }

            async fn directory(
                &self,
                org: nexus_store::OrgId,
                id: uuid::Uuid,
            ) -> crate::error::Result<Option<crate::model::Directory>> {
                let row: Option<crate::store::DirectoryRow> =
                    sqlx::query_as(crate::store::sql_directories::ONE_DIRECTORY)
                        .bind(org)
                        .bind(id)
                        .fetch_optional(&self.pool)
                        .await?;
                row.map(TryInto::try_into).transpose()
            }

            async fn external_id(
                &self,
                org: nexus_store::OrgId,
                user: crate::model::UserId,
            ) -> crate::error::Result<Option<String>> {
                let id: Option<Option<String>> = sqlx::query_scalar(
                    "SELECT external_id FROM users WHERE org_id = $1 AND id = $2",
                )
                .bind(org)
                .bind(user)
                .fetch_optional(&self.pool)
                .await?;
                Ok(id.flatten())
            }

            async fn all_directories(&self) -> crate::error::Result<Vec<crate::model::Directory>> {
                let rows: Vec<crate::store::DirectoryRow> =
                    sqlx::query_as(crate::store::sql_directories::ALL_DIRECTORIES)
                        .fetch_all(&self.pool)
                        .await?;
                rows.into_iter().map(TryInto::try_into).collect()
            }

            async fn delete_directory(
                &self,
                org: nexus_store::OrgId,
                id: uuid::Uuid,
                actor: &nexus_store::audit::Actor,
            ) -> crate::error::Result<()> {
                let mut tx = nexus_store::BeginWrite::begin_write(&self.pool).await?;
                let name = Self::org_text(&mut tx, crate::store::sql_directories::DIRECTORY_NAME, org, id, "directory").await?;
                // Its users had no password here: they cannot sign in any more, so they are
                // disabled (an administrator may reset a password to keep one). Owners stay
                // enabled (an organization keeps its owners) but lose their sessions; they set
                // a password through `nexusctl users reset-password`.
                sqlx::query(
                    "DELETE FROM sessions WHERE org_id = $1 AND user_id IN \
                     (SELECT id FROM users WHERE org_id = $1 AND directory_id = $2 AND role = 'owner')",
                )
                .bind(org)
                .bind(id)
                .execute(&mut *tx)
                .await?;
                let members: Vec<crate::model::UserId> = sqlx::query_scalar(
                    "SELECT id FROM users WHERE org_id = $1 AND directory_id = $2 AND role <> 'owner' AND disabled = $3",
                )
                .bind(org)
                .bind(id)
                .bind(false)
                .fetch_all(&mut *tx)
                .await?;
                let now = chrono::Utc::now();
                for user in &members {
                    let why = serde_json::json!({ "reason": "its directory was removed", "directory": name });
                    Self::disable_in(&mut tx, org, *user, now, actor, why).await?;
                }
                let disabled = members.len();
                // Its groups go with it (ON DELETE CASCADE), and their memberships and grants.
                sqlx::query("DELETE FROM directories WHERE org_id = $1 AND id = $2")
                    .bind(org)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                Self::audit_in(
                    &mut tx,
                    org,
                    actor,
                    "directory.deleted",
                    format!("directory:{id}"),
                    serde_json::json!({ "name": name, "users_disabled": disabled }),
                )
                .await?;
                tx.commit().await?;
                self.outbox.wake();
                Ok(())
            }

            async fn record_sync_failure(
                &self,
                org: nexus_store::OrgId,
                id: uuid::Uuid,
                at: chrono::DateTime<chrono::Utc>,
                error: &str,
            ) -> crate::error::Result<()> {
                sqlx::query(
                    "UPDATE directories SET last_sync_at = $1, last_error = $2 WHERE org_id = $3 AND id = $4",
                )
                .bind(at)
                .bind(error)
                .bind(org)
                .bind(id)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn apply_directory_sync(
                &self,
                org: nexus_store::OrgId,
                id: uuid::Uuid,
                snapshot: &crate::model::DirectorySnapshot,
                at: chrono::DateTime<chrono::Utc>,
                actor: &nexus_store::audit::Actor,
            ) -> crate::error::Result<crate::model::SyncReport> {
                use std::collections::{BTreeSet, HashMap, HashSet};
                use crate::model::{SkippedEntry, UserId};
                let mut report = crate::model::SyncReport::default();
                let mut tx = nexus_store::BeginWrite::begin_write(&self.pool).await?;
                let directory_name =
                    Self::org_text(&mut tx, crate::store::sql_directories::DIRECTORY_NAME, org, id, "directory").await?;

                // Users: created, updated, re-enabled, or disabled when gone.
                let existing: Vec<(UserId, Option<String>, String, String, bool, String)> = sqlx::query_as(
                    "SELECT id, external_id, email, display_name, disabled, role FROM users \
                     WHERE org_id = $1 AND directory_id = $2",
                )
                .bind(org)
                .bind(id)
                .fetch_all(&mut *tx)
                .await?;
                let mut owners = HashSet::new();
                let by_external: HashMap<String, (UserId, String, String, bool)> = existing
                    .into_iter()
                    .filter_map(|(u, ext, email, name, disabled, role)| {
                        if role == crate::model::Role::Owner.as_str() {
                            owners.insert(u);
                        }
                        ext.map(|e| (e, (u, email, name, disabled)))
                    })
                    .collect();
                // Entries the directory still has but the sync could not take (no address,
                // a duplicate) are not "gone": their accounts are left as they are.
                let mut seen: HashSet<String> = snapshot.unusable.iter().cloned().collect();
                let mut by_dn: HashMap<String, UserId> = HashMap::new();
                for u in &snapshot.users {
                    let skip = |reason: &str| SkippedEntry { entry: u.dn.clone(), reason: reason.to_owned() };
                    if let Some((user, email, name, _)) = by_external.get(&u.external_id) {
                        seen.insert(u.external_id.clone());
                        by_dn.insert(crate::ldap::normalize_dn(&u.dn), *user);
                        // A disabled account stays disabled: an administrator may have
                        // disabled it here, and the sync does not undo that.
                        if *email == u.email && *name == u.name {
                            continue;
                        }
                        let new_email = if *email != u.email
                            && Self::email_taken(&mut tx, org, &u.email, Some(*user)).await?
                        {
                            report.skipped.push(skip("its new e-mail address belongs to another account; kept the old one"));
                            email.clone()
                        } else {
                            u.email.clone()
                        };
                        sqlx::query(
                            "UPDATE users SET email = $1, display_name = $2 WHERE org_id = $3 AND id = $4",
                        )
                        .bind(&new_email)
                        .bind(&u.name)
                        .bind(org)
                        .bind(*user)
                        .execute(&mut *tx)
                        .await?;
                        Self::audit_in(
                            &mut tx,
                            org,
                            actor,
                            "user.updated",
                            format!("user:{user}"),
                            serde_json::json!({
                                "email": new_email, "display_name": u.name,
                                "was": { "email": email, "display_name": name },
                                "directory": directory_name,
                            }),
                        )
                        .await?;
                        report.users_updated += 1;
                        continue;
                    }
                    if Self::email_taken(&mut tx, org, &u.email, None).await? {
                        report.skipped.push(skip("an account with this e-mail address exists and is not from this directory"));
                        continue;
                    }
                    let user = UserId::generate();
                    sqlx::query(
                        "INSERT INTO users (id, org_id, email, display_name, role, password_hash, \
                         must_change_password, disabled, created_at, directory_id, external_id) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                    )
                    .bind(user)
                    .bind(org)
                    .bind(&u.email)
                    .bind(&u.name)
                    .bind(crate::model::Role::Member.as_str())
                    // Not a password hash: such an account signs in through the directory.
                    .bind("!directory")
                    .bind(false)
                    .bind(false)
                    .bind(at)
                    .bind(id)
                    .bind(&u.external_id)
                    .execute(&mut *tx)
                    .await?;
                    let event = nexus_store::NewEvent::new(
                        org,
                        "identity",
                        "identity.user.created",
                        serde_json::json!({ "user_id": user, "email": u.email, "role": crate::model::Role::Member }),
                    );
                    $append(&mut *tx, &event).await?;
                    Self::audit_in(
                        &mut tx,
                        org,
                        actor,
                        "user.created",
                        format!("user:{user}"),
                        serde_json::json!({ "email": u.email, "role": "member", "directory": directory_name }),
                    )
                    .await?;
                    seen.insert(u.external_id.clone());
                    by_dn.insert(crate::ldap::normalize_dn(&u.dn), user);
                    report.users_created += 1;
                }
                for (external, (user, email, _, disabled)) in &by_external {
                    if seen.contains(external) || *disabled {
                        continue;
                    }
                    if owners.contains(user) {
                        // An organization keeps its owners: a sync does not disable one.
                        report.skipped.push(SkippedEntry {
                            entry: email.clone(),
                            reason: "an owner is gone from the directory; not disabled by the sync, do it here after making someone else owner".into(),
                        });
                        continue;
                    }
                    let why = serde_json::json!({ "reason": "no longer in the directory", "directory": directory_name });
                    Self::disable_in(&mut tx, org, *user, at, actor, why).await?;
                    report.users_disabled += 1;
                }

                // Groups: created, renamed, members set to the directory's, deleted when gone.
                let existing: Vec<(uuid::Uuid, Option<String>, String)> = sqlx::query_as(
                    "SELECT id, external_id, name FROM org_groups WHERE org_id = $1 AND directory_id = $2",
                )
                .bind(org)
                .bind(id)
                .fetch_all(&mut *tx)
                .await?;
                let groups: HashMap<String, (uuid::Uuid, String)> = existing
                    .into_iter()
                    .filter_map(|(g, ext, name)| ext.map(|e| (e, (g, name))))
                    .collect();
                let mut seen_groups = HashSet::new();
                for g in &snapshot.groups {
                    let skip = |reason: &str| SkippedEntry { entry: format!("group {}", g.name), reason: reason.to_owned() };
                    let members: BTreeSet<UserId> = g
                        .member_dns
                        .iter()
                        .filter_map(|dn| by_dn.get(&crate::ldap::normalize_dn(dn)).copied())
                        .collect();
                    let (group, mut changed) = match groups.get(&g.external_id) {
                        Some((group, name)) => {
                            let mut renamed = false;
                            if *name != g.name {
                                if Self::group_name_taken(&mut tx, org, &g.name, *group).await? {
                                    report.skipped.push(skip("another group has this name; kept the old name"));
                                } else {
                                    sqlx::query("UPDATE org_groups SET name = $1 WHERE org_id = $2 AND id = $3")
                                        .bind(&g.name)
                                        .bind(org)
                                        .bind(*group)
                                        .execute(&mut *tx)
                                        .await?;
                                    renamed = true;
                                }
                            }
                            (*group, renamed)
                        }
                        None => {
                            if Self::group_name_taken(&mut tx, org, &g.name, uuid::Uuid::nil()).await? {
                                report.skipped.push(skip("a group made in NEXUS has this name"));
                                continue;
                            }
                            let group = uuid::Uuid::now_v7();
                            sqlx::query(
                                "INSERT INTO org_groups (id, org_id, name, description, created_at, directory_id, external_id) \
                                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
                            )
                            .bind(group)
                            .bind(org)
                            .bind(&g.name)
                            .bind(format!("From the directory {directory_name}"))
                            .bind(at)
                            .bind(id)
                            .bind(&g.external_id)
                            .execute(&mut *tx)
                            .await?;
                            Self::audit_in(
                                &mut tx,
                                org,
                                actor,
                                "group.created",
                                format!("group:{group}"),
                                serde_json::json!({ "name": g.name, "directory": directory_name }),
                            )
                            .await?;
                            report.groups_created += 1;
                            (group, false)
                        }
                    };
                    seen_groups.insert(g.external_id.clone());
                    let current: Vec<UserId> = sqlx::query_scalar(
                        "SELECT user_id FROM group_members WHERE org_id = $1 AND group_id = $2",
                    )
                    .bind(org)
                    .bind(group)
                    .fetch_all(&mut *tx)
                    .await?;
                    if current.into_iter().collect::<BTreeSet<_>>() != members {
                        sqlx::query("DELETE FROM group_members WHERE org_id = $1 AND group_id = $2")
                            .bind(org)
                            .bind(group)
                            .execute(&mut *tx)
                            .await?;
                        for user in &members {
                            sqlx::query("INSERT INTO group_members (org_id, group_id, user_id) VALUES ($1, $2, $3)")
                                .bind(org)
                                .bind(group)
                                .bind(*user)
                                .execute(&mut *tx)
                                .await?;
                        }
                        changed = true;
                    }
                    if changed && groups.contains_key(&g.external_id) {
                        report.groups_updated += 1;
                    }
                }
                for (external, (group, name)) in &groups {
                    if seen_groups.contains(external) {
                        continue;
                    }
                    sqlx::query("DELETE FROM org_groups WHERE org_id = $1 AND id = $2")
                        .bind(org)
                        .bind(*group)
                        .execute(&mut *tx)
                        .await?;
                    Self::audit_in(
                        &mut tx,
                        org,
                        actor,
                        "group.deleted",
                        format!("group:{group}"),
                        serde_json::json!({ "name": name, "reason": "no longer in the directory" }),
                    )
                    .await?;
                    report.groups_deleted += 1;
                }

                let summary = serde_json::to_value(&report)
                    .map_err(|e| crate::error::IdentityError::Invalid(e.to_string()))?;
                sqlx::query(
                    "UPDATE directories SET last_sync_at = $1, last_sync = $2, last_error = NULL \
                     WHERE org_id = $3 AND id = $4",
                )
                .bind(at)
                .bind(summary.to_string())
                .bind(org)
                .bind(id)
                .execute(&mut *tx)
                .await?;
                Self::audit_in(
                    &mut tx,
                    org,
                    actor,
                    "directory.synced",
                    format!("directory:{id}"),
                    summary,
                )
                .await?;
                tx.commit().await?;
                self.outbox.wake();
                Ok(report)
            }
        }
    };
}

pub(crate) use sql_federation_store;
