//! Passkeys over HTTP, up to what needs an authenticator: the options each ceremony hands
//! the browser, and every way a ceremony can be refused. The whole ceremony, with
//! Chromium's virtual authenticator, is in `tests/e2e`.

use nexus_testkit::{Backend, TestServer};
use serde_json::{Value, json};

#[tokio::test]
async fn passkey_ceremonies_hand_out_options_and_refuse_bad_answers() {
    let s = TestServer::start(nexusd::apps::all()).await.unwrap();
    let (email, setup) = s.provision().await.unwrap();
    let cookie = s.setup(&setup, "a long passphrase for keys").await.unwrap();

    // Registration: options for navigator.credentials.create, bound to this instance.
    let (status, begun) = s
        .call(
            "POST",
            "/api/account/passkeys",
            Some(&cookie),
            Some(&json!({ "name": "Laptop" })),
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{begun}");
    let options = &begun["options"]["publicKey"];
    assert_eq!(options["rp"]["id"], "localhost");
    assert_eq!(options["user"]["name"], email.as_str());
    assert_eq!(
        options["authenticatorSelection"]["userVerification"],
        "required"
    );
    assert!(options["challenge"].as_str().unwrap().len() >= 43);
    let ceremony = begun["ceremony"].as_str().unwrap().to_owned();

    // An answer that is not a credential is a 400; a well-formed one that does not verify
    // is refused, and the ceremony is spent either way.
    let (status, err) = s
        .call(
            "POST",
            "/api/account/passkeys/finish",
            Some(&cookie),
            Some(&json!({ "ceremony": ceremony, "credential": { "id": "x" } })),
        )
        .await
        .unwrap();
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (400, Some("request.bad_json"))
    );
    let forged = json!({
        "id": "AAAA", "rawId": "AAAA", "type": "public-key", "extensions": {},
        "response": { "attestationObject": "AAAA", "clientDataJSON": "AAAA" }
    });
    let (status, err) = s
        .call(
            "POST",
            "/api/account/passkeys/finish",
            Some(&cookie),
            Some(&json!({ "ceremony": ceremony, "credential": forged })),
        )
        .await
        .unwrap();
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (401, Some("auth.passkey_rejected")),
        "{err}"
    );
    let (status, err) = s
        .call(
            "POST",
            "/api/account/passkeys/finish",
            Some(&cookie),
            Some(&json!({ "ceremony": ceremony, "credential": forged })),
        )
        .await
        .unwrap();
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (400, Some("auth.passkey_ceremony_invalid")),
        "a ceremony works once"
    );
    let (_, list) = s
        .get_json("/api/account/passkeys", Some(&cookie))
        .await
        .unwrap();
    assert_eq!(list["passkeys"], json!([]));
    let (status, _) = s
        .call(
            "POST",
            "/api/account/passkeys",
            Some(&cookie),
            Some(&json!({ "name": " " })),
        )
        .await
        .unwrap();
    assert_eq!(status, 400);
    let (status, _) = s
        .call(
            "POST",
            "/api/account/passkeys",
            None,
            Some(&json!({ "name": "x" })),
        )
        .await
        .unwrap();
    assert_eq!(status, 401);

    // Sign-in: an address without passkeys is told so, and guessing is throttled.
    let mut last: (u16, Value) = (0, Value::Null);
    for _ in 0..60 {
        last = s
            .call(
                "POST",
                "/api/session/passkey",
                None,
                Some(&json!({ "email": email })),
            )
            .await
            .unwrap();
        if last.0 != 400 {
            break;
        }
        assert_eq!(last.1["error"]["code"], "auth.no_passkey");
    }
    assert_eq!(
        last.0, 429,
        "passkey sign-in attempts are not throttled: {}",
        last.1
    );
    let (status, err) = s
        .call(
            "POST",
            "/api/session/passkey/finish",
            None,
            Some(&json!({ "ceremony": "nope", "credential": {
                "id": "AAAA", "rawId": "AAAA", "type": "public-key", "extensions": {},
                "response": { "authenticatorData": "AAAA", "clientDataJSON": "AAAA", "signature": "AAAA" }
            } })),
        )
        .await
        .unwrap();
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (400, Some("auth.passkey_ceremony_invalid")),
        "{err}"
    );
    s.stop().await.unwrap();
}

#[tokio::test]
async fn passkeys_are_off_with_a_clear_error_at_a_bare_ip_address() {
    let s = TestServer::start_with(nexusd::apps::all(), Backend::Sqlite, |c| {
        c.server.public_url = "http://192.0.2.7:8080".into();
    })
    .await
    .unwrap()
    .unwrap();
    let (_, setup) = s.provision().await.unwrap();
    let cookie = s.setup(&setup, "a long passphrase for keys").await.unwrap();
    let (status, err) = s
        .call(
            "POST",
            "/api/account/passkeys",
            Some(&cookie),
            Some(&json!({ "name": "Laptop" })),
        )
        .await
        .unwrap();
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (503, Some("passkeys.unavailable"))
    );
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("server.public_url"),
        "{err}"
    );
    s.stop().await.unwrap();
}
