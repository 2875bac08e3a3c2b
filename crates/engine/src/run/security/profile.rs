//! Docker-format seccomp profiles (`--security-opt seccomp=profile.json`) and their evaluation
//! into the OCI seccomp section for one container: `includes`/`excludes` are decided here, by
//! the container's capabilities, the architecture and the kernel, as dockerd does.

use hull_oci::runtime::{Seccomp, SeccompArg, SeccompSyscall};
use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("parse seccomp profile")]
    Json(#[source] serde_json::Error),
    #[error("seccomp profile: both 'architectures' and 'archMap' are specified")]
    ArchitecturesAndArchMap,
    #[error("seccomp profile: syscall rule {0:?} uses both 'name' and 'names'")]
    NameAndNames(String),
    #[error("seccomp profile: syscall rule has neither 'name' nor 'names'")]
    NoName,
    #[error("seccomp profile: bad minKernel {0:?} (want MAJOR.MINOR)")]
    MinKernel(String),
}

/// A profile as Docker writes it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DockerProfile {
    pub default_action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_errno_ret: Option<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub architectures: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub arch_map: Vec<ArchMap>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub syscalls: Vec<DockerSyscall>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArchMap {
    pub architecture: String,
    #[serde(default)]
    pub sub_architectures: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DockerSyscall {
    /// The old single-name form; a rule uses either this or `names`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub names: Vec<String>,
    pub action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errno_ret: Option<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<SeccompArg>,
    #[serde(default, skip_serializing_if = "Condition::is_empty")]
    pub includes: Condition,
    #[serde(default, skip_serializing_if = "Condition::is_empty")]
    pub excludes: Condition,
}

/// When a rule applies (`includes`: all of these hold) or not (`excludes`: any of these holds).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub caps: Vec<String>,
    /// Go architecture names: amd64, x86, x32, arm64, arm, s390x, ppc64le, riscv64, ...
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub arches: Vec<String>,
    /// `MAJOR.MINOR`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_kernel: Option<String>,
}

impl Condition {
    fn is_empty(&self) -> bool {
        self.caps.is_empty() && self.arches.is_empty() && self.min_kernel.is_none()
    }
}

/// What a rule's conditions are evaluated against.
#[derive(Debug, Clone)]
pub struct Host {
    /// Go's name for the architecture (`amd64` on x86_64).
    pub arch: String,
    /// The libseccomp name of the native architecture (`SCMP_ARCH_X86_64`), for `archMap`.
    pub native: String,
    /// The running kernel's (major, minor).
    pub kernel: (u32, u32),
    /// Capability numbers in the container's bounding set, as a bit mask.
    pub caps: u64,
}

/// (Rust `target_arch`, Go `GOARCH`, libseccomp native arch).
const ARCH_NAMES: &[(&str, &str, &str)] = &[
    ("x86_64", "amd64", "SCMP_ARCH_X86_64"),
    ("x86", "386", "SCMP_ARCH_X86"),
    ("aarch64", "arm64", "SCMP_ARCH_AARCH64"),
    ("arm", "arm", "SCMP_ARCH_ARM"),
    ("s390x", "s390x", "SCMP_ARCH_S390X"),
    ("powerpc64", "ppc64le", "SCMP_ARCH_PPC64LE"),
    ("riscv64", "riscv64", "SCMP_ARCH_RISCV64"),
    ("mips64", "mips64", "SCMP_ARCH_MIPS64"),
];

impl Host {
    /// This machine, for a container with the given capabilities (unknown names are ignored:
    /// they were validated when the spec was built).
    pub fn current(caps: &[String]) -> Host {
        let (_, go, native) = ARCH_NAMES
            .iter()
            .find(|(rust, _, _)| *rust == std::env::consts::ARCH)
            .copied()
            .unwrap_or(("", std::env::consts::ARCH, "SCMP_ARCH_NATIVE"));
        Host {
            arch: go.into(),
            native: native.into(),
            kernel: running_kernel(),
            caps: cap_mask(caps),
        }
    }
}

