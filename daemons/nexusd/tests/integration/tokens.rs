//! API access over HTTP: personal access tokens, client credentials, and every way a bearer
//! token can be wrong.

use nexus_testkit::TestServer;
use nexus_wire::{ErrorBody, codes};

pub(crate) async fn code(resp: reqwest::Response) -> String {
    resp.json::<ErrorBody>()
        .await
        .expect("error body")
        .error
        .code
}

/// A provisioned server and a session cookie of its owner (password already changed).
pub(crate) async fn owner_session() -> (TestServer, String) {
    let s = TestServer::start(nexusd::apps::all()).await.unwrap();
    let (_, setup) = s.provision().await.unwrap();
    let cookie = s.setup(&setup, "a much better passphrase").await.unwrap();
    (s, cookie)
}

async fn whoami(s: &TestServer, auth: &str) -> reqwest::Response {
    s.client
        .get(s.url("/api/whoami"))
        .header("authorization", auth)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn personal_access_tokens() {
    let (s, cookie) = owner_session().await;
    let created = s
        .client
        .post(s.url("/api/tokens"))
        .header("cookie", &cookie)
        .json(&serde_json::json!({"name": "laptop", "scopes": ["profile"], "expires_in_days": 7}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let created: serde_json::Value = created.json().await.unwrap();
    let token = created["token"].as_str().unwrap().to_owned();
    let bearer = format!("Bearer {token}");

    let me = whoami(&s, &bearer).await;
    assert_eq!(me.status(), 200);
    let me: serde_json::Value = me.json().await.unwrap();
    assert_eq!(
        (me["via"].as_str(), me["scopes"][0].as_str()),
        (Some("token"), Some("profile"))
    );
    assert!(me["subject"].as_str().unwrap().starts_with("user:"));

    // Scopes are enforced: this token cannot read the audit log.
    let audit = s
        .client
        .get(s.url("/api/admin/audit"))
        .header("authorization", &bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(audit.status(), 403);
    assert_eq!(code(audit).await, codes::AUTH_INSUFFICIENT_SCOPE);
    // Tokens cannot mint tokens.
    let mint = s
        .client
        .post(s.url("/api/tokens"))
        .header("authorization", &bearer)
        .json(&serde_json::json!({"name": "x", "scopes": ["profile"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(mint.status(), 401);

    // Forged, malformed and foreign tokens.
    let parts: Vec<&str> = token.split('.').collect();
    let none_header = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0"; // {"alg":"none","typ":"JWT"}
    for bad in [
        format!("Bearer {none_header}.{}.", parts[1]),
        format!("Bearer {}.{}.{}", parts[0], parts[1], "A".repeat(86)),
        "Bearer not-a-token".to_owned(),
        format!("Basic {token}"),
        "Bearer ".to_owned(),
    ] {
        let r = whoami(&s, &bad).await;
        assert_eq!(r.status(), 401, "{bad}");
        assert_eq!(code(r).await, codes::AUTH_INVALID_TOKEN, "{bad}");
    }

    // Listed without the secret; revoked at once.
    let list: serde_json::Value = s
        .client
        .get(s.url("/api/tokens"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["tokens"][0]["name"], "laptop");
    assert!(list["tokens"][0].get("token").is_none());
    let bad_id = s
        .client
        .delete(s.url("/api/tokens/not-an-id"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(bad_id.status(), 400);
    assert_eq!(code(bad_id).await, codes::VALIDATION_FAILED);
    let id = created["id"].as_str().unwrap();
    let revoked = s
        .client
        .delete(s.url(&format!("/api/tokens/{id}")))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 204);
    let r = whoami(&s, &bearer).await;
    assert_eq!(r.status(), 401);
    assert_eq!(code(r).await, codes::AUTH_INVALID_TOKEN);

    // The public keys are published for anyone verifying tokens.
    let jwks: serde_json::Value = s
        .client
        .get(s.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(jwks["keys"][0]["kty"], "OKP");
    assert_eq!(jwks["keys"][0]["crv"], "Ed25519");
    assert!(jwks["keys"][0].get("d").is_none(), "no private part");
    s.stop().await.unwrap();
}

#[tokio::test]
async fn client_credentials() {
    let (s, cookie) = owner_session().await;
    let created: serde_json::Value = s
        .client
        .post(s.url("/api/admin/clients"))
        .header("cookie", &cookie)
        .json(&serde_json::json!({"name": "reporting", "scopes": ["profile", "audit:read"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["client_id"].as_str().unwrap().to_owned();
    let secret = created["client_secret"].as_str().unwrap().to_owned();

    let token = |form: Vec<(&'static str, String)>, basic: Option<(String, String)>| {
        let mut req = s.client.post(s.url("/oauth/token")).form(&form);
        if let Some((u, p)) = basic {
            req = req.basic_auth(u, Some(p));
        }
        req.send()
    };
    let ok = token(
        vec![
            ("grant_type", "client_credentials".into()),
            ("scope", "audit:read".into()),
        ],
        Some((id.clone(), secret.clone())),
    )
    .await
    .unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.headers()["cache-control"], "no-store");
    let ok: serde_json::Value = ok.json().await.unwrap();
    assert_eq!(
        (ok["token_type"].as_str(), ok["scope"].as_str()),
        (Some("Bearer"), Some("audit:read"))
    );
    let bearer = format!("Bearer {}", ok["access_token"].as_str().unwrap());
    let audit = s
        .client
        .get(s.url("/api/admin/audit"))
        .header("authorization", &bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(audit.status(), 200);
    let r = whoami(&s, &bearer).await;
    assert_eq!(r.status(), 403, "no profile scope asked for");

    // Credentials in the form work too; errors follow RFC 6749.
    let form_auth = token(
        vec![
            ("grant_type", "client_credentials".into()),
            ("client_id", id.clone()),
            ("client_secret", secret.clone()),
        ],
        None,
    )
    .await
    .unwrap();
    assert_eq!(form_auth.status(), 200);
    for (form, basic, status, error) in [
        (
            vec![("grant_type", "client_credentials".to_owned())],
            Some((id.clone(), "wrong".to_owned())),
            401,
            "invalid_client",
        ),
        (
            vec![("grant_type", "client_credentials".to_owned())],
            None,
            401,
            "invalid_client",
        ),
        (
            vec![("grant_type", "password".to_owned())],
            Some((id.clone(), secret.clone())),
            400,
            "unsupported_grant_type",
        ),
        (
            vec![],
            Some((id.clone(), secret.clone())),
            400,
            "invalid_request",
        ),
        (
            vec![
                ("grant_type", "client_credentials".to_owned()),
                ("scope", "everything".to_owned()),
            ],
            Some((id.clone(), secret.clone())),
            400,
            "invalid_scope",
        ),
    ] {
        let r = token(form.clone(), basic).await.unwrap();
        assert_eq!(r.status(), status, "{form:?}");
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["error"], error, "{form:?}");
    }

    // Disabling the client stops its tokens at once.
    let off = s
        .client
        .delete(s.url(&format!("/api/admin/clients/{id}")))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(off.status(), 204);
    let r = s
        .client
        .get(s.url("/api/admin/audit"))
        .header("authorization", &bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    s.stop().await.unwrap();
}
