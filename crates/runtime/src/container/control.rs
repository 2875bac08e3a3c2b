//! What acts on a created container: its state, kill, pause and resume, its OOM record, and
//! delete.

use std::io;
use std::time::{Duration, Instant};

use hull_oci::runtime::State;
use rustix::process::{Pid, Signal};

use super::error::cg_err;
use super::{host_mounts, live_status, Runtime, RuntimeError};
use crate::cgroups::CgroupError;
use crate::state::{self as st, ContainerState, Status};

impl Runtime {
    /// The OCI state, with the status checked against the live process.
    pub fn state(&self, id: &str) -> Result<State, RuntimeError> {
        let dir = self.existing_dir(id)?;
        let state = st::read(&dir).map_err(RuntimeError::io(id, "read state"))?;
        Ok(state.oci(live_status(&state)))
    }

    /// Sends `signal` to init, or with `all` to every process in the container's cgroup. As
    /// runc does, `all` also works once init has exited (signalling what is left, if anything),
    /// while a plain kill of a stopped container is an error ("container not running").
    pub fn kill(&self, id: &str, signal: i32, all: bool) -> Result<(), RuntimeError> {
        let dir = self.existing_dir(id)?;
        let state = st::read(&dir).map_err(RuntimeError::io(id, "read state"))?;
        let status = live_status(&state);
        match (status, all) {
            (Status::Created | Status::Running | Status::Paused, _) | (Status::Stopped, true) => {}
            (s @ (Status::Creating | Status::Stopped), _) => {
                return Err(RuntimeError::BadStatus {
                    id: id.to_string(),
                    op: "kill",
                    status: s.as_str(),
                })
            }
        }
        // Signal 0 only checks that the processes exist, as kill(2) and runc do.
        let sig = match signal {
            0 => None,
            n => Some(
                Signal::from_named_raw(n).ok_or_else(|| RuntimeError::InvalidSpec {
                    id: id.to_string(),
                    reason: format!("unknown signal {signal}"),
                })?,
            ),
        };
        let stopped = status == Status::Stopped;
        // A stopped container's init pid may belong to another process by now.
        let mut pids = match stopped {
            true => Vec::new(),
            false => vec![state.pid.unwrap_or(0)],
        };
        if let (true, Some(path)) = (all, &state.cgroup_path) {
            let err = |source| RuntimeError::Cgroup {
                id: id.to_string(),
                source,
            };
            pids = match self.open_cgroup(&state, path).and_then(|c| c.pids()) {
                Err(CgroupError::NotFound { .. }) if stopped => Vec::new(),
                other => other.map_err(err)?,
            };
        }
        for pid in pids.into_iter().filter_map(Pid::from_raw) {
            let sent = match sig {
                Some(sig) => rustix::process::kill_process(pid, sig),
                None => rustix::process::test_kill_process(pid),
            };
            match sent {
                Ok(()) | Err(rustix::io::Errno::SRCH) => {}
                Err(e) => return Err(RuntimeError::io(id, format!("kill {pid:?}"))(e.into())),
            }
        }
        Ok(())
    }

