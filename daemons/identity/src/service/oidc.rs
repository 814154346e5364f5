//! NEXUS as an OpenID Connect provider ("Log in with NEXUS"): the authorization code flow
//! with PKCE (RFC 6749, RFC 7636, OIDC Core 1.0), rotating refresh tokens, userinfo and
//! discovery. Clients are registered by an organization's administrators and sign in that
//! organization's users only.
//!
//! Written here rather than taken from a crate: the Rust OIDC provider crates either bring
//! their own web framework and storage or are unmaintained, while the protocol pieces we
//! need are small and every one of them is checked by a real relying party library
//! (authlib) in the tests. Tokens are the same EdDSA JWTs as the API's, under the keys in
//! `secrets/signing/` (published at `/.well-known/jwks.json`, rotated with `nexusd keys`).

use base64::Engine;
use chrono::Utc;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{IdentityService, check_scopes_held, generate_token, user_actor};
use crate::error::{IdentityError, Result};
use crate::model::{AuthCode, OAuthClient, RefreshToken, Session, User};
use crate::store::RefreshUse;
use crate::tokens::{Scopes, Subject, TokenPrincipal, all_scopes};

/// An authorization code lives one minute (RFC 6749 §4.1.2 recommends at most ten).
pub const CODE_SECS: i64 = 60;
/// With `prompt=login`, a session this recent counts as signing in "now" (the login the
/// request sent the user through); an older one signs in again first.
pub const FRESH_LOGIN_SECS: i64 = 120;
/// Access tokens from this flow: short, since they are not revocable one by one.
pub const ACCESS_TOKEN_SECS: i64 = 900;
pub const ID_TOKEN_SECS: i64 = 600;
/// A refresh token family lives this long after the login it came from.
pub const REFRESH_DAYS: i64 = 30;

/// The parameters of an authorization request, as sent.
#[derive(Debug, Clone, Default)]
pub struct AuthorizeParams {
    pub response_type: Option<String>,
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub scope: Option<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub prompt: Option<String>,
}

impl AuthorizeParams {
    /// From a query string; a parameter given twice is an error (RFC 6749 §3.1).
    pub fn from_query(query: &str) -> std::result::Result<Self, String> {
        let mut p = Self::default();
        for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
            let slot = match k.as_ref() {
                "response_type" => &mut p.response_type,
                "client_id" => &mut p.client_id,
                "redirect_uri" => &mut p.redirect_uri,
                "scope" => &mut p.scope,
                "state" => &mut p.state,
                "nonce" => &mut p.nonce,
                "code_challenge" => &mut p.code_challenge,
                "code_challenge_method" => &mut p.code_challenge_method,
                "prompt" => &mut p.prompt,
                _ => continue,
            };
            if slot.is_some() {
                return Err(format!("the parameter `{k}` is given twice"));
            }
            *slot = Some(v.into_owned());
        }
        Ok(p)
    }
}

/// Why an authorization request fails.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorizeError {
    /// The client or its redirect URI cannot be trusted: tell the user, do not redirect.
    Page(String),
    /// Tell the client, at its verified redirect URI.
    Redirect {
        redirect_uri: String,
        error: &'static str,
        description: String,
        state: Option<String>,
    },
}

/// A checked authorization request.
#[derive(Debug, Clone)]
pub struct ValidAuthorize {
    pub client: OAuthClient,
    pub redirect_uri: String,
    pub scopes: Scopes,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    /// `prompt=none`: the client wants an answer without any user interaction.
    pub no_prompt: bool,
    /// `prompt=login`: the client wants the user to have signed in just now.
    pub login_prompt: bool,
}

impl ValidAuthorize {
    /// The error for the client at its redirect URI.
    pub fn error(&self, error: &'static str, description: impl Into<String>) -> AuthorizeError {
        AuthorizeError::Redirect {
            redirect_uri: self.redirect_uri.clone(),
            error,
            description: description.into(),
            state: self.state.clone(),
        }
    }
}

/// What the token endpoint answers for this flow.
#[derive(Debug, Clone)]
pub struct OidcTokens {
    pub access_token: String,
    pub expires_in: i64,
    pub id_token: Option<String>,
    pub refresh_token: String,
    pub scope: String,
}

