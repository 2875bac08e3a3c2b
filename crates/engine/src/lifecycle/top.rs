//! `hull top`: a running container's processes, found through its cgroup (`cgroup.procs`, v1 or
//! v2) and described from /proc in the columns of `ps -ef`, as `docker top` shows them.

use std::fs;
use std::path::Path;

use crate::engine::rt_err;
use crate::state::Record;
use crate::{Engine, EngineError};

/// Docker's default `top` columns (`ps -ef`).
pub const COLUMNS: [&str; 8] = ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"];

/// /proc reports CPU times and start times in USER_HZ ticks, which the kernel fixes at 100 for
/// user space on every architecture hull builds for (x86_64, aarch64).
const USER_HZ: u64 = 100;

/// One row of `hull top`, already formatted like procps `ps -ef`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Process {
    pub uid: String,
    pub pid: i32,
    pub ppid: i32,
    pub cpu_percent: u64,
    pub stime: String,
    pub tty: String,
    pub time: String,
    pub cmd: String,
}

impl Process {
    pub fn row(&self) -> Vec<String> {
        vec![
            self.uid.clone(),
            self.pid.to_string(),
            self.ppid.to_string(),
            self.cpu_percent.to_string(),
            self.stime.clone(),
            self.tty.clone(),
            self.time.clone(),
            self.cmd.clone(),
        ]
    }
}

/// The fields of /proc/PID/stat that `ps -ef` needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatFields {
    pub comm: String,
    pub ppid: i32,
    pub tty_nr: u64,
    /// utime + stime, in ticks.
    pub cpu_ticks: u64,
    /// Ticks after boot.
    pub start_ticks: u64,
}

/// Parses /proc/PID/stat. The command name is in parentheses and may itself contain `)` and
/// spaces, so the fields are counted from the last `)`.
pub fn parse_stat(text: &str) -> Option<StatFields> {
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let comm = text.get(open + 1..close)?.to_string();
    // ppid(4) tty_nr(7) utime(14) stime(15) starttime(22), numbered as proc(5) does.
    let num = |i: usize| hull_sys::process::stat_field(text, i)?.parse::<u64>().ok();
    Some(StatFields {
        comm,
        ppid: hull_sys::process::stat_field(text, 4)?.parse().ok()?,
        tty_nr: num(7)?,
        cpu_ticks: num(14)? + num(15)?,
        start_ticks: num(22)?,
    })
}

/// The real uid from /proc/PID/status.
pub fn parse_uid(status: &str) -> Option<u32> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// `pts/N`, `ttyN` or `?`, as ps names the controlling terminal.
pub fn tty_name(tty_nr: u64) -> String {
    let major = (tty_nr >> 8) & 0xfff;
    let minor = (tty_nr & 0xff) | ((tty_nr >> 12) & 0xfff00);
    match major {
        0 => "?".into(),
        4 if minor < 64 => format!("tty{minor}"),
        136..=143 => format!("pts/{}", minor + (major - 136) * 256),
        _ => "?".into(),
    }
}