    /// Removes a stopped container (with `force`, kills it first): cgroup and state dir. A
    /// created one, whose init waits for `start`, goes without `force` too, as with runc.
    pub fn delete(&self, id: &str, force: bool) -> Result<(), RuntimeError> {
        let dir = self.existing_dir(id)?;
        let lock = st::lock(&dir).map_err(RuntimeError::io(id, "lock"))?;
        let state = st::read(&dir).map_err(RuntimeError::io(id, "read state"))?;
        match (live_status(&state), force) {
            (Status::Stopped, _) => {}
            (Status::Created, _) | (Status::Creating | Status::Running | Status::Paused, true) => {
                if live_status(&state) == Status::Paused {
                    let _ = self
                        .cgroup_of(id, &state)
                        .and_then(|c| c.thaw().map_err(cg_err(id)));
                }
                kill_and_wait(&state).map_err(RuntimeError::io(id, "kill init"))?
            }
            (s @ (Status::Creating | Status::Running | Status::Paused), false) => {
                return Err(RuntimeError::BadStatus {
                    id: id.to_string(),
                    op: "delete",
                    status: s.as_str(),
                })
            }
        }
        if let Some(path) = &state.cgroup_path {
            let err = |source| RuntimeError::Cgroup {
                id: id.to_string(),
                source,
            };
            // Already gone (a host reboot took it, perhaps into another cgroup version) is as
            // good as deleted.
            let cgroup = match self.open_cgroup(&state, path) {
                Err(CgroupError::NotFound { .. } | CgroupError::VersionNotMounted { .. }) => None,
                opened => Some(opened.map_err(err)?),
            };
            if let Some(unit) = &state.systemd_unit {
                super::systemd::stop_scope(id, unit, cgroup.as_ref())?;
            }
            if let Some(cg) = cgroup {
                cg.delete().map_err(err)?;
            }
            super::release_cgroup_parent(&self.cgroups);
        }
        self.sync.lock().expect("sync map").remove(id);
        let hooks = crate::hooks::load(&dir).unwrap_or_else(|e| {
            (self.warn)(&format!("container {id}: read hooks: {e}"));
            Default::default()
        });
        host_mounts::release(&dir)
            .map_err(RuntimeError::io(id, "unmount the container's mounts"))?;
        drop(lock);
        std::fs::remove_dir_all(&dir).map_err(RuntimeError::io(id, "remove state dir"))?;
        // after the container is gone (runtime.md, Lifecycle step 13).
        self.warn_failures(
            id,
            crate::hooks::run_all_collecting(
                "poststop",
                &hooks.poststop,
                &state.oci(Status::Stopped),
            ),
        );
        Ok(())
    }

    /// Whether the kernel's OOM killer killed a process of the container (read before delete).
    pub fn oom_killed(&self, id: &str) -> Result<bool, RuntimeError> {
        let dir = self.existing_dir(id)?;
        let state = st::read(&dir).map_err(RuntimeError::io(id, "read state"))?;
        let Some(path) = &state.cgroup_path else {
            return Ok(false);
        };
        self.open_cgroup(&state, path)
            .and_then(|c| c.oom_killed())
            .map_err(|source| RuntimeError::Cgroup {
                id: id.to_string(),
                source,
            })
    }

    /// Freezes every process of a running or created container (runc's `pause`; a paused
    /// created container cannot be started until it is resumed).
    pub fn pause(&self, id: &str) -> Result<(), RuntimeError> {
        self.set_paused(id, true)
    }

    /// Thaws a paused container (runc's `resume`): back to running, or to created when it was
    /// paused before it was started (its exec.fifo is still there).
    pub fn resume(&self, id: &str) -> Result<(), RuntimeError> {
        self.set_paused(id, false)
    }

    fn set_paused(&self, id: &str, pause: bool) -> Result<(), RuntimeError> {
        let dir = self.existing_dir(id)?;
        let _lock = st::lock(&dir).map_err(RuntimeError::io(id, "lock"))?;
        let mut state = st::read(&dir).map_err(RuntimeError::io(id, "read state"))?;
        let status = live_status(&state);
        let never_started = dir.join(st::EXEC_FIFO).exists();
        let (op, ok, to) = match pause {
            true => (
                "pause",
                matches!(status, Status::Running | Status::Created),
                Status::Paused,
            ),
            false if never_started => ("resume", status == Status::Paused, Status::Created),
            false => ("resume", status == Status::Paused, Status::Running),
        };
        if !ok {
            return Err(RuntimeError::BadStatus {
                id: id.to_string(),
                op,
                status: status.as_str(),
            });
        }
        let cg = self.cgroup_of(id, &state)?;
        match pause {
            true => cg.freeze(),
            false => cg.thaw(),
        }
        .map_err(cg_err(id))?;
        state.status = to;
        st::write(&dir, &state).map_err(RuntimeError::io(id, "write state"))
    }
}

/// SIGKILL init and wait (up to 10 s) until it is gone or a zombie.
fn kill_and_wait(state: &ContainerState) -> io::Result<()> {
    let Some(pid) = state.pid.and_then(Pid::from_raw) else {
        return Ok(());
    };
    match rustix::process::kill_process(pid, Signal::KILL) {
        Ok(()) | Err(rustix::io::Errno::SRCH) => {}
        Err(e) => return Err(e.into()),
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while st::is_alive(pid.as_raw_nonzero().get(), state.pid_start_time) {
        if Instant::now() > deadline {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "init survived SIGKILL",
            ));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(())
}
