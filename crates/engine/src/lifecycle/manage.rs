//! Commands that change a container without running it: pause/unpause (the runtime's freezer),
//! update (its limits and restart policy), rename, prune, and the clean-up of a container whose runner was killed (-9) while it ran;
//! and the list `ps` shows.

use std::time::Duration;

use crate::engine::{now, rt_err};
use crate::lifecycle::run::delete_from_runtime;
use crate::lifecycle::stop::poll_until;
use crate::run::config::Limits;
use crate::run::RestartPolicy;
use crate::state::{Record, Status};
use crate::{Engine, EngineError};
use hull_runtime::RuntimeError;

/// One container `prune` removed and the bytes its writable layer held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pruned {
    pub id: String,
    pub reclaimed: u64,
}

impl Engine {
    /// `hull pause`: freezes every process of a running container.
    pub fn pause(&self, name: &str) -> Result<Record, EngineError> {
        let record = self.running_record(name)?;
        if record.state.paused {
            return Err(EngineError::AlreadyPaused(record.id));
        }
        let id = record.id.as_str();
        self.runtime()?.pause(id).map_err(rt_err(id, "pause"))?;
        self.container_event(&record, "pause", &[]);
        Ok(self.containers.update(id, |r| r.state.paused = true)?)
    }

    /// `hull unpause`: thaws a paused container.
    pub fn unpause(&self, name: &str) -> Result<Record, EngineError> {
        let record = self.running_record(name)?;
        if !record.state.paused {
            return Err(EngineError::NotPaused(record.id));
        }
        let id = record.id.as_str();
        self.runtime()?.resume(id).map_err(rt_err(id, "unpause"))?;
        self.container_event(&record, "unpause", &[]);
        Ok(self.containers.update(id, |r| r.state.paused = false)?)
    }

    fn running_record(&self, name: &str) -> Result<Record, EngineError> {
        let record = self.containers.resolve(name)?;
        match record.state.status {
            Status::Running => Ok(record),
            Status::Created | Status::Restarting | Status::Exited | Status::Dead => {
                Err(EngineError::NotRunning(record.id))
            }
        }
    }

    /// `hull update`: each limit `limits` sets replaces the record's, and `restart` the restart
    /// policy. A running container gets the new limits in its cgroup at once (through the
    /// runtime's `update`); any other has them from its next start, as in Docker. The monitor
    /// of a running container reads the restart policy again at each exit.
    pub fn update(
        &self,
        name: &str,
        limits: &Limits,
        restart: Option<RestartPolicy>,
    ) -> Result<Record, EngineError> {
        let record = self.containers.resolve(name)?;
        let id = record.id.as_str();
        if restart.is_some_and(|p| p != RestartPolicy::No) && record.config.rm {
            return Err(EngineError::RestartWithRm(record.id));
        }
        let mut config = record.config.clone();
        merge_limits(&mut config.limits, limits);
        if record.state.status == Status::Running && *limits != Limits::default() {
            let mut resources = crate::run::spec::resources(&config);
            resources.devices.clear();
            let rt = self.runtime()?;
            match rt.update(id, &resources) {
                // It exited since its record was read: the limits apply at its next start.
                Err(RuntimeError::NotFound { .. } | RuntimeError::BadStatus { .. }) => {}
                other => other.map_err(rt_err(id, "update"))?,
            }
        }
        Ok(self.containers.update(id, |r| {
            r.config.limits = config.limits;
            if let Some(policy) = restart {
                r.config.restart = policy;
            }
        })?)
    }

    /// `hull rename OLD NEW`.
    pub fn rename(&self, name: &str, new_name: &str) -> Result<Record, EngineError> {
        let old = self.containers.resolve(name)?.name;
        let renamed = self.containers.rename(name, new_name)?;
        self.container_event(&renamed, "rename", &[("oldName", old)]);
        Ok(renamed)
    }

    /// `hull container prune`: removes every container that does not run. One that starts
    /// meanwhile is skipped (remove refuses it), not an error.
    pub fn prune(&self) -> Result<Vec<Pruned>, EngineError> {
        self.prune_where(|_| true)
    }

