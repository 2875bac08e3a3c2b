//! The image side of hull: references, the registry client, the content store, layer unpacking and
//! the layer store. It knows nothing about running containers.
#![forbid(unsafe_code)]

pub mod archive;
pub mod content;
mod fsutil;
pub mod layers;
pub mod local;
pub mod lock;
pub mod platform;
pub mod pull;
#[cfg(test)]
mod pull_tests;
pub mod push;
pub mod reference;
pub mod registry;
pub mod store;
pub mod unpack;

pub use fsutil::sweep_stale;
// Moved to `hull_oci::time` so that `net`, below `image`, shares it; this path stays.
pub use hull_oci::time;
pub use reference::Reference;
pub use store::Store;
