//! The keys of a backup repository.
//!
//! Two layers, so that a machine can write backups it cannot read back:
//! - **Contents** (packs of chunks, which also hold each snapshot's file list) are encrypted
//!   with age to the repository's recipients. With a passphrase, the recipient is an X25519
//!   key made for the repository whose secret half is stored age-encrypted under the
//!   passphrase (scrypt); with `--recipient`, it is the operator's own age or SSH keys, and
//!   only the holder of the matching identity can read.
//! - The **repository key** (32 random bytes, held by every writer) derives the keyed hash
//!   that names chunks (so equal data is stored once without revealing what it is), the key
//!   that seals the repository's own records (pack indexes, snapshot records:
//!   XChaCha20-Poly1305, bound to the object's name) and the MAC over its config.

use std::io::{Read, Write};
use std::path::Path;
use std::str::FromStr;

use age::secrecy::{ExposeSecret, SecretString};
use anyhow::{Context, Result, anyhow, bail};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;

/// A chunk's name: the repository-keyed BLAKE3 hash of its plaintext.
pub type ChunkId = [u8; 32];

/// The identities that decrypt a repository's contents (shared with reading threads).
pub type Identities = Vec<Box<dyn age::Identity + Send + Sync>>;

pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

pub fn unhex32(s: &str) -> Option<[u8; 32]> {
    blake3::Hash::from_hex(s).ok().map(|h| *h.as_bytes())
}

/// The repository key and the keys derived from it.
#[derive(Clone)]
pub struct RepoKey {
    raw: [u8; 32],
    chunk: [u8; 32],
    seal: [u8; 32],
}

impl std::fmt::Debug for RepoKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RepoKey(…)")
    }
}

impl RepoKey {
    pub fn generate() -> Self {
        let mut raw = [0u8; 32];
        rand::rng().fill_bytes(&mut raw);
        Self::from_raw(raw)
    }

    pub fn from_raw(raw: [u8; 32]) -> Self {
        Self {
            raw,
            chunk: blake3::derive_key("nexus backup 2026 chunk id", &raw),
            seal: blake3::derive_key("nexus backup 2026 record seal", &raw),
        }
    }

    pub fn raw(&self) -> &[u8; 32] {
        &self.raw
    }

    pub fn chunk_id(&self, data: &[u8]) -> ChunkId {
        *blake3::keyed_hash(&self.chunk, data).as_bytes()
    }

    pub fn mac(&self, data: &[u8]) -> [u8; 32] {
        let key = blake3::derive_key("nexus backup 2026 config mac", &self.raw);
        *blake3::keyed_hash(&key, data).as_bytes()
    }

    /// Encrypts a repository record; `name` (the object's path) is authenticated with it, so
    /// a record moved to another name does not open.
    pub fn seal(&self, name: &str, plain: &[u8]) -> Result<Vec<u8>> {
        let cipher = XChaCha20Poly1305::new((&self.seal).into());
        let mut nonce = [0u8; 24];
        rand::rng().fill_bytes(&mut nonce);
        let sealed = cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plain,
                    aad: name.as_bytes(),
                },
            )
            .map_err(|_| anyhow!("cannot encrypt {name}"))?;
        let mut out = Vec::with_capacity(24 + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    pub fn open(&self, name: &str, sealed: &[u8]) -> Result<Vec<u8>> {
        let cipher = XChaCha20Poly1305::new((&self.seal).into());
        let (nonce, body) = sealed
            .split_at_checked(24)
            .ok_or_else(|| anyhow!("{name} is truncated"))?;
        cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: body,
                    aad: name.as_bytes(),
                },
            )
            .map_err(|_| {
                anyhow!("{name} does not authenticate: it was damaged or altered (run `nexusctl backup verify`)")
            })
    }
}

