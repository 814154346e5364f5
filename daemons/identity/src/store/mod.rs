//! Identity's storage interface and its two backends.
//!
//! Every method on tenant data takes the [`OrgId`] first and filters on it. The only
//! cross-tenant lookups are the ones that happen before a tenant is known (a login by
//! e-mail, a session token) and the platform-level organization list.

/// The `users` columns a [`UserRow`] reads, for every query that loads accounts.
macro_rules! select_users {
    () => {
        "SELECT id, org_id, email, display_name, role, password_hash, must_change_password, \
         disabled, created_at, directory_id FROM users "
    };
}

mod postgres;
mod sql;
mod sql_credentials;
mod sql_directories;
mod sql_directory;
mod sql_passkeys;
mod sql_sso;
mod sqlite;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use nexus_store::audit::{self, Actor};
use nexus_store::{Db, OrgId};

use crate::error::Result;
use crate::model::{
    ApiToken, AuthCode, CustomRole, Grantee, Group, IdentityProvider, Logo, NewUser, OAuthClient,
    Organization, PasskeyRecord, RefreshToken, Role, Session, TotpRecord, User, UserId,
};

/// Which sessions a password change ends, in the same transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndSessions<'a> {
    None,
    /// Every session but this one (the user changing their own password stays logged in).
    AllExcept(&'a str),
    All,
}

/// Every method that changes something takes the [`Actor`] responsible and appends an audit
/// record in the same transaction as the change (after its write; see
/// [`nexus_store::audit`]).
#[async_trait]
pub trait IdentityStore:
    CredentialStore
    + DirectoryStore
    + PasskeyStore
    + FederationStore
    + SsoStore
    + Send
    + Sync
    + std::fmt::Debug
{
    /// Creates an organization (a new tenant).
    async fn create_org(&self, slug: &str, name: &str, actor: &Actor) -> Result<Organization>;
    async fn org(&self, org: OrgId) -> Result<Option<Organization>>;
    /// All organizations: for platform administration only.
    async fn list_orgs(&self) -> Result<Vec<Organization>>;
    async fn count_orgs(&self) -> Result<i64>;
    async fn org_by_slug(&self, slug: &str) -> Result<Option<Organization>>;

    /// Creates a user and writes an `identity.user.created` event in the same transaction.
    async fn create_user(&self, org: OrgId, user: &NewUser, actor: &Actor) -> Result<User>;
    async fn user(&self, org: OrgId, id: UserId) -> Result<Option<User>>;
    async fn user_by_email(&self, org: OrgId, email: &str) -> Result<Option<User>>;
    async fn list_users(&self, org: OrgId) -> Result<Vec<User>>;
    /// Users with this e-mail in any organization: a login happens before the tenant is known.
    async fn find_login(&self, email: &str) -> Result<Vec<User>>;
    /// Replaces the password hash, ends the sessions `end` names, and writes an
    /// `identity.password.changed` event. `must_change` marks an operator reset.
    async fn set_password(
        &self,
        org: OrgId,
        id: UserId,
        hash: &str,
        must_change: bool,
        end: EndSessions<'_>,
        actor: &Actor,
    ) -> Result<()>;
    /// Disables (ending every session) or re-enables a user; writes an
    /// `identity.user.disabled`/`enabled` event.
    async fn set_disabled(
        &self,
        org: OrgId,
        id: UserId,
        disabled: bool,
        actor: &Actor,
    ) -> Result<()>;

    /// Opens a session (a login); `method` (`password`, `password+totp`, …) goes into the
    /// audit record.
    async fn create_session(&self, session: &Session, method: &str, actor: &Actor) -> Result<()>;
    /// Looks a session up by its token hash (the token identifies the tenant).
    async fn session(&self, token_hash: &str) -> Result<Option<Session>>;
    /// A user's sessions that have not expired at `now`, newest first.
    async fn user_sessions(
        &self,
        org: OrgId,
        user: UserId,
        now: DateTime<Utc>,
    ) -> Result<Vec<Session>>;
    /// Ends one session (a logout).
    async fn delete_session(&self, org: OrgId, token_hash: &str, actor: &Actor) -> Result<()>;
    /// Ends every session of a user except `keep`; returns how many ended.
    async fn delete_user_sessions(
        &self,
        org: OrgId,
        user: UserId,
        keep: Option<&str>,
        actor: &Actor,
    ) -> Result<u64>;
    /// Removes expired sessions (housekeeping: not audited).
    async fn delete_expired_sessions(&self, now: DateTime<Utc>) -> Result<u64>;

    /// Records a new personal access token.
    async fn create_api_token(&self, token: &ApiToken, actor: &Actor) -> Result<()>;
    /// A user's tokens, newest first.
    async fn list_api_tokens(&self, org: OrgId, user: UserId) -> Result<Vec<ApiToken>>;
    /// Revokes one of `user`'s tokens; `NotFound` if they have no such (unrevoked) token.
    async fn revoke_api_token(
        &self,
        org: OrgId,
        user: UserId,
        id: uuid::Uuid,
        actor: &Actor,
    ) -> Result<()>;
    /// Ids of revoked tokens that have not expired yet (what verifiers must refuse).
    async fn revoked_api_tokens(&self, now: DateTime<Utc>) -> Result<Vec<uuid::Uuid>>;

    async fn create_client(&self, client: &OAuthClient, actor: &Actor) -> Result<()>;
    /// A client by its id, in any organization: the id identifies the tenant.
    async fn client(&self, id: &str) -> Result<Option<OAuthClient>>;
    async fn list_clients(&self, org: OrgId) -> Result<Vec<OAuthClient>>;
    /// Disables a client: it gets no new tokens and its tokens stop verifying.
    async fn disable_client(&self, org: OrgId, id: &str, actor: &Actor) -> Result<()>;
    /// Ids of disabled clients (what verifiers must refuse).
    async fn disabled_clients(&self) -> Result<Vec<String>>;

    /// Appends an audit record that goes with no other change (a failed login).
    async fn audit(&self, record: &audit::NewRecord) -> Result<()>;
    /// An organization's audit records after `after`, oldest first.
    async fn audit_log(&self, org: OrgId, after: i64, limit: i64) -> Result<Vec<audit::Record>>;
}

