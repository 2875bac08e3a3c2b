//! `start`: release init through exec.fifo, then report what the startContainer hooks or the
//! exec of the user's program made of it, and run the poststart hooks.

use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rustix::fs::{Mode, OFlags};

use super::{live_status, Runtime, RuntimeError};
use crate::process::sync::{self, FromInit, InitError};
use crate::state::{self as st, ContainerState, Status};

impl Runtime {
    /// Releases init to exec the user's program. For a container created by this `Runtime`, an
    /// exec failure is returned as [`RuntimeError::ExecFailed`].
    pub fn start(&self, id: &str) -> Result<(), RuntimeError> {
        let dir = self.existing_dir(id)?;
        let _lock = st::lock(&dir).map_err(RuntimeError::io(id, "lock"))?;
        let mut state = st::read(&dir).map_err(RuntimeError::io(id, "read state"))?;
        match live_status(&state) {
            Status::Created => {}
            s @ (Status::Creating | Status::Running | Status::Paused | Status::Stopped) => {
                return Err(RuntimeError::BadStatus {
                    id: id.to_string(),
                    op: "start",
                    status: s.as_str(),
                })
            }
        }
        let exe_before = state.pid.and_then(exe_of);
        let comm_before = state.pid.and_then(comm_of);
        let fifo = release_init(&dir, &state)
            .map_err(RuntimeError::io(id, "release init via exec.fifo"))?;
        let _ = std::fs::remove_file(dir.join(st::EXEC_FIFO));
        state.status = Status::Running;
        st::write(&dir, &state).map_err(RuntimeError::io(id, "write state"))?;
        // Init closes the fifo by its execve, or writes why it never got there and exits.
        if let Some(cause) = init_failure(fifo, &state) {
            // The parent's socket, when this process created the container, says it typed.
            let sock = self.sync.lock().expect("sync map").remove(id);
            return match sock.map(|s| sync::recv::<FromInit>(&s)) {
                Some(Ok(Some((msg, _)))) => init_answer(id, msg),
                _ => Err(RuntimeError::Init {
                    id: id.to_string(),
                    step: cause.step,
                    cause,
                }),
            };
        }
        if let Some(signal) = killed_before_exec(&state, comm_before) {
            return Err(RuntimeError::io(id, "start the user's program")(
                io::Error::other(format!(
                    "init was killed by signal {signal} before it executed the program"
                )),
            ));
        }
        if crate::hooks::load(&dir).is_ok_and(|h| !h.poststart.is_empty()) {
            // poststart runs after the user's program was exec'd (runtime.md, Lifecycle step 10),
            // and once it got going: see `wait_first_wait`.
            wait_exec(&state, exe_before);
            wait_first_wait(&state, POSTSTART_GRACE);
        }
        self.run_poststart(&dir, &state)?;
        let sock = self.sync.lock().expect("sync map").remove(id);
        match sock.map(|s| sync::recv::<FromInit>(&s)) {
            None | Some(Ok(None)) => Ok(()),
            Some(Ok(Some((msg, _)))) => init_answer(id, msg),
            Some(Err(e)) => Err(RuntimeError::io(id, "read from init")(e)),
        }
    }
}

