//! `hull inspect CTR`: a container's record as Docker-shaped JSON.

use anyhow::{Context, Result};
use hull_engine::container::{Record, Status};
use hull_engine::logfile::{LogConfig, LogDriver};
use hull_engine::options::{NetworkMode, UserMount};
use hull_engine::units::CPU_PERIOD;
use hull_engine::Engine;
use serde_json::{json, Value};

use super::Ctx;
use crate::cli::ContainersArgs;

pub fn inspect(ctx: &Ctx, args: ContainersArgs) -> Result<u8> {
    let engine = Engine::open(&ctx.root).context("open hull store")?;
    let mut docs = Vec::new();
    let mut code = 0;
    for name in &args.containers {
        match engine.containers.resolve(name) {
            Ok(r) => docs.push(document(&r)),
            Err(e) => {
                eprintln!("hull: {e}");
                code = 1;
            }
        }
    }
    println!("{}", serde_json::to_string_pretty(&Value::Array(docs))?);
    Ok(code)
}

fn document(r: &Record) -> Value {
    let c = &r.config;
    let empty = String::new();
    let (path, args) = r.command.split_first().unwrap_or((&empty, &[]));
    json!({
        "Id": r.id,
        "Created": r.created,
        "Path": path,
        "Args": args,
        "State": state(r),
        "Image": r.image_id,
        "Name": format!("/{}", r.name),
        "RestartCount": r.state.restart_count,
        "Config": {
            "Hostname": c.hostname.clone().unwrap_or_else(|| r.id[..12].to_string()),
            "Env": c.env,
            "Cmd": if c.args.is_empty() { Value::Null } else { json!(c.args) },
            "Image": r.image,
            "WorkingDir": c.workdir.clone().unwrap_or_default(),
            "Entrypoint": c.entrypoint,
            "User": c.user.clone().unwrap_or_default(),
        },
        "HostConfig": {
            "Memory": c.limits.memory.unwrap_or(0),
            "NanoCpus": c.limits.cpu_quota.map_or(0, |q| q * 1_000_000_000 / CPU_PERIOD as i64),
            "PidsLimit": c.limits.pids_limit,
            "Privileged": c.privileged,
            "ReadonlyRootfs": c.read_only,
            "AutoRemove": c.rm,
            "RestartPolicy": {
                "Name": c.restart.name(),
                "MaximumRetryCount": c.restart.max_retries(),
            },
            "LogConfig": log_config(&c.log),
            "NetworkMode": match c.network { NetworkMode::Host => "host", NetworkMode::None => "none" },
        },
        "Mounts": c.mounts.iter().map(mount).collect::<Vec<_>>(),
        "NetworkSettings": {},
    })
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
        Status::Running => "running",
        Status::Restarting => "restarting",
        Status::Exited => "exited",
    };
    const ZERO_TIME: &str = "0001-01-01T00:00:00Z";
    json!({
        "Status": status,
        "Running": s.status == Status::Running,
        "Paused": false,
        "Restarting": s.status == Status::Restarting,
        "OOMKilled": s.oom_killed,
        "Dead": false,
        "Pid": s.pid.unwrap_or(0),
        "ExitCode": s.exit_code.unwrap_or(0),
        "Error": "",
        "StartedAt": s.started_at.as_deref().unwrap_or(ZERO_TIME),
        "FinishedAt": s.finished_at.as_deref().unwrap_or(ZERO_TIME),
    })
}

fn mount(m: &UserMount) -> Value {
    match m {
        UserMount::Bind {
            source,
            target,
            readonly,
        } => json!({
            "Type": "bind", "Source": source, "Destination": target, "Mode": "", "RW": !readonly,
            "Propagation": "rprivate",
        }),
        UserMount::Tmpfs { target, .. } => json!({
            "Type": "tmpfs", "Source": "", "Destination": target, "Mode": "", "RW": true,
            "Propagation": "",
        }),
    }
}
