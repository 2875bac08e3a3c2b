//! Store-wide file locks. `lock` orders read-modify-write of the metadata (tags and image records);
//! `gc.lock` is held shared by every pull or load for its whole run and exclusively by garbage
//! collection, so GC never deletes a blob or layer that a running pull has committed but not yet
//! recorded in an image.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;

/// Held until dropped; the kernel releases it if the process dies, so a kill -9 never leaves a
/// stale lock behind.
#[derive(Debug)]
pub struct FileLock {
    _file: File,
}

fn open_lock_file(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
}

impl FileLock {
    pub fn exclusive(path: &Path) -> io::Result<FileLock> {
        let file = open_lock_file(path)?;
        file.lock()?;
        Ok(FileLock { _file: file })
    }

    pub fn shared(path: &Path) -> io::Result<FileLock> {
        let file = open_lock_file(path)?;
        file.lock_shared()?;
        Ok(FileLock { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exclusive_excludes_shared_until_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("lock");
        let held = FileLock::exclusive(&p).unwrap();
        let other = open_lock_file(&p).unwrap();
        assert!(other.try_lock_shared().is_err());
        drop(held);
        assert!(other.try_lock_shared().is_ok());
    }
}
