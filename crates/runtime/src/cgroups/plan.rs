//! OCI `linux.resources` → the cgroup files to write, for v1 and for v2, as data. The mapping
//! follows runc's (libcontainer/cgroups/fs and fs2) so a spec means the same under both runtimes.
//! Device rules are not files on v2 and live in `devices.rs`.

use hull_oci::runtime::{BlockIo, Cpu, HugepageLimit, Memory, Network, Resources, ThrottleDevice};

use super::CgroupError;

/// One file write. `controller` is the v1 hierarchy it goes to (unused on v2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Write {
    pub controller: &'static str,
    pub file: String,
    pub value: String,
    /// What a missing file means (decided when applying, against the real directory).
    pub if_missing: IfMissing,
}

/// What to do when the file of a [`Write`] does not exist in the cgroup directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum IfMissing {
    /// A plain write error naming the file: the controller always has it.
    Fail,
    /// The file exists only with this kernel feature: an error names the knob and the feature.
    Feature(&'static str),
    /// Write this file and value instead: the BFQ weight files exist only while BFQ is loaded,
    /// otherwise the generic ones (as runc picks them). Neither there: the host lacks `feature`.
    Fallback {
        file: String,
        value: String,
        feature: &'static str,
    },
    /// `hugetlb.<size>.*` exists only for the page sizes the host has.
    HugepageSize(String),
}

/// The kernel features behind optional files, as a missing file's error names them.
pub(crate) mod feature {
    pub const SWAP: &str = "swap accounting, CONFIG_MEMCG_SWAP with swapaccount=1";
    pub const BFQ: &str = "BFQ I/O scheduler";
    pub const IO_WEIGHT: &str = "proportional I/O weights, the BFQ scheduler or blk-iocost";
    pub const CFQ_LEAF: &str = "CFQ leaf weights, gone with CFQ since Linux 5.0";
    pub const THROTTLE: &str = "block I/O throttling, CONFIG_BLK_DEV_THROTTLING";
    pub const RT: &str = "realtime group scheduling, CONFIG_RT_GROUP_SCHED";
    pub const CFS_BANDWIDTH: &str = "CFS bandwidth control, CONFIG_CFS_BANDWIDTH";
    pub const CPU_IDLE: &str = "cgroup SCHED_IDLE, Linux 5.15 or later";
}

fn write(controller: &'static str, file: &str, value: impl ToString) -> Write {
    Write {
        controller,
        file: file.to_string(),
        value: value.to_string(),
        if_missing: IfMissing::Fail,
    }
}

/// A write whose file exists only with the kernel feature `feature`.
fn needs(
    feature: &'static str,
    controller: &'static str,
    file: &str,
    value: impl ToString,
) -> Write {
    Write {
        if_missing: IfMissing::Feature(feature),
        ..write(controller, file, value)
    }
}

