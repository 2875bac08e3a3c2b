//! Starting a container detached: its monitor is this binary's hidden `__monitor` command (see
//! `monitor`), spawned as `current_exe() --root ROOT __monitor [--attach-first] ID` in a process
//! of its own, which says on its stdout (a pipe) one line: `started`, or `error CODE MESSAGE`
//! when the container could not start (CODE is `docker run`'s exit code for it). With
//! `--attach-first` it first says `listening` and waits for a client on its attach socket.
//!
//! Spawning is a fork+exec (std's `Command`), so a multi-threaded caller (the API service) may
//! start containers too. The caller owns the monitor's [`Child`]: a long-lived one reaps it.

use std::fs::OpenOptions;
use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdout, Command, Stdio};

use crate::engine::io_err;
use crate::state::Record;
use crate::{Engine, EngineError};

/// The monitor's line once the container runs.
pub const STARTED: &str = "started";
/// The monitor's first line with `--attach-first`: it waits for a client before starting.
pub const LISTENING: &str = "listening";

/// What a monitor said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MonitorLine {
    Started,
    Listening,
    /// The container did not start: `docker run`'s exit code for why, and the one-line reason.
    Failed {
        code: u8,
        message: String,
    },
}

/// The line a monitor writes when the container could not start.
pub fn error_line(code: u8, message: &str) -> String {
    format!("error {code} {}", message.replace('\n', " "))
}

/// Reads a monitor's line; an empty one is a monitor that closed its end before saying why.
pub fn parse_line(line: &str) -> MonitorLine {
    match line {
        STARTED => return MonitorLine::Started,
        LISTENING => return MonitorLine::Listening,
        _ => {}
    }
    match line.strip_prefix("error ").and_then(|l| l.split_once(' ')) {
        Some((code, message)) => MonitorLine::Failed {
            code: code.parse().unwrap_or(125),
            message: message.to_string(),
        },
        None => MonitorLine::Failed {
            code: 125,
            message: "the container's monitor exited before the container started".into(),
        },
    }
}

/// A spawned monitor and the read end of its pipe.
#[derive(Debug)]
pub struct Monitor {
    pub id: String,
    child: Child,
    lines: BufReader<ChildStdout>,
}

impl Monitor {
    /// The monitor's next line (blocks until it says something or exits).
    pub fn next_line(&mut self) -> Result<MonitorLine, EngineError> {
        let mut line = String::new();
        let path = std::path::PathBuf::from("<monitor stdout>");
        self.lines.read_line(&mut line).map_err(io_err(
            &self.id,
            "read from the container's monitor",
            &path,
        ))?;
        Ok(parse_line(line.trim_end()))
    }

    /// The monitor process, for its owner to reap once it exits.
    pub fn into_child(self) -> Child {
        self.child
    }
}

impl Engine {
    /// Spawns the monitor of `record`; its errors go to `monitor.log` in the container's
    /// directory.
    pub fn spawn_monitor(
        &self,
        record: &Record,
        attach_first: bool,
    ) -> Result<Monitor, EngineError> {
        let id = record.id.as_str();
        let errors = self.containers.dir(id).join("monitor.log");
        let stderr = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&errors)
            .map_err(io_err(id, "open", &errors))?;
        let exe = std::env::current_exe().map_err(io_err(
            id,
            "find the hull binary",
            "/proc/self/exe".as_ref(),
        ))?;
        let mut command = Command::new(&exe);
        command.arg("--root").arg(&self.root).arg("__monitor");
        if attach_first {
            command.arg("--attach-first");
        }
        let mut child = command
            .arg(id)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .map_err(io_err(id, "start the container's monitor", &exe))?;
        let Some(out) = child.stdout.take() else {
            unreachable!("stdout is piped");
        };
        Ok(Monitor {
            id: id.to_string(),
            child,
            lines: BufReader::new(out),
        })
    }

    /// `hull start` / `run -d`: starts `record` under a new monitor and returns it once the
    /// container runs; [`EngineError::StartFailed`] with the monitor's code and reason if not.
    pub fn start_detached(&self, record: &Record) -> Result<Child, EngineError> {
        let mut monitor = self.spawn_monitor(record, false)?;
        match monitor.next_line()? {
            MonitorLine::Started => Ok(monitor.into_child()),
            MonitorLine::Failed { code, message } => Err(EngineError::StartFailed {
                id: record.id.clone(),
                code,
                message,
            }),
            MonitorLine::Listening => Err(EngineError::StartFailed {
                id: record.id.clone(),
                code: 125,
                message: "the container's monitor waits for a client it was not asked to".into(),
            }),
        }
    }
}

impl Engine {
    /// As [`Engine::start_detached`] for a container a client waits to attach to (`docker run`
    /// attaches before it starts): the monitor waits for that client before it starts the
    /// container (as `hull start -a`), so the client misses no output. `listening` is called
    /// once the monitor listens for that client, so that the client need not poll for it.
    pub fn start_for_attached(
        &self,
        record: &Record,
        mut listening: impl FnMut(),
    ) -> Result<Child, EngineError> {
        let mut monitor = self.spawn_monitor(record, true)?;
        let failed = |code, message| EngineError::StartFailed {
            id: record.id.clone(),
            code,
            message,
        };
        loop {
            match monitor.next_line()? {
                MonitorLine::Listening => listening(),
                MonitorLine::Started => return Ok(monitor.into_child()),
                MonitorLine::Failed { code, message } => return Err(failed(code, message)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monitor_lines_parse_with_their_codes() {
        assert_eq!(parse_line("started"), MonitorLine::Started);
        assert_eq!(parse_line("listening"), MonitorLine::Listening);
        assert_eq!(
            parse_line(&error_line(127, "no such file\nat all")),
            MonitorLine::Failed {
                code: 127,
                message: "no such file at all".into()
            }
        );
        let MonitorLine::Failed { code, message } = parse_line("") else {
            panic!("an empty line is a failure");
        };
        assert_eq!(code, 125);
        assert!(message.contains("exited before"), "{message}");
        assert!(matches!(
            parse_line("error x oops"),
            MonitorLine::Failed { code: 125, .. }
        ));
    }
}
