//! What each subcommand does.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use nexus_runtime::config::{self, Config, Sources};
use nexus_runtime::{ServeError, telemetry};
use tokio_util::sync::CancellationToken;

use crate::apps;
use crate::cli::{
    AuditCommand, Cli, Command, ConfigArgs, ConfigtestArgs, DumpArgs, KeysCommand, LoadArgs,
    OrgsCommand, ProvisionArgs, SendMailArgs, ServeArgs, UsersCommand,
};

pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Version { json } => {
            if json {
                // `schema`: the newest migration of each app this binary carries, so an
                // upgrade knows whether it changes the database (and a rollback needs data).
                let mut schema = serde_json::Map::new();
                let lists = std::iter::once(&nexus_store::MIGRATIONS).chain(
                    apps::all()
                        .iter()
                        .filter_map(|a| a.migrations())
                        .collect::<Vec<_>>(),
                );
                for m in lists {
                    schema.insert(
                        m.app.to_owned(),
                        m.sqlite.len().max(m.postgres.len()).into(),
                    );
                }
                println!(
                    "{}",
                    serde_json::json!({
                        "name": "nexusd",
                        "version": env!("CARGO_PKG_VERSION"),
                        "schema": schema,
                    })
                );
            } else {
                println!("nexusd {}", env!("CARGO_PKG_VERSION"));
            }
            ExitCode::SUCCESS
        }
        Command::Configtest(args) => configtest(&args),
        Command::Serve(args) => with_config(&args.config, Some(&args), |cfg| block_on(serve(cfg))),
        Command::Migrate(args) => with_config(&args, None, |cfg| block_on(migrate(cfg))),
        Command::Users { config, command } => {
            with_config(&config, None, |cfg| block_on(users(cfg, command)))
        }
        Command::Orgs { config, command } => {
            with_config(&config, None, |cfg| block_on(orgs(cfg, command)))
        }
        Command::Audit { config, command } => {
            with_config(&config, None, |cfg| block_on(audit(cfg, command)))
        }
        Command::Keys { config, command } => with_config(&config, None, |cfg| keys(&cfg, command)),
        Command::Provision(args) => {
            with_config(&args.config, None, |cfg| block_on(provision(cfg, &args)))
        }
        Command::Dump(args) => with_config(&args.config, None, |cfg| block_on(dump(cfg, &args))),
        Command::Load(args) => {
            with_config(&args.config, None, |cfg| block_on(load_dump(cfg, &args)))
        }
        Command::SendMail(args) => {
            with_config(&args.config, None, |cfg| block_on(send_mail(cfg, &args)))
        }
    }
}

/// `nexusd send-mail`: one message to each recipient, through the relay the config names.
/// Exit 2 when mail is not set up or an address is wrong, 1 when the relay fails.
async fn send_mail(cfg: Config, args: &SendMailArgs) -> Result<(), Failure> {
    use nexus_runtime::mail::{MailError, Mailer};
    use std::io::Read;
    let mut body = String::new();
    std::io::stdin()
        .read_to_string(&mut body)
        .map_err(|e| Failure {
            code: 2,
            message: format!("cannot read the message from stdin (UTF-8 text): {e}"),
        })?;
    let mailer = Mailer::from_config(&cfg).map_err(|message| Failure { code: 2, message })?;
    for to in &args.to {
        mailer
            .send(to, &args.subject, body.clone())
            .await
            .map_err(|e| Failure {
                code: match e {
                    MailError::Relay(_) => 1,
                    _ => 2,
                },
                message: match e {
                    MailError::NotConfigured => format!(
                        "{e}: set mail.smtp_url (or mail.smtp_url_file) and mail.from in the config"
                    ),
                    other => format!("cannot send to {to}: {other}"),
                },
            })?;
    }
    Ok(())
}

/// Loads the config (printing every problem and exiting 2 if there are any), sets up
/// logging, and runs `f`.
fn with_config(
    args: &ConfigArgs,
    serve: Option<&ServeArgs>,
    f: impl FnOnce(Config) -> Result<(), Failure>,
) -> ExitCode {
    let cfg = match load(args, serve) {
        Ok(c) => c,
        Err(e) => {
            eprint!("nexusd: {e}");
            return ExitCode::from(2);
        }
    };
    telemetry::init_logging(&cfg.log);
    match f(cfg) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure { code, message }) => {
            // stderr reaches the journal too; one line, not a log event and a copy.
            eprintln!("nexusd: {message}");
            ExitCode::from(code)
        }
    }
}

