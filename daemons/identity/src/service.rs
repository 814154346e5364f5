//! Identity's logic, independent of HTTP: provisioning, login, sessions, passwords.

use std::sync::Arc;
use std::time::Duration;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine;
use chrono::Utc;
use nexus_store::OrgId;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::authz::Authenticated;
use crate::error::{IdentityError, Result};
use crate::model::{ApiToken, OAuthClient};
use crate::model::{NewUser, Organization, Role, Session, User};
use crate::store::{EndSessions, IdentityStore};
use crate::throttle::Throttle;
use crate::tokens::{Claims, Scopes, TokenAuthority, TokenError, TokenPrincipal};
pub use nexus_store::audit::Actor;

pub mod directory;
pub mod federation;
pub mod mfa;
pub mod oidc;
pub mod passkeys;
pub mod recovery;
pub mod sso;

/// Shortest password accepted when a user chooses one.
pub const MIN_PASSWORD_LEN: usize = 12;

#[derive(Debug, Clone)]
pub struct SessionPolicy {
    pub lifetime: chrono::TimeDelta,
}

#[derive(Debug, Clone)]
pub struct IdentityService {
    store: Arc<dyn IdentityStore>,
    throttle: Arc<Throttle>,
    policy: SessionPolicy,
    /// A real hash to verify against when an e-mail is unknown, so a wrong e-mail costs the
    /// same time as a wrong password and does not reveal which accounts exist. Made on first
    /// use, to keep start-up fast.
    dummy_hash: Arc<tokio::sync::OnceCell<String>>,
    /// Key of the HMAC under which session tokens are stored (`secrets/session.key`).
    token_key: Arc<Vec<u8>>,
    /// Signs and verifies API tokens.
    tokens: TokenAuthority,
    /// E-mail for reset links; `None` when the instance sends no mail.
    mail: Option<recovery::MailSettings>,
    /// Reset mails per account and per address.
    reset_throttle: Arc<Throttle>,
    /// The WebAuthn relying party, or why passkeys are off.
    passkeys: std::result::Result<Arc<webauthn_rs::Webauthn>, String>,
    /// Calls to outside OpenID providers, and their cached metadata.
    sso_http: sso::SsoHttp,
    /// The instance's first organization, once known (see [`Self::home_org`]).
    home_org: Arc<tokio::sync::OnceCell<OrgId>>,
}

/// What a correct password leads to.
#[derive(Debug, Clone)]
pub enum LoginOutcome {
    Session(Box<NewLogin>),
    /// The account has a second factor: no session until a code completes the login.
    SecondFactor(mfa::MfaChallenge),
}

/// What provisioning created. The setup link's token is shown once; only its hash is kept.
#[derive(Debug, Clone)]
pub struct Provisioned {
    pub org: Organization,
    pub admin: User,
    /// Goes into the first-login link, `<public URL>setup#token=…`.
    pub setup_token: String,
}

/// A session as its owner sees it in the list of their sessions.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SessionInfo {
    /// Names the session without revealing its token or the token's stored hash.
    pub id: String,
    pub created_at: chrono::DateTime<Utc>,
    pub expires_at: chrono::DateTime<Utc>,
    /// The address the login came from.
    pub client: String,
    /// The session this request was made with.
    pub current: bool,
}

