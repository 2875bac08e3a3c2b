//! Health checks, run by the container's monitor: a [`Prober`] in the monitor's poll loop
//! forks one short-lived check process when a check is due and polls its pidfd. The check
//! process runs the probe through the runtime's exec (the path `hull exec` takes) with its
//! stdout and stderr on one pipe, kills the probe's whole process tree when it outlives the
//! timeout, and records the result in the container's record ([`Health`], written atomically
//! under the record's lock), then exits. The monitor itself only keeps the schedule, so its
//! footprint does not grow with the checks (BENCHMARKS.md, "Monitor footprint").
//!
//! Docker's rules: failures during the start period do not count until a check has passed;
//! the start interval applies while the container is still starting within its start period;
//! `Retries` failures in a row make it unhealthy; any success makes it healthy.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io;
use std::os::fd::OwnedFd;
use std::path::Path;
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags};
use rustix::process::{Pid, Signal, WaitOptions};

use crate::lifecycle::exec::{exec_process, ExecConfig};
use crate::run::health::{go_duration_string, Probe};
use crate::state::health::{Health, HealthResult, HealthStatus};
use crate::state::Record;
use crate::{Engine, EngineError};

/// Docker keeps at most 4 KiB of a check's output.
const MAX_OUTPUT: usize = 4096;

/// A running check process: its pid and pidfd (readable once it exited).
struct Running {
    pid: Pid,
    pidfd: OwnedFd,
    /// Past this the check process itself is stuck (its exec never returned): it is killed.
    deadline: Instant,
}

/// How long a check process may outlive its probe's timeout (the exec, the record write).
const CHECK_GRACE: Duration = Duration::from_secs(10);

/// A container with a health check that starts is `starting` again, with no failing streak
/// (the log is kept, as Docker keeps it across restarts).
pub(crate) fn mark_starting(r: &mut Record) {
    if r.config
        .healthcheck
        .as_ref()
        .and_then(|h| h.probe())
        .is_some()
    {
        let h = r.state.health.get_or_insert_with(Health::default);
        h.status = HealthStatus::Starting;
        h.failing_streak = 0;
    }
}

/// The monitor's side: when the next check is due, and the one running.
pub(crate) struct Prober<'a> {
    engine: &'a Engine,
    id: String,
    probe: Probe,
    started: Instant,
    next: Instant,
    starting: bool,
    running: Option<Running>,
    /// Checked once at start: the monitor never starts a thread, and each fork then skips
    /// reading /proc (code the monitor's loop would otherwise keep resident).
    single: hull_sys::process::SingleThreaded,
}

