//! The build context: a directory (or a tar unpacked into a private temp directory) seen
//! through its `.dockerignore`.
//!
//! What the builder asks of it: COPY/ADD sources resolved with Docker's glob rules
//! ([`Context::resolve_sources`]), a content checksum of what a step copies, for the step cache
//! ([`Context::checksum`]), and its size for the progress line ([`Context::stats`]).
//!
//! Paths handed out are relative to the context root and free of symlinks in their parent
//! directories: a symlink met on the way is resolved *inside* the root (an absolute target or
//! `..` never climbs above it, like `RESOLVE_IN_ROOT`), so nothing outside the context is read.
//! A matched entry that is itself a symlink is returned as the symlink (copied as a link).
//! Ignored entries are invisible: a COPY of one fails as if it were missing.

use std::fs::{self, Metadata};
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Component, Path, PathBuf};

use hull_oci::Digest;
use sha2::{Digest as _, Sha256};

use crate::glob::{clean, Segment};
use crate::ignore::{DockerIgnore, IgnoreError};

/// Symlinks followed while resolving one path, as Linux's MAXSYMLINKS.
const MAX_HOPS: usize = 40;

#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    #[error("build context {path:?}: {cause}")]
    Open { path: PathBuf, cause: io::Error },
    #[error("build context from tar: {0}")]
    Tar(String),
    #[error(transparent)]
    Ignore(#[from] IgnoreError),
    #[error("{instr} {pattern}: forbidden path outside the build context")]
    Outside { instr: String, pattern: String },
    #[error("{instr} {pattern}: no source files matched in the build context")]
    NoMatch { instr: String, pattern: String },
    #[error("{instr} {pattern}: bad pattern: {why}")]
    BadPattern {
        instr: String,
        pattern: String,
        why: String,
    },
    #[error("build context: {op} {path:?}: {cause}")]
    Io {
        op: &'static str,
        path: PathBuf,
        cause: io::Error,
    },
}

fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> ContextError + 'a {
    move |cause| ContextError::Io {
        op,
        path: path.to_owned(),
        cause,
    }
}

/// Files and bytes the context holds once `.dockerignore` is applied.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ContextStats {
    pub files: u64,
    pub bytes: u64,
}

impl ContextStats {
    /// BuildKit's progress wording: `transferring context: 2.05MB`.
    pub fn progress_line(&self) -> String {
        let b = self.bytes as f64;
        let size = match self.bytes {
            0..=999 => format!("{}B", self.bytes),
            1_000..=999_999 => format!("{:.2}kB", b / 1e3),
            1_000_000..=999_999_999 => format!("{:.2}MB", b / 1e6),
            _ => format!("{:.2}GB", b / 1e9),
        };
        format!("transferring context: {size}")
    }
}

/// A build context. A tar context owns its temp directory and removes it when dropped.
#[derive(Debug)]
pub struct Context {
    root: PathBuf,
    ignore: DockerIgnore,
    _tmp: Option<tempfile::TempDir>,
}

impl Context {
    /// The directory `root` seen through `ignore` (see [`DockerIgnore::load`]).
    pub fn from_dir(root: &Path, ignore: DockerIgnore) -> Result<Context, ContextError> {
        let open = |cause| ContextError::Open {
            path: root.to_owned(),
            cause,
        };
        let root = fs::canonicalize(root).map_err(open)?;
        if !fs::metadata(&root).map_err(open)?.is_dir() {
            return Err(open(io::Error::other("not a directory")));
        }
        Ok(Context {
            root,
            ignore,
            _tmp: None,
        })
    }

    /// A tar (plain, gzip or zstd: sniffed) unpacked into a private directory under the system
    /// temp dir; its own `.dockerignore`, if any, applies.
    pub fn from_tar<R: Read>(reader: R) -> Result<Context, ContextError> {
        Context::from_tar_in(reader, &std::env::temp_dir())
    }

    /// An empty context (a Dockerfile given on stdin): COPY finds nothing in it.
    pub fn empty() -> Result<Context, ContextError> {
        let tmp = private_dir(&std::env::temp_dir())?;
        let mut ctx = Context::from_dir(tmp.path(), DockerIgnore::default())?;
        ctx._tmp = Some(tmp);
        Ok(ctx)
    }

