//! `hull cp` and `hull export`: a container's files as tar, both ways, on a running or a stopped
//! container.
//!
//! ```no_run
//! # use hull_engine::{Engine, copy::Options};
//! # fn demo(engine: &Engine) -> Result<(), hull_engine::EngineError> {
//! let opts = Options::default();
//! engine.copy_out("web", "/etc/hostname", "./hostname", std::io::stdout(), opts)?; // CTR:SRC DEST
//! engine.copy_in("./site", std::io::stdin(), "web", "/srv", opts)?;          // SRC CTR:DEST
//! engine.export("web", std::io::stdout())?;
//! # Ok(()) }
//! ```
//!
//! What is seen: the container's root file system, the merged overlay (image layers plus the
//! writable layer). A running container's overlay is already mounted by its runner; a stopped
//! one is mounted for the copy and unmounted after, while its running lock is held so nobody
//! starts it meanwhile. `cp` also sees the container's volumes and bind mounts, as Docker's
//! does (`mounts.rs`): a running container through its own mount namespace, a stopped one with
//! them mounted onto its overlay for the copy. `export` is the root file system alone.
//!
//! Safety: container paths are resolved by the kernel with `RESOLVE_IN_ROOT`, and archives are
//! walked and written with no-follow `*at` calls (see `write.rs`, `extract.rs`).
//!
//! Imports `lifecycle/` (a stopped container's rootfs is mounted as a run mounts it) and
//! `state/`.

mod extract;
mod mounts;
pub mod paths;
pub mod stat;
mod write;

use std::ffi::OsString;
use std::fs;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use hull_image::store::StoreError;
use hull_oci::Digest;
use hull_sys::fs::{self as sys, FileType, OFlags};

use crate::lifecycle::run::MountedRootfs;
use crate::state::{Lock, Record};
use crate::{Engine, EngineError};
use paths::{clean, plan, split_source, Kind, PathError, Source};

pub use extract::Options as ExtractOptions;

/// `hull cp` flags.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// `-a`: keep the archive's uid/gid; otherwise copied files belong to root.
    pub archive: bool,
    /// `-L`: when SRC is a symlink, copy what it points to (resolved on SRC's side).
    pub follow_link: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error(transparent)]
    Path(#[from] PathError),
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: String,
        source: io::Error,
    },
    #[error("container {0} is starting: its root file system is not mounted yet")]
    NotMounted(String),
    #[error("container rootfs is marked read-only: cannot copy into {0}")]
    ReadOnly(String),
}

fn io_err(op: &'static str, path: &Path) -> impl FnOnce(io::Error) -> CopyError {
    let path = format!("/{}", path.display());
    move |source| CopyError::Io { op, path, source }
}

/// A container's root file system, held open (and mounted, if we had to) for a copy. Fields drop
/// in order: the fd, then the volumes and binds, then the mount, then the lock.
pub(crate) struct ContainerFs<'a> {
    root: OwnedFd,
    _binds: Option<mounts::CopyMounts<'a>>,
    _mount: Option<MountedRootfs>,
    _claim: Option<Lock>,
}

/// One side of a copy: inside a container's root, or the host's file system.
enum Side<'a> {
    Container(&'a OwnedFd),
    Host,
}

impl Side<'_> {
    fn open_dir(&self, rel: &Path) -> io::Result<OwnedFd> {
        match self {
            Side::Container(root) => sys::open_dir_in_root(root.as_fd(), rel),
            Side::Host => sys::open_dir(&Path::new("/").join(rel)),
        }
    }

    /// What `rel` names, following symlinks (inside the root, for a container).
    fn kind(&self, rel: &Path) -> io::Result<Kind> {
        let is_dir = match self {
            Side::Container(root) => sys::open_in_root(root.as_fd(), rel, OFlags::PATH)
                .and_then(|fd| sys::fstat(fd.as_fd()))
                .map(|st| FileType::from_raw_mode(st.st_mode) == FileType::Directory),
            Side::Host => fs::metadata(Path::new("/").join(rel)).map(|m| m.is_dir()),
        };
        match is_dir {
            Ok(true) => Ok(Kind::Dir),
            Ok(false) => Ok(Kind::File),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Kind::Missing),
            Err(e) => Err(e),
        }
    }
}

