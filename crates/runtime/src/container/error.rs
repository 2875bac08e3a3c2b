//! The runtime's error: what failed, for which container.

use std::io;
use std::path::PathBuf;

use crate::cgroups::CgroupError;
use crate::process::sync::InitError;

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("detect cgroups: {0}")]
    DetectCgroups(#[source] crate::cgroups::CgroupError),
    /// runc's words for an empty id.
    #[error("container id cannot be empty")]
    EmptyId,
    #[error("container id {0:?}: must not contain '/' or be '.' or '..'")]
    InvalidId(String),
    /// "already exists" is what clients match on (runc: "container with given ID already exists").
    #[error("container {id}: already exists")]
    AlreadyExists { id: String },
    /// "does not exist" is what containerd's shim and youki's contest match on.
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
    /// Boxed: a second variant carrying a SeccompError would grow every RuntimeError.
    #[error("container {id}")]
    SeccompListener {
        id: String,
        #[source]
        source: Box<crate::seccomp::SeccompError>,
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
    #[error("container {id}: init failed at {cause}")]
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
    /// The operation does not apply in this status; the reason uses runc's words where clients
    /// match on them (see `status_reason`).
    #[error("container {id}: cannot {op}: {}", status_reason(op, status))]
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

/// Why `op` cannot act on a container in `status`, in runc's words where a client tells them
/// apart: "container not running" means "already gone" to containerd's runc shim
/// (`process/utils.go`, `checkKillError`) and to CRI-O (`internal/oci/runtime_oci.go`,
/// `runtimeCmd`). The table in `tests/oci-conformance/error_contract.rs` checks each against runc.
fn status_reason(op: &str, status: &str) -> String {
    match (op, status) {
        ("start", "running") => "container already running".into(),
        // runc: "cannot start a container in the paused state" (paused before it was started).
        ("start", "paused") => "container is paused".into(),
        // runc: "cannot exec in a paused container (use --ignore-paused to override)".
        ("exec", "paused") => "container is paused (use --ignore-paused to override)".into(),
        ("start", "stopped") => "container has stopped".into(),
        ("delete", s) => format!("container not stopped: {s}"),
        ("exec", s) => format!("container is {s}"),
        (_, "stopped") => "container not running".into(),
        ("resume", _) => "container not paused".into(),
        (_, s) => format!("container is {s}"),
    }
}

pub(super) fn cg_err(id: &str) -> impl FnOnce(CgroupError) -> RuntimeError {
    let id = id.to_string();
    move |source| RuntimeError::Cgroup { id, source }
}

/// A failure to reach or feed the spec's seccomp listener.
pub(crate) fn listener_err(id: &str) -> impl FnOnce(crate::seccomp::SeccompError) -> RuntimeError {
    let id = id.to_string();
    move |source| RuntimeError::SeccompListener {
        id,
        source: Box::new(source),
    }
}
