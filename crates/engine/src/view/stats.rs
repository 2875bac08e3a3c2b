//! `stats` rows: one container's usage between two samples, in numbers (Docker's formulas
//! applied). The front ends choose the units: `hull stats` prints `1.465MiB`, an API the bytes.

use serde::Serialize;

use crate::lifecycle::stats::{self, Sample};
use crate::state::Record;

/// One container's usage over the interval from `prev` to `cur`; all zero when it does not run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    pub id: String,
    pub name: String,
    pub running: bool,
    /// Of one CPU: a container busy on two cores reads 200.
    pub cpu_percent: f64,
    pub memory_usage: u64,
    pub memory_limit: u64,
    pub memory_percent: f64,
    pub net_rx: u64,
    pub net_tx: u64,
    pub block_read: u64,
    pub block_write: u64,
    pub pids: u64,
}

/// The row for `r` from two samples of it, `prev` taken before `cur`.
pub fn row(r: &Record, prev: &Sample, cur: &Sample) -> Row {
    let mut row = Row {
        id: r.id.clone(),
        name: r.name.clone(),
        running: cur.running,
        cpu_percent: 0.0,
        memory_usage: 0,
        memory_limit: 0,
        memory_percent: 0.0,
        net_rx: 0,
        net_tx: 0,
        block_read: 0,
        block_write: 0,
        pids: 0,
    };
    if !cur.running {
        return row;
    }
    let c = &cur.cgroup;
    row.cpu_percent = stats::cpu_percent(prev, cur);
    row.memory_usage = stats::memory_usage(c);
    row.memory_limit = stats::memory_limit(cur);
    row.memory_percent = stats::memory_percent(cur);
    (row.net_rx, row.net_tx) = cur.net;
    row.block_read = c.io_read_bytes.unwrap_or(0);
    row.block_write = c.io_write_bytes.unwrap_or(0);
    row.pids = c.pids_current.unwrap_or(0);
    row
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::RunOptions;
    use crate::state::record::test_record;
    use hull_runtime::cgroups::CgroupStats;

    fn record() -> Record {
        Record {
            command: vec!["top".into()],
            ..test_record(RunOptions::default())
        }
    }

    fn sample(cpu_ns: u64, system_ns: u64) -> Sample {
        Sample {
            running: true,
            cgroup: CgroupStats {
                cpu_usage_ns: Some(cpu_ns),
                memory_usage: Some(600),
                memory_inactive_file: Some(100),
                memory_limit: Some(1000),
                pids_current: Some(3),
                io_read_bytes: Some(7),
                io_write_bytes: Some(9),
                ..CgroupStats::default()
            },
            system_ns,
            online_cpus: 2,
            net: (11, 13),
            host_memory: 4000,
        }
    }

    #[test]
    fn a_row_applies_dockers_formulas() {
        let row = row(
            &record(),
            &sample(0, 0),
            &sample(500_000_000, 2_000_000_000),
        );
        assert_eq!((row.id.len(), row.name.as_str()), (64, "web"));
        assert!(row.running);
        assert!((row.cpu_percent - 50.0).abs() < 1e-9, "{}", row.cpu_percent);
        assert_eq!((row.memory_usage, row.memory_limit), (500, 1000));
        assert!((row.memory_percent - 50.0).abs() < 1e-9);
        assert_eq!((row.net_rx, row.net_tx), (11, 13));
        assert_eq!((row.block_read, row.block_write, row.pids), (7, 9, 3));
    }

    #[test]
    fn a_stopped_container_reads_all_zero() {
        let cur = Sample {
            running: false,
            ..sample(5, 10)
        };
        let row = row(&record(), &sample(0, 0), &cur);
        assert!(!row.running);
        assert_eq!(row.cpu_percent, 0.0);
        assert_eq!((row.memory_usage, row.memory_limit, row.pids), (0, 0, 0));
    }
}
