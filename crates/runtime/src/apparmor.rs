//! AppArmor: whether the kernel has it, and the profile the user's program is exec'd into.

use std::io;
use std::path::Path;

/// Where the kernel shows AppArmor when it is enabled.
const SECURITYFS_DIR: &str = "/sys/kernel/security/apparmor";

pub fn enabled() -> bool {
    Path::new(SECURITYFS_DIR).exists()
}

/// Asks for `profile` at the next execve: `exec <profile>` to our own attr file (the
/// AppArmor-specific one on kernels that stack LSMs, else the generic one).
pub fn set_exec_profile(profile: &str) -> io::Result<()> {
    let value = format!("exec {profile}");
    match std::fs::write("/proc/self/attr/apparmor/exec", &value) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            std::fs::write("/proc/self/attr/exec", &value)
        }
        Err(e) => Err(e),
    }
}
