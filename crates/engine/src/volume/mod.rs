//! Named and anonymous volumes, Docker's `local` driver: the store under `<root>/volumes/`
//! (`store`), filling a new volume from the image (`copyup`), and what the engine does with them
//! (`engine`: `hull volume` commands, a container's volumes at create, run and `rm -v`).
//!
//! A volume is `volumes/<name>/` holding `_data` (what containers see) and `volume.json` (its
//! [`Volume`] record). Both are made in a temp directory named `.<pid>.<name>.tmp` and renamed
//! into place, so a volume is complete or absent whatever is killed when; temps of dead
//! processes are swept by later commands.
//!
//! Imports `state/` (which containers use a volume) and `run/` (the mounts of a container).

mod copyup;
mod engine;
mod mount;
mod store;

use std::collections::BTreeMap;
use std::io;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use engine::{PruneReport, VolumeUsage};
pub(crate) use mount::RunVolumes;
pub use store::{disk_usage, CreateRequest, Volumes};

/// The label Docker puts on an anonymous volume.
pub const ANONYMOUS_LABEL: &str = "com.docker.volume.anonymous";

/// What `volume.json` keeps of a volume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Volume {
    pub name: String,
    pub driver: String,
    /// RFC 3339.
    pub created_at: String,
    /// None when there are none (Docker shows `null` then).
    pub labels: Option<BTreeMap<String, String>>,
    /// The local driver's `-o` options (`type`, `device`, `o`); None when there are none.
    pub options: Option<BTreeMap<String, String>>,
    /// Where its data is: `volumes/<name>/_data`.
    #[serde(skip)]
    pub mountpoint: PathBuf,
}

impl Volume {
    pub fn is_anonymous(&self) -> bool {
        self.labels
            .as_ref()
            .is_some_and(|l| l.contains_key(ANONYMOUS_LABEL))
    }

    /// The option named `key`, if given.
    pub fn option(&self, key: &str) -> Option<&str> {
        self.options.as_ref()?.get(key).map(String::as_str)
    }

    /// Whether `_data` is a mount made when a container uses it (a `type` or `device` option).
    pub fn is_mounted_kind(&self) -> bool {
        self.option("type").is_some() || self.option("device").is_some()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum VolumeError {
    #[error("create {0}: {0:?} includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed")]
    InvalidName(String),
    #[error("get {0}: no such volume")]
    NotFound(String),
    #[error("remove {name}: volume is in use - [{}]", ids.join(", "))]
    InUse { name: String, ids: Vec<String> },
    #[error("create {name}: {reason}")]
    BadOptions { name: String, reason: String },
    #[error("volume {name}: {op} {path}: {source}")]
    Io {
        name: String,
        op: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error("volume record {path}: {source}")]
    Corrupt {
        path: PathBuf,
        source: serde_json::Error,
    },
}

pub(crate) fn io_err<'a>(
    name: &'a str,
    op: &'static str,
    path: &'a std::path::Path,
) -> impl FnOnce(io::Error) -> VolumeError + 'a {
    move |source| VolumeError::Io {
        name: name.to_string(),
        op,
        path: path.to_path_buf(),
        source,
    }
}
