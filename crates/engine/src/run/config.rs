//! `hull run`'s data: [`RunOptions`], the flags as the CLI collects them (no syscalls, no file
//! reads), and [`RunConfig`], what a container is created from and recorded with once
//! `options` validated them. Every validation error is a [`FlagError`] naming the flag and the
//! value, as Docker's do.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::run::logconfig::LogConfig;
use crate::run::restart::RestartPolicy;

/// A container's labels, key to value.
pub type Labels = BTreeMap<String, String>;

/// Flags as typed, before validation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunOptions {
    pub detach: bool,
    pub interactive: bool,
    pub tty: bool,
    pub rm: bool,
    pub name: Option<String>,
    pub env: Vec<String>,
    pub env_files: Vec<PathBuf>,
    pub entrypoint: Option<String>,
    pub workdir: Option<String>,
    pub user: Option<String>,
    pub hostname: Option<String>,
    pub init: bool,
    pub network: Option<String>,
    /// `-p`/`--publish`.
    pub publish: Vec<String>,
    /// `-P`/`--publish-all`.
    pub publish_all: bool,
    pub expose: Vec<String>,
    pub network_aliases: Vec<String>,
    pub mac_address: Option<String>,
    /// `--ip`.
    pub ip: Option<String>,
    pub volumes: Vec<String>,
    pub mounts: Vec<String>,
    pub tmpfs: Vec<String>,
    /// `--volumes-from CONTAINER[:ro|:rw]`.
    pub volumes_from: Vec<String>,
    pub read_only: bool,
    pub privileged: bool,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub security_opt: Vec<String>,
    pub memory: Option<String>,
    pub memory_swap: Option<String>,
    pub cpus: Option<String>,
    pub cpu_shares: Option<u64>,
    pub pids_limit: Option<i64>,
    pub cpuset_cpus: Option<String>,
    pub ulimits: Vec<String>,
    pub platform: Option<String>,
    pub pull: Option<String>,
    pub add_hosts: Vec<String>,
    pub dns: Vec<String>,
    pub dns_search: Vec<String>,
    pub dns_options: Vec<String>,
    /// `--restart`: `no`, `on-failure[:N]`, `always`, `unless-stopped`.
    pub restart: Option<String>,
    pub log_driver: Option<String>,
    /// `--log-opt key=value`.
    pub log_opts: Vec<String>,
    /// `--label`/`-l` values and `--label-file` paths.
    pub labels: Vec<String>,
    pub label_files: Vec<PathBuf>,
    /// `--health-*` and `--no-healthcheck`.
    pub health: crate::run::health::HealthOptions,
    /// `--stop-signal` (a name or number) and `--stop-timeout` (seconds).
    pub stop_signal: Option<String>,
    pub stop_timeout: Option<i64>,
    pub image: String,
    pub args: Vec<String>,
}

/// A flag value that does not validate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid argument {value:?} for \"{flag}\" flag: {reason}")]
pub struct FlagError {
    pub flag: &'static str,
    pub value: String,
    pub reason: String,
}