/// A session's public id: 64 bits of a digest of its stored (already keyed) token hash.
fn session_id(session: &Session) -> String {
    let digest = Sha256::digest(format!("nexus-session-id:{}", session.token_hash).as_bytes());
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// A new login: the token goes into the cookie, only its hash into the database.
#[derive(Debug, Clone)]
pub struct NewLogin {
    pub token: String,
    pub user: User,
    pub org: Organization,
    pub expires_at: chrono::DateTime<Utc>,
}

impl IdentityService {
    pub fn new(
        store: Arc<dyn IdentityStore>,
        throttle: Throttle,
        policy: SessionPolicy,
        token_key: Vec<u8>,
        tokens: TokenAuthority,
    ) -> Self {
        Self {
            store,
            throttle: Arc::new(throttle),
            policy,
            dummy_hash: Arc::new(tokio::sync::OnceCell::new()),
            token_key: Arc::new(token_key),
            tokens,
            mail: None,
            reset_throttle: Arc::new(recovery::reset_throttle()),
            passkeys: Err("passkeys are not set up on this instance".into()),
            sso_http: sso::SsoHttp::default(),
            home_org: Arc::new(tokio::sync::OnceCell::new()),
        }
    }

    pub fn tokens(&self) -> &TokenAuthority {
        &self.tokens
    }

    pub fn store(&self) -> &Arc<dyn IdentityStore> {
        &self.store
    }

    /// First-run setup: the first organization and its owner, who sets a password through
    /// the returned one-use link (valid [`recovery::SETUP_LINK_DAYS`] days).
    pub async fn provision(
        &self,
        org_name: &str,
        admin_email: &str,
        actor: &Actor,
    ) -> Result<Provisioned> {
        if self.store.count_orgs().await? > 0 {
            return Err(IdentityError::AlreadyProvisioned);
        }
        let email = normalize_email(admin_email)?;
        let name = org_name.trim();
        if name.is_empty() || name.len() > 200 {
            return Err(IdentityError::Invalid(
                "the organization name must be 1 to 200 characters".into(),
            ));
        }
        let org = self.store.create_org(&slugify(name), name, actor).await?;
        // A password nobody knows, so the account cannot be used before the link is.
        let hash = hash_password(&generate_token()).await?;
        let admin = self
            .store
            .create_user(
                org.id,
                &NewUser {
                    email,
                    display_name: "Administrator".to_owned(),
                    role: Role::Owner,
                    password_hash: hash,
                    must_change_password: true,
                },
                actor,
            )
            .await?;
        let setup_token = self.issue_setup_link(&admin, actor).await?;
        Ok(Provisioned {
            org,
            admin,
            setup_token,
        })
    }

    /// Checks a password login. Opens a session, or — when the account has a second
    /// factor — returns the challenge to complete with [`Self::complete_login`].
    pub async fn login(&self, email: &str, password: &str, client: &str) -> Result<LoginOutcome> {
        let email = normalize_email(email).map_err(|_| IdentityError::InvalidCredentials)?;
        self.check_throttle(&email, client)?;
        let candidates = self.store.find_login(&email).await?;
        let mut matched = None;
        if candidates.is_empty() {
            let dummy = self
                .dummy_hash
                .get_or_try_init(|| hash_password("not a real password, only for timing"))
                .await?;
            let _ = verify_password(password, dummy).await;
        }
        // One account's directory not answering must not lock out an account of the same
        // address elsewhere: its error counts only if no account matched.
        let mut unavailable = None;
        let only_one = candidates.len() == 1;
        for user in &candidates {
            if user.directory.is_some() && !only_one {
                // A password goes to an outside directory only when that directory's account
                // is the only one with the address: otherwise another organization's
                // directory would receive, and could answer for, this person's password.
                continue;
            }
            match self.password_ok(user, password).await {
                Ok(true) => {
                    matched = Some(user.clone());
                    break;
                }
                Ok(false) => {}
                Err(e) => unavailable = Some(e),
            }
        }
        if let (None, Some(e)) = (&matched, unavailable) {
            return Err(e);
        }
        let Some(user) = matched else {
            self.throttle.record_failure(&email, client);
            self.audit_failed_login(&email, client, "wrong e-mail or password", &candidates)
                .await?;
            return Err(IdentityError::InvalidCredentials);
        };
        if user.disabled {
            self.audit_failed_login(&email, client, "account disabled", &candidates)
                .await?;
            return Err(IdentityError::Disabled);
        }
        if self.has_second_factor(&user).await? {
            // The failure count stays: wrong codes add to it, so a known password does not
            // buy unlimited guesses at the code.
            return Ok(LoginOutcome::SecondFactor(self.challenge(&user)));
        }
        self.throttle.record_success(&email);
        self.open_session(user, client, "password")
            .await
            .map(|l| LoginOutcome::Session(Box::new(l)))
    }

    fn check_throttle(&self, email: &str, client: &str) -> Result<()> {
        match self.throttle.check(email, client) {
            Some(wait) => Err(IdentityError::Throttled {
                retry_after_secs: wait.as_secs().max(1),
            }),
            None => Ok(()),
        }
    }

    /// Opens a session for a user whose login checks all passed; `method` says how they
    /// proved who they are (recorded in the audit log).
    async fn open_session(&self, user: User, client: &str, method: &str) -> Result<NewLogin> {
        let org = self
            .store
            .org(user.org)
            .await?
            .ok_or_else(|| IdentityError::NotFound(format!("organization {}", user.org)))?;
        let token = generate_token();
        let now = Utc::now();
        let session = Session {
            token_hash: self.hash_token(&token),
            org: user.org,
            user: user.id,
            created_at: now,
            expires_at: now + self.policy.lifetime,
            client: client.chars().take(200).collect(),
        };
        self.store
            .create_session(&session, method, &user_actor(&user, client))
            .await?;
        tracing::info!(user = %user.id, org = %org.id, method, "login");
        Ok(NewLogin {
            token,
            user,
            org,
            expires_at: session.expires_at,
        })
    }

    /// The user and organization behind a session token, if it is valid and not expired.
    pub async fn authenticate(&self, token: &str) -> Result<Option<(Session, User, Organization)>> {
        if token.is_empty() || token.len() > 128 {
            return Ok(None);
        }
        let Some(session) = self.store.session(&self.hash_token(token)).await? else {
            return Ok(None);
        };
        if session.expires_at < Utc::now() {
            // The hourly sweeper removes it.
            return Ok(None);
        }
        let Some(user) = self.store.user(session.org, session.user).await? else {
            return Ok(None);
        };
        if user.disabled {
            return Ok(None);
        }
        let Some(org) = self.store.org(session.org).await? else {
            return Ok(None);
        };
        Ok(Some((session, user, org)))
    }

    pub async fn logout(&self, session: &Session, actor: &Actor) -> Result<()> {
        self.store
            .delete_session(session.org, &session.token_hash, actor)
            .await
    }

    /// Ends every session of `user` except `keep` ("log out everywhere else").
    pub async fn end_sessions(
        &self,
        user: &User,
        keep: Option<&Session>,
        actor: &Actor,
    ) -> Result<u64> {
        self.store
            .delete_user_sessions(
                user.org,
                user.id,
                keep.map(|s| s.token_hash.as_str()),
                actor,
            )
            .await
    }

    /// The caller's own sessions that have not expired, newest first.
    pub async fn sessions(&self, auth: &Authenticated) -> Result<Vec<SessionInfo>> {
        let current = session_id(&auth.session);
        Ok(self
            .store
            .user_sessions(auth.user.org, auth.user.id, Utc::now())
            .await?
            .into_iter()
            .map(|s| {
                let id = session_id(&s);
                SessionInfo {
                    current: id == current,
                    id,
                    created_at: s.created_at,
                    expires_at: s.expires_at,
                    client: s.client,
                }
            })
            .collect())
    }

    /// Ends one of the caller's own sessions, named by its [`SessionInfo::id`].
    pub async fn end_session(&self, auth: &Authenticated, id: &str, actor: &Actor) -> Result<()> {
        let sessions = self
            .store
            .user_sessions(auth.user.org, auth.user.id, Utc::now())
            .await?;
        let Some(session) = sessions.iter().find(|s| session_id(s) == id) else {
            return Err(IdentityError::NotFound(format!("session {id}")));
        };
        self.store
            .delete_session(session.org, &session.token_hash, actor)
            .await
    }

    /// Records a refused login; `candidates` are the accounts with this e-mail, as the
    /// login read them. The organization is known when exactly one account has the e-mail,
    /// so its administrators see attempts on their users.
    async fn audit_failed_login(
        &self,
        email: &str,
        client: &str,
        reason: &str,
        candidates: &[User],
    ) -> Result<()> {
        let (org, target) = match candidates {
            [only] => (Some(only.org), format!("user:{}", only.id)),
            _ => (None, format!("login:{email}")),
        };
        let record = nexus_store::audit::NewRecord::new(
            org,
            &Actor::new(email, client),
            "session.login_failed",
            target,
            serde_json::json!({ "reason": reason }),
        );
        self.store.audit(&record).await
    }

    /// An organization's audit records after `after`, oldest first; at most 1000.
    pub async fn audit_log(
        &self,
        org: OrgId,
        after: i64,
        limit: i64,
    ) -> Result<Vec<nexus_store::audit::Record>> {
        self.store
            .audit_log(org, after.max(0), limit.clamp(1, 1000))
            .await
    }

    /// Changes a user's password after checking the current one; ends their other sessions.
    pub async fn change_password(
        &self,
        session: &Session,
        user: &User,
        current: &str,
        new: &str,
        actor: &Actor,
    ) -> Result<()> {
        self.refuse_directory_password(user).await?;
        if !verify_password(current, &user.password_hash).await? {
            return Err(IdentityError::InvalidCredentials);
        }
        check_strength(new, &user.email)?;
        if new == current {
            return Err(IdentityError::WeakPassword(
                "choose a password different from the current one".into(),
            ));
        }
        let hash = hash_password(new).await?;
        self.store
            .set_password(
                user.org,
                user.id,
                &hash,
                false,
                EndSessions::AllExcept(&session.token_hash),
                actor,
            )
            .await
    }

    /// The user with this e-mail in `org`, or `NotFound` naming them.
    async fn user_in_org(&self, org: OrgId, email: &str) -> Result<User> {
        let email = normalize_email(email)?;
        self.store
            .user_by_email(org, &email)
            .await?
            .ok_or_else(|| IdentityError::NotFound(format!("user {email}")))
    }

    /// Sets a new one-time password for a user (operator reset); returns it.
    pub async fn reset_password(&self, org: OrgId, email: &str, actor: &Actor) -> Result<String> {
        let user = self.user_in_org(org, email).await?;
        self.refuse_directory_password(&user).await?;
        let otp = generate_one_time_password();
        let hash = hash_password(&otp).await?;
        self.store
            .set_password(org, user.id, &hash, true, EndSessions::All, actor)
            .await?;
        Ok(otp)
    }

    /// Creates an organization (operator command).
    pub async fn create_org(
        &self,
        name: &str,
        slug: Option<&str>,
        actor: &Actor,
    ) -> Result<Organization> {
        let name = name.trim();
        if name.is_empty() || name.len() > 200 {
            return Err(IdentityError::Invalid(
                "the organization name must be 1 to 200 characters".into(),
            ));
        }
        let slug = match slug {
            Some(s) => {
                let valid = !s.is_empty()
                    && s.len() <= 63
                    && s.chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                    && !s.starts_with('-')
                    && !s.ends_with('-');
                if !valid {
                    return Err(IdentityError::Invalid(format!(
                        "`{s}` is not a valid slug: use 1 to 63 lowercase letters, digits and inner '-'"
                    )));
                }
                s.to_owned()
            }
            None => slugify(name),
        };
        self.store.create_org(&slug, name, actor).await
    }

    /// The organization an operator command means: the one named by `slug`, or the only one.
    pub async fn resolve_org(&self, slug: Option<&str>) -> Result<Organization> {
        if let Some(s) = slug {
            return self.store.org_by_slug(s).await?.ok_or_else(|| {
                IdentityError::NotFound(format!("organization `{s}` (see `orgs list`)"))
            });
        }
        let mut orgs = self.store.list_orgs().await?;
        match orgs.len() {
            0 => Err(IdentityError::NotFound(
                "any organization: provision the instance first".into(),
            )),
            1 => Ok(orgs.remove(0)),
            _ => Err(IdentityError::Invalid(
                "there are several organizations: say which with --org SLUG (see `orgs list`)"
                    .into(),
            )),
        }
    }

    /// Adds a user with a one-time password (operator command); returns both.
    pub async fn add_user(
        &self,
        org: OrgId,
        email: &str,
        display_name: Option<&str>,
        role: Role,
        actor: &Actor,
    ) -> Result<(User, String)> {
        let email = normalize_email(email)?;
        let display_name = display_name
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map_or_else(
                || email.split('@').next().unwrap_or_default().to_owned(),
                str::to_owned,
            );
        if display_name.len() > 200 {
            return Err(IdentityError::Invalid(
                "the display name must be at most 200 characters".into(),
            ));
        }
        let otp = generate_one_time_password();
        let hash = hash_password(&otp).await?;
        let user = self
            .store
            .create_user(
                org,
                &NewUser {
                    email,
                    display_name,
                    role,
                    password_hash: hash,
                    must_change_password: true,
                },
                actor,
            )
            .await?;
        Ok((user, otp))
    }

    /// Disables (and logs out everywhere) or re-enables a user (operator command).
    pub async fn set_user_disabled(
        &self,
        org: OrgId,
        email: &str,
        disabled: bool,
        actor: &Actor,
    ) -> Result<User> {
        let user = self.user_in_org(org, email).await?;
        self.store
            .set_disabled(org, user.id, disabled, actor)
            .await?;
        Ok(User { disabled, ..user })
    }

    /// Issues a personal access token for `user`; the token is returned once, never stored.
    pub async fn create_api_token(
        &self,
        user: &User,
        name: &str,
        scopes: &[String],
        days: Option<u32>,
        actor: &Actor,
    ) -> Result<(ApiToken, String)> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(IdentityError::Invalid(
                "give the token a name of 1 to 100 characters (what it is for)".into(),
            ));
        }
        let scopes =
            Scopes::parse(scopes.iter().map(String::as_str)).map_err(IdentityError::Invalid)?;
        check_scopes_held(&scopes, self.permissions(user).await?)?;
        let days = days.unwrap_or(90);
        if !(1..=MAX_TOKEN_DAYS).contains(&days) {
            return Err(IdentityError::Invalid(format!(
                "a token lives 1 to {MAX_TOKEN_DAYS} days"
            )));
        }
        let now = Utc::now();
        let record = ApiToken {
            id: uuid::Uuid::now_v7(),
            org: user.org,
            user: user.id,
            name: name.to_owned(),
            scopes: scopes.to_string_list(),
            created_at: now,
            expires_at: now + chrono::TimeDelta::days(i64::from(days)),
            revoked_at: None,
        };
        let token = self.sign_access_token(
            format!("user:{}", user.id),
            user.org,
            &record.scopes,
            now.timestamp(),
            record.expires_at.timestamp(),
            record.id,
        )?;
        self.store.create_api_token(&record, actor).await?;
        Ok((record, token))
    }

    pub async fn list_api_tokens(&self, user: &User) -> Result<Vec<ApiToken>> {
        self.store.list_api_tokens(user.org, user.id).await
    }

    /// Revokes one of `user`'s tokens: refused here at once, in other daemons within
    /// [`REVOCATION_REFRESH`].
    pub async fn revoke_api_token(&self, user: &User, id: uuid::Uuid, actor: &Actor) -> Result<()> {
        self.store
            .revoke_api_token(user.org, user.id, id, actor)
            .await?;
        self.tokens.add_revoked([id], []);
        Ok(())
    }

    /// Registers an OAuth client (client credentials; with redirect URIs also an OpenID
    /// Connect relying party); returns its secret once.
    /// `held` is what the registering administrator holds: a client cannot carry a
    /// permission they lack.
    pub async fn create_client(
        &self,
        org: OrgId,
        held: crate::authz::Permissions,
        name: &str,
        scopes: &[String],
        redirect_uris: &[String],
        actor: &Actor,
    ) -> Result<(OAuthClient, String)> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(IdentityError::Invalid(
                "give the client a name of 1 to 100 characters".into(),
            ));
        }
        let scopes =
            Scopes::parse(scopes.iter().map(String::as_str)).map_err(IdentityError::Invalid)?;
        check_scopes_held(&scopes, held)?;
        let redirect_uris = oidc::check_redirect_uris(redirect_uris)?;
        if !redirect_uris.is_empty() && !scopes.contains("openid") {
            return Err(IdentityError::Invalid(
                "a client with redirect URIs signs users in: give it the scope `openid`".into(),
            ));
        }
        let secret = generate_token();
        let client = OAuthClient {
            id: format!("nxc_{}", uuid::Uuid::new_v4().simple()),
            org,
            name: name.to_owned(),
            secret_hash: self.hash_token(&secret),
            scopes: scopes.to_string_list(),
            created_at: Utc::now(),
            disabled: false,
            redirect_uris: redirect_uris.join(" "),
        };
        self.store.create_client(&client, actor).await?;
        Ok((client, secret))
    }

    pub async fn disable_client(&self, org: OrgId, id: &str, actor: &Actor) -> Result<()> {
        self.store.disable_client(org, id, actor).await?;
        self.tokens.add_revoked([], [id.to_owned()]);
        Ok(())
    }

    /// The OAuth 2.0 client-credentials grant (RFC 6749 §4.4): checks the client's secret
    /// and issues a one-hour token with the requested scopes (all of the client's when
    /// none are named). Failures are throttled per client id and per address.
    pub async fn client_credentials(
        &self,
        client_id: &str,
        secret: &str,
        scope: Option<&str>,
        from: &str,
    ) -> Result<(String, i64, Scopes)> {
        let client = self.authenticate_client(client_id, secret, from).await?;
        let allowed = Scopes::parse([client.scopes.as_str()]).map_err(IdentityError::Invalid)?;
        let scopes = match scope.map(str::trim).filter(|s| !s.is_empty()) {
            None => allowed,
            Some(s) => {
                let asked = Scopes::parse([s]).map_err(IdentityError::Invalid)?;
                if !asked.within(&allowed) {
                    return Err(IdentityError::Invalid(format!(
                        "this client may only ask for: {}",
                        allowed.to_string_list()
                    )));
                }
                asked
            }
        };
        let now = Utc::now().timestamp();
        let token = self.sign_access_token(
            format!("client:{}", client.id),
            client.org,
            &scopes.to_string_list(),
            now,
            now + CLIENT_TOKEN_SECS,
            uuid::Uuid::now_v7(),
        )?;
        Ok((token, CLIENT_TOKEN_SECS, scopes))
    }

    /// Signs an API access token (`sub` is `user:<id>` or `client:<id>`; the authority sets
    /// issuer and audience).
    pub(crate) fn sign_access_token(
        &self,
        sub: String,
        org: OrgId,
        scope: &str,
        iat: i64,
        exp: i64,
        jti: uuid::Uuid,
    ) -> Result<String> {
        self.tokens
            .sign(Claims {
                iss: String::new(),
                sub,
                aud: String::new(),
                org,
                scope: scope.to_owned(),
                iat,
                exp,
                jti,
            })
            .map_err(IdentityError::Hash)
    }

    /// The enabled client with this id and secret; failures are throttled like logins.
    pub async fn authenticate_client(
        &self,
        client_id: &str,
        secret: &str,
        from: &str,
    ) -> Result<OAuthClient> {
        let key = format!("client:{client_id}");
        if let Some(wait) = self.throttle.check(&key, from) {
            return Err(IdentityError::Throttled {
                retry_after_secs: wait.as_secs().max(1),
            });
        }
        let client = self.store.client(client_id).await?;
        let valid = client.as_ref().is_some_and(|c| {
            !c.disabled && constant_time_eq(&c.secret_hash, &self.hash_token(secret))
        });
        let Some(client) = client.filter(|_| valid) else {
            self.throttle.record_failure(&key, from);
            return Err(IdentityError::InvalidCredentials);
        };
        self.throttle.record_success(&key);
        Ok(client)
    }

    /// Verifies a bearer token locally (signature, expiry, revocation).
    pub fn verify_bearer(
        &self,
        token: &str,
    ) -> std::result::Result<Arc<TokenPrincipal>, TokenError> {
        self.tokens.verify(token)
    }

    /// Reloads the revocation lists from the database and the signing keys from disk.
    pub async fn refresh_revocations(&self) -> Result<()> {
        if let Err(e) = self.tokens.reload_keys() {
            tracing::warn!(error = %e, "cannot re-read the signing keys");
        }
        let tokens = self.store.revoked_api_tokens(Utc::now()).await?;
        let clients = self.store.disabled_clients().await?;
        self.tokens.set_revoked(tokens, clients);
        Ok(())
    }

    pub async fn sweep_sessions(&self) -> Result<u64> {
        self.store.delete_expired_sessions(Utc::now()).await
    }

    pub fn session_lifetime(&self) -> Duration {
        self.policy
            .lifetime
            .to_std()
            .unwrap_or(Duration::from_secs(3600))
    }
}