fn cap_mask(caps: &[String]) -> u64 {
    caps.iter()
        .filter_map(|c| hull_runtime::capabilities::from_name(c))
        .fold(0, |m, c| m | 1 << c)
}

fn has_cap(host: &Host, name: &str) -> bool {
    hull_runtime::capabilities::from_name(name).is_some_and(|c| host.caps & (1 << c) != 0)
}

/// The running kernel's version from /proc; (0, 0) when unreadable, which keeps every
/// `minKernel` rule off: the stricter reading.
fn running_kernel() -> (u32, u32) {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .ok()
        .and_then(|r| parse_kernel(r.trim()))
        .unwrap_or((0, 0))
}

/// `6.18.0-1-amd64` → (6, 18).
pub(super) fn parse_kernel(release: &str) -> Option<(u32, u32)> {
    let mut parts = release.split(|c: char| !c.is_ascii_digit());
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

/// Parses a Docker-format profile and evaluates it for a container with capabilities `caps` on
/// this machine. `unconfined` is not a profile: the caller handles it by leaving seccomp out.
pub fn parse_docker_profile(json: &[u8], caps: &[String]) -> Result<Seccomp, ProfileError> {
    let profile: DockerProfile = serde_json::from_slice(json).map_err(ProfileError::Json)?;
    resolve(&profile, &Host::current(caps))
}

/// Evaluates `profile` for `host`: picks the architectures and keeps the rules whose
/// `includes` all hold and none of whose `excludes` does.
pub fn resolve(profile: &DockerProfile, host: &Host) -> Result<Seccomp, ProfileError> {
    if !profile.architectures.is_empty() && !profile.arch_map.is_empty() {
        return Err(ProfileError::ArchitecturesAndArchMap);
    }
    let mut syscalls = Vec::new();
    for rule in &profile.syscalls {
        if applies(rule, host)? {
            syscalls.push(to_oci(rule)?);
        }
    }
    Ok(Seccomp {
        default_action: profile.default_action.clone(),
        default_errno_ret: profile.default_errno_ret,
        architectures: architectures(profile, host),
        flags: profile.flags.clone(),
        listener_path: None,
        listener_metadata: None,
        syscalls,
    })
}

/// `architectures` as written, or from `archMap`: the native arch and its sub-architectures.
fn architectures(profile: &DockerProfile, host: &Host) -> Vec<String> {
    if !profile.architectures.is_empty() {
        return profile.architectures.clone();
    }
    profile
        .arch_map
        .iter()
        .filter(|m| m.architecture == host.native)
        .flat_map(|m| std::iter::once(&m.architecture).chain(&m.sub_architectures))
        .cloned()
        .collect()
}

fn applies(rule: &DockerSyscall, host: &Host) -> Result<bool, ProfileError> {
    let inc = &rule.includes;
    let exc = &rule.excludes;
    let included = (inc.arches.is_empty() || inc.arches.contains(&host.arch))
        && inc.caps.iter().all(|c| has_cap(host, c))
        && match &inc.min_kernel {
            Some(v) => host.kernel >= min_kernel(v)?,
            None => true,
        };
    let excluded = exc.arches.contains(&host.arch)
        || exc.caps.iter().any(|c| has_cap(host, c))
        || match &exc.min_kernel {
            Some(v) => host.kernel >= min_kernel(v)?,
            None => false,
        };
    Ok(included && !excluded)
}

fn min_kernel(v: &str) -> Result<(u32, u32), ProfileError> {
    parse_kernel(v).ok_or_else(|| ProfileError::MinKernel(v.to_string()))
}

fn to_oci(rule: &DockerSyscall) -> Result<SeccompSyscall, ProfileError> {
    let names = match (rule.name.is_empty(), rule.names.is_empty()) {
        (false, false) => return Err(ProfileError::NameAndNames(rule.name.clone())),
        (true, true) => return Err(ProfileError::NoName),
        (false, true) => vec![rule.name.clone()],
        (true, false) => rule.names.clone(),
    };
    Ok(SeccompSyscall {
        names,
        action: rule.action.clone(),
        errno_ret: rule.errno_ret,
        args: rule.args.clone(),
    })
}