/// A recipient that contents are encrypted to, from its text form.
pub fn parse_recipient(text: &str) -> Result<Box<dyn age::Recipient + Send + Sync>> {
    let text = text.trim();
    if text.starts_with("age1") {
        let r = age::x25519::Recipient::from_str(text)
            .map_err(|e| anyhow!("`{text}` is not a valid age recipient: {e}"))?;
        return Ok(Box::new(r));
    }
    if text.starts_with("ssh-") {
        let r = age::ssh::Recipient::from_str(text).map_err(|e| {
            anyhow!("`{text}` is not a usable SSH public key ({e:?}): use ssh-ed25519 or ssh-rsa")
        })?;
        return Ok(Box::new(r));
    }
    bail!(
        "`{text}` is not a recipient: give an age public key (age1…) or an SSH public key (ssh-ed25519 …)"
    )
}

/// Reads the recipients in a file: one per line, `#` comments allowed (the format of
/// `age -R` and of `authorized_keys` lines without options).
pub fn read_recipients_file(path: &Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the recipients file {}", path.display()))?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect())
}

/// Identities from a file: an age identity file (`AGE-SECRET-KEY-1…` lines) or an
/// unencrypted SSH private key.
pub fn read_identity_file(path: &Path) -> Result<Identities> {
    let bytes = std::fs::read(path)
        .with_context(|| format!("cannot read the identity file {}", path.display()))?;
    if let Ok(file) = age::IdentityFile::from_buffer(&bytes[..])
        && let Ok(ids) = file.into_identities()
        && !ids.is_empty()
    {
        return Ok(ids.into_iter().collect());
    }
    match age::ssh::Identity::from_buffer(&bytes[..], Some(path.display().to_string())) {
        Ok(age::ssh::Identity::Unencrypted(key)) => {
            Ok(vec![Box::new(age::ssh::Identity::Unencrypted(key))])
        }
        Ok(age::ssh::Identity::Encrypted(_)) => bail!(
            "{} is a passphrase-protected SSH key: use an age identity, or a copy of the key \
             without a passphrase (`ssh-keygen -p -f COPY`)",
            path.display()
        ),
        _ => bail!(
            "{} is neither an age identity file (AGE-SECRET-KEY-1…) nor an SSH private key",
            path.display()
        ),
    }
}

/// A passphrase from a file: its first line, without the line ending.
pub fn read_passphrase_file(path: &Path) -> Result<SecretString> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the passphrase file {}", path.display()))?;
    let line = text.lines().next().unwrap_or("");
    if line.is_empty() {
        bail!("the passphrase file {} is empty", path.display());
    }
    Ok(SecretString::from(line.to_owned()))
}

/// Encrypts `plain` to recipients (age, binary format).
pub fn age_encrypt(
    recipients: &[Box<dyn age::Recipient + Send + Sync>],
    plain: &[u8],
) -> Result<Vec<u8>> {
    let encryptor = age::Encryptor::with_recipients(
        recipients.iter().map(|r| r.as_ref() as &dyn age::Recipient),
    )
    .map_err(|e| anyhow!("cannot encrypt: {e}"))?;
    let mut out = Vec::with_capacity(plain.len() + 256);
    let mut w = encryptor.wrap_output(&mut out)?;
    w.write_all(plain)?;
    w.finish()?;
    Ok(out)
}

/// Decrypts an age file with the given identities; `what` names it in errors.
pub fn age_decrypt(
    identities: &[Box<dyn age::Identity + Send + Sync>],
    data: &[u8],
    what: &str,
) -> Result<Vec<u8>> {
    let decryptor =
        age::Decryptor::new(data).map_err(|e| anyhow!("{what} is not readable: {e}"))?;
    let mut reader = decryptor
        .decrypt(identities.iter().map(|i| i.as_ref() as &dyn age::Identity))
        .map_err(|e| match e {
            age::DecryptError::NoMatchingKeys => {
                anyhow!("{what} cannot be decrypted with the given identity: it was written for other keys")
            }
            other => anyhow!("{what} cannot be decrypted: {other}"),
        })?;
    let mut out = Vec::new();
    reader
        .read_to_end(&mut out)
        .map_err(|e| anyhow!("{what} does not authenticate ({e}): it was damaged or altered"))?;
    Ok(out)
}

