//! `nexusctl up`: nexusctl's own supervisor, for machines without systemd (a laptop, CI).
//!
//! It runs the same `nexusd serve` processes that systemd runs on the appliance and speaks
//! the same protocol to them: each child gets a `NOTIFY_SOCKET` and reports `READY=1` (and
//! `STOPPING=1`, `STATUS=…`) exactly as it would to systemd; readiness is what the supervisor
//! waits for. A child that crashes after it was ready is restarted with back-off; SIGTERM or
//! Ctrl-C stops them all gracefully. (No watchdog is armed here: a hung daemon is
//! systemd's to catch on the appliance.)

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use nexus_wire::DaemonState;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::net::UnixDatagram;
use tokio::process::{Child, Command};
use tokio::sync::mpsc;
pub use tokio_util_lite::Token;

use crate::cli::fail;
use crate::daemons::{DAEMONS, DaemonSpec};
use crate::provision::{Provisioned, print_credentials};
use crate::state::{DaemonRecord, StateDir, SupervisorRecord, alive, configured_listen, now_secs};

/// How long a daemon may take to report ready.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How long stopping may take before children are killed; keeps `up` within 10 s of SIGTERM.
const STOP_DEADLINE: Duration = Duration::from_millis(9500);
/// Crashes within `CRASH_WINDOW` after which a daemon is given up on.
const MAX_CRASHES: usize = 5;
const CRASH_WINDOW: Duration = Duration::from_secs(60);

/// A cancellation flag shared by the daemon tasks (a watch channel; no extra crate).
mod tokio_util_lite {
    #[derive(Clone)]
    pub struct Token(tokio::sync::watch::Receiver<bool>);
    pub struct Trigger(tokio::sync::watch::Sender<bool>);

    pub fn pair() -> (Trigger, Token) {
        let (tx, rx) = tokio::sync::watch::channel(false);
        (Trigger(tx), Token(rx))
    }

    impl Trigger {
        pub fn fire(&self) {
            let _ = self.0.send(true);
        }
    }

    impl Token {
        pub async fn fired(&mut self) {
            let _ = self.0.wait_for(|v| *v).await;
        }
    }
}

#[derive(Debug)]
enum Event {
    Ready {
        name: &'static str,
        pid: u32,
        /// Restart requests to answer once the record says it is running.
        answer: Vec<Reply>,
    },
    Exited {
        name: &'static str,
        code: Option<i32>,
        before_ready: bool,
    },
    Restarting {
        name: &'static str,
        attempt: u32,
    },
    GaveUp {
        name: &'static str,
        why: String,
    },
    Stopped {
        name: &'static str,
    },
    /// An operator asked for a restart (`nexusctl restart`, the dashboard): not a crash.
    RestartRequested {
        name: &'static str,
    },
    /// Stopped on request (`nexusctl upgrade`), and kept stopped until asked to start.
    Held {
        name: &'static str,
    },
}

/// What the control socket asks of one daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// Stop gracefully and start again (the binary is looked up anew).
    Restart,
    /// Stop gracefully and stay stopped.
    Stop,
    /// Start (the binary is looked up anew) unless it is running.
    Start,
}

/// Answered once the request is done (for a start or restart: once the daemon is ready), or
/// with why it could not be.
type Reply = tokio::sync::oneshot::Sender<Result<(), String>>;

pub fn up(
    dir: &StateDir,
    nexusd: &crate::daemons::Nexusd,
    listen: Option<SocketAddr>,
    first_run: Option<&Provisioned>,
) -> Result<ExitCode> {
    if let Some(rec) = dir.read_record()
        && !rec.stopped
        && rec.pid != std::process::id()
        && alive(rec.pid)
    {
        return fail(
            2,
            format!(
                "NEXUS is already running from {} (nexusctl pid {}): see `nexusctl status`, or `nexusctl stop` it",
                dir.root.display(),
                rec.pid
            ),
        );
    }
    std::fs::create_dir_all(dir.run_dir())
        .with_context(|| format!("cannot create {}", dir.run_dir().display()))?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(supervise(dir, nexusd, listen, first_run))
}