/// Second factors and password reset links. Part of every [`IdentityStore`]; a trait of
/// its own to keep each file about one thing.
#[async_trait]
pub trait CredentialStore: Send + Sync {
    /// Starts (or restarts) TOTP enrolment with a new secret. `Conflict` when a confirmed
    /// authenticator exists: it must be removed first.
    async fn begin_totp(
        &self,
        org: OrgId,
        user: UserId,
        secret: &[u8],
        actor: &Actor,
    ) -> Result<()>;
    async fn totp(&self, org: OrgId, user: UserId) -> Result<Option<TotpRecord>>;
    /// Activates the authenticator being set up, with `step` as its first used code, and
    /// replaces the user's recovery codes.
    async fn confirm_totp(
        &self,
        org: OrgId,
        user: UserId,
        step: i64,
        recovery_hashes: &[String],
        actor: &Actor,
    ) -> Result<()>;
    /// Accepts the code of `step` once: true when it is newer than every step accepted
    /// before (atomically, so two logins with one code cannot both pass).
    async fn accept_totp_step(&self, org: OrgId, user: UserId, step: i64) -> Result<bool>;
    /// Spends a recovery code: true when it existed and was unused.
    async fn use_recovery_code(
        &self,
        org: OrgId,
        user: UserId,
        code_hash: &str,
        actor: &Actor,
    ) -> Result<bool>;
    async fn replace_recovery_codes(
        &self,
        org: OrgId,
        user: UserId,
        code_hashes: &[String],
        actor: &Actor,
    ) -> Result<()>;
    async fn recovery_codes_left(&self, org: OrgId, user: UserId) -> Result<i64>;
    /// Removes the authenticator and the recovery codes; false when there was none.
    async fn remove_totp(&self, org: OrgId, user: UserId, actor: &Actor) -> Result<bool>;

