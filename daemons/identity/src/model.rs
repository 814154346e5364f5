//! Identity's domain types.

use chrono::{DateTime, Utc};
use nexus_store::OrgId;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, sqlx::Type,
)]
#[sqlx(transparent)]
pub struct UserId(pub Uuid);

impl UserId {
    pub fn generate() -> Self {
        Self(Uuid::now_v7())
    }
}

impl std::fmt::Display for UserId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// Built-in roles: every user has exactly one. Custom roles ([`CustomRole`]) add
/// permissions on top.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Owner,
    Admin,
    Member,
    Guest,
}

impl Role {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Owner => "owner",
            Self::Admin => "admin",
            Self::Member => "member",
            Self::Guest => "guest",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "owner" => Some(Self::Owner),
            "admin" => Some(Self::Admin),
            "member" => Some(Self::Member),
            "guest" => Some(Self::Guest),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organization {
    pub id: OrgId,
    pub slug: String,
    pub name: String,
    /// Accent colour `#rrggbb` for the web shell; empty for the default.
    pub brand_color: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub org: OrgId,
    pub email: String,
    pub display_name: String,
    pub role: Role,
    pub password_hash: String,
    pub must_change_password: bool,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
    /// The outside directory (LDAP) this account comes from: it signs in with that
    /// directory's password, and sync keeps its name and e-mail.
    pub directory: Option<uuid::Uuid>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    pub email: String,
    pub display_name: String,
    pub role: Role,
    pub password_hash: String,
    pub must_change_password: bool,
}

/// What a one-use link for an account is for; a link of one kind never works as the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkPurpose {
    /// A password reset requested by e-mail: a new password, then a normal login.
    Reset,
    /// First-login setup printed by `nexusctl init`: a password, and signed in at once.
    Setup,
}

impl LinkPurpose {
    /// As stored in `password_resets.purpose`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Reset => "reset",
            Self::Setup => "setup",
        }
    }

    pub fn audit_action(self) -> &'static str {
        match self {
            Self::Reset => "password.reset_requested",
            Self::Setup => "account.setup_link_created",
        }
    }
}

/// A login session. Only the SHA-256 of its token is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub token_hash: String,
    pub org: OrgId,
    pub user: UserId,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub client: String,
}

/// A personal access token's record; the token itself is only shown once, at creation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    pub id: uuid::Uuid,
    pub org: OrgId,
    pub user: UserId,
    pub name: String,
    /// Space-separated.
    pub scopes: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// An OAuth 2.0 client of an organization. Only an HMAC of its secret is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthClient {
    pub id: String,
    pub org: OrgId,
    pub name: String,
    pub secret_hash: String,
    /// Space-separated: the most a token of this client may carry.
    pub scopes: String,
    pub created_at: DateTime<Utc>,
    pub disabled: bool,
    /// Space-separated absolute URLs the authorization endpoint may send users back to
    /// (OpenID Connect); empty for a client-credentials-only client.
    pub redirect_uris: String,
}

impl OAuthClient {
    pub fn redirect_uris(&self) -> impl Iterator<Item = &str> {
        self.redirect_uris.split_whitespace()
    }
}

/// An authorization code, between the login and the client's token request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthCode {
    pub code_hash: String,
    pub client_id: String,
    pub org: OrgId,
    pub user: UserId,
    pub redirect_uri: String,
    pub scope: String,
    pub nonce: Option<String>,
    /// PKCE `S256` challenge (base64url SHA-256 of the verifier).
    pub code_challenge: Option<String>,
    /// When the user logged in (the session's start), for the ID token's `auth_time`.
    pub auth_time: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// A refresh token's record; the token itself goes to the client only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshToken {
    pub token_hash: String,
    pub family: uuid::Uuid,
    pub client_id: String,
    pub org: OrgId,
    pub user: UserId,
    pub scope: String,
    pub auth_time: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// A user's TOTP authenticator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TotpRecord {
    pub org: OrgId,
    pub user: UserId,
    pub secret: Vec<u8>,
    pub created_at: DateTime<Utc>,
    /// `None` while enrolment waits for the first correct code.
    pub confirmed_at: Option<DateTime<Utc>>,
    /// The newest time step accepted (codes are accepted once).
    pub last_step: i64,
}

