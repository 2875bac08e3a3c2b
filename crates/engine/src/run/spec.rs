//! Image config + [`RunConfig`] → OCI runtime spec. Pure: everything the spec depends on that
//! lives outside the two configs (the resolved user, the generated /etc files, the cgroup version,
//! the seccomp profile) is passed in as data, so every rule here is unit-tested.

use std::path::{Path, PathBuf};

use hull_oci::image::ContainerConfig;
use hull_oci::runtime::{
    Capabilities, Cpu, DeviceRule, Linux, Memory, Mount, Namespace, Pids, Process, Resources,
    Rlimit, Root, Seccomp, Spec, User, OCI_VERSION,
};

use crate::run::caps::effective_set;
use crate::run::{NetworkMode, RunConfig, SeccompChoice, UserMount};
// At merge with the seccomp work: `use crate::run::security::{default_seccomp, parse_docker_profile};`
use crate::run::security::{default_seccomp, parse_docker_profile};
use crate::run::security::{MASKED_PATHS, READONLY_PATHS};
use crate::run::units::CPU_PERIOD;
use crate::run::user::ExecUser;

pub const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// /dev/shm's size, Docker's default: 64 MiB.
pub const SHM_SIZE: u64 = 64 << 20;

/// Every container's cgroup is `<CGROUP_PARENT>/<id>`.
pub const CGROUP_PARENT: &str = "/hull";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    #[error("no command specified: the image has no Entrypoint or Cmd and none was given")]
    NoCommand,
    #[error("seccomp profile {path}: {reason}")]
    SeccompProfile { path: PathBuf, reason: String },
}

/// The seccomp filter for `run`: none when privileged or unconfined, Docker's default, or a
/// Docker-format profile whose bytes the caller read (`profile`). Conditional rules depend on the
/// capabilities the container gets, so they are computed here from the same set as the spec's.
pub fn seccomp(run: &RunConfig, profile: Option<&[u8]>) -> Result<Option<Seccomp>, SpecError> {
    if run.privileged {
        return Ok(None);
    }
    let caps = effective_set(run.privileged, &run.cap_add, &run.cap_drop);
    match &run.seccomp {
        SeccompChoice::Unconfined => Ok(None),
        SeccompChoice::Default => Ok(Some(default_seccomp(&caps))),
        SeccompChoice::Profile(path) => {
            let bytes = profile.unwrap_or_default();
            parse_docker_profile(bytes, &caps)
                .map(Some)
                .map_err(|e| SpecError::SeccompProfile {
                    path: path.clone(),
                    reason: e.to_string(),
                })
        }
    }
}

/// Host paths of the per-container files bind-mounted over the image's /etc files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EtcFiles {
    pub hostname: PathBuf,
    pub hosts: PathBuf,
    pub resolv_conf: PathBuf,
}

impl EtcFiles {
    /// The three files in a container's directory.
    pub fn in_dir(dir: &Path) -> EtcFiles {
        EtcFiles {
            hostname: dir.join("hostname"),
            hosts: dir.join("hosts"),
            resolv_conf: dir.join("resolv.conf"),
        }
    }
}

/// What the spec needs besides the two configs.
#[derive(Debug, Clone)]
pub struct SpecInputs<'a> {
    /// The 64-hex container ID.
    pub id: &'a str,
    pub hostname: &'a str,
    pub user: &'a ExecUser,
    pub etc: &'a EtcFiles,
    /// Cgroup v2 hosts get a private cgroup namespace.
    pub cgroup_v2: bool,
    /// The filter to load, or None (unconfined or privileged).
    pub seccomp: Option<Seccomp>,
}

/// The hostname: `--hostname`, else the first 12 hex characters of the ID (Docker's default),
/// else, with `--network host`, the host's.
pub fn hostname(run: &RunConfig, id: &str, host_hostname: &str) -> String {
    match (&run.hostname, &run.network) {
        (Some(h), _) => h.clone(),
        (None, NetworkMode::Host) => host_hostname.to_string(),
        (None, _) => id.chars().take(12).collect(),
    }
}

