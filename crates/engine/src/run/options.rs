//! `hull run` flags validated: [`RunConfig::from_options`] turns the plain [`RunOptions`] the CLI
//! collects into the config a container is created from and recorded with. Every error names
//! the flag and the value, as Docker's do. The mount flags are in `mounts`.

use std::net::IpAddr;
use std::path::PathBuf;

use hull_net::PortMap;

use crate::run::caps;
use crate::run::config::{
    flag_err, FlagError, Host, Limits, NetworkMode, PullPolicy, RunConfig, RunOptions,
    SeccompChoice, Ulimit,
};
use crate::run::labels;
use crate::run::logconfig::LogConfig;
use crate::run::mounts::{mount_flags, volumes_from};
use crate::run::netopts;
use crate::run::restart::RestartPolicy;
use crate::run::units::{parse_bytes, parse_cpus, parse_ulimit};

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
            entrypoint: o.entrypoint.as_deref().map(entrypoint_flag),
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
            publish: publish_flags(&o.publish)?,
            publish_all: o.publish_all,
            expose: expose_flags(&o.expose)?,
            network_aliases: alias_flags(&o.network_aliases)?,
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
            volumes_from: volumes_from(o)?,
            cap_add,
            cap_drop,
            no_new_privileges,
            seccomp,
            limits: limits(o)?,
            ulimits: ulimit_flags(&o.ulimits)?,
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
            log: log_flags(o)?,
            labels: labels::parse_flags(&o.labels, &o.label_files, &|p| host.read_file(p))?,
            healthcheck: o.health.validate()?,
            stop_signal: stop_signal_flag(o.stop_signal.as_deref())?,
            stop_timeout: stop_timeout_flag(o.stop_timeout)?,
        })
    }
}

/// `--stop-signal`: kept as given once it names a signal.
fn stop_signal_flag(s: Option<&str>) -> Result<Option<String>, FlagError> {
    let Some(s) = s else { return Ok(None) };
    crate::run::parse_signal(s).map_err(|_| flag_err("--stop-signal", s, "not a signal"))?;
    Ok(Some(s.to_string()))
}

/// `--stop-timeout`: whole seconds, not negative.
fn stop_timeout_flag(t: Option<i64>) -> Result<Option<u64>, FlagError> {
    t.map(|t| {
        u64::try_from(t)
            .map_err(|_| flag_err("--stop-timeout", &t.to_string(), "must not be negative"))
    })
    .transpose()
}

/// `--entrypoint`: one word, or none at all when empty.
fn entrypoint_flag(e: &str) -> Vec<String> {
    if e.is_empty() {
        Vec::new()
    } else {
        vec![e.to_string()]
    }
}

/// Every `-p`, each of which may map a range.
fn publish_flags(publish: &[String]) -> Result<Vec<PortMap>, FlagError> {
    Ok(publish
        .iter()
        .map(|p| netopts::publish(p))
        .collect::<Result<Vec<_>, _>>()?
        .concat())
}

/// Every `--expose`, each of which may name a range.
fn expose_flags(expose: &[String]) -> Result<Vec<String>, FlagError> {
    Ok(expose
        .iter()
        .map(|e| netopts::expose(e))
        .collect::<Result<Vec<_>, _>>()?
        .concat())
}

fn alias_flags(aliases: &[String]) -> Result<Vec<String>, FlagError> {
    aliases.iter().map(|a| netopts::network_alias(a)).collect()
}

fn ulimit_flags(ulimits: &[String]) -> Result<Vec<Ulimit>, FlagError> {
    ulimits
        .iter()
        .map(|u| {
            parse_ulimit(u)
                .map(|(kind, soft, hard)| Ulimit { kind, soft, hard })
                .map_err(|r| flag_err("--ulimit", u, r))
        })
        .collect()
}

/// `--log-driver` and `--log-opt`.
fn log_flags(o: &RunOptions) -> Result<LogConfig, FlagError> {
    LogConfig::parse(o.log_driver.as_deref(), &o.log_opts)
        .map_err(|r| flag_err("--log-opt", &o.log_opts.join(","), r))
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
