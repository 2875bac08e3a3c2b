//! Filling a new, empty volume with what the image holds at the mount's target, as Docker does:
//! every file, directory, symlink and device node with its owner, mode, times and extended
//! attributes; hard links stay links.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Path, PathBuf};

use hull_sys::fs::{self as sys, FileTime, FileType, NodeKind, Stat};

/// Copies the contents of the directory `src` into the (empty) directory `dst`, and `src`'s
/// owner, mode and xattrs onto `dst` itself.
pub fn copy_tree(src: &Path, dst: &Path) -> io::Result<()> {
    let s = sys::open_dir(src)?;
    let d = sys::open_dir(dst)?;
    let mut walk = Walk {
        root: d.as_fd(),
        links: HashMap::new(),
    };
    walk.children(s.as_fd(), d.as_fd(), Path::new(""))?;
    let st = sys::fstat(s.as_fd())?;
    copy_xattrs(s.as_fd(), None, d.as_fd(), None)?;
    sys::fchown(d.as_fd(), st.st_uid, st.st_gid)?;
    sys::fchmod(d.as_fd(), st.st_mode & 0o7777)?;
    sys::set_times(d.as_fd(), atime(&st), mtime(&st))
}

/// One copy: the destination's root and, for each hard-linked source inode, the path (below
/// the root, through directories this copy made, so no symlink is on it) of its first copy.
struct Walk<'a> {
    root: BorrowedFd<'a>,
    links: HashMap<(u64, u64), PathBuf>,
}

impl Walk<'_> {
    fn children(&mut self, src: BorrowedFd<'_>, dst: BorrowedFd<'_>, rel: &Path) -> io::Result<()> {
        for entry in sys::read_dir_names(src)? {
            self.entry_at(src, dst, &entry.name, &rel.join(&entry.name))?;
        }
        Ok(())
    }

    fn entry_at(
        &mut self,
        src: BorrowedFd<'_>,
        dst: BorrowedFd<'_>,
        name: &OsStr,
        rel: &Path,
    ) -> io::Result<()> {
        let st = sys::lstat_at(src, name)?;
        let kind = FileType::from_raw_mode(st.st_mode);
        let linked = kind != FileType::Directory && st.st_nlink > 1;
        if linked {
            if let Some(first) = self.links.get(&(st.st_dev, st.st_ino)) {
                return sys::link_at(self.root, first.as_os_str(), dst, name);
            }
        }
        if !self.make(src, dst, name, rel, kind, &st)? {
            return Ok(());
        }
        if linked {
            self.links.insert((st.st_dev, st.st_ino), rel.to_path_buf());
        }
        finish(src, dst, name, kind, &st)
    }

    /// Creates `name` in `dst` as `src` has it (a directory with its contents); false for a
    /// socket, which is a live endpoint, not content (Docker does not copy it either).
    fn make(
        &mut self,
        src: BorrowedFd<'_>,
        dst: BorrowedFd<'_>,
        name: &OsStr,
        rel: &Path,
        kind: FileType,
        st: &Stat,
    ) -> io::Result<bool> {
        match kind {
            FileType::Directory => {
                sys::mkdir_at(dst, name, 0o700)?;
                let s = sys::open_subdir_nofollow(src, name)?;
                let d = sys::open_subdir_nofollow(dst, name)?;
                self.children(s.as_fd(), d.as_fd(), rel)?;
            }
            FileType::RegularFile => {
                let mut from = sys::open_file_nofollow(src, name)?;
                let mut to = sys::create_file_at(dst, name, 0o600)?;
                io::copy(&mut from, &mut to)?;
            }
            FileType::Symlink => sys::symlink_at(&sys::readlink_at(src, name)?, dst, name)?,
            FileType::CharacterDevice | FileType::BlockDevice | FileType::Fifo => {
                let node = match kind {
                    FileType::CharacterDevice => NodeKind::Char,
                    FileType::BlockDevice => NodeKind::Block,
                    _ => NodeKind::Fifo,
                };
                let (major, minor) = sys::dev_major_minor(st.st_rdev);
                sys::mknod_at(dst, name, node, st.st_mode & 0o7777, major, minor)?;
            }
            _ => return Ok(false),
        }
        Ok(true)
    }
}

