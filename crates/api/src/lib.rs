//! The Docker Engine API over a socket (`hull system service`): an optional front door onto the
//! same engine library and store as the command line. It holds the HTTP server, the routes and
//! the translation between Docker's JSON and the engine's types, and no container logic of its
//! own: containers keep their own monitors, so the service may exit or be killed at any moment.
//!
//! hyper 1 serves HTTP/1.1 (with upgrades for attach and exec) on tokio's single-threaded
//! runtime. Engine calls block, so they run on tokio's blocking pool; nothing in this process
//! forks a container (starting one spawns its monitor, a new process).
#![forbid(unsafe_code)]

#[allow(dead_code)] // the streaming and body-reading halves serve the routes still to come
mod body;
mod build;
mod commit;
mod containers;
mod error;
mod events;
mod exec;
mod helper;
mod hijack;
mod images;
mod images_archive;
mod images_pull;
mod images_push;
mod listen;
mod mux;
mod networks;
#[allow(dead_code)]
mod query;
mod route;
mod server;
mod system;
mod system_df;
mod volumes;

use std::path::PathBuf;
use std::time::Duration;

pub use error::ServiceError;
pub use helper::helper_main;

/// What `hull system service` was asked for.
#[derive(Debug, Clone)]
pub struct ServiceOptions {
    /// The store root, shared with the command line.
    pub root: PathBuf,
    /// The registry config file (credentials, mirrors), as the CLI's `--config`.
    pub config: Option<PathBuf>,
    /// `unix:///path` or `tcp://HOST:PORT`; None: systemd's sockets, else the default socket.
    pub uri: Option<String>,
    /// Exit after this long without a connection; None: never.
    pub idle: Option<Duration>,
}

/// The default socket, as `docker.sock` is Docker's.
pub const DEFAULT_SOCKET: &str = "/run/hull/hull.sock";

/// Serves until idle for `opts.idle` (or forever). Returns an error only when it cannot start.
pub fn serve(opts: ServiceOptions) -> Result<(), ServiceError> {
    let activated = hull_sys::socket::take_activation_fds();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .max_blocking_threads(64)
        // Idle request threads go soon, so that their memory can be given back (server.rs).
        .thread_keep_alive(std::time::Duration::from_secs(1))
        .build()
        .map_err(|source| ServiceError::Io {
            op: "start the async runtime",
            source,
        })?;
    runtime.block_on(server::run(opts, activated))
}