fn write_or(
    controller: &'static str,
    (file, value): (&str, String),
    (fallback, fallback_value): (&str, String),
    feature: &'static str,
) -> Write {
    Write {
        if_missing: IfMissing::Fallback {
            file: fallback.to_string(),
            value: fallback_value,
            feature,
        },
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

/// v1 keeps `memory.memsw.limit_in_bytes >= memory.limit_in_bytes` at every write, so raising
/// both past the current memory limit must write memory+swap first (`current` is the memory
/// limit now in place; the plan's own order, limit first, suits lowering and a new cgroup).
pub(crate) fn order_v1_swap(writes: &mut Vec<Write>, current: Option<i64>) {
    let at = |f: &str| writes.iter().position(|w| w.file == f);
    let (Some(limit), Some(swap)) = (
        at("memory.limit_in_bytes"),
        at("memory.memsw.limit_in_bytes"),
    ) else {
        return;
    };
    let new_swap: Option<i64> = writes[swap].value.parse().ok();
    let raise = match (new_swap, current) {
        (Some(-1), _) => true,
        (Some(s), Some(c)) => c < s,
        _ => false,
    };
    if raise && swap > limit {
        let w = writes.remove(swap);
        writes.insert(limit, w);
    }
}

/// `0` means unset in OCI for the values below.
pub(crate) fn set(v: Option<i64>) -> Option<i64> {
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
        out.push(needs(
            feature::SWAP,
            "memory",
            "memory.memsw.limit_in_bytes",
            v,
        ));
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
pub(crate) fn v2_swap(m: &Memory) -> Result<Option<String>, CgroupError> {
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
        out.push(needs(feature::SWAP, "memory", "memory.swap.max", swap));
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
    // swappiness and disableOOMKiller have no v2 files: see `ignored`.
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
        out.push(needs(
            feature::CFS_BANDWIDTH,
            "cpu",
            "cpu.cfs_period_us",
            period,
        ));
    }
    if let Some(quota) = set(c.quota) {
        out.push(needs(
            feature::CFS_BANDWIDTH,
            "cpu",
            "cpu.cfs_quota_us",
            quota.max(-1),
        ));
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
        let v = format!("{quota} {period}");
        out.push(needs(feature::CFS_BANDWIDTH, "cpu", "cpu.max", v));
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
    if !v2 && !r.unified.is_empty() {
        return Err(invalid(
            "unified",
            "needs cgroup v2, the host has v1".into(),
        ));
    }
    let realtime = r.cpu.as_ref().is_some_and(|c| {
        set(c.realtime_runtime).is_some() || c.realtime_period.is_some_and(|p| p != 0)
    });
    if v2 && realtime {
        return Err(invalid(
            "cpu.realtime",
            "cgroup v2 has no realtime group scheduling (cpu.rt_runtime_us, cpu.rt_period_us \
             are cgroup v1 files): leave them unset, or use a cgroup v1 host"
                .into(),
        ));
    }
    Ok(())
}

/// Fields the host's cgroup version cannot apply and that are skipped with a warning rather
/// than failing the container (as runc does): kernel memory limits (gone from the kernel),
/// and on v2 the v1-only memory knobs, leaf weights and net_cls/net_prio.
pub(crate) fn ignored(r: &Resources, v2: bool) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(m) = &r.memory {
        if set(m.kernel).is_some() {
            out.push("memory.kernel (kernel memory limits are not supported by the kernel)");
        }
        if set(m.kernel_tcp).is_some() {
            out.push("memory.kernelTCP (kernel memory limits are not supported by the kernel)");
        }
        if v2 && m.swappiness.is_some() {
            out.push("memory.swappiness (cgroup v2 has no per-cgroup swappiness)");
        }
        if v2 && m.disable_oom_killer == Some(true) {
            out.push("memory.disableOOMKiller (cgroup v2 has no memory.oom_control)");
        }
    }
    if let Some(b) = &r.block_io {
        let leaf = b.leaf_weight.is_some_and(|w| w != 0)
            || b.weight_device
                .iter()
                .any(|d| d.leaf_weight.is_some_and(|w| w != 0));
        if v2 && leaf {
            out.push("blockIO leaf weights (cgroup v2 has none)");
        }
    }
    if let Some(n) = &r.network {
        if v2 && (n.class_id.is_some() || !n.priorities.is_empty()) {
            out.push("network classID/priorities (cgroup v2 has no net_cls/net_prio)");
        }
    }
    out.into_iter().map(|w| format!("ignoring {w}")).collect()
}

fn weight_value(w: Option<u16>) -> Option<u16> {
    w.filter(|&w| w != 0)
}

/// blkio weight (10..=1000) → v2 io.weight (1..=10000), the linear map runc uses.
pub(crate) fn blkio_to_io_weight(weight: u16) -> u64 {
    let w = u64::from(weight.clamp(10, 1000));
    1 + (w - 10) * 9999 / 990
}

fn v1_block_io(b: &BlockIo, out: &mut Vec<Write>) {
    if let Some(w) = weight_value(b.weight) {
        let (v, fv) = (w.to_string(), w.to_string());
        out.push(write_or(
            "blkio",
            ("blkio.bfq.weight", v),
            ("blkio.weight", fv),
            feature::BFQ,
        ));
    }
    if let Some(w) = weight_value(b.leaf_weight) {
        out.push(needs(feature::CFQ_LEAF, "blkio", "blkio.leaf_weight", w));
    }
    for d in &b.weight_device {
        if let Some(w) = weight_value(d.weight) {
            let v = format!("{}:{} {w}", d.major, d.minor);
            let files = (
                ("blkio.bfq.weight_device", v.clone()),
                ("blkio.weight_device", v),
            );
            out.push(write_or("blkio", files.0, files.1, feature::BFQ));
        }
        if let Some(w) = weight_value(d.leaf_weight) {
            let v = format!("{}:{} {w}", d.major, d.minor);
            out.push(needs(
                feature::CFQ_LEAF,
                "blkio",
                "blkio.leaf_weight_device",
                v,
            ));
        }
    }
    let throttles: [(&str, &[ThrottleDevice]); 4] = [
        (
            "blkio.throttle.read_bps_device",
            &b.throttle_read_bps_device,
        ),
        (
            "blkio.throttle.write_bps_device",
            &b.throttle_write_bps_device,
        ),
        (
            "blkio.throttle.read_iops_device",
            &b.throttle_read_iops_device,
        ),
        (
            "blkio.throttle.write_iops_device",
            &b.throttle_write_iops_device,
        ),
    ];
    for (file, devices) in throttles {
        for d in devices {
            let v = format!("{}:{} {}", d.major, d.minor, d.rate);
            out.push(needs(feature::THROTTLE, "blkio", file, v));
        }
    }
}

fn v2_block_io(b: &BlockIo, out: &mut Vec<Write>) {
    if let Some(w) = weight_value(b.weight) {
        let io = blkio_to_io_weight(w).to_string();
        out.push(write_or(
            "io",
            ("io.bfq.weight", w.to_string()),
            ("io.weight", io),
            feature::IO_WEIGHT,
        ));
    }
    for d in &b.weight_device {
        if let Some(w) = weight_value(d.weight) {
            let dev = format!("{}:{}", d.major, d.minor);
            let bfq = format!("{dev} {w}");
            let io = format!("{dev} {}", blkio_to_io_weight(w));
            let files = (("io.bfq.weight", bfq), ("io.weight", io));
            out.push(write_or("io", files.0, files.1, feature::IO_WEIGHT));
        }
    }
    let throttles: [(&str, &[ThrottleDevice]); 4] = [
        ("rbps", &b.throttle_read_bps_device),
        ("wbps", &b.throttle_write_bps_device),
        ("riops", &b.throttle_read_iops_device),
        ("wiops", &b.throttle_write_iops_device),
    ];
    for (key, devices) in throttles {
        for d in devices {
            let v = format!("{}:{} {key}={}", d.major, d.minor, d.rate);
            out.push(needs(feature::THROTTLE, "io", "io.max", v));
        }
    }
}

/// `2MB`, `1GB`, `64KB`: the form the kernel uses in hugetlb file names.
fn check_page_size(size: &str) -> Result<(), CgroupError> {
    let digits = ["KB", "MB", "GB"]
        .iter()
        .find_map(|unit| size.strip_suffix(unit));
    let ok = digits.is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()));
    if ok {
        return Ok(());
    }
    Err(invalid(
        "hugepageLimits",
        format!("page size {size:?} is not of the form 2MB or 1GB"),
    ))
}

