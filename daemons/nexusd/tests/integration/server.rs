//! A real nexusd (in-process, port 0) spoken to over HTTP and its admin socket.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use nexus_runtime::{App, AppContext, Job, ProtocolListener};
use nexus_testkit::{Backend, TestServer};
use nexus_wire::{AppInfo, AppsResponse, ErrorBody, codes};
use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn apps() -> Vec<Arc<dyn App>> {
    nexusd::apps::all()
}

async fn error_code(resp: reqwest::Response) -> String {
    resp.json::<ErrorBody>()
        .await
        .expect("error body")
        .error
        .code
}

#[tokio::test]
async fn lists_installed_apps() {
    let s = TestServer::start(apps()).await.unwrap();
    let resp = s.client.get(s.url("/api/apps")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/json");
    let body: AppsResponse = resp.json().await.unwrap();
    let ids: Vec<&str> = body.apps.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids, ["hub", "identity"]);
    assert_eq!(body.product.version, env!("CARGO_PKG_VERSION"));
    s.stop().await.unwrap();
}

#[tokio::test]
async fn runs_only_the_selected_apps() {
    let s = TestServer::start_with(apps(), Backend::Sqlite, |c| {
        c.server.apps = vec!["hub".into()]
    })
    .await
    .unwrap()
    .unwrap();
    let body: AppsResponse = s
        .client
        .get(s.url("/api/apps"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body.apps.len(), 1);
    let resp = s.client.get(s.url("/api/session")).send().await.unwrap();
    assert_eq!(resp.status(), 404, "identity's routes are not mounted");
    assert_eq!(error_code(resp).await, codes::NOT_FOUND);
    s.stop().await.unwrap();
}

#[tokio::test]
async fn unknown_app_is_a_clear_error() {
    let err = TestServer::start_with(apps(), Backend::Sqlite, |c| {
        c.server.apps = vec!["crm".into()]
    })
    .await
    .err()
    .expect("must fail");
    let text = format!("{err:#}");
    assert!(
        text.contains("`crm`") && text.contains("available: hub, identity"),
        "{text}"
    );
}

/// A built front-end in a temporary directory, with a precompressed hashed asset.
fn fake_web() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("index.html"),
        "<!doctype html><div id=root></div>",
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("assets")).unwrap();
    std::fs::write(
        dir.path().join("assets/app-1a2b.js"),
        "console.log('plain')",
    )
    .unwrap();
    std::fs::write(dir.path().join("assets/app-1a2b.js.br"), b"brotli bytes").unwrap();
    dir
}

