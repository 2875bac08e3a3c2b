//! The image side of hull: references, the registry client, the content store, layer unpacking and
//! the layer store. It knows nothing about running containers.
#![forbid(unsafe_code)]

pub mod registry;
pub mod unpack;
