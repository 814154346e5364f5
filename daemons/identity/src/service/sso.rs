//! Signing in through outside OpenID Connect providers ("Sign in with …"): NEXUS as the
//! relying party of another identity provider — Entra ID, Google, Keycloak, or another NEXUS.
//!
//! The protocol is the `openidconnect` crate's: discovery, the authorization code flow with
//! PKCE and a nonce, and ID token verification against the provider's published keys. What
//! is ours is the plumbing around it: providers configured per organization by its owners,
//! the pending request kept server-side (with the `webauthn_ceremonies` rows) and bound to
//! the browser by a cookie, and which account a sign-in opens.
//!
//! Which account: the one linked to the provider's subject (`sub`) before; else the
//! organization's account with the same e-mail address, when the provider vouches for the
//! address (`email_verified`, or a provider trusted for its addresses), which is then linked;
//! else, when the provider may create accounts, a new member's. An address alone never opens
//! an account of another organization, and never one the provider has not verified.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::Utc;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreJwsSigningAlgorithm, CoreProviderMetadata,
};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};
use serde::{Deserialize, Serialize};

use super::directory::Access;
use super::{IdentityService, NewLogin, generate_token, mfa, normalize_email};
use crate::authz::Permission;
use crate::error::{IdentityError, Result};
use crate::model::{IdentityProvider, NewUser, Role, User};
use nexus_store::audit::Actor;

/// How long the person may take at the provider, from the button to the way back.
pub const REQUEST_SECS: i64 = 600;
/// The cookie that binds a pending sign-in to the browser that started it.
pub const BINDING_COOKIE: &str = "nexus_sso";
/// The ceremony kind of a pending sign-in.
const KIND: &str = "sso";
/// How long a provider's discovery document and keys are reused.
const METADATA_TTL: Duration = Duration::from_secs(300);
/// The most a provider's answer may weigh (discovery documents and key sets are small).
const MAX_RESPONSE: usize = 1 << 20;
/// Linking needs a login this recent, here (the session that asks) and at the provider
/// (its `auth_time`, asked for with `max_age`): a link is a lasting way into the account.
pub const LINK_FRESH_SECS: i64 = 600;
/// How long before the linking started the provider's login may lie (its own freshness
/// window for `prompt=login`, plus clock skew).
const LINK_AUTH_SLACK_SECS: i64 = 180;
/// What the password hash of an account a provider created says: no password here.
const NO_PASSWORD: &str = "!sso";

/// Where provider `id` sends people back, under the public URL. One path per provider:
/// with a shared one, a provider could have another provider's code sent to itself (the
/// OAuth "mix-up" attack), since the way back would not say who answered.
pub fn callback_path(id: uuid::Uuid) -> String {
    format!("/api/sso/{id}/callback")
}

/// A provider as an owner describes it; unset fields keep their current value (or take the
/// default, for a new one). An empty `client_secret` keeps the current one. `id` may be
/// given on creation only: the one `GET /api/admin/sso-providers` offered, so the redirect
/// URI can be registered at the provider before the provider is added here.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderInput {
    pub id: Option<uuid::Uuid>,
    pub name: Option<String>,
    pub issuer: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub create_users: Option<bool>,
    pub trust_email: Option<bool>,
}

/// A button on the login page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LoginProvider {
    pub id: uuid::Uuid,
    pub name: String,
}

/// A provider on a person's account page: whether their account is linked to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccountLink {
    pub id: uuid::Uuid,
    pub name: String,
    pub linked: bool,
}

/// What a pending request is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SsoMode {
    /// Sign in (from the login page).
    SignIn,
    /// Link this signed-in account to the provider (from the account page): the account,
    /// and the stored hash of the session asking.
    Link(crate::model::UserId, String),
}

/// Where a sign-in goes first: the provider's authorization URL, and the value of the
/// cookie that binds the request to this browser.
#[derive(Debug, Clone)]
pub struct SsoStart {
    pub redirect: String,
    pub binding: String,
}

/// What a completed sign-in leads to; `next` is where the person was going.
#[derive(Debug, Clone)]
pub enum SsoOutcome {
    Session(Box<NewLogin>, String),
    /// The account has a second factor here: the login page asks for it.
    SecondFactor(mfa::MfaChallenge, String),
    /// A signed-in account was linked to the provider.
    Linked,
}

/// Why a sign-in through a provider did not open a session, as the login page names it.
/// Details go to the log and the audit trail, not into the address bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SsoFailure {
    /// The request is unknown, used, expired, or was started in another browser.
    Expired,
    /// The person declined at the provider.
    Denied,
    /// No account here, and the provider may not create one.
    NoAccount,
    /// The provider did not vouch for the address, so it links no account.
    Unverified,
    /// The account with the address holds more than a member's rights: it is linked only
    /// by its holder, signed in, from the account page.
    LinkRequired,
    /// (Linking) this provider's person is linked to another account already.
    LinkTaken,
    Disabled,
    /// The provider failed, or its answer did not verify.
    Failed,
}

impl SsoFailure {
    /// The code the login page gets (`/login?sso_error=…`).
    pub fn code(self) -> &'static str {
        match self {
            Self::Expired => "expired",
            Self::Denied => "denied",
            Self::NoAccount => "no_account",
            Self::Unverified => "unverified",
            Self::LinkRequired => "link_required",
            Self::LinkTaken => "link_taken",
            Self::Disabled => "disabled",
            Self::Failed => "failed",
        }
    }
}