impl Runtime {
    /// The poststart hooks, in order. The first that fails stops the rest and the container
    /// (SIGKILL to all of it) and fails `start`: the runtime-spec says so since it followed
    /// runc (runtime-spec PR 1262), runc 1.1 does so (in its `create`, where it runs them), and
    /// youki's contest (poststart_fail) expects `start` to exit 1. The container is left
    /// stopped, for `delete`.
    fn run_poststart(&self, dir: &Path, state: &ContainerState) -> Result<(), RuntimeError> {
        let id = state.id.as_str();
        let hooks = crate::hooks::load(dir).map_err(RuntimeError::io(id, "read hooks"))?;
        let Err(e) =
            crate::hooks::run_all("poststart", &hooks.poststart, &state.oci(Status::Running))
        else {
            return Ok(());
        };
        let _ = self.kill(id, libc::SIGKILL, true);
        if let Some(pid) = state.pid {
            let deadline = Instant::now() + Duration::from_secs(2);
            while Instant::now() < deadline && st::is_alive(pid, state.pid_start_time) {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        Err(RuntimeError::Hook {
            id: id.to_string(),
            source: Box::new(e),
        })
    }
}

/// What init's message after the release means for `start`.
fn init_answer(id: &str, msg: FromInit) -> Result<(), RuntimeError> {
    match msg {
        FromInit::ExecFailed { errno } => Err(RuntimeError::ExecFailed {
            id: id.to_string(),
            errno,
        }),
        FromInit::Error(cause) => Err(RuntimeError::Init {
            id: id.to_string(),
            step: cause.step,
            cause,
        }),
        other => Err(RuntimeError::io(id, "read from init")(io::Error::other(
            format!("unexpected message {other:?}"),
        ))),
    }
}

/// Opens exec.fifo for reading (non-blocking, so a dead init cannot hang us), which unblocks
/// init's open for writing; init then writes one byte.
fn release_init(dir: &Path, state: &ContainerState) -> io::Result<std::fs::File> {
    let fifo = rustix::fs::open(
        dir.join(st::EXEC_FIFO),
        OFlags::RDONLY | OFlags::NONBLOCK | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let mut f = std::fs::File::from(fifo);
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut byte = [0u8; 1];
    // Init may write its byte and be gone (a program that exits at once) between a read that
    // found nothing and the check that it is alive: once it is gone, the fifo is read once more.
    let mut gone = false;
    loop {
        match f.read(&mut byte) {
            Ok(1) => return Ok(f),
            Ok(_) | Err(_) if gone => {
                return Err(io::Error::other("init exited before it was released"))
            }
            Ok(_) | Err(_)
                if !state
                    .pid
                    .is_some_and(|p| st::is_alive(p, state.pid_start_time)) =>
            {
                gone = true;
                continue;
            }
            // End of file: init opened and closed the fifo without writing; it is exiting.
            // poll would report that at once again, so sleep instead of spinning.
            Ok(_) => std::thread::sleep(Duration::from_millis(2)),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => wait_readable(&f)?,
            Err(e) => return Err(e),
        }
        if Instant::now() > deadline {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "init did not answer",
            ));
        }
    }
}

/// After [`release_init`]: reads exec.fifo to its end, which init reaches by its execve (the
/// fifo is close-on-exec), or by writing why it failed (JSON: a startContainer hook, a
/// security step, the execve) and exiting. No deadline: the hooks' own timeouts bound it, and
/// a dead init ends it.
fn init_failure(mut fifo: std::fs::File, state: &ContainerState) -> Option<InitError> {
    let mut text = Vec::new();
    let mut buf = [0u8; 4096];
    // Init may write its failure and exit between a read that found nothing and the check
    // that it is alive: once it is gone, the fifo is read once more before giving up.
    let mut gone = false;
    loop {
        match fifo.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => text.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                if gone {
                    break;
                }
                gone = !state
                    .pid
                    .is_some_and(|p| st::is_alive(p, state.pid_start_time));
                if !gone && wait_readable(&fifo).is_err() {
                    break;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    serde_json::from_slice(&text).ok()
}

/// Waits until the fifo has data (or its writer hung up), at most 10 ms so that the caller
/// rechecks that init is alive. A fifo nobody has opened for writing yet polls as empty.
fn wait_readable(f: &std::fs::File) -> io::Result<()> {
    use rustix::event::{PollFd, PollFlags, Timespec};
    let mut fds = [PollFd::new(f, PollFlags::IN)];
    let timeout = Timespec {
        tv_sec: 0,
        tv_nsec: 10_000_000,
    };
    match rustix::event::poll(&mut fds, Some(&timeout)) {
        Ok(_) | Err(rustix::io::Errno::INTR) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

fn comm_of(pid: i32) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()
}

/// After exec.fifo closed without a word: the signal that killed init before its execve (a
/// seccomp filter's kill action, an OOM kill, a `kill -9`), if that is what happened. The
/// zombie tells: it still has the runtime's name (an execve renames it to the program), and its
/// exit code (stat field 52) has the signal. A zombie already reaped by a subreaper leaves
/// nothing to read, so that case passes unseen; when `start` runs in the process that created
/// the container (`run`), init is our child and its zombie waits for us.
fn killed_before_exec(state: &ContainerState, comm_before: Option<String>) -> Option<i32> {
    let pid = state.pid?;
    // An execve renames init before it closes the fifo; an init that still has the runtime's
    // name at the fifo's end is dying, and it closes its files before it becomes a zombie.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    loop {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        if st::parse_start_time(&stat) != state.pid_start_time && state.pid_start_time.is_some() {
            return None;
        }
        let (zombie, code) = state_and_exit_code(&stat)?;
        let renamed = comm_of(pid) != comm_before;
        if zombie || renamed || std::time::Instant::now() > deadline {
            let signal = code & 0x7f;
            return (zombie && signal != 0 && !renamed).then_some(signal);
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// From /proc/<pid>/stat: whether the process is a zombie, and its exit code (field 52).
fn state_and_exit_code(stat: &str) -> Option<(bool, i32)> {
    let code = hull_sys::process::stat_field(stat, 52)?.parse().ok()?;
    Some((hull_sys::process::stat_is_zombie(stat), code))
}

/// The most `start` waits, before poststart hooks, for the program to reach its first wait.
const POSTSTART_GRACE: Duration = Duration::from_secs(1);

/// Waits (at most `grace`) until the exec'd program is no longer running: it sleeps (its first
/// blocking call), stopped or exited. A program in disk sleep (`D`, paging its binary in from a
/// slow disk) is still starting. A poststart hook then sees a program past its start-up,
/// with what it did before its first wait done (runtime-tools' poststart checks that the
/// program's first write comes before the hook's), instead of racing a program still in its
/// loader. Only `start`s with poststart hooks pay this; a program that computes without ever
/// blocking delays their `start` by `grace`.
fn wait_first_wait(state: &ContainerState, grace: Duration) {
    let Some(pid) = state.pid else { return };
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            return;
        };
        let same =
            state.pid_start_time.is_none() || st::parse_start_time(&stat) == state.pid_start_time;
        if !same || !starting(&stat) {
            return;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// From /proc/<pid>/stat: whether the state (field 3) is `R` (running or waiting for a CPU) or
/// `D` (uninterruptible sleep: a page fault on its binary, not a wait of its own).
fn starting(stat: &str) -> bool {
    matches!(hull_sys::process::stat_field(stat, 3), Some("R" | "D"))
}

fn exe_of(pid: i32) -> Option<PathBuf> {
    std::fs::read_link(format!("/proc/{pid}/exe")).ok()
}

/// Waits (at most 10 s) until init has exec'd: its executable is no longer `before` (the
/// runtime's own binary, of which init is a forked copy), or it is gone.
fn wait_exec(state: &ContainerState, before: Option<PathBuf>) {
    let (Some(pid), Some(before)) = (state.pid, before) else {
        return;
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline && st::is_alive(pid, state.pid_start_time) {
        if exe_of(pid).is_some_and(|exe| exe != before) {
            return;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[cfg(test)]
mod tests {
    use super::starting;

    #[test]
    fn starting_reads_the_state_after_the_last_paren_of_the_name() {
        assert!(starting("42 (sh) R 1 42 42 0 -1"));
        assert!(starting("42 (sh) D 1 42 42 0 -1"));
        assert!(!starting("42 (sh) S 1 42 42 0 -1"));
        // A name may hold ") R": the state is the field after the last ')'.
        assert!(!starting("42 (a) R (b)) S 1 42"));
        assert!(!starting("42 (sh) Z 1 42"));
        assert!(!starting(""));
    }
}
