//! Docker semantics on top of the image store and the runtime: image config + `docker run` flags
//! become an OCI spec, containers get records and a lifecycle.
#![forbid(unsafe_code)]

pub mod attach;
pub mod caps;
pub mod container;
mod engine;
pub mod etc;
mod foreground;
pub mod lifecycle;
pub mod logfile;
pub mod monitor;
pub mod names;
pub mod options;
pub mod restart;
pub mod security;
pub mod spec;
pub mod units;
pub mod user;

pub use engine::{Engine, EngineError};