/// A pending sign-in, kept server-side between the button and the way back.
#[derive(Debug, Serialize, Deserialize)]
struct Pending {
    org: nexus_store::OrgId,
    provider: uuid::Uuid,
    nonce: String,
    pkce_verifier: String,
    next: String,
    /// Set when a signed-in account is being linked rather than a sign-in made.
    #[serde(default)]
    link_user: Option<crate::model::UserId>,
    /// For a linking: the stored hash of the session that asked, which must still be valid
    /// when the provider answers.
    #[serde(default)]
    link_session: Option<String>,
    /// When the request started (Unix seconds).
    #[serde(default)]
    started_at: i64,
}

/// Who the provider says signed in.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Vouched {
    subject: String,
    /// When the person last signed in at the provider (`auth_time`), if it says.
    auth_time: Option<i64>,
    email: Option<String>,
    email_verified: bool,
    name: Option<String>,
}

fn vouched_by(c: &openidconnect::core::CoreIdTokenClaims) -> Vouched {
    Vouched {
        subject: c.subject().as_str().to_owned(),
        auth_time: c.auth_time().map(|t| t.timestamp()),
        email: c.email().map(|e| e.as_str().to_owned()),
        email_verified: c.email_verified().unwrap_or(false),
        name: c
            .name()
            .and_then(|n| n.get(None))
            .map(|n| n.as_str().to_owned()),
    }
}

/// The HTTP client the protocol calls go through: no redirects (a provider that redirects
/// its endpoints could point us anywhere), a timeout, and a size cap.
#[derive(Debug, Clone)]
pub struct SsoHttp {
    client: std::result::Result<reqwest::Client, String>,
    metadata: std::sync::Arc<Mutex<HashMap<uuid::Uuid, (Instant, CoreProviderMetadata)>>>,
}

impl Default for SsoHttp {
    fn default() -> Self {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .user_agent("NEXUS identity")
            .build()
            .map_err(|e| format!("cannot make an HTTP client: {e}"));
        Self {
            client,
            metadata: std::sync::Arc::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HttpError(String);

/// [`SsoHttp`] for one provider: it calls only https URLs, or — for a plain-http issuer on
/// loopback — that issuer's host, so a discovery document cannot point NEXUS's requests
/// (keys, token, userinfo) at plain-http addresses or other local ports. (An https URL may
/// still name an internal host: owners choose the issuer; see the operator guide.)
struct Guarded<'a> {
    http: &'a SsoHttp,
    /// Host and port of a plain-http (loopback) issuer.
    plain_host: Option<(String, u16)>,
}

impl<'c> openidconnect::AsyncHttpClient<'c> for Guarded<'_> {
    type Error = HttpError;
    type Future = std::pin::Pin<
        Box<
            dyn std::future::Future<
                    Output = std::result::Result<openidconnect::HttpResponse, HttpError>,
                > + Send
                + 'c,
        >,
    >;

    fn call(&'c self, request: openidconnect::HttpRequest) -> Self::Future {
        let uri = request.uri();
        let allowed = uri.scheme_str() == Some("https")
            || (uri.scheme_str() == Some("http")
                && uri.host().is_some()
                && uri
                    .host()
                    .map(|h| (h.to_ascii_lowercase(), uri.port_u16().unwrap_or(80)))
                    == self.plain_host);
        if !allowed {
            let refused = HttpError(format!(
                "{uri}: the provider's endpoints must use https (plain http only on a loopback issuer's own host and port)"
            ));
            return Box::pin(async move { Err(refused) });
        }
        Box::pin(self.http.send(request))
    }
}

impl SsoHttp {
    async fn send(
        &self,
        request: openidconnect::HttpRequest,
    ) -> std::result::Result<openidconnect::HttpResponse, HttpError> {
        let client = self.client.as_ref().map_err(|e| HttpError(e.clone()))?;
        let (parts, body) = request.into_parts();
        let url = parts.uri.to_string();
        let mut response = client
            .request(parts.method, &url)
            .headers(parts.headers)
            .body(body)
            .send()
            .await
            .map_err(|e| HttpError(format!("{url}: {}", error_chain(&e))))?;
        let mut out = openidconnect::http::Response::builder().status(response.status());
        for (name, value) in response.headers() {
            out = out.header(name, value);
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| HttpError(format!("{url}: {}", error_chain(&e))))?
        {
            if body.len() + chunk.len() > MAX_RESPONSE {
                return Err(HttpError(format!("{url}: the answer is over 1 MiB")));
            }
            body.extend_from_slice(&chunk);
        }
        out.body(body).map_err(|e| HttpError(e.to_string()))
    }

    /// The client for calls to the provider whose issuer is `issuer`.
    fn guarded(&self, issuer: &str) -> Guarded<'_> {
        let plain_host = url::Url::parse(issuer)
            .ok()
            .filter(|u| u.scheme() == "http")
            .and_then(|u| Some((u.host_str()?.to_ascii_lowercase(), u.port().unwrap_or(80))));
        Guarded {
            http: self,
            plain_host,
        }
    }