async fn supervise(
    dir: &StateDir,
    nexusd: &crate::daemons::Nexusd,
    listen: Option<SocketAddr>,
    first_run: Option<&Provisioned>,
) -> Result<ExitCode> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;

    let listen_text = listen
        .map(|a| a.to_string())
        .or_else(|| configured_listen(&dir.config()))
        .unwrap_or_else(|| "127.0.0.1:8080".to_owned());
    let mut record = SupervisorRecord {
        pid: std::process::id(),
        started_at: now_secs(),
        url: public_url(&listen_text),
        stopped: false,
        pinned_nexusd: nexusd.pinned().map(Path::to_path_buf),
        daemons: DAEMONS
            .iter()
            .map(|d| DaemonRecord {
                name: d.name.to_owned(),
                pid: None,
                admin_socket: dir.admin_socket(d.name),
                restarts: 0,
                state: DaemonState::Starting,
            })
            .collect(),
    };
    dir.write_record(&record)?;

    // Printed before anything can fail, so a first start that fails (a busy port, say)
    // does not lose the only copy of the administrator's setup link; with port 0 the
    // address is only known once the daemon has bound, so it waits for that.
    let mut credentials = first_run;
    if let Some(p) = credentials.filter(|_| !record.url.ends_with(":0/")) {
        print_credentials(p, &record.url);
        credentials = None;
    }

    let (trigger, token) = tokio_util_lite::pair();
    let (tx, mut rx) = mpsc::channel::<Event>(64);
    let mut tasks = Vec::new();
    let mut restarters = std::collections::HashMap::new();
    for spec in DAEMONS {
        let (restart_tx, restart_rx) = mpsc::channel::<(Request, Reply)>(4);
        restarters.insert(spec.name, restart_tx);
        let d = Daemon {
            spec: *spec,
            nexusd: nexusd.clone(),
            state_dir: dir.root.clone(),
            admin_socket: dir.admin_socket(spec.name),
            notify_socket: dir.notify_socket(spec.name),
            listen: if spec.public { listen } else { None },
            // Its output also goes to logs/<name>.log for `nexusctl logs`; without a
            // writable log it goes to the terminal only.
            log: match crate::logs::LogFile::open(&dir.log_file(spec.name)) {
                Ok(f) => Some(std::sync::Arc::new(std::sync::Mutex::new(f))),
                Err(e) => {
                    eprintln!(
                        "nexusctl: {e:#}; the {} daemon's output is not kept",
                        spec.name
                    );
                    None
                }
            },
        };
        tasks.push(tokio::spawn(d.run(tx.clone(), token.clone(), restart_rx)));
    }
    drop(tx);
    tasks.push(tokio::spawn(crate::jobs::backups(
        dir.clone(),
        nexusd.clone(),
        token.clone(),
    )));
    tasks.push(tokio::spawn(crate::jobs::alerts(
        dir.clone(),
        token.clone(),
    )));
    // The control socket: `nexusctl restart` and the dashboard ask for restarts here.
    match control_listener(&dir.control_socket()) {
        Ok(listener) => {
            tokio::spawn(serve_control(listener, restarters, token.clone()));
        }
        Err(e) => eprintln!("nexusctl: {e:#}; `nexusctl restart` will not reach this instance"),
    }

    let mut pending_ready: usize = DAEMONS.len();
    let mut exit = ExitCode::SUCCESS;
    let mut stopping_since: Option<Instant> = None;
    loop {
        tokio::select! {
            why = async {
                tokio::select! {
                    _ = term.recv() => "SIGTERM received, stopping NEXUS",
                    _ = int.recv() => "stopping NEXUS",
                }
            }, if stopping_since.is_none() => {
                eprintln!("nexusctl: {why}");
                stopping_since = Some(Instant::now());
                set_all(&mut record, DaemonState::Stopping);
                let _ = dir.write_record(&record);
                trigger.fire();
            }
            ev = rx.recv() => {
                let Some(ev) = ev else { break };
                match ev {
                    Event::Ready { name, pid, answer } => {
                        update(&mut record, name, |d| { d.state = DaemonState::Running; d.pid = Some(pid); });
                        // The daemon knows the address it bound (port 0 picks a free one).
                        if DAEMONS.iter().any(|d| d.name == name && d.public)
                            && let Some(bound) = bound_url(&dir.admin_socket(name)).await
                        {
                            record.url = bound;
                        }
                        // Written before the ready line (and the answer to a restart):
                        // whoever reads it and then asks `nexusctl status` must find the
                        // same state.
                        let _ = dir.write_record(&record);
                        for a in answer {
                            let _ = a.send(Ok(()));
                        }
                        if pending_ready > 0 {
                            pending_ready -= 1;
                            if pending_ready == 0 {
                                if let Some(p) = credentials.take() {
                                    print_credentials(p, &record.url);
                                }
                                println!("NEXUS is ready at {}", record.url);
                                println!("Press Ctrl-C to stop.");
                            }
                        } else {
                            eprintln!("nexusctl: {name} is running again");
                        }
                    }
                    Event::Exited { name, code, before_ready } => {
                        update(&mut record, name, |d| { d.state = DaemonState::Failed; d.pid = None; });
                        if before_ready && pending_ready > 0 && stopping_since.is_none() {
                            // It never came up: nothing to restart into; report and stop.
                            eprintln!("nexusctl: nexusd ({name}) exited with status {} before it was ready; the message above says why", code.map_or_else(|| "unknown".to_owned(), |c| c.to_string()));
                            exit = ExitCode::from(code.and_then(|c| u8::try_from(c).ok()).filter(|c| *c != 0).unwrap_or(1));
                            stopping_since = Some(Instant::now());
                            trigger.fire();
                        }
                    }
                    Event::Restarting { name, attempt } => {
                        eprintln!("nexusctl: {name} stopped unexpectedly; restarting (attempt {attempt})");
                        update(&mut record, name, |d| { d.state = DaemonState::Restarting; d.restarts = attempt; });
                    }
                    Event::GaveUp { name, why } => {
                        eprintln!("nexusctl: giving up on {name}: {why}");
                        update(&mut record, name, |d| d.state = DaemonState::Failed);
                        exit = ExitCode::FAILURE;
                        if stopping_since.is_none() {
                            stopping_since = Some(Instant::now());
                            trigger.fire();
                        }
                    }
                    Event::Stopped { name } => {
                        update(&mut record, name, |d| { d.state = DaemonState::Stopped; d.pid = None; });
                    }
                    Event::RestartRequested { name } => {
                        eprintln!("nexusctl: restarting {name} as asked");
                        update(&mut record, name, |d| d.state = DaemonState::Restarting);
                    }
                    Event::Held { name } => {
                        eprintln!("nexusctl: {name} stopped as asked; it stays stopped until started");
                        update(&mut record, name, |d| { d.state = DaemonState::Stopped; d.pid = None; });
                    }
                }
                let _ = dir.write_record(&record);
            }
        }
    }
    for t in tasks {
        let _ = t.await;
    }
    let _ = std::fs::remove_file(dir.control_socket());
    for d in &mut record.daemons {
        if d.state != DaemonState::Failed {
            d.state = DaemonState::Stopped;
        }
        d.pid = None;
    }
    record.stopped = true;
    dir.write_record(&record)?;
    // Never ready (with port 0 the link waited for the port): print it anyway, so the only
    // copy is not lost; open its `setup#token=…` part under the address of the next start.
    if let Some(p) = credentials.take() {
        print_credentials(p, &record.url);
    }
    if let Some(since) = stopping_since {
        eprintln!(
            "nexusctl: stopped in {:.1} s",
            since.elapsed().as_secs_f64()
        );
    }
    Ok(exit)
}

