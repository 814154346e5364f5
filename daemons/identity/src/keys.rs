//! The instance's token-signing keys: Ed25519, kept in `secrets/signing/`, published as a
//! JWKS.
//!
//! Each key is a file `<kid>.key` holding its 32-byte seed (mode 0600). The newest key signs;
//! every key in the directory verifies, so tokens signed before a rotation stay valid until
//! they expire. `nexusd keys rotate` adds a key; `nexusd keys retire KID` removes one (its
//! tokens stop working). Daemons re-read the directory every few seconds and when they meet
//! a token with a key id they do not know, so a rotation or a retirement reaches every daemon
//! without a restart (a daemon signs with the key that was newest when it read them).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use base64::Engine;
use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::EncodePrivateKey;
use jsonwebtoken::{DecodingKey, EncodingKey};
use rand::RngCore;

/// One key: its id, its signing half (only used by the daemon that issues tokens), and
/// the verifying half.
#[derive(Clone)]
pub struct Key {
    pub kid: String,
    pub encoding: EncodingKey,
    pub decoding: DecodingKey,
    /// The raw public key, for the JWKS.
    pub public: [u8; 32],
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Key").field("kid", &self.kid).finish()
    }
}

#[derive(Debug, Default)]
struct Loaded {
    /// By key id; ids sort by creation time, so the last one is the newest.
    keys: BTreeMap<String, Key>,
    reloaded_at: Option<Instant>,
}

/// The keys in a directory, re-read on demand.
#[derive(Debug, Clone)]
pub struct KeySet {
    dir: PathBuf,
    loaded: Arc<RwLock<Loaded>>,
}

/// Do not re-read the directory more often than this when unknown key ids arrive (a flood
/// of forged tokens must not become a flood of directory reads).
const RELOAD_INTERVAL: Duration = Duration::from_secs(10);

impl KeySet {
    /// Opens the key directory, creating it and a first key if there is none.
    pub fn open(dir: &Path) -> Result<Self, String> {
        let set = Self {
            dir: dir.to_owned(),
            loaded: Arc::new(RwLock::new(Loaded::default())),
        };
        set.reload()?;
        if set.current().is_none() {
            set.rotate()?;
        }
        Ok(set)
    }

    /// Adds a new key that signs from now on (in daemons started or reloaded after this);
    /// returns its id.
    pub fn rotate(&self) -> Result<String, String> {
        use std::io::Write;
        use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
        std::fs::DirBuilder::new()
            .mode(0o700)
            .recursive(true)
            .create(&self.dir)
            .map_err(|e| format!("cannot create {}: {e}", self.dir.display()))?;
        let mut seed = [0u8; 32];
        rand::rng().fill_bytes(&mut seed);
        let mut suffix = [0u8; 3];
        rand::rng().fill_bytes(&mut suffix);
        // Sortable by time: the newest key is the last in order.
        let kid = format!(
            "{}-{:02x}{:02x}{:02x}",
            chrono::Utc::now().format("%Y%m%dT%H%M%S%6f"),
            suffix[0],
            suffix[1],
            suffix[2]
        );
        let path = self.dir.join(format!("{kid}.key"));
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
        f.write_all(&seed)
            .and_then(|()| f.sync_all())
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        self.reload()?;
        Ok(kid)
    }

    /// Removes a key: tokens it signed stop verifying.
    pub fn retire(&self, kid: &str) -> Result<(), String> {
        let keys = self.kids();
        if !keys.iter().any(|k| k == kid) {
            return Err(format!("there is no signing key `{kid}` (see `keys list`)"));
        }
        if keys.len() == 1 {
            return Err("this is the only signing key: run `keys rotate` first".into());
        }
        let path = self.dir.join(format!("{kid}.key"));
        std::fs::remove_file(&path)
            .map_err(|e| format!("cannot remove {}: {e}", path.display()))?;
        self.reload()
    }