    /// Records a one-use password link (by its token's hash), replacing the user's older
    /// ones; `purpose` names it in the audit log.
    async fn create_password_reset(
        &self,
        org: OrgId,
        user: UserId,
        token_hash: &str,
        expires_at: DateTime<Utc>,
        purpose: crate::model::LinkPurpose,
        actor: &Actor,
    ) -> Result<()>;
    /// The account an unused, unexpired reset link belongs to (the link names the tenant).
    async fn password_reset(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<(OrgId, UserId)>>;
    /// Spends a reset link: true when it was unused and unexpired (atomically, so a link
    /// works once).
    async fn use_password_reset(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
        actor: &Actor,
    ) -> Result<bool>;

    /// Records an authorization code; audits the user signing in to the client.
    async fn create_auth_code(&self, code: &AuthCode, actor: &Actor) -> Result<()>;
    /// Takes a code out, once (it is deleted whatever its state): `None` when unknown or
    /// already taken. The caller checks expiry.
    async fn take_auth_code(&self, code_hash: &str) -> Result<Option<AuthCode>>;
    async fn create_refresh_token(&self, token: &RefreshToken) -> Result<()>;
    /// Spends a refresh token (atomically). A token spent before and presented again
    /// revokes every token of its family.
    async fn use_refresh_token(&self, token_hash: &str, now: DateTime<Utc>) -> Result<RefreshUse>;
}

/// Built-in roles, groups, custom roles, grants and branding. Part of every
/// [`IdentityStore`]. Every write checks that each id it names belongs to `org` (in the
/// statement itself), so an id from another organization is simply `NotFound`.
#[async_trait]
pub trait DirectoryStore: Send + Sync {
    /// Changes a user's built-in role. `Forbidden` when it would leave the organization
    /// without an enabled owner.
    async fn set_user_role(
        &self,
        org: OrgId,
        user: UserId,
        role: Role,
        actor: &Actor,
    ) -> Result<()>;

    async fn create_group(&self, group: &Group, actor: &Actor) -> Result<()>;
    async fn update_group(
        &self,
        org: OrgId,
        id: uuid::Uuid,
        name: &str,
        description: &str,
        actor: &Actor,
    ) -> Result<()>;
    async fn delete_group(&self, org: OrgId, id: uuid::Uuid, actor: &Actor) -> Result<()>;
    /// The organization's groups by name, with their member counts.
    async fn list_groups(&self, org: OrgId) -> Result<Vec<Group>>;
    async fn group(&self, org: OrgId, id: uuid::Uuid) -> Result<Option<Group>>;
    /// A group's members, by e-mail.
    async fn group_members(&self, org: OrgId, id: uuid::Uuid) -> Result<Vec<User>>;
    /// Adds (`member`) or removes a user; adding twice or removing a non-member is fine.
    async fn set_group_member(
        &self,
        org: OrgId,
        group: uuid::Uuid,
        user: UserId,
        member: bool,
        actor: &Actor,
    ) -> Result<()>;
    /// The groups a user belongs to.
    async fn user_groups(&self, org: OrgId, user: UserId) -> Result<Vec<uuid::Uuid>>;

    async fn create_role(&self, role: &CustomRole, actor: &Actor) -> Result<()>;
    async fn update_role(&self, role: &CustomRole, actor: &Actor) -> Result<()>;
    async fn delete_role(&self, org: OrgId, id: uuid::Uuid, actor: &Actor) -> Result<()>;
    async fn list_roles(&self, org: OrgId) -> Result<Vec<CustomRole>>;
    async fn role(&self, org: OrgId, id: uuid::Uuid) -> Result<Option<CustomRole>>;
    /// Grants (`granted`) or takes back a custom role; idempotent like group membership.
    async fn set_role_grant(
        &self,
        org: OrgId,
        role: uuid::Uuid,
        to: Grantee,
        granted: bool,
        actor: &Actor,
    ) -> Result<()>;
    /// The custom roles granted to a group.
    async fn group_roles(&self, org: OrgId, group: uuid::Uuid) -> Result<Vec<CustomRole>>;
    /// Who holds a custom role directly (users) or through a group.
    async fn role_grants(&self, org: OrgId, role: uuid::Uuid) -> Result<Vec<Grantee>>;
    /// The custom roles a user holds, directly or through a group.
    async fn user_roles(&self, org: OrgId, user: UserId) -> Result<Vec<CustomRole>>;

