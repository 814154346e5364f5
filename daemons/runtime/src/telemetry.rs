//! Logs and metrics.
//!
//! Logs go to stderr through `tracing`: pretty with colours on a terminal, plain single lines
//! without timestamps under systemd (the journal stamps them), or JSON. Metrics are kept by
//! the `metrics` crate and rendered in the Prometheus text format on the admin interface.

use std::io::IsTerminal;
use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::EnvFilter;

use crate::config::{LogConfig, LogFormat};

/// Installs the global log subscriber. Calling it again (tests) is harmless.
pub fn init_logging(cfg: &LogConfig) {
    let filter = EnvFilter::try_new(&cfg.level).unwrap_or_else(|_| EnvFilter::new("info"));
    let on_tty = std::io::stderr().is_terminal();
    let under_journal = std::env::var_os("JOURNAL_STREAM").is_some();
    let format = match cfg.format {
        LogFormat::Auto if on_tty => LogFormat::Pretty,
        LogFormat::Auto => LogFormat::Plain,
        other => other,
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // On a failed write tracing-subscriber would report it with eprintln!, which panics
        // when stderr is a pipe nobody reads any more (a supervisor killed with SIGKILL):
        // the panicking task was the one stopping the daemon, which then never stopped.
        .log_internal_errors(false);
    let result = match format {
        LogFormat::Json => builder.json().with_current_span(false).try_init(),
        LogFormat::Pretty => builder.with_ansi(on_tty).compact().try_init(),
        LogFormat::Plain | LogFormat::Auto if under_journal => builder
            .with_ansi(false)
            .without_time()
            .with_target(true)
            .try_init(),
        LogFormat::Plain | LogFormat::Auto => builder.with_ansi(false).try_init(),
    };
    // Already installed: keep the first one.
    drop(result);
}

static PROMETHEUS: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Request latency buckets, in seconds: fine-grained below 10 ms where most requests land.
const LATENCY_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

/// The process-wide Prometheus recorder, installed on first use.
pub fn prometheus() -> Option<&'static PrometheusHandle> {
    PROMETHEUS
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("duration_seconds".to_owned()), LATENCY_BUCKETS)
                .ok()?;
            match builder.install_recorder() {
                Ok(handle) => {
                    describe();
                    spawn_upkeep(handle.clone());
                    Some(handle)
                }
                Err(e) => {
                    tracing::warn!(error = %e, "metrics recorder not installed; /metrics will be empty");
                    None
                }
            }
        })
        .as_ref()
}

/// `install_recorder` leaves upkeep to the caller: without it, histogram samples pile up
/// until the next scrape (about 20 bytes per request on an instance nobody scrapes). A plain
/// thread, so it does not depend on which async runtime happens to be current.
fn spawn_upkeep(handle: PrometheusHandle) {
    let spawned = std::thread::Builder::new()
        .name("metrics-upkeep".to_owned())
        .spawn(move || {
            loop {
                std::thread::sleep(std::time::Duration::from_secs(5));
                handle.run_upkeep();
            }
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "metrics upkeep thread not started; memory grows until /metrics is scraped");
    }
}

fn describe() {
    metrics::describe_counter!(
        "nexus_http_requests_total",
        "HTTP requests answered, by route, method and status class"
    );
    metrics::describe_histogram!(
        "nexus_http_request_duration_seconds",
        metrics::Unit::Seconds,
        "Time from request to response head, by route"
    );
    metrics::describe_counter!(
        "nexus_http_errors_total",
        "HTTP responses with a 5xx status, by route"
    );
    metrics::describe_gauge!(
        "nexus_http_requests_in_flight",
        "HTTP requests being handled now"
    );
    metrics::describe_gauge!(
        "nexus_db_pool_connections",
        "Database connections open in the pool"
    );
    metrics::describe_gauge!(
        "nexus_db_pool_idle",
        "Idle database connections in the pool"
    );
    metrics::describe_gauge!("nexus_up", "1 while the daemon is ready");
    metrics::describe_gauge!(
        "nexus_build_info",
        "Always 1; labels carry version and daemon name"
    );
}

/// Renders every metric, refreshing process figures (CPU, RSS, fds, threads) first.
pub fn render(collector: &metrics_process::Collector) -> String {
    collector.collect();
    prometheus()
        .map(PrometheusHandle::render)
        .unwrap_or_default()
}

/// Resident set size of this process, in bytes (Linux).
pub fn rss_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let resident_pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(resident_pages * 4096)
}