    /// Re-reads the directory.
    pub fn reload(&self) -> Result<(), String> {
        let mut keys = BTreeMap::new();
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                self.store(keys);
                return Ok(());
            }
            Err(e) => return Err(format!("cannot read {}: {e}", self.dir.display())),
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Some(kid) = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".key"))
            else {
                continue;
            };
            let bytes =
                std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            let seed: [u8; 32] = bytes.as_slice().try_into().map_err(|_| {
                format!(
                    "{} is not a signing key (expected 32 bytes); remove it or restore it from a backup",
                    path.display()
                )
            })?;
            keys.insert(kid.to_owned(), key(kid, &seed)?);
        }
        self.store(keys);
        Ok(())
    }

    fn store(&self, keys: BTreeMap<String, Key>) {
        if let Ok(mut l) = self.loaded.write() {
            l.keys = keys;
            l.reloaded_at = Some(Instant::now());
        }
    }

    /// The key that signs new tokens.
    pub fn current(&self) -> Option<Key> {
        self.loaded
            .read()
            .ok()
            .and_then(|l| l.keys.values().next_back().cloned())
    }

    /// The key with this id, re-reading the directory (at most every 10 s) if it is unknown.
    pub fn find(&self, kid: &str) -> Option<Key> {
        let (found, stale) = match self.loaded.read() {
            Ok(l) => (
                l.keys.get(kid).cloned(),
                l.reloaded_at.is_none_or(|t| t.elapsed() >= RELOAD_INTERVAL),
            ),
            Err(_) => (None, false),
        };
        if found.is_some() || !stale {
            return found;
        }
        if let Err(e) = self.reload() {
            tracing::warn!(error = %e, "cannot re-read the signing keys");
        }
        self.loaded
            .read()
            .ok()
            .and_then(|l| l.keys.get(kid).cloned())
    }

    /// Whether the key is (still) loaded; never re-reads the directory.
    pub fn contains(&self, kid: &str) -> bool {
        self.loaded.read().is_ok_and(|l| l.keys.contains_key(kid))
    }

    pub fn kids(&self) -> Vec<String> {
        self.loaded
            .read()
            .map(|l| l.keys.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// The public keys as a JSON Web Key Set (RFC 7517, OKP keys per RFC 8037).
    pub fn jwks(&self) -> serde_json::Value {
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let keys: Vec<_> = self
            .loaded
            .read()
            .map(|l| {
                l.keys
                    .values()
                    .map(|k| {
                        serde_json::json!({
                            "kty": "OKP",
                            "crv": "Ed25519",
                            "alg": "EdDSA",
                            "use": "sig",
                            "kid": k.kid,
                            "x": b64.encode(k.public),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        serde_json::json!({ "keys": keys })
    }
}

fn key(kid: &str, seed: &[u8; 32]) -> Result<Key, String> {
    let signing = SigningKey::from_bytes(seed);
    let der = signing
        .to_pkcs8_der()
        .map_err(|e| format!("cannot encode signing key {kid}: {e}"))?;
    let public = signing.verifying_key().to_bytes();
    Ok(Key {
        kid: kid.to_owned(),
        encoding: EncodingKey::from_ed_der(der.as_bytes()),
        decoding: DecodingKey::from_ed_der(&public),
        public,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_rotates_and_retires() {
        let dir = tempfile::tempdir().unwrap();
        let set = KeySet::open(&dir.path().join("signing")).unwrap();
        let first = set.current().unwrap().kid;
        let second = set.rotate().unwrap();
        assert!(second > first, "newer keys sort last");
        assert_eq!(set.current().unwrap().kid, second);
        assert_eq!(set.jwks()["keys"].as_array().unwrap().len(), 2);
        assert!(set.retire("nope").is_err());
        set.retire(&first).unwrap();
        assert!(set.find(&first).is_none());
        assert!(set.retire(&second).is_err(), "the last key stays");

        // Another process's rotation is picked up by a daemon that meets its key id.
        let other = KeySet::open(&dir.path().join("signing")).unwrap();
        let third = other.rotate().unwrap();
        if let Ok(mut l) = set.loaded.write() {
            l.reloaded_at = None;
        }
        assert!(set.find(&third).is_some());
    }

    #[test]
    fn a_damaged_key_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("x.key"), b"short").unwrap();
        let e = KeySet::open(dir.path()).unwrap_err();
        assert!(e.contains("x.key") && e.contains("32 bytes"), "{e}");
    }
}
