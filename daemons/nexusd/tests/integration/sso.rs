//! Signing in through an outside OpenID provider, with one real `nexusd` as the identity
//! provider of another: the relying party discovers it, sends the browser there with PKCE
//! and a nonce, verifies the EdDSA ID token against its published keys, and opens (or
//! creates, or links) the account. Every way back that is not the real one is refused.

use nexus_testkit::{Backend, TestServer};
use serde_json::{Value, json};

use crate::tokens::owner_session;

const PASSWORD: &str = "a much better passphrase";

/// Two daemons: `idp` (NEXUS A) is the identity provider of `rp` (NEXUS B).
struct Pair {
    idp: TestServer,
    idp_owner: String,
    rp: TestServer,
    rp_owner: String,
    provider: String,
    client_id: String,
    client_secret: String,
}

fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn pair(backend: Backend, provider: Value) -> Option<Pair> {
    let (idp, idp_owner) = owner_session().await;
    let rp = TestServer::start_with(nexusd::apps::all(), backend, |_| {})
        .await
        .unwrap()?;
    let (_, setup) = rp.provision().await.unwrap();
    let rp_owner = rp.setup(&setup, PASSWORD).await.unwrap();
    // B's console offers the id (and so the redirect URI) of the provider about to be
    // added; A's owner registers B as an app with it.
    let (status, offer) = rp
        .get_json("/api/admin/sso-providers", Some(&rp_owner))
        .await
        .unwrap();
    assert_eq!(status, 200, "{offer}");
    let new_id = offer["new_id"].as_str().unwrap().to_owned();
    // A reloaded form offers the same address.
    let (_, again) = rp
        .get_json("/api/admin/sso-providers", Some(&rp_owner))
        .await
        .unwrap();
    assert_eq!(again["new_id"], offer["new_id"]);
    let callback = rp.url(&format!("/api/sso/{new_id}/callback"));
    assert_eq!(offer["new_redirect_uri"], json!(callback));
    let (status, client) = idp
        .call(
            "POST",
            "/api/admin/clients",
            Some(&idp_owner),
            Some(&json!({
                "name": "NEXUS B",
                "scopes": ["openid", "profile", "email"],
                "redirect_uris": [callback],
            })),
        )
        .await
        .unwrap();
    assert_eq!(status, 201, "{client}");
    let client_id = client["client_id"].as_str().unwrap().to_owned();
    let client_secret = client["client_secret"].as_str().unwrap().to_owned();
    // B's owner adds A as a sign-in provider.
    let mut body = json!({
        "id": new_id,
        "create_users": true,
        "name": "NEXUS A",
        "issuer": idp.base,
        "client_id": client_id,
        "client_secret": client_secret,
    });
    if let (Some(b), Some(extra)) = (body.as_object_mut(), provider.as_object()) {
        b.extend(extra.clone());
    }
    let (status, p) = rp
        .call(
            "POST",
            "/api/admin/sso-providers",
            Some(&rp_owner),
            Some(&body),
        )
        .await
        .unwrap();
    assert_eq!(status, 201, "{p}");
    assert_eq!(p["redirect_uri"], json!(callback));
    assert_eq!(p["id"], json!(new_id));
    assert_eq!(p["issuer"], json!(idp.base));
    assert!(p.get("client_secret").is_none(), "{p}");
    Some(Pair {
        provider: p["id"].as_str().unwrap().to_owned(),
        idp,
        idp_owner,
        rp,
        rp_owner,
        client_id,
        client_secret,
    })
}

/// A person of A: created by A's owner, with their own password; their session cookie at A.
async fn person_at_idp(p: &Pair, email: &str, name: &str) -> String {
    let (status, created) = p
        .idp
        .call(
            "POST",
            "/api/admin/users",
            Some(&p.idp_owner),
            Some(&json!({ "email": email, "display_name": name, "role": "member" })),
        )
        .await
        .unwrap();
    assert_eq!(status, 201, "{created}");
    let otp = created["one_time_password"].as_str().unwrap();
    p.idp
        .first_login(email, otp, "a long and private passphrase")
        .await
        .unwrap()
}

