//! Process creation and replacement: clone3 (fork-like, with namespace flags), execve, and marking
//! inherited descriptors close-on-exec. Mechanism only; the runtime decides what to run.

use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::RawFd;

/// What [`fork_with_flags`] returned in the calling process and in the new one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forked {
    /// We are the parent; the child's pid (in our pid namespace).
    Parent(i32),
    /// We are the new process.
    Child,
}

/// Converts a raw `-1`-on-error return code into an `io::Result`, once, here.
fn cvt(ret: libc::c_long) -> io::Result<libc::c_long> {
    if ret == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// Field `n` of a /proc/PID/stat line, numbered as proc(5) numbers them (3 is the state, 4 the
/// parent, 22 the start time). The command name (field 2) may hold spaces and parentheses, so
/// fields from 3 on are counted after its last ')'. None for fields 1 and 2 and past the end.
pub fn stat_field(stat: &str, n: usize) -> Option<&str> {
    let (_, rest) = stat.rsplit_once(')')?;
    rest.split_whitespace().nth(n.checked_sub(3)?)
}

/// Whether a /proc/PID/stat line is a zombie's (state Z, or X while it is being reaped).
pub fn stat_is_zombie(stat: &str) -> bool {
    matches!(stat_field(stat, 3), Some("Z" | "X"))
}

/// True when `pid` can act no more: it does not exist, or it is a zombie (killed, not yet
/// reaped by its parent). What a temp file or dir named after its owner's pid is judged by.
pub fn process_is_gone(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |s| stat_is_zombie(&s))
}

/// The number of threads of the calling process, from /proc/self/stat (field 20).
pub fn thread_count() -> io::Result<usize> {
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    stat_field(&stat, 20)
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "parse /proc/self/stat"))
}

/// Creates a new process like fork(2), but through clone3 so `flags` (CLONE_NEW* namespace
/// flags) apply to the child from its first instruction. The child gets SIGCHLD as its exit
/// signal, so the caller can waitpid it as usual.
///
/// Refuses when the calling process runs more than one thread: the child would inherit a copy of
/// memory where another thread may hold a lock (malloc's, stdio's) that nobody will ever release.
pub fn fork_with_flags(flags: u64) -> io::Result<Forked> {
    fork_single_threaded(flags, &SingleThreaded::check()?)
}

/// Proof that the calling process ran one thread when it was checked, for a fork that happens
/// where /proc/self cannot be read (after joining a container's mount namespace, whose /proc
/// belongs to a pid namespace the caller is not in). Not `Send`: it must be used by the process
/// that checked, which must start no thread in between, or have joined every thread it started
/// before it forks.
#[derive(Debug)]
pub struct SingleThreaded(std::marker::PhantomData<*const ()>);

impl SingleThreaded {
    pub fn check() -> io::Result<SingleThreaded> {
        let threads = thread_count()?;
        if threads != 1 {
            return Err(io::Error::other(format!(
                "refusing to clone from a process running {threads} threads"
            )));
        }
        Ok(SingleThreaded(std::marker::PhantomData))
    }
}

/// [`fork_with_flags`] with the thread check done earlier ([`SingleThreaded::check`]).
pub fn fork_single_threaded(flags: u64, _checked: &SingleThreaded) -> io::Result<Forked> {
    // clone3 rejects an exit signal with CLONE_PARENT (EINVAL): the child then inherits ours,
    // which is SIGCHLD for every process this crate forks.
    let exit_signal = if flags & libc::CLONE_PARENT as u64 != 0 {
        0
    } else {
        libc::SIGCHLD as u64
    };
    let mut args = libc::clone_args {
        flags,
        pidfd: 0,
        child_tid: 0,
        parent_tid: 0,
        exit_signal,
        stack: 0,
        stack_size: 0,
        tls: 0,
        set_tid: 0,
        set_tid_size: 0,
        cgroup: 0,
    };
    // SAFETY: the process was checked to be single-threaded (`_checked`, which cannot leave this
    // process or thread, and every thread started since was joined), so the child's copy of the
    // address space has no lock held by a thread that does not exist in the child; stack 0 means
    // the child continues on a copy-on-write copy of our stack, exactly like fork(2). `args` is a
    // live, correctly sized clone_args for the duration of the call.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &mut args as *mut libc::clone_args,
            std::mem::size_of::<libc::clone_args>(),
        )
    };
    match cvt(ret).map_err(crate::kernel::needs("clone3", "5.3"))? {
        0 => Ok(Forked::Child),
        pid => Ok(Forked::Parent(pid as i32)),
    }
}

