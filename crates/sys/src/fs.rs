//! File-system syscalls used by layer unpacking and packing.
//!
//! Every function is a thin, policy-free wrapper: it takes a directory fd plus a single path
//! component (or a path resolved with `RESOLVE_IN_ROOT`) and returns `io::Result`. The
//! `*_at` functions never follow a symlink in the final component; path resolution that may
//! follow symlinks only happens in [`open_dir_in_root`] / [`open_in_root`], where the kernel
//! keeps every step (`..`, absolute symlinks) inside the root fd.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use rustix::fs::{AtFlags, Dev, Mode, ResolveFlags, Timespec, Timestamps, XattrFlags};

pub use rustix::fs::{FileType, OFlags, Stat};

/// Kinds of special files that [`mknod_at`] creates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    /// A character device.
    Char,
    /// A block device.
    Block,
    /// A named pipe.
    Fifo,
}

/// A point in time for [`set_times_at`] / [`set_times`], with nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileTime {
    /// Seconds since the epoch (may be negative).
    pub sec: i64,
    /// Nanoseconds, `0..1_000_000_000`.
    pub nsec: u32,
}

fn errno(e: rustix::io::Errno) -> io::Error {
    io::Error::from_raw_os_error(e.raw_os_error())
}

fn resolve_in_root() -> ResolveFlags {
    ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS
}

/// Opens an existing directory by an ordinary path (for the root of an unpack or pack).
pub fn open_dir(path: &Path) -> io::Result<OwnedFd> {
    rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(errno)
}

/// Opens `path` as a directory, resolving every component (including `..` and absolute
/// symlinks) as if `root` were `/`. The result is an `O_PATH` fd usable as a dirfd for `*at`
/// calls. An empty path yields the root itself.
pub fn open_dir_in_root(root: BorrowedFd<'_>, path: &Path) -> io::Result<OwnedFd> {
    open_in_root(root, path, OFlags::PATH | OFlags::DIRECTORY)
}

/// `openat2(root, path, flags | O_CLOEXEC, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)`.
pub fn open_in_root(root: BorrowedFd<'_>, path: &Path, flags: OFlags) -> io::Result<OwnedFd> {
    let path: &Path = if path.as_os_str().is_empty() {
        Path::new(".")
    } else {
        path
    };
    // openat2 returns EAGAIN when a concurrent rename races with `..` resolution; the kernel
    // asks for a retry rather than risk a wrong answer. Bounded, so a hostile loop cannot spin.
    let mut tries = 0;
    loop {
        let res = rustix::fs::openat2(
            root,
            path,
            flags | OFlags::CLOEXEC,
            Mode::empty(),
            resolve_in_root(),
        );
        match res {
            Err(rustix::io::Errno::AGAIN) if tries < 16 => tries += 1,
            other => {
                return other
                    .map_err(errno)
                    .map_err(crate::kernel::needs("openat2", "5.6"))
            }
        }
    }
}

