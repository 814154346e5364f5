//! The release bundle: everything one NEXUS release installs, in one signed file.
//!
//! A bundle is a zstd-compressed tar archive (inspect it with `zstd -dc F | tar tv`):
//!
//! 1. `manifest.json` — format, version, target, the schema each app's migrations reach,
//!    and every file with its size, mode and BLAKE3 hash;
//! 2. `manifest.sig` — the ed25519 signature of exactly those manifest bytes, in hex;
//! 3. `files/bin/nexusd`, `files/bin/nexusctl`, `files/share/nexus/web/…` — the payload.
//!
//! The migrations travel inside `nexusd` (compiled in, checksummed when applied); the manifest
//! records the schema they reach, so an upgrade knows before it starts whether the database
//! changes. Opening a bundle checks the signature before it extracts anything, extracts only
//! the files the signed manifest lists, and compares each one's hash: an unsigned, foreign or
//! tampered bundle is refused with nothing installed.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::cli::fail;

pub const FORMAT: u32 = 1;
const MANIFEST: &str = "manifest.json";
const SIGNATURE: &str = "manifest.sig";
const PAYLOAD: &str = "files/";
/// A manifest larger than this is not one of ours.
const MAX_MANIFEST: u64 = 4 << 20;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    pub format: u32,
    pub product: String,
    pub version: String,
    /// `<arch>-<os>` the binaries run on, e.g. `x86_64-linux`.
    pub target: String,
    pub created_at: u64,
    /// Per app, the newest migration this release's `nexusd` carries.
    pub schema: BTreeMap<String, u64>,
    pub files: Vec<FileEntry>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FileEntry {
    pub path: String,
    pub size: u64,
    pub mode: u32,
    pub blake3: String,
}

pub fn this_target() -> String {
    format!("{}-{}", std::env::consts::ARCH, std::env::consts::OS)
}

/// What goes into a bundle: files on disk and where they go in the release.
pub struct Inputs {
    pub version: String,
    pub schema: BTreeMap<String, u64>,
    /// (path in the release, file on disk, mode)
    pub files: Vec<(String, PathBuf, u32)>,
}

/// Writes the bundle for `inputs`, signed with `key`, to `out` (through a temporary file, so
/// a failed build leaves no half bundle). Returns the manifest and the bundle's size.
pub fn build(
    inputs: &Inputs,
    key: &ed25519_dalek::SigningKey,
    out: &Path,
) -> Result<(Manifest, u64)> {
    let mut files = Vec::with_capacity(inputs.files.len());
    for (path, source, mode) in &inputs.files {
        check_path(path)?;
        let (size, hash) = hash_file(source)?;
        files.push(FileEntry {
            path: path.clone(),
            size,
            mode: *mode,
            blake3: hash,
        });
    }
    let manifest = Manifest {
        format: FORMAT,
        product: "nexus".to_owned(),
        version: inputs.version.clone(),
        target: this_target(),
        created_at: crate::state::now_secs(),
        schema: inputs.schema.clone(),
        files,
    };
    let manifest_bytes = serde_json::to_vec_pretty(&manifest)?;
    let signature = super::keys::sign(key, &manifest_bytes);

    let mut partial = out.as_os_str().to_owned();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    let written = (|| -> Result<()> {
        let file = std::fs::File::create(&partial)
            .with_context(|| format!("cannot create {}", partial.display()))?;
        // Level 6: most of the size win of higher levels at several times their speed.
        let encoder = zstd::Encoder::new(std::io::BufWriter::new(file), 6)?;
        let mut tar = tar::Builder::new(encoder);
        append_bytes(&mut tar, MANIFEST, &manifest_bytes, 0o644)?;
        append_bytes(&mut tar, SIGNATURE, signature.as_bytes(), 0o644)?;
        for ((path, source, mode), entry) in inputs.files.iter().zip(&manifest.files) {
            let mut file = std::fs::File::open(source)
                .with_context(|| format!("cannot read {}", source.display()))?;
            let mut header = tar::Header::new_gnu();
            header.set_size(entry.size);
            header.set_mode(*mode);
            header.set_mtime(manifest.created_at);
            header.set_entry_type(tar::EntryType::Regular);
            tar.append_data(
                &mut header,
                format!("{PAYLOAD}{path}"),
                (&mut file).take(entry.size),
            )
            .with_context(|| format!("cannot add {} to the bundle", source.display()))?;
        }
        let encoder = tar.into_inner()?;
        let mut buffered = encoder.finish()?;
        buffered.flush()?;
        buffered
            .into_inner()
            .map_err(|e| anyhow::anyhow!("cannot write {}: {}", partial.display(), e.error()))?
            .sync_all()?;
        Ok(())
    })();
    if let Err(e) = written.and_then(|()| {
        std::fs::rename(&partial, out).with_context(|| format!("cannot write {}", out.display()))
    }) {
        let _ = std::fs::remove_file(&partial);
        return Err(e);
    }
    let size = std::fs::metadata(out)?.len();
    Ok((manifest, size))
}

