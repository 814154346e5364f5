//! Roles, groups and permissions over HTTP: what each built-in role may do, custom roles
//! reaching users directly and through groups (and leaving them, tokens included, at once),
//! nobody handing out more than they hold, and per-organization branding.

use nexus_testkit::{Backend, TestServer};
use serde_json::{Value, json};

/// A 1×1 transparent PNG.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4,
    0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0x60, 0x00, 0x02, 0x00,
    0x00, 0x05, 0x00, 0x01, 0xe9, 0xfa, 0xdc, 0xd8, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44,
    0xae, 0x42, 0x60, 0x82,
];

struct Org {
    s: TestServer,
    owner: String,
    owner_id: String,
}

async fn start(backend: Backend) -> Option<Org> {
    let s = TestServer::start_with(nexusd::apps::all(), backend, |_| {})
        .await
        .unwrap()?;
    let (_, setup) = s.provision().await.unwrap();
    let owner = s
        .setup(&setup, "a long passphrase for the boss")
        .await
        .unwrap();
    let (_, me) = s.get_json("/api/session", Some(&owner)).await.unwrap();
    let owner_id = me["user"]["id"].as_str().unwrap().to_owned();
    Some(Org { s, owner, owner_id })
}

impl Org {
    /// Adds a user through the admin API and logs them in; returns (cookie, id).
    async fn add(&self, email: &str, role: &str) -> (String, String) {
        let (status, v) = self
            .s
            .call(
                "POST",
                "/api/admin/users",
                Some(&self.owner),
                Some(&json!({ "email": email, "role": role })),
            )
            .await
            .unwrap();
        assert_eq!(status, 201, "{v}");
        assert_eq!(v["must_change_password"], true);
        let otp = v["one_time_password"].as_str().unwrap();
        let cookie = self
            .s
            .first_login(email, otp, "staple battery horse correct")
            .await
            .unwrap();
        (cookie, v["id"].as_str().unwrap().to_owned())
    }

    async fn call(&self, who: &str, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        self.s
            .call(method, path, Some(who), body.as_ref())
            .await
            .unwrap()
    }

    async fn create(&self, path: &str, body: Value) -> String {
        let (status, v) = self.call(&self.owner, "POST", path, Some(body)).await;
        assert_eq!(status, 201, "{path}: {v}");
        v["id"].as_str().unwrap().to_owned()
    }
}

fn refused(answer: &(u16, Value), code: &str) {
    assert_eq!(answer.0, 403, "{}", answer.1);
    assert_eq!(answer.1["error"]["code"], code, "{}", answer.1);
}

