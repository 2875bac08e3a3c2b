//! The detached side of `hull run -d`: a monitor process (a hidden entry point of the hull
//! binary) runs the container with its stdout and stderr on pipes and copies them, line by line,
//! into `<id>-json.log` in Docker's json-file format. It stays single-threaded: the runtime
//! refuses to fork from a threaded process, and one poll(2) loop is the smallest footprint.

use std::fs::File;
use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags};
use rustix::pipe::PipeFlags;
use rustix::process::{Pid, WaitOptions};
use serde::{Deserialize, Serialize};

use crate::container::{Record, Status};
use crate::engine::{io_err, rt_err};
use crate::logfile::LogFile;
use crate::restart::Restarter;
use crate::{foreground, Engine, EngineError};

/// One line of the log, as Docker's json-file driver writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLine {
    pub log: String,
    pub stream: String,
    pub time: String,
}

/// The log file of a container: `<root>/containers/<id>/<id>-json.log`.
pub fn log_path(engine: &Engine, id: &str) -> PathBuf {
    engine.containers.dir(id).join(format!("{id}-json.log"))
}

/// One of the container's output streams: the pipe's read end and the unfinished line.
struct Stream {
    fd: Option<OwnedFd>,
    name: &'static str,
    partial: Vec<u8>,
}

impl Stream {
    fn new(fd: OwnedFd, name: &'static str) -> Stream {
        Stream {
            fd: Some(fd),
            name,
            partial: Vec::new(),
        }
    }

    /// Reads what is available; writes every complete line; at EOF the rest, and closes.
    fn pump(&mut self, log: &mut LogFile) -> io::Result<()> {
        let Some(fd) = &self.fd else { return Ok(()) };
        let mut buf = [0u8; 8192];
        let n = match rustix::io::read(fd, &mut buf) {
            Ok(n) => n,
            Err(rustix::io::Errno::INTR | rustix::io::Errno::AGAIN) => return Ok(()),
            // EIO: a pty whose slave side is gone, which is its EOF.
            Err(_) => 0,
        };
        self.partial.extend_from_slice(&buf[..n]);
        while let Some(end) = self.partial.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.partial.drain(..=end).collect();
            write_line(log, self.name, &line)?;
        }
        if n == 0 {
            if !self.partial.is_empty() {
                let rest = std::mem::take(&mut self.partial);
                write_line(log, self.name, &rest)?;
            }
            self.fd = None;
        }
        Ok(())
    }
}

fn write_line(log: &mut LogFile, stream: &'static str, text: &[u8]) -> io::Result<()> {
    let line = LogLine {
        log: String::from_utf8_lossy(text).into_owned(),
        stream: stream.to_string(),
        time: hull_image::pull::now_rfc3339(),
    };
    let mut bytes = serde_json::to_vec(&line).expect("log lines serialize");
    bytes.push(b'\n');
    log.write_entry(&bytes)
}

