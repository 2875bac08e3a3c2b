//! The systemd cgroup driver (`hull-runtime --systemd-cgroup`), as runc has it: the container's
//! cgroup is a transient scope unit that systemd creates, with `Delegate=yes` and the limits as
//! unit properties; what systemd has no property for is written to the cgroupfs afterwards.
//!
//! This file is the pure part: the `slice:prefix:name` form of `linux.cgroupsPath`, where the
//! scope lands in the hierarchy, and OCI resources as unit properties. `bus.rs` talks to
//! systemd's D-Bus API.

mod bus;

use hull_oci::runtime::Resources;

pub use bus::Systemd;

use super::{plan, CgroupError};

/// The slice a scope goes to when the cgroups path names none (runc's default for root).
pub const DEFAULT_SLICE: &str = "system.slice";
/// The scope's prefix when the spec gives no cgroups path at all.
pub const DEFAULT_PREFIX: &str = "hull";

/// systemd's CPU quota granularity: CPUQuotaPerSecUSec is rounded up to 10 ms per second.
const QUOTA_STEP_USEC: u64 = 10_000;
const DEFAULT_CFS_PERIOD: u64 = 100_000;

/// A container's scope: the unit, the slice it goes in, and its cgroup path (from the root of
/// the unified hierarchy).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    pub unit: String,
    pub slice: String,
    pub cgroup_path: String,
}

impl Scope {
    /// Parses `linux.cgroupsPath` in systemd's form `slice:prefix:name` (None: the runtime's
    /// defaults). As runc: an empty slice is `system.slice`; an empty name is the container's
    /// id; the unit is `prefix-name.scope` (`name.scope` with no prefix).
    pub fn parse(cgroups_path: Option<&str>, id: &str) -> Result<Scope, CgroupError> {
        let given = cgroups_path.unwrap_or_default();
        let err = |reason: String| CgroupError::SystemdPath {
            path: given.to_string(),
            reason,
        };
        let (slice, prefix, name) = match cgroups_path {
            None | Some("") => (DEFAULT_SLICE, DEFAULT_PREFIX, id),
            Some(p) => match p.split(':').collect::<Vec<_>>()[..] {
                [slice, prefix, name] => (slice, prefix, name),
                _ => return Err(err("expected the form slice:prefix:name".into())),
            },
        };
        let slice = if slice.is_empty() {
            DEFAULT_SLICE
        } else {
            slice
        };
        let name = if name.is_empty() { id } else { name };
        if name.ends_with(".slice") {
            return Err(err(format!(
                "name {name:?}: a slice as the container's own unit is not supported"
            )));
        }
        for (what, part) in [("prefix", prefix), ("name", name)] {
            if part.contains('/') || part == "." || part == ".." {
                return Err(err(format!("{what} {part:?} must not be a path")));
            }
        }
        let unit = match prefix {
            "" => format!("{name}.scope"),
            p => format!("{p}-{name}.scope"),
        };
        let parent = expand_slice(slice).map_err(err)?;
        Ok(Scope {
            cgroup_path: format!("{}/{unit}", parent.trim_end_matches('/')),
            unit,
            slice: slice.to_string(),
        })
    }
}

/// A slice's cgroup path: each `-` opens a level, as systemd nests slices
/// (`a-b.slice` → `/a.slice/a-b.slice`); `-.slice` is the root.
pub fn expand_slice(slice: &str) -> Result<String, String> {
    let bad = || format!("slice {slice:?}: not a valid slice name");
    let base = slice.strip_suffix(".slice").ok_or_else(bad)?;
    if base == "-" {
        return Ok("/".into());
    }
    if base.is_empty() || slice.contains('/') {
        return Err(bad());
    }
    let mut path = String::new();
    let mut prefix = String::new();
    for part in base.split('-') {
        if part.is_empty() {
            return Err(bad());
        }
        prefix.push_str(part);
        path.push_str(&format!("/{prefix}.slice"));
        prefix.push('-');
    }
    Ok(path)
}

/// A unit property's value, as systemd's D-Bus API types it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prop {
    Bool(bool),
    U64(u64),
    Str(String),
    Bytes(Vec<u8>),
    Pids(Vec<u32>),
}

