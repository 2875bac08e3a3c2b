//! Capability names and their numbers, and applying the five OCI capability sets. STUB: the
//! seccomp/capabilities work replaces this.

use hull_oci::runtime::Capabilities;

#[derive(Debug, thiserror::Error)]
pub enum CapsError {
    #[error("unknown capability {0:?}")]
    Unknown(String),
    #[error("capabilities: not implemented yet")]
    Unimplemented,
}

/// The capability number of a name like `CAP_CHOWN` (or `chown`).
pub fn from_name(_name: &str) -> Option<u32> {
    None
}

/// Every capability the running kernel knows, as `CAP_*` names.
pub fn all() -> Vec<&'static str> {
    Vec::new()
}

/// Validates every name in the sets (before fork, so errors are reported cleanly).
pub fn validate(_caps: &Capabilities) -> Result<(), CapsError> {
    Err(CapsError::Unimplemented)
}

/// Applies the sets to the calling process: drops the bounding set, then sets inheritable,
/// permitted and effective with capset, then the ambient set. Called in init after the uid
/// switch (which must keep capabilities: PR_SET_KEEPCAPS).
pub fn apply(_caps: &Capabilities) -> Result<(), CapsError> {
    Err(CapsError::Unimplemented)
}
