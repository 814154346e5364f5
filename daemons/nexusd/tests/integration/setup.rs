//! First-login setup through the link `nexusctl init` prints, and a user's list of their
//! own sessions.

use nexus_testkit::{Backend, TestServer};
use nexus_wire::codes;
use serde_json::{Value, json};

use crate::tokens::code;

async fn setup_then_sessions(s: &TestServer) {
    let (email, token) = s.provision().await.unwrap();
    let setup = async |token: &str, password: &str| {
        let body = json!({ "token": token, "new_password": password });
        s.post_json("/api/setup", None, &body).await
    };

    // Bad links and weak passwords are refused; a weak choice does not spend the link.
    for bad in ["", "nope", "\u{0}", &token[1..]] {
        let r = setup(bad, "a fine first passphrase").await.unwrap();
        assert_eq!(r.status(), 400, "{bad:?}");
        assert_eq!(code(r).await, codes::AUTH_RESET_LINK_INVALID);
    }
    let weak = setup(&token, "short").await.unwrap();
    assert_eq!(weak.status(), 400);
    assert_eq!(code(weak).await, codes::AUTH_WEAK_PASSWORD);
    // A setup link is no reset link either.
    let as_reset = s
        .post_json(
            "/api/password-reset/complete",
            None,
            &json!({ "token": token, "new_password": "a fine first passphrase" }),
        )
        .await
        .unwrap();
    assert_eq!(code(as_reset).await, codes::AUTH_RESET_LINK_INVALID);
    // Nobody can log in before the link is used: no password has been chosen.
    assert!(s.login(&email, "a fine first passphrase").await.is_err());

    // The link sets the password and signs the owner in, with nothing left to change.
    let done = setup(&token, "a fine first passphrase").await.unwrap();
    assert_eq!(done.status(), 200);
    let set_cookie = done.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(set_cookie.contains("HttpOnly"), "{set_cookie}");
    let cookie = set_cookie.split(';').next().unwrap().to_owned();
    let body: Value = done.json().await.unwrap();
    assert_eq!(body["user"]["role"], "owner");
    assert_eq!(body["must_change_password"], false);
    let (status, _) = s.get_json("/api/admin/audit", Some(&cookie)).await.unwrap();
    assert_eq!(
        status, 200,
        "a full session, not one waiting for a password"
    );
    // It works once.
    let again = setup(&token, "another fine passphrase").await.unwrap();
    assert_eq!(code(again).await, codes::AUTH_RESET_LINK_INVALID);

    // The owner sees their sessions, marks the current one, and ends another.
    let laptop = s.login(&email, "a fine first passphrase").await.unwrap();
    let (status, list) = s
        .get_json("/api/account/sessions", Some(&cookie))
        .await
        .unwrap();
    assert_eq!(status, 200);
    let sessions = list["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 2, "{list}");
    assert_eq!(sessions.iter().filter(|x| x["current"] == true).count(), 1);
    for x in sessions {
        assert_eq!(x["client"], "127.0.0.1");
        assert_eq!(x["id"].as_str().unwrap().len(), 16);
        assert!(x.get("token_hash").is_none());
    }
    // Newest first: the laptop's login came after the setup link's.
    assert_eq!(sessions[0]["current"], false);
    let other = sessions[0]["id"].as_str().unwrap().to_owned();
    let path = format!("/api/account/sessions/{other}");
    let (status, _) = s.call("DELETE", &path, Some(&cookie), None).await.unwrap();
    assert_eq!(status, 204);
    let (status, _) = s.get_json("/api/session", Some(&laptop)).await.unwrap();
    assert_eq!(status, 401, "the ended session's cookie no longer works");
    let (status, _) = s.get_json("/api/session", Some(&cookie)).await.unwrap();
    assert_eq!(status, 200);
    for id in [other.as_str(), "0000000000000000", "x", "%00"] {
        let path = format!("/api/account/sessions/{id}");
        let (status, v) = s.call("DELETE", &path, Some(&cookie), None).await.unwrap();
        assert_eq!(status, 404, "{id}: {v}");
    }
    let (status, _) = s.get_json("/api/account/sessions", None).await.unwrap();
    assert_eq!(status, 401);

    // The audit log tells the story, including how the owner signed in.
    let (_, audit) = s
        .get_json("/api/admin/audit?limit=100", Some(&cookie))
        .await
        .unwrap();
    let records = audit["records"].as_array().unwrap();
    let actions: Vec<&str> = records
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    for a in [
        "account.setup_link_created",
        "password.reset_link_used",
        "session.logout",
    ] {
        assert!(actions.contains(&a), "no {a} in {actions:?}");
    }
    assert!(
        records.iter().any(|r| r["action"] == "session.login"
            && r["detail"]
                .as_str()
                .unwrap()
                .contains(r#""method":"setup_link""#)),
        "{audit}"
    );
}

#[tokio::test]
async fn setup_link_and_sessions_on_sqlite() {
    let s = TestServer::start(nexusd::apps::all()).await.unwrap();
    setup_then_sessions(&s).await;
    s.stop().await.unwrap();
}

#[tokio::test]
async fn setup_link_and_sessions_on_postgres() {
    let Some(s) = TestServer::start_with(nexusd::apps::all(), Backend::Postgres, |_| {})
        .await
        .unwrap()
    else {
        return;
    };
    setup_then_sessions(&s).await;
    s.stop().await.unwrap();
}
