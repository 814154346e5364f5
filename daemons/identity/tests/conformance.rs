//! Identity's storage and service, run against SQLite and PostgreSQL alike.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use nexus_identity::keys::KeySet;
use nexus_identity::model::{NewUser, Role};
use nexus_identity::service::{IdentityService, SessionPolicy, hash_password};
use nexus_identity::store::{self, EndSessions, IdentityStore};
use nexus_identity::throttle::Throttle;
use nexus_identity::tokens::{TokenAuthority, TokenError};
use nexus_identity::{IdentityError, MIGRATIONS};
use nexus_store::audit::Actor;
use nexus_store::{Db, EventBus, OrgId, Outbox};

nexus_store::each_backend!(
    tenants_are_isolated,
    duplicates_conflict,
    changes_emit_events,
    sessions_live_and_die,
    provision_then_login,
    wrong_passwords_are_throttled,
    password_change_rules,
    operator_commands,
    api_tokens_and_clients,
    second_factor_totp_and_recovery_codes,
    password_reset_links,
    setup_and_reset_links_stay_apart,
    oidc_codes_and_refresh_tokens,
    directory_groups_roles_and_branding,
    sign_in_providers_and_links,
    directory_syncs_emit_events,
);

fn op() -> Actor {
    Actor::new("operator:test", "local")
}

struct Fixture {
    store: Arc<dyn IdentityStore>,
    outbox: Outbox,
    service: IdentityService,
    _keys: tempfile::TempDir,
}

async fn fixture(db: &Db) -> Fixture {
    nexus_store::migrate::run(db, &[&nexus_store::MIGRATIONS, &MIGRATIONS])
        .await
        .expect("migrate");
    let outbox = Outbox::new(db.clone(), EventBus::new(64));
    let store = store::open(db, outbox.clone());
    let keys = tempfile::tempdir().unwrap();
    let tokens = TokenAuthority::new(KeySet::open(keys.path()).unwrap(), "https://nexus.test");
    let service = IdentityService::new(
        store.clone(),
        Throttle::new(Duration::from_secs(60), 3, 50),
        SessionPolicy {
            lifetime: chrono::TimeDelta::hours(1),
        },
        b"0123456789abcdef0123456789abcdef".to_vec(),
        tokens,
    );
    Fixture {
        store,
        outbox,
        service,
        _keys: keys,
    }
}

fn new_user(email: &str) -> NewUser {
    NewUser {
        email: email.to_owned(),
        display_name: email.split('@').next().unwrap().to_owned(),
        role: Role::Member,
        password_hash:
            "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$2oMhP1bDNxXxTzqgsbCfPK7ApMbqfc8RONnrLFz5pbE"
                .to_owned(),
        must_change_password: false,
    }
}

async fn tenants_are_isolated(db: &Db) {
    let f = fixture(db).await;
    let a = f.store.create_org("alpha", "Alpha", &op()).await.unwrap();
    let b = f.store.create_org("beta", "Beta", &op()).await.unwrap();
    let alice = f
        .store
        .create_user(a.id, &new_user("alice@example.com"), &op())
        .await
        .unwrap();
    let bob = f
        .store
        .create_user(b.id, &new_user("bob@example.com"), &op())
        .await
        .unwrap();
    // Same e-mail in two tenants is two different people.
    f.store
        .create_user(b.id, &new_user("alice@example.com"), &op())
        .await
        .unwrap();

    assert!(f.store.user(a.id, alice.id).await.unwrap().is_some());
    assert!(
        f.store.user(b.id, alice.id).await.unwrap().is_none(),
        "B cannot read A's user by id"
    );
    assert!(
        f.store.user(a.id, bob.id).await.unwrap().is_none(),
        "A cannot read B's user by id"
    );
    let in_a: Vec<_> = f
        .store
        .list_users(a.id)
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.email)
        .collect();
    assert_eq!(in_a, vec!["alice@example.com"]);
    assert_eq!(f.store.list_users(b.id).await.unwrap().len(), 2);
    assert!(
        f.store
            .user_by_email(a.id, "bob@example.com")
            .await
            .unwrap()
            .is_none()
    );
    // Writes scoped to the wrong tenant touch nothing.
    match f
        .store
        .set_password(b.id, alice.id, "x", false, EndSessions::None, &op())
        .await
    {
        Err(IdentityError::NotFound(_)) => {}
        other => panic!("expected NotFound, got {other:?}"),
    }
    assert_eq!(
        f.store
            .user(a.id, alice.id)
            .await
            .unwrap()
            .unwrap()
            .password_hash,
        alice.password_hash
    );
    // An unknown tenant sees nothing at all.
    assert!(
        f.store
            .list_users(OrgId::generate())
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        f.store.find_login("alice@example.com").await.unwrap().len(),
        2
    );
}

async fn duplicates_conflict(db: &Db) {
    let f = fixture(db).await;
    let a = f.store.create_org("alpha", "Alpha", &op()).await.unwrap();
    assert!(matches!(
        f.store.create_org("alpha", "Again", &op()).await,
        Err(IdentityError::Conflict(_))
    ));
    f.store
        .create_user(a.id, &new_user("x@example.com"), &op())
        .await
        .unwrap();
    assert!(matches!(
        f.store
            .create_user(a.id, &new_user("x@example.com"), &op())
            .await,
        Err(IdentityError::Conflict(_))
    ));
    assert_eq!(
        f.store.count_orgs().await.unwrap(),
        1,
        "the failed insert left nothing"
    );
}

async fn changes_emit_events(db: &Db) {
    let f = fixture(db).await;
    let mut rx = f.outbox.bus().subscribe();
    let org = f.store.create_org("alpha", "Alpha", &op()).await.unwrap();
    let u = f
        .store
        .create_user(org.id, &new_user("e@example.com"), &op())
        .await
        .unwrap();
    f.store
        .set_password(org.id, u.id, "h", true, EndSessions::None, &op())
        .await
        .unwrap();
    assert_eq!(f.outbox.dispatch_pending().await.unwrap(), 3);
    let kinds: Vec<String> = (0..3).map(|_| rx.try_recv().unwrap().kind).collect();
    assert_eq!(
        kinds,
        [
            "identity.org.created",
            "identity.user.created",
            "identity.password.changed"
        ]
    );
    // A conflicting insert rolls back and emits nothing.
    let _ = f
        .store
        .create_user(org.id, &new_user("e@example.com"), &op())
        .await;
    assert_eq!(f.outbox.dispatch_pending().await.unwrap(), 0);
}

