//! `HostConfig` into `hull run`'s options: mounts, ports, restart policy, resources, security,
//! network, DNS and logging, each field spelled as the flag the CLI would pass, so the engine
//! validates both the same way. Also the resources of `POST /containers/{id}/update`.

use std::collections::BTreeMap;

use hull_engine::run::config::Limits;
use hull_engine::run::units::{parse_cpus, CPU_PERIOD};
use hull_engine::run::{RestartPolicy, RunOptions};
use serde::Deserialize;
use serde_json::Value;

use super::fields::Fields;
use crate::error::ApiError;

/// Fills `o` from HostConfig; returns Docker's warnings for what is accepted and ignored.
pub fn apply(h: &Fields, o: &mut RunOptions) -> Result<Vec<String>, ApiError> {
    o.volumes = h.or_default("Binds")?;
    o.mounts = mounts(h)?;
    let tmpfs: BTreeMap<String, String> = h.or_default("Tmpfs")?;
    o.tmpfs = tmpfs
        .iter()
        .map(|(t, opts)| match opts.as_str() {
            "" => t.clone(),
            _ => format!("{t}:{opts}"),
        })
        .collect();
    o.volumes_from = h.or_default("VolumesFrom")?;
    o.publish = port_bindings(h)?;
    o.publish_all = h.or_default("PublishAllPorts")?;
    o.restart = restart(h)?.map(|p| p.0);
    o.rm = h.or_default("AutoRemove")?;
    resources(h, o)?;
    o.cap_add = h.or_default("CapAdd")?;
    o.cap_drop = h.or_default("CapDrop")?;
    o.privileged = h.or_default("Privileged")?;
    o.read_only = h.or_default("ReadonlyRootfs")?;
    o.init = h.get::<bool>("Init")?.unwrap_or(false);
    o.network = h.text("NetworkMode")?;
    o.dns = h.or_default("Dns")?;
    o.dns_search = h.or_default("DnsSearch")?;
    o.dns_options = h.or_default("DnsOptions")?;
    o.add_hosts = h.or_default("ExtraHosts")?;
    let log = h.object("LogConfig")?;
    o.log_driver = log.text("Type")?;
    let opts: BTreeMap<String, String> = log.or_default("Config")?;
    o.log_opts = opts.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let mut warnings = security_opts(h, o)?;
    warnings.extend(unsupported(h));
    Ok(warnings)
}

/// HostConfig settings hull has no equivalent for: a warning each when set, not silence.
const UNSUPPORTED: [&str; 14] = [
    "Devices",
    "DeviceRequests",
    "DeviceCgroupRules",
    "Sysctls",
    "GroupAdd",
    "Links",
    "ShmSize",
    "OomScoreAdj",
    "OomKillDisable",
    "CgroupParent",
    "IpcMode",
    "PidMode",
    "UTSMode",
    "UsernsMode",
];

fn unsupported(h: &Fields) -> Vec<String> {
    let set = |v: &Value| match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::String(s) => !s.is_empty() && s != "private",
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    };
    UNSUPPORTED
        .iter()
        .filter(|key| h.get::<Value>(key).ok().flatten().is_some_and(|v| set(&v)))
        .map(|key| format!("{} is not supported by hull and was ignored", h.name(key)))
        .collect()
}

