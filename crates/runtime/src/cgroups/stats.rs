//! Usage figures for `hull stats`, from v1 or v2 files. Parsers are pure functions of text.

use std::path::Path;

use super::{read_optional, CgroupError};

/// One sample of a cgroup's usage. `None` means the figure is not available (controller not
/// mounted or not enabled); a `None` limit means unlimited.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct CgroupStats {
    /// Total CPU time of all tasks, in nanoseconds.
    pub cpu_usage_ns: Option<u64>,
    /// Memory charged to the cgroup, page cache included, in bytes.
    pub memory_usage: Option<u64>,
    pub memory_limit: Option<u64>,
    /// Inactive page cache; `docker stats` shows `memory_usage - memory_inactive_file`.
    pub memory_inactive_file: Option<u64>,
    pub pids_current: Option<u64>,
    pub pids_limit: Option<u64>,
    /// Bytes read from and written to block devices, summed over devices.
    pub io_read_bytes: Option<u64>,
    pub io_write_bytes: Option<u64>,
}

/// The value of `key` in a `key value` per line file (memory.events, memory.stat, cpu.stat).
pub(crate) fn keyed(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let (k, v) = line.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok()).flatten()
    })
}

fn number(text: Option<String>) -> Option<u64> {
    text?.trim().parse().ok()
}

/// v1 reports "unlimited" as the largest page-aligned i64 (9223372036854771712 with 4 KiB
/// pages); anything at or above 2^62 cannot be a real limit on this hardware.
fn v1_limit(text: Option<String>) -> Option<u64> {
    number(text).filter(|&v| v < 1 << 62)
}

/// "max" means unlimited in v2 files and in pids.max on both versions.
fn max_or_number(text: Option<String>) -> Option<u64> {
    number(text.filter(|t| t.trim() != "max"))
}

/// v2 io.stat: `8:0 rbytes=1 wbytes=2 rios=3 ...` per device.
pub(crate) fn v2_io(text: &str) -> (u64, u64) {
    let field = |line: &str, name: &str| -> u64 {
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('=')?.parse().ok())
            .unwrap_or(0)
    };
    text.lines().fold((0, 0), |(r, w), line| {
        (r + field(line, "rbytes"), w + field(line, "wbytes"))
    })
}

/// v1 blkio.throttle.io_service_bytes_recursive: `8:0 Read 123` per device and operation,
/// plus a `Total` line.
pub(crate) fn v1_io(text: &str) -> (u64, u64) {
    text.lines().fold((0, 0), |(r, w), line| {
        let mut f = line.split_whitespace();
        let (_dev, op) = (f.next(), f.next());
        let n: Option<u64> = f.next().and_then(|n| n.parse().ok());
        match (op, n) {
            (Some("Read"), Some(n)) => (r + n, w),
            (Some("Write"), Some(n)) => (r, w + n),
            _ => (r, w),
        }
    })
}

pub(crate) fn v2(dir: &Path) -> Result<CgroupStats, CgroupError> {
    let read = |file| read_optional(dir, file);
    let cpu = read("cpu.stat")?;
    let memory_stat = read("memory.stat")?;
    let io = read("io.stat")?.map(|t| v2_io(&t));
    Ok(CgroupStats {
        cpu_usage_ns: cpu
            .and_then(|t| keyed(&t, "usage_usec"))
            .map(|us| us * 1000),
        memory_usage: number(read("memory.current")?),
        memory_limit: max_or_number(read("memory.max")?),
        memory_inactive_file: memory_stat.and_then(|t| keyed(&t, "inactive_file")),
        pids_current: number(read("pids.current")?),
        pids_limit: max_or_number(read("pids.max")?),
        io_read_bytes: io.map(|(r, _)| r),
        io_write_bytes: io.map(|(_, w)| w),
    })
}

pub(crate) fn v1<'a>(dir: impl Fn(&str) -> Option<&'a Path>) -> Result<CgroupStats, CgroupError> {
    let read = |controller: &str, file: &str| match dir(controller) {
        Some(d) => read_optional(d, file),
        None => Ok(None),
    };
    let memory_stat = read("memory", "memory.stat")?;
    // The recursive file counts the children's I/O too; kernels without it have the plain one.
    let io = match read("blkio", "blkio.throttle.io_service_bytes_recursive")? {
        Some(t) => Some(t),
        None => read("blkio", "blkio.throttle.io_service_bytes")?,
    }
    .map(|t| v1_io(&t));
    Ok(CgroupStats {
        cpu_usage_ns: number(read("cpuacct", "cpuacct.usage")?),
        memory_usage: number(read("memory", "memory.usage_in_bytes")?),
        memory_limit: v1_limit(read("memory", "memory.limit_in_bytes")?),
        memory_inactive_file: memory_stat.and_then(|t| keyed(&t, "total_inactive_file")),
        pids_current: number(read("pids", "pids.current")?),
        pids_limit: max_or_number(read("pids", "pids.max")?),
        io_read_bytes: io.map(|(r, _)| r),
        io_write_bytes: io.map(|(_, w)| w),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyed_values() {
        let events = "low 0\nhigh 0\nmax 12\noom 2\noom_kill 1\noom_group_kill 0\n";
        assert_eq!(keyed(events, "oom_kill"), Some(1));
        assert_eq!(keyed(events, "oom"), Some(2));
        assert_eq!(keyed(events, "missing"), None);
        let v1 = "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n";
        assert_eq!(keyed(v1, "oom_kill"), Some(0));
    }

    #[test]
    fn io_parsers() {
        let v2 = "8:0 rbytes=4096 wbytes=100 rios=1 wios=1 dbytes=0 dios=0\n\
                  253:0 rbytes=1 wbytes=2 rios=1 wios=1\n";
        assert_eq!(v2_io(v2), (4097, 102));
        let v1 = "8:0 Read 4096\n8:0 Write 100\n8:0 Sync 0\n8:0 Total 4196\nTotal 4196\n";
        assert_eq!(v1_io(v1), (4096, 100));
    }

    #[test]
    fn limits() {
        assert_eq!(v1_limit(Some("9223372036854771712\n".into())), None);
        assert_eq!(v1_limit(Some("16777216\n".into())), Some(16 << 20));
        assert_eq!(max_or_number(Some("max\n".into())), None);
        assert_eq!(max_or_number(Some("64\n".into())), Some(64));
    }
}
