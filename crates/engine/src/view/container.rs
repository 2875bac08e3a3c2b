//! `container inspect`'s document: a container's record and its image's config, Docker-shaped.

use hull_oci::image::ContainerConfig;
use serde_json::{json, Value};

use crate::run::labels;
use crate::run::spec::hostname;
use crate::run::units::CPU_PERIOD;
use crate::run::{LogConfig, LogDriver};
use crate::run::{RunConfig, SeccompChoice};
use crate::state::{Record, Status};
use crate::Engine;

/// The image's config, or an empty one when the image is gone (Docker still inspects then).
pub fn image_config(engine: &Engine, r: &Record) -> ContainerConfig {
    r.image_id
        .parse()
        .ok()
        .and_then(|id| engine.images.config(&id).ok())
        .and_then(|c| c.config)
        .unwrap_or_default()
}

/// The JSON `docker container inspect` prints for one container.
/// `dir` is the container's directory, which holds its /etc files and its log.
pub fn document(r: &Record, image: &ContainerConfig, dir: &std::path::Path) -> Value {
    let c = &r.config;
    let file = |name: &str| dir.join(name).display().to_string();
    let empty = String::new();
    let (path, args) = r.command.split_first().unwrap_or((&empty, &[]));
    json!({
        "Id": r.id,
        "Created": r.created,
        "Path": path,
        "Args": args,
        "State": state(r),
        "Image": r.image_id,
        "ResolvConfPath": file("resolv.conf"),
        "HostnamePath": file("hostname"),
        "HostsPath": file("hosts"),
        "LogPath": file(&format!("{}-json.log", r.id)),
        "Name": format!("/{}", r.name),
        "RestartCount": r.state.restart_count,
        "Driver": "overlay",
        "Platform": "linux",
        "Config": config(r, image),
        "HostConfig": host_config(c),
        // `dir` is `<root>/containers/<id>`.
        "Mounts": super::mounts::points(&c.mounts, dir.parent().and_then(|p| p.parent()).unwrap_or(dir)),
        "NetworkSettings": super::network::network_settings(r),
    })
}

fn null_if_empty<T: serde::Serialize>(v: &[T]) -> Value {
    if v.is_empty() {
        Value::Null
    } else {
        json!(v)
    }
}

/// The container's entrypoint and command as Docker's Config shows them: `--entrypoint`
/// replaces the image's and drops its Cmd; arguments replace the image's Cmd.
pub(crate) fn entrypoint_and_cmd(
    r: &Record,
    image: &ContainerConfig,
) -> (Vec<String>, Vec<String>) {
    let c = &r.config;
    match &c.entrypoint {
        Some(e) => (e.clone(), c.args.clone()),
        None if !c.args.is_empty() => {
            (image.entrypoint.clone().unwrap_or_default(), c.args.clone())
        }
        None => (
            image.entrypoint.clone().unwrap_or_default(),
            image.cmd.clone().unwrap_or_default(),
        ),
    }
}

/// Docker's Config: the image's settings with the user's flags applied.
fn config(r: &Record, image: &ContainerConfig) -> Value {
    let c = &r.config;
    let (entrypoint, cmd) = entrypoint_and_cmd(r, image);
    json!({
        "Hostname": hostname(c, &r.id, &host_hostname()),
        "Domainname": "",
        "User": c.user.clone().or_else(|| image.user.clone()).unwrap_or_default(),
        "AttachStdin": c.interactive,
        "AttachStdout": true,
        "AttachStderr": true,
        "ExposedPorts": exposed_ports(image, &r.config),
        "Tty": c.tty,
        "OpenStdin": c.interactive,
        "StdinOnce": c.interactive,
        "Env": merged_env(image.env.as_deref().unwrap_or_default(), &c.env),
        "Cmd": null_if_empty(&cmd),
        "Image": r.image,
        "Volumes": image.volumes.clone().filter(|v| !v.is_empty()),
        "WorkingDir": c.workdir.clone().or_else(|| image.working_dir.clone()).unwrap_or_default(),
        "Entrypoint": null_if_empty(&entrypoint),
        // Merged over the image's at create; a record from before labels has only the image's.
        "Labels": labels::merge(image.labels.as_ref(), &c.labels),
        // Set at create (flag, else image); a record from before that has only the image's.
        "StopSignal": c.stop_signal.clone().or_else(|| image.stop_signal.clone()).unwrap_or_else(|| "SIGTERM".into()),
        "StopTimeout": c.stop_timeout,
        "Healthcheck": c.healthcheck,
    })
}