/// A token endpoint error, as RFC 6749 §5.2 names them.
#[derive(Debug)]
pub enum OAuthError {
    InvalidRequest(String),
    InvalidGrant(String),
    InvalidScope(String),
    Other(IdentityError),
}

impl From<IdentityError> for OAuthError {
    fn from(e: IdentityError) -> Self {
        Self::Other(e)
    }
}

#[derive(Debug, Serialize)]
struct IdTokenClaims<'a> {
    iss: &'a str,
    sub: String,
    aud: &'a str,
    azp: &'a str,
    iat: i64,
    exp: i64,
    auth_time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    nonce: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    preferred_username: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    email_verified: Option<bool>,
}

/// Whether a URL names this machine (where plain http is acceptable).
pub(crate) fn is_loopback(url: &url::Url) -> bool {
    matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"))
}

/// Checks the redirect URIs an administrator registers: absolute, no fragment, and `https`
/// unless the host is this machine (native and development apps).
pub fn check_redirect_uris(uris: &[String]) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for raw in uris {
        let raw = raw.trim();
        let url = url::Url::parse(raw).map_err(|_| {
            IdentityError::Invalid(format!("redirect URI `{raw}` is not an absolute URL"))
        })?;
        let loopback = is_loopback(&url);
        if !(url.scheme() == "https" || (url.scheme() == "http" && loopback)) {
            return Err(IdentityError::Invalid(format!(
                "redirect URI `{raw}` must use https (plain http only for localhost)"
            )));
        }
        if url.fragment().is_some() || raw.len() > 2000 || raw.contains(char::is_whitespace) {
            return Err(IdentityError::Invalid(format!(
                "redirect URI `{raw}` must not have a #fragment or spaces"
            )));
        }
        if !out.iter().any(|u| u == raw) {
            out.push(raw.to_owned());
        }
    }
    if out.len() > 20 {
        return Err(IdentityError::Invalid(
            "register at most 20 redirect URIs".into(),
        ));
    }
    Ok(out)
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