/// Reopens a (possibly `O_PATH`) directory fd for reading, so that `fchmod`/`fsetxattr`/
/// `futimens` and `readdir` work on it.
pub fn reopen_dir(dir: BorrowedFd<'_>) -> io::Result<OwnedFd> {
    rustix::fs::openat(
        dir,
        ".",
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(errno)
}

/// Opens the directory `name` in `dir` for reading, refusing to follow a symlink.
pub fn open_subdir_nofollow(dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<OwnedFd> {
    rustix::fs::openat(
        dir,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(errno)
}

/// Creates a new regular file `name` in `dir` for writing (`O_CREAT|O_EXCL|O_NOFOLLOW`): fails
/// with `AlreadyExists` rather than opening or following whatever is there.
pub fn create_file_at(dir: BorrowedFd<'_>, name: &OsStr, mode: u32) -> io::Result<File> {
    let fd = rustix::fs::openat(
        dir,
        name,
        OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::from_raw_mode(mode),
    )
    .map_err(errno)?;
    Ok(File::from(fd))
}

/// Opens the regular file `name` in `dir` for reading, refusing to follow a symlink.
pub fn open_file_nofollow(dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<File> {
    let fd = rustix::fs::openat(
        dir,
        name,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(errno)?;
    Ok(File::from(fd))
}

/// `mkdirat(dir, name, mode)`.
pub fn mkdir_at(dir: BorrowedFd<'_>, name: &OsStr, mode: u32) -> io::Result<()> {
    rustix::fs::mkdirat(dir, name, Mode::from_raw_mode(mode)).map_err(errno)
}

/// `symlinkat(target, dir, name)`: the target is stored verbatim and never resolved.
pub fn symlink_at(target: &OsStr, dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<()> {
    rustix::fs::symlinkat(target, dir, name).map_err(errno)
}

/// `linkat(old_dir, old_name, new_dir, new_name, 0)`: a symlink in the final component of the
/// old name is linked itself, never followed (`AT_SYMLINK_FOLLOW` is not set).
pub fn link_at(
    old_dir: BorrowedFd<'_>,
    old_name: &OsStr,
    new_dir: BorrowedFd<'_>,
    new_name: &OsStr,
) -> io::Result<()> {
    rustix::fs::linkat(old_dir, old_name, new_dir, new_name, AtFlags::empty()).map_err(errno)
}

/// `mknodat(dir, name, kind | mode, makedev(major, minor))`.
pub fn mknod_at(
    dir: BorrowedFd<'_>,
    name: &OsStr,
    kind: NodeKind,
    mode: u32,
    major: u32,
    minor: u32,
) -> io::Result<()> {
    let file_type = match kind {
        NodeKind::Char => FileType::CharacterDevice,
        NodeKind::Block => FileType::BlockDevice,
        NodeKind::Fifo => FileType::Fifo,
    };
    let dev: Dev = rustix::fs::makedev(major, minor);
    rustix::fs::mknodat(dir, name, file_type, Mode::from_raw_mode(mode), dev).map_err(errno)
}

/// `unlinkat(dir, name, 0)`: removes a non-directory.
pub fn unlink_at(dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<()> {
    rustix::fs::unlinkat(dir, name, AtFlags::empty()).map_err(errno)
}

/// `unlinkat(dir, name, AT_REMOVEDIR)`: removes an empty directory.
pub fn rmdir_at(dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<()> {
    rustix::fs::unlinkat(dir, name, AtFlags::REMOVEDIR).map_err(errno)
}

/// `fstatat(dir, name, AT_SYMLINK_NOFOLLOW)`.
pub fn lstat_at(dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<Stat> {
    rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW).map_err(errno)
}

/// `readlinkat(dir, name)`: the target of the symlink `name`, verbatim.
pub fn readlink_at(dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<OsString> {
    use std::os::unix::ffi::OsStringExt;
    rustix::fs::readlinkat(dir, name, Vec::new())
        .map(|target| OsString::from_vec(target.into_bytes()))
        .map_err(errno)
}

/// `fstat(fd)`.
pub fn fstat(fd: BorrowedFd<'_>) -> io::Result<Stat> {
    rustix::fs::fstat(fd).map_err(errno)
}

/// `fchownat(dir, name, uid, gid, AT_SYMLINK_NOFOLLOW)`: changes a symlink itself.
pub fn lchown_at(dir: BorrowedFd<'_>, name: &OsStr, uid: u32, gid: u32) -> io::Result<()> {
    rustix::fs::chownat(
        dir,
        name,
        Some(rustix::fs::Uid::from_raw(uid)),
        Some(rustix::fs::Gid::from_raw(gid)),
        AtFlags::SYMLINK_NOFOLLOW,
    )
    .map_err(errno)
}

/// `fchown(fd, uid, gid)`.
pub fn fchown(fd: BorrowedFd<'_>, uid: u32, gid: u32) -> io::Result<()> {
    rustix::fs::fchown(
        fd,
        Some(rustix::fs::Uid::from_raw(uid)),
        Some(rustix::fs::Gid::from_raw(gid)),
    )
    .map_err(errno)
}

/// `fchmodat(dir, name, mode, 0)`. The kernel follows a symlink in the final component, so the
/// caller must only use this on a name it just created as a non-symlink.
pub fn chmod_at(dir: BorrowedFd<'_>, name: &OsStr, mode: u32) -> io::Result<()> {
    rustix::fs::chmodat(dir, name, Mode::from_raw_mode(mode), AtFlags::empty()).map_err(errno)
}

/// `fchmod(fd, mode)`.
pub fn fchmod(fd: BorrowedFd<'_>, mode: u32) -> io::Result<()> {
    rustix::fs::fchmod(fd, Mode::from_raw_mode(mode)).map_err(errno)
}

fn timestamps(atime: FileTime, mtime: FileTime) -> Timestamps {
    let ts = |t: FileTime| Timespec {
        tv_sec: t.sec,
        tv_nsec: t.nsec.into(),
    };
    Timestamps {
        last_access: ts(atime),
        last_modification: ts(mtime),
    }
}

/// `utimensat(dir, name, [atime, mtime], AT_SYMLINK_NOFOLLOW)`.
pub fn set_times_at(
    dir: BorrowedFd<'_>,
    name: &OsStr,
    atime: FileTime,
    mtime: FileTime,
) -> io::Result<()> {
    rustix::fs::utimensat(
        dir,
        name,
        &timestamps(atime, mtime),
        AtFlags::SYMLINK_NOFOLLOW,
    )
    .map_err(errno)
}

/// `futimens(fd, [atime, mtime])`.
pub fn set_times(fd: BorrowedFd<'_>, atime: FileTime, mtime: FileTime) -> io::Result<()> {
    rustix::fs::futimens(fd, &timestamps(atime, mtime)).map_err(errno)
}

/// `fsetxattr(fd, key, value, 0)`. Needs a real (not `O_PATH`) fd.
pub fn fsetxattr(fd: BorrowedFd<'_>, key: &OsStr, value: &[u8]) -> io::Result<()> {
    rustix::fs::fsetxattr(fd, key, value, XattrFlags::empty()).map_err(errno)
}

/// `lsetxattr` on `name` inside `dir`, without following a symlink in `name`.
///
/// There is no `lsetxattrat` before Linux 6.13, so this goes through
/// `/proc/self/fd/<dir>/<name>`: the kernel follows the `/proc` magic link for our own `dir` fd
/// (a directory we resolved ourselves) and then looks up the single component `name` without
/// following it. `name` must not contain `/`.
pub fn lsetxattr_at(
    dir: BorrowedFd<'_>,
    name: &OsStr,
    key: &OsStr,
    value: &[u8],
) -> io::Result<()> {
    if name.as_bytes().contains(&b'/') {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "name contains '/'",
        ));
    }
    let mut path = OsString::from(format!("/proc/self/fd/{}/", dir.as_raw_fd()));
    path.push(name);
    rustix::fs::lsetxattr(path.as_os_str(), key, value, XattrFlags::empty()).map_err(errno)
}

/// Lists the xattr names of `path` without following a final symlink.
pub fn llistxattr(path: &Path) -> io::Result<Vec<OsString>> {
    let mut buf = vec![0u8; 1024];
    loop {
        match rustix::fs::llistxattr(path, &mut buf[..]) {
            Ok(n) => {
                return Ok(buf[..n]
                    .split(|b| *b == 0)
                    .filter(|s| !s.is_empty())
                    .map(|s| OsStr::from_bytes(s).to_os_string())
                    .collect());
            }
            Err(rustix::io::Errno::RANGE) => buf.resize(buf.len() * 4, 0),
            Err(e) => return Err(errno(e)),
        }
    }
}

/// Reads one xattr of `path` without following a final symlink. `Ok(None)` if it is absent.
pub fn lgetxattr(path: &Path, key: &OsStr) -> io::Result<Option<Vec<u8>>> {
    let mut buf = vec![0u8; 256];
    loop {
        match rustix::fs::lgetxattr(path, key, &mut buf[..]) {
            Ok(n) => {
                buf.truncate(n);
                return Ok(Some(buf));
            }
            Err(rustix::io::Errno::RANGE) => buf.resize(buf.len() * 16, 0),
            Err(rustix::io::Errno::NODATA) => return Ok(None),
            Err(e) => return Err(errno(e)),
        }
    }
}

/// One entry of [`read_dir_names`]: its name and, when the file system reports it, its type.
#[derive(Debug)]
pub struct DirEntryName {
    /// The entry's name (never `.` or `..`).
    pub name: OsString,
    /// `Some(true)` for a directory, `Some(false)` for anything else, `None` if unknown.
    pub is_dir: Option<bool>,
}

/// Lists the entries of the directory `dir` (any fd; it is reopened for reading).
pub fn read_dir_names(dir: BorrowedFd<'_>) -> io::Result<Vec<DirEntryName>> {
    let mut d = rustix::fs::Dir::read_from(dir).map_err(errno)?;
    let mut out = Vec::new();
    while let Some(entry) = d.read() {
        let entry = entry.map_err(errno)?;
        let name = entry.file_name().to_bytes();
        if name == b"." || name == b".." {
            continue;
        }
        let is_dir = match entry.file_type() {
            FileType::Directory => Some(true),
            FileType::Unknown => None,
            _ => Some(false),
        };
        out.push(DirEntryName {
            name: OsStr::from_bytes(name).to_os_string(),
            is_dir,
        });
    }
    Ok(out)
}

/// `syncfs(fd)`: flushes the whole file system that holds `fd` (one call per unpacked layer
/// instead of an fsync per file).
pub fn syncfs(fd: BorrowedFd<'_>) -> io::Result<()> {
    rustix::fs::syncfs(fd).map_err(errno)
}

/// Splits a device number into (major, minor).
pub fn dev_major_minor(dev: u64) -> (u32, u32) {
    (rustix::fs::major(dev), rustix::fs::minor(dev))
}

/// `geteuid() == 0`.
pub fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn write_atomic_replaces_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("state.json");
        for (bytes, durability) in [
            (&b"one"[..], Durability::Durable),
            (b"two", Durability::ProcessCrash),
        ] {
            write_atomic(&p, bytes, durability).unwrap();
            assert_eq!(std::fs::read(&p).unwrap(), bytes);
        }
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        let missing_dir = dir.path().join("nope/state.json");
        assert!(write_atomic(&missing_dir, b"x", Durability::Durable).is_err());
    }

    #[test]
    fn sweep_removes_dead_owners_temps_only() {
        let dir = tempfile::tempdir().unwrap();
        // pid_max is at most 2^22, so this pid cannot exist.
        let dead = dir.path().join(".record.json.4194305.7.tmp");
        let live = dir
            .path()
            .join(format!(".record.json.{}.0.tmp", std::process::id()));
        let other = dir.path().join(".hidden.tmp");
        let real = dir.path().join("record.json");
        for p in [&dead, &live, &other, &real] {
            std::fs::write(p, b"{}").unwrap();
        }
        assert_eq!(sweep_atomic_temps(dir.path()).unwrap(), 1);
        assert!(!dead.exists() && live.exists() && other.exists() && real.exists());
    }

    /// Regression: a writer killed with -9 stays a zombie until its parent reaps it; its temp
    /// file was kept as a live writer's, so the sweep right after the kill left it for good.
    #[test]
    fn sweep_removes_the_temp_of_a_killed_writer_not_yet_reaped() {
        let dir = tempfile::tempdir().unwrap();
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let zombie = dir
            .path()
            .join(format!(".record.json.{}.0.tmp", child.id()));
        std::fs::write(&zombie, b"{").unwrap();
        // Exited but not waited for: a zombie until `wait` below.
        while !std::fs::read_to_string(format!("/proc/{}/stat", child.id()))
            .unwrap()
            .contains(") Z ")
        {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert_eq!(sweep_atomic_temps(dir.path()).unwrap(), 1);
        assert!(!zombie.exists());
        child.wait().unwrap();
    }

    #[test]
    fn open_in_root_clamps_dotdot_and_absolute_symlinks() {
        let tmp = tempfile::tempdir().unwrap();
        let root_path = tmp.path().join("root");
        std::fs::create_dir_all(root_path.join("inner")).unwrap();
        std::os::unix::fs::symlink("/", root_path.join("abs")).unwrap();
        let root = open_dir(&root_path).unwrap();
        let a = open_dir_in_root(root.as_fd(), Path::new("../../inner")).unwrap();
        let b = open_dir_in_root(root.as_fd(), Path::new("abs/inner")).unwrap();
        let sa = fstat(a.as_fd()).unwrap();
        let sb = fstat(b.as_fd()).unwrap();
        assert_eq!((sa.st_dev, sa.st_ino), (sb.st_dev, sb.st_ino));
        let real = std::fs::metadata(root_path.join("inner")).unwrap();
        use std::os::unix::fs::MetadataExt;
        assert_eq!(sa.st_ino, real.ino());
    }

    #[test]
    fn create_file_at_refuses_existing_symlink() {
        let tmp = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("target", tmp.path().join("l")).unwrap();
        let dir = open_dir(tmp.path()).unwrap();
        let err = create_file_at(dir.as_fd(), OsStr::new("l"), 0o644).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        assert!(!tmp.path().join("target").exists());
    }

    #[test]
    fn lsetxattr_at_rejects_slash() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = open_dir(tmp.path()).unwrap();
        let err =
            lsetxattr_at(dir.as_fd(), OsStr::new("a/b"), OsStr::new("user.x"), b"1").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    }
}

/// Whether [`write_atomic`] makes the new file survive a power loss, or only a process crash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// fsync the file before the rename and the directory after: for records that must be
    /// true after a host crash (image records, tags, container records).
    Durable,
    /// Rename only: a killed process never leaves a torn file, but a host crash may lose the
    /// update. For files rewritten on every start (a container's config.json and /etc files),
    /// files that only describe live processes (the runtime's state.json), and the updates of a
    /// `--rm` container's record.
    ProcessCrash,
}

/// Replaces `path` with `bytes` through a temp file in the same directory and a rename, so a
/// reader sees the old or the new content, never a mix. The temp file is named
/// `.<name>.<pid>.<n>.tmp`, so [`sweep_atomic_temps`] can tell whose it is.
pub fn write_atomic(path: &Path, bytes: &[u8], durability: Durability) -> io::Result<()> {
    use std::io::Write;
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let tmp = dir.join(format!(".{name}.{}.{n}.tmp", std::process::id()));
    let result = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        if durability == Durability::Durable {
            f.sync_all()?;
        }
        std::fs::rename(&tmp, path)?;
        if durability == Durability::Durable {
            File::open(dir)?.sync_all()?;
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// The pid that owns a [`write_atomic`] temp file, from its name.
fn atomic_temp_owner(file_name: &str) -> Option<u32> {
    let rest = file_name.strip_prefix('.')?.strip_suffix(".tmp")?;
    let mut parts = rest.rsplitn(3, '.');
    let _n: u64 = parts.next()?.parse().ok()?;
    let pid = parts.next()?.parse().ok()?;
    parts.next().filter(|name| !name.is_empty())?;
    Some(pid)
}

/// Removes the temp files that [`write_atomic`] left in `dir` when its process died between
/// create and rename. Files of live processes are left alone. Returns how many were removed.
pub fn sweep_atomic_temps(dir: &Path) -> io::Result<usize> {
    let mut removed = 0;
    for entry in std::fs::read_dir(dir)?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let dead = atomic_temp_owner(&name).is_some_and(crate::process::process_is_gone);
        if dead {
            std::fs::remove_file(entry.path())?;
            removed += 1;
        }
    }
    Ok(removed)
}
