//! `backup create`: a consistent snapshot of a running instance, without stopping anything.
//!
//! The database is copied first (`nexusd dump`: SQLite `VACUUM INTO` / `pg_dump`, each one
//! consistent transaction), then the config, the secrets if asked, and the blobs. Blobs are
//! read after the database copy, so every blob that copy refers to is there to be read.
//!
//! Two threads share the work: one reads files, cuts them into content-defined chunks
//! (FastCDC) and names each by its keyed hash, skipping chunks the repository already has;
//! the other compresses new chunks (zstd), gathers them into packs, encrypts each pack (age)
//! and uploads it with its index. The snapshot record is written last.

use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::time::Instant;

use anyhow::{Context, Result, anyhow, bail};
use object_store::{GetResultPayload, ObjectStore, ObjectStoreExt};
use serde::Deserialize;

use super::crypto::{ChunkId, RepoKey, hex};
use super::files_cache::{FilesCache, Stamp};
use super::progress::Progress;
use super::repo::{self, IndexEntry, Location, PackIndex, Repo, Snapshot, TreeEntry};
use crate::cli::fail;
use crate::state::StateDir;

/// Packs are uploaded once they hold this much (before encryption).
const PACK_TARGET: usize = 8 * 1024 * 1024;

#[derive(Debug, Deserialize)]
struct DumpInfo {
    backend: String,
    blobs_url: String,
    configured_blobs_url: String,
    state_dir: String,
    version: String,
}

enum Source {
    File(PathBuf),
    Object(Arc<dyn ObjectStore>, object_store::path::Path),
}

struct Item {
    path: String,
    source: Source,
    size: u64,
    mode: u32,
    /// What identifies this version of the file for the files cache (none: always read).
    stamp: Option<Stamp>,
}

/// Removes the working directory (with the database copy) however the backup ends.
struct WorkDir(PathBuf);

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn create(
    repo: &Repo,
    rt: &tokio::runtime::Handle,
    state: &StateDir,
    nexusd: &Path,
    include_secrets: bool,
    progress: &Progress,
) -> Result<Snapshot> {
    if !state.is_provisioned() {
        return fail(
            2,
            format!(
                "{} has no config.toml: there is no instance to back up",
                state.root.display()
            ),
        );
    }
    let started = Instant::now();
    let lock = rt.block_on(super::lock::acquire(repo, super::lock::Kind::Backup))?;

    progress.phase("copying the database");
    let work = WorkDir(
        state
            .run_dir()
            .join(format!("backup-{}", std::process::id())),
    );
    {
        use std::os::unix::fs::DirBuilderExt;
        let _ = std::fs::remove_dir_all(&work.0);
        std::fs::DirBuilder::new()
            .mode(0o700)
            .recursive(true)
            .create(&work.0)
            .with_context(|| format!("cannot create {}", work.0.display()))?;
    }
    let dump_file = work.0.join("database.dump");
    let info = dump_database(nexusd, state, &dump_file)?;

    progress.phase("listing the files");
    // Loaded (and its clock read) before anything is listed: see files_cache.rs.
    let cache = FilesCache::load(&state.root, &repo.config.id);
    let mut items = Vec::new();
    push_file(
        &mut items,
        "state/config.toml".to_owned(),
        &state.config(),
        true,
    )?;
    if include_secrets {
        let secrets = state.root.join("secrets");
        if secrets.is_dir() {
            walk(&secrets, "state/secrets", &mut items)?;
        }
    }
    let db_name = if info.backend == "postgres" {
        "database/nexus.sql"
    } else {
        "database/nexus.sqlite"
    };
    // A fresh copy every time: never skipped by the files cache.
    push_file(&mut items, db_name.to_owned(), &dump_file, false)?;
    rt.block_on(list_blobs(&info.blobs_url, &mut items))?;

    let total: u64 = items.iter().map(|i| i.size).sum();
    progress.start_bytes(total, "backing up");

    let known = rt.block_on(repo.load_index())?;
    let known: HashSet<ChunkId> = known.into_keys().collect();

    let (tx, packer) = spawn_packer(repo, rt, &lock)?;

    let mut chunker = Chunker {
        key: &repo.key,
        params: repo.config.chunker,
        known,
        tx,
        rt,
        progress,
        cache,
        read_bytes: 0,
    };
    let mut tree = Vec::with_capacity(items.len());
    let mut read_result = Ok(());
    for item in items {
        match chunker.file(&item) {
            Ok(Some(entry)) => tree.push(entry),
            Ok(None) => {}
            Err(e) => {
                read_result = Err(e);
                break;
            }
        }
    }
    let bytes: u64 = tree.iter().map(|e| e.size).sum();
    let files = tree.len() as u64;
    let tree_chunks = match read_result {
        Ok(()) => {
            let json = serde_json::to_vec(&tree)?;
            chunker.bytes(&json).map(|(ids, _)| ids)
        }
        Err(e) => Err(e),
    };
    let cache = chunker.cache;
    let read_bytes = chunker.read_bytes;
    drop(chunker.tx);
    let packed = packer
        .join()
        .map_err(|_| anyhow!("the backup's packing thread failed"))?;
    // A failure to store outranks the reading error it caused (the chunker stops when the
    // packer is gone).
    let added_bytes = packed?;
    let tree_chunks = tree_chunks?;

    progress.phase("writing the snapshot");
    let snap = Snapshot {
        id: repo::random_id(),
        time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        host: hostname(),
        nexus_version: info.version,
        database: info.backend,
        secrets: include_secrets,
        blobs_url: info.configured_blobs_url,
        state_dir: info.state_dir,
        tree: tree_chunks.iter().map(|c| hex(c)).collect(),
        files,
        bytes,
        added_bytes,
        read_bytes,
    };
    rt.block_on(repo.write_snapshot(&snap))?;
    rt.block_on(super::lock::release(repo, &lock));
    if let Err(e) = cache.save() {
        progress.note(&format!("{e:#}; the next backup reads every file again"));
    }
    progress.finish(&format!(
        "snapshot {} saved: {} files, {} ({} read, the rest unchanged), {} added, in {:.1} s",
        snap.id,
        snap.files,
        super::progress::size(bytes),
        super::progress::size(read_bytes),
        super::progress::size(added_bytes),
        started.elapsed().as_secs_f64()
    ));
    Ok(snap)
}