/// Owner, xattrs, mode and times of `dst/name` as `src/name` has them.
fn finish(
    src: BorrowedFd<'_>,
    dst: BorrowedFd<'_>,
    name: &OsStr,
    kind: FileType,
    st: &Stat,
) -> io::Result<()> {
    let mode = st.st_mode & 0o7777;
    copy_xattrs(src, Some(name), dst, Some(name))?;
    sys::lchown_at(dst, name, st.st_uid, st.st_gid)?;
    if kind != FileType::Symlink {
        // After chown, which clears set-id bits.
        sys::chmod_at(dst, name, mode)?;
    }
    sys::set_times_at(dst, name, atime(st), mtime(st))
}

fn proc_path(dir: BorrowedFd<'_>, name: Option<&OsStr>) -> std::path::PathBuf {
    use std::os::fd::AsRawFd;
    let base = Path::new("/proc/self/fd").join(dir.as_raw_fd().to_string());
    match name {
        Some(n) => base.join(n),
        None => base,
    }
}

/// The extended attributes of `src/name` onto `dst/name` (the directories themselves when no
/// name). Attributes the destination's file system refuses (such as `security.*` ones the
/// kernel manages) are left out, as Docker's copy leaves them.
fn copy_xattrs(
    src: BorrowedFd<'_>,
    sname: Option<&OsStr>,
    dst: BorrowedFd<'_>,
    dname: Option<&OsStr>,
) -> io::Result<()> {
    let from = proc_path(src, sname);
    let keys = match sys::llistxattr(&from) {
        Ok(k) => k,
        Err(e) if e.raw_os_error() == Some(libc::ENOTSUP) => return Ok(()),
        Err(e) => return Err(e),
    };
    for key in keys {
        let Some(value) = sys::lgetxattr(&from, &key)? else {
            continue;
        };
        let set = match dname {
            Some(n) => sys::lsetxattr_at(dst, n, &key, &value),
            None => sys::fsetxattr(dst, &key, &value),
        };
        match set {
            Ok(()) => {}
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOTSUP | libc::EPERM)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn atime(st: &Stat) -> FileTime {
    FileTime {
        sec: st.st_atime,
        nsec: st.st_atime_nsec as u32,
    }
}

fn mtime(st: &Stat) -> FileTime {
    FileTime {
        sec: st.st_mtime,
        nsec: st.st_mtime_nsec as u32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    #[test]
    fn copies_modes_links_and_symlinks() {
        let tmp = tempfile::tempdir().unwrap();
        let (src, dst) = (tmp.path().join("s"), tmp.path().join("d"));
        std::fs::create_dir_all(src.join("sub")).unwrap();
        std::fs::create_dir(&dst).unwrap();
        std::fs::write(src.join("sub/f"), b"data").unwrap();
        std::fs::set_permissions(src.join("sub/f"), std::fs::Permissions::from_mode(0o640))
            .unwrap();
        std::fs::hard_link(src.join("sub/f"), src.join("h")).unwrap();
        std::os::unix::fs::symlink("sub/f", src.join("l")).unwrap();
        std::fs::set_permissions(&src, std::fs::Permissions::from_mode(0o750)).unwrap();
        copy_tree(&src, &dst).unwrap();
        assert_eq!(std::fs::read(dst.join("sub/f")).unwrap(), b"data");
        let f = std::fs::metadata(dst.join("sub/f")).unwrap();
        assert_eq!(f.mode() & 0o7777, 0o640);
        assert_eq!(f.ino(), std::fs::metadata(dst.join("h")).unwrap().ino());
        assert_eq!(
            std::fs::read_link(dst.join("l")).unwrap(),
            Path::new("sub/f")
        );
        assert_eq!(std::fs::metadata(&dst).unwrap().mode() & 0o7777, 0o750);
    }
}
