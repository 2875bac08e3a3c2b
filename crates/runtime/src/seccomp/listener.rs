//! The seccomp notify listener (`linux.seccomp.listenerPath`): the unix socket to which the
//! runtime sends the container process state, with the filter's notification descriptor attached
//! (SCM_RIGHTS), so that an agent there can answer the calls the filter notifies.
//!
//! How hull gets the descriptor there, and why:
//!
//! * Only the process that loads the filter gets the descriptor, and once pivot_root has run,
//!   `listenerPath` (a host path) is out of its reach. Container init loads the filter at the
//!   end of `create`, before it reports ready, and passes the descriptor to `create` over their
//!   sync socket; `create` connects to the listener and sends it the message with the
//!   descriptor ([`deliver`]), so the agent has it when `create` returns, as with runc (an agent
//!   may wait for it before its caller starts the container). A listener that cannot be
//!   reached fails `create`, which then undoes the container as for any failure of init.
//!   Init's later steps (waiting for start, the startContainer hooks, the capability and uid
//!   switch) run under the filter, whose notified calls the agent answers
//!   (`process::init::load_listeners_filter`).
//! * An `exec`'d process loads the filter right before execve, as without a listener; `exec`
//!   connects to the listener before it forks, and the process sends the message itself.
//! * After the load the process makes one call, `sendmsg`, before the descriptor is on its way;
//!   `compile` refuses a filter that would notify `sendmsg` (it would wait forever for an answer
//!   only the listener could give) or has `SCMP_ACT_NOTIFY` as its default action.
//! * The message's state is the one `create` made (status `creating`, as runc reports it).
//!
//! `pid` in the message is the pid of the process that loaded the filter, as the host sees it:
//! for `create` the container's init (as `state` reports it; under `--init` the mini init's
//! child inherits the filter with the fork), for `exec` the exec'd process, as runc gives it
//! (the intermediate that forked it passes it the pid, [`Listener::set_pid`]).

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use hull_oci::runtime::{ContainerProcessState, Seccomp, State, OCI_VERSION, SECCOMP_FD_NAME};

use super::SeccompError;

/// A connection to the listener and the message it gets with the notification descriptor.
#[derive(Debug)]
pub struct Listener {
    path: PathBuf,
    sock: OwnedFd,
    process: ContainerProcessState,
    message: Vec<u8>,
}

/// Connects to `path` (a unix stream socket): done by the runtime before it forks, while the
/// path still resolves on the host.
pub fn connect(path: &Path) -> Result<OwnedFd, SeccompError> {
    hull_sys::socket::connect_stream(path).map_err(|source| SeccompError::Listener {
        path: path.to_path_buf(),
        op: "connect",
        source,
    })
}

/// The container process state for `state` (its `pid` the container's until [`Listener::set_pid`]).
pub fn process_state(spec: &Seccomp, state: State) -> ContainerProcessState {
    ContainerProcessState {
        oci_version: OCI_VERSION.to_string(),
        fds: vec![SECCOMP_FD_NAME.to_string()],
        pid: state.pid.unwrap_or(0),
        metadata: spec.listener_metadata.clone(),
        state,
    }
}

/// A container process state as the JSON the listener gets.
pub fn message(process: &ContainerProcessState) -> Vec<u8> {
    serde_json::to_vec(process).expect("the container process state always serializes")
}

/// Connects to the spec's listener, if it has one, with the message for the state `state`
/// makes (asked for only then): `exec`'s part, before it forks.
pub fn open(
    spec: &Seccomp,
    state: impl FnOnce() -> State,
) -> Result<Option<Listener>, SeccompError> {
    let Some(path) = spec.listener_path.clone() else {
        return Ok(None);
    };
    let sock = connect(&path)?;
    Ok(Some(Listener::new(
        path,
        sock,
        process_state(spec, state()),
    )))
}

/// `create`'s part: connects to the spec's listener and sends it the container process state for
/// `state` with `notify_fd`, the descriptor init's filter load gave.
pub fn deliver(spec: &Seccomp, state: &State, notify_fd: impl AsFd) -> Result<(), SeccompError> {
    match open(spec, || state.clone())? {
        Some(listener) => listener.send(notify_fd),
        None => Err(SeccompError::Notify(
            "a notification descriptor without listenerPath",
        )),
    }
}

impl Listener {
    /// A connected socket (from [`connect`]) and the container process state for it.
    pub fn new(path: PathBuf, sock: OwnedFd, process: ContainerProcessState) -> Listener {
        let message = message(&process);
        Listener {
            path,
            sock,
            process,
            message,
        }
    }

    /// Makes `pid` the message's process (an exec'd one): before the filter is loaded, since it
    /// allocates.
    pub fn set_pid(&mut self, pid: i32) {
        self.process.pid = pid;
        self.message = message(&self.process);
    }

    /// Sends the message with `notify_fd` attached: one `sendmsg`, nothing allocated.
    pub fn send(&self, notify_fd: impl AsFd) -> Result<(), SeccompError> {
        hull_sys::socket::send_with_fd(&self.sock, &self.message, Some(notify_fd)).map_err(
            |source: io::Error| SeccompError::Listener {
                path: self.path.clone(),
                op: "send the notify descriptor",
                source,
            },
        )
    }
}
