//! The writer's files cache: what each file looked like (size, mtime, inode — or an object
//! store's e-tag) when the last backup read it, with the chunks it was cut into. A file that
//! still looks the same is not read again; only its metadata is checked.
//!
//! It lives on the instance (`<state>/cache/backup/<repository id>.json.zst`), not in the
//! repository: a machine that backs up to recipients cannot read the repository's file
//! lists, and does not need to. Losing it costs one full read, never data. Entries are only
//! trusted when every chunk they name is still in the repository's index (a prune may have
//! removed them), and a file modified in the last seconds before it was read is not cached
//! at all (its mtime could hide a second change within the same tick, as git's "racily
//! clean" entries).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use anyhow::Result;
use serde::{Deserialize, Serialize};

use super::crypto::{ChunkId, unhex32};
use super::repo::TreeEntry;

/// Files changed this close to the backup's start are read every time.
const RACY_NANOS: i128 = 2_000_000_000;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Entry {
    stamp: String,
    size: u64,
    hash: String,
    chunks: Vec<String>,
}

pub struct FilesCache {
    path: PathBuf,
    old: HashMap<String, Entry>,
    new: HashMap<String, Entry>,
    /// The backup's start, in nanoseconds since the epoch.
    started: i128,
}

/// What identifies one version of a file without reading it.
#[derive(Debug, Clone)]
pub struct Stamp {
    pub text: String,
    /// Modification time, nanoseconds since the epoch.
    pub mtime: i128,
}

impl Stamp {
    pub fn of_file(meta: &std::fs::Metadata) -> Self {
        use std::os::unix::fs::MetadataExt;
        let mtime = i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec());
        Self {
            text: format!("f:{}:{}:{}:{mtime}", meta.dev(), meta.ino(), meta.len()),
            mtime,
        }
    }

    pub fn of_object(meta: &object_store::ObjectMeta) -> Self {
        let mtime = i128::from(meta.last_modified.timestamp_nanos_opt().unwrap_or(i64::MAX));
        Self {
            text: format!(
                "o:{}:{}:{mtime}",
                meta.e_tag.as_deref().unwrap_or(""),
                meta.size
            ),
            mtime,
        }
    }
}

impl FilesCache {
    /// The cache of repository `repo_id` on this instance; empty when there is none yet or
    /// it cannot be read (it is only an optimisation).
    pub fn load(state_root: &Path, repo_id: &str) -> Self {
        let path = state_root
            .join("cache")
            .join("backup")
            .join(format!("{repo_id}.json.zst"));
        let old = std::fs::read(&path)
            .ok()
            .and_then(|raw| zstd::decode_all(&raw[..]).ok())
            .and_then(|json| serde_json::from_slice(&json).ok())
            .unwrap_or_default();
        let started = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as i128)
            .unwrap_or(0);
        Self {
            path,
            old,
            new: HashMap::new(),
            started,
        }
    }

    /// The entry for `path` if the file still has this stamp and the repository (`known`)
    /// still has all its chunks.
    pub fn lookup(
        &self,
        path: &str,
        stamp: &Stamp,
        mode: u32,
        known: &HashSet<ChunkId>,
    ) -> Option<TreeEntry> {
        let e = self.old.get(path)?;
        if e.stamp != stamp.text {
            return None;
        }
        let all_there = e
            .chunks
            .iter()
            .all(|c| unhex32(c).is_some_and(|id| known.contains(&id)));
        all_there.then(|| TreeEntry {
            path: path.to_owned(),
            size: e.size,
            hash: e.hash.clone(),
            mode,
            chunks: e.chunks.clone(),
        })
    }

    /// Remembers how `entry` was read, unless its file changed too recently to trust.
    pub fn remember(&mut self, entry: &TreeEntry, stamp: &Stamp) {
        if self.started - stamp.mtime < RACY_NANOS {
            return;
        }
        self.new.insert(
            entry.path.clone(),
            Entry {
                stamp: stamp.text.clone(),
                size: entry.size,
                hash: entry.hash.clone(),
                chunks: entry.chunks.clone(),
            },
        );
    }

    /// Replaces the stored cache with what this backup saw (atomically). Called once the
    /// snapshot is saved, so the cache never names chunks of a backup that did not finish.
    pub fn save(self) -> Result<()> {
        let json = serde_json::to_vec(&self.new)?;
        let packed = zstd::encode_all(&json[..], 3)?;
        crate::state::write_atomic(&self.path, &packed)
    }
}
