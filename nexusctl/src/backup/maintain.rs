//! `backup verify` (read and authenticate everything, restore nothing) and `backup prune`
//! (forget snapshots by a retention policy, then free the space only they used).

use std::collections::{BTreeSet, HashMap, HashSet};

use anyhow::{Result, anyhow};
use serde::Serialize;

use super::crypto::{ChunkId, unhex32};
use super::lock;
use super::progress::Progress;
use super::repo::{self, PackIndex, PackReader, Repo, Snapshot};

#[derive(Debug, Default, Serialize)]
pub struct VerifyReport {
    pub snapshots: u64,
    pub packs: u64,
    pub chunks: u64,
    pub bytes: u64,
    /// Packs no index names: left by an interrupted backup, removed by prune.
    pub unindexed_packs: u64,
    pub damaged_snapshots: Vec<String>,
    pub problems: Vec<String>,
}

pub async fn verify(repo: &Repo, progress: &Progress) -> Result<VerifyReport> {
    let mut report = VerifyReport::default();
    progress.phase("reading the index");
    let (indexes, problems) = repo.read_indexes().await?;
    report.problems.extend(problems);
    let stored: HashMap<String, u64> = repo
        .list("data/")
        .await?
        .into_iter()
        .filter_map(|(name, size)| name.rsplit('/').next().map(|id| (id.to_owned(), size)))
        .collect();
    let indexed: HashSet<&str> = indexes.iter().map(|i| i.pack.as_str()).collect();
    report.unindexed_packs = stored
        .keys()
        .filter(|p| !indexed.contains(p.as_str()))
        .count() as u64;

    let total: u64 = indexes.iter().filter_map(|i| stored.get(&i.pack)).sum();
    progress.start_bytes(total, "checking every chunk");
    let mut bad: HashSet<ChunkId> = HashSet::new();
    let mut reader = PackReader::new(repo);
    reader.read_ahead(
        indexes
            .iter()
            .filter(|i| stored.contains_key(&i.pack))
            .filter_map(|i| unhex32(&i.pack))
            .collect(),
    );
    let map = repo::index_map(&indexes)?;
    for index in &indexes {
        let Some(size) = stored.get(&index.pack) else {
            report.problems.push(format!(
                "pack {} is missing from the repository",
                index.pack
            ));
            mark_all(index, &mut bad);
            continue;
        };
        report.packs += 1;
        let Some(pack_id) = unhex32(&index.pack) else {
            report
                .problems
                .push(format!("index/{} is damaged", index.pack));
            continue;
        };
        if let Err(e) = reader.pack(&pack_id).await {
            report.problems.push(format!("{e:#}"));
            mark_all(index, &mut bad);
            progress.inc(*size);
            continue;
        }
        for c in &index.chunks {
            let Some(id) = unhex32(&c.id) else {
                report
                    .problems
                    .push(format!("index/{} is damaged", index.pack));
                continue;
            };
            let loc = repo::Location {
                pack: pack_id,
                offset: c.offset,
                len: c.len,
                raw_len: c.raw_len,
                compressed: c.compressed,
            };
            match reader.chunk(&id, &loc).await {
                Ok(data) => {
                    report.chunks += 1;
                    report.bytes += data.len() as u64;
                }
                Err(e) => {
                    report
                        .problems
                        .push(format!("{e:#} (in pack {})", index.pack));
                    bad.insert(id);
                }
            }
        }
        progress.inc(*size);
    }

    progress.phase("checking the snapshots");
    for snap in repo.snapshots().await? {
        report.snapshots += 1;
        match snapshot_chunks(&map, &mut reader, &snap).await {
            Ok(chunks) => {
                let missing = chunks
                    .iter()
                    .filter(|c| bad.contains(*c) || !map.contains_key(*c))
                    .count();
                if missing > 0 {
                    report.damaged_snapshots.push(snap.id.clone());
                    report.problems.push(format!(
                        "snapshot {} ({}) needs {missing} chunks that are missing or damaged",
                        snap.id, snap.time
                    ));
                }
            }
            Err(e) => {
                report.damaged_snapshots.push(snap.id.clone());
                report.problems.push(format!("snapshot {}: {e:#}", snap.id));
            }
        }
    }
    progress.clear();
    Ok(report)
}

fn mark_all(index: &PackIndex, bad: &mut HashSet<ChunkId>) {
    for c in &index.chunks {
        if let Some(id) = unhex32(&c.id) {
            bad.insert(id);
        }
    }
}

