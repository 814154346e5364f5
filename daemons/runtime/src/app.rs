//! The one interface through which an app plugs into `nexusd`.
//!
//! An app crate exports a type implementing [`App`]. It says who it is ([`AppInfo`]), which
//! migrations it needs, which HTTP routes it serves, which background jobs it runs and which
//! non-HTTP protocol listeners (IMAP, SMTP, …) it opens. It never owns `main`: the runtime
//! connects the database, runs the migrations, binds the sockets and drives everything.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;

use axum::Router;
use nexus_store::{AppMigrations, BlobStore, Db, EventBus, Outbox};
use nexus_wire::AppInfo;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config::Config;

pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// What a [`Job`] runs: given the stop signal, a future that ends when the job does.
pub type JobFn = Box<dyn FnOnce(CancellationToken) -> BoxFuture<Result<(), String>> + Send>;

/// What a [`ProtocolListener`] runs: given its bound socket and the stop signal.
pub type ListenerFn =
    Box<dyn FnOnce(TcpListener, CancellationToken) -> BoxFuture<Result<(), String>> + Send>;

/// A background task. It must return soon after `cancel` fires.
pub struct Job {
    pub name: &'static str,
    pub run: JobFn,
}

impl Job {
    pub fn new<F, Fut>(name: &'static str, f: F) -> Self
    where
        F: FnOnce(CancellationToken) -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        Self {
            name,
            run: Box::new(move |c| Box::pin(f(c))),
        }
    }
}

/// A non-HTTP protocol listener. The runtime binds `addr` before the daemon reports ready
/// (so a busy port fails the start with a clear error) and hands the socket to `serve`.
pub struct ProtocolListener {
    pub name: &'static str,
    pub addr: SocketAddr,
    pub serve: ListenerFn,
}

impl ProtocolListener {
    pub fn new<F, Fut>(name: &'static str, addr: SocketAddr, f: F) -> Self
    where
        F: FnOnce(TcpListener, CancellationToken) -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        Self {
            name,
            addr,
            serve: Box::new(move |l, c| Box::pin(f(l, c))),
        }
    }
}

/// What an app's health check says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    Healthy,
    Unhealthy(String),
}

/// Everything the runtime shares with the apps.
#[derive(Clone)]
pub struct AppContext {
    pub config: Arc<Config>,
    pub db: Db,
    pub blobs: BlobStore,
    pub outbox: Outbox,
    /// The apps this daemon runs, in launcher order.
    pub apps: Arc<Vec<AppInfo>>,
    /// Directory holding generated secrets (`secrets/` in the state directory).
    pub secrets_dir: PathBuf,
    pub shutdown: CancellationToken,
    /// Where users reach this instance, with a trailing `/` (for links in e-mail and token
    /// issuers).
    pub public_url: String,
    /// Outgoing e-mail through the configured relay (disabled when none is set).
    pub mailer: crate::mail::Mailer,
}

impl AppContext {
    pub fn bus(&self) -> &EventBus {
        self.outbox.bus()
    }

    /// Reads a secret file from the secrets directory, with an error that says how to fix it.
    pub fn secret(&self, name: &str) -> Result<Vec<u8>, String> {
        let path = self.secrets_dir.join(name);
        std::fs::read(&path).map_err(|e| {
            format!(
                "cannot read secret {}: {e}; run `nexusctl init` to generate the secrets",
                path.display()
            )
        })
    }
}

/// An app that `nexusd` can run.
pub trait App: Send + Sync + 'static {
    /// Identity and launcher entry.
    fn info(&self) -> AppInfo;

    /// Schema migrations, one list per backend.
    fn migrations(&self) -> Option<&'static AppMigrations> {
        None
    }

    /// HTTP routes, merged into the public router. Paths start with `/api/<area>`.
    fn routes(&self, ctx: &AppContext) -> Result<Router, String>;

    /// Background jobs started after the daemon is ready.
    fn jobs(&self, _ctx: &AppContext) -> Vec<Job> {
        Vec::new()
    }

    /// Non-HTTP protocol listeners.
    fn listeners(&self, _ctx: &AppContext) -> Result<Vec<ProtocolListener>, String> {
        Ok(Vec::new())
    }

    /// A cheap check for readiness and the dashboard; the default is always healthy.
    fn health(&self, _ctx: &AppContext) -> BoxFuture<Health> {
        Box::pin(async { Health::Healthy })
    }
}

/// Picks the apps named in `server.apps` (or all of them, in the given order).
pub fn select(
    available: Vec<Arc<dyn App>>,
    wanted: &[String],
) -> Result<Vec<Arc<dyn App>>, String> {
    if wanted.iter().any(|w| w == "all") {
        return Ok(available);
    }
    let names: Vec<String> = available.iter().map(|a| a.info().id).collect();
    let mut chosen = Vec::new();
    for w in wanted {
        match available.iter().find(|a| a.info().id == *w) {
            Some(a) => {
                if !chosen.iter().any(|c: &Arc<dyn App>| c.info().id == *w) {
                    chosen.push(a.clone());
                }
            }
            None => {
                return Err(format!(
                    "server.apps names `{w}`, which this nexusd does not have; available: {}",
                    names.join(", ")
                ));
            }
        }
    }
    Ok(chosen)
}