/// Longest life of a personal access token.
pub const MAX_TOKEN_DAYS: u32 = 366;
/// Life of a client-credentials token.
pub const CLIENT_TOKEN_SECS: i64 = 3600;
/// How often daemons reload the revocation lists.
pub const REVOCATION_REFRESH: Duration = Duration::from_secs(5);

/// Refuses scopes naming permissions the user does not hold.
pub(crate) fn check_scopes_held(scopes: &Scopes, held: crate::authz::Permissions) -> Result<()> {
    match crate::tokens::scope_permissions(scopes)
        .iter()
        .find(|p| !held.contains(*p))
    {
        None => Ok(()),
        Some(p) => Err(IdentityError::Forbidden(format!(
            "you do not hold the permission `{p}`, so you cannot give it to a token or an app"
        ))),
    }
}

fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The audit actor for a signed-in user acting from `from`.
pub fn user_actor(user: &User, from: &str) -> Actor {
    Actor::new(format!("{} ({})", user.email, user.id), from)
}

pub fn normalize_email(email: &str) -> Result<String> {
    let e = email.trim().to_lowercase();
    let valid = e.len() <= 254
        && e.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && !domain.is_empty()
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        })
        && !e.chars().any(|c| c.is_whitespace() || c.is_control());
    if valid {
        Ok(e)
    } else {
        Err(IdentityError::Invalid(format!(
            "`{}` is not an e-mail address",
            email.trim()
        )))
    }
}