/// The public URL a ready daemon reports on its admin socket.
async fn bound_url(admin_socket: &Path) -> Option<String> {
    let (code, body) = crate::admin_client::get(admin_socket, "/status", Duration::from_secs(3))
        .await
        .ok()?;
    if code != 200 {
        return None;
    }
    serde_json::from_slice::<nexus_wire::DaemonReport>(&body)
        .ok()
        .map(|r| r.public_url)
}

fn set_all(rec: &mut SupervisorRecord, state: DaemonState) {
    for d in &mut rec.daemons {
        d.state = state;
    }
}

fn update(rec: &mut SupervisorRecord, name: &str, f: impl FnOnce(&mut DaemonRecord)) {
    if let Some(d) = rec.daemons.iter_mut().find(|d| d.name == name) {
        f(d);
    }
}

fn public_url(listen: &str) -> String {
    match listen.parse::<SocketAddr>() {
        Ok(a) if a.ip().is_unspecified() => format!("http://localhost:{}/", a.port()),
        Ok(a) => format!("http://{a}/"),
        Err(_) => format!("http://{listen}/"),
    }
}

struct Daemon {
    spec: DaemonSpec,
    nexusd: crate::daemons::Nexusd,
    state_dir: PathBuf,
    admin_socket: PathBuf,
    notify_socket: PathBuf,
    listen: Option<SocketAddr>,
    log: Option<std::sync::Arc<std::sync::Mutex<crate::logs::LogFile>>>,
}

