//! Starts a real `nexusd` for tests: the same `nexus_runtime::start` the binary calls, with
//! its apps, on port 0 of loopback, with a temporary state directory (SQLite) or a fresh
//! PostgreSQL database, and stops it cleanly.

// A test kit: failing loudly on a broken invariant is what a test wants.
#![allow(clippy::expect_used)]

pub mod ldap;
pub mod smtp;
pub use ldap::Slapd;
pub use smtp::SmtpSink;

/// A Python that can import `module` (Debian's, even when another `python3` comes first on
/// PATH). `Ok(None)` when there is none, so the test can skip; an error instead when the
/// environment demands the real tools (`NEXUS_TEST_REQUIRE_TOOLS=1`, as `./dev test` sets).
pub fn python_with(module: &str, package: &str) -> Result<Option<PathBuf>> {
    let found = ["/usr/bin/python3", "python3"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| {
            std::process::Command::new(p)
                .args(["-c", &format!("import {module}")])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        });
    if found.is_none() {
        if std::env::var("NEXUS_TEST_REQUIRE_TOOLS").is_ok_and(|v| v == "1") {
            anyhow::bail!("the Python module {module} is missing: apt-get install {package}");
        }
        eprintln!("skipping: the Python module {module} is missing (apt-get install {package})");
    }
    Ok(found)
}

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use nexus_runtime::{App, Config, Running};
use nexus_store::testing::TestDb;
use tokio_util::sync::CancellationToken;

/// A running daemon and what a test needs to talk to it.
pub struct TestServer {
    /// `http://127.0.0.1:PORT` (no trailing slash).
    pub base: String,
    pub admin_socket: PathBuf,
    pub client: reqwest::Client,
    running: Option<Running>,
    pg: Option<TestDb>,
    state: tempfile::TempDir,
}

