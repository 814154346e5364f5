//! The dashboard's state: what the collector last saw, the history the sparklines draw,
//! and what the keys do. No terminal here, so all of it is testable.

use std::collections::{HashMap, VecDeque};

use nexus_wire::DaemonState;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::alerts::Alert;
use crate::metrics::{self, Reading};

/// Points kept for each sparkline (one per refresh).
pub const HISTORY: usize = 120;

/// What the collector gathers each refresh.
#[derive(Debug, Clone, Default)]
pub struct Sample {
    /// Unix seconds.
    pub now: i64,
    pub url: Option<String>,
    pub running: bool,
    pub services: Vec<ServiceSample>,
    pub alerts: Vec<Alert>,
    pub backup: BackupInfo,
    /// (used, total) bytes of the state directory's file system.
    pub disk: Option<(u64, u64)>,
    /// The last lines of each service's log.
    pub logs: HashMap<String, Vec<String>>,
}

#[derive(Debug, Clone)]
pub struct ServiceSample {
    pub name: String,
    pub state: DaemonState,
    pub healthy: bool,
    pub pid: Option<u32>,
    pub uptime_secs: Option<f64>,
    pub rss_bytes: Option<u64>,
    pub restarts: u32,
    pub reading: Option<Reading>,
}

#[derive(Debug, Clone, Default)]
pub struct BackupInfo {
    /// "every 6 h to /mnt/backup", or none when nothing is scheduled.
    pub schedule: Option<String>,
    /// (finished, ok, error) of the last attempt.
    pub last: Option<(i64, bool, Option<String>)>,
    /// When the last successful one finished.
    pub last_success: Option<i64>,
    pub next: Option<i64>,
}

/// A service's row, with rates since the previous refresh.
#[derive(Debug, Clone, Default)]
pub struct Rates {
    pub requests_per_sec: Option<f64>,
    pub errors_per_sec: Option<f64>,
    pub p99_ms: Option<f64>,
    pub cpu_percent: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    Normal,
    Help,
    /// Asking whether to restart this service.
    Confirm(String),
}

/// What the main loop must do for a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Quit,
    Restart(String),
}

#[derive(Debug, Default)]
pub struct History {
    pub requests: VecDeque<u64>,
    /// p99 latency in tenths of a millisecond (the sparkline takes integers).
    pub latency: VecDeque<u64>,
}

pub struct App {
    pub sample: Sample,
    pub rates: HashMap<String, Rates>,
    pub history: HashMap<String, History>,
    pub selected: usize,
    pub mode: Mode,
    /// Only warnings and errors in the log pane (`e` toggles).
    pub errors_only: bool,
    /// The last thing done (a restart's outcome), shown in the footer.
    pub message: Option<String>,
    previous: HashMap<String, Reading>,
}

impl Default for App {
    fn default() -> Self {
        Self::new()
    }
}

impl App {
    pub fn new() -> Self {
        Self {
            sample: Sample::default(),
            rates: HashMap::new(),
            history: HashMap::new(),
            selected: 0,
            mode: Mode::Normal,
            errors_only: true,
            message: None,
            previous: HashMap::new(),
        }
    }

