//! Password reset by e-mail, through a real SMTP server (aiosmtpd) and the whole HTTP flow.

use std::time::Duration;

use nexus_testkit::{Backend, SmtpSink, TestServer};
use nexus_wire::codes;
use serde_json::json;

use crate::tokens::code;

/// The token in the link of a reset mail (quoted-printable may wrap long lines with `=`).
fn link_token(raw: &str) -> String {
    let unwrapped = raw
        .replace("=\r\n", "")
        .replace("=\n", "")
        .replace("=3D", "=");
    let at = unwrapped
        .find("reset-password#token=")
        .expect("the mail has a reset link");
    unwrapped[at + "reset-password#token=".len()..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

/// A real SMTP sink and a server that sends through it; `None` when the sink is missing.
async fn server_with_mail() -> Option<(SmtpSink, TestServer)> {
    let smtp = SmtpSink::start().await.unwrap()?;
    let url = smtp.url();
    let s = TestServer::start_with(nexusd::apps::all(), Backend::Sqlite, |c| {
        c.mail.smtp_url = url;
        c.mail.from = "NEXUS <nexus@test.example>".to_owned();
    })
    .await
    .unwrap()
    .unwrap();
    Some((smtp, s))
}

#[tokio::test]
async fn reset_link_by_mail_sets_a_new_password_once() {
    let Some((smtp, s)) = server_with_mail().await else {
        return;
    };
    let (email, setup) = s.provision().await.unwrap();
    let first = "the first passphrase chosen";
    let old_session = s.setup(&setup, first).await.unwrap();

    // Known and unknown addresses get the same answer; only the known one gets mail.
    for who in ["nobody@test.example", email.as_str()] {
        let r = s
            .post_json("/api/password-reset", None, &json!({ "email": who }))
            .await
            .unwrap();
        assert_eq!(r.status(), 202, "{who}");
    }
    let mails = smtp.wait_for(1, Duration::from_secs(10)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        smtp.messages().unwrap().len(),
        1,
        "no mail for an unknown address"
    );
    let mail = &mails[0];
    assert!(mail.contains("To: owner@test.example"), "{mail}");
    assert!(mail.contains("From: NEXUS <nexus@test.example>"), "{mail}");
    assert!(
        mail.contains("Subject: Reset your password for Test Org"),
        "{mail}"
    );
    let token = link_token(mail);
    assert!(token.len() >= 40, "{token}");
    let public = s.url("/reset-password#token=");
    assert!(
        mail.replace("=\n", "")
            .replace("=\r\n", "")
            .replace("=3D", "=")
            .contains(&public),
        "the link points at the instance: {mail}"
    );

    // A reset link is no setup link: it does not sign anyone in directly.
    let as_setup = s
        .post_json(
            "/api/setup",
            None,
            &json!({ "token": token, "new_password": "a fine new passphrase" }),
        )
        .await
        .unwrap();
    assert_eq!(code(as_setup).await, codes::AUTH_RESET_LINK_INVALID);

    // A weak password does not spend the link; a bad link is refused with a clear code.
    let weak = s
        .post_json(
            "/api/password-reset/complete",
            None,
            &json!({ "token": token, "new_password": "short" }),
        )
        .await
        .unwrap();
    assert_eq!(weak.status(), 400);
    assert_eq!(code(weak).await, codes::AUTH_WEAK_PASSWORD);
    for bad in ["", "nope", "\u{0}"] {
        let r = s
            .post_json(
                "/api/password-reset/complete",
                None,
                &json!({ "token": bad, "new_password": "a fine new passphrase" }),
            )
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{bad:?}");
        assert_eq!(code(r).await, codes::AUTH_RESET_LINK_INVALID);
    }
    let done = s
        .post_json(
            "/api/password-reset/complete",
            None,
            &json!({ "token": token, "new_password": "a fine new passphrase" }),
        )
        .await
        .unwrap();
    assert_eq!(done.status(), 204);

    // The link worked once; the old password and the old sessions are gone.
    let again = s
        .post_json(
            "/api/password-reset/complete",
            None,
            &json!({ "token": token, "new_password": "yet another passphrase" }),
        )
        .await
        .unwrap();
    assert_eq!(code(again).await, codes::AUTH_RESET_LINK_INVALID);
    assert!(s.login(&email, first).await.is_err());
    let me = s
        .client
        .get(s.url("/api/session"))
        .header("cookie", &old_session)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 401, "sessions end with a reset");
    let fresh = s.login(&email, "a fine new passphrase").await.unwrap();
    let (_, me) = s.get_json("/api/session", Some(&fresh)).await.unwrap();
    assert_eq!(
        me["must_change_password"], false,
        "the chosen password is final"
    );
    s.stop().await.unwrap();
}

#[tokio::test]
async fn without_a_mail_relay_reset_says_ask_an_administrator() {
    let s = TestServer::start(nexusd::apps::all()).await.unwrap();
    s.provision().await.unwrap();
    let r = s
        .post_json(
            "/api/password-reset",
            None,
            &json!({ "email": "owner@test.example" }),
        )
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    assert_eq!(code(r).await, codes::MAIL_NOT_CONFIGURED);
    s.stop().await.unwrap();
}

#[tokio::test]
async fn reset_requests_are_limited_per_address() {
    let Some((smtp, s)) = server_with_mail().await else {
        return;
    };
    s.provision().await.unwrap();
    let mut statuses = Vec::new();
    for _ in 0..12 {
        let r = s
            .post_json(
                "/api/password-reset",
                None,
                &json!({ "email": "owner@test.example" }),
            )
            .await
            .unwrap();
        statuses.push(r.status().as_u16());
    }
    assert_eq!(&statuses[..10], &[202; 10]);
    assert_eq!(&statuses[10..], &[429, 429]);
    // Three mails at most reach the account, however many requests came.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let n = smtp
        .wait_for(3, Duration::from_secs(10))
        .await
        .unwrap()
        .len();
    assert_eq!(n, 3);
    s.stop().await.unwrap();
}
