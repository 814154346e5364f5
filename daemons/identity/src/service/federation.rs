//! Outside directories (LDAP / Active Directory): an organization's users and groups synced
//! from one, and those users' passwords checked by binding to it.
//!
//! Accounts a directory brings in have no password in NEXUS; they sign in with the
//! directory's, and their name, e-mail, membership of the directory's groups and whether
//! they exist at all follow the directory at each sync. Roles stay NEXUS's to give.

use std::collections::HashSet;
use std::time::Duration;

use chrono::Utc;

use super::directory::Access;
use super::{IdentityService, normalize_email};
use crate::authz::Permission;
use crate::error::{IdentityError, Result};
use crate::ldap;
use crate::model::{
    Directory, DirectorySettings, DirectorySnapshot, SkippedEntry, SyncReport, User,
};
use nexus_store::audit::Actor;

/// How often every directory is synced on its own.
pub const SYNC_INTERVAL: Duration = Duration::from_secs(15 * 60);

/// A directory as an administrator describes it; unset fields keep their current value
/// (or take the default, for a new one). An empty `bind_password` keeps the current one.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirectoryInput {
    pub name: Option<String>,
    pub url: Option<String>,
    pub bind_dn: Option<String>,
    pub bind_password: Option<String>,
    pub user_base: Option<String>,
    pub user_filter: Option<String>,
    pub email_attribute: Option<String>,
    pub name_attribute: Option<String>,
    pub group_base: Option<String>,
    pub group_filter: Option<String>,
    pub member_attribute: Option<String>,
    pub starttls: Option<bool>,
}

fn defaults() -> DirectorySettings {
    DirectorySettings {
        url: String::new(),
        bind_dn: String::new(),
        user_base: String::new(),
        user_filter: "(objectClass=inetOrgPerson)".into(),
        email_attribute: "mail".into(),
        name_attribute: "cn".into(),
        group_base: String::new(),
        group_filter: "(objectClass=groupOfNames)".into(),
        member_attribute: "member".into(),
        starttls: false,
    }
}

/// `input` laid over `base`, checked.
fn settings_from(base: DirectorySettings, input: &DirectoryInput) -> Result<DirectorySettings> {
    let pick =
        |new: &Option<String>, old: String| new.as_deref().map_or(old, |v| v.trim().to_owned());
    let s = DirectorySettings {
        url: pick(&input.url, base.url),
        bind_dn: pick(&input.bind_dn, base.bind_dn),
        user_base: pick(&input.user_base, base.user_base),
        user_filter: pick(&input.user_filter, base.user_filter),
        email_attribute: pick(&input.email_attribute, base.email_attribute),
        name_attribute: pick(&input.name_attribute, base.name_attribute),
        group_base: pick(&input.group_base, base.group_base),
        group_filter: pick(&input.group_filter, base.group_filter),
        member_attribute: pick(&input.member_attribute, base.member_attribute),
        starttls: input.starttls.unwrap_or(base.starttls),
    };
    let invalid = |m: &str| Err(IdentityError::Invalid(m.to_owned()));
    if !(s.url.starts_with("ldap://") || s.url.starts_with("ldaps://")) || s.url.len() > 500 {
        return invalid("url: give the server as ldap://host:389 or ldaps://host:636");
    }
    if s.starttls && s.url.starts_with("ldaps://") {
        return invalid(
            "starttls: an ldaps:// connection is encrypted already; use one or the other",
        );
    }
    for (field, value) in [("bind_dn", &s.bind_dn), ("user_base", &s.user_base)] {
        if value.is_empty() || value.len() > 500 {
            return invalid(&format!(
                "{field}: give a DN such as ou=people,dc=example,dc=com"
            ));
        }
    }
    for (field, value) in [
        ("user_filter", &s.user_filter),
        ("group_filter", &s.group_filter),
    ] {
        if !(value.starts_with('(') && value.ends_with(')')) || value.len() > 500 {
            return invalid(&format!(
                "{field}: an LDAP filter in parentheses, such as (objectClass=person)"
            ));
        }
    }
    for (field, value) in [
        ("email_attribute", &s.email_attribute),
        ("name_attribute", &s.name_attribute),
        ("member_attribute", &s.member_attribute),
    ] {
        let ok = !value.is_empty()
            && value.len() <= 100
            && value.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        if !ok {
            return invalid(&format!(
                "{field}: an attribute name such as mail, cn or member"
            ));
        }
    }
    Ok(s)
}

fn check_name(name: &str) -> Result<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(IdentityError::Invalid("name: 1 to 100 characters".into()));
    }
    Ok(name.to_owned())
}

