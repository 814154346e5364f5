//! Passkeys (WebAuthn, through `webauthn-rs`): registering them from the account page and
//! signing in with one instead of a password.
//!
//! A passkey login requires user verification (the device's PIN or biometric), so it counts
//! as both factors: no TOTP step follows. The sign-in starts from the e-mail address (the
//! browser is told which credentials may answer), so passkeys that are not discoverable work
//! too. That step tells whether an address has passkeys; it is throttled per address like
//! logins.
//!
//! Each ceremony's server half (challenge, allowed credentials) waits in the database for
//! five minutes under a hash of an id only the browser holds, and is taken out once.

use std::sync::Arc;

use base64::Engine;
use chrono::Utc;
use nexus_store::OrgId;
use nexus_store::audit::Actor;
use serde::{Deserialize, Serialize};
use webauthn_rs::prelude::{
    CreationChallengeResponse, Passkey, PasskeyAuthentication, PasskeyRegistration,
    PublicKeyCredential, RegisterPublicKeyCredential, RequestChallengeResponse, Url, Webauthn,
    WebauthnBuilder,
};

use super::{IdentityService, NewLogin, generate_token};
use crate::error::{IdentityError, Result};
use crate::model::{PasskeyRecord, User, UserId};

/// How long a ceremony may take, from options to the browser's answer.
const CEREMONY_SECS: i64 = 300;
/// Most passkeys one account may have.
const MAX_PASSKEYS: usize = 20;

/// The relying party for this instance, from its public URL. A loopback address becomes
/// `localhost` (browsers refuse IP addresses as relying party ids, and treat `localhost` as
/// a secure origin); any other IP address gets no passkeys.
pub fn relying_party(public_url: &str, name: &str) -> std::result::Result<Webauthn, String> {
    let url = Url::parse(public_url).map_err(|e| format!("`{public_url}`: {e}"))?;
    let (rp_id, origin) = match url.host() {
        Some(url::Host::Domain(d)) => (d.to_owned(), url.clone()),
        Some(url::Host::Ipv4(ip)) if ip.is_loopback() => ("localhost".to_owned(), localhost(&url)?),
        Some(url::Host::Ipv6(ip)) if ip.is_loopback() => ("localhost".to_owned(), localhost(&url)?),
        _ => {
            return Err(format!(
                "passkeys need a domain name in server.public_url, not `{public_url}`"
            ));
        }
    };
    WebauthnBuilder::new(&rp_id, &origin)
        .and_then(|b| b.rp_name(name).build())
        .map_err(|e| format!("passkeys cannot be set up for `{public_url}`: {e}"))
}

fn localhost(url: &Url) -> std::result::Result<Url, String> {
    let mut u = url.clone();
    u.set_host(Some("localhost"))
        .map_err(|e| format!("`{url}`: {e}"))?;
    Ok(u)
}

#[derive(Serialize, Deserialize)]
struct Registration {
    org: OrgId,
    user: UserId,
    name: String,
    state: PasskeyRegistration,
}

#[derive(Serialize, Deserialize)]
struct Login {
    /// The accounts whose passkeys may answer.
    candidates: Vec<(OrgId, UserId)>,
    state: PasskeyAuthentication,
}

const REGISTER: &str = "register";
const LOGIN: &str = "login";

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn json<T: Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| IdentityError::Hash(format!("cannot encode: {e}")))
}

/// A passkey as its owner sees it.
#[derive(Debug, Clone, Serialize)]
pub struct PasskeyView {
    pub id: uuid::Uuid,
    pub name: String,
    pub created_at: chrono::DateTime<Utc>,
    pub last_used_at: Option<chrono::DateTime<Utc>>,
}

impl From<&PasskeyRecord> for PasskeyView {
    fn from(p: &PasskeyRecord) -> Self {
        Self {
            id: p.id,
            name: p.name.clone(),
            created_at: p.created_at,
            last_used_at: p.last_used_at,
        }
    }
}

