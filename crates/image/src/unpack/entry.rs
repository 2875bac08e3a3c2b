//! Creating one tar entry inside the layer root, and restoring its metadata.
//!
//! Order per entry: create → contents → chown → chmod → xattrs → times. chmod must happen after
//! chown because chown clears setuid/setgid; xattrs after chown because chown clears
//! `security.capability`. Directory mode and times are deferred to [`Unpacker::finish`], because
//! creating children changes a directory's mtime and a read-only mode would block them.

use std::cmp::Reverse;
use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::io::{self, Read};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use hull_sys::fs::{self as sys, FileTime, FileType, NodeKind};
use tar::EntryType;

use super::error::{Failure, Op, Refusal, UnpackError};
use super::meta::{copy_contents, Meta};
use super::path::{self, EntryPath};
use super::root::Root;
use super::whiteout::{self, Whiteout, OPAQUE_XATTR, OVERLAY_XATTR_PREFIX};
use super::{UnpackOptions, UnpackStats};

/// Copy buffer size: large enough that a 150 MB layer costs few syscalls per file.
const COPY_BUF: usize = 128 * 1024;

/// What an entry creates, decided from its tar type.
enum Kind {
    Dir,
    File,
    Symlink,
    Hardlink,
    Node(NodeKind),
}

/// `Ok(None)` for headers that carry no file (PAX global headers).
fn kind_of(t: EntryType) -> Result<Option<Kind>, Refusal> {
    Ok(Some(match t {
        // GNU sparse files are expanded (holes as zeros) by the tar crate's reader.
        EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => Kind::File,
        EntryType::Directory => Kind::Dir,
        EntryType::Symlink => Kind::Symlink,
        EntryType::Link => Kind::Hardlink,
        EntryType::Char => Kind::Node(NodeKind::Char),
        EntryType::Block => Kind::Node(NodeKind::Block),
        EntryType::Fifo => Kind::Node(NodeKind::Fifo),
        EntryType::XGlobalHeader => return Ok(None),
        other => return Err(Refusal::Unsupported(other.as_byte() as char)),
    }))
}

/// Directory metadata applied at the end.
struct DirMeta {
    mode: u32,
    atime: FileTime,
    mtime: FileTime,
}

/// The state of one unpack: the root, the copy buffer and the deferred directory metadata.
pub(super) struct Unpacker {
    root: Root,
    chown: bool,
    buf: Vec<u8>,
    dirs: HashMap<PathBuf, DirMeta>,
    stats: UnpackStats,
}

impl Unpacker {
    pub fn new(root: Root, opts: &UnpackOptions) -> Unpacker {
        Unpacker {
            root,
            chown: opts.chown,
            buf: vec![0; COPY_BUF],
            dirs: HashMap::new(),
            stats: UnpackStats::default(),
        }
    }

    /// Extracts one entry; errors name the entry as written in the archive.
    pub fn entry<R: Read>(&mut self, e: &mut tar::Entry<'_, R>) -> Result<(), UnpackError> {
        let raw = e.path_bytes().into_owned();
        self.extract(e, &raw).map_err(|f| f.for_entry(&raw))
    }

    fn extract<R: Read>(&mut self, e: &mut tar::Entry<'_, R>, raw: &[u8]) -> Result<(), Failure> {
        let Some(kind) = kind_of(e.header().entry_type())? else {
            return Ok(());
        };
        self.stats.entries += 1;
        let Some(path) = path::clean(raw)? else {
            return self.root_entry(kind, e);
        };
        match whiteout::classify(&path.name)? {
            Whiteout::None => {}
            Whiteout::Opaque => return self.opaque(&path.parent),
            Whiteout::Remove(name) => return self.whiteout(&path.parent, name, &Meta::read(e)?),
            Whiteout::AufsMeta => return Ok(()),
        }
        let meta = Meta::read(e)?;
        let dir = self.root.parent(&path.parent)?;
        let dir = dir.as_fd();
        match kind {
            Kind::Dir => self.dir(dir, &path, meta),
            Kind::File => self.file(dir, &path.name, &meta, e),
            Kind::Symlink => self.symlink(dir, &path.name, &meta, link_name(e)?),
            Kind::Hardlink => self.hardlink(dir, &path.name, link_name(e)?),
            Kind::Node(k) => self.node(dir, &path.name, k, &meta, e.header()),
        }
    }

