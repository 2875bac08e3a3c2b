//! The spec's names for scheduler policies and flags, I/O priority classes, memory policy modes
//! and flags, and execution domains, with the kernel's numbers (include/uapi/linux/sched.h,
//! ioprio.h, mempolicy.h, personality.h). `features` lists them from here.

/// process.scheduler.policy → SCHED_*. SCHED_ISO (4) is reserved: Linux never implemented it.
pub const SCHED_POLICIES: &[(&str, u32)] = &[
    ("SCHED_OTHER", 0),
    ("SCHED_FIFO", 1),
    ("SCHED_RR", 2),
    ("SCHED_BATCH", 3),
    ("SCHED_ISO", 4),
    ("SCHED_IDLE", 5),
    ("SCHED_DEADLINE", 6),
];

pub const SCHED_ISO: u32 = 4;
pub const SCHED_FIFO: u32 = 1;
pub const SCHED_RR: u32 = 2;
pub const SCHED_DEADLINE: u32 = 6;

/// process.scheduler.flags → SCHED_FLAG_*.
pub const SCHED_FLAGS: &[(&str, u64)] = &[
    ("SCHED_FLAG_RESET_ON_FORK", 0x01),
    ("SCHED_FLAG_RECLAIM", 0x02),
    ("SCHED_FLAG_DL_OVERRUN", 0x04),
    ("SCHED_FLAG_KEEP_POLICY", 0x08),
    ("SCHED_FLAG_KEEP_PARAMS", 0x10),
    ("SCHED_FLAG_UTIL_CLAMP_MIN", 0x20),
    ("SCHED_FLAG_UTIL_CLAMP_MAX", 0x40),
];

/// process.ioPriority.class → IOPRIO_CLASS_*.
pub const IOPRIO_CLASSES: &[(&str, u16)] = &[
    ("IOPRIO_CLASS_RT", 1),
    ("IOPRIO_CLASS_BE", 2),
    ("IOPRIO_CLASS_IDLE", 3),
];

/// linux.memoryPolicy.mode → MPOL_*.
pub const MPOL_MODES: &[(&str, i32)] = &[
    ("MPOL_DEFAULT", 0),
    ("MPOL_PREFERRED", 1),
    ("MPOL_BIND", 2),
    ("MPOL_INTERLEAVE", 3),
    ("MPOL_LOCAL", 4),
    ("MPOL_PREFERRED_MANY", 5),
    ("MPOL_WEIGHTED_INTERLEAVE", 6),
];

pub const MPOL_DEFAULT: i32 = 0;
pub const MPOL_PREFERRED: i32 = 1;
pub const MPOL_BIND: i32 = 2;
pub const MPOL_LOCAL: i32 = 4;
pub const MPOL_PREFERRED_MANY: i32 = 5;

/// linux.memoryPolicy.flags → MPOL_F_* (or'ed into the mode).
pub const MPOL_FLAGS: &[(&str, i32)] = &[
    ("MPOL_F_NUMA_BALANCING", 1 << 13),
    ("MPOL_F_RELATIVE_NODES", 1 << 14),
    ("MPOL_F_STATIC_NODES", 1 << 15),
];

pub const MPOL_F_NUMA_BALANCING: i32 = 1 << 13;
pub const MPOL_F_RELATIVE_NODES: i32 = 1 << 14;
pub const MPOL_F_STATIC_NODES: i32 = 1 << 15;

/// linux.personality.domain → PER_*.
pub const PERSONALITY_DOMAINS: &[(&str, u32)] = &[("LINUX", 0x0000), ("LINUX32", 0x0008)];

/// The number for `name` in `table`, or an error naming the field, the value and the choices.
pub fn lookup<T: Copy>(table: &[(&'static str, T)], field: &str, name: &str) -> Result<T, String> {
    if name.is_empty() {
        return Err(format!("{field} is required"));
    }
    table
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| *v)
        .ok_or_else(|| format!("{field} {name:?}: not one of {}", names(table).join(", ")))
}

/// The names of `table`, in order.
pub fn names<T>(table: &[(&'static str, T)]) -> Vec<&'static str> {
    table.iter().map(|(n, _)| *n).collect()
}

/// The name of `value` in `table`, for messages.
pub fn name_of<T: PartialEq>(table: &[(&'static str, T)], value: T) -> &'static str {
    table
        .iter()
        .find(|(_, v)| *v == value)
        .map_or("?", |(n, _)| n)
}
