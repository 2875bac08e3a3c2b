//! Docker's default process security as data: the capability set, masked and read-only paths,
//! and the default seccomp profile (with Docker-format profile parsing).

mod default_profile;
mod profile;

pub use default_profile::CLONE_NS_FLAGS;
pub use profile::{
    parse_docker_profile, resolve, ArchMap, Condition, DockerProfile, DockerSyscall, Host,
    ProfileError,
};

/// Docker's default seccomp profile as the OCI section for a container whose bounding set holds
/// `caps`, on this machine (architecture and kernel version decide some rules).
pub fn default_seccomp(caps: &[String]) -> hull_oci::runtime::Seccomp {
    resolve(&default_profile(), &Host::current(caps))
        .expect("the built-in profile is well-formed (tested)")
}

/// Docker's default seccomp profile in Docker's format, unevaluated (what `docker` ships as
/// default.json).
pub fn default_profile() -> DockerProfile {
    default_profile::profile()
}

/// Docker's 14 default capabilities.
pub const DEFAULT_CAPABILITIES: [&str; 14] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

/// Masked: unreadable (a file gets /dev/null bound over it, a directory an empty read-only tmpfs).
pub const MASKED_PATHS: [&str; 12] = [
    "/proc/acpi",
    "/proc/asound",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

pub const READONLY_PATHS: [&str; 5] = [
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

#[cfg(test)]
mod tests;
