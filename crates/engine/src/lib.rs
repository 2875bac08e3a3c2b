//! Docker semantics on top of the image store and the runtime: image config + `docker run` flags
//! become an OCI spec, containers get records and a lifecycle.
//!
//! Grouped by concern, each folder one public facade; imports between folders point one way,
//! `{view, copy} → lifecycle → endpoint → volume → state → run` (see ARCHITECTURE.md):
//! - [`run`]: flags → [`run::RunConfig`] → OCI spec, Docker's security defaults, users, /etc files;
//! - [`state`]: container records, names, listing, locks;
//! - [`endpoint`]: a container's network endpoint, through `hull_net`;
//! - [`lifecycle`]: monitor, attach, exec, restart, stop and wait, logs, stats, top;
//! - [`volume`]: named and anonymous volumes (`volume/<name>/_data`), copy-up from the image;
//! - [`copy`]: `cp` and `export`;
//! - [`view`]: Docker's inspect documents, ps and stats rows, as serde values.
//!
//! [`Engine`] (one per store root) is the composition root the folders extend.
#![forbid(unsafe_code)]

pub mod copy;
pub mod endpoint;
mod engine;
pub mod lifecycle;
pub mod run;
pub mod state;
pub mod view;
pub mod volume;

pub use engine::{Engine, EngineError};
