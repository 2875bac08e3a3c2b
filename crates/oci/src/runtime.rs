//! OCI runtime-spec `config.json` and `state.json` types (runtime-spec 1.1/1.2). Fields are public
//! and optional where the spec says so; unknown fields are kept in `extra` maps so a config
//! written by containerd or podman round-trips.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

type Extra = BTreeMap<String, serde_json::Value>;

pub const OCI_VERSION: &str = "1.2.0";

/// A spec built in code (`Spec { .., ..Default::default() }`) claims this crate's version, as
/// one parsed without the field does: an empty `ociVersion` is not a version, and the runtime
/// refuses it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Spec {
    #[serde(default = "default_version")]
    pub oci_version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process: Option<Process>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root: Option<Root>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domainname: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mounts: Vec<Mount>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hooks: Option<Hooks>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub linux: Option<Linux>,
    #[serde(flatten)]
    pub extra: Extra,
}

fn default_version() -> String {
    OCI_VERSION.to_string()
}

impl Default for Spec {
    fn default() -> Spec {
        Spec {
            oci_version: default_version(),
            process: None,
            root: None,
            hostname: None,
            domainname: None,
            mounts: Vec::new(),
            hooks: None,
            annotations: BTreeMap::new(),
            linux: None,
            extra: Extra::new(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Process {
    #[serde(default)]
    pub terminal: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub console_size: Option<ConsoleSize>,
    #[serde(default)]
    pub user: User,
    #[serde(default)]
    pub args: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command_line: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<String>,
    #[serde(default = "default_cwd")]
    pub cwd: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capabilities: Option<Capabilities>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rlimits: Vec<Rlimit>,
    #[serde(default)]
    pub no_new_privileges: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apparmor_profile: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oom_score_adj: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selinux_label: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduler: Option<Scheduler>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub io_priority: Option<IoPriority>,
    #[serde(
        default,
        rename = "execCPUAffinity",
        skip_serializing_if = "Option::is_none"
    )]
    pub exec_cpu_affinity: Option<ExecCpuAffinity>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `process.scheduler` (runtime-spec 1.2): the arguments of sched_setattr(2). Names are kept
/// as strings; the runtime checks them, so an unknown one is an error naming the field rather
/// than a parse failure of the whole config.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scheduler {
    /// `SCHED_OTHER`, `SCHED_FIFO`, ... (REQUIRED; empty when missing).
    #[serde(default)]
    pub policy: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nice: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<i32>,
    /// `SCHED_FLAG_RESET_ON_FORK`, ...
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<u64>,
}

/// `process.ioPriority` (runtime-spec 1.2): ioprio_set(2)'s class and level.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IoPriority {
    /// `IOPRIO_CLASS_RT`, `IOPRIO_CLASS_BE` or `IOPRIO_CLASS_IDLE` (REQUIRED).
    #[serde(default)]
    pub class: String,
    /// 0 (highest) to 7 (lowest) (REQUIRED).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<i64>,
}

/// `process.execCPUAffinity` (runtime-spec 1.2): CPU lists like `0-3,7` for an exec'd process,
/// before it joins the container's cgroup (`initial`) and right before its program (`final`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecCpuAffinity {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial: Option<String>,
    #[serde(default, rename = "final", skip_serializing_if = "Option::is_none")]
    pub final_: Option<String>,
}

