//! Docker semantics on top of the image store and the runtime: image config + `docker run` flags
//! become an OCI spec, containers get records and a lifecycle.
#![forbid(unsafe_code)]

pub mod attach;
pub mod caps;
pub mod connect;
pub mod container;
pub mod copy;
mod embedded_dns;
mod engine;
pub mod etc;
pub mod exec;
mod foreground;
pub mod labels;
pub mod lifecycle;
pub mod listing;
pub mod logfile;
pub mod manage;
pub mod monitor;
pub mod names;
pub mod netopts;
pub mod netrun;
pub mod options;
pub mod restart;
pub mod security;
pub mod spec;
pub mod stats;
pub mod top;
pub mod units;
pub mod user;
pub mod view;

pub use engine::{Engine, EngineError};