    /// The provider's discovery document and keys, fetched fresh.
    async fn discover(&self, issuer: &str) -> std::result::Result<CoreProviderMetadata, String> {
        let url = IssuerUrl::new(issuer.to_owned()).map_err(|e| format!("issuer: {e}"))?;
        CoreProviderMetadata::discover_async(url, &self.guarded(issuer))
            .await
            .map_err(|e| error_chain(&e))
    }

    /// The provider's metadata, from the cache when fresh (or always `fresh`).
    async fn metadata(
        &self,
        p: &IdentityProvider,
        fresh: bool,
    ) -> std::result::Result<CoreProviderMetadata, String> {
        if !fresh
            && let Ok(cache) = self.metadata.lock()
            && let Some((at, m)) = cache.get(&p.id)
            && at.elapsed() < METADATA_TTL
            && m.issuer().as_str() == p.issuer
        {
            return Ok(m.clone());
        }
        let m = self.discover(&p.issuer).await?;
        if let Ok(mut cache) = self.metadata.lock() {
            cache.insert(p.id, (Instant::now(), m.clone()));
        }
        Ok(m)
    }

    fn forget(&self, id: uuid::Uuid) {
        if let Ok(mut cache) = self.metadata.lock() {
            cache.remove(&id);
        }
    }
}

/// An error and its causes on one line (the crates' top-level messages are terse).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

/// Signature algorithms accepted on ID tokens: the asymmetric ones (HMAC would make the
/// client secret a signing key).
fn allowed_algs() -> Vec<CoreJwsSigningAlgorithm> {
    use CoreJwsSigningAlgorithm as A;
    vec![
        A::EdDsa,
        A::RsaSsaPkcs1V15Sha256,
        A::RsaSsaPkcs1V15Sha384,
        A::RsaSsaPkcs1V15Sha512,
        A::RsaSsaPssSha256,
        A::RsaSsaPssSha384,
        A::RsaSsaPssSha512,
        A::EcdsaP256Sha256,
        A::EcdsaP384Sha384,
    ]
}

/// Where a sign-in may return to: a path on this instance, in plain ASCII (it goes into a
/// `Location` header as it is).
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.starts_with("/\\")
                && !n.starts_with("/login")
                && n.len() <= 2000
                && n.chars().all(|c| c.is_ascii_graphic()) =>
        {
            n.to_owned()
        }
        _ => "/".to_owned(),
    }
}

fn check_text(field: &str, value: &str, max: usize) -> Result<String> {
    let v = value.trim();
    if v.is_empty() || v.chars().count() > max || v.chars().any(char::is_control) {
        return Err(IdentityError::Invalid(format!(
            "{field}: 1 to {max} characters"
        )));
    }
    Ok(v.to_owned())
}

/// The issuer as typed, checked: an https URL (plain http only on loopback, for tests and
/// providers on the same machine).
fn check_issuer(raw: &str) -> Result<String> {
    let issuer = check_text("issuer", raw, 500)?;
    let url = url::Url::parse(&issuer).map_err(|_| {
        IdentityError::Invalid(
            "issuer: the provider's URL, such as https://login.example.com".into(),
        )
    })?;
    let loopback = super::oidc::is_loopback(&url);
    if !(url.scheme() == "https" || (url.scheme() == "http" && loopback))
        || url.query().is_some()
        || url.fragment().is_some()
    {
        return Err(IdentityError::Invalid(
            "issuer: must be an https URL without ?query or #fragment (plain http only for localhost)"
                .into(),
        ));
    }
    Ok(issuer)
}

impl IdentityService {
    /// The address providers send people back to, for the provider's client registration.
    pub fn sso_redirect_uri(&self, id: uuid::Uuid) -> String {
        format!("{}{}", self.tokens.issuer(), callback_path(id))
    }

    pub async fn sso_providers(&self, access: &Access) -> Result<Vec<IdentityProvider>> {
        access.require(Permission::OrgManage)?;
        self.store.providers(access.org).await
    }

    /// The id the organization's next provider will have, offered before it is added so its
    /// redirect URI can be registered at the provider first. The same until the
    /// organization's providers change (a reloaded form shows the same address): derived,
    /// under the instance's key, from the organization and its current providers.
    pub fn next_provider_id(
        &self,
        org: nexus_store::OrgId,
        current: &[IdentityProvider],
    ) -> uuid::Uuid {
        let mut ids: Vec<String> = current.iter().map(|p| p.id.to_string()).collect();
        ids.sort();
        let digest = self.hash_token(&format!("nexus-sso-next-id:{org}:{}", ids.join(",")));
        let mut bytes = [0u8; 16];
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = digest
                .get(i * 2..i * 2 + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .unwrap_or_default();
        }
        uuid::Builder::from_random_bytes(bytes).into_uuid()
    }

    pub async fn sso_provider(&self, access: &Access, id: uuid::Uuid) -> Result<IdentityProvider> {
        access.require(Permission::OrgManage)?;
        self.store
            .provider(access.org, id)
            .await?
            .ok_or_else(|| IdentityError::NotFound(format!("sign-in provider {id}")))
    }

