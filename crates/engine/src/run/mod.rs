//! What a container is made from: `hull run` flags → [`RunConfig`] → OCI spec. Pure functions
//! and data, table-tested: the flags and the config (`config`), their validation (`options`,
//! `mounts`, `netopts`, `labels`, `units`, `logconfig`, `restart`, `signal`), Docker's security
//! defaults (`security`, `caps`), the image user (`user`), the /etc files (`etc`) and the spec
//! itself (`spec`). Imports no other folder of the engine.

pub mod caps;
pub mod config;
pub mod etc;
pub mod health;
pub mod labels;
pub mod logconfig;
pub mod mounts;
pub mod netopts;
pub mod options;
pub mod restart;
pub mod security;
pub mod signal;
pub mod spec;
pub mod units;
pub mod user;

pub use config::{
    FlagError, Host, Labels, Limits, NetworkMode, PullPolicy, RealHost, RunConfig, RunOptions,
    SeccompChoice, Ulimit, UserMount,
};
pub use logconfig::{LogConfig, LogDriver};
pub use restart::RestartPolicy;
pub use signal::{parse_signal, BadSignal};
