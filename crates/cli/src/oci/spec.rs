//! `spec` (a default config.json, like `runc spec`) and `features` (per the runtime spec's
//! features document).

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use serde_json::{json, Value};

const CAPS: [&str; 3] = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"];

/// runc's default spec: `sh` on a terminal, the default namespaces, mounts and masked paths.
pub fn default_spec() -> Value {
    let namespaces: Vec<Value> = ["pid", "network", "ipc", "uts", "mount", "cgroup"]
        .iter()
        .map(|t| json!({ "type": t }))
        .collect();
    json!({
        "ociVersion": hull_oci::runtime::OCI_VERSION,
        "process": {
            "terminal": true,
            "user": {"uid": 0, "gid": 0},
            "args": ["sh"],
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
            "cwd": "/",
            "capabilities": {"bounding": CAPS, "effective": CAPS, "permitted": CAPS},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": true
        },
        "root": {"path": "rootfs", "readonly": true},
        "hostname": "hull",
        "mounts": default_mounts(),
        "linux": {
            "resources": {"devices": [{"allow": false, "access": "rwm"}]},
            "namespaces": namespaces,
            "maskedPaths": [
                "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware",
                "/proc/scsi"
            ],
            "readonlyPaths": [
                "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"
            ]
        }
    })
}

fn default_mounts() -> Value {
    json!([
        {"destination": "/proc", "type": "proc", "source": "proc"},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
        {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
         "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
         "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs",
         "options": ["nosuid", "noexec", "nodev", "ro"]},
        {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
         "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}
    ])
}

/// Writes `<bundle>/config.json`, refusing to overwrite one.
pub fn write_spec(bundle: &Path) -> Result<()> {
    let path = bundle.join("config.json");
    let mut f = std::fs::File::options()
        .write(true)
        .create_new(true)
        .open(&path)
        .with_context(|| format!("write {}", path.display()))?;
    let text = serde_json::to_string_pretty(&default_spec())?;
    f.write_all(text.as_bytes())
        .and_then(|()| f.write_all(b"\n"))
        .with_context(|| format!("write {}", path.display()))
}

/// The features document (runtime-spec features.md).
pub fn features() -> Value {
    use hull_runtime::proc_attrs::names;
    json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": hull_oci::runtime::OCI_VERSION,
        "hooks": hull_runtime::hooks::KINDS,
        "mountOptions": [
            "async", "atime", "bind", "defaults", "dev", "diratime", "dirsync", "exec",
            "lazytime", "mand", "noatime", "nodev", "nodiratime", "noexec", "nolazytime",
            "nomand", "norelatime", "nostrictatime", "nosuid", "private", "rbind", "relatime",
            "remount", "ro", "rprivate", "rshared", "rslave", "runbindable", "rw", "shared",
            "slave", "strictatime", "suid", "sync", "unbindable"
        ],
        "linux": {
            "namespaces": ["cgroup", "ipc", "mount", "network", "pid", "user", "uts"],
            "capabilities": hull_runtime::capabilities::all(),
            "cgroup": {"v1": true, "v2": true, "systemd": true, "systemdUser": false, "rdma": false},
            "seccomp": {
                "enabled": true,
                "actions": [
                    "SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS",
                    "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY", "SCMP_ACT_TRACE",
                    "SCMP_ACT_TRAP"
                ],
                "operators": [
                    "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE", "SCMP_CMP_LT",
                    "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE"
                ],
                "archs": ["SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32", "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]
            },
            "apparmor": {"enabled": true},
            "selinux": {"enabled": false},
            "memoryPolicy": {
                "modes": names::names(names::MPOL_MODES),
                "flags": names::names(names::MPOL_FLAGS)
            }
        },
        "annotations": {
            "org.hull.runtime.version": env!("CARGO_PKG_VERSION"),
            // features.md has no per-resource list; say which linux.resources apply.
            "org.hull.runtime.cgroup.resources":
                "devices,memory,cpu,pids,blockIO,hugepageLimits,network,unified",
            // runtime-spec 1.2's process attributes, which features.md does not list either.
            "org.hull.runtime.process":
                "scheduler,ioPriority,execCPUAffinity",
            // SCHED_ISO is recognized and refused: Linux never implemented it.
            "org.hull.runtime.process.scheduler.policies": names::names(names::SCHED_POLICIES)
                .into_iter()
                .filter(|p| *p != "SCHED_ISO")
                .collect::<Vec<_>>()
                .join(","),
            "org.hull.runtime.process.ioPriority.classes":
                names::names(names::IOPRIO_CLASSES).join(","),
            "org.hull.runtime.linux.personality.domains":
                names::names(names::PERSONALITY_DOMAINS).join(",")
        }
    })
}
