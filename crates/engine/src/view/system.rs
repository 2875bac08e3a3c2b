//! `hull version` and `hull info`: Docker's /version and /info documents, with the fields that
//! apply to a daemonless engine, from the store's counts and the host's facts (gathered by
//! `engine::host`).

use std::path::Path;

use serde_json::{json, Value};

/// hull's version (the workspace's).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The newest Docker Engine API version `hull system service` speaks (dockerd 20.10's), and the
/// oldest a client may ask for.
pub const API_VERSION: &str = "1.41";
pub const MIN_API_VERSION: &str = "1.24";

/// What `info` and `version` say of the host.
#[derive(Debug, Clone, Default)]
pub struct HostFacts {
    /// uname's release, machine and node name.
    pub kernel: String,
    pub arch: String,
    pub hostname: String,
    /// os-release's PRETTY_NAME.
    pub os: String,
    pub cpus: usize,
    /// Bytes.
    pub mem_total: u64,
    /// 2 on the unified hierarchy, else 1 (v1 or hybrid).
    pub cgroup_version: u8,
    /// The store's file system, as Docker names it (`extfs`, `xfs`, `tmpfs`, …).
    pub backing_fs: String,
}

/// How many containers (by state) and images a store holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreCounts {
    pub containers: usize,
    pub running: usize,
    pub paused: usize,
    pub stopped: usize,
    pub images: usize,
}

/// Go's name of an architecture (`amd64` for `x86_64`), as Docker's version reports it.
fn go_arch(machine: &str) -> &str {
    match machine {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "i686" | "i386" => "386",
        other => other,
    }
}

/// `hull version`'s document and the API's /version: Docker's fields that apply.
pub fn version(facts: &HostFacts) -> Value {
    json!({
        "Platform": {"Name": "hull"},
        "Components": [{
            "Name": "Engine",
            "Version": VERSION,
            "Details": {
                "ApiVersion": API_VERSION,
                "MinAPIVersion": MIN_API_VERSION,
                "Os": "linux",
                "Arch": go_arch(&facts.arch),
                "KernelVersion": facts.kernel,
            },
        }],
        "Version": VERSION,
        "ApiVersion": API_VERSION,
        "MinAPIVersion": MIN_API_VERSION,
        "GitCommit": "",
        "GoVersion": "",
        "Os": "linux",
        "Arch": go_arch(&facts.arch),
        "KernelVersion": facts.kernel,
    })
}

/// `hull info`'s document: Docker's /info fields that apply to hull.
pub fn info(counts: &StoreCounts, facts: &HostFacts, root: &Path) -> Value {
    json!({
        "Containers": counts.containers,
        "ContainersRunning": counts.running,
        "ContainersPaused": counts.paused,
        "ContainersStopped": counts.stopped,
        "Images": counts.images,
        "Driver": "overlay",
        "DriverStatus": [["Backing Filesystem", facts.backing_fs]],
        "Plugins": {
            "Volume": ["local"],
            "Network": ["bridge", "host", "none"],
            "Log": ["json-file"],
        },
        "LoggingDriver": "json-file",
        "CgroupDriver": "cgroupfs",
        "CgroupVersion": facts.cgroup_version.to_string(),
        "KernelVersion": facts.kernel,
        "OperatingSystem": facts.os,
        "OSType": "linux",
        "Architecture": facts.arch,
        "NCPU": facts.cpus,
        "MemTotal": facts.mem_total,
        "Name": facts.hostname,
        "DockerRootDir": root.display().to_string(),
        "ServerVersion": VERSION,
        "DefaultRuntime": "hull",
        "Runtimes": {"hull": {"path": "hull-runtime"}},
        "SecurityOptions": ["name=seccomp,profile=default"],
        "LiveRestoreEnabled": false,
        "Swarm": {"LocalNodeState": "inactive"},
        "ExperimentalBuild": false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_carry_the_counts_and_facts() {
        let facts = HostFacts {
            kernel: "6.1.0-28-amd64".into(),
            arch: "x86_64".into(),
            cgroup_version: 2,
            backing_fs: "extfs".into(),
            ..HostFacts::default()
        };
        let counts = StoreCounts {
            containers: 3,
            running: 1,
            paused: 1,
            stopped: 1,
            images: 2,
        };
        let i = info(&counts, &facts, Path::new("/var/lib/hull"));
        assert_eq!(i["Containers"], 3);
        assert_eq!(i["ContainersPaused"], 1);
        assert_eq!(i["CgroupVersion"], "2");
        assert_eq!(i["DriverStatus"][0][1], "extfs");
        assert_eq!(i["DockerRootDir"], "/var/lib/hull");
        let v = version(&facts);
        assert_eq!(v["Arch"], "amd64");
        assert_eq!(v["Version"], VERSION);
        assert_eq!(
            v["Components"][0]["Details"]["KernelVersion"],
            "6.1.0-28-amd64"
        );
    }
}