/// Copies the streams into the log until every one of them is closed (the container and all
/// its processes are gone: they die with its pid 1).
fn copy_to_log(mut streams: Vec<Stream>, log: &mut LogFile) -> io::Result<()> {
    while streams.iter().any(|s| s.fd.is_some()) {
        let mut fds: Vec<PollFd<'_>> = streams
            .iter()
            .filter_map(|s| s.fd.as_ref())
            .map(|fd| PollFd::new(fd, PollFlags::IN))
            .collect();
        match rustix::event::poll(&mut fds, None) {
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
        let ready: Vec<bool> = fds.iter().map(|f| !f.revents().is_empty()).collect();
        drop(fds);
        let open = streams.iter_mut().filter(|s| s.fd.is_some());
        for (stream, ready) in open.zip(ready) {
            if ready {
                stream.pump(log)?;
            }
        }
    }
    Ok(())
}

fn wait_exit(pid: i32) -> io::Result<i32> {
    let pid = Pid::from_raw(pid).ok_or_else(|| io::Error::other("init pid is not positive"))?;
    loop {
        match rustix::process::waitpid(Some(pid), WaitOptions::empty()) {
            Ok(Some((_, status))) => return Ok(foreground::exit_code(status)),
            Ok(None) | Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

fn pipe(id: &str) -> Result<(OwnedFd, OwnedFd), EngineError> {
    rustix::pipe::pipe_with(PipeFlags::CLOEXEC)
        .map_err(|e| io_err(id, "create", Path::new("output pipe"))(e.into()))
}

impl Engine {
    /// The monitor's work: runs the container with its output going to the log, calls `started`
    /// once it runs (the CLI waiting on `hull run -d` may then return), runs it again as its
    /// restart policy says, and returns the last exit code once it exited for good and was torn
    /// down (and removed, with `--rm`). It holds the running lock throughout, restart delays
    /// included, so the container counts as running (or restarting) until then.
    pub fn run_detached(&self, id: &str, started: impl FnOnce()) -> Result<i32, EngineError> {
        let claim = self
            .containers
            .try_claim_running(id)?
            .ok_or_else(|| EngineError::AlreadyRunning(id.to_string()))?;
        let record = self.containers.update(id, |r| {
            r.state.stopped_by_user = false;
            r.state.restart_count = 0;
        })?;
        let path = log_path(self, id);
        let mut log =
            LogFile::open(&path, &record.config.log).map_err(io_err(id, "open log", &path))?;
        let mut restarter = Restarter::new(record.config.restart);
        let mut started = Some(started);
        let result = loop {
            let begun = Instant::now();
            let run = self.run_once(&record, &mut log, || {
                if let Some(tell) = started.take() {
                    tell();
                }
            });
            let code = match run {
                Ok(code) => code,
                // A container that never started reports the error to `hull run -d`.
                Err(e) if started.is_some() => break Err(e),
                Err(e) => {
                    eprintln!("hull: restart {id}: {e}");
                    i32::from(e.exit_code())
                }
            };
            let stopped = self.containers.load(id)?.state.stopped_by_user;
            let Some(delay) = restarter.next(code, begun.elapsed(), stopped) else {
                break Ok(code);
            };
            self.containers.update(id, |r| {
                r.state.status = Status::Restarting;
                r.state.exit_code = Some(code);
                r.state.restart_count = restarter.count;
            })?;
            if !self.sleep_unless_stopped(id, delay)? {
                self.containers
                    .update(id, |r| r.state.status = Status::Exited)?;
                break Ok(code);
            }
        };
        if let Err(e) = &result {
            let code = i32::from(e.exit_code());
            let _ = self
                .containers
                .update(id, |r| r.state.exit_code = Some(code));
        }
        drop(claim);
        if record.config.rm {
            self.containers.remove(id)?;
        }
        result
    }

    /// Waits out a restart delay; false when `hull stop`/`kill` came meanwhile.
    fn sleep_unless_stopped(&self, id: &str, delay: Duration) -> Result<bool, EngineError> {
        let until = Instant::now() + delay;
        loop {
            if self.containers.load(id)?.state.stopped_by_user {
                return Ok(false);
            }
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(true);
            }
            std::thread::sleep(left.min(STOP_POLL));
        }
    }

    /// One run of the container: output pipes (or its pty) copied into the log until it exits.
    fn run_once(
        &self,
        record: &Record,
        log: &mut LogFile,
        started: impl FnOnce(),
    ) -> Result<i32, EngineError> {
        let id = record.id.as_str();
        let path = log_path(self, id);
        let null = Path::new("/dev/null");
        let stdin = File::open(null).map_err(io_err(id, "open", null))?;
        let (out_r, out_w) = pipe(id)?;
        let (err_r, err_w) = pipe(id)?;
        let stdio = (!record.config.tty).then(|| [stdin.into(), out_w, err_w]);
        let mut streams = vec![Stream::new(out_r, "stdout"), Stream::new(err_r, "stderr")];
        self.run_claimed(record, stdio, |runtime, created| {
            if let Some(console) = created.console {
                streams = vec![Stream::new(console, "stdout")];
            }
            runtime.start(id).map_err(rt_err(id, "start"))?;
            started();
            let copied = copy_to_log(streams, log);
            let code = wait_exit(created.pid).map_err(io_err(id, "wait for", Path::new("init")));
            copied.map_err(io_err(id, "write log", &path))?;
            code
        })
    }
}

/// How often a restart delay looks for a user's stop.
const STOP_POLL: Duration = Duration::from_millis(50);
