//! What a daemon's `/metrics` (Prometheus text on its admin socket) says, summed over
//! routes: for `nexusctl status` (since the daemon started) and `nexusctl top` (between two
//! readings).

use std::time::{Duration, Instant};

use nexus_wire::MetricsSummary;
use prometheus_parse::{Scrape, Value};

use crate::admin_client;

/// One reading of a daemon's metrics.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    pub at: Instant,
    pub requests: f64,
    pub errors: f64,
    /// Request durations: (upper bound in seconds, cumulative count), summed over routes.
    pub buckets: Vec<(f64, f64)>,
    pub in_flight: f64,
    pub cpu_seconds: Option<f64>,
    pub rss_bytes: Option<f64>,
    pub db_connections: Option<f64>,
    pub db_idle: Option<f64>,
}

/// Reads the metrics of the daemon behind `socket` (process `pid`, when known).
pub async fn read(socket: &std::path::Path, pid: Option<u32>) -> anyhow::Result<Reading> {
    let (code, body) = admin_client::get(socket, "/metrics", Duration::from_secs(3)).await?;
    if code != 200 {
        anyhow::bail!("the admin socket answered {code} for /metrics");
    }
    let mut r = parse(&String::from_utf8_lossy(&body), Instant::now())?;
    // The exported counter has whole seconds only (metrics counters are integers); the
    // kernel's figure has the clock tick's resolution.
    if let Some(cpu) = pid.and_then(proc_cpu_seconds) {
        r.cpu_seconds = Some(cpu);
    }
    Ok(r)
}

/// User plus system CPU time of process `pid`, from `/proc/<pid>/stat` (Linux).
pub fn proc_cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces: count after it.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // Fields 14 and 15 of the line (utime, stime) are the 12th and 13th after field 2.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    let ticks = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .filter(|t| *t > 0)
        .unwrap_or(100) as f64;
    Some((utime + stime) / ticks)
}

pub fn parse(text: &str, at: Instant) -> anyhow::Result<Reading> {
    let scrape = Scrape::parse(text.lines().map(|l| Ok(l.to_owned())))?;
    let mut r = Reading {
        at,
        requests: 0.0,
        errors: 0.0,
        buckets: Vec::new(),
        in_flight: 0.0,
        cpu_seconds: None,
        rss_bytes: None,
        db_connections: None,
        db_idle: None,
    };
    for s in &scrape.samples {
        let single = match &s.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => Some(*v),
            _ => None,
        };
        match (s.metric.as_str(), &s.value) {
            ("nexus_http_requests_total", _) => r.requests += single.unwrap_or(0.0),
            ("nexus_http_errors_total", _) => r.errors += single.unwrap_or(0.0),
            ("nexus_http_requests_in_flight", _) => r.in_flight += single.unwrap_or(0.0),
            ("process_cpu_seconds_total", _) => r.cpu_seconds = single,
            ("process_resident_memory_bytes", _) => r.rss_bytes = single,
            ("nexus_db_pool_connections", _) => r.db_connections = single,
            ("nexus_db_pool_idle", _) => r.db_idle = single,
            ("nexus_http_request_duration_seconds", Value::Histogram(counts)) => {
                for c in counts {
                    match r.buckets.iter_mut().find(|(le, _)| *le == c.less_than) {
                        Some((_, n)) => *n += c.count,
                        None => r.buckets.push((c.less_than, c.count)),
                    }
                }
            }
            _ => {}
        }
    }
    r.buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    Ok(r)
}

/// The `q` quantile (0–1) of request durations, in seconds, from cumulative bucket counts,
/// interpolated within the bucket as Prometheus's `histogram_quantile` does. `None` with no
/// requests.
pub fn quantile(buckets: &[(f64, f64)], q: f64) -> Option<f64> {
    let total = buckets.last().map(|b| b.1)?;
    if total <= 0.0 {
        return None;
    }
    let rank = q * total;
    let mut prev = (0.0, 0.0);
    for &(le, count) in buckets {
        if count >= rank {
            if le.is_infinite() {
                // Past the largest finite bound: that bound is all that can be said.
                return Some(prev.0);
            }
            let in_bucket = count - prev.1;
            let frac = if in_bucket > 0.0 {
                (rank - prev.1) / in_bucket
            } else {
                1.0
            };
            return Some(prev.0 + (le - prev.0) * frac);
        }
        prev = (le, count);
    }
    Some(prev.0)
}

/// What happened between two readings: buckets of the requests in between.
pub fn delta_buckets(before: &Reading, after: &Reading) -> Vec<(f64, f64)> {
    after
        .buckets
        .iter()
        .map(|&(le, n)| {
            let old = before
                .buckets
                .iter()
                .find(|(l, _)| *l == le)
                .map_or(0.0, |b| b.1);
            (le, (n - old).max(0.0))
        })
        .collect()
}

