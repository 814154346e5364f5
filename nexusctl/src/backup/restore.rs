//! `nexusctl restore`: a complete instance from a snapshot, in a new state directory.
//!
//! Everything is written into a temporary sibling of the target and renamed into place only
//! when every file matched its checksum and the database loaded, so a wrong key, a damaged
//! chunk or a failed load never leaves something that looks like a restored instance.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, anyhow, bail};
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart};
use serde::Serialize;

use super::crypto::{hex, unhex32};
use super::progress::Progress;
use super::repo::{self, Location, PackReader, Repo, Snapshot, TreeEntry};
use crate::cli::fail;
use crate::provision::Staging;

pub struct Options<'a> {
    pub target: &'a Path,
    pub snapshot: Option<&'a str>,
    pub database_url: Option<&'a str>,
    pub blobs_url: Option<&'a str>,
    pub nexusd: &'a Path,
}

#[derive(Debug, Serialize)]
pub struct Restored {
    pub snapshot: String,
    pub time: String,
    pub state_dir: PathBuf,
    pub files: u64,
    pub bytes: u64,
    pub database: String,
    pub blobs_url: String,
    pub secrets: bool,
    pub seconds: f64,
}

/// Loads the file list of a snapshot.
pub async fn tree(
    index: &std::collections::HashMap<super::crypto::ChunkId, Location>,
    reader: &mut PackReader<'_>,
    snap: &Snapshot,
) -> Result<Vec<TreeEntry>> {
    let mut json = Vec::new();
    for c in &snap.tree {
        let id = unhex32(c).ok_or_else(|| anyhow!("snapshot {} is damaged", snap.id))?;
        let loc = index.get(&id).ok_or_else(|| {
            anyhow!(
                "the file list of snapshot {} is missing from the repository (run `nexusctl backup verify`)",
                snap.id
            )
        })?;
        json.extend(reader.chunk(&id, loc).await?);
    }
    serde_json::from_slice(&json)
        .map_err(|e| anyhow!("the file list of snapshot {} is damaged: {e}", snap.id))
}

pub async fn restore(repo: &Repo, opts: &Options<'_>, progress: &Progress) -> Result<Restored> {
    let started = Instant::now();
    let target = absolute(opts.target)?;
    check_target(&target)?;
    let snap = repo.find_snapshot(opts.snapshot).await?;
    match (snap.database.as_str(), opts.database_url) {
        ("postgres", None) => {
            return fail(
                2,
                format!(
                    "snapshot {} holds a PostgreSQL database: pass --database-url postgres://… of a new, empty database",
                    snap.id
                ),
            );
        }
        ("sqlite", Some(_)) => {
            return fail(
                2,
                format!(
                    "snapshot {} holds a SQLite database, which is restored inside the state directory: drop --database-url",
                    snap.id
                ),
            );
        }
        _ => {}
    }

    progress.phase("reading the snapshot");
    let index = repo.load_index().await?;
    let mut reader = PackReader::new(repo);
    let entries = tree(&index, &mut reader, &snap).await?;

    let (Some(parent), Some(name)) = (target.parent(), target.file_name()) else {
        return fail(
            2,
            format!("{} cannot be a state directory", target.display()),
        );
    };
    std::fs::create_dir_all(parent)
        .with_context(|| format!("cannot create {}", parent.display()))?;
    let mut staging = Staging {
        path: parent.join(format!(
            ".{}.restore-{}",
            name.to_string_lossy(),
            std::process::id()
        )),
        keep: false,
    };
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&staging.path)
            .with_context(|| format!("cannot create {}", staging.path.display()))?;
    }

    // Blobs go back where they were if that was inside the state directory; elsewhere only
    // when asked (--blobs-url), else into the new state directory.
    let relative_blobs = snap
        .blobs_url
        .strip_prefix("file://")
        .filter(|rest| !rest.starts_with('/'))
        .map(str::to_owned);
    let (blobs_setting, blobs_open_url) = match (opts.blobs_url, &relative_blobs) {
        (Some(u), _) => (u.to_owned(), u.to_owned()),
        (None, Some(rel)) => (
            snap.blobs_url.clone(),
            format!("file://{}", staging.path.join(rel).display()),
        ),
        (None, None) => (
            "file://blobs".to_owned(),
            format!("file://{}", staging.path.join("blobs").display()),
        ),
    };
    let blobs: Arc<dyn ObjectStore> =
        nexus_store::open_object_store(&blobs_open_url, &staging.path, true)
            .map_err(|e| anyhow!("cannot open the blob store to restore into: {e}"))?
            .0;

    // Decrypt the packs on another core while this one writes what came before.
    let mut order = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for c in entries.iter().flat_map(|e| &e.chunks) {
        if let Some(loc) = unhex32(c).and_then(|id| index.get(&id))
            && seen.insert(loc.pack)
        {
            order.push(loc.pack);
        }
    }
    reader.read_ahead(order);

    let total: u64 = entries.iter().map(|e| e.size).sum();
    progress.start_bytes(total, "restoring");
    let dump = staging.path.join(".restore-database.dump");
    // Small blobs are written by other threads while this one decodes the next ones.
    let mut puts = tokio::task::JoinSet::new();
    for entry in &entries {
        let (kind, rest) = entry
            .path
            .split_once('/')
            .ok_or_else(|| anyhow!("snapshot {} has a bad path {}", snap.id, entry.path))?;
        check_relative(rest)
            .with_context(|| format!("snapshot {} has a bad path {}", snap.id, entry.path))?;
        match kind {
            "state" => {
                let path = staging.path.join(rest);
                write_file(&mut reader, &index, entry, &path, progress).await?;
            }
            "database" => write_file(&mut reader, &index, entry, &dump, progress).await?,
            "blobs" => {
                write_blob(
                    &mut reader,
                    &index,
                    entry,
                    &blobs,
                    rest,
                    &mut puts,
                    progress,
                )
                .await?;
            }
            other => bail!("snapshot {} has an unknown kind of file `{other}`", snap.id),
        }
    }

    while let Some(done) = puts.join_next().await {
        put_result(done)?;
    }

    progress.phase("loading the database");
    adjust_config(
        &staging.path,
        opts.database_url,
        (blobs_setting != snap.blobs_url).then_some(&blobs_setting),
    )?;
    load_database(opts.nexusd, &staging.path, &dump, &snap.database)?;
    let _ = std::fs::remove_file(&dump);

    std::fs::rename(&staging.path, &target)
        .or_else(|e| {
            // An empty target directory is replaced.
            if target.is_dir() {
                std::fs::remove_dir(&target)?;
                std::fs::rename(&staging.path, &target)
            } else {
                Err(e)
            }
        })
        .with_context(|| format!("cannot move the restored instance to {}", target.display()))?;
    staging.keep = true;
    let restored = Restored {
        snapshot: snap.id.clone(),
        time: snap.time.clone(),
        state_dir: target.clone(),
        files: entries.len() as u64,
        bytes: total,
        database: snap.database.clone(),
        blobs_url: blobs_setting,
        secrets: snap.secrets,
        seconds: started.elapsed().as_secs_f64(),
    };
    progress.finish(&format!(
        "restored snapshot {} ({}) into {}: {} files, {}, every checksum matched, in {:.1} s.\n\
         Start it with `nexusctl up --state-dir {}`.{}",
        snap.id,
        snap.time,
        target.display(),
        restored.files,
        super::progress::size(total),
        restored.seconds,
        target.display(),
        if snap.secrets {
            ""
        } else {
            " The snapshot holds no secrets: new ones are made at the first start, so everybody signs in again and API tokens must be issued anew."
        }
    ));
    Ok(restored)
}

