//! The build cache as `system df`, `builder prune` and the API's `/system/df` see it: the step
//! cache's entries (`<store>/build-cache/<key>`, each naming an image) and the RUN cache mounts
//! (`<store>/build-cache/mounts/<id>`, each with a `<id>.lock` that a build holds while a RUN
//! uses it). A mount whose lock a build holds is in use, and prune leaves it alone.

use std::fs::{self, File};
use std::io::ErrorKind;
use std::path::Path;
use std::time::UNIX_EPOCH;

use super::{fail, BuildError};

/// What a record is, in Docker's words (`docker system df -v`'s CACHE TYPE).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheKind {
    /// A step-cache entry: the step's key, naming the image the step made.
    Step,
    /// A `RUN --mount=type=cache` directory.
    CacheMount,
}

impl CacheKind {
    pub fn docker_type(self) -> &'static str {
        match self {
            CacheKind::Step => "regular",
            CacheKind::CacheMount => "exec.cachemount",
        }
    }
}

/// One record of the build cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheRecord {
    /// The step's key, or the cache mount's id as its directory is named.
    pub id: String,
    pub kind: CacheKind,
    /// Bytes that pruning the record gives back: the entry file's, or the mount's tree.
    pub size: u64,
    /// A build holds the cache mount's lock now.
    pub in_use: bool,
    /// When it was made (the entry written; the mount's directory made), seconds since the epoch.
    pub created: i64,
    /// When it was last written, seconds since the epoch.
    pub last_used: i64,
}

/// Every record of the store under `root`; entries and mounts being made (dot names) are left
/// out.
pub fn cache_records(root: &Path) -> Result<Vec<CacheRecord>, BuildError> {
    let dir = root.join("build-cache");
    let mut out = Vec::new();
    for (name, path, is_dir) in listing(&dir)? {
        if is_dir {
            continue;
        }
        let meta = fs::metadata(&path).ok();
        let size = meta.as_ref().map_or(0, |m| m.len());
        out.push(record(name, CacheKind::Step, size, false, meta.as_ref()));
    }
    let mounts = dir.join("mounts");
    for (name, path, is_dir) in listing(&mounts)? {
        if !is_dir {
            continue;
        }
        let in_use = lock_if_idle(&mounts, &name)?.is_none();
        let size = hull_engine::volume::disk_usage(&path);
        let meta = fs::metadata(&path).ok();
        out.push(record(
            name,
            CacheKind::CacheMount,
            size,
            in_use,
            meta.as_ref(),
        ));
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(out)
}

fn record(
    id: String,
    kind: CacheKind,
    size: u64,
    in_use: bool,
    meta: Option<&fs::Metadata>,
) -> CacheRecord {
    let secs = |t: std::io::Result<std::time::SystemTime>| {
        t.ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_secs() as i64)
    };
    let modified = meta.map_or(0, |m| secs(m.modified()));
    CacheRecord {
        id,
        kind,
        size,
        in_use,
        created: meta.map_or(modified, |m| match secs(m.created()) {
            0 => modified,
            c => c,
        }),
        last_used: modified,
    }
}

/// The names in `dir` that do not start with a dot, with their paths and whether each is a
/// directory; nothing when `dir` is missing.
fn listing(dir: &Path) -> Result<Vec<(String, std::path::PathBuf, bool)>, BuildError> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(fail(format!("read the build cache {}: {e}", dir.display()))),
    };
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        out.push((name, entry.path(), is_dir));
    }
    Ok(out)
}

/// The cache mount `name`'s lock, taken when no build holds it; None while one does. The lock
/// file is never removed: a build may have it open.
fn lock_if_idle(mounts: &Path, name: &str) -> Result<Option<File>, BuildError> {
    let path = mounts.join(format!("{name}.lock"));
    let lock = File::create(&path)
        .map_err(|e| fail(format!("open the lock of cache mount {name}: {e}")))?;
    match lock.try_lock() {
        Ok(()) => Ok(Some(lock)),
        Err(fs::TryLockError::WouldBlock) => Ok(None),
        Err(fs::TryLockError::Error(e)) => Err(fail(format!("lock cache mount {name}: {e}"))),
    }
}

/// What [`prune_cache`] removed: the records' ids and their bytes.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct PrunedCache {
    pub keys: Vec<String>,
    pub bytes: u64,
}

/// Removes every record of the store under `root` that no build uses (`docker builder
/// prune`): the step cache's entries (the images they named stay; dangling ones go with `hull
/// image prune`) and the cache mounts whose lock no build holds. A mount is renamed to a dot
/// name under its lock before it is removed, so a kill leaves it whole or out of sight; what
/// such a kill left is removed first.
pub fn prune_cache(root: &Path) -> Result<PrunedCache, BuildError> {
    let dir = root.join("build-cache");
    let mounts = dir.join("mounts");
    sweep_half_pruned(&mounts)?;
    let mut out = PrunedCache::default();
    for rec in cache_records(root)? {
        if rec.in_use {
            continue;
        }
        let removed = match rec.kind {
            CacheKind::Step => remove_entry(&dir.join(&rec.id)),
            CacheKind::CacheMount => remove_mount(&mounts, &rec.id),
        }
        .map_err(|e| fail(format!("prune the build cache's {}: {e}", rec.id)))?;
        if removed {
            out.bytes += rec.size;
            out.keys.push(rec.id);
        }
    }
    Ok(out)
}

fn remove_entry(path: &Path) -> std::io::Result<bool> {
    match fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// Removes the cache mount `name` unless a build took its lock since it was listed.
fn remove_mount(mounts: &Path, name: &str) -> std::io::Result<bool> {
    let Some(_lock) = lock_if_idle(mounts, name).map_err(|e| std::io::Error::other(e.message))?
    else {
        return Ok(false);
    };
    let doomed = mounts.join(format!(".pruned.{name}"));
    match fs::rename(mounts.join(name), &doomed) {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    }
    fs::remove_dir_all(&doomed)?;
    Ok(true)
}

/// Removes what a prune killed mid-way left (`.pruned.*`).
fn sweep_half_pruned(mounts: &Path) -> Result<(), BuildError> {
    let Ok(entries) = fs::read_dir(mounts) else {
        return Ok(());
    };
    for e in entries.flatten() {
        if e.file_name().to_string_lossy().starts_with(".pruned.") {
            fs::remove_dir_all(e.path())
                .map_err(|err| fail(format!("remove {}: {err}", e.path().display())))?;
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "cache_records_tests.rs"]
mod tests;