pub fn check_strength(password: &str, email: &str) -> Result<()> {
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err(IdentityError::WeakPassword(format!(
            "use at least {MIN_PASSWORD_LEN} characters; a few unrelated words work well"
        )));
    }
    if password.len() > 1024 {
        return Err(IdentityError::WeakPassword("use at most 1024 bytes".into()));
    }
    let local = email.split('@').next().unwrap_or_default();
    if !local.is_empty() && password.to_lowercase().contains(&local.to_lowercase()) {
        return Err(IdentityError::WeakPassword(
            "do not use your e-mail name in the password".into(),
        ));
    }
    if password
        .chars()
        .collect::<std::collections::HashSet<_>>()
        .len()
        < 5
    {
        return Err(IdentityError::WeakPassword(
            "use more different characters".into(),
        ));
    }
    Ok(())
}

fn hash_password_sync(password: &str) -> Result<String> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| IdentityError::Hash(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| IdentityError::Hash(e.to_string()))
}

/// argon2id with the crate's defaults (19 MiB, 2 passes), off the async threads.
pub async fn hash_password(password: &str) -> Result<String> {
    let p = password.to_owned();
    tokio::task::spawn_blocking(move || hash_password_sync(&p))
        .await
        .map_err(|e| IdentityError::Hash(e.to_string()))?
}

