//! Writing a layer directory (overlay conventions) back out as a layer tar.
//!
//! The walk never follows symlinks and emits siblings in byte order. Overlay conventions map
//! back to AUFS names: a 0/0 character device becomes `.wh.<name>`, and a directory with
//! `trusted.overlay.opaque=y` is followed by `<dir>/.wh..wh..opq`. Other xattrs travel as PAX
//! `SCHILY.xattr.*` records, and sub-second mtimes as a PAX `mtime`.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs::{self, Metadata};
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use hull_sys::fs as sys;
use tar::{EntryType, Header};

use super::error::UnpackError;
use super::whiteout::{OPAQUE, OPAQUE_XATTR, OVERLAY_XATTR_PREFIX, PREFIX};

/// Writes `dir` as a layer tar to `out`, finishes the archive and returns `out`.
///
/// ```no_run
/// let tar = hull_image::unpack::pack(std::path::Path::new("/layers/abc"), Vec::new())?;
/// # Ok::<(), hull_image::unpack::UnpackError>(())
/// ```
pub fn pack<W: Write>(dir: &Path, out: W) -> Result<W, UnpackError> {
    let mut p = Packer {
        base: dir,
        b: tar::Builder::new(out),
        first_link: HashMap::new(),
    };
    p.walk(Path::new(""))?;
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

    fn walk(&mut self, rel_dir: &Path) -> Res<()> {
        let abs = self.base.join(rel_dir);
        let rd = fs::read_dir(&abs).map_err(self.fail(rel_dir, "read directory"))?;
        let mut names = rd
            .map(|e| e.map(|e| e.file_name()))
            .collect::<io::Result<Vec<_>>>()
            .map_err(self.fail(rel_dir, "read directory"))?;
        names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        for name in names {
            let rel = rel_dir.join(&name);
            let md = fs::symlink_metadata(self.base.join(&rel)).map_err(self.fail(&rel, "stat"))?;
            self.emit(&rel, &name, &md)?;
            if md.is_dir() {
                self.walk(&rel)?;
            }
        }
        Ok(())
    }

    fn emit(&mut self, rel: &Path, name: &OsStr, md: &Metadata) -> Res<()> {
        let ft = md.file_type();
        let mut h = header(md);
        if ft.is_char_device() && md.rdev() == 0 {
            let mut wh = PREFIX.as_bytes().to_vec();
            wh.extend_from_slice(name.as_bytes());
            let wh = rel.with_file_name(OsStr::from_bytes(&wh));
            h.set_entry_type(EntryType::Regular);
            return self.append(&mut h, &wh, io::empty());
        }
        self.pax(rel, md)?;
        if ft.is_dir() {
            h.set_entry_type(EntryType::Directory);
            self.append(&mut h, rel, io::empty())?;
            return self.opaque_marker(rel, md);
        }
        if ft.is_symlink() {
            let target = fs::read_link(self.base.join(rel)).map_err(self.fail(rel, "read link"))?;
            h.set_entry_type(EntryType::Symlink);
            return self.append_link(&mut h, rel, &target);
        }
        if ft.is_file() {
            return self.file(&mut h, rel, md);
        }
        let (major, minor) = sys::dev_major_minor(md.rdev());
        let kind = if ft.is_char_device() {
            EntryType::Char
        } else if ft.is_block_device() {
            EntryType::Block
        } else if ft.is_fifo() {
            EntryType::Fifo
        } else {
            return Ok(()); // sockets cannot be archived; Docker skips them too
        };
        h.set_entry_type(kind);
        h.set_device_major(major)
            .map_err(self.fail(rel, "set device"))?;
        h.set_device_minor(minor)
            .map_err(self.fail(rel, "set device"))?;
        self.append(&mut h, rel, io::empty())
    }

    fn file(&mut self, h: &mut Header, rel: &Path, md: &Metadata) -> Res<()> {
        if md.nlink() > 1 {
            let key = (md.dev(), md.ino());
            if let Some(first) = self.first_link.get(&key).cloned() {
                h.set_entry_type(EntryType::Link);
                return self.append_link(h, rel, &first);
            }
            self.first_link.insert(key, rel.to_owned());
        }
        let f = fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(self.base.join(rel))
            .map_err(self.fail(rel, "open file"))?;
        h.set_entry_type(EntryType::Regular);
        h.set_size(md.len());
        self.append(h, rel, f)
    }

    /// `dir/.wh..wh..opq` after an opaque directory.
    fn opaque_marker(&mut self, rel: &Path, md: &Metadata) -> Res<()> {
        let abs = self.base.join(rel);
        let opaque = sys::lgetxattr(&abs, OsStr::new(OPAQUE_XATTR))
            .or_else(|e| match e.raw_os_error() {
                Some(libc::EOPNOTSUPP) | Some(libc::EPERM) => Ok(None),
                _ => Err(e),
            })
            .map_err(self.fail(rel, "read opaque xattr"))?;
        if opaque.as_deref() != Some(b"y") {
            return Ok(());
        }
        let mut h = header(md);
        h.set_mode(0o644);
        h.set_entry_type(EntryType::Regular);
        self.append(&mut h, &rel.join(OPAQUE), io::empty())
    }

    /// A PAX header with xattrs (except overlay's own) and a sub-second mtime, if any.
    fn pax(&mut self, rel: &Path, md: &Metadata) -> Res<()> {
        let mut recs: Vec<(String, Vec<u8>)> = Vec::new();
        if md.mtime() >= 0 && md.mtime_nsec() != 0 {
            let v = format!("{}.{:09}", md.mtime(), md.mtime_nsec());
            recs.push(("mtime".into(), v.into_bytes()));
        }
        let abs = self.base.join(rel);
        let names = match sys::llistxattr(&abs) {
            Ok(n) => n,
            Err(e) if e.raw_os_error() == Some(libc::EOPNOTSUPP) => Vec::new(),
            Err(e) => return Err(self.fail(rel, "list xattrs")(e)),
        };
        for n in names {
            let Some(key) = n.to_str() else { continue };
            if key.starts_with(OVERLAY_XATTR_PREFIX) {
                continue;
            }
            if let Some(v) = sys::lgetxattr(&abs, &n).map_err(self.fail(rel, "read xattr"))? {
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
fn header(md: &Metadata) -> Header {
    let mut h = Header::new_gnu();
    h.set_mode(md.mode() & 0o7777);
    h.set_uid(md.uid().into());
    h.set_gid(md.gid().into());
    h.set_mtime(md.mtime().max(0) as u64);
    h.set_size(0);
    h
}
