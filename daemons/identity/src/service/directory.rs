//! The permission check every app calls, and the administration of an organization's
//! directory: users' roles, groups, custom roles and branding.
//!
//! Nobody can hand out more than they hold: a custom role may only name permissions its
//! author holds, only an owner makes or unmakes owners, and an organization always keeps an
//! enabled owner (checked by the store in the same transaction as the change).

use chrono::Utc;
use nexus_store::OrgId;

use super::{IdentityService, user_actor};
use crate::authz::{Caller, Permission, Permissions};
use crate::error::{IdentityError, Result};
use crate::model::{CustomRole, Grantee, Group, Logo, Role, User, UserId};
use crate::tokens::{Subject, scope_permissions};
use nexus_store::audit::Actor;

/// Largest logo accepted (it is sent with every page of the shell that shows it).
pub const MAX_LOGO_BYTES: usize = 256 * 1024;

/// What a caller may do in their organization, worked out once per request.
#[derive(Debug, Clone)]
pub struct Access {
    pub org: OrgId,
    /// The permissions the caller acts with: a session's user's, or for a token those of
    /// its scopes that (for a user's token) the user still holds.
    pub held: Permissions,
    /// Whether the caller acts for an owner of the organization.
    pub owner: bool,
    /// The user the caller acts for (`None` for an OAuth client).
    pub user: Option<UserId>,
    /// Who the audit log names.
    pub actor: Actor,
}

impl Access {
    /// Refuses changes to one's own account's role or state: an administrator would lock
    /// themself out mid-request, or be their own witness.
    fn not_self(&self, id: UserId) -> Result<()> {
        if self.user == Some(id) {
            return Err(IdentityError::Forbidden(
                "you cannot change your own role or disable yourself; ask another administrator"
                    .into(),
            ));
        }
        Ok(())
    }

    pub(super) fn require(&self, p: Permission) -> Result<()> {
        if self.held.contains(p) {
            Ok(())
        } else {
            Err(IdentityError::Forbidden(format!(
                "this needs the permission `{p}`, which you do not hold; ask an owner or administrator"
            )))
        }
    }

    /// Refuses what only an owner may do (`touches_owner`) to a caller who is not one.
    pub(super) fn owner_only(&self, touches_owner: bool, what: &str) -> Result<()> {
        if touches_owner && !self.owner {
            return Err(IdentityError::Forbidden(format!(
                "only an owner can {what}"
            )));
        }
        Ok(())
    }

    /// Refuses to hand out permissions the caller does not hold.
    fn require_all(&self, wanted: Permissions, what: &str) -> Result<()> {
        match wanted.iter().find(|p| !self.held.contains(*p)) {
            None => Ok(()),
            Some(p) => Err(IdentityError::Forbidden(format!(
                "{what} would carry the permission `{p}`, which you do not hold yourself"
            ))),
        }
    }
}

/// A user as an administrator sees them: their built-in role, groups and custom roles.
#[derive(Debug, Clone)]
pub struct UserDetail {
    pub user: User,
    pub groups: Vec<uuid::Uuid>,
    pub roles: Vec<CustomRole>,
    pub permissions: Permissions,
}

impl IdentityService {
    /// Everything `user` holds: their built-in role's permissions and those of their custom
    /// roles (granted directly or through a group). A disabled user holds nothing.
    pub async fn permissions(&self, user: &User) -> Result<Permissions> {
        if user.disabled {
            return Ok(Permissions::NONE);
        }
        let custom = self.store.user_roles(user.org, user.id).await?;
        let held = custom
            .iter()
            .fold(Permissions::of_role(user.role), |acc, r| {
                acc.union(r.permissions)
            });
        self.instance_scoped(user.org, held).await
    }

    /// The instance's first organization (the one provisioning made): its owners and
    /// administrators operate the instance; later organizations are its tenants.
    pub async fn home_org(&self) -> Result<Option<OrgId>> {
        if let Some(id) = self.home_org.get() {
            return Ok(Some(*id));
        }
        let orgs = self.store.list_orgs().await?;
        let Some(first) = orgs.iter().min_by_key(|o| o.created_at) else {
            return Ok(None);
        };
        // Organizations are never deleted: the first stays the first.
        let _ = self.home_org.set(first.id);
        Ok(Some(first.id))
    }

    /// `held` without what only the instance's first organization may hold.
    async fn instance_scoped(&self, org: OrgId, held: Permissions) -> Result<Permissions> {
        if held.contains(Permission::SystemRead) && self.home_org().await? != Some(org) {
            return Ok(held.without(Permission::SystemRead));
        }
        Ok(held)
    }

