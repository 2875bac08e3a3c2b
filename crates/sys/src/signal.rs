//! Blocking signals and waiting for them synchronously (sigprocmask + sigwaitinfo), for a minimal
//! pid 1 that forwards signals without async handlers.

use std::io;
use std::mem::MaybeUninit;

fn sigset(signals: &[i32]) -> io::Result<libc::sigset_t> {
    let mut set = MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: sigemptyset fully initializes the set it is given, which is valid for writes.
    if unsafe { libc::sigemptyset(set.as_mut_ptr()) } == -1 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: initialized by sigemptyset just above.
    let mut set = unsafe { set.assume_init() };
    for s in signals {
        // SAFETY: `set` is an initialized sigset_t owned by this frame.
        if unsafe { libc::sigaddset(&mut set, *s) } == -1 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(set)
}

fn mask(how: libc::c_int, signals: &[i32]) -> io::Result<()> {
    let set = sigset(signals)?;
    // SAFETY: changing the calling thread's mask invalidates no memory; `set` is initialized and
    // the old mask is not requested (null).
    if unsafe { libc::sigprocmask(how, &set, std::ptr::null_mut()) } == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Blocks `signals` for the calling thread (they stay pending until [`wait`] takes them).
pub fn block(signals: &[i32]) -> io::Result<()> {
    mask(libc::SIG_BLOCK, signals)
}

/// Unblocks `signals` (the mask survives execve, so a child must undo [`block`] before it).
pub fn unblock(signals: &[i32]) -> io::Result<()> {
    mask(libc::SIG_UNBLOCK, signals)
}

/// Waits for one of `signals` (which must be blocked) and returns its number.
pub fn wait(signals: &[i32]) -> io::Result<i32> {
    let set = sigset(signals)?;
    loop {
        // SAFETY: `set` is initialized; a null siginfo pointer is allowed.
        let ret = unsafe { libc::sigwaitinfo(&set, std::ptr::null_mut()) };
        if ret != -1 {
            return Ok(ret);
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

/// Resets every signal's disposition to the default and empties the signal mask. An ignored
/// signal stays ignored across execve, so a child that must start clean (a container's program)
/// calls this before exec.
pub fn reset_all() -> io::Result<()> {
    // The kernel's struct sigaction (handler, flags, restorer, mask: 32 bytes on 64-bit), all
    // zero: SIG_DFL (0), no flags, an empty mask.
    let dfl = [0u64; 4];
    for sig in 1..=libc::SIGRTMAX() {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        // The raw call rather than libc's sigaction: glibc refuses the two signals it reserves
        // for itself (32 and 33), and those can be inherited ignored too.
        // SAFETY: `dfl` is a valid, zeroed kernel sigaction that outlives the call; installing
        // SIG_DFL registers no handler code; the old action is not requested (null).
        let ret = unsafe {
            libc::syscall(
                libc::SYS_rt_sigaction,
                sig,
                dfl.as_ptr(),
                std::ptr::null_mut::<u64>(),
                8usize,
            )
        };
        if ret == -1 {
            return Err(io::Error::last_os_error());
        }
    }
    let empty = sigset(&[])?;
    // SAFETY: `empty` is initialized; setting the mask invalidates no memory.
    if unsafe { libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut()) } == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Signal names without the `SIG` prefix, as `kill -l` lists them.
const SIGNALS: &[(&str, i32)] = &[
    ("HUP", libc::SIGHUP),
    ("INT", libc::SIGINT),
    ("QUIT", libc::SIGQUIT),
    ("ILL", libc::SIGILL),
    ("TRAP", libc::SIGTRAP),
    ("ABRT", libc::SIGABRT),
    ("IOT", libc::SIGIOT),
    ("BUS", libc::SIGBUS),
    ("FPE", libc::SIGFPE),
    ("KILL", libc::SIGKILL),
    ("USR1", libc::SIGUSR1),
    ("SEGV", libc::SIGSEGV),
    ("USR2", libc::SIGUSR2),
    ("PIPE", libc::SIGPIPE),
    ("ALRM", libc::SIGALRM),
    ("TERM", libc::SIGTERM),
    ("STKFLT", libc::SIGSTKFLT),
    ("CHLD", libc::SIGCHLD),
    ("CONT", libc::SIGCONT),
    ("STOP", libc::SIGSTOP),
    ("TSTP", libc::SIGTSTP),
    ("TTIN", libc::SIGTTIN),
    ("TTOU", libc::SIGTTOU),
    ("URG", libc::SIGURG),
    ("XCPU", libc::SIGXCPU),
    ("XFSZ", libc::SIGXFSZ),
    ("VTALRM", libc::SIGVTALRM),
    ("PROF", libc::SIGPROF),
    ("WINCH", libc::SIGWINCH),
    ("IO", libc::SIGIO),
    ("PWR", libc::SIGPWR),
    ("SYS", libc::SIGSYS),
];

/// A signal by number (1-64) or name, with or without `SIG`, any case: `9`, `KILL`, `SIGKILL`,
/// `sigterm`. None for anything else.
pub fn parse(s: &str) -> Option<i32> {
    if let Ok(n) = s.parse::<i32>() {
        return (1..=64).contains(&n).then_some(n);
    }
    let upper = s.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    SIGNALS.iter().find(|(n, _)| *n == name).map(|&(_, v)| v)
}

#[cfg(test)]
mod parse_tests {
    use super::parse;

    #[test]
    fn parses_numbers_and_names_like_kill() {
        assert_eq!(parse("TERM"), Some(libc::SIGTERM));
        assert_eq!(parse("SIGKILL"), Some(libc::SIGKILL));
        assert_eq!(parse("9"), Some(9));
        assert_eq!(parse("hup"), Some(libc::SIGHUP));
        assert_eq!(parse("sigusr1"), Some(libc::SIGUSR1));
        assert_eq!(parse("NOPE"), None);
        assert_eq!(parse("0"), None);
        assert_eq!(parse("65"), None);
    }
}
