//! A container's `-v`, `--mount` and `--tmpfs` mounts as Docker shows them: inspect's `Mounts`, and
//! `HostConfig.Binds` and `HostConfig.Tmpfs`.

use std::path::Path;

use serde_json::{json, Map, Value};

use crate::run::UserMount;

/// `Mounts`: one mount point per `-v`, `--mount` or `--tmpfs`, in the order given; `root` is
/// the store root, where volumes keep their data.
pub fn points(mounts: &[UserMount], root: &Path) -> Vec<Value> {
    let volumes = crate::volume::Volumes::open(root);
    mounts.iter().map(|m| point(m, &volumes)).collect()
}

fn point(m: &UserMount, volumes: &crate::volume::Volumes) -> Value {
    match m {
        UserMount::Bind {
            source,
            target,
            readonly,
        } => json!({
            "Type": "bind", "Source": source, "Destination": target, "Mode": if *readonly { "ro" } else { "" },
            "RW": !readonly, "Propagation": "rprivate",
        }),
        UserMount::Tmpfs { target, .. } => json!({
            "Type": "tmpfs", "Source": "", "Destination": target, "Mode": "", "RW": true,
            "Propagation": "",
        }),
        UserMount::Volume {
            name,
            target,
            readonly,
            ..
        } => json!({
            "Type": "volume", "Name": name, "Source": volumes.mountpoint(name),
            "Destination": target, "Driver": "local", "Mode": volume_mode(volumes, name, *readonly),
            "RW": !readonly, "Propagation": "",
        }),
    }
}

/// `HostConfig.Binds`: each bind mount as `SOURCE:TARGET[:ro]`.
pub fn binds(mounts: &[UserMount]) -> Vec<String> {
    mounts
        .iter()
        .filter_map(|m| match m {
            UserMount::Bind {
                source,
                target,
                readonly,
            } => Some(format!(
                "{}:{target}{}",
                source.display(),
                if *readonly { ":ro" } else { "" }
            )),
            UserMount::Tmpfs { .. } | UserMount::Volume { .. } => None,
        })
        .collect()
}

/// `HostConfig.Tmpfs`: target → its options joined by commas.
pub fn tmpfs(mounts: &[UserMount]) -> Map<String, Value> {
    mounts
        .iter()
        .filter_map(|m| match m {
            UserMount::Tmpfs { target, options } => {
                Some((target.clone(), json!(options.join(","))))
            }
            UserMount::Bind { .. } | UserMount::Volume { .. } => None,
        })
        .collect()
}

/// Docker's `Mode` of a volume mount: `ro`, else `z` for a named volume and empty for an
/// anonymous one.
fn volume_mode(volumes: &crate::volume::Volumes, name: &str, readonly: bool) -> &'static str {
    match (readonly, volumes.get(name).map(|v| v.is_anonymous())) {
        (true, _) => "ro",
        (false, Ok(true)) => "",
        (false, _) => "z",
    }
}
