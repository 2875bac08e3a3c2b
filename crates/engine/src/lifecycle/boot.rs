//! `hull system boot`, run once when the machine starts: the records of containers that died
//! with the machine are reconciled (stale runtime state, cgroups, rootfs mounts, leases and the
//! endpoints' leftovers), dead `--rm` containers are removed, and the engine says which
//! containers come back under their restart policy. Starting them is the front end's part: each
//! gets a new monitor, as `hull start` gives it.
//!
//! Which containers come back is dockerd 20.10's rule at its start (observed with its own
//! --data-root after killing it, containerd, the shims and the containers with -9 and wiping
//! its exec root, as a reboot does): `always` ones, even after `docker stop`; `unless-stopped`
//! ones the user did not stop; `on-failure` ones whose last exit is a failure (a container that
//! died with the machine has exit code 255) within the retry count; never one that was never
//! started, and never `no`. Each starts with RestartCount 0.

use crate::engine::now;
use crate::lifecycle::run::delete_from_runtime;
use crate::run::{NetworkMode, RestartPolicy};
use crate::state::{Record, Status, UNKNOWN_EXIT};
use crate::{Engine, EngineError};

/// What `boot` found and did before anything starts.
#[derive(Debug, Default)]
pub struct BootPlan {
    /// Containers whose runner died with the machine, now recorded as exited (IDs).
    pub reconciled: Vec<String>,
    /// `--rm` containers that died with the machine: removed, as dockerd removes them.
    pub removed: Vec<Record>,
    /// `--rm` containers whose removal failed, with the cause.
    pub remove_failed: Vec<(Record, String)>,
    /// The containers to start, those that join another's network namespace last.
    pub start: Vec<Record>,
}

/// True when the container comes back at boot under its restart policy (dockerd 20.10's rule,
/// see the module's doc). `record` is as read after the reconcile: not running.
pub fn starts_at_boot(record: &Record) -> bool {
    let s = &record.state;
    if s.status == Status::Dead || s.started_at.is_none() {
        return false;
    }
    match record.config.restart {
        RestartPolicy::No => false,
        RestartPolicy::Always => true,
        RestartPolicy::UnlessStopped => !s.stopped_by_user,
        RestartPolicy::OnFailure { max } => {
            s.exit_code.is_some_and(|c| c != 0) && (max == 0 || s.restart_count < max)
        }
    }
}

impl Engine {
    /// The reconcile half of `hull system boot` and the list of containers to start. Containers
    /// that run (a runner holds them, or their init lives) are left alone, so a second boot
    /// finds nothing to do.
    pub fn boot(&self) -> Result<BootPlan, EngineError> {
        let mut plan = BootPlan::default();
        for record in self.containers.list()? {
            let id = record.id.as_str();
            if record.state.status == Status::Dead || self.containers.is_alive(id) {
                continue;
            }
            if !self.reconcile_dead_runner(id)? {
                continue;
            }
            plan.reconciled.push(record.id.clone());
            if record.config.rm {
                match self.remove(id, false) {
                    Ok(r) => plan.removed.push(r),
                    Err(e) => plan.remove_failed.push((record, e.to_string())),
                }
            }
        }
        // Leases, veths and rules of the endpoints the dead runners held.
        if let Err(e) = self.reconcile_network() {
            eprintln!("hull: reconcile networks: {e}");
        }
        let mut start: Vec<Record> = self
            .containers
            .list()?
            .into_iter()
            .filter(|r| starts_at_boot(r) && !self.containers.is_alive(&r.id))
            .collect();
        start.sort_by_key(|r| matches!(r.config.network, NetworkMode::Container(_)));
        plan.start = start;
        Ok(plan)
    }

    /// Cleans up after a runner that died with its container (a reboot): the runtime's stale
    /// state and cgroup, the rootfs mount point, and the record, which still says Running (or
    /// Restarting) and now says Exited (255, Docker's code for an exit nobody saw). False when
    /// there was nothing to reconcile, or a runner claimed the container meanwhile.
    fn reconcile_dead_runner(&self, id: &str) -> Result<bool, EngineError> {
        let Some(_claim) = self.containers.try_claim_running(id)? else {
            return Ok(false);
        };
        // Under the claim the record reads as stored: Running means its runner died.
        let stored = self.containers.load(id)?;
        if !matches!(stored.state.status, Status::Running | Status::Restarting) {
            return Ok(false);
        }
        if self.containers.orphan_alive(id) {
            // Its init lives on without a runner (a monitor killed -9, no reboot): not ours.
            return Ok(false);
        }
        if let Ok(runtime) = self.runtime() {
            delete_from_runtime(&runtime, id);
        }
        let _ = self.remove_runtime_stub(id);
        let rootfs = self.containers.rootfs(id);
        if hull_sys::mount::is_mountpoint(&rootfs).unwrap_or(false) {
            let _ = hull_sys::mount::unmount(&rootfs, true);
        }
        self.containers.update(id, |r| {
            r.state.status = Status::Exited;
            r.state.pid = None;
            r.state.paused = false;
            r.state.clear_networks();
            r.state.exit_code = Some(UNKNOWN_EXIT);
            r.state.finished_at = Some(now());
        })?;
        self.container_event_id(id, "die", &[("exitCode", UNKNOWN_EXIT.to_string())]);
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::RunOptions;
    use crate::state::record::test_record;

    fn record(restart: &str, state: crate::state::State) -> Record {
        Record {
            state,
            ..test_record(RunOptions {
                restart: Some(restart.into()),
                ..Default::default()
            })
        }
    }

    fn died_with_the_machine() -> crate::state::State {
        crate::state::State {
            status: Status::Exited,
            exit_code: Some(UNKNOWN_EXIT),
            started_at: Some("2026-01-01T00:00:00Z".into()),
            ..Default::default()
        }
    }

    #[test]
    fn dockers_rule_decides_who_comes_back() {
        let died = died_with_the_machine();
        let stopped = crate::state::State {
            stopped_by_user: true,
            exit_code: Some(137),
            ..died.clone()
        };
        let clean = crate::state::State {
            exit_code: Some(0),
            ..died.clone()
        };
        let cases = [
            ("always", &died, true),
            ("always", &stopped, true),
            ("unless-stopped", &died, true),
            ("unless-stopped", &stopped, false),
            ("on-failure", &died, true),
            // dockerd restarts it too: `docker stop` left a non-zero code.
            ("on-failure", &stopped, true),
            ("on-failure", &clean, false),
            ("no", &died, false),
        ];
        for (policy, state, expected) in cases {
            let r = record(policy, state.clone());
            assert_eq!(starts_at_boot(&r), expected, "{policy} {state:?}");
        }
    }

    #[test]
    fn never_started_dead_and_exhausted_containers_stay_down() {
        let never = crate::state::State {
            started_at: None,
            status: Status::Created,
            ..Default::default()
        };
        assert!(!starts_at_boot(&record("always", never)));
        let dead = crate::state::State {
            status: Status::Dead,
            ..died_with_the_machine()
        };
        assert!(!starts_at_boot(&record("always", dead)));
        let exhausted = crate::state::State {
            restart_count: 2,
            ..died_with_the_machine()
        };
        assert!(!starts_at_boot(&record("on-failure:2", exhausted.clone())));
        assert!(starts_at_boot(&record("on-failure:3", exhausted)));
    }
}