    /// `prune` of the containers `wanted` picks (the API's `until` and `label` filters).
    pub fn prune_where(
        &self,
        wanted: impl Fn(&Record) -> bool,
    ) -> Result<Vec<Pruned>, EngineError> {
        let mut out = Vec::new();
        for r in self.containers.list()? {
            if matches!(r.state.status, Status::Running | Status::Restarting) || !wanted(&r) {
                continue;
            }
            let reclaimed = self.writable_size(&r.id);
            match self.remove(&r.id, false) {
                Ok(_) => out.push(Pruned {
                    id: r.id,
                    reclaimed,
                }),
                Err(EngineError::RemoveRunning(_) | EngineError::Container(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// After a signal to an orphan (a container whose runner was killed -9): waits up to
    /// `patience` for its init to die and then does the runner's part — tear down and record
    /// the exit as `128 + signal`. False when it still lives.
    pub(crate) fn reap_orphan(&self, id: &str, signal: i32, patience: Duration) -> bool {
        if !poll_until(Some(patience), || !self.containers.orphan_alive(id)) {
            return false;
        }
        // Somebody started it again meanwhile: theirs now.
        let Ok(Some(_claim)) = self.containers.try_claim_running(id) else {
            return true;
        };
        if let Ok(runtime) = self.runtime() {
            delete_from_runtime(&runtime, id);
        }
        let rootfs = self.containers.rootfs(id);
        if hull_sys::mount::is_mountpoint(&rootfs).unwrap_or(false) {
            let _ = hull_sys::mount::unmount(&rootfs, true);
        }
        let _ = self.containers.update(id, |r| {
            r.state.status = Status::Exited;
            r.state.pid = None;
            r.state.paused = false;
            r.state.exit_code = Some(128 + signal);
            r.state.finished_at = Some(now());
        });
        self.container_event_id(id, "die", &[("exitCode", (128 + signal).to_string())]);
        true
    }

    /// Containers for `ps`: running ones, or all with `all`.
    pub fn list(&self, all: bool) -> Result<Vec<Record>, EngineError> {
        if let Err(e) = self.reconcile_network() {
            eprintln!("hull: reconcile networks: {e}");
        }
        let records = self.containers.list()?;
        for r in records.iter().filter(|r| r.state.status == Status::Dead) {
            self.warn_dead(&r.id);
        }
        Ok(records
            .into_iter()
            .filter(|r| all || r.state.status == Status::Running)
            .collect())
    }

    /// One line on stderr for a container whose record cannot be read, naming the cause and
    /// the way out.
    fn warn_dead(&self, id: &str) {
        let cause = match self.containers.load(id) {
            Err(e) => e.to_string(),
            Ok(_) => "it was rewritten meanwhile".into(),
        };
        eprintln!(
            "hull: warning: container {} is dead, its record cannot be read ({cause}); `hull rm -f {}` removes it",
            &id[..12],
            &id[..12]
        );
    }
}

/// Each limit `new` sets replaces the one in `limits`.
fn merge_limits(limits: &mut Limits, new: &Limits) {
    let l = new.clone();
    limits.memory = l.memory.or(limits.memory);
    limits.memory_swap = l.memory_swap.or(limits.memory_swap);
    limits.cpu_quota = l.cpu_quota.or(limits.cpu_quota);
    limits.cpu_shares = l.cpu_shares.or(limits.cpu_shares);
    limits.pids_limit = l.pids_limit.or(limits.pids_limit);
    limits.cpuset_cpus = l.cpuset_cpus.or(limits.cpuset_cpus.take());
}

#[cfg(test)]
mod tests {
    use crate::volume::disk_usage;
    use std::fs;

    #[test]
    fn disk_usage_sums_files_below() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("a/b")).unwrap();
        fs::write(dir.path().join("a/b/f"), [0u8; 100]).unwrap();
        fs::write(dir.path().join("g"), [0u8; 23]).unwrap();
        std::os::unix::fs::symlink("/etc", dir.path().join("l")).unwrap();
        let link = fs::symlink_metadata(dir.path().join("l")).unwrap().len();
        assert_eq!(disk_usage(dir.path()), 123 + link);
        assert_eq!(disk_usage(&dir.path().join("missing")), 0);
    }
}