impl<'a> Prober<'a> {
    /// For a container that just started: its health becomes `starting` (the log is kept, as
    /// Docker keeps it across restarts). None when it has no health check.
    pub fn start(engine: &'a Engine, record: &Record) -> Result<Option<Prober<'a>>, EngineError> {
        let Some(probe) = record.config.healthcheck.as_ref().and_then(|h| h.probe()) else {
            return Ok(None);
        };
        engine.containers.update(&record.id, mark_starting)?;
        let single = hull_sys::process::SingleThreaded::check().map_err(crate::engine::io_err(
            &record.id,
            "health check",
            Path::new("fork"),
        ))?;
        let started = Instant::now();
        let mut p = Prober {
            engine,
            id: record.id.clone(),
            probe,
            started,
            next: started,
            starting: true,
            running: None,
            single,
        };
        p.next = started + p.interval();
        Ok(Some(p))
    }

    /// Docker's interval: the start interval while starting within the start period.
    fn interval(&self) -> Duration {
        if self.starting && self.started.elapsed() < self.probe.start_period {
            self.probe.start_interval
        } else {
            self.probe.interval
        }
    }

    /// The running check's pidfd, for the monitor's poll.
    pub fn fd(&self) -> Option<&OwnedFd> {
        self.running.as_ref().map(|r| &r.pidfd)
    }

    /// How long the monitor may sleep before the next check is due (while one runs, its pidfd
    /// wakes the monitor, at the latest at its deadline).
    pub fn next_timeout(&self) -> Option<Duration> {
        let until = self.running.as_ref().map_or(self.next, |r| r.deadline);
        Some(until.saturating_duration_since(Instant::now()))
    }

    /// Whether [`Prober::handle`] would fork a check now: the caller must then run no other
    /// thread (the check process is forked, not exec'd at once).
    pub fn fork_due(&self, now: Instant) -> bool {
        self.running.is_none() && now >= self.next
    }

    /// After any wakeup: reaps a finished check and schedules the next, or starts one due at
    /// `now` (the time [`Prober::fork_due`] was asked for).
    pub fn handle(&mut self, now: Instant) {
        if let Some(r) = &mut self.running {
            match rustix::process::waitpid(Some(r.pid), WaitOptions::NOHANG) {
                Ok(Some((_, status))) => {
                    self.starting = status.exit_status() == Some(0);
                    self.running = None;
                    self.next = Instant::now() + self.interval();
                }
                Ok(None) | Err(rustix::io::Errno::INTR) => {
                    if Instant::now() >= r.deadline {
                        eprintln!("hull: health check of {} stuck: killed", self.id);
                        let _ = rustix::process::kill_process(r.pid, Signal::KILL);
                        // Its pidfd wakes us when it is gone; no spinning meanwhile.
                        r.deadline = Instant::now() + Duration::from_secs(1);
                    }
                }
                Err(_) => {
                    self.running = None;
                    self.next = Instant::now() + self.interval();
                }
            }
            return;
        }
        if self.fork_due(now) {
            match self.spawn() {
                Ok(r) => self.running = Some(r),
                Err(e) => {
                    eprintln!("hull: health check of {}: {e}", self.id);
                    self.next = Instant::now() + self.interval();
                }
            }
        }
    }

    fn spawn(&self) -> io::Result<Running> {
        let in_start_period = self.started.elapsed() < self.probe.start_period;
        match hull_sys::process::fork_single_threaded(0, &self.single)? {
            hull_sys::process::Forked::Child => {
                let code = check_process(self.engine, &self.id, &self.probe, in_start_period);
                hull_sys::process::exit_now(code)
            }
            hull_sys::process::Forked::Parent(pid) => {
                let pid = Pid::from_raw(pid).ok_or_else(|| io::Error::other("fork gave pid 0"))?;
                let pidfd = rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty())?;
                let deadline = Instant::now() + self.probe.timeout + CHECK_GRACE;
                Ok(Running {
                    pid,
                    pidfd,
                    deadline,
                })
            }
        }
    }

    /// The container stopped: a running check is ended, and the health reads `unhealthy`, as
    /// Docker marks it once its monitor stops.
    pub fn finish(mut self) -> Result<(), EngineError> {
        if let Some(r) = self.running.take() {
            let _ = rustix::process::kill_process(r.pid, Signal::KILL);
            let _ = rustix::process::waitpid(Some(r.pid), WaitOptions::empty());
        }
        self.engine.containers.update(&self.id, |r| {
            if let Some(h) = &mut r.state.health {
                h.status = HealthStatus::Unhealthy;
            }
        })?;
        Ok(())
    }
}

/// The running check's pidfd as the monitor polls it.
pub(crate) fn poll_fd<'f>(prober: Option<&'f Prober<'_>>) -> Option<PollFd<'f>> {
    prober?.fd().map(|fd| PollFd::new(fd, PollFlags::IN))
}

/// The monitor's poll timeout: the sooner of `other` (the monitor's own deadlines: the DNS
/// responder's, the end of a burst of output) and the next check's.
pub(crate) fn poll_timeout(
    other: Option<Duration>,
    prober: Option<&Prober<'_>>,
) -> Option<rustix::event::Timespec> {
    let next = prober.and_then(Prober::next_timeout);
    let sooner = [other, next].into_iter().flatten().min()?;
    rustix::event::Timespec::try_from(sooner).ok()
}

