//! Capability names and their numbers, and applying the five OCI capability sets.
//!
//! Lifecycle: [`unavailable`] and [`validate`] in the parent (before fork, so what cannot be
//! applied is reported by `create`, as runc reports it), then [`apply`] in init, after the uid switch (which must keep capabilities: PR_SET_KEEPCAPS) and
//! after the seccomp filter is loaded when no_new_privs is off (loading needs CAP_SYS_ADMIN).

use std::io;

use hull_oci::runtime::Capabilities;
use rustix::thread::{CapabilitySet, CapabilitySets};

#[derive(Debug, thiserror::Error)]
pub enum CapsError {
    #[error(
        "inheritable capability {0} is not in the bounding set, so capset(2) would fail with \
         EPERM (Operation not permitted)"
    )]
    InheritableNotBounding(String),
    #[error("read the runtime's own capabilities (capget)")]
    Capget(#[source] io::Error),
    #[error("drop capability {name} from the bounding set")]
    DropBounding {
        name: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("set effective, permitted and inheritable capabilities (capset)")]
    Capset(#[source] io::Error),
    #[error("clear the ambient capability set")]
    ClearAmbient(#[source] io::Error),
    #[error("raise ambient capability {name}")]
    RaiseAmbient {
        name: &'static str,
        #[source]
        source: io::Error,
    },
}

/// Every capability name, at its number (`include/uapi/linux/capability.h`).
const NAMES: [&str; 41] = [
    "CAP_CHOWN",              // 0
    "CAP_DAC_OVERRIDE",       // 1
    "CAP_DAC_READ_SEARCH",    // 2
    "CAP_FOWNER",             // 3
    "CAP_FSETID",             // 4
    "CAP_KILL",               // 5
    "CAP_SETGID",             // 6
    "CAP_SETUID",             // 7
    "CAP_SETPCAP",            // 8
    "CAP_LINUX_IMMUTABLE",    // 9
    "CAP_NET_BIND_SERVICE",   // 10
    "CAP_NET_BROADCAST",      // 11
    "CAP_NET_ADMIN",          // 12
    "CAP_NET_RAW",            // 13
    "CAP_IPC_LOCK",           // 14
    "CAP_IPC_OWNER",          // 15
    "CAP_SYS_MODULE",         // 16
    "CAP_SYS_RAWIO",          // 17
    "CAP_SYS_CHROOT",         // 18
    "CAP_SYS_PTRACE",         // 19
    "CAP_SYS_PACCT",          // 20
    "CAP_SYS_ADMIN",          // 21
    "CAP_SYS_BOOT",           // 22
    "CAP_SYS_NICE",           // 23
    "CAP_SYS_RESOURCE",       // 24
    "CAP_SYS_TIME",           // 25
    "CAP_SYS_TTY_CONFIG",     // 26
    "CAP_MKNOD",              // 27
    "CAP_LEASE",              // 28
    "CAP_AUDIT_WRITE",        // 29
    "CAP_AUDIT_CONTROL",      // 30
    "CAP_SETFCAP",            // 31
    "CAP_MAC_OVERRIDE",       // 32
    "CAP_MAC_ADMIN",          // 33
    "CAP_SYSLOG",             // 34
    "CAP_WAKE_ALARM",         // 35
    "CAP_BLOCK_SUSPEND",      // 36
    "CAP_AUDIT_READ",         // 37
    "CAP_PERFMON",            // 38
    "CAP_BPF",                // 39
    "CAP_CHECKPOINT_RESTORE", // 40
];

/// The capability number of a name like `CAP_CHOWN`, `chown` or `Cap_Chown`.
pub fn from_name(name: &str) -> Option<u32> {
    let upper = name.trim().to_ascii_uppercase();
    let full = if upper.starts_with("CAP_") {
        upper
    } else {
        format!("CAP_{upper}")
    };
    NAMES.iter().position(|n| *n == full).map(|i| i as u32)
}

/// The `CAP_*` name of a capability number.
pub fn name_of(cap: u32) -> Option<&'static str> {
    NAMES.get(cap as usize).copied()
}

/// The highest capability the running kernel knows (`/proc/sys/kernel/cap_last_cap`), or the
/// highest in hull's table when that file cannot be read (no /proc).
pub fn last_cap() -> u32 {
    let table_last = (NAMES.len() - 1) as u32;
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok())
        .map_or(table_last, |k| k.min(table_last))
}

/// Every capability the running kernel knows, as `CAP_*` names (what `--privileged` grants).
pub fn all() -> Vec<&'static str> {
    NAMES[..=last_cap() as usize].to_vec()
}