impl IdentityService {
    /// Turns passkeys on for the instance at `public_url` (off when that cannot be done;
    /// the reason is logged and given to whoever tries).
    pub fn with_passkeys(mut self, public_url: &str, rp_name: &str) -> Self {
        match relying_party(public_url, rp_name) {
            Ok(w) => self.passkeys = Ok(Arc::new(w)),
            Err(e) => {
                tracing::warn!(reason = %e, "passkeys are off");
                self.passkeys = Err(e);
            }
        }
        self
    }

    fn webauthn(&self) -> Result<&Webauthn> {
        self.passkeys
            .as_ref()
            .map(AsRef::as_ref)
            .map_err(|e| IdentityError::PasskeysUnavailable(e.clone()))
    }

    async fn start_ceremony(&self, kind: &str, state: String) -> Result<String> {
        let id = generate_token();
        let expires = Utc::now() + chrono::TimeDelta::seconds(CEREMONY_SECS);
        self.store
            .create_ceremony(&self.hash_token(&id), kind, &state, expires)
            .await?;
        Ok(id)
    }

    async fn take_ceremony<T: for<'de> Deserialize<'de>>(&self, id: &str, kind: &str) -> Result<T> {
        let state = self
            .store
            .take_ceremony(&self.hash_token(id), kind, Utc::now())
            .await?
            .ok_or(IdentityError::PasskeyCeremonyInvalid)?;
        serde_json::from_str(&state).map_err(|_| IdentityError::PasskeyCeremonyInvalid)
    }

    pub async fn list_passkeys(&self, user: &User) -> Result<Vec<PasskeyRecord>> {
        self.store.list_passkeys(user.org, user.id).await
    }

