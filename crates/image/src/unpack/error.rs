//! Errors of unpack and pack. Each names the entry (or packed path), the operation and the cause.

use std::io;
use std::path::PathBuf;

/// Why an entry was refused without touching the file system. Callers can match on it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// A `..` would climb above the layer root.
    #[error("path escapes the layer root")]
    Escapes,
    /// A path contains a NUL byte.
    #[error("path contains a NUL byte")]
    NulByte,
    /// The entry names the layer root but is not a directory.
    #[error("only a directory may name the layer root")]
    RootNotDir,
    /// A whiteout of `.`, `..` or an empty name.
    #[error("invalid whiteout name")]
    BadWhiteout,
    /// A hardlink or symlink entry without a link name.
    #[error("link entry without a link name")]
    MissingLinkName,
    /// A hardlink whose target is not in the layer (so far).
    #[error("hardlink target {0:?} does not exist in the layer")]
    LinkTargetMissing(String),
    /// A hardlink to a directory.
    #[error("hardlink target {0:?} is a directory")]
    LinkTargetIsDir(String),
    /// A parent path component exists but is not a directory (or a symlink to one).
    #[error("parent {0:?} is not a directory")]
    ParentNotDir(String),
    /// A parent path component is a symlink whose target (inside the root) does not exist.
    #[error("parent {0:?} is a dangling symlink")]
    DanglingParent(String),
    /// An entry type we do not extract.
    #[error("unsupported entry type {0:?}")]
    Unsupported(char),
    /// A uid or gid that does not fit in 32 bits, or a corrupt numeric header field.
    #[error("bad header field {0}")]
    BadHeader(&'static str),
}

/// An unpack or pack failure.
#[derive(Debug, thiserror::Error)]
pub enum UnpackError {
    /// The destination directory could not be opened.
    #[error("open layer root {path:?}: {cause}")]
    Root { path: PathBuf, cause: io::Error },
    /// The tar stream itself is unreadable or corrupt.
    #[error("read tar stream: {0}")]
    Read(io::Error),
    /// An entry was refused before any file-system change.
    #[error("entry {entry:?}: {refusal}")]
    Refused { entry: String, refusal: Refusal },
    /// A file-system operation for an entry failed.
    #[error("entry {entry:?}: {op}: {cause}")]
    Io {
        entry: String,
        op: String,
        cause: io::Error,
    },
    /// Packing a layer directory failed.
    #[error("pack {path:?}: {op}: {cause}")]
    Pack {
        path: PathBuf,
        op: &'static str,
        cause: io::Error,
    },
}

impl UnpackError {
    /// The tar entry path (as written in the archive) this error is about, if any.
    pub fn entry(&self) -> Option<&str> {
        match self {
            UnpackError::Refused { entry, .. } | UnpackError::Io { entry, .. } => Some(entry),
            _ => None,
        }
    }

    /// The refusal reason, when the entry was refused by policy.
    pub fn refusal(&self) -> Option<&Refusal> {
        match self {
            UnpackError::Refused { refusal, .. } => Some(refusal),
            _ => None,
        }
    }

    /// The underlying I/O error, when there is one.
    pub fn io_error(&self) -> Option<&io::Error> {
        match self {
            UnpackError::Root { cause, .. }
            | UnpackError::Io { cause, .. }
            | UnpackError::Pack { cause, .. } => Some(cause),
            UnpackError::Read(cause) => Some(cause),
            UnpackError::Refused { .. } => None,
        }
    }
}

/// An entry-level failure before the entry name is attached.
#[derive(Debug)]
pub(super) enum Failure {
    Refused(Refusal),
    Io(String, io::Error),
}

impl Failure {
    pub fn for_entry(self, entry: &[u8]) -> UnpackError {
        let entry = String::from_utf8_lossy(entry).into_owned();
        match self {
            Failure::Refused(refusal) => UnpackError::Refused { entry, refusal },
            Failure::Io(op, cause) => UnpackError::Io { entry, op, cause },
        }
    }
}

impl From<Refusal> for Failure {
    fn from(r: Refusal) -> Self {
        Failure::Refused(r)
    }
}

/// Attaches the operation name to an `io::Result`.
pub(super) trait Op<T> {
    fn op(self, op: &str) -> Result<T, Failure>;
}

impl<T> Op<T> for io::Result<T> {
    fn op(self, op: &str) -> Result<T, Failure> {
        self.map_err(|e| Failure::Io(op.to_owned(), e))
    }
}