async fn sessions_live_and_die(db: &Db) {
    let f = fixture(db).await;
    let p = f
        .service
        .provision("Acme", "owner@acme.test", &op())
        .await
        .unwrap();
    // A one-time password, as `nexusctl users reset-password` gives.
    let otp = f
        .service
        .reset_password(p.org.id, &p.admin.email, &op())
        .await
        .unwrap();
    let login = f
        .service
        .login("owner@acme.test", &otp, "127.0.0.1")
        .await
        .unwrap()
        .session()
        .unwrap();
    let (session, user, org) = f
        .service
        .authenticate(&login.token)
        .await
        .unwrap()
        .expect("valid");
    assert_eq!((user.id, org.id), (p.admin.id, p.org.id));
    assert_ne!(
        session.token_hash, login.token,
        "the token itself is not stored"
    );
    assert!(
        f.service
            .authenticate("not-a-token")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        f.service
            .authenticate(&"x".repeat(500))
            .await
            .unwrap()
            .is_none()
    );
    f.service.logout(&session, &op()).await.unwrap();
    assert!(
        f.service
            .authenticate(&login.token)
            .await
            .unwrap()
            .is_none(),
        "logged out"
    );
    // Expired sessions are refused and swept.
    let past = nexus_identity::model::Session {
        token_hash: "expired".into(),
        org: org.id,
        user: user.id,
        created_at: chrono::Utc::now() - chrono::TimeDelta::hours(3),
        expires_at: chrono::Utc::now() - chrono::TimeDelta::hours(1),
        client: String::new(),
    };
    f.store
        .create_session(&past, "password", &op())
        .await
        .unwrap();
    assert_eq!(f.service.sweep_sessions().await.unwrap(), 1);
}

async fn provision_then_login(db: &Db) {
    let f = fixture(db).await;
    let p = f
        .service
        .provision("Acme Corp", " Owner@Acme.Test ", &op())
        .await
        .unwrap();
    // A one-time password, as `nexusctl users reset-password` gives.
    let otp = f
        .service
        .reset_password(p.org.id, &p.admin.email, &op())
        .await
        .unwrap();
    assert_eq!(p.org.slug, "acme-corp");
    assert_eq!(p.admin.email, "owner@acme.test");
    assert_eq!(p.admin.role, Role::Owner);
    assert!(p.admin.must_change_password);
    assert!(matches!(
        f.service.provision("Again", "x@y.z", &op()).await,
        Err(IdentityError::AlreadyProvisioned)
    ));
    let login = f
        .service
        .login("OWNER@acme.test", &otp, "10.0.0.1")
        .await
        .unwrap()
        .session()
        .unwrap();
    assert!(login.user.must_change_password);
    assert!(matches!(
        f.service
            .login("owner@acme.test", "wrong password", "10.0.0.1")
            .await,
        Err(IdentityError::InvalidCredentials)
    ));
    assert!(matches!(
        f.service
            .login("nobody@acme.test", "whatever", "10.0.0.1")
            .await,
        Err(IdentityError::InvalidCredentials)
    ));
    assert!(matches!(
        f.service
            .login("not an email", "whatever", "10.0.0.1")
            .await,
        Err(IdentityError::InvalidCredentials)
    ));
    // An operator reset gives a new one-time password and ends every session.
    let otp = f
        .service
        .reset_password(p.org.id, "owner@acme.test", &op())
        .await
        .unwrap();
    assert!(
        f.service
            .authenticate(&login.token)
            .await
            .unwrap()
            .is_none()
    );
    f.service
        .login("owner@acme.test", &otp, "10.0.0.1")
        .await
        .unwrap()
        .session()
        .unwrap();
}

async fn wrong_passwords_are_throttled(db: &Db) {
    let f = fixture(db).await;
    let p = f
        .service
        .provision("Acme", "owner@acme.test", &op())
        .await
        .unwrap();
    // A one-time password, as `nexusctl users reset-password` gives.
    let otp = f
        .service
        .reset_password(p.org.id, &p.admin.email, &op())
        .await
        .unwrap();
    for _ in 0..3 {
        let r = f
            .service
            .login("owner@acme.test", "guess", "192.0.2.1")
            .await;
        assert!(matches!(r, Err(IdentityError::InvalidCredentials)), "{r:?}");
    }
    // Locked now, even with the right password and from another address.
    match f.service.login("owner@acme.test", &otp, "192.0.2.99").await {
        Err(IdentityError::Throttled { retry_after_secs }) => assert!(retry_after_secs >= 1),
        other => panic!("expected Throttled, got {other:?}"),
    }
}

async fn password_change_rules(db: &Db) {
    let f = fixture(db).await;
    let p = f
        .service
        .provision("Acme", "owner@acme.test", &op())
        .await
        .unwrap();
    // A one-time password, as `nexusctl users reset-password` gives.
    let otp = f
        .service
        .reset_password(p.org.id, &p.admin.email, &op())
        .await
        .unwrap();
    let first = f
        .service
        .login("owner@acme.test", &otp, "a")
        .await
        .unwrap()
        .session()
        .unwrap();
    let second = f
        .service
        .login("owner@acme.test", &otp, "b")
        .await
        .unwrap()
        .session()
        .unwrap();
    let (session, user, _) = f.service.authenticate(&first.token).await.unwrap().unwrap();
    let otp = &otp;
    assert!(matches!(
        f.service
            .change_password(&session, &user, "wrong", "a much better passphrase", &op())
            .await,
        Err(IdentityError::InvalidCredentials)
    ));
    assert!(matches!(
        f.service
            .change_password(&session, &user, otp, "short", &op())
            .await,
        Err(IdentityError::WeakPassword(_))
    ));
    f.service
        .change_password(&session, &user, otp, "a much better passphrase", &op())
        .await
        .unwrap();
    let (_, user, _) = f
        .service
        .authenticate(&first.token)
        .await
        .unwrap()
        .expect("this session stays");
    assert!(!user.must_change_password);
    assert!(
        f.service
            .authenticate(&second.token)
            .await
            .unwrap()
            .is_none(),
        "other sessions end"
    );
    assert!(
        f.service.login("owner@acme.test", otp, "a").await.is_err(),
        "old password is gone"
    );
    f.service
        .login("owner@acme.test", "a much better passphrase", "a")
        .await
        .unwrap()
        .session()
        .unwrap();
    // The hash is argon2id.
    assert!(hash_password("x").await.unwrap().starts_with("$argon2id$"));
}