/// Which database a test server uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl TestServer {
    /// All of `apps` on SQLite with default settings.
    pub async fn start(apps: Vec<Arc<dyn App>>) -> Result<Self> {
        Self::start_with(apps, Backend::Sqlite, |_| {})
            .await
            .map(|s| s.expect("SQLite is always available"))
    }

    /// `apps` on the given backend, after `tweak` edits the config. Returns `None` for
    /// PostgreSQL when no test server is configured (see `nexus_store::testing`).
    pub async fn start_with(
        apps: Vec<Arc<dyn App>>,
        backend: Backend,
        tweak: impl FnOnce(&mut Config),
    ) -> Result<Option<Self>> {
        let state = tempfile::Builder::new().prefix("nexus-test-").tempdir()?;
        let mut config = Config {
            state_dir: state.path().to_path_buf(),
            ..Config::default()
        };
        config.server.listen = "127.0.0.1:0".to_owned();
        config.log.level = "warn".to_owned();
        config.server.shutdown_timeout_secs = 5;
        let pg = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => match TestDb::postgres().await? {
                Some(db) => {
                    config.database.url = db.url.clone();
                    Some(db)
                }
                None => return Ok(None),
            },
        };
        tweak(&mut config);
        let running = nexus_runtime::start(config, apps, CancellationToken::new())
            .await
            .context("nexusd did not start")?;
        Ok(Some(Self {
            base: format!("http://{}", running.public_addr),
            admin_socket: running.admin_socket.clone(),
            client: reqwest::Client::builder().build()?,
            running: Some(running),
            pg,
            state,
        }))
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn state_dir(&self) -> &Path {
        self.state.path()
    }

    pub fn running(&self) -> &Running {
        self.running.as_ref().expect("server is running")
    }

    /// `GET path` on the admin unix socket: status and body.
    pub async fn admin_get(&self, path: &str) -> Result<(u16, String)> {
        let stream = tokio::net::UnixStream::connect(&self.admin_socket).await?;
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(conn);
        let req = hyper::Request::get(path)
            .header(hyper::header::HOST, "admin")
            .body(Empty::<Bytes>::new())?;
        let resp = sender.send_request(req).await?;
        let status = resp.status().as_u16();
        let body = resp.into_body().collect().await?.to_bytes();
        Ok((status, String::from_utf8_lossy(&body).into_owned()))
    }

    /// Creates the first organization and its owner; returns (e-mail, setup link token).
    pub async fn provision(&self) -> Result<(String, String)> {
        let svc = nexus_identity::service(&self.running().ctx).map_err(anyhow::Error::msg)?;
        let p = svc
            .provision(
                "Test Org",
                "owner@test.example",
                &nexus_store::audit::Actor::system(),
            )
            .await?;
        Ok((p.admin.email, p.setup_token))
    }

    /// What `nexusctl users reset-password` does: a new one-time password for `email` in
    /// the only organization, which must be replaced at the next login.
    pub async fn operator_reset_password(&self, email: &str) -> Result<String> {
        let svc = nexus_identity::service(&self.running().ctx).map_err(anyhow::Error::msg)?;
        let org = svc.resolve_org(None).await?;
        Ok(svc
            .reset_password(org.id, email, &nexus_store::audit::Actor::system())
            .await?)
    }

    /// Opens the setup link from provisioning with `password`; returns the session cookie.
    pub async fn setup(&self, token: &str, password: &str) -> Result<String> {
        let body = serde_json::json!({ "token": token, "new_password": password });
        let resp = self.post_json("/api/setup", None, &body).await?;
        anyhow::ensure!(resp.status() == 200, "setup failed: {}", resp.status());
        session_cookie(&resp)
    }

    /// Logs in and returns the session cookie (`nexus_session=…`).
    pub async fn login(&self, email: &str, password: &str) -> Result<String> {
        let resp = self
            .client
            .post(self.url("/api/session"))
            .json(&serde_json::json!({ "email": email, "password": password }))
            .send()
            .await?;
        anyhow::ensure!(resp.status() == 200, "login failed: {}", resp.status());
        session_cookie(&resp)
    }

    /// A user's first login: logs in with the one-time password, replaces it with `new`
    /// and returns the session cookie.
    pub async fn first_login(&self, email: &str, otp: &str, new: &str) -> Result<String> {
        let cookie = self.login(email, otp).await?;
        let body = serde_json::json!({ "current_password": otp, "new_password": new });
        let (status, answer) = self
            .call("POST", "/api/session/password", Some(&cookie), Some(&body))
            .await?;
        anyhow::ensure!(status == 204, "password change failed: {status} {answer}");
        Ok(cookie)
    }

    /// Creates a one-day personal access token with `scopes` as the holder of `cookie`;
    /// returns the token and its id.
    pub async fn create_token(&self, cookie: &str, scopes: &[&str]) -> Result<(String, String)> {
        let body = serde_json::json!({ "name": "test", "scopes": scopes, "expires_in_days": 1 });
        let (status, v) = self
            .call("POST", "/api/tokens", Some(cookie), Some(&body))
            .await?;
        anyhow::ensure!(status == 201, "token creation failed: {status} {v}");
        Ok((
            v["token"].as_str().context("no token")?.to_owned(),
            v["id"].as_str().context("no token id")?.to_owned(),
        ))
    }

    /// `POST path` with a JSON body, as the holder of `cookie` (a session) when given.
    pub async fn post_json(
        &self,
        path: &str,
        cookie: Option<&str>,
        body: &serde_json::Value,
    ) -> Result<reqwest::Response> {
        let mut req = self.client.post(self.url(path)).json(body);
        if let Some(c) = cookie {
            req = req.header(reqwest::header::COOKIE, c);
        }
        Ok(req.send().await?)
    }

    /// `GET path` as the holder of `cookie` when given: the status and the JSON body.
    pub async fn get_json(
        &self,
        path: &str,
        cookie: Option<&str>,
    ) -> Result<(u16, serde_json::Value)> {
        let mut req = self.client.get(self.url(path));
        if let Some(c) = cookie {
            req = req.header(reqwest::header::COOKIE, c);
        }
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        Ok((status, resp.json().await?))
    }

    /// Any method, as `who` when given: a session cookie (`nexus_session=…`) or a bearer
    /// token (`Bearer …`); the status and the JSON body (`null` when there is none).
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        who: Option<&str>,
        body: Option<&serde_json::Value>,
    ) -> Result<(u16, serde_json::Value)> {
        let mut req = self.client.request(
            reqwest::Method::from_bytes(method.as_bytes())?,
            self.url(path),
        );
        match who {
            Some(w) if w.starts_with("Bearer ") => {
                req = req.header(reqwest::header::AUTHORIZATION, w)
            }
            Some(c) => req = req.header(reqwest::header::COOKIE, c),
            None => {}
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await?;
        let json = if bytes.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .with_context(|| format!("{method} {path}: {status} answered with non-JSON"))?
        };
        Ok((status, json))
    }

    /// Stops the daemon the way SIGTERM does and waits for the drain.
    pub async fn stop(mut self) -> Result<()> {
        if let Some(r) = self.running.take() {
            r.stop();
            r.wait().await?;
        }
        if let Some(pg) = self.pg.take() {
            pg.cleanup().await?;
        }
        Ok(())
    }
}

/// The `nexus_session=…` pair from a response's `Set-Cookie`.
fn session_cookie(resp: &reqwest::Response) -> Result<String> {
    Ok(resp
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .context("no session cookie")?
        .to_owned())
}