impl Daemon {
    /// Runs the daemon until `stop` fires, restarting it after crashes, and serves the
    /// control socket's requests: restart, stop (then it stays stopped), start.
    async fn run(
        self,
        tx: mpsc::Sender<Event>,
        mut stop: Token,
        mut requests: mpsc::Receiver<(Request, Reply)>,
    ) {
        let name = self.spec.name;
        let mut crashes: VecDeque<Instant> = VecDeque::new();
        let mut attempt = 0u32;
        let mut ever_ready = false;
        // Whoever asked for the start or restart in progress, told once it is ready.
        let mut waiting: Vec<Reply> = Vec::new();
        // Stopped on request: nothing runs until a start (or restart) request.
        let mut held = false;
        let mut from_hold = false;
        loop {
            if held {
                tokio::select! {
                    _ = stop.fired() => {
                        let _ = tx.send(Event::Stopped { name }).await;
                        return;
                    }
                    req = requests.recv() => match req {
                        Some((Request::Stop, reply)) => {
                            let _ = reply.send(Ok(()));
                            continue;
                        }
                        Some((_, reply)) => {
                            waiting.push(reply);
                            held = false;
                            from_hold = true;
                        }
                        None => return,
                    }
                }
            }
            // Failures of a start out of the stopped state go back to whoever asked (and the
            // daemon stays stopped for them to decide), instead of stopping the instance.
            let requested = std::mem::take(&mut from_hold);
            let (mut child, notify) = match self.spawn() {
                Ok(x) => x,
                Err(e) => {
                    for w in waiting.drain(..) {
                        let _ = w.send(Err(format!("{e:#}")));
                    }
                    if requested {
                        held = true;
                        let _ = tx.send(Event::Held { name }).await;
                        continue;
                    }
                    let _ = tx
                        .send(Event::GaveUp {
                            name,
                            why: format!("{e:#}"),
                        })
                        .await;
                    return;
                }
            };
            let pid = child.id().unwrap_or(0);
            let mut ready = false;
            let deadline = tokio::time::sleep(READY_TIMEOUT);
            tokio::pin!(deadline);
            let mut buf = vec![0u8; 4096];
            let status = loop {
                tokio::select! {
                    status = child.wait() => break status.ok(),
                    n = notify.recv(&mut buf) => {
                        if let Ok(n) = n {
                            let msg = String::from_utf8_lossy(&buf[..n]);
                            if !ready && msg.lines().any(|l| l == "READY=1") {
                                ready = true;
                                ever_ready = true;
                                let answer = std::mem::take(&mut waiting);
                                let _ = tx.send(Event::Ready { name, pid, answer }).await;
                            }
                        }
                    }
                    _ = &mut deadline, if !ready => {
                        let why = format!("not ready after {} s", READY_TIMEOUT.as_secs());
                        for w in waiting.drain(..) {
                            let _ = w.send(Err(why.clone()));
                        }
                        terminate(&mut child, pid).await;
                        if requested {
                            held = true;
                            break None;
                        }
                        let _ = tx.send(Event::GaveUp { name, why }).await;
                        return;
                    }
                    _ = stop.fired() => {
                        for w in waiting.drain(..) {
                            let _ = w.send(Err("NEXUS is stopping".to_owned()));
                        }
                        terminate(&mut child, pid).await;
                        let _ = std::fs::remove_file(&self.notify_socket);
                        let _ = tx.send(Event::Stopped { name }).await;
                        return;
                    }
                    Some((req, reply)) = requests.recv() => match req {
                        Request::Start if ready => {
                            let _ = reply.send(Ok(()));
                        }
                        // Still starting: answered when it is ready.
                        Request::Start => waiting.push(reply),
                        Request::Restart => {
                            waiting.push(reply);
                            if ready {
                                // Stopped gracefully and started again at once: not a crash.
                                let _ = tx.send(Event::RestartRequested { name }).await;
                                terminate(&mut child, pid).await;
                                break None;
                            }
                        }
                        Request::Stop => {
                            terminate(&mut child, pid).await;
                            for w in waiting.drain(..) {
                                let _ = w.send(Err(format!("{name} was stopped as asked")));
                            }
                            let _ = reply.send(Ok(()));
                            held = true;
                            break None;
                        }
                    }
                }
            };
            let _ = std::fs::remove_file(&self.notify_socket);
            if held {
                let _ = tx.send(Event::Held { name }).await;
                continue;
            }
            if status.is_none() && !waiting.is_empty() {
                continue;
            }
            for w in waiting.drain(..) {
                let _ = w.send(Err(format!(
                    "{name} exited before it was ready; see `nexusctl logs {name}`"
                )));
            }
            let code = status.and_then(|s| s.code());
            if requested && !ready {
                held = true;
                let _ = tx.send(Event::Held { name }).await;
                continue;
            }
            let _ = tx
                .send(Event::Exited {
                    name,
                    code,
                    before_ready: !ready,
                })
                .await;
            if !ever_ready {
                // Failed on its very first start (bad config, busy port, …): restarting
                // would only repeat the error.
                return;
            }
            let now = Instant::now();
            crashes.push_back(now);
            while crashes
                .front()
                .is_some_and(|t| now.duration_since(*t) > CRASH_WINDOW)
            {
                crashes.pop_front();
            }
            if crashes.len() > MAX_CRASHES {
                let _ = tx
                    .send(Event::GaveUp {
                        name,
                        why: format!(
                            "crashed {} times within {} s",
                            crashes.len(),
                            CRASH_WINDOW.as_secs()
                        ),
                    })
                    .await;
                return;
            }
            attempt += 1;
            let _ = tx.send(Event::Restarting { name, attempt }).await;
            let backoff = Duration::from_millis(250 * 2u64.pow(crashes.len().min(5) as u32));
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                _ = stop.fired() => {
                    let _ = tx.send(Event::Stopped { name }).await;
                    return;
                }
            }
        }
    }

    fn spawn(&self) -> Result<(Child, UnixDatagram)> {
        let _ = std::fs::remove_file(&self.notify_socket);
        let notify = UnixDatagram::bind(&self.notify_socket).with_context(|| {
            format!(
                "cannot create the notify socket {}",
                self.notify_socket.display()
            )
        })?;
        // Looked up at every start: after `nexusctl upgrade` switches the installed release,
        // the next start runs the new binary.
        let nexusd = self.nexusd.path()?;
        let mut cmd = Command::new(&nexusd);
        cmd.arg("serve")
            .arg("--state-dir")
            .arg(&self.state_dir)
            .arg("--name")
            .arg(self.spec.name)
            .arg("--apps")
            .arg(self.spec.apps)
            .arg("--admin-socket")
            .arg(&self.admin_socket);
        if let Some(l) = self.listen {
            cmd.arg("--listen").arg(l.to_string());
        }
        cmd.env("NOTIFY_SOCKET", &self.notify_socket)
            // nexusd asks the kernel for SIGTERM when this process dies (even by SIGKILL).
            .env("NEXUS_SUPERVISOR_PID", std::process::id().to_string())
            .env_remove("NEXUS_CONFIG")
            .stdin(Stdio::null())
            .stdout(if self.log.is_some() {
                Stdio::piped()
            } else {
                Stdio::inherit()
            })
            .stderr(if self.log.is_some() {
                Stdio::piped()
            } else {
                Stdio::inherit()
            })
            // Its own process group: Ctrl-C reaches nexusctl only, which then stops the
            // children in order instead of all at once.
            .process_group(0)
            .kill_on_drop(true);
        let mut child = cmd
            .spawn()
            .with_context(|| format!("cannot start {}", nexusd.display()))?;
        if let Some(log) = &self.log {
            if let Some(out) = child.stdout.take() {
                crate::logs::pump(out, log.clone(), false);
            }
            if let Some(err) = child.stderr.take() {
                crate::logs::pump(err, log.clone(), true);
            }
        }
        Ok((child, notify))
    }
}

