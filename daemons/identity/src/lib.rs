//! Identity: organizations, users, sessions and login — the root of trust every other app
//! relies on.
//!
//! Layout (the same in every app crate): `model` (domain types), `store` (the storage trait,
//! one implementation per backend, migrations beside them in `migrations/`), `service` (the
//! logic, testable without HTTP), `routes` (thin HTTP handlers), and this file, which plugs
//! the app into `nexusd` through [`nexus_runtime::App`].

pub mod authz;
pub mod error;
pub mod keys;
pub mod ldap;
pub mod model;
pub mod routes;
pub mod service;
pub mod store;
pub mod throttle;
pub mod tokens;

use std::time::Duration;

use axum::Router;
use nexus_runtime::{App, AppContext, Job};
use nexus_store::{AppMigrations, Migration};
use nexus_wire::AppInfo;

pub use error::IdentityError;
pub use service::IdentityService;

pub static MIGRATIONS: AppMigrations = AppMigrations {
    app: "identity",
    sqlite: &[
        Migration::new(
            1,
            "identity",
            include_str!("../migrations/sqlite/0001_identity.sql"),
        ),
        Migration::new(
            2,
            "tokens",
            include_str!("../migrations/sqlite/0002_tokens.sql"),
        ),
        Migration::new(3, "mfa", include_str!("../migrations/sqlite/0003_mfa.sql")),
        Migration::new(
            4,
            "password_resets",
            include_str!("../migrations/sqlite/0004_password_resets.sql"),
        ),
        Migration::new(
            5,
            "oidc",
            include_str!("../migrations/sqlite/0005_oidc.sql"),
        ),
        Migration::new(
            6,
            "directory",
            include_str!("../migrations/sqlite/0006_directory.sql"),
        ),
        Migration::new(
            7,
            "passkeys",
            include_str!("../migrations/sqlite/0007_passkeys.sql"),
        ),
        Migration::new(
            8,
            "link_purpose",
            include_str!("../migrations/sqlite/0008_link_purpose.sql"),
        ),
        Migration::new(
            9,
            "directories",
            include_str!("../migrations/sqlite/0009_directories.sql"),
        ),
        Migration::new(10, "sso", include_str!("../migrations/sqlite/0010_sso.sql")),
    ],
    postgres: &[
        Migration::new(
            1,
            "identity",
            include_str!("../migrations/postgres/0001_identity.sql"),
        ),
        Migration::new(
            2,
            "tokens",
            include_str!("../migrations/postgres/0002_tokens.sql"),
        ),
        Migration::new(
            3,
            "mfa",
            include_str!("../migrations/postgres/0003_mfa.sql"),
        ),
        Migration::new(
            4,
            "password_resets",
            include_str!("../migrations/postgres/0004_password_resets.sql"),
        ),
        Migration::new(
            5,
            "oidc",
            include_str!("../migrations/postgres/0005_oidc.sql"),
        ),
        Migration::new(
            6,
            "directory",
            include_str!("../migrations/postgres/0006_directory.sql"),
        ),
        Migration::new(
            7,
            "passkeys",
            include_str!("../migrations/postgres/0007_passkeys.sql"),
        ),
        Migration::new(
            8,
            "link_purpose",
            include_str!("../migrations/postgres/0008_link_purpose.sql"),
        ),
        Migration::new(
            9,
            "directories",
            include_str!("../migrations/postgres/0009_directories.sql"),
        ),
        Migration::new(
            10,
            "sso",
            include_str!("../migrations/postgres/0010_sso.sql"),
        ),
    ],
};

/// The identity app. Its routes and jobs share one service per daemon (one revocation list,
/// one verified-token cache).
#[derive(Debug, Default)]
pub struct IdentityApp {
    service: std::sync::OnceLock<IdentityService>,
}

impl IdentityApp {
    fn shared(&self, ctx: &AppContext) -> Result<IdentityService, String> {
        if let Some(s) = self.service.get() {
            return Ok(s.clone());
        }
        let s = service(ctx)?;
        Ok(self.service.get_or_init(|| s).clone())
    }
}

