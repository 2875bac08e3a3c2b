//! Docker's views of hull's state: the documents and rows `docker` prints, as pure functions
//! from records to serde values (or plain `Serialize` rows). Front ends format them (tables,
//! `--format` templates, units) or serialise them; they never build these shapes themselves.
//!
//! - [`container`]: `container inspect`'s document;
//! - [`image`]: `image inspect`'s document;
//! - [`network`]: `network inspect`'s document, the pre-defined networks, and a container's
//!   `NetworkSettings`;
//! - [`ps`]: `ps` rows and Docker's STATUS text;
//! - [`stats`]: `stats` rows, in numbers;
//! - [`system`]: `version` and `info` documents; [`df`]: `system df`'s;
//! - [`ports`] and [`mounts`]: the summaries the documents and rows above share.
//!
//! The modules use each other only downward: `container` → `network`, `ports`, `mounts`;
//! `ps` → `container`, `ports`; `network` → `ports`. Of the engine's folders it imports
//! `lifecycle/` (the stats formulas), `state/` and `run/`.

pub mod container;
pub mod df;
mod human;
pub mod image;
pub mod mounts;
pub mod network;
pub mod network_list;
pub mod ports;
pub mod ps;
pub mod stats;
pub mod summary;
pub mod system;
pub mod volume;

pub use human::human_duration;
