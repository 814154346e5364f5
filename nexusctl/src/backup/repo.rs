//! A backup repository: its objects, keys, index and snapshot records.
//!
//! Layout (object names under the repository URL):
//! - `config`: format, id, chunker settings and recipients (plain JSON, with a MAC under the
//!   repository key so nobody can swap in their own recipients);
//! - `keys/passphrase` or `keys/recipients`: the repository key (and, with a passphrase, the
//!   repository's age identity), age-encrypted to the passphrase or the recipients;
//! - `data/XX/ID`: packs — several compressed chunks, age-encrypted together; ID is the
//!   BLAKE3 hash of the stored bytes, so damage shows without any key;
//! - `index/ID`: where each chunk of pack ID lies (sealed);
//! - `snapshots/ID`: one record per backup (sealed);
//! - `locks/ID`: who is writing (a backup) or rewriting (prune) the repository.
//!
//! A pack is written before its index, and a snapshot record only after every pack it needs:
//! an interrupted backup leaves packs that the next one reuses, never a snapshot with holes.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use age::secrecy::SecretString;
use anyhow::{Context, Result, anyhow, bail};
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path as ObjPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use serde::{Deserialize, Serialize};

use super::crypto::{self, ChunkId, RepoKey, hex, unhex32};
use crate::cli::fail;

pub const FORMAT: u32 = 1;

/// Content-defined chunking bounds (bytes). Average 1 MiB, as restic.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct ChunkerParams {
    pub min: u32,
    pub avg: u32,
    pub max: u32,
}

