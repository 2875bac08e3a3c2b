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

/// Whether the kernel can put a program into `profile`: `unconfined` always exists, any other
/// profile only once loaded (listed in securityfs' `profiles`). Checked before init is cloned,
/// so a missing profile fails `create` with its name instead of a bare ENOENT from init's exec
/// attr write. An unreadable list is no answer, and the exec attr write decides.
pub fn check_loaded(profile: &str) -> Result<(), String> {
    if profile == "unconfined" {
        return Ok(());
    }
    let Ok(list) = std::fs::read_to_string(Path::new(SECURITYFS_DIR).join("profiles")) else {
        return Ok(());
    };
    if listed(&list, profile) {
        Ok(())
    } else {
        Err(format!(
            "apparmor profile {profile:?} is not loaded (load it with apparmor_parser first)"
        ))
    }
}

/// `profiles` has one `NAME (MODE)` line per loaded profile; names may hold spaces.
fn listed(list: &str, profile: &str) -> bool {
    list.lines()
        .filter_map(|l| l.rsplit_once(" ("))
        .any(|(name, _)| name == profile)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_profile_by_its_whole_name() {
        let list = "docker-default (enforce)\n/usr/bin/man (complain)\nmy profile (enforce)\n";
        assert!(listed(list, "docker-default"));
        assert!(listed(list, "my profile"));
        assert!(!listed(list, "docker"));
        assert!(!listed(list, "enforce"));
        assert!(check_loaded("unconfined").is_ok());
    }
}