/// Binds the supervisor's control socket, readable by its owner only.
fn control_listener(path: &Path) -> Result<tokio::net::UnixListener> {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::remove_file(path);
    let listener = tokio::net::UnixListener::bind(path)
        .with_context(|| format!("cannot create the control socket {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .with_context(|| format!("cannot restrict {}", path.display()))?;
    Ok(listener)
}

/// Answers control requests, one line each: `restart SERVICE`, `start SERVICE` → `ok` once
/// it is ready; `stop SERVICE` → `ok` once it has stopped (it stays stopped until started);
/// or `error MESSAGE`.
async fn serve_control(
    listener: tokio::net::UnixListener,
    daemons: std::collections::HashMap<&'static str, mpsc::Sender<(Request, Reply)>>,
    mut stop: Token,
) {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
    let daemons = std::sync::Arc::new(daemons);
    loop {
        let stream = tokio::select! {
            s = listener.accept() => match s {
                Ok((s, _)) => s,
                Err(_) => continue,
            },
            _ = stop.fired() => return,
        };
        let daemons = daemons.clone();
        tokio::spawn(async move {
            let (read, mut write) = stream.into_split();
            let mut line = String::new();
            let mut reader = BufReader::new(read.take(1024));
            if reader.read_line(&mut line).await.is_err() {
                return;
            }
            let request = match line.trim().split_once(' ') {
                Some(("restart", service)) => Some((Request::Restart, service)),
                Some(("stop", service)) => Some((Request::Stop, service)),
                Some(("start", service)) => Some((Request::Start, service)),
                _ => None,
            };
            let answer = match request {
                Some((request, service)) => match daemons.get(service) {
                    Some(tx) => {
                        let (reply, answer) = tokio::sync::oneshot::channel();
                        if tx.send((request, reply)).await.is_err() {
                            Err(format!("{service} is not running"))
                        } else {
                            answer
                                .await
                                .unwrap_or_else(|_| Err(format!("{service} is not running")))
                        }
                    }
                    None => Err(crate::daemons::unknown_service(
                        service,
                        &crate::daemons::names(),
                    )),
                },
                None => Err("unknown request; expected `restart|stop|start SERVICE`".to_owned()),
            };
            let text = match answer {
                Ok(()) => "ok\n".to_owned(),
                Err(e) => format!("error {}\n", e.replace('\n', " ")),
            };
            let _ = write.write_all(text.as_bytes()).await;
        });
    }
}

/// SIGTERM, then SIGKILL if the child has not exited by the stop deadline.
pub async fn terminate(child: &mut Child, pid: u32) {
    if let Ok(raw) = i32::try_from(pid) {
        let _ = kill(Pid::from_raw(raw), Signal::SIGTERM);
    }
    if tokio::time::timeout(STOP_DEADLINE, child.wait())
        .await
        .is_err()
    {
        eprintln!("nexusctl: daemon pid {pid} did not stop in time; killing it");
        let _ = child.kill().await;
    }
}

/// `nexusctl stop`: SIGTERM to the supervisor, then wait for it to finish.
pub fn stop(dir: &StateDir) -> Result<ExitCode> {
    let Some(rec) = dir.read_record().filter(|r| !r.stopped && alive(r.pid)) else {
        println!("NEXUS is not running from {}", dir.root.display());
        return Ok(ExitCode::SUCCESS);
    };
    let raw = i32::try_from(rec.pid).context("invalid pid in supervisor.json")?;
    kill(Pid::from_raw(raw), Signal::SIGTERM)
        .with_context(|| format!("cannot signal nexusctl pid {}", rec.pid))?;
    let start = Instant::now();
    while alive(rec.pid) {
        if start.elapsed() > Duration::from_secs(15) {
            return fail(
                1,
                format!("nexusctl pid {} did not stop within 15 s", rec.pid),
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    println!("NEXUS stopped");
    Ok(ExitCode::SUCCESS)
}
