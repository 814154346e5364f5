//! Built-in roles, groups, custom roles, grants and branding, written once for both backends
//! like `sql.rs`.
//!
//! Writes that link two objects (a member to a group, a role to a user) insert through a
//! `SELECT` that joins both on the organization, so an id of another tenant matches nothing
//! and the call ends in `NotFound` without a separate check.

/// Enabled owners an organization has (it must keep one).
pub(crate) const COUNT_OWNERS: &str =
    "SELECT COUNT(*) FROM users WHERE org_id = $1 AND role = 'owner' AND disabled = $2";

macro_rules! select_groups {
    () => {
        "SELECT g.id, g.org_id, g.name, g.description, g.created_at, g.directory_id, \
         (SELECT COUNT(*) FROM group_members m WHERE m.group_id = g.id) AS member_count FROM org_groups g"
    };
}

macro_rules! select_roles {
    () => {
        "SELECT r.id, r.org_id, r.name, r.description, r.permissions, r.created_at FROM org_roles r"
    };
}

pub(crate) const LIST_GROUPS: &str =
    concat!(select_groups!(), " WHERE g.org_id = $1 ORDER BY g.name");
pub(crate) const GET_GROUP: &str = concat!(select_groups!(), " WHERE g.org_id = $1 AND g.id = $2");
pub(crate) const LIST_ROLES: &str =
    concat!(select_roles!(), " WHERE r.org_id = $1 ORDER BY r.name");
pub(crate) const GET_ROLE: &str = concat!(select_roles!(), " WHERE r.org_id = $1 AND r.id = $2");
/// The custom roles a user holds, directly or through a group.
pub(crate) const ROLES_OF_USER: &str = concat!(
    select_roles!(),
    " WHERE r.org_id = $1 AND (r.id IN (SELECT role_id FROM user_roles WHERE org_id = $1 AND user_id = $2) \
     OR r.id IN (SELECT gr.role_id FROM group_roles gr JOIN group_members gm ON gm.group_id = gr.group_id \
     WHERE gr.org_id = $1 AND gm.user_id = $2)) ORDER BY r.name"
);

/// The statements of a link table (a member in a group, a role granted to a user or a
/// group), each bound to `$1` organization, `$2` and `$3` the two ids: add (through a
/// `SELECT` joining both on the organization), remove, and count how many of the two exist.
pub(crate) struct LinkSql {
    pub insert: &'static str,
    pub delete: &'static str,
    pub exists: &'static str,
}

pub(crate) const GROUP_MEMBER: LinkSql = LinkSql {
    insert: "INSERT INTO group_members (org_id, group_id, user_id) \
             SELECT g.org_id, g.id, u.id FROM org_groups g JOIN users u ON u.org_id = g.org_id \
             WHERE g.org_id = $1 AND g.id = $2 AND u.id = $3 ON CONFLICT DO NOTHING",
    delete: "DELETE FROM group_members WHERE org_id = $1 AND group_id = $2 AND user_id = $3",
    exists: "SELECT (SELECT COUNT(*) FROM org_groups WHERE org_id = $1 AND id = $2) \
             + (SELECT COUNT(*) FROM users WHERE org_id = $1 AND id = $3)",
};

pub(crate) const USER_GRANT: LinkSql = LinkSql {
    insert: "INSERT INTO user_roles (org_id, role_id, user_id) \
             SELECT r.org_id, r.id, u.id FROM org_roles r JOIN users u ON u.org_id = r.org_id \
             WHERE r.org_id = $1 AND r.id = $2 AND u.id = $3 ON CONFLICT DO NOTHING",
    delete: "DELETE FROM user_roles WHERE org_id = $1 AND role_id = $2 AND user_id = $3",
    exists: "SELECT (SELECT COUNT(*) FROM org_roles WHERE org_id = $1 AND id = $2) \
             + (SELECT COUNT(*) FROM users WHERE org_id = $1 AND id = $3)",
};