pub struct Failure {
    code: u8,
    message: String,
}

impl From<ServeError> for Failure {
    fn from(e: ServeError) -> Self {
        Self {
            code: u8::try_from(e.exit_code()).unwrap_or(1),
            message: e.to_string(),
        }
    }
}

fn block_on<F: std::future::Future<Output = Result<(), Failure>>>(f: F) -> Result<(), Failure> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("nexusd")
        .build()
        .map_err(|e| Failure {
            code: 1,
            message: format!("cannot start the async runtime: {e}"),
        })?;
    rt.block_on(f)
}

fn sources(args: &ConfigArgs, serve: Option<&ServeArgs>) -> Result<Sources, config::ConfigErrors> {
    // The state directory may come from NEXUS_STATE_DIR too; its config.toml is the default
    // config file either way.
    let state_dir = args
        .state_dir
        .clone()
        .or_else(|| std::env::var_os("NEXUS_STATE_DIR").map(PathBuf::from));
    let file = args
        .config
        .clone()
        .or_else(|| default_config_file(state_dir.as_deref()));
    let mut s = Sources::from_process(file);
    if let Some(d) = &args.state_dir {
        s = s.flag("state_dir", d.display().to_string(), "--state-dir");
    }
    if let Some(v) = &args.database_url {
        s = s.flag("database.url", v, "--database-url");
    }
    if let Some(v) = &args.log_level {
        s = s.flag("log.level", v, "--log-level");
    }
    if let Some(sv) = serve {
        if let Some(v) = &sv.listen {
            s = s.flag("server.listen", v, "--listen");
        }
        if let Some(v) = &sv.apps {
            s = s.flag("server.apps", v, "--apps");
        }
        if let Some(v) = &sv.name {
            s = s.flag("server.name", v, "--name");
        }
        if let Some(v) = &sv.admin_socket {
            s = s.flag("admin.socket", v.display().to_string(), "--admin-socket");
        }
    }
    let mut bad = Vec::new();
    for kv in &args.set {
        match kv.split_once('=') {
            Some((k, v)) => s = s.flag(k.trim(), v, &format!("--set {k}")),
            None => bad.push(config::ConfigIssue {
                key: kv.clone(),
                origin: config::Origin::Flag("--set".into()),
                problem: "missing `=`".into(),
                fix: "write --set key=value".into(),
            }),
        }
    }
    if bad.is_empty() {
        Ok(s)
    } else {
        Err(config::ConfigErrors(bad))
    }
}

fn load(args: &ConfigArgs, serve: Option<&ServeArgs>) -> Result<Config, config::ConfigErrors> {
    let (cfg, warnings) = config::load_with_warnings(&sources(args, serve)?)?;
    for w in warnings {
        eprintln!("nexusd: warning: {w}");
    }
    Ok(cfg)
}

fn default_config_file(state_dir: Option<&Path>) -> Option<PathBuf> {
    let candidates = [
        state_dir.map(|d| d.join("config.toml")),
        Some(PathBuf::from("/etc/nexus/config.toml")),
    ];
    candidates.into_iter().flatten().find(|p| p.is_file())
}

fn configtest(args: &ConfigtestArgs) -> ExitCode {
    if args.keys {
        use std::io::Write;
        // Written without println! so that `| head` (a closed pipe) ends quietly.
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{:<40} {:<44} DEFAULT", "KEY", "ENVIRONMENT");
        for (key, env, default) in config::describe_keys() {
            if key == "version" {
                continue;
            }
            if writeln!(out, "{key:<40} {env:<44} {default}").is_err() {
                break;
            }
        }
        return ExitCode::SUCCESS;
    }
    match load(&args.serve.config, Some(&args.serve)) {
        Err(e) => {
            eprint!("nexusd: {e}");
            ExitCode::from(2)
        }
        Ok(cfg) => {
            if let Err(msg) = nexus_runtime::app::select(apps::all(), &cfg.server.apps) {
                eprintln!("nexusd: the configuration has 1 problem:\n  - server.apps: {msg}");
                return ExitCode::from(2);
            }
            if args.json {
                match serde_json::to_string_pretty(&cfg) {
                    Ok(s) => println!("{s}"),
                    Err(e) => {
                        eprintln!("nexusd: {e}");
                        return ExitCode::FAILURE;
                    }
                }
            } else {
                println!(
                    "configuration OK: daemon `{}` serving {} on {}, state in {}",
                    cfg.server.name,
                    cfg.server.apps.join(","),
                    cfg.server.listen,
                    cfg.state_dir.display()
                );
            }
            ExitCode::SUCCESS
        }
    }
}