fn append_bytes<W: Write>(
    tar: &mut tar::Builder<W>,
    name: &str,
    bytes: &[u8],
    mode: u32,
) -> Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_size(bytes.len() as u64);
    header.set_mode(mode);
    header.set_mtime(crate::state::now_secs());
    header.set_entry_type(tar::EntryType::Regular);
    tar.append_data(&mut header, name, bytes)?;
    Ok(())
}

pub(crate) fn hash_file(path: &Path) -> Result<(u64, String)> {
    let mut file =
        std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut hasher = blake3::Hasher::new();
    let size = std::io::copy(&mut file, &mut hasher)
        .with_context(|| format!("cannot read {}", path.display()))?;
    Ok((size, hasher.finalize().to_hex().to_string()))
}

/// A release path: relative, no `..`, no empty or `.` parts.
fn check_path(path: &str) -> Result<()> {
    let p = Path::new(path);
    let ok = !path.is_empty()
        && !path.contains('\0')
        && p.components().all(|c| matches!(c, Component::Normal(_)));
    if ok {
        Ok(())
    } else {
        fail(
            2,
            format!("the bundle names an unsafe path {path:?}; it is refused"),
        )
    }
}

/// Opens `bundle`: checks its signature against `trusted`, then each file against the signed
/// manifest. With `into`, the files are written there (a directory that must not exist yet;
/// removed again if anything is wrong); without, they are only checked.
pub fn open(
    bundle: &Path,
    trusted: &[ed25519_dalek::VerifyingKey],
    trust_dirs: &[PathBuf],
    into: Option<&Path>,
) -> Result<(Manifest, ed25519_dalek::VerifyingKey)> {
    if let Some(dir) = into {
        if dir.exists() {
            std::fs::remove_dir_all(dir)
                .with_context(|| format!("cannot clear {}", dir.display()))?;
        }
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let opened = open_inner(bundle, trusted, trust_dirs, into);
    if opened.is_err()
        && let Some(dir) = into
    {
        let _ = std::fs::remove_dir_all(dir);
    }
    opened
}

fn not_a_bundle<T>(bundle: &Path, why: impl std::fmt::Display) -> Result<T> {
    fail(
        2,
        format!(
            "{} is not a valid NEXUS release bundle ({why}); nothing was installed",
            bundle.display()
        ),
    )
}

fn tampered<T>(bundle: &Path, why: impl std::fmt::Display) -> Result<T> {
    fail(
        2,
        format!(
            "{} has been tampered with or damaged: {why}; nothing was installed — get the bundle again from its source",
            bundle.display()
        ),
    )
}

fn open_inner(
    bundle: &Path,
    trusted: &[ed25519_dalek::VerifyingKey],
    trust_dirs: &[PathBuf],
    into: Option<&Path>,
) -> Result<(Manifest, ed25519_dalek::VerifyingKey)> {
    let file = match std::fs::File::open(bundle) {
        Ok(f) => f,
        Err(e) => return fail(2, format!("cannot read {}: {e}", bundle.display())),
    };
    let decoder = match zstd::Decoder::new(file) {
        Ok(d) => d,
        Err(e) => return not_a_bundle(bundle, e),
    };
    let mut archive = tar::Archive::new(decoder);
    let mut entries = match archive.entries() {
        Ok(e) => e,
        Err(e) => return not_a_bundle(bundle, e),
    };
    let mut small = |name: &str| -> Result<Vec<u8>> {
        let mut entry = match entries.next() {
            Some(Ok(e)) => e,
            Some(Err(e)) => return not_a_bundle(bundle, e),
            None => return not_a_bundle(bundle, format!("{name} is missing")),
        };
        let path = entry
            .path()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        if path != name || entry.size() > MAX_MANIFEST {
            return not_a_bundle(bundle, format!("expected {name}, found {path:?}"));
        }
        let mut bytes = Vec::new();
        if let Err(e) = entry.read_to_end(&mut bytes) {
            return not_a_bundle(bundle, e);
        }
        Ok(bytes)
    };
    let manifest_bytes = small(MANIFEST)?;
    let signature = small(SIGNATURE)?;
    let signature = String::from_utf8_lossy(&signature);
    let Some(signer) = super::keys::verify(trusted, &manifest_bytes, &signature) else {
        let looked: Vec<String> = trust_dirs.iter().map(|d| d.display().to_string()).collect();
        return fail(
            2,
            format!(
                "{} is not signed by a key this instance trusts (it trusts {} key{} from {}); nothing was installed — add the publisher's public key with `nexusctl release trust KEY.pub` if you trust it",
                bundle.display(),
                trusted.len(),
                if trusted.len() == 1 { "" } else { "s" },
                looked.join(" and ")
            ),
        );
    };
    let manifest: Manifest = match serde_json::from_slice(&manifest_bytes) {
        Ok(m) => m,
        Err(e) => return not_a_bundle(bundle, format!("its manifest does not parse: {e}")),
    };
    if manifest.format != FORMAT || manifest.product != "nexus" {
        return not_a_bundle(
            bundle,
            format!(
                "format {} of {:?}; this nexusctl reads format {FORMAT} of \"nexus\"",
                manifest.format, manifest.product
            ),
        );
    }
    for f in &manifest.files {
        check_path(&f.path)?;
    }

    let mut seen = vec![false; manifest.files.len()];
    for entry in entries {
        let mut entry = match entry {
            Ok(e) => e,
            Err(e) => return tampered(bundle, e),
        };
        let name = entry
            .path()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        let Some(index) = name
            .strip_prefix(PAYLOAD)
            .and_then(|p| manifest.files.iter().position(|f| f.path == p))
        else {
            return tampered(bundle, format!("{name:?} is not in the signed manifest"));
        };
        if seen[index] || entry.header().entry_type() != tar::EntryType::Regular {
            return tampered(
                bundle,
                format!("{name:?} appears twice or is not a plain file"),
            );
        }
        seen[index] = true;
        let expected = &manifest.files[index];
        // Before a byte is written: a tampered entry may be of any size.
        if entry.size() != expected.size {
            return tampered(bundle, format!("{} has the wrong size", expected.path));
        }
        let mut hasher = blake3::Hasher::new();
        let mut out = match into {
            Some(dir) => {
                let target = dir.join(&expected.path);
                if let Some(parent) = target.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                Some(
                    std::fs::File::create(&target)
                        .with_context(|| format!("cannot write {}", target.display()))?,
                )
            }
            None => None,
        };
        let mut buf = vec![0u8; 256 << 10];
        let mut size = 0u64;
        loop {
            let n = match entry.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) => return tampered(bundle, e),
            };
            size += n as u64;
            hasher.update(&buf[..n]);
            if let Some(out) = out.as_mut() {
                out.write_all(&buf[..n])?;
            }
        }
        if size != expected.size || hasher.finalize().to_hex().as_str() != expected.blake3 {
            return tampered(
                bundle,
                format!("{} does not match its signed hash", expected.path),
            );
        }
        if let Some(out) = out {
            use std::os::unix::fs::PermissionsExt;
            out.set_permissions(std::fs::Permissions::from_mode(expected.mode & 0o755))?;
            out.sync_all()?;
        }
    }
    if let Some(missing) = seen.iter().position(|s| !s) {
        return tampered(
            bundle,
            format!("{} is listed but missing", manifest.files[missing].path),
        );
    }
    if let Some(dir) = into {
        std::fs::write(dir.join(MANIFEST), &manifest_bytes)?;
    }
    Ok((manifest, signer))
}

/// The manifest of an installed release directory.
pub fn installed_manifest(release_dir: &Path) -> Option<Manifest> {
    let text = std::fs::read(release_dir.join(MANIFEST)).ok()?;
    serde_json::from_slice(&text).ok()
}

pub fn write_manifest(release_dir: &Path, manifest: &Manifest) -> Result<()> {
    crate::state::write_atomic(
        &release_dir.join(MANIFEST),
        &serde_json::to_vec_pretty(manifest)?,
    )
}
