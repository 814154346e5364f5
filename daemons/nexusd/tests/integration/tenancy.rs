//! Tenant isolation, proven by walking every API route: a user (and a token) of
//! organization A calls each route aimed at organization B's objects, and nothing of B is
//! read, listed, changed or deleted. The list of routes comes from the source, so a new
//! route that this walk does not know fails the test until it is added here.

use std::collections::BTreeSet;

use nexus_identity::model::Role;
use nexus_store::audit::Actor;
use nexus_testkit::{Backend, TestServer};
use serde_json::{Value, json};

/// Every `(METHOD, path)` the apps serve, read from their route tables.
fn routes_in_source() -> BTreeSet<(String, String)> {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let mut files = Vec::new();
    for dir in ["identity/src", "identity/src/routes", "hub/src"] {
        for entry in std::fs::read_dir(format!("{root}/{dir}")).unwrap() {
            let p = entry.unwrap().path();
            if p.extension().is_some_and(|e| e == "rs") {
                files.push(p);
            }
        }
    }
    let mut found = BTreeSet::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for chunk in text.split(".route(").skip(1) {
            let Some(path) = chunk.split('"').nth(1) else {
                continue;
            };
            // The handlers of this route: up to the next route or the end of the chain.
            let spec = chunk.split(['\n']).take(4).collect::<Vec<_>>().join(" ");
            let spec = spec.split(".route(").next().unwrap_or_default();
            for m in ["get", "post", "put", "patch", "delete"] {
                if spec.contains(&format!("{m}(")) {
                    found.insert((m.to_uppercase(), path.to_owned()));
                }
            }
        }
    }
    found
}

/// What organization B owns, and the strings that must never reach A.
struct Beta {
    org: String,
    user: String,
    email: String,
    cookie: String,
    token: String,
    token_id: String,
    client_id: String,
    client_secret: String,
    group: String,
    role: String,
    session_id: String,
    /// B's outside directory, on a real slapd kept running for the walk (nil without one).
    directory: String,
    _slapd: Option<nexus_testkit::Slapd>,
    /// B's sign-in provider (this very instance, as B's OpenID provider).
    provider: String,
}

impl Beta {
    fn secrets(&self) -> Vec<&str> {
        vec![
            &self.org,
            &self.user,
            &self.email,
            &self.token_id,
            &self.client_id,
            &self.group,
            &self.role,
            &self.session_id,
            &self.directory,
            &self.provider,
            "Beta Ltd",
            "Beta SSO",
            "Beta Directory",
            "Beta Group",
            "Beta Role",
        ]
    }
}

/// Every permission an owner holds, so the token walks each route as far as it goes.
const ADMIN_SCOPES: &[&str] = &[
    "profile",
    "audit:read",
    "users:read",
    "users:manage",
    "roles:manage",
    "org:manage",
    "clients:manage",
    "system:read",
];