#[tokio::test]
async fn serves_the_web_app_with_caching_and_precompression() {
    let web = fake_web();
    let dir = web.path().to_path_buf();
    let s = TestServer::start_with(apps(), Backend::Sqlite, |c| c.web.dir = dir)
        .await
        .unwrap()
        .unwrap();

    let index = s.client.get(s.url("/")).send().await.unwrap();
    assert_eq!(index.status(), 200);
    assert_eq!(index.headers()["cache-control"], "no-cache");
    assert_eq!(index.headers()["x-content-type-options"], "nosniff");

    let spa = s
        .client
        .get(s.url("/account/security"))
        .send()
        .await
        .unwrap();
    assert_eq!(spa.status(), 200, "client-side routes get index.html");
    assert!(spa.text().await.unwrap().contains("id=root"));

    let asset = s
        .client
        .get(s.url("/assets/app-1a2b.js"))
        .header("accept-encoding", "br, gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(asset.status(), 200);
    assert_eq!(
        asset.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert_eq!(asset.headers()["content-encoding"], "br");
    assert!(
        asset.headers()["content-type"]
            .to_str()
            .unwrap()
            .contains("javascript")
    );

    let plain = s
        .client
        .get(s.url("/assets/app-1a2b.js"))
        .send()
        .await
        .unwrap();
    assert!(plain.headers().get("content-encoding").is_none());
    assert_eq!(plain.text().await.unwrap(), "console.log('plain')");

    let missing = s.client.get(s.url("/assets/nope.js")).send().await.unwrap();
    assert_eq!(
        missing.status(),
        404,
        "a missing asset is not answered with index.html"
    );

    let api = s.client.get(s.url("/api/nope")).send().await.unwrap();
    assert_eq!(api.status(), 404);
    assert_eq!(error_code(api).await, codes::NOT_FOUND);
    s.stop().await.unwrap();
}

#[tokio::test]
async fn admin_endpoints_live_only_on_the_admin_socket() {
    let web = fake_web();
    let dir = web.path().to_path_buf();
    let s = TestServer::start_with(apps(), Backend::Sqlite, |c| c.web.dir = dir)
        .await
        .unwrap()
        .unwrap();
    s.client.get(s.url("/api/apps")).send().await.unwrap();

    assert_eq!(s.admin_get("/healthz").await.unwrap().0, 200);
    assert_eq!(
        s.admin_get("/readyz").await.unwrap(),
        (200, "ready\n".to_owned())
    );
    let (code, status) = s.admin_get("/status").await.unwrap();
    assert_eq!(code, 200);
    let report: nexus_wire::DaemonReport = serde_json::from_str(&status).unwrap();
    assert!(report.ready && report.healthy);
    assert_eq!(report.apps.len(), 2);
    assert!(report.rss_bytes.unwrap_or(0) > 0);

    let (code, metrics) = s.admin_get("/metrics").await.unwrap();
    assert_eq!(code, 200);
    for needle in [
        "nexus_http_requests_total{route=\"/api/apps\",method=\"GET\",status=\"2xx\"}",
        "nexus_http_request_duration_seconds_bucket{route=\"/api/apps\"",
        "nexus_db_pool_connections",
        "process_resident_memory_bytes",
        "process_cpu_seconds_total",
    ] {
        assert!(metrics.contains(needle), "missing {needle} in\n{metrics}");
    }

    for path in ["/metrics", "/healthz", "/readyz", "/status"] {
        let body = s
            .client
            .get(s.url(path))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            !body.contains("nexus_http_requests_total")
                && !body.contains("\"uptime_secs\"")
                && body != "ok\n",
            "{path} must not be served on the public port"
        );
    }
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&s.admin_socket)
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600, "admin socket is private to the daemon's user");
    let secret_mode = std::fs::metadata(s.state_dir().join("secrets/session.key"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(secret_mode, 0o600);
    s.stop().await.unwrap();
}

async fn login_flow(s: &TestServer) {
    let (email, _) = s.provision().await.unwrap();
    let otp = s.operator_reset_password(&email).await.unwrap();

    let bad = s
        .client
        .post(s.url("/api/session"))
        .json(&serde_json::json!({"email": email, "password": "nope"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 401);
    assert_eq!(error_code(bad).await, codes::AUTH_INVALID_CREDENTIALS);

    let resp = s
        .client
        .post(s.url("/api/session"))
        .json(&serde_json::json!({"email": email, "password": otp}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let set_cookie = resp.headers()["set-cookie"].to_str().unwrap().to_owned();
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(set_cookie.contains(attr), "{set_cookie}");
    }
    let body: nexus_wire::SessionResponse = resp.json().await.unwrap();
    assert!(body.must_change_password);
    assert_eq!(body.user.role, "owner");
    let cookie = set_cookie.split(';').next().unwrap().to_owned();

    let me = s
        .client
        .get(s.url("/api/session"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);

    // Until the one-time password is replaced, nothing else is allowed.
    let pending = s
        .client
        .get(s.url("/api/admin/audit"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(pending.status(), 403);
    assert_eq!(
        error_code(pending).await,
        codes::AUTH_PASSWORD_CHANGE_REQUIRED
    );

    // Cross-site attempts to change the password are refused before anything runs.
    let change =
        serde_json::json!({"current_password": otp, "new_password": "a much better passphrase"});
    for (h, v) in [
        ("origin", "https://evil.example"),
        ("sec-fetch-site", "cross-site"),
        ("origin", "null"),
    ] {
        let r = s
            .client
            .post(s.url("/api/session/password"))
            .header("cookie", &cookie)
            .header(h, v)
            .json(&change)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "{h}: {v}");
        assert_eq!(error_code(r).await, codes::CSRF_REJECTED);
    }
    let same_origin = s.base.clone();
    let r = s
        .client
        .post(s.url("/api/session/password"))
        .header("cookie", &cookie)
        .header("origin", same_origin)
        .header("sec-fetch-site", "same-origin")
        .json(&change)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);

    let out = s
        .client
        .delete(s.url("/api/session"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 204);
    assert!(
        out.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    let gone = s
        .client
        .get(s.url("/api/session"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 401);
    assert_eq!(error_code(gone).await, codes::AUTH_REQUIRED);
    let cookie = s.login(&email, "a much better passphrase").await.unwrap();

    // Every change above is in the audit log, with who and from where.
    let audit: serde_json::Value = s
        .client
        .get(s.url("/api/admin/audit?limit=50"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let records = audit["records"].as_array().unwrap();
    let actions: Vec<&str> = records
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "org.created",
            "user.created",
            "account.setup_link_created",
            "user.password_reset",
            "session.login_failed",
            "session.login",
            "user.password_changed",
            "session.logout",
            "session.login"
        ]
    );
    assert_eq!(records[4]["source"], "127.0.0.1");
    assert!(
        records[6]["actor"]
            .as_str()
            .unwrap()
            .starts_with("owner@test.example (")
    );
    assert_eq!(audit["next_after"], records[8]["seq"]);
    let bad = s
        .client
        .get(s.url("/api/admin/audit?after=soon"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    assert_eq!(error_code(bad).await, codes::VALIDATION_FAILED);

    // Logging out everywhere ends every session, this one included.
    let other = s.login(&email, "a much better passphrase").await.unwrap();
    let r = s
        .client
        .post(s.url("/api/session/logout-everywhere"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    for c in [&cookie, &other] {
        let r = s
            .client
            .get(s.url("/api/session"))
            .header("cookie", c)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
    }
}

#[tokio::test]
async fn login_flow_on_sqlite() {
    let s = TestServer::start(apps()).await.unwrap();
    login_flow(&s).await;
    s.stop().await.unwrap();
}

#[tokio::test]
async fn login_flow_on_postgres() {
    let Some(s) = TestServer::start_with(apps(), Backend::Postgres, |_| {})
        .await
        .unwrap()
    else {
        return;
    };
    login_flow(&s).await;
    let report: nexus_wire::DaemonReport =
        serde_json::from_str(&s.admin_get("/status").await.unwrap().1).unwrap();
    assert!(report.healthy);
    s.stop().await.unwrap();
}

#[tokio::test]
async fn malformed_input_gets_a_4xx_with_a_code() {
    let s = TestServer::start(apps()).await.unwrap();
    let url = s.url("/api/session");
    let cases: Vec<(reqwest::RequestBuilder, u16, &str)> = vec![
        (
            s.client
                .post(&url)
                .header("content-type", "application/json")
                .body("{not json"),
            400,
            codes::BAD_JSON,
        ),
        (
            s.client
                .post(&url)
                .header("content-type", "application/json")
                .body("{\"email\": 5}"),
            400,
            codes::BAD_JSON,
        ),
        (
            s.client
                .post(&url)
                .header("content-type", "application/json")
                .body("[]"),
            400,
            codes::BAD_JSON,
        ),
        (
            s.client.post(&url).body("{}"),
            415,
            codes::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            s.client
                .post(&url)
                .header("content-type", "application/json")
                .body(vec![b' '; 3 * 1024 * 1024]),
            413,
            codes::PAYLOAD_TOO_LARGE,
        ),
        (
            s.client
                .post(s.url("/api/session/password"))
                .json(&serde_json::json!({})),
            401,
            codes::AUTH_REQUIRED,
        ),
        (
            s.client
                .get(&url)
                .header("cookie", "nexus_session=%%%garbage; other=1"),
            401,
            codes::AUTH_REQUIRED,
        ),
        (s.client.put(s.url("/api/apps")), 405, ""),
    ];
    for (req, status, code) in cases {
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status().as_u16(), status);
        if !code.is_empty() {
            assert_eq!(error_code(resp).await, code);
        }
    }
    s.stop().await.unwrap();
}

/// An app that exercises the rest of the App interface: a slow route, a job and a TCP
/// protocol listener.
struct Probe {
    job_stopped: Arc<AtomicBool>,
    listener_addr: Arc<std::sync::Mutex<Option<SocketAddr>>>,
}

impl App for Probe {
    fn info(&self) -> AppInfo {
        AppInfo {
            id: "probe".into(),
            name: "Probe".into(),
            description: "test".into(),
            path: "/probe".into(),
            icon: "x".into(),
        }
    }

    fn routes(&self, _: &AppContext) -> Result<Router, String> {
        Ok(Router::new()
            .route(
                "/api/probe/slow",
                get(|| async {
                    tokio::time::sleep(Duration::from_millis(700)).await;
                    "finished"
                }),
            )
            .route(
                "/api/probe/stuck",
                get(|| async {
                    tokio::time::sleep(Duration::from_secs(30)).await;
                    "never"
                }),
            ))
    }

    fn jobs(&self, _: &AppContext) -> Vec<Job> {
        let flag = self.job_stopped.clone();
        vec![Job::new("waiter", move |cancel| async move {
            cancel.cancelled().await;
            flag.store(true, Ordering::SeqCst);
            Ok(())
        })]
    }

    fn listeners(&self, _: &AppContext) -> Result<Vec<ProtocolListener>, String> {
        let slot = self.listener_addr.clone();
        Ok(vec![ProtocolListener::new(
            "echo",
            "127.0.0.1:0".parse().unwrap(),
            move |l, cancel| async move {
                *slot.lock().unwrap() = l.local_addr().ok();
                loop {
                    tokio::select! {
                        _ = cancel.cancelled() => return Ok(()),
                        conn = l.accept() => {
                            let (mut sock, _) = conn.map_err(|e| e.to_string())?;
                            tokio::spawn(async move {
                                let mut buf = [0u8; 64];
                                if let Ok(n) = sock.read(&mut buf).await {
                                    let _ = sock.write_all(&buf[..n]).await;
                                }
                            });
                        }
                    }
                }
            },
        )])
    }
}

#[tokio::test]
async fn shutdown_drains_requests_and_stops_jobs_and_listeners() {
    let job_stopped = Arc::new(AtomicBool::new(false));
    let listener_addr = Arc::new(std::sync::Mutex::new(None));
    let probe = Probe {
        job_stopped: job_stopped.clone(),
        listener_addr: listener_addr.clone(),
    };
    let mut all = apps();
    all.push(Arc::new(probe));
    let s = TestServer::start(all).await.unwrap();

    // The protocol listener was bound before ready and answers.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let addr = listener_addr.lock().unwrap().expect("listener bound");
    let mut sock = tokio::net::TcpStream::connect(addr).await.unwrap();
    sock.write_all(b"ping").await.unwrap();
    let mut buf = [0u8; 4];
    sock.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"ping");

    // A request in flight when shutdown begins still gets its answer.
    let client = s.client.clone();
    let url = s.url("/api/probe/slow");
    let in_flight = tokio::spawn(async move { client.get(url).send().await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let base = s.base.clone();
    let started = std::time::Instant::now();
    s.stop().await.unwrap();
    let resp = in_flight
        .await
        .unwrap()
        .expect("in-flight request completed");
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.text().await.unwrap(), "finished");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(job_stopped.load(Ordering::SeqCst), "jobs are told to stop");
    assert!(
        reqwest::get(format!("{base}/api/apps")).await.is_err(),
        "no longer listening"
    );
}

#[tokio::test]
async fn slow_requests_time_out_with_a_code() {
    let probe = Probe {
        job_stopped: Arc::new(AtomicBool::new(false)),
        listener_addr: Arc::new(std::sync::Mutex::new(None)),
    };
    let mut all = apps();
    all.push(Arc::new(probe));
    let s = TestServer::start_with(all, Backend::Sqlite, |c| c.server.request_timeout_secs = 1)
        .await
        .unwrap()
        .unwrap();
    let started = std::time::Instant::now();
    let resp = s
        .client
        .get(s.url("/api/probe/stuck"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 503);
    assert_eq!(error_code(resp).await, codes::TIMEOUT);
    assert!(started.elapsed() < Duration::from_secs(5));
    s.stop().await.unwrap();
}

#[tokio::test]
async fn brute_force_is_throttled_with_retry_after() {
    let s = TestServer::start(apps()).await.unwrap();
    let (email, setup) = s.provision().await.unwrap();
    let right = "the right passphrase here";
    s.setup(&setup, right).await.unwrap();
    let attempt = |password: &str| {
        s.client
            .post(s.url("/api/session"))
            .json(&serde_json::json!({ "email": email, "password": password }))
            .send()
    };
    for _ in 0..5 {
        assert_eq!(attempt("guess").await.unwrap().status(), 401);
    }
    let locked = attempt(right).await.unwrap();
    assert_eq!(
        locked.status(),
        429,
        "even the right password waits out the lockout"
    );
    let retry: u64 = locked.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=15 * 60).contains(&retry), "{retry}");
    assert_eq!(error_code(locked).await, codes::AUTH_THROTTLED);
    s.stop().await.unwrap();
}
