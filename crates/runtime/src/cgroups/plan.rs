//! OCI `linux.resources` → the cgroup files to write, for v1 and for v2, as data. The mapping
//! follows runc's (libcontainer/cgroups/fs and fs2) so a spec means the same under both runtimes.
//! Device rules are not files on v2 and live in `devices.rs`.

use hull_oci::runtime::{Cpu, Memory, Resources};

use super::CgroupError;

/// One file write. `controller` is the v1 hierarchy it goes to (unused on v2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Write {
    pub controller: &'static str,
    pub file: String,
    pub value: String,
    /// The file only exists with swap accounting (`memory.memsw.*`, `memory.swap.max`).
    pub needs_swap_accounting: bool,
}

fn write(controller: &'static str, file: &str, value: impl ToString) -> Write {
    Write {
        controller,
        file: file.to_string(),
        value: value.to_string(),
        needs_swap_accounting: false,
    }
}

fn swap_write(controller: &'static str, file: &str, value: impl ToString) -> Write {
    Write {
        needs_swap_accounting: true,
        ..write(controller, file, value)
    }
}

/// The smallest page on the architectures we run on. A smaller memory limit rounds down to zero
/// pages, so the first allocation in the container would be an OOM kill; refuse it instead.
const MIN_MEMORY_LIMIT: i64 = 4096;

fn invalid(what: &'static str, reason: String) -> CgroupError {
    CgroupError::InvalidResource { what, reason }
}

/// Memory values in OCI: `0` means "not set", `-1` means "unlimited", anything else is bytes.
fn memory_value(v: i64, what: &'static str, unlimited: &str) -> Result<String, CgroupError> {
    match v {
        -1 => Ok(unlimited.to_string()),
        v if v < -1 => Err(invalid(what, format!("{v} is negative"))),
        v => Ok(v.to_string()),
    }
}

fn check_limit(m: &Memory) -> Result<(), CgroupError> {
    if let Some(limit) = m.limit.filter(|&l| l > 0 && l < MIN_MEMORY_LIMIT) {
        return Err(invalid(
            "memory.limit",
            format!("{limit} bytes is below one page ({MIN_MEMORY_LIMIT})"),
        ));
    }
    if let (Some(limit), Some(swap)) = (m.limit, m.swap) {
        if limit > 0 && swap > 0 && swap < limit {
            return Err(invalid(
                "memory.swap",
                format!("memory+swap {swap} is below the memory limit {limit}"),
            ));
        }
    }
    Ok(())
}

/// `0` means unset in OCI for the values below.
fn set(v: Option<i64>) -> Option<i64> {
    v.filter(|&v| v != 0)
}

fn v1_memory(m: &Memory, out: &mut Vec<Write>) -> Result<(), CgroupError> {
    check_limit(m)?;
    // Must come before memsw: the kernel keeps memsw >= limit, and a new cgroup has both
    // unlimited, so limit first then memsw always satisfies it.
    if let Some(limit) = set(m.limit) {
        let v = memory_value(limit, "memory.limit", "-1")?;
        out.push(write("memory", "memory.limit_in_bytes", v));
    }
    if let Some(swap) = set(m.swap) {
        let v = memory_value(swap, "memory.swap", "-1")?;
        out.push(swap_write("memory", "memory.memsw.limit_in_bytes", v));
    }
    if let Some(res) = set(m.reservation) {
        let v = memory_value(res, "memory.reservation", "-1")?;
        out.push(write("memory", "memory.soft_limit_in_bytes", v));
    }
    if let Some(sw) = m.swappiness {
        out.push(write("memory", "memory.swappiness", sw));
    }
    if m.disable_oom_killer == Some(true) {
        out.push(write("memory", "memory.oom_control", 1));
    }
    Ok(())
}

/// v2's swap file holds swap alone, where OCI (and docker's --memory-swap) give memory+swap.
fn v2_swap(m: &Memory) -> Result<Option<String>, CgroupError> {
    let Some(swap) = set(m.swap) else {
        return Ok(None);
    };
    if swap == -1 {
        return Ok(Some("max".into()));
    }
    match set(m.limit) {
        Some(limit) if limit > 0 => Ok(Some((swap - limit).to_string())),
        _ => Err(invalid(
            "memory.swap",
            "a swap limit needs a memory limit on cgroup v2 (memory.swap.max = swap - limit)"
                .into(),
        )),
    }
}

fn v2_memory(m: &Memory, out: &mut Vec<Write>) -> Result<(), CgroupError> {
    check_limit(m)?;
    if let Some(swap) = v2_swap(m)? {
        out.push(swap_write("memory", "memory.swap.max", swap));
    }
    if let Some(limit) = set(m.limit) {
        out.push(write(
            "memory",
            "memory.max",
            memory_value(limit, "memory.limit", "max")?,
        ));
    }
    if let Some(res) = set(m.reservation) {
        let v = memory_value(res, "memory.reservation", "max")?;
        out.push(write("memory", "memory.low", v));
    }
    if m.swappiness.is_some() || m.disable_oom_killer == Some(true) {
        // No v2 files for these; runc ignores them likewise rather than failing the container.
    }
    Ok(())
}