    /// Renames the organization and sets its accent colour.
    async fn set_branding(&self, org: OrgId, name: &str, color: &str, actor: &Actor) -> Result<()>;
    /// Replaces (`Some`) or removes the logo.
    async fn set_logo(&self, org: OrgId, logo: Option<&Logo>, actor: &Actor) -> Result<()>;
    async fn logo(&self, org: OrgId) -> Result<Option<Logo>>;
    /// Whether the organization has a logo, without reading it.
    async fn has_logo(&self, org: OrgId) -> Result<bool>;
}

/// Outside directories (LDAP) and what their syncs bring in. Part of every
/// [`IdentityStore`].
#[async_trait]
pub trait FederationStore: Send + Sync {
    /// Records a new directory; `Conflict` when the organization has one of that name.
    async fn create_directory(&self, d: &crate::model::Directory, actor: &Actor) -> Result<()>;
    /// Saves a directory's name, settings and password; `NotFound` outside its organization.
    async fn update_directory(&self, d: &crate::model::Directory, actor: &Actor) -> Result<()>;
    async fn directories(&self, org: OrgId) -> Result<Vec<crate::model::Directory>>;
    async fn directory(
        &self,
        org: OrgId,
        id: uuid::Uuid,
    ) -> Result<Option<crate::model::Directory>>;
    /// The directory entry id an account was synced from.
    async fn external_id(&self, org: OrgId, user: UserId) -> Result<Option<String>>;
    /// Every organization's directories, for the periodic sync.
    async fn all_directories(&self) -> Result<Vec<crate::model::Directory>>;
    /// Removes a directory: the users it brought are disabled (their sessions end) and its
    /// groups deleted, in one transaction.
    async fn delete_directory(&self, org: OrgId, id: uuid::Uuid, actor: &Actor) -> Result<()>;
    /// Notes a failed sync (not audited: nothing changed).
    async fn record_sync_failure(
        &self,
        org: OrgId,
        id: uuid::Uuid,
        at: DateTime<Utc>,
        error: &str,
    ) -> Result<()>;
    /// Makes the organization's users and groups from directory `id` match `snapshot`,
    /// in one transaction, and records the report.
    async fn apply_directory_sync(
        &self,
        org: OrgId,
        id: uuid::Uuid,
        snapshot: &crate::model::DirectorySnapshot,
        at: DateTime<Utc>,
        actor: &Actor,
    ) -> Result<crate::model::SyncReport>;
}

/// Outside OpenID Connect providers and the sign-ins they link to accounts. Part of every
/// [`IdentityStore`].
#[async_trait]
pub trait SsoStore: Send + Sync {
    /// Records a new provider; `Conflict` when the organization has one of that name.
    async fn create_provider(&self, p: &IdentityProvider, actor: &Actor) -> Result<()>;
    /// Saves a provider's settings; `NotFound` outside its organization. A new issuer drops
    /// the provider's links (a subject is unique only at its issuer).
    async fn update_provider(&self, p: &IdentityProvider, actor: &Actor) -> Result<()>;
    async fn providers(&self, org: OrgId) -> Result<Vec<IdentityProvider>>;
    async fn provider(&self, org: OrgId, id: uuid::Uuid) -> Result<Option<IdentityProvider>>;
    /// A provider of any organization: a sign-in starts before a tenant is known.
    async fn provider_by_id(&self, id: uuid::Uuid) -> Result<Option<IdentityProvider>>;
    /// Every organization's providers.
    async fn all_providers(&self) -> Result<Vec<IdentityProvider>>;
    /// Removes an account's link to a provider; `NotFound` when there is none.
    async fn unlink_login(
        &self,
        provider: &IdentityProvider,
        user: UserId,
        actor: &Actor,
    ) -> Result<()>;
    /// Removes a provider and its links (accounts stay; their people sign in otherwise).
    async fn delete_provider(&self, org: OrgId, id: uuid::Uuid, actor: &Actor) -> Result<()>;
    /// The account a provider's subject signs in to, and whether the link was made by
    /// address; notes the sign-in.
    async fn linked_user(
        &self,
        provider: &IdentityProvider,
        subject: &str,
        at: DateTime<Utc>,
    ) -> Result<Option<(UserId, bool)>>;
    /// Links a subject to an existing account (`by_address`: because the provider vouched
    /// for its address); `Conflict` when the account is linked to another subject of this
    /// provider already.
    async fn link_login(
        &self,
        provider: &IdentityProvider,
        subject: &str,
        user: UserId,
        by_address: bool,
        actor: &Actor,
    ) -> Result<()>;
    /// Creates an account for a subject and links it, in one transaction (with the
    /// `identity.user.created` event); `Conflict` when the address is taken meanwhile.
    async fn create_linked_user(
        &self,
        provider: &IdentityProvider,
        subject: &str,
        user: &NewUser,
        actor: &Actor,
    ) -> Result<User>;
    /// The providers an account is linked to, by name.
    async fn user_links(&self, org: OrgId, user: UserId) -> Result<Vec<String>>;
}

/// Passkeys and the WebAuthn ceremonies that register and use them. Part of every
/// [`IdentityStore`].
#[async_trait]
pub trait PasskeyStore: Send + Sync {
    /// Records a new passkey; `Conflict` when the credential is registered already.
    async fn create_passkey(&self, passkey: &PasskeyRecord, actor: &Actor) -> Result<()>;
    async fn list_passkeys(&self, org: OrgId, user: UserId) -> Result<Vec<PasskeyRecord>>;
    /// The passkey with this credential id, in any organization (a login names no tenant).
    async fn passkey_by_credential(&self, credential_id: &str) -> Result<Option<PasskeyRecord>>;
    /// Stores the credential's new state (signature counter) after a login.
    async fn record_passkey_use(
        &self,
        id: uuid::Uuid,
        passkey: &str,
        now: DateTime<Utc>,
    ) -> Result<()>;
    /// Removes one passkey (`NotFound` when the user has no such passkey) or, with `None`,
    /// all of the user's; returns how many went.
    async fn delete_passkeys(
        &self,
        org: OrgId,
        user: UserId,
        id: Option<uuid::Uuid>,
        actor: &Actor,
    ) -> Result<u64>;
    /// Keeps the server's half of a ceremony until the browser answers.
    async fn create_ceremony(
        &self,
        id_hash: &str,
        kind: &str,
        state: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<()>;
    /// Takes a ceremony out, once: its state when it exists, is of `kind` and has not
    /// expired.
    async fn take_ceremony(
        &self,
        id_hash: &str,
        kind: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<String>>;
}

/// What presenting a refresh token found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshUse {
    Valid(RefreshToken),
    /// Spent already: replayed or stolen; its family is now revoked.
    Replayed,
    /// Unknown, expired or revoked.
    Invalid,
}

/// The identity store for whichever backend `db` is.
pub fn open(db: &Db, outbox: nexus_store::Outbox) -> std::sync::Arc<dyn IdentityStore> {
    match db {
        Db::Sqlite(pool) => {
            std::sync::Arc::new(sqlite::SqliteStore::new(pool.clone(), db.clone(), outbox))
        }
        Db::Postgres(pool) => {
            std::sync::Arc::new(postgres::PgStore::new(pool.clone(), db.clone(), outbox))
        }
    }
}

#[derive(sqlx::FromRow)]
struct OrgRow {
    id: OrgId,
    slug: String,
    name: String,
    brand_color: String,
    created_at: DateTime<Utc>,
}

impl From<OrgRow> for Organization {
    fn from(r: OrgRow) -> Self {
        Self {
            id: r.id,
            slug: r.slug,
            name: r.name,
            brand_color: r.brand_color,
            created_at: r.created_at,
        }
    }
}

#[derive(sqlx::FromRow)]
struct UserRow {
    id: UserId,
    org_id: OrgId,
    email: String,
    display_name: String,
    role: String,
    password_hash: String,
    must_change_password: bool,
    disabled: bool,
    created_at: DateTime<Utc>,
    directory_id: Option<uuid::Uuid>,
}

impl TryFrom<UserRow> for User {
    type Error = crate::error::IdentityError;
    fn try_from(r: UserRow) -> Result<Self> {
        let role = Role::parse(&r.role).ok_or_else(|| {
            nexus_store::StoreError::Corrupt(format!("user {} has unknown role `{}`", r.id, r.role))
        })?;
        Ok(Self {
            id: r.id,
            org: r.org_id,
            email: r.email,
            display_name: r.display_name,
            role,
            password_hash: r.password_hash,
            must_change_password: r.must_change_password,
            disabled: r.disabled,
            created_at: r.created_at,
            directory: r.directory_id,
        })
    }
}

#[derive(sqlx::FromRow)]
struct SessionRow {
    token_hash: String,
    org_id: OrgId,
    user_id: UserId,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    client: String,
}

impl From<SessionRow> for Session {
    fn from(r: SessionRow) -> Self {
        Self {
            token_hash: r.token_hash,
            org: r.org_id,
            user: r.user_id,
            created_at: r.created_at,
            expires_at: r.expires_at,
            client: r.client,
        }
    }
}

#[derive(sqlx::FromRow)]
struct ApiTokenRow {
    id: uuid::Uuid,
    org_id: OrgId,
    user_id: UserId,
    name: String,
    scopes: String,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    revoked_at: Option<DateTime<Utc>>,
}

impl From<ApiTokenRow> for ApiToken {
    fn from(r: ApiTokenRow) -> Self {
        Self {
            id: r.id,
            org: r.org_id,
            user: r.user_id,
            name: r.name,
            scopes: r.scopes,
            created_at: r.created_at,
            expires_at: r.expires_at,
            revoked_at: r.revoked_at,
        }
    }
}

#[derive(sqlx::FromRow)]
struct GroupRow {
    id: uuid::Uuid,
    org_id: OrgId,
    name: String,
    description: String,
    member_count: i64,
    created_at: DateTime<Utc>,
    directory_id: Option<uuid::Uuid>,
}

impl From<GroupRow> for Group {
    fn from(r: GroupRow) -> Self {
        Self {
            id: r.id,
            org: r.org_id,
            name: r.name,
            description: r.description,
            member_count: r.member_count,
            created_at: r.created_at,
            directory: r.directory_id,
        }
    }
}

#[derive(sqlx::FromRow)]
struct RoleRow {
    id: uuid::Uuid,
    org_id: OrgId,
    name: String,
    description: String,
    permissions: String,
    created_at: DateTime<Utc>,
}

impl From<RoleRow> for CustomRole {
    fn from(r: RoleRow) -> Self {
        Self {
            id: r.id,
            org: r.org_id,
            name: r.name,
            description: r.description,
            permissions: crate::authz::Permissions::parse_stored(&r.permissions),
            created_at: r.created_at,
        }
    }
}

#[derive(sqlx::FromRow)]
struct LogoRow {
    content_type: String,
    data: Vec<u8>,
    updated_at: DateTime<Utc>,
}

impl From<LogoRow> for Logo {
    fn from(r: LogoRow) -> Self {
        Self {
            content_type: r.content_type,
            data: r.data,
            updated_at: r.updated_at,
        }
    }
}

#[derive(sqlx::FromRow)]
struct PasskeyRow {
    id: uuid::Uuid,
    org_id: OrgId,
    user_id: UserId,
    name: String,
    credential_id: String,
    passkey: String,
    created_at: DateTime<Utc>,
    last_used_at: Option<DateTime<Utc>>,
}

impl From<PasskeyRow> for PasskeyRecord {
    fn from(r: PasskeyRow) -> Self {
        Self {
            id: r.id,
            org: r.org_id,
            user: r.user_id,
            name: r.name,
            credential_id: r.credential_id,
            passkey: r.passkey,
            created_at: r.created_at,
            last_used_at: r.last_used_at,
        }
    }
}

#[derive(sqlx::FromRow)]
struct ClientRow {
    id: String,
    org_id: OrgId,
    name: String,
    secret_hash: String,
    scopes: String,
    created_at: DateTime<Utc>,
    disabled: bool,
    redirect_uris: String,
}

impl From<ClientRow> for OAuthClient {
    fn from(r: ClientRow) -> Self {
        Self {
            id: r.id,
            org: r.org_id,
            name: r.name,
            secret_hash: r.secret_hash,
            scopes: r.scopes,
            created_at: r.created_at,
            disabled: r.disabled,
            redirect_uris: r.redirect_uris,
        }
    }
}

#[derive(sqlx::FromRow)]
struct TotpRow {
    user_id: UserId,
    org_id: OrgId,
    secret: Vec<u8>,
    created_at: DateTime<Utc>,
    confirmed_at: Option<DateTime<Utc>>,
    last_step: i64,
}

impl From<TotpRow> for TotpRecord {
    fn from(r: TotpRow) -> Self {
        Self {
            org: r.org_id,
            user: r.user_id,
            secret: r.secret,
            created_at: r.created_at,
            confirmed_at: r.confirmed_at,
            last_step: r.last_step,
        }
    }
}

#[derive(sqlx::FromRow)]
struct AuthCodeRow {
    code_hash: String,
    client_id: String,
    org_id: OrgId,
    user_id: UserId,
    redirect_uri: String,
    scope: String,
    nonce: Option<String>,
    code_challenge: Option<String>,
    auth_time: DateTime<Utc>,
    expires_at: DateTime<Utc>,
}

impl From<AuthCodeRow> for AuthCode {
    fn from(r: AuthCodeRow) -> Self {
        Self {
            code_hash: r.code_hash,
            client_id: r.client_id,
            org: r.org_id,
            user: r.user_id,
            redirect_uri: r.redirect_uri,
            scope: r.scope,
            nonce: r.nonce,
            code_challenge: r.code_challenge,
            auth_time: r.auth_time,
            expires_at: r.expires_at,
        }
    }
}

#[derive(sqlx::FromRow)]
struct RefreshRow {
    token_hash: String,
    family: uuid::Uuid,
    client_id: String,
    org_id: OrgId,
    user_id: UserId,
    scope: String,
    auth_time: DateTime<Utc>,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
}

impl From<RefreshRow> for RefreshToken {
    fn from(r: RefreshRow) -> Self {
        Self {
            token_hash: r.token_hash,
            family: r.family,
            client_id: r.client_id,
            org: r.org_id,
            user: r.user_id,
            scope: r.scope,
            auth_time: r.auth_time,
            created_at: r.created_at,
            expires_at: r.expires_at,
        }
    }
}

/// What disabling an account revokes besides its sessions: its API tokens and the refresh
/// tokens of apps it signed in to. Binds: now, organization, user.
const REVOKE_USER_TOKENS: [&str; 2] = [
    "UPDATE api_tokens SET revoked_at = $1 WHERE org_id = $2 AND user_id = $3 AND revoked_at IS NULL",
    "UPDATE oauth_refresh_tokens SET revoked_at = $1 WHERE org_id = $2 AND user_id = $3 AND revoked_at IS NULL",
];

#[derive(sqlx::FromRow)]
struct DirectoryRow {
    id: uuid::Uuid,
    org_id: OrgId,
    name: String,
    settings: String,
    bind_password: String,
    created_at: DateTime<Utc>,
    last_sync_at: Option<DateTime<Utc>>,
    last_sync: Option<String>,
    last_error: Option<String>,
}

impl TryFrom<DirectoryRow> for crate::model::Directory {
    type Error = crate::error::IdentityError;
    fn try_from(r: DirectoryRow) -> Result<Self> {
        let corrupt = |what: &str, e: serde_json::Error| {
            nexus_store::StoreError::Corrupt(format!(
                "directory {} has unreadable {what}: {e}",
                r.id
            ))
        };
        let settings = serde_json::from_str(&r.settings).map_err(|e| corrupt("settings", e))?;
        let last_sync = r
            .last_sync
            .as_deref()
            .map(serde_json::from_str)
            .transpose()
            .map_err(|e| corrupt("sync report", e))?;
        Ok(Self {
            id: r.id,
            org: r.org_id,
            name: r.name,
            settings,
            bind_password: r.bind_password,
            created_at: r.created_at,
            last_sync_at: r.last_sync_at,
            last_sync,
            last_error: r.last_error,
        })
    }
}

fn conflict_or(e: sqlx::Error, what: &str) -> crate::error::IdentityError {
    match e.as_database_error() {
        Some(db) if db.is_unique_violation() => {
            crate::error::IdentityError::Conflict(what.to_owned())
        }
        _ => e.into(),
    }
}

#[derive(sqlx::FromRow)]
struct ProviderRow {
    id: uuid::Uuid,
    org_id: OrgId,
    name: String,
    issuer: String,
    client_id: String,
    client_secret: String,
    create_users: bool,
    trust_email: bool,
    created_at: DateTime<Utc>,
}

impl From<ProviderRow> for IdentityProvider {
    fn from(r: ProviderRow) -> Self {
        Self {
            id: r.id,
            org: r.org_id,
            name: r.name,
            issuer: r.issuer,
            client_id: r.client_id,
            client_secret: r.client_secret,
            create_users: r.create_users,
            trust_email: r.trust_email,
            created_at: r.created_at,
        }
    }
}