async fn operator_commands(db: &Db) {
    let f = fixture(db).await;
    assert!(matches!(
        f.service.resolve_org(None).await,
        Err(IdentityError::NotFound(_))
    ));
    let p = f
        .service
        .provision("Acme", "owner@acme.test", &op())
        .await
        .unwrap();
    assert_eq!(
        f.service.resolve_org(None).await.unwrap().id,
        p.org.id,
        "the only org is implied"
    );
    let beta = f
        .service
        .create_org("Beta Ltd", Some("beta"), &op())
        .await
        .unwrap();
    assert!(
        matches!(
            f.service.resolve_org(None).await,
            Err(IdentityError::Invalid(_))
        ),
        "ambiguous now"
    );
    assert_eq!(
        f.service.resolve_org(Some("beta")).await.unwrap().id,
        beta.id
    );
    assert!(matches!(
        f.service.resolve_org(Some("gamma")).await,
        Err(IdentityError::NotFound(_))
    ));
    assert!(matches!(
        f.service.create_org("X", Some("Bad Slug"), &op()).await,
        Err(IdentityError::Invalid(_))
    ));
    assert!(matches!(
        f.service.create_org("Again", Some("beta"), &op()).await,
        Err(IdentityError::Conflict(_))
    ));
    assert_eq!(
        f.service
            .create_org("Gamma & Co", None, &op())
            .await
            .unwrap()
            .slug,
        "gamma-co"
    );

    let (user, otp) = f
        .service
        .add_user(beta.id, " Ann@Beta.test ", None, Role::Admin, &op())
        .await
        .unwrap();
    assert_eq!(
        (user.email.as_str(), user.display_name.as_str(), user.role),
        ("ann@beta.test", "ann", Role::Admin)
    );
    assert!(user.must_change_password);
    assert!(matches!(
        f.service
            .add_user(beta.id, "ann@beta.test", None, Role::Member, &op())
            .await,
        Err(IdentityError::Conflict(_))
    ));
    let login = f
        .service
        .login("ann@beta.test", &otp, "x")
        .await
        .unwrap()
        .session()
        .unwrap();

    let disabled = f
        .service
        .set_user_disabled(beta.id, "ann@beta.test", true, &op())
        .await
        .unwrap();
    assert!(disabled.disabled);
    assert!(
        f.service
            .authenticate(&login.token)
            .await
            .unwrap()
            .is_none(),
        "sessions end"
    );
    assert!(matches!(
        f.service.login("ann@beta.test", &otp, "x").await,
        Err(IdentityError::Disabled)
    ));
    assert!(
        matches!(
            f.service
                .set_user_disabled(p.org.id, "ann@beta.test", true, &op())
                .await,
            Err(IdentityError::NotFound(_))
        ),
        "another tenant's user cannot be touched"
    );
    f.service
        .set_user_disabled(beta.id, "ann@beta.test", false, &op())
        .await
        .unwrap();
    f.service.login("ann@beta.test", &otp, "x").await.unwrap();
}

async fn api_tokens_and_clients(db: &Db) {
    let f = fixture(db).await;
    let p = f
        .service
        .provision("Acme", "owner@acme.test", &op())
        .await
        .unwrap();
    let owner = p.admin;
    let (member, _) = f
        .service
        .add_user(p.org.id, "mem@acme.test", None, Role::Member, &op())
        .await
        .unwrap();
    f.service.refresh_revocations().await.unwrap();
    let scopes = |s: &[&str]| s.iter().map(|s| s.to_string()).collect::<Vec<_>>();

    let (record, token) = f
        .service
        .create_api_token(
            &owner,
            "backup script",
            &scopes(&["profile", "audit:read"]),
            Some(30),
            &op(),
        )
        .await
        .unwrap();
    let principal = f.service.verify_bearer(&token).unwrap();
    assert_eq!(principal.org, p.org.id);
    assert_eq!(
        principal.subject,
        nexus_identity::tokens::Subject::User(owner.id)
    );
    assert!(principal.scopes.contains("audit:read"));
    assert_eq!((record.expires_at - record.created_at).num_days(), 30);

    // Members cannot mint admin scopes; bad input is refused with the reason.
    assert!(matches!(
        f.service
            .create_api_token(&member, "x", &scopes(&["audit:read"]), None, &op())
            .await,
        Err(IdentityError::Forbidden(_))
    ));
    for (name, sc, days) in [
        ("x", scopes(&["drive:everything"]), None),
        ("", scopes(&["profile"]), None),
        ("x", scopes(&[]), None),
        ("x", scopes(&["profile"]), Some(0)),
        ("x", scopes(&["profile"]), Some(10_000)),
    ] {
        assert!(matches!(
            f.service
                .create_api_token(&member, name, &sc, days, &op())
                .await,
            Err(IdentityError::Invalid(_))
        ));
    }
    let (_, member_token) = f
        .service
        .create_api_token(&member, "cli", &scopes(&["profile"]), None, &op())
        .await
        .unwrap();

    // Each user sees and revokes only their own tokens.
    assert_eq!(f.service.list_api_tokens(&owner).await.unwrap().len(), 1);
    assert_eq!(f.service.list_api_tokens(&member).await.unwrap().len(), 1);
    assert!(matches!(
        f.service.revoke_api_token(&member, record.id, &op()).await,
        Err(IdentityError::NotFound(_))
    ));
    f.service
        .revoke_api_token(&owner, record.id, &op())
        .await
        .unwrap();
    assert_eq!(
        f.service.verify_bearer(&token).unwrap_err(),
        TokenError::Revoked
    );

    // Another daemon on the same database and keys learns of it from the database,
    // including the tokens of a user who was disabled.
    f.service
        .set_user_disabled(p.org.id, "mem@acme.test", true, &op())
        .await
        .unwrap();
    let other = TokenAuthority::new(KeySet::open(f._keys.path()).unwrap(), "https://nexus.test");
    assert!(other.verify(&member_token).is_ok(), "not loaded yet");
    other.set_revoked(
        f.store
            .revoked_api_tokens(chrono::Utc::now())
            .await
            .unwrap(),
        f.store.disabled_clients().await.unwrap(),
    );
    assert_eq!(other.verify(&token).unwrap_err(), TokenError::Revoked);
    assert_eq!(
        other.verify(&member_token).unwrap_err(),
        TokenError::Revoked
    );

    // Client credentials.
    let (client, secret) = f
        .service
        .create_client(
            p.org.id,
            nexus_identity::authz::Permissions::of(nexus_identity::authz::Permission::ALL),
            "billing sync",
            &scopes(&["profile"]),
            &[],
            &op(),
        )
        .await
        .unwrap();
    let (ct, expires_in, granted) = f
        .service
        .client_credentials(&client.id, &secret, None, "192.0.2.5")
        .await
        .unwrap();
    assert_eq!(
        (expires_in, granted.to_string_list().as_str()),
        (3600, "profile")
    );
    let cp = f.service.verify_bearer(&ct).unwrap();
    assert_eq!(
        cp.subject,
        nexus_identity::tokens::Subject::Client(client.id.clone())
    );
    assert!(matches!(
        f.service
            .client_credentials(&client.id, "wrong", None, "192.0.2.5")
            .await,
        Err(IdentityError::InvalidCredentials)
    ));
    assert!(matches!(
        f.service
            .client_credentials("nxc_nobody", &secret, None, "192.0.2.5")
            .await,
        Err(IdentityError::InvalidCredentials)
    ));
    assert!(matches!(
        f.service
            .client_credentials(&client.id, &secret, Some("audit:read"), "192.0.2.5")
            .await,
        Err(IdentityError::Invalid(_))
    ));
    assert!(
        matches!(
            f.service
                .disable_client(OrgId::generate(), &client.id, &op())
                .await,
            Err(IdentityError::NotFound(_))
        ),
        "another tenant cannot disable it"
    );
    f.service
        .disable_client(p.org.id, &client.id, &op())
        .await
        .unwrap();
    assert_eq!(
        f.service.verify_bearer(&ct).unwrap_err(),
        TokenError::Revoked
    );
    assert!(matches!(
        f.service
            .client_credentials(&client.id, &secret, None, "192.0.2.5")
            .await,
        Err(IdentityError::InvalidCredentials)
    ));

    let actions: Vec<String> = f
        .service
        .audit_log(p.org.id, 0, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.action)
        .collect();
    for a in [
        "token.created",
        "token.revoked",
        "client.created",
        "client.disabled",
    ] {
        assert!(actions.iter().any(|x| x == a), "{a} in {actions:?}");
    }
}

