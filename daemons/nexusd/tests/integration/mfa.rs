//! Second factors over HTTP: enrolment, the two-step login, and bad input at each step.

use nexus_testkit::TestServer;
use nexus_wire::codes;
use serde_json::{Value, json};

use crate::tokens::{code, owner_session};

const PASSWORD: &str = "a much better passphrase";

async fn post(s: &TestServer, path: &str, cookie: Option<&str>, body: Value) -> reqwest::Response {
    s.post_json(path, cookie, &body).await.unwrap()
}

/// The code an authenticator app shows `offset` seconds from now.
pub(crate) fn app_code(secret_base32: &str, offset: i64) -> String {
    let secret = totp_rs::Secret::try_from_base32(secret_base32).unwrap();
    let totp = totp_rs::Builder::new().with_secret(secret).build().unwrap();
    let t = u64::try_from(chrono_now() + offset).unwrap();
    totp.generate(t).to_string()
}

fn chrono_now() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap()
}

#[tokio::test]
async fn totp_enrolment_and_two_step_login() {
    let (s, cookie) = owner_session().await;
    let (_, status) = s.get_json("/api/account/mfa", Some(&cookie)).await.unwrap();
    assert_eq!(status, json!({"totp": false, "recovery_codes_left": 0}));

    // Enrolment needs a session.
    let anon = post(&s, "/api/account/mfa/totp", None, json!({})).await;
    assert_eq!(anon.status(), 401);
    let begun = post(&s, "/api/account/mfa/totp", Some(&cookie), json!({})).await;
    assert_eq!(begun.status(), 201);
    assert_eq!(begun.headers()["cache-control"], "no-store");
    let begun: Value = begun.json().await.unwrap();
    let secret = begun["secret"].as_str().unwrap().to_owned();
    assert!(
        begun["otpauth_url"]
            .as_str()
            .unwrap()
            .contains("issuer=Test%20Org")
    );

    for (body, want) in [
        (json!({"code": "123"}), codes::AUTH_INVALID_CODE),
        (json!({"code": 123456}), codes::BAD_JSON),
        (json!({}), codes::BAD_JSON),
    ] {
        let r = post(
            &s,
            "/api/account/mfa/totp/confirm",
            Some(&cookie),
            body.clone(),
        )
        .await;
        assert!(r.status().is_client_error(), "{body}");
        let got = code(r).await;
        assert!(
            got == want || got == codes::VALIDATION_FAILED,
            "{body}: {got}"
        );
    }
    let confirmed = post(
        &s,
        "/api/account/mfa/totp/confirm",
        Some(&cookie),
        json!({"code": app_code(&secret, 0)}),
    )
    .await;
    assert_eq!(confirmed.status(), 200);
    let recovery: Value = confirmed.json().await.unwrap();
    let recovery: Vec<String> = serde_json::from_value(recovery["recovery_codes"].clone()).unwrap();
    assert_eq!(recovery.len(), 10);

    // The password step now answers with a challenge and no cookie.
    let step1 = post(
        &s,
        "/api/session",
        None,
        json!({"email": "owner@test.example", "password": PASSWORD}),
    )
    .await;
    assert_eq!(step1.status(), 200);
    assert!(step1.headers().get("set-cookie").is_none());
    let step1: Value = step1.json().await.unwrap();
    let challenge = step1["mfa"]["challenge"].as_str().unwrap().to_owned();
    assert_eq!(step1["mfa"]["methods"], json!(["totp", "recovery_code"]));

    for (body, status, want) in [
        (
            json!({"challenge": challenge, "code": "000000"}),
            401,
            codes::AUTH_INVALID_CODE,
        ),
        (
            json!({"challenge": "nope", "code": "000000"}),
            401,
            codes::AUTH_MFA_CHALLENGE_INVALID,
        ),
        (json!({"challenge": challenge}), 400, codes::BAD_JSON),
        (
            json!({"challenge": "\u{0}.\u{0}", "code": ""}),
            401,
            codes::AUTH_MFA_CHALLENGE_INVALID,
        ),
    ] {
        let r = post(&s, "/api/session/mfa", None, body.clone()).await;
        assert_eq!(r.status(), status, "{body}");
        let got = code(r).await;
        assert!(
            got == want || got == codes::VALIDATION_FAILED,
            "{body}: {got}"
        );
    }

    let step2 = post(
        &s,
        "/api/session/mfa",
        None,
        json!({"challenge": challenge, "code": recovery[0]}),
    )
    .await;
    assert_eq!(step2.status(), 200);
    let new_cookie = step2
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let (_, me) = s.get_json("/api/session", Some(&new_cookie)).await.unwrap();
    assert_eq!(me["user"]["email"], "owner@test.example");

    // Removing the authenticator needs the password.
    let wrong = post(
        &s,
        "/api/account/mfa/totp/remove",
        Some(&new_cookie),
        json!({"password": "wrong"}),
    )
    .await;
    assert_eq!(wrong.status(), 401);
    let removed = post(
        &s,
        "/api/account/mfa/totp/remove",
        Some(&new_cookie),
        json!({"password": PASSWORD}),
    )
    .await;
    assert_eq!(removed.status(), 204);
    s.login("owner@test.example", PASSWORD).await.unwrap();
    s.stop().await.unwrap();
}