/// Normalizes e-mail addresses and drops entries a sync cannot take (no address, two
/// entries with one address); those go into the report's skipped list.
fn clean(snapshot: DirectorySnapshot, attr: &str) -> (DirectorySnapshot, Vec<SkippedEntry>) {
    let mut skipped = Vec::new();
    let mut unusable = Vec::new();
    let mut emails = HashSet::new();
    let mut ids = HashSet::new();
    let mut users = Vec::new();
    for mut u in snapshot.users {
        let Ok(email) = normalize_email(&u.email) else {
            unusable.push(u.external_id);
            skipped.push(SkippedEntry {
                entry: u.dn,
                reason: format!("no usable e-mail address in `{attr}`"),
            });
            continue;
        };
        if !emails.insert(email.clone()) || !ids.insert(u.external_id.clone()) {
            unusable.push(u.external_id);
            skipped.push(SkippedEntry {
                entry: u.dn,
                reason: "another entry has the same e-mail address".into(),
            });
            continue;
        }
        u.email = email;
        u.name = u.name.chars().take(200).collect();
        if u.name.is_empty() {
            u.name = u.email.clone();
        }
        users.push(u);
    }
    let mut group_ids = HashSet::new();
    let groups = snapshot
        .groups
        .into_iter()
        .filter(|g| group_ids.insert(g.external_id.clone()))
        .map(|mut g| {
            g.name = g.name.chars().take(100).collect();
            g
        })
        .collect();
    (
        DirectorySnapshot {
            users,
            groups,
            unusable,
        },
        skipped,
    )
}

impl IdentityService {
    pub async fn directories(&self, access: &Access) -> Result<Vec<Directory>> {
        access.require(Permission::OrgManage)?;
        self.store.directories(access.org).await
    }

    pub async fn directory(&self, access: &Access, id: uuid::Uuid) -> Result<Directory> {
        access.require(Permission::OrgManage)?;
        self.store
            .directory(access.org, id)
            .await?
            .ok_or_else(|| IdentityError::NotFound(format!("directory {id}")))
    }

    /// Adds a directory after binding to it with the given account, so a typo is caught
    /// now and not at the first sync.
    pub async fn create_directory(
        &self,
        access: &Access,
        input: &DirectoryInput,
    ) -> Result<Directory> {
        access.require(Permission::OrgManage)?;
        let name = check_name(input.name.as_deref().unwrap_or_default())?;
        let settings = settings_from(defaults(), input)?;
        let password = input.bind_password.clone().unwrap_or_default();
        if password.is_empty() {
            return Err(IdentityError::Invalid(
                "bind_password: the service account's password".into(),
            ));
        }
        ldap::check(&settings, &password)
            .await
            .map_err(IdentityError::DirectoryUnreachable)?;
        let d = Directory {
            id: uuid::Uuid::now_v7(),
            org: access.org,
            name,
            settings,
            bind_password: password,
            created_at: Utc::now(),
            last_sync_at: None,
            last_sync: None,
            last_error: None,
        };
        self.store.create_directory(&d, &access.actor).await?;
        Ok(d)
    }

    pub async fn update_directory(
        &self,
        access: &Access,
        id: uuid::Uuid,
        input: &DirectoryInput,
    ) -> Result<Directory> {
        let current = self.directory(access, id).await?;
        // Its users sign in with what this server says: only owners point it elsewhere.
        access.owner_only(true, "change an outside directory")?;
        let name = match &input.name {
            Some(n) => check_name(n)?,
            None => current.name.clone(),
        };
        let settings = settings_from(current.settings.clone(), input)?;
        let password = match input.bind_password.as_deref() {
            Some(p) if !p.is_empty() => p.to_owned(),
            // The stored password goes only to the server and account it was given for.
            _ if settings.url != current.settings.url
                || settings.bind_dn != current.settings.bind_dn =>
            {
                return Err(IdentityError::Invalid(
                    "bind_password: give the password again when the server URL or bind DN changes"
                        .into(),
                ));
            }
            _ => current.bind_password.clone(),
        };
        ldap::check(&settings, &password)
            .await
            .map_err(IdentityError::DirectoryUnreachable)?;
        let d = Directory {
            name,
            settings,
            bind_password: password,
            ..current
        };
        self.store.update_directory(&d, &access.actor).await?;
        Ok(d)
    }

    pub async fn delete_directory(&self, access: &Access, id: uuid::Uuid) -> Result<()> {
        access.require(Permission::OrgManage)?;
        access.owner_only(true, "remove an outside directory")?;
        self.store
            .delete_directory(access.org, id, &access.actor)
            .await?;
        // Its users' tokens were revoked: make that count here at once.
        self.refresh_revocations().await
    }

