//! Second factors: authenticator apps (TOTP, RFC 6238, via `totp-rs`) with one-use
//! recovery codes, and the login step that asks for them.
//!
//! A correct password on an account with a second factor yields a short-lived challenge,
//! not a session. The challenge is an HMAC-signed statement "this user passed the password
//! step until T" bound to the password hash it passed against, so it needs no server-side
//! state (any daemon of a cluster accepts it) and dies with a password change.

use base64::Engine;
use chrono::Utc;
use hmac::Mac;
use rand::RngCore;
use sha2::{Digest, Sha256};

use super::{IdentityService, LoginOutcome, NewLogin, generate_words, user_actor};
use crate::error::{IdentityError, Result};
use crate::model::{Organization, User, UserId};
use nexus_store::OrgId;
use nexus_store::audit::Actor;

/// How long the second login step may take.
pub const CHALLENGE_SECS: i64 = 300;
/// Recovery codes issued at a time.
pub const RECOVERY_CODES: usize = 10;
/// 160 bits, as RFC 4226 recommends.
const TOTP_SECRET_BYTES: usize = 20;

/// The second login step, waiting for a code.
#[derive(Debug, Clone)]
pub struct MfaChallenge {
    pub token: String,
    pub expires_in: u64,
    pub methods: Vec<&'static str>,
}

/// What an authenticator app needs to start producing codes.
#[derive(Debug, Clone)]
pub struct TotpEnrolment {
    pub secret_base32: String,
    pub otpauth_url: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MfaStatus {
    pub totp: bool,
    pub recovery_codes_left: i64,
}

impl IdentityService {
    pub async fn mfa_status(&self, user: &User) -> Result<MfaStatus> {
        Ok(MfaStatus {
            totp: self.has_second_factor(user).await?,
            recovery_codes_left: self.store.recovery_codes_left(user.org, user.id).await?,
        })
    }

    pub(super) async fn has_second_factor(&self, user: &User) -> Result<bool> {
        Ok(self
            .store
            .totp(user.org, user.id)
            .await?
            .is_some_and(|t| t.confirmed_at.is_some()))
    }

    /// Starts setting up an authenticator app with a fresh secret (replacing one that was
    /// never confirmed).
    pub async fn begin_totp(
        &self,
        user: &User,
        org: &Organization,
        actor: &Actor,
    ) -> Result<TotpEnrolment> {
        let mut secret = vec![0u8; TOTP_SECRET_BYTES];
        rand::rng().fill_bytes(&mut secret);
        let totp = totp(&secret, &user.email, &org.name)?;
        let otpauth_url = totp.to_url().map_err(|e| {
            IdentityError::Invalid(format!("cannot describe the authenticator: {e}"))
        })?;
        self.store
            .begin_totp(user.org, user.id, &secret, actor)
            .await?;
        Ok(TotpEnrolment {
            secret_base32: totp.secret().to_base32(),
            otpauth_url,
        })
    }

    /// Finishes setting up the authenticator with its first code; returns the recovery
    /// codes, which are shown this once.
    pub async fn confirm_totp(
        &self,
        user: &User,
        code: &str,
        actor: &Actor,
    ) -> Result<Vec<String>> {
        let record = self
            .store
            .totp(user.org, user.id)
            .await?
            .filter(|t| t.confirmed_at.is_none())
            .ok_or_else(|| {
                IdentityError::NotFound(
                    "an authenticator app being set up (start again with POST /api/account/mfa/totp)"
                        .into(),
                )
            })?;
        let step = totp(&record.secret, &user.email, "")?
            .check(&digits(code), now_secs())
            .ok_or(IdentityError::InvalidCode)?;
        let codes = new_recovery_codes();
        let hashes: Vec<String> = codes.iter().map(|c| self.hash_recovery_code(c)).collect();
        self.store
            .confirm_totp(user.org, user.id, step_i64(step), &hashes, actor)
            .await?;
        Ok(codes)
    }

    /// Removes the authenticator app and the recovery codes, after the password again.
    pub async fn remove_totp(&self, user: &User, password: &str, actor: &Actor) -> Result<()> {
        if !self.password_ok(user, password).await? {
            return Err(IdentityError::InvalidCredentials);
        }
        if !self.store.remove_totp(user.org, user.id, actor).await? {
            return Err(IdentityError::NotFound("an authenticator app".into()));
        }
        Ok(())
    }