fn default_cwd() -> String {
    "/".to_string()
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsoleSize {
    pub height: u32,
    pub width: u32,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    #[serde(default)]
    pub uid: u32,
    #[serde(default)]
    pub gid: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub umask: Option<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub additional_gids: Vec<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
}

/// Capability names like `CAP_CHOWN`, per set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capabilities {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bounding: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub effective: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inheritable: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub permitted: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ambient: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rlimit {
    /// `RLIMIT_NOFILE` etc.
    #[serde(rename = "type")]
    pub kind: String,
    pub soft: u64,
    pub hard: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Root {
    pub path: PathBuf,
    #[serde(default)]
    pub readonly: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mount {
    pub destination: PathBuf,
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Hooks {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub prestart: Vec<Hook>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub create_runtime: Vec<Hook>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub create_container: Vec<Hook>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub start_container: Vec<Hook>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub poststart: Vec<Hook>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub poststop: Vec<Hook>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hook {
    pub path: PathBuf,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u32>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Linux {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespaces: Vec<Namespace>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub uid_mappings: Vec<IdMapping>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gid_mappings: Vec<IdMapping>,
    /// Clock offsets of a new time namespace (runtime-spec 1.2), by clock name: `monotonic`,
    /// `boottime`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub time_offsets: BTreeMap<String, TimeOffset>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<Device>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cgroups_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<Resources>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sysctl: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seccomp: Option<Seccomp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rootfs_propagation: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub masked_paths: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub readonly_paths: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mount_label: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_policy: Option<MemoryPolicy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub personality: Option<Personality>,
    #[serde(flatten)]
    pub extra: Extra,
}

impl Linux {
    /// Whether `namespaces` lists one of `kind` (`mount`, `user`, ...), new or joined by path.
    pub fn has_namespace(&self, kind: &str) -> bool {
        self.namespaces.iter().any(|n| n.kind == kind)
    }
}

/// `linux.memoryPolicy` (runtime-spec 1.2): set_mempolicy(2)'s mode, node list (`0-3,7`) and
/// mode flags, as names the runtime checks.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryPolicy {
    /// `MPOL_DEFAULT`, `MPOL_BIND`, ... (REQUIRED; empty when missing).
    #[serde(default)]
    pub mode: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nodes: Option<String>,
    /// `MPOL_F_NUMA_BALANCING`, `MPOL_F_RELATIVE_NODES`, `MPOL_F_STATIC_NODES`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<String>,
}

/// `linux.personality` (runtime-spec 1.2): the execution domain (`LINUX` or `LINUX32`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Personality {
    /// REQUIRED; empty when missing.
    #[serde(default)]
    pub domain: String,
    /// The spec defines no flags yet.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Namespace {
    /// pid, network, mount, ipc, uts, user, cgroup, time
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
}

/// One clock's offset in `linux.timeOffsets`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeOffset {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secs: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nanosecs: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IdMapping {
    #[serde(rename = "containerID")]
    pub container_id: u32,
    #[serde(rename = "hostID")]
    pub host_id: u32,
    pub size: u32,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Device {
    #[serde(rename = "type")]
    pub kind: String,
    pub path: PathBuf,
    #[serde(default)]
    pub major: i64,
    #[serde(default)]
    pub minor: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_mode: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gid: Option<u32>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Resources {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<DeviceRule>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<Memory>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<Cpu>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pids: Option<Pids>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(rename = "blockIO")]
    pub block_io: Option<BlockIo>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hugepage_limits: Vec<HugepageLimit>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<Network>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub unified: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceRule {
    pub allow: bool,
    /// `a`, `b` or `c`; absent means all.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub major: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minor: Option<i64>,
    /// Some combination of `r`, `w`, `m`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Memory {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reservation: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub swap: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel: Option<i64>,
    #[serde(default, rename = "kernelTCP", skip_serializing_if = "Option::is_none")]
    pub kernel_tcp: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub swappiness: Option<u64>,
    #[serde(
        default,
        rename = "disableOOMKiller",
        skip_serializing_if = "Option::is_none"
    )]
    pub disable_oom_killer: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Cpu {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shares: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub realtime_runtime: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub realtime_period: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpus: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mems: Option<String>,
    /// cgroup `cpu.idle`: 1 puts the cgroup under SCHED_IDLE.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle: Option<i64>,
}

/// `linux.resources.blockIO`: weights 10..=1000, device numbers and rates.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlockIo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leaf_weight: Option<u16>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub weight_device: Vec<WeightDevice>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub throttle_read_bps_device: Vec<ThrottleDevice>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub throttle_write_bps_device: Vec<ThrottleDevice>,
    #[serde(
        default,
        rename = "throttleReadIOPSDevice",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub throttle_read_iops_device: Vec<ThrottleDevice>,
    #[serde(
        default,
        rename = "throttleWriteIOPSDevice",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub throttle_write_iops_device: Vec<ThrottleDevice>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WeightDevice {
    pub major: i64,
    pub minor: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leaf_weight: Option<u16>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThrottleDevice {
    pub major: i64,
    pub minor: i64,
    pub rate: u64,
}

/// `linux.resources.hugepageLimits[]`: `pageSize` like `2MB` or `1GB`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HugepageLimit {
    pub page_size: String,
    pub limit: u64,
}

/// `linux.resources.network`: v1 net_cls and net_prio.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Network {
    #[serde(default, rename = "classID", skip_serializing_if = "Option::is_none")]
    pub class_id: Option<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub priorities: Vec<InterfacePriority>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InterfacePriority {
    pub name: String,
    pub priority: u32,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pids {
    pub limit: i64,
}

/// The OCI seccomp schema (also what Docker-format profiles convert to).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Seccomp {
    pub default_action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_errno_ret: Option<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub architectures: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listener_path: Option<PathBuf>,
    /// Opaque data passed to the listener as `metadata` (config-linux.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listener_metadata: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub syscalls: Vec<SeccompSyscall>,
}

/// The container process state (config-linux.md "The Container Process State"): what the
/// runtime sends to `linux.seccomp.listenerPath`, with the descriptors named in `fds` attached
/// (SCM_RIGHTS) in the same order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerProcessState {
    pub oci_version: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fds: Vec<String>,
    pub pid: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<String>,
    pub state: State,
}

/// The name of the seccomp notification descriptor in [`ContainerProcessState::fds`].
pub const SECCOMP_FD_NAME: &str = "seccompFd";

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SeccompSyscall {
    pub names: Vec<String>,
    pub action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errno_ret: Option<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<SeccompArg>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SeccompArg {
    pub index: u32,
    pub value: u64,
    #[serde(default)]
    pub value_two: u64,
    pub op: String,
}

/// `state.json` / the output of `state`, per the runtime spec.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct State {
    pub oci_version: String,
    pub id: String,
    /// creating, created, running, stopped (and paused, as runc reports it)
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<i32>,
    pub bundle: PathBuf,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_runc_spec_config_and_keeps_unknown_fields() {
        let json = r#"{
            "ociVersion": "1.0.2",
            "process": {"terminal": true, "user": {"uid": 0, "gid": 0}, "args": ["sh"],
                        "env": ["PATH=/bin"], "cwd": "/",
                        "capabilities": {"bounding": ["CAP_KILL"]},
                        "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
                        "noNewPrivileges": true},
            "root": {"path": "rootfs", "readonly": true},
            "hostname": "runc",
            "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"}],
            "linux": {"namespaces": [{"type": "pid"}, {"type": "network", "path": "/proc/1/ns/net"}],
                      "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}],
                      "resources": {"devices": [{"allow": false, "access": "rwm"}],
                                    "memory": {"limit": 1048576}, "pids": {"limit": 10}},
                      "maskedPaths": ["/proc/kcore"], "futureField": 1},
            "vm": {"hypervisor": {}}
        }"#;
        let spec: Spec = serde_json::from_str(json).unwrap();
        let linux = spec.linux.as_ref().unwrap();
        assert_eq!(
            linux.namespaces[1].path.as_deref(),
            Some("/proc/1/ns/net".as_ref())
        );
        assert_eq!(linux.uid_mappings[0].host_id, 1000);
        assert_eq!(
            linux.resources.as_ref().unwrap().pids,
            Some(Pids { limit: 10 })
        );
        assert!(linux.extra.contains_key("futureField"));
        assert!(spec.extra.contains_key("vm"));
        let back = serde_json::to_value(&spec).unwrap();
        assert_eq!(back["linux"]["uidMappings"][0]["containerID"], 0);
        assert_eq!(back["process"]["rlimits"][0]["type"], "RLIMIT_NOFILE");
    }

    #[test]
    fn process_and_linux_fields_of_runtime_spec_1_2() {
        let json = r#"{"process": {"cwd": "/", "args": ["sh"],
                "scheduler": {"policy": "SCHED_FIFO", "nice": -2, "priority": 5,
                              "flags": ["SCHED_FLAG_RESET_ON_FORK"], "runtime": 1,
                              "deadline": 2, "period": 3},
                "ioPriority": {"class": "IOPRIO_CLASS_BE", "priority": 4},
                "execCPUAffinity": {"initial": "0", "final": "0-3,7"}},
            "linux": {"memoryPolicy": {"mode": "MPOL_BIND", "nodes": "0-1",
                                       "flags": ["MPOL_F_STATIC_NODES"]},
                      "personality": {"domain": "LINUX32"}}}"#;
        let spec: Spec = serde_json::from_str(json).unwrap();
        let p = spec.process.as_ref().unwrap();
        let s = p.scheduler.as_ref().unwrap();
        assert_eq!(
            (s.policy.as_str(), s.nice, s.priority),
            ("SCHED_FIFO", Some(-2), Some(5))
        );
        assert_eq!(
            (s.runtime, s.deadline, s.period),
            (Some(1), Some(2), Some(3))
        );
        assert_eq!(p.io_priority.as_ref().unwrap().priority, Some(4));
        let a = p.exec_cpu_affinity.as_ref().unwrap();
        assert_eq!(
            (a.initial.as_deref(), a.final_.as_deref()),
            (Some("0"), Some("0-3,7"))
        );
        assert!(p.extra.is_empty(), "{:?}", p.extra);
        let linux = spec.linux.as_ref().unwrap();
        assert_eq!(
            linux.memory_policy.as_ref().unwrap().flags,
            ["MPOL_F_STATIC_NODES"]
        );
        assert_eq!(linux.personality.as_ref().unwrap().domain, "LINUX32");
        let back = serde_json::to_value(&spec).unwrap();
        assert_eq!(back["process"]["execCPUAffinity"]["final"], "0-3,7");
        assert_eq!(back["process"]["ioPriority"]["class"], "IOPRIO_CLASS_BE");
        assert_eq!(back["linux"]["memoryPolicy"]["nodes"], "0-1");
        // A missing required name parses (as empty), so the runtime can name the field.
        let p: Process = serde_json::from_str(r#"{"scheduler": {"nice": 1}}"#).unwrap();
        assert_eq!(p.scheduler.unwrap().policy, "");
    }

    #[test]
    fn resource_field_names_are_the_specs() {
        // Names serde's camelCase would get wrong (blockIO, IOPS, OOM, TCP, classID).
        let json = r#"{"blockIO": {"weight": 10, "leafWeight": 20,
                        "weightDevice": [{"major": 8, "minor": 0, "weight": 30, "leafWeight": 40}],
                        "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1}],
                        "throttleWriteBpsDevice": [{"major": 8, "minor": 0, "rate": 2}],
                        "throttleReadIOPSDevice": [{"major": 8, "minor": 0, "rate": 3}],
                        "throttleWriteIOPSDevice": [{"major": 8, "minor": 0, "rate": 4}]},
            "memory": {"disableOOMKiller": true, "kernelTCP": 5},
            "cpu": {"realtimeRuntime": 6, "realtimePeriod": 7, "idle": 1},
            "hugepageLimits": [{"pageSize": "2MB", "limit": 8}],
            "network": {"classID": 9, "priorities": [{"name": "eth0", "priority": 10}]}}"#;
        let r: Resources = serde_json::from_str(json).unwrap();
        let b = r.block_io.as_ref().unwrap();
        assert_eq!((b.weight, b.leaf_weight), (Some(10), Some(20)));
        assert_eq!(b.weight_device[0].leaf_weight, Some(40));
        let rates: Vec<u64> = [
            &b.throttle_read_bps_device,
            &b.throttle_write_bps_device,
            &b.throttle_read_iops_device,
            &b.throttle_write_iops_device,
        ]
        .iter()
        .map(|d| d[0].rate)
        .collect();
        assert_eq!(rates, [1, 2, 3, 4]);
        let m = r.memory.as_ref().unwrap();
        assert_eq!((m.disable_oom_killer, m.kernel_tcp), (Some(true), Some(5)));
        let c = r.cpu.as_ref().unwrap();
        assert_eq!(
            (c.realtime_runtime, c.realtime_period, c.idle),
            (Some(6), Some(7), Some(1))
        );
        assert_eq!(r.hugepage_limits[0].page_size, "2MB");
        let n = r.network.as_ref().unwrap();
        assert_eq!((n.class_id, n.priorities[0].priority), (Some(9), 10));
        let back = serde_json::to_value(&r).unwrap();
        let again: serde_json::Value = serde_json::from_str(json).unwrap();
        assert_eq!(back, again);
    }
}
