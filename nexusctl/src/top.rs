//! `nexusctl top`: every few seconds, one line per running daemon with what happened since
//! the last line — requests and errors per second, latency percentiles, requests in flight,
//! CPU, memory and the database pool. Plain lines (like `vmstat`), so it reads the same on a
//! terminal, in a pipe and in a log; the full-screen view is `nexusctl dash` (planned).

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;

use crate::cli::fail;
use crate::daemons::DAEMONS;
use crate::metrics::{self, Reading};
use crate::state::{StateDir, alive};

pub fn run(dir: &StateDir, interval: f64, count: Option<u64>) -> Result<ExitCode> {
    if !(0.1..=3600.0).contains(&interval) {
        return fail(2, "--interval: between 0.1 and 3600 seconds");
    }
    let Some(rec) = dir.read_record().filter(|r| !r.stopped && alive(r.pid)) else {
        return fail(
            3,
            format!(
                "NEXUS is not running from {}: start it with `nexusctl up`",
                dir.root.display()
            ),
        );
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let sockets: Vec<(String, std::path::PathBuf, Option<u32>)> = DAEMONS
        .iter()
        .filter_map(|spec| {
            rec.daemons
                .iter()
                .find(|d| d.name == spec.name)
                .map(|d| (d.name.clone(), d.admin_socket.clone(), d.pid))
        })
        .collect();
    let read_all = |rt: &tokio::runtime::Runtime| -> Vec<Option<Reading>> {
        sockets
            .iter()
            .map(|(_, s, pid)| rt.block_on(metrics::read(s, *pid)).ok())
            .collect()
    };
    let mut before = read_all(&rt);
    let mut out = std::io::stdout().lock();
    let header = format!(
        "{:<8} {:<8} {:>8} {:>7} {:>9} {:>9} {:>6} {:>6} {:>10} {:>7}",
        "TIME", "DAEMON", "REQ/S", "ERR/S", "P50", "P99", "INFL", "CPU%", "MEMORY", "DB USE"
    );
    let mut printed = 0u64;
    loop {
        std::thread::sleep(Duration::from_secs_f64(interval));
        let after = read_all(&rt);
        if printed.is_multiple_of(20) && writeln!(out, "{header}").is_err() {
            return Ok(ExitCode::SUCCESS);
        }
        let time = chrono_like_now();
        for (i, (name, _, _)) in sockets.iter().enumerate() {
            let line = match (&before[i], &after[i]) {
                (Some(b), Some(a)) => line(&time, name, b, a),
                _ => format!("{time:<8} {name:<8} (not answering)"),
            };
            // A closed pipe (`nexusctl top | head`) ends it quietly.
            if writeln!(out, "{line}").is_err() {
                return Ok(ExitCode::SUCCESS);
            }
        }
        let _ = out.flush();
        printed += 1;
        if count.is_some_and(|c| printed >= c) {
            return Ok(ExitCode::SUCCESS);
        }
        before = after;
    }
}

/// The line for one daemon between readings `b` and `a`.
fn line(time: &str, name: &str, b: &Reading, a: &Reading) -> String {
    let secs = a.at.duration_since(b.at).as_secs_f64().max(1e-6);
    let rate = |x: f64, y: f64| ((y - x) / secs).max(0.0);
    let delta = metrics::delta_buckets(b, a);
    let cpu = match (b.cpu_seconds, a.cpu_seconds) {
        (Some(x), Some(y)) => format!("{:.1}", rate(x, y) * 100.0),
        _ => "-".to_owned(),
    };
    let mem = a
        .rss_bytes
        .map_or_else(|| "-".to_owned(), |r| format!("{:.1} MiB", r / 1_048_576.0));
    let db = match (a.db_connections, a.db_idle) {
        (Some(open), Some(idle)) => format!("{}/{}", (open - idle).max(0.0), open),
        _ => "-".to_owned(),
    };
    format!(
        "{:<8} {:<8} {:>8.1} {:>7.1} {:>9} {:>9} {:>6} {:>6} {:>10} {:>7}",
        time,
        name,
        rate(b.requests, a.requests),
        rate(b.errors, a.errors),
        metrics::ms(metrics::quantile(&delta, 0.5).map(|s| s * 1000.0)),
        metrics::ms(metrics::quantile(&delta, 0.99).map(|s| s * 1000.0)),
        a.in_flight.max(0.0),
        cpu,
        mem,
        db,
    )
}

/// The wall-clock time of day (UTC), HH:MM:SS.
fn chrono_like_now() -> String {
    let secs = crate::state::now_secs() % 86_400;
    format!(
        "{:02}:{:02}:{:02}",
        secs / 3600,
        (secs % 3600) / 60,
        secs % 60
    )
}
