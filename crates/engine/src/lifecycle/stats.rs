//! `hull stats`: one sample of a container's usage (its cgroup, plus the host figures Docker's
//! formulas need), and those formulas.

use std::fs;

use hull_runtime::cgroups::CgroupStats;

use crate::engine::rt_err;
use crate::run::NetworkMode;
use crate::state::Record;
use crate::{Engine, EngineError};

/// /proc/stat counts in USER_HZ ticks, fixed at 100 for user space (see `top.rs`).
const NS_PER_TICK: u64 = 1_000_000_000 / 100;

/// One reading, taken at one moment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sample {
    /// False for a container that does not run: every figure is zero, as in `docker stats`.
    pub running: bool,
    pub cgroup: CgroupStats,
    /// The host's total CPU time (all CPUs, idle included), in nanoseconds.
    pub system_ns: u64,
    pub online_cpus: u32,
    /// Bytes received and sent on the container's interfaces (loopback excluded).
    pub net: (u64, u64),
    /// MemTotal, shown as the limit when the container has none.
    pub host_memory: u64,
}

/// Docker's system CPU usage: the first seven fields of the `cpu` line (user, nice, system,
/// idle, iowait, irq, softirq), in nanoseconds.
pub fn system_cpu_ns(proc_stat: &str) -> Option<u64> {
    let line = proc_stat.lines().find(|l| l.starts_with("cpu "))?;
    let ticks: u64 = line
        .split_whitespace()
        .skip(1)
        .take(7)
        .filter_map(|f| f.parse::<u64>().ok())
        .sum();
    Some(ticks * NS_PER_TICK)
}

/// The number of `cpuN` lines in /proc/stat: the CPUs online.
pub fn online_cpus(proc_stat: &str) -> u32 {
    let n = proc_stat
        .lines()
        .filter(|l| l.starts_with("cpu") && l.as_bytes().get(3).is_some_and(u8::is_ascii_digit))
        .count();
    u32::try_from(n).unwrap_or(1).max(1)
}

/// Received and transmitted bytes over every interface of /proc/PID/net/dev but `lo`.
pub fn net_dev(text: &str) -> (u64, u64) {
    text.lines()
        .filter_map(|l| l.split_once(':'))
        .filter(|(name, _)| name.trim() != "lo")
        .fold((0, 0), |(rx, tx), (_, rest)| {
            let f: Vec<u64> = rest
                .split_whitespace()
                .filter_map(|x| x.parse().ok())
                .collect();
            (
                rx + f.first().copied().unwrap_or(0),
                tx + f.get(8).copied().unwrap_or(0),
            )
        })
}