    /// [`Context::from_tar`] with the temp directory created under `parent`. The unpack is
    /// the image store's breakout-safe one: `..`, absolute names and writes through symlinks
    /// are refused or kept inside the directory.
    pub fn from_tar_in<R: Read>(reader: R, parent: &Path) -> Result<Context, ContextError> {
        let tmp = private_dir(parent)?;
        let stream =
            hull_image::local::open_tar(reader).map_err(|e| ContextError::Tar(e.to_string()))?;
        let opts = hull_image::unpack::UnpackOptions { chown: false };
        hull_image::unpack::unpack(stream, tmp.path(), &opts)
            .map_err(|e| ContextError::Tar(e.to_string()))?;
        let ignore = DockerIgnore::load(tmp.path())?;
        let mut ctx = Context::from_dir(tmp.path(), ignore)?;
        ctx._tmp = Some(tmp);
        Ok(ctx)
    }

    /// The context directory (absolute). The builder reads the Dockerfile from here directly,
    /// even when `.dockerignore` hides it from COPY.
    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn ignore(&self) -> &DockerIgnore {
        &self.ignore
    }

    /// [`Context::resolve_sources_as`] for COPY.
    pub fn resolve_sources(&self, patterns: &[String]) -> Result<Vec<PathBuf>, ContextError> {
        self.resolve_sources_as("COPY", patterns)
    }

    /// Resolves COPY/ADD source patterns (`instr` names the instruction in errors) to paths
    /// relative to the root, in pattern order, each pattern's matches sorted. A pattern that
    /// leaves the context or matches nothing visible is an error. `.` names the root itself.
    pub fn resolve_sources_as(
        &self,
        instr: &str,
        patterns: &[String],
    ) -> Result<Vec<PathBuf>, ContextError> {
        let mut out = Vec::new();
        for pattern in patterns {
            let found = self.resolve_one(instr, pattern)?;
            if found.is_empty() {
                return Err(ContextError::NoMatch {
                    instr: instr.into(),
                    pattern: pattern.clone(),
                });
            }
            out.extend(found);
        }
        Ok(out)
    }

