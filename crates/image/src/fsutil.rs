//! Small filesystem helpers shared by the stores: atomic JSON files, directory fsync, temp names
//! that name their owner, and the sweep of temp entries left by crashed processes.

use std::fmt;
use std::fs::{self, File};
use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::de::DeserializeOwned;
use serde::Serialize;

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A temp entry name `<pid>.<n>.<kind>`: the pid lets a later process tell whether the owner is
/// still alive, so it can sweep what a crashed process left behind.
#[derive(Debug)]
pub struct TempName {
    pid: u32,
    n: u64,
    kind: &'static str,
}

impl TempName {
    pub fn new(kind: &'static str) -> TempName {
        TempName {
            pid: std::process::id(),
            n: COUNTER.fetch_add(1, Ordering::Relaxed),
            kind,
        }
    }
}

impl fmt::Display for TempName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.pid, self.n, self.kind)
    }
}

/// The pid that owns a temp entry, from its name.
fn owner_pid(name: &str) -> Option<u32> {
    name.split('.').next()?.parse().ok()
}

fn pid_alive(pid: u32) -> bool {
    Path::new("/proc").join(pid.to_string()).exists()
}

/// Removes entries in `tmp` whose owning process is gone. Entries of live processes (including a
/// concurrent pull) are left alone.
pub fn sweep_stale(tmp: &Path) -> io::Result<usize> {
    let mut removed = 0;
    let entries = match fs::read_dir(tmp) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let stale = owner_pid(&name).is_none_or(|pid| !pid_alive(pid));
        if stale {
            remove_any(&entry.path())?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// Removes a file or a whole directory tree; missing is fine. Directories made read-only by a
/// layer (mode 0555) are made writable first so removal cannot fail on them.
pub fn remove_any(path: &Path) -> io::Result<()> {
    let meta = match fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    if !meta.is_dir() {
        return fs::remove_file(path);
    }
    match fs::remove_dir_all(path) {
        Ok(()) => Ok(()),
        Err(_) => {
            make_dirs_writable(path)?;
            fs::remove_dir_all(path)
        }
    }
}

fn make_dirs_writable(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let meta = fs::symlink_metadata(path)?;
    if meta.is_dir() {
        fs::set_permissions(path, fs::Permissions::from_mode(0o700))?;
        for entry in fs::read_dir(path)? {
            make_dirs_writable(&entry?.path())?;
        }
    }
    Ok(())
}

pub fn fsync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Flushes the whole filesystem that holds `path`: one call instead of an fsync per file.
pub fn syncfs(path: &Path) -> io::Result<()> {
    rustix::fs::syncfs(File::open(path)?)?;
    Ok(())
}

/// Writes `value` as JSON to `path` atomically and durably (temp file, fsync, rename, fsync the
/// directory); a dead writer's temp file is removed by `hull_sys::fs::sweep_atomic_temps`.
pub fn write_json_atomic<T: Serialize>(path: &Path, value: &T) -> io::Result<()> {
    let mut bytes = serde_json::to_vec_pretty(value).map_err(io::Error::other)?;
    bytes.push(b'\n');
    hull_sys::fs::write_atomic(path, &bytes, hull_sys::fs::Durability::Durable)
}

/// Reads a JSON file; `Ok(None)` when it does not exist.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> io::Result<Option<T>> {
    match fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sweep_removes_only_dead_owners() {
        let dir = tempfile::tempdir().unwrap();
        let mine = dir.path().join(TempName::new("blob").to_string());
        fs::write(&mine, b"x").unwrap();
        // pid_max is at most 2^22, so this pid cannot exist.
        let dead = dir.path().join("4194305.0.layer");
        fs::create_dir_all(dead.join("diff/sub")).unwrap();
        let junk = dir.path().join("not-a-temp-name");
        fs::write(&junk, b"x").unwrap();
        assert_eq!(sweep_stale(dir.path()).unwrap(), 2);
        assert!(mine.exists());
        assert!(!dead.exists());
        assert!(!junk.exists());
    }

    #[test]
    fn json_round_trip_is_atomic() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.json");
        write_json_atomic(&p, &vec![1, 2, 3]).unwrap();
        let back: Option<Vec<i32>> = read_json(&p).unwrap();
        assert_eq!(back, Some(vec![1, 2, 3]));
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
        let missing: Option<Vec<i32>> = read_json(&dir.path().join("nope")).unwrap();
        assert!(missing.is_none());
    }

    #[test]
    fn remove_any_handles_readonly_dirs() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("ro");
        fs::create_dir_all(d.join("inner")).unwrap();
        fs::write(d.join("inner/f"), b"x").unwrap();
        fs::set_permissions(d.join("inner"), fs::Permissions::from_mode(0o555)).unwrap();
        remove_any(&d).unwrap();
        assert!(!d.exists());
    }
}
