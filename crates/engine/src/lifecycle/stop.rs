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
        if ends_for_good(&record, signal) {
            self.mark_stopped_by_user(id)?;
        }
        let runtime = self.runtime()?;
        match runtime.kill(id, signal, false) {
            Ok(()) => {}
            // Between two runs there is no process: the mark alone keeps it from running again.
            Err(_) if self.containers.load(id)?.state.status == Status::Restarting => {
                return Ok(record)
            }
            Err(e) => return Err(rt_err(id, "kill")(e)),
        }
        self.container_event(&record, "kill", &[("signal", signal.to_string())]);
        if signal == libc::SIGKILL {
            let _ = runtime.resume(id);
        }
        if orphan {
            // Nobody else will record its end.
            self.reap_orphan(id, signal, Duration::from_secs(1));
        }
        Ok(record)
    }

    /// `hull stop`: the container's stop signal (SIGTERM when it has none), then SIGKILL to every
    /// process after `timeout` (None: its `--stop-timeout`, else 10 s); returns once the runner
    /// recorded the exit. A container that does not run is fine.
    pub fn stop(&self, name: &str, timeout: Option<Duration>) -> Result<Record, EngineError> {
        let record = self.containers.resolve(name)?;
        let stop_signal = stop_signal(&record);
        let timeout = timeout.unwrap_or(Duration::from_secs(
            record.config.stop_timeout.unwrap_or(DEFAULT_STOP_TIMEOUT),
        ));
        let id = record.id.as_str();
        let orphan = !self.containers.is_running(id);
        if orphan && record.state.status != Status::Running {
            return Ok(record);
        }
        self.mark_stopped_by_user(id)?;
        let runtime = self.runtime()?;
        // Like Docker: a paused container is thawed, then signalled.
        let _ = runtime.resume(id);
        let _ = runtime.kill(id, stop_signal, false);
        self.container_event(&record, "kill", &[("signal", stop_signal.to_string())]);
        let mut signal = stop_signal;
        if !self.wait_stopped(id, Some(timeout)) {
            signal = libc::SIGKILL;
            let _ = runtime.kill(id, libc::SIGKILL, true);
            self.container_event(&record, "kill", &[("signal", signal.to_string())]);
            self.wait_stopped(id, None);
        }
        if orphan {
            self.reap_orphan(id, signal, Duration::ZERO);
        }
        self.container_event(&record, "stop", &[]);
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
            // Removed by --rm: the code it left, else the record we saw is all there is.
            Err(_) => Ok(self
                .containers
                .left_exit_code(&record.id)
                .or(record.state.exit_code)
                .unwrap_or(0)),
        }
    }

    /// Docker's HasBeenManuallyStopped: written before the signal, so the monitor that sees
    /// the exit it causes (or waits out a restart delay) does not run the container again.
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

/// `stop`'s wait before SIGKILL when neither `-t` nor `--stop-timeout` says otherwise.
pub const DEFAULT_STOP_TIMEOUT: u64 = 10;

/// The signal `stop` sends: the container's stop signal (validated when it was created; an
/// image's that names no signal falls back), else SIGTERM.
fn stop_signal(record: &Record) -> i32 {
    let configured = record.config.stop_signal.as_deref();
    configured
        .and_then(|s| crate::run::parse_signal(s).ok())
        .unwrap_or(libc::SIGTERM)
}

/// Whether `kill` with `signal` ends the container for good (its restart policy no longer runs
/// it), as `docker kill` decides: SIGKILL and the stop signal do; with no stop signal
/// configured, every signal does.
fn ends_for_good(record: &Record, signal: i32) -> bool {
    record.config.stop_signal.is_none() || signal == libc::SIGKILL || signal == stop_signal(record)
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
