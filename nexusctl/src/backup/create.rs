//! `backup create`: a consistent snapshot of a running instance, without stopping anything.
//!
//! The database is copied first (`nexusd dump`: SQLite `VACUUM INTO` / `pg_dump`, each one
//! consistent transaction), then the config, the secrets if asked, and the blobs. Blobs are
//! read after the database copy, so every blob that copy refers to is there to be read.
//!
//! The work is shared: one thread reads files, cuts them into content-defined chunks
//! (FastCDC) and names each by its keyed hash, skipping chunks the repository already has;
//! packing threads (one per core) compress new chunks (zstd), gather them into packs,
//! encrypt each pack (age) and upload it with its index. The snapshot record is written last.

use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
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
        buf: Vec::new(),
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
    // A failure to store outranks the reading error it caused (the chunker stops when the
    // packers are gone).
    let added_bytes = packer.finish()?;
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
    /// The read buffer, kept from file to file.
    buf: Vec<u8>,
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
        let mut buf = std::mem::take(&mut self.buf);
        let result = cut(reader, self.params, &mut buf, |chunk| {
            hasher.update(chunk);
            size += chunk.len() as u64;
            self.progress.inc(chunk.len() as u64);
            let id = self.key.chunk_id(chunk);
            ids.push(id);
            if self.known.insert(id) && self.tx.send((id, chunk.to_vec())).is_err() {
                bail!("the backup stopped while storing data");
            }
            Ok(())
        });
        self.buf = buf;
        result.with_context(|| format!("cannot read {what}"))?;
        Ok((ids, (size, hasher.finalize().to_hex().to_string())))
    }
}