/// A group of users in an organization; roles granted to it reach every member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub id: uuid::Uuid,
    pub org: OrgId,
    pub name: String,
    pub description: String,
    pub member_count: i64,
    pub created_at: DateTime<Utc>,
    /// The outside directory this group is synced from; such a group is changed there only.
    pub directory: Option<uuid::Uuid>,
}

/// A role an organization defines: a named set of permissions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomRole {
    pub id: uuid::Uuid,
    pub org: OrgId,
    pub name: String,
    pub description: String,
    pub permissions: crate::authz::Permissions,
    pub created_at: DateTime<Utc>,
}

/// Who a custom role is granted to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grantee {
    User(UserId),
    Group(uuid::Uuid),
}

/// An organization's logo, as uploaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logo {
    pub content_type: String,
    pub data: Vec<u8>,
    pub updated_at: DateTime<Utc>,
}

/// A registered passkey. `passkey` is webauthn-rs's credential record as JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyRecord {
    pub id: uuid::Uuid,
    pub org: OrgId,
    pub user: UserId,
    pub name: String,
    /// The credential id, base64url without padding.
    pub credential_id: String,
    pub passkey: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

/// How to reach and read an outside LDAP directory (OpenLDAP, Active Directory).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DirectorySettings {
    /// `ldap://host:389` or `ldaps://host:636`.
    pub url: String,
    /// The service account that reads users and groups.
    pub bind_dn: String,
    pub user_base: String,
    pub user_filter: String,
    pub email_attribute: String,
    pub name_attribute: String,
    /// Empty: groups are not synced.
    pub group_base: String,
    pub group_filter: String,
    pub member_attribute: String,
    pub starttls: bool,
}

/// An outside directory an organization syncs its users and groups from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directory {
    pub id: uuid::Uuid,
    pub org: OrgId,
    pub name: String,
    pub settings: DirectorySettings,
    /// The service account's password: needed in clear to bind; never shown.
    pub bind_password: String,
    pub created_at: DateTime<Utc>,
    pub last_sync_at: Option<DateTime<Utc>>,
    pub last_sync: Option<SyncReport>,
    pub last_error: Option<String>,
}

/// What one sync changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SyncReport {
    pub users_created: u32,
    pub users_updated: u32,
    pub users_disabled: u32,
    pub groups_created: u32,
    pub groups_updated: u32,
    pub groups_deleted: u32,
    /// Entries left out, and why (no e-mail, an address a local account already has, …).
    pub skipped: Vec<SkippedEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SkippedEntry {
    pub entry: String,
    pub reason: String,
}

/// A user entry as the directory has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalUser {
    /// entryUUID (objectGUID on Active Directory): survives renames and moves.
    pub external_id: String,
    pub dn: String,
    pub email: String,
    pub name: String,
}

/// A group entry as the directory has it; members are named by DN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalGroup {
    pub external_id: String,
    pub name: String,
    pub member_dns: Vec<String>,
}

/// Everything a sync reads from the directory, before anything is written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DirectorySnapshot {
    pub users: Vec<ExternalUser>,
    pub groups: Vec<ExternalGroup>,
    /// Ids of user entries the directory has but a sync cannot take (no address, a
    /// duplicate): their accounts, if any, are left as they are, not disabled.
    pub unusable: Vec<String>,
}

/// An outside OpenID Connect provider an organization's people sign in through ("Sign in
/// with …" on the login page).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityProvider {
    pub id: uuid::Uuid,
    pub org: OrgId,
    /// What the login page's button says: "Sign in with {name}".
    pub name: String,
    /// The provider's issuer identifier, exactly as its discovery document states it.
    pub issuer: String,
    pub client_id: String,
    /// Needed in clear at the token endpoint; never shown.
    pub client_secret: String,
    /// Whether someone the provider vouches for, with no account here yet, gets one (as a
    /// member) at their first sign-in.
    pub create_users: bool,
    /// Whether the provider's e-mail addresses count as verified without an
    /// `email_verified` claim (Microsoft Entra ID sends none).
    pub trust_email: bool,
    pub created_at: DateTime<Utc>,
}