pub async fn verify_password(password: &str, hash: &str) -> Result<bool> {
    let p = password.to_owned();
    let h = hash.to_owned();
    tokio::task::spawn_blocking(move || {
        let parsed = PasswordHash::new(&h).map_err(|e| IdentityError::Hash(e.to_string()))?;
        Ok(Argon2::default()
            .verify_password(p.as_bytes(), &parsed)
            .is_ok())
    })
    .await
    .map_err(|e| IdentityError::Hash(e.to_string()))?
}

fn generate_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

impl IdentityService {
    /// HMAC-SHA256 of a session token under the instance's session key, hex-encoded.
    pub fn hash_token(&self, token: &str) -> String {
        use hmac::Mac;
        let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
        match hmac::Hmac::<Sha256>::new_from_slice(&self.token_key) {
            Ok(mut mac) => {
                mac.update(token.as_bytes());
                hex(&mac.finalize().into_bytes())
            }
            // HMAC accepts keys of any length, so this is not reached; fall back to a plain
            // digest rather than failing a login.
            Err(_) => hex(&Sha256::digest(token.as_bytes())),
        }
    }
}

/// Four groups of five characters from an alphabet without look-alikes (~98 bits).
fn generate_one_time_password() -> String {
    generate_words(4, 5)
}

/// `groups` groups of `len` characters from an alphabet without look-alikes (5 bits
/// each), joined by `-`.
pub(crate) fn generate_words(groups: usize, len: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyz23456789";
    let mut rng = rand::rng();
    let groups: Vec<String> = (0..groups)
        .map(|_| {
            (0..len)
                .map(|_| {
                    let i = (rng.next_u32() as usize) % ALPHABET.len();
                    char::from(ALPHABET[i])
                })
                .collect()
        })
        .collect();
    groups.join("-")
}