fn hugetlb(
    limits: &[HugepageLimit],
    suffix: &str,
    out: &mut Vec<Write>,
) -> Result<(), CgroupError> {
    for l in limits {
        check_page_size(&l.page_size)?;
        let file = format!("hugetlb.{}.{suffix}", l.page_size);
        out.push(Write {
            if_missing: IfMissing::HugepageSize(l.page_size.clone()),
            ..write("hugetlb", &file, l.limit)
        });
    }
    Ok(())
}

fn v1_network(n: &Network, out: &mut Vec<Write>) {
    if let Some(id) = n.class_id {
        out.push(write("net_cls", "net_cls.classid", id));
    }
    for p in &n.priorities {
        let v = format!("{} {}", p.name, p.priority);
        out.push(write("net_prio", "net_prio.ifpriomap", v));
    }
}

/// v1 realtime budget: the period goes first, as the kernel checks runtime against it.
fn v1_realtime(c: &Cpu, out: &mut Vec<Write>) {
    if let Some(period) = c.realtime_period.filter(|&p| p != 0) {
        out.push(needs(feature::RT, "cpu", "cpu.rt_period_us", period));
    }
    if let Some(runtime) = set(c.realtime_runtime) {
        out.push(needs(feature::RT, "cpu", "cpu.rt_runtime_us", runtime));
    }
}

fn cpu_idle(c: &Cpu, out: &mut Vec<Write>) {
    if let Some(idle) = c.idle {
        out.push(needs(feature::CPU_IDLE, "cpu", "cpu.idle", idle));
    }
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
        v1_realtime(c, &mut out);
        cpu_idle(c, &mut out);
    }
    pids(r, &mut out);
    if let Some(b) = &r.block_io {
        v1_block_io(b, &mut out);
    }
    hugetlb(&r.hugepage_limits, "limit_in_bytes", &mut out)?;
    if let Some(n) = &r.network {
        v1_network(n, &mut out);
    }
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
        cpu_idle(c, &mut out);
    }
    pids(r, &mut out);
    if let Some(b) = &r.block_io {
        v2_block_io(b, &mut out);
    }
    hugetlb(&r.hugepage_limits, "max", &mut out)?;
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
        assert_eq!(w[1].if_missing, IfMissing::Feature(feature::SWAP));
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
    fn v1_update_raises_swap_before_memory() {
        let plan = |current| {
            let mut w = v1_writes(&mem(256 << 20, Some(512 << 20))).unwrap();
            order_v1_swap(&mut w, current);
            w.into_iter().map(|w| w.file).collect::<Vec<_>>()
        };
        let swap_first = ["memory.memsw.limit_in_bytes", "memory.limit_in_bytes"];
        assert_eq!(plan(Some(64 << 20)), swap_first);
        assert_eq!(plan(Some(1 << 30)), [swap_first[1], swap_first[0]]);
        assert_eq!(plan(None), [swap_first[1], swap_first[0]]);
        let mut w = v1_writes(&mem(-1, Some(-1))).unwrap();
        order_v1_swap(&mut w, Some(1 << 30));
        assert_eq!(w[0].file, swap_first[0]);
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