/// Entrypoint + Cmd: `--entrypoint` replaces the image's Entrypoint and clears its Cmd;
/// arguments after the image replace Cmd.
pub fn command(image: &ContainerConfig, run: &RunConfig) -> Result<Vec<String>, SpecError> {
    let (entrypoint, cmd) = match &run.entrypoint {
        Some(e) => (e.clone(), run.args.clone()),
        None if !run.args.is_empty() => (
            image.entrypoint.clone().unwrap_or_default(),
            run.args.clone(),
        ),
        None => (
            image.entrypoint.clone().unwrap_or_default(),
            image.cmd.clone().unwrap_or_default(),
        ),
    };
    let argv: Vec<String> = entrypoint.into_iter().chain(cmd).collect();
    if argv.is_empty() {
        return Err(SpecError::NoCommand);
    }
    Ok(argv)
}

/// The environment, in Docker's order: PATH (default unless set), HOSTNAME, TERM with a tty, the
/// image's Env, then the user's (each replacing an earlier value of the same key), then HOME from
/// the user's passwd entry unless set.
pub fn environment(
    image: &ContainerConfig,
    run: &RunConfig,
    hostname: &str,
    home: &str,
) -> Vec<String> {
    let mut env: Vec<String> = vec![DEFAULT_PATH.to_string(), format!("HOSTNAME={hostname}")];
    if run.tty {
        env.push("TERM=xterm".into());
    }
    let overrides = image.env.iter().flatten().chain(&run.env);
    for e in overrides {
        let key = e.split('=').next().unwrap_or(e);
        match env.iter_mut().find(|x| x.split('=').next() == Some(key)) {
            Some(slot) => *slot = e.clone(),
            None => env.push(e.clone()),
        }
    }
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        env.push(format!("HOME={home}"));
    }
    env
}

/// The working directory: `-w`, the image's WorkingDir, or `/`.
pub fn working_dir(image: &ContainerConfig, run: &RunConfig) -> String {
    run.workdir
        .clone()
        .or_else(|| image.working_dir.clone().filter(|w| !w.is_empty()))
        .unwrap_or_else(|| "/".into())
}

fn mount(dest: &str, kind: &str, source: &str, options: &[&str]) -> Mount {
    Mount {
        destination: dest.into(),
        kind: Some(kind.into()),
        source: Some(source.into()),
        options: options.iter().map(|o| o.to_string()).collect(),
    }
}

fn bind(dest: &str, source: &std::path::Path, readonly: bool) -> Mount {
    let mut options = vec!["rbind".to_string(), "rprivate".to_string()];
    if readonly {
        options.push("ro".into());
    }
    Mount {
        destination: dest.into(),
        kind: Some("bind".into()),
        source: Some(source.to_path_buf()),
        options,
    }
}