pub type Props = Vec<(&'static str, Prop)>;

/// The properties every container scope gets: its slice, delegation, its init, and accounting
/// on, so that systemd enables the controllers down to the scope.
pub fn scope_properties(scope: &Scope, id: &str, pid: u32) -> Props {
    vec![
        ("Description", Prop::Str(format!("hull container {id}"))),
        ("Slice", Prop::Str(scope.slice.clone())),
        ("Delegate", Prop::Bool(true)),
        ("PIDs", Prop::Pids(vec![pid])),
        ("MemoryAccounting", Prop::Bool(true)),
        ("CPUAccounting", Prop::Bool(true)),
        ("IOAccounting", Prop::Bool(true)),
        ("TasksAccounting", Prop::Bool(true)),
        ("DefaultDependencies", Prop::Bool(false)),
    ]
}

fn limit(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(u64::MAX)
}

/// `r` as unit properties, and the resources to write to the cgroupfs after: the same, with
/// the CPU quota rounded as systemd rounds it, so that both agree (runc does the same).
pub fn resource_properties(r: &Resources) -> Result<(Props, Resources), CgroupError> {
    let mut props = Props::new();
    let mut fs = r.clone();
    if let Some(m) = &r.memory {
        if let Some(v) = plan::set(m.limit) {
            props.push(("MemoryMax", Prop::U64(limit(v))));
        }
        if let Some(v) = plan::set(m.reservation) {
            props.push(("MemoryLow", Prop::U64(limit(v))));
        }
        if let Some(swap) = plan::v2_swap(m)? {
            props.push(("MemorySwapMax", Prop::U64(swap.parse().unwrap_or(u64::MAX))));
        }
    }
    if let Some(c) = &r.cpu {
        if let Some(shares) = c.shares.filter(|&s| s != 0) {
            props.push(("CPUWeight", Prop::U64(plan::shares_to_weight(shares))));
        }
        let quota = cpu_quota(c.quota, c.period, &mut props);
        if let (Some(q), Some(cpu)) = (quota, fs.cpu.as_mut()) {
            cpu.quota = Some(q);
        }
        for (prop, what, set) in [
            ("AllowedCPUs", "cpus", &c.cpus),
            ("AllowedMemoryNodes", "mems", &c.mems),
        ] {
            if let Some(list) = set.as_deref().filter(|s| !s.is_empty()) {
                let bits = range_to_bits(list).map_err(|reason| CgroupError::InvalidResource {
                    what: if what == "cpus" {
                        "cpu.cpus"
                    } else {
                        "cpu.mems"
                    },
                    reason,
                })?;
                props.push((prop, Prop::Bytes(bits)));
            }
        }
    }
    if let Some(p) = &r.pids {
        // systemd refuses TasksMax=0; runc asks for 1.
        let max = if p.limit < 0 {
            u64::MAX
        } else {
            limit(p.limit).max(1)
        };
        props.push(("TasksMax", Prop::U64(max)));
    }
    if let Some(w) = r
        .block_io
        .as_ref()
        .and_then(|b| b.weight)
        .filter(|&w| w != 0)
    {
        props.push(("IOWeight", Prop::U64(plan::blkio_to_io_weight(w))));
    }
    Ok((props, fs))
}

/// CPUQuotaPerSecUSec (and CPUQuotaPeriodUSec) for a quota and period; returns the quota
/// rounded to systemd's granularity, for the cgroupfs.
fn cpu_quota(quota: Option<i64>, period: Option<u64>, props: &mut Props) -> Option<i64> {
    let quota = quota.filter(|&q| q != 0);
    let period = period.filter(|&p| p != 0);
    if let Some(p) = period {
        props.push(("CPUQuotaPeriodUSec", Prop::U64(p)));
    }
    if quota.is_none() && period.is_none() {
        return None;
    }
    let Some(q) = quota.filter(|&q| q > 0) else {
        props.push(("CPUQuotaPerSecUSec", Prop::U64(u64::MAX)));
        return None;
    };
    let period = period.unwrap_or(DEFAULT_CFS_PERIOD);
    let mut per_sec = (q as u64).saturating_mul(1_000_000) / period;
    let mut rounded = q;
    if !per_sec.is_multiple_of(QUOTA_STEP_USEC) {
        per_sec = (per_sec / QUOTA_STEP_USEC + 1) * QUOTA_STEP_USEC;
        rounded = i64::try_from(per_sec.saturating_mul(period) / 1_000_000).unwrap_or(i64::MAX);
    }
    props.push(("CPUQuotaPerSecUSec", Prop::U64(per_sec)));
    Some(rounded)
}

/// A cpuset list (`0-2,7`) as systemd's bitmask: byte 0 holds CPUs 0-7, bit 0 first.
pub fn range_to_bits(list: &str) -> Result<Vec<u8>, String> {
    let num = |s: &str| {
        s.trim()
            .parse::<u32>()
            .map_err(|_| format!("{list:?}: {s:?} is not a number"))
    };
    let mut bits: Vec<u8> = Vec::new();
    for part in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (lo, hi) = match part.split_once('-') {
            Some((a, b)) => (num(a)?, num(b)?),
            None => (num(part)?, num(part)?),
        };
        if lo > hi || hi >= 1 << 16 {
            return Err(format!("{list:?}: bad range {part:?}"));
        }
        for i in lo..=hi {
            let byte = (i / 8) as usize;
            if bits.len() <= byte {
                bits.resize(byte + 1, 0);
            }
            bits[byte] |= 1 << (i % 8);
        }
    }
    if bits.is_empty() {
        return Err(format!("{list:?}: no CPU or node in the list"));
    }
    Ok(bits)
}

#[cfg(test)]
mod tests;