    /// Replaces the recovery codes, after the password again; returns the new ones.
    pub async fn replace_recovery_codes(
        &self,
        user: &User,
        password: &str,
        actor: &Actor,
    ) -> Result<Vec<String>> {
        if !self.password_ok(user, password).await? {
            return Err(IdentityError::InvalidCredentials);
        }
        if !self.has_second_factor(user).await? {
            return Err(IdentityError::Invalid(
                "recovery codes go with an authenticator app: set one up first".into(),
            ));
        }
        let codes = new_recovery_codes();
        let hashes: Vec<String> = codes.iter().map(|c| self.hash_recovery_code(c)).collect();
        self.store
            .replace_recovery_codes(user.org, user.id, &hashes, actor)
            .await?;
        Ok(codes)
    }

    /// Operator action for a user who lost their device: removes their authenticator app
    /// and their passkeys (their next login asks for the password only). False when they had
    /// neither.
    pub async fn reset_mfa(&self, org: OrgId, email: &str, actor: &Actor) -> Result<bool> {
        let user = self.user_in_org(org, email).await?;
        let totp = self.store.remove_totp(org, user.id, actor).await?;
        let passkeys = self
            .store
            .delete_passkeys(org, user.id, None, actor)
            .await?;
        Ok(totp || passkeys > 0)
    }

    pub(super) fn challenge(&self, user: &User) -> MfaChallenge {
        let expires = Utc::now().timestamp() + CHALLENGE_SECS;
        let payload = format!(
            "{}.{}.{expires}.{}",
            user.org,
            user.id,
            password_tag(&user.password_hash)
        );
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        // Without a MAC the challenge is refused at the second step, as any forgery is.
        let mac = self
            .challenge_hmac()
            .map(|mut m| {
                m.update(payload.as_bytes());
                m.finalize().into_bytes().to_vec()
            })
            .unwrap_or_default();
        let token = format!("{}.{}", b64.encode(&payload), b64.encode(mac));
        MfaChallenge {
            token,
            expires_in: CHALLENGE_SECS.unsigned_abs(),
            methods: vec!["totp", "recovery_code"],
        }
    }

    /// The HMAC that signs challenges, primed with their domain label.
    fn challenge_hmac(&self) -> Option<hmac::Hmac<Sha256>> {
        // HMAC takes keys of any length, so this is always `Some`.
        let mut mac = hmac::Hmac::<Sha256>::new_from_slice(&self.token_key).ok()?;
        mac.update(b"nexus-mfa-challenge\0");
        Some(mac)
    }

    /// The user a challenge was issued to, if it is authentic, unexpired and their password
    /// has not changed since.
    async fn redeem_challenge(&self, token: &str) -> Result<User> {
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let invalid = || IdentityError::ChallengeInvalid;
        let (payload_b64, mac_b64) = token.split_once('.').ok_or_else(invalid)?;
        let payload = b64.decode(payload_b64).map_err(|_| invalid())?;
        let mac = b64.decode(mac_b64).map_err(|_| invalid())?;
        let mut check = self.challenge_hmac().ok_or_else(invalid)?;
        check.update(&payload);
        check.verify_slice(&mac).map_err(|_| invalid())?;
        let payload = String::from_utf8(payload).map_err(|_| invalid())?;
        let mut parts = payload.split('.');
        let (Some(org), Some(user), Some(expires), Some(tag), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(invalid());
        };
        let expires: i64 = expires.parse().map_err(|_| invalid())?;
        if expires < Utc::now().timestamp() {
            return Err(invalid());
        }
        let org = OrgId::from_uuid(org.parse().map_err(|_| invalid())?);
        let user = UserId(user.parse().map_err(|_| invalid())?);
        let user = self.store.user(org, user).await?.ok_or_else(invalid)?;
        if user.disabled {
            return Err(IdentityError::Disabled);
        }
        if password_tag(&user.password_hash) != tag {
            return Err(invalid());
        }
        Ok(user)
    }

