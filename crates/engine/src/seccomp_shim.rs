//! TEMPORARY stand-in for `crate::security::{default_seccomp, parse_docker_profile}`, which the
//! seccomp work adds. At merge: delete this file, its `mod` line in lib.rs, and point the one
//! `use` in spec.rs at `crate::security`.

use hull_oci::runtime::Seccomp;

/// Until the real profile lands: an allow-all filter that still exercises the plumbing.
pub fn default_seccomp(_caps: &[String]) -> Seccomp {
    Seccomp {
        default_action: "SCMP_ACT_ALLOW".into(),
        ..Seccomp::default()
    }
}

/// Until the real parser lands: accepts a profile already in the OCI schema.
pub fn parse_docker_profile(json: &[u8], _caps: &[String]) -> Result<Seccomp, String> {
    serde_json::from_slice(json).map_err(|e| e.to_string())
}
