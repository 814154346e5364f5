//! Release signing keys: ed25519, kept in small text files (the signify/minisign idea, in hex
//! so they read the same everywhere).
//!
//! - secret key: `nexus-release-secret-key <64 hex: the 32-byte seed>` (mode 0600);
//! - public key: `nexus-release-key <64 hex> [comment]`.
//!
//! An instance trusts the public keys in `<state dir>/trust/release-keys/*.pub` and
//! `/etc/nexus/release-keys/*.pub`; a bundle signed by any other key is refused.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};

use crate::cli::fail;
use crate::state::StateDir;

const SECRET_TAG: &str = "nexus-release-secret-key";
const PUBLIC_TAG: &str = "nexus-release-key";
/// Keys every instance on this machine trusts, whatever its state directory.
const SYSTEM_TRUST: &str = "/etc/nexus/release-keys";

/// A short, stable name for a public key: the first 8 bytes of its BLAKE3 hash, in hex.
pub fn key_id(key: &VerifyingKey) -> String {
    hex(&blake3::hash(key.as_bytes()).as_bytes()[..8])
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex<const N: usize>(text: &str) -> Option<[u8; N]> {
    if text.len() != N * 2 || !text.is_ascii() {
        return None;
    }
    let mut out = [0u8; N];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(text.get(i * 2..i * 2 + 2)?, 16).ok()?;
    }
    Some(out)
}

/// Makes a new key pair: `secret` (owner-only) and `secret` + `.pub`. Refuses to overwrite.
pub fn generate(secret: &Path) -> Result<(PathBuf, VerifyingKey)> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let public = public_path(secret);
    for p in [secret, public.as_path()] {
        if p.exists() {
            return fail(
                2,
                format!(
                    "{} already exists: choose another --out, or remove it first (a release key cannot be recovered once overwritten)",
                    p.display()
                ),
            );
        }
    }
    let mut seed = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut seed);
    let key = SigningKey::from_bytes(&seed);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(secret)
        .with_context(|| format!("cannot create {}", secret.display()))?;
    writeln!(file, "{SECRET_TAG} {}", hex(&seed))?;
    file.sync_all()?;
    let verifying = key.verifying_key();
    std::fs::write(&public, public_line(&verifying))
        .with_context(|| format!("cannot write {}", public.display()))?;
    Ok((public, verifying))
}

fn public_path(secret: &Path) -> PathBuf {
    let mut p = secret.as_os_str().to_owned();
    p.push(".pub");
    PathBuf::from(p)
}

pub fn public_line(key: &VerifyingKey) -> String {
    format!("{PUBLIC_TAG} {} key {}\n", hex(key.as_bytes()), key_id(key))
}

pub fn read_secret(path: &Path) -> Result<SigningKey> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the signing key {}", path.display()))?;
    let seed = text
        .trim()
        .strip_prefix(SECRET_TAG)
        .and_then(|rest| unhex::<32>(rest.trim()));
    match seed {
        Some(seed) => Ok(SigningKey::from_bytes(&seed)),
        None => fail(
            2,
            format!(
                "{} is not a release signing key (make one with `nexusctl release keygen --out FILE`)",
                path.display()
            ),
        ),
    }
}

pub fn parse_public(text: &str) -> Option<VerifyingKey> {
    let mut words = text.split_whitespace();
    if words.next()? != PUBLIC_TAG {
        return None;
    }
    VerifyingKey::from_bytes(&unhex::<32>(words.next()?)?).ok()
}

pub fn sign(key: &SigningKey, message: &[u8]) -> String {
    hex(&key.sign(message).to_bytes())
}

/// Which trusted key signed `message`, if one did.
pub fn verify(trusted: &[VerifyingKey], message: &[u8], signature: &str) -> Option<VerifyingKey> {
    let sig = Signature::from_bytes(&unhex::<64>(signature.trim())?);
    trusted
        .iter()
        .find(|k| k.verify(message, &sig).is_ok())
        .copied()
}

pub fn trust_dir(dir: &StateDir) -> PathBuf {
    dir.root.join("trust").join("release-keys")
}

/// Every key this instance trusts, and the directories they were looked for in.
pub fn trusted(dir: &StateDir) -> (Vec<VerifyingKey>, Vec<PathBuf>) {
    let dirs = vec![trust_dir(dir), PathBuf::from(SYSTEM_TRUST)];
    let mut keys = Vec::new();
    for d in &dirs {
        let Ok(entries) = std::fs::read_dir(d) else {
            continue;
        };
        for e in entries.flatten() {
            let path = e.path();
            if path.extension().is_some_and(|x| x == "pub")
                && let Some(k) = std::fs::read_to_string(&path)
                    .ok()
                    .as_deref()
                    .and_then(parse_public)
                && !keys.contains(&k)
            {
                keys.push(k);
            }
        }
    }
    (keys, dirs)
}

/// `release trust FILE`: copies a public key into the instance's trust directory.
pub fn add_trusted(dir: &StateDir, file: &Path) -> Result<VerifyingKey> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let Some(key) = parse_public(&text) else {
        return fail(
            2,
            format!(
                "{} is not a release public key (the .pub file `nexusctl release keygen` wrote)",
                file.display()
            ),
        );
    };
    let target = trust_dir(dir).join(format!("{}.pub", key_id(&key)));
    crate::state::write_atomic(&target, public_line(&key).as_bytes())?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_signature_verifies_only_with_its_key_and_message() {
        let dir = tempfile::tempdir().unwrap();
        let (public, key) = generate(&dir.path().join("k")).unwrap();
        let secret = read_secret(&dir.path().join("k")).unwrap();
        assert_eq!(secret.verifying_key(), key);
        assert_eq!(
            parse_public(&std::fs::read_to_string(&public).unwrap()),
            Some(key)
        );
        let sig = sign(&secret, b"manifest");
        assert_eq!(verify(&[key], b"manifest", &sig), Some(key));
        assert_eq!(verify(&[key], b"manifesT", &sig), None);
        let (_, other) = generate(&dir.path().join("other")).unwrap();
        assert_eq!(verify(&[other], b"manifest", &sig), None);
        assert_eq!(verify(&[key], b"manifest", "zz"), None);
        // Never overwritten.
        assert!(generate(&dir.path().join("k")).is_err());
    }
}