pub(crate) fn flag_err(flag: &'static str, value: &str, reason: impl Into<String>) -> FlagError {
    FlagError {
        flag,
        value: value.to_string(),
        reason: reason.into(),
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum NetworkMode {
    /// A new, empty network namespace (loopback only).
    None,
    /// The host's network namespace.
    Host,
    /// A new network namespace attached to this network (`bridge` is the default one).
    Bridge(String),
    /// Another container's network namespace (`container:NAME`).
    Container(String),
}

impl NetworkMode {
    /// Docker's `HostConfig.NetworkMode` spelling.
    pub fn name(&self) -> String {
        match self {
            NetworkMode::None => "none".into(),
            NetworkMode::Host => "host".into(),
            NetworkMode::Bridge(n) => n.clone(),
            NetworkMode::Container(c) => format!("container:{c}"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum PullPolicy {
    #[default]
    Missing,
    Always,
    Never,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SeccompChoice {
    Default,
    Unconfined,
    /// A Docker-format profile, read when the container is created.
    Profile(PathBuf),
}

/// A user-requested mount, `-v`, `--mount` or `--tmpfs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum UserMount {
    Bind {
        source: PathBuf,
        target: String,
        readonly: bool,
    },
    Tmpfs {
        target: String,
        options: Vec<String>,
    },
    /// A named volume (`-v NAME:/path`, `--mount type=volume`), or an anonymous one: its name
    /// is empty until the container is created, which gives it a random 64-hex name.
    Volume {
        name: String,
        target: String,
        readonly: bool,
        /// `volume-nocopy`: a new volume is not filled from the image.
        #[serde(default)]
        nocopy: bool,
    },
}

impl UserMount {
    pub fn target(&self) -> &str {
        match self {
            UserMount::Bind { target, .. }
            | UserMount::Tmpfs { target, .. }
            | UserMount::Volume { target, .. } => target,
        }
    }

    /// The volume's name, for a volume mount.
    pub fn volume(&self) -> Option<&str> {
        match self {
            UserMount::Volume { name, .. } => Some(name),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    pub memory: Option<i64>,
    /// Memory plus swap, as Docker's `--memory-swap`; -1 is unlimited.
    pub memory_swap: Option<i64>,
    /// CFS quota in microseconds per [`crate::run::units::CPU_PERIOD`].
    pub cpu_quota: Option<i64>,
    pub cpu_shares: Option<u64>,
    pub pids_limit: Option<i64>,
    pub cpuset_cpus: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ulimit {
    /// OCI rlimit type, `RLIMIT_NOFILE`.
    pub kind: String,
    pub soft: u64,
    pub hard: u64,
}

/// A validated `hull run`: what the container is created from, and what its record keeps so that
/// `hull start` can run it again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunConfig {
    pub image: String,
    /// Arguments after the image; they replace the image's Cmd when not empty.
    pub args: Vec<String>,
    /// `--entrypoint`: replaces the image's Entrypoint (empty: none) and clears its Cmd.
    pub entrypoint: Option<Vec<String>>,
    /// `K=V` from `--env-file` then `-e`, host values filled in.
    pub env: Vec<String>,
    pub workdir: Option<String>,
    pub user: Option<String>,
    pub hostname: Option<String>,
    pub name: Option<String>,
    pub interactive: bool,
    pub tty: bool,
    pub rm: bool,
    pub init: bool,
    pub read_only: bool,
    pub privileged: bool,
    pub network: NetworkMode,
    /// `-p` maps; a host port of 0 is chosen when the container starts.
    #[serde(default)]
    pub publish: Vec<hull_net::PortMap>,
    /// `-P`: the image's exposed ports and `--expose` get random host ports.
    #[serde(default)]
    pub publish_all: bool,
    /// `--expose` as `port/proto`.
    #[serde(default)]
    pub expose: Vec<String>,
    #[serde(default)]
    pub network_aliases: Vec<String>,
    #[serde(default)]
    pub mac_address: Option<String>,
    /// `--ip`: the address on a user-defined network.
    #[serde(default)]
    pub ip: Option<std::net::Ipv4Addr>,
    pub mounts: Vec<UserMount>,
    /// `--volumes-from`, as given; resolved into `mounts` when the container is created.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volumes_from: Vec<String>,
    /// Normalized `CAP_*` names, or `ALL`.
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub no_new_privileges: bool,
    pub seccomp: SeccompChoice,
    pub limits: Limits,
    pub ulimits: Vec<Ulimit>,
    pub platform: Option<String>,
    pub pull: PullPolicy,
    /// `--add-host` as (hostname, ip).
    pub add_hosts: Vec<(String, String)>,
    pub dns: Vec<String>,
    /// `--dns-search`: replaces the host's search domains (`.` alone: none).
    #[serde(default)]
    pub dns_search: Vec<String>,
    /// `--dns-option`: replaces the host's resolv.conf options.
    #[serde(default)]
    pub dns_options: Vec<String>,
    /// What the detached monitor does when the container exits.
    #[serde(default)]
    pub restart: RestartPolicy,
    #[serde(default)]
    pub log: LogConfig,
    /// The container's labels: the flags' when validated, merged over the image's when created.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub labels: Labels,
    /// The health check: the flags' when validated, merged over the image's when created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<crate::run::health::HealthConfig>,
    /// The signal `stop` sends: `--stop-signal`'s, else the image's STOPSIGNAL (set at create),
    /// else none (SIGTERM).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    /// `--stop-timeout`: seconds `stop` waits before SIGKILL when `-t` is not given (else 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_timeout: Option<u64>,
}

/// Where validation looks up what is outside the flags: host environment variables (for `-e K`)
/// and `--env-file` contents. Injected so that validation stays testable and syscall-free.
pub trait Host {
    fn env(&self, key: &str) -> Option<String>;
    fn read_file(&self, path: &Path) -> std::io::Result<String>;
}

/// The real host: the process environment and the file system.
#[derive(Debug)]
pub struct RealHost;

impl Host for RealHost {
    fn env(&self, key: &str) -> Option<String> {
        std::env::var(key).ok()
    }
    fn read_file(&self, path: &Path) -> std::io::Result<String> {
        std::fs::read_to_string(path)
    }
}