/// The code an authenticator app shows `offset` seconds from now.
fn app_code(secret_base32: &str, offset: i64) -> String {
    let secret = totp_rs::Secret::try_from_base32(secret_base32).unwrap();
    let totp = totp_rs::Builder::new().with_secret(secret).build().unwrap();
    let t = chrono::Utc::now().timestamp() + offset;
    totp.generate(u64::try_from(t).unwrap()).to_string()
}

async fn second_factor_totp_and_recovery_codes(db: &Db) {
    use nexus_identity::service::LoginOutcome;
    let f = fixture(db).await;
    let org = f
        .store
        .create_org("acme", "Acme: Research", &op())
        .await
        .unwrap();
    let password = "correct horse battery staple";
    let mut nu = new_user("ann@acme.test");
    nu.password_hash = hash_password(password).await.unwrap();
    let ann = f.store.create_user(org.id, &nu, &op()).await.unwrap();
    let me = Actor::new("ann@acme.test", "127.0.0.1");
    assert!(!f.service.mfa_status(&ann).await.unwrap().totp);

    // Enrolment: a secret, then the first code confirms it and yields recovery codes.
    let e = f.service.begin_totp(&ann, &org, &me).await.unwrap();
    assert!(
        e.otpauth_url.starts_with("otpauth://totp/"),
        "{}",
        e.otpauth_url
    );
    assert!(e.otpauth_url.contains("ann%40acme.test") || e.otpauth_url.contains("ann@acme.test"));
    // Until confirmed, the password alone still logs in.
    assert!(matches!(
        f.service
            .login("ann@acme.test", password, "c")
            .await
            .unwrap(),
        LoginOutcome::Session(_)
    ));
    assert!(matches!(
        f.service.confirm_totp(&ann, "000000x", &me).await,
        Err(IdentityError::InvalidCode)
    ));
    // One code, kept: asking the clock again later may land in the next 30 s step.
    let first = app_code(&e.secret_base32, 0);
    let codes = f.service.confirm_totp(&ann, &first, &me).await.unwrap();
    assert_eq!(codes.len(), 10);
    let status = f.service.mfa_status(&ann).await.unwrap();
    assert!(status.totp);
    assert_eq!(status.recovery_codes_left, 10);
    assert!(
        matches!(
            f.service.begin_totp(&ann, &org, &me).await,
            Err(IdentityError::Conflict(_))
        ),
        "a confirmed authenticator is not silently replaced"
    );

    // The password now yields a challenge, not a session.
    let LoginOutcome::SecondFactor(ch) = f
        .service
        .login("ann@acme.test", password, "c")
        .await
        .unwrap()
    else {
        panic!("expected a second-factor challenge");
    };
    assert_eq!(ch.methods, vec!["totp", "recovery_code"]);
    // The code that confirmed enrolment was used; the next step's code works once.
    assert!(matches!(
        f.service.complete_login(&ch.token, &first, "c").await,
        Err(IdentityError::InvalidCode)
    ));
    let next = app_code(&e.secret_base32, 30);
    let login = f
        .service
        .complete_login(&ch.token, &next, "c")
        .await
        .unwrap();
    assert_eq!(login.user.id, ann.id);
    assert!(
        f.service
            .authenticate(&login.token)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        matches!(
            f.service.complete_login(&ch.token, &next, "c").await,
            Err(IdentityError::InvalidCode)
        ),
        "a TOTP code is accepted once"
    );

    // A recovery code works once, in any spelling.
    let spelled = format!(" {} ", codes[0].to_uppercase().replace('-', " "));
    f.service
        .complete_login(&ch.token, &spelled, "c")
        .await
        .unwrap();
    assert!(matches!(
        f.service.complete_login(&ch.token, &codes[0], "c").await,
        Err(IdentityError::InvalidCode)
    ));
    assert_eq!(
        f.service
            .mfa_status(&ann)
            .await
            .unwrap()
            .recovery_codes_left,
        9
    );

    // Forged, truncated or foreign challenges are refused.
    let (payload, mac) = ch.token.split_once('.').unwrap();
    let mut forged = mac.to_owned();
    forged.replace_range(0..1, if mac.starts_with('A') { "B" } else { "A" });
    for bad in [
        String::new(),
        "garbage".to_owned(),
        payload.to_owned(),
        format!("{payload}.{forged}"),
        format!("{payload}x.{mac}"),
    ] {
        assert!(
            matches!(
                f.service.complete_login(&bad, &codes[1], "c").await,
                Err(IdentityError::ChallengeInvalid)
            ),
            "{bad:?}"
        );
    }

    // New recovery codes need the password and replace the old ones.
    assert!(matches!(
        f.service.replace_recovery_codes(&ann, "wrong", &me).await,
        Err(IdentityError::InvalidCredentials)
    ));
    let fresh = f
        .service
        .replace_recovery_codes(&ann, password, &me)
        .await
        .unwrap();
    assert!(matches!(
        f.service.complete_login(&ch.token, &codes[1], "c").await,
        Err(IdentityError::InvalidCode)
    ));

    // Wrong codes count toward the account lockout (3 in this fixture).
    let _ = f.service.complete_login(&ch.token, "999999", "c").await;
    assert!(matches!(
        f.service.complete_login(&ch.token, &fresh[0], "c").await,
        Err(IdentityError::Throttled { .. })
    ));
    assert!(matches!(
        f.service.login("ann@acme.test", password, "c").await,
        Err(IdentityError::Throttled { .. })
    ));

    // A password change voids outstanding challenges.
    let ann = f.store.user(org.id, ann.id).await.unwrap().unwrap();
    let newer = hash_password("another long passphrase").await.unwrap();
    f.store
        .set_password(org.id, ann.id, &newer, false, EndSessions::None, &op())
        .await
        .unwrap();
    let fresh_service = fixture_service(&f);
    assert!(matches!(
        fresh_service
            .complete_login(&ch.token, &fresh[0], "c")
            .await,
        Err(IdentityError::ChallengeInvalid)
    ));

    // Removal needs the password; an operator can reset a lost authenticator.
    let ann = f.store.user(org.id, ann.id).await.unwrap().unwrap();
    assert!(matches!(
        fresh_service.remove_totp(&ann, password, &me).await,
        Err(IdentityError::InvalidCredentials)
    ));
    fresh_service
        .remove_totp(&ann, "another long passphrase", &me)
        .await
        .unwrap();
    assert!(matches!(
        fresh_service
            .login("ann@acme.test", "another long passphrase", "c")
            .await
            .unwrap(),
        LoginOutcome::Session(_)
    ));
    assert!(
        !fresh_service
            .reset_mfa(org.id, "ann@acme.test", &op())
            .await
            .unwrap()
    );

    let actions: Vec<String> = f
        .service
        .audit_log(org.id, 0, 1000)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.action)
        .collect();
    for want in [
        "mfa.totp.enrolment_started",
        "mfa.totp.enabled",
        "mfa.recovery_code.used",
        "mfa.recovery_codes.replaced",
        "mfa.totp.removed",
    ] {
        assert!(
            actions.iter().any(|a| a == want),
            "{want} missing from {actions:?}"
        );
    }
    let methods: Vec<String> = f
        .service
        .audit_log(org.id, 0, 1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.action == "session.login")
        .filter_map(|r| {
            let detail: serde_json::Value = serde_json::from_str(&r.detail).unwrap();
            detail["method"].as_str().map(str::to_owned)
        })
        .collect();
    assert!(methods.contains(&"password+totp".to_owned()), "{methods:?}");
    assert!(
        methods.contains(&"password+recovery_code".to_owned()),
        "{methods:?}"
    );
}

