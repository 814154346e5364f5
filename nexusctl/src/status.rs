//! `nexusctl status`: each daemon's state, health, version, uptime and apps.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use nexus_wire::{DaemonReport, DaemonState, DaemonStatus, StatusReport};

use crate::admin_client;
use crate::daemons::DAEMONS;
use crate::state::{StateDir, alive};

pub fn run(dir: &StateDir, json: bool) -> Result<ExitCode> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let report = rt.block_on(collect(dir));
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_human(&report, dir);
    }
    let running = report.supervisor_pid.is_some();
    Ok(if report.healthy {
        ExitCode::SUCCESS
    } else if !running {
        ExitCode::from(3)
    } else {
        ExitCode::FAILURE
    })
}

pub async fn collect(dir: &StateDir) -> StatusReport {
    collect_with_readings(dir).await.0
}

/// The status, and each daemon's metrics reading (in the order of `daemons`) it was
/// summarised from, for callers that compute rates between readings (the dashboard).
pub async fn collect_with_readings(
    dir: &StateDir,
) -> (StatusReport, Vec<Option<crate::metrics::Reading>>) {
    let rec = dir.read_record();
    let live = rec.as_ref().filter(|r| !r.stopped && alive(r.pid));
    let mut daemons = Vec::new();
    let mut readings = Vec::new();
    for spec in DAEMONS {
        let mut reading = None;
        let recd = rec
            .as_ref()
            .and_then(|r| r.daemons.iter().find(|d| d.name == spec.name));
        let mut st = DaemonStatus {
            name: spec.name.to_owned(),
            state: DaemonState::Stopped,
            pid: None,
            ready: false,
            healthy: false,
            version: None,
            uptime_secs: None,
            restarts: recd.map_or(0, |d| d.restarts),
            apps: Vec::new(),
            rss_bytes: None,
            problem: None,
            metrics: None,
        };
        match (live, recd) {
            (None, d) => {
                if d.is_some_and(|d| d.state == DaemonState::Failed) {
                    st.state = DaemonState::Failed;
                    st.problem = Some(
                        "it failed the last time it ran; see the output of `nexusctl up`"
                            .to_owned(),
                    );
                } else if rec.as_ref().is_some_and(|r| !r.stopped) {
                    st.state = DaemonState::Failed;
                    st.problem = Some(
                        "the supervisor is gone without stopping cleanly; run `nexusctl up` again"
                            .to_owned(),
                    );
                }
            }
            (Some(_), Some(d)) => {
                st.state = d.state;
                st.pid = d.pid;
                match admin_client::get(&d.admin_socket, "/status", Duration::from_secs(3)).await {
                    Ok((200, body)) => match serde_json::from_slice::<DaemonReport>(&body) {
                        Ok(r) => {
                            st.ready = r.ready;
                            st.healthy = r.healthy;
                            st.version = Some(r.version);
                            st.uptime_secs = Some(r.uptime_secs);
                            st.apps = r.apps;
                            st.rss_bytes = r.rss_bytes;
                            st.pid = Some(r.pid);
                            if !r.healthy {
                                st.problem =
                                    Some("an app reports a problem; see its entry".to_owned());
                            }
                            reading = crate::metrics::read(&d.admin_socket, Some(r.pid))
                                .await
                                .ok();
                            st.metrics = reading.as_ref().map(crate::metrics::summary);
                        }
                        Err(e) => st.problem = Some(format!("unreadable status: {e}")),
                    },
                    Ok((code, _)) => st.problem = Some(format!("admin socket answered {code}")),
                    Err(e) => {
                        if st.state == DaemonState::Running {
                            st.problem = Some(format!("{e:#}"));
                        }
                    }
                }
            }
            (Some(_), None) => st.problem = Some("not started by this supervisor".to_owned()),
        }
        daemons.push(st);
        readings.push(reading);
    }
    let healthy = live.is_some() && daemons.iter().all(|d| d.healthy);
    let report = StatusReport {
        state_dir: dir.root.display().to_string(),
        url: live.map(|r| r.url.clone()),
        healthy,
        supervisor_pid: live.map(|r| r.pid),
        daemons,
        release: crate::release::layout::link_version(&crate::release::layout::current_dir(dir)),
        previous_release: crate::release::layout::link_version(
            &crate::release::layout::previous_link(dir),
        ),
    };
    (report, readings)
}

fn print_human(r: &StatusReport, dir: &StateDir) {
    match (&r.url, r.healthy) {
        (Some(url), true) => println!("NEXUS is running and healthy at {url}"),
        (Some(url), false) => println!("NEXUS is running at {url} but NOT healthy"),
        (None, _) if !dir.is_provisioned() => println!(
            "No NEXUS instance in {} (run `nexusctl init` or `nexusctl up`)",
            r.state_dir
        ),
        (None, _) => println!("NEXUS is not running (state in {})", r.state_dir),
    }
    if let Some(release) = &r.release {
        match &r.previous_release {
            Some(p) => {
                println!("Release {release} (installed; `nexusctl rollback` returns to {p})")
            }
            None => println!("Release {release} (installed)"),
        }
    }
    println!();
    println!(
        "{:<10} {:<11} {:<8} {:<8} {:<9} {:<10} {:>9}  APPS",
        "DAEMON", "STATE", "PID", "HEALTH", "VERSION", "UPTIME", "MEMORY"
    );
    for d in &r.daemons {
        let apps = d
            .apps
            .iter()
            .map(|a| {
                if a.healthy {
                    a.id.clone()
                } else {
                    format!("{}(!)", a.id)
                }
            })
            .collect::<Vec<_>>()
            .join(",");
        println!(
            "{:<10} {:<11} {:<8} {:<8} {:<9} {:<10} {:>9}  {}",
            d.name,
            d.state.to_string(),
            d.pid.map_or_else(|| "-".to_owned(), |p| p.to_string()),
            if d.healthy {
                "ok"
            } else if d.state == DaemonState::Running {
                "FAILING"
            } else {
                "-"
            },
            d.version.clone().unwrap_or_else(|| "-".to_owned()),
            d.uptime_secs.map_or_else(|| "-".to_owned(), human_duration),
            d.rss_bytes.map_or_else(
                || "-".to_owned(),
                |b| format!("{:.1} MiB", b as f64 / 1048576.0)
            ),
            if apps.is_empty() {
                "-".to_owned()
            } else {
                apps
            },
        );
        if let Some(m) = &d.metrics {
            let db = match (m.db_connections, m.db_idle) {
                (Some(open), Some(idle)) => {
                    format!(
                        "; database pool {} of {open} in use",
                        open.saturating_sub(idle)
                    )
                }
                _ => String::new(),
            };
            println!(
                "  {}: {} requests, {} errors since start; latency p50 {}, p99 {}; CPU {}{db}",
                d.name,
                m.requests,
                m.errors,
                crate::metrics::ms(m.latency_p50_ms),
                crate::metrics::ms(m.latency_p99_ms),
                m.cpu_seconds
                    .map_or_else(|| "-".to_owned(), |c| format!("{c:.1} s")),
            );
        }
        if let Some(p) = &d.problem {
            println!("  {}: {p}", d.name);
        }
        for a in d.apps.iter().filter(|a| !a.healthy) {
            println!("  {}: {}", a.id, a.detail.clone().unwrap_or_default());
        }
    }
}

fn human_duration(secs: f64) -> String {
    let s = secs as u64;
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{}s", s / 60, s % 60),
        3600..=86399 => format!("{}h{}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d{}h", s / 86400, (s % 86400) / 3600),
    }
}