async fn roles_and_groups(backend: Backend) {
    let Some(o) = start(backend).await else {
        return;
    };
    let (mia, mia_id) = o.add("mia@test.example", "member").await;
    let (gus, gus_id) = o.add("gus@test.example", "guest").await;

    // Built-in roles: members read the directory, guests see nothing, neither manages.
    let (status, users) = o.call(&mia, "GET", "/api/admin/users", None).await;
    assert_eq!(status, 200);
    assert_eq!(users["users"].as_array().unwrap().len(), 3);
    assert!(users.to_string().find("password_hash").is_none());
    refused(
        &o.call(&gus, "GET", "/api/admin/users", None).await,
        "auth.forbidden",
    );
    refused(
        &o.call(
            &mia,
            "POST",
            "/api/admin/groups",
            Some(json!({ "name": "x" })),
        )
        .await,
        "auth.forbidden",
    );
    refused(
        &o.call(&mia, "GET", "/api/admin/audit", None).await,
        "auth.forbidden",
    );
    let (_, session) = o.call(&mia, "GET", "/api/session", None).await;
    assert_eq!(session["user"]["permissions"], json!(["users:read"]));

    // A custom role reaches a user through a group…
    let auditors = o
        .create(
            "/api/admin/roles",
            json!({ "name": "Auditors", "description": "read the log", "permissions": ["audit:read"] }),
        )
        .await;
    let finance = o
        .create("/api/admin/groups", json!({ "name": "Finance" }))
        .await;
    for path in [
        format!("/api/admin/roles/{auditors}/groups/{finance}"),
        format!("/api/admin/groups/{finance}/members/{mia_id}"),
        // Twice is fine.
        format!("/api/admin/groups/{finance}/members/{mia_id}"),
    ] {
        assert_eq!(o.call(&o.owner, "PUT", &path, None).await.0, 204, "{path}");
    }
    let (_, session) = o.call(&mia, "GET", "/api/session", None).await;
    assert_eq!(
        session["user"]["permissions"],
        json!(["users:read", "audit:read"])
    );
    assert_eq!(o.call(&mia, "GET", "/api/admin/audit", None).await.0, 200);
    let (token, _) = o.s.create_token(&mia, &["audit:read"]).await.unwrap();
    let bearer = format!("Bearer {token}");
    assert_eq!(
        o.call(&bearer, "GET", "/api/admin/audit", None).await.0,
        200
    );
    let (_, detail) = o
        .call(&o.owner, "GET", &format!("/api/admin/users/{mia_id}"), None)
        .await;
    assert_eq!(detail["groups"], json!([finance]));
    assert_eq!(detail["roles"][0]["name"], "Auditors");

    // …and leaves with the membership, for the session and the token alike, at once.
    let path = format!("/api/admin/groups/{finance}/members/{mia_id}");
    assert_eq!(o.call(&o.owner, "DELETE", &path, None).await.0, 204);
    refused(
        &o.call(&mia, "GET", "/api/admin/audit", None).await,
        "auth.forbidden",
    );
    refused(
        &o.call(&bearer, "GET", "/api/admin/audit", None).await,
        "auth.forbidden",
    );
    let (status, _) = o
        .call(
            &mia,
            "POST",
            "/api/tokens",
            Some(json!({ "name": "t", "scopes": ["audit:read"] })),
        )
        .await;
    assert_eq!(
        status, 403,
        "a token may not carry a permission its user lacks"
    );
    // A token without the scope is refused for its scope, whatever its user holds.
    let (owner_token, _) = o.s.create_token(&o.owner, &["profile"]).await.unwrap();
    refused(
        &o.call(
            &format!("Bearer {owner_token}"),
            "GET",
            "/api/admin/users",
            None,
        )
        .await,
        "auth.insufficient_scope",
    );

    // A helpdesk role: manage users, but hand out nothing one does not hold.
    let helpdesk = o
        .create(
            "/api/admin/roles",
            json!({ "name": "Helpdesk", "permissions": ["users:read", "users:manage"] }),
        )
        .await;
    let grant = format!("/api/admin/roles/{helpdesk}/users/{mia_id}");
    assert_eq!(o.call(&o.owner, "PUT", &grant, None).await.0, 204);
    let (status, added) = o
        .call(
            &mia,
            "POST",
            "/api/admin/users",
            Some(json!({ "email": "new@test.example" })),
        )
        .await;
    assert_eq!(status, 201, "{added}");
    assert_eq!(added["role"], "member");
    let escalate = format!("/api/admin/roles/{auditors}/users/{mia_id}");
    let (status, err) = o.call(&mia, "PUT", &escalate, None).await;
    assert_eq!(status, 403);
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("audit:read"),
        "{err}"
    );
    let via_group = format!("/api/admin/roles/{auditors}/groups/{finance}");
    assert_eq!(o.call(&o.owner, "PUT", &via_group, None).await.0, 204);
    let join = format!("/api/admin/groups/{finance}/members/{mia_id}");
    refused(&o.call(&mia, "PUT", &join, None).await, "auth.forbidden");
    let gus_path = format!("/api/admin/users/{gus_id}");
    refused(
        &o.call(&mia, "PATCH", &gus_path, Some(json!({ "role": "owner" })))
            .await,
        "auth.forbidden",
    );
    let owner_path = format!("/api/admin/users/{}", o.owner_id);
    refused(
        &o.call(
            &mia,
            "PATCH",
            &owner_path,
            Some(json!({ "disabled": true })),
        )
        .await,
        "auth.forbidden",
    );
    refused(
        &o.call(&mia, "POST", &format!("{owner_path}/reset-password"), None)
            .await,
        "auth.forbidden",
    );
    let (status, gus_now) = o
        .call(&mia, "PATCH", &gus_path, Some(json!({ "role": "member" })))
        .await;
    assert_eq!(
        (status, &gus_now["role"]),
        (200, &json!("member")),
        "{gus_now}"
    );
    refused(
        &o.call(
            &mia,
            "PATCH",
            &format!("/api/admin/users/{mia_id}"),
            Some(json!({ "role": "admin" })),
        )
        .await,
        "auth.forbidden",
    );
    refused(
        &o.call(
            &mia,
            "POST",
            "/api/admin/roles",
            Some(json!({ "name": "Mine", "permissions": [] })),
        )
        .await,
        "auth.forbidden",
    );
    // Disabling ends the user's sessions; a reset gives a new one-time password.
    let (status, _) = o
        .call(&mia, "PATCH", &gus_path, Some(json!({ "disabled": true })))
        .await;
    assert_eq!(status, 200);
    assert_eq!(o.call(&gus, "GET", "/api/session", None).await.0, 401);
    let (status, reset) = o
        .call(&mia, "POST", &format!("{gus_path}/reset-password"), None)
        .await;
    assert_eq!(status, 200, "{reset}");
    assert!(reset["one_time_password"].as_str().unwrap().len() >= 12);

    // Bad input is a 4xx with a stable code.
    for (body, want, code) in [
        (
            json!({ "name": "x", "permissions": ["drive:root"] }),
            400,
            "validation.failed",
        ),
        (
            json!({ "name": "Admin", "permissions": [] }),
            400,
            "validation.failed",
        ),
        (
            json!({ "name": "Auditors", "permissions": [] }),
            409,
            "validation.failed",
        ),
        (
            json!({ "name": "", "permissions": [] }),
            400,
            "validation.failed",
        ),
        (json!({ "name": "x" }), 400, "request.bad_json"),
    ] {
        let (status, err) = o
            .call(&o.owner, "POST", "/api/admin/roles", Some(body))
            .await;
        assert_eq!(
            (status, err["error"]["code"].as_str()),
            (want, Some(code)),
            "{err}"
        );
    }
    let (status, _) = o
        .call(&o.owner, "GET", "/api/admin/roles/not-an-id", None)
        .await;
    assert_eq!(status, 400);
    let (status, _) = o
        .call(
            &o.owner,
            "PATCH",
            &gus_path,
            Some(json!({ "role": "superuser" })),
        )
        .await;
    assert_eq!(status, 400);
    refused(
        &o.call(
            &o.owner,
            "PATCH",
            &owner_path,
            Some(json!({ "role": "member" })),
        )
        .await,
        "auth.forbidden",
    );

    // Deleting a role takes it from everyone holding it.
    let path = format!("/api/admin/roles/{helpdesk}");
    assert_eq!(o.call(&o.owner, "DELETE", &path, None).await.0, 204);
    assert_eq!(o.call(&o.owner, "GET", &path, None).await.0, 404);
    refused(
        &o.call(
            &mia,
            "POST",
            "/api/admin/users",
            Some(json!({ "email": "x@test.example" })),
        )
        .await,
        "auth.forbidden",
    );

    // Every change is in the audit log.
    let (_, audit) = o
        .call(&o.owner, "GET", "/api/admin/audit?limit=1000", None)
        .await;
    let actions: Vec<&str> = audit["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    for a in [
        "role.created",
        "group.created",
        "role.granted",
        "group.member_added",
        "group.member_removed",
        "user.role_changed",
        "user.disabled",
        "role.deleted",
    ] {
        assert!(actions.contains(&a), "no {a} in {actions:?}");
    }
    o.s.stop().await.unwrap();
}

