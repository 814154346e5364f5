//! What a bearer token costs a daemon: signing, the first verification of a token (the
//! Ed25519 signature check), and every later one (remembered verification plus expiry and
//! revocation checks). Run by `tests/bench/identity.sh`:
//!
//!     cargo run --release -p nexus-identity --example token_cost
//!
//! Prints one JSON object (nanoseconds per operation).

use std::time::Instant;

use nexus_identity::keys::KeySet;
use nexus_identity::tokens::{Claims, TokenAuthority};
use nexus_store::OrgId;

fn main() -> Result<(), String> {
    let dir = std::env::temp_dir().join(format!("nexus-token-cost-{}", std::process::id()));
    let result = run(&dir);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn run(dir: &std::path::Path) -> Result<(), String> {
    let authority = TokenAuthority::new(KeySet::open(dir)?, "https://nexus.bench");
    // A realistic revocation list: a thousand revoked tokens.
    authority.set_revoked((0..1000).map(|_| uuid::Uuid::now_v7()), []);
    let now = chrono::Utc::now().timestamp();
    let claims = |i: i64| Claims {
        iss: String::new(),
        sub: format!("user:{}", uuid::Uuid::now_v7()),
        aud: String::new(),
        org: OrgId::generate(),
        scope: "profile".into(),
        iat: now,
        exp: now + 3600 + i,
        jti: uuid::Uuid::now_v7(),
    };

    const DISTINCT: usize = 2000;
    let t = Instant::now();
    let tokens: Vec<String> = (0..DISTINCT as i64)
        .map(|i| authority.sign(claims(i)))
        .collect::<Result<_, _>>()?;
    let sign_ns = t.elapsed().as_nanos() / DISTINCT as u128;

    let t = Instant::now();
    for tok in &tokens {
        authority.verify(tok).map_err(|e| e.to_string())?;
    }
    let first_ns = t.elapsed().as_nanos() / DISTINCT as u128;

    const REPEAT: usize = 200_000;
    let t = Instant::now();
    for i in 0..REPEAT {
        authority
            .verify(&tokens[i % DISTINCT])
            .map_err(|e| e.to_string())?;
    }
    let repeat_ns = t.elapsed().as_nanos() / REPEAT as u128;

    println!(
        "{}",
        serde_json::json!({
            "sign_ns": sign_ns,
            "first_verify_ns": first_ns,
            "repeat_verify_ns": repeat_ns,
            "token_bytes": tokens[0].len(),
        })
    );
    Ok(())
}