/// cgroup v1 cpu.shares (2..=262144, default 1024) → v2 cpu.weight (1..=10000, default 100):
/// the linear map of [2, 262144] onto [1, 10000], `1 + (shares - 2) * 9999 / 262142`.
pub(crate) fn shares_to_weight(shares: u64) -> u64 {
    let shares = shares.clamp(2, 262_144);
    1 + ((shares - 2) * 9999) / 262_142
}

/// CFS period used when only a quota is given: the kernel's own default, 100 ms.
const DEFAULT_CFS_PERIOD: u64 = 100_000;

fn v1_cpu(c: &Cpu, out: &mut Vec<Write>) {
    if let Some(shares) = c.shares.filter(|&s| s != 0) {
        out.push(write("cpu", "cpu.shares", shares));
    }
    // The period goes first: the kernel checks quota against the current period.
    if let Some(period) = c.period.filter(|&p| p != 0) {
        out.push(write("cpu", "cpu.cfs_period_us", period));
    }
    if let Some(quota) = set(c.quota) {
        out.push(write("cpu", "cpu.cfs_quota_us", quota.max(-1)));
    }
    cpuset(c, "cpuset", out);
}

fn v2_cpu(c: &Cpu, out: &mut Vec<Write>) {
    if let Some(shares) = c.shares.filter(|&s| s != 0) {
        out.push(write("cpu", "cpu.weight", shares_to_weight(shares)));
    }
    let quota = set(c.quota);
    let period = c.period.filter(|&p| p != 0);
    if quota.is_some() || period.is_some() {
        let quota = match quota {
            Some(q) if q > 0 => q.to_string(),
            _ => "max".to_string(),
        };
        let period = period.unwrap_or(DEFAULT_CFS_PERIOD);
        out.push(write("cpu", "cpu.max", format!("{quota} {period}")));
    }
    cpuset(c, "cpuset", out);
}

fn cpuset(c: &Cpu, controller: &'static str, out: &mut Vec<Write>) {
    if let Some(cpus) = c.cpus.as_deref().filter(|s| !s.is_empty()) {
        out.push(write(controller, "cpuset.cpus", cpus));
    }
    if let Some(mems) = c.mems.as_deref().filter(|s| !s.is_empty()) {
        out.push(write(controller, "cpuset.mems", mems));
    }
}

fn pids(r: &Resources, out: &mut Vec<Write>) {
    if let Some(p) = &r.pids {
        let v = if p.limit <= 0 {
            "max".to_string()
        } else {
            p.limit.to_string()
        };
        out.push(write("pids", "pids.max", v));
    }
}

fn unsupported(r: &Resources, v2: bool) -> Result<(), CgroupError> {
    let nope = |what: &'static str| Err(invalid(what, "not supported by hull yet".into()));
    if r.block_io.is_some() {
        return nope("blockIO");
    }
    if !r.hugepage_limits.is_empty() {
        return nope("hugepageLimits");
    }
    if !v2 && !r.unified.is_empty() {
        return Err(invalid(
            "unified",
            "needs cgroup v2, the host has v1".into(),
        ));
    }
    if let Some(c) = &r.cpu {
        if c.realtime_runtime.is_some() || c.realtime_period.is_some() {
            return nope("cpu.realtime");
        }
    }
    Ok(())
}

/// The v1 writes for `r`, in the order they must happen.
pub(crate) fn v1_writes(r: &Resources) -> Result<Vec<Write>, CgroupError> {
    unsupported(r, false)?;
    let mut out = Vec::new();
    if let Some(m) = &r.memory {
        v1_memory(m, &mut out)?;
    }
    if let Some(c) = &r.cpu {
        v1_cpu(c, &mut out);
    }
    pids(r, &mut out);
    Ok(out)
}

