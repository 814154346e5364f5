//! Authorization: the permission catalogue, what each built-in role holds, and the one
//! question every app asks — "may this caller do that?" — [`IdentityService::authorize`].
//!
//! A user holds the permissions of their built-in role (owner, admin, member, guest) plus
//! those of every custom role granted to them directly or to a group they belong to. A
//! permission's name is also an OAuth scope: a token acts with a permission only when it
//! carries that scope *and* (for a user's token) the user still holds the permission, so
//! taking a role away takes effect on their tokens at once.
//!
//! [`IdentityService::authorize`]: crate::IdentityService::authorize

use std::sync::Arc;

use nexus_store::OrgId;

use crate::model::{Organization, Role, Session, User};
use crate::tokens::TokenPrincipal;

/// Something a role lets its holders do in their organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    /// See the directory: users, groups and roles.
    UsersRead,
    /// Add, disable and reset users; change their built-in role; manage groups and who
    /// holds which custom role.
    UsersManage,
    /// Define custom roles.
    RolesManage,
    /// Rename the organization and change its branding.
    OrgManage,
    /// Read and export the audit log.
    AuditRead,
    /// Register and disable OAuth clients ("Log in with NEXUS" apps, API clients).
    ClientsManage,
    /// See the instance's health alerts (service down, disk, certificates, backups).
    /// Held only in the instance's first organization: the others are tenants of it.
    SystemRead,
}

impl Permission {
    pub const ALL: [Permission; 7] = [
        Self::UsersRead,
        Self::UsersManage,
        Self::RolesManage,
        Self::OrgManage,
        Self::AuditRead,
        Self::ClientsManage,
        Self::SystemRead,
    ];

    /// The name, as stored in custom roles and carried as a token scope.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::UsersRead => "users:read",
            Self::UsersManage => "users:manage",
            Self::RolesManage => "roles:manage",
            Self::OrgManage => "org:manage",
            Self::AuditRead => "audit:read",
            Self::ClientsManage => "clients:manage",
            Self::SystemRead => "system:read",
        }
    }

    pub const fn description(self) -> &'static str {
        match self {
            Self::UsersRead => "see the organization's users, groups and roles",
            Self::UsersManage => {
                "add, disable and reset users, manage groups, grant roles (owners and administrators)"
            }
            Self::RolesManage => "define custom roles (owners and administrators)",
            Self::OrgManage => {
                "rename the organization and change its branding (owners and administrators)"
            }
            Self::AuditRead => "read the organization's audit log (owners and administrators)",
            Self::ClientsManage => "register and disable OAuth clients (owners and administrators)",
            Self::SystemRead => {
                "see this instance's health alerts (owners and administrators of the instance's first organization)"
            }
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }

    const fn bit(self) -> u16 {
        1 << self as u16
    }
}

impl std::fmt::Display for Permission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of permissions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Permissions(u16);

impl Permissions {
    pub const NONE: Self = Self(0);

    pub fn of(perms: impl IntoIterator<Item = Permission>) -> Self {
        Self(perms.into_iter().fold(0, |acc, p| acc | p.bit()))
    }

    /// What a built-in role holds. Owners and administrators hold everything; what sets an
    /// owner apart (making and unmaking owners) is checked where roles change.
    pub fn of_role(role: Role) -> Self {
        match role {
            Role::Owner | Role::Admin => Self::of(Permission::ALL),
            Role::Member => Self::of([Permission::UsersRead]),
            Role::Guest => Self::NONE,
        }
    }

    /// Parses a custom role's stored list, skipping names this version does not know
    /// (a permission retired by an upgrade grants nothing).
    pub fn parse_stored(list: &str) -> Self {
        Self::of(list.split_whitespace().filter_map(Permission::parse))
    }

    /// Parses a list given by a user; names every unknown permission.
    pub fn parse_strict<'a>(items: impl IntoIterator<Item = &'a str>) -> Result<Self, String> {
        let mut set = Self::NONE;
        let mut unknown = Vec::new();
        for s in items
            .into_iter()
            .flat_map(|s| s.split([' ', ',']))
            .filter(|s| !s.is_empty())
        {
            match Permission::parse(s) {
                Some(p) => set = set.with(p),
                None => unknown.push(s.to_owned()),
            }
        }
        if unknown.is_empty() {
            Ok(set)
        } else {
            let known: Vec<&str> = Permission::ALL.iter().map(|p| p.as_str()).collect();
            Err(format!(
                "unknown permission {}; known permissions: {}",
                unknown.join(", "),
                known.join(", ")
            ))
        }
    }

    pub fn contains(self, p: Permission) -> bool {
        self.0 & p.bit() != 0
    }

    pub fn with(self, p: Permission) -> Self {
        Self(self.0 | p.bit())
    }

    pub fn without(self, p: Permission) -> Self {
        Self(self.0 & !p.bit())
    }

    pub fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    /// Whether every permission here is also in `other`.
    pub fn within(self, other: Self) -> bool {
        self.0 & !other.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = Permission> {
        Permission::ALL
            .into_iter()
            .filter(move |p| self.contains(*p))
    }

    /// Space-separated names, in catalogue order (how custom roles store them).
    pub fn to_list(self) -> String {
        self.iter()
            .map(Permission::as_str)
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// A logged-in browser session: the session, its user and organization.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub session: Session,
    pub user: User,
    pub org: Organization,
}

/// Who is calling: a browser session, or an API token verified locally.
#[derive(Debug, Clone)]
pub enum Caller {
    Session(Box<Authenticated>),
    Token(Arc<TokenPrincipal>),
}

impl Caller {
    pub fn org(&self) -> OrgId {
        match self {
            Self::Session(a) => a.org.id,
            Self::Token(t) => t.org,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_distinct() {
        for p in Permission::ALL {
            assert_eq!(Permission::parse(p.as_str()), Some(p));
        }
        let all = Permissions::of(Permission::ALL);
        assert_eq!(all.iter().count(), Permission::ALL.len());
        assert_eq!(Permissions::parse_stored(&all.to_list()), all);
    }

    #[test]
    fn built_in_roles_hold_what_they_should() {
        let member = Permissions::of_role(Role::Member);
        assert!(member.contains(Permission::UsersRead));
        assert!(!member.contains(Permission::UsersManage));
        assert_eq!(Permissions::of_role(Role::Guest), Permissions::NONE);
        assert!(Permissions::of(Permission::ALL).within(Permissions::of_role(Role::Admin)));
    }

    #[test]
    fn strict_parsing_names_unknown_permissions() {
        let err = Permissions::parse_strict(["users:read drive:root"]).unwrap_err();
        assert!(err.contains("drive:root"), "{err}");
        assert!(err.contains("known permissions: users:read"), "{err}");
        let ok = Permissions::parse_strict(["audit:read,users:read", ""]).unwrap();
        assert_eq!(ok.to_list(), "users:read audit:read");
        assert!(Permissions::of([Permission::AuditRead]).within(ok));
        assert!(!Permissions::of([Permission::OrgManage]).within(ok));
        // Stored lists skip retired names instead of failing a login.
        assert_eq!(
            Permissions::parse_stored("users:read retired:thing"),
            Permissions::of([Permission::UsersRead])
        );
    }
}
