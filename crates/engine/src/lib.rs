//! Docker semantics on top of the image store and the runtime: image config + `docker run` flags
//! become an OCI spec, containers get records and a lifecycle.
#![forbid(unsafe_code)]

pub mod security;