    /// What `caller` may do. For a user's token this re-reads the user, so a role taken
    /// away or an account disabled stops the token's permissions at once.
    pub async fn access(&self, caller: &Caller, from: &str) -> Result<Access> {
        match caller {
            Caller::Session(a) => Ok(Access {
                org: a.org.id,
                held: self.permissions(&a.user).await?,
                owner: a.user.role == Role::Owner,
                user: Some(a.user.id),
                actor: user_actor(&a.user, from),
            }),
            Caller::Token(t) => {
                let scoped = scope_permissions(&t.scopes);
                match &t.subject {
                    Subject::Client(id) => Ok(Access {
                        org: t.org,
                        held: self.instance_scoped(t.org, scoped).await?,
                        owner: false,
                        user: None,
                        actor: Actor::new(format!("client:{id}"), from),
                    }),
                    Subject::User(id) => {
                        let user = self.store.user(t.org, *id).await?;
                        let Some(user) = user.filter(|u| !u.disabled) else {
                            return Err(IdentityError::Forbidden(
                                "the account this token belongs to is disabled or gone".into(),
                            ));
                        };
                        let held = self.permissions(&user).await?;
                        Ok(Access {
                            org: t.org,
                            held: Permissions::of(scoped.iter().filter(|p| held.contains(*p))),
                            owner: user.role == Role::Owner,
                            user: Some(user.id),
                            actor: Actor::new(
                                format!("{} ({}) with token {}", user.email, user.id, t.token_id),
                                from,
                            ),
                        })
                    }
                }
            }
        }
    }

    /// The one permission check: may `caller` do what `permission` allows in their
    /// organization? Every route that needs more than a login asks this.
    pub async fn authorize(
        &self,
        caller: &Caller,
        permission: Permission,
        from: &str,
    ) -> Result<Access> {
        if let Caller::Token(t) = caller
            && !t.scopes.contains(permission.as_str())
        {
            return Err(IdentityError::InsufficientScope(permission.as_str().into()));
        }
        let access = self.access(caller, from).await?;
        access.require(permission)?;
        Ok(access)
    }

    /// A user of the caller's organization, with their groups and roles.
    pub async fn user_detail(&self, org: OrgId, id: UserId) -> Result<UserDetail> {
        let user = self
            .store
            .user(org, id)
            .await?
            .ok_or_else(|| IdentityError::NotFound(format!("user {id}")))?;
        let groups = self.store.user_groups(org, id).await?;
        let roles = self.store.user_roles(org, id).await?;
        let permissions = self.permissions(&user).await?;
        Ok(UserDetail {
            user,
            groups,
            roles,
            permissions,
        })
    }

    /// A user of the caller's organization whom the caller (holding `users:manage`) is
    /// about to change.
    async fn managed_user(&self, access: &Access, id: UserId) -> Result<User> {
        access.require(Permission::UsersManage)?;
        self.store
            .user(access.org, id)
            .await?
            .ok_or_else(|| IdentityError::NotFound(format!("user {id}")))
    }

    /// Adds a user with a one-time password. Only owners add owners.
    pub async fn add_user_by_admin(
        &self,
        access: &Access,
        email: &str,
        display_name: Option<&str>,
        role: Role,
    ) -> Result<(User, String)> {
        access.require(Permission::UsersManage)?;
        access.owner_only(role == Role::Owner, "add an owner")?;
        self.add_user(access.org, email, display_name, role, &access.actor)
            .await
    }

    /// Changes a user's built-in role. Only owners make or unmake owners.
    pub async fn set_user_role(&self, access: &Access, id: UserId, role: Role) -> Result<User> {
        access.not_self(id)?;
        let user = self.managed_user(access, id).await?;
        access.owner_only(
            role == Role::Owner || user.role == Role::Owner,
            "make someone an owner or change an owner's role",
        )?;
        if user.role == role {
            return Ok(user);
        }
        self.store
            .set_user_role(access.org, id, role, &access.actor)
            .await?;
        Ok(User { role, ..user })
    }

    /// Disables or re-enables a user. Only owners disable owners; nobody disables themself.
    pub async fn set_disabled_by_admin(
        &self,
        access: &Access,
        id: UserId,
        disabled: bool,
    ) -> Result<User> {
        access.not_self(id)?;
        let user = self.managed_user(access, id).await?;
        access.owner_only(user.role == Role::Owner, "disable or enable an owner")?;
        if user.disabled == disabled {
            return Ok(user);
        }
        self.store
            .set_disabled(access.org, id, disabled, &access.actor)
            .await?;
        if disabled {
            self.refresh_revocations().await?;
        }
        Ok(User { disabled, ..user })
    }

    /// Gives a user a new one-time password (shown once to the administrator) and ends
    /// their sessions. Only owners reset owners.
    pub async fn reset_password_by_admin(&self, access: &Access, id: UserId) -> Result<String> {
        let user = self.managed_user(access, id).await?;
        access.owner_only(user.role == Role::Owner, "reset an owner's password")?;
        self.reset_password(access.org, &user.email, &access.actor)
            .await
    }

