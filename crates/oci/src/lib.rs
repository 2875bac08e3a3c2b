//! Types for the OCI image, distribution and runtime specs, plus [`Digest`]. No I/O lives here.
#![forbid(unsafe_code)]

mod digest;
pub mod image;
pub mod runtime;

pub use digest::{is_sha256_hex, Digest, DigestError};