/// Docker's default mounts, then the generated /etc files, then the user's mounts (which may
/// cover any of them, so they come last).
pub fn mounts(run: &RunConfig, etc: &EtcFiles) -> Vec<Mount> {
    let shm_size = format!("size={SHM_SIZE}");
    let sys_access = if run.privileged { "rw" } else { "ro" };
    let mut out = vec![
        mount("/proc", "proc", "proc", &["nosuid", "noexec", "nodev"]),
        mount(
            "/dev",
            "tmpfs",
            "tmpfs",
            &["nosuid", "strictatime", "mode=755", "size=65536k"],
        ),
        mount(
            "/dev/pts",
            "devpts",
            "devpts",
            &[
                "nosuid",
                "noexec",
                "newinstance",
                "ptmxmode=0666",
                "mode=0620",
                "gid=5",
            ],
        ),
        mount(
            "/sys",
            "sysfs",
            "sysfs",
            &["nosuid", "noexec", "nodev", sys_access],
        ),
        mount(
            "/sys/fs/cgroup",
            "cgroup",
            "cgroup",
            &["nosuid", "noexec", "nodev", "relatime", sys_access],
        ),
        mount(
            "/dev/mqueue",
            "mqueue",
            "mqueue",
            &["nosuid", "noexec", "nodev"],
        ),
        mount(
            "/dev/shm",
            "tmpfs",
            "shm",
            &["nosuid", "noexec", "nodev", "mode=1777", &shm_size],
        ),
        bind("/etc/resolv.conf", &etc.resolv_conf, false),
        bind("/etc/hostname", &etc.hostname, false),
        bind("/etc/hosts", &etc.hosts, false),
    ];
    for m in &run.mounts {
        out.push(match m {
            UserMount::Bind {
                source,
                target,
                readonly,
            } => bind(target, source, *readonly),
            UserMount::Tmpfs { target, options } => Mount {
                destination: target.into(),
                kind: Some("tmpfs".into()),
                source: Some("tmpfs".into()),
                options: options.clone(),
            },
            // A run turns each volume into a bind of its data (`volume::mount`) before the spec
            // is built: a volume still here has no data to show.
            UserMount::Volume { .. } => continue,
        });
    }
    out
}

/// The namespaces Docker gives a container.
/// With `container:NAME` the network namespace is joined by path: see [`join_netns`].
pub fn namespaces(network: &NetworkMode, cgroup_v2: bool) -> Vec<Namespace> {
    let mut kinds = vec!["pid", "ipc", "uts", "mount"];
    if *network != NetworkMode::Host {
        kinds.push("network");
    }
    if cgroup_v2 {
        kinds.push("cgroup");
    }
    kinds
        .into_iter()
        .map(|k| Namespace {
            kind: k.into(),
            path: None,
        })
        .collect()
}

/// Makes the spec join the network namespace at `path` (another container's, for
/// `--network container:NAME`) instead of creating one.
/// Docker's warning when the host cannot limit swap (no swap accounting), after which it
/// limits memory alone.
pub const NO_SWAP_LIMIT_WARNING: &str = "WARNING: Your kernel does not support swap limit \
    capabilities or the cgroup is not mounted. Memory limited without swap.";

/// Drops the swap limit (memory+swap) from `spec`, as Docker does on a host without swap
/// accounting; returns whether there was one.
pub fn drop_swap_limit(spec: &mut Spec) -> bool {
    let memory = spec
        .linux
        .as_mut()
        .and_then(|l| l.resources.as_mut())
        .and_then(|r| r.memory.as_mut());
    memory.and_then(|m| m.swap.take()).is_some()
}

pub fn join_netns(spec: &mut Spec, path: &Path) {
    let Some(linux) = spec.linux.as_mut() else {
        return;
    };
    for ns in &mut linux.namespaces {
        if ns.kind == "network" {
            ns.path = Some(path.to_path_buf());
        }
    }
}

/// One device cgroup rule: (type, major, minor, access); None is the `*` wildcard.
type DeviceAllow = (&'static str, Option<i64>, Option<i64>, &'static str);

/// Docker's device allow-list (what runc applies under Docker), after a deny-all rule. Creating
/// any node is allowed (mknod is a capability matter); using one needs an entry below.
pub const DEFAULT_DEVICE_ALLOW: [DeviceAllow; 11] = [
    ("c", None, None, "m"),
    ("b", None, None, "m"),
    ("c", Some(1), Some(3), "rwm"), // /dev/null
    ("c", Some(1), Some(5), "rwm"), // /dev/zero
    ("c", Some(1), Some(7), "rwm"), // /dev/full
    ("c", Some(1), Some(8), "rwm"), // /dev/random
    ("c", Some(1), Some(9), "rwm"), // /dev/urandom
    ("c", Some(5), Some(0), "rwm"), // /dev/tty
    ("c", Some(5), Some(1), "rwm"), // /dev/console
    ("c", Some(5), Some(2), "rwm"), // /dev/ptmx
    ("c", Some(136), None, "rwm"),  // /dev/pts/*
];

