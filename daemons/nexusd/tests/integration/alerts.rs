//! The instance's health alerts in the admin API: what `nexusctl` evaluated, shown to the
//! operators (owners and administrators of the instance's first organization) and to
//! nobody else — not members, not the owners of other organizations, not tokens without
//! the scope.

use nexus_identity::model::Role;
use nexus_store::audit::Actor;
use nexus_testkit::{Backend, TestServer};
use serde_json::json;

const PATH: &str = "/api/admin/instance/alerts";

async fn operators_see_the_alerts_nobody_else_does(backend: Backend) {
    let Some(s) = TestServer::start_with(nexusd::apps::all(), backend, |_| {})
        .await
        .unwrap()
    else {
        return;
    };
    let (_, setup) = s.provision().await.unwrap();
    let owner = s
        .setup(&setup, "a long passphrase for the boss")
        .await
        .unwrap();

    // Never evaluated: nothing to show, and said so.
    let (status, v) = s.call("GET", PATH, Some(&owner), None).await.unwrap();
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["evaluated_at"], serde_json::Value::Null);
    assert_eq!(v["stale"], true);
    assert_eq!(v["alerts"], json!([]));

    // What nexusctl writes (its own bookkeeping included).
    let now = chrono::Utc::now().timestamp();
    std::fs::create_dir_all(s.state_dir().join("run")).unwrap();
    std::fs::write(
        s.state_dir().join("run/alerts.json"),
        json!({
            "evaluated_at": now,
            "alerts": [{
                "id": "service-down:web", "severity": "critical",
                "summary": "service web is down", "action": "see `nexusctl logs web`",
                "since": now - 60
            }],
            "memory": {}, "mail": {"open": [], "error": null, "retry_at": null}
        })
        .to_string(),
    )
    .unwrap();
    let (status, v) = s.call("GET", PATH, Some(&owner), None).await.unwrap();
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["stale"], false);
    assert_eq!(v["alerts"][0]["id"], "service-down:web");
    assert_eq!(v["alerts"][0]["severity"], "critical");
    let (_, me) = s.get_json("/api/session", Some(&owner)).await.unwrap();
    assert!(
        me["user"]["permissions"]
            .as_array()
            .unwrap()
            .contains(&json!("system:read")),
        "{me}"
    );

    // A member of the same organization: no.
    let (status, v) = s
        .call(
            "POST",
            "/api/admin/users",
            Some(&owner),
            Some(&json!({ "email": "mia@test.example", "role": "member" })),
        )
        .await
        .unwrap();
    assert_eq!(status, 201, "{v}");
    let mia = s
        .first_login(
            "mia@test.example",
            v["one_time_password"].as_str().unwrap(),
            "staple battery horse correct",
        )
        .await
        .unwrap();
    let (status, v) = s.call("GET", PATH, Some(&mia), None).await.unwrap();
    assert_eq!(status, 403, "{v}");

    // The owner of a second organization (a tenant): no, and the permission is not theirs.
    let svc = nexus_identity::service(&s.running().ctx).unwrap();
    let op = Actor::new("operator:test", "local");
    let beta = svc.create_org("Beta Ltd", None, &op).await.unwrap();
    let (bob, otp) = svc
        .add_user(beta.id, "bob@beta.example", Some("Bob"), Role::Owner, &op)
        .await
        .unwrap();
    let bob = s
        .first_login(&bob.email, &otp, "a strong passphrase for b")
        .await
        .unwrap();
    let (status, v) = s.call("GET", PATH, Some(&bob), None).await.unwrap();
    assert_eq!(status, 403, "{v}");
    let (_, me) = s.get_json("/api/session", Some(&bob)).await.unwrap();
    assert!(
        !me["user"]["permissions"]
            .as_array()
            .unwrap()
            .contains(&json!("system:read")),
        "{me}"
    );

    // Tokens: only with the scope.
    let (token, _) = s.create_token(&owner, &["profile"]).await.unwrap();
    let bearer = format!("Bearer {token}");
    let (status, _) = s.call("GET", PATH, Some(&bearer), None).await.unwrap();
    assert_eq!(status, 403);
    let (token, _) = s
        .create_token(&owner, &["profile", "system:read"])
        .await
        .unwrap();
    let bearer = format!("Bearer {token}");
    let (status, v) = s.call("GET", PATH, Some(&bearer), None).await.unwrap();
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["alerts"][0]["id"], "service-down:web");

    // A damaged file is an error that says what to do, not an empty list.
    std::fs::write(s.state_dir().join("run/alerts.json"), "{half a").unwrap();
    let (status, v) = s.call("GET", PATH, Some(&owner), None).await.unwrap();
    assert_eq!(status, 500, "{v}");
    s.stop().await.unwrap();
}

#[tokio::test]
async fn operators_see_the_alerts_nobody_else_does_sqlite() {
    operators_see_the_alerts_nobody_else_does(Backend::Sqlite).await;
}

#[tokio::test]
async fn operators_see_the_alerts_nobody_else_does_postgres() {
    operators_see_the_alerts_nobody_else_does(Backend::Postgres).await;
}
