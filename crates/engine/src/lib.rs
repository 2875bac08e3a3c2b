//! Docker semantics on top of the image store and the runtime: image config + `docker run` flags
//! become an OCI spec, containers get records and a lifecycle.
//!
//! Grouped by concern, each folder one public facade; imports between folders point one way,
//! `commit → {view, copy} → lifecycle → endpoint → volume → events → state → run` (see ARCHITECTURE.md):
//! - [`run`]: flags → [`run::RunConfig`] → OCI spec, Docker's security defaults, users, /etc files;
//! - [`state`]: container records, names, listing, locks;
//! - [`endpoint`]: a container's network endpoint, through `hull_net`;
//! - [`lifecycle`]: monitor, attach, exec, restart, stop and wait, logs, stats, top;
//! - [`events`]: the events journal in Docker's event format, its filters and time window;
//! - [`volume`]: named and anonymous volumes (`volume/<name>/_data`), copy-up from the image;
//! - [`copy`]: `cp` and `export`;
//! - [`commit`]: `commit` and `import` (a container's upper dir or a tar as a new image), and the
//!   `-c` Dockerfile-instruction parser `build` will share;
//! - [`view`]: Docker's inspect documents, ps and stats rows, version and info, as serde values;
//! - `host`: the host's facts and the store's counts behind `info`.
//!
//! [`Engine`] (one per store root) is the composition root the folders extend.
#![forbid(unsafe_code)]

pub mod commit;
pub mod copy;
pub mod endpoint;
mod engine;
pub mod events;
mod host;
pub mod images;
pub mod lifecycle;
pub mod run;
pub mod settings;
pub mod state;
pub mod view;
pub mod volume;

pub use engine::{Engine, EngineError};
pub use view::system::HostFacts;