/// The names in the sets that the running kernel has no capability for (unknown, or past its
/// last), sorted, once each. runc ignores them with a warning ("ignoring unknown or
/// unavailable capabilities"), and clients rely on that: hull does the same (see [`without`]).
pub fn unavailable(caps: &Capabilities) -> Vec<String> {
    let last = last_cap();
    let mut names: Vec<String> = sets(caps)
        .into_iter()
        .flatten()
        .filter(|n| from_name(n).is_none_or(|c| c > last))
        .cloned()
        .collect();
    names.sort();
    names.dedup();
    names
}

/// Removes `names` from every set.
pub fn without(caps: &mut Capabilities, names: &[String]) {
    for set in [
        &mut caps.bounding,
        &mut caps.effective,
        &mut caps.inheritable,
        &mut caps.permitted,
        &mut caps.ambient,
    ] {
        set.retain(|n| !names.contains(n));
    }
}

/// Checks, before the fork, what the kernel would refuse when init applies the sets, so that
/// `create` fails as runc's does (runc applies them before it reports the container created):
/// capset(2) takes an inheritable capability only from the bounding set (which init has
/// dropped to `bounding` by then) or the inheritable set init already has, the runtime's own.
pub fn validate(caps: &Capabilities) -> Result<(), CapsError> {
    let own = rustix::thread::capabilities(None)
        .map_err(|e| CapsError::Capget(e.into()))?
        .inheritable
        .bits();
    let allowed = mask(&caps.bounding) | own;
    match caps
        .inheritable
        .iter()
        .find(|n| from_name(n).is_some_and(|c| allowed & (1 << c) == 0))
    {
        Some(name) => Err(CapsError::InheritableNotBounding(name.clone())),
        None => Ok(()),
    }
}

/// Applies all five sets: [`apply_bounding`] then [`apply_sets`]. For a process that also
/// switches uid, call the two halves around the switch instead (see their docs).
pub fn apply(caps: &Capabilities) -> Result<(), CapsError> {
    apply_bounding(caps)?;
    apply_sets(caps)
}

/// Drops from the bounding set every capability not listed. Must happen before a switch to a
/// non-root uid, because dropping needs CAP_SETPCAP in the effective set, which the switch clears.
pub fn apply_bounding(caps: &Capabilities) -> Result<(), CapsError> {
    drop_bounding(mask(&caps.bounding))
}

/// Sets inheritable, permitted and effective with capset, then the ambient set. After a uid
/// switch this works only if the switch kept the permitted set (PR_SET_KEEPCAPS).
pub fn apply_sets(caps: &Capabilities) -> Result<(), CapsError> {
    set_sets(caps)?;
    // Must happen after capset because a capability can only be raised in the ambient set when
    // it is already permitted and inheritable.
    set_ambient(mask(&caps.ambient))
}

fn sets(caps: &Capabilities) -> [&Vec<String>; 5] {
    [
        &caps.bounding,
        &caps.effective,
        &caps.inheritable,
        &caps.permitted,
        &caps.ambient,
    ]
}

/// The bit mask of the named capabilities (bit n = capability n).
fn mask(names: &[String]) -> u64 {
    names
        .iter()
        .filter_map(|n| from_name(n))
        .fold(0, |m, cap| m | 1 << cap)
}

fn single(cap: u32) -> CapabilitySet {
    CapabilitySet::from_bits_retain(1 << cap)
}

/// Drops every capability not in `keep` from the bounding set. It walks hull's table rather than
/// reading /proc (which may not be mounted where init runs); the kernel answers EINVAL for a
/// capability it does not know, and the ones after it are unknown too.
fn drop_bounding(keep: u64) -> Result<(), CapsError> {
    for cap in (0..NAMES.len() as u32).filter(|c| keep & (1 << c) == 0) {
        match rustix::thread::remove_capability_from_bounding_set(single(cap)) {
            Ok(()) => {}
            Err(rustix::io::Errno::INVAL) => break,
            Err(e) => {
                return Err(CapsError::DropBounding {
                    name: NAMES[cap as usize],
                    source: e.into(),
                })
            }
        }
    }
    Ok(())
}

fn set_sets(caps: &Capabilities) -> Result<(), CapsError> {
    let sets = CapabilitySets {
        effective: CapabilitySet::from_bits_retain(mask(&caps.effective)),
        permitted: CapabilitySet::from_bits_retain(mask(&caps.permitted)),
        inheritable: CapabilitySet::from_bits_retain(mask(&caps.inheritable)),
    };
    rustix::thread::set_capabilities(None, sets).map_err(|e| CapsError::Capset(e.into()))
}