/// The image's exposed ports plus `--expose`.
pub(crate) fn exposed_ports(
    image: &ContainerConfig,
    c: &RunConfig,
) -> Option<serde_json::Map<String, Value>> {
    let mut out: serde_json::Map<String, Value> = image
        .exposed_ports
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for e in &c.expose {
        out.entry(e.clone()).or_insert_with(|| json!({}));
    }
    (!out.is_empty()).then_some(out)
}

fn host_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_default()
}

/// The image's Env with the user's `-e` values replacing same-named ones, in order.
pub(crate) fn merged_env(image: &[String], user: &[String]) -> Vec<String> {
    let mut env: Vec<String> = Vec::new();
    for e in image.iter().chain(user) {
        let key = e.split('=').next().unwrap_or(e);
        match env.iter_mut().find(|x| x.split('=').next() == Some(key)) {
            Some(slot) => *slot = e.clone(),
            None => env.push(e.clone()),
        }
    }
    env
}

fn host_config(c: &RunConfig) -> Value {
    let l = &c.limits;
    let binds = super::mounts::binds(&c.mounts);
    let tmpfs = super::mounts::tmpfs(&c.mounts);
    json!({
        "Binds": null_if_empty(&binds),
        "NetworkMode": c.network.name(),
        "PortBindings": super::ports::port_bindings(c),
        "RestartPolicy": {
            "Name": c.restart.name(),
            "MaximumRetryCount": c.restart.max_retries(),
        },
        "LogConfig": log_config(&c.log),
        "AutoRemove": c.rm,
        "CapAdd": null_if_empty(&c.cap_add),
        "CapDrop": null_if_empty(&c.cap_drop),
        "Dns": c.dns,
        "ExtraHosts": null_if_empty(&c.add_hosts.iter().map(|(h, ip)| format!("{h}:{ip}")).collect::<Vec<_>>()),
        "Privileged": c.privileged,
        "ReadonlyRootfs": c.read_only,
        "SecurityOpt": null_if_empty(&security_opt(c)),
        "Tmpfs": if tmpfs.is_empty() { Value::Null } else { Value::Object(tmpfs) },
        "Init": c.init,
        "Memory": l.memory.unwrap_or(0),
        "MemorySwap": l.memory_swap.unwrap_or(0),
        "NanoCpus": l.cpu_quota.map_or(0, |q| q * 1_000_000_000 / CPU_PERIOD as i64),
        "CpuShares": l.cpu_shares.unwrap_or(0),
        "CpusetCpus": l.cpuset_cpus.clone().unwrap_or_default(),
        "PidsLimit": l.pids_limit,
        "Ulimits": c.ulimits.iter().map(|u| json!({
            "Name": u.kind.trim_start_matches("RLIMIT_").to_lowercase(), "Soft": u.soft, "Hard": u.hard,
        })).collect::<Vec<_>>(),
    })
}

fn security_opt(c: &RunConfig) -> Vec<String> {
    let mut out = Vec::new();
    if c.no_new_privileges {
        out.push("no-new-privileges".to_string());
    }
    match &c.seccomp {
        SeccompChoice::Unconfined => out.push("seccomp=unconfined".into()),
        SeccompChoice::Profile(p) => out.push(format!("seccomp={}", p.display())),
        SeccompChoice::Default => {}
    }
    out
}

fn log_config(l: &LogConfig) -> Value {
    let mut config = serde_json::Map::new();
    if let Some(size) = l.max_size {
        config.insert("max-size".into(), json!(size.to_string()));
        config.insert("max-file".into(), json!(l.max_file.to_string()));
    }
    let driver = match l.driver {
        LogDriver::JsonFile => "json-file",
        LogDriver::None => "none",
    };
    json!({ "Type": driver, "Config": config })
}

