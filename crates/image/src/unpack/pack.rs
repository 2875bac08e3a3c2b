//! Writing a layer directory (overlay conventions) back out as a layer tar.
//!
//! The walk never follows symlinks (it goes through directory fds opened `O_NOFOLLOW`, and
//! opens files `O_NOFOLLOW` beside them) and emits siblings in byte order. Overlay conventions map
//! back to AUFS names: a 0/0 character device becomes `.wh.<name>`, and a directory with
//! `trusted.overlay.opaque=y` is followed by `<dir>/.wh..wh..opq`. Other xattrs travel as PAX
//! `SCHILY.xattr.*` records, and sub-second mtimes as a PAX `mtime`.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use hull_sys::fs::{self as sys, FileType};
use tar::{EntryType, Header};

use super::error::UnpackError;
use super::whiteout::{OPAQUE, OPAQUE_XATTR, OVERLAY_XATTR_PREFIX, PREFIX};

/// Where a `userxattr` overlay mount keeps its marks instead of `trusted.overlay.*`.
const USER_OVERLAY_XATTR_PREFIX: &str = "user.overlay.";
const USER_OPAQUE_XATTR: &str = "user.overlay.opaque";

/// Writes `dir` as a layer tar to `out`, finishes the archive and returns `out`.
///
/// ```no_run
/// let tar = hull_image::unpack::pack(std::path::Path::new("/layers/abc"), Vec::new())?;
/// # Ok::<(), hull_image::unpack::UnpackError>(())
/// ```
pub fn pack<W: Write>(dir: &Path, out: W) -> Result<W, UnpackError> {
    pack_with(dir, out, &PackOptions::default())
}

/// What [`pack_with`] leaves out or reads differently.
#[derive(Debug, Clone, Default)]
pub struct PackOptions {
    /// Paths relative to the packed directory that are left out with everything under them.
    pub skip: Vec<PathBuf>,
    /// The directory is a live overlay upper dir: overlay may have marked opaque directories
    /// with `user.overlay.opaque` (a `userxattr` mount), and `user.overlay.*` is overlay's own.
    pub upper: bool,
}

/// `hull commit`'s writer (and `build`'s): [`pack`] with options.
pub fn pack_with<W: Write>(dir: &Path, out: W, opts: &PackOptions) -> Result<W, UnpackError> {
    let mut p = Packer {
        base: dir,
        b: tar::Builder::new(out),
        first_link: HashMap::new(),
        opts,
    };
    let root = sys::open_dir(dir).map_err(p.fail(Path::new(""), "read directory"))?;
    p.walk(root.as_fd(), Path::new(""))?;
    p.b.into_inner().map_err(|cause| UnpackError::Pack {
        path: dir.to_owned(),
        op: "finish archive",
        cause,
    })
}

struct Packer<'a, W: Write> {
    base: &'a Path,
    b: tar::Builder<W>,
    /// (dev, ino) of multiply-linked files → the archive path of their first occurrence.
    first_link: HashMap<(u64, u64), PathBuf>,
    opts: &'a PackOptions,
}

/// What the walk needs of an `lstat`, read through a directory fd.
#[derive(Debug, Clone, Copy)]
struct Meta {
    kind: FileType,
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: i64,
    mtime_nsec: i64,
    rdev: u64,
    nlink: u64,
    dev: u64,
    ino: u64,
    size: u64,
}

impl Meta {
    // The stat field types differ between architectures.
    #[allow(clippy::unnecessary_cast, clippy::useless_conversion)]
    fn of(st: &sys::Stat) -> Meta {
        Meta {
            kind: FileType::from_raw_mode(st.st_mode as _),
            mode: st.st_mode as u32,
            uid: st.st_uid,
            gid: st.st_gid,
            mtime: st.st_mtime as i64,
            mtime_nsec: st.st_mtime_nsec as i64,
            rdev: st.st_rdev as u64,
            nlink: st.st_nlink as u64,
            dev: st.st_dev as u64,
            ino: st.st_ino as u64,
            size: st.st_size.max(0) as u64,
        }
    }
}

