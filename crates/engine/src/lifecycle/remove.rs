//! `hull rm`: the record, upper dir and bundle go, and with `-f` the container too, killed
//! until its runner has torn it down; whatever a dead runner left is cleaned up here.

use std::fs;

use hull_runtime::Runtime;

use crate::endpoint::NetRunError;
use crate::engine::{io_err, rt_err};
use crate::lifecycle::run::{delete_from_runtime_checked, kill_cgroup};
use crate::state::{Lock, Record, Status};
use crate::{Engine, EngineError};

impl Engine {
    /// `hull rm`: removes the record, upper dir and bundle. A running container is refused
    /// unless `force`, which kills it and waits for its runner to clean up.
    pub fn remove(&self, name: &str, force: bool) -> Result<Record, EngineError> {
        self.remove_with_volumes(name, force, false)
    }

    /// `hull rm [-f] [-v]`: with `volumes`, the container's anonymous volumes go too (those no
    /// other container uses).
    pub fn remove_with_volumes(
        &self,
        name: &str,
        force: bool,
        volumes: bool,
    ) -> Result<Record, EngineError> {
        let record = self.containers.resolve(name)?;
        let id = record.id.as_str();
        let runtime = self.runtime()?;
        let runner_alive = self.containers.is_running(id);
        // A runner killed with -9 leaves its container's processes behind: they still count.
        // A dead record says nothing of them: the runtime's state does.
        let orphan_alive = !runner_alive
            && match record.state.status {
                Status::Running => true,
                Status::Dead => self.containers.orphan_alive(id),
                Status::Created | Status::Restarting | Status::Exited => false,
            };
        if (runner_alive || orphan_alive) && !force {
            return Err(EngineError::RemoveRunning(record.name.clone()));
        }
        // A dead record cannot be updated; its runner stops with the SIGKILL below.
        if runner_alive && record.state.status != Status::Dead {
            // Keeps a monitor from running it again under a restart policy.
            self.containers
                .update(id, |r| r.state.stopped_by_user = true)?;
        }
        // Wait for the runner (if any) to finish its cleanup: it holds this until it is done.
        let _claim = self.kill_until_runner_exits(&runtime, id)?;
        // Whatever a dead runner did not clean up: the process, its cgroup, the runtime state,
        // its network endpoint.
        delete_until_done(&runtime, id)?;
        self.remove_runtime_stub(id)?;
        if self.root.join("networks").is_dir() {
            hull_net::detach(&self.root, id).map_err(NetRunError::from)?;
        }
        let rootfs = self.containers.rootfs(id);
        if hull_sys::mount::is_mountpoint(&rootfs).unwrap_or(false) {
            let _ = hull_sys::mount::unmount(&rootfs, true);
        }
        self.containers.remove(id)?;
        self.container_event(&record, "destroy", &[]);
        if volumes {
            self.remove_anonymous_volumes(&record);
        }
        Ok(record)
    }

    /// Removes the runtime's directory for `id` when it holds no state.json: a runner killed
    /// inside runtime create, before the state was written, leaves such a stub, which the runtime
    /// does not know as a container (so cannot delete) but which blocks creating it again.
    pub(crate) fn remove_runtime_stub(&self, id: &str) -> Result<(), EngineError> {
        let dir = self.root.join("runtime").join(id);
        if dir.is_dir() && !dir.join(hull_runtime::state::STATE_FILE).exists() {
            fs::remove_dir_all(&dir).map_err(io_err(id, "remove the runtime's directory", &dir))?;
        }
        Ok(())
    }

    /// SIGKILLs the container until its runner (if any) has torn it down and let go. Again and
    /// again, because a runner that is still setting the container up (the runtime does not
    /// know it yet) would otherwise go on to start it. The claim is an flock, so a runner that
    /// died lets go at once: a held claim means a live runner that is still tearing down, whose
    /// teardown may queue behind other containers' network work on a busy or slow host. Hence a
    /// deadline in minutes, not seconds.
    fn kill_until_runner_exits(&self, runtime: &Runtime, id: &str) -> Result<Lock, EngineError> {
        const TEARDOWN_DEADLINE: std::time::Duration = std::time::Duration::from_secs(120);
        let start = std::time::Instant::now();
        while start.elapsed() < TEARDOWN_DEADLINE {
            if let Some(lock) = self.containers.try_claim_running(id)? {
                return Ok(lock);
            }
            // A frozen process cannot act on SIGKILL (cgroup v1 freezer) until thawed.
            let _ = runtime.resume(id);
            let _ = runtime.kill(id, libc::SIGKILL, true);
            // An init cloned by a runner that was killed before the runtime recorded its pid
            // is named only by its cgroup (it closed its copy of the runner's lock at once).
            kill_cgroup(runtime, id);
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        Err(EngineError::AlreadyRunning(id.to_string()))
    }
}

/// Deletes the container from the runtime, trying again for a while: a process killed a moment
/// ago may still hold its cgroup. The record must outlive a delete that keeps failing, or the
/// runtime's state (and the cgroup) would be left with nothing that names them; the error keeps
/// it, so the next `rm -f` finishes the job.
fn delete_until_done(runtime: &Runtime, id: &str) -> Result<(), EngineError> {
    const ATTEMPTS: u32 = 20;
    for _ in 1..ATTEMPTS {
        if delete_from_runtime_checked(runtime, id).is_ok() {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    delete_from_runtime_checked(runtime, id).map_err(rt_err(id, "delete"))
}