#[tokio::test]
async fn roles_and_groups_decide_what_users_may_do_sqlite() {
    roles_and_groups(Backend::Sqlite).await;
}

#[tokio::test]
async fn roles_and_groups_decide_what_users_may_do_postgres() {
    roles_and_groups(Backend::Postgres).await;
}

#[tokio::test]
async fn branding_reaches_every_member() {
    let Some(o) = start(Backend::Sqlite).await else {
        return;
    };
    let (mia, _) = o.add("mia@test.example", "member").await;
    let (status, org) = o
        .call(
            &o.owner,
            "PATCH",
            "/api/admin/org",
            Some(json!({ "name": "Acme Blue", "brand_color": "#1A73E8" })),
        )
        .await;
    assert_eq!(status, 200, "{org}");
    assert_eq!(org["brand_color"], "#1a73e8");
    for color in ["blue", "#12345", "#12345g", "javascript:x"] {
        let (status, _) = o
            .call(
                &o.owner,
                "PATCH",
                "/api/admin/org",
                Some(json!({ "name": "Acme", "brand_color": color })),
            )
            .await;
        assert_eq!(status, 400, "{color}");
    }
    refused(
        &o.call(
            &mia,
            "PATCH",
            "/api/admin/org",
            Some(json!({ "name": "Mine" })),
        )
        .await,
        "auth.forbidden",
    );

    let upload = |body: Vec<u8>| {
        o.s.client
            .put(o.s.url("/api/admin/org/logo"))
            .header("cookie", &o.owner)
            .header("content-type", "image/png")
            .body(body)
            .send()
    };
    assert_eq!(
        upload(b"<svg onload=alert(1)/>".to_vec())
            .await
            .unwrap()
            .status(),
        400
    );
    let mut big = PNG.to_vec();
    big.resize(300 * 1024, 0);
    assert_eq!(upload(big).await.unwrap().status(), 400);
    assert_eq!(upload(PNG.to_vec()).await.unwrap().status(), 204);

    let (_, session) = o.call(&mia, "GET", "/api/session", None).await;
    assert_eq!(session["user"]["org"]["name"], "Acme Blue");
    assert_eq!(session["user"]["org"]["brand_color"], "#1a73e8");
    assert_eq!(session["user"]["org"]["has_logo"], true);
    let logo =
        o.s.client
            .get(o.s.url("/api/org/logo"))
            .header("cookie", &mia)
            .send()
            .await
            .unwrap();
    assert_eq!(logo.status(), 200);
    assert_eq!(logo.headers()["content-type"], "image/png");
    assert_eq!(logo.headers()["x-content-type-options"], "nosniff");
    assert_eq!(logo.bytes().await.unwrap().as_ref(), PNG);
    let anonymous =
        o.s.client
            .get(o.s.url("/api/org/logo"))
            .send()
            .await
            .unwrap();
    assert_eq!(anonymous.status(), 401);

    assert_eq!(
        o.call(&o.owner, "DELETE", "/api/admin/org/logo", None)
            .await
            .0,
        204
    );
    let (_, session) = o.call(&mia, "GET", "/api/session", None).await;
    assert_eq!(session["user"]["org"]["has_logo"], false);
    assert_eq!(o.call(&mia, "GET", "/api/org/logo", None).await.0, 404);
    o.s.stop().await.unwrap();
}