/// The request the walk sends for a route, aimed at B wherever the route takes an id.
fn request_for(method: &str, path: &str, b: &Beta) -> Option<(String, Option<Value>)> {
    let body = |v: Value| Some(v);
    Some(match (method, path) {
        (
            "GET",
            "/api/apps"
            | "/api/session"
            | "/api/whoami"
            | "/api/tokens"
            | "/api/admin/permissions"
            | "/api/admin/users"
            | "/api/admin/groups"
            | "/api/admin/roles"
            | "/api/admin/org"
            | "/api/org/logo"
            | "/api/account/passkeys",
        ) => (path.to_owned(), None),
        ("POST", "/api/account/passkeys") => (path.to_owned(), body(json!({ "name": "walk" }))),
        // A ceremony id of nobody's, and an answer that is not a credential.
        ("POST", "/api/account/passkeys/finish" | "/api/session/passkey/finish") => (
            path.to_owned(),
            body(json!({ "ceremony": b.token_id, "credential": { "id": b.user } })),
        ),
        ("DELETE", "/api/account/passkeys/{id}") => {
            (format!("/api/account/passkeys/{}", b.token_id), None)
        }
        ("POST", "/api/session/passkey") => (path.to_owned(), body(json!({ "email": b.email }))),
        ("POST", "/api/admin/users") => (
            path.to_owned(),
            body(json!({ "email": "walk@alpha.example", "role": "member" })),
        ),
        ("GET", "/api/admin/users/{id}") => (format!("/api/admin/users/{}", b.user), None),
        ("PATCH", "/api/admin/users/{id}") => (
            format!("/api/admin/users/{}", b.user),
            body(json!({ "disabled": true, "role": "guest" })),
        ),
        ("POST", "/api/admin/users/{id}/reset-password") => {
            (format!("/api/admin/users/{}/reset-password", b.user), None)
        }
        ("POST", "/api/admin/users/{id}/reset-mfa") => {
            (format!("/api/admin/users/{}/reset-mfa", b.user), None)
        }
        ("POST", "/api/admin/groups") => (path.to_owned(), body(json!({ "name": "walk" }))),
        ("GET" | "DELETE", "/api/admin/groups/{id}") => {
            (format!("/api/admin/groups/{}", b.group), None)
        }
        ("PATCH", "/api/admin/groups/{id}") => (
            format!("/api/admin/groups/{}", b.group),
            body(json!({ "name": "taken over" })),
        ),
        ("PUT" | "DELETE", "/api/admin/groups/{id}/members/{user}") => (
            format!("/api/admin/groups/{}/members/{}", b.group, b.user),
            None,
        ),
        ("POST", "/api/admin/roles") => (
            path.to_owned(),
            body(json!({ "name": "walk", "permissions": ["users:read"] })),
        ),
        ("GET" | "DELETE", "/api/admin/roles/{id}") => {
            (format!("/api/admin/roles/{}", b.role), None)
        }
        ("PATCH", "/api/admin/roles/{id}") => (
            format!("/api/admin/roles/{}", b.role),
            body(json!({ "name": "taken over", "permissions": [] })),
        ),
        ("PUT" | "DELETE", "/api/admin/roles/{id}/users/{user}") => (
            format!("/api/admin/roles/{}/users/{}", b.role, b.user),
            None,
        ),
        ("PUT" | "DELETE", "/api/admin/roles/{id}/groups/{group}") => (
            format!("/api/admin/roles/{}/groups/{}", b.role, b.group),
            None,
        ),
        ("PATCH", "/api/admin/org") => (
            path.to_owned(),
            body(json!({ "name": "Alpha renamed", "brand_color": "#123456" })),
        ),
        // JSON is not an image: refused before anything is stored.
        ("PUT" | "DELETE", "/api/admin/org/logo") => (path.to_owned(), body(json!({}))),
        ("GET", "/api/admin/instance/alerts") => (path.to_owned(), None),
        ("GET", "/api/admin/audit") => ("/api/admin/audit?after=0&limit=1000".to_owned(), None),
        (
            "GET",
            "/api/admin/clients"
            | "/api/account/mfa"
            | "/.well-known/jwks.json"
            | "/.well-known/openid-configuration",
        ) => (path.to_owned(), None),
        // Signing in to B's app with A's session.
        ("GET", "/oauth/authorize") => (
            format!(
                "/oauth/authorize?response_type=code&client_id={}&scope=openid%20email&state=x",
                b.client_id
            ),
            None,
        ),
        ("GET" | "POST", "/oauth/userinfo") => (path.to_owned(), None),
        // Logging in as B's user with a guess, from A's browser.
        ("POST", "/api/session") => (
            path.to_owned(),
            body(json!({ "email": b.email, "password": "guess guess guess" })),
        ),
        ("POST", "/api/session/mfa") => (
            path.to_owned(),
            body(json!({ "challenge": format!("{}.{}", b.org, b.user), "code": "123456" })),
        ),
        ("POST", "/api/session/password") => (
            path.to_owned(),
            body(
                json!({ "current_password": "wrong", "new_password": "a long enough passphrase" }),
            ),
        ),
        ("POST", "/api/password-reset") => (path.to_owned(), body(json!({ "email": b.email }))),
        ("POST", "/api/password-reset/complete") => (
            path.to_owned(),
            body(json!({ "token": b.token_id, "new_password": "a long enough passphrase" })),
        ),
        ("POST", "/api/tokens") => (
            path.to_owned(),
            body(json!({ "name": "walk", "scopes": ["profile"], "expires_in_days": 1 })),
        ),
        ("DELETE", "/api/tokens/{id}") => (format!("/api/tokens/{}", b.token_id), None),
        ("POST", "/api/setup") => (
            path.to_owned(),
            body(json!({ "token": b.token_id, "new_password": "a long enough passphrase" })),
        ),
        ("GET", "/api/account/sessions") => (path.to_owned(), None),
        ("GET", "/api/admin/directories") => (path.to_owned(), None),
        ("POST", "/api/admin/directories") => (path.to_owned(), body(json!({ "name": "walk" }))),
        ("GET" | "DELETE", "/api/admin/directories/{id}") => {
            (format!("/api/admin/directories/{}", b.directory), None)
        }
        ("PATCH", "/api/admin/directories/{id}") => (
            format!("/api/admin/directories/{}", b.directory),
            body(json!({ "name": "taken over" })),
        ),
        ("POST", "/api/admin/directories/{id}/sync") => {
            (format!("/api/admin/directories/{}/sync", b.directory), None)
        }
        ("GET", "/api/admin/sso-providers" | "/api/sso/providers" | "/api/account/sso-links") => {
            (path.to_owned(), None)
        }
        // Public (the provider's way back): without B's request it opens nothing.
        ("GET", "/api/sso/{id}/callback") => (
            format!("/api/sso/{}/callback?state=x&code=y", b.provider),
            None,
        ),
        ("POST" | "DELETE", "/api/account/sso-links/{id}") => {
            (format!("/api/account/sso-links/{}", b.provider), None)
        }
        ("POST", "/api/admin/sso-providers") => (path.to_owned(), body(json!({ "name": "walk" }))),
        ("GET" | "DELETE", "/api/admin/sso-providers/{id}") => {
            (format!("/api/admin/sso-providers/{}", b.provider), None)
        }
        ("PATCH", "/api/admin/sso-providers/{id}") => (
            format!("/api/admin/sso-providers/{}", b.provider),
            body(json!({ "name": "taken over", "create_users": true })),
        ),
        // Public (the login page's button): it sends the browser to B's provider, and
        // reads or changes nothing of B.
        ("GET", "/api/sso/{id}/start") => (format!("/api/sso/{}/start", b.provider), None),
        ("DELETE", "/api/account/sessions/{id}") => {
            (format!("/api/account/sessions/{}", b.session_id), None)
        }
        ("POST", "/api/admin/clients") => (
            path.to_owned(),
            body(json!({ "name": "walk", "scopes": ["profile"] })),
        ),
        ("DELETE", "/api/admin/clients/{id}") => {
            (format!("/api/admin/clients/{}", b.client_id), None)
        }
        // B's client id with a wrong secret, and with B's secret under A's login.
        ("POST", "/oauth/token") => (
            path.to_owned(),
            body(
                json!({ "grant_type": "client_credentials", "client_id": b.client_id, "client_secret": "wrong" }),
            ),
        ),
        ("POST", "/api/account/mfa/totp") => (path.to_owned(), body(json!({}))),
        ("POST", "/api/account/mfa/totp/confirm") => {
            (path.to_owned(), body(json!({ "code": "123456" })))
        }
        ("POST", "/api/account/mfa/totp/remove" | "/api/account/mfa/recovery-codes") => {
            (path.to_owned(), body(json!({ "password": "wrong" })))
        }
        // These end A's own session: walked last.
        ("DELETE", "/api/session") | ("POST", "/api/session/logout-everywhere") => {
            (path.to_owned(), None)
        }
        _ => return None,
    })
}