/// Cuts what `reader` yields into content-defined chunks (FastCDC 2020, the cut points of
/// `fastcdc::v2020::StreamCDC`) and hands each to `each`, in order.
///
/// Written here rather than using `StreamCDC` because that allocates and zeroes a buffer of
/// the largest chunk size for every file, and copies every byte twice more (draining its
/// buffer, then re-zeroing it): with thousands of small files that was a fifth of a backup's
/// time. This one reads into `buf` (kept from file to file), cuts the slice with
/// `fastcdc::v2020::FastCDC`, and moves only the unfinished last chunk to the front before
/// reading on: a chunk that ends where the data read so far ends is not final, since more
/// data may move its cut.
pub(super) fn cut(
    mut reader: impl Read,
    params: repo::ChunkerParams,
    buf: &mut Vec<u8>,
    mut each: impl FnMut(&[u8]) -> Result<()>,
) -> Result<()> {
    // Room for several chunks of the largest size, so only a small share is ever moved.
    let want = 4 * params.max as usize;
    if buf.len() < want {
        *buf = vec![0; want];
    }
    let mut filled = 0usize;
    let mut eof = false;
    loop {
        while !eof && filled < buf.len() {
            match reader.read(&mut buf[filled..]) {
                Ok(0) => eof = true,
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
        if filled == 0 {
            return Ok(());
        }
        let mut done = 0usize;
        let data = &buf[..filled];
        for c in fastcdc::v2020::FastCDC::new(data, params.min, params.avg, params.max) {
            let end = c.offset + c.length;
            if !eof && end == filled {
                break;
            }
            each(&data[c.offset..end])?;
            done = end;
        }
        if eof {
            return Ok(());
        }
        buf.copy_within(done..filled, 0);
        filled -= done;
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
pub(super) type ChunkSender = SyncSender<NewChunk>;

/// A chunk the repository does not have: its id and plaintext.
pub(super) type NewChunk = (ChunkId, Vec<u8>);

/// The packing threads; [`Packer::finish`] waits for them.
pub(super) struct Packer {
    threads: Vec<std::thread::JoinHandle<Result<u64>>>,
}

impl Packer {
    /// Waits for every packing thread (the sender must be dropped first): the bytes they
    /// added, or the first reason storing failed.
    pub(super) fn finish(self) -> Result<u64> {
        let mut added = 0u64;
        let mut first_error = None;
        for t in self.threads {
            match t.join() {
                Ok(Ok(n)) => added += n,
                Ok(Err(e)) => {
                    first_error.get_or_insert(e);
                }
                Err(_) => {
                    first_error.get_or_insert(anyhow!("a packing thread of the backup failed"));
                }
            }
        }
        first_error.map_or(Ok(added), Err)
    }
}

/// Starts the packing threads, one per core (up to four): chunks sent to them are
/// compressed, gathered into packs, encrypted and stored. Compression and encryption are
/// most of a first backup's work, so they run on every core while the chunker reads.
pub(super) fn spawn_packer(
    repo: &Repo,
    rt: &tokio::runtime::Handle,
    lock: &super::lock::Held,
) -> Result<(ChunkSender, Packer)> {
    let (tx, rx) = sync_channel::<NewChunk>(16);
    let rx = Arc::new(Mutex::new(rx));
    // A thread that fails raises this, and the others stop: the chunker sees the channel
    // close and stops too.
    let failed = Arc::new(AtomicBool::new(false));
    let count = std::thread::available_parallelism().map_or(2, |n| n.get().clamp(1, 4));
    let mut threads = Vec::with_capacity(count);
    for n in 0..count {
        let job = PackJob {
            rx: rx.clone(),
            failed: failed.clone(),
            store: repo.store.clone(),
            recipients: repo.recipients.clone(),
            key: repo.key.clone(),
            level: repo.config.zstd_level,
            rt: rt.clone(),
            lock: lock.clone(),
        };
        threads.push(
            std::thread::Builder::new()
                .name(format!("backup-packer-{n}"))
                .spawn(move || {
                    let result = job.run();
                    if result.is_err() {
                        job.failed.store(true, Ordering::Release);
                    }
                    result
                })?,
        );
    }
    Ok((tx, Packer { threads }))
}

struct PackJob {
    rx: Arc<Mutex<Receiver<NewChunk>>>,
    failed: Arc<AtomicBool>,
    store: Arc<dyn ObjectStore>,
    recipients: Arc<Vec<Box<dyn age::Recipient + Send + Sync>>>,
    key: RepoKey,
    level: i32,
    rt: tokio::runtime::Handle,
    lock: super::lock::Held,
}

impl PackJob {
    fn next(&self) -> Option<NewChunk> {
        if self.failed.load(Ordering::Acquire) {
            return None;
        }
        // A poisoned lock means another packer panicked: stop too.
        self.rx.lock().ok()?.recv().ok()
    }

    /// Compress, gather, encrypt, upload until the chunker is done. Returns the bytes added.
    fn run(&self) -> Result<u64> {
        let mut buf: Vec<u8> = Vec::with_capacity(PACK_TARGET + 4 * 1024 * 1024);
        let mut entries: Vec<(ChunkId, Location)> = Vec::new();
        let mut added = 0u64;
        let mut compressor = zstd::bulk::Compressor::new(self.level)?;
        while let Some((id, data)) = self.next() {
            let raw_len = u32::try_from(data.len())?;
            let packed = compressor.compress(&data)?;
            let (bytes, compressed) = if packed.len() < data.len() {
                (packed, true)
            } else {
                (data, false)
            };
            let loc = Location {
                pack: [0; 32],
                offset: u32::try_from(buf.len())?,
                len: u32::try_from(bytes.len())?,
                raw_len,
                compressed,
            };
            buf.extend_from_slice(&bytes);
            entries.push((id, loc));
            if buf.len() >= PACK_TARGET {
                added += self.flush(&mut buf, &mut entries)?;
            }
        }
        if self.failed.load(Ordering::Acquire) {
            return Ok(added);
        }
        added += self.flush(&mut buf, &mut entries)?;
        Ok(added)
    }

    fn flush(&self, buf: &mut Vec<u8>, entries: &mut Vec<(ChunkId, Location)>) -> Result<u64> {
        if entries.is_empty() {
            return Ok(0);
        }
        let sealed = super::crypto::age_encrypt(&self.recipients, buf)?;
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
        self.rt.block_on(async {
            repo::put(&self.store, &repo::pack_name(&id), sealed).await?;
            repo::write_index(&self.store, &self.key, &index).await?;
            self.lock.refresh(&self.store).await;
            Ok::<_, anyhow::Error>(())
        })?;
        buf.clear();
        entries.clear();
        Ok(n)
    }
}

pub fn hostname() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "unknown".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cuts_of(data: &[u8], params: repo::ChunkerParams, buf: &mut Vec<u8>) -> Vec<usize> {
        let mut lens = Vec::new();
        cut(data, params, buf, |c| {
            lens.push(c.len());
            Ok(())
        })
        .expect("reading a slice cannot fail");
        lens
    }

    #[test]
    fn cuts_where_streamcdc_cuts_whatever_the_file_size() {
        use rand::{RngCore, SeedableRng};
        // Small chunk sizes so a few MiB cross the read buffer many times.
        let params = repo::ChunkerParams {
            min: 4 * 1024,
            avg: 16 * 1024,
            max: 64 * 1024,
        };
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let mut data = vec![0u8; 3 * 1024 * 1024 + 12_345];
        rng.fill_bytes(&mut data);
        // Runs of equal bytes cut at the largest size: the case where a chunk ends exactly
        // where the buffer ends.
        data[1_000_000..1_400_000].fill(0);
        let mut buf = Vec::new();
        for len in [0, 1, 4095, 70_000, 256 * 1024, 256 * 1024 + 1, data.len()] {
            let part = &data[..len];
            let expected: Vec<usize> =
                fastcdc::v2020::StreamCDC::new(part, params.min, params.avg, params.max)
                    .map(|c| c.expect("a slice reads").length)
                    .collect();
            assert_eq!(cuts_of(part, params, &mut buf), expected, "{len} bytes");
        }
    }

    #[test]
    fn a_read_error_is_reported() {
        struct Failing;
        impl Read for Failing {
            fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
                Err(std::io::Error::other("disk on fire"))
            }
        }
        let err = cut(
            Failing,
            repo::ChunkerParams::default(),
            &mut Vec::new(),
            |_| Ok(()),
        )
        .expect_err("must fail");
        assert!(err.to_string().contains("disk on fire"), "{err}");
    }
}
