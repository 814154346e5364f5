//! API access tokens: JWTs signed with the instance's Ed25519 keys ([`crate::keys`]) and
//! verified in each daemon without asking anyone (no round trip per request).
//!
//! Two kinds: personal access tokens (a user's, long-lived, revocable one by one; the row in
//! `api_tokens` carries the revocation) and OAuth 2.0 client-credentials tokens (a client's,
//! one hour). Verification accepts only `EdDSA` with a known key id — `alg: none`, HMAC
//! algorithms and unknown keys are refused — then checks issuer, audience, expiry and the
//! revocation list.
//!
//! A successful verification is remembered for the token's lifetime (bounded cache), so a
//! client that sends the same token on every request pays the signature check once; the
//! expiry and the revocation list are still checked on every request.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};

use jsonwebtoken::{Algorithm, Header, Validation};
use nexus_store::OrgId;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::keys::KeySet;
use crate::model::UserId;

/// Audience of every NEXUS API token.
pub const AUDIENCE: &str = "nexus";

/// Scopes that are not permissions: signing in and reading who the user is. Every user may
/// give them to a token.
pub const BASE_SCOPES: &[(&str, &str)] = &[
    ("openid", "sign the user in to another app (OpenID Connect)"),
    ("profile", "read who the token belongs to"),
    ("email", "read the user's e-mail address"),
];

/// Every scope a token can carry: the base scopes, then one per permission
/// ([`crate::authz::Permission`]). Apps add theirs to the permission catalogue.
pub fn all_scopes() -> impl Iterator<Item = (&'static str, &'static str)> {
    BASE_SCOPES.iter().copied().chain(
        crate::authz::Permission::ALL
            .into_iter()
            .map(|p| (p.as_str(), p.description())),
    )
}

fn is_known(scope: &str) -> bool {
    BASE_SCOPES.iter().any(|(k, _)| *k == scope) || crate::authz::Permission::parse(scope).is_some()
}

/// The permissions among a token's scopes.
pub fn scope_permissions(scopes: &Scopes) -> crate::authz::Permissions {
    crate::authz::Permissions::of(scopes.iter().filter_map(crate::authz::Permission::parse))
}

/// A validated, de-duplicated set of scopes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Scopes(Vec<String>);

impl Scopes {
    /// Parses space- or comma-separated scopes; names every unknown one.
    pub fn parse<'a>(items: impl IntoIterator<Item = &'a str>) -> Result<Self, String> {
        let mut out: Vec<String> = Vec::new();
        let mut unknown = Vec::new();
        for s in items
            .into_iter()
            .flat_map(|s| s.split([' ', ',']))
            .filter(|s| !s.is_empty())
        {
            if !is_known(s) {
                unknown.push(s.to_owned());
            } else if !out.iter().any(|o| o == s) {
                out.push(s.to_owned());
            }
        }
        if !unknown.is_empty() {
            let known: Vec<&str> = all_scopes().map(|(k, _)| k).collect();
            return Err(format!(
                "unknown scope {}; known scopes: {}",
                unknown.join(", "),
                known.join(", ")
            ));
        }
        if out.is_empty() {
            return Err("name at least one scope".into());
        }
        out.sort();
        Ok(Self(out))
    }

    pub fn contains(&self, scope: &str) -> bool {
        self.0.iter().any(|s| s == scope)
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    /// Space-separated, as in OAuth.
    pub fn to_string_list(&self) -> String {
        self.0.join(" ")
    }

    /// Whether every scope here is within `allowed`.
    pub fn within(&self, allowed: &Scopes) -> bool {
        self.0.iter().all(|s| allowed.contains(s))
    }
}

/// The claims of a NEXUS access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    /// `user:<uuid>` or `client:<client id>`.
    pub sub: String,
    pub aud: String,
    /// The organization the token acts in.
    pub org: OrgId,
    /// Space-separated scopes.
    pub scope: String,
    pub iat: i64,
    pub exp: i64,
    /// The token's id: the `api_tokens` row of a personal access token.
    pub jti: Uuid,
}

/// Who a verified token speaks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    User(UserId),
    Client(String),
}

/// A verified token.
#[derive(Debug, Clone)]
pub struct TokenPrincipal {
    pub org: OrgId,
    pub subject: Subject,
    pub scopes: Scopes,
    pub token_id: Uuid,
    pub expires_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token is malformed or its signature is wrong")]
    Invalid,
    #[error("the token has expired")]
    Expired,
    #[error("the token has been revoked")]
    Revoked,
}

/// Signs and verifies tokens; one per daemon, shared by its apps.
#[derive(Debug, Clone)]
pub struct TokenAuthority {
    keys: KeySet,
    issuer: String,
    validation: Arc<Validation>,
    revoked: Arc<RwLock<Revoked>>,
    /// Verified tokens and the key that signed each.
    verified: Arc<RwLock<VerifiedCache>>,
}

/// Token → its verified principal and the id of the key that signed it.
type VerifiedCache = HashMap<String, (Arc<TokenPrincipal>, String)>;

#[derive(Debug, Default)]
struct Revoked {
    tokens: HashSet<Uuid>,
    clients: HashSet<String>,
    /// Whether the lists were read from the database since the daemon started.
    loaded: bool,
}

