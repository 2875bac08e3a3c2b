//! Capability names for `--cap-add`, `--cap-drop` and `--privileged`, and the set a container
//! gets: Docker's default set, plus adds, minus drops (`ALL` works on either side).

use crate::run::security::DEFAULT_CAPABILITIES;

/// Every Linux capability by number (0..=40), as `--privileged` grants them.
pub const ALL_CAPABILITIES: [&str; 41] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// `net_admin`, `NET_ADMIN` and `CAP_NET_ADMIN` all name CAP_NET_ADMIN; `all` is `ALL`.
pub fn normalize(name: &str) -> Option<String> {
    let upper = name.trim().to_ascii_uppercase();
    if upper == "ALL" {
        return Some(upper);
    }
    let full = if upper.starts_with("CAP_") {
        upper
    } else {
        format!("CAP_{upper}")
    };
    ALL_CAPABILITIES.contains(&full.as_str()).then_some(full)
}

/// The capability set of a container, in [`ALL_CAPABILITIES`] order. Docker's order of
/// operations: start from the defaults (or everything with `--privileged`, or `--cap-add ALL`),
/// remove the drops (`ALL` drops everything), then add back what `--cap-add` names explicitly.
///
/// "Everything" means every capability hull itself holds: a hull whose own permitted set lacks
/// one (root without CAP_SYS_RESOURCE, say) cannot grant it, and asking for it made capset fail
/// so that `--privileged` could not start at all. Docker likewise grants only what is available.
pub fn effective_set(privileged: bool, add: &[String], drop: &[String]) -> Vec<String> {
    let held = permitted_mask();
    effective_set_within(privileged, add, drop, |cap| held & (1u64 << cap) != 0)
}

/// [`effective_set`] with `held(n)` telling whether hull holds capability number n.
fn effective_set_within(
    privileged: bool,
    add: &[String],
    drop: &[String],
    held: impl Fn(usize) -> bool,
) -> Vec<String> {
    let add_all = privileged || add.iter().any(|a| a == "ALL");
    let drop_all = drop.iter().any(|d| d == "ALL");
    ALL_CAPABILITIES
        .iter()
        .enumerate()
        .filter(|(n, cap)| {
            let cap = cap.to_string();
            let base = (add_all && held(*n)) || DEFAULT_CAPABILITIES.contains(&cap.as_str());
            let dropped = drop_all || drop.contains(&cap);
            (base && (privileged || !dropped)) || add.contains(&cap)
        })
        .map(|(_, c)| c.to_string())
        .collect()
}

/// This process's permitted capabilities (`CapPrm` in /proc/self/status); all bits when that
/// cannot be read, so that the kernel has the last word.
pub(crate) fn permitted_mask() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("CapPrm:"))?;
            u64::from_str_radix(line["CapPrm:".len()..].trim(), 16).ok()
        })
        .unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn names_normalize() {
        assert_eq!(normalize("net_admin").as_deref(), Some("CAP_NET_ADMIN"));
        assert_eq!(normalize("CAP_KILL").as_deref(), Some("CAP_KILL"));
        assert_eq!(normalize("all").as_deref(), Some("ALL"));
        assert_eq!(normalize("bogus"), None);
    }

    #[test]
    fn the_table_is_numbered_like_the_kernel() {
        assert_eq!(ALL_CAPABILITIES[0], "CAP_CHOWN");
        assert_eq!(ALL_CAPABILITIES[21], "CAP_SYS_ADMIN");
        assert_eq!(ALL_CAPABILITIES[40], "CAP_CHECKPOINT_RESTORE");
        for d in DEFAULT_CAPABILITIES {
            assert!(ALL_CAPABILITIES.contains(&d), "{d}");
        }
    }

    #[test]
    fn sets_follow_docker_add_drop_rules() {
        let default = effective_set(false, &[], &[]);
        assert_eq!(default.len(), 14);
        let plus = effective_set(false, &s(&["CAP_NET_ADMIN"]), &s(&["CAP_KILL"]));
        assert!(plus.contains(&"CAP_NET_ADMIN".to_string()));
        assert!(!plus.contains(&"CAP_KILL".to_string()));
        assert_eq!(plus.len(), 14);
        assert_eq!(
            effective_set(false, &s(&["CAP_CHOWN"]), &s(&["ALL"])),
            s(&["CAP_CHOWN"])
        );
        assert!(effective_set(false, &[], &s(&["ALL"])).is_empty());
        let all = |_| true;
        assert_eq!(
            effective_set_within(false, &s(&["ALL"]), &[], all).len(),
            41
        );
        assert_eq!(effective_set_within(true, &[], &s(&["ALL"]), all).len(), 41);
    }

    #[test]
    fn privileged_grants_only_the_capabilities_hull_holds() {
        // CAP_SYS_RESOURCE (24) missing, as for root on some hosts: capset would refuse it.
        let held = |n| n != 24;
        let privileged = effective_set_within(true, &[], &[], held);
        assert_eq!(privileged.len(), 40);
        assert!(!privileged.contains(&"CAP_SYS_RESOURCE".to_string()));
        let add_all = effective_set_within(false, &s(&["ALL"]), &[], held);
        assert_eq!(add_all, privileged);
        // Named explicitly it is still asked for, and the runtime reports the failure.
        let named = effective_set_within(false, &s(&["CAP_SYS_RESOURCE"]), &[], held);
        assert!(named.contains(&"CAP_SYS_RESOURCE".to_string()));
    }
}