async fn setup(backend: Backend) -> Option<(TestServer, String, String, Beta)> {
    let s = TestServer::start_with(nexusd::apps::all(), backend, |_| {})
        .await
        .unwrap()?;
    let (_, setup) = s.provision().await.unwrap();
    let alice = s.setup(&setup, "a strong passphrase for a").await.unwrap();
    let alice_token = s.create_token(&alice, ADMIN_SCOPES).await.unwrap().0;

    let svc = nexus_identity::service(&s.running().ctx).unwrap();
    let op = Actor::new("operator:test", "local");
    let beta = svc.create_org("Beta Ltd", None, &op).await.unwrap();
    let (bob, bob_otp) = svc
        .add_user(beta.id, "bob@beta.example", Some("Bob"), Role::Owner, &op)
        .await
        .unwrap();
    let cookie = s
        .first_login(&bob.email, &bob_otp, "a strong passphrase for b")
        .await
        .unwrap();
    let (token, token_id) = s
        .create_token(&cookie, &["profile", "audit:read"])
        .await
        .unwrap();
    let client: Value = s
        .client
        .post(s.url("/api/admin/clients"))
        .header("cookie", &cookie)
        .json(&json!({
            "name": "beta-app",
            "scopes": ["openid", "profile", "email"],
            "redirect_uris": ["https://beta-app.example/cb"]
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let group: Value = s
        .post_json(
            "/api/admin/groups",
            Some(&cookie),
            &json!({ "name": "Beta Group" }),
        )
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let group = group["id"].as_str().unwrap().to_owned();
    let role: Value = s
        .post_json(
            "/api/admin/roles",
            Some(&cookie),
            &json!({ "name": "Beta Role", "permissions": ["users:read"] }),
        )
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let role = role["id"].as_str().unwrap().to_owned();
    for path in [
        format!("/api/admin/groups/{group}/members/{}", bob.id),
        format!("/api/admin/roles/{role}/groups/{group}"),
    ] {
        let (status, body) = s.call("PUT", &path, Some(&cookie), None).await.unwrap();
        assert_eq!(status, 204, "{path}: {body}");
    }
    let (_, sessions) = s
        .get_json("/api/account/sessions", Some(&cookie))
        .await
        .unwrap();
    let session_id = sessions["sessions"][0]["id"].as_str().unwrap().to_owned();
    // B's directory, on a real slapd when there is one (required under ./dev test).
    let slapd = nexus_testkit::Slapd::start(crate::directories::SYNC_ACCOUNT)
        .await
        .unwrap();
    let directory = match &slapd {
        Some(ldap) => {
            let mut settings =
                crate::directories::settings(ldap, crate::directories::SYNC_PASSWORD);
            settings["name"] = json!("Beta Directory");
            settings["user_base"] = json!("dc=example,dc=test");
            settings["group_base"] = json!("");
            let (status, d) = s
                .call(
                    "POST",
                    "/api/admin/directories",
                    Some(&cookie),
                    Some(&settings),
                )
                .await
                .unwrap();
            assert_eq!(status, 201, "{d}");
            d["id"].as_str().unwrap().to_owned()
        }
        None => "00000000-0000-0000-0000-000000000000".to_owned(),
    };
    let (status, provider) = s
        .call(
            "POST",
            "/api/admin/sso-providers",
            Some(&cookie),
            Some(&json!({
                "name": "Beta SSO",
                "issuer": s.base,
                "client_id": client["client_id"],
                "client_secret": client["client_secret"],
            })),
        )
        .await
        .unwrap();
    assert_eq!(status, 201, "{provider}");
    let b = Beta {
        org: beta.id.to_string(),
        user: bob.id.to_string(),
        email: bob.email,
        cookie,
        token,
        token_id,
        client_id: client["client_id"].as_str().unwrap().to_owned(),
        client_secret: client["client_secret"].as_str().unwrap().to_owned(),
        group,
        role,
        session_id,
        directory,
        _slapd: slapd,
        provider: provider["id"].as_str().unwrap().to_owned(),
    };
    Some((s, alice, alice_token, b))
}

async fn walk(backend: Backend) {
    let Some((s, alice, alice_token, b)) = setup(backend).await else {
        return;
    };
    let routes = routes_in_source();
    assert!(
        routes.len() >= 20,
        "the route scan found too little: {routes:?}"
    );
    let unknown: Vec<_> = routes
        .iter()
        .filter(|(m, p)| request_for(m, p, &b).is_none())
        .collect();
    assert!(
        unknown.is_empty(),
        "routes the tenancy walk does not cover; add them to request_for: {unknown:?}"
    );

    let last = |(m, p): &&(String, String)| {
        (m == "DELETE" && p == "/api/session") || p == "/api/session/logout-everywhere"
    };
    let mut ordered: Vec<_> = routes.iter().filter(|r| !last(r)).collect();
    ordered.extend(routes.iter().filter(|r| last(r)));
    let web = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for auth in [format!("cookie:{alice}"), format!("bearer:{alice_token}")] {
        for (method, path) in &ordered {
            let (url, body) = request_for(method, path, &b).unwrap();
            // An id the caller sent may be echoed in the error; anything else of B may not.
            let sent = format!(
                "{url} {}",
                body.as_ref().map(Value::to_string).unwrap_or_default()
            );
            let mut req = web.request(method.parse().unwrap(), s.url(&url));
            req = match auth.split_once(':').unwrap() {
                ("cookie", c) => req.header("cookie", c),
                (_, t) => req.bearer_auth(t),
            };
            if let Some(body) = body {
                req = req.json(&body);
            }
            let resp = req.send().await.unwrap();
            let status = resp.status();
            let location = resp
                .headers()
                .get("location")
                .map(|v| v.to_str().unwrap_or_default().to_owned())
                .unwrap_or_default();
            let text = resp.text().await.unwrap();
            if path == "/oauth/authorize" && auth.starts_with("cookie") {
                assert!(
                    location.contains("error=access_denied") && !location.contains("code="),
                    "A's user signed in to B's app: {location}"
                );
            }
            let what = format!("{method} {url} as {}", auth.split(':').next().unwrap());
            let mail_off = status == 503 && text.contains("mail.not_configured");
            assert!(
                !status.is_server_error() || mail_off,
                "{what}: {status} {text}"
            );
            for secret in b.secrets().into_iter().filter(|x| !sent.contains(x)) {
                assert!(!text.contains(secret), "{what} leaked `{secret}`: {text}");
            }
            if path == "/api/sso/{id}/callback" {
                assert!(
                    status == 303 && location == "/login?sso_error=expired",
                    "{what}: {status} {location}"
                );
            } else if path == "/api/sso/{id}/start" {
                assert!(
                    status == 303 && location.starts_with(&s.url("/oauth/authorize?")),
                    "{what}: {status} {location}"
                );
            } else if path.contains("{id}") {
                assert!(
                    status == 404 || status == 401 || status == 403,
                    "{what} reached B's object: {status} {text}"
                );
            }
        }
    }

    // B is untouched: its session, token and client still work, and its audit log shows
    // nobody from A.
    let me = s
        .client
        .get(s.url("/api/whoami"))
        .bearer_auth(&b.token)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200, "B's token was revoked");
    let (status, session) = s.get_json("/api/session", Some(&b.cookie)).await.unwrap();
    assert_eq!(status, 200, "B's session ended");
    assert_eq!(session["user"]["org"]["name"], "Beta Ltd");
    assert_eq!(session["user"]["role"], "owner");
    let (_, group) = s
        .get_json(&format!("/api/admin/groups/{}", b.group), Some(&b.cookie))
        .await
        .unwrap();
    assert_eq!(group["name"], "Beta Group");
    assert_eq!(group["members"][0]["id"].as_str(), Some(b.user.as_str()));
    let (_, role) = s
        .get_json(&format!("/api/admin/roles/{}", b.role), Some(&b.cookie))
        .await
        .unwrap();
    assert_eq!(role["name"], "Beta Role");
    assert_eq!(role["permissions"], json!(["users:read"]));
    assert_eq!(role["groups"], json!([b.group]));
    let (_, provider) = s
        .get_json(
            &format!("/api/admin/sso-providers/{}", b.provider),
            Some(&b.cookie),
        )
        .await
        .unwrap();
    assert_eq!(provider["name"], "Beta SSO");
    assert_eq!(provider["create_users"], false);
    let grant = s
        .client
        .post(s.url("/oauth/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", b.client_id.as_str()),
            ("client_secret", b.client_secret.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(grant.status(), 200, "B's client was disabled");
    let (_, audit) = s
        .get_json("/api/admin/audit?limit=1000", Some(&b.cookie))
        .await
        .unwrap();
    let records = audit["records"].as_array().unwrap();
    assert!(!records.is_empty());
    for r in records {
        let actor = r["actor"].as_str().unwrap_or_default();
        assert!(
            !actor.contains("owner@test.example"),
            "A's user changed something in B: {r}"
        );
    }
    s.stop().await.unwrap();
}

#[tokio::test]
async fn organization_a_cannot_reach_b_through_any_route_sqlite() {
    walk(Backend::Sqlite).await;
}

#[tokio::test]
async fn organization_a_cannot_reach_b_through_any_route_postgres() {
    walk(Backend::Postgres).await;
}