/// The forked check process: runs the probe, records the result, and says whether the
/// container is still starting (exit 0) or not (1).
fn check_process(engine: &Engine, id: &str, probe: &Probe, in_start_period: bool) -> i32 {
    // The monitor's descriptors (its log, clients, the running lock) are not ours to hold.
    let _ = hull_sys::process::close_all_except(&[0, 1, 2]);
    let start = crate::engine::now();
    let (exit_code, output) = match run_probe(engine, id, probe) {
        Ok(done) => done,
        Err(e) => (-1, e.to_string()),
    };
    let result = HealthResult {
        start,
        end: crate::engine::now(),
        exit_code,
        output,
    };
    let mut before = None;
    let recorded = engine.containers.update(id, |r| {
        let h = r.state.health.get_or_insert_with(Health::default);
        before = Some(h.status);
        h.record(result, in_start_period, probe.retries);
    });
    if let Ok(r) = &recorded {
        engine.health_event(before, r);
    }
    match recorded {
        Ok(r)
            if r.state
                .health
                .as_ref()
                .is_some_and(|h| h.status == HealthStatus::Starting) =>
        {
            0
        }
        Ok(_) => 1,
        Err(e) => {
            eprintln!("hull: record health of {id}: {e}");
            1
        }
    }
}

/// Runs the probe in the container with the container's user, environment and working
/// directory; returns its exit code (-1 on timeout, as Docker) and output.
fn run_probe(engine: &Engine, id: &str, probe: &Probe) -> Result<(i64, String), EngineError> {
    let rt_err = |op| crate::engine::rt_err(id, op);
    let io_err = |what: &'static str| crate::engine::io_err(id, "health check", Path::new(what));
    let runtime = engine.runtime()?;
    let template = runtime.spec(id).map_err(rt_err("exec"))?.process;
    let config = ExecConfig {
        detach: false,
        interactive: false,
        tty: false,
        env: Vec::new(),
        user: None,
        workdir: None,
        container: id.to_string(),
        args: probe.args.clone(),
        console_size: None,
    };
    let process = exec_process(template.unwrap_or_default(), &config, None, None);
    let (out_r, out_w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
        .map_err(|e| io_err("pipe")(e.into()))?;
    let err_w = out_w.try_clone().map_err(io_err("pipe"))?;
    let null: OwnedFd = File::open("/dev/null").map_err(io_err("/dev/null"))?.into();
    let mut req = hull_runtime::ExecRequest::new(id, process);
    req.stdio = Some([null, out_w, err_w]);
    let deadline = Instant::now() + probe.timeout;
    let executed = runtime.exec(req).map_err(rt_err("exec"))?;
    let pid = Pid::from_raw(executed.pid).ok_or_else(|| io_err("pid")(io::Error::other("0")))?;
    let (output, exited) = collect(&out_r, pid, deadline).map_err(io_err("output"))?;
    if !exited {
        kill_tree(pid);
        let _ = rustix::process::waitpid(Some(pid), WaitOptions::empty());
        let msg = format!(
            "Health check exceeded timeout ({})",
            go_duration_string(probe.timeout)
        );
        return Ok((-1, msg));
    }
    let code = match rustix::process::waitpid(Some(pid), WaitOptions::empty()) {
        Ok(Some((_, status))) => i64::from(crate::lifecycle::foreground::exit_code(status)),
        _ => -1,
    };
    Ok((code, String::from_utf8_lossy(&output).into_owned()))
}

/// Reads the probe's output (the first 4 KiB kept, the rest drained) until it exits or the
/// deadline passes; true when it exited in time.
fn collect(out: &OwnedFd, pid: Pid, deadline: Instant) -> io::Result<(Vec<u8>, bool)> {
    rustix::io::ioctl_fionbio(out, true)?;
    let pidfd = rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty())?;
    let mut kept = Vec::new();
    let mut buf = [0u8; 4096];
    let mut open = true;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok((kept, false));
        }
        let timeout = rustix::event::Timespec::try_from(left).ok();
        let mut fds = vec![PollFd::new(&pidfd, PollFlags::IN)];
        if open {
            fds.push(PollFd::new(out, PollFlags::IN));
        }
        match rustix::event::poll(&mut fds, timeout.as_ref()) {
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
        let exited = !fds[0].revents().is_empty();
        drop(fds);
        // Drain what is there now; at exit, all of it (a child left holding the pipe does not
        // keep the check waiting).
        while open {
            match rustix::io::read(out, &mut buf) {
                Ok(0) => open = false,
                Ok(n) => {
                    let room = MAX_OUTPUT.saturating_sub(kept.len());
                    kept.extend_from_slice(&buf[..n.min(room)]);
                }
                Err(rustix::io::Errno::INTR) => {}
                Err(_) => break,
            }
        }
        if exited {
            return Ok((kept, true));
        }
    }
}

