//! Outgoing e-mail through the operator's SMTP relay (`[mail]` in the config), for the
//! messages the platform itself sends: password resets, and later notifications.
//!
//! lettre does the SMTP (plain, STARTTLS or TLS, with authentication) from one URL. No
//! connection pool: these mails are rare, and a pool would tie the mailer to a running
//! runtime from construction to drop.

use std::sync::Arc;

use lettre::message::{Mailbox, header::ContentType};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::Config;

#[derive(Clone)]
pub struct Mailer {
    inner: Option<Arc<Relay>>,
}

struct Relay {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The transport holds the relay's credentials: never print it.
        f.debug_struct("Mailer")
            .field("enabled", &self.inner.is_some())
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("e-mail is not set up on this instance (mail.smtp_url is empty)")]
    NotConfigured,
    #[error("`{0}` is not an e-mail address")]
    BadAddress(String),
    #[error("cannot build the message: {0}")]
    Build(String),
    #[error("the mail relay refused or failed: {0}")]
    Relay(String),
}

impl Mailer {
    /// A mailer that sends nothing (`mail.smtp_url` empty).
    pub fn disabled() -> Self {
        Self { inner: None }
    }

    /// The mailer the config describes. Fails on a URL or sender that cannot work; the
    /// relay itself is only contacted when a message is sent.
    pub fn from_config(config: &Config) -> Result<Self, String> {
        let url = config.smtp_url().map_err(|e| {
            format!(
                "cannot read mail.smtp_url_file {}: {e}",
                config.resolve(&config.mail.smtp_url_file).display()
            )
        })?;
        if url.is_empty() {
            return Ok(Self::disabled());
        }
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(&url)
            .map_err(|e| format!("mail.smtp_url is not usable: {e}"))?
            .build();
        let from: Mailbox = config.mail.from.parse().map_err(|e| {
            format!(
                "mail.from `{}` is not a sender address ({e}); use e.g. `NEXUS <nexus@example.com>`",
                config.mail.from
            )
        })?;
        Ok(Self {
            inner: Some(Arc::new(Relay { transport, from })),
        })
    }

    pub fn enabled(&self) -> bool {
        self.inner.is_some()
    }

    /// Sends a plain-text message to one recipient.
    pub async fn send(&self, to: &str, subject: &str, body: String) -> Result<(), MailError> {
        let relay = self.inner.as_ref().ok_or(MailError::NotConfigured)?;
        let to: Mailbox = to
            .parse()
            .map_err(|_| MailError::BadAddress(to.to_owned()))?;
        let message = Message::builder()
            .from(relay.from.clone())
            .to(to)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body)
            .map_err(|e| MailError::Build(e.to_string()))?;
        relay
            .transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(|e| MailError::Relay(e.to_string()))
    }
}
