//! Starting and stopping a daemon: storage, migrations, listeners, apps, readiness, drain.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime};

use axum::Router;
use axum::middleware;
use axum::routing::any;
use nexus_store::{BlobStore, Db, DbOptions, EventBus, Outbox, StoreError};
use thiserror::Error;
use tokio::net::{TcpListener, UnixListener};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tower_http::compression::CompressionLayer;
use tower_http::compression::predicate::{NotForContentType, Predicate, SizeAbove};

use crate::admin::{self, AdminState};
use crate::app::{self, App, AppContext};
use crate::config::Config;
use crate::http;
use crate::lifecycle;

/// Why a daemon could not start. Each message says what to do.
#[derive(Debug, Error)]
pub enum ServeError {
    #[error("{0}")]
    Config(String),
    #[error(
        "cannot use the state directory {path}: {cause}. Choose a writable directory with --state-dir (or state_dir), or fix its permissions"
    )]
    StateDir { path: String, cause: String },
    #[error("cannot read the database URL: {0}")]
    DatabaseUrl(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Bind(String),
    #[error("app {app}: {message}")]
    App { app: String, message: String },
    #[error("the server stopped with an error: {0}")]
    Io(#[from] std::io::Error),
}

impl ServeError {
    /// The process exit code: 2 for problems the operator must fix in the setup (config,
    /// ports, directories, database address), 1 for everything else.
    pub fn exit_code(&self) -> i32 {
        match self {
            Self::Config(_) | Self::StateDir { .. } | Self::DatabaseUrl(_) | Self::Bind(_) => 2,
            Self::Store(
                StoreError::Unreachable { .. }
                | StoreError::AccessDenied { .. }
                | StoreError::SqliteOpen { .. }
                | StoreError::UnsupportedDatabaseUrl { .. }
                | StoreError::BlobUrl { .. },
            ) => 2,
            _ => 1,
        }
    }
}

/// A started daemon.
pub struct Running {
    pub public_addr: SocketAddr,
    pub public_url: String,
    pub admin_socket: PathBuf,
    pub admin_addr: Option<SocketAddr>,
    pub ctx: AppContext,
    shutdown: CancellationToken,
    tasks: tokio::task::JoinHandle<Result<(), ServeError>>,
}

impl Running {
    /// Asks the daemon to stop (what SIGTERM does).
    pub fn stop(&self) {
        self.shutdown.cancel();
    }

    /// Waits until the daemon has drained and stopped.
    pub async fn wait(self) -> Result<(), ServeError> {
        match self.tasks.await {
            Ok(r) => r,
            Err(e) => Err(ServeError::Io(std::io::Error::other(e.to_string()))),
        }
    }
}

/// Opens the database and runs every selected app's migrations (and the store's own).
pub async fn connect_and_migrate(config: &Config, apps: &[Arc<dyn App>]) -> Result<Db, ServeError> {
    let url = config.database_url().map_err(|e| {
        ServeError::DatabaseUrl(format!(
            "{}: {e}",
            config.resolve(&config.database.url_file).display()
        ))
    })?;
    let opts = DbOptions {
        max_connections: config.database.max_connections,
        connect_timeout: Duration::from_secs(config.database.connect_timeout_secs),
    };
    let db = Db::connect(&url, &config.state_dir, &opts).await?;
    let mut lists = vec![&nexus_store::MIGRATIONS];
    lists.extend(apps.iter().filter_map(|a| a.migrations()));
    let report = nexus_store::migrate::run(&db, &lists).await?;
    if !report.applied.is_empty() {
        tracing::info!(count = report.applied.len(), "database migrated");
    }
    Ok(db)
}

/// Creates the state directory and its `run/` and `secrets/` sub-directories.
pub fn prepare_state_dir(config: &Config) -> Result<(), ServeError> {
    let dir = &config.state_dir;
    let err = |p: &Path, e: std::io::Error| ServeError::StateDir {
        path: p.display().to_string(),
        cause: e.to_string(),
    };
    std::fs::create_dir_all(dir).map_err(|e| err(dir, e))?;
    let socket_dir = config.resolve(&config.admin.socket);
    if let Some(parent) = socket_dir.parent() {
        std::fs::create_dir_all(parent).map_err(|e| err(parent, e))?;
    }
    // Prove the directory is writable now rather than failing later mid-request.
    let probe = dir.join(format!(".write-test-{}", std::process::id()));
    std::fs::write(&probe, b"").map_err(|e| err(dir, e))?;
    let _ = std::fs::remove_file(&probe);
    ensure_secrets(&dir.join("secrets")).map_err(|e| err(&dir.join("secrets"), e))?;
    Ok(())
}

/// Secrets every instance has, generated on first start (`nexusctl init` runs it) and kept
/// in `secrets/` with mode 0600. Never overwritten: changing one logs everybody out.
pub const SECRETS: &[(&str, &str)] = &[(
    "session.key",
    "keys the hash under which session tokens are stored, so a copy of the database alone cannot be used to look sessions up",
)];

fn ensure_secrets(dir: &Path) -> std::io::Result<()> {
    use rand::RngCore;
    use std::io::Write;
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .mode(0o700)
        .recursive(true)
        .create(dir)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    for (name, _) in SECRETS {
        let path = dir.join(name);
        if path.exists() {
            continue;
        }
        let mut key = [0u8; 32];
        rand::rng().fill_bytes(&mut key);
        // create_new: two processes racing cannot both write (and disagree on) the key.
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
        {
            Ok(mut f) => {
                f.write_all(&key)?;
                f.sync_all()?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Starts a daemon running `available` apps filtered by `server.apps`; returns once it is
/// ready (listeners bound, migrations done, `READY=1` sent). It stops when `shutdown` fires.
pub async fn start(
    config: Config,
    available: Vec<Arc<dyn App>>,
    shutdown: CancellationToken,
) -> Result<Running, ServeError> {
    let began = Instant::now();
    let started_at = SystemTime::now();
    let config = Arc::new(config);
    let apps = app::select(available, &config.server.apps).map_err(ServeError::Config)?;
    prepare_state_dir(&config)?;

    // Bind first: a busy port should fail fast, before any database work.
    let listen = config.listen_addr().ok_or_else(|| {
        ServeError::Config(format!(
            "server.listen `{}` is not an address",
            config.server.listen
        ))
    })?;
    let public = bind_tcp(listen, "server.listen", "--listen").await?;
    let public_addr = public.local_addr()?;
    let admin_path = config.resolve(&config.admin.socket);
    let admin_unix = bind_admin_socket(&admin_path).await?;
    // Removed when the daemon stops, or at once if the start fails from here on.
    let admin_file = RemoveOnDrop(admin_path.clone());
    let admin_tcp = match config.admin.listen.parse::<SocketAddr>() {
        Ok(a) => Some(bind_tcp(a, "admin.listen", "--admin-listen").await?),
        Err(_) => None,
    };
    let admin_addr = admin_tcp.as_ref().and_then(|l| l.local_addr().ok());

    let db = connect_and_migrate(&config, &apps).await?;
    let blobs = BlobStore::open(&config.blobs.url, &config.state_dir)?;
    let outbox = Outbox::new(db.clone(), EventBus::default());
    let public_url = config.public_url(public_addr);
    let ctx = AppContext {
        config: config.clone(),
        db: db.clone(),
        blobs,
        outbox: outbox.clone(),
        apps: Arc::new(apps.iter().map(|a| a.info()).collect()),
        secrets_dir: config.state_dir.join("secrets"),
        shutdown: shutdown.clone(),
        public_url: public_url.clone(),
        mailer: crate::mail::Mailer::from_config(&config).map_err(ServeError::Config)?,
    };

    // The public router: every app's routes, metrics and CSRF protection, then the web app.
    let mut api = Router::new();
    for a in &apps {
        let routes = a.routes(&ctx).map_err(|message| ServeError::App {
            app: a.info().id,
            message,
        })?;
        api = api.merge(routes);
    }
    let api = api
        .route("/api", any(http::api_not_found))
        .route("/api/{*rest}", any(http::api_not_found))
        .method_not_allowed_fallback(http::method_not_allowed)
        .layer(middleware::from_fn(http::reject_cross_site))
        .route_layer(middleware::from_fn_with_state(
            "unmatched",
            http::track_metrics,
        ));
    let web_dir = http::find_web_dir(&config.resolve_web_dir());
    match &web_dir {
        Some(d) => tracing::info!(dir = %d.display(), "serving the web app"),
        None => tracing::warn!("web app not found; set web.dir or build it with ./dev build-web"),
    }
    let web = http::web_router(web_dir.as_deref()).layer(middleware::from_fn_with_state(
        "static",
        http::track_metrics,
    ));
    let compress = SizeAbove::new(1024)
        .and(NotForContentType::GRPC)
        .and(NotForContentType::IMAGES)
        .and(NotForContentType::SSE);
    let router = api
        .merge(web)
        .layer(CompressionLayer::new().compress_when(compress))
        .layer(middleware::from_fn_with_state(
            Duration::from_secs(config.server.request_timeout_secs),
            http::request_timeout,
        ))
        .layer(
            tower_http::set_header::SetResponseHeaderLayer::if_not_present(
                axum::http::header::X_CONTENT_TYPE_OPTIONS,
                axum::http::HeaderValue::from_static("nosniff"),
            ),
        )
        .layer(
            tower_http::set_header::SetResponseHeaderLayer::if_not_present(
                axum::http::header::X_FRAME_OPTIONS,
                axum::http::HeaderValue::from_static("DENY"),
            ),
        )
        .layer(
            tower_http::set_header::SetResponseHeaderLayer::if_not_present(
                axum::http::header::REFERRER_POLICY,
                axum::http::HeaderValue::from_static("same-origin"),
            ),
        );

    // Protocol listeners are bound before ready, like the public port.
    let mut protocol = Vec::new();
    for a in &apps {
        let listeners = a.listeners(&ctx).map_err(|message| ServeError::App {
            app: a.info().id,
            message,
        })?;
        for l in listeners {
            let sock = bind_tcp(l.addr, l.name, "the app's listener setting").await?;
            protocol.push((l, sock));
        }
    }

    // The recorder must exist before anything describes a metric, or the HELP lines are lost.
    crate::telemetry::prometheus();
    let admin_state = Arc::new(AdminState {
        ctx: ctx.clone(),
        apps: apps.clone(),
        ready: false.into(),
        started: began,
        started_at,
        listen: public_addr.to_string(),
        public_url: public_url.clone(),
        collector: {
            let c = metrics_process::Collector::default();
            c.describe();
            c
        },
    });
    metrics::gauge!("nexus_build_info", "version" => env!("CARGO_PKG_VERSION"), "daemon" => config.server.name.clone()).set(1.0);

    // Background work: stops on `background`, which fires only after HTTP has drained.
    let background = CancellationToken::new();
    let mut set: JoinSet<(String, Result<(), String>)> = JoinSet::new();
    {
        let ob = outbox.clone();
        let c = background.clone();
        set.spawn(async move {
            ob.run(Duration::from_secs(1), c).await;
            ("outbox".to_owned(), Ok(()))
        });
    }
    for a in &apps {
        for job in a.jobs(&ctx) {
            let c = background.clone();
            let name = format!("{}/{}", a.info().id, job.name);
            set.spawn(async move { (name, (job.run)(c).await) });
        }
    }
    for (l, sock) in protocol {
        let c = shutdown.clone();
        let name = format!("listener {}", l.name);
        set.spawn(async move { (name, (l.serve)(sock, c).await) });
    }

    // Admin endpoints.
    let admin_router = admin::router(admin_state.clone());
    let admin_stop = CancellationToken::new();
    {
        let r = admin_router.clone();
        let stop = admin_stop.clone();
        tokio::spawn(async move {
            if let Err(e) = axum::serve(admin_unix, r)
                .with_graceful_shutdown(stop.cancelled_owned())
                .await
            {
                tracing::error!(error = %e, "admin socket failed");
            }
        });
    }
    if let Some(l) = admin_tcp {
        let stop = admin_stop.clone();
        tokio::spawn(async move {
            if let Err(e) = axum::serve(l, admin_router)
                .with_graceful_shutdown(stop.cancelled_owned())
                .await
            {
                tracing::error!(error = %e, "admin listener failed");
            }
        });
    }

    let serve_shutdown = shutdown.clone();
    let server = tokio::spawn(async move {
        axum::serve(
            public,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(serve_shutdown.cancelled_owned())
        .await
    });

    {
        let health_state = admin_state.clone();
        lifecycle::spawn_watchdog(shutdown.clone(), move || {
            let s = health_state.clone();
            async move { s.check().await.0 }
        });
    }
    admin_state.ready.store(true, Ordering::Release);
    let app_names: Vec<String> = apps.iter().map(|a| a.info().id).collect();
    lifecycle::notify_ready(&format!("serving {} at {public_url}", app_names.join(", ")));
    tracing::info!(
        daemon = %config.server.name,
        url = %public_url,
        apps = %app_names.join(","),
        admin = %admin_path.display(),
        database = %db.backend(),
        startup_ms = began.elapsed().as_millis() as u64,
        "ready"
    );

    let grace = Duration::from_secs(config.server.shutdown_timeout_secs);
    let stop_token = shutdown.clone();
    let tasks = tokio::spawn(async move {
        stop_token.cancelled().await;
        admin_state.ready.store(false, Ordering::Release);
        lifecycle::notify_stopping();
        tracing::info!(grace_secs = grace.as_secs(), "draining in-flight requests");
        let drained = tokio::time::timeout(grace, server).await;
        let result = match drained {
            Ok(Ok(Ok(()))) => Ok(()),
            Ok(Ok(Err(e))) => Err(ServeError::Io(e)),
            Ok(Err(join)) => Err(ServeError::Io(std::io::Error::other(join.to_string()))),
            Err(_) => {
                tracing::warn!("requests still running after the grace period; closing them");
                Ok(())
            }
        };
        background.cancel();
        let deadline = tokio::time::sleep(Duration::from_secs(3));
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                next = set.join_next() => match next {
                    None => break,
                    Some(Ok((name, Err(e)))) => tracing::warn!(task = %name, error = %e, "background task ended with an error"),
                    Some(_) => {}
                },
                _ = &mut deadline => {
                    tracing::warn!("background tasks did not stop in time; abandoning them");
                    set.abort_all();
                    break;
                }
            }
        }
        admin_stop.cancel();
        db.close().await;
        drop(admin_file);
        tracing::info!("stopped");
        result
    });

    Ok(Running {
        public_addr,
        public_url,
        admin_socket: config.resolve(&config.admin.socket),
        admin_addr,
        ctx,
        shutdown,
        tasks,
    })
}

/// Deletes a file when dropped (the admin socket's path: a socket file outlives its listener).
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

async fn bind_tcp(addr: SocketAddr, key: &str, flag: &str) -> Result<TcpListener, ServeError> {
    TcpListener::bind(addr).await.map_err(|e| {
        let why = match e.kind() {
            std::io::ErrorKind::AddrInUse => format!(
                "{addr} ({key}) is already in use by another program: stop that program, or choose another port with {flag} or {key}"
            ),
            std::io::ErrorKind::PermissionDenied => format!(
                "not allowed to listen on {addr} ({key}): ports below 1024 need CAP_NET_BIND_SERVICE; use a port above 1024 or run under the NEXUS systemd unit"
            ),
            std::io::ErrorKind::AddrNotAvailable => format!(
                "{addr} ({key}) is not an address of this machine: use 127.0.0.1, 0.0.0.0 or one of its own addresses"
            ),
            _ => format!("cannot listen on {addr} ({key}): {e}"),
        };
        ServeError::Bind(why)
    })
}

/// Binds the admin socket with mode 0600, replacing a stale socket file but refusing to
/// take over one that a running daemon still answers on.
async fn bind_admin_socket(path: &Path) -> Result<UnixListener, ServeError> {
    if path.exists() {
        if tokio::net::UnixStream::connect(path).await.is_ok() {
            return Err(ServeError::Bind(format!(
                "another nexusd is already running with the admin socket {}: stop it first (nexusctl status shows it)",
                path.display()
            )));
        }
        let _ = std::fs::remove_file(path);
    }
    let listener = UnixListener::bind(path).map_err(|e| {
        ServeError::Bind(format!("cannot create the admin socket {}: {e}; check admin.socket and the directory's permissions", path.display()))
    })?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(listener)
}

impl Config {
    fn resolve_web_dir(&self) -> PathBuf {
        if self.web.dir.as_os_str().is_empty() {
            PathBuf::new()
        } else {
            self.resolve(&self.web.dir)
        }
    }
}