/// `SecurityOpt`: AppArmor and SELinux labels have nothing to apply to here (a warning, as
/// Docker gives on a host without them); an inline seccomp profile is refused.
fn security_opts(h: &Fields, o: &mut RunOptions) -> Result<Vec<String>, ApiError> {
    let mut warnings = Vec::new();
    for opt in h.or_default::<Vec<String>>("SecurityOpt")? {
        let key = opt.split(['=', ':']).next().unwrap_or_default();
        if matches!(key, "apparmor" | "label") {
            warnings.push(format!("{opt}: ignored, hull has no AppArmor or SELinux"));
        } else if opt.starts_with("seccomp={") || opt.starts_with("seccomp:{") {
            return Err(ApiError::bad(format!(
                "invalid value for {}: an inline seccomp profile is not supported; \
                 name a profile file on the host",
                h.name("SecurityOpt")
            )));
        } else {
            o.security_opt.push(opt);
        }
    }
    Ok(warnings)
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct Mount {
    #[serde(rename = "Type")]
    kind: String,
    source: String,
    target: String,
    read_only: bool,
    volume_options: Option<VolumeOptions>,
    tmpfs_options: Option<TmpfsOptions>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct VolumeOptions {
    no_copy: bool,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct TmpfsOptions {
    size_bytes: i64,
    mode: u32,
}

/// `Mounts` as `--mount` values.
fn mounts(h: &Fields) -> Result<Vec<String>, ApiError> {
    let list: Vec<Mount> = h.or_default("Mounts")?;
    let mut out = Vec::new();
    for m in list {
        if [&m.kind, &m.source, &m.target]
            .iter()
            .any(|s| s.contains(','))
        {
            return Err(ApiError::bad(format!(
                "invalid value for {}: a path with a comma is not supported",
                h.name("Mounts")
            )));
        }
        let mut spec = format!("type={},target={}", m.kind, m.target);
        if !m.source.is_empty() {
            spec.push_str(&format!(",source={}", m.source));
        }
        if m.read_only {
            spec.push_str(",readonly");
        }
        if m.volume_options.is_some_and(|v| v.no_copy) {
            spec.push_str(",volume-nocopy");
        }
        if let Some(t) = m.tmpfs_options {
            if t.size_bytes > 0 {
                spec.push_str(&format!(",tmpfs-size={}", t.size_bytes));
            }
            if t.mode != 0 {
                spec.push_str(&format!(",tmpfs-mode={:o}", t.mode));
            }
        }
        out.push(spec);
    }
    Ok(out)
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct PortBinding {
    host_ip: String,
    host_port: String,
}

/// `PortBindings` (`{"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}`) as `-p` values.
fn port_bindings(h: &Fields) -> Result<Vec<String>, ApiError> {
    let map: BTreeMap<String, Option<Vec<PortBinding>>> = h.or_default("PortBindings")?;
    let mut out = Vec::new();
    for (port, bindings) in map {
        for b in bindings.unwrap_or_default() {
            let ip = match b.host_ip.as_str() {
                "" | "0.0.0.0" => String::new(),
                ip => format!("{ip}:"),
            };
            out.push(format!("{ip}{}:{port}", b.host_port));
        }
    }
    Ok(out)
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct Restart {
    name: String,
    maximum_retry_count: i64,
}

/// `RestartPolicy` as `--restart`'s value and the policy it parses to (None: not set).
pub fn restart(h: &Fields) -> Result<Option<(String, RestartPolicy)>, ApiError> {
    let Some(r) = h.get::<Restart>("RestartPolicy")? else {
        return Ok(None);
    };
    let value = match r.maximum_retry_count {
        0 => r.name.clone(),
        n => format!("{}:{n}", r.name),
    };
    let policy = RestartPolicy::parse(&value).map_err(|e| {
        ApiError::bad(format!(
            "invalid value for {}: {e}",
            h.name("RestartPolicy")
        ))
    })?;
    Ok(Some((value, policy)))
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct Ulimit {
    name: String,
    soft: i64,
    hard: i64,
}

/// Memory, swap, CPUs, shares, pids, cpuset and ulimits, as `hull run`'s flags.
fn resources(h: &Fields, o: &mut RunOptions) -> Result<(), ApiError> {
    let r = read_resources(h)?;
    o.memory = r.memory.filter(|m| *m != 0).map(|m| m.to_string());
    o.memory_swap = r.memory_swap.filter(|m| *m != 0).map(|m| m.to_string());
    o.cpus = r.cpus;
    o.cpu_shares = r.cpu_shares;
    o.pids_limit = r.pids_limit;
    o.cpuset_cpus = r.cpuset_cpus;
    let ulimits: Vec<Ulimit> = h.or_default("Ulimits")?;
    o.ulimits = ulimits
        .iter()
        .map(|u| format!("{}={}:{}", u.name, u.soft, u.hard))
        .collect();
    Ok(())
}

/// The resource fields create and update share, as given (0 is unset).
struct Resources {
    memory: Option<i64>,
    memory_swap: Option<i64>,
    /// CPUs as `--cpus` spells them (`0.5`), from NanoCpus or CpuQuota/CpuPeriod.
    cpus: Option<String>,
    cpu_shares: Option<u64>,
    pids_limit: Option<i64>,
    cpuset_cpus: Option<String>,
}

fn read_resources(h: &Fields) -> Result<Resources, ApiError> {
    let nano: i64 = h.or_default("NanoCpus")?;
    let quota: i64 = h.or_default("CpuQuota")?;
    let period: i64 = h.or_default("CpuPeriod")?;
    let bad =
        |key: &str, why: &str| ApiError::bad(format!("invalid value for {}: {why}", h.name(key)));
    if nano < 0 {
        return Err(bad("NanoCpus", "it cannot be negative"));
    }
    if nano != 0 && quota > 0 {
        return Err(bad(
            "NanoCpus",
            "conflicting options: NanoCpus and CpuQuota cannot both be set",
        ));
    }
    let nano = match (nano, quota) {
        (0, q) if q > 0 => {
            let period = if period > 0 {
                period
            } else {
                CPU_PERIOD as i64
            };
            q * 1_000_000_000 / period
        }
        (n, _) => n,
    };
    let cpus = (nano > 0).then(|| format!("{}.{:09}", nano / 1_000_000_000, nano % 1_000_000_000));
    let shares: i64 = h.or_default("CpuShares")?;
    let cpu_shares = match u64::try_from(shares) {
        Ok(0) => None,
        Ok(s) => Some(s),
        Err(_) => return Err(bad("CpuShares", "it cannot be negative")),
    };
    Ok(Resources {
        memory: h.get("Memory")?,
        memory_swap: h.get("MemorySwap")?,
        cpus,
        cpu_shares,
        pids_limit: h.get("PidsLimit")?,
        cpuset_cpus: h.text("CpusetCpus")?,
    })
}

/// `POST /containers/{id}/update`'s body: the limits it sets and the restart policy.
pub fn update(body: &Value) -> Result<(Limits, Option<RestartPolicy>), ApiError> {
    let h = Fields::root(body)?;
    let r = read_resources(&h)?;
    let bad = |key: &str, why: String| ApiError::bad(format!("invalid value for {key}: {why}"));
    let cpu_quota = r
        .cpus
        .as_deref()
        .map(|c| parse_cpus(c).map_err(|e| bad("NanoCpus", e)))
        .transpose()?;
    let memory = r.memory.filter(|m| *m != 0);
    if memory.is_some_and(|m| m > 0 && m < 6 << 20) {
        return Err(bad("Memory", "the minimum memory limit is 6MB".into()));
    }
    let limits = Limits {
        memory,
        memory_swap: r.memory_swap.filter(|m| *m != 0),
        cpu_quota,
        cpu_shares: r.cpu_shares,
        // Docker: zero or less is unlimited, which the cgroup spells -1.
        pids_limit: r.pids_limit.map(|p| if p > 0 { p } else { -1 }),
        cpuset_cpus: r.cpuset_cpus,
    };
    Ok((limits, restart(&h)?.map(|p| p.1)))
}
