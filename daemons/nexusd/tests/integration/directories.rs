//! Outside directories: users and groups synced from a real OpenLDAP `slapd`, and those
//! users signing in with the directory's password.

use nexus_testkit::{Backend, Slapd, TestServer};
use nexus_wire::codes;
use serde_json::{Value, json};

use crate::tokens::code;

pub const SYNC_DN: &str = "cn=nexus-sync,dc=example,dc=test";
pub const SYNC_PASSWORD: &str = "the sync account's secret";

/// The service account NEXUS binds as, alone.
pub const SYNC_ACCOUNT: &str = "dn: cn=nexus-sync,dc=example,dc=test
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: nexus-sync
userPassword: the sync account's secret

";

fn seed() -> String {
    format!(
        "{SYNC_ACCOUNT}\
dn: ou=people,dc=example,dc=test
objectClass: organizationalUnit
ou: people

dn: ou=groups,dc=example,dc=test
objectClass: organizationalUnit
ou: groups

dn: uid=carol,ou=people,dc=example,dc=test
objectClass: inetOrgPerson
uid: carol
cn: Carol Jones
sn: Jones
mail: Carol@Example.test
userPassword: carol's directory passphrase

dn: uid=dave,ou=people,dc=example,dc=test
objectClass: inetOrgPerson
uid: dave
cn: Dave Brown
sn: Brown
mail: dave@example.test
userPassword: dave's directory passphrase

dn: uid=nomail,ou=people,dc=example,dc=test
objectClass: inetOrgPerson
uid: nomail
cn: No Mail
sn: Mail

dn: cn=engineering,ou=groups,dc=example,dc=test
objectClass: groupOfNames
cn: engineering
member: uid=carol,ou=people,dc=example,dc=test
member: uid=dave, ou=people, dc=example, dc=test

dn: cn=sales,ou=groups,dc=example,dc=test
objectClass: groupOfNames
cn: sales
member: uid=carol,ou=people,dc=example,dc=test

"
    )
}

/// The directory settings for `slapd`, as an administrator would enter them.
pub fn settings(slapd: &Slapd, password: &str) -> Value {
    json!({
        "name": "Example LDAP",
        "url": slapd.url(),
        "bind_dn": SYNC_DN,
        "bind_password": password,
        "user_base": "ou=people,dc=example,dc=test",
        "group_base": "ou=groups,dc=example,dc=test",
    })
}

async fn login(s: &TestServer, email: &str, password: &str) -> u16 {
    s.post_json(
        "/api/session",
        None,
        &json!({ "email": email, "password": password }),
    )
    .await
    .unwrap()
    .status()
    .as_u16()
}

async fn users(s: &TestServer, owner: &str) -> Vec<Value> {
    let (_, v) = s.get_json("/api/admin/users", Some(owner)).await.unwrap();
    v["users"].as_array().unwrap().clone()
}

