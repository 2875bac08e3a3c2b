//! The glue between a container and its network, which `hull_net` builds: the run's endpoint
//! (`netrun`), `network connect`/`disconnect` (`connect`), the embedded DNS a runner serves
//! (`embedded_dns`), network create/rm/prune with their events (`networks`), and the reconcile and sweep of endpoints nobody runs (`sweep`). Imports
//! `state/` and `run/`.

pub mod connect;
pub(crate) mod embedded_dns;
pub mod netrun;
mod networks;
mod sweep;

pub use connect::ConnectRequest;
pub use netrun::NetRunError;
