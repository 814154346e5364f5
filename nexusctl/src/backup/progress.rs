//! What a long backup or restore shows: a progress bar (bytes, rate, ETA) on a terminal, a
//! line every few seconds when the output is a log, nothing with `--json` or `--quiet`.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Bar,
    Lines,
    Silent,
}

impl Mode {
    /// A bar when stderr is a terminal, lines otherwise; nothing for JSON or quiet output.
    pub fn choose(json: bool, quiet: bool) -> Self {
        if json || quiet {
            Self::Silent
        } else if std::io::stderr().is_terminal() {
            Self::Bar
        } else {
            Self::Lines
        }
    }
}

pub struct Progress {
    mode: Mode,
    bar: Mutex<Option<ProgressBar>>,
    total: AtomicU64,
    done: AtomicU64,
    label: Mutex<String>,
    started: Mutex<Instant>,
    last_line: Mutex<Instant>,
}

const LINE_EVERY: Duration = Duration::from_secs(5);

impl Progress {
    pub fn new(mode: Mode) -> Self {
        Self {
            mode,
            bar: Mutex::new(None),
            total: AtomicU64::new(0),
            done: AtomicU64::new(0),
            label: Mutex::new(String::new()),
            started: Mutex::new(Instant::now()),
            last_line: Mutex::new(Instant::now()),
        }
    }

    /// A step without a byte count.
    pub fn phase(&self, what: &str) {
        match self.mode {
            Mode::Bar => {
                let mut bar = self.bar.lock().unwrap_or_else(|e| e.into_inner());
                let b = bar.get_or_insert_with(|| {
                    let b = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
                    b.enable_steady_tick(Duration::from_millis(120));
                    b
                });
                b.set_length(0);
                if let Ok(style) = ProgressStyle::with_template("{spinner} {msg}") {
                    b.set_style(style);
                }
                b.set_message(what.to_owned());
            }
            Mode::Lines => eprintln!("{what}"),
            Mode::Silent => {}
        }
    }

    /// A step that moves `total` bytes.
    pub fn start_bytes(&self, total: u64, what: &str) {
        self.total.store(total, Ordering::Relaxed);
        self.done.store(0, Ordering::Relaxed);
        if let Ok(mut l) = self.label.lock() {
            *l = what.to_owned();
        }
        if let Ok(mut s) = self.started.lock() {
            *s = Instant::now();
        }
        match self.mode {
            Mode::Bar => {
                let mut bar = self.bar.lock().unwrap_or_else(|e| e.into_inner());
                let b = bar.get_or_insert_with(|| {
                    ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr())
                });
                if let Ok(style) = ProgressStyle::with_template(
                    "{msg} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta}",
                ) {
                    b.set_style(style.progress_chars("=> "));
                }
                b.set_length(total);
                b.set_position(0);
                b.set_message(what.to_owned());
            }
            Mode::Lines => eprintln!("{what}: {}", size(total)),
            Mode::Silent => {}
        }
    }

    pub fn inc(&self, n: u64) {
        let done = self.done.fetch_add(n, Ordering::Relaxed) + n;
        match self.mode {
            Mode::Bar => {
                if let Ok(bar) = self.bar.lock()
                    && let Some(b) = bar.as_ref()
                {
                    b.set_position(done);
                }
            }
            Mode::Lines => {
                let Ok(mut last) = self.last_line.lock() else {
                    return;
                };
                if last.elapsed() < LINE_EVERY {
                    return;
                }
                *last = Instant::now();
                let total = self.total.load(Ordering::Relaxed).max(1);
                let secs = self
                    .started
                    .lock()
                    .map(|s| s.elapsed().as_secs_f64())
                    .unwrap_or(1.0)
                    .max(0.001);
                let label = self.label.lock().map(|l| l.clone()).unwrap_or_default();
                eprintln!(
                    "{label}: {} of {} ({}%), {}/s",
                    size(done),
                    size(total),
                    done.saturating_mul(100) / total,
                    size((done as f64 / secs) as u64)
                );
            }
            Mode::Silent => {}
        }
    }

    /// Something the operator should know, printed above the bar.
    pub fn note(&self, text: &str) {
        match self.mode {
            Mode::Bar => {
                if let Ok(bar) = self.bar.lock()
                    && let Some(b) = bar.as_ref()
                {
                    b.println(format!("note: {text}"));
                    return;
                }
                eprintln!("note: {text}");
            }
            Mode::Lines => eprintln!("note: {text}"),
            Mode::Silent => {}
        }
    }

    pub fn finish(&self, text: &str) {
        if let Ok(mut bar) = self.bar.lock()
            && let Some(b) = bar.take()
        {
            b.finish_and_clear();
        }
        match self.mode {
            Mode::Bar | Mode::Lines => eprintln!("{text}"),
            Mode::Silent => {}
        }
    }

    pub fn clear(&self) {
        if let Ok(mut bar) = self.bar.lock()
            && let Some(b) = bar.take()
        {
            b.finish_and_clear();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.clear();
    }
}

/// Bytes for people: 1.5 GiB.
pub fn size(n: u64) -> String {
    indicatif::BinaryBytes(n).to_string()
}
