//! The runtime's error: what failed, for which container.

use std::io;
use std::path::PathBuf;

use crate::cgroups::CgroupError;
use crate::process::sync::InitError;

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("detect cgroups: {0}")]
    DetectCgroups(#[source] crate::cgroups::CgroupError),
    #[error("container id {0:?}: must be non-empty and contain no '/'")]
    InvalidId(String),
    #[error("container {id}: already exists")]
    AlreadyExists { id: String },
    #[error("container {id}: does not exist")]
    NotFound { id: String },
    #[error("read spec {path}")]
    ReadSpec {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("container {id}: invalid spec: {reason}")]
    InvalidSpec { id: String, reason: String },
    #[error("container {id}: capabilities")]
    Capabilities {
        id: String,
        #[source]
        source: crate::capabilities::CapsError,
    },
    #[error("container {id}: compile seccomp filter")]
    Seccomp {
        id: String,
        #[source]
        source: crate::seccomp::SeccompError,
    },
    #[error("container {id}: cgroup")]
    Cgroup {
        id: String,
        #[source]
        source: CgroupError,
    },
    #[error("container {id}: {op}")]
    Io {
        id: String,
        op: String,
        #[source]
        source: io::Error,
    },
    /// A step inside the container's init failed; `cause.step` is `NotFound`/`NotExecutable` for
    /// a program that cannot be run (exit codes 127/126 in Docker terms).
    #[error("container {id}: init failed at {step}: {cause}")]
    Init {
        id: String,
        step: crate::Step,
        cause: InitError,
    },
    /// A step of starting an exec'd process failed (see [`RuntimeError::Init`] for the steps).
    #[error("container {id}: exec: {cause}")]
    Exec {
        id: String,
        step: crate::Step,
        cause: InitError,
    },
    #[error("container {id}: exec user program: {}", io::Error::from_raw_os_error(*errno))]
    ExecFailed { id: String, errno: i32 },
    #[error("container {id}: hook")]
    Hook {
        id: String,
        #[source]
        source: Box<crate::hooks::HookError>,
    },
    /// runc's words for an operation that needs a live container (containerd's shim and CRI-O
    /// match on "container not running").
    #[error("container {id}: container not running")]
    NotRunning { id: String },
    #[error("container {id}: cannot {op} a container that is {status}")]
    BadStatus {
        id: String,
        op: &'static str,
        status: &'static str,
    },
}

impl RuntimeError {
    pub(crate) fn io(id: &str, op: impl Into<String>) -> impl FnOnce(io::Error) -> RuntimeError {
        let (id, op) = (id.to_string(), op.into());
        move |source| RuntimeError::Io { id, op, source }
    }
}

pub(super) fn cg_err(id: &str) -> impl FnOnce(CgroupError) -> RuntimeError {
    let id = id.to_string();
    move |source| RuntimeError::Cgroup { id, source }
}