impl Default for ChunkerParams {
    fn default() -> Self {
        Self {
            min: 256 * 1024,
            avg: 1024 * 1024,
            max: 4 * 1024 * 1024,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyMode {
    Passphrase,
    Recipients,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RepoConfig {
    pub format: u32,
    pub id: String,
    pub created: String,
    pub mode: KeyMode,
    /// Contents are encrypted to these (age1… or ssh-… text).
    pub recipients: Vec<String>,
    pub chunker: ChunkerParams,
    pub zstd_level: i32,
}

#[derive(Serialize, Deserialize)]
struct SignedConfig {
    body: String,
    mac: String,
}

#[derive(Serialize, Deserialize)]
struct KeyFile {
    /// The repository key, hex.
    key: String,
    /// The repository's age identity (passphrase repositories only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    identity: Option<String>,
}

/// How the operator unlocks a repository.
#[derive(Default)]
pub struct Credentials {
    pub passphrase: Option<SecretString>,
    pub identities: crypto::Identities,
    /// Where this instance keeps the repository key of recipient repositories it writes to.
    pub local_keys: Option<PathBuf>,
}

/// What a command needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Write backups and read the records (not the contents).
    Write,
    /// Read everything.
    Read,
}

/// Where a chunk is stored.
#[derive(Debug, Clone, Copy)]
pub struct Location {
    pub pack: [u8; 32],
    pub offset: u32,
    pub len: u32,
    pub raw_len: u32,
    pub compressed: bool,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct IndexEntry {
    pub id: String,
    #[serde(rename = "o")]
    pub offset: u32,
    #[serde(rename = "l")]
    pub len: u32,
    #[serde(rename = "r")]
    pub raw_len: u32,
    #[serde(rename = "z")]
    pub compressed: bool,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct PackIndex {
    pub pack: String,
    pub chunks: Vec<IndexEntry>,
}

/// One backup.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Snapshot {
    pub id: String,
    /// RFC 3339, UTC.
    pub time: String,
    pub host: String,
    pub nexus_version: String,
    /// `sqlite` or `postgres`.
    pub database: String,
    pub secrets: bool,
    /// The instance's `blobs.url` setting when it was backed up.
    pub blobs_url: String,
    pub state_dir: String,
    /// The chunks of the file list (JSON, encrypted like the contents).
    pub tree: Vec<String>,
    pub files: u64,
    pub bytes: u64,
    /// Bytes this backup added to the repository (after deduplication and compression).
    pub added_bytes: u64,
    /// Bytes this backup read; the rest it took from the files cache, unchanged since the
    /// previous backup.
    #[serde(default)]
    pub read_bytes: u64,
}

/// One file of a snapshot.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TreeEntry {
    /// `state/…` (config, secrets), `database/…` (the dump) or `blobs/…` (blob keys).
    pub path: String,
    pub size: u64,
    /// BLAKE3 of the whole content, hex: restore checks every file against it.
    pub hash: String,
    #[serde(default)]
    pub mode: u32,
    pub chunks: Vec<String>,
}

pub struct Repo {
    pub store: Arc<dyn ObjectStore>,
    pub url: String,
    pub config: RepoConfig,
    pub key: RepoKey,
    pub recipients: Arc<Vec<Box<dyn age::Recipient + Send + Sync>>>,
    pub identities: Arc<crypto::Identities>,
}

pub fn open_store(url: &str, create: bool) -> Result<(Arc<dyn ObjectStore>, String)> {
    let url = if url.starts_with("file://") || url.starts_with("s3://") {
        url.to_owned()
    } else if url.contains("://") {
        return fail(
            2,
            format!(
                "`{url}` is not a repository URL: use a directory, file:///path or s3://bucket/prefix"
            ),
        );
    } else {
        // A plain path.
        let p = Path::new(url);
        let abs = if p.is_absolute() {
            p.to_path_buf()
        } else {
            std::env::current_dir()?.join(p)
        };
        format!("file://{}", abs.display())
    };
    match nexus_store::open_object_store(&url, Path::new("/"), create) {
        Ok(x) => Ok(x),
        Err(nexus_store::StoreError::BlobUrl { cause, .. })
            if cause.ends_with("is not a directory") =>
        {
            fail(
                2,
                format!(
                    "there is no backup repository at {url}: create one with `nexusctl backup init --repo {url} …`"
                ),
            )
        }
        Err(nexus_store::StoreError::BlobUrl { cause, .. }) => {
            fail(2, format!("cannot open the repository {url}: {cause}"))
        }
        Err(e) => fail(2, format!("cannot open the repository {url}: {e}")),
    }
}

pub fn obj(name: &str) -> ObjPath {
    ObjPath::from(name)
}

pub fn pack_name(id: &[u8; 32]) -> String {
    let h = hex(id);
    format!("data/{}/{h}", &h[..2])
}

impl Repo {
    /// Creates a repository; fails if there is one already.
    pub async fn init(url: &str, creds: &Credentials, recipients: Vec<String>) -> Result<Self> {
        let (store, display) = open_store(url, true)?;
        if get_opt(&store, "config").await?.is_some() {
            return fail(
                2,
                format!("{display} already holds a backup repository; nothing was changed"),
            );
        }
        let key = RepoKey::generate();
        let (mode, recipients, key_object, key_file) = if let Some(pass) = &creds.passphrase {
            if !recipients.is_empty() {
                return fail(2, "give either a passphrase file or recipients, not both");
            }
            let (secret, public) = crypto::new_repo_identity();
            let file = KeyFile {
                key: hex(key.raw()),
                identity: Some(crypto::expose(&secret).to_owned()),
            };
            let sealed = crypto::age_encrypt_passphrase(pass, &serde_json::to_vec(&file)?)?;
            (KeyMode::Passphrase, vec![public], "keys/passphrase", sealed)
        } else if !recipients.is_empty() {
            let parsed = recipients
                .iter()
                .map(|r| crypto::parse_recipient(r))
                .collect::<Result<Vec<_>>>()?;
            let file = KeyFile {
                key: hex(key.raw()),
                identity: None,
            };
            let sealed = crypto::age_encrypt(&parsed, &serde_json::to_vec(&file)?)?;
            (KeyMode::Recipients, recipients, "keys/recipients", sealed)
        } else {
            return fail(
                2,
                "a repository needs a key: pass --passphrase-file FILE, or --recipient KEY / --recipients-file FILE",
            );
        };
        let config = RepoConfig {
            format: FORMAT,
            id: random_id(),
            created: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            mode,
            recipients,
            chunker: ChunkerParams::default(),
            zstd_level: 3,
        };
        put(&store, key_object, key_file).await?;
        let body = serde_json::to_string(&config)?;
        let signed = SignedConfig {
            mac: hex(&key.mac(body.as_bytes())),
            body,
        };
        // The config is written last: a repository without one does not exist.
        put(&store, "config", serde_json::to_vec(&signed)?).await?;
        if mode == KeyMode::Recipients
            && let Some(dir) = &creds.local_keys
        {
            save_local_key(dir, &config.id, &key)?;
        }
        Self::assemble(store, display, config, key, Vec::new())
    }

    pub async fn open(url: &str, creds: Credentials, access: Access) -> Result<Self> {
        let (store, display) = open_store(url, false)?;
        let Some(raw) = get_opt(&store, "config").await? else {
            return fail(
                2,
                format!(
                    "there is no backup repository at {display}: create one with `nexusctl backup init --repo {url} …`"
                ),
            );
        };
        let signed: SignedConfig = serde_json::from_slice(&raw)
            .map_err(|e| anyhow!("the repository's config is damaged: {e}"))?;
        let config: RepoConfig = serde_json::from_str(&signed.body)
            .map_err(|e| anyhow!("the repository's config is damaged: {e}"))?;
        if config.format != FORMAT {
            return fail(
                2,
                format!(
                    "the repository at {display} has format {}, which this nexusctl does not know: use a newer release",
                    config.format
                ),
            );
        }
        let Credentials {
            passphrase,
            mut identities,
            local_keys,
        } = creds;
        let key = match config.mode {
            KeyMode::Passphrase => {
                let Some(pass) = &passphrase else {
                    return fail(
                        2,
                        "this repository is protected by a passphrase: pass --passphrase-file FILE",
                    );
                };
                let sealed = get_required(&store, "keys/passphrase").await?;
                let file: KeyFile = serde_json::from_slice(&crypto::age_decrypt_passphrase(
                    pass,
                    &sealed,
                    "the repository's key",
                )?)
                .map_err(|e| anyhow!("the repository's key is damaged: {e}"))?;
                let identity = file
                    .identity
                    .as_deref()
                    .ok_or_else(|| anyhow!("the repository's key has no identity"))?;
                identities = vec![crypto::parse_identity(identity)?];
                key_from_hex(&file.key)?
            }
            KeyMode::Recipients => {
                if !identities.is_empty() {
                    let sealed = get_required(&store, "keys/recipients").await?;
                    let file: KeyFile = serde_json::from_slice(&crypto::age_decrypt(
                        &identities,
                        &sealed,
                        "the repository's key",
                    )?)
                    .map_err(|e| anyhow!("the repository's key is damaged: {e}"))?;
                    let key = key_from_hex(&file.key)?;
                    if let Some(dir) = &local_keys {
                        // Remember it, so backups from here need no identity from now on.
                        let _ = save_local_key(dir, &config.id, &key);
                    }
                    key
                } else if let Some(key) = local_keys
                    .as_deref()
                    .and_then(|d| load_local_key(d, &config.id))
                {
                    key
                } else {
                    return fail(
                        2,
                        "this repository is encrypted to recipients and this instance holds no key for it: \
                         pass --identity FILE (the age identity or SSH key of a recipient)",
                    );
                }
            }
        };
        if hex(&key.mac(signed.body.as_bytes())) != signed.mac {
            return fail(
                3,
                "the repository's config does not match its key: it was altered; do not write to it",
            );
        }
        if access == Access::Read && identities.is_empty() {
            return fail(
                2,
                "reading this repository's contents needs a recipient's identity: pass --identity FILE",
            );
        }
        Self::assemble(store, display, config, key, identities)
    }

    fn assemble(
        store: Arc<dyn ObjectStore>,
        url: String,
        config: RepoConfig,
        key: RepoKey,
        identities: crypto::Identities,
    ) -> Result<Self> {
        let recipients = config
            .recipients
            .iter()
            .map(|r| crypto::parse_recipient(r))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            store,
            url,
            config,
            key,
            recipients: Arc::new(recipients),
            identities: Arc::new(identities),
        })
    }

    /// Every pack index, read and authenticated; damaged ones are returned as problems.
    pub async fn read_indexes(&self) -> Result<(Vec<PackIndex>, Vec<String>)> {
        let names = self.list("index/").await?;
        let key = &self.key;
        let store = &self.store;
        let results: Vec<Result<PackIndex>> =
            futures::stream::iter(names.into_iter().map(|(name, _)| async move {
                let sealed = get_required(store, &name).await?;
                let plain = key.open(&name, &sealed)?;
                let plain =
                    zstd::decode_all(&plain[..]).map_err(|e| anyhow!("{name} is damaged: {e}"))?;
                let index: PackIndex = serde_json::from_slice(&plain)
                    .map_err(|e| anyhow!("{name} is damaged: {e}"))?;
                if format!("index/{}", index.pack) != name {
                    bail!("{name} describes another pack: it was altered");
                }
                Ok(index)
            }))
            .buffer_unordered(16)
            .collect()
            .await;
        let mut indexes = Vec::new();
        let mut problems = Vec::new();
        for r in results {
            match r {
                Ok(i) => indexes.push(i),
                Err(e) => problems.push(format!("{e:#}")),
            }
        }
        Ok((indexes, problems))
    }

    /// Every indexed chunk; fails on a damaged index.
    pub async fn load_index(&self) -> Result<HashMap<ChunkId, Location>> {
        let (indexes, problems) = self.read_indexes().await?;
        if let Some(p) = problems.first() {
            bail!("{p} (run `nexusctl backup verify`)");
        }
        index_map(&indexes)
    }

    /// Names (and sizes, modification times) of the objects under `prefix`.
    pub async fn list(&self, prefix: &str) -> Result<Vec<(String, u64)>> {
        let prefix_path = obj(prefix.trim_end_matches('/'));
        let metas: Vec<_> = self
            .store
            .list(Some(&prefix_path))
            .try_collect()
            .await
            .with_context(|| format!("cannot list {prefix} in the repository {}", self.url))?;
        Ok(metas
            .into_iter()
            .map(|m| (m.location.to_string(), m.size))
            .collect())
    }

    pub async fn snapshots(&self) -> Result<Vec<Snapshot>> {
        let names = self.list("snapshots/").await?;
        let mut out = Vec::new();
        for (name, _) in names {
            let sealed = get_required(&self.store, &name).await?;
            let snap: Snapshot = serde_json::from_slice(&self.key.open(&name, &sealed)?)
                .map_err(|e| anyhow!("{name} is damaged: {e}"))?;
            if format!("snapshots/{}", snap.id) != name {
                bail!("{name} describes another snapshot: it was altered");
            }
            out.push(snap);
        }
        out.sort_by(|a, b| a.time.cmp(&b.time).then(a.id.cmp(&b.id)));
        Ok(out)
    }

    pub async fn write_snapshot(&self, snap: &Snapshot) -> Result<()> {
        let name = format!("snapshots/{}", snap.id);
        put(
            &self.store,
            &name,
            self.key.seal(&name, &serde_json::to_vec(snap)?)?,
        )
        .await
    }

    /// The snapshot `wanted` names (an id or a unique prefix), or the newest.
    pub async fn find_snapshot(&self, wanted: Option<&str>) -> Result<Snapshot> {
        let snaps = self.snapshots().await?;
        match wanted {
            None => match snaps.last() {
                Some(s) => Ok(s.clone()),
                None => fail(
                    2,
                    format!("the repository {} has no snapshots yet", self.url),
                ),
            },
            Some(w) => {
                let found: Vec<_> = snaps.iter().filter(|s| s.id.starts_with(w)).collect();
                match found.as_slice() {
                    [one] => Ok((*one).clone()),
                    [] => fail(
                        2,
                        format!("there is no snapshot {w} (see `nexusctl backup list`)"),
                    ),
                    _ => fail(
                        2,
                        format!("{w} matches several snapshots: give more of the id"),
                    ),
                }
            }
        }
    }
}

pub fn index_map(indexes: &[PackIndex]) -> Result<HashMap<ChunkId, Location>> {
    let mut map = HashMap::new();
    for index in indexes {
        let pack =
            unhex32(&index.pack).ok_or_else(|| anyhow!("index/{} is damaged", index.pack))?;
        for c in &index.chunks {
            let id = unhex32(&c.id).ok_or_else(|| anyhow!("index/{} is damaged", index.pack))?;
            map.insert(
                id,
                Location {
                    pack,
                    offset: c.offset,
                    len: c.len,
                    raw_len: c.raw_len,
                    compressed: c.compressed,
                },
            );
        }
    }
    Ok(map)
}

/// Reads packs back: fetched, checked against their name, decrypted, and kept for a while.
pub struct PackReader<'a> {
    repo: &'a Repo,
    cache: Vec<([u8; 32], Arc<Vec<u8>>)>,
    ahead: Option<ReadAhead>,
}