fn set_ambient(raise: u64) -> Result<(), CapsError> {
    rustix::thread::clear_ambient_capability_set()
        .map_err(|e| CapsError::ClearAmbient(e.into()))?;
    for cap in (0..NAMES.len() as u32).filter(|c| raise & (1 << c) != 0) {
        rustix::thread::configure_capability_in_ambient_set(single(cap), true).map_err(|e| {
            CapsError::RaiseAmbient {
                name: NAMES[cap as usize],
                source: e.into(),
            }
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_numbers_match_the_kernel_header() {
        assert_eq!(from_name("CAP_CHOWN"), Some(0));
        assert_eq!(from_name("CAP_NET_RAW"), Some(13));
        assert_eq!(from_name("CAP_SYS_ADMIN"), Some(21));
        assert_eq!(from_name("CAP_AUDIT_WRITE"), Some(29));
        assert_eq!(from_name("CAP_SETFCAP"), Some(31));
        assert_eq!(from_name("CAP_BPF"), Some(39));
        assert_eq!(from_name("CAP_CHECKPOINT_RESTORE"), Some(40));
        // The table agrees with rustix's constants (from the kernel's uapi header).
        assert_eq!(single(21), CapabilitySet::SYS_ADMIN);
        assert_eq!(single(38), CapabilitySet::PERFMON);
        assert_eq!(single(40), CapabilitySet::CHECKPOINT_RESTORE);
        for (i, n) in NAMES.iter().enumerate() {
            assert_eq!(from_name(n), Some(i as u32));
            assert_eq!(name_of(i as u32), Some(*n));
        }
    }

    #[test]
    fn from_name_accepts_short_and_any_case() {
        assert_eq!(from_name("chown"), Some(0));
        assert_eq!(from_name("Sys_Admin"), Some(21));
        assert_eq!(from_name("cap_net_admin"), Some(12));
        assert_eq!(from_name("NET_BIND_SERVICE"), Some(10));
        assert_eq!(from_name("CAP_NOPE"), None);
        assert_eq!(from_name(""), None);
        assert_eq!(from_name("CAP_"), None);
    }

    #[test]
    fn all_is_bounded_by_the_running_kernel() {
        let all = all();
        assert_eq!(all[0], "CAP_CHOWN");
        assert_eq!(all.len() as u32, last_cap() + 1);
        // Every kernel hull supports (5.x+) knows at least up to CAP_AUDIT_READ.
        assert!(all.contains(&"CAP_AUDIT_READ"));
    }

    #[test]
    fn unavailable_names_are_listed_once_and_removed() {
        let mut caps = Capabilities {
            bounding: vec!["CAP_CHOWN".into(), "CAP_FLY".into(), "kill".into()],
            effective: vec!["CAP_FLY".into(), "CAP_BARK".into()],
            ..Default::default()
        };
        let bad = unavailable(&caps);
        assert_eq!(bad, ["CAP_BARK", "CAP_FLY"]);
        without(&mut caps, &bad);
        assert_eq!(caps.bounding, ["CAP_CHOWN", "kill"]);
        assert!(caps.effective.is_empty());
        assert!(unavailable(&caps).is_empty());
    }

    #[test]
    fn an_inheritable_capability_must_be_in_the_bounding_set() {
        let own = rustix::thread::capabilities(None).unwrap().inheritable;
        if own.contains(CapabilitySet::SYS_ADMIN) {
            println!("skipped: inheritable check (this process has CAP_SYS_ADMIN inheritable)");
            return;
        }
        let ok = Capabilities {
            bounding: vec!["CAP_SYS_ADMIN".into()],
            inheritable: vec!["CAP_SYS_ADMIN".into()],
            ..Default::default()
        };
        validate(&ok).unwrap();
        let bad = Capabilities {
            effective: vec!["CAP_SYS_ADMIN".into()],
            inheritable: vec!["CAP_SYS_ADMIN".into()],
            ..Default::default()
        };
        let err = validate(&bad).unwrap_err().to_string();
        assert!(err.contains("CAP_SYS_ADMIN"), "{err}");
        assert!(err.contains("Operation not permitted"), "{err}");
    }

    #[test]
    fn mask_sets_one_bit_per_capability() {
        assert_eq!(mask(&["CAP_CHOWN".into(), "kill".into()]), 1 | 1 << 5);
        assert_eq!(mask(&[]), 0);
    }
}
