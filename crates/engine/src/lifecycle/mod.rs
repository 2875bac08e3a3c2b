//! A created container's life: the run recipe every run shares (`run`); the detached monitor
//! (`monitor`, spawned and heard by `launch`) with its log (`logfile`, in the format of `jsonlog`, a read of plain lines at once by `jsonlog_batch`), attach socket (`attach`) and restart backoff
//! (`restart`); kill, stop and wait (`stop`; `waiter` for Docker's wait conditions); `rm` (`remove`); pause, rename, prune and the
//! `ps` list (`manage`); exec, stats and top; the reconcile at boot (`boot`) and `system prune` (`prune`). Imports `endpoint/`, `state/` and `run/`.

pub mod attach;
pub mod boot;
mod burst;
pub mod changes;
pub mod df;
pub mod exec;
pub(crate) mod foreground;
pub mod health;
mod health_fg;
pub mod jsonlog;
mod jsonlog_batch;
pub mod launch;
pub mod logfile;
mod logread;
pub mod logs;
mod logwriter;
pub mod manage;
pub mod monitor;
pub mod prune;
mod remove;
pub mod restart;
pub(crate) mod run;
pub mod stats;
pub mod stop;
pub mod top;
pub mod waiter;

pub use exec::{ExecConfig, ExecOptions};