/// A pack's id and plaintext.
type DecryptedPack = ([u8; 32], Arc<Vec<u8>>);

/// Packs being fetched and decrypted on other threads, in the order they will be needed.
struct ReadAhead {
    rx: tokio::sync::mpsc::Receiver<Result<DecryptedPack>>,
    /// Packs already received (asked for again after leaving the cache: read directly).
    received: std::collections::HashSet<[u8; 32]>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for ReadAhead {
    fn drop(&mut self) {
        self.task.abort();
    }
}

const PACKS_CACHED: usize = 6;
/// Packs decrypted ahead and waiting to be used.
const PACKS_AHEAD: usize = 2;

impl<'a> PackReader<'a> {
    pub fn new(repo: &'a Repo) -> Self {
        Self {
            repo,
            cache: Vec::new(),
            ahead: None,
        }
    }

    /// Fetches, checks and decrypts the packs in `order` on other threads while the caller
    /// works on the ones before (a restore decompresses, hashes and writes while the next
    /// pack is decrypted). Packs asked for out of this order are read as usual. Outside a
    /// Tokio runtime this does nothing.
    pub fn read_ahead(&mut self, order: Vec<[u8; 32]>) {
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let (tx, rx) = tokio::sync::mpsc::channel(PACKS_AHEAD);
        let store = self.repo.store.clone();
        let identities = self.repo.identities.clone();
        let task = rt.spawn(async move {
            for id in order {
                let loaded = load_pack(&store, &identities, id).await;
                let failed = loaded.is_err();
                if tx.send(loaded.map(|p| (id, p))).await.is_err() || failed {
                    return;
                }
            }
        });
        self.ahead = Some(ReadAhead {
            rx,
            received: std::collections::HashSet::new(),
            task,
        });
    }

