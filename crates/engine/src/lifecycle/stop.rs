//! Commands on a container that runs (in the foreground or under a monitor): stop, kill, wait.
//! They act through the runtime and learn that the container ended from its running lock,
//! which its runner releases once it recorded the exit and tore everything down.

use std::time::{Duration, Instant};

use crate::engine::rt_err;
use crate::state::{Record, Status};
use crate::{Engine, EngineError};

impl Engine {
    /// `hull kill`: sends `signal` to the container's init. A paused container gets SIGKILL
    /// thawed, so it can die; other signals wait for `unpause`.
    pub fn kill(&self, name: &str, signal: i32) -> Result<Record, EngineError> {
        let record = self.containers.resolve(name)?;
        let id = record.id.as_str();
        // Running includes an orphan whose runner was killed (-9); a monitor that holds the
        // container between two runs of a restart policy counts too.
        let orphan = !self.containers.is_running(id);
        if orphan && record.state.status != Status::Running {
            return Err(EngineError::NotRunning(record.name.clone()));
        }
        self.mark_stopped_by_user(id)?;
        let runtime = self.runtime()?;
        match runtime.kill(id, signal, false) {
            Ok(()) => {}
            // Between two runs there is no process: the mark alone keeps it from running again.
            Err(_) if self.containers.load(id)?.state.status == Status::Restarting => {
                return Ok(record)
            }
            Err(e) => return Err(rt_err(id, "kill")(e)),
        }
        if signal == libc::SIGKILL {
            let _ = runtime.resume(id);
        }
        if orphan {
            // Nobody else will record its end.
            self.reap_orphan(id, signal, Duration::from_secs(1));
        }
        Ok(record)
    }

    /// `hull stop`: SIGTERM, then SIGKILL to every process after `timeout`; returns once the
    /// runner recorded the exit. A container that does not run is fine.
    pub fn stop(&self, name: &str, timeout: Duration) -> Result<Record, EngineError> {
        let record = self.containers.resolve(name)?;
        let id = record.id.as_str();
        let orphan = !self.containers.is_running(id);
        if orphan && record.state.status != Status::Running {
            return Ok(record);
        }
        self.mark_stopped_by_user(id)?;
        let runtime = self.runtime()?;
        // Like Docker: a paused container is thawed, then signalled.
        let _ = runtime.resume(id);
        let _ = runtime.kill(id, libc::SIGTERM, false);
        let mut signal = libc::SIGTERM;
        if !self.wait_stopped(id, Some(timeout)) {
            signal = libc::SIGKILL;
            let _ = runtime.kill(id, libc::SIGKILL, true);
            self.wait_stopped(id, None);
        }
        if orphan {
            self.reap_orphan(id, signal, Duration::ZERO);
        }
        Ok(record)
    }

    /// `hull wait`: blocks until the container does not run, then returns its exit code. Like
    /// Docker, an exit after which the restart policy runs it again counts too.
    pub fn wait(&self, name: &str) -> Result<i32, EngineError> {
        let record = self.containers.resolve(name)?;
        if let Some(code) = self.wait_next_exit(&record) {
            return Ok(code);
        }
        self.wait_stopped(&record.id, None);
        match self.containers.load(&record.id) {
            Ok(r) => Ok(r.state.exit_code.unwrap_or(0)),
            // Removed by --rm after recording its code: the record we saw is all there is.
            Err(_) => Ok(record.state.exit_code.unwrap_or(0)),
        }
    }

    /// Docker's HasBeenManuallyStopped: written before any signal, so the monitor that sees
    /// the exit it causes (or waits out a restart delay) does not run the container again.
    /// `docker kill` sets it for any signal when no stop signal is configured, and hull has none.
    fn mark_stopped_by_user(&self, id: &str) -> Result<(), EngineError> {
        self.containers
            .update(id, |r| r.state.stopped_by_user = true)?;
        Ok(())
    }

    /// Polls until the container's runner released it (None: its record then has the code), or
    /// until an exit recorded after `seen` is followed by a restart (that exit's code).
    fn wait_next_exit(&self, seen: &Record) -> Option<i32> {
        let id = seen.id.as_str();
        let mut exit = None;
        while self.containers.is_alive(id) {
            let now = self.containers.load(id).ok()?;
            let s = &now.state;
            if s.finished_at.is_some() && s.finished_at != seen.state.finished_at {
                exit = exit.or(s.exit_code);
            }
            // The exit is recorded as Exited before the monitor decides; another status
            // afterwards means it runs again.
            if exit.is_some() && s.status != Status::Exited {
                return exit;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// Polls until the container's runner released it and no orphan of it lives; false when
    /// `timeout` passed first.
    fn wait_stopped(&self, id: &str, timeout: Option<Duration>) -> bool {
        poll_until(timeout, || !self.containers.is_alive(id))
    }
}

/// Checks `done` every 20 ms until it holds (true) or `timeout` passed (false); no timeout
/// waits for as long as it takes.
pub(crate) fn poll_until(timeout: Option<Duration>, mut done: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while !done() {
        if timeout.is_some_and(|t| start.elapsed() >= t) {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    true
}