/// A second service on the same store with a fresh throttle (as after a restart).
fn fixture_service(f: &Fixture) -> IdentityService {
    let keys = tempfile::tempdir().unwrap();
    let tokens = TokenAuthority::new(KeySet::open(keys.path()).unwrap(), "https://nexus.test");
    IdentityService::new(
        f.store.clone(),
        Throttle::new(Duration::from_secs(60), 3, 50),
        SessionPolicy {
            lifetime: chrono::TimeDelta::hours(1),
        },
        b"0123456789abcdef0123456789abcdef".to_vec(),
        tokens,
    )
}

async fn setup_and_reset_links_stay_apart(db: &Db) {
    use nexus_identity::service::LoginOutcome;
    let f = fixture(db).await;
    let p = f
        .service
        .provision("Acme", "owner@acme.test", &op())
        .await
        .unwrap();
    // A reset requested by anybody does not cancel the setup link, and the reset token
    // is no setup token.
    let reset = f
        .service
        .issue_password_reset(&p.admin, &op())
        .await
        .unwrap();
    assert!(matches!(
        f.service
            .complete_setup(&reset, "the chosen first passphrase", "c")
            .await,
        Err(IdentityError::ResetLinkInvalid)
    ));
    let LoginOutcome::Session(login) = f
        .service
        .complete_setup(&p.setup_token, "the chosen first passphrase", "c")
        .await
        .unwrap()
    else {
        panic!("the setup link signs in");
    };
    assert!(!login.user.must_change_password);
    // Using one link spent the other.
    assert!(matches!(
        f.service
            .complete_password_reset(&reset, "somebody else's passphrase", "c")
            .await,
        Err(IdentityError::ResetLinkInvalid)
    ));

    // And the other way round: after a reset, an old setup link is dead.
    let setup = f.service.issue_setup_link(&p.admin, &op()).await.unwrap();
    let reset = f
        .service
        .issue_password_reset(&p.admin, &op())
        .await
        .unwrap();
    f.service
        .complete_password_reset(&reset, "a newer passphrase here", "c")
        .await
        .unwrap();
    assert!(matches!(
        f.service
            .complete_setup(&setup, "yet another passphrase", "c")
            .await,
        Err(IdentityError::ResetLinkInvalid)
    ));
    assert!(
        f.service
            .login("owner@acme.test", "a newer passphrase here", "c")
            .await
            .is_ok()
    );
}

async fn password_reset_links(db: &Db) {
    let f = fixture(db).await;
    let org = f.store.create_org("acme", "Acme", &op()).await.unwrap();
    let mut nu = new_user("ann@acme.test");
    nu.password_hash = hash_password("the old passphrase").await.unwrap();
    nu.must_change_password = true;
    let ann = f.store.create_user(org.id, &nu, &op()).await.unwrap();
    let session = f
        .service
        .login("ann@acme.test", "the old passphrase", "c")
        .await
        .unwrap()
        .session()
        .unwrap();

    // Without a relay, requests are refused with a clear error.
    assert!(matches!(
        f.service.request_password_reset("ann@acme.test", "c").await,
        Err(IdentityError::MailNotConfigured)
    ));

    // A newer link replaces the older one.
    let first = f.service.issue_password_reset(&ann, &op()).await.unwrap();
    let second = f.service.issue_password_reset(&ann, &op()).await.unwrap();
    assert!(matches!(
        f.service
            .complete_password_reset(&first, "a fine new passphrase", "c")
            .await,
        Err(IdentityError::ResetLinkInvalid)
    ));
    assert!(matches!(
        f.service.complete_password_reset(&second, "ann", "c").await,
        Err(IdentityError::WeakPassword(_))
    ));
    f.service
        .complete_password_reset(&second, "a fine new passphrase", "c")
        .await
        .unwrap();
    assert!(matches!(
        f.service
            .complete_password_reset(&second, "another fine passphrase", "c")
            .await,
        Err(IdentityError::ResetLinkInvalid)
    ));
    assert!(
        f.service
            .authenticate(&session.token)
            .await
            .unwrap()
            .is_none()
    );
    let user = f.store.user(org.id, ann.id).await.unwrap().unwrap();
    assert!(!user.must_change_password);
    f.service
        .login("ann@acme.test", "a fine new passphrase", "c")
        .await
        .unwrap()
        .session()
        .unwrap();

    // Expired links and disabled accounts do not work.
    f.store
        .create_password_reset(
            org.id,
            ann.id,
            "expired-hash",
            chrono::Utc::now(),
            nexus_identity::model::LinkPurpose::Reset,
            &op(),
        )
        .await
        .unwrap();
    assert!(
        f.store
            .password_reset("expired-hash", chrono::Utc::now())
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        !f.store
            .use_password_reset("expired-hash", chrono::Utc::now(), &op())
            .await
            .unwrap()
    );
    let third = f.service.issue_password_reset(&ann, &op()).await.unwrap();
    f.store
        .set_disabled(org.id, ann.id, true, &op())
        .await
        .unwrap();
    assert!(matches!(
        f.service
            .complete_password_reset(&third, "yet another passphrase", "c")
            .await,
        Err(IdentityError::Disabled)
    ));
    let actions: Vec<String> = f
        .service
        .audit_log(org.id, 0, 1000)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.action)
        .collect();
    assert!(
        actions.iter().any(|a| a == "password.reset_requested"),
        "{actions:?}"
    );
    assert!(
        actions.iter().any(|a| a == "password.reset_link_used"),
        "{actions:?}"
    );
}