fn dump_database(nexusd: &Path, state: &StateDir, out: &Path) -> Result<DumpInfo> {
    let stdout = crate::daemons::run_nexusd(
        nexusd,
        &[
            "dump".as_ref(),
            "--state-dir".as_ref(),
            state.root.as_os_str(),
            "--out".as_ref(),
            out.as_os_str(),
            "--json".as_ref(),
        ],
        "cannot copy the database",
    )?;
    serde_json::from_slice(&stdout).context("nexusd dump printed something unexpected")
}

fn push_file(items: &mut Vec<Item>, path: String, file: &Path, cacheable: bool) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let meta =
        std::fs::metadata(file).with_context(|| format!("cannot read {}", file.display()))?;
    items.push(Item {
        path,
        source: Source::File(file.to_owned()),
        size: meta.len(),
        mode: meta.permissions().mode() & 0o777,
        stamp: cacheable.then(|| Stamp::of_file(&meta)),
    });
    Ok(())
}

fn walk(dir: &Path, prefix: &str, items: &mut Vec<Item>) -> Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
        .collect::<std::io::Result<_>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name().to_string_lossy().into_owned();
        let path = format!("{prefix}/{name}");
        let ft = e.file_type()?;
        if ft.is_dir() {
            walk(&e.path(), &path, items)?;
        } else if ft.is_file() {
            push_file(items, path, &e.path(), true)?;
        }
    }
    Ok(())
}

async fn list_blobs(url: &str, items: &mut Vec<Item>) -> Result<()> {
    use futures::TryStreamExt;
    // No blob directory yet: nothing was ever stored.
    if let Some(dir) = url.strip_prefix("file://")
        && !Path::new(dir).exists()
    {
        return Ok(());
    }
    let (store, display) = nexus_store::open_object_store(url, Path::new("/"), false)
        .map_err(|e| anyhow!("cannot open the blob store: {e}"))?;
    let mut metas: Vec<_> = store
        .list(None)
        .try_collect()
        .await
        .with_context(|| format!("cannot list the blobs in {display}"))?;
    metas.sort_by(|a, b| a.location.cmp(&b.location));
    for m in metas {
        items.push(Item {
            path: format!("blobs/{}", m.location),
            stamp: Some(Stamp::of_object(&m)),
            source: Source::Object(store.clone(), m.location),
            size: m.size,
            mode: 0,
        });
    }
    Ok(())
}

