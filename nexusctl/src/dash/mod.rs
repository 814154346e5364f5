//! `nexusctl dash`: the terminal dashboard (ratatui).
//!
//! Laid out as ratatui's own examples and bottom are: the state and the keys in `app.rs`
//! (no terminal, testable), the drawing in `ui.rs` (one function of the state, tested on
//! ratatui's TestBackend against the screens in `snapshots/`), and here the two loops: a
//! collector thread that gathers a [`Sample`] every second, and the main loop that draws,
//! reads keys and runs what they ask for. `ratatui::init` puts the terminal back on exit
//! and on a panic.

mod app;
mod ui;

use std::process::ExitCode;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use ratatui::crossterm::event::{self, Event, KeyEventKind};

use crate::backup::schedule;
use crate::daemons::DAEMONS;
use crate::state::StateDir;
use app::{Action, App, BackupInfo, Sample, ServiceSample};

/// How often the collector samples.
const REFRESH: Duration = Duration::from_secs(1);
/// How much of each log the dashboard reads each time.
const LOG_TAIL_BYTES: u64 = 64 * 1024;

pub fn run(dir: &StateDir) -> Result<ExitCode> {
    if !dir.is_provisioned() {
        return crate::cli::fail(
            2,
            format!(
                "{} has no config.toml: run `nexusctl init` first",
                dir.root.display()
            ),
        );
    }
    use std::io::IsTerminal;
    if !std::io::stdout().is_terminal() {
        return crate::cli::fail(
            2,
            "the dashboard needs a terminal; for scripts use `nexusctl status --json`, `nexusctl top` or `nexusctl alerts --json`",
        );
    }
    let (tx, samples) = mpsc::sync_channel::<Sample>(2);
    let collector_dir = dir.clone();
    std::thread::Builder::new()
        .name("dash-collector".into())
        .spawn(move || collect_loop(&collector_dir, &tx))
        .context("cannot start the dashboard's collector")?;

    let mut terminal = ratatui::init();
    let result = main_loop(&mut terminal, dir, &samples);
    ratatui::restore();
    result.map(|()| ExitCode::SUCCESS)
}

fn main_loop(
    terminal: &mut ratatui::DefaultTerminal,
    dir: &StateDir,
    samples: &mpsc::Receiver<Sample>,
) -> Result<()> {
    let mut app = App::new();
    let (done_tx, done) = mpsc::channel::<String>();
    // The first sample, so the first screen is not empty.
    if let Ok(s) = samples.recv_timeout(Duration::from_secs(5)) {
        app.update(s);
    }
    loop {
        terminal
            .draw(|f| ui::draw(f, &app))
            .context("cannot draw the dashboard")?;
        let deadline = Instant::now() + Duration::from_millis(200);
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            if !event::poll(left).context("cannot read the keyboard")? {
                break;
            }
            if let Event::Key(key) = event::read().context("cannot read the keyboard")?
                && key.kind == KeyEventKind::Press
            {
                match app.handle_key(key) {
                    Some(Action::Quit) => return Ok(()),
                    Some(Action::Restart(name)) => {
                        let dir = dir.clone();
                        let tx = done_tx.clone();
                        std::thread::spawn(move || {
                            let started = Instant::now();
                            let outcome =
                                crate::control::for_instance(&dir).and_then(|c| c.restart(&name));
                            let _ = tx.send(match outcome {
                                Ok(()) => format!(
                                    "{name} restarted and ready in {:.1} s",
                                    started.elapsed().as_secs_f64()
                                ),
                                Err(e) => format!("{e:#}"),
                            });
                        });
                    }
                    None => {}
                }
                break;
            }
        }
        while let Ok(s) = samples.try_recv() {
            app.update(s);
        }
        while let Ok(m) = done.try_recv() {
            app.message = Some(m);
        }
    }
}

/// Gathers a sample every second until the dashboard is gone.
fn collect_loop(dir: &StateDir, tx: &mpsc::SyncSender<Sample>) {
    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return;
    };
    loop {
        let started = Instant::now();
        let sample = rt.block_on(gather(dir));
        if tx.send(sample).is_err() {
            return;
        }
        std::thread::sleep(REFRESH.saturating_sub(started.elapsed()));
    }
}