async fn oidc_codes_and_refresh_tokens(db: &Db) {
    use nexus_identity::model::{AuthCode, RefreshToken};
    use nexus_identity::store::RefreshUse;
    let f = fixture(db).await;
    let org = f.store.create_org("acme", "Acme", &op()).await.unwrap();
    let ann = f
        .store
        .create_user(org.id, &new_user("ann@acme.test"), &op())
        .await
        .unwrap();
    let (client, _) = f
        .service
        .create_client(
            org.id,
            nexus_identity::authz::Permissions::of(nexus_identity::authz::Permission::ALL),
            "wiki",
            &["openid".to_owned()],
            &["https://wiki.example/cb".to_owned()],
            &op(),
        )
        .await
        .unwrap();
    assert_eq!(
        f.store
            .client(&client.id)
            .await
            .unwrap()
            .unwrap()
            .redirect_uris,
        "https://wiki.example/cb"
    );
    let now = chrono::Utc::now();
    let code = AuthCode {
        code_hash: "code-1".into(),
        client_id: client.id.clone(),
        org: org.id,
        user: ann.id,
        redirect_uri: "https://wiki.example/cb".into(),
        scope: "openid".into(),
        nonce: Some("n".into()),
        code_challenge: None,
        auth_time: now,
        expires_at: now + chrono::TimeDelta::seconds(60),
    };
    f.store.create_auth_code(&code, &op()).await.unwrap();
    let taken = f.store.take_auth_code("code-1").await.unwrap().unwrap();
    assert_eq!(taken.user, ann.id);
    assert_eq!(taken.nonce.as_deref(), Some("n"));
    assert!(
        f.store.take_auth_code("code-1").await.unwrap().is_none(),
        "once"
    );

    let family = uuid::Uuid::now_v7();
    let token = |hash: &str| RefreshToken {
        token_hash: hash.into(),
        family,
        client_id: client.id.clone(),
        org: org.id,
        user: ann.id,
        scope: "openid".into(),
        auth_time: now,
        created_at: now,
        expires_at: now + chrono::TimeDelta::days(1),
    };
    f.store.create_refresh_token(&token("rt-1")).await.unwrap();
    assert!(matches!(
        f.store.use_refresh_token("rt-1", now).await.unwrap(),
        RefreshUse::Valid(t) if t.family == family
    ));
    f.store.create_refresh_token(&token("rt-2")).await.unwrap();
    assert_eq!(
        f.store.use_refresh_token("rt-1", now).await.unwrap(),
        RefreshUse::Replayed
    );
    assert_eq!(
        f.store.use_refresh_token("rt-2", now).await.unwrap(),
        RefreshUse::Invalid,
        "the replay revoked the family"
    );
    assert_eq!(
        f.store.use_refresh_token("nope", now).await.unwrap(),
        RefreshUse::Invalid
    );
    // Disabling the user revokes their refresh tokens.
    let family2 = uuid::Uuid::now_v7();
    f.store
        .create_refresh_token(&RefreshToken {
            family: family2,
            ..token("rt-3")
        })
        .await
        .unwrap();
    f.store
        .set_disabled(org.id, ann.id, true, &op())
        .await
        .unwrap();
    assert_eq!(
        f.store.use_refresh_token("rt-3", now).await.unwrap(),
        RefreshUse::Invalid
    );
}

async fn directory_groups_roles_and_branding(db: &Db) {
    use nexus_identity::authz::{Permission, Permissions};
    use nexus_identity::model::{CustomRole, Grantee, Group, Logo};

    let f = fixture(db).await;
    let acme = f.store.create_org("acme", "Acme", &op()).await.unwrap();
    let beta = f.store.create_org("beta", "Beta", &op()).await.unwrap();
    let ann = f
        .store
        .create_user(acme.id, &new_user("ann@acme.test"), &op())
        .await
        .unwrap();
    let bob = f
        .store
        .create_user(beta.id, &new_user("bob@beta.test"), &op())
        .await
        .unwrap();
    let group = |org: OrgId, name: &str| Group {
        id: uuid::Uuid::now_v7(),
        org,
        name: name.to_owned(),
        description: String::new(),
        member_count: 0,
        created_at: chrono::Utc::now(),
        directory: None,
    };
    let role = |org: OrgId, name: &str, perms: Permissions| CustomRole {
        id: uuid::Uuid::now_v7(),
        org,
        name: name.to_owned(),
        description: "d".to_owned(),
        permissions: perms,
        created_at: chrono::Utc::now(),
    };

    // Groups: names unique per organization only.
    let sales = group(acme.id, "Sales");
    f.store.create_group(&sales, &op()).await.unwrap();
    let beta_sales = group(beta.id, "Sales");
    f.store.create_group(&beta_sales, &op()).await.unwrap();
    assert!(matches!(
        f.store.create_group(&group(acme.id, "Sales"), &op()).await,
        Err(IdentityError::Conflict(_))
    ));
    // Membership joins only objects of one organization.
    f.store
        .set_group_member(acme.id, sales.id, ann.id, true, &op())
        .await
        .unwrap();
    f.store
        .set_group_member(acme.id, sales.id, ann.id, true, &op())
        .await
        .unwrap();
    for (org, g, u) in [
        (acme.id, sales.id, bob.id),
        (acme.id, beta_sales.id, ann.id),
        (beta.id, sales.id, ann.id),
    ] {
        assert!(matches!(
            f.store.set_group_member(org, g, u, true, &op()).await,
            Err(IdentityError::NotFound(_))
        ));
    }
    let members = f.store.group_members(acme.id, sales.id).await.unwrap();
    assert_eq!(
        members.iter().map(|u| u.id).collect::<Vec<_>>(),
        vec![ann.id]
    );
    assert!(
        f.store
            .group_members(beta.id, sales.id)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        f.store.list_groups(acme.id).await.unwrap()[0].member_count,
        1
    );
    assert!(f.store.group(beta.id, sales.id).await.unwrap().is_none());
    assert!(matches!(
        f.store
            .update_group(beta.id, sales.id, "x", "", &op())
            .await,
        Err(IdentityError::NotFound(_))
    ));

    // Roles reach users directly and through groups; nothing crosses organizations.
    let auditors = role(
        acme.id,
        "Auditors",
        Permissions::of([Permission::AuditRead]),
    );
    f.store.create_role(&auditors, &op()).await.unwrap();
    let direct = role(acme.id, "Direct", Permissions::of([Permission::OrgManage]));
    f.store.create_role(&direct, &op()).await.unwrap();
    let beta_role = role(beta.id, "Auditors", Permissions::of(Permission::ALL));
    f.store.create_role(&beta_role, &op()).await.unwrap();
    f.store
        .set_role_grant(acme.id, auditors.id, Grantee::Group(sales.id), true, &op())
        .await
        .unwrap();
    f.store
        .set_role_grant(acme.id, direct.id, Grantee::User(ann.id), true, &op())
        .await
        .unwrap();
    for (org, r, to) in [
        (acme.id, beta_role.id, Grantee::User(ann.id)),
        (acme.id, auditors.id, Grantee::User(bob.id)),
        (acme.id, auditors.id, Grantee::Group(beta_sales.id)),
        (beta.id, auditors.id, Grantee::User(bob.id)),
    ] {
        assert!(matches!(
            f.store.set_role_grant(org, r, to, true, &op()).await,
            Err(IdentityError::NotFound(_))
        ));
    }
    let held: Vec<String> = f
        .store
        .user_roles(acme.id, ann.id)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(held, ["Auditors", "Direct"]);
    assert!(
        f.store
            .user_roles(beta.id, bob.id)
            .await
            .unwrap()
            .is_empty()
    );
    let ann_now = f.store.user(acme.id, ann.id).await.unwrap().unwrap();
    let perms = f.service.permissions(&ann_now).await.unwrap();
    assert!(perms.contains(Permission::AuditRead) && perms.contains(Permission::OrgManage));
    assert!(!perms.contains(Permission::UsersManage));
    assert_eq!(
        f.store.role_grants(acme.id, auditors.id).await.unwrap(),
        vec![Grantee::Group(sales.id)]
    );

    // Editing a role changes what its holders hold; deleting a group or role ends its grants.
    let edited = CustomRole {
        permissions: Permissions::of([Permission::UsersRead]),
        ..auditors.clone()
    };
    f.store.update_role(&edited, &op()).await.unwrap();
    let perms = f.service.permissions(&ann_now).await.unwrap();
    assert!(!perms.contains(Permission::AuditRead));
    f.store
        .delete_group(acme.id, sales.id, &op())
        .await
        .unwrap();
    assert_eq!(f.store.user_roles(acme.id, ann.id).await.unwrap().len(), 1);
    f.store
        .delete_role(acme.id, direct.id, &op())
        .await
        .unwrap();
    assert!(
        f.store
            .user_roles(acme.id, ann.id)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        f.store.delete_role(beta.id, auditors.id, &op()).await,
        Err(IdentityError::NotFound(_))
    ));
    assert_eq!(f.store.list_roles(beta.id).await.unwrap().len(), 1);

    // An organization keeps an enabled owner.
    f.store
        .set_user_role(acme.id, ann.id, Role::Owner, &op())
        .await
        .unwrap();
    assert!(matches!(
        f.store
            .set_user_role(acme.id, ann.id, Role::Admin, &op())
            .await,
        Err(IdentityError::Forbidden(_))
    ));
    assert!(matches!(
        f.store.set_disabled(acme.id, ann.id, true, &op()).await,
        Err(IdentityError::Forbidden(_))
    ));
    let second = f
        .store
        .create_user(acme.id, &new_user("sue@acme.test"), &op())
        .await
        .unwrap();
    f.store
        .set_user_role(acme.id, second.id, Role::Owner, &op())
        .await
        .unwrap();
    f.store
        .set_user_role(acme.id, ann.id, Role::Admin, &op())
        .await
        .unwrap();
    assert!(matches!(
        f.store
            .set_user_role(beta.id, ann.id, Role::Owner, &op())
            .await,
        Err(IdentityError::NotFound(_))
    ));

    // Branding and logos belong to one organization.
    f.store
        .set_branding(acme.id, "Acme Blue", "#1a73e8", &op())
        .await
        .unwrap();
    let org = f.store.org(acme.id).await.unwrap().unwrap();
    assert_eq!(
        (org.name.as_str(), org.brand_color.as_str()),
        ("Acme Blue", "#1a73e8")
    );
    let logo = Logo {
        content_type: "image/png".into(),
        data: vec![1, 2, 3],
        updated_at: chrono::Utc::now(),
    };
    f.store.set_logo(acme.id, Some(&logo), &op()).await.unwrap();
    f.store
        .set_logo(
            acme.id,
            Some(&Logo {
                data: vec![4],
                ..logo.clone()
            }),
            &op(),
        )
        .await
        .unwrap();
    assert_eq!(f.store.logo(acme.id).await.unwrap().unwrap().data, vec![4]);
    assert!(f.store.logo(beta.id).await.unwrap().is_none());
    f.store.set_logo(acme.id, None, &op()).await.unwrap();
    assert!(f.store.logo(acme.id).await.unwrap().is_none());

    // Every change above is audited, and the chain still verifies.
    let actions: Vec<String> = f
        .store
        .audit_log(acme.id, 0, 1000)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.action)
        .collect();
    for a in [
        "group.created",
        "group.member_added",
        "group.deleted",
        "role.created",
        "role.granted",
        "role.updated",
        "role.deleted",
        "user.role_changed",
        "org.branding_changed",
        "org.logo_changed",
        "org.logo_removed",
    ] {
        assert!(actions.iter().any(|x| x == a), "no {a} in {actions:?}");
    }
    // A second add of the same member wrote nothing.
    assert_eq!(
        actions
            .iter()
            .filter(|a| *a == "group.member_added")
            .count(),
        1
    );
    assert!(
        nexus_store::audit::verify(db, None)
            .await
            .unwrap()
            .is_intact()
    );
}