/// Encrypts with a passphrase (age scrypt, at [`passphrase_work_factor`]).
pub fn age_encrypt_passphrase(passphrase: &SecretString, plain: &[u8]) -> Result<Vec<u8>> {
    let mut recipient = age::scrypt::Recipient::new(passphrase.clone());
    recipient.set_work_factor(passphrase_work_factor());
    let encryptor =
        age::Encryptor::with_recipients(std::iter::once(&recipient as &dyn age::Recipient))
            .map_err(|e| anyhow!("cannot encrypt: {e}"))?;
    let mut out = Vec::new();
    let mut w = encryptor.wrap_output(&mut out)?;
    w.write_all(plain)?;
    w.finish()?;
    Ok(out)
}

/// How long unlocking a repository with its passphrase may take on this machine.
const PASSPHRASE_UNLOCK: std::time::Duration = std::time::Duration::from_millis(500);

/// The scrypt work factor (log2 N) for a new passphrase key: the largest that unlocks within
/// [`PASSPHRASE_UNLOCK`] here, and never below 2^15 (32 MiB of memory per guess). Every
/// command that opens a repository pays it once, so it is a large part of a small
/// incremental backup: age's own choice aims at a second or more (1.4 s here), restic
/// calibrates to half a second, and so do we.
///
/// Measured, not extrapolated from a small factor: past the CPU caches each step costs more
/// than twice the one before, and extrapolating chose 2^22 (16 s) here.
pub fn passphrase_work_factor() -> u8 {
    const MIN: u8 = 15;
    const MAX: u8 = 22;
    let mut log_n = MIN;
    while log_n < MAX {
        let Some(took) = time_scrypt(log_n) else {
            return 18;
        };
        // The next step at least doubles the cost.
        if took * 2 > PASSPHRASE_UNLOCK {
            break;
        }
        log_n += 1;
    }
    log_n
}

/// How long wrapping a key with a passphrase takes at work factor `log_n`.
fn time_scrypt(log_n: u8) -> Option<std::time::Duration> {
    let mut probe = age::scrypt::Recipient::new(SecretString::from("calibration".to_owned()));
    probe.set_work_factor(log_n);
    // The key is wrapped (scrypt run) when the encryptor is made.
    let started = std::time::Instant::now();
    age::Encryptor::with_recipients(std::iter::once(&probe as &dyn age::Recipient)).ok()?;
    Some(started.elapsed())
}

/// Decrypts with a passphrase; a wrong one is told apart from damage.
pub fn age_decrypt_passphrase(
    passphrase: &SecretString,
    data: &[u8],
    what: &str,
) -> Result<Vec<u8>> {
    let identity = age::scrypt::Identity::new(passphrase.clone());
    let decryptor =
        age::Decryptor::new(data).map_err(|e| anyhow!("{what} is not readable: {e}"))?;
    let mut reader = decryptor
        .decrypt(std::iter::once(&identity as &dyn age::Identity))
        .map_err(|e| match e {
            age::DecryptError::DecryptionFailed | age::DecryptError::NoMatchingKeys => {
                anyhow!("wrong passphrase for this backup repository")
            }
            other => anyhow!("{what} cannot be decrypted: {other}"),
        })?;
    let mut out = Vec::new();
    reader.read_to_end(&mut out)?;
    Ok(out)
}

/// A new X25519 identity for a passphrase repository, as (secret text, recipient text).
pub fn new_repo_identity() -> (SecretString, String) {
    let id = age::x25519::Identity::generate();
    let public = id.to_public().to_string();
    (id.to_string(), public)
}

pub fn parse_identity(secret: &str) -> Result<Box<dyn age::Identity + Send + Sync>> {
    let id = age::x25519::Identity::from_str(secret)
        .map_err(|e| anyhow!("the repository's key is damaged: {e}"))?;
    Ok(Box::new(id))
}

pub fn expose(s: &SecretString) -> &str {
    s.expose_secret()
}