fn state(r: &Record) -> Value {
    let s = &r.state;
    let status = match s.status {
        Status::Created => "created",
        Status::Running if s.paused => "paused",
        Status::Running => "running",
        Status::Restarting => "restarting",
        Status::Exited => "exited",
        Status::Dead => "dead",
    };
    const ZERO_TIME: &str = "0001-01-01T00:00:00Z";
    let mut v = json!({
        "Status": status,
        "Running": s.status == Status::Running,
        "Paused": s.paused,
        "Restarting": s.status == Status::Restarting,
        "OOMKilled": s.oom_killed,
        "Dead": s.status == Status::Dead,
        "Pid": s.pid.unwrap_or(0),
        "ExitCode": s.exit_code.unwrap_or(0),
        "Error": "",
        "StartedAt": s.started_at.as_deref().unwrap_or(ZERO_TIME),
        "FinishedAt": s.finished_at.as_deref().unwrap_or(ZERO_TIME),
    });
    // Docker shows Health only for a container that has had a health check.
    if let Some(h) = &s.health {
        v["Health"] = json!(h);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::RunOptions;
    use crate::state::record::test_record;
    use crate::state::State;

    fn record(opts: RunOptions) -> Record {
        Record {
            name: "happy_turing".into(),
            command: vec!["sh".into(), "-c".into(), "true".into()],
            state: State {
                status: Status::Running,
                pid: Some(42),
                started_at: Some("2026-01-01T00:00:01Z".into()),
                restart_count: 2,
                ..State::default()
            },
            ..test_record(opts)
        }
    }

    fn image() -> ContainerConfig {
        serde_json::from_value(json!({
            "Env": ["PATH=/bin", "A=image"],
            "Cmd": ["sh"],
            "Labels": {"maintainer": "me"},
            "ExposedPorts": {"80/tcp": {}},
            "StopSignal": "SIGQUIT",
            "WorkingDir": "/srv",
        }))
        .unwrap()
    }

    #[test]
    fn document_has_dockers_shape() {
        let r = record(RunOptions {
            image: "busybox".into(),
            env: vec!["A=user".into()],
            memory: Some("64m".into()),
            cpus: Some("1.5".into()),
            pids_limit: Some(50),
            cap_add: vec!["NET_ADMIN".into()],
            volumes: vec!["/srv:/data:ro".into()],
            rm: true,
            labels: vec!["tier=web".into()],
            ..RunOptions::default()
        });
        let d = document(&r, &image(), std::path::Path::new("/c"));
        assert_eq!(d["Name"], "/happy_turing");
        assert_eq!(d["HostsPath"], "/c/hosts");
        let s = &d["State"];
        for key in [
            "Status",
            "Running",
            "Paused",
            "Restarting",
            "OOMKilled",
            "Dead",
            "Pid",
            "ExitCode",
            "Error",
            "StartedAt",
            "FinishedAt",
        ] {
            assert!(s.get(key).is_some(), "State.{key} missing");
        }
        assert_eq!(s["Status"], "running");
        assert_eq!(s["Pid"], 42);
        assert_eq!(s["FinishedAt"], "0001-01-01T00:00:00Z");
        let c = &d["Config"];
        assert_eq!(c["Env"], json!(["PATH=/bin", "A=user"]));
        assert_eq!(c["Cmd"], json!(["sh"]));
        assert_eq!(c["Entrypoint"], Value::Null);
        assert_eq!(c["Labels"], json!({"maintainer": "me", "tier": "web"}));
        assert_eq!(c["ExposedPorts"], json!({"80/tcp": {}}));
        assert_eq!(c["StopSignal"], "SIGQUIT");
        assert_eq!(c["WorkingDir"], "/srv");
        assert_eq!(c["Hostname"], "4f2a9c1b7e3d");
        assert_eq!(c["Tty"], false);
        assert_eq!(c["OpenStdin"], false);
        let h = &d["HostConfig"];
        assert_eq!(h["Memory"], 64 << 20);
        assert_eq!(h["NanoCpus"], 1_500_000_000i64);
        assert_eq!(h["PidsLimit"], 50);
        assert_eq!(h["AutoRemove"], true);
        assert_eq!(h["Binds"], json!(["/srv:/data:ro"]));
        assert_eq!(h["CapAdd"], json!(["CAP_NET_ADMIN"]));
        assert_eq!(h["NetworkMode"], "bridge");
        assert_eq!(h["PortBindings"], json!({}));
        assert_eq!(h["RestartPolicy"]["Name"], "no");
        assert_eq!(h["LogConfig"]["Type"], "json-file");
        assert_eq!(d["RestartCount"], 2);
        assert_eq!(d["Mounts"][0]["Destination"], "/data");
        assert_eq!(d["Mounts"][0]["RW"], false);
        assert_eq!(d["NetworkSettings"]["Networks"]["bridge"]["IPAddress"], "");
    }

    #[test]
    fn user_entrypoint_clears_the_image_cmd() {
        let r = record(RunOptions {
            image: "busybox".into(),
            entrypoint: Some("top".into()),
            ..RunOptions::default()
        });
        let d = document(&r, &image(), std::path::Path::new("/c"));
        assert_eq!(d["Config"]["Entrypoint"], json!(["top"]));
        assert_eq!(d["Config"]["Cmd"], Value::Null);
    }
}
