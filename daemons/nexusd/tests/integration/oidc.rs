//! NEXUS as an OpenID Connect provider: a real relying party library (Python's Authlib)
//! completes the whole flow against a running daemon, and every way a request can be wrong
//! is refused the way the specifications say.

use nexus_identity::model::Role;
use nexus_store::audit::Actor;
use nexus_testkit::TestServer;
use serde_json::{Value, json};

use crate::tokens::owner_session;

const REDIRECT: &str = "http://127.0.0.1:9/callback";
const PASSWORD: &str = "a much better passphrase";

async fn register(s: &TestServer, cookie: &str, body: Value) -> reqwest::Response {
    s.post_json("/api/admin/clients", Some(cookie), &body)
        .await
        .unwrap()
}

/// A client of the owner's organization that may sign users in.
async fn relying_party(s: &TestServer, cookie: &str) -> (String, String) {
    let r = register(
        s,
        cookie,
        json!({ "name": "wiki", "scopes": ["openid", "profile", "email"], "redirect_uris": [REDIRECT] }),
    )
    .await;
    assert_eq!(r.status(), 201);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["redirect_uris"], json!([REDIRECT]));
    (
        v["client_id"].as_str().unwrap().to_owned(),
        v["client_secret"].as_str().unwrap().to_owned(),
    )
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Makes every session of `s` look `minutes` older (as if the login were that long ago).
pub(crate) async fn age_sessions(s: &TestServer, minutes: i64) {
    let then = chrono::Utc::now() - chrono::TimeDelta::minutes(minutes);
    match &s.running().ctx.db {
        nexus_store::Db::Sqlite(pool) => {
            sqlx::query("UPDATE sessions SET created_at = $1")
                .bind(then)
                .execute(pool)
                .await
                .unwrap();
        }
        nexus_store::Db::Postgres(pool) => {
            sqlx::query("UPDATE sessions SET created_at = $1")
                .bind(then)
                .execute(pool)
                .await
                .unwrap();
        }
    }
}

#[tokio::test]
async fn authlib_signs_in_with_nexus() {
    let Some(python) = nexus_testkit::python_with("authlib", "python3-authlib").unwrap() else {
        return;
    };
    let (s, cookie) = owner_session().await;
    let (id, secret) = relying_party(&s, &cookie).await;
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/oidc/relying_party.py"
    );
    let out = tokio::process::Command::new(python)
        .arg(script)
        .args([
            &s.base,
            &id,
            &secret,
            REDIRECT,
            "owner@test.example",
            PASSWORD,
        ])
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the relying party failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains(r#""result": "ok""#), "{stdout}");
    assert!(stdout.contains("alg EdDSA"), "{stdout}");
    s.stop().await.unwrap();
}

