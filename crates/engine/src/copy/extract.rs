//! A tar stream written below a directory of a root, breakout-safe: every entry's parent is
//! resolved by the kernel with `RESOLVE_IN_ROOT`, and the final component is only touched with
//! no-follow `*at` calls, so a symlink (in the container, or earlier in the archive) pointing at
//! `/etc` or `../..` lands inside the root, never on the host.

use std::ffi::OsStr;
use std::io::{self, Read};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use hull_sys::fs::{self as sys, FileTime, FileType, NodeKind};
use tar::EntryType;

use super::paths::clean;

/// How to write entries.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Keep the archive's uid/gid (`cp -a`); otherwise files belong to the caller (root).
    pub keep_owner: bool,
}

/// Extracts `tar` into `base` (relative to `root`, which must exist).
pub fn extract(tar: impl Read, root: BorrowedFd<'_>, base: &Path, opts: Options) -> io::Result<()> {
    let mut archive = tar::Archive::new(tar);
    for entry in archive.entries()? {
        let mut entry = entry?;
        let rel = clean(&entry.path()?.to_string_lossy());
        let path = base.join(&rel);
        let Some(name) = path.file_name().map(OsStr::to_os_string) else {
            // The archive's `.`: the base directory itself, which exists.
            continue;
        };
        let parent = open_parents(root, path.parent().unwrap_or(Path::new("")))?;
        entry_at(&mut entry, root, base, parent.as_fd(), &name, opts)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", rel.display())))?;
    }
    Ok(())
}

/// Opens `dir` inside `root`, creating missing directories (0755) like `mkdir -p`.
fn open_parents(root: BorrowedFd<'_>, dir: &Path) -> io::Result<OwnedFd> {
    match sys::open_dir_in_root(root, dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        other => return other,
    }
    let mut prefix = PathBuf::new();
    let mut fd = sys::open_dir_in_root(root, &prefix)?;
    for comp in dir.components() {
        prefix.push(comp);
        fd = match sys::open_dir_in_root(root, &prefix) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                match sys::mkdir_at(fd.as_fd(), comp.as_os_str(), 0o755) {
                    Err(e) if e.kind() != io::ErrorKind::AlreadyExists => return Err(e),
                    _ => sys::open_dir_in_root(root, &prefix)?,
                }
            }
            other => other?,
        };
    }
    Ok(fd)
}

fn entry_at<R: Read>(
    entry: &mut tar::Entry<'_, R>,
    root: BorrowedFd<'_>,
    base: &Path,
    dir: BorrowedFd<'_>,
    name: &OsStr,
    opts: Options,
) -> io::Result<()> {
    let h = entry.header().clone();
    let mode = h.mode()? & 0o7777;
    let kind = h.entry_type();
    if kind.is_dir() {
        return directory(dir, name, mode, &h, opts);
    }
    replace_non_dir(dir, name)?;
    match kind {
        EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {
            let mut f = sys::create_file_at(dir, name, 0o600)?;
            io::copy(entry, &mut f)?;
            finish(f.as_fd(), mode, &h, opts)
        }
        EntryType::Symlink => {
            let target = h.link_name()?.unwrap_or_default();
            sys::symlink_at(target.as_os_str(), dir, name)?;
            if opts.keep_owner {
                sys::lchown_at(dir, name, h.uid()? as u32, h.gid()? as u32)?;
            }
            Ok(())
        }
        EntryType::Link => {
            let target = clean(&h.link_name()?.unwrap_or_default().to_string_lossy());
            let target = base.join(target);
            let (tdir, tname) = match (target.parent(), target.file_name()) {
                (Some(p), Some(n)) => (sys::open_dir_in_root(root, p)?, n.to_os_string()),
                _ => return Err(io::Error::new(io::ErrorKind::InvalidInput, "bad hard link")),
            };
            sys::link_at(tdir.as_fd(), &tname, dir, name)
        }
        EntryType::Char | EntryType::Block | EntryType::Fifo => {
            let node = match kind {
                EntryType::Char => NodeKind::Char,
                EntryType::Block => NodeKind::Block,
                _ => NodeKind::Fifo,
            };
            let major = h.device_major()?.unwrap_or(0);
            let minor = h.device_minor()?.unwrap_or(0);
            sys::mknod_at(dir, name, node, mode, major, minor)?;
            if opts.keep_owner {
                sys::lchown_at(dir, name, h.uid()? as u32, h.gid()? as u32)?;
            }
            Ok(())
        }
        // PAX and GNU long-name records are consumed by the tar crate; anything else is skipped.
        _ => Ok(()),
    }
}

/// Removes a non-directory at `name` so a new entry can take its place (a symlink is removed,
/// never followed); a directory there is an error, as with Docker.
fn replace_non_dir(dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<()> {
    match sys::lstat_at(dir, name) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
        Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::Directory => {
            Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                "cannot overwrite a directory with a non-directory",
            ))
        }
        Ok(_) => sys::unlink_at(dir, name),
    }
}