/// What the browser holds after the button: the provider's authorization URL and the
/// binding cookie (`nexus_sso=…`).
async fn start(p: &Pair, next: Option<&str>) -> (String, String) {
    let mut url = p.rp.url(&format!("/api/sso/{}/start", p.provider));
    if let Some(n) = next {
        url = format!("{url}?next={}", urlencode(n));
    }
    let r = browser().get(url).send().await.unwrap();
    assert_eq!(r.status(), 303);
    let location = header(&r, "location");
    assert!(
        location.starts_with(&p.idp.url("/oauth/authorize?")),
        "{location}"
    );
    for part in [
        "code_challenge_method=S256",
        "nonce=",
        "state=",
        "scope=openid",
    ] {
        assert!(location.contains(part), "{part} missing: {location}");
    }
    let cookie = header(&r, "set-cookie");
    assert!(
        cookie.contains("HttpOnly")
            && cookie.contains("SameSite=Lax")
            && cookie.contains(&format!("Path=/api/sso/{}/callback", p.provider)),
        "{cookie}"
    );
    // The cookie is not the state, which travels in URLs.
    let state = query_param(&location, "state");
    assert!(!cookie.contains(&state), "{cookie}");
    (location, cookie.split(';').next().unwrap().to_owned())
}

/// The account page's Link button: where the browser goes, and the binding cookie.
async fn start_link(p: &Pair, cookie: &str) -> (String, String) {
    let r =
        p.rp.post_json(
            &format!("/api/account/sso-links/{}", p.provider),
            Some(cookie),
            &json!({}),
        )
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let binding = header(&r, "set-cookie")
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let v: Value = r.json().await.unwrap();
    (v["redirect"].as_str().unwrap().to_owned(), binding)
}

/// At the provider, signed in there: the way back to B (the callback URL with the code).
async fn at_idp(p: &Pair, authorize: &str, idp_cookie: &str) -> String {
    let r = browser()
        .get(authorize)
        .header("cookie", idp_cookie)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_redirection(), "{}", r.status());
    let back = header(&r, "location");
    assert!(
        back.starts_with(&p.rp.url(&format!("/api/sso/{}/callback?", p.provider))),
        "{back}"
    );
    back
}

/// Back at B with the binding cookie: the status, where it sends the browser, and the
/// session cookie when one was opened.
async fn back(callback: &str, binding: Option<&str>) -> (u16, String, Option<String>) {
    let mut req = browser().get(callback);
    if let Some(b) = binding {
        req = req.header("cookie", b);
    }
    let r = req.send().await.unwrap();
    let session = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("nexus_session="))
        .map(|c| c.split(';').next().unwrap().to_owned());
    // The binding cookie is spent either way.
    assert!(
        r.headers()
            .get_all("set-cookie")
            .iter()
            .any(|v| v.to_str().unwrap().starts_with("nexus_sso=;")),
        "the binding cookie is not cleared"
    );
    (r.status().as_u16(), header(&r, "location"), session)
}

/// The whole way, as the holder of `idp_cookie` at A.
async fn sign_in(p: &Pair, idp_cookie: &str, next: Option<&str>) -> (u16, String, Option<String>) {
    let (authorize, binding) = start(p, next).await;
    let callback = at_idp(p, &authorize, idp_cookie).await;
    back(&callback, Some(&binding)).await
}