    /// The second login step: a code from the authenticator app, or a recovery code.
    pub async fn complete_login(
        &self,
        challenge: &str,
        code: &str,
        client: &str,
    ) -> Result<NewLogin> {
        let user = self.redeem_challenge(challenge).await?;
        self.check_throttle(&user.email, client)?;
        let method = match self.check_second_factor(&user, code, client).await? {
            Some(method) => method,
            None => {
                self.throttle.record_failure(&user.email, client);
                self.audit_failed_login(
                    &user.email,
                    client,
                    "wrong second-factor code",
                    std::slice::from_ref(&user),
                )
                .await?;
                return Err(IdentityError::InvalidCode);
            }
        };
        self.throttle.record_success(&user.email);
        self.open_session(user, client, method).await
    }

    /// `Some(method)` when `code` is a current, unused TOTP code or an unused recovery code.
    async fn check_second_factor(
        &self,
        user: &User,
        code: &str,
        client: &str,
    ) -> Result<Option<&'static str>> {
        let Some(record) = self
            .store
            .totp(user.org, user.id)
            .await?
            .filter(|t| t.confirmed_at.is_some())
        else {
            return Ok(None);
        };
        let six = digits(code);
        if six.len() == 6 {
            let Some(step) = totp(&record.secret, &user.email, "")?.check(&six, now_secs()) else {
                return Ok(None);
            };
            let fresh = self
                .store
                .accept_totp_step(user.org, user.id, step_i64(step))
                .await?;
            return Ok(fresh.then_some("password+totp"));
        }
        let hash = self.hash_recovery_code(code);
        let used = self
            .store
            .use_recovery_code(user.org, user.id, &hash, &user_actor(user, client))
            .await?;
        Ok(used.then_some("password+recovery_code"))
    }

    fn hash_recovery_code(&self, code: &str) -> String {
        let normalized: String = code
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_lowercase())
            .collect();
        self.hash_token(&format!("recovery-code:{normalized}"))
    }
}

impl LoginOutcome {
    /// The session, when the login needed no second step.
    pub fn session(self) -> Option<NewLogin> {
        match self {
            Self::Session(s) => Some(*s),
            Self::SecondFactor(_) => None,
        }
    }
}

/// The TOTP parameters every authenticator app understands: SHA-1, 6 digits, 30 s, one
/// step of clock skew either way.
fn totp(secret: &[u8], account: &str, issuer: &str) -> Result<totp_rs::Totp> {
    // `:` separates issuer and account in an otpauth label, so neither may contain one.
    let issuer = issuer.replace(':', " ");
    let issuer = issuer.trim();
    totp_rs::Builder::new()
        .with_secret(secret.to_vec())
        .with_account_name(account.replace(':', " "))
        .with_issuer((!issuer.is_empty()).then(|| issuer.to_owned()))
        .build()
        .map_err(|e| IdentityError::Invalid(format!("authenticator settings: {e}")))
}

/// The digits of a code as typed (`123 456` and `123-456` are common).
fn digits(code: &str) -> String {
    code.chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect()
}

fn now_secs() -> u64 {
    Utc::now().timestamp().max(0).unsigned_abs()
}

fn step_i64(step: u64) -> i64 {
    i64::try_from(step).unwrap_or(i64::MAX)
}

/// Ties a challenge to the password hash it passed against, without carrying the hash.
fn password_tag(hash: &str) -> String {
    Sha256::digest(hash.as_bytes())
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Two groups of five characters from an alphabet without look-alikes (50 bits each;
/// guessing is bounded by the login throttle).
fn new_recovery_codes() -> Vec<String> {
    (0..RECOVERY_CODES).map(|_| generate_words(2, 5)).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn codes_accept_common_spellings() {
        assert_eq!(digits(" 123 456 "), "123456");
        assert_eq!(digits("123-456"), "123456");
    }

    #[test]
    fn recovery_codes_are_distinct_and_readable() {
        let codes = new_recovery_codes();
        assert_eq!(codes.len(), RECOVERY_CODES);
        let unique: std::collections::HashSet<_> = codes.iter().collect();
        assert_eq!(unique.len(), RECOVERY_CODES);
        assert!(
            codes
                .iter()
                .all(|c| c.len() == 11 && c.as_bytes()[5] == b'-')
        );
    }

    #[test]
    fn issuer_with_colon_still_makes_a_url() {
        let t = totp(&[7u8; 20], "ann@example.com", "Acme: Research").unwrap();
        let url = t.to_url().unwrap();
        assert!(url.starts_with("otpauth://totp/"), "{url}");
        assert!(url.contains("issuer=Acme"), "{url}");
    }
}
