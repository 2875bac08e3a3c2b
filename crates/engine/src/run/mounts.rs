//! The mount flags of `hull run`: `-v`, `--mount`, `--tmpfs` and `--volumes-from`, validated into
//! [`UserMount`]s.

use std::path::PathBuf;

use crate::run::config::{flag_err, FlagError, RunOptions, UserMount};
use crate::run::units::parse_bytes;

pub(crate) fn mount_flags(o: &RunOptions) -> Result<Vec<UserMount>, FlagError> {
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

/// Docker's rule for volume names (the same as for container names):
/// `[a-zA-Z0-9][a-zA-Z0-9_.-]+`.
pub fn valid_volume_name(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() >= 2
        && chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

fn volume_name(flag: &'static str, whole: &str, name: &str) -> Result<String, FlagError> {
    if valid_volume_name(name) {
        return Ok(name.to_string());
    }
    Err(flag_err(
        flag,
        whole,
        format!(
            "{name:?} includes invalid characters for a local volume name, only \
             \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed; a host directory must be an absolute path"
        ),
    ))
}

/// `-v /host:/ctr[:opts]` (a bind), `-v NAME:/ctr[:opts]` (a named volume) or `-v /ctr` (an
/// anonymous volume).
fn volume_flag(v: &str) -> Result<UserMount, FlagError> {
    let parts: Vec<&str> = v.split(':').collect();
    let (source, target, mode) = match parts.as_slice() {
        [t] => ("", *t, ""),
        [s, t] => (*s, *t, ""),
        [s, t, m] => (*s, *t, *m),
        _ => {
            return Err(flag_err(
                "--volume",
                v,
                "expected [/host/path|NAME:]/container/path[:ro|rw]",
            ))
        }
    };
    let (mut readonly, mut nocopy) = (false, false);
    for opt in mode.split(',').filter(|m| !m.is_empty()) {
        match opt {
            "ro" => readonly = true,
            "rw" => readonly = false,
            "nocopy" => nocopy = true,
            "z" | "Z" | "rprivate" | "private" => {}
            other => return Err(flag_err("--volume", v, format!("invalid mode: {other}"))),
        }
    }
    let target = container_path("--volume", v, target)?;
    if source.starts_with('/') {
        return Ok(UserMount::Bind {
            source: PathBuf::from(source),
            target,
            readonly,
        });
    }
    let name = match source {
        "" => String::new(),
        s => volume_name("--volume", v, s)?,
    };
    Ok(UserMount::Volume {
        name,
        target,
        readonly,
        nocopy,
    })
}

/// `--volumes-from CONTAINER[:ro|:rw]`: checked here, resolved when the container is created.
pub(crate) fn volumes_from(o: &RunOptions) -> Result<Vec<String>, FlagError> {
    for v in &o.volumes_from {
        let (name, mode) = v.split_once(':').unwrap_or((v, "rw"));
        if name.is_empty() || !matches!(mode, "ro" | "rw") {
            return Err(flag_err("--volumes-from", v, "expected CONTAINER[:ro|:rw]"));
        }
    }
    Ok(o.volumes_from.clone())
}

/// `--mount type=bind,source=/a,target=/b[,readonly]` or `type=tmpfs,target=/t[,tmpfs-size=64m]`.
fn mount_flag(m: &str) -> Result<UserMount, FlagError> {
    let mut kind = "volume";
    let (mut source, mut target, mut readonly, mut nocopy) = (None, None, false, false);
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
            ("volume-nocopy", None | Some("true" | "1")) => nocopy = true,
            ("volume-nocopy", Some("false" | "0")) => nocopy = false,
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
        "volume" => Ok(UserMount::Volume {
            name: match source {
                None | Some("") => String::new(),
                Some(s) => volume_name("--mount", m, s)?,
            },
            target,
            readonly,
            nocopy,
        }),
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
