//! The admin interface: `/healthz`, `/readyz`, `/metrics` and `/status`, served on a unix
//! socket (and optionally a loopback TCP port) — never on the public listener.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Instant, SystemTime};

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use nexus_wire::{AppHealth, DaemonReport};

use crate::app::{App, AppContext, Health};
use crate::telemetry;

pub struct AdminState {
    pub ctx: AppContext,
    pub apps: Vec<Arc<dyn App>>,
    pub ready: AtomicBool,
    pub started: Instant,
    pub started_at: SystemTime,
    pub listen: String,
    pub public_url: String,
    pub collector: metrics_process::Collector,
}

impl AdminState {
    /// Checks the database and every app.
    pub async fn check(&self) -> (bool, Vec<AppHealth>) {
        let db_ok = self.ctx.db.ping().await;
        let mut all_ok = db_ok.is_ok();
        let mut apps = Vec::with_capacity(self.apps.len());
        for app in &self.apps {
            let id = app.info().id;
            let (healthy, detail) = match (&db_ok, app.health(&self.ctx).await) {
                (Err(e), _) => (false, Some(format!("database: {e}"))),
                (Ok(()), Health::Healthy) => (true, None),
                (Ok(()), Health::Unhealthy(why)) => (false, Some(why)),
            };
            all_ok &= healthy;
            apps.push(AppHealth {
                id,
                healthy,
                detail,
            });
        }
        (all_ok, apps)
    }
}

pub fn router(state: Arc<AdminState>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/status", get(status))
        .with_state(state)
}

async fn readyz(State(s): State<Arc<AdminState>>) -> Response {
    if !s.ready.load(Ordering::Acquire) {
        return (StatusCode::SERVICE_UNAVAILABLE, "starting\n").into_response();
    }
    let (ok, apps) = s.check().await;
    if ok {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        let failing: Vec<String> = apps
            .into_iter()
            .filter(|a| !a.healthy)
            .map(|a| format!("{}: {}", a.id, a.detail.unwrap_or_default()))
            .collect();
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {}\n", failing.join("; ")),
        )
            .into_response()
    }
}

async fn metrics(State(s): State<Arc<AdminState>>) -> Response {
    let (size, idle) = s.ctx.db.pool_stats();
    metrics::gauge!("nexus_db_pool_connections").set(f64::from(size));
    metrics::gauge!("nexus_db_pool_idle").set(idle as f64);
    metrics::gauge!("nexus_up").set(if s.ready.load(Ordering::Acquire) {
        1.0
    } else {
        0.0
    });
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        telemetry::render(&s.collector),
    )
        .into_response()
}

async fn status(State(s): State<Arc<AdminState>>) -> Json<DaemonReport> {
    let ready = s.ready.load(Ordering::Acquire);
    let (healthy, apps) = s.check().await;
    Json(DaemonReport {
        daemon: s.ctx.config.server.name.clone(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        pid: std::process::id(),
        started_at: s
            .started_at
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
        uptime_secs: s.started.elapsed().as_secs_f64(),
        ready,
        healthy: ready && healthy,
        public_url: s.public_url.clone(),
        listen: s.listen.clone(),
        apps,
        rss_bytes: telemetry::rss_bytes(),
    })
}