/// Every chunk a snapshot needs: its file list's and its files'.
async fn snapshot_chunks(
    map: &HashMap<ChunkId, repo::Location>,
    reader: &mut PackReader<'_>,
    snap: &Snapshot,
) -> Result<BTreeSet<ChunkId>> {
    let mut out = BTreeSet::new();
    for c in &snap.tree {
        out.insert(unhex32(c).ok_or_else(|| anyhow!("snapshot {} is damaged", snap.id))?);
    }
    for entry in super::restore::tree(map, reader, snap).await? {
        for c in &entry.chunks {
            out.insert(unhex32(c).ok_or_else(|| anyhow!("snapshot {} is damaged", snap.id))?);
        }
    }
    Ok(out)
}

/// How many snapshots to keep, as restic and borg count: the newest `last`, and the newest
/// of each of the last `daily` days, `weekly` ISO weeks and `monthly` months that have one.
/// The period a snapshot falls in (a day, an ISO week, a month).
type Bucket = fn(&chrono::DateTime<chrono::Utc>) -> String;

#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Policy {
    pub last: u32,
    pub daily: u32,
    pub weekly: u32,
    pub monthly: u32,
}

impl Policy {
    pub fn is_empty(&self) -> bool {
        self.last == 0 && self.daily == 0 && self.weekly == 0 && self.monthly == 0
    }

    /// The ids of the snapshots to keep.
    pub fn keep(&self, snaps: &[Snapshot]) -> HashSet<String> {
        let mut newest_first: Vec<(&Snapshot, chrono::DateTime<chrono::Utc>)> = snaps
            .iter()
            .filter_map(|s| {
                chrono::DateTime::parse_from_rfc3339(&s.time)
                    .ok()
                    .map(|t| (s, t.with_timezone(&chrono::Utc)))
            })
            .collect();
        newest_first.sort_by_key(|s| std::cmp::Reverse(s.1));
        let mut keep = HashSet::new();
        // A snapshot whose time cannot be read is kept rather than guessed about.
        for s in snaps {
            if chrono::DateTime::parse_from_rfc3339(&s.time).is_err() {
                keep.insert(s.id.clone());
            }
        }
        for (s, _) in newest_first.iter().take(self.last as usize) {
            keep.insert(s.id.clone());
        }
        let buckets: [(u32, Bucket); 3] = [
            (self.daily, |t| t.format("%Y-%m-%d").to_string()),
            (self.weekly, |t| t.format("%G-W%V").to_string()),
            (self.monthly, |t| t.format("%Y-%m").to_string()),
        ];
        for (n, bucket) in buckets {
            let mut seen = HashSet::new();
            for (s, t) in &newest_first {
                if seen.len() >= n as usize {
                    break;
                }
                if seen.insert(bucket(t)) {
                    keep.insert(s.id.clone());
                }
            }
        }
        keep
    }
}

#[derive(Debug, Default, Serialize)]
pub struct PruneReport {
    pub kept: Vec<String>,
    pub removed: Vec<String>,
    pub packs_deleted: u64,
    pub packs_repacked: u64,
    pub bytes_freed: u64,
    pub dry_run: bool,
}

/// Packs with more than this share of unused bytes are rewritten with only the used chunks.
const REPACK_WASTE: f64 = 0.25;

pub fn prune(
    repo: &Repo,
    rt: &tokio::runtime::Handle,
    policy: Policy,
    dry_run: bool,
    progress: &Progress,
) -> Result<PruneReport> {
    if policy.is_empty() {
        return crate::cli::fail(
            2,
            "a prune with no --keep-* option would delete every snapshot: say what to keep",
        );
    }
    let held = rt.block_on(lock::acquire(repo, lock::Kind::Prune))?;
    let result = prune_locked(repo, rt, policy, dry_run, progress, &held);
    rt.block_on(lock::release(repo, &held));
    result
}