async fn sign_in_providers_and_links(db: &Db) {
    use nexus_identity::model::IdentityProvider;
    let f = fixture(db).await;
    let a = f.store.create_org("alpha", "Alpha", &op()).await.unwrap();
    let b = f.store.create_org("beta", "Beta", &op()).await.unwrap();
    let provider = |org: OrgId, name: &str| IdentityProvider {
        id: uuid::Uuid::now_v7(),
        org,
        name: name.to_owned(),
        issuer: "https://login.example.com".to_owned(),
        client_id: "nexus".to_owned(),
        client_secret: "s3cret".to_owned(),
        create_users: true,
        trust_email: false,
        created_at: chrono::Utc::now(),
    };
    let pa = provider(a.id, "Company SSO");
    f.store.create_provider(&pa, &op()).await.unwrap();
    // Names are unique per organization, not per instance.
    let clash = f
        .store
        .create_provider(&provider(a.id, "Company SSO"), &op())
        .await;
    assert!(
        matches!(clash, Err(IdentityError::Conflict(_))),
        "{clash:?}"
    );
    let pb = provider(b.id, "Company SSO");
    f.store.create_provider(&pb, &op()).await.unwrap();
    let got = f.store.provider(a.id, pa.id).await.unwrap().unwrap();
    assert_eq!(got.name, pa.name);
    assert_eq!(got.client_secret, "s3cret");
    assert!(got.create_users && !got.trust_email);
    // Tenant filters: B's provider is not A's to read, change or remove.
    assert!(f.store.provider(a.id, pb.id).await.unwrap().is_none());
    assert_eq!(f.store.providers(a.id).await.unwrap().len(), 1);
    assert_eq!(f.store.all_providers().await.unwrap().len(), 2);
    let stolen = IdentityProvider {
        org: a.id,
        ..pb.clone()
    };
    assert!(matches!(
        f.store.update_provider(&stolen, &op()).await,
        Err(IdentityError::NotFound(_))
    ));
    assert!(matches!(
        f.store.delete_provider(a.id, pb.id, &op()).await,
        Err(IdentityError::NotFound(_))
    ));
    let renamed = IdentityProvider {
        name: "Entra".to_owned(),
        trust_email: true,
        ..pa.clone()
    };
    f.store.update_provider(&renamed, &op()).await.unwrap();
    let got = f.store.provider(a.id, pa.id).await.unwrap().unwrap();
    assert_eq!((got.name.as_str(), got.trust_email), ("Entra", true));

    // A new account and its link in one step, with the usual event.
    let mut rx = f.outbox.bus().subscribe();
    let _ = f.outbox.dispatch_pending().await.unwrap();
    while rx.try_recv().is_ok() {}
    let carol = f
        .store
        .create_linked_user(&got, "sub-carol", &new_user("carol@example.com"), &op())
        .await
        .unwrap();
    assert_eq!(f.outbox.dispatch_pending().await.unwrap(), 1);
    assert_eq!(rx.try_recv().unwrap().kind, "identity.user.created");
    let now = chrono::Utc::now();
    assert_eq!(
        f.store.linked_user(&got, "sub-carol", now).await.unwrap(),
        Some((carol.id, false))
    );
    // The same subject under B's provider, or another subject, finds nobody.
    assert_eq!(
        f.store.linked_user(&pb, "sub-carol", now).await.unwrap(),
        None
    );
    assert_eq!(
        f.store.linked_user(&got, "sub-other", now).await.unwrap(),
        None
    );
    // One subject per account and provider; a failed creation leaves no account behind.
    let second = f
        .store
        .link_login(&got, "sub-carol-2", carol.id, false, &op())
        .await;
    assert!(
        matches!(second, Err(IdentityError::Conflict(_))),
        "{second:?}"
    );
    let taken = f
        .store
        .create_linked_user(&got, "sub-carol", &new_user("dave@example.com"), &op())
        .await;
    assert!(
        matches!(taken, Err(IdentityError::Conflict(_))),
        "{taken:?}"
    );
    assert!(
        f.store
            .user_by_email(a.id, "dave@example.com")
            .await
            .unwrap()
            .is_none()
    );
    let erin = f
        .store
        .create_user(a.id, &new_user("erin@example.com"), &op())
        .await
        .unwrap();
    f.store
        .link_login(&got, "sub-erin", erin.id, true, &op())
        .await
        .unwrap();
    assert_eq!(
        f.store.user_links(a.id, erin.id).await.unwrap(),
        vec!["Entra".to_owned()]
    );
    assert_eq!(
        f.store.linked_user(&got, "sub-erin", now).await.unwrap(),
        Some((erin.id, true))
    );
    assert!(f.store.user_links(b.id, erin.id).await.unwrap().is_empty());

    // Found by id alone (a sign-in starts before a tenant is known).
    assert_eq!(
        f.store.provider_by_id(pb.id).await.unwrap().map(|p| p.org),
        Some(b.id)
    );
    assert!(
        f.store
            .provider_by_id(uuid::Uuid::now_v7())
            .await
            .unwrap()
            .is_none()
    );
    // Unlinking one account; B's provider cannot unlink A's account.
    assert!(matches!(
        f.store.unlink_login(&pb, erin.id, &op()).await,
        Err(IdentityError::NotFound(_))
    ));
    f.store.unlink_login(&got, erin.id, &op()).await.unwrap();
    assert!(f.store.user_links(a.id, erin.id).await.unwrap().is_empty());
    f.store
        .link_login(&got, "sub-erin", erin.id, true, &op())
        .await
        .unwrap();
    // A subject is unique only at its issuer: a new issuer drops the links; a trailing slash
    // is not a new issuer.
    let slash = IdentityProvider {
        issuer: "https://login.example.com/".to_owned(),
        ..got.clone()
    };
    f.store.update_provider(&slash, &op()).await.unwrap();
    assert_eq!(f.store.user_links(a.id, erin.id).await.unwrap().len(), 1);
    let moved = IdentityProvider {
        issuer: "https://other.example.com".to_owned(),
        ..got.clone()
    };
    f.store.update_provider(&moved, &op()).await.unwrap();
    assert!(f.store.user_links(a.id, erin.id).await.unwrap().is_empty());
    assert_eq!(
        f.store.linked_user(&moved, "sub-carol", now).await.unwrap(),
        None
    );
    f.store
        .link_login(&moved, "sub-erin", erin.id, false, &op())
        .await
        .unwrap();

    // Removing the provider removes its links, not the accounts.
    f.store.delete_provider(a.id, pa.id, &op()).await.unwrap();
    assert!(f.store.user_links(a.id, erin.id).await.unwrap().is_empty());
    assert!(f.store.user(a.id, carol.id).await.unwrap().is_some());
    assert!(f.store.provider(b.id, pb.id).await.unwrap().is_some());
    let audit = f.service.audit_log(a.id, 0, 1000).await.unwrap();
    let actions: Vec<&str> = audit.iter().map(|r| r.action.as_str()).collect();
    for want in [
        "sso_provider.created",
        "sso_provider.updated",
        "user.sso_linked",
        "user.sso_unlinked",
        "sso_provider.deleted",
    ] {
        assert!(actions.contains(&want), "{want} missing: {actions:?}");
    }
    assert!(!audit.iter().any(|r| r.detail.contains("s3cret")));
}

