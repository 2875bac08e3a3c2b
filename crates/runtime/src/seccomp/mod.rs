//! Seccomp: an OCI `linux.seccomp` section compiled to a BPF program and loaded.
//!
//! Lifecycle: [`compile`] runs in the parent, before fork, because libseccomp allocates freely
//! while it builds and exports the program; the child then calls [`Filter::load`], which is one
//! `seccomp(2)` call on memory that already exists.
//!
//! ```no_run
//! # use hull_oci::runtime::Seccomp;
//! # fn spec() -> Seccomp { unimplemented!() }
//! let filter = hull_runtime::seccomp::compile(&spec()).unwrap(); // parent, before fork
//! // ... fork; in the child, as late as possible but while CAP_SYS_ADMIN is held
//! // (or after no_new_privs):
//! filter.load().unwrap();
//! ```
//!
//! Semantics follow runc: syscall names this libseccomp does not know are skipped (a profile
//! written for a newer kernel still loads); a rule whose action equals the default action is
//! redundant and skipped (libseccomp refuses it); arg comparisons on the same argument index
//! are OR-ed (one rule per comparison), on different indices AND-ed (one rule).
//!
//! `SCMP_ACT_NOTIFY` rules need `listenerPath`: the filter is then loaded with
//! `SECCOMP_FILTER_FLAG_NEW_LISTENER`, and the notification descriptor goes to the listener
//! with the container process state (see [`listener`]).

mod cache;
pub mod listener;
mod parse;

pub use cache::compile_cached;
pub use listener::Listener;

use std::io::{self, Read, Seek};
use std::os::fd::OwnedFd;
use std::path::PathBuf;

use hull_oci::runtime::{Seccomp, SeccompArg, SeccompSyscall};
use hull_sys::seccomp::BpfInsn;
use libseccomp::{ScmpAction, ScmpArgCompare, ScmpFilterContext, ScmpSyscall};

use parse::{action, arch, condition, flag};

/// Errno returned by `SCMP_ACT_ERRNO` when the profile gives none (runc's default).
const DEFAULT_ERRNO: u32 = libc::EPERM as u32;

