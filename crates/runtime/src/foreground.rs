//! Holding a container in the foreground: forwarding signals to its init, relaying a pty, and
//! waiting for it to exit. Shared by `hull run`/`hull exec` (engine) and `hull-runtime run`/`exec`
//! (runc's foreground mode). Everything here but [`catch_signals`] starts threads, so it must only
//! run after the runtime has forked the container's init (the runtime refuses to fork a
//! multi-threaded process).

use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::thread::JoinHandle;

use rustix::process::{Pid, Signal, WaitOptions};
use rustix::termios::{OptionalActions, Termios};
use signal_hook::consts::signal::{SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGWINCH};
use signal_hook::iterator::{Handle, Signals};

/// Signals a foreground run passes on to the container, as `docker run` (sig-proxy) and runc's
/// foreground `run`/`exec` do.
pub const FORWARDED_SIGNALS: [i32; 6] = [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2];

/// Docker's exit code for a process status: the code, or 128 + the signal that killed it.
pub fn exit_code(status: rustix::process::WaitStatus) -> i32 {
    match (status.exit_status(), status.terminating_signal()) {
        (Some(code), _) => code,
        (None, Some(sig)) => 128 + sig,
        (None, None) => 128,
    }
}

/// Restores the host terminal's settings when dropped.
pub struct RawMode {
    saved: Termios,
}

impl RawMode {
    /// Puts stdin in raw mode when it is a terminal (keys go to the container unprocessed).
    pub fn enable() -> Option<RawMode> {
        let stdin = io::stdin();
        if !rustix::termios::isatty(stdin.as_fd()) {
            return None;
        }
        let saved = rustix::termios::tcgetattr(stdin.as_fd()).ok()?;
        let mut raw = saved.clone();
        raw.make_raw();
        rustix::termios::tcsetattr(stdin.as_fd(), OptionalActions::Now, &raw).ok()?;
        Some(RawMode { saved })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = rustix::termios::tcsetattr(io::stdin().as_fd(), OptionalActions::Now, &self.saved);
    }
}

/// Copies the host terminal's window size to the container's pty.
pub fn copy_window_size(console: &OwnedFd) {
    if let Ok(size) = rustix::termios::tcgetwinsize(io::stdout().as_fd()) {
        let _ = rustix::termios::tcsetwinsize(console, size);
    }
}

/// Catches [`FORWARDED_SIGNALS`] and SIGWINCH for [`wait`], which forwards them. Call it before
/// the container starts: until then such a signal would kill hull with its default action and
/// orphan the running container. It only installs handlers (caught signals queue up) and starts
/// no thread, so it may run before the runtime forks too.
pub fn catch_signals() -> io::Result<Signals> {
    let mut wanted = FORWARDED_SIGNALS.to_vec();
    wanted.push(SIGWINCH);
    Signals::new(&wanted)
}

/// The signal thread: forwards [`FORWARDED_SIGNALS`] to `pid` and resizes the console on
/// SIGWINCH, until its handle is closed.
fn spawn_signal_forwarder(
    mut signals: Signals,
    pid: Pid,
    console: Option<OwnedFd>,
) -> io::Result<(Handle, JoinHandle<()>)> {
    let handle = signals.handle();
    let thread = std::thread::spawn(move || {
        for sig in signals.forever() {
            match (sig, &console) {
                (SIGWINCH, Some(c)) => copy_window_size(c),
                (SIGWINCH, None) => {}
                (sig, _) => {
                    if let Some(s) = Signal::from_named_raw(sig) {
                        let _ = rustix::process::kill_process(pid, s);
                    }
                }
            }
        }
    });
    Ok((handle, thread))
}

fn copy_until_closed(mut from: impl Read, mut to: impl Write) {
    let mut buf = [0u8; 8192];
    loop {
        match from.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => {
                if to.write_all(&buf[..n]).and_then(|_| to.flush()).is_err() {
                    return;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            // EIO: every slave end is closed, the container is gone.
            Err(_) => return,
        }
    }
}

/// Waits for the container's init `pid` (a child of this process) while forwarding the caught
/// `signals` ([`catch_signals`]) and, with a `console` (the pty master), relaying it to this
/// process's terminal. Returns the exit code in Docker's terms.
pub fn wait(
    signals: Signals,
    pid: i32,
    console: Option<OwnedFd>,
    interactive: bool,
) -> io::Result<i32> {
    let pid = Pid::from_raw(pid).ok_or_else(|| io::Error::other("init pid is not positive"))?;
    let raw = console.as_ref().and_then(|_| RawMode::enable());
    let mut output = None;
    let resize = match &console {
        Some(c) => {
            copy_window_size(c);
            let reader = std::fs::File::from(c.try_clone()?);
            output = Some(std::thread::spawn(move || {
                copy_until_closed(reader, io::stdout())
            }));
            if interactive {
                let writer = std::fs::File::from(c.try_clone()?);
                // Never joined: it blocks in read(stdin) and dies with the process.
                std::thread::spawn(move || copy_until_closed(io::stdin(), writer));
            }
            Some(c.try_clone()?)
        }
        None => None,
    };
    drop(console);
    let (handle, forwarder) = spawn_signal_forwarder(signals, pid, resize)?;
    let status = loop {
        match rustix::process::waitpid(Some(pid), WaitOptions::empty()) {
            Ok(Some((_, status))) => break status,
            Ok(None) => continue,
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => {
                handle.close();
                return Err(e.into());
            }
        }
    };
    handle.close();
    let _ = forwarder.join();
    if let Some(out) = output {
        let _ = out.join();
    }
    drop(raw);
    Ok(exit_code(status))
}
