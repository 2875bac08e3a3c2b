//! The only crate in hull with `unsafe`. It holds mechanism, never policy: thin wrappers that turn
//! raw syscalls into `io::Result` once, in one place.

pub mod bpf;
pub mod fs;
pub mod kernel;
pub mod mem;
pub mod mount;
pub mod process;
pub mod sched;
pub mod seccomp;
pub mod signal;
pub mod socket;