fn prune_locked(
    repo: &Repo,
    rt: &tokio::runtime::Handle,
    policy: Policy,
    dry_run: bool,
    progress: &Progress,
    held: &lock::Held,
) -> Result<PruneReport> {
    let mut report = PruneReport {
        dry_run,
        ..PruneReport::default()
    };
    progress.phase("choosing the snapshots to keep");
    let snaps = rt.block_on(repo.snapshots())?;
    let keep = policy.keep(&snaps);
    let (indexes, problems) = rt.block_on(repo.read_indexes())?;
    if let Some(p) = problems.first() {
        return crate::cli::fail(
            3,
            format!(
                "{p}: prune stops rather than delete on a damaged index (run `nexusctl backup verify`)"
            ),
        );
    }
    let map = repo::index_map(&indexes)?;
    let mut used: HashSet<ChunkId> = HashSet::new();
    let mut reader = PackReader::new(repo);
    for s in &snaps {
        if keep.contains(&s.id) {
            report.kept.push(s.id.clone());
            used.extend(rt.block_on(snapshot_chunks(&map, &mut reader, s))?);
        } else {
            report.removed.push(s.id.clone());
        }
    }
    if dry_run {
        return Ok(report);
    }
    for id in &report.removed {
        rt.block_on(repo::delete(&repo.store, &format!("snapshots/{id}")))?;
    }

    progress.phase("freeing space");
    let stored: HashMap<String, u64> = rt
        .block_on(repo.list("data/"))?
        .into_iter()
        .filter_map(|(name, size)| name.rsplit('/').next().map(|id| (id.to_owned(), size)))
        .collect();
    // Chunks to carry over from packs that are mostly unused, written into new packs before
    // the old ones go.
    let mut carry: Vec<(ChunkId, repo::Location)> = Vec::new();
    let mut doomed: Vec<&PackIndex> = Vec::new();
    let mut carried: HashSet<ChunkId> = HashSet::new();
    for index in &indexes {
        let total: u64 = index.chunks.iter().map(|c| u64::from(c.len)).sum();
        let live: Vec<_> = index
            .chunks
            .iter()
            .filter_map(|c| {
                unhex32(&c.id)
                    .filter(|id| used.contains(id))
                    .map(|id| (id, c))
            })
            .collect();
        let live_bytes: u64 = live.iter().map(|(_, c)| u64::from(c.len)).sum();
        if live.is_empty() {
            doomed.push(index);
        } else if total > 0 && (total - live_bytes) as f64 / total as f64 > REPACK_WASTE {
            let Some(pack) = unhex32(&index.pack) else {
                continue;
            };
            for (id, c) in live {
                if carried.insert(id) {
                    carry.push((
                        id,
                        repo::Location {
                            pack,
                            offset: c.offset,
                            len: c.len,
                            raw_len: c.raw_len,
                            compressed: c.compressed,
                        },
                    ));
                }
            }
            doomed.push(index);
            report.packs_repacked += 1;
        }
    }
    if !carry.is_empty() {
        let (tx, packer) = super::create::spawn_packer(repo, rt, held)?;
        let mut sent = Ok(());
        for (id, loc) in &carry {
            match rt.block_on(reader.chunk(id, loc)) {
                Ok(data) => {
                    if tx.send((*id, data)).is_err() {
                        break;
                    }
                }
                Err(e) => {
                    sent = Err(e);
                    break;
                }
            }
        }
        drop(tx);
        let written = packer.finish();
        sent?;
        written?;
    }
    for index in doomed {
        // The index goes first: a pack without an index is unused and harmless.
        rt.block_on(repo::delete(&repo.store, &format!("index/{}", index.pack)))?;
        if let Some(id) = unhex32(&index.pack) {
            rt.block_on(repo::delete(&repo.store, &repo::pack_name(&id)))?;
            report.bytes_freed += stored.get(&index.pack).copied().unwrap_or(0);
            report.packs_deleted += 1;
        }
    }
    // Packs no index names, older than any backup still running could be: left by
    // interrupted backups.
    let indexed: HashSet<&str> = indexes.iter().map(|i| i.pack.as_str()).collect();
    let cutoff = chrono::Utc::now() - chrono::Duration::from_std(lock::STALE_AFTER)?;
    let metas = rt.block_on(async {
        use futures::TryStreamExt;
        repo.store
            .list(Some(&repo::obj("data")))
            .try_collect::<Vec<_>>()
            .await
    })?;
    for m in metas {
        let name = m.location.to_string();
        let Some(id) = name.rsplit('/').next() else {
            continue;
        };
        if !indexed.contains(id) && m.last_modified < cutoff {
            rt.block_on(repo::delete(&repo.store, &name))?;
            report.bytes_freed += m.size;
            report.packs_deleted += 1;
        }
    }
    progress.clear();
    Ok(report)
}