    /// Removes a user's second factors (they lost their phone). Only owners reset owners.
    pub async fn reset_mfa_by_admin(&self, access: &Access, id: UserId) -> Result<()> {
        let user = self.managed_user(access, id).await?;
        access.owner_only(user.role == Role::Owner, "reset an owner's second factor")?;
        self.reset_mfa(access.org, &user.email, &access.actor)
            .await
            .map(|_| ())
    }

    pub async fn list_groups(&self, access: &Access) -> Result<Vec<Group>> {
        access.require(Permission::UsersRead)?;
        self.store.list_groups(access.org).await
    }

    /// A group and its members.
    pub async fn group_detail(
        &self,
        access: &Access,
        id: uuid::Uuid,
    ) -> Result<(Group, Vec<User>)> {
        access.require(Permission::UsersRead)?;
        let group = self
            .store
            .group(access.org, id)
            .await?
            .ok_or_else(|| IdentityError::NotFound(format!("group {id}")))?;
        let members = self.store.group_members(access.org, id).await?;
        Ok((group, members))
    }

    pub async fn create_group(
        &self,
        access: &Access,
        name: &str,
        description: &str,
    ) -> Result<Group> {
        access.require(Permission::UsersManage)?;
        let (name, description) = check_name_and_description("group", name, description)?;
        let group = Group {
            id: uuid::Uuid::now_v7(),
            org: access.org,
            name,
            description,
            member_count: 0,
            created_at: Utc::now(),
            directory: None,
        };
        self.store.create_group(&group, &access.actor).await?;
        Ok(group)
    }

    pub async fn update_group(
        &self,
        access: &Access,
        id: uuid::Uuid,
        name: &str,
        description: &str,
    ) -> Result<()> {
        access.require(Permission::UsersManage)?;
        let (name, description) = check_name_and_description("group", name, description)?;
        self.refuse_directory_group(access.org, id).await?;
        self.store
            .update_group(access.org, id, &name, &description, &access.actor)
            .await
    }

    pub async fn delete_group(&self, access: &Access, id: uuid::Uuid) -> Result<()> {
        access.require(Permission::UsersManage)?;
        self.refuse_directory_group(access.org, id).await?;
        self.store.delete_group(access.org, id, &access.actor).await
    }

    pub async fn set_group_member(
        &self,
        access: &Access,
        group: uuid::Uuid,
        user: UserId,
        member: bool,
    ) -> Result<()> {
        access.require(Permission::UsersManage)?;
        self.refuse_directory_group(access.org, group).await?;
        // Adding someone to a group hands them the group's roles: the same rule as a grant.
        if member {
            for role in self.store.group_roles(access.org, group).await? {
                access.require_all(role.permissions, "this group's role")?;
            }
        }
        self.store
            .set_group_member(access.org, group, user, member, &access.actor)
            .await
    }

    pub async fn list_roles(&self, access: &Access) -> Result<Vec<CustomRole>> {
        access.require(Permission::UsersRead)?;
        self.store.list_roles(access.org).await
    }

    /// A custom role and who holds it.
    pub async fn role_detail(
        &self,
        access: &Access,
        id: uuid::Uuid,
    ) -> Result<(CustomRole, Vec<Grantee>)> {
        access.require(Permission::UsersRead)?;
        let role = self
            .store
            .role(access.org, id)
            .await?
            .ok_or_else(|| IdentityError::NotFound(format!("role {id}")))?;
        let grants = self.store.role_grants(access.org, id).await?;
        Ok((role, grants))
    }

    pub async fn create_role(
        &self,
        access: &Access,
        name: &str,
        description: &str,
        permissions: &[String],
    ) -> Result<CustomRole> {
        access.require(Permission::RolesManage)?;
        let role =
            self.checked_role(access, uuid::Uuid::now_v7(), name, description, permissions)?;
        self.store.create_role(&role, &access.actor).await?;
        Ok(role)
    }

    pub async fn update_role(
        &self,
        access: &Access,
        id: uuid::Uuid,
        name: &str,
        description: &str,
        permissions: &[String],
    ) -> Result<CustomRole> {
        access.require(Permission::RolesManage)?;
        let role = self.checked_role(access, id, name, description, permissions)?;
        self.store.update_role(&role, &access.actor).await?;
        Ok(role)
    }

    fn checked_role(
        &self,
        access: &Access,
        id: uuid::Uuid,
        name: &str,
        description: &str,
        permissions: &[String],
    ) -> Result<CustomRole> {
        let (name, description) = check_name_and_description("role", name, description)?;
        if Role::parse(&name.to_lowercase()).is_some() {
            return Err(IdentityError::Invalid(format!(
                "`{name}` is a built-in role; choose another name"
            )));
        }
        let permissions = Permissions::parse_strict(permissions.iter().map(String::as_str))
            .map_err(IdentityError::Invalid)?;
        access.require_all(permissions, "this role")?;
        Ok(CustomRole {
            id,
            org: access.org,
            name,
            description,
            permissions,
            created_at: Utc::now(),
        })
    }

