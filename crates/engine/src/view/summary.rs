//! The API's container list (`GET /containers/json`): Docker's ContainerSummary, one per
//! container, made from the record and its inspect document so the two always agree.

use serde_json::{json, Map, Value};

use crate::state::listing::state_name;
use crate::state::Record;

/// One container as Docker's list endpoint shows it. `inspect` is the container's inspect
/// document ([`super::container::document`]); `now` is the time its status is told at.
pub fn summary(r: &Record, inspect: &Value, now: i64) -> Value {
    let created = hull_image::time::parse_rfc3339(&r.created).unwrap_or(0);
    let networks = inspect["NetworkSettings"]["Networks"].clone();
    json!({
        "Id": r.id,
        "Names": [format!("/{}", r.name)],
        "Image": r.image,
        "ImageID": inspect["Image"],
        "Command": r.command.join(" "),
        "Created": created,
        "Ports": ports(r),
        "Labels": inspect["Config"]["Labels"].as_object().cloned().unwrap_or_default(),
        "State": state_name(r),
        "Status": super::ps::status(r, now),
        "HostConfig": {"NetworkMode": inspect["HostConfig"]["NetworkMode"]},
        "NetworkSettings": {"Networks": if networks.is_object() { networks } else { json!({}) }},
        "Mounts": inspect["Mounts"].as_array().cloned().unwrap_or_default(),
    })
}

/// The published ports while it runs (`IP`, `PrivatePort`, `PublicPort`, `Type`), and the
/// exposed ones without a host side.
fn ports(r: &Record) -> Vec<Value> {
    let mut out: Vec<Value> = super::ports::live_ports(r)
        .iter()
        .map(|m| {
            json!({
                "IP": m.host_ip.to_string(),
                "PrivatePort": m.container_port,
                "PublicPort": m.host_port,
                "Type": m.proto.to_string(),
            })
        })
        .collect();
    for spec in &r.config.expose {
        let (port, proto) = spec.split_once('/').unwrap_or((spec, "tcp"));
        let Ok(port) = port.parse::<u16>() else {
            continue;
        };
        if out
            .iter()
            .any(|p| p["PrivatePort"] == port && p["Type"] == proto)
        {
            continue;
        }
        let mut p = Map::new();
        p.insert("PrivatePort".into(), port.into());
        p.insert("Type".into(), proto.into());
        out.push(Value::Object(p));
    }
    out
}