struct Chunker<'a> {
    key: &'a RepoKey,
    params: repo::ChunkerParams,
    known: HashSet<ChunkId>,
    tx: ChunkSender,
    rt: &'a tokio::runtime::Handle,
    progress: &'a Progress,
    cache: FilesCache,
    /// Bytes read (not taken from the files cache).
    read_bytes: u64,
}

impl Chunker<'_> {
    /// One file's entry: from the files cache when it has not changed since the last backup,
    /// else read into chunks; `None` for a blob deleted since it was listed.
    fn file(&mut self, item: &Item) -> Result<Option<TreeEntry>> {
        if let Some(stamp) = &item.stamp
            && let Some(entry) = self.cache.lookup(&item.path, stamp, item.mode, &self.known)
        {
            self.progress.inc(item.size);
            self.cache.remember(&entry, stamp);
            return Ok(Some(entry));
        }
        let entry = self.read_file(item)?;
        if let Some(entry) = &entry {
            self.read_bytes += entry.size;
            if let Some(stamp) = &item.stamp {
                self.cache.remember(entry, stamp);
            }
        }
        Ok(entry)
    }

    fn read_file(&mut self, item: &Item) -> Result<Option<TreeEntry>> {
        let reader: Box<dyn Read> = match &item.source {
            Source::File(p) => Box::new(
                std::fs::File::open(p).with_context(|| format!("cannot read {}", p.display()))?,
            ),
            Source::Object(store, loc) => {
                let got = match self.rt.block_on(store.get(loc)) {
                    Ok(g) => g,
                    Err(object_store::Error::NotFound { .. }) => {
                        self.progress.inc(item.size);
                        self.progress.note(&format!(
                            "{} was deleted while backing up; skipped",
                            item.path
                        ));
                        return Ok(None);
                    }
                    Err(e) => bail!("cannot read {}: {e}", item.path),
                };
                match got.payload {
                    GetResultPayload::File(f, _) => Box::new(f),
                    GetResultPayload::Stream(s) => Box::new(StreamReader {
                        rt: self.rt.clone(),
                        stream: s,
                        buf: bytes::Bytes::new(),
                    }),
                }
            }
        };
        let (chunks, (size, hash)) = self.read(reader, &item.path)?;
        Ok(Some(TreeEntry {
            path: item.path.clone(),
            size,
            hash,
            mode: item.mode,
            chunks: chunks.iter().map(|c| hex(c)).collect(),
        }))
    }

    fn bytes(&mut self, data: &[u8]) -> Result<(Vec<ChunkId>, (u64, String))> {
        self.read(Box::new(data), "the file list")
    }

    fn read(
        &mut self,
        reader: Box<dyn Read + '_>,
        what: &str,
    ) -> Result<(Vec<ChunkId>, (u64, String))> {
        let mut hasher = blake3::Hasher::new();
        let mut ids = Vec::new();
        let mut size = 0u64;
        let cdc = fastcdc::v2020::StreamCDC::new(
            reader,
            self.params.min,
            self.params.avg,
            self.params.max,
        );
        for chunk in cdc {
            let chunk = chunk.map_err(|e| anyhow!("cannot read {what}: {e}"))?;
            hasher.update(&chunk.data);
            size += chunk.data.len() as u64;
            self.progress.inc(chunk.data.len() as u64);
            let id = self.key.chunk_id(&chunk.data);
            ids.push(id);
            if self.known.insert(id) && self.tx.send((id, chunk.data)).is_err() {
                bail!("the backup stopped while storing data");
            }
        }
        Ok((ids, (size, hasher.finalize().to_hex().to_string())))
    }
}

/// Adapts an object store's byte stream to `Read` for the chunker.
struct StreamReader {
    rt: tokio::runtime::Handle,
    stream: futures::stream::BoxStream<'static, object_store::Result<bytes::Bytes>>,
    buf: bytes::Bytes,
}