pub fn slugify(name: &str) -> String {
    let mut slug = String::new();
    for c in name.to_lowercase().chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    let slug = slug.trim_end_matches('-').to_owned();
    if slug.is_empty() {
        "org".to_owned()
    } else {
        slug
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalized_and_checked() {
        assert_eq!(
            normalize_email("  Admin@Example.COM ").ok().as_deref(),
            Some("admin@example.com")
        );
        assert!(normalize_email("nobody").is_err());
        assert!(normalize_email("a@").is_err());
        assert!(normalize_email("a b@x.y").is_err());
    }

    #[test]
    fn strength_rules() {
        assert!(check_strength("short", "a@x").is_err());
        assert!(check_strength("aaaaaaaaaaaaaaaa", "a@x").is_err());
        assert!(check_strength("alice-in-wonderland-1", "alice@x").is_err());
        assert!(check_strength("correct horse battery", "admin@x").is_ok());
    }

    #[test]
    fn one_time_passwords_look_right() {
        let p = generate_one_time_password();
        assert_eq!(p.len(), 23);
        assert_eq!(p.split('-').count(), 4);
        assert_ne!(p, generate_one_time_password());
    }

    #[test]
    fn slugs() {
        assert_eq!(slugify("My Company, Inc."), "my-company-inc");
        assert_eq!(slugify("!!!"), "org");
    }
}