/// Builds the identity service for a running daemon (also used by `nexusd provision`).
pub fn service(ctx: &AppContext) -> Result<IdentityService, String> {
    let token_key = ctx.secret("session.key")?;
    let auth = &ctx.config.auth;
    let throttle = throttle::Throttle::new(
        Duration::from_secs(auth.lockout_minutes.saturating_mul(60)),
        auth.max_failures_per_account,
        auth.max_failures_per_address,
    );
    let hours = i64::try_from(auth.session_hours).unwrap_or(24);
    Ok(IdentityService::new(
        store::open(&ctx.db, ctx.outbox.clone()),
        throttle,
        service::SessionPolicy {
            lifetime: chrono::TimeDelta::hours(hours),
        },
        token_key,
        tokens::TokenAuthority::new(
            keys::KeySet::open(&ctx.secrets_dir.join("signing"))?,
            // The issuer of tokens and the OpenID Provider: the configured public URL, or
            // the one derived from the bound address (set `server.public_url` when several
            // daemons must accept each other's tokens).
            ctx.public_url.trim_end_matches('/'),
        ),
    )
    .with_mail(service::recovery::MailSettings {
        mailer: ctx.mailer.clone(),
        public_url: ctx.public_url.clone(),
    })
    .with_passkeys(&ctx.public_url, "NEXUS"))
}

impl App for IdentityApp {
    fn info(&self) -> AppInfo {
        AppInfo {
            id: "identity".to_owned(),
            name: "Account".to_owned(),
            description: "Your profile, password and sessions".to_owned(),
            path: "/account".to_owned(),
            icon: "user".to_owned(),
        }
    }

    fn migrations(&self) -> Option<&'static AppMigrations> {
        Some(&MIGRATIONS)
    }

    fn routes(&self, ctx: &AppContext) -> Result<Router, String> {
        let service = self.shared(ctx)?;
        let secure_cookie = ctx.config.server.public_url.starts_with("https://");
        Ok(routes::router(routes::RouteState {
            service,
            secure_cookie,
            state_dir: ctx.config.state_dir.clone(),
        }))
    }

    fn jobs(&self, ctx: &AppContext) -> Vec<Job> {
        let service = match self.shared(ctx) {
            Ok(s) => s,
            Err(e) => {
                tracing::error!("identity jobs not started: {e}");
                return Vec::new();
            }
        };
        let revocations = service.clone();
        let directory_sync = service.clone();
        let refresher = Job::new("token-revocations", move |cancel| async move {
            let mut tick = tokio::time::interval(service::REVOCATION_REFRESH);
            loop {
                tokio::select! {
                    _ = cancel.cancelled() => return Ok(()),
                    _ = tick.tick() => {
                        if let Err(e) = revocations.refresh_revocations().await {
                            tracing::warn!(error = %e, "cannot reload the token revocation list");
                        }
                    }
                }
            }
        });
        let sweeper = Job::new("session-sweeper", move |cancel| async move {
            let mut tick = tokio::time::interval(Duration::from_secs(3600));
            loop {
                tokio::select! {
                    _ = cancel.cancelled() => return Ok(()),
                    _ = tick.tick() => {
                        match service.sweep_sessions().await {
                            Ok(0) => {}
                            Ok(n) => tracing::info!(count = n, "expired sessions removed"),
                            Err(e) => tracing::warn!(error = %e, "session sweep failed"),
                        }
                    }
                }
            }
        });
        let syncer = directory_sync.clone();
        let directories = Job::new("directory-sync", move |cancel| async move {
            let mut tick = tokio::time::interval(service::federation::SYNC_INTERVAL);
            // The first tick fires at once: skip it, the daemon has only just started.
            tick.tick().await;
            loop {
                tokio::select! {
                    _ = cancel.cancelled() => return Ok(()),
                    _ = tick.tick() => {
                        if let Err(e) = syncer.sync_all_directories().await {
                            tracing::warn!(error = %e, "cannot list the directories to sync");
                        }
                    }
                }
            }
        });
        vec![refresher, sweeper, directories]
    }
}