impl IdentityService {
    /// The OpenID Provider metadata (`/.well-known/openid-configuration`).
    pub fn discovery(&self) -> serde_json::Value {
        let iss = self.tokens.issuer();
        serde_json::json!({
            "issuer": iss,
            "authorization_endpoint": format!("{iss}/oauth/authorize"),
            "token_endpoint": format!("{iss}/oauth/token"),
            "userinfo_endpoint": format!("{iss}/oauth/userinfo"),
            "jwks_uri": format!("{iss}/.well-known/jwks.json"),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["EdDSA"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "code_challenge_methods_supported": ["S256"],
            "scopes_supported": all_scopes().map(|(s, _)| s).collect::<Vec<_>>(),
            "claims_supported": [
                "sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "azp",
                "name", "preferred_username", "email", "email_verified"
            ],
            "authorization_response_iss_parameter_supported": true,
        })
    }

    /// Checks an authorization request before anyone logs in.
    pub async fn check_authorize(
        &self,
        p: &AuthorizeParams,
    ) -> std::result::Result<ValidAuthorize, AuthorizeError> {
        let page = |m: &str| AuthorizeError::Page(m.to_owned());
        let client_id = p
            .client_id
            .as_deref()
            .ok_or_else(|| page("The app did not say who it is (client_id is missing)."))?;
        let client = self
            .store
            .client(client_id)
            .await
            .map_err(|_| page("Your sign-in cannot be checked right now. Try again shortly."))?
            .filter(|c| !c.disabled)
            .ok_or_else(|| {
                page("This app is not registered with NEXUS, or it was disabled. Ask your administrator.")
            })?;
        let registered: Vec<&str> = client.redirect_uris().collect();
        let redirect_uri = match p.redirect_uri.as_deref() {
            Some(r) if registered.contains(&r) => r.to_owned(),
            // Optional when exactly one is registered (RFC 6749 §3.1.2.3).
            None if registered.len() == 1 => registered[0].to_owned(),
            _ => {
                return Err(page(
                    "This app asked to return to an address that is not registered for it. Ask your administrator to check the app's redirect URIs.",
                ));
            }
        };
        let mut v = ValidAuthorize {
            client,
            redirect_uri,
            scopes: Scopes::default(),
            state: p.state.clone(),
            nonce: p.nonce.clone(),
            code_challenge: None,
            no_prompt: p.prompt.as_deref() == Some("none"),
            login_prompt: p
                .prompt
                .as_deref()
                .is_some_and(|v| v.split(' ').any(|x| x == "login")),
        };
        if p.prompt
            .as_deref()
            .is_some_and(|v| v.split(' ').any(|x| x == "none") && v.split(' ').count() > 1)
        {
            return Err(v.error(
                "invalid_request",
                "prompt=none cannot be combined with other prompt values",
            ));
        }
        if p.response_type.as_deref() != Some("code") {
            return Err(v.error(
                "unsupported_response_type",
                "only response_type=code is supported",
            ));
        }
        let scope = p.scope.as_deref().unwrap_or_default();
        let scopes = Scopes::parse([scope]).map_err(|e| v.error("invalid_scope", e))?;
        if !scopes.contains("openid") {
            return Err(v.error("invalid_scope", "the scope must include `openid`"));
        }
        let allowed =
            Scopes::parse([v.client.scopes.as_str()]).map_err(|e| v.error("server_error", e))?;
        if !scopes.within(&allowed) {
            return Err(v.error(
                "invalid_scope",
                format!("this app may only ask for: {}", allowed.to_string_list()),
            ));
        }
        v.scopes = scopes;
        match (
            p.code_challenge.as_deref(),
            p.code_challenge_method.as_deref(),
        ) {
            (None, _) => {}
            (Some(c), Some("S256"))
                if (43..=128).contains(&c.len())
                    && c.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
            {
                v.code_challenge = Some(c.to_owned());
            }
            (Some(_), Some("S256")) => {
                return Err(v.error(
                    "invalid_request",
                    "code_challenge must be 43 to 128 base64url characters",
                ));
            }
            (Some(_), _) => {
                return Err(v.error(
                    "invalid_request",
                    "only code_challenge_method=S256 is supported",
                ));
            }
        }
        if v.nonce.as_ref().is_some_and(|n| n.len() > 512) {
            return Err(v.error("invalid_request", "nonce is too long"));
        }
        Ok(v)
    }

    /// Issues a code for a logged-in user; returns the URL to send the browser to.
    pub async fn issue_code(
        &self,
        v: &ValidAuthorize,
        session: &Session,
        user: &User,
        from: &str,
    ) -> std::result::Result<String, AuthorizeError> {
        if user.org != v.client.org {
            return Err(v.error("access_denied", "this app belongs to another organization"));
        }
        let held = self
            .permissions(user)
            .await
            .map_err(|_| v.error("server_error", "cannot read your permissions; try again"))?;
        if check_scopes_held(&v.scopes, held).is_err() {
            return Err(v.error(
                "access_denied",
                "your role does not allow the scopes this app asked for",
            ));
        }
        let code = generate_token();
        let now = Utc::now();
        let record = AuthCode {
            code_hash: self.hash_oauth_secret(&code),
            client_id: v.client.id.clone(),
            org: user.org,
            user: user.id,
            redirect_uri: v.redirect_uri.clone(),
            scope: v.scopes.to_string_list(),
            nonce: v.nonce.clone(),
            code_challenge: v.code_challenge.clone(),
            auth_time: session.created_at,
            expires_at: now + chrono::TimeDelta::seconds(CODE_SECS),
        };
        self.store
            .create_auth_code(&record, &user_actor(user, from))
            .await
            .map_err(|_| v.error("server_error", "try again shortly"))?;
        Ok(self.redirect_with(
            &v.redirect_uri,
            &[("code", Some(&code)), ("state", v.state.as_deref())],
        ))
    }

    /// `redirect_uri` with the given parameters and `iss` (RFC 9207) added to its query.
    pub fn redirect_with(&self, redirect_uri: &str, params: &[(&str, Option<&str>)]) -> String {
        match url::Url::parse(redirect_uri) {
            Ok(mut url) => {
                {
                    let mut q = url.query_pairs_mut();
                    for (k, v) in params {
                        if let Some(v) = v {
                            q.append_pair(k, v);
                        }
                    }
                    q.append_pair("iss", self.tokens.issuer());
                }
                url.into()
            }
            // Registered URIs were checked when registered; keep the original if not.
            Err(_) => redirect_uri.to_owned(),
        }
    }

    /// The `authorization_code` grant.
    pub async fn exchange_code(
        &self,
        client: &OAuthClient,
        code: &str,
        redirect_uri: Option<&str>,
        code_verifier: Option<&str>,
    ) -> std::result::Result<OidcTokens, OAuthError> {
        let grant = |m: &str| OAuthError::InvalidGrant(m.to_owned());
        let record = self
            .store
            .take_auth_code(&self.hash_oauth_secret(code))
            .await?
            .ok_or_else(|| grant("the code is unknown or was used already"))?;
        if record.client_id != client.id {
            return Err(grant("the code was issued to another client"));
        }
        if record.expires_at < Utc::now() {
            return Err(grant("the code has expired; start the sign-in again"));
        }
        if redirect_uri.is_some_and(|r| r != record.redirect_uri) {
            return Err(grant(
                "redirect_uri differs from the authorization request's",
            ));
        }
        match (&record.code_challenge, code_verifier) {
            (Some(challenge), Some(verifier)) => {
                if b64(&Sha256::digest(verifier.as_bytes())) != *challenge {
                    return Err(grant("code_verifier does not match the code_challenge"));
                }
            }
            (Some(_), None) => {
                return Err(OAuthError::InvalidRequest(
                    "code_verifier is required: the request had a code_challenge".into(),
                ));
            }
            (None, Some(_)) => {
                return Err(grant(
                    "code_verifier given, but the request had no code_challenge",
                ));
            }
            (None, None) => {}
        }
        let user = self.active_user(&record.org, record.user).await?;
        let scopes = Scopes::parse([record.scope.as_str()]).map_err(OAuthError::InvalidScope)?;
        self.mint(
            client,
            &user,
            &scopes,
            record.auth_time,
            record.nonce.as_deref(),
            uuid::Uuid::now_v7(),
        )
        .await
    }

    /// The `refresh_token` grant: a new access token, ID token and refresh token; the old
    /// refresh token is spent.
    pub async fn refresh(
        &self,
        client: &OAuthClient,
        refresh_token: &str,
        scope: Option<&str>,
    ) -> std::result::Result<OidcTokens, OAuthError> {
        let grant = |m: &str| OAuthError::InvalidGrant(m.to_owned());
        let record = match self
            .store
            .use_refresh_token(&self.hash_oauth_secret(refresh_token), Utc::now())
            .await?
        {
            RefreshUse::Valid(r) => r,
            RefreshUse::Replayed => {
                return Err(grant(
                    "this refresh token was used before; every token of this sign-in is now revoked",
                ));
            }
            RefreshUse::Invalid => {
                return Err(grant("the refresh token is unknown, expired or revoked"));
            }
        };
        if record.client_id != client.id {
            return Err(grant("the refresh token was issued to another client"));
        }
        let granted = Scopes::parse([record.scope.as_str()]).map_err(OAuthError::InvalidScope)?;
        let scopes = match scope.map(str::trim).filter(|s| !s.is_empty()) {
            None => granted,
            Some(s) => {
                let asked = Scopes::parse([s]).map_err(OAuthError::InvalidScope)?;
                if !asked.within(&granted) {
                    return Err(OAuthError::InvalidScope(format!(
                        "a refresh may only narrow the scope: {}",
                        granted.to_string_list()
                    )));
                }
                asked
            }
        };
        let user = self.active_user(&record.org, record.user).await?;
        self.mint(
            client,
            &user,
            &scopes,
            record.auth_time,
            None,
            record.family,
        )
        .await
    }

    async fn active_user(
        &self,
        org: &nexus_store::OrgId,
        id: crate::model::UserId,
    ) -> std::result::Result<User, OAuthError> {
        match self.store.user(*org, id).await? {
            Some(u) if !u.disabled => Ok(u),
            _ => Err(OAuthError::InvalidGrant(
                "the account is disabled or gone".into(),
            )),
        }
    }

    /// Access token, ID token and a new refresh token of `family`.
    async fn mint(
        &self,
        client: &OAuthClient,
        user: &User,
        scopes: &Scopes,
        auth_time: chrono::DateTime<Utc>,
        nonce: Option<&str>,
        family: uuid::Uuid,
    ) -> std::result::Result<OidcTokens, OAuthError> {
        let now = Utc::now();
        let access_token = self.sign_access_token(
            format!("user:{}", user.id),
            user.org,
            &scopes.to_string_list(),
            now.timestamp(),
            now.timestamp() + ACCESS_TOKEN_SECS,
            uuid::Uuid::now_v7(),
        )?;
        let id_token = if scopes.contains("openid") {
            let profile = scopes.contains("profile");
            let email = scopes.contains("email");
            let claims = IdTokenClaims {
                iss: self.tokens.issuer(),
                sub: user.id.to_string(),
                aud: &client.id,
                azp: &client.id,
                iat: now.timestamp(),
                exp: now.timestamp() + ID_TOKEN_SECS,
                auth_time: auth_time.timestamp(),
                nonce,
                name: profile.then_some(user.display_name.as_str()),
                preferred_username: profile.then_some(user.email.as_str()),
                email: email.then_some(user.email.as_str()),
                // Addresses are assigned by the organization's administrators, as in
                // Entra and Google Workspace.
                email_verified: email.then_some(true),
            };
            Some(self.tokens.sign_raw(&claims).map_err(IdentityError::Hash)?)
        } else {
            None
        };
        let refresh_token = generate_token();
        self.store
            .create_refresh_token(&RefreshToken {
                token_hash: self.hash_oauth_secret(&refresh_token),
                family,
                client_id: client.id.clone(),
                org: user.org,
                user: user.id,
                scope: scopes.to_string_list(),
                auth_time,
                created_at: now,
                expires_at: auth_time + chrono::TimeDelta::days(REFRESH_DAYS),
            })
            .await?;
        Ok(OidcTokens {
            access_token,
            expires_in: ACCESS_TOKEN_SECS,
            id_token,
            refresh_token,
            scope: scopes.to_string_list(),
        })
    }

    /// The userinfo answer for an access token with the `openid` scope.
    pub async fn userinfo(&self, principal: &TokenPrincipal) -> Result<serde_json::Value> {
        let Subject::User(id) = &principal.subject else {
            return Err(IdentityError::Forbidden(
                "userinfo needs a user's token, not a client's".into(),
            ));
        };
        if !principal.scopes.contains("openid") {
            return Err(IdentityError::Forbidden(
                "userinfo needs a token with the scope `openid`".into(),
            ));
        }
        let user = self
            .store
            .user(principal.org, *id)
            .await?
            .filter(|u| !u.disabled)
            .ok_or(IdentityError::InvalidCredentials)?;
        let mut info = serde_json::json!({ "sub": user.id.to_string() });
        if principal.scopes.contains("profile") {
            info["name"] = user.display_name.clone().into();
            info["preferred_username"] = user.email.clone().into();
        }
        if principal.scopes.contains("email") {
            info["email"] = user.email.clone().into();
            info["email_verified"] = true.into();
        }
        Ok(info)
    }

    fn hash_oauth_secret(&self, secret: &str) -> String {
        self.hash_token(&format!("oauth:{secret}"))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn redirect_uris_must_be_safe() {
        let ok = |u: &str| check_redirect_uris(&[u.to_owned()]).is_ok();
        assert!(ok("https://app.example.com/callback"));
        assert!(ok("http://localhost:8000/cb"));
        assert!(ok("http://127.0.0.1:9/cb?x=1"));
        assert!(!ok("http://app.example.com/cb"), "plain http off-machine");
        assert!(!ok("https://app.example.com/cb#frag"));
        assert!(!ok("/relative"));
        assert!(!ok("javascript:alert(1)"));
    }

    #[test]
    fn authorize_parameters_may_not_repeat() {
        let p = AuthorizeParams::from_query("client_id=a&scope=openid&state=s%20t").unwrap();
        assert_eq!(p.client_id.as_deref(), Some("a"));
        assert_eq!(p.state.as_deref(), Some("s t"));
        assert!(AuthorizeParams::from_query("client_id=a&client_id=b").is_err());
    }

    #[test]
    fn pkce_s256_is_unpadded_base64url_of_sha256() {
        // Expected value from Python's hashlib + base64.urlsafe_b64encode, padding removed.
        let verifier = "dBjftJeZ4CVP-mJ92ZfBnNHzfDXxdD9HG0vQ9cNq5cw";
        assert_eq!(
            b64(&Sha256::digest(verifier.as_bytes())),
            "5I5HR9kzBtEeNLHka1oShDW3pM3ATx-pyoHb2Yw6kdw"
        );
    }
}
