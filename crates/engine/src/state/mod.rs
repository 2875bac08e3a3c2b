//! What is recorded of containers: one atomically written record per container under
//! `<root>/containers/<id>/` (`containers`), IDs and generated names (`names`), and what `ps`
//! shows of them (`listing`). Imports only `run/`.

pub mod containers;
pub mod listing;
pub mod names;

pub use containers::{ContainerError, Containers, Lock, Record, State, Status, UNKNOWN_EXIT};