/// Under nexusctl's supervisor (which sets `NEXUS_SUPERVISOR_PID`), ask the kernel for a
/// SIGTERM when the supervisor dies, so a supervisor killed with SIGKILL does not leave its
/// daemons running. systemd needs nothing of the kind.
fn stop_with_supervisor() -> Result<(), Failure> {
    let Some(pid) = std::env::var("NEXUS_SUPERVISOR_PID")
        .ok()
        .and_then(|p| p.parse::<i32>().ok())
    else {
        return Ok(());
    };
    if let Err(e) = nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGTERM) {
        tracing::warn!(error = %e, "cannot ask to be stopped with the supervisor");
    }
    // The supervisor may have died before the request took effect.
    if nix::unistd::getppid().as_raw() != pid {
        return Err(Failure {
            code: 1,
            message: "the nexusctl supervisor that started this daemon is gone; not starting"
                .to_owned(),
        });
    }
    Ok(())
}

async fn serve(cfg: Config) -> Result<(), Failure> {
    stop_with_supervisor()?;
    let shutdown = CancellationToken::new();
    nexus_runtime::lifecycle::cancel_on_signals(shutdown.clone()).map_err(|e| Failure {
        code: 1,
        message: format!("cannot install signal handlers: {e}"),
    })?;
    let running = nexus_runtime::start(cfg, apps::all(), shutdown).await?;
    running.wait().await?;
    Ok(())
}

async fn migrate(cfg: Config) -> Result<(), Failure> {
    nexus_runtime::server::prepare_state_dir(&cfg)?;
    let apps = nexus_runtime::app::select(apps::all(), &cfg.server.apps).map_err(|m| Failure {
        code: 2,
        message: m,
    })?;
    let db = nexus_runtime::server::connect_and_migrate(&cfg, &apps).await?;
    db.close().await;
    println!("database is up to date");
    Ok(())
}

fn database_url(cfg: &Config) -> Result<String, Failure> {
    cfg.database_url().map_err(|e| Failure {
        code: 2,
        message: format!(
            "cannot read database.url_file {}: {e}",
            cfg.resolve(&cfg.database.url_file).display()
        ),
    })
}

fn dump_failure(e: nexus_store::StoreError) -> Failure {
    Failure {
        code: 1,
        message: e.to_string(),
    }
}

/// `nexusd dump`: the database copy a backup takes, plus what nexusctl needs to find the rest
/// of the instance's data (the blob store, resolved against the state directory).
async fn dump(cfg: Config, args: &DumpArgs) -> Result<(), Failure> {
    let url = database_url(&cfg)?;
    let backend = nexus_store::dump::dump(&url, &cfg.state_dir, &args.out)
        .await
        .map_err(dump_failure)?;
    let blobs = match cfg.blobs.url.strip_prefix("file://") {
        Some(rest) if !rest.starts_with('/') => {
            format!("file://{}", cfg.state_dir.join(rest).display())
        }
        _ => cfg.blobs.url.clone(),
    };
    if args.json {
        println!(
            "{}",
            serde_json::json!({
                "backend": backend.to_string(),
                "blobs_url": blobs,
                "configured_blobs_url": cfg.blobs.url,
                "state_dir": cfg.state_dir,
                "version": env!("CARGO_PKG_VERSION"),
            })
        );
    } else {
        println!(
            "wrote a copy of the {backend} database to {}",
            args.out.display()
        );
    }
    Ok(())
}

async fn load_dump(cfg: Config, args: &LoadArgs) -> Result<(), Failure> {
    let url = database_url(&cfg)?;
    let backend = if args.backend == "postgres" {
        nexus_store::Backend::Postgres
    } else {
        nexus_store::Backend::Sqlite
    };
    let loaded = match &args.replace_keeping {
        Some(aside) => {
            nexus_store::dump::replace(&url, &cfg.state_dir, &args.from, backend, aside).await
        }
        None => nexus_store::dump::load(&url, &cfg.state_dir, &args.from, backend).await,
    };
    loaded.map_err(|e| Failure {
        code: 2,
        message: e.to_string(),
    })?;
    println!("loaded {} into the {backend} database", args.from.display());
    Ok(())
}

