//! The mount flags of `hull run`: `-v`, `--mount` and `--tmpfs`, validated into [`UserMount`]s.

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
