//! The typed parent ↔ init protocol over a SOCK_SEQPACKET pair: one JSON message per packet, and
//! one enum per direction.
//!
//! | parent sends         | init answers                                                   |
//! |----------------------|----------------------------------------------------------------|
//! | `Proceed` (after cgroup and id maps) | `Console` (with the pty master fd, if terminal), then `Ready`, or `Error` |
//! | (start opens exec.fifo) | `ExecFailed` if execve failed, else end of stream (the socket is close-on-exec) |
//! | `HookState` (before `Proceed`, only when the spec has hooks or a seccomp listener) | nothing |
//! | (init: mounts done, before pivot_root) | `RunHooks`; the parent runs prestart and createRuntime, then sends `HooksDone` (or stops init) |
//!
//! Any step of init may answer `Error` instead; init exits right after sending it.
//!
//! `exec` uses the same messages in one direction only (the parent sends nothing): the
//! intermediate process that joined the namespaces sends `Forked` with the new process's pid,
//! the new process sends `Console` (with -t) and then `Error`, `ExecFailed`, or nothing before
//! its successful execve closes the socket.

use std::io;
use std::os::fd::{AsFd, OwnedFd};

use serde::{Deserialize, Serialize};

/// Parent → init.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ToInit {
    /// The cgroup and uid/gid maps are in place. `cgroup_paths` are init's cgroups as the host
    /// sees them (`controllers` → path, from /proc/<pid>/cgroup), for the /sys/fs/cgroup mount.
    Proceed { cgroup_paths: Vec<(String, String)> },
    /// The state handed to the hooks init runs itself (createContainer, startContainer).
    HookState(hull_oci::runtime::State),
    /// prestart and createRuntime hooks ran and succeeded.
    HooksDone,
}

/// Init → parent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum FromInit {
    /// The pty master travels with this message (SCM_RIGHTS).
    Console,
    /// Init is set up and blocks on exec.fifo until `start`.
    Ready,
    Error(InitError),
    /// execve of the user's program failed with this errno.
    ExecFailed {
        errno: i32,
    },
    /// exec only: the process that will execve was forked, with this pid (in the caller's pid
    /// namespace).
    Forked {
        pid: i32,
    },
    /// The container's namespaces and mounts exist: run prestart and createRuntime hooks now
    /// (before pivot_root), then answer `HooksDone`.
    RunHooks,
    /// The seccomp filter's notification descriptor travels with this message (SCM_RIGHTS),
    /// for the spec's listener (see [`crate::seccomp::listener`]).
    SeccompFd,
}

/// A failure inside init, as it crosses the socket: which step, what happened, and the errno.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{step}: {message}")]
pub struct InitError {
    pub step: Step,
    pub message: String,
    pub errno: Option<i32>,
}

impl InitError {
    pub fn new(step: Step, message: impl Into<String>, err: Option<&io::Error>) -> InitError {
        let mut message = message.into();
        if let Some(e) = err {
            message = format!("{message}: {e}");
        }
        InitError {
            step,
            message,
            errno: err.and_then(io::Error::raw_os_error),
        }
    }
}

