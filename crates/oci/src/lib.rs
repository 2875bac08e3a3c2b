//! Types for the OCI image, distribution and runtime specs, plus [`Digest`] and RFC 3339
//! [`time`]stamps. No I/O lives here.
#![forbid(unsafe_code)]

mod digest;
pub mod image;
pub mod runtime;
pub mod time;

pub use digest::{is_sha256_hex, Digest, DigestError};