/// Since the daemon started, for `nexusctl status`.
pub fn summary(r: &Reading) -> MetricsSummary {
    MetricsSummary {
        requests: r.requests.max(0.0) as u64,
        errors: r.errors.max(0.0) as u64,
        latency_p50_ms: quantile(&r.buckets, 0.5).map(|s| s * 1000.0),
        latency_p99_ms: quantile(&r.buckets, 0.99).map(|s| s * 1000.0),
        in_flight: r.in_flight.max(0.0) as u64,
        cpu_seconds: r.cpu_seconds,
        db_connections: r.db_connections.map(|v| v.max(0.0) as u32),
        db_idle: r.db_idle.map(|v| v.max(0.0) as u32),
    }
}

/// A duration in milliseconds, as the tables show it.
pub fn ms(v: Option<f64>) -> String {
    match v {
        None => "-".to_owned(),
        Some(x) if x < 10.0 => format!("{x:.2} ms"),
        Some(x) if x < 1000.0 => format!("{x:.0} ms"),
        Some(x) => format!("{:.1} s", x / 1000.0),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const TEXT: &str = r#"# TYPE nexus_http_requests_total counter
nexus_http_requests_total{route="/api/a",method="GET",status="2xx"} 90
nexus_http_requests_total{route="/api/b",method="POST",status="4xx"} 10
# TYPE nexus_http_errors_total counter
nexus_http_errors_total{route="/api/b"} 2
# TYPE nexus_http_requests_in_flight gauge
nexus_http_requests_in_flight 1
# TYPE nexus_http_request_duration_seconds histogram
nexus_http_request_duration_seconds_bucket{route="/api/a",le="0.001"} 50
nexus_http_request_duration_seconds_bucket{route="/api/a",le="0.01"} 90
nexus_http_request_duration_seconds_bucket{route="/api/a",le="+Inf"} 90
nexus_http_request_duration_seconds_sum{route="/api/a"} 0.2
nexus_http_request_duration_seconds_count{route="/api/a"} 90
nexus_http_request_duration_seconds_bucket{route="/api/b",le="0.001"} 0
nexus_http_request_duration_seconds_bucket{route="/api/b",le="0.01"} 9
nexus_http_request_duration_seconds_bucket{route="/api/b",le="+Inf"} 10
nexus_http_request_duration_seconds_sum{route="/api/b"} 0.3
nexus_http_request_duration_seconds_count{route="/api/b"} 10
# TYPE process_cpu_seconds_total counter
process_cpu_seconds_total 1.5
# TYPE nexus_db_pool_connections gauge
nexus_db_pool_connections 4
# TYPE nexus_db_pool_idle gauge
nexus_db_pool_idle 3
"#;

    #[test]
    fn sums_routes_and_reads_quantiles() {
        let r = parse(TEXT, Instant::now()).unwrap();
        assert_eq!((r.requests, r.errors, r.in_flight), (100.0, 2.0, 1.0));
        assert_eq!(
            r.buckets,
            vec![(0.001, 50.0), (0.01, 99.0), (f64::INFINITY, 100.0)]
        );
        // Rank 50 of 100 is the last of the first bucket.
        assert_eq!(quantile(&r.buckets, 0.5), Some(0.001));
        // Rank 99 is the top of the second bucket; above it only the last bound is known.
        assert!((quantile(&r.buckets, 0.99).unwrap() - 0.01).abs() < 1e-12);
        assert_eq!(quantile(&r.buckets, 0.999), Some(0.01));
        let s = summary(&r);
        assert_eq!(
            (s.requests, s.errors, s.db_connections, s.db_idle),
            (100, 2, Some(4), Some(3))
        );
        assert_eq!(s.cpu_seconds, Some(1.5));
    }

    #[test]
    fn reads_this_process_cpu_time() {
        // Burn a little CPU so the figure cannot be zero at tick resolution.
        let start = Instant::now();
        let mut x = 0u64;
        while start.elapsed() < Duration::from_millis(50) {
            x = x.wrapping_mul(31).wrapping_add(1);
        }
        assert!(x != 1);
        let cpu = proc_cpu_seconds(std::process::id()).unwrap();
        assert!(cpu > 0.0, "{cpu}");
        assert_eq!(proc_cpu_seconds(u32::MAX), None);
    }

    #[test]
    fn deltas_and_empty_histograms() {
        let before = parse(TEXT, Instant::now()).unwrap();
        let mut after = before.clone();
        after.buckets = vec![(0.001, 60.0), (0.01, 109.0), (f64::INFINITY, 110.0)];
        let d = delta_buckets(&before, &after);
        assert_eq!(d, vec![(0.001, 10.0), (0.01, 10.0), (f64::INFINITY, 10.0)]);
        // All 10 new requests took up to 1 ms: the median is interpolated within that bucket.
        assert_eq!(quantile(&d, 0.5), Some(0.0005));
        assert_eq!(quantile(&[], 0.5), None);
        assert_eq!(quantile(&[(0.001, 0.0), (f64::INFINITY, 0.0)], 0.5), None);
        assert!(parse("", Instant::now()).unwrap().buckets.is_empty());
        assert_eq!(ms(Some(0.4)), "0.40 ms");
        assert_eq!(ms(Some(2500.0)), "2.5 s");
        assert_eq!(ms(None), "-");
    }
}
