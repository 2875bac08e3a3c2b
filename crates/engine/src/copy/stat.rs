//! What a path in a container is, for the API's `HEAD /containers/{id}/archive` (Docker's
//! `X-Docker-Container-Path-Stat`), resolved inside the container's root as `cp` resolves it:
//! the parents followed inside the root, the last component not followed.

use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use hull_sys::fs::{self as sys, FileType};
use serde_json::{json, Value};

use super::paths::{clean, split_source};
use super::{io_err, CopyError};
use crate::{Engine, EngineError};

/// A container path's stat, as Docker's `ContainerPathStat`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathStat {
    pub name: String,
    pub size: i64,
    /// The `st_mode` bits.
    pub mode: u32,
    pub mtime_secs: i64,
    pub mtime_nanos: u32,
    /// A symlink's target, absolute in the container; empty otherwise.
    pub link_target: String,
}

impl PathStat {
    /// The mode as Go's `os.FileMode`, which Docker's clients decode: type bits on top, the
    /// permission and set-id bits moved to Go's places.
    pub fn go_mode(&self) -> u32 {
        let t = match FileType::from_raw_mode(self.mode) {
            FileType::Directory => 1 << 31,
            FileType::Symlink => 1 << 27,
            FileType::BlockDevice => 1 << 26,
            FileType::CharacterDevice => (1 << 26) | (1 << 21),
            FileType::Fifo => 1 << 25,
            FileType::Socket => 1 << 24,
            _ => 0,
        };
        let mut m = t | (self.mode & 0o777);
        if self.mode & 0o4000 != 0 {
            m |= 1 << 23;
        }
        if self.mode & 0o2000 != 0 {
            m |= 1 << 22;
        }
        if self.mode & 0o1000 != 0 {
            m |= 1 << 20;
        }
        m
    }

    /// Docker's JSON document.
    pub fn document(&self) -> Value {
        json!({
            "name": self.name,
            "size": self.size,
            "mode": self.go_mode(),
            "mtime": hull_oci::time::format_rfc3339(self.mtime_secs, self.mtime_nanos),
            "linkTarget": self.link_target,
        })
    }
}

impl Engine {
    /// Stats `path` in container `name` (its volumes and binds included, as `cp` sees them).
    /// A missing path is an `Io` error of kind NotFound.
    pub fn path_stat(&self, name: &str, path: &str) -> Result<PathStat, EngineError> {
        let record = self.containers.resolve(name)?;
        let fs = self.container_fs(&record, true)?;
        let s = split_source(path).map_err(CopyError::from)?;
        let parent =
            sys::open_dir_in_root(fs.root.as_fd(), &s.parent).map_err(io_err("open", &s.parent))?;
        let rel = s.parent.join(&s.name);
        let st = sys::lstat_at(parent.as_fd(), &s.name).map_err(io_err("stat", &rel))?;
        let link_target = match FileType::from_raw_mode(st.st_mode) {
            FileType::Symlink => {
                let t =
                    sys::readlink_at(parent.as_fd(), &s.name).map_err(io_err("read link", &rel))?;
                absolute(&s.parent.join(t))
            }
            _ => String::new(),
        };
        let name = match clean(path).file_name() {
            Some(n) => n.to_string_lossy().into_owned(),
            None => "/".to_string(),
        };
        Ok(PathStat {
            name,
            size: st.st_size,
            mode: st.st_mode,
            mtime_secs: st.st_mtime,
            mtime_nanos: st.st_mtime_nsec as u32,
            link_target,
        })
    }
}

/// A path inside the container as an absolute path, `..` kept inside the root.
fn absolute(p: &Path) -> String {
    let rel: PathBuf = clean(&p.to_string_lossy());
    format!("/{}", rel.display())
}

/// Whether `e` says the path is not there.
pub fn is_missing(e: &EngineError) -> bool {
    matches!(e, EngineError::Copy(CopyError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stat(mode: u32) -> PathStat {
        PathStat {
            name: "x".into(),
            size: 0,
            mode,
            mtime_secs: 0,
            mtime_nanos: 0,
            link_target: String::new(),
        }
    }

    #[test]
    fn modes_read_as_gos_file_mode() {
        assert_eq!(stat(0o040755).go_mode(), (1 << 31) | 0o755);
        assert_eq!(stat(0o100644).go_mode(), 0o644);
        assert_eq!(stat(0o120777).go_mode(), (1 << 27) | 0o777);
        assert_eq!(stat(0o104755).go_mode(), (1 << 23) | 0o755);
        assert_eq!(stat(0o041777).go_mode(), (1 << 31) | (1 << 20) | 0o777);
        assert_eq!(absolute(Path::new("a/../../etc")), "/etc");
    }
}