/// A host path as the copy sees it: absolute, relative to `/`.
fn host_path(p: &str) -> Result<String, CopyError> {
    let abs = std::path::absolute(p).map_err(io_err("resolve", Path::new(p)))?;
    let mut s = abs.display().to_string();
    // absolute() drops a trailing `/` or `/.`, which carry meaning for cp.
    for suffix in ["/.", "/"] {
        if p.ends_with(suffix) && !s.ends_with(suffix) {
            s.push_str(suffix);
            break;
        }
    }
    Ok(s)
}

/// Copies `src` on `from` to `dest` on `to`, with Docker's path rules, through a pipe: one
/// thread walks the source into tar, this one extracts it.
fn copy(from: &Side, src: &str, to: &Side, dest: &str, opts: Options) -> Result<(), CopyError> {
    let s = split_source(src)?;
    let r = resolve_source(from, &s, opts.follow_link)?;
    let dest_rel = clean(dest);
    let kind = to.kind(&dest_rel).map_err(io_err("stat", &dest_rel))?;
    let plan = plan(&s, r.is_dir, dest, kind)?;
    let dest_dir = to
        .open_dir(&plan.dir)
        .map_err(io_err("open destination directory", &plan.dir))?;
    let (root, base) = match to {
        Side::Container(root) => (root.as_fd(), plan.dir.clone()),
        Side::Host => (dest_dir.as_fd(), PathBuf::new()),
    };
    let as_path = plan.top.map(PathBuf::from).unwrap_or_default();
    let (reader, writer) = io::pipe().map_err(io_err("create pipe", Path::new("")))?;
    let xopts = extract::Options {
        keep_owner: opts.archive,
    };
    std::thread::scope(|scope| {
        let walker = scope.spawn(|| {
            let mut b = tar::Builder::new(writer);
            write::tree(&mut b, r.parent.as_fd(), &r.name, &as_path)?;
            b.into_inner().map(drop)
        });
        let extracted = extract::extract(reader, root, &base, xopts);
        let walked = walker.join().expect("tar walker panicked");
        extracted.map_err(io_err("extract into", &plan.dir))?;
        walked.map_err(io_err("read", &r.rel))
    })
}

/// Writes `src` (resolved on `from`) as a tar to `out`, for `cp CTR:SRC -`.
fn archive_to(from: &Side, src: &str, out: impl Write, follow: bool) -> Result<(), CopyError> {
    let s = split_source(src)?;
    let r = resolve_source(from, &s, follow)?;
    if s.must_be_dir && !r.is_dir {
        return Err(PathError::SourceNotDir(src.to_string()).into());
    }
    let as_path = match s.contents_only {
        true => PathBuf::new(),
        false => PathBuf::from(&s.name),
    };
    let mut b = tar::Builder::new(out);
    write::tree(&mut b, r.parent.as_fd(), &r.name, &as_path).map_err(io_err("archive", &r.rel))?;
    b.into_inner()
        .and_then(|mut w| w.flush())
        .map_err(io_err("archive", &r.rel))
}

/// The source, opened as its parent directory plus its name.
struct Resolved {
    parent: OwnedFd,
    name: OsString,
    rel: PathBuf,
    is_dir: bool,
}

/// How many symlinks `-L` follows before giving up, as the kernel's ELOOP limit.
const MAX_LINKS: usize = 40;

/// Opens the source's parent. A symlink as the source is copied as a link, unless `follow`
/// (`-L`) or a trailing `/` asks for its target; the target is resolved on the same side
/// (inside the container's root for a container), one link at a time.
fn resolve_source(from: &Side, s: &Source, follow: bool) -> Result<Resolved, CopyError> {
    let follow = follow || s.must_be_dir;
    let (mut dir, mut name) = (s.parent.clone(), s.name.clone());
    for _ in 0..MAX_LINKS {
        let parent = from
            .open_dir(&dir)
            .map_err(io_err("open source directory", &dir))?;
        let rel = dir.join(&name);
        let st = sys::lstat_at(parent.as_fd(), &name).map_err(io_err("stat", &rel))?;
        let kind = FileType::from_raw_mode(st.st_mode);
        if !(follow && kind == FileType::Symlink) {
            let is_dir = kind == FileType::Directory;
            return Ok(Resolved {
                parent,
                name,
                rel,
                is_dir,
            });
        }
        let target = sys::readlink_at(parent.as_fd(), &name).map_err(io_err("read link", &rel))?;
        let next = clean(&dir.join(&target).to_string_lossy());
        (dir, name) = match next.file_name() {
            Some(n) => (next.parent().unwrap_or(Path::new("")).into(), n.into()),
            None => (next, OsString::from(".")),
        };
    }
    let loop_err = io::Error::from_raw_os_error(libc::ELOOP);
    Err(io_err("follow links of", &s.parent.join(&s.name))(loop_err))
}