/// The identity service over this instance's database (migrated first), for operator
/// commands; the caller closes the returned database.
async fn identity_service(
    cfg: &Config,
) -> Result<(nexus_identity::IdentityService, nexus_store::Db), Failure> {
    nexus_runtime::server::prepare_state_dir(cfg)?;
    let db = nexus_runtime::server::connect_and_migrate(cfg, &apps::all()).await?;
    let blobs =
        nexus_store::BlobStore::open(&cfg.blobs.url, &cfg.state_dir).map_err(ServeError::from)?;
    let outbox = nexus_store::Outbox::new(db.clone(), nexus_store::EventBus::default());
    let ctx = nexus_runtime::AppContext {
        config: std::sync::Arc::new(cfg.clone()),
        db: db.clone(),
        blobs,
        outbox,
        apps: std::sync::Arc::new(Vec::new()),
        secrets_dir: cfg.state_dir.join("secrets"),
        shutdown: CancellationToken::new(),
        public_url: public_url(cfg),
        // Operator commands send no e-mail.
        mailer: nexus_runtime::mail::Mailer::disabled(),
    };
    let service = nexus_identity::service(&ctx).map_err(|message| Failure { code: 1, message })?;
    Ok((service, db))
}

/// Where browsers reach this instance, as the daemon will announce it once it listens.
fn public_url(cfg: &Config) -> String {
    cfg.public_url(
        cfg.listen_addr()
            .unwrap_or_else(|| std::net::SocketAddr::from(([127, 0, 0, 1], 8080))),
    )
}

/// Operator mistakes (unknown user, bad input, conflicts) exit 2; the rest 1.
fn identity_failure(e: nexus_identity::IdentityError) -> Failure {
    use nexus_identity::IdentityError as E;
    Failure {
        code: match e {
            E::AlreadyProvisioned
            | E::Invalid(_)
            | E::NotFound(_)
            | E::Conflict(_)
            | E::ManagedByDirectory(..) => 2,
            _ => 1,
        },
        message: e.to_string(),
    }
}

async fn provision(cfg: Config, args: &ProvisionArgs) -> Result<(), Failure> {
    let (service, db) = identity_service(&cfg).await?;
    let provisioned = service
        .provision(&args.org_name, &args.admin_email, &operator())
        .await;
    db.close().await;
    let p = provisioned.map_err(identity_failure)?;
    let path = format!("setup#token={}", p.setup_token);
    let link = format!("{}{path}", public_url(&cfg));
    if args.json {
        let out = serde_json::json!({
            "org": { "id": p.org.id.to_string(), "slug": p.org.slug, "name": p.org.name },
            "admin": { "id": p.admin.id.to_string(), "email": p.admin.email },
            "setup_link": link,
            "setup_path": path,
            "setup_link_days": nexus_identity::service::recovery::SETUP_LINK_DAYS,
        });
        println!("{out}");
    } else {
        println!("Organization: {} ({})", p.org.name, p.org.slug);
        println!(
            "Set up the administrator {} within {} days at: {link}",
            p.admin.email,
            nexus_identity::service::recovery::SETUP_LINK_DAYS
        );
    }
    Ok(())
}

/// The audit actor for a command run on this machine: the Unix account running it.
fn operator() -> nexus_store::audit::Actor {
    let uid = nix::unistd::getuid();
    let name = nix::unistd::User::from_uid(uid)
        .ok()
        .flatten()
        .map_or_else(|| format!("uid {uid}"), |u| u.name);
    nexus_store::audit::Actor::new(format!("operator:{name}"), "local")
}

fn print_json(v: &serde_json::Value) {
    println!("{v}");
}

fn user_json(u: &nexus_identity::model::User) -> serde_json::Value {
    serde_json::json!({
        "id": u.id.to_string(),
        "email": u.email,
        "display_name": u.display_name,
        "role": u.role.as_str(),
        "disabled": u.disabled,
        "must_change_password": u.must_change_password,
        "created_at": u.created_at.to_rfc3339(),
    })
}

async fn users(cfg: Config, command: UsersCommand) -> Result<(), Failure> {
    let (service, db) = identity_service(&cfg).await?;
    let result = users_inner(&service, command).await;
    db.close().await;
    result.map_err(identity_failure)
}