/// The steps of init's recipe, for error reports (and matching by callers: `NotFound` and
/// `NotExecutable` become exit codes 127 and 126 in the engine).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Step {
    Sync,
    JoinNamespace,
    Hostname,
    Network,
    Mounts,
    Devices,
    PivotRoot,
    MaskedPaths,
    ReadonlyPaths,
    Sysctl,
    Console,
    Rlimits,
    OomScoreAdj,
    Cwd,
    NotFound,
    NotExecutable,
    WaitStart,
    User,
    Capabilities,
    NoNewPrivileges,
    Seccomp,
    Exec,
    Fork,
    Hooks,
    Keyring,
    AppArmor,
    ProcessAttrs,
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = match self {
            Step::Sync => "sync with parent",
            Step::JoinNamespace => "join namespace",
            Step::Hostname => "set hostname",
            Step::Network => "bring up loopback",
            Step::Mounts => "mount",
            Step::Devices => "create devices",
            Step::PivotRoot => "pivot root",
            Step::MaskedPaths => "mask paths",
            Step::ReadonlyPaths => "make paths read-only",
            Step::Sysctl => "write sysctl",
            Step::Console => "set up console",
            Step::Rlimits => "set rlimits",
            Step::OomScoreAdj => "set oom_score_adj",
            Step::Cwd => "change to working directory",
            Step::NotFound => "find the executable",
            Step::NotExecutable => "check the executable",
            Step::WaitStart => "wait for start",
            Step::User => "switch user",
            Step::Capabilities => "apply capabilities",
            Step::NoNewPrivileges => "set no_new_privs",
            Step::Seccomp => "load seccomp filter",
            Step::Exec => "exec",
            Step::Fork => "fork the user process",
            Step::Hooks => "run hooks",
            Step::Keyring => "join session keyring",
            Step::AppArmor => "set apparmor profile",
            Step::ProcessAttrs => "set process attributes",
        };
        f.write_str(s)
    }
}

/// The largest message: an InitError with a long path is well under this.
const MAX_MESSAGE: usize = 64 * 1024;

pub fn encode<T: Serialize>(msg: &T) -> Vec<u8> {
    serde_json::to_vec(msg).expect("protocol messages always serialize")
}

pub fn decode<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> io::Result<T> {
    serde_json::from_slice(bytes).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

pub fn send<T: Serialize>(sock: impl AsFd, msg: &T) -> io::Result<()> {
    hull_sys::socket::send_with_fd(sock, &encode(msg), None::<OwnedFd>)
}

pub fn send_fd<T: Serialize>(sock: impl AsFd, msg: &T, fd: impl AsFd) -> io::Result<()> {
    hull_sys::socket::send_with_fd(sock, &encode(msg), Some(fd))
}

/// Receives one message; `Ok(None)` at end of stream.
pub fn recv<T: for<'de> Deserialize<'de>>(
    sock: impl AsFd,
) -> io::Result<Option<(T, Option<OwnedFd>)>> {
    let mut buf = vec![0u8; MAX_MESSAGE];
    let (n, fd) = hull_sys::socket::recv_with_fd(sock, &mut buf)?;
    if n == 0 {
        return Ok(None);
    }
    Ok(Some((decode(&buf[..n])?, fd)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_through_their_encoding() {
        let msgs = vec![
            FromInit::Console,
            FromInit::Ready,
            FromInit::ExecFailed { errno: 2 },
            FromInit::Forked { pid: 42 },
            FromInit::RunHooks,
            FromInit::Error(InitError {
                step: Step::Cwd,
                message: "chdir /nope: No such file".into(),
                errno: Some(2),
            }),
        ];
        for m in msgs {
            assert_eq!(decode::<FromInit>(&encode(&m)).unwrap(), m);
        }
        let p = ToInit::Proceed {
            cgroup_paths: vec![("memory".into(), "/hull/x".into())],
        };
        assert_eq!(decode::<ToInit>(&encode(&p)).unwrap(), p);
    }

    #[test]
    fn garbage_is_invalid_data() {
        let err = decode::<FromInit>(b"{nope").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    }

    #[test]
    fn travels_over_a_socketpair_and_ends_with_none() {
        let (a, b) = hull_sys::socket::seqpacket_pair().unwrap();
        send(&a, &FromInit::Ready).unwrap();
        drop(a);
        let (m, fd) = recv::<FromInit>(&b).unwrap().unwrap();
        assert_eq!(m, FromInit::Ready);
        assert!(fd.is_none());
        assert!(recv::<FromInit>(&b).unwrap().is_none());
    }

    #[test]
    fn init_error_keeps_the_errno() {
        let e = io::Error::from_raw_os_error(13);
        let ie = InitError::new(Step::Exec, "execve /bin/x", Some(&e));
        assert_eq!(ie.errno, Some(13));
        assert!(ie.to_string().starts_with("exec: execve /bin/x"));
    }
}