/// A path naming `name` inside the directory `dir` without resolving anything but our own fd:
/// for the `l*xattr` calls, which have no `*at` form before Linux 6.13.
fn proc_path(dir: BorrowedFd<'_>, name: &OsStr) -> PathBuf {
    let mut p = PathBuf::from(format!("/proc/self/fd/{}", dir.as_raw_fd()));
    p.push(name);
    p
}

type Res<T> = Result<T, UnpackError>;

impl<W: Write> Packer<'_, W> {
    fn fail(&self, rel: &Path, op: &'static str) -> impl FnOnce(io::Error) -> UnpackError {
        let path = match rel.as_os_str().is_empty() {
            true => self.base.to_owned(),
            false => self.base.join(rel),
        };
        move |cause| UnpackError::Pack { path, op, cause }
    }

    /// Walks through directory fds, each opened `O_NOFOLLOW` from its parent's: a directory
    /// swapped for a symlink while packing is an error, never a way out of the tree.
    fn walk(&mut self, dir: BorrowedFd<'_>, rel_dir: &Path) -> Res<()> {
        let mut names: Vec<OsString> = sys::read_dir_names(dir)
            .map_err(self.fail(rel_dir, "read directory"))?
            .into_iter()
            .map(|e| e.name)
            .collect();
        names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        for name in names {
            let rel = rel_dir.join(&name);
            if self.opts.skip.contains(&rel) {
                continue;
            }
            let st = sys::lstat_at(dir, &name).map_err(self.fail(&rel, "stat"))?;
            let md = Meta::of(&st);
            self.emit(dir, &rel, &name, &md)?;
            if md.kind == FileType::Directory {
                let sub = sys::open_subdir_nofollow(dir, &name)
                    .map_err(self.fail(&rel, "open directory"))?;
                self.walk(sub.as_fd(), &rel)?;
            }
        }
        Ok(())
    }

    fn emit(&mut self, dir: BorrowedFd<'_>, rel: &Path, name: &OsStr, md: &Meta) -> Res<()> {
        let mut h = header(md);
        if md.kind == FileType::CharacterDevice && md.rdev == 0 {
            let mut wh = PREFIX.as_bytes().to_vec();
            wh.extend_from_slice(name.as_bytes());
            let wh = rel.with_file_name(OsStr::from_bytes(&wh));
            h.set_entry_type(EntryType::Regular);
            return self.append(&mut h, &wh, io::empty());
        }
        let at = proc_path(dir, name);
        self.pax(rel, &at, md)?;
        let kind = match md.kind {
            FileType::Directory => {
                h.set_entry_type(EntryType::Directory);
                self.append(&mut h, rel, io::empty())?;
                return self.opaque_marker(rel, &at, md);
            }
            FileType::Symlink => {
                let target = sys::readlink_at(dir, name).map_err(self.fail(rel, "read link"))?;
                h.set_entry_type(EntryType::Symlink);
                return self.append_link(&mut h, rel, Path::new(&target));
            }
            FileType::RegularFile => return self.file(&mut h, dir, rel, name, md),
            FileType::CharacterDevice => EntryType::Char,
            FileType::BlockDevice => EntryType::Block,
            FileType::Fifo => EntryType::Fifo,
            _ => return Ok(()), // sockets cannot be archived; Docker skips them too
        };
        let (major, minor) = sys::dev_major_minor(md.rdev);
        h.set_entry_type(kind);
        h.set_device_major(major)
            .map_err(self.fail(rel, "set device"))?;
        h.set_device_minor(minor)
            .map_err(self.fail(rel, "set device"))?;
        self.append(&mut h, rel, io::empty())
    }

    fn file(
        &mut self,
        h: &mut Header,
        dir: BorrowedFd<'_>,
        rel: &Path,
        name: &OsStr,
        md: &Meta,
    ) -> Res<()> {
        if md.nlink > 1 {
            let key = (md.dev, md.ino);
            if let Some(first) = self.first_link.get(&key).cloned() {
                h.set_entry_type(EntryType::Link);
                return self.append_link(h, rel, &first);
            }
            self.first_link.insert(key, rel.to_owned());
        }
        let f = sys::open_file_nofollow(dir, name).map_err(self.fail(rel, "open file"))?;
        let now = Meta::of(&sys::fstat(f.as_fd()).map_err(self.fail(rel, "stat"))?);
        if (now.dev, now.ino) != (md.dev, md.ino) {
            let moved = io::Error::other("replaced while being packed");
            return Err(self.fail(rel, "open file")(moved));
        }
        h.set_entry_type(EntryType::Regular);
        h.set_size(md.size);
        // Exactly the size the header states, even if the file changes meanwhile.
        let data = f.take(md.size).chain(io::repeat(0)).take(md.size);
        self.append(h, rel, data)
    }

    /// `dir/.wh..wh..opq` after an opaque directory.
    fn opaque_marker(&mut self, rel: &Path, at: &Path, md: &Meta) -> Res<()> {
        let names: &[&str] = match self.opts.upper {
            true => &[OPAQUE_XATTR, USER_OPAQUE_XATTR],
            false => &[OPAQUE_XATTR],
        };
        let mut opaque = false;
        for name in names {
            let v = sys::lgetxattr(at, OsStr::new(name))
                .or_else(|e| match e.raw_os_error() {
                    Some(libc::EOPNOTSUPP) | Some(libc::EPERM) | Some(libc::ENODATA) => Ok(None),
                    _ => Err(e),
                })
                .map_err(self.fail(rel, "read opaque xattr"))?;
            opaque |= v.as_deref() == Some(b"y");
        }
        if !opaque {
            return Ok(());
        }
        let mut h = header(md);
        h.set_mode(0o644);
        h.set_entry_type(EntryType::Regular);
        self.append(&mut h, &rel.join(OPAQUE), io::empty())
    }

    /// A PAX header with xattrs (except overlay's own) and a sub-second mtime, if any.
    fn pax(&mut self, rel: &Path, at: &Path, md: &Meta) -> Res<()> {
        let mut recs: Vec<(String, Vec<u8>)> = Vec::new();
        if md.mtime >= 0 && md.mtime_nsec != 0 {
            let v = format!("{}.{:09}", md.mtime, md.mtime_nsec);
            recs.push(("mtime".into(), v.into_bytes()));
        }
        let names = match sys::llistxattr(at) {
            Ok(n) => n,
            Err(e) if e.raw_os_error() == Some(libc::EOPNOTSUPP) => Vec::new(),
            Err(e) => return Err(self.fail(rel, "list xattrs")(e)),
        };
        for n in names {
            let Some(key) = n.to_str() else { continue };
            let overlays = key.starts_with(OVERLAY_XATTR_PREFIX)
                || (self.opts.upper && key.starts_with(USER_OVERLAY_XATTR_PREFIX));
            if overlays {
                continue;
            }
            if let Some(v) = sys::lgetxattr(at, &n).map_err(self.fail(rel, "read xattr"))? {
                recs.push((format!("SCHILY.xattr.{key}"), v));
            }
        }
        if recs.is_empty() {
            return Ok(());
        }
        let it = recs.iter().map(|(k, v)| (k.as_str(), v.as_slice()));
        self.b
            .append_pax_extensions(it)
            .map_err(self.fail(rel, "write pax header"))
    }

    fn append(&mut self, h: &mut Header, rel: &Path, data: impl io::Read) -> Res<()> {
        self.b
            .append_data(h, rel, data)
            .map_err(self.fail(rel, "write entry"))
    }

    /// Symlink or hardlink. Short targets are stored byte for byte; long ones go through the
    /// GNU long-link header (which normalizes `.` and `//`).
    fn append_link(&mut self, h: &mut Header, rel: &Path, target: &Path) -> Res<()> {
        let bytes = target.as_os_str().as_bytes();
        if bytes.len() <= h.as_old().linkname.len() {
            h.set_link_name_literal(bytes)
                .map_err(self.fail(rel, "set link name"))?;
            return self.append(h, rel, io::empty());
        }
        self.b
            .append_link(h, rel, target)
            .map_err(self.fail(rel, "write entry"))
    }
}

/// A header carrying mode, owner and whole-second mtime; the caller sets type and size.
fn header(md: &Meta) -> Header {
    let mut h = Header::new_gnu();
    h.set_mode(md.mode & 0o7777);
    h.set_uid(md.uid.into());
    h.set_gid(md.gid.into());
    h.set_mtime(md.mtime.max(0) as u64);
    h.set_size(0);
    h
}