    /// Starts adding a passkey named `name`; returns the ceremony id and the options for
    /// `navigator.credentials.create`.
    pub async fn begin_passkey_registration(
        &self,
        user: &User,
        name: &str,
    ) -> Result<(String, CreationChallengeResponse)> {
        let webauthn = self.webauthn()?;
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(IdentityError::Invalid(
                "give the passkey a name of 1 to 100 characters (which device it is on)".into(),
            ));
        }
        let existing = self.store.list_passkeys(user.org, user.id).await?;
        if existing.len() >= MAX_PASSKEYS {
            return Err(IdentityError::Invalid(format!(
                "an account can have at most {MAX_PASSKEYS} passkeys; remove one first"
            )));
        }
        let exclude = existing
            .iter()
            .filter_map(|p| serde_json::from_str::<Passkey>(&p.passkey).ok())
            .map(|p| p.cred_id().clone())
            .collect();
        let (options, state) = webauthn
            .start_passkey_registration(user.id.0, &user.email, &user.display_name, Some(exclude))
            .map_err(|e| IdentityError::Invalid(format!("cannot start the passkey set-up: {e}")))?;
        let id = self
            .start_ceremony(
                REGISTER,
                json(&Registration {
                    org: user.org,
                    user: user.id,
                    name: name.to_owned(),
                    state,
                })?,
            )
            .await?;
        Ok((id, options))
    }

    /// Checks the browser's new credential against the ceremony and stores the passkey.
    pub async fn finish_passkey_registration(
        &self,
        user: &User,
        ceremony: &str,
        credential: &RegisterPublicKeyCredential,
        actor: &Actor,
    ) -> Result<PasskeyRecord> {
        let webauthn = self.webauthn()?;
        let reg: Registration = self.take_ceremony(ceremony, REGISTER).await?;
        if reg.org != user.org || reg.user != user.id {
            return Err(IdentityError::PasskeyCeremonyInvalid);
        }
        let passkey = webauthn
            .finish_passkey_registration(credential, &reg.state)
            .map_err(|e| IdentityError::PasskeyRejected(e.to_string()))?;
        let record = PasskeyRecord {
            id: uuid::Uuid::now_v7(),
            org: user.org,
            user: user.id,
            name: reg.name,
            credential_id: b64(passkey.cred_id().as_ref()),
            passkey: json(&passkey)?,
            created_at: Utc::now(),
            last_used_at: None,
        };
        self.store.create_passkey(&record, actor).await?;
        Ok(record)
    }

    pub async fn remove_passkey(&self, user: &User, id: uuid::Uuid, actor: &Actor) -> Result<()> {
        self.store
            .delete_passkeys(user.org, user.id, Some(id), actor)
            .await
            .map(|_| ())
    }

    /// Starts a passkey sign-in for the accounts with this e-mail address; returns the
    /// ceremony id and the options for `navigator.credentials.get`.
    pub async fn begin_passkey_login(
        &self,
        email: &str,
        from: &str,
    ) -> Result<(String, RequestChallengeResponse)> {
        let webauthn = self.webauthn()?;
        let email = super::normalize_email(email)?;
        let key = format!("passkey:{email}");
        if let Some(wait) = self.throttle.check(&key, from) {
            return Err(IdentityError::Throttled {
                retry_after_secs: wait.as_secs().max(1),
            });
        }
        let mut candidates = Vec::new();
        let mut keys = Vec::new();
        for user in self.store.find_login(&email).await? {
            if user.disabled {
                continue;
            }
            let mut any = false;
            for p in self.store.list_passkeys(user.org, user.id).await? {
                if let Ok(pk) = serde_json::from_str::<Passkey>(&p.passkey) {
                    keys.push(pk);
                    any = true;
                }
            }
            if any {
                candidates.push((user.org, user.id));
            }
        }
        if keys.is_empty() {
            self.throttle.record_failure(&key, from);
            return Err(IdentityError::NoPasskey);
        }
        let (options, state) = webauthn.start_passkey_authentication(&keys).map_err(|e| {
            IdentityError::Invalid(format!("cannot start the passkey sign-in: {e}"))
        })?;
        let id = self
            .start_ceremony(LOGIN, json(&Login { candidates, state })?)
            .await?;
        Ok((id, options))
    }

    /// Checks the browser's signature and opens a session for the passkey's owner.
    pub async fn finish_passkey_login(
        &self,
        ceremony: &str,
        credential: &PublicKeyCredential,
        from: &str,
    ) -> Result<NewLogin> {
        let webauthn = self.webauthn()?;
        let login: Login = self.take_ceremony(ceremony, LOGIN).await?;
        let cred_id = b64(credential.get_credential_id());
        let record = self
            .store
            .passkey_by_credential(&cred_id)
            .await?
            .filter(|r| login.candidates.contains(&(r.org, r.user)));
        let refuse = |reason: String| {
            self.throttle.record_address(from);
            IdentityError::PasskeyRejected(reason)
        };
        let Some(record) = record else {
            return Err(refuse("this passkey is not registered here".into()));
        };
        let result = webauthn
            .finish_passkey_authentication(credential, &login.state)
            .map_err(|e| refuse(e.to_string()))?;
        let mut passkey: Passkey =
            serde_json::from_str(&record.passkey).map_err(|e| refuse(e.to_string()))?;
        passkey.update_credential(&result);
        self.store
            .record_passkey_use(record.id, &json(&passkey)?, Utc::now())
            .await?;
        let user = self
            .store
            .user(record.org, record.user)
            .await?
            .filter(|u| !u.disabled)
            .ok_or(IdentityError::Disabled)?;
        self.open_session(user, from, "passkey").await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_relying_party_follows_the_public_url() {
        assert!(relying_party("https://nexus.example.com/", "NEXUS").is_ok());
        assert!(relying_party("http://127.0.0.1:8080/", "NEXUS").is_ok());
        assert!(relying_party("http://[::1]:8080/", "NEXUS").is_ok());
        let err = relying_party("http://192.0.2.7:8080/", "NEXUS").unwrap_err();
        assert!(err.contains("domain name"), "{err}");
        assert!(relying_party("not a url", "NEXUS").is_err());
    }
}
