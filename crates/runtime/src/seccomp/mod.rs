//! Seccomp: an OCI `linux.seccomp` section compiled to a BPF filter and loaded. STUB: the seccomp
//! work replaces this.

use hull_oci::runtime::Seccomp;

#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    #[error("seccomp: not implemented yet")]
    Unimplemented,
}

/// A compiled filter, ready to load in the container's init.
#[derive(Debug)]
pub struct Filter {
    _private: (),
}

/// Compiles the spec's seccomp section (before fork: compiling allocates; loading does not).
pub fn compile(_spec: &Seccomp) -> Result<Filter, SeccompError> {
    Err(SeccompError::Unimplemented)
}

impl Filter {
    /// Installs the filter on the calling thread (and, with TSYNC, its process).
    pub fn load(&self) -> Result<(), SeccompError> {
        Err(SeccompError::Unimplemented)
    }
}
