//! A container's `-v` and `--tmpfs` mounts as Docker shows them: inspect's `Mounts`, and
//! `HostConfig.Binds` and `HostConfig.Tmpfs`.

use serde_json::{json, Map, Value};

use crate::run::UserMount;

/// `Mounts`: one mount point per `-v` or `--tmpfs`, in the order given.
pub fn points(mounts: &[UserMount]) -> Vec<Value> {
    mounts.iter().map(point).collect()
}

fn point(m: &UserMount) -> Value {
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
            UserMount::Tmpfs { .. } => None,
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
            UserMount::Bind { .. } => None,
        })
        .collect()
}
