//! The NEXUS daemon runtime: everything a daemon needs besides its apps.
//!
//! - [`config`]: versioned TOML, layered defaults → file → `NEXUS_*` env → flags.
//! - [`telemetry`]: logs (journal, terminal, JSON) and Prometheus metrics.
//! - [`lifecycle`]: signals, `sd_notify` READY/STOPPING/WATCHDOG.
//! - [`app`]: the [`App`] interface every app crate implements.
//! - [`http`]: shared HTTP pieces (errors, JSON, metrics, CSRF, the static web app).
//! - [`admin`]: health, readiness, metrics and status on a local-only socket.
//! - [`server`]: starting, serving and draining a daemon.
//! - [`alerts`]: the instance's alerts as `nexusctl` last evaluated them.

pub mod admin;
pub mod alerts;
pub mod app;
pub mod config;
pub mod http;
pub mod lifecycle;
pub mod mail;
pub mod server;
pub mod telemetry;

pub use app::{App, AppContext, BoxFuture, Health, Job, ProtocolListener};
pub use config::Config;
pub use http::{ApiError, ApiJson, ApiPath, ApiQuery};
pub use server::{Running, ServeError, start};