async fn directory_syncs_emit_events(db: &Db) {
    use nexus_identity::model::{Directory, DirectorySettings, DirectorySnapshot, ExternalUser};
    let f = fixture(db).await;
    let org = f.store.create_org("alpha", "Alpha", &op()).await.unwrap();
    let d = Directory {
        id: uuid::Uuid::now_v7(),
        org: org.id,
        name: "LDAP".into(),
        settings: DirectorySettings {
            url: "ldap://127.0.0.1:389".into(),
            bind_dn: "cn=sync".into(),
            user_base: "dc=example".into(),
            user_filter: "(objectClass=person)".into(),
            email_attribute: "mail".into(),
            name_attribute: "cn".into(),
            group_base: String::new(),
            group_filter: "(objectClass=groupOfNames)".into(),
            member_attribute: "member".into(),
            starttls: false,
        },
        bind_password: "secret".into(),
        created_at: chrono::Utc::now(),
        last_sync_at: None,
        last_sync: None,
        last_error: None,
    };
    f.store.create_directory(&d, &op()).await.unwrap();
    let person = |id: &str| ExternalUser {
        external_id: id.into(),
        dn: format!("uid={id},dc=example"),
        email: format!("{id}@example.com"),
        name: id.into(),
    };
    let mut rx = f.outbox.bus().subscribe();
    let _ = f.outbox.dispatch_pending().await.unwrap();
    while rx.try_recv().is_ok() {}
    let both = DirectorySnapshot {
        users: vec![person("ann"), person("bob")],
        ..DirectorySnapshot::default()
    };
    let r = f
        .store
        .apply_directory_sync(org.id, d.id, &both, chrono::Utc::now(), &op())
        .await
        .unwrap();
    assert_eq!(r.users_created, 2);
    // Other apps learn of directory accounts as of any other.
    assert_eq!(f.outbox.dispatch_pending().await.unwrap(), 2);
    for _ in 0..2 {
        assert_eq!(rx.try_recv().unwrap().kind, "identity.user.created");
    }
    let only_ann = DirectorySnapshot {
        users: vec![person("ann")],
        ..DirectorySnapshot::default()
    };
    let r = f
        .store
        .apply_directory_sync(org.id, d.id, &only_ann, chrono::Utc::now(), &op())
        .await
        .unwrap();
    assert_eq!(r.users_disabled, 1);
    assert_eq!(f.outbox.dispatch_pending().await.unwrap(), 1);
    let event = rx.try_recv().unwrap();
    assert_eq!(event.kind, "identity.user.disabled");
    let bob = f
        .store
        .user_by_email(org.id, "bob@example.com")
        .await
        .unwrap()
        .unwrap();
    assert!(bob.disabled);
    assert_eq!(event.payload["user_id"], serde_json::json!(bob.id));
    // Removing the directory disables the rest, each with its event.
    f.store.delete_directory(org.id, d.id, &op()).await.unwrap();
    assert_eq!(f.outbox.dispatch_pending().await.unwrap(), 1);
    assert_eq!(rx.try_recv().unwrap().kind, "identity.user.disabled");
}