/// Kills `root` and every process descended from it: stops them all until no new one
/// appears (a stopped process cannot fork, and none dies so none is re-parented away), then
/// SIGKILLs them.
fn kill_tree(root: Pid) {
    let mut seen: HashSet<i32> = HashSet::new();
    for _ in 0..100 {
        let tree = descendants(root.as_raw_nonzero().get());
        let new: Vec<i32> = tree.iter().copied().filter(|p| !seen.contains(p)).collect();
        if new.is_empty() {
            break;
        }
        for p in new {
            if let Some(pid) = Pid::from_raw(p) {
                let _ = rustix::process::kill_process(pid, Signal::STOP);
            }
            seen.insert(p);
        }
    }
    for p in seen {
        if let Some(pid) = Pid::from_raw(p) {
            let _ = rustix::process::kill_process(pid, Signal::KILL);
        }
    }
}

/// `root` and its descendants, from /proc's parent links.
fn descendants(root: i32) -> Vec<i32> {
    let mut children: HashMap<i32, Vec<i32>> = HashMap::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let ppid = hull_sys::process::stat_field(&stat, 4).and_then(|p| p.parse::<i32>().ok());
        if let Some(ppid) = ppid {
            children.entry(ppid).or_default().push(pid);
        }
    }
    let mut out = vec![root];
    let mut i = 0;
    while i < out.len() {
        out.extend(children.get(&out[i]).into_iter().flatten().copied());
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_start_marks_only_a_container_with_a_check_starting() {
        let mut opts = crate::run::RunOptions::default();
        opts.health.cmd = Some("true".into());
        let mut r = crate::state::record::test_record(opts);
        r.state.health = Some(Health {
            status: HealthStatus::Unhealthy,
            failing_streak: 3,
            ..Health::default()
        });
        mark_starting(&mut r);
        let h = r.state.health.as_ref().unwrap();
        assert_eq!((h.status, h.failing_streak), (HealthStatus::Starting, 0));

        let mut plain = crate::state::record::test_record(Default::default());
        mark_starting(&mut plain);
        assert!(plain.state.health.is_none());
    }

    #[test]
    fn a_tree_is_found_and_killed_whole() {
        let mut child = std::process::Command::new("sh")
            .args(["-c", "sleep 60 & sleep 60 & wait"])
            .spawn()
            .unwrap();
        let pid = Pid::from_raw(child.id() as i32).unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        while descendants(pid.as_raw_nonzero().get()).len() < 3 {
            assert!(Instant::now() < deadline, "the sleeps never appeared");
            std::thread::sleep(Duration::from_millis(10));
        }
        let tree = descendants(pid.as_raw_nonzero().get());
        kill_tree(pid);
        child.wait().unwrap();
        std::thread::sleep(Duration::from_millis(100));
        for p in &tree[1..] {
            let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).unwrap_or_default();
            // Gone, or a zombie waiting for init.
            assert!(
                stat.is_empty() || stat.contains(") Z"),
                "{p} survived: {stat}"
            );
        }
    }
}
