//! Installing a seccomp BPF program. Building the program is policy and lives above this crate
//! (the runtime compiles it with libseccomp before fork); this only hands finished instructions to
//! the kernel, with no allocation, so it is safe to call in a freshly forked child. The
//! user-notification ioctls are here too, for a supervisor holding a filter's listener.

use std::io;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};

/// One classic BPF instruction, as the kernel's `struct sock_filter` lays it out.
pub use libc::sock_filter as BpfInsn;

/// `SECCOMP_FILTER_FLAG_TSYNC`: install on every thread of the process.
pub const FILTER_FLAG_TSYNC: u32 = libc::SECCOMP_FILTER_FLAG_TSYNC as u32;
/// `SECCOMP_FILTER_FLAG_LOG`: log every action except `SECCOMP_RET_ALLOW`.
pub const FILTER_FLAG_LOG: u32 = libc::SECCOMP_FILTER_FLAG_LOG as u32;
/// `SECCOMP_FILTER_FLAG_SPEC_ALLOW`: do not force speculative-store-bypass mitigation.
pub const FILTER_FLAG_SPEC_ALLOW: u32 = libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW as u32;

/// `SECCOMP_FILTER_FLAG_NEW_LISTENER`: return a user-notification descriptor for the filter's
/// `SECCOMP_RET_USER_NOTIF` rules (see [`load_filter_with_listener`]).
pub const FILTER_FLAG_NEW_LISTENER: u32 = libc::SECCOMP_FILTER_FLAG_NEW_LISTENER as u32;

/// Converts a raw `syscall(2)` return into `io::Result`, once, for this module.
fn cvt(ret: libc::c_long) -> io::Result<libc::c_long> {
    if ret == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// `seccomp(SECCOMP_SET_MODE_FILTER, flags, &prog)`: stacks `program` onto the calling thread's
/// filters (every thread's with [`FILTER_FLAG_TSYNC`]).
///
/// The kernel refuses (EACCES) unless the thread has no_new_privs set or holds CAP_SYS_ADMIN in
/// its user namespace; arranging that is the caller's ordering concern.
pub fn load_filter(program: &[BpfInsn], flags: u32) -> io::Result<()> {
    set_mode_filter(program, flags).map(drop)
}

/// [`load_filter`] with [`FILTER_FLAG_NEW_LISTENER`] added: returns the filter's notification
/// descriptor (close-on-exec, as the kernel makes it), through which a supervisor receives the
/// calls the filter notifies ([`notif_recv`]) and answers them ([`notif_respond`]).
pub fn load_filter_with_listener(program: &[BpfInsn], flags: u32) -> io::Result<OwnedFd> {
    let fd = set_mode_filter(program, flags | FILTER_FLAG_NEW_LISTENER)?;
    let fd = libc::c_int::try_from(fd).map_err(|_| io::Error::other("seccomp: bad descriptor"))?;
    // SAFETY: with SECCOMP_FILTER_FLAG_NEW_LISTENER a successful seccomp(2) returns a new
    // descriptor that nothing else in this process knows of yet, so the OwnedFd is its only owner.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn set_mode_filter(program: &[BpfInsn], flags: u32) -> io::Result<libc::c_long> {
    let len = u16::try_from(program.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "seccomp program too long"))?;
    let prog = libc::sock_fprog {
        len,
        // The kernel only reads through this pointer; the cast to *mut is the C ABI's spelling.
        filter: program.as_ptr().cast_mut(),
    };
    // SAFETY: `prog` points at `len` initialised `sock_filter`s borrowed from `program`, which
    // outlives the call; the kernel copies the program before returning and never writes to it.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            flags,
            &prog as *const libc::sock_fprog,
        )
    };
    cvt(ret)
}

/// A call the filter stopped for its supervisor (`struct seccomp_notif`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Notification {
    /// The cookie to answer with.
    pub id: u64,
    /// The caller, in the pid namespace of whoever receives the notification.
    pub pid: u32,
    /// The syscall number, for `arch`.
    pub nr: i32,
    /// The caller's `AUDIT_ARCH_*`.
    pub arch: u32,
    pub args: [u64; 6],
}

/// `SECCOMP_IOCTL_NOTIF_RECV`: waits for the next notified call on a listener descriptor.
pub fn notif_recv(listener: impl AsFd) -> io::Result<Notification> {
    // SAFETY: seccomp_notif is plain integers (and an integer struct), for which zero bytes are
    // a valid value; the kernel also requires the buffer to be zeroed (EINVAL otherwise).
    let mut n: libc::seccomp_notif = unsafe { std::mem::zeroed() };
    // SAFETY: the descriptor is open for the call and `n` is a writable seccomp_notif, the type
    // this ioctl number encodes; the kernel writes at most that many bytes.
    let ret = unsafe {
        libc::ioctl(
            listener.as_fd().as_raw_fd(),
            libc::SECCOMP_IOCTL_NOTIF_RECV,
            &mut n as *mut libc::seccomp_notif,
        )
    };
    cvt(ret.into())?;
    Ok(Notification {
        id: n.id,
        pid: n.pid,
        nr: n.data.nr,
        arch: n.data.arch,
        args: n.data.args,
    })
}

/// `SECCOMP_IOCTL_NOTIF_SEND`: answers notification `id`. The call returns `val` when `error` is
/// 0, else fails with errno `error` (a positive errno; the kernel wants it negated, done here).
pub fn notif_respond(listener: impl AsFd, id: u64, val: i64, error: i32) -> io::Result<()> {
    let mut resp = libc::seccomp_notif_resp {
        id,
        val,
        error: -error,
        flags: 0,
    };
    // SAFETY: the descriptor is open for the call and `resp` a fully initialised
    // seccomp_notif_resp, the type this ioctl number encodes, which the kernel only reads.
    let ret = unsafe {
        libc::ioctl(
            listener.as_fd().as_raw_fd(),
            libc::SECCOMP_IOCTL_NOTIF_SEND,
            &mut resp as *mut libc::seccomp_notif_resp,
        )
    };
    cvt(ret.into()).map(drop)
}