    /// Takes a new sample: rates against the previous readings, one more history point.
    pub fn update(&mut self, sample: Sample) {
        for s in &sample.services {
            let Some(now) = &s.reading else {
                self.rates.insert(s.name.clone(), Rates::default());
                continue;
            };
            let rates = match self.previous.get(&s.name) {
                // A restarted daemon starts its counters again: no rate across that.
                Some(before) if now.requests >= before.requests && now.at > before.at => {
                    let secs = now.at.duration_since(before.at).as_secs_f64();
                    let delta = metrics::delta_buckets(before, now);
                    Rates {
                        requests_per_sec: Some((now.requests - before.requests) / secs),
                        errors_per_sec: Some(((now.errors - before.errors) / secs).max(0.0)),
                        p99_ms: metrics::quantile(&delta, 0.99).map(|s| s * 1000.0),
                        cpu_percent: match (before.cpu_seconds, now.cpu_seconds) {
                            (Some(a), Some(b)) => Some(((b - a) / secs * 100.0).max(0.0)),
                            _ => None,
                        },
                    }
                }
                _ => Rates::default(),
            };
            let h = self.history.entry(s.name.clone()).or_default();
            push(
                &mut h.requests,
                rates.requests_per_sec.unwrap_or(0.0).round() as u64,
            );
            push(
                &mut h.latency,
                (rates.p99_ms.unwrap_or(0.0) * 10.0).round() as u64,
            );
            self.rates.insert(s.name.clone(), rates);
            self.previous.insert(s.name.clone(), now.clone());
        }
        self.sample = sample;
        if self.selected >= self.sample.services.len() {
            self.selected = self.sample.services.len().saturating_sub(1);
        }
    }

    pub fn selected_service(&self) -> Option<&ServiceSample> {
        self.sample.services.get(self.selected)
    }

    pub fn handle_key(&mut self, key: KeyEvent) -> Option<Action> {
        if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
            return Some(Action::Quit);
        }
        match self.mode.clone() {
            Mode::Help => {
                // Any key closes the help; q still quits.
                self.mode = Mode::Normal;
                (key.code == KeyCode::Char('q')).then_some(Action::Quit)
            }
            Mode::Confirm(name) => {
                self.mode = Mode::Normal;
                match key.code {
                    KeyCode::Char('y') | KeyCode::Char('Y') => {
                        self.message = Some(format!("restarting {name}…"));
                        Some(Action::Restart(name))
                    }
                    _ => {
                        self.message = Some(format!("{name} was not restarted"));
                        None
                    }
                }
            }
            Mode::Normal => match key.code {
                KeyCode::Char('q') | KeyCode::Esc => Some(Action::Quit),
                KeyCode::Char('?') | KeyCode::Char('h') | KeyCode::F(1) => {
                    self.mode = Mode::Help;
                    None
                }
                KeyCode::Down | KeyCode::Char('j') | KeyCode::Tab => {
                    let n = self.sample.services.len();
                    if n > 0 {
                        self.selected = (self.selected + 1) % n;
                    }
                    None
                }
                KeyCode::Up | KeyCode::Char('k') | KeyCode::BackTab => {
                    let n = self.sample.services.len();
                    if n > 0 {
                        self.selected = (self.selected + n - 1) % n;
                    }
                    None
                }
                KeyCode::Char('e') => {
                    self.errors_only = !self.errors_only;
                    None
                }
                KeyCode::Char('r') => {
                    if let Some(s) = self.selected_service() {
                        if self.sample.running {
                            self.mode = Mode::Confirm(s.name.clone());
                        } else {
                            self.message =
                                Some("NEXUS is not running: nothing to restart".to_owned());
                        }
                    }
                    None
                }
                _ => None,
            },
        }
    }

    /// The log lines the log pane shows for the selected service, oldest first.
    pub fn log_lines(&self) -> Vec<&str> {
        let Some(s) = self.selected_service() else {
            return Vec::new();
        };
        let Some(lines) = self.sample.logs.get(&s.name) else {
            return Vec::new();
        };
        lines
            .iter()
            .map(String::as_str)
            .filter(|l| !self.errors_only || is_problem(l))
            .collect()
    }
}

/// A warning or error line: tracing's level field, or words a failing process writes.
pub fn is_problem(line: &str) -> bool {
    line.contains(" ERROR ")
        || line.contains(" WARN ")
        || line.contains("\"level\":\"ERROR\"")
        || line.contains("\"level\":\"WARN\"")
        || line.starts_with("Error")
        || line.starts_with("nexusd: ")
        || line.contains("panicked")
}

fn push(q: &mut VecDeque<u64>, v: u64) {
    if q.len() == HISTORY {
        q.pop_front();
    }
    q.push_back(v);
}