    pub async fn delete_role(&self, access: &Access, id: uuid::Uuid) -> Result<()> {
        access.require(Permission::RolesManage)?;
        self.store.delete_role(access.org, id, &access.actor).await
    }

    /// Grants or takes back a custom role. Granting needs every permission the role has.
    pub async fn set_role_grant(
        &self,
        access: &Access,
        role: uuid::Uuid,
        to: Grantee,
        granted: bool,
    ) -> Result<()> {
        access.require(Permission::UsersManage)?;
        if granted {
            let r = self
                .store
                .role(access.org, role)
                .await?
                .ok_or_else(|| IdentityError::NotFound(format!("role {role}")))?;
            access.require_all(r.permissions, "this role")?;
        }
        self.store
            .set_role_grant(access.org, role, to, granted, &access.actor)
            .await
    }

    /// Renames the organization and sets its accent colour (`#rrggbb`, or empty for the
    /// default).
    pub async fn set_branding(&self, access: &Access, name: &str, color: &str) -> Result<()> {
        access.require(Permission::OrgManage)?;
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(IdentityError::Invalid(
                "the organization's name must be 1 to 100 characters".into(),
            ));
        }
        let color = color.trim().to_lowercase();
        let valid = color.is_empty()
            || (color.len() == 7
                && color.starts_with('#')
                && color[1..].bytes().all(|b| b.is_ascii_hexdigit()));
        if !valid {
            return Err(IdentityError::Invalid(format!(
                "`{color}` is not a colour; use the form #1a73e8"
            )));
        }
        self.store
            .set_branding(access.org, name, &color, &access.actor)
            .await
    }

    /// Replaces the logo. PNG, JPEG and WebP are recognised by their first bytes (whatever
    /// the upload claims); SVG is refused, as it can carry script.
    pub async fn set_logo(&self, access: &Access, data: Vec<u8>) -> Result<()> {
        access.require(Permission::OrgManage)?;
        if data.is_empty() || data.len() > MAX_LOGO_BYTES {
            return Err(IdentityError::Invalid(format!(
                "a logo must be 1 byte to {} KiB",
                MAX_LOGO_BYTES / 1024
            )));
        }
        let Some(content_type) = image_type(&data) else {
            return Err(IdentityError::Invalid(
                "a logo must be a PNG, JPEG or WebP image".into(),
            ));
        };
        let logo = Logo {
            content_type: content_type.to_owned(),
            data,
            updated_at: Utc::now(),
        };
        self.store
            .set_logo(access.org, Some(&logo), &access.actor)
            .await
    }

    pub async fn remove_logo(&self, access: &Access) -> Result<()> {
        access.require(Permission::OrgManage)?;
        self.store.set_logo(access.org, None, &access.actor).await
    }
}

/// The image type by its signature, not by what the client said.
fn image_type(data: &[u8]) -> Option<&'static str> {
    if data.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if data.starts_with(&[0xff, 0xd8, 0xff]) {
        Some("image/jpeg")
    } else if data.len() >= 12 && &data[0..4] == b"RIFF" && &data[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

fn check_name_and_description(
    what: &str,
    name: &str,
    description: &str,
) -> Result<(String, String)> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(IdentityError::Invalid(format!(
            "a {what} needs a name of 1 to 100 characters"
        )));
    }
    let description = description.trim();
    if description.chars().count() > 500 {
        return Err(IdentityError::Invalid(format!(
            "a {what}'s description must be at most 500 characters"
        )));
    }
    Ok((name.to_owned(), description.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logos_are_recognised_by_their_bytes() {
        assert_eq!(image_type(b"\x89PNG\r\n\x1a\nrest"), Some("image/png"));
        assert_eq!(image_type(&[0xff, 0xd8, 0xff, 0xe0]), Some("image/jpeg"));
        assert_eq!(image_type(b"RIFF\0\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(image_type(b"<svg onload=alert(1)>"), None);
        assert_eq!(image_type(b""), None);
    }

    #[test]
    fn names_are_checked() {
        assert!(check_name_and_description("group", "  ", "").is_err());
        assert!(check_name_and_description("group", "a\u{7}b", "").is_err());
        assert!(check_name_and_description("group", &"x".repeat(101), "").is_err());
        assert!(check_name_and_description("group", "ok", &"d".repeat(501)).is_err());
        let (n, d) = check_name_and_description("group", " Sales ", " team ").unwrap();
        assert_eq!((n.as_str(), d.as_str()), ("Sales", "team"));
    }
}