async fn users_inner(
    service: &nexus_identity::IdentityService,
    command: UsersCommand,
) -> Result<(), nexus_identity::IdentityError> {
    use nexus_identity::model::Role;
    match command {
        UsersCommand::Add {
            email,
            name,
            role,
            org,
            json,
        } => {
            let org = service.resolve_org(org.as_deref()).await?;
            let role = Role::parse(&role).unwrap_or(Role::Member);
            let (user, otp) = service
                .add_user(org.id, &email, name.as_deref(), role, &operator())
                .await?;
            if json {
                let mut v = user_json(&user);
                v["org"] = serde_json::json!(org.slug);
                v["one_time_password"] = serde_json::json!(otp);
                print_json(&v);
            } else {
                println!(
                    "Added {} ({}) to {}",
                    user.email,
                    user.role.as_str(),
                    org.name
                );
                println!("One-time password: {otp}");
                println!(
                    "(They choose their own password at first login; this one is not shown again.)"
                );
            }
        }
        UsersCommand::List { org, json } => {
            let org = service.resolve_org(org.as_deref()).await?;
            let users = service.store().list_users(org.id).await?;
            if json {
                print_json(&serde_json::Value::Array(
                    users.iter().map(user_json).collect(),
                ));
            } else {
                println!("{:<36} {:<8} {:<9} NAME", "E-MAIL", "ROLE", "STATE");
                for u in users {
                    let state = if u.disabled {
                        "disabled"
                    } else if u.must_change_password {
                        "new"
                    } else {
                        "active"
                    };
                    println!(
                        "{:<36} {:<8} {:<9} {}",
                        u.email,
                        u.role.as_str(),
                        state,
                        u.display_name
                    );
                }
            }
        }
        UsersCommand::Disable { email, org } => {
            let org = service.resolve_org(org.as_deref()).await?;
            let user = service
                .set_user_disabled(org.id, &email, true, &operator())
                .await?;
            println!(
                "Disabled {} in {}; their sessions have ended",
                user.email, org.name
            );
        }
        UsersCommand::Enable { email, org } => {
            let org = service.resolve_org(org.as_deref()).await?;
            let user = service
                .set_user_disabled(org.id, &email, false, &operator())
                .await?;
            println!("Enabled {} in {}", user.email, org.name);
        }
        UsersCommand::ResetPassword { email, org, json } => {
            let org = service.resolve_org(org.as_deref()).await?;
            let otp = service.reset_password(org.id, &email, &operator()).await?;
            if json {
                print_json(
                    &serde_json::json!({ "email": email.trim().to_lowercase(), "org": org.slug, "one_time_password": otp }),
                );
            } else {
                println!(
                    "New one-time password for {}: {otp}",
                    email.trim().to_lowercase()
                );
                println!(
                    "(Their sessions have ended; they choose a new password at the next login.)"
                );
            }
        }
        UsersCommand::ResetMfa { email, org } => {
            let org = service.resolve_org(org.as_deref()).await?;
            let email = email.trim().to_lowercase();
            if service.reset_mfa(org.id, &email, &operator()).await? {
                println!(
                    "Removed the authenticator app of {email}; they log in with their password and can set up a new one."
                );
            } else {
                println!("{email} had no authenticator app; nothing changed.");
            }
        }
    }
    Ok(())
}

async fn orgs(cfg: Config, command: OrgsCommand) -> Result<(), Failure> {
    let (service, db) = identity_service(&cfg).await?;
    let result = async {
        match command {
            OrgsCommand::Create { name, slug, json } => {
                let org = service
                    .create_org(&name, slug.as_deref(), &operator())
                    .await?;
                if json {
                    print_json(&serde_json::json!({ "id": org.id.to_string(), "slug": org.slug, "name": org.name }));
                } else {
                    println!("Created organization {} ({})", org.name, org.slug);
                    println!("Add its first administrator with: users add --org {} --email … --role owner", org.slug);
                }
            }
            OrgsCommand::List { json } => {
                let orgs = service.store().list_orgs().await?;
                if json {
                    print_json(&serde_json::Value::Array(
                        orgs.iter()
                            .map(|o| serde_json::json!({ "id": o.id.to_string(), "slug": o.slug, "name": o.name, "created_at": o.created_at.to_rfc3339() }))
                            .collect(),
                    ));
                } else {
                    println!("{:<24} NAME", "SLUG");
                    for o in orgs {
                        println!("{:<24} {}", o.slug, o.name);
                    }
                }
            }
        }
        Ok::<(), nexus_identity::IdentityError>(())
    }
    .await;
    db.close().await;
    result.map_err(identity_failure)
}

/// Where `audit verify` keeps the newest record it saw.
fn audit_anchor_path(cfg: &Config) -> PathBuf {
    cfg.state_dir.join("audit.head")
}

