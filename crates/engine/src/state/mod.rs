//! What is recorded of containers: what a record holds (`record`), the records on disk under
//! `<root>/containers/<id>/` with their locks, atomic writes and dead ones (`containers`), IDs
//! and generated names (`names`), health check results (`health`), and what `ps` shows of
//! them (`listing`). Imports only `run/`.

pub mod containers;
pub mod health;
pub mod listing;
pub mod names;
pub mod record;

pub use containers::{ContainerError, Containers, Lock};
pub use record::{valid_name, NetworkState, Record, State, Status, UNKNOWN_EXIT};
