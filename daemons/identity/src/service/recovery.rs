//! Password reset by e-mail: a one-use link, valid for an hour, sent through the
//! operator's mail relay.
//!
//! The request answers the same whether or not the address has an account, and the mail is
//! sent after the answer, so neither the reply nor its timing tells who has an account. The
//! link carries the token in the URL fragment (`#token=…`), which browsers never send to a
//! server, so it stays out of access logs and `Referer` headers.

use std::time::Duration;

use chrono::Utc;
use nexus_runtime::mail::Mailer;

use super::{EndSessions, IdentityService, check_strength, generate_token, hash_password};
use super::{LoginOutcome, normalize_email, user_actor};
use crate::error::{IdentityError, Result};
use crate::model::{LinkPurpose, User};
use crate::throttle::Throttle;
use nexus_store::audit::Actor;

/// How long a reset link works.
pub const RESET_LINK_MINUTES: i64 = 60;

/// How long the first-login setup link from `nexusctl init` works: long enough to set a
/// machine up today and log in tomorrow. After that, `nexusctl users reset-password`.
pub const SETUP_LINK_DAYS: i64 = 7;

/// Where reset mails go out and what their links point at.
#[derive(Debug, Clone)]
pub struct MailSettings {
    pub mailer: Mailer,
    /// The instance's public URL, with a trailing `/`.
    pub public_url: String,
}

/// At most 3 reset mails per account and 10 requests per address an hour: enough for a
/// person who mistypes, too few to flood a mailbox.
pub(super) fn reset_throttle() -> Throttle {
    Throttle::new(Duration::from_secs(3600), 3, 10)
}

impl IdentityService {
    /// Enables password reset by e-mail.
    pub fn with_mail(mut self, mail: MailSettings) -> Self {
        self.mail = mail.mailer.enabled().then_some(mail);
        self
    }

    /// Whether reset links can be sent.
    pub fn can_send_mail(&self) -> bool {
        self.mail.is_some()
    }

    /// Sends a reset link to every active account with this e-mail (one per organization).
    /// Unknown addresses get nothing and the same answer.
    pub async fn request_password_reset(&self, email: &str, client: &str) -> Result<()> {
        let Some(mail) = self.mail.clone() else {
            return Err(IdentityError::MailNotConfigured);
        };
        let Ok(email) = normalize_email(email) else {
            return Err(IdentityError::Invalid("enter your e-mail address".into()));
        };
        // The per-address limit may show; the per-account one must not (it would tell
        // that the account exists), so over it the request is dropped silently.
        if let Some(wait) = self.reset_throttle.check_address(client) {
            return Err(IdentityError::Throttled {
                retry_after_secs: wait.as_secs().max(1),
            });
        }
        self.reset_throttle.record_address(client);
        if self.reset_throttle.check_account(&email).is_some() {
            tracing::info!("password reset mail not sent: too many for this account");
            return Ok(());
        }
        self.reset_throttle.record_account(&email);
        let accounts: Vec<User> = self
            .store
            .find_login(&email)
            .await?
            .into_iter()
            // A directory's accounts change their password in the directory.
            .filter(|u| !u.disabled && u.directory.is_none())
            .collect();
        let service = self.clone();
        let client = client.to_owned();
        tokio::spawn(async move {
            for user in accounts {
                if let Err(e) = service.send_reset_link(&mail, &user, &client).await {
                    tracing::warn!(user = %user.id, error = %e, "password reset mail not sent");
                }
            }
        });
        Ok(())
    }

    async fn send_reset_link(&self, mail: &MailSettings, user: &User, client: &str) -> Result<()> {
        let token = self
            .issue_password_reset(user, &Actor::new(&user.email, client))
            .await?;
        let org = self
            .store
            .org(user.org)
            .await?
            .map(|o| o.name)
            .unwrap_or_default();
        let link = format!("{}reset-password#token={token}", mail.public_url);
        let body = format!(
            "Hello {name},\n\n\
             Someone (hopefully you) asked to reset the password of your account {email} \
             at {org}.\n\n\
             To choose a new password, open this link within {RESET_LINK_MINUTES} minutes:\n\n\
             {link}\n\n\
             If you did not ask for this, ignore this message: your password stays as it is.\n\
             The request came from {client}.\n",
            name = user.display_name,
            email = user.email,
        );
        mail.mailer
            .send(&user.email, &format!("Reset your password for {org}"), body)
            .await
            .map_err(|e| IdentityError::Invalid(e.to_string()))?;
        tracing::info!(user = %user.id, "password reset mail sent");
        Ok(())
    }

