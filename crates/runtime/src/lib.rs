//! hull's OCI runtime: a bundle (rootfs + `config.json`) becomes a process in new namespaces, with
//! its mounts, cgroup, capabilities, seccomp filter and rlimits applied. It knows nothing about
//! images or Docker; `hull run` (through the engine) and the runc-compatible CLI both drive it
//! through [`Runtime`].
//!
//! Lifecycle (OCI runtime spec): [`Runtime::create`] starts the container's init process and
//! leaves it blocked just before it executes the user's program; [`Runtime::start`] releases it;
//! [`Runtime::kill`] signals it; [`Runtime::delete`] removes what is left (cgroup, state).
//!
//! `create` forks (clone3) from the calling process, which must be single-threaded.
//!
//! ```no_run
//! # use hull_runtime::{Runtime, CreateRequest};
//! let rt = Runtime::new("/run/hull/runtime".into()).unwrap();
//! let created = rt.create(CreateRequest::new("web", "/path/to/bundle".into())).unwrap();
//! rt.start("web").unwrap();
//! // the caller is init's parent and can waitpid(created.pid)
//! rt.delete("web", false).unwrap();
//! ```
#![forbid(unsafe_code)]

pub mod apparmor;
pub mod capabilities;
pub mod cgroups;
pub mod console;
mod container;
pub mod devices;
mod exec;
pub mod foreground;
pub mod hooks;
pub mod mini_init;
pub mod mount_attrs;
pub mod mounts;
pub mod proc_attrs;
pub mod process;
pub mod rlimits;
pub mod seccomp;
pub mod state;
mod timens;
pub mod user;

pub use container::{CreateRequest, Created, Runtime, RuntimeError};
pub use exec::{ExecRequest, Executed};
pub use process::sync::{InitError, Step};