/// The device cgroup rules: deny all then the allow-list, or allow all when privileged.
pub fn device_rules(privileged: bool) -> Vec<DeviceRule> {
    let deny_or_allow_all = DeviceRule {
        allow: privileged,
        access: Some("rwm".into()),
        ..DeviceRule::default()
    };
    if privileged {
        return vec![deny_or_allow_all];
    }
    std::iter::once(deny_or_allow_all)
        .chain(
            DEFAULT_DEVICE_ALLOW
                .iter()
                .map(|(kind, major, minor, access)| DeviceRule {
                    allow: true,
                    kind: Some(kind.to_string()),
                    major: *major,
                    minor: *minor,
                    access: Some(access.to_string()),
                }),
        )
        .collect()
}

/// Memory, CPU and pids limits as OCI resources, plus the device rules.
pub fn resources(run: &RunConfig) -> Resources {
    let l = &run.limits;
    let memory = (l.memory.is_some() || l.memory_swap.is_some()).then(|| Memory {
        limit: l.memory,
        swap: l.memory_swap,
        ..Memory::default()
    });
    let cpu =
        (l.cpu_quota.is_some() || l.cpu_shares.is_some() || l.cpuset_cpus.is_some()).then(|| Cpu {
            shares: l.cpu_shares,
            quota: l.cpu_quota,
            period: l.cpu_quota.map(|_| CPU_PERIOD),
            cpus: l.cpuset_cpus.clone(),
            ..Cpu::default()
        });
    Resources {
        devices: device_rules(run.privileged),
        memory,
        cpu,
        pids: l.pids_limit.map(|limit| Pids { limit }),
        ..Resources::default()
    }
}

/// The complete spec for `run`, with the root at `rootfs` inside the bundle.
pub fn build(
    image: &ContainerConfig,
    run: &RunConfig,
    inp: &SpecInputs<'_>,
) -> Result<Spec, SpecError> {
    let caps = effective_set(run.privileged, &run.cap_add, &run.cap_drop);
    let process = Process {
        terminal: run.tty,
        user: User {
            uid: inp.user.uid,
            gid: inp.user.gid,
            additional_gids: inp.user.additional_gids.clone(),
            ..User::default()
        },
        args: command(image, run)?,
        env: environment(image, run, inp.hostname, &inp.user.home),
        cwd: working_dir(image, run),
        capabilities: Some(Capabilities {
            bounding: caps.clone(),
            effective: caps.clone(),
            permitted: caps,
            ..Capabilities::default()
        }),
        rlimits: run
            .ulimits
            .iter()
            .map(|u| Rlimit {
                kind: u.kind.clone(),
                soft: u.soft,
                hard: u.hard,
            })
            .collect(),
        no_new_privileges: run.no_new_privileges,
        ..Process::default()
    };
    let (masked, readonly) = if run.privileged {
        (Vec::new(), Vec::new())
    } else {
        (
            MASKED_PATHS.iter().map(|p| p.to_string()).collect(),
            READONLY_PATHS.iter().map(|p| p.to_string()).collect(),
        )
    };
    let linux = Linux {
        namespaces: namespaces(&run.network, inp.cgroup_v2),
        cgroups_path: Some(format!("{}/{}", CGROUP_PARENT, inp.id)),
        resources: Some(resources(run)),
        seccomp: inp.seccomp.clone(),
        rootfs_propagation: Some("rprivate".into()),
        masked_paths: masked,
        readonly_paths: readonly,
        ..Linux::default()
    };
    Ok(Spec {
        oci_version: OCI_VERSION.into(),
        process: Some(process),
        root: Some(Root {
            path: "rootfs".into(),
            readonly: run.read_only,
        }),
        hostname: Some(inp.hostname.to_string()),
        mounts: mounts(run, inp.etc),
        linux: Some(linux),
        ..Spec::default()
    })
}

#[cfg(test)]
mod tests;
