//! `stats` rows: one container's usage between two samples, in numbers (Docker's formulas
//! applied). The front ends choose the units: `hull stats` prints `1.465MiB`, an API the bytes.

use serde::Serialize;
use serde_json::{json, Value};

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

/// The CPU half of Docker's stats document for one sample.
fn cpu_stats(s: &Sample) -> Value {
    json!({
        "cpu_usage": {
            "total_usage": s.cgroup.cpu_usage_ns.unwrap_or(0),
            "usage_in_kernelmode": 0,
            "usage_in_usermode": 0,
        },
        "system_cpu_usage": s.system_ns,
        "online_cpus": s.online_cpus,
        "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0},
    })
}

/// Docker's `ContainerStats` document (the API's `/containers/{id}/stats`): `cur` with `prev`
/// as its `precpu_stats`, read at the RFC 3339 times given. The memory figures are the
/// cgroup's own (usage with the page cache, and `inactive_file` beside it), from which
/// clients compute what `docker stats` shows; a container that does not run reads all zero.
pub fn document(r: &Record, prev: &Sample, cur: &Sample, read: &str, preread: &str) -> Value {
    let c = &cur.cgroup;
    let inactive = c.memory_inactive_file.unwrap_or(0);
    let blk = |op: &str, v: Option<u64>| json!({"major": 0, "minor": 0, "op": op, "value": v.unwrap_or(0)});
    let (rx, tx) = cur.net;
    json!({
        "name": format!("/{}", r.name),
        "id": r.id,
        "read": read,
        "preread": preread,
        "num_procs": 0,
        "pids_stats": {"current": c.pids_current.unwrap_or(0), "limit": c.pids_limit},
        "blkio_stats": {
            "io_service_bytes_recursive": [blk("read", c.io_read_bytes), blk("write", c.io_write_bytes)],
        },
        "storage_stats": {},
        "cpu_stats": cpu_stats(cur),
        "precpu_stats": cpu_stats(prev),
        "memory_stats": if cur.running {
            json!({
                "usage": c.memory_usage.unwrap_or(0),
                "limit": stats::memory_limit(cur),
                "stats": {"inactive_file": inactive, "total_inactive_file": inactive},
            })
        } else {
            json!({})
        },
        "networks": {
            "eth0": {
                "rx_bytes": rx, "rx_packets": 0, "rx_errors": 0, "rx_dropped": 0,
                "tx_bytes": tx, "tx_packets": 0, "tx_errors": 0, "tx_dropped": 0,
            },
        },
    })
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
    fn the_api_document_carries_both_samples() {
        let (prev, cur) = (sample(1, 2), sample(500, 2_000));
        let d = document(&record(), &prev, &cur, "t1", "t0");
        assert_eq!(d["name"], "/web");
        assert_eq!(d["cpu_stats"]["cpu_usage"]["total_usage"], 500);
        assert_eq!(d["precpu_stats"]["cpu_usage"]["total_usage"], 1);
        assert_eq!(d["cpu_stats"]["system_cpu_usage"], 2_000);
        assert_eq!(d["memory_stats"]["usage"], 600);
        assert_eq!(d["memory_stats"]["stats"]["inactive_file"], 100);
        assert_eq!(d["memory_stats"]["limit"], 1000);
        assert_eq!(d["pids_stats"]["current"], 3);
        assert_eq!(d["networks"]["eth0"]["tx_bytes"], 13);
        assert_eq!(
            d["blkio_stats"]["io_service_bytes_recursive"][1]["value"],
            9
        );
        assert_eq!(
            (d["read"].as_str(), d["preread"].as_str()),
            (Some("t1"), Some("t0"))
        );
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
