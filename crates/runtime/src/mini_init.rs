//! `hull run --init`: pid 1 stays this code, forwards signals to the user's process, reaps every
//! zombie, and exits with the user's process status (128+N when killed by signal N).

use std::io;

use rustix::process::{Pid, Signal, WaitOptions};

/// Signals pid 1 forwards to the user's process.
pub const FORWARDED: &[i32] = &[
    libc::SIGTERM,
    libc::SIGINT,
    libc::SIGHUP,
    libc::SIGQUIT,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGWINCH,
];

/// Everything pid 1 blocks and waits for: the forwarded signals plus SIGCHLD.
pub fn blocked() -> Vec<i32> {
    let mut v = FORWARDED.to_vec();
    v.push(libc::SIGCHLD);
    v
}

/// The exit code for a wait status, shell style.
pub fn exit_code(status: rustix::process::WaitStatus) -> i32 {
    if let Some(code) = status.exit_status() {
        code
    } else if let Some(sig) = status.terminating_signal() {
        128 + sig
    } else {
        1
    }
}

/// Pid 1's loop: the signals must already be blocked (before the fork, so none is lost between
/// the fork and this loop).
pub fn supervise(child: i32) -> io::Result<i32> {
    let signals = blocked();
    loop {
        let sig = hull_sys::signal::wait(&signals)?;
        if sig == libc::SIGCHLD {
            if let Some(code) = reap(child)? {
                return Ok(code);
            }
            continue;
        }
        if let (Some(pid), Some(s)) = (Pid::from_raw(child), Signal::from_named_raw(sig)) {
            // The child may be gone already; its SIGCHLD is pending and ends the loop.
            let _ = rustix::process::kill_process(pid, s);
        }
    }
}

/// Reaps every exited process; returns the main child's exit code once it is among them.
fn reap(child: i32) -> io::Result<Option<i32>> {
    let mut result = None;
    loop {
        match rustix::process::waitpid(None, WaitOptions::NOHANG) {
            Ok(Some((pid, status))) => {
                if pid.as_raw_nonzero().get() == child {
                    result = Some(exit_code(status));
                }
            }
            Ok(None) | Err(rustix::io::Errno::CHILD) => return Ok(result),
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}