    /// Fetches the provider's discovery document and keys, so a typo is caught now and not
    /// at someone's first sign-in. Returns the issuer exactly as the provider spells it
    /// (with or without the trailing slash the owner typed).
    async fn reach_provider(&self, issuer: &str) -> Result<String> {
        let bare = issuer.trim_end_matches('/');
        let mut first_error = None;
        for candidate in [bare.to_owned(), format!("{bare}/")] {
            match self.sso_http.discover(&candidate).await {
                Ok(_) => return Ok(candidate),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        Err(IdentityError::ProviderUnreachable(
            first_error.unwrap_or_default(),
        ))
    }

    /// Adds a provider. Owners only: its word opens accounts.
    pub async fn create_sso_provider(
        &self,
        access: &Access,
        input: &ProviderInput,
    ) -> Result<IdentityProvider> {
        access.require(Permission::OrgManage)?;
        access.owner_only(true, "add a sign-in provider")?;
        let name = check_text("name", input.name.as_deref().unwrap_or_default(), 100)?;
        let issuer = check_issuer(input.issuer.as_deref().unwrap_or_default())?;
        let client_id = check_text(
            "client_id",
            input.client_id.as_deref().unwrap_or_default(),
            500,
        )?;
        let client_secret = check_text(
            "client_secret",
            input.client_secret.as_deref().unwrap_or_default(),
            2000,
        )?;
        let offered = self.next_provider_id(access.org, &self.store.providers(access.org).await?);
        let id = input.id.unwrap_or(offered);
        if id != offered {
            return Err(IdentityError::Invalid(
                "id: leave it out, or give the new_id the provider list offers now".into(),
            ));
        }
        let issuer = self.reach_provider(&issuer).await?;
        let p = IdentityProvider {
            id,
            org: access.org,
            name,
            issuer,
            client_id,
            client_secret,
            // Off unless asked for: anyone the provider knows would get an account.
            create_users: input.create_users.unwrap_or(false),
            trust_email: input.trust_email.unwrap_or(false),
            created_at: Utc::now(),
        };
        self.store.create_provider(&p, &access.actor).await?;
        Ok(p)
    }

    pub async fn update_sso_provider(
        &self,
        access: &Access,
        id: uuid::Uuid,
        input: &ProviderInput,
    ) -> Result<IdentityProvider> {
        let current = self.sso_provider(access, id).await?;
        access.owner_only(true, "change a sign-in provider")?;
        if input.id.is_some_and(|given| given != id) {
            return Err(IdentityError::Invalid(
                "id: a provider's id cannot change".into(),
            ));
        }
        let name = match &input.name {
            Some(n) => check_text("name", n, 100)?,
            None => current.name.clone(),
        };
        let mut issuer = match &input.issuer {
            Some(i) => check_issuer(i)?,
            None => current.issuer.clone(),
        };
        let client_id = match &input.client_id {
            Some(c) => check_text("client_id", c, 500)?,
            None => current.client_id.clone(),
        };
        let client_secret = match input.client_secret.as_deref() {
            Some(s) if !s.is_empty() => check_text("client_secret", s, 2000)?,
            // The stored secret goes only to the provider and client it was given for.
            _ if issuer.trim_end_matches('/') != current.issuer.trim_end_matches('/')
                || client_id != current.client_id =>
            {
                return Err(IdentityError::Invalid(
                    "client_secret: give the secret again when the issuer or client id changes"
                        .into(),
                ));
            }
            _ => current.client_secret.clone(),
        };
        if issuer.trim_end_matches('/') != current.issuer.trim_end_matches('/') {
            issuer = self.reach_provider(&issuer).await?;
        } else {
            issuer = current.issuer.clone();
        }
        let p = IdentityProvider {
            name,
            issuer,
            client_id,
            client_secret,
            create_users: input.create_users.unwrap_or(current.create_users),
            trust_email: input.trust_email.unwrap_or(current.trust_email),
            ..current
        };
        self.store.update_provider(&p, &access.actor).await?;
        self.sso_http.forget(p.id);
        Ok(p)
    }

    /// Removes a provider and its links; the accounts stay (an administrator may give them
    /// a password).
    pub async fn delete_sso_provider(&self, access: &Access, id: uuid::Uuid) -> Result<()> {
        access.require(Permission::OrgManage)?;
        access.owner_only(true, "remove a sign-in provider")?;
        self.store
            .delete_provider(access.org, id, &access.actor)
            .await?;
        self.sso_http.forget(id);
        Ok(())
    }

    /// The login page's buttons: the providers of the organization `org` names (its slug),
    /// or of the only one. An instance hosting several organizations shows none without
    /// the slug, so a login page does not tell who else lives there: each gives its people
    /// its own address, `/login?org=SLUG`.
    pub async fn login_providers(&self, org: Option<&str>) -> Result<Vec<LoginProvider>> {
        let org = match org {
            Some(slug) => self.store.org_by_slug(slug).await?,
            None => {
                let mut orgs = self.store.list_orgs().await?;
                if orgs.len() == 1 { orgs.pop() } else { None }
            }
        };
        let Some(org) = org else {
            return Ok(Vec::new());
        };
        Ok(self
            .store
            .providers(org.id)
            .await?
            .into_iter()
            .map(|p| LoginProvider {
                id: p.id,
                name: p.name,
            })
            .collect())
    }

    /// The organization's providers, and which of them the account is linked to.
    pub async fn account_links(&self, user: &User) -> Result<Vec<AccountLink>> {
        let linked = self.store.user_links(user.org, user.id).await?;
        Ok(self
            .store
            .providers(user.org)
            .await?
            .into_iter()
            .map(|p| AccountLink {
                linked: linked.contains(&p.name),
                id: p.id,
                name: p.name,
            })
            .collect())
    }

    /// Unlinks the account from provider `id`. An account with no password here that signs
    /// in only through this provider keeps its link: it would have no way in left.
    pub async fn unlink_account(&self, user: &User, id: uuid::Uuid, actor: &Actor) -> Result<()> {
        let provider = self
            .store
            .provider(user.org, id)
            .await?
            .ok_or_else(|| IdentityError::NotFound(format!("sign-in provider {id}")))?;
        let links = self.store.user_links(user.org, user.id).await?;
        if !links.contains(&provider.name) {
            return Err(IdentityError::NotFound(format!(
                "a sign-in through {} for this account",
                provider.name
            )));
        }
        let passkeys = self.store.list_passkeys(user.org, user.id).await?;
        if user.password_hash.starts_with('!')
            && user.directory.is_none()
            && passkeys.is_empty()
            && links.len() <= 1
        {
            return Err(IdentityError::Forbidden(format!(
                "this account signs in only through {}: it cannot be unlinked (add a passkey, or ask an administrator to give it a password, first)",
                provider.name
            )));
        }
        self.store.unlink_login(&provider, user.id, actor).await
    }

    /// Starts a sign-in through provider `id` (or, in [`SsoMode::Link`], the linking of a
    /// signed-in account): where to send the browser, and the cookie that must come back
    /// with it. `next` is where to go afterwards (a path here).
    pub async fn start_sso(
        &self,
        id: uuid::Uuid,
        next: Option<&str>,
        mode: SsoMode,
    ) -> std::result::Result<SsoStart, SsoFailure> {
        let provider = self
            .store
            .provider_by_id(id)
            .await
            .map_err(|e| self.sso_log(None, "cannot read the sign-in providers", &e))?
            .ok_or(SsoFailure::Expired)?;
        let (link_user, link_session) = match mode {
            SsoMode::SignIn => (None, None),
            SsoMode::Link(user, session) => (Some(user), Some(session)),
        };
        let metadata = self
            .sso_http
            .metadata(&provider, false)
            .await
            .map_err(|e| self.sso_log(Some(&provider), "the provider cannot be reached", &e))?;
        let client = self
            .sso_client(&provider, metadata)
            .map_err(|e| self.sso_log(Some(&provider), "the provider is misconfigured", &e))?;
        let state = generate_token();
        // The cookie's value is not the `state`, which travels in URLs (provider logs,
        // history): whoever sees a way-back URL still lacks the browser's half.
        let binding = generate_token();
        let nonce = Nonce::new_random();
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                {
                    let state = state.clone();
                    move || CsrfToken::new(state)
                },
                {
                    let nonce = nonce.clone();
                    move || nonce
                },
            )
            .add_scope(Scope::new("email".into()))
            .add_scope(Scope::new("profile".into()))
            .set_pkce_challenge(challenge);
        if link_user.is_some() {
            // Whoever is signed in at the provider gets linked: make them prove it now,
            // not with a session someone else may have planted there (`auth_time` is
            // checked on the way back, for providers that ignore both).
            request = request
                .add_prompt(openidconnect::core::CoreAuthPrompt::Login)
                .add_extra_param("max_age", LINK_AUTH_SLACK_SECS.to_string());
        }
        let (url, _, _) = request.url();
        let pending = Pending {
            org: provider.org,
            provider: provider.id,
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
            next: safe_next(next),
            link_user,
            link_session,
            started_at: Utc::now().timestamp(),
        };
        let saved = async {
            let json = serde_json::to_string(&pending)
                .map_err(|e| IdentityError::Invalid(e.to_string()))?;
            self.store
                .create_ceremony(
                    &self.pending_key(&state, &binding),
                    KIND,
                    &json,
                    Utc::now() + chrono::TimeDelta::seconds(REQUEST_SECS),
                )
                .await
        };
        saved
            .await
            .map_err(|e| self.sso_log(Some(&provider), "cannot keep the request", &e))?;
        Ok(SsoStart {
            redirect: url.to_string(),
            binding,
        })
    }

    /// Where a pending request waits: under both halves, the `state` from the way back and
    /// the cookie from the browser, so neither alone finds (or spends) it.
    fn pending_key(&self, state: &str, binding: &str) -> String {
        self.hash_token(&format!("sso:{state}:{binding}"))
    }

    /// Completes a sign-in when provider `id` sends the browser back. `binding` is the
    /// cookie set at the start; `params` the callback's query. Also says where the request
    /// meant to go next, and whether it was a linking (the account page shows its errors).
    pub async fn finish_sso(
        &self,
        id: uuid::Uuid,
        params: &HashMap<String, String>,
        binding: Option<&str>,
        client: &str,
    ) -> (std::result::Result<SsoOutcome, SsoFailure>, String, bool) {
        let mut next = "/".to_owned();
        let mut linking = false;
        let result = self
            .finish_sso_inner(id, params, binding, client, &mut next, &mut linking)
            .await;
        (result, next, linking)
    }

    async fn finish_sso_inner(
        &self,
        id: uuid::Uuid,
        params: &HashMap<String, String>,
        binding: Option<&str>,
        client: &str,
        next: &mut String,
        linking: &mut bool,
    ) -> std::result::Result<SsoOutcome, SsoFailure> {
        let state = params.get("state").ok_or(SsoFailure::Expired)?;
        // The request must come back to the browser that started it: else anyone could send
        // a victim a link that signs them in as the sender (login CSRF).
        let binding = binding.ok_or(SsoFailure::Expired)?;
        let json = self
            .store
            .take_ceremony(&self.pending_key(state, binding), KIND, Utc::now())
            .await
            .map_err(|e| self.sso_log(None, "cannot read the request", &e))?
            .ok_or(SsoFailure::Expired)?;
        let pending: Pending = serde_json::from_str(&json).map_err(|_| SsoFailure::Expired)?;
        next.clone_from(&pending.next);
        *linking = pending.link_user.is_some();
        let provider = self
            .store
            .provider(pending.org, pending.provider)
            .await
            .map_err(|e| self.sso_log(None, "cannot read the provider", &e))?
            .ok_or(SsoFailure::Expired)?;
        if provider.id != id {
            // Another provider's request came back here: what answered is not what was
            // asked (a mix-up attack, or a misconfigured redirect URI).
            return Err(self.sso_log(
                Some(&provider),
                "the answer came back to another provider's address",
                &id,
            ));
        }
        if let Some(error) = params.get("error") {
            let description = params.get("error_description").map_or("", String::as_str);
            tracing::info!(provider = %provider.id, error, description, "the provider refused the sign-in");
            return Err(if error == "access_denied" {
                SsoFailure::Denied
            } else {
                SsoFailure::Failed
            });
        }
        let code = params.get("code").ok_or(SsoFailure::Failed)?;
        let vouched = self
            .redeem_code(&provider, code, &pending)
            .await
            .map_err(|e| self.sso_log(Some(&provider), "the sign-in did not verify", &e))?;
        if let Some(user) = pending.link_user {
            return self
                .link_vouched(&provider, &vouched, user, &pending, client)
                .await;
        }
        let user = self.sso_account(&provider, &vouched, client).await?;
        if user.disabled {
            self.sso_refused(&provider, &user.email, client, "account disabled")
                .await;
            return Err(SsoFailure::Disabled);
        }
        let has_mfa = self
            .has_second_factor(&user)
            .await
            .map_err(|e| self.sso_log(Some(&provider), "cannot read the account", &e))?;
        if has_mfa {
            return Ok(SsoOutcome::SecondFactor(
                self.challenge(&user),
                pending.next,
            ));
        }
        let login = self
            .open_session(user, client, "sso")
            .await
            .map_err(|e| self.sso_log(Some(&provider), "cannot open a session", &e))?;
        Ok(SsoOutcome::Session(Box::new(login), pending.next))
    }

    /// Links the account that asked (signed in, from its account page) to the person the
    /// provider vouched for.
    async fn link_vouched(
        &self,
        provider: &IdentityProvider,
        vouched: &Vouched,
        user: crate::model::UserId,
        pending: &Pending,
        client: &str,
    ) -> std::result::Result<SsoOutcome, SsoFailure> {
        let failed = |e: IdentityError| self.sso_log(Some(provider), "cannot link the account", &e);
        // The session that asked must still be good (not logged out or ended since).
        let session = match pending.link_session.as_deref() {
            Some(hash) => self.store.session(hash).await.map_err(failed)?,
            None => None,
        };
        if !session.is_some_and(|s| s.user == user && s.expires_at > Utc::now()) {
            return Err(SsoFailure::Expired);
        }
        // The provider's login must be this linking's, not an older one in that browser.
        let fresh_from = pending.started_at - LINK_AUTH_SLACK_SECS;
        if vouched.auth_time.is_none_or(|t| t < fresh_from) {
            return Err(self.sso_log(
                Some(provider),
                "the provider did not make the person sign in again (auth_time missing or too old)",
                &vouched
                    .auth_time
                    .map_or_else(|| "none".to_owned(), |t| t.to_string()),
            ));
        }
        match self
            .store
            .linked_user(provider, &vouched.subject, Utc::now())
            .await
            .map_err(failed)?
        {
            Some((existing, false)) if existing == user => return Ok(SsoOutcome::Linked),
            Some((existing, true)) if existing == user => {
                // Linked by address before; now by its holder: made again as such, so it
                // holds whatever rights the account gains.
                let account = self.store.user(provider.org, user).await.map_err(failed)?;
                let actor = account.map_or_else(
                    || Actor::new(user.to_string(), client),
                    |a| super::user_actor(&a, client),
                );
                self.store
                    .unlink_login(provider, user, &actor)
                    .await
                    .map_err(failed)?;
            }
            Some(_) => return Err(SsoFailure::LinkTaken),
            None => {}
        }
        let account = self
            .store
            .user(provider.org, user)
            .await
            .map_err(failed)?
            .filter(|u| !u.disabled)
            .ok_or(SsoFailure::Disabled)?;
        let actor = super::user_actor(&account, client);
        match self
            .store
            .link_login(provider, &vouched.subject, user, false, &actor)
            .await
        {
            Ok(()) => Ok(SsoOutcome::Linked),
            // The account has a link to another of this provider's people.
            Err(IdentityError::Conflict(_)) => Err(SsoFailure::LinkTaken),
            Err(e) => Err(failed(e)),
        }
    }

    /// Trades the code for tokens and verifies the ID token (signature by the provider's
    /// published keys, issuer, audience, expiry, nonce).
    async fn redeem_code(
        &self,
        provider: &IdentityProvider,
        code: &str,
        pending: &Pending,
    ) -> std::result::Result<Vouched, String> {
        let metadata = self.sso_http.metadata(provider, false).await?;
        let client = self.sso_client(provider, metadata)?;
        let http = &self.sso_http.guarded(&provider.issuer);
        let tokens = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| error_chain(&e))?
            .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier.clone()))
            .request_async(http)
            .await
            .map_err(|e| format!("the token endpoint: {}", error_chain(&e)))?;
        let id_token = tokens
            .id_token()
            .ok_or("the provider sent no ID token (is `openid` among the client's scopes?)")?;
        let nonce = Nonce::new(pending.nonce.clone());
        let verified = {
            let verifier = client.id_token_verifier().set_allowed_algs(allowed_algs());
            id_token
                .claims(&verifier, &nonce)
                .map(vouched_by)
                .map_err(|e| error_chain(&e))
        };
        let mut vouched = match verified {
            Ok(v) => v,
            Err(first) => {
                // A key the cached set lacks: the provider may have rotated. Once, fresh.
                let metadata = self.sso_http.metadata(provider, true).await?;
                let client = self.sso_client(provider, metadata)?;
                let verifier = client.id_token_verifier().set_allowed_algs(allowed_algs());
                id_token
                    .claims(&verifier, &nonce)
                    .map(vouched_by)
                    .map_err(|e| {
                        format!(
                            "the ID token: {first}; with fresh keys: {}",
                            error_chain(&e)
                        )
                    })?
            }
        };
        if vouched.email.is_none() {
            // Some providers give the address only at userinfo.
            if let Ok(request) = client.user_info(tokens.access_token().clone(), None) {
                let info: openidconnect::core::CoreUserInfoClaims = request
                    .request_async(http)
                    .await
                    .map_err(|e| format!("userinfo: {}", error_chain(&e)))?;
                if info.subject().as_str() == vouched.subject {
                    vouched.email = info.email().map(|e| e.as_str().to_owned());
                    vouched.email_verified = info.email_verified().unwrap_or(false);
                    if vouched.name.is_none() {
                        vouched.name = info
                            .name()
                            .and_then(|n| n.get(None))
                            .map(|n| n.as_str().to_owned());
                    }
                }
            }
        }
        Ok(vouched)
    }

    #[allow(clippy::type_complexity)]
    fn sso_client(
        &self,
        provider: &IdentityProvider,
        metadata: CoreProviderMetadata,
    ) -> std::result::Result<
        CoreClient<
            openidconnect::EndpointSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointMaybeSet,
            openidconnect::EndpointMaybeSet,
        >,
        String,
    > {
        let redirect =
            RedirectUrl::new(self.sso_redirect_uri(provider.id)).map_err(|e| e.to_string())?;
        Ok(CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(provider.client_id.clone()),
            Some(ClientSecret::new(provider.client_secret.clone())),
        )
        .set_redirect_uri(redirect))
    }

    /// The account a verified sign-in opens (see the module's documentation).
    async fn sso_account(
        &self,
        provider: &IdentityProvider,
        vouched: &Vouched,
        client: &str,
    ) -> std::result::Result<User, SsoFailure> {
        if let Some((user, by_address)) = self.linked_account(provider, vouched).await? {
            // A link made by address holds only while the account is a plain member's: one
            // promoted since is linked again by its holder.
            if by_address && !self.member_level(provider, &user).await? {
                self.sso_refused(
                    provider,
                    &user.email,
                    client,
                    "linked by address, and the account has gained more than a member's rights since",
                )
                .await;
                return Err(SsoFailure::LinkRequired);
            }
            return Ok(user);
        }
        let store_failed =
            |e: IdentityError| self.sso_log(Some(provider), "cannot read the accounts", &e);
        let email = vouched
            .email
            .as_deref()
            .and_then(|e| normalize_email(e).ok());
        let Some(email) = email else {
            self.sso_refused(
                provider,
                &vouched.subject,
                client,
                "no e-mail address from the provider",
            )
            .await;
            return Err(SsoFailure::Unverified);
        };
        if !(vouched.email_verified || provider.trust_email) {
            self.sso_refused(
                provider,
                &email,
                client,
                "the provider did not verify the address",
            )
            .await;
            return Err(SsoFailure::Unverified);
        }
        let actor = Actor::new(format!("sso:{}", provider.name), client);
        if let Some(user) = self
            .store
            .user_by_email(provider.org, &email)
            .await
            .map_err(store_failed)?
        {
            if user.disabled {
                // Refused by the caller; nothing is linked to an account that is shut.
                return Ok(user);
            }
            // An address is enough only for a plain member: an account with more rights is
            // linked by its holder, signed in, from the account page — else whoever runs the
            // provider (or can make an account there with this address) would hold them.
            if !self.member_level(provider, &user).await? {
                self.sso_refused(
                    provider,
                    &email,
                    client,
                    "an account with more than a member's rights is linked from its account page",
                )
                .await;
                return Err(SsoFailure::LinkRequired);
            }
            return match self
                .store
                .link_login(provider, &vouched.subject, user.id, true, &actor)
                .await
            {
                Ok(()) => Ok(user),
                // A concurrent first sign-in of the same person linked it meanwhile, or the
                // account is linked to another of this provider's people.
                Err(IdentityError::Conflict(_)) => self
                    .linked_account(provider, vouched)
                    .await?
                    .map(|(u, _)| u)
                    .ok_or(SsoFailure::NoAccount),
                Err(e) => Err(self.sso_log(Some(provider), "cannot link the account", &e)),
            };
        }
        if !provider.create_users {
            self.sso_refused(
                provider,
                &email,
                client,
                "no account, and the provider may not create one",
            )
            .await;
            return Err(SsoFailure::NoAccount);
        }
        let display_name = vouched
            .name
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map_or_else(|| email.clone(), |n| n.chars().take(200).collect());
        match self
            .store
            .create_linked_user(
                provider,
                &vouched.subject,
                &NewUser {
                    email,
                    display_name,
                    role: Role::Member,
                    password_hash: NO_PASSWORD.to_owned(),
                    must_change_password: false,
                },
                &actor,
            )
            .await
        {
            Ok(user) => Ok(user),
            // A concurrent first sign-in of the same person created it meanwhile.
            Err(IdentityError::Conflict(_)) => self
                .linked_account(provider, vouched)
                .await?
                .map(|(u, _)| u)
                .ok_or(SsoFailure::Failed),
            Err(e) => Err(self.sso_log(Some(provider), "cannot create the account", &e)),
        }
    }

    /// The account linked to the provider's person, if any, and whether by address.
    async fn linked_account(
        &self,
        provider: &IdentityProvider,
        vouched: &Vouched,
    ) -> std::result::Result<Option<(User, bool)>, SsoFailure> {
        let store_failed =
            |e: IdentityError| self.sso_log(Some(provider), "cannot read the accounts", &e);
        let Some((id, by_address)) = self
            .store
            .linked_user(provider, &vouched.subject, Utc::now())
            .await
            .map_err(store_failed)?
        else {
            return Ok(None);
        };
        Ok(self
            .store
            .user(provider.org, id)
            .await
            .map_err(store_failed)?
            .map(|u| (u, by_address)))
    }

    /// Whether the account holds no more than a member's permissions (custom roles too).
    async fn member_level(
        &self,
        provider: &IdentityProvider,
        user: &User,
    ) -> std::result::Result<bool, SsoFailure> {
        let held = self
            .permissions(user)
            .await
            .map_err(|e| self.sso_log(Some(provider), "cannot read the account's roles", &e))?;
        Ok(held.within(crate::authz::Permissions::of_role(Role::Member)))
    }

    /// Logs why a sign-in failed on our side or the provider's; the person sees `Failed`.
    fn sso_log(
        &self,
        provider: Option<&IdentityProvider>,
        what: &str,
        e: &dyn std::fmt::Display,
    ) -> SsoFailure {
        tracing::warn!(provider = ?provider.map(|p| p.id), error = %e, "sign-in through a provider failed: {what}");
        SsoFailure::Failed
    }

    /// Records a sign-in the provider vouched for but this instance refused.
    async fn sso_refused(
        &self,
        provider: &IdentityProvider,
        who: &str,
        client: &str,
        reason: &str,
    ) {
        let record = nexus_store::audit::NewRecord::new(
            Some(provider.org),
            &Actor::new(who, client),
            "session.login_failed",
            format!("sso_provider:{}", provider.id),
            serde_json::json!({ "reason": reason, "provider_name": provider.name }),
        );
        if let Err(e) = self.store.audit(&record).await {
            tracing::warn!(error = %e, "cannot record a refused sign-in");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_on_this_instance() {
        assert_eq!(safe_next(Some("/drive?x=1")), "/drive?x=1");
        assert_eq!(
            safe_next(Some("/oauth/authorize?a=b")),
            "/oauth/authorize?a=b"
        );
        for bad in [
            "//evil.example",
            "https://evil.example",
            "/\\evil",
            "/login",
            "drive",
            "/a\nb",
            "/a b",
            "/\u{e9}",
        ] {
            assert_eq!(safe_next(Some(bad)), "/", "{bad}");
        }
        assert_eq!(safe_next(None), "/");
    }

    #[test]
    fn issuers_must_be_https_but_on_loopback() {
        assert!(check_issuer("https://login.example.com/tenant/v2.0").is_ok());
        assert!(check_issuer("http://127.0.0.1:8080").is_ok());
        assert!(check_issuer("http://login.example.com").is_err());
        assert!(check_issuer("https://login.example.com/?x=1").is_err());
        assert!(check_issuer("not a url").is_err());
        assert!(check_issuer("").is_err());
    }

    #[test]
    fn failures_have_stable_codes() {
        let all = [
            SsoFailure::Expired,
            SsoFailure::Denied,
            SsoFailure::NoAccount,
            SsoFailure::Unverified,
            SsoFailure::LinkRequired,
            SsoFailure::LinkTaken,
            SsoFailure::Disabled,
            SsoFailure::Failed,
        ];
        let codes: std::collections::HashSet<_> = all.iter().map(|f| f.code()).collect();
        assert_eq!(codes.len(), all.len());
    }
}