    fn resolve_one(&self, instr: &str, pattern: &str) -> Result<Vec<PathBuf>, ContextError> {
        let cleaned = clean(pattern.trim_start_matches('/'));
        if cleaned == ".." || cleaned.starts_with("../") {
            return Err(ContextError::Outside {
                instr: instr.into(),
                pattern: pattern.into(),
            });
        }
        if cleaned == "." {
            return Ok(vec![PathBuf::from(".")]);
        }
        let segs = cleaned
            .split('/')
            .map(Segment::parse)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|why| ContextError::BadPattern {
                instr: instr.into(),
                pattern: pattern.into(),
                why,
            })?;
        let mut dirs = vec![PathBuf::new()];
        for (i, seg) in segs.iter().enumerate() {
            let last = i + 1 == segs.len();
            let mut next = Vec::new();
            for dir in &dirs {
                for name in self.candidates(dir, seg)? {
                    let rel = dir.join(&name);
                    let Some(meta) = self.lstat(&rel)? else {
                        continue;
                    };
                    if !self.visible(&rel, &meta) {
                        continue;
                    }
                    if last {
                        next.push(rel);
                    } else if let Some(real) = self.resolve_in_root(&rel)? {
                        if self.lstat(&real)?.is_some_and(|m| m.is_dir()) {
                            next.push(real);
                        }
                    }
                }
            }
            dirs = next;
        }
        Ok(dirs)
    }

    /// Names in the directory `dir` (relative, symlink-free) matching `seg`, sorted.
    fn candidates(&self, dir: &Path, seg: &Segment) -> Result<Vec<String>, ContextError> {
        if let Some(name) = seg.literal() {
            return Ok(vec![name]);
        }
        let full = self.root.join(dir);
        let entries = match fs::read_dir(&full) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_err("read dir", &full)(e)),
        };
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(io_err("read dir", &full))?;
            // A name that is not UTF-8 cannot be written in a Dockerfile pattern either.
            if let Some(name) = entry.file_name().to_str() {
                if seg.matches(name) {
                    names.push(name.to_string());
                }
            }
        }
        names.sort();
        Ok(names)
    }

    fn lstat(&self, rel: &Path) -> Result<Option<Metadata>, ContextError> {
        let full = self.root.join(rel);
        match fs::symlink_metadata(&full) {
            Ok(m) => Ok(Some(m)),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
                ) =>
            {
                Ok(None)
            }
            Err(e) => Err(io_err("stat", &full)(e)),
        }
    }

    /// Not excluded, or an excluded directory that may still hold re-included entries.
    fn visible(&self, rel: &Path, meta: &Metadata) -> bool {
        let s = rel.to_string_lossy();
        !self.ignore.is_excluded(&s) || (meta.is_dir() && self.ignore.may_reinclude_below(&s))
    }

    /// Resolves every symlink in `rel` inside the root: an absolute target restarts at the
    /// root, `..` stops at it. None when the links loop. The result may not exist.
    fn resolve_in_root(&self, rel: &Path) -> Result<Option<PathBuf>, ContextError> {
        let mut todo: Vec<std::ffi::OsString> = rel
            .components()
            .rev()
            .filter_map(|c| match c {
                Component::Normal(n) => Some(n.to_owned()),
                Component::ParentDir => Some("..".into()),
                _ => None,
            })
            .collect();
        let mut done = PathBuf::new();
        let mut hops = 0;
        while let Some(part) = todo.pop() {
            if part == ".." {
                done.pop();
                continue;
            }
            done.push(&part);
            let Some(meta) = self.lstat(&done)? else {
                continue;
            };
            if !meta.file_type().is_symlink() {
                continue;
            }
            hops += 1;
            if hops > MAX_HOPS {
                return Ok(None);
            }
            let full = self.root.join(&done);
            let target = fs::read_link(&full).map_err(io_err("read link", &full))?;
            done.pop();
            if target.is_absolute() {
                done = PathBuf::new();
            }
            for c in target.components().rev() {
                match c {
                    Component::Normal(n) => todo.push(n.to_owned()),
                    Component::ParentDir => todo.push("..".into()),
                    _ => {}
                }
            }
        }
        Ok(Some(done))
    }

    /// Visits every visible entry strictly below the directory `rel`, sorted by name, parents
    /// before children. An excluded directory is descended into (unvisited) only when an
    /// exception may re-include something below it.
    pub fn walk(
        &self,
        rel: &Path,
        visit: &mut dyn FnMut(&Path, &Metadata) -> Result<(), ContextError>,
    ) -> Result<(), ContextError> {
        let full = self.root.join(rel);
        let mut names: Vec<_> = fs::read_dir(&full)
            .map_err(io_err("read dir", &full))?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<Result<_, _>>()
            .map_err(io_err("read dir", &full))?;
        names.sort();
        for name in names {
            let child = if rel == Path::new(".") {
                PathBuf::from(&name)
            } else {
                rel.join(&name)
            };
            let Some(meta) = self.lstat(&child)? else {
                continue;
            };
            let s = child.to_string_lossy();
            if !self.ignore.is_excluded(&s) {
                visit(&child, &meta)?;
                if meta.is_dir() {
                    self.walk(&child, visit)?;
                }
            } else if meta.is_dir() && self.ignore.may_reinclude_below(&s) {
                self.walk(&child, visit)?;
            }
        }
        Ok(())
    }

    /// The resolved `paths` with their kind, for the destination plan (`dest::plan`). A
    /// symlink is not a directory here: it is copied as a link.
    pub fn sources(&self, paths: &[PathBuf]) -> Result<Vec<crate::dest::Source>, ContextError> {
        paths
            .iter()
            .map(|p| {
                let is_dir = self.lstat(p)?.is_some_and(|m| m.is_dir());
                Ok(crate::dest::Source {
                    path: p.clone(),
                    is_dir,
                })
            })
            .collect()
    }

    /// Files and bytes visible in the whole context.
    pub fn stats(&self) -> Result<ContextStats, ContextError> {
        let mut stats = ContextStats::default();
        self.walk(Path::new("."), &mut |_, meta| {
            if meta.is_file() {
                stats.files += 1;
                stats.bytes += meta.len();
            }
            Ok(())
        })?;
        Ok(stats)
    }

    /// A content-addressed checksum of `paths` (as [`Context::resolve_sources`] returns them)
    /// and, for directories, everything visible below them: per entry its relative path,
    /// type, mode, owner, size, symlink target and content hash — never the mtime, which
    /// Docker's cache ignores too. The selection is sorted first, so its order does not matter.
    /// File contents are streamed.
    pub fn checksum(&self, paths: &[PathBuf]) -> Result<Digest, ContextError> {
        let mut sorted: Vec<&PathBuf> = paths.iter().collect();
        sorted.sort();
        sorted.dedup();
        let mut outer = Sha256::new();
        for rel in sorted {
            let meta = self.lstat(rel)?.ok_or_else(|| {
                io_err("stat", &self.root.join(rel))(io::ErrorKind::NotFound.into())
            })?;
            self.hash_entry(&mut outer, rel, &meta)?;
            if meta.is_dir() {
                self.walk(rel, &mut |child, meta| {
                    self.hash_entry(&mut outer, child, meta)
                })?;
            }
        }
        Ok(Digest::from_sha256_bytes(&outer.finalize()))
    }

    fn hash_entry(&self, h: &mut Sha256, rel: &Path, meta: &Metadata) -> Result<(), ContextError> {
        let ft = meta.file_type();
        let full = self.root.join(rel);
        let field = |h: &mut Sha256, bytes: &[u8]| {
            h.update((bytes.len() as u64).to_le_bytes());
            h.update(bytes);
        };
        field(h, rel.as_os_str().as_encoded_bytes());
        let (kind, extra): (&[u8], Vec<u8>) = if ft.is_file() {
            let mut file = fs::File::open(&full).map_err(io_err("open", &full))?;
            let mut content = Sha256::new();
            io::copy(&mut file, &mut content).map_err(io_err("read", &full))?;
            (b"file", content.finalize().to_vec())
        } else if ft.is_dir() {
            (b"dir", Vec::new())
        } else if ft.is_symlink() {
            let target = fs::read_link(&full).map_err(io_err("read link", &full))?;
            (b"symlink", target.into_os_string().into_encoded_bytes())
        } else if ft.is_char_device() || ft.is_block_device() {
            let kind: &[u8] = if ft.is_char_device() {
                b"char"
            } else {
                b"block"
            };
            (kind, meta.rdev().to_le_bytes().to_vec())
        } else if ft.is_fifo() {
            (b"fifo", Vec::new())
        } else {
            (b"socket", Vec::new())
        };
        field(h, kind);
        field(h, &(meta.mode() & 0o7777).to_le_bytes());
        field(h, &meta.uid().to_le_bytes());
        field(h, &meta.gid().to_le_bytes());
        let size = if ft.is_file() { meta.len() } else { 0 };
        field(h, &size.to_le_bytes());
        field(h, &extra);
        Ok(())
    }
}

/// A context's own temp directory under `parent` (removed when the context is dropped).
fn private_dir(parent: &Path) -> Result<tempfile::TempDir, ContextError> {
    tempfile::Builder::new()
        .prefix("hull-context-")
        .tempdir_in(parent)
        .map_err(io_err("create temp dir in", parent))
}

#[cfg(test)]
#[path = "context_tests.rs"]
mod tests;

/// Whether the first bytes of a stream (at least 262 when it is that long) are an archive: a
/// tar (`ustar` at 257) or gzip, bzip2, xz or zstd data. `hull build -` takes anything else as
/// a Dockerfile, as Docker's CLI does.
pub fn looks_like_archive(prefix: &[u8]) -> bool {
    const MAGIC: [&[u8]; 4] = [
        &[0x1f, 0x8b],
        b"BZh",
        &[0xfd, b'7', b'z', b'X', b'Z', 0],
        &[0x28, 0xb5, 0x2f, 0xfd],
    ];
    MAGIC.iter().any(|m| prefix.starts_with(m))
        || prefix.get(257..262).is_some_and(|m| m == b"ustar")
}
