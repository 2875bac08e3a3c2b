//! A tree as a tar stream, read through directory fds without ever following a symlink: a
//! container that swaps a directory for a symlink mid-walk cannot make us read outside it.

use std::ffi::OsStr;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use hull_sys::fs::{self as sys, FileType, Stat};
use tar::{EntryType, Header};

/// Writes `name` in `dir` (and everything below it, for a directory) to `b`, with archive path
/// `as_path`; an empty `as_path` writes only the directory's children, at the top level.
pub fn tree<W: Write>(
    b: &mut tar::Builder<W>,
    dir: BorrowedFd<'_>,
    name: &OsStr,
    as_path: &Path,
) -> io::Result<()> {
    let st = sys::lstat_at(dir, name)?;
    if as_path.as_os_str().is_empty() {
        return children(b, dir, name, as_path);
    }
    match FileType::from_raw_mode(st.st_mode) {
        FileType::Directory => {
            // `d/`, with the slash, as tar(1) and Docker name directories.
            let dir_path = as_path.join("");
            b.append_data(
                &mut header(&st, EntryType::Directory),
                dir_path,
                io::empty(),
            )?;
            children(b, dir, name, as_path)
        }
        FileType::RegularFile => file(b, dir, name, as_path),
        FileType::Symlink => {
            let target = sys::readlink_at(dir, name)?;
            b.append_link(&mut header(&st, EntryType::Symlink), as_path, target)
        }
        FileType::CharacterDevice => device(b, &st, EntryType::Char, as_path),
        FileType::BlockDevice => device(b, &st, EntryType::Block, as_path),
        FileType::Fifo => device(b, &st, EntryType::Fifo, as_path),
        // Sockets cannot be archived (Docker skips them too).
        FileType::Socket | FileType::Unknown => Ok(()),
    }
}

fn children<W: Write>(
    b: &mut tar::Builder<W>,
    dir: BorrowedFd<'_>,
    name: &OsStr,
    as_path: &Path,
) -> io::Result<()> {
    let sub = sys::open_subdir_nofollow(dir, name)?;
    let mut names: Vec<_> = sys::read_dir_names(sub.as_fd())?
        .into_iter()
        .map(|e| e.name)
        .collect();
    names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    for child in names {
        match tree(b, sub.as_fd(), &child, &as_path.join(&child)) {
            // Gone since we listed it: a running container changes its files.
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            other => other?,
        }
    }
    Ok(())
}

fn header(st: &Stat, kind: EntryType) -> Header {
    let mut h = Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(st.st_mode & 0o7777);
    h.set_uid(u64::from(st.st_uid));
    h.set_gid(u64::from(st.st_gid));
    h.set_mtime(u64::try_from(st.st_mtime).unwrap_or(0));
    h.set_size(0);
    h
}

fn file<W: Write>(
    b: &mut tar::Builder<W>,
    dir: BorrowedFd<'_>,
    name: &OsStr,
    as_path: &Path,
) -> io::Result<()> {
    let f = sys::open_file_nofollow(dir, name)?;
    // The opened file's own metadata: the name may have been replaced since the lstat.
    let st = sys::fstat(f.as_fd())?;
    let mut h = header(&st, EntryType::Regular);
    let size = u64::try_from(st.st_size).unwrap_or(0);
    h.set_size(size);
    b.append_data(&mut h, as_path, Exactly::new(f, size))
}

fn device<W: Write>(
    b: &mut tar::Builder<W>,
    st: &Stat,
    kind: EntryType,
    as_path: &Path,
) -> io::Result<()> {
    let mut h = header(st, kind);
    let (major, minor) = sys::dev_major_minor(st.st_rdev);
    h.set_device_major(major)?;
    h.set_device_minor(minor)?;
    b.append_data(&mut h, as_path, io::empty())
}

/// Exactly `size` bytes of `inner`: cut off if it grew, zero-padded if it shrank while being
/// read, so the archive stays well-formed whatever a running container does to the file.
struct Exactly<R> {
    inner: io::Take<R>,
    left: u64,
}

impl<R: Read> Exactly<R> {
    fn new(inner: R, size: u64) -> Self {
        Exactly {
            inner: inner.take(size),
            left: size,
        }
    }
}

impl<R: Read> Read for Exactly<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let want = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        if want == 0 {
            return Ok(0);
        }
        let n = match self.inner.read(&mut buf[..want])? {
            0 => {
                buf[..want].fill(0);
                want
            }
            n => n,
        };
        self.left -= n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exactly_pads_and_cuts() {
        let mut out = Vec::new();
        Exactly::new(&b"abc"[..], 5).read_to_end(&mut out).unwrap();
        assert_eq!(out, b"abc\0\0");
        out.clear();
        Exactly::new(&b"abcdef"[..], 2)
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, b"ab");
    }
}