pub(crate) const GROUP_GRANT: LinkSql = LinkSql {
    insert: "INSERT INTO group_roles (org_id, role_id, group_id) \
             SELECT r.org_id, r.id, g.id FROM org_roles r JOIN org_groups g ON g.org_id = r.org_id \
             WHERE r.org_id = $1 AND r.id = $2 AND g.id = $3 ON CONFLICT DO NOTHING",
    delete: "DELETE FROM group_roles WHERE org_id = $1 AND role_id = $2 AND group_id = $3",
    exists: "SELECT (SELECT COUNT(*) FROM org_roles WHERE org_id = $1 AND id = $2) \
             + (SELECT COUNT(*) FROM org_groups WHERE org_id = $1 AND id = $3)",
};

/// The custom roles granted to a group.
pub(crate) const ROLES_OF_GROUP: &str = concat!(
    select_roles!(),
    " WHERE r.org_id = $1 AND r.id IN (SELECT role_id FROM group_roles WHERE org_id = $1 AND group_id = $2) \
     ORDER BY r.name"
);

macro_rules! sql_directory_store {
    ($name:ident, $db:ty, $audit:path) => {
        impl $name {
            /// Appends the audit record of a change inside its transaction.
            async fn audit_in(
                tx: &mut sqlx::Transaction<'_, $db>,
                org: nexus_store::OrgId,
                actor: &nexus_store::audit::Actor,
                action: &str,
                target: String,
                details: serde_json::Value,
            ) -> crate::error::Result<()> {
                let record =
                    nexus_store::audit::NewRecord::new(Some(org), actor, action, target, details);
                $audit(&mut **tx, &record).await?;
                Ok(())
            }

            /// The text column `sql` returns for the row `id` of `org` (`sql` binds the
            /// organization, then the id); `NotFound("<what> <id>")` when there is none.
            async fn org_text<I>(
                tx: &mut sqlx::Transaction<'_, $db>,
                sql: &'static str,
                org: nexus_store::OrgId,
                id: I,
                what: &str,
            ) -> crate::error::Result<String>
            where
                I: for<'q> sqlx::Encode<'q, $db>
                    + sqlx::Type<$db>
                    + std::fmt::Display
                    + Send
                    + Copy
                    + 'static,
            {
                let text: Option<String> = sqlx::query_scalar(sql)
                    .bind(org)
                    .bind(id)
                    .fetch_optional(&mut **tx)
                    .await?;
                text.ok_or_else(|| crate::error::IdentityError::NotFound(format!("{what} {id}")))
            }

            /// Appends the audit record of a change and commits it.
            async fn commit_audited(
                &self,
                mut tx: sqlx::Transaction<'_, $db>,
                org: nexus_store::OrgId,
                actor: &nexus_store::audit::Actor,
                action: &str,
                target: String,
                details: serde_json::Value,
            ) -> crate::error::Result<()> {
                Self::audit_in(&mut tx, org, actor, action, target, details).await?;
                tx.commit().await?;
                Ok(())
            }
        }

        impl $name {
            /// Adds (`add`) or removes a row of a link table and appends `record`. Adding an
            /// existing link or removing a missing one changes (and audits) nothing, as long
            /// as both ids exist in `org`; otherwise `NotFound(missing)`.
            async fn set_link(
                &self,
                sql: &crate::store::sql_directory::LinkSql,
                org: nexus_store::OrgId,
                (a, b): (uuid::Uuid, uuid::Uuid),
                add: bool,
                missing: String,
                record: nexus_store::audit::NewRecord,
            ) -> crate::error::Result<()> {
                let mut tx = nexus_store::BeginWrite::begin_write(&self.pool).await?;
                let changed = sqlx::query(if add { sql.insert } else { sql.delete })
                    .bind(org)
                    .bind(a)
                    .bind(b)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if changed == 0 {
                    let found: i64 = sqlx::query_scalar(sql.exists)
                        .bind(org)
                        .bind(a)
                        .bind(b)
                        .fetch_one(&mut *tx)
                        .await?;
                    return if found == 2 {
                        Ok(())
                    } else {
                        Err(crate::error::IdentityError::NotFound(missing))
                    };
                }
                $audit(&mut *tx, &record).await?;
                tx.commit().await?;
                Ok(())
            }

            /// Deletes a group or role (`sql` returns its name) and audits `<kind>.deleted`.
            async fn delete_named(
                &self,
                sql: &'static str,
                kind: &str,
                org: nexus_store::OrgId,
                id: uuid::Uuid,
                actor: &nexus_store::audit::Actor,
            ) -> crate::error::Result<()> {
                let mut tx = nexus_store::BeginWrite::begin_write(&self.pool).await?;
                let name = Self::org_text(&mut tx, sql, org, id, kind).await?;
                self.commit_audited(
                    tx,
                    org,
                    actor,
                    &format!("{kind}.deleted"),
                    format!("{kind}:{id}"),
                    serde_json::json!({ "name": name }),
                )
                .await
            }
        }

        #[async_trait::async_trait]
        impl crate::store::DirectoryStore for $name {
            async fn set_user_role(
                &self,
                org: nexus_store::OrgId,
                user: crate::model::UserId,
                role: crate::model::Role,
                actor: &nexus_store::audit::Actor,
            ) -> crate::error::Result<()> {
                let mut tx = nexus_store::BeginWrite::begin_write(&self.pool).await?;
                let before = Self::org_text(
                    &mut tx,
                    "SELECT role FROM users WHERE org_id = $1 AND id = $2",
                    org,
                    user,
                    "user",
                )
                .await?;
                sqlx::query("UPDATE users SET role = $1 WHERE org_id = $2 AND id = $3")
                    .bind(role.as_str())
                    .bind(org)
                    .bind(user)
                    .execute(&mut *tx)
                    .await?;
                let owners: i64 = sqlx::query_scalar(crate::store::sql_directory::COUNT_OWNERS)
                    .bind(org)
                    .bind(false)
                    .fetch_one(&mut *tx)
                    .await?;
                if before == "owner" && owners == 0 {
                    return Err(crate::error::IdentityError::Forbidden(
                        "an organization keeps at least one enabled owner; make someone else owner first".into(),
                    ));
                }
                self.commit_audited(
                    tx,
                    org,
                    actor,
                    "user.role_changed",
                    format!("user:{user}"),
                    serde_json::json!({ "role": role.as_str() }),
                )
                .await
            }

            async fn create_group(
                &self,
                g: &crate::model::Group,
                actor: &nexus_store::audit::Actor,
            ) -> crate::error::Result<()> {
                let mut tx = nexus_store::BeginWrite::begin_write(&self.pool).await?;
                sqlx::query(
                    "INSERT INTO org_groups (id, org_id, name, description, created_at) VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(g.id)
                .bind(g.org)
                .bind(&g.name)
                .bind(&g.description)
                .bind(g.created_at)
                .execute(&mut *tx)
                .await
                .map_err(|e| crate::store::conflict_or(e, &format!("a group named `{}`", g.name)))?;
                self.commit_audited(
                    tx,
                    g.org,
                    actor,
                    "group.created",
                    format!("group:{}", g.id),
                    serde_json::json!({ "name": g.name }),
                )
                .await
            }

            async fn update_group(
                &self,
                org: nexus_store::OrgId,
                id: uuid::Uuid,
                name: &str,
                description: &str,
                actor: &nexus_store::audit::Actor,
            ) -> crate::error::Result<()> {
                let mut tx = nexus_store::BeginWrite::begin_write(&self.pool).await?;
                let r = sqlx::query("UPDATE org_groups SET name = $1, description = $2 WHERE org_id = $3 AND id = $4")
                    .bind(name)
                    .bind(description)
                    .bind(org)
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| crate::store::conflict_or(e, &format!("a group named `{name}`")))?;
                if r.rows_affected() == 0 {
                    return Err(crate::error::IdentityError::NotFound(format!("group {id}")));
                }
                self.commit_audited(
                    tx,
                    org,
                    actor,
                    "group.updated",
                    format!("group:{id}"),
                    serde_json::json!({ "name": name, "description": description }),
                )
                .await
            }

            async fn delete_group(
                &self,
                org: nexus_store::OrgId,
                id: uuid::Uuid,
                actor: &nexus_store::audit::Actor,
            ) -> crate::error::Result<()> {
                self.delete_named(
                    "DELETE FROM org_groups WHERE org_id = $1 AND id = $2 RETURNING name",
                    "group",
                    org,
                    id,
                    actor,
                )
                .await
            }

            async fn list_groups(
                &self,
                org: nexus_store::OrgId,
            ) -> crate::error::Result<Vec<crate::model::Group>> {
                let sql = crate::store::sql_directory::LIST_GROUPS;
                let rows: Vec<crate::store::GroupRow> =
                    sqlx::query_as(sql).bind(org).fetch_all(&self.pool).await?;
                Ok(rows.into_iter().map(Into::into).collect())
            }

            async fn group(
                &self,
                org: nexus_store::OrgId,
                id: uuid::Uuid,
            ) -> crate::error::Result<Option<crate::model::Group>> {
                let sql = crate::store::sql_directory::GET_GROUP;
                let row: Option<crate::store::GroupRow> =
                    sqlx::query_as(sql).bind(org).bind(id).fetch_optional(&self.pool).await?;
                Ok(row.map(Into::into))
            }

            async fn group_members(
                &self,
                org: nexus_store::OrgId,
                id: uuid::Uuid,
            ) -> crate::error::Result<Vec<crate::model::User>> {
                let rows: Vec<crate::store::UserRow> = sqlx::query_as(concat!(
                    select_users!(),
                    "WHERE org_id = $1 AND id IN \
                     (SELECT user_id FROM group_members WHERE org_id = $1 AND group_id = $2) ORDER BY email",
                ))
                .bind(org)
                .bind(id)
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter().map(TryInto::try_into).collect()
            }

            async fn set_group_member(
                &self,
                org: nexus_store::OrgId,
                group: uuid::Uuid,
                user: crate::model::UserId,
                member: bool,
                actor: &nexus_store::audit::Actor,
            ) -> crate::error::Result<()> {
                let action = if member { "group.member_added" } else { "group.member_removed" };
                let record = nexus_store::audit::NewRecord::new(
                    Some(org),
                    actor,
                    action,
                    format!("group:{group}"),
                    serde_json::json!({ "user_id": user }),
                );
                self.set_link(
                    &crate::store::sql_directory::GROUP_MEMBER,
                    org,
                    (group, user.0),
                    member,
                    format!("group {group} or user {user}"),
                    record,
                )
                .await
            }

            async fn user_groups(
                &self,
                org: nexus_store::OrgId,
                user: crate::model::UserId,
            ) -> crate::error::Result<Vec<uuid::Uuid>> {
                Ok(sqlx::query_scalar("SELECT group_id FROM group_members WHERE org_id = $1 AND user_id = $2")
                    .bind(org)
                    .bind(user)
                    .fetch_all(&self.pool)
                    .await?)
            }

            async fn create_role(
                &self,
                role: &crate::model::CustomRole,
                actor: &nexus_store::audit::Actor,
            ) -> crate::error::Result<()> {
                let mut tx = nexus_store::BeginWrite::begin_write(&self.pool).await?;
                sqlx::query(
                    "INSERT INTO org_roles (id, org_id, name, description, permissions, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(role.id)
                .bind(role.org)
                .bind(&role.name)
                .bind(&role.description)
                .bind(role.permissions.to_list())
                .bind(role.created_at)
                .execute(&mut *tx)
                .await
                .map_err(|e| crate::store::conflict_or(e, &format!("a role named `{}`", role.name)))?;
                self.commit_audited(
                    tx,
                    role.org,
                    actor,
                    "role.created",
                    format!("role:{}", role.id),
                    serde_json::json!({ "name": role.name, "permissions": role.permissions.to_list() }),
                )
                .await
            }

            async fn update_role(
                &self,
                role: &crate::model::CustomRole,
                actor: &nexus_store::audit::Actor,
            ) -> crate::error::Result<()> {
                let mut tx = nexus_store::BeginWrite::begin_write(&self.pool).await?;
                let r = sqlx::query(
                    "UPDATE org_roles SET name = $1, description = $2, permissions = $3 WHERE org_id = $4 AND id = $5",
                )
                .bind(&role.name)
                .bind(&role.description)
                .bind(role.permissions.to_list())
                .bind(role.org)
                .bind(role.id)
                .execute(&mut *tx)
                .await
                .map_err(|e| crate::store::conflict_or(e, &format!("a role named `{}`", role.name)))?;
                if r.rows_affected() == 0 {
                    return Err(crate::error::IdentityError::NotFound(format!("role {}", role.id)));
                }
                self.commit_audited(
                    tx,
                    role.org,
                    actor,
                    "role.updated",
                    format!("role:{}", role.id),
                    serde_json::json!({ "name": role.name, "permissions": role.permissions.to_list() }),
                )
                .await
            }

            async fn delete_role(
                &self,
                org: nexus_store::OrgId,
                id: uuid::Uuid,
                actor: &nexus_store::audit::Actor,
            ) -> crate::error::Result<()> {
                self.delete_named(
                    "DELETE FROM org_roles WHERE org_id = $1 AND id = $2 RETURNING name",
                    "role",
                    org,
                    id,
                    actor,
                )
                .await
            }

            async fn list_roles(
                &self,
                org: nexus_store::OrgId,
            ) -> crate::error::Result<Vec<crate::model::CustomRole>> {
                let sql = crate::store::sql_directory::LIST_ROLES;
                let rows: Vec<crate::store::RoleRow> =
                    sqlx::query_as(sql).bind(org).fetch_all(&self.pool).await?;
                Ok(rows.into_iter().map(Into::into).collect())
            }

            async fn role(
                &self,
                org: nexus_store::OrgId,
                id: uuid::Uuid,
            ) -> crate::error::Result<Option<crate::model::CustomRole>> {
                let sql = crate::store::sql_directory::GET_ROLE;
                let row: Option<crate::store::RoleRow> =
                    sqlx::query_as(sql).bind(org).bind(id).fetch_optional(&self.pool).await?;
                Ok(row.map(Into::into))
            }

            async fn set_role_grant(
                &self,
                org: nexus_store::OrgId,
                role: uuid::Uuid,
                to: crate::model::Grantee,
                granted: bool,
                actor: &nexus_store::audit::Actor,
            ) -> crate::error::Result<()> {
                let (sql, target, target_id) = match to {
                    crate::model::Grantee::User(u) => (&crate::store::sql_directory::USER_GRANT, "user", u.0),
                    crate::model::Grantee::Group(g) => (&crate::store::sql_directory::GROUP_GRANT, "group", g),
                };
                let action = if granted { "role.granted" } else { "role.revoked" };
                let record = nexus_store::audit::NewRecord::new(
                    Some(org),
                    actor,
                    action,
                    format!("role:{role}"),
                    serde_json::json!({ "to": format!("{target}:{target_id}") }),
                );
                self.set_link(
                    sql,
                    org,
                    (role, target_id),
                    granted,
                    format!("role {role} or {target} {target_id}"),
                    record,
                )
                .await
            }

            async fn group_roles(
                &self,
                org: nexus_store::OrgId,
                group: uuid::Uuid,
            ) -> crate::error::Result<Vec<crate::model::CustomRole>> {
                let rows: Vec<crate::store::RoleRow> = sqlx::query_as(crate::store::sql_directory::ROLES_OF_GROUP)
                    .bind(org)
                    .bind(group)
                    .fetch_all(&self.pool)
                    .await?;
                Ok(rows.into_iter().map(Into::into).collect())
            }

            async fn role_grants(
                &self,
                org: nexus_store::OrgId,
                role: uuid::Uuid,
            ) -> crate::error::Result<Vec<crate::model::Grantee>> {
                let users: Vec<crate::model::UserId> =
                    sqlx::query_scalar("SELECT user_id FROM user_roles WHERE org_id = $1 AND role_id = $2")
                        .bind(org)
                        .bind(role)
                        .fetch_all(&self.pool)
                        .await?;
                let groups: Vec<uuid::Uuid> =
                    sqlx::query_scalar("SELECT group_id FROM group_roles WHERE org_id = $1 AND role_id = $2")
                        .bind(org)
                        .bind(role)
                        .fetch_all(&self.pool)
                        .await?;
                Ok(users
                    .into_iter()
                    .map(crate::model::Grantee::User)
                    .chain(groups.into_iter().map(crate::model::Grantee::Group))
                    .collect())
            }

            async fn user_roles(
                &self,
                org: nexus_store::OrgId,
                user: crate::model::UserId,
            ) -> crate::error::Result<Vec<crate::model::CustomRole>> {
                let sql = crate::store::sql_directory::ROLES_OF_USER;
                let rows: Vec<crate::store::RoleRow> =
                    sqlx::query_as(sql).bind(org).bind(user).fetch_all(&self.pool).await?;
                Ok(rows.into_iter().map(Into::into).collect())
            }

            async fn set_branding(
                &self,
                org: nexus_store::OrgId,
                name: &str,
                color: &str,
                actor: &nexus_store::audit::Actor,
            ) -> crate::error::Result<()> {
                let mut tx = nexus_store::BeginWrite::begin_write(&self.pool).await?;
                let r = sqlx::query("UPDATE organizations SET name = $1, brand_color = $2 WHERE id = $3")
                    .bind(name)
                    .bind(color)
                    .bind(org)
                    .execute(&mut *tx)
                    .await?;
                if r.rows_affected() == 0 {
                    return Err(crate::error::IdentityError::NotFound(format!("organization {org}")));
                }
                self.commit_audited(
                    tx,
                    org,
                    actor,
                    "org.branding_changed",
                    format!("org:{org}"),
                    serde_json::json!({ "name": name, "brand_color": color }),
                )
                .await
            }

            async fn set_logo(
                &self,
                org: nexus_store::OrgId,
                logo: Option<&crate::model::Logo>,
                actor: &nexus_store::audit::Actor,
            ) -> crate::error::Result<()> {
                let mut tx = nexus_store::BeginWrite::begin_write(&self.pool).await?;
                let (action, details) = match logo {
                    Some(l) => {
                        sqlx::query(
                            "INSERT INTO org_logos (org_id, content_type, data, updated_at) VALUES ($1, $2, $3, $4) \
                             ON CONFLICT (org_id) DO UPDATE SET content_type = excluded.content_type, \
                             data = excluded.data, updated_at = excluded.updated_at",
                        )
                        .bind(org)
                        .bind(&l.content_type)
                        .bind(&l.data)
                        .bind(l.updated_at)
                        .execute(&mut *tx)
                        .await?;
                        ("org.logo_changed", serde_json::json!({ "content_type": l.content_type, "bytes": l.data.len() }))
                    }
                    None => {
                        sqlx::query("DELETE FROM org_logos WHERE org_id = $1")
                            .bind(org)
                            .execute(&mut *tx)
                            .await?;
                        ("org.logo_removed", serde_json::json!({}))
                    }
                };
                self.commit_audited(tx, org, actor, action, format!("org:{org}"), details).await
            }

            async fn has_logo(&self, org: nexus_store::OrgId) -> crate::error::Result<bool> {
                let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM org_logos WHERE org_id = $1")
                    .bind(org)
                    .fetch_one(&self.pool)
                    .await?;
                Ok(n > 0)
            }

            async fn logo(
                &self,
                org: nexus_store::OrgId,
            ) -> crate::error::Result<Option<crate::model::Logo>> {
                let row: Option<crate::store::LogoRow> =
                    sqlx::query_as("SELECT content_type, data, updated_at FROM org_logos WHERE org_id = $1")
                        .bind(org)
                        .fetch_optional(&self.pool)
                        .await?;
                Ok(row.map(Into::into))
            }
        }
    };
}

pub(crate) use sql_directory_store;
