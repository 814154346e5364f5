//! nexusd's integration tests, in one binary: a real daemon over HTTP and the admin
//! socket (`server`), API tokens over HTTP (`tokens`), second factors (`mfa`), password reset by mail (`reset`), the first-login setup link and session list (`setup`), roles, groups and branding (`directory`), users and groups synced from OpenLDAP (`directories`), signing in through another nexusd as an outside OpenID provider (`sso`), passkeys (`passkeys`), the instance's health alerts for its operators (`alerts`), and the binary's behaviour on bad
//! input (`cli`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod alerts;
mod cli;
mod directories;
mod directory;
mod mfa;
mod oidc;
mod passkeys;
mod reset;
mod server;
mod setup;
mod sso;
mod tenancy;
mod tokens;