    /// Runs `create`; if the name is taken, removes what is there (a whole tree for a
    /// directory) and runs it once more.
    fn create<T>(
        &mut self,
        dir: BorrowedFd<'_>,
        name: &OsStr,
        op: &str,
        mut create: impl FnMut() -> io::Result<T>,
    ) -> Result<T, Failure> {
        match create() {
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                self.root.remove(dir, name).op("remove existing")?;
                create().op(op)
            }
            other => other.op(op),
        }
    }

    /// An entry naming the layer root itself (`./`): only a directory, whose metadata applies
    /// to the root.
    fn root_entry<R: Read>(
        &mut self,
        kind: Kind,
        e: &mut tar::Entry<'_, R>,
    ) -> Result<(), Failure> {
        if !matches!(kind, Kind::Dir) {
            return Err(Refusal::RootNotDir.into());
        }
        let meta = Meta::read(e)?;
        let fd = sys::reopen_dir(self.root.fd()).op("open layer root")?;
        self.dir_owner_and_xattrs(fd.as_fd(), &meta)?;
        self.defer_dir(PathBuf::new(), &meta);
        Ok(())
    }

    fn dir(&mut self, dir: BorrowedFd<'_>, path: &EntryPath, meta: Meta) -> Result<(), Failure> {
        let name = &*path.name;
        match sys::mkdir_at(dir, name, 0o755) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                let st = sys::lstat_at(dir, name).op("stat existing")?;
                if FileType::from_raw_mode(st.st_mode) != FileType::Directory {
                    self.root.remove(dir, name).op("remove existing")?;
                    sys::mkdir_at(dir, name, 0o755).op("create directory")?;
                }
            }
            Err(e) => return Err(Failure::Io("create directory".into(), e)),
        }
        if self.chown || !meta.xattrs.is_empty() {
            let fd = sys::open_subdir_nofollow(dir, name).op("open directory")?;
            self.dir_owner_and_xattrs(fd.as_fd(), &meta)?;
        }
        self.defer_dir(path.full(), &meta);
        Ok(())
    }

    fn dir_owner_and_xattrs(&self, fd: BorrowedFd<'_>, meta: &Meta) -> Result<(), Failure> {
        if self.chown {
            sys::fchown(fd, meta.uid, meta.gid).op("chown")?;
        }
        set_xattrs(&meta.xattrs, |k, v| sys::fsetxattr(fd, k, v))
    }

    fn defer_dir(&mut self, path: PathBuf, meta: &Meta) {
        let m = DirMeta {
            mode: meta.mode,
            atime: meta.atime,
            mtime: meta.mtime,
        };
        self.dirs.insert(path, m);
    }

    fn file<R: Read>(
        &mut self,
        dir: BorrowedFd<'_>,
        name: &OsStr,
        meta: &Meta,
        e: &mut tar::Entry<'_, R>,
    ) -> Result<(), Failure> {
        let mut f = self.create(dir, name, "create file", || {
            sys::create_file_at(dir, name, 0o600)
        })?;
        self.stats.bytes += copy_contents(e, &mut f, &mut self.buf)?;
        let fd = f.as_fd();
        if self.chown {
            sys::fchown(fd, meta.uid, meta.gid).op("chown")?;
        }
        sys::fchmod(fd, meta.mode).op("chmod")?;
        set_xattrs(&meta.xattrs, |k, v| sys::fsetxattr(fd, k, v))?;
        sys::set_times(fd, meta.atime, meta.mtime).op("set times")
    }

    fn symlink(
        &mut self,
        dir: BorrowedFd<'_>,
        name: &OsStr,
        meta: &Meta,
        target: Vec<u8>,
    ) -> Result<(), Failure> {
        let target = OsString::from_vec(target);
        self.create(dir, name, "create symlink", || {
            sys::symlink_at(&target, dir, name)
        })?;
        self.link_metadata(dir, name, meta)
    }

    /// Owner, xattrs and times of a symlink or device node, by name, never following it.
    fn link_metadata(&self, dir: BorrowedFd<'_>, name: &OsStr, meta: &Meta) -> Result<(), Failure> {
        if self.chown {
            sys::lchown_at(dir, name, meta.uid, meta.gid).op("chown")?;
        }
        set_xattrs(&meta.xattrs, |k, v| sys::lsetxattr_at(dir, name, k, v))?;
        sys::set_times_at(dir, name, meta.atime, meta.mtime).op("set times")
    }

    fn hardlink(
        &mut self,
        dir: BorrowedFd<'_>,
        name: &OsStr,
        target: Vec<u8>,
    ) -> Result<(), Failure> {
        let shown = String::from_utf8_lossy(&target).into_owned();
        let Some(target) = path::clean(&target)? else {
            return Err(Refusal::LinkTargetIsDir(shown).into());
        };
        let missing = || Failure::from(Refusal::LinkTargetMissing(shown.clone()));
        let tdir = match self.root.existing_dir(&target.parent) {
            Ok(fd) => fd,
            Err(e) if is_not_found(&e) => return Err(missing()),
            Err(e) => return Err(Failure::Io("open hardlink target parent".into(), e)),
        };
        let st = match sys::lstat_at(tdir.as_fd(), &target.name) {
            Ok(st) => st,
            Err(e) if is_not_found(&e) => return Err(missing()),
            Err(e) => return Err(Failure::Io("stat hardlink target".into(), e)),
        };
        if FileType::from_raw_mode(st.st_mode) == FileType::Directory {
            return Err(Refusal::LinkTargetIsDir(shown).into());
        }
        if let Ok(existing) = sys::lstat_at(dir, name) {
            if (existing.st_dev, existing.st_ino) == (st.st_dev, st.st_ino) {
                return Ok(());
            }
        }
        self.create(dir, name, "create hardlink", || {
            sys::link_at(tdir.as_fd(), &target.name, dir, name)
        })
    }

    fn node(
        &mut self,
        dir: BorrowedFd<'_>,
        name: &OsStr,
        kind: NodeKind,
        meta: &Meta,
        h: &tar::Header,
    ) -> Result<(), Failure> {
        let bad = |_| Failure::Refused(Refusal::BadHeader("device number"));
        let major = h.device_major().map_err(bad)?.unwrap_or(0);
        let minor = h.device_minor().map_err(bad)?.unwrap_or(0);
        self.create(dir, name, "create device node", || {
            sys::mknod_at(dir, name, kind, 0o600, major, minor)
        })?;
        if self.chown {
            sys::lchown_at(dir, name, meta.uid, meta.gid).op("chown")?;
        }
        // Not a symlink: we just created it with mknodat, and we are the only writer of the root.
        sys::chmod_at(dir, name, meta.mode).op("chmod")?;
        set_xattrs(&meta.xattrs, |k, v| sys::lsetxattr_at(dir, name, k, v))?;
        sys::set_times_at(dir, name, meta.atime, meta.mtime).op("set times")
    }

    /// `dir/.wh.name`: a 0/0 character device hides `name` in lower layers.
    /// Owner and times come from the entry so that a pack of the layer reproduces it.
    fn whiteout(&mut self, parent: &Path, name: &OsStr, meta: &Meta) -> Result<(), Failure> {
        let dir = self.root.parent(parent)?;
        let dir = dir.as_fd();
        self.create(dir, name, "create whiteout", || {
            sys::mknod_at(dir, name, NodeKind::Char, 0, 0, 0)
        })?;
        if self.chown {
            sys::lchown_at(dir, name, meta.uid, meta.gid).op("chown")?;
        }
        sys::set_times_at(dir, name, meta.atime, meta.mtime).op("set times")
    }

    /// `dir/.wh..wh..opq`: the directory hides everything below it in lower layers.
    fn opaque(&mut self, parent: &Path) -> Result<(), Failure> {
        let dir = self.root.parent(parent)?;
        let fd = sys::reopen_dir(dir.as_fd()).op("open opaque directory")?;
        sys::fsetxattr(fd.as_fd(), OsStr::new(OPAQUE_XATTR), b"y").op("set opaque xattr")
    }

    /// Applies deferred directory modes and times, deepest first, then returns the totals.
    pub fn finish(mut self) -> Result<UnpackStats, UnpackError> {
        let mut dirs: Vec<_> = std::mem::take(&mut self.dirs).into_iter().collect();
        dirs.sort_by_key(|(p, _)| Reverse(path::depth(p)));
        for (p, m) in dirs {
            self.finish_dir(&p, &m)
                .map_err(|f| f.for_entry(p.as_os_str().as_bytes()))?;
        }
        Ok(self.stats)
    }

    fn finish_dir(&self, p: &Path, m: &DirMeta) -> Result<(), Failure> {
        let fd = match (p.parent(), p.file_name()) {
            (Some(parent), Some(name)) => {
                let pfd = match self.root.existing_dir(parent) {
                    Ok(fd) => fd,
                    Err(e) if is_not_found(&e) => return Ok(()),
                    Err(e) => return Err(Failure::Io("open parent".into(), e)),
                };
                match sys::open_subdir_nofollow(pfd.as_fd(), name) {
                    Ok(fd) => fd,
                    // Replaced later in the layer by a non-directory or removed by a whiteout.
                    Err(e) if is_not_found(&e) || e.raw_os_error() == Some(libc::ELOOP) => {
                        return Ok(())
                    }
                    Err(e) => return Err(Failure::Io("open directory".into(), e)),
                }
            }
            _ => sys::reopen_dir(self.root.fd()).op("open layer root")?,
        };
        sys::fchmod(fd.as_fd(), m.mode).op("chmod")?;
        sys::set_times(fd.as_fd(), m.atime, m.mtime).op("set times")
    }
}

