//! Commands on a container that runs (in the foreground or under a monitor): stop, kill, wait.
//! They act through the runtime and learn that the container ended from its running lock,
//! which its runner releases once it recorded the exit and tore everything down.

use std::time::{Duration, Instant};

use crate::container::{Record, Status};
use crate::engine::rt_err;
use crate::{Engine, EngineError};

#[derive(Debug, thiserror::Error)]
#[error("invalid signal: {0}")]
pub struct BadSignal(String);

/// A signal by number or name, with or without `SIG` (`9`, `KILL`, `SIGKILL`, `sigterm`).
pub fn parse_signal(s: &str) -> Result<i32, BadSignal> {
    hull_sys::signal::parse(s).ok_or_else(|| BadSignal(s.to_string()))
}

impl Engine {
    /// `hull kill`: sends `signal` to the container's init. A paused container gets SIGKILL
    /// thawed, so it can die; other signals wait for `unpause`.
    pub fn kill(&self, name: &str, signal: i32) -> Result<Record, EngineError> {
        let record = self.containers.resolve(name)?;
        if record.state.status != Status::Running {
            return Err(EngineError::NotRunning(record.name.clone()));
        }
        let id = record.id.as_str();
        let runtime = self.runtime()?;
        runtime
            .kill(id, signal, false)
            .map_err(rt_err(id, "kill"))?;
        if signal == libc::SIGKILL {
            let _ = runtime.resume(id);
        }
        if !self.containers.is_running(id) {
            // An orphan (its runner was killed): nobody else will record its end.
            self.reap_orphan(id, signal, Duration::from_secs(1));
        }
        Ok(record)
    }

    /// `hull stop`: SIGTERM, then SIGKILL to every process after `timeout`; returns once the
    /// runner recorded the exit. A container that does not run is fine.
    pub fn stop(&self, name: &str, timeout: Duration) -> Result<Record, EngineError> {
        let record = self.containers.resolve(name)?;
        let id = record.id.as_str();
        if record.state.status != Status::Running {
            return Ok(record);
        }
        let orphan = !self.containers.is_running(id);
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

    /// `hull wait`: blocks until the container does not run, then returns its exit code.
    pub fn wait(&self, name: &str) -> Result<i32, EngineError> {
        let record = self.containers.resolve(name)?;
        self.wait_stopped(&record.id, None);
        match self.containers.load(&record.id) {
            Ok(r) => Ok(r.state.exit_code.unwrap_or(0)),
            // Removed by --rm after recording its code: the record we saw is all there is.
            Err(_) => Ok(record.state.exit_code.unwrap_or(0)),
        }
    }

    /// Polls until the container's runner released it and no orphan of it lives; false when
    /// `timeout` passed first.
    fn wait_stopped(&self, id: &str, timeout: Option<Duration>) -> bool {
        let start = Instant::now();
        while self.containers.is_alive(id) {
            if timeout.is_some_and(|t| start.elapsed() >= t) {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_parse_by_number_and_name() {
        assert_eq!(parse_signal("9").unwrap(), 9);
        assert_eq!(parse_signal("KILL").unwrap(), libc::SIGKILL);
        assert_eq!(parse_signal("sigusr1").unwrap(), libc::SIGUSR1);
        assert_eq!(parse_signal("SIGTERM").unwrap(), libc::SIGTERM);
        assert!(parse_signal("NOPE").is_err());
        assert!(parse_signal("0").is_err());
    }
}