#[tokio::test]
async fn bad_authorization_requests_are_refused() {
    let (s, cookie) = owner_session().await;
    let (id, secret) = relying_party(&s, &cookie).await;
    let web = no_redirects();
    let authorize = |q: String| {
        let web = web.clone();
        let url = s.url(&format!("/oauth/authorize?{q}"));
        let cookie = cookie.clone();
        async move { web.get(url).header("cookie", cookie).send().await.unwrap() }
    };
    let location = |r: &reqwest::Response| {
        r.headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default()
    };
    let redirect = urlencode(REDIRECT);

    // Unknown client, unregistered address: a page, never a redirect.
    for q in [
        format!("response_type=code&client_id=nope&redirect_uri={redirect}&scope=openid"),
        format!(
            "response_type=code&client_id={id}&redirect_uri=https%3A%2F%2Fevil.example%2F&scope=openid"
        ),
        format!("response_type=code&client_id={id}&client_id={id}&scope=openid"),
        "".to_owned(),
    ] {
        let r = authorize(q.clone()).await;
        assert_eq!(r.status(), 400, "{q}");
        assert!(location(&r).is_empty(), "{q}");
        assert!(r.text().await.unwrap().contains("oauth-error"), "{q}");
    }
    // Wrong parameters with a trusted address: the error goes back to the app.
    for (q, error) in [
        (
            format!("response_type=token&client_id={id}&scope=openid&state=s1"),
            "unsupported_response_type",
        ),
        (
            format!("response_type=code&client_id={id}&scope=profile&state=s1"),
            "invalid_scope",
        ),
        (
            format!("response_type=code&client_id={id}&scope=openid%20audit:read&state=s1"),
            "invalid_scope",
        ),
        (
            format!(
                "response_type=code&client_id={id}&scope=openid&code_challenge=abc&code_challenge_method=plain&state=s1"
            ),
            "invalid_request",
        ),
    ] {
        let r = authorize(q.clone()).await;
        assert_eq!(r.status(), 302, "{q}");
        let loc = location(&r);
        assert!(loc.starts_with(REDIRECT), "{q}: {loc}");
        assert!(loc.contains(&format!("error={error}")), "{q}: {loc}");
        assert!(loc.contains("state=s1"), "{q}: {loc}");
    }
    // Without a session: to the login page; with prompt=none: login_required.
    let anon = web
        .get(s.url(&format!(
            "/oauth/authorize?response_type=code&client_id={id}&scope=openid"
        )))
        .send()
        .await
        .unwrap();
    assert!(
        location(&anon).starts_with("/login?next=%2Foauth%2Fauthorize%3F"),
        "{}",
        location(&anon)
    );
    let none = web
        .get(s.url(&format!(
            "/oauth/authorize?response_type=code&client_id={id}&scope=openid&prompt=none"
        )))
        .send()
        .await
        .unwrap();
    assert!(location(&none).contains("error=login_required"));

    // prompt=none with another value is a contradiction.
    let both = authorize(format!(
        "response_type=code&client_id={id}&scope=openid&prompt=none%20login&state=s1"
    ))
    .await;
    assert!(
        location(&both).contains("error=invalid_request"),
        "{}",
        location(&both)
    );
    // prompt=login: a session this recent passes; an older one signs in again first.
    let fresh = authorize(format!(
        "response_type=code&client_id={id}&scope=openid&prompt=login"
    ))
    .await;
    assert!(location(&fresh).contains("code="), "{}", location(&fresh));
    age_sessions(&s, 10).await;
    let stale = authorize(format!(
        "response_type=code&client_id={id}&scope=openid&prompt=login"
    ))
    .await;
    assert!(
        location(&stale).starts_with("/login?reauth=1&next=%2Foauth%2Fauthorize%3F"),
        "{}",
        location(&stale)
    );
    // Without prompt=login the same session is good.
    let ok = authorize(format!("response_type=code&client_id={id}&scope=openid")).await;
    assert!(location(&ok).contains("code="), "{}", location(&ok));

    // A code with a PKCE challenge needs the matching verifier, and is spent by a failure.
    // The S256 challenge of the verifier sent second below.
    let challenge = "5I5HR9kzBtEeNLHka1oShDW3pM3ATx-pyoHb2Yw6kdw";
    let r = authorize(format!(
        "response_type=code&client_id={id}&scope=openid&code_challenge={challenge}&code_challenge_method=S256"
    ))
    .await;
    let loc = location(&r);
    let code = url_param(&loc, "code");
    let token = |form: Vec<(&'static str, String)>| {
        let c = s.client.clone();
        let url = s.url("/oauth/token");
        let (id, secret) = (id.clone(), secret.clone());
        async move {
            let r = c
                .post(url)
                .basic_auth(id, Some(secret))
                .form(&form)
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    let (status, body) = token(vec![
        ("grant_type", "authorization_code".into()),
        ("code", code.clone()),
        (
            "code_verifier",
            "wrong-verifier-wrong-verifier-wrong-verifier-00".into(),
        ),
    ])
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let (status, body) = token(vec![
        ("grant_type", "authorization_code".into()),
        ("code", code),
        (
            "code_verifier",
            "dBjftJeZ4CVP-mJ92ZfBnNHzfDXxdD9HG0vQ9cNq5cw".into(),
        ),
    ])
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "spent"
    );
    let (status, body) = token(vec![("grant_type", "password".into())]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("unsupported_grant_type"))
    );

    // A user of another organization cannot sign in to this organization's app.
    let svc = nexus_identity::service(&s.running().ctx).unwrap();
    let op = Actor::new("operator:test", "local");
    let beta = svc.create_org("Beta", None, &op).await.unwrap();
    let (bob, otp) = svc
        .add_user(beta.id, "bob@beta.example", None, Role::Member, &op)
        .await
        .unwrap();
    let bob_cookie = s
        .first_login(&bob.email, &otp, "a strong passphrase for b")
        .await
        .unwrap();
    let r = web
        .get(s.url(&format!(
            "/oauth/authorize?response_type=code&client_id={id}&scope=openid"
        )))
        .header("cookie", &bob_cookie)
        .send()
        .await
        .unwrap();
    assert!(
        location(&r).contains("error=access_denied"),
        "{}",
        location(&r)
    );

    // Registration checks the redirect URIs.
    for bad in [
        json!(["http://evil.example/cb"]),
        json!(["/relative"]),
        json!(["https://a.example/#f"]),
    ] {
        let r = register(
            &s,
            &cookie,
            json!({ "name": "x", "scopes": ["openid"], "redirect_uris": bad }),
        )
        .await;
        assert_eq!(r.status(), 400, "{bad}");
    }
    let r = register(
        &s,
        &cookie,
        json!({ "name": "x", "scopes": ["profile"], "redirect_uris": [REDIRECT] }),
    )
    .await;
    assert_eq!(r.status(), 400, "a sign-in client needs openid");

    // Discovery says where everything is.
    let (_, meta) = s
        .get_json("/.well-known/openid-configuration", None)
        .await
        .unwrap();
    assert_eq!(meta["issuer"], s.base.as_str());
    assert_eq!(meta["token_endpoint"], format!("{}/oauth/token", s.base));
    assert_eq!(
        meta["id_token_signing_alg_values_supported"],
        json!(["EdDSA"])
    );
    s.stop().await.unwrap();
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn url_param(url: &str, name: &str) -> String {
    let query = url.split_once('?').map(|(_, q)| q).unwrap_or_default();
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
        .unwrap_or_else(|| panic!("no {name} in {url}"))
}