fn is_not_found(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOENT) | Some(libc::ENOTDIR))
}

fn link_name<R: Read>(e: &tar::Entry<'_, R>) -> Result<Vec<u8>, Failure> {
    match e.link_name_bytes() {
        Some(l) if !l.is_empty() => Ok(l.into_owned()),
        _ => Err(Refusal::MissingLinkName.into()),
    }
}

/// Sets each xattr with `set`. `trusted.overlay.*` never comes from a tar stream (only whiteout
/// names may create overlay metadata). `trusted.*`/`security.*` may be skipped only where the
/// file system does not support them at all (EOPNOTSUPP).
fn set_xattrs(
    xattrs: &[(OsString, Vec<u8>)],
    mut set: impl FnMut(&OsStr, &[u8]) -> io::Result<()>,
) -> Result<(), Failure> {
    for (k, v) in xattrs {
        let kb = k.as_bytes();
        if kb.starts_with(OVERLAY_XATTR_PREFIX.as_bytes()) {
            continue;
        }
        match set(k, v) {
            Ok(()) => {}
            Err(e)
                if e.raw_os_error() == Some(libc::EOPNOTSUPP)
                    && (kb.starts_with(b"trusted.") || kb.starts_with(b"security.")) => {}
            Err(e) => return Err(Failure::Io(format!("set xattr {k:?}"), e)),
        }
    }
    Ok(())
}