/// Replaces the process image. Only returns on failure.
pub fn execve(path: &CStr, args: &[CString], env: &[CString]) -> io::Error {
    let mut argv: Vec<*const libc::c_char> = args.iter().map(|a| a.as_ptr()).collect();
    argv.push(std::ptr::null());
    let mut envp: Vec<*const libc::c_char> = env.iter().map(|e| e.as_ptr()).collect();
    envp.push(std::ptr::null());
    // SAFETY: `path`, every string in `args` and `env`, and both pointer arrays are alive until
    // execve returns (they are borrowed or owned by this frame), and both arrays end with the
    // null pointer execve requires.
    unsafe { libc::execve(path.as_ptr(), argv.as_ptr(), envp.as_ptr()) };
    io::Error::last_os_error()
}

/// Sets close-on-exec on every descriptor numbered `from` and above (close_range(2) with
/// CLOSE_RANGE_CLOEXEC), so nothing the caller happened to inherit leaks into an exec'd program.
/// CLOSE_RANGE_CLOEXEC needs Linux 5.11; older kernels answer EINVAL, and then each descriptor up
/// to the soft RLIMIT_NOFILE is marked one by one.
pub fn set_cloexec_from(from: u32) -> io::Result<()> {
    // SAFETY: setting FD_CLOEXEC closes nothing now and invalidates no descriptor this process
    // owns; it only affects what survives a later execve.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            from,
            libc::c_uint::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    match cvt(ret) {
        Ok(_) => Ok(()),
        Err(e) if matches!(e.raw_os_error(), Some(libc::EINVAL | libc::ENOSYS)) => {
            set_cloexec_each(from)
        }
        Err(e) => Err(e),
    }
}

/// The fallback of [`set_cloexec_from`]: FD_CLOEXEC on each open descriptor from `from` up to the
/// soft RLIMIT_NOFILE (no descriptor can be numbered at or above it).
pub fn set_cloexec_each(from: u32) -> io::Result<()> {
    let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile)
        .current
        .unwrap_or(1 << 20)
        .min(1 << 20) as u32;
    for fd in from..limit {
        let fd = fd as libc::c_int;
        // SAFETY: F_GETFD only reads the descriptor flags of `fd`; an unused number answers
        // EBADF and nothing is touched.
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
        if flags == -1 || flags & libc::FD_CLOEXEC != 0 {
            continue;
        }
        // SAFETY: as above, F_SETFD changes only whether `fd` survives a later execve; it
        // closes nothing and invalidates no descriptor another owner holds.
        let ret = unsafe { libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC) };
        cvt(ret.into())?;
    }
    Ok(())
}

/// Closes every descriptor of the calling process except those in `keep` (close_range(2) over
/// the gaps). Marking them close-on-exec is not enough for a process that waits a long time
/// before its exec: until then it keeps their open file descriptions alive, with the flocks on
/// them. Meant for a freshly cloned child that runs to execve or exit and never returns to the
/// code that owns the closed descriptors.
pub fn close_all_except(keep: &[RawFd]) -> io::Result<()> {
    let mut keep: Vec<u32> = keep
        .iter()
        .filter_map(|&fd| u32::try_from(fd).ok())
        .collect();
    keep.sort_unstable();
    keep.dedup();
    let mut from = 0u32;
    for fd in keep {
        if fd > from {
            close_range(from, fd - 1)?;
        }
        from = fd + 1;
    }
    close_range(from, u32::MAX)
}

fn close_range(first: u32, last: u32) -> io::Result<()> {
    // SAFETY: the caller of `close_all_except` is a child that never returns to the frames
    // owning these descriptors (it execs or exits), so no owner uses or closes them again and a
    // number reused by a later open cannot be closed twice; the kept ones are outside the range.
    let ret = unsafe { libc::syscall(libc::SYS_close_range, first, last, 0) };
    cvt(ret)
        .map(drop)
        .map_err(crate::kernel::needs("close_range", "5.9"))
}