/// MemTotal from /proc/meminfo, in bytes.
pub fn mem_total(meminfo: &str) -> u64 {
    meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// Docker's CPU %: the container's share of the host's CPU time between two samples, scaled by
/// the number of CPUs (so one busy core on a 2-CPU host reads 100%).
pub fn cpu_percent(prev: &Sample, cur: &Sample) -> f64 {
    let (Some(a), Some(b)) = (prev.cgroup.cpu_usage_ns, cur.cgroup.cpu_usage_ns) else {
        return 0.0;
    };
    let cpu = b.saturating_sub(a) as f64;
    let system = cur.system_ns.saturating_sub(prev.system_ns) as f64;
    if cpu <= 0.0 || system <= 0.0 {
        return 0.0;
    }
    cpu / system * f64::from(cur.online_cpus) * 100.0
}

/// Docker's memory usage: the charge minus the inactive page cache, which the kernel can drop.
pub fn memory_usage(s: &CgroupStats) -> u64 {
    let usage = s.memory_usage.unwrap_or(0);
    match s.memory_inactive_file {
        Some(inactive) if inactive < usage => usage - inactive,
        _ => usage,
    }
}

/// The limit shown: the cgroup's, or the host's memory when unlimited (or above it).
pub fn memory_limit(sample: &Sample) -> u64 {
    match sample.cgroup.memory_limit {
        Some(l) if sample.host_memory == 0 || l < sample.host_memory => l,
        _ => sample.host_memory,
    }
}

pub fn memory_percent(sample: &Sample) -> f64 {
    match memory_limit(sample) {
        0 => 0.0,
        limit => memory_usage(&sample.cgroup) as f64 / limit as f64 * 100.0,
    }
}

impl Engine {
    /// One sample of `record`'s usage; a container that does not run gives zeros.
    pub fn stats_sample(&self, record: &Record) -> Result<Sample, EngineError> {
        let proc_stat = fs::read_to_string("/proc/stat").unwrap_or_default();
        let mut sample = Sample {
            system_ns: system_cpu_ns(&proc_stat).unwrap_or(0),
            online_cpus: online_cpus(&proc_stat),
            host_memory: mem_total(&fs::read_to_string("/proc/meminfo").unwrap_or_default()),
            ..Sample::default()
        };
        let id = record.id.as_str();
        if !self.containers.is_alive(id) {
            return Ok(sample);
        }
        let cgroup = match self.runtime()?.cgroup(id) {
            Ok(cg) => cg,
            // Exited between the check and now.
            Err(hull_runtime::RuntimeError::NotFound { .. }) => return Ok(sample),
            Err(e) => return Err(rt_err(id, "open cgroup of")(e)),
        };
        sample.cgroup = cgroup.stats().map_err(|source| {
            rt_err(id, "read stats of")(hull_runtime::RuntimeError::Cgroup {
                id: id.to_string(),
                source,
            })
        })?;
        sample.running = true;
        if record.config.network != NetworkMode::Host {
            if let Some(pid) = record.state.pid {
                let text = fs::read_to_string(format!("/proc/{pid}/net/dev")).unwrap_or_default();
                sample.net = net_dev(&text);
            }
        }
        Ok(sample)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROC_STAT: &str = "cpu  100 5 50 800 10 1 2 7 0 0\ncpu0 50 2 25 400 5 1 1 3 0 0\n\
                             cpu1 50 3 25 400 5 0 1 4 0 0\nintr 1\nbtime 1\n";

    #[test]
    fn host_figures_parse() {
        assert_eq!(system_cpu_ns(PROC_STAT), Some(968 * 10_000_000));
        assert_eq!(online_cpus(PROC_STAT), 2);
        assert_eq!(
            mem_total("MemTotal:       2048 kB\nMemFree: 1 kB\n"),
            2 << 20
        );
        let net = "Inter-|   Receive    |  Transmit\n face |bytes packets errs drop fifo frame compressed multicast|bytes\n\
                   lo: 500 5 0 0 0 0 0 0 500 5 0 0 0 0 0 0\n\
                 eth0: 1000 10 0 0 0 0 0 0 2000 20 0 0 0 0 0 0\n";
        assert_eq!(net_dev(net), (1000, 2000));
    }

    fn sample(cpu_ns: u64, system_ns: u64) -> Sample {
        Sample {
            running: true,
            cgroup: CgroupStats {
                cpu_usage_ns: Some(cpu_ns),
                ..CgroupStats::default()
            },
            system_ns,
            online_cpus: 2,
            ..Sample::default()
        }
    }

    #[test]
    fn cpu_percent_is_dockers_formula() {
        // One core busy for the whole interval on a 2-CPU host: 1s of 2s of system time.
        let p = cpu_percent(&sample(0, 0), &sample(1_000_000_000, 2_000_000_000));
        assert!((p - 100.0).abs() < 1e-9, "{p}");
        assert_eq!(cpu_percent(&sample(5, 10), &sample(5, 20)), 0.0);
        assert_eq!(cpu_percent(&Sample::default(), &sample(5, 20)), 0.0);
    }

    #[test]
    fn memory_subtracts_inactive_file_and_caps_the_limit() {
        let mut s = Sample {
            host_memory: 1000,
            ..Sample::default()
        };
        s.cgroup.memory_usage = Some(300);
        s.cgroup.memory_inactive_file = Some(100);
        assert_eq!(memory_usage(&s.cgroup), 200);
        assert_eq!(memory_limit(&s), 1000, "unlimited shows the host's memory");
        assert!((memory_percent(&s) - 20.0).abs() < 1e-9);
        s.cgroup.memory_limit = Some(400);
        assert_eq!(memory_limit(&s), 400);
        s.cgroup.memory_inactive_file = Some(500);
        assert_eq!(memory_usage(&s.cgroup), 300, "never below zero");
    }
}
