//! What a container is made from: `hull run` flags → [`RunConfig`] → OCI spec. Pure functions and
//! data, table-tested: flag parsing (`options`, `netopts`, `labels`, `units`), Docker's security
//! defaults (`security`, `caps`), the image user (`user`), the /etc files (`etc`) and the spec
//! itself (`spec`). Imports no other folder of the engine.

pub mod caps;
pub mod etc;
pub mod labels;
pub mod netopts;
pub mod options;
pub mod security;
pub mod spec;
pub mod units;
pub mod user;

pub use options::{
    FlagError, Host, Limits, NetworkMode, PullPolicy, RealHost, RunConfig, RunOptions,
    SeccompChoice, Ulimit, UserMount,
};