async fn audit(cfg: Config, command: AuditCommand) -> Result<(), Failure> {
    nexus_runtime::server::prepare_state_dir(&cfg)?;
    let db = nexus_runtime::server::connect_and_migrate(&cfg, &apps::all()).await?;
    let result = match command {
        AuditCommand::Verify { json } => audit_verify(&cfg, &db, json).await,
        AuditCommand::Export { org, after } => audit_export(&cfg, &db, org.as_deref(), after).await,
    };
    db.close().await;
    result
}

async fn audit_verify(cfg: &Config, db: &nexus_store::Db, json: bool) -> Result<(), Failure> {
    use nexus_store::audit;
    let fail = |message: String| Failure { code: 1, message };
    let path = audit_anchor_path(cfg);
    let anchor: Option<audit::Anchor> = match std::fs::read(&path) {
        Ok(bytes) => Some(serde_json::from_slice(&bytes).map_err(|e| {
            fail(format!(
                "{} is damaged ({e}); move it away to verify without it",
                path.display()
            ))
        })?),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(fail(format!("cannot read {}: {e}", path.display()))),
    };
    let v = audit::verify(db, anchor.as_ref())
        .await
        .map_err(|e| fail(format!("cannot read the audit log: {e}")))?;
    if v.is_intact()
        && let Some(head) = &v.head
    {
        let body = serde_json::to_vec(head).map_err(|e| fail(e.to_string()))?;
        let tmp = path.with_extension("head.tmp");
        std::fs::write(&tmp, body)
            .and_then(|()| std::fs::rename(&tmp, &path))
            .map_err(|e| fail(format!("cannot record the head in {}: {e}", path.display())))?;
    }
    if json {
        println!(
            "{}",
            serde_json::json!({
                "intact": v.is_intact(),
                "records": v.records,
                "head": v.head,
                "problems": v.problems,
                "anchor": anchor,
            })
        );
    } else if v.is_intact() {
        match &v.head {
            Some(h) => println!(
                "audit log intact: {} records, head {} {}",
                v.records, h.seq, h.hash
            ),
            None => println!("audit log intact: no records yet"),
        }
    } else {
        println!("audit log NOT intact ({} records read):", v.records);
        for p in &v.problems {
            println!("  - {p}");
        }
    }
    if v.is_intact() {
        Ok(())
    } else {
        Err(Failure {
            code: 3,
            message: "the audit log has been tampered with; restore it from a backup and find out who had access to the database".to_owned(),
        })
    }
}

async fn audit_export(
    cfg: &Config,
    db: &nexus_store::Db,
    org: Option<&str>,
    after: i64,
) -> Result<(), Failure> {
    use std::io::Write;
    let org = match org {
        None => None,
        Some(slug) => {
            let (service, idb) = identity_service(cfg).await?;
            let found = service.resolve_org(Some(slug)).await;
            idb.close().await;
            Some(found.map_err(identity_failure)?.id)
        }
    };
    let mut out = std::io::stdout().lock();
    let mut after = after;
    loop {
        let page = nexus_store::audit::list(db, org, after, 1000)
            .await
            .map_err(|e| Failure {
                code: 1,
                message: format!("cannot read the audit log: {e}"),
            })?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        for r in &page {
            let line = serde_json::to_string(r).map_err(|e| Failure {
                code: 1,
                message: e.to_string(),
            })?;
            if writeln!(out, "{line}").is_err() {
                // A closed pipe (`| head`): stop quietly.
                return Ok(());
            }
        }
    }
    Ok(())
}

fn keys(cfg: &Config, command: KeysCommand) -> Result<(), Failure> {
    nexus_runtime::server::prepare_state_dir(cfg)?;
    let fail = |message: String| Failure { code: 1, message };
    let set = nexus_identity::keys::KeySet::open(&cfg.state_dir.join("secrets").join("signing"))
        .map_err(fail)?;
    match command {
        KeysCommand::List => {
            let kids = set.kids();
            let last = kids.len().saturating_sub(1);
            for (i, kid) in kids.iter().enumerate() {
                let role = if i == last {
                    "signs and verifies"
                } else {
                    "verifies"
                };
                println!("{kid}  {role}");
            }
        }
        KeysCommand::Rotate => {
            let kid = set.rotate().map_err(fail)?;
            println!(
                "New signing key {kid}; running daemons sign with it after a restart and accept its tokens at once."
            );
        }
        KeysCommand::Retire { kid } => {
            set.retire(&kid)
                .map_err(|message| Failure { code: 2, message })?;
            println!(
                "Retired {kid}; running daemons refuse the tokens it signed within 5 seconds."
            );
        }
    }
    Ok(())
}
