//! Controlling services, whoever runs them: one interface, two backends. Under `nexusctl up`
//! the supervisor takes requests on its control socket (`run/supervisor.sock`); on a systemd
//! host (the appliance) systemd runs `nexus-<service>.service` and is asked through
//! `systemctl`, which speaks D-Bus to it.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};

use crate::cli::fail;
use crate::state::{StateDir, alive};

/// How long a restart may take (stop, start, ready) before the caller is told it did not.
const RESTART_TIMEOUT: Duration = Duration::from_secs(90);

pub trait ServiceControl {
    /// Stops the service (one of `daemons::DAEMONS`) gracefully and starts it again;
    /// returns once it is ready.
    fn restart(&self, service: &str) -> Result<()>;
    /// Stops the service gracefully; it stays stopped until [`ServiceControl::start`].
    fn stop(&self, service: &str) -> Result<()>;
    /// Starts the service (the installed release's binary) and returns once it is ready.
    fn start(&self, service: &str) -> Result<()>;
}

/// `nexusctl up`'s supervisor, reached through its control socket.
pub struct Supervisor {
    socket: PathBuf,
}

/// systemd, through `systemctl`.
pub struct Systemd;

/// The backend that runs this instance: its supervisor when `nexusctl up` runs it, else
/// systemd when this is a systemd host; an error saying what to do otherwise.
pub fn for_instance(dir: &StateDir) -> Result<Box<dyn ServiceControl>> {
    match running(dir) {
        Some(control) => Ok(control),
        None => fail(
            3,
            format!(
                "NEXUS is not running from {}: start it with `nexusctl up`",
                dir.root.display()
            ),
        ),
    }
}

/// Like [`for_instance`], but `None` when nothing runs the instance.
pub fn running(dir: &StateDir) -> Option<Box<dyn ServiceControl>> {
    if dir
        .read_record()
        .is_some_and(|r| !r.stopped && alive(r.pid))
    {
        return Some(Box::new(Supervisor {
            socket: dir.control_socket(),
        }));
    }
    if Path::new("/run/systemd/system").is_dir() && crate::daemons::on_path("systemctl").is_some() {
        return Some(Box::new(Systemd));
    }
    None
}

fn check_name(service: &str) -> Result<()> {
    let names = crate::daemons::names();
    if names.contains(&service) {
        return Ok(());
    }
    fail(2, crate::daemons::unknown_service(service, &names))
}

impl Supervisor {
    /// Sends `VERB SERVICE` and waits for the answer.
    fn ask(&self, verb: &str, service: &str) -> Result<()> {
        let mut stream = UnixStream::connect(&self.socket).with_context(|| {
            format!(
                "cannot reach the supervisor at {} (is `nexusctl up` running?)",
                self.socket.display()
            )
        })?;
        stream.set_read_timeout(Some(RESTART_TIMEOUT))?;
        stream.write_all(format!("{verb} {service}\n").as_bytes())?;
        let mut answer = String::new();
        BufReader::new(&stream)
            .read_line(&mut answer)
            .with_context(|| format!("{service} did not {verb} within {RESTART_TIMEOUT:?}"))?;
        match answer.trim_end().split_once(' ') {
            _ if answer.trim_end() == "ok" => Ok(()),
            Some(("error", why)) => fail(1, format!("{verb} {service} failed: {why}")),
            _ => fail(
                1,
                format!("the supervisor gave an unexpected answer: {answer:?}"),
            ),
        }
    }
}

impl ServiceControl for Supervisor {
    fn restart(&self, service: &str) -> Result<()> {
        self.ask("restart", service)
    }

    fn stop(&self, service: &str) -> Result<()> {
        self.ask("stop", service)
    }

    fn start(&self, service: &str) -> Result<()> {
        self.ask("start", service)
    }
}

impl Systemd {
    fn systemctl(&self, verb: &str, service: &str) -> Result<()> {
        let unit = format!("nexus-{service}.service");
        let out = std::process::Command::new("systemctl")
            .args([verb, &unit])
            .output()
            .context("cannot run systemctl")?;
        if !out.status.success() {
            return fail(
                1,
                format!(
                    "systemctl {verb} {unit} failed: {}; see `journalctl -u {unit}`",
                    String::from_utf8_lossy(&out.stderr).trim()
                ),
            );
        }
        Ok(())
    }
}

impl ServiceControl for Systemd {
    fn restart(&self, service: &str) -> Result<()> {
        self.systemctl("restart", service)
    }

    fn stop(&self, service: &str) -> Result<()> {
        self.systemctl("stop", service)
    }

    // `Type=notify` units: `systemctl start` returns once the daemon sent READY=1.
    fn start(&self, service: &str) -> Result<()> {
        self.systemctl("start", service)
    }
}

/// `nexusctl restart SERVICE`.
pub fn restart(dir: &StateDir, service: &str) -> Result<ExitCode> {
    check_name(service)?;
    let control = for_instance(dir)?;
    let started = std::time::Instant::now();
    control.restart(service)?;
    println!(
        "{service} restarted and ready in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}