async fn gather(dir: &StateDir) -> Sample {
    let (status, readings) = crate::status::collect_with_readings(dir).await;
    let running = status.supervisor_pid.is_some();
    let mut services = Vec::new();
    for (d, reading) in status.daemons.iter().zip(readings) {
        services.push(ServiceSample {
            name: d.name.clone(),
            state: d.state,
            healthy: d.healthy,
            pid: d.pid,
            uptime_secs: d.uptime_secs,
            rss_bytes: d.rss_bytes,
            restarts: d.restarts,
            reading,
        });
    }
    let now = chrono::Utc::now().timestamp();
    // The supervisor evaluates them every 15 s; without it (or if that is stale), here.
    let alerts = match crate::alerts::last(dir) {
        Some(r) if running && now - r.evaluated_at < 60 => r.alerts,
        _ => crate::alerts::evaluate(dir)
            .await
            .map(|r| r.alerts)
            .unwrap_or_default(),
    };
    let sched = schedule::load(dir).ok().flatten();
    let st = schedule::status(dir);
    let backup = BackupInfo {
        schedule: sched
            .as_ref()
            .map(|s| format!("{} to {}", s.describe(), s.repo)),
        last: st
            .last_attempt
            .as_ref()
            .map(|a| (a.finished, a.ok, a.error.clone())),
        last_success: st.last_success.as_ref().map(|a| a.finished),
        next: sched.as_ref().map(|s| {
            s.next_run(st.last_attempt.as_ref().map(|a| a.started))
                .timestamp()
        }),
    };
    let logs = DAEMONS
        .iter()
        .map(|d| {
            (
                d.name.to_owned(),
                crate::logs::tail(&dir.log_file(d.name), LOG_TAIL_BYTES),
            )
        })
        .collect();
    Sample {
        now,
        url: status.url.clone(),
        running,
        services,
        alerts,
        backup,
        disk: crate::alerts::disk_usage(&dir.root),
        logs,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::path::PathBuf;

    use nexus_wire::DaemonState;
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;
    use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

    use super::app::{Action, App, BackupInfo, Mode, Sample, ServiceSample};
    use crate::alerts::{Alert, Severity};
    use crate::metrics::Reading;

    const NOW: i64 = 1_800_000_000;

    fn reading(at: Instant, requests: f64, errors: f64, fast: f64, cpu: f64) -> Reading {
        Reading {
            at,
            requests,
            errors,
            // Cumulative: `fast` requests under 5 ms, the rest under 50 ms.
            buckets: vec![(0.005, fast), (0.05, requests), (f64::INFINITY, requests)],
            in_flight: 0.0,
            cpu_seconds: Some(cpu),
            rss_bytes: Some(43_000_000.0),
            db_connections: Some(5.0),
            db_idle: Some(4.0),
        }
    }

    use std::time::{Duration, Instant};

    fn service(reading: Reading) -> ServiceSample {
        ServiceSample {
            name: "web".into(),
            state: DaemonState::Running,
            healthy: true,
            pid: Some(4242),
            uptime_secs: Some(3725.0),
            rss_bytes: Some(43_000_000),
            restarts: 1,
            reading: Some(reading),
        }
    }

    fn sample(r: Reading) -> Sample {
        let mut logs = HashMap::new();
        logs.insert(
            "web".to_owned(),
            vec![
                "2026-11-24T06:00:00Z  INFO nexus_runtime: serving on 127.0.0.1:8080".to_owned(),
                "2026-11-24T06:00:05Z  WARN identity: login throttled for 10.0.0.7".to_owned(),
                "2026-11-24T06:00:09Z ERROR nexus_store: database is locked".to_owned(),
            ],
        );
        Sample {
            now: NOW,
            url: Some("http://127.0.0.1:8080/".into()),
            running: true,
            services: vec![service(r)],
            alerts: vec![Alert {
                id: "backup-overdue".into(),
                severity: Severity::Warning,
                summary: "the last successful backup is 13 h old (the schedule is every 6 h)"
                    .into(),
                action: None,
                since: NOW - 600,
            }],
            backup: BackupInfo {
                schedule: Some("every 6 h to /mnt/backup".into()),
                last: Some((NOW - 3600, true, None)),
                last_success: Some(NOW - 3600),
                next: Some(NOW + 5 * 3600),
            },
            disk: Some((40 * 1024 * 1024 * 1024, 100 * 1024 * 1024 * 1024)),
            logs,
        }
    }

    /// An app that saw two samples one second apart: 12 requests, 1 error, 5% CPU.
    fn app() -> App {
        let t0 = Instant::now();
        let mut app = App::new();
        app.update(sample(reading(t0, 100.0, 0.0, 90.0, 1.0)));
        app.update(sample(reading(
            t0 + Duration::from_secs(1),
            112.0,
            1.0,
            100.0,
            1.05,
        )));
        app
    }

    fn screen(app: &App) -> String {
        let mut t = Terminal::new(TestBackend::new(100, 30)).unwrap();
        t.draw(|f| super::ui::draw(f, app)).unwrap();
        let buf = t.backend().buffer().clone();
        let mut out = String::new();
        for y in 0..buf.area.height {
            let mut line = String::new();
            for x in 0..buf.area.width {
                line.push_str(buf[(x, y)].symbol());
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }

    /// Compares a drawn screen with `snapshots/NAME.txt`; `UPDATE_SNAPSHOTS=1` rewrites it.
    fn assert_screen(name: &str, got: &str) {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("src/dash/snapshots")
            .join(format!("{name}.txt"));
        if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, got).unwrap();
            return;
        }
        let want = std::fs::read_to_string(&path).unwrap_or_else(|_| {
            panic!(
                "no {}: run with UPDATE_SNAPSHOTS=1 and review it",
                path.display()
            )
        });
        assert!(
            want == got,
            "the {name} screen changed (UPDATE_SNAPSHOTS=1 to accept):\n--- want\n{want}--- got\n{got}"
        );
    }

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    #[test]
    fn the_main_screen() {
        let app = app();
        let s = screen(&app);
        // The figures the rates come to, and the sections.
        assert!(s.contains("12.0"), "{s}");
        assert!(s.contains("5.0"), "{s}");
        assert!(s.contains("WARNINGS"), "{s}");
        assert!(s.contains("database is locked"), "{s}");
        assert!(!s.contains("serving on"), "only problems by default: {s}");
        assert_screen("main", &s);
    }

    #[test]
    fn help_and_confirmation_screens() {
        let mut app = app();
        assert_eq!(app.handle_key(key(KeyCode::Char('?'))), None);
        assert_eq!(app.mode, Mode::Help);
        assert_screen("help", &screen(&app));
        assert_eq!(app.handle_key(key(KeyCode::Char('x'))), None);
        assert_eq!(app.mode, Mode::Normal);

        assert_eq!(app.handle_key(key(KeyCode::Char('r'))), None);
        assert_eq!(app.mode, Mode::Confirm("web".into()));
        assert_screen("confirm-restart", &screen(&app));
        // Anything but y cancels.
        assert_eq!(app.handle_key(key(KeyCode::Char('n'))), None);
        assert_eq!(app.message.as_deref(), Some("web was not restarted"));
        app.handle_key(key(KeyCode::Char('r')));
        assert_eq!(
            app.handle_key(key(KeyCode::Char('y'))),
            Some(Action::Restart("web".into()))
        );
        assert_eq!(app.handle_key(key(KeyCode::Char('q'))), Some(Action::Quit));
        assert_eq!(
            app.handle_key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)),
            Some(Action::Quit)
        );
    }

    #[test]
    fn the_log_filter_and_selection() {
        let mut app = app();
        assert_eq!(app.log_lines().len(), 2);
        app.handle_key(key(KeyCode::Char('e')));
        assert_eq!(app.log_lines().len(), 3);
        assert!(screen(&app).contains("serving on"));
        // One service: selection wraps onto itself.
        app.handle_key(key(KeyCode::Down));
        assert_eq!(app.selected, 0);
        app.handle_key(key(KeyCode::Up));
        assert_eq!(app.selected, 0);
    }

    #[test]
    fn a_stopped_instance() {
        let mut app = App::new();
        let mut s = sample(reading(Instant::now(), 0.0, 0.0, 0.0, 0.0));
        s.running = false;
        s.url = None;
        s.services[0].state = DaemonState::Stopped;
        s.services[0].healthy = false;
        s.services[0].pid = None;
        s.services[0].uptime_secs = None;
        s.services[0].reading = None;
        s.services[0].rss_bytes = None;
        s.alerts = vec![Alert {
            id: "down".into(),
            severity: Severity::Critical,
            summary: "NEXUS is not running".into(),
            action: None,
            since: NOW,
        }];
        s.backup = BackupInfo::default();
        app.update(s);
        app.handle_key(key(KeyCode::Char('r')));
        assert_eq!(app.mode, Mode::Normal, "nothing to restart");
        assert_screen("stopped", &screen(&app));
    }
}