impl Read for StreamReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        use futures::StreamExt;
        while self.buf.is_empty() {
            match self.rt.block_on(self.stream.next()) {
                Some(Ok(b)) => self.buf = b,
                Some(Err(e)) => return Err(std::io::Error::other(e)),
                None => return Ok(0),
            }
        }
        let n = out.len().min(self.buf.len());
        out[..n].copy_from_slice(&self.buf[..n]);
        self.buf = self.buf.slice(n..);
        Ok(n)
    }
}

/// Where the chunker sends the chunks the repository does not have yet.
pub(super) type ChunkSender = SyncSender<(ChunkId, Vec<u8>)>;

/// The packing thread, joined for the bytes it added.
pub(super) type Packer = std::thread::JoinHandle<Result<u64>>;

/// Starts the packing thread; chunks sent to it are stored, and joining it says how many
/// bytes that added (or why storing failed).
pub(super) fn spawn_packer(
    repo: &Repo,
    rt: &tokio::runtime::Handle,
    lock: &super::lock::Held,
) -> Result<(ChunkSender, Packer)> {
    let (tx, rx) = sync_channel::<(ChunkId, Vec<u8>)>(16);
    let store = repo.store.clone();
    let recipients = repo.recipients.clone();
    let key = repo.key.clone();
    let level = repo.config.zstd_level;
    let rt = rt.clone();
    let lock = lock.clone();
    let handle = std::thread::Builder::new()
        .name("backup-packer".into())
        .spawn(move || pack_chunks(rx, store, recipients, key, level, rt, lock))?;
    Ok((tx, handle))
}

/// The packing thread: compress, gather, encrypt, upload. Returns the bytes it added.
fn pack_chunks(
    rx: Receiver<(ChunkId, Vec<u8>)>,
    store: Arc<dyn ObjectStore>,
    recipients: Arc<Vec<Box<dyn age::Recipient + Send + Sync>>>,
    key: RepoKey,
    level: i32,
    rt: tokio::runtime::Handle,
    lock: super::lock::Held,
) -> Result<u64> {
    let mut buf: Vec<u8> = Vec::with_capacity(PACK_TARGET + 4 * 1024 * 1024);
    let mut entries: Vec<(ChunkId, Location)> = Vec::new();
    let mut added = 0u64;
    let mut compressor = zstd::bulk::Compressor::new(level)?;
    let flush = |buf: &mut Vec<u8>, entries: &mut Vec<(ChunkId, Location)>| -> Result<u64> {
        if entries.is_empty() {
            return Ok(0);
        }
        let sealed = super::crypto::age_encrypt(&recipients, buf)?;
        let id = *blake3::hash(&sealed).as_bytes();
        let n = sealed.len() as u64;
        let index = PackIndex {
            pack: hex(&id),
            chunks: entries
                .iter()
                .map(|(c, l)| IndexEntry {
                    id: hex(c),
                    offset: l.offset,
                    len: l.len,
                    raw_len: l.raw_len,
                    compressed: l.compressed,
                })
                .collect(),
        };
        rt.block_on(async {
            repo::put(&store, &repo::pack_name(&id), sealed).await?;
            repo::write_index(&store, &key, &index).await?;
            lock.refresh(&store).await;
            Ok::<_, anyhow::Error>(())
        })?;
        buf.clear();
        entries.clear();
        Ok(n)
    };
    for (id, data) in rx {
        let packed = compressor.compress(&data)?;
        let (bytes, compressed) = if packed.len() < data.len() {
            (packed, true)
        } else {
            (data.clone(), false)
        };
        let loc = Location {
            pack: [0; 32],
            offset: u32::try_from(buf.len())?,
            len: u32::try_from(bytes.len())?,
            raw_len: u32::try_from(data.len())?,
            compressed,
        };
        buf.extend_from_slice(&bytes);
        entries.push((id, loc));
        if buf.len() >= PACK_TARGET {
            added += flush(&mut buf, &mut entries)?;
        }
    }
    added += flush(&mut buf, &mut entries)?;
    Ok(added)
}

pub fn hostname() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "unknown".to_owned())
}