impl Engine {
    /// Opens the container's root file system, mounting it when the container is not running;
    /// `with_mounts` (cp) adds its volumes and binds, as the container sees them.
    pub(crate) fn container_fs(
        &self,
        record: &Record,
        with_mounts: bool,
    ) -> Result<ContainerFs<'_>, EngineError> {
        let id = record.id.as_str();
        let target = self.containers.rootfs(id);
        let open = |t: &Path| sys::open_dir(t).map_err(crate::engine::io_err(id, "open", t));
        match self.containers.try_claim_running(id)? {
            // Running: its runner holds the lock and has the overlay mounted.
            None => {
                if !hull_sys::mount::is_mountpoint(&target).unwrap_or(false) {
                    return Err(CopyError::NotMounted(id.to_string()).into());
                }
                let ns_root = with_mounts.then(|| mounts::running_root(record)).flatten();
                Ok(ContainerFs {
                    root: match ns_root {
                        Some(fd) => fd,
                        None => open(&target)?,
                    },
                    _binds: None,
                    _mount: None,
                    _claim: None,
                })
            }
            Some(claim) => {
                let image_id = record
                    .image_id
                    .parse::<Digest>()
                    .map_err(|_| StoreError::NotFound(record.image_id.clone()))?;
                let image = self.images.record(&image_id)?;
                let mount = self.mount_rootfs(id, &image.diff_ids())?;
                let root = open(&target)?;
                let binds = match with_mounts {
                    true => Some(self.copy_mounts(record, root.as_fd(), &target)?),
                    false => None,
                };
                Ok(ContainerFs {
                    root,
                    _binds: binds,
                    _mount: Some(mount),
                    _claim: Some(claim),
                })
            }
        }
    }

    /// `hull cp CTR:SRC DEST`; DEST `-` writes a tar of SRC to `stdout`.
    pub fn copy_out(
        &self,
        name: &str,
        src: &str,
        dest: &str,
        stdout: impl Write,
        opts: Options,
    ) -> Result<(), EngineError> {
        let record = self.containers.resolve(name)?;
        let fs = self.container_fs(&record, true)?;
        let from = Side::Container(&fs.root);
        if dest == "-" {
            return Ok(archive_to(&from, src, stdout, opts.follow_link)?);
        }
        Ok(copy(&from, src, &Side::Host, &host_path(dest)?, opts)?)
    }

    /// `hull cp SRC CTR:DEST`; SRC `-` reads a tar from `stdin` and extracts it into DEST, which
    /// must be a directory.
    pub fn copy_in(
        &self,
        src: &str,
        stdin: impl Read,
        name: &str,
        dest: &str,
        opts: Options,
    ) -> Result<(), EngineError> {
        let record = self.containers.resolve(name)?;
        // As Docker: `--read-only` covers cp too, though the overlay is writable from here.
        if record.config.read_only {
            return Err(CopyError::ReadOnly(record.name.clone()).into());
        }
        let fs = self.container_fs(&record, true)?;
        let to = Side::Container(&fs.root);
        if src == "-" {
            let rel = clean(dest);
            if to.kind(&rel).map_err(io_err("stat", &rel))? != Kind::Dir {
                return Err(CopyError::from(PathError::DestNotDir(dest.to_string())).into());
            }
            let xopts = extract::Options {
                keep_owner: opts.archive,
            };
            return Ok(extract::extract(stdin, fs.root.as_fd(), &rel, xopts)
                .map_err(io_err("extract into", &rel))?);
        }
        Ok(copy(&Side::Host, &host_path(src)?, &to, dest, opts)?)
    }

    /// `hull export`: the container's whole file system as a tar.
    pub fn export(&self, name: &str, out: impl Write) -> Result<(), EngineError> {
        let record = self.containers.resolve(name)?;
        let fs = self.container_fs(&record, false)?;
        Ok(archive_to(&Side::Container(&fs.root), "/", out, false)?)
    }
}
