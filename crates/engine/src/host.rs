//! What `hull info` and `hull version` tell of the host (uname, /proc/meminfo, /etc/os-release,
//! the cgroup hierarchy, the store's file system), and the store's counts behind `info`.

use std::path::Path;

use crate::state::Status;
use crate::view::system::{HostFacts, StoreCounts};
use crate::{Engine, EngineError};

impl HostFacts {
    /// Reads the host's facts now; what cannot be read is left empty (or 0).
    pub fn gather(store: &Path) -> HostFacts {
        let uname = rustix::system::uname();
        let text = |b: &std::ffi::CStr| b.to_string_lossy().into_owned();
        let os_release = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        HostFacts {
            kernel: text(uname.release()),
            os: pretty_name(&os_release),
            arch: text(uname.machine()),
            hostname: text(uname.nodename()),
            cpus: std::thread::available_parallelism().map_or(0, |n| n.get()),
            mem_total: mem_total(&meminfo),
            cgroup_version: match Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
                true => 2,
                false => 1,
            },
            backing_fs: rustix::fs::statfs(store)
                .map_or(String::new(), |s| fs_name(s.f_type as u64)),
        }
    }
}

/// `PRETTY_NAME` of os-release(5), unquoted.
fn pretty_name(os_release: &str) -> String {
    os_release
        .lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map(|v| v.trim_matches(['"', '\'']).to_string())
        .unwrap_or_default()
}

/// `MemTotal` of /proc/meminfo, in bytes.
fn mem_total(meminfo: &str) -> u64 {
    meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// The name Docker gives a backing file system's magic number (`statfs` f_type).
fn fs_name(magic: u64) -> String {
    match magic {
        0xEF53 => "extfs".into(),
        0x5846_5342 => "xfs".into(),
        0x9123_683E => "btrfs".into(),
        0x0102_1994 => "tmpfs".into(),
        0x794C_7630 => "overlayfs".into(),
        0x2FC1_2FC1 => "zfs".into(),
        other => format!("<unknown> ({other:#x})"),
    }
}

impl Engine {
    /// How many containers (by state) and images the store holds, for `info`.
    pub fn counts(&self) -> Result<StoreCounts, EngineError> {
        let mut c = StoreCounts::default();
        for r in self.containers.list()? {
            c.containers += 1;
            match r.state.status {
                Status::Running if r.state.paused => c.paused += 1,
                Status::Running | Status::Restarting => c.running += 1,
                _ => c.stopped += 1,
            }
        }
        c.images = self.images.list()?.len();
        Ok(c)
    }

    /// `hull info`'s document (Docker's /info fields that apply to hull).
    pub fn info(&self) -> Result<serde_json::Value, EngineError> {
        let facts = HostFacts::gather(&self.root);
        Ok(crate::view::system::info(
            &self.counts()?,
            &facts,
            &self.root,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_files_parse() {
        let os = "NAME=\"Debian GNU/Linux\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n";
        assert_eq!(pretty_name(os), "Debian GNU/Linux 12 (bookworm)");
        assert_eq!(pretty_name(""), "");
        let mem = "MemTotal:       24589428 kB\nMemFree:  1 kB\n";
        assert_eq!(mem_total(mem), 24_589_428 * 1024);
        assert_eq!(fs_name(0xEF53), "extfs");
        assert_eq!(fs_name(0x1234), "<unknown> (0x1234)");
    }
}