    /// Syncs one directory now, as the administrator asking.
    pub async fn sync_directory(&self, access: &Access, id: uuid::Uuid) -> Result<SyncReport> {
        let d = self.directory(access, id).await?;
        self.run_sync(&d, &access.actor).await
    }

    /// Syncs every organization's directories (the periodic job); failures are recorded on
    /// each directory and logged, and do not stop the others.
    pub async fn sync_all_directories(&self) -> Result<()> {
        for d in self.store.all_directories().await? {
            let actor = Actor::new(format!("directory-sync:{}", d.name), "local");
            match self.run_sync(&d, &actor).await {
                Ok(r) => {
                    tracing::info!(directory = %d.id, org = %d.org, created = r.users_created, disabled = r.users_disabled, "directory synced")
                }
                Err(e) => {
                    tracing::warn!(directory = %d.id, org = %d.org, error = %e, "directory sync failed")
                }
            }
        }
        Ok(())
    }

    async fn run_sync(&self, d: &Directory, actor: &Actor) -> Result<SyncReport> {
        let now = Utc::now();
        let snapshot = match ldap::snapshot(&d.settings, &d.bind_password).await {
            Ok(s) => s,
            Err(e) => {
                self.store.record_sync_failure(d.org, d.id, now, &e).await?;
                return Err(IdentityError::DirectoryUnreachable(e));
            }
        };
        let (snapshot, mut skipped) = clean(snapshot, &d.settings.email_attribute);
        let mut report = self
            .store
            .apply_directory_sync(d.org, d.id, &snapshot, now, actor)
            .await?;
        skipped.append(&mut report.skipped);
        report.skipped = skipped;
        if report.users_disabled > 0 {
            // Their tokens were revoked: make that count here at once.
            self.refresh_revocations().await?;
        }
        Ok(report)
    }

    /// Checks the password of an account a directory brought in, by binding to it.
    pub(super) async fn directory_password_ok(&self, user: &User, password: &str) -> Result<bool> {
        let Some(id) = user.directory else {
            return Ok(false);
        };
        let Some(d) = self.store.directory(user.org, id).await? else {
            return Ok(false);
        };
        let Some(expected) = self.store.external_id(user.org, user.id).await? else {
            return Ok(false);
        };
        match ldap::authenticate(
            &d.settings,
            &d.bind_password,
            &user.email,
            &expected,
            password,
        )
        .await
        {
            Ok(found) => Ok(found.is_some()),
            Err(e) => {
                tracing::warn!(directory = %d.id, error = %e, "cannot check a password with the directory");
                Err(IdentityError::DirectoryUnreachable(
                    "the directory that holds this account's password is not answering; try again later".into(),
                ))
            }
        }
    }

    /// Refuses to set a password here for an account whose password is the directory's.
    pub(super) async fn refuse_directory_password(&self, user: &User) -> Result<()> {
        let Some(id) = user.directory else {
            return Ok(());
        };
        let name = self.directory_name(user.org, id).await?;
        Err(IdentityError::ManagedByDirectory(
            format!("the password of {}", user.email),
            name,
        ))
    }

    /// Refuses changes to a group a directory brings in.
    pub(super) async fn refuse_directory_group(
        &self,
        org: nexus_store::OrgId,
        group: uuid::Uuid,
    ) -> Result<()> {
        let Some(g) = self.store.group(org, group).await? else {
            return Ok(());
        };
        let Some(id) = g.directory else {
            return Ok(());
        };
        let name = self.directory_name(org, id).await?;
        Err(IdentityError::ManagedByDirectory(
            format!("the group {}", g.name),
            name,
        ))
    }

    /// A directory's name for messages (its id, should it be gone).
    async fn directory_name(&self, org: nexus_store::OrgId, id: uuid::Uuid) -> Result<String> {
        Ok(self
            .store
            .directory(org, id)
            .await?
            .map_or_else(|| id.to_string(), |d| d.name))
    }

    /// Checks a user's password: with the directory for an account it brought in, else
    /// against the stored hash.
    pub(super) async fn password_ok(&self, user: &User, password: &str) -> Result<bool> {
        if user.directory.is_some() {
            self.directory_password_ok(user, password).await
        } else if user.password_hash.starts_with('!') {
            // No password here (an account its removed directory brought in).
            Ok(false)
        } else {
            super::verify_password(password, &user.password_hash).await
        }
    }
}