async fn sync_from_ldap(backend: Backend) {
    let Some(slapd) = Slapd::start(&seed()).await.unwrap() else {
        return;
    };
    let Some(s) = TestServer::start_with(nexusd::apps::all(), backend, |_| {})
        .await
        .unwrap()
    else {
        return;
    };
    let (_, setup) = s.provision().await.unwrap();
    let owner = s
        .setup(&setup, "the first chosen passphrase")
        .await
        .unwrap();

    // Adding checks the bind first: a wrong password or a bad URL is refused, nothing saved.
    let r = s
        .post_json(
            "/api/admin/directories",
            Some(&owner),
            &settings(&slapd, "wrong"),
        )
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(code(r).await, codes::DIRECTORY_UNREACHABLE);
    let mut bad = settings(&slapd, SYNC_PASSWORD);
    bad["url"] = json!("http://example.test");
    let r = s
        .post_json("/api/admin/directories", Some(&owner), &bad)
        .await
        .unwrap();
    assert_eq!(code(r).await, codes::VALIDATION_FAILED);
    let r = s
        .post_json(
            "/api/admin/directories",
            Some(&owner),
            &settings(&slapd, SYNC_PASSWORD),
        )
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let dir: Value = r.json().await.unwrap();
    assert!(dir.get("bind_password").is_none(), "{dir}");
    assert!(!dir.to_string().contains(SYNC_PASSWORD));
    let id = dir["id"].as_str().unwrap().to_owned();

    // The first sync brings in the users with an address and both groups.
    let sync = format!("/api/admin/directories/{id}/sync");
    let (status, report) = s.call("POST", &sync, Some(&owner), None).await.unwrap();
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["users_created"], 2, "{report}");
    assert_eq!(report["groups_created"], 2, "{report}");
    assert!(
        report["skipped"][0]["entry"]
            .as_str()
            .unwrap()
            .starts_with("uid=nomail"),
        "{report}"
    );
    let list = users(&s, &owner).await;
    let carol = list
        .iter()
        .find(|u| u["email"] == "carol@example.test")
        .expect("carol synced, her address normalized");
    assert_eq!(carol["display_name"], "Carol Jones");
    assert_eq!(carol["role"], "member");
    assert_eq!(carol["directory"]["name"], "Example LDAP");
    let carol_id = carol["id"].as_str().unwrap().to_owned();

    // Carol signs in with the directory's password, and only with it.
    assert_eq!(
        login(&s, "carol@example.test", "carol's directory passphrase").await,
        200
    );
    assert_eq!(login(&s, "carol@example.test", "wrong").await, 401);
    assert_eq!(login(&s, "carol@example.test", "").await / 100, 4);
    let carol_session = s
        .login("carol@example.test", "carol's directory passphrase")
        .await
        .unwrap();
    // Her password is changed in the directory, not here.
    let (status, v) = s
        .call(
            "POST",
            "/api/session/password",
            Some(&carol_session),
            Some(&json!({ "current_password": "carol's directory passphrase", "new_password": "a new passphrase here" })),
        )
        .await
        .unwrap();
    assert_eq!(status, 409, "{v}");

    // Synced groups carry the directory's members and are read-only here.
    let (_, groups) = s.get_json("/api/admin/groups", Some(&owner)).await.unwrap();
    let engineering = groups["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == "engineering")
        .unwrap()
        .clone();
    assert_eq!(engineering["member_count"], 2, "DNs match however spaced");
    assert_eq!(engineering["directory"]["name"], "Example LDAP");
    let gid = engineering["id"].as_str().unwrap().to_owned();
    for (method, path) in [
        (
            "DELETE",
            format!("/api/admin/groups/{gid}/members/{carol_id}"),
        ),
        ("DELETE", format!("/api/admin/groups/{gid}")),
    ] {
        let (status, v) = s.call(method, &path, Some(&owner), None).await.unwrap();
        assert_eq!(status, 409, "{method} {path}: {v}");
    }

    // Dave holds a token; leaving the directory will revoke it.
    let dave_session = s
        .login("dave@example.test", "dave's directory passphrase")
        .await
        .unwrap();
    let (dave_token, _) = s.create_token(&dave_session, &["profile"]).await.unwrap();
    let bearer = format!("Bearer {dave_token}");
    let (status, _) = s
        .call("GET", "/api/whoami", Some(&bearer), None)
        .await
        .unwrap();
    assert_eq!(status, 200);

    // Changes in the directory arrive with the next sync: a rename, a departure, a group gone.
    slapd
        .modify(
            "dn: uid=carol,ou=people,dc=example,dc=test
changetype: modify
replace: cn
cn: Carol Smith

dn: uid=dave,ou=people,dc=example,dc=test
changetype: delete

dn: cn=engineering,ou=groups,dc=example,dc=test
changetype: modify
delete: member
member: uid=dave, ou=people, dc=example, dc=test

dn: cn=sales,ou=groups,dc=example,dc=test
changetype: delete
",
        )
        .unwrap();
    let (status, report) = s.call("POST", &sync, Some(&owner), None).await.unwrap();
    assert_eq!(status, 200, "{report}");
    assert_eq!(
        (
            &report["users_created"],
            &report["users_updated"],
            &report["users_disabled"],
            &report["groups_updated"],
            &report["groups_deleted"]
        ),
        (&json!(0), &json!(1), &json!(1), &json!(1), &json!(1)),
        "{report}"
    );
    let list = users(&s, &owner).await;
    let dave = list
        .iter()
        .find(|u| u["email"] == "dave@example.test")
        .unwrap();
    assert_eq!(dave["disabled"], true);
    assert!(
        list.iter()
            .any(|u| u["email"] == "carol@example.test" && u["display_name"] == "Carol Smith")
    );
    assert_ne!(
        login(&s, "dave@example.test", "dave's directory passphrase").await,
        200
    );
    let (status, _) = s
        .call("GET", "/api/whoami", Some(&bearer), None)
        .await
        .unwrap();
    assert_eq!(status, 401, "a departed user's token is revoked");

    // An account an administrator disabled here stays disabled through syncs.
    let path = format!("/api/admin/users/{carol_id}");
    let (status, v) = s
        .call(
            "PATCH",
            &path,
            Some(&owner),
            Some(&json!({ "disabled": true })),
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{v}");
    s.call("POST", &sync, Some(&owner), None).await.unwrap();
    let (_, carol_now) = s.get_json(&path, Some(&owner)).await.unwrap();
    assert_eq!(carol_now["disabled"], true, "{carol_now}");
    let (status, _) = s
        .call(
            "PATCH",
            &path,
            Some(&owner),
            Some(&json!({ "disabled": false })),
        )
        .await
        .unwrap();
    assert_eq!(status, 200);
    let carol_session = s
        .login("carol@example.test", "carol's directory passphrase")
        .await
        .unwrap();
    // A sync that finds nothing new changes nothing.
    let (_, again) = s.call("POST", &sync, Some(&owner), None).await.unwrap();
    for k in [
        "users_created",
        "users_updated",
        "users_disabled",
        "groups_created",
        "groups_updated",
        "groups_deleted",
    ] {
        assert_eq!(again[k], 0, "{k}: {again}");
    }

    // Between syncs the address moves to another entry: its password does not open Carol's
    // account, because sign-in binds only as the entry the account was synced from.
    slapd
        .modify(
            "dn: uid=carol,ou=people,dc=example,dc=test
changetype: modify
replace: mail
mail: carol.smith@example.test

dn: uid=mallory,ou=people,dc=example,dc=test
changetype: add
objectClass: inetOrgPerson
uid: mallory
cn: Mallory
sn: Mallory
mail: carol@example.test
userPassword: mallory's own passphrase
",
        )
        .unwrap();
    assert_eq!(
        login(&s, "carol@example.test", "mallory's own passphrase").await,
        401
    );
    // Pointing the directory elsewhere needs its password again.
    let dir_path = format!("/api/admin/directories/{id}");
    let (status, v) = s
        .call(
            "PATCH",
            &dir_path,
            Some(&owner),
            Some(&json!({ "url": "ldap://127.0.0.1:9" })),
        )
        .await
        .unwrap();
    assert_eq!(status, 400, "{v}");
    assert_eq!(v["error"]["code"], codes::VALIDATION_FAILED);

    // A directory that stops answering is reported, on the sync and in the list.
    drop(slapd);
    let (status, v) = s.call("POST", &sync, Some(&owner), None).await.unwrap();
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (400, Some(codes::DIRECTORY_UNREACHABLE)),
        "{v}"
    );
    let (_, list) = s
        .get_json("/api/admin/directories", Some(&owner))
        .await
        .unwrap();
    assert!(list["directories"][0]["last_error"].is_string(), "{list}");

    // Removing the directory disables its users and removes its groups.
    let path = format!("/api/admin/directories/{id}");
    let (status, _) = s.call("DELETE", &path, Some(&owner), None).await.unwrap();
    assert_eq!(status, 204);
    let list = users(&s, &owner).await;
    assert!(
        list.iter()
            .any(|u| u["email"] == "carol@example.test" && u["disabled"] == true)
    );
    let (status, _) = s
        .get_json("/api/session", Some(&carol_session))
        .await
        .unwrap();
    assert_eq!(status, 401, "her sessions ended");
    // Without its directory the account has no password at all: refused, not an error.
    assert_eq!(
        login(&s, "carol@example.test", "carol's directory passphrase").await,
        401
    );
    let (_, groups) = s.get_json("/api/admin/groups", Some(&owner)).await.unwrap();
    assert_eq!(groups["groups"].as_array().unwrap().len(), 0);

    let (_, audit) = s
        .get_json("/api/admin/audit?limit=1000", Some(&owner))
        .await
        .unwrap();
    let actions: Vec<&str> = audit["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    for a in [
        "directory.created",
        "directory.synced",
        "directory.deleted",
        "group.deleted",
        "user.disabled",
    ] {
        assert!(actions.contains(&a), "no {a} in {actions:?}");
    }
    s.stop().await.unwrap();
}

#[tokio::test]
async fn users_and_groups_sync_from_ldap_on_sqlite() {
    sync_from_ldap(Backend::Sqlite).await;
}

#[tokio::test]
async fn users_and_groups_sync_from_ldap_on_postgres() {
    sync_from_ldap(Backend::Postgres).await;
}
