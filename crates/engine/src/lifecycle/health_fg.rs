//! Health checks of a foreground `hull run`. Docker checks every running container; a detached
//! one's monitor runs its [`Prober`] in its poll loop, and a foreground run forks a checker
//! process for it: the `hull run` process starts threads (the signal forwarder, the pty relay,
//! the DNS responder) while it waits, and the prober forks each check, which only a
//! single-threaded process may do. The checker runs the same prober in the same kind of loop as
//! the monitor, with the container's init's pidfd in place of the monitor's streams, and ends
//! once init is gone, marking the health `unhealthy` as the monitor does.

use std::os::fd::OwnedFd;
use std::path::Path;
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags};
use rustix::process::{Pid, PidfdFlags, Signal, WaitOptions};

use crate::engine::io_err;
use crate::lifecycle::health::{self, Prober};
use crate::state::Record;
use crate::{Engine, EngineError};

/// How long the checker may take to end after init is gone (it kills a running check and
/// records the health) before it is killed.
const CHECKER_GRACE: Duration = Duration::from_secs(5);

/// The checker process of a foreground run; waited for (killed if it lingers) when dropped.
pub(crate) struct Checker {
    pid: Pid,
    pidfd: OwnedFd,
    init: i32,
}

impl Engine {
    /// Forks the checker of `record`, whose init is `init`; None when it has no health check.
    /// Call it while this process runs one thread: before the run starts any.
    pub(crate) fn foreground_checker(
        &self,
        record: &Record,
        init: i32,
    ) -> Result<Option<Checker>, EngineError> {
        let id = record.id.as_str();
        if record
            .config
            .healthcheck
            .as_ref()
            .and_then(|h| h.probe())
            .is_none()
        {
            return Ok(None);
        }
        let fork_err = || io_err(id, "fork the health checker of", Path::new("init"));
        let single = hull_sys::process::SingleThreaded::check().map_err(fork_err())?;
        match hull_sys::process::fork_single_threaded(0, &single).map_err(fork_err())? {
            hull_sys::process::Forked::Child => {
                hull_sys::process::exit_now(self.check_while_alive(record, init))
            }
            hull_sys::process::Forked::Parent(pid) => {
                let pid = Pid::from_raw(pid).expect("fork returns a positive pid");
                let pidfd = rustix::process::pidfd_open(pid, PidfdFlags::empty());
                let pidfd_err = io_err(id, "open the pidfd of", Path::new("the health checker"));
                let pidfd = pidfd.map_err(|e| pidfd_err(e.into()))?;
                Ok(Some(Checker { pid, pidfd, init }))
            }
        }
    }

    /// The checker's life: the prober's checks until init is gone; its exit code.
    fn check_while_alive(&self, record: &Record, init: i32) -> i32 {
        // It dies with the `hull run` process, kill -9 included, as checks die with a monitor.
        let _ = rustix::process::set_parent_process_death_signal(Some(Signal::KILL));
        // The run's descriptors (its running lock, the pty) are not the checker's to hold.
        let _ = hull_sys::process::close_all_except(&[0, 1, 2]);
        let Some(init_fd) = Pid::from_raw(init)
            .and_then(|p| rustix::process::pidfd_open(p, PidfdFlags::empty()).ok())
        else {
            return 1;
        };
        let mut prober = match Prober::start(self, record) {
            Ok(Some(p)) => p,
            Ok(None) => return 0,
            Err(e) => {
                eprintln!("hull: start health checks of {}: {e}", record.id);
                return 1;
            }
        };
        loop {
            let mut fds = vec![PollFd::new(&init_fd, PollFlags::IN)];
            fds.extend(health::poll_fd(Some(&prober)));
            let timeout = health::poll_timeout(None, Some(&prober));
            match rustix::event::poll(&mut fds, timeout.as_ref()) {
                Ok(_) | Err(rustix::io::Errno::INTR) => {}
                Err(_) => break,
            }
            let init_gone = !fds[0].revents().is_empty();
            drop(fds);
            if init_gone {
                break;
            }
            prober.handle(Instant::now());
        }
        match prober.finish() {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("hull: end health checks of {}: {e}", record.id);
                1
            }
        }
    }
}

impl Drop for Checker {
    fn drop(&mut self) {
        // Once init is gone the checker ends by itself; dropped with init alive (the run
        // failed to start), or lingering past its grace, it is killed.
        let init_gone = u32::try_from(self.init).is_ok_and(hull_sys::process::process_is_gone);
        let grace = rustix::event::Timespec::try_from(CHECKER_GRACE).ok();
        let ended = init_gone
            && loop {
                let mut fds = [PollFd::new(&self.pidfd, PollFlags::IN)];
                match rustix::event::poll(&mut fds, grace.as_ref()) {
                    // A signal the run forwards; waiting again may exceed the grace a little.
                    Err(rustix::io::Errno::INTR) => continue,
                    done => break matches!(done, Ok(n) if n > 0),
                }
            };
        if !ended {
            let _ = rustix::process::kill_process(self.pid, Signal::KILL);
        }
        let _ = rustix::process::waitpid(Some(self.pid), WaitOptions::empty());
    }
}
