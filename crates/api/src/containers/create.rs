//! `POST /containers/create`: Docker's Config, HostConfig and NetworkingConfig become the same
//! `RunOptions` the CLI builds from `hull run`'s flags (validated by the engine into a
//! `RunConfig`), with the few settings that flags spell differently (an Entrypoint list, a
//! Healthcheck in nanoseconds) set on the config after. Nothing is pulled: a missing image is
//! Docker's 404, on which clients pull and create again.

use std::path::Path;

use hull_engine::run::health::HealthConfig;
use hull_engine::run::{FlagError, Host, RunConfig, RunOptions};
use serde_json::Value;

use super::fields::{Fields, StrSlice};
use super::hostconfig;
use crate::error::ApiError;

/// A validated create: the config to record and Docker's warnings about it.
#[derive(Debug)]
pub struct Plan {
    pub config: RunConfig,
    pub warnings: Vec<String>,
    /// `"Entrypoint": []` without a Cmd: no entrypoint, and the image's Cmd (Docker's rule;
    /// the engine's empty entrypoint drops the image's Cmd, as `--entrypoint ""` does).
    pub image_cmd: bool,
}

/// The API has no host of the client's to look in: `Env: ["K"]` without a value is dropped,
/// as it would be with an unset host variable, and there are no env or label files.
struct NoHost;

impl Host for NoHost {
    fn env(&self, _key: &str) -> Option<String> {
        None
    }
    fn read_file(&self, path: &Path) -> std::io::Result<String> {
        Err(std::io::Error::new(
            std::io::ErrorKind::Unsupported,
            format!("{}: the API reads no client files", path.display()),
        ))
    }
}

/// The body of a create, with the `name` and `platform` parameters.
pub fn translate(
    body: &Value,
    name: Option<&str>,
    platform: Option<&str>,
) -> Result<Plan, ApiError> {
    let c = Fields::root(body)?;
    let image = c
        .text("Image")?
        .ok_or_else(|| ApiError::bad("invalid value for Image: an image is required"))?;
    let mut o = RunOptions {
        name: name.filter(|n| !n.is_empty()).map(str::to_string),
        platform: platform.filter(|p| !p.is_empty()).map(str::to_string),
        image,
        detach: true,
        ..RunOptions::default()
    };
    let entrypoint = config_fields(&c, &mut o)?;
    let image_cmd = o.args.is_empty()
        && matches!(c.get::<StrSlice>("Entrypoint")?, Some(StrSlice::Many(e)) if e.is_empty());
    let mut warnings = hostconfig::apply(&c.object("HostConfig")?, &mut o)?;
    let volumes: serde_json::Map<String, Value> = c.or_default("Volumes")?;
    anonymous_volumes(&volumes, &mut o);
    endpoint(
        &c.object("NetworkingConfig")?.object("EndpointsConfig")?,
        &mut o,
    )?;
    let health = healthcheck(&c.object("Healthcheck")?)?;
    let mut config = RunConfig::from_options(&o, &NoHost).map_err(flag_error)?;
    config.entrypoint = entrypoint;
    config.healthcheck = health;
    warnings.extend(config.warnings().iter().map(|w| w.to_string()));
    Ok(Plan {
        config,
        warnings,
        image_cmd,
    })
}

/// Config's own fields; returns the Entrypoint, which flags cannot spell as a list.
fn config_fields(c: &Fields, o: &mut RunOptions) -> Result<Option<Vec<String>>, ApiError> {
    o.hostname = c.text("Hostname")?;
    o.user = c.text("User")?;
    o.workdir = c.text("WorkingDir")?;
    o.tty = c.or_default("Tty")?;
    o.interactive = c.or_default("OpenStdin")?;
    o.env = c.or_default("Env")?;
    o.args = c
        .get::<StrSlice>("Cmd")?
        .map(StrSlice::into_vec)
        .unwrap_or_default();
    o.stop_signal = c.text("StopSignal")?;
    o.stop_timeout = c.get("StopTimeout")?;
    o.mac_address = c.text("MacAddress")?;
    if c.or_default::<bool>("NetworkDisabled")? {
        o.network = Some("none".into());
    }
    let labels: std::collections::BTreeMap<String, String> = c.or_default("Labels")?;
    o.labels = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let exposed: serde_json::Map<String, Value> = c.or_default("ExposedPorts")?;
    o.expose = exposed.keys().cloned().collect();
    // Null: the image's. `[]` or `[""]`: none (Docker's CLI sends `[""]` for `--entrypoint ""`).
    Ok(c.get::<StrSlice>("Entrypoint")?.map(|e| {
        let mut e = e.into_vec();
        if e.len() == 1 && e[0].is_empty() {
            e.clear();
        }
        e
    }))
}

/// `Config.Volumes` paths that no bind, mount or tmpfs covers become anonymous volumes (the
/// SDK lists its binds' targets there too).
fn anonymous_volumes(volumes: &serde_json::Map<String, Value>, o: &mut RunOptions) {
    let norm = |p: &str| p.trim_end_matches('/').to_string();
    let mut covered: Vec<String> = o
        .volumes
        .iter()
        .map(|v| {
            let parts: Vec<&str> = v.split(':').collect();
            norm(parts.get(1).unwrap_or(&parts[0]))
        })
        .collect();
    covered.extend(
        o.tmpfs
            .iter()
            .map(|t| norm(t.split(':').next().unwrap_or(t))),
    );
    covered.extend(o.mounts.iter().filter_map(|m| {
        m.split(',')
            .find_map(|f| f.strip_prefix("target=").map(norm))
    }));
    for path in volumes.keys() {
        if !covered.contains(&norm(path)) {
            o.volumes.push(path.clone());
        }
    }
}

