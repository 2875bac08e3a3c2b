//! Config-only instructions: how each changes the image config (after substitution).

use std::collections::BTreeMap;

use hull_oci::image::{ContainerConfig, ImageConfig};
use serde_json::{json, Value};

use super::{fail, BuildError};
use crate::dockerfile::{duration, subst, Command, Healthcheck, Instruction};

type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Applies one config-only instruction to `image`.
pub(super) fn apply(
    image: &mut ImageConfig,
    ins: &Instruction,
    escape: char,
    lookup: Lookup<'_>,
    line: usize,
) -> Result<(), BuildError> {
    let at = |e: subst::SubstError| fail(format!("Dockerfile:{line}: {e}"));
    let one = |w: &str| subst::expand(w, escape, lookup).map_err(at);
    let words = |w: &str| subst::expand_words(w, escape, lookup).map_err(at);
    let c = image.config.get_or_insert_with(ContainerConfig::default);
    match ins {
        Instruction::Env(kvs) => {
            // Later pairs see earlier ones only from the next instruction on (Docker's rule).
            let pairs: Vec<(String, String)> = kvs
                .iter()
                .map(|kv| Ok((kv.key.clone(), one(&kv.value)?)))
                .collect::<Result<_, BuildError>>()?;
            set_env(c, pairs);
        }
        Instruction::Label(kvs) => {
            let mut labels = c.labels.take().unwrap_or_default();
            for kv in kvs {
                labels.insert(one(&kv.key)?, one(&kv.value)?);
            }
            c.labels = Some(labels);
        }
        Instruction::Expose(ports) => {
            let mut list = Vec::new();
            for p in ports {
                list.extend(words(p)?);
            }
            expose(c, list);
        }
        Instruction::Volume(vols) => {
            let mut map = c.volumes.take().unwrap_or_default();
            for v in vols {
                map.insert(one(v)?, json!({}));
            }
            c.volumes = Some(map);
        }
        Instruction::User(u) => c.user = Some(one(u)?),
        Instruction::Workdir(w) => {
            let w = one(w)?;
            let base = c.working_dir.clone().unwrap_or_else(|| "/".into());
            c.working_dir = Some(join(&base, &w));
        }
        Instruction::StopSignal(s) => c.stop_signal = Some(one(s)?),
        Instruction::Cmd(cmd) => c.cmd = Some(command(cmd, shell(c))),
        Instruction::Entrypoint(cmd) => {
            c.entrypoint = Some(command(cmd, shell(c)));
            c.cmd = None;
        }
        Instruction::Shell(s) => {
            c.extra.insert("Shell".into(), json!(s));
        }
        Instruction::Healthcheck(h) => {
            let v = healthcheck(h, shell(c), line)?;
            c.extra.insert("Healthcheck".into(), v);
        }
        Instruction::Onbuild { text, .. } => onbuild(c, text),
        Instruction::Maintainer(m) => image.author = Some(m.clone()),
        other => {
            return Err(fail(format!(
                "Dockerfile:{line}: {} is not a config instruction",
                other.keyword()
            )))
        }
    }
    Ok(())
}

/// ENV: each pair replaces the variable's earlier value, in order.
fn set_env(c: &mut ContainerConfig, pairs: Vec<(String, String)>) {
    let env = c.env.get_or_insert_with(Vec::new);
    for (k, v) in pairs {
        env.retain(|e| e.split_once('=').map(|p| p.0) != Some(k.as_str()));
        env.push(format!("{k}={v}"));
    }
}

/// EXPOSE: `80` means `80/tcp`.
fn expose(c: &mut ContainerConfig, ports: Vec<String>) {
    let mut map = c.exposed_ports.take().unwrap_or_default();
    for w in ports {
        let key = if w.contains('/') {
            w
        } else {
            format!("{w}/tcp")
        };
        map.insert(key, json!({}));
    }
    c.exposed_ports = Some(map);
}

/// ONBUILD: the trigger is stored in the config, as Docker does, and not fired here.
fn onbuild(c: &mut ContainerConfig, text: &str) {
    let list = c.extra.entry("OnBuild".to_string()).or_insert(json!([]));
    if let Value::Array(a) = list {
        a.push(json!(text));
    }
}

/// The stage's SHELL (default `/bin/sh -c`).
pub(super) fn shell(c: &ContainerConfig) -> Vec<String> {
    c.extra
        .get("Shell")
        .and_then(|v| serde_json::from_value::<Vec<String>>(v.clone()).ok())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| vec!["/bin/sh".into(), "-c".into()])
}

/// Exec form as is; shell form through the shell.
pub(super) fn command(cmd: &Command, shell: Vec<String>) -> Vec<String> {
    match cmd {
        Command::Exec(v) => v.clone(),
        Command::Shell(s) => {
            let mut v = shell;
            v.push(s.clone());
            v
        }
    }
}

/// `rel` against the working directory `base`, as an absolute path.
pub(super) fn join(base: &str, rel: &str) -> String {
    if rel.starts_with('/') {
        return rel.to_string();
    }
    format!("{}/{}", base.trim_end_matches('/'), rel)
}

fn healthcheck(h: &Healthcheck, shell: Vec<String>, line: usize) -> Result<Value, BuildError> {
    let Healthcheck::Check { flags, command: c } = h else {
        return Ok(json!({"Test": ["NONE"]}));
    };
    let test = match c {
        Command::Exec(v) => [vec!["CMD".to_string()], v.clone()].concat(),
        Command::Shell(s) => {
            let _ = shell;
            vec!["CMD-SHELL".to_string(), s.clone()]
        }
    };
    let mut out: BTreeMap<&str, Value> = BTreeMap::new();
    out.insert("Test", json!(test));
    let dur = |name: &str, v: &Option<String>| -> Result<Option<i64>, BuildError> {
        v.as_deref()
            .map(|s| {
                duration::parse_go_duration(s)
                    .map(|d| d.as_nanos() as i64)
                    .ok_or_else(|| {
                        fail(format!(
                            "Dockerfile:{line}: HEALTHCHECK {name} {s:?}: not a duration"
                        ))
                    })
            })
            .transpose()
    };
    for (key, name, v) in [
        ("Interval", "--interval", &flags.interval),
        ("Timeout", "--timeout", &flags.timeout),
        ("StartPeriod", "--start-period", &flags.start_period),
        ("StartInterval", "--start-interval", &flags.start_interval),
    ] {
        if let Some(n) = dur(name, v)? {
            out.insert(key, json!(n));
        }
    }
    if let Some(r) = &flags.retries {
        let n: i64 = r.parse().map_err(|_| {
            fail(format!(
                "Dockerfile:{line}: HEALTHCHECK --retries {r:?}: not a number"
            ))
        })?;
        out.insert("Retries", json!(n));
    }
    Ok(json!(out))
}