/// Verified tokens remembered at most; the cache is emptied when it is full.
const CACHE_LIMIT: usize = 20_000;

impl TokenAuthority {
    pub fn new(keys: KeySet, issuer: &str) -> Self {
        let mut v = Validation::new(Algorithm::EdDSA);
        v.algorithms = vec![Algorithm::EdDSA];
        v.set_audience(&[AUDIENCE]);
        v.set_issuer(&[issuer]);
        v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        v.leeway = 30;
        Self {
            keys,
            issuer: issuer.to_owned(),
            validation: Arc::new(v),
            revoked: Arc::new(RwLock::new(Revoked::default())),
            verified: Arc::new(RwLock::new(HashMap::new())),
        }
    }

    pub fn keys(&self) -> &KeySet {
        &self.keys
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Signs `claims` (their `iss` and `aud` are set here) with the current key.
    pub fn sign(&self, mut claims: Claims) -> Result<String, String> {
        let key = self
            .keys
            .current()
            .ok_or("there is no signing key; run `nexusd keys rotate`")?;
        claims.iss = self.issuer.clone();
        claims.aud = AUDIENCE.to_owned();
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(key.kid.clone());
        jsonwebtoken::encode(&header, &claims, &key.encoding).map_err(|e| e.to_string())
    }

    /// Signs any claims (an OpenID Connect ID token) with the current key, as they are.
    pub fn sign_raw<T: Serialize>(&self, claims: &T) -> Result<String, String> {
        let key = self
            .keys
            .current()
            .ok_or("there is no signing key; run `nexusd keys rotate`")?;
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(key.kid.clone());
        jsonwebtoken::encode(&header, claims, &key.encoding).map_err(|e| e.to_string())
    }

    /// Verifies a bearer token.
    pub fn verify(&self, token: &str) -> Result<Arc<TokenPrincipal>, TokenError> {
        let now = chrono::Utc::now().timestamp();
        let cached = self
            .verified
            .read()
            .ok()
            .and_then(|c| c.get(token).cloned());
        let principal = match cached {
            // A retired key's tokens stop at once, remembered or not.
            Some((p, kid)) if self.keys.contains(&kid) => p,
            Some(_) => return Err(TokenError::Invalid),
            None => {
                let (p, kid) = self.verify_signature(token)?;
                let p = Arc::new(p);
                if let Ok(mut c) = self.verified.write() {
                    if c.len() >= CACHE_LIMIT {
                        c.clear();
                    }
                    c.insert(token.to_owned(), (p.clone(), kid));
                }
                p
            }
        };
        if principal.expires_at + self.validation.leeway as i64 <= now {
            return Err(TokenError::Expired);
        }
        let revoked = self.revoked.read().map_or(true, |r| {
            r.tokens.contains(&principal.token_id)
                || matches!(&principal.subject, Subject::Client(c) if r.clients.contains(c))
        });
        if revoked {
            return Err(TokenError::Revoked);
        }
        Ok(principal)
    }

    fn verify_signature(&self, token: &str) -> Result<(TokenPrincipal, String), TokenError> {
        if token.len() > 4096 {
            return Err(TokenError::Invalid);
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Invalid)?;
        if header.alg != Algorithm::EdDSA {
            return Err(TokenError::Invalid);
        }
        let kid = header.kid.ok_or(TokenError::Invalid)?;
        let key = self.keys.find(&kid).ok_or(TokenError::Invalid)?;
        let kid = key.kid.clone();
        let data = jsonwebtoken::decode::<Claims>(token, &key.decoding, &self.validation).map_err(
            |e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => TokenError::Expired,
                _ => TokenError::Invalid,
            },
        )?;
        let c = data.claims;
        let subject = if let Some(u) = c.sub.strip_prefix("user:") {
            Subject::User(UserId(Uuid::parse_str(u).map_err(|_| TokenError::Invalid)?))
        } else if let Some(id) = c.sub.strip_prefix("client:") {
            Subject::Client(id.to_owned())
        } else {
            return Err(TokenError::Invalid);
        };
        let scopes = Scopes::parse([c.scope.as_str()]).map_err(|_| TokenError::Invalid)?;
        Ok((
            TokenPrincipal {
                org: c.org,
                subject,
                scopes,
                token_id: c.jti,
                expires_at: c.exp,
            },
            kid,
        ))
    }

    /// Replaces the revocation lists (from the database, by the refresh job): revoked
    /// token ids and disabled clients.
    pub fn set_revoked(
        &self,
        tokens: impl IntoIterator<Item = Uuid>,
        clients: impl IntoIterator<Item = String>,
    ) {
        if let Ok(mut r) = self.revoked.write() {
            r.tokens = tokens.into_iter().collect();
            r.clients = clients.into_iter().collect();
            r.loaded = true;
        }
    }

    /// Re-reads the key directory (the refresh job does, every few seconds), so keys
    /// retired by another process stop their tokens here too.
    pub fn reload_keys(&self) -> Result<(), String> {
        self.keys.reload()
    }