fn absolute(p: &Path) -> Result<PathBuf> {
    Ok(if p.is_absolute() {
        p.to_owned()
    } else {
        std::env::current_dir()?.join(p)
    })
}

fn check_target(target: &Path) -> Result<()> {
    if target.exists() {
        let empty = target.is_dir()
            && std::fs::read_dir(target)
                .map(|mut d| d.next().is_none())
                .unwrap_or(false);
        if !empty {
            return fail(
                2,
                format!(
                    "{} exists and is not empty: restore into a new or empty --state-dir",
                    target.display()
                ),
            );
        }
    }
    Ok(())
}

fn check_relative(rest: &str) -> Result<()> {
    if rest.is_empty()
        || rest.starts_with('/')
        || rest
            .split('/')
            .any(|s| s.is_empty() || s == "." || s == "..")
    {
        bail!("unsafe path");
    }
    Ok(())
}

async fn write_file(
    reader: &mut PackReader<'_>,
    index: &std::collections::HashMap<super::crypto::ChunkId, Location>,
    entry: &TreeEntry,
    path: &Path,
    progress: &Progress,
) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(parent) = path.parent() {
        crate::state::private_dir(parent)?;
    }
    let mode = if entry.mode == 0 { 0o600 } else { entry.mode };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    let mut hasher = blake3::Hasher::new();
    for c in &entry.chunks {
        let data = chunk(reader, index, c, &entry.path).await?;
        hasher.update(&data);
        file.write_all(&data)
            .with_context(|| format!("cannot write {}", path.display()))?;
        progress.inc(data.len() as u64);
    }
    file.sync_all()?;
    check_hash(&hasher, entry)
}

