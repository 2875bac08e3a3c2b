//! `hull run` flags in two steps: [`RunOptions`] is the plain data the CLI collects (no syscalls,
//! no file reads); [`RunConfig::from_options`] validates it into the config a container is created
//! from and recorded with. Every error names the flag and the value, as Docker's do.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::lifecycle::logfile::LogConfig;
use crate::lifecycle::restart::RestartPolicy;
use crate::run::caps;
use crate::run::netopts;
use crate::run::units::{parse_bytes, parse_cpus, parse_ulimit};

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
    /// `--restart`: no, on-failure[:N], always, unless-stopped.
    pub restart: Option<String>,
    pub log_driver: Option<String>,
    /// `--log-opt key=value`.
    pub log_opts: Vec<String>,
    /// `--label`/`-l` values and `--label-file` paths.
    pub labels: Vec<String>,
    pub label_files: Vec<PathBuf>,
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

fn flag_err(flag: &'static str, value: &str, reason: impl Into<String>) -> FlagError {
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
}

impl UserMount {
    pub fn target(&self) -> &str {
        match self {
            UserMount::Bind { target, .. } | UserMount::Tmpfs { target, .. } => target,
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
    pub labels: crate::run::labels::Labels,
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

/// Docker's minimum `--memory`: 6 MiB.
const MIN_MEMORY: i64 = 6 << 20;

impl RunConfig {
    /// Docker's warnings about flags it accepts but ignores, printed as `WARNING: …`.
    pub fn warnings(&self) -> Vec<&'static str> {
        let publishing = !self.publish.is_empty() || self.publish_all;
        if publishing && self.network == NetworkMode::Host {
            vec![netopts::HOST_PORTS_DISCARDED]
        } else {
            Vec::new()
        }
    }

    pub fn from_options(o: &RunOptions, host: &dyn Host) -> Result<RunConfig, FlagError> {
        if o.image.is_empty() {
            return Err(flag_err("IMAGE", "", "an image is required"));
        }
        let (cap_add, cap_drop) = (
            caps_flag("--cap-add", &o.cap_add)?,
            caps_flag("--cap-drop", &o.cap_drop)?,
        );
        let (no_new_privileges, seccomp) = security_opts(&o.security_opt)?;
        Ok(RunConfig {
            image: o.image.clone(),
            args: o.args.clone(),
            entrypoint: o.entrypoint.as_ref().map(|e| {
                if e.is_empty() {
                    Vec::new()
                } else {
                    vec![e.clone()]
                }
            }),
            env: env_flags(&o.env, &o.env_files, host)?,
            workdir: o.workdir.as_deref().map(workdir_flag).transpose()?,
            user: o.user.as_deref().map(user_flag).transpose()?,
            hostname: o.hostname.as_deref().map(hostname_flag).transpose()?,
            name: o.name.as_deref().map(name_flag).transpose()?,
            interactive: o.interactive,
            tty: o.tty,
            rm: o.rm,
            init: o.init,
            read_only: o.read_only,
            privileged: o.privileged,
            network: network_flags(o)?,
            publish: o
                .publish
                .iter()
                .map(|p| netopts::publish(p))
                .collect::<Result<Vec<_>, _>>()?
                .concat(),
            publish_all: o.publish_all,
            expose: o
                .expose
                .iter()
                .map(|e| netopts::expose(e))
                .collect::<Result<Vec<_>, _>>()?
                .concat(),
            network_aliases: o
                .network_aliases
                .iter()
                .map(|a| netopts::network_alias(a))
                .collect::<Result<_, _>>()?,
            mac_address: o
                .mac_address
                .as_deref()
                .map(netopts::mac_address)
                .transpose()?,
            ip: o
                .ip
                .as_deref()
                .map(|ip| netopts::ip(ip, &o.network))
                .transpose()?,
            mounts: mount_flags(o)?,
            cap_add,
            cap_drop,
            no_new_privileges,
            seccomp,
            limits: limits(o)?,
            ulimits: o
                .ulimits
                .iter()
                .map(|u| {
                    parse_ulimit(u)
                        .map(|(kind, soft, hard)| Ulimit { kind, soft, hard })
                        .map_err(|r| flag_err("--ulimit", u, r))
                })
                .collect::<Result<_, _>>()?,
            platform: o.platform.as_deref().map(platform_flag).transpose()?,
            pull: pull_flag(o.pull.as_deref())?,
            add_hosts: o
                .add_hosts
                .iter()
                .map(|h| add_host_flag(h))
                .collect::<Result<_, _>>()?,
            dns: o
                .dns
                .iter()
                .map(|d| dns_flag(d))
                .collect::<Result<_, _>>()?,
            dns_search: o.dns_search.clone(),
            dns_options: o.dns_options.clone(),
            restart: restart_flag(o)?,
            log: LogConfig::parse(o.log_driver.as_deref(), &o.log_opts)
                .map_err(|r| flag_err("--log-opt", &o.log_opts.join(","), r))?,
            labels: crate::run::labels::parse_flags(&o.labels, &o.label_files, &|p| {
                host.read_file(p)
            })?,
        })
    }
}

/// `--restart`; any policy but `no` conflicts with `--rm`, as in Docker.
fn restart_flag(o: &RunOptions) -> Result<RestartPolicy, FlagError> {
    let Some(value) = o.restart.as_deref() else {
        return Ok(RestartPolicy::No);
    };
    let policy = RestartPolicy::parse(value).map_err(|r| flag_err("--restart", value, r))?;
    if o.rm && !policy.is_no() {
        return Err(flag_err(
            "--restart",
            value,
            "Conflicting options: --restart and --rm",
        ));
    }
    Ok(policy)
}

/// `--env-file` lines first, then `-e`, so that `-e` wins. A bare `K` takes the host's value and
/// is dropped when the host has none (Docker's behaviour).
pub(crate) fn env_flags(
    env: &[String],
    files: &[PathBuf],
    host: &dyn Host,
) -> Result<Vec<String>, FlagError> {
    let mut out = Vec::new();
    for file in files {
        let shown = file.display().to_string();
        let text = host
            .read_file(file)
            .map_err(|e| flag_err("--env-file", &shown, format!("read: {e}")))?;
        for line in text.lines() {
            let line = line.trim_start();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            out.extend(env_entry("--env-file", line, host)?);
        }
    }
    for e in env {
        out.extend(env_entry("--env", e, host)?);
    }
    Ok(out)
}

fn env_entry(flag: &'static str, e: &str, host: &dyn Host) -> Result<Option<String>, FlagError> {
    let key = e.split('=').next().unwrap_or("");
    if key.is_empty() || key.contains(char::is_whitespace) {
        return Err(flag_err(
            flag,
            e,
            "variable name is empty or contains whitespace",
        ));
    }
    if e.contains('=') {
        return Ok(Some(e.to_string()));
    }
    Ok(host.env(key).map(|v| format!("{key}={v}")))
}

fn workdir_flag(w: &str) -> Result<String, FlagError> {
    if !w.starts_with('/') {
        return Err(flag_err(
            "--workdir",
            w,
            "the working directory must be an absolute path",
        ));
    }
    Ok(w.to_string())
}

fn user_flag(u: &str) -> Result<String, FlagError> {
    let (user, group) = match u.split_once(':') {
        Some((a, b)) => (a, Some(b)),
        None => (u, None),
    };
    let ok = |s: &str| !s.is_empty() && !s.contains([':', '\n', ' ']);
    if !ok(user) || group.is_some_and(|g| !ok(g)) {
        return Err(flag_err(
            "--user",
            u,
            "expected user[:group] with a name or a numeric id",
        ));
    }
    Ok(u.to_string())
}

fn hostname_flag(h: &str) -> Result<String, FlagError> {
    let valid = !h.is_empty()
        && h.len() <= 64
        && h.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_');
    if !valid {
        return Err(flag_err("--hostname", h, "not a valid hostname"));
    }
    Ok(h.to_string())
}

/// Docker's container name rule: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`, with an optional leading `/`.
fn name_flag(n: &str) -> Result<String, FlagError> {
    let name = n.strip_prefix('/').unwrap_or(n);
    let mut chars = name.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && name.len() >= 2
        && chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
    if !valid {
        return Err(flag_err(
            "--name",
            n,
            "only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed",
        ));
    }
    Ok(name.to_string())
}

/// `--network` and the flags that need a network of the container's own.
fn network_flags(o: &RunOptions) -> Result<NetworkMode, FlagError> {
    let mode = netopts::network_mode(o.network.as_deref())?;
    let publishing = !o.publish.is_empty() || o.publish_all;
    netopts::check_conflicts(
        &mode,
        publishing,
        o.mac_address.is_some(),
        !o.network_aliases.is_empty(),
    )?;
    if let NetworkMode::Container(_) = mode {
        // The joined container's hostname, /etc/hosts and resolv.conf are shared (Docker's rule).
        let shared = [
            ("--hostname", o.hostname.is_some()),
            ("--add-host", !o.add_hosts.is_empty()),
            ("--dns", !o.dns.is_empty()),
            ("--dns-search", !o.dns_search.is_empty()),
            ("--dns-option", !o.dns_options.is_empty()),
        ];
        if let Some((flag, _)) = shared.iter().find(|(_, set)| *set) {
            return Err(flag_err(
                flag,
                o.network.as_deref().unwrap_or_default(),
                "conflicting options: it and the container network mode",
            ));
        }
    }
    Ok(mode)
}

fn pull_flag(p: Option<&str>) -> Result<PullPolicy, FlagError> {
    match p {
        None | Some("missing") => Ok(PullPolicy::Missing),
        Some("always") => Ok(PullPolicy::Always),
        Some("never") => Ok(PullPolicy::Never),
        Some(v) => Err(flag_err("--pull", v, "expected missing, always or never")),
    }
}

fn platform_flag(p: &str) -> Result<String, FlagError> {
    p.parse::<hull_image::platform::PlatformSpec>()
        .map(|_| p.to_string())
        .map_err(|e| flag_err("--platform", p, e.to_string()))
}

fn add_host_flag(h: &str) -> Result<(String, String), FlagError> {
    let (name, ip) = h
        .split_once('=')
        .or_else(|| h.split_once(':'))
        .ok_or_else(|| flag_err("--add-host", h, "expected host:ip"))?;
    let ip = ip.trim_start_matches('[').trim_end_matches(']');
    if name.is_empty() || ip.parse::<IpAddr>().is_err() {
        return Err(flag_err(
            "--add-host",
            h,
            "expected host:ip with a literal IP address",
        ));
    }
    Ok((name.to_string(), ip.to_string()))
}

fn dns_flag(d: &str) -> Result<String, FlagError> {
    d.parse::<IpAddr>()
        .map(|ip| ip.to_string())
        .map_err(|_| flag_err("--dns", d, "not an IP address"))
}

fn caps_flag(flag: &'static str, names: &[String]) -> Result<Vec<String>, FlagError> {
    names
        .iter()
        .map(|n| caps::normalize(n).ok_or_else(|| flag_err(flag, n, "unknown capability")))
        .collect()
}

/// `--security-opt`: returns (no_new_privileges, seccomp). Accepts `key=value` and the older
/// `key:value` spelling.
fn security_opts(opts: &[String]) -> Result<(bool, SeccompChoice), FlagError> {
    let mut nnp = false;
    let mut seccomp = SeccompChoice::Default;
    for o in opts {
        let (key, value) = match o.split_once(['=', ':']) {
            Some((k, v)) => (k, Some(v)),
            None => (o.as_str(), None),
        };
        match (key, value) {
            ("no-new-privileges", None | Some("true")) => nnp = true,
            ("no-new-privileges", Some("false")) => nnp = false,
            ("seccomp", Some("unconfined")) => seccomp = SeccompChoice::Unconfined,
            ("seccomp", Some(path)) if !path.is_empty() => {
                seccomp = SeccompChoice::Profile(PathBuf::from(path))
            }
            _ => {
                return Err(flag_err(
                    "--security-opt",
                    o,
                    "supported: no-new-privileges[=true|false], seccomp=unconfined|PROFILE.json",
                ))
            }
        }
    }
    Ok((nnp, seccomp))
}

fn mount_flags(o: &RunOptions) -> Result<Vec<UserMount>, FlagError> {
    let mut out = Vec::new();
    for v in &o.volumes {
        out.push(volume_flag(v)?);
    }
    for m in &o.mounts {
        out.push(mount_flag(m)?);
    }
    for t in &o.tmpfs {
        out.push(tmpfs_flag(t)?);
    }
    for (i, m) in out.iter().enumerate() {
        if out[..i].iter().any(|p| p.target() == m.target()) {
            return Err(flag_err("--volume", m.target(), "duplicate mount point"));
        }
    }
    Ok(out)
}

fn container_path(flag: &'static str, whole: &str, p: &str) -> Result<String, FlagError> {
    if !p.starts_with('/') || p == "/" || p.split('/').any(|c| c == "..") {
        return Err(flag_err(
            flag,
            whole,
            format!("invalid mount path {p:?}: it must be absolute and not /"),
        ));
    }
    Ok(p.trim_end_matches('/').to_string())
}

/// `-v /host:/ctr[:ro|rw]`. Named and anonymous volumes are refused until volumes exist.
fn volume_flag(v: &str) -> Result<UserMount, FlagError> {
    let parts: Vec<&str> = v.split(':').collect();
    let (source, target, mode) = match parts.as_slice() {
        [s, t] => (*s, *t, ""),
        [s, t, m] => (*s, *t, *m),
        [_] => {
            return Err(flag_err(
                "--volume",
                v,
                "anonymous volumes are not supported yet; use /host:/ctr",
            ))
        }
        _ => {
            return Err(flag_err(
                "--volume",
                v,
                "expected /host/path:/container/path[:ro|rw]",
            ))
        }
    };
    if !source.starts_with('/') {
        return Err(flag_err(
            "--volume",
            v,
            "named volumes are not supported yet; use an absolute host path",
        ));
    }
    let mut readonly = false;
    for opt in mode.split(',').filter(|m| !m.is_empty()) {
        match opt {
            "ro" => readonly = true,
            "rw" => readonly = false,
            "z" | "Z" | "rprivate" | "private" => {}
            other => return Err(flag_err("--volume", v, format!("invalid mode: {other}"))),
        }
    }
    Ok(UserMount::Bind {
        source: PathBuf::from(source),
        target: container_path("--volume", v, target)?,
        readonly,
    })
}

/// `--mount type=bind,source=/a,target=/b[,readonly]` or `type=tmpfs,target=/t[,tmpfs-size=64m]`.
fn mount_flag(m: &str) -> Result<UserMount, FlagError> {
    let mut kind = "volume";
    let (mut source, mut target, mut readonly) = (None, None, false);
    let mut tmpfs_opts = Vec::new();
    for field in m.split(',') {
        let (k, v) = match field.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (field, None),
        };
        match (k, v) {
            ("type", Some(t)) => kind = t,
            ("source" | "src", Some(s)) => source = Some(s),
            ("target" | "destination" | "dst", Some(t)) => target = Some(t),
            ("readonly" | "ro", None | Some("true" | "1")) => readonly = true,
            ("readonly" | "ro", Some("false" | "0")) => readonly = false,
            ("tmpfs-size", Some(s)) => {
                let bytes = parse_bytes(s).map_err(|r| flag_err("--mount", m, r))?;
                tmpfs_opts.push(format!("size={bytes}"));
            }
            ("tmpfs-mode", Some(mode)) if u32::from_str_radix(mode, 8).is_ok() => {
                tmpfs_opts.push(format!("mode={mode}"))
            }
            ("bind-propagation", Some(_)) => {}
            _ => {
                return Err(flag_err(
                    "--mount",
                    m,
                    format!("unexpected field {field:?}"),
                ))
            }
        }
    }
    let target = target.ok_or_else(|| flag_err("--mount", m, "target is required"))?;
    let target = container_path("--mount", m, target)?;
    match kind {
        "bind" => {
            let source = source
                .ok_or_else(|| flag_err("--mount", m, "source is required for a bind mount"))?;
            if !source.starts_with('/') {
                return Err(flag_err(
                    "--mount",
                    m,
                    "a bind source must be an absolute host path",
                ));
            }
            Ok(UserMount::Bind {
                source: PathBuf::from(source),
                target,
                readonly,
            })
        }
        "tmpfs" => {
            let mut options = vec!["nosuid".to_string(), "nodev".to_string()];
            if readonly {
                options.push("ro".into());
            }
            options.extend(tmpfs_opts);
            Ok(UserMount::Tmpfs { target, options })
        }
        "volume" => Err(flag_err(
            "--mount",
            m,
            "volumes are not supported yet; use type=bind or type=tmpfs",
        )),
        other => Err(flag_err(
            "--mount",
            m,
            format!("unknown mount type {other:?}"),
        )),
    }
}

/// `--tmpfs /path[:opts]`; Docker's defaults are noexec, nosuid and nodev.
fn tmpfs_flag(t: &str) -> Result<UserMount, FlagError> {
    let (path, opts) = t.split_once(':').unwrap_or((t, ""));
    let target = container_path("--tmpfs", t, path)?;
    let mut options: Vec<String> = ["noexec", "nosuid", "nodev"].map(String::from).to_vec();
    for o in opts.split(',').filter(|o| !o.is_empty()) {
        if let Some(size) = o.strip_prefix("size=") {
            let bytes = parse_bytes(size).map_err(|r| flag_err("--tmpfs", t, r))?;
            options.push(format!("size={bytes}"));
        } else {
            options.push(o.to_string());
        }
    }
    Ok(UserMount::Tmpfs { target, options })
}

fn limits(o: &RunOptions) -> Result<Limits, FlagError> {
    let memory = o
        .memory
        .as_deref()
        .map(|m| {
            let b = parse_bytes(m).map_err(|r| flag_err("--memory", m, r))?;
            if b < MIN_MEMORY {
                return Err(flag_err("--memory", m, "the minimum memory limit is 6MB"));
            }
            Ok(b)
        })
        .transpose()?;
    let memory_swap = match (o.memory_swap.as_deref(), memory) {
        (Some("-1"), _) => Some(-1),
        (Some(s), Some(mem)) => {
            let b = parse_bytes(s).map_err(|r| flag_err("--memory-swap", s, r))?;
            if b < mem {
                return Err(flag_err(
                    "--memory-swap",
                    s,
                    "must be at least --memory (it is memory plus swap)",
                ));
            }
            Some(b)
        }
        (Some(s), None) => {
            return Err(flag_err(
                "--memory-swap",
                s,
                "set --memory too: the swap limit is memory plus swap",
            ))
        }
        // Docker's default: as much swap as memory.
        (None, Some(mem)) => Some(mem * 2),
        (None, None) => None,
    };
    let cpu_quota = o
        .cpus
        .as_deref()
        .map(|c| parse_cpus(c).map_err(|r| flag_err("--cpus", c, r)))
        .transpose()?;
    if let Some(s) = o.cpu_shares {
        if s != 0 && !(2..=262_144).contains(&s) {
            return Err(flag_err(
                "--cpu-shares",
                &s.to_string(),
                "must be between 2 and 262144",
            ));
        }
    }
    let cpuset_cpus = o.cpuset_cpus.as_deref().map(cpuset_flag).transpose()?;
    Ok(Limits {
        memory,
        memory_swap,
        cpu_quota,
        cpu_shares: o.cpu_shares.filter(|s| *s != 0),
        // Docker: zero or negative means unlimited.
        pids_limit: o.pids_limit.filter(|p| *p > 0),
        cpuset_cpus,
    })
}

/// `0-2,4`: comma-separated cpu numbers and ascending ranges.
fn cpuset_flag(c: &str) -> Result<String, FlagError> {
    let item_ok = |item: &str| match item.split_once('-') {
        Some((a, b)) => matches!((a.parse::<u32>(), b.parse::<u32>()), (Ok(a), Ok(b)) if a <= b),
        None => item.parse::<u32>().is_ok(),
    };
    if c.is_empty() || !c.split(',').all(item_ok) {
        return Err(flag_err(
            "--cpuset-cpus",
            c,
            "expected cpu numbers and ranges such as 0-2,4",
        ));
    }
    Ok(c.to_string())
}

#[cfg(test)]
mod tests;
