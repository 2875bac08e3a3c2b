//! The layer root: every path an entry names is resolved here, inside the root, by the kernel.
//!
//! Parents are opened with `openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)` on the root fd, so
//! `..` and absolute symlinks (even ones created earlier by the same layer) stay inside. The final
//! component is then only ever touched with `*at` calls that do not follow symlinks.

use std::ffi::OsStr;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use hull_sys::fs as sys;

use super::error::{Failure, Op, Refusal};

/// A dirfd for the layer root plus a one-slot cache of the most recently resolved parent.
pub(super) struct Root {
    fd: Rc<OwnedFd>,
    /// The last parent resolved, keyed by its cleaned path. Dropped on every removal, because
    /// only a removal (never a creation) can change what an already-resolved path names.
    cache: Option<(PathBuf, Rc<OwnedFd>)>,
}

fn lossy(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

fn raw_errno(e: &io::Error) -> Option<i32> {
    e.raw_os_error()
}

impl Root {
    pub fn open(dest: &Path) -> io::Result<Root> {
        Ok(Root {
            fd: Rc::new(sys::open_dir(dest)?),
            cache: None,
        })
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Resolves `parent` to a directory fd inside the root, creating missing directories (0755).
    pub fn parent(&mut self, parent: &Path) -> Result<Rc<OwnedFd>, Failure> {
        if parent.as_os_str().is_empty() {
            return Ok(self.fd.clone());
        }
        if let Some((key, fd)) = &self.cache {
            if key == parent {
                return Ok(fd.clone());
            }
        }
        let fd = match sys::open_dir_in_root(self.fd(), parent) {
            Ok(fd) => fd,
            Err(e) if raw_errno(&e) == Some(libc::ENOENT) => self.create_parents(parent)?,
            Err(e) => return Err(Self::parent_failure(parent, e)),
        };
        let fd = Rc::new(fd);
        self.cache = Some((parent.to_owned(), fd.clone()));
        Ok(fd)
    }

    /// Opens an existing directory inside the root without creating anything.
    pub fn existing_dir(&self, path: &Path) -> io::Result<OwnedFd> {
        sys::open_dir_in_root(self.fd(), path)
    }

    fn parent_failure(parent: &Path, e: io::Error) -> Failure {
        match raw_errno(&e) {
            Some(libc::ENOTDIR) => Refusal::ParentNotDir(lossy(parent)).into(),
            _ => Failure::Io(format!("open parent {:?}", lossy(parent)), e),
        }
    }

    /// Walks `parent` one component at a time from the root, creating what is missing.
    fn create_parents(&mut self, parent: &Path) -> Result<OwnedFd, Failure> {
        let mut prefix = PathBuf::new();
        let mut dir = sys::reopen_dir(self.fd()).op("open layer root")?;
        for comp in parent.components() {
            prefix.push(comp);
            dir = match sys::open_dir_in_root(self.fd(), &prefix) {
                Ok(fd) => fd,
                Err(e) if raw_errno(&e) == Some(libc::ENOENT) => {
                    self.mkdir_missing(dir.as_fd(), comp.as_os_str(), &prefix)?
                }
                Err(e) => return Err(Self::parent_failure(&prefix, e)),
            };
        }
        Ok(dir)
    }

    fn mkdir_missing(
        &self,
        dir: BorrowedFd<'_>,
        name: &OsStr,
        prefix: &Path,
    ) -> Result<OwnedFd, Failure> {
        match sys::mkdir_at(dir, name, 0o755) {
            // Not a symlink: we just created it. Explicit chmod so the process umask does not
            // decide the mode of directories the layer never described.
            Ok(()) => sys::chmod_at(dir, name, 0o755)
                .map_err(|e| Failure::Io(format!("chmod parent {:?}", lossy(prefix)), e))?,
            // Something is there yet did not resolve: a dangling symlink, reported below.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(Failure::Io(format!("create parent {:?}", lossy(prefix)), e)),
        }
        match sys::open_dir_in_root(self.fd(), prefix) {
            Ok(fd) => Ok(fd),
            Err(e) if raw_errno(&e) == Some(libc::ENOENT) => {
                Err(Refusal::DanglingParent(lossy(prefix)).into())
            }
            Err(e) => Err(Self::parent_failure(prefix, e)),
        }
    }

    /// Removes whatever `name` in `dir` is (a whole tree for a directory). Absent is fine.
    pub fn remove(&mut self, dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<()> {
        self.cache = None;
        match sys::unlink_at(dir, name) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) if is_dir_error(&e) => remove_tree(dir, name),
            Err(e) => Err(e),
        }
    }
}

/// `unlink` of a directory fails with EISDIR on Linux (EPERM per POSIX).
fn is_dir_error(e: &io::Error) -> bool {
    matches!(raw_errno(e), Some(libc::EISDIR) | Some(libc::EPERM))
}

/// Removes the directory `name` in `dir` and everything below it, never following symlinks.
fn remove_tree(dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<()> {
    let sub = sys::open_subdir_nofollow(dir, name)?;
    for child in sys::read_dir_names(sub.as_fd())? {
        match child.is_dir {
            Some(true) => remove_tree(sub.as_fd(), &child.name)?,
            _ => match sys::unlink_at(sub.as_fd(), &child.name) {
                Err(e) if is_dir_error(&e) => remove_tree(sub.as_fd(), &child.name)?,
                other => other?,
            },
        }
    }
    sys::rmdir_at(dir, name)
}
