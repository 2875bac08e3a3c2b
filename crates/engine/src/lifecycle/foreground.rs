//! Holding a container in the foreground (signal forwarding, pty relay, waiting) lives in the
//! runtime crate, which `hull-runtime run`/`exec` share; the engine uses it from there.

pub use hull_runtime::foreground::*;