    pub async fn pack(&mut self, id: &[u8; 32]) -> Result<Arc<Vec<u8>>> {
        if let Some(pos) = self.cache.iter().position(|(p, _)| p == id) {
            let hit = self.cache.remove(pos);
            let data = hit.1.clone();
            self.cache.push(hit);
            return Ok(data);
        }
        if let Some(ahead) = &mut self.ahead
            && !ahead.received.contains(id)
        {
            while let Some(next) = ahead.rx.recv().await {
                let (got, data) = next?;
                ahead.received.insert(got);
                remember(&mut self.cache, got, data.clone());
                if &got == id {
                    return Ok(data);
                }
            }
        }
        let plain = load_pack(&self.repo.store, &self.repo.identities, *id).await?;
        remember(&mut self.cache, *id, plain.clone());
        Ok(plain)
    }

    /// A chunk's plaintext, checked against its id.
    pub async fn chunk(&mut self, id: &ChunkId, loc: &Location) -> Result<Vec<u8>> {
        let pack = self.pack(&loc.pack).await?;
        let start = loc.offset as usize;
        let stored = pack
            .get(start..start + loc.len as usize)
            .ok_or_else(|| anyhow!("pack {} is shorter than its index says", hex(&loc.pack)))?;
        let data = if loc.compressed {
            zstd::bulk::decompress(stored, loc.raw_len as usize)
                .map_err(|e| anyhow!("chunk {} is damaged: {e}", hex(id)))?
        } else {
            stored.to_vec()
        };
        if data.len() != loc.raw_len as usize || &self.repo.key.chunk_id(&data) != id {
            bail!(
                "chunk {} is damaged (its content does not match its id)",
                hex(id)
            );
        }
        Ok(data)
    }
}

fn remember(cache: &mut Vec<([u8; 32], Arc<Vec<u8>>)>, id: [u8; 32], plain: Arc<Vec<u8>>) {
    if cache.len() >= PACKS_CACHED {
        cache.remove(0);
    }
    cache.push((id, plain));
}

/// A pack's plaintext: fetched, checked against its name, decrypted (on a blocking thread).
async fn load_pack(
    store: &Arc<dyn ObjectStore>,
    identities: &Arc<crypto::Identities>,
    id: [u8; 32],
) -> Result<Arc<Vec<u8>>> {
    let name = pack_name(&id);
    let stored = get_required(store, &name).await?;
    let identities = identities.clone();
    tokio::task::spawn_blocking(move || {
        if blake3::hash(&stored).as_bytes() != &id {
            bail!("pack {name} is damaged (its content does not match its name)");
        }
        crypto::age_decrypt(&identities, &stored, &format!("pack {name}")).map(Arc::new)
    })
    .await
    .map_err(|_| anyhow!("reading a pack of the repository failed"))?
}

/// Writes a pack's index (after the pack itself).
pub async fn write_index(
    store: &Arc<dyn ObjectStore>,
    key: &RepoKey,
    index: &PackIndex,
) -> Result<()> {
    let name = format!("index/{}", index.pack);
    let plain = zstd::encode_all(&serde_json::to_vec(index)?[..], 3)?;
    put(store, &name, key.seal(&name, &plain)?).await
}

pub async fn put(store: &Arc<dyn ObjectStore>, name: &str, data: Vec<u8>) -> Result<()> {
    store
        .put(&obj(name), PutPayload::from(Bytes::from(data)))
        .await
        .with_context(|| format!("cannot write {name} to the repository"))?;
    Ok(())
}

pub async fn get_opt(store: &Arc<dyn ObjectStore>, name: &str) -> Result<Option<Vec<u8>>> {
    match store.get(&obj(name)).await {
        Ok(r) => Ok(Some(
            r.bytes()
                .await
                .with_context(|| format!("cannot read {name} from the repository"))?
                .to_vec(),
        )),
        Err(object_store::Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(anyhow!("cannot read {name} from the repository: {e}")),
    }
}

pub async fn get_required(store: &Arc<dyn ObjectStore>, name: &str) -> Result<Vec<u8>> {
    get_opt(store, name).await?.ok_or_else(|| {
        anyhow!("{name} is missing from the repository (run `nexusctl backup verify`)")
    })
}

pub async fn delete(store: &Arc<dyn ObjectStore>, name: &str) -> Result<()> {
    match store.delete(&obj(name)).await {
        Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
        Err(e) => Err(anyhow!("cannot delete {name} from the repository: {e}")),
    }
}

pub fn random_id() -> String {
    let mut b = [0u8; 8];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut b);
    hex(&b)
}

fn key_from_hex(s: &str) -> Result<RepoKey> {
    unhex32(s)
        .map(RepoKey::from_raw)
        .ok_or_else(|| anyhow!("the repository's key is damaged"))
}

fn local_key_path(dir: &Path, repo_id: &str) -> PathBuf {
    dir.join(format!("{repo_id}.key"))
}

fn save_local_key(dir: &Path, repo_id: &str, key: &RepoKey) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    std::fs::DirBuilder::new()
        .mode(0o700)
        .recursive(true)
        .create(dir)
        .with_context(|| format!("cannot create {}", dir.display()))?;
    let path = local_key_path(dir, repo_id);
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    f.write_all(hex(key.raw()).as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, &path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

fn load_local_key(dir: &Path, repo_id: &str) -> Option<RepoKey> {
    let text = std::fs::read_to_string(local_key_path(dir, repo_id)).ok()?;
    key_from_hex(text.trim()).ok()
}
