//! The seccomp notify listener (`linux.seccomp.listenerPath`): the unix socket to which the
//! runtime sends the container process state, with the filter's notification descriptor attached
//! (SCM_RIGHTS), so that an agent there can answer the calls the filter notifies.
//!
//! How hull gets the descriptor there, and why:
//!
//! * The filter is loaded by the container's process itself, as late as possible: after
//!   `start` releases init, right before execve (see `process::init`). By then the `create`
//!   that forked init is usually gone, so init cannot hand the descriptor back to it over the
//!   sync socket as runc's init does; and once pivot_root has run, `listenerPath` (a host path)
//!   is out of init's reach.
//! * So `create` (and `exec`) connects to the listener before the fork, on the host, and init
//!   inherits the connected socket. A listener that cannot be reached fails `create` before
//!   anything exists (no state dir, no cgroup, no init).
//! * The message is built before the filter is loaded, from the state `create` sends init
//!   (status `creating`, as runc reports it: the state as it was when create made it). After
//!   the load the process makes one call, `sendmsg`, before the listener holds the descriptor;
//!   `compile` refuses a filter that would notify `sendmsg` (it would wait forever for an
//!   answer only the listener could give) or has `SCMP_ACT_NOTIFY` as its default action. The
//!   calls after the send (capset, setresuid, execve...) may be notified: the listener can
//!   answer them.
//! * Both descriptors are close-on-exec: the user's program has neither, and the listener sees
//!   end of stream once the program runs.
//!
//! `pid` in the message is the container's pid (its init), as `state` reports it. With
//! `hull run --init` the filtered process is the mini init's child, whose pid in the runtime's
//! namespace init cannot know; for `exec` it is likewise the container's pid, not the new
//! process's.

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

/// The container process state for `state`, as JSON.
pub fn message(spec: &Seccomp, state: &State) -> Vec<u8> {
    let msg = ContainerProcessState {
        oci_version: OCI_VERSION.to_string(),
        fds: vec![SECCOMP_FD_NAME.to_string()],
        pid: state.pid.unwrap_or(0),
        metadata: spec.listener_metadata.clone(),
        state: state.clone(),
    };
    serde_json::to_vec(&msg).expect("the container process state always serializes")
}

impl Listener {
    /// A connected socket (from [`connect`]) and the message for it.
    pub fn new(path: PathBuf, sock: OwnedFd, message: Vec<u8>) -> Listener {
        Listener {
            path,
            sock,
            message,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The connected socket (init keeps it open through its descriptor cleanup).
    pub fn socket(&self) -> &OwnedFd {
        &self.sock
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