    /// Creates a reset link's token for `user` (replacing older links); returns the token.
    pub async fn issue_password_reset(&self, user: &User, actor: &Actor) -> Result<String> {
        self.issue_link(user, LinkPurpose::Reset, actor).await
    }

    /// Creates the first-login setup link's token for `user` (replacing older links).
    pub async fn issue_setup_link(&self, user: &User, actor: &Actor) -> Result<String> {
        self.issue_link(user, LinkPurpose::Setup, actor).await
    }

    async fn issue_link(&self, user: &User, purpose: LinkPurpose, actor: &Actor) -> Result<String> {
        self.refuse_directory_password(user).await?;
        let token = generate_token();
        let lifetime = match purpose {
            LinkPurpose::Reset => chrono::TimeDelta::minutes(RESET_LINK_MINUTES),
            LinkPurpose::Setup => chrono::TimeDelta::days(SETUP_LINK_DAYS),
        };
        self.store
            .create_password_reset(
                user.org,
                user.id,
                &self.hash_link_token(purpose, &token),
                Utc::now() + lifetime,
                purpose,
                actor,
            )
            .await?;
        Ok(token)
    }

    /// Sets a new password through a reset link; ends every session of the account. A
    /// second factor, if set up, is still asked at the next login.
    pub async fn complete_password_reset(
        &self,
        token: &str,
        new_password: &str,
        client: &str,
    ) -> Result<()> {
        self.redeem_link(LinkPurpose::Reset, token, new_password, client)
            .await
            .map(drop)
    }

    /// Sets the owner's first password through the setup link and signs them in; a second
    /// factor, if one was added meanwhile, is still asked.
    pub async fn complete_setup(
        &self,
        token: &str,
        new_password: &str,
        client: &str,
    ) -> Result<LoginOutcome> {
        let user = self
            .redeem_link(LinkPurpose::Setup, token, new_password, client)
            .await?;
        if self.has_second_factor(&user).await? {
            return Ok(LoginOutcome::SecondFactor(self.challenge(&user)));
        }
        self.open_session(user, client, "setup_link")
            .await
            .map(|l| LoginOutcome::Session(Box::new(l)))
    }

    /// Spends a link of `purpose` on a new password; returns the account.
    async fn redeem_link(
        &self,
        purpose: LinkPurpose,
        token: &str,
        new_password: &str,
        client: &str,
    ) -> Result<User> {
        let hash = self.hash_link_token(purpose, token.trim());
        let now = Utc::now();
        let (org, id) = self
            .store
            .password_reset(&hash, now)
            .await?
            .ok_or(IdentityError::ResetLinkInvalid)?;
        let user = self
            .store
            .user(org, id)
            .await?
            .ok_or(IdentityError::ResetLinkInvalid)?;
        if user.disabled {
            return Err(IdentityError::Disabled);
        }
        // Checked before the link is spent, so a weak choice does not cost the link.
        check_strength(new_password, &user.email)?;
        let new_hash = hash_password(new_password).await?;
        let actor = user_actor(&user, client);
        if !self.store.use_password_reset(&hash, now, &actor).await? {
            return Err(IdentityError::ResetLinkInvalid);
        }
        self.store
            .set_password(org, id, &new_hash, false, EndSessions::All, &actor)
            .await?;
        // Whoever holds the mailbox may log in again at once.
        self.throttle.record_success(&user.email);
        Ok(User {
            must_change_password: false,
            ..user
        })
    }

    /// The stored hash of a link token; the purpose is part of it, so a reset link's token
    /// is no setup link's and the other way round.
    fn hash_link_token(&self, purpose: LinkPurpose, token: &str) -> String {
        let domain = match purpose {
            LinkPurpose::Reset => "password-reset",
            LinkPurpose::Setup => "account-setup",
        };
        self.hash_token(&format!("{domain}:{token}"))
    }
}