/// The v2 writes for `r`, in the order they must happen. `unified` entries come last so they
/// override the typed fields, as in runc.
pub(crate) fn v2_writes(r: &Resources) -> Result<Vec<Write>, CgroupError> {
    unsupported(r, true)?;
    let mut out = Vec::new();
    if let Some(m) = &r.memory {
        v2_memory(m, &mut out)?;
    }
    if let Some(c) = &r.cpu {
        v2_cpu(c, &mut out);
    }
    pids(r, &mut out);
    for (file, value) in &r.unified {
        if file.contains('/') || file.starts_with('.') || !file.contains('.') {
            return Err(invalid(
                "unified",
                format!("{file:?} is not a cgroup file name"),
            ));
        }
        out.push(write("", file, value));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hull_oci::runtime::Pids;

    fn files(w: &[Write]) -> Vec<(&str, &str)> {
        w.iter()
            .map(|w| (w.file.as_str(), w.value.as_str()))
            .collect()
    }

    fn mem(limit: i64, swap: Option<i64>) -> Resources {
        Resources {
            memory: Some(Memory {
                limit: Some(limit),
                swap,
                ..Memory::default()
            }),
            ..Resources::default()
        }
    }

    #[test]
    fn weight_conversion_table() {
        // (shares, weight): the ends of both ranges, docker's default, and clamping.
        for (shares, weight) in [
            (2, 1),
            (262_144, 10_000),
            (1024, 39),
            (512, 20),
            (1, 1),
            (1_000_000, 10_000),
        ] {
            assert_eq!(shares_to_weight(shares), weight, "shares {shares}");
        }
    }

    #[test]
    fn memory_and_swap_v1() {
        let w = v1_writes(&mem(32 << 20, Some(64 << 20))).unwrap();
        assert_eq!(
            files(&w),
            [
                ("memory.limit_in_bytes", "33554432"),
                ("memory.memsw.limit_in_bytes", "67108864")
            ]
        );
        assert!(w[1].needs_swap_accounting);
        let w = v1_writes(&mem(-1, Some(-1))).unwrap();
        assert_eq!(
            files(&w),
            [
                ("memory.limit_in_bytes", "-1"),
                ("memory.memsw.limit_in_bytes", "-1")
            ]
        );
    }

    #[test]
    fn memory_and_swap_v2() {
        let w = v2_writes(&mem(32 << 20, Some(64 << 20))).unwrap();
        assert_eq!(
            files(&w),
            [("memory.swap.max", "33554432"), ("memory.max", "33554432")]
        );
        let w = v2_writes(&mem(32 << 20, Some(-1))).unwrap();
        assert_eq!(
            files(&w),
            [("memory.swap.max", "max"), ("memory.max", "33554432")]
        );
        let w = v2_writes(&mem(-1, None)).unwrap();
        assert_eq!(files(&w), [("memory.max", "max")]);
        // swap == limit: no swap at all.
        let w = v2_writes(&mem(32 << 20, Some(32 << 20))).unwrap();
        assert_eq!(files(&w)[0], ("memory.swap.max", "0"));
    }

    #[test]
    fn impossible_memory_values_are_refused() {
        for r in [
            mem(1, None),
            mem(4095, None),
            mem(64 << 20, Some(32 << 20)),
            mem(-5, None),
        ] {
            assert!(v1_writes(&r).is_err(), "{r:?}");
            assert!(v2_writes(&r).is_err(), "{r:?}");
        }
        let swap_only = Resources {
            memory: Some(Memory {
                swap: Some(1 << 30),
                ..Memory::default()
            }),
            ..Resources::default()
        };
        assert!(v2_writes(&swap_only).is_err());
    }

    #[test]
    fn cpu_v1_and_v2() {
        let r = Resources {
            cpu: Some(Cpu {
                shares: Some(512),
                quota: Some(150_000),
                period: Some(100_000),
                cpus: Some("0-1".into()),
                mems: Some("0".into()),
                ..Cpu::default()
            }),
            ..Resources::default()
        };
        assert_eq!(
            files(&v1_writes(&r).unwrap()),
            [
                ("cpu.shares", "512"),
                ("cpu.cfs_period_us", "100000"),
                ("cpu.cfs_quota_us", "150000"),
                ("cpuset.cpus", "0-1"),
                ("cpuset.mems", "0"),
            ]
        );
        assert_eq!(
            files(&v2_writes(&r).unwrap()),
            [
                ("cpu.weight", "20"),
                ("cpu.max", "150000 100000"),
                ("cpuset.cpus", "0-1"),
                ("cpuset.mems", "0"),
            ]
        );
    }

    #[test]
    fn cpu_max_defaults() {
        let only_quota = Resources {
            cpu: Some(Cpu {
                quota: Some(50_000),
                ..Cpu::default()
            }),
            ..Resources::default()
        };
        assert_eq!(
            files(&v2_writes(&only_quota).unwrap()),
            [("cpu.max", "50000 100000")]
        );
        let only_period = Resources {
            cpu: Some(Cpu {
                period: Some(20_000),
                ..Cpu::default()
            }),
            ..Resources::default()
        };
        assert_eq!(
            files(&v2_writes(&only_period).unwrap()),
            [("cpu.max", "max 20000")]
        );
    }

    #[test]
    fn pids_limit() {
        for (limit, v) in [(100, "100"), (0, "max"), (-1, "max")] {
            let r = Resources {
                pids: Some(Pids { limit }),
                ..Resources::default()
            };
            assert_eq!(files(&v1_writes(&r).unwrap()), [("pids.max", v)]);
            assert_eq!(files(&v2_writes(&r).unwrap()), [("pids.max", v)]);
        }
    }

    #[test]
    fn unified_is_v2_only_and_checked() {
        let mut r = Resources::default();
        r.unified.insert("memory.high".into(), "1000000".into());
        assert_eq!(files(&v2_writes(&r).unwrap()), [("memory.high", "1000000")]);
        assert!(v1_writes(&r).is_err());
        r.unified.insert("../../etc.passwd".into(), "x".into());
        assert!(v2_writes(&r).is_err());
    }
}