/// Joins a new session keyring named `name` (keyctl KEYCTL_JOIN_SESSION_KEYRING), so the
/// process does not share the caller's session keyring; returns the keyring's serial.
pub fn join_session_keyring(name: &CStr) -> io::Result<libc::c_long> {
    const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;
    // SAFETY: `name` is a NUL-terminated string that outlives the call; the kernel only reads it.
    let ret =
        unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, name.as_ptr()) };
    cvt(ret)
}

/// Moves the calling thread into a new cgroup namespace, rooted at the cgroup it is in now
/// (`unshare(CLONE_NEWCGROUP)`).
pub fn unshare_cgroup_namespace() -> io::Result<()> {
    // SAFETY: only CLONE_NEWCGROUP is passed. It replaces the calling thread's cgroup namespace
    // and shares nothing new or less with other threads: no file table, fs or memory unsharing,
    // which is what makes `unshare` unsafe (descriptors another thread can no longer use).
    unsafe { rustix::thread::unshare_unsafe(rustix::thread::UnshareFlags::NEWCGROUP) }
        .map_err(io::Error::from)
}

/// Makes a new time namespace for the children of the calling process
/// (`unshare(CLONE_NEWTIME)`); the caller itself stays in its own until it joins the new one
/// with setns (through `/proc/self/ns/time_for_children`).
pub fn unshare_time_namespace() -> io::Result<()> {
    // SAFETY: only CLONE_NEWTIME is passed. It replaces the namespace the calling process's
    // children are born in and shares nothing new or less with other threads: no file table,
    // fs or memory unsharing, which is what makes `unshare` unsafe.
    unsafe { rustix::thread::unshare_unsafe(rustix::thread::UnshareFlags::NEWTIME) }
        .map_err(io::Error::from)
}

/// Exits the calling process immediately, without running atexit handlers or flushing stdio
/// buffers that belong to the parent's copy of memory.
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit never returns and touches no memory of this process.
    unsafe { libc::_exit(code) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_count_after_the_last_parenthesis_of_the_name() {
        let stat = "42 (a) b (c) d) S 7 42 42 0 -1 4194560 1 2 3 4 5 6 7 8 20 0 1 0 99 0";
        assert_eq!(stat_field(stat, 3), Some("S"));
        assert_eq!(stat_field(stat, 4), Some("7"));
        assert_eq!(stat_field(stat, 22), Some("99"));
        assert_eq!(stat_field(stat, 2), None);
        assert_eq!(stat_field(stat, 99), None);
        assert!(!stat_is_zombie(stat));
        assert!(stat_is_zombie("9 (x) Z 1 9"));
        assert!(stat_is_zombie("9 (Z) X 1 9"));
        assert!(!stat_is_zombie("9 (Z) R 1 9"));
    }

    #[test]
    fn counts_threads_of_this_process() {
        // The test harness runs at least this thread.
        assert!(thread_count().unwrap() >= 1);
    }

    #[test]
    fn the_pre_5_11_fallback_marks_every_descriptor_from_the_first() {
        use std::os::fd::AsRawFd;
        let files: Vec<std::fs::File> = (0..4).map(|_| tempfile::tempfile().unwrap()).collect();
        let raw: Vec<libc::c_int> = files.iter().map(|f| f.as_raw_fd()).collect();
        let first = *raw.iter().min().unwrap();
        for &fd in &raw {
            // SAFETY: `fd` belongs to a File alive in `files`; F_SETFD only clears its cloexec bit.
            assert_eq!(unsafe { libc::fcntl(fd, libc::F_SETFD, 0) }, 0);
        }
        set_cloexec_each(first as u32 + 1).unwrap();
        // SAFETY: F_GETFD only reads the flags of descriptors owned by `files`.
        let cloexec = |fd| unsafe { libc::fcntl(fd, libc::F_GETFD) } & libc::FD_CLOEXEC != 0;
        assert!(!cloexec(first), "below `from` must stay as it was");
        for &fd in raw.iter().filter(|&&fd| fd > first) {
            assert!(cloexec(fd), "fd {fd} not marked");
        }
    }

    #[test]
    fn refuses_to_fork_from_a_threaded_process() {
        let _t = std::thread::spawn(|| std::thread::sleep(std::time::Duration::from_secs(2)));
        let err = fork_with_flags(0).unwrap_err();
        assert!(err.to_string().contains("threads"), "{err}");
    }
}