async fn write_blob(
    reader: &mut PackReader<'_>,
    index: &std::collections::HashMap<super::crypto::ChunkId, Location>,
    entry: &TreeEntry,
    store: &Arc<dyn ObjectStore>,
    key: &str,
    puts: &mut tokio::task::JoinSet<Result<()>>,
    progress: &Progress,
) -> Result<()> {
    /// Small blobs being written at once.
    const PUTS_IN_FLIGHT: usize = 16;
    let location = repo::obj(key);
    let mut hasher = blake3::Hasher::new();
    if entry.chunks.len() <= 1 {
        let data = match entry.chunks.first() {
            Some(c) => chunk(reader, index, c, &entry.path).await?,
            None => Vec::new(),
        };
        hasher.update(&data);
        check_hash(&hasher, entry)?;
        progress.inc(data.len() as u64);
        while puts.len() >= PUTS_IN_FLIGHT {
            if let Some(done) = puts.join_next().await {
                put_result(done)?;
            }
        }
        let store = store.clone();
        let key = key.to_owned();
        puts.spawn(async move {
            store
                .put(&location, PutPayload::from(bytes::Bytes::from(data)))
                .await
                .map(|_| ())
                .with_context(|| format!("cannot write the blob {key}"))
        });
        return Ok(());
    }
    // Large blobs stream: the blob appears only when its last part is written and its
    // checksum matched.
    let upload = store
        .put_multipart(&location)
        .await
        .with_context(|| format!("cannot write the blob {key}"))?;
    let mut writer = WriteMultipart::new(upload);
    for c in &entry.chunks {
        let data = match chunk(reader, index, c, &entry.path).await {
            Ok(d) => d,
            Err(e) => {
                let _ = writer.abort().await;
                return Err(e);
            }
        };
        hasher.update(&data);
        progress.inc(data.len() as u64);
        if let Err(e) = writer.wait_for_capacity(4).await {
            return Err(anyhow!("cannot write the blob {key}: {e}"));
        }
        writer.put(bytes::Bytes::from(data));
    }
    if let Err(e) = check_hash(&hasher, entry) {
        let _ = writer.abort().await;
        return Err(e);
    }
    writer
        .finish()
        .await
        .with_context(|| format!("cannot write the blob {key}"))?;
    Ok(())
}

/// What a small blob's write (spawned by [`write_blob`]) came to.
fn put_result(done: Result<Result<()>, tokio::task::JoinError>) -> Result<()> {
    done.map_err(|_| anyhow!("writing a blob failed"))?
}

async fn chunk(
    reader: &mut PackReader<'_>,
    index: &std::collections::HashMap<super::crypto::ChunkId, Location>,
    c: &str,
    path: &str,
) -> Result<Vec<u8>> {
    let id = unhex32(c).ok_or_else(|| anyhow!("the file list is damaged at {path}"))?;
    let loc = index.get(&id).ok_or_else(|| {
        anyhow!(
            "chunk {} of {path} is missing from the repository; nothing was restored (run `nexusctl backup verify`)",
            hex(&id)
        )
    })?;
    reader
        .chunk(&id, loc)
        .await
        .with_context(|| format!("cannot restore {path}; nothing was restored"))
}

fn check_hash(hasher: &blake3::Hasher, entry: &TreeEntry) -> Result<()> {
    let got = hasher.finalize().to_hex().to_string();
    if got != entry.hash {
        bail!(
            "{} does not match its checksum after restoring ({got} instead of {}); nothing was restored",
            entry.path,
            entry.hash
        );
    }
    Ok(())
}

/// Points the restored config at the new database and blob store where they moved.
fn adjust_config(dir: &Path, database_url: Option<&str>, blobs_url: Option<&String>) -> Result<()> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    if database_url.is_none() && blobs_url.is_none() {
        return Ok(());
    }
    let path = dir.join("config.toml");
    let text = std::fs::read_to_string(&path).context("the snapshot has no config.toml")?;
    let mut table: toml::Table = text
        .parse()
        .context("the snapshot's config.toml is not valid TOML")?;
    if let Some(url) = database_url {
        let secrets = dir.join("secrets");
        std::fs::DirBuilder::new()
            .mode(0o700)
            .recursive(true)
            .create(&secrets)?;
        let file = secrets.join("database-url");
        let _ = std::fs::remove_file(&file);
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&file)?;
        f.write_all(url.as_bytes())?;
        let db = table
            .entry("database")
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        if let Some(db) = db.as_table_mut() {
            db.remove("url");
            db.insert(
                "url_file".into(),
                toml::Value::String("secrets/database-url".into()),
            );
        }
    }
    if let Some(url) = blobs_url {
        let blobs = table
            .entry("blobs")
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        if let Some(b) = blobs.as_table_mut() {
            b.insert("url".into(), toml::Value::String(url.clone()));
        }
    }
    let out = format!(
        "# NEXUS configuration, restored by `nexusctl restore` (database or blob store moved).\n{}",
        toml::to_string(&table)?
    );
    std::fs::write(&path, out).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

fn load_database(nexusd: &Path, dir: &Path, dump: &Path, backend: &str) -> Result<()> {
    crate::daemons::run_nexusd(
        nexusd,
        &[
            "load".as_ref(),
            "--state-dir".as_ref(),
            dir.as_os_str(),
            "--from".as_ref(),
            dump.as_os_str(),
            "--backend".as_ref(),
            backend.as_ref(),
        ],
        "cannot load the database; nothing was restored",
    )?;
    Ok(())
}