/// Cumulative CPU time as `[D-]HH:MM:SS`.
pub fn cpu_time(ticks: u64) -> String {
    let s = ticks / USER_HZ;
    let (d, h, m, s) = (s / 86_400, s / 3600 % 24, s / 60 % 60, s % 60);
    match d {
        0 => format!("{h:02}:{m:02}:{s:02}"),
        d => format!("{d}-{h:02}:{m:02}:{s:02}"),
    }
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// The start time as ps shows it (in UTC): `HH:MM` today, `MonDD` this year, else the year.
pub fn start_time(started: i64, now: i64) -> String {
    let s = hull_image::time::format_rfc3339(started, 0);
    let n = hull_image::time::format_rfc3339(now, 0);
    if s[..10] == n[..10] {
        s[11..16].to_string()
    } else if s[..4] == n[..4] {
        let month: usize = s[5..7].parse().unwrap_or(1);
        format!("{}{}", MONTHS[month.clamp(1, 12) - 1], &s[8..10])
    } else {
        s[..4].to_string()
    }
}

/// A uid's name in the host's /etc/passwd (as `docker top` shows host names), or the number.
pub fn user_name(passwd: &str, uid: u32) -> String {
    passwd
        .lines()
        .find_map(|l| {
            let mut f = l.split(':');
            let name = f.next()?;
            (f.nth(1)?.parse::<u32>().ok()? == uid).then(|| name.to_string())
        })
        .unwrap_or_else(|| uid.to_string())
}

/// What the host's clock and /proc say, for turning ticks into times.
#[derive(Debug, Clone)]
pub struct Clock {
    /// Boot time (`btime` in /proc/stat), seconds since the epoch.
    pub boot: i64,
    pub now: i64,
}

/// Describes one process from /proc; None when it exited meanwhile.
pub fn describe(proc_root: &Path, pid: i32, clock: &Clock, passwd: &str) -> Option<Process> {
    let dir = proc_root.join(pid.to_string());
    let stat = parse_stat(&fs::read_to_string(dir.join("stat")).ok()?)?;
    let uid = parse_uid(&fs::read_to_string(dir.join("status")).ok()?)?;
    let cmdline = fs::read(dir.join("cmdline")).unwrap_or_default();
    let args: Vec<String> = cmdline
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    let started = clock.boot + (stat.start_ticks / USER_HZ) as i64;
    let elapsed = (clock.now - started).max(1) as u64;
    Some(Process {
        uid: user_name(passwd, uid),
        pid,
        ppid: stat.ppid,
        // procps: CPU time over elapsed time, as a whole percentage capped at 99.
        cpu_percent: (stat.cpu_ticks * 100 / USER_HZ / elapsed).min(99),
        stime: start_time(started, clock.now),
        tty: tty_name(stat.tty_nr),
        time: cpu_time(stat.cpu_ticks),
        cmd: match args.is_empty() {
            true => format!("[{}]", stat.comm),
            false => args.join(" "),
        },
    })
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// `btime` from /proc/stat.
pub fn boot_time(proc_stat: &str) -> Option<i64> {
    proc_stat
        .lines()
        .find_map(|l| l.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()
}

/// `ps` output (`docker top CTR ARGS`) kept to the container's processes: the header, and the
/// lines whose PID column names one of `pids`; None when the output has no PID column.
pub fn filter_ps<'a>(text: &'a str, pids: &[i32]) -> Option<(&'a str, Vec<&'a str>)> {
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    let col = header.split_whitespace().position(|h| h == "PID")?;
    let kept = lines
        .filter(|line| {
            let pid = line
                .split_whitespace()
                .nth(col)
                .and_then(|p| p.parse().ok());
            pid.is_some_and(|p: i32| pids.contains(&p))
        })
        .collect();
    Some((header, kept))
}

impl Engine {
    /// The running container's record and the host pids of its processes, from its cgroup.
    pub fn container_pids(&self, name: &str) -> Result<(Record, Vec<i32>), EngineError> {
        let record = self.containers.resolve(name)?;
        let id = record.id.as_str();
        if !self.containers.is_alive(id) {
            return Err(EngineError::NotRunning(record.name.clone()));
        }
        let cgroup = self
            .runtime()?
            .cgroup(id)
            .map_err(rt_err(id, "open cgroup of"))?;
        let mut pids = cgroup.pids().map_err(|source| {
            rt_err(id, "list processes of")(hull_runtime::RuntimeError::Cgroup {
                id: id.to_string(),
                source,
            })
        })?;
        pids.sort_unstable();
        Ok((record, pids))
    }

    /// `hull top`: the container's processes in `ps -ef` columns.
    pub fn top(&self, name: &str) -> Result<Vec<Process>, EngineError> {
        let (_, pids) = self.container_pids(name)?;
        let proc_root = Path::new("/proc");
        let clock = Clock {
            boot: boot_time(&fs::read_to_string("/proc/stat").unwrap_or_default()).unwrap_or(0),
            now: now_secs(),
        };
        let passwd = fs::read_to_string("/etc/passwd").unwrap_or_default();
        Ok(pids
            .into_iter()
            .filter_map(|pid| describe(proc_root, pid, &clock, &passwd))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_with_a_hostile_comm_parses() {
        let text = "1234 (a) b (c) S 1200 1234 1234 34817 1234 4194560 100 0 0 0 250 50 0 0 \
                    20 0 1 0 5000 1234567 100 18446744073709551615\n";
        let s = parse_stat(text).unwrap();
        assert_eq!(s.comm, "a) b (c");
        assert_eq!(s.ppid, 1200);
        assert_eq!(s.tty_nr, 34817);
        assert_eq!(s.cpu_ticks, 300);
        assert_eq!(s.start_ticks, 5000);
    }

    #[test]
    fn ps_formats() {
        assert_eq!(tty_name(0), "?");
        assert_eq!(tty_name(34817), "pts/1"); // 136 << 8 | 1
        assert_eq!(tty_name(4 << 8 | 2), "tty2");
        assert_eq!(cpu_time(0), "00:00:00");
        assert_eq!(cpu_time(100 * 3725), "01:02:05");
        assert_eq!(cpu_time(100 * (86_400 + 61)), "1-00:01:01");
        let now = 1_700_000_000; // 2023-11-14T22:13:20Z
        assert_eq!(start_time(now - 60, now), "22:12");
        assert_eq!(start_time(now - 86_400 * 30, now), "Oct15");
        assert_eq!(start_time(now - 86_400 * 400, now), "2022");
        assert_eq!(
            parse_uid("Name:\tsh\nUid:\t1000\t1000\t1000\t1000\n"),
            Some(1000)
        );
        let passwd = "root:x:0:0:root:/root:/bin/sh\nhulluser:x:1000:1000::/:/bin/sh\n";
        assert_eq!(user_name(passwd, 0), "root");
        assert_eq!(user_name(passwd, 1000), "hulluser");
        assert_eq!(user_name(passwd, 7), "7");
        assert_eq!(
            boot_time("cpu 1 2\nbtime 1699990000\n"),
            Some(1_699_990_000)
        );
    }

    #[test]
    fn describes_a_process_from_a_fake_proc() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("42");
        fs::create_dir(&dir).unwrap();
        fs::write(
            dir.join("stat"),
            "42 (sleep) S 1 42 42 0 -1 0 0 0 0 0 1000 0 0 0 20 0 1 0 100 0 0\n",
        )
        .unwrap();
        fs::write(dir.join("status"), "Uid:\t0\t0\t0\t0\n").unwrap();
        fs::write(dir.join("cmdline"), b"sleep\x00100\x00").unwrap();
        let clock = Clock {
            boot: 1_000,
            now: 1_021,
        };
        let p = describe(tmp.path(), 42, &clock, "root:x:0:0::/:/bin/sh\n").unwrap();
        assert_eq!(
            p.row(),
            [
                "root",
                "42",
                "1",
                "50",
                "00:16",
                "?",
                "00:00:10",
                "sleep 100"
            ]
        );
        fs::write(dir.join("cmdline"), b"").unwrap();
        assert_eq!(describe(tmp.path(), 42, &clock, "").unwrap().cmd, "[sleep]");
        assert!(describe(tmp.path(), 43, &clock, "").is_none());
    }
}
