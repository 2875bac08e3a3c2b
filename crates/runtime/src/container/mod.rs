//! The runtime's public lifecycle API: create, start, state, kill, delete. `create.rs` makes a
//! container (checked first by `prepare.rs`), `start.rs` releases its init, `control.rs` holds
//! what acts on it afterwards (state, kill, pause and resume, delete), `update.rs` changes its
//! resource limits.

mod control;
mod create;
mod error;
mod host_mounts;
mod prepare;
mod start;
mod systemd;
mod update;

use std::collections::HashMap;
use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::cgroups::{Cgroup, CgroupError, CgroupRoot};
use crate::state::{self as st, ContainerState, Status};

pub use create::{CreateRequest, Created};
use error::cg_err;
pub(crate) use error::listener_err;
pub use error::RuntimeError;
pub(crate) use prepare::saved_spec;

/// hull's parent in the cgroup tree: a spec with resources and no `cgroupsPath` gets
/// `/hull/<id>` (the engine gives its containers the same parent).
const CGROUP_PARENT: &str = "/hull";

/// Removes [`CGROUP_PARENT`] once no container is left below it (after a delete, or a create
/// that failed), so that hull-runtime, like the engine, leaves nothing in the cgroup tree after
/// its last container. Best effort: a parent still in use, or not there, stays as it is.
fn release_cgroup_parent(cgroups: &CgroupRoot) {
    let _ = crate::cgroups::remove_if_empty(cgroups, CGROUP_PARENT);
}

/// Where the runtime keeps `state.json` per container, and the host's cgroup layout.
#[derive(Debug)]
pub struct Runtime {
    pub state_root: PathBuf,
    pub cgroups: CgroupRoot,
    /// Our end of each init's sync socket, for containers created by this process: `start` reads
    /// an exec failure from it.
    sync: Mutex<HashMap<String, OwnedFd>>,
    /// Where compiled seccomp filters are cached (see [`crate::seccomp::compile_cached`]);
    /// None compiles every time.
    seccomp_cache: Option<PathBuf>,
    /// Where warnings go (a failed poststop hook, ignored capabilities); stderr by default.
    warn: fn(&str),
    /// New containers get a systemd scope for their cgroup (`--systemd-cgroup`).
    systemd_cgroup: bool,
    /// Where debug lines go (`--debug`); nowhere by default.
    pub(crate) debug: Option<fn(&str)>,
}

fn warn_on_stderr(msg: &str) {
    eprintln!("warning: {msg}");
}

impl Runtime {
    pub fn new(state_root: PathBuf) -> Result<Runtime, RuntimeError> {
        let cgroups = CgroupRoot::detect().map_err(RuntimeError::DetectCgroups)?;
        std::fs::create_dir_all(&state_root).map_err(RuntimeError::io("", "create state root"))?;
        Ok(Runtime {
            state_root,
            cgroups,
            sync: Mutex::new(HashMap::new()),
            seccomp_cache: None,
            warn: warn_on_stderr,
            systemd_cgroup: false,
            debug: None,
        })
    }

    /// Creates containers' cgroups as transient systemd scopes (runc's `--systemd-cgroup`):
    /// `linux.cgroupsPath` is then `slice:prefix:name`. Containers made either way are handled
    /// by the driver that made them, whatever this is set to.
    pub fn with_systemd_cgroup(mut self, on: bool) -> Runtime {
        self.systemd_cgroup = on;
        self
    }

    /// Caches compiled seccomp filters in `dir`, so that containers started with the same
    /// profile skip libseccomp's compile.
    pub fn with_seccomp_cache(mut self, dir: PathBuf) -> Runtime {
        self.seccomp_cache = Some(dir);
        self
    }

    pub(crate) fn seccomp_cache(&self) -> Option<&Path> {
        self.seccomp_cache.as_deref()
    }

    /// Sends warnings (failed poststop hooks, ignored capabilities) to `warn` instead of stderr.
    pub fn with_warnings(mut self, warn: fn(&str)) -> Runtime {
        self.warn = warn;
        self
    }

    /// Reports what the runtime did, step by step, to `debug` (runc's `--debug`): for now the
    /// CPU affinity an exec'd process had when it joined the container's cgroup.
    pub fn with_debug(mut self, debug: fn(&str)) -> Runtime {
        self.debug = Some(debug);
        self
    }

    fn dir(&self, id: &str) -> Result<PathBuf, RuntimeError> {
        if id.is_empty() {
            return Err(RuntimeError::EmptyId);
        }
        if id.contains('/') || id == "." || id == ".." {
            return Err(RuntimeError::InvalidId(id.to_string()));
        }
        Ok(self.state_root.join(id))
    }

    fn warn_failures(&self, id: &str, errors: Vec<crate::hooks::HookError>) {
        for e in errors {
            let mut msg = format!("container {id}: {e}");
            let mut src = std::error::Error::source(&e);
            while let Some(s) = src {
                msg = format!("{msg}: {s}");
                src = s.source();
            }
            (self.warn)(&msg);
        }
    }

    /// The container's cgroup (for `ps`, `events --stats`).
    pub fn cgroup(&self, id: &str) -> Result<Cgroup, RuntimeError> {
        let dir = self.existing_dir(id)?;
        let state = st::read(&dir).map_err(RuntimeError::io(id, "read state"))?;
        self.cgroup_of(id, &state)
    }

    fn cgroup_of(&self, id: &str, state: &ContainerState) -> Result<Cgroup, RuntimeError> {
        let path = state.cgroup_path.as_deref().ok_or_else(|| {
            RuntimeError::io(id, "find cgroup")(io::Error::other("container has no cgroup"))
        })?;
        self.open_cgroup(state, path).map_err(cg_err(id))
    }

    /// Opens the container's cgroup `path` on the cgroup version it was created on (the
    /// host's, for a state file that predates the record).
    pub(crate) fn open_cgroup(
        &self,
        state: &ContainerState,
        path: &str,
    ) -> Result<Cgroup, CgroupError> {
        match state.cgroup_version {
            Some(v) if v != self.cgroups.version() => {
                Cgroup::open(&self.cgroups.for_version(v)?, path)
            }
            _ => Cgroup::open(&self.cgroups, path),
        }
    }

    pub(crate) fn existing_dir(&self, id: &str) -> Result<PathBuf, RuntimeError> {
        let dir = self.dir(id)?;
        if !dir.join(st::STATE_FILE).exists() {
            return Err(RuntimeError::NotFound { id: id.to_string() });
        }
        Ok(dir)
    }
}

/// The stored status corrected by liveness: a created or running container whose init is gone
/// (or whose pid now belongs to another process) is stopped.
pub(crate) fn live_status(state: &ContainerState) -> Status {
    let alive = state
        .pid
        .is_some_and(|pid| st::is_alive(pid, state.pid_start_time));
    match state.status {
        Status::Stopped => Status::Stopped,
        s @ (Status::Creating | Status::Created | Status::Running | Status::Paused) => {
            if alive || (s == Status::Creating && state.pid.is_none()) {
                s
            } else {
                Status::Stopped
            }
        }
    }
}