/// `NetworkingConfig.EndpointsConfig`: the endpoint on the container's network, with its
/// aliases and IPv4 address. Without a NetworkMode, the one endpoint names the network.
fn endpoint(eps: &Fields, o: &mut RunOptions) -> Result<(), ApiError> {
    let keys = eps.keys();
    let Some(first) = keys.first() else {
        return Ok(());
    };
    if keys.len() > 1 {
        return Err(ApiError::bad(format!(
            "Container cannot be connected to network endpoints: {}",
            keys.join(", ")
        )));
    }
    let mode = o.network.clone().unwrap_or_default();
    let same = mode == *first || (matches!(mode.as_str(), "" | "default") && *first == "bridge");
    if mode.is_empty() || mode == "default" {
        o.network = Some(first.to_string());
    } else if !same {
        return Err(ApiError::bad(format!(
            "invalid value for {}: the container's network is {mode}",
            eps.name(first)
        )));
    }
    let ep = eps.object(first)?;
    o.network_aliases = ep.or_default("Aliases")?;
    o.ip = ep.object("IPAMConfig")?.text("IPv4Address")?;
    if o.mac_address.is_none() {
        o.mac_address = ep.text("MacAddress")?;
    }
    Ok(())
}

/// `Config.Healthcheck`, in nanoseconds as the engine keeps it; checked as Docker checks it.
fn healthcheck(h: &Fields) -> Result<Option<HealthConfig>, ApiError> {
    if h.keys().is_empty() {
        return Ok(None);
    }
    let test: Vec<String> = h.or_default("Test")?;
    if let Some(kind) = test.first() {
        if !matches!(kind.as_str(), "NONE" | "CMD" | "CMD-SHELL") {
            return Err(ApiError::bad(format!(
                "invalid value for {}: the test must start with NONE, CMD or CMD-SHELL, not {kind:?}",
                h.name("Test")
            )));
        }
    }
    let duration = |key: &str| -> Result<i64, ApiError> {
        let ns: i64 = h.or_default(key)?;
        if ns < 0 || (ns != 0 && ns < 1_000_000) {
            return Err(ApiError::bad(format!(
                "invalid value for {}: {ns} ns; it cannot be negative or less than 1ms",
                h.name(key)
            )));
        }
        Ok(ns)
    };
    let retries: i64 = h.or_default("Retries")?;
    if retries < 0 {
        return Err(ApiError::bad(format!(
            "invalid value for {}: it cannot be negative",
            h.name("Retries")
        )));
    }
    Ok(Some(HealthConfig {
        test,
        interval: duration("Interval")?,
        timeout: duration("Timeout")?,
        start_period: duration("StartPeriod")?,
        start_interval: duration("StartInterval")?,
        retries,
    }))
}

/// Docker's name for what a `hull run` flag sets, so that an error names the field the client
/// sent.
fn field_of(flag: &str) -> &str {
    match flag {
        "--publish" => "HostConfig.PortBindings",
        "--expose" => "ExposedPorts",
        "--volume" => "HostConfig.Binds",
        "--mount" => "HostConfig.Mounts",
        "--tmpfs" => "HostConfig.Tmpfs",
        "--volumes-from" => "HostConfig.VolumesFrom",
        "--env" => "Env",
        "--workdir" => "WorkingDir",
        "--user" => "User",
        "--hostname" => "Hostname",
        "--name" => "name",
        "--network" => "HostConfig.NetworkMode",
        "--network-alias" => "NetworkingConfig.EndpointsConfig.Aliases",
        "--mac-address" => "MacAddress",
        "--ip" => "NetworkingConfig.EndpointsConfig.IPAMConfig.IPv4Address",
        "--cap-add" => "HostConfig.CapAdd",
        "--cap-drop" => "HostConfig.CapDrop",
        "--security-opt" => "HostConfig.SecurityOpt",
        "--memory" => "HostConfig.Memory",
        "--memory-swap" => "HostConfig.MemorySwap",
        "--cpus" => "HostConfig.NanoCpus",
        "--cpu-shares" => "HostConfig.CpuShares",
        "--cpuset-cpus" => "HostConfig.CpusetCpus",
        "--ulimit" => "HostConfig.Ulimits",
        "--platform" => "platform",
        "--add-host" => "HostConfig.ExtraHosts",
        "--dns" => "HostConfig.Dns",
        "--dns-search" => "HostConfig.DnsSearch",
        "--dns-option" => "HostConfig.DnsOptions",
        "--restart" => "HostConfig.RestartPolicy",
        "--log-opt" | "--log-driver" => "HostConfig.LogConfig",
        "--label" => "Labels",
        "--stop-signal" => "StopSignal",
        "--stop-timeout" => "StopTimeout",
        "IMAGE" => "Image",
        other => other,
    }
}

/// A flag's validation error as Docker's 400, naming the field.
pub fn flag_error(e: FlagError) -> ApiError {
    let field = field_of(e.flag);
    if e.flag == "--publish" || e.flag == "--expose" {
        return ApiError::bad(format!(
            "invalid port specification: {:?} ({field}: {})",
            e.value, e.reason
        ));
    }
    ApiError::bad(format!(
        "invalid value for {field}: {:?}: {}",
        e.value, e.reason
    ))
}

#[cfg(test)]
#[path = "create_tests.rs"]
mod tests;