#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    #[error("seccomp: unknown action {0:?}")]
    UnknownAction(String),
    #[error("seccomp: unknown architecture {0:?}")]
    UnknownArch(String),
    #[error("seccomp: unknown comparison operator {0:?}")]
    UnknownOp(String),
    #[error("seccomp: unknown or unsupported filter flag {0:?}")]
    UnknownFlag(String),
    #[error("seccomp: errno {0} for {1} is out of range (at most 65535)")]
    ErrnoRange(u32, String),
    #[error("seccomp: {0} is not supported")]
    Unsupported(&'static str),
    #[error("seccomp: {0}")]
    Notify(&'static str),
    #[error("seccomp listener {path}: {op}")]
    Listener {
        path: PathBuf,
        op: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("seccomp: create filter context")]
    Context(#[source] libseccomp::error::SeccompError),
    #[error("seccomp: add architecture {arch}")]
    AddArch {
        arch: String,
        #[source]
        source: libseccomp::error::SeccompError,
    },
    #[error("seccomp: add rule {action} for syscall {name}")]
    AddRule {
        name: String,
        action: String,
        #[source]
        source: libseccomp::error::SeccompError,
    },
    #[error("seccomp: export BPF program")]
    Export(#[source] io::Error),
    #[error("seccomp: load filter ({len} instructions)")]
    Load {
        len: usize,
        #[source]
        source: io::Error,
    },
}

/// A compiled filter: the exported BPF program plus the `seccomp(2)` flags to load it with.
pub struct Filter {
    program: Vec<BpfInsn>,
    flags: u32,
}

impl std::fmt::Debug for Filter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Filter")
            .field("instructions", &self.program.len())
            .field("flags", &self.flags)
            .finish()
    }
}

/// Compiles the spec's seccomp section (before fork: compiling allocates; loading does not).
pub fn compile(spec: &Seccomp) -> Result<Filter, SeccompError> {
    check_notify(spec)?;
    let default = action(&spec.default_action, spec.default_errno_ret)?;
    let mut ctx = ScmpFilterContext::new(default).map_err(SeccompError::Context)?;
    // Binary-tree dispatch: ~350 allowed syscalls would otherwise be a linear scan per call.
    // Older libseccomp lacks level 2; the linear filter is still correct, so ignore that.
    let _ = ctx.set_ctl_optimize(2);
    add_arches(&mut ctx, &spec.architectures)?;
    for rule in &spec.syscalls {
        add_syscall_rule(&mut ctx, rule, default)?;
    }
    let flags = spec
        .flags
        .iter()
        .try_fold(0, |acc, f| flag(f).map(|bit| acc | bit))?;
    let flags = match spec.listener_path {
        Some(_) => flags | hull_sys::seccomp::FILTER_FLAG_NEW_LISTENER,
        None => flags,
    };
    let program = export(&ctx)?;
    Ok(Filter { program, flags })
}

/// The syscall the runtime makes between loading a filter with a listener and handing the
/// listener its descriptor ([`Listener::send`]). A filter that notified it would stop that call
/// until someone answered it through the very descriptor it carries: a deadlock. (runc refuses
/// `write`, which its init uses at that point, for the same reason.)
const SENT_AFTER_LOAD: &[&str] = &["sendmsg"];

/// `SCMP_ACT_NOTIFY` needs a listener to answer, and may not stop the runtime's own last calls.
fn check_notify(spec: &Seccomp) -> Result<(), SeccompError> {
    let notify = |a: &str| a == "SCMP_ACT_NOTIFY";
    let any_rule = spec.syscalls.iter().any(|r| notify(&r.action));
    if (any_rule || notify(&spec.default_action)) && spec.listener_path.is_none() {
        return Err(SeccompError::Notify(
            "SCMP_ACT_NOTIFY needs linux.seccomp.listenerPath",
        ));
    }
    if notify(&spec.default_action) {
        return Err(SeccompError::Notify(
            "SCMP_ACT_NOTIFY cannot be the default action: the runtime's own calls before \
             execve would wait for an answer",
        ));
    }
    let stops_send = spec.syscalls.iter().any(|r| {
        notify(&r.action)
            && r.names
                .iter()
                .any(|n| SENT_AFTER_LOAD.contains(&n.as_str()))
    });
    if stops_send {
        return Err(SeccompError::Notify(
            "SCMP_ACT_NOTIFY cannot apply to sendmsg: the runtime sends the listener its \
             descriptor with it",
        ));
    }
    let tsync = spec.flags.iter().any(|f| f == "SECCOMP_FILTER_FLAG_TSYNC");
    if tsync && spec.listener_path.is_some() {
        return Err(SeccompError::Notify(
            "SECCOMP_FILTER_FLAG_TSYNC cannot be combined with listenerPath (the kernel refuses it)",
        ));
    }
    Ok(())
}

impl Filter {
    /// Installs the filter on the calling thread (and, with `SECCOMP_FILTER_FLAG_TSYNC`, on every
    /// thread of its process). Does not allocate. Returns the notification descriptor when the
    /// spec has a `listenerPath` (hand it to [`Listener::send`] at once).
    ///
    /// Ordering is the caller's concern: the kernel only accepts a filter from a thread that has
    /// no_new_privs set or holds CAP_SYS_ADMIN, so without no_new_privs this must run before the
    /// capability sets drop CAP_SYS_ADMIN. Load it as late as possible otherwise, because every
    /// syscall made after it (setuid, capset, execve...) must pass the filter.
    pub fn load(&self) -> Result<Option<OwnedFd>, SeccompError> {
        let err = |source| SeccompError::Load {
            len: self.program.len(),
            source,
        };
        if self.has_listener() {
            return hull_sys::seccomp::load_filter_with_listener(&self.program, self.flags)
                .map(Some)
                .map_err(err);
        }
        hull_sys::seccomp::load_filter(&self.program, self.flags)
            .map(|()| None)
            .map_err(err)
    }

    /// Whether loading returns a notification descriptor (the spec has a `listenerPath`).
    pub fn has_listener(&self) -> bool {
        self.flags & hull_sys::seccomp::FILTER_FLAG_NEW_LISTENER != 0
    }

    /// The number of BPF instructions.
    pub fn len(&self) -> usize {
        self.program.len()
    }

    pub fn is_empty(&self) -> bool {
        self.program.is_empty()
    }

    /// The `seccomp(2)` flags the filter is loaded with.
    pub fn flags(&self) -> u32 {
        self.flags
    }

    /// Whether the program dispatches on the given `AUDIT_ARCH_*` value, i.e. whether syscalls
    /// of that ABI get the profile's rules rather than the bad-architecture action.
    pub fn covers_audit_arch(&self, audit_arch: u32) -> bool {
        /// `BPF_JMP | BPF_JEQ | BPF_K`: libseccomp's arch check compares `seccomp_data.arch`
        /// against each architecture's constant with this opcode.
        const JEQ_K: u16 = 0x15;
        self.program
            .iter()
            .any(|i| i.code == JEQ_K && i.k == audit_arch)
    }
}

fn add_arches(ctx: &mut ScmpFilterContext, names: &[String]) -> Result<(), SeccompError> {
    for name in names {
        let a = arch(name)?;
        // The native arch is already there; adding it twice is an error in libseccomp.
        if ctx.is_arch_present(a).unwrap_or(false) {
            continue;
        }
        ctx.add_arch(a).map_err(|source| SeccompError::AddArch {
            arch: name.clone(),
            source,
        })?;
    }
    Ok(())
}

fn add_syscall_rule(
    ctx: &mut ScmpFilterContext,
    rule: &SeccompSyscall,
    default: ScmpAction,
) -> Result<(), SeccompError> {
    let act = action(&rule.action, rule.errno_ret)?;
    if act == default {
        return Ok(());
    }
    let conditions = rule
        .args
        .iter()
        .map(condition)
        .collect::<Result<Vec<_>, _>>()?;
    for name in &rule.names {
        // Unknown to this libseccomp (a newer syscall, or another architecture's): skip it.
        let Ok(syscall) = ScmpSyscall::from_name(name) else {
            continue;
        };
        for group in condition_groups(&conditions, &rule.args) {
            ctx.add_rule_conditional(act, syscall, &group)
                .map_err(|source| SeccompError::AddRule {
                    name: name.clone(),
                    action: rule.action.clone(),
                    source,
                })?;
        }
    }
    Ok(())
}

/// One rule when every comparison names a different argument (they are AND-ed); one rule per
/// comparison when an argument repeats, because libseccomp allows one comparison per argument in
/// a rule — runc's reading, which Docker profiles rely on.
fn condition_groups(
    conditions: &[ScmpArgCompare],
    args: &[SeccompArg],
) -> Vec<Vec<ScmpArgCompare>> {
    let mut seen = std::collections::HashSet::new();
    let repeats = args.iter().any(|a| !seen.insert(a.index));
    if repeats {
        conditions.iter().map(|c| vec![*c]).collect()
    } else {
        vec![conditions.to_vec()]
    }
}

/// libseccomp 2.5 can only export to a file descriptor: export into a memfd and read it back.
fn export(ctx: &ScmpFilterContext) -> Result<Vec<BpfInsn>, SeccompError> {
    let fd = rustix::fs::memfd_create("hull-seccomp", rustix::fs::MemfdFlags::CLOEXEC)
        .map_err(|e| SeccompError::Export(e.into()))?;
    ctx.export_bpf(&fd)
        .map_err(|e| SeccompError::Export(io::Error::other(e)))?;
    let mut file = std::fs::File::from(fd);
    let mut bytes = Vec::new();
    file.seek(io::SeekFrom::Start(0))
        .and_then(|_| file.read_to_end(&mut bytes))
        .map_err(SeccompError::Export)?;
    Ok(decode_program(&bytes))
}

/// `struct sock_filter` is `{ u16 code; u8 jt; u8 jf; u32 k; }` in native byte order.
fn decode_program(bytes: &[u8]) -> Vec<BpfInsn> {
    bytes
        .chunks_exact(8)
        .map(|c| BpfInsn {
            code: u16::from_ne_bytes([c[0], c[1]]),
            jt: c[2],
            jf: c[3],
            k: u32::from_ne_bytes([c[4], c[5], c[6], c[7]]),
        })
        .collect()
}

#[cfg(test)]
mod tests;