fn directory(
    dir: BorrowedFd<'_>,
    name: &OsStr,
    mode: u32,
    h: &tar::Header,
    opts: Options,
) -> io::Result<()> {
    match sys::lstat_at(dir, name) {
        Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::Directory => {}
        Ok(_) => {
            sys::unlink_at(dir, name)?;
            sys::mkdir_at(dir, name, 0o700)?;
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => sys::mkdir_at(dir, name, 0o700)?,
        Err(e) => return Err(e),
    }
    let fd = sys::open_subdir_nofollow(dir, name)?;
    finish(fd.as_fd(), mode, h, opts)
}

/// Mode, owner and mtime of something we just created and hold open.
fn finish(fd: BorrowedFd<'_>, mode: u32, h: &tar::Header, opts: Options) -> io::Result<()> {
    if opts.keep_owner {
        sys::fchown(fd, h.uid()? as u32, h.gid()? as u32)?;
    }
    // After the chown, which clears set-id bits.
    sys::fchmod(fd, mode)?;
    let mtime = FileTime {
        sec: h.mtime().map_or(0, |t| t as i64),
        nsec: 0,
    };
    sys::set_times(fd, mtime, mtime)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(b: &mut tar::Builder<Vec<u8>>, path: &str, target: &str) {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(EntryType::Symlink);
        h.set_mode(0o777);
        h.set_size(0);
        b.append_link(&mut h, path, target).unwrap();
    }

    fn file(b: &mut tar::Builder<Vec<u8>>, path: &str, body: &[u8]) {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(EntryType::Regular);
        h.set_mode(0o644);
        h.set_size(body.len() as u64);
        // append_data would refuse `..`; set the raw name to test the extractor, not the builder.
        h.as_old_mut().name[..path.len()].copy_from_slice(path.as_bytes());
        h.set_cksum();
        b.append(&h, body).unwrap();
    }

    /// Hostile archives: symlinks to `/` and `../..` followed by paths through them, and `..`
    /// in names. Everything must land inside the temp root.
    #[test]
    fn hostile_entries_stay_inside_the_root() {
        let tmp = tempfile::tempdir().unwrap();
        let root_dir = tmp.path().join("root");
        std::fs::create_dir(&root_dir).unwrap();
        let mut b = tar::Builder::new(Vec::new());
        link(&mut b, "abs", "/");
        link(&mut b, "rel", "../../../../../..");
        file(&mut b, "abs/outside-abs", b"1");
        file(&mut b, "rel/outside-rel", b"2");
        file(&mut b, "../../outside-dotdot", b"3");
        file(&mut b, "etc/group", b"");
        link(&mut b, "sub/etc", "/etc");
        file(&mut b, "sub/etc/passwd", b"4");
        link(&mut b, "dangling", "/nowhere");
        let tar = b.into_inner().unwrap();
        let root = sys::open_dir(&root_dir).unwrap();
        extract(
            &tar[..],
            root.as_fd(),
            Path::new(""),
            Options { keep_owner: false },
        )
        .unwrap();
        for (name, body) in [
            ("outside-abs", "1"),
            ("outside-rel", "2"),
            ("outside-dotdot", "3"),
            ("etc/passwd", "4"),
        ] {
            assert_eq!(
                std::fs::read_to_string(root_dir.join(name)).unwrap(),
                body,
                "{name}"
            );
        }
        let mut above: Vec<_> = std::fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        above.sort();
        assert_eq!(above, ["root"], "nothing written next to the root");

        // Through a dangling symlink: refused, never created outside.
        let mut b = tar::Builder::new(Vec::new());
        file(&mut b, "dangling/x", b"5");
        let tar = b.into_inner().unwrap();
        assert!(extract(
            &tar[..],
            root.as_fd(),
            Path::new(""),
            Options { keep_owner: false }
        )
        .is_err());
        assert!(!Path::new("/nowhere").exists());
    }

    #[test]
    fn a_file_replaces_a_symlink_instead_of_writing_through_it() {
        let tmp = tempfile::tempdir().unwrap();
        let outside = tmp.path().join("outside");
        std::fs::write(&outside, "keep").unwrap();
        let root_dir = tmp.path().join("root");
        std::fs::create_dir(&root_dir).unwrap();
        std::os::unix::fs::symlink(&outside, root_dir.join("f")).unwrap();
        let mut b = tar::Builder::new(Vec::new());
        file(&mut b, "f", b"new");
        let tar = b.into_inner().unwrap();
        let root = sys::open_dir(&root_dir).unwrap();
        extract(
            &tar[..],
            root.as_fd(),
            Path::new(""),
            Options { keep_owner: false },
        )
        .unwrap();
        assert_eq!(std::fs::read_to_string(&outside).unwrap(), "keep");
        assert_eq!(std::fs::read_to_string(root_dir.join("f")).unwrap(), "new");
    }
}