    /// Whether the revocation lists have been read from the database yet; until then no
    /// token may be trusted.
    pub fn revocations_loaded(&self) -> bool {
        self.revoked.read().is_ok_and(|r| r.loaded)
    }

    /// Adds to the revocation lists at once (the daemon that revoked does not wait for the
    /// refresh job).
    pub fn add_revoked(
        &self,
        tokens: impl IntoIterator<Item = Uuid>,
        clients: impl IntoIterator<Item = String>,
    ) {
        if let Ok(mut r) = self.revoked.write() {
            r.tokens.extend(tokens);
            r.clients.extend(clients);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    fn authority() -> (tempfile::TempDir, TokenAuthority) {
        let dir = tempfile::tempdir().unwrap();
        let keys = KeySet::open(dir.path()).unwrap();
        (dir, TokenAuthority::new(keys, "https://nexus.test"))
    }

    fn claims(exp_in: i64) -> Claims {
        let now = chrono::Utc::now().timestamp();
        Claims {
            iss: String::new(),
            sub: format!("user:{}", Uuid::now_v7()),
            aud: String::new(),
            org: OrgId::generate(),
            scope: "profile".into(),
            iat: now,
            exp: now + exp_in,
            jti: Uuid::now_v7(),
        }
    }

    #[test]
    fn signs_and_verifies() {
        let (_d, a) = authority();
        let c = claims(600);
        let t = a.sign(c.clone()).unwrap();
        let p = a.verify(&t).unwrap();
        assert_eq!((p.org, p.token_id), (c.org, c.jti));
        assert!(p.scopes.contains("profile"));
        // The second time comes from the cache and is still checked for revocation.
        a.add_revoked([c.jti], []);
        assert_eq!(a.verify(&t).unwrap_err(), TokenError::Revoked);
    }

    #[test]
    fn retired_keys_stop_their_tokens() {
        let (_d, a) = authority();
        let old = a.keys().current().unwrap().kid;
        let t = a.sign(claims(600)).unwrap();
        a.verify(&t).unwrap();
        a.keys().rotate().unwrap();
        a.keys().retire(&old).unwrap();
        a.reload_keys().unwrap();
        assert_eq!(a.verify(&t).unwrap_err(), TokenError::Invalid);
        assert!(a.verify(&a.sign(claims(600)).unwrap()).is_ok());
    }

    #[test]
    fn expired_tokens_are_refused() {
        let (_d, a) = authority();
        let t = a.sign(claims(-120)).unwrap();
        assert_eq!(a.verify(&t).unwrap_err(), TokenError::Expired);
    }

    #[test]
    fn forged_tokens_are_refused() {
        let (_d, a) = authority();
        let (_d2, other) = authority();
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let good = a.sign(claims(600)).unwrap();
        let parts: Vec<&str> = good.split('.').collect();
        let payload = parts[1];

        // alg none, with and without a signature.
        let none = b64.encode(br#"{"alg":"none","typ":"JWT"}"#);
        for t in [
            format!("{none}.{payload}."),
            format!("{none}.{payload}.{}", parts[2]),
        ] {
            assert_eq!(a.verify(&t).unwrap_err(), TokenError::Invalid, "{t}");
        }
        // HS256 keyed with the public key (the classic algorithm confusion).
        let key = a.keys().current().unwrap();
        let hs = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims(600),
            &jsonwebtoken::EncodingKey::from_secret(&key.public),
        )
        .unwrap();
        assert_eq!(a.verify(&hs).unwrap_err(), TokenError::Invalid);
        // Another instance's key, even with our key id in the header.
        let foreign = other.sign(claims(600)).unwrap();
        assert_eq!(a.verify(&foreign).unwrap_err(), TokenError::Invalid);
        // A changed payload under the original signature.
        let mut c = claims(600);
        c.scope = "audit:read".into();
        let forged_payload = b64.encode(serde_json::to_vec(&c).unwrap());
        let t = format!("{}.{forged_payload}.{}", parts[0], parts[2]);
        assert_eq!(a.verify(&t).unwrap_err(), TokenError::Invalid);
        // Garbage.
        for t in ["", "a.b.c", "....", &"x".repeat(5000)] {
            assert_eq!(a.verify(t).unwrap_err(), TokenError::Invalid);
        }
    }

    #[test]
    fn wrong_issuer_or_audience_is_refused() {
        let (d, a) = authority();
        let keys = KeySet::open(d.path()).unwrap();
        let elsewhere = TokenAuthority::new(keys, "https://other.test");
        let t = elsewhere.sign(claims(600)).unwrap();
        assert_eq!(a.verify(&t).unwrap_err(), TokenError::Invalid);
    }

    #[test]
    fn scopes_are_checked() {
        assert!(Scopes::parse(["profile audit:read"]).is_ok());
        let e = Scopes::parse(["profile,drive:everything"]).unwrap_err();
        assert!(
            e.contains("drive:everything") && e.contains("known scopes"),
            "{e}"
        );
        assert!(Scopes::parse([""]).is_err());
        let both = Scopes::parse(["audit:read", "profile", "profile"]).unwrap();
        assert_eq!(both.to_string_list(), "audit:read profile");
    }
}
