//! The runtime's public lifecycle API. STUB: the runtime-core work replaces the bodies.

use std::os::fd::OwnedFd;
use std::path::PathBuf;

use hull_oci::runtime::{Spec, State};

use crate::cgroups::CgroupRoot;

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("container {0}: not implemented yet")]
    Unimplemented(String),
}

/// Where the runtime keeps `state.json` per container, and the host's cgroup layout.
#[derive(Debug)]
pub struct Runtime {
    pub state_root: PathBuf,
    pub cgroups: CgroupRoot,
}

/// What `create` needs.
#[derive(Debug)]
pub struct CreateRequest {
    pub id: String,
    /// The bundle directory; `config.json` is read from it unless `spec` is given.
    pub bundle: PathBuf,
    pub spec: Option<Spec>,
    /// The container's stdin, stdout and stderr; None inherits the caller's.
    pub stdio: Option<[OwnedFd; 3]>,
    /// runc's `--console-socket`: where to send the pty master (SCM_RIGHTS) when
    /// `process.terminal` is true. Without it the master is returned in [`Created::console`].
    pub console_socket: Option<PathBuf>,
    pub pid_file: Option<PathBuf>,
    /// Run a minimal init as pid 1 that forwards signals to the user's process and reaps zombies
    /// (`hull run --init`); it is this binary's own code, nothing is added to the rootfs.
    pub init: bool,
    pub no_pivot: bool,
}

impl CreateRequest {
    pub fn new(id: &str, bundle: PathBuf) -> CreateRequest {
        CreateRequest {
            id: id.to_string(),
            bundle,
            spec: None,
            stdio: None,
            console_socket: None,
            pid_file: None,
            init: false,
            no_pivot: false,
        }
    }
}

/// A created container: its init pid (a child of the caller) and, for a terminal without a
/// console socket, the pty master.
#[derive(Debug)]
pub struct Created {
    pub pid: i32,
    pub console: Option<OwnedFd>,
}

impl Runtime {
    pub fn new(state_root: PathBuf) -> Result<Runtime, RuntimeError> {
        let cgroups = CgroupRoot::detect()
            .map_err(|e| RuntimeError::Unimplemented(format!("detect cgroups: {e}")))?;
        Ok(Runtime {
            state_root,
            cgroups,
        })
    }

    pub fn create(&self, req: CreateRequest) -> Result<Created, RuntimeError> {
        Err(RuntimeError::Unimplemented(req.id))
    }

    pub fn start(&self, id: &str) -> Result<(), RuntimeError> {
        Err(RuntimeError::Unimplemented(id.to_string()))
    }

    pub fn state(&self, id: &str) -> Result<State, RuntimeError> {
        Err(RuntimeError::Unimplemented(id.to_string()))
    }

    pub fn kill(&self, id: &str, _signal: i32, _all: bool) -> Result<(), RuntimeError> {
        Err(RuntimeError::Unimplemented(id.to_string()))
    }

    pub fn delete(&self, id: &str, _force: bool) -> Result<(), RuntimeError> {
        Err(RuntimeError::Unimplemented(id.to_string()))
    }

    /// Whether the kernel's OOM killer killed a process of the container (read before delete).
    pub fn oom_killed(&self, id: &str) -> Result<bool, RuntimeError> {
        Err(RuntimeError::Unimplemented(id.to_string()))
    }
}
