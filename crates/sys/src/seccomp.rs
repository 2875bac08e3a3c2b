//! Installing a seccomp BPF program. Building the program is policy and lives above this crate
//! (the runtime compiles it with libseccomp before fork); this only hands finished instructions to
//! the kernel, with no allocation, so it is safe to call in a freshly forked child.

use std::io;

/// One classic BPF instruction, as the kernel's `struct sock_filter` lays it out.
pub use libc::sock_filter as BpfInsn;

/// `SECCOMP_FILTER_FLAG_TSYNC`: install on every thread of the process.
pub const FILTER_FLAG_TSYNC: u32 = libc::SECCOMP_FILTER_FLAG_TSYNC as u32;
/// `SECCOMP_FILTER_FLAG_LOG`: log every action except `SECCOMP_RET_ALLOW`.
pub const FILTER_FLAG_LOG: u32 = libc::SECCOMP_FILTER_FLAG_LOG as u32;
/// `SECCOMP_FILTER_FLAG_SPEC_ALLOW`: do not force speculative-store-bypass mitigation.
pub const FILTER_FLAG_SPEC_ALLOW: u32 = libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW as u32;

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
    cvt(ret).map(drop)
}