fn header(r: &reqwest::Response, name: &str) -> String {
    r.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

async fn session_at(s: &TestServer, cookie: &str) -> Value {
    let (status, v) = s.get_json("/api/session", Some(cookie)).await.unwrap();
    assert_eq!(status, 200, "{v}");
    v
}

async fn users(s: &TestServer, cookie: &str) -> Vec<Value> {
    let (_, v) = s.get_json("/api/admin/users", Some(cookie)).await.unwrap();
    v["users"].as_array().unwrap().clone()
}

async fn signs_in_through_another_nexus(backend: Backend) {
    let Some(p) = pair(backend, json!({})).await else {
        return;
    };
    // The login page's button (one organization: no slug needed).
    let (status, list) = p.rp.get_json("/api/sso/providers", None).await.unwrap();
    assert_eq!(status, 200);
    assert_eq!(
        list["providers"],
        json!([{ "id": p.provider, "name": "NEXUS A" }])
    );

    // Someone with no account at B gets one, as a member, at the first sign-in.
    let alice_at_a = person_at_idp(&p, "alice@test.example", "Alice Liddell").await;
    let before = users(&p.rp, &p.rp_owner).await.len();
    let (status, location, session) = sign_in(&p, &alice_at_a, None).await;
    assert_eq!((status, location.as_str()), (303, "/"));
    let alice = session.expect("a session at B");
    let me = session_at(&p.rp, &alice).await;
    assert_eq!(me["user"]["email"], "alice@test.example");
    assert_eq!(me["user"]["display_name"], "Alice Liddell");
    assert_eq!(me["user"]["role"], "member");
    assert_eq!(users(&p.rp, &p.rp_owner).await.len(), before + 1);
    let alice_id = me["user"]["id"].as_str().unwrap().to_owned();

    // The second time, the provider's subject finds the same account; `next` is kept.
    let (status, location, session) = sign_in(&p, &alice_at_a, Some("/account?tab=1")).await;
    assert_eq!((status, location.as_str()), (303, "/account?tab=1"));
    let again = session_at(&p.rp, &session.unwrap()).await;
    assert_eq!(again["user"]["id"], json!(alice_id));
    assert_eq!(users(&p.rp, &p.rp_owner).await.len(), before + 1);
    // Somewhere else than this instance is not a place to go back to.
    let (_, location, _) = sign_in(&p, &alice_at_a, Some("//evil.example/x")).await;
    assert_eq!(location, "/");

    // A member's account of B with the address the provider verified is linked, not
    // duplicated.
    let (status, created) =
        p.rp.call(
            "POST",
            "/api/admin/users",
            Some(&p.rp_owner),
            Some(&json!({ "email": "bert@test.example", "role": "member" })),
        )
        .await
        .unwrap();
    assert_eq!(status, 201, "{created}");
    let bert_at_a = person_at_idp(&p, "bert@test.example", "Bert").await;
    let (_, location, session) = sign_in(&p, &bert_at_a, None).await;
    assert_eq!(location, "/");
    let bert = session_at(&p.rp, &session.unwrap()).await;
    assert_eq!(bert["user"]["id"], created["id"]);
    assert_eq!(users(&p.rp, &p.rp_owner).await.len(), before + 2);
    // Made an administrator since, Bert's address-made link no longer opens the account.
    let bert_path = format!("/api/admin/users/{}", created["id"].as_str().unwrap());
    let promote = |role: &'static str| {
        let (rp, owner, path) = (&p.rp, p.rp_owner.clone(), bert_path.clone());
        async move {
            let (status, v) = rp
                .call("PATCH", &path, Some(&owner), Some(&json!({ "role": role })))
                .await
                .unwrap();
            assert_eq!(status, 200, "{v}");
        }
    };
    promote("admin").await;
    let (_, location, session) = sign_in(&p, &bert_at_a, None).await;
    assert_eq!(location, "/login?sso_error=link_required");
    assert!(session.is_none());
    // Bert, signed in with a password, links it himself: then it holds as an admin too.
    let (status, reset) =
        p.rp.call(
            "POST",
            &format!("{bert_path}/reset-password"),
            Some(&p.rp_owner),
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{reset}");
    let bert_here =
        p.rp.first_login(
            "bert@test.example",
            reset["one_time_password"].as_str().unwrap(),
            "a long and private passphrase",
        )
        .await
        .unwrap();
    let (authorize, binding) = start_link(&p, &bert_here).await;
    let bert_fresh = p
        .idp
        .login("bert@test.example", "a long and private passphrase")
        .await
        .unwrap();
    let callback = at_idp(&p, &authorize, &bert_fresh).await;
    assert_eq!(
        back(&callback, Some(&binding)).await.1,
        "/account?sso=linked"
    );
    assert_eq!(sign_in(&p, &bert_at_a, None).await.1, "/");
    promote("member").await;
    assert_eq!(sign_in(&p, &bert_at_a, None).await.1, "/");

    // An owner's account is not opened by an address: A's owner and B's owner share
    // owner@test.example, and whoever runs A could make that address there.
    let (_, location, session) = sign_in(&p, &p.idp_owner, None).await;
    assert_eq!(location, "/login?sso_error=link_required");
    assert!(session.is_none());
    // B's owner links it from their account page instead: a POST (CSRF-checked), then the
    // same way there and back, which lands on the account page.
    let (status, links) =
        p.rp.get_json("/api/account/sso-links", Some(&p.rp_owner))
            .await
            .unwrap();
    assert_eq!(status, 200);
    assert_eq!(
        links["links"],
        json!([{ "id": p.provider, "name": "NEXUS A", "linked": false }])
    );
    // Linking needs a recent login here: an old session cannot add a way in.
    crate::oidc::age_sessions(&p.rp, 20).await;
    let r =
        p.rp.post_json(
            &format!("/api/account/sso-links/{}", p.provider),
            Some(&p.rp_owner),
            &json!({}),
        )
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(crate::tokens::code(r).await, "auth.recent_login_required");
    let rp_owner = p.rp.login("owner@test.example", PASSWORD).await.unwrap();
    // And a recent login at the provider: A's owner logged in long ago, so A asks again
    // (prompt=login) before it answers.
    crate::oidc::age_sessions(&p.idp, 20).await;
    let (authorize, binding) = start_link(&p, &rp_owner).await;
    assert!(authorize.contains("prompt=login"), "{authorize}");
    assert!(authorize.contains("max_age="), "{authorize}");
    let r = browser()
        .get(&authorize)
        .header("cookie", &p.idp_owner)
        .send()
        .await
        .unwrap();
    let again = header(&r, "location");
    assert!(again.starts_with("/login?reauth=1&next="), "{again}");
    let idp_owner = p.idp.login("owner@test.example", PASSWORD).await.unwrap();
    let callback = at_idp(&p, &authorize, &idp_owner).await;
    let (_, location, session) = back(&callback, Some(&binding)).await;
    assert_eq!(location, "/account?sso=linked");
    assert!(session.is_none(), "linking opens no session");
    let (_, links) =
        p.rp.get_json("/api/account/sso-links", Some(&p.rp_owner))
            .await
            .unwrap();
    assert_eq!(links["links"][0]["linked"], true);
    let (_, location, session) = sign_in(&p, &p.idp_owner, None).await;
    assert_eq!(location, "/");
    let owner = session_at(&p.rp, &session.unwrap()).await;
    assert_eq!(owner["user"]["role"], "owner");
    // A linking whose session ended meanwhile (logged out) links nothing.
    let other_session = p.rp.login("owner@test.example", PASSWORD).await.unwrap();
    let (authorize, binding) = start_link(&p, &other_session).await;
    let callback = at_idp(&p, &authorize, &idp_owner).await;
    let (status, _) =
        p.rp.call("DELETE", "/api/session", Some(&other_session), None)
            .await
            .unwrap();
    assert_eq!(status, 204);
    let (_, location, _) = back(&callback, Some(&binding)).await;
    assert_eq!(location, "/account?sso_error=expired");
    // Alice's person at A is linked to Alice: linking it to the owner as well is refused.
    let (authorize, binding) = start_link(&p, &rp_owner).await;
    let alice_again = p
        .idp
        .login("alice@test.example", "a long and private passphrase")
        .await
        .unwrap();
    let callback = at_idp(&p, &authorize, &alice_again).await;
    let (_, location, _) = back(&callback, Some(&binding)).await;
    assert_eq!(location, "/account?sso_error=link_taken");
    // Unlinking: the owner has a password, so it may; Alice signs in only through A, so not.
    let path = format!("/api/account/sso-links/{}", p.provider);
    let (status, _) =
        p.rp.call("DELETE", &path, Some(&p.rp_owner), None)
            .await
            .unwrap();
    assert_eq!(status, 204);
    let (status, _) =
        p.rp.call("DELETE", &path, Some(&p.rp_owner), None)
            .await
            .unwrap();
    assert_eq!(status, 404);
    let alice_at_b = sign_in(&p, &alice_at_a, None).await.2.unwrap();
    let (status, v) =
        p.rp.call("DELETE", &path, Some(&alice_at_b), None)
            .await
            .unwrap();
    assert_eq!(status, 403, "{v}");
    assert_eq!(users(&p.rp, &p.rp_owner).await.len(), before + 2);

    // The audit log says who came in how.
    let (_, audit) =
        p.rp.get_json("/api/admin/audit?limit=1000", Some(&p.rp_owner))
            .await
            .unwrap();
    let records = audit["records"].as_array().unwrap();
    let has = |action: &str, actor: &str| {
        records
            .iter()
            .any(|r| r["action"] == action && r["actor"].as_str().unwrap_or("").contains(actor))
    };
    assert!(has("user.created", "sso:NEXUS A"), "{audit}");
    assert!(has("user.sso_linked", "sso:NEXUS A"), "{audit}");
    assert!(has("sso_provider.created", "owner@test.example"), "{audit}");
    assert!(
        !records
            .iter()
            .any(|r| r.to_string().contains(&p.client_secret)),
        "the client secret reached the audit log"
    );

    // A disabled account stays shut, whoever vouches for it.
    let (status, _) =
        p.rp.call(
            "PATCH",
            &format!("/api/admin/users/{alice_id}"),
            Some(&p.rp_owner),
            Some(&json!({ "disabled": true })),
        )
        .await
        .unwrap();
    assert_eq!(status, 200);
    let (status, location, session) = sign_in(&p, &alice_at_a, None).await;
    assert_eq!(
        (status, location.as_str()),
        (303, "/login?sso_error=disabled")
    );
    assert!(session.is_none());

    p.idp.stop().await.unwrap();
    p.rp.stop().await.unwrap();
}

#[tokio::test]
async fn signs_in_through_another_nexus_sqlite() {
    signs_in_through_another_nexus(Backend::Sqlite).await;
}

#[tokio::test]
async fn signs_in_through_another_nexus_postgres() {
    signs_in_through_another_nexus(Backend::Postgres).await;
}

#[tokio::test]
async fn forged_replayed_and_refused_returns_open_nothing() {
    let p = pair(Backend::Sqlite, json!({})).await.unwrap();
    let alice_at_a = person_at_idp(&p, "alice@test.example", "Alice").await;

    // The way back without the cookie of the browser that started: someone else's link.
    let (authorize, binding) = start(&p, None).await;
    let callback = at_idp(&p, &authorize, &alice_at_a).await;
    let (_, location, session) = back(&callback, None).await;
    assert_eq!(location, "/login?sso_error=expired");
    assert!(session.is_none());
    // Another sign-in's cookie does not fit either.
    let (_, other_binding) = start(&p, None).await;
    let (_, location, session) = back(&callback, Some(&other_binding)).await;
    assert_eq!(location, "/login?sso_error=expired");
    assert!(session.is_none());
    // The right pair works once; replayed, it is spent.
    let (_, location, session) = back(&callback, Some(&binding)).await;
    assert_eq!(location, "/");
    assert!(session.is_some());
    let (_, location, session) = back(&callback, Some(&binding)).await;
    assert_eq!(location, "/login?sso_error=expired");
    assert!(session.is_none());

    // The answer to one provider's request brought to another provider's address (the
    // mix-up attack, where a provider has another's code sent to itself): refused, and the
    // request is spent.
    let (status, other) =
        p.rp.call(
            "POST",
            "/api/admin/sso-providers",
            Some(&p.rp_owner),
            Some(&json!({
                "name": "Other",
                "issuer": p.idp.base,
                "client_id": p.client_id,
                "client_secret": p.client_secret,
            })),
        )
        .await
        .unwrap();
    assert_eq!(status, 201, "{other}");
    let (authorize, binding) = start(&p, None).await;
    let callback = at_idp(&p, &authorize, &alice_at_a).await;
    let elsewhere = callback.replace(
        &format!("/api/sso/{}/callback", p.provider),
        &format!("/api/sso/{}/callback", other["id"].as_str().unwrap()),
    );
    assert_ne!(elsewhere, callback);
    let (_, location, session) = back(&elsewhere, Some(&binding)).await;
    assert_eq!(location, "/login?sso_error=failed");
    assert!(session.is_none());
    let (_, location, _) = back(&callback, Some(&binding)).await;
    assert_eq!(location, "/login?sso_error=expired");

    // A code that is not the provider's.
    let (authorize, binding) = start(&p, Some("/drive")).await;
    let callback = at_idp(&p, &authorize, &alice_at_a).await;
    let forged = regex_replace_code(&callback, "forged-code");
    let (_, location, session) = back(&forged, Some(&binding)).await;
    assert_eq!(location, "/login?sso_error=failed&next=%2Fdrive");
    assert!(session.is_none());

    // The person declined at the provider.
    let (authorize, binding) = start(&p, None).await;
    let state = query_param(&authorize, "state");
    let declined = p.rp.url(&format!(
        "/api/sso/{}/callback?error=access_denied&state={}",
        p.provider,
        urlencode(&state)
    ));
    let (_, location, _) = back(&declined, Some(&binding)).await;
    assert_eq!(location, "/login?sso_error=denied");

    // No state at all, and a provider that does not exist.
    let (_, location, _) = back(
        &p.rp
            .url(&format!("/api/sso/{}/callback?code=x", p.provider)),
        None,
    )
    .await;
    assert_eq!(location, "/login?sso_error=expired");
    let r = browser()
        .get(p.rp.url(&format!("/api/sso/{}/start", uuid::Uuid::now_v7())))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(header(&r, "location"), "/login?sso_error=expired");
    let r = browser()
        .get(p.rp.url("/api/sso/not-an-id/start"))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_client_error());

    // A wrong client secret: the provider refuses the code exchange.
    let (status, v) =
        p.rp.call(
            "PATCH",
            &format!("/api/admin/sso-providers/{}", p.provider),
            Some(&p.rp_owner),
            Some(&json!({ "client_secret": "not the secret" })),
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{v}");
    let (_, location, session) = sign_in(&p, &alice_at_a, None).await;
    assert_eq!(location, "/login?sso_error=failed");
    assert!(session.is_none());

    p.idp.stop().await.unwrap();
    p.rp.stop().await.unwrap();
}

fn query_param(url: &str, name: &str) -> String {
    let parsed = url::Url::parse(url).unwrap();
    parsed
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .unwrap()
}

fn regex_replace_code(url: &str, code: &str) -> String {
    let mut parsed = url::Url::parse(url).unwrap();
    let pairs: Vec<(String, String)> = parsed
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == "code" {
                code.to_owned()
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    parsed.query_pairs_mut().clear().extend_pairs(pairs);
    parsed.to_string()
}

#[tokio::test]
async fn providers_that_may_not_create_accounts_and_second_factors() {
    let p = pair(Backend::Sqlite, json!({ "create_users": false }))
        .await
        .unwrap();
    // Nobody at B with this address, and the provider may not create accounts.
    let carol_at_a = person_at_idp(&p, "carol@test.example", "Carol").await;
    let (_, location, session) = sign_in(&p, &carol_at_a, None).await;
    assert_eq!(location, "/login?sso_error=no_account");
    assert!(session.is_none());

    // B's owner links A's owner (same address) from the account page, then adds a second
    // factor: a sign-in through A stops at it, and the code completes it.
    let (authorize, binding) = start_link(&p, &p.rp_owner).await;
    let callback = at_idp(&p, &authorize, &p.idp_owner).await;
    assert_eq!(
        back(&callback, Some(&binding)).await.1,
        "/account?sso=linked"
    );
    let (status, begun) =
        p.rp.call(
            "POST",
            "/api/account/mfa/totp",
            Some(&p.rp_owner),
            Some(&json!({})),
        )
        .await
        .unwrap();
    assert_eq!(status, 201);
    let secret = begun["secret"].as_str().unwrap().to_owned();
    let (status, confirmed) =
        p.rp.call(
            "POST",
            "/api/account/mfa/totp/confirm",
            Some(&p.rp_owner),
            Some(&json!({ "code": crate::mfa::app_code(&secret, 0) })),
        )
        .await
        .unwrap();
    assert_eq!(status, 200);
    let (_, location, session) = sign_in(&p, &p.idp_owner, Some("/admin")).await;
    assert!(session.is_none(), "no session before the second factor");
    let (path, challenge) = location.split_once("#mfa=").unwrap();
    assert_eq!(path, "/login?next=%2Fadmin");
    let r =
        p.rp.post_json(
            "/api/session/mfa",
            None,
            &json!({ "challenge": challenge, "code": confirmed["recovery_codes"][0] }),
        )
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["user"]["email"], "owner@test.example");

    p.idp.stop().await.unwrap();
    p.rp.stop().await.unwrap();
}

#[tokio::test]
async fn only_owners_configure_providers_and_bad_settings_are_refused() {
    let p = pair(Backend::Sqlite, json!({})).await.unwrap();
    let path = format!("/api/admin/sso-providers/{}", p.provider);
    let (status, list) =
        p.rp.get_json("/api/admin/sso-providers", Some(&p.rp_owner))
            .await
            .unwrap();
    assert_eq!(status, 200);
    assert_eq!(list["providers"].as_array().unwrap().len(), 1);
    // With one more provider, the next one gets another id.
    assert_ne!(list["new_id"], json!(p.provider));
    let next = list["new_id"].as_str().unwrap();
    assert!(
        list["new_redirect_uri"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/api/sso/{next}/callback"))
    );
    assert!(!list.to_string().contains(&p.client_secret));

    let good = json!({
        "name": "Another",
        "issuer": p.idp.base,
        "client_id": p.client_id,
        "client_secret": p.client_secret,
    });
    let with = |k: &str, v: Value| {
        let mut b = good.clone();
        b[k] = v;
        b
    };
    for (body, status, code) in [
        (
            with("issuer", json!("http://127.0.0.1:9")),
            400,
            "sso.provider_unreachable",
        ),
        (
            with("issuer", json!("http://login.example.com")),
            400,
            "validation.failed",
        ),
        (with("issuer", json!("not a url")), 400, "validation.failed"),
        (with("name", json!("")), 400, "validation.failed"),
        (with("client_secret", json!("")), 400, "validation.failed"),
        (with("name", json!("NEXUS A")), 409, "validation.failed"),
        (with("extra", json!(1)), 400, "request.bad_json"),
    ] {
        let (got, v) =
            p.rp.call(
                "POST",
                "/api/admin/sso-providers",
                Some(&p.rp_owner),
                Some(&body),
            )
            .await
            .unwrap();
        assert_eq!(
            (got, v["error"]["code"].as_str().unwrap()),
            (status, code),
            "{body}: {v}"
        );
    }
    // The secret goes only where it was given: a new issuer or client id needs it again.
    let (status, v) =
        p.rp.call(
            "PATCH",
            &path,
            Some(&p.rp_owner),
            Some(&json!({ "client_id": "other" })),
        )
        .await
        .unwrap();
    assert_eq!(status, 400, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("client_secret")
    );
    // A trailing slash is the same issuer; the one the provider states is kept.
    let (status, v) =
        p.rp.call(
            "PATCH",
            &path,
            Some(&p.rp_owner),
            Some(&json!({ "issuer": format!("{}/", p.idp.base), "name": "Sign in with A" })),
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["issuer"], json!(p.idp.base));
    assert_eq!(v["name"], "Sign in with A");

    // An administrator who is not an owner may look, not change.
    let (status, created) =
        p.rp.call(
            "POST",
            "/api/admin/users",
            Some(&p.rp_owner),
            Some(&json!({ "email": "admin@test.example", "role": "admin" })),
        )
        .await
        .unwrap();
    assert_eq!(status, 201);
    let admin =
        p.rp.first_login(
            "admin@test.example",
            created["one_time_password"].as_str().unwrap(),
            "a long and private passphrase",
        )
        .await
        .unwrap();
    let (status, _) = p.rp.get_json(&path, Some(&admin)).await.unwrap();
    assert_eq!(status, 200);
    for (method, body) in [("PATCH", Some(json!({ "name": "mine" }))), ("DELETE", None)] {
        let (status, v) =
            p.rp.call(method, &path, Some(&admin), body.as_ref())
                .await
                .unwrap();
        assert_eq!(status, 403, "{method}: {v}");
    }
    let (status, _) =
        p.rp.call(
            "POST",
            "/api/admin/sso-providers",
            Some(&admin),
            Some(&good),
        )
        .await
        .unwrap();
    assert_eq!(status, 403);
    let (status, _) =
        p.rp.call("GET", "/api/admin/sso-providers", None, None)
            .await
            .unwrap();
    assert_eq!(status, 401);

    // Removed: the button goes, starting fails cleanly, linked accounts stay.
    let alice_at_a = person_at_idp(&p, "alice@test.example", "Alice").await;
    let (_, _, session) = sign_in(&p, &alice_at_a, None).await;
    assert!(session.is_some());
    let (status, _) =
        p.rp.call("DELETE", &path, Some(&p.rp_owner), None)
            .await
            .unwrap();
    assert_eq!(status, 204);
    let (_, list) = p.rp.get_json("/api/sso/providers", None).await.unwrap();
    assert_eq!(list["providers"], json!([]));
    let r = browser()
        .get(p.rp.url(&format!("/api/sso/{}/start", p.provider)))
        .send()
        .await
        .unwrap();
    assert_eq!(header(&r, "location"), "/login?sso_error=expired");
    assert!(
        users(&p.rp, &p.rp_owner)
            .await
            .iter()
            .any(|u| u["email"] == "alice@test.example")
    );
    let (status, _) =
        p.rp.call("DELETE", &path, Some(&p.rp_owner), None)
            .await
            .unwrap();
    assert_eq!(status, 404);

    p.idp.stop().await.unwrap();
    p.rp.stop().await.unwrap();
}
