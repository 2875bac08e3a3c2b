//! Dockerfile instructions applied to an image's config: `commit -c`, `import -c`, and later
//! `build`'s config-only instructions. Each change is one instruction line, as Docker takes it.

use hull_oci::image::ContainerConfig;
use serde_json::{json, Value};

/// The instructions a change may use, in Docker's order.
pub const ALLOWED: [&str; 10] = [
    "CMD",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "LABEL",
    "ONBUILD",
    "USER",
    "VOLUME",
    "WORKDIR",
    "STOPSIGNAL",
];

/// Why a change was refused; its text names the change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("-c {change}: {reason}")]
pub struct ChangeError {
    pub change: String,
    pub reason: String,
}

/// Applies every change in order.
pub fn apply_all(config: &mut ContainerConfig, changes: &[String]) -> Result<(), ChangeError> {
    changes.iter().try_for_each(|c| apply(config, c))
}

/// Applies one instruction line such as `ENV A=1 B=2` or `CMD ["sh"]`.
pub fn apply(config: &mut ContainerConfig, change: &str) -> Result<(), ChangeError> {
    let fail = |reason: String| ChangeError {
        change: change.to_string(),
        reason,
    };
    let line = change.trim();
    let (word, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
    let rest = rest.trim();
    let instruction = word.to_ascii_uppercase();
    if !ALLOWED.contains(&instruction.as_str()) {
        return Err(fail(format!(
            "unknown instruction {word} (allowed: {})",
            ALLOWED.join(", ")
        )));
    }
    if rest.is_empty() {
        return Err(fail(format!("{instruction} needs an argument")));
    }
    match instruction.as_str() {
        "CMD" => config.cmd = Some(command(rest).map_err(fail)?),
        "ENTRYPOINT" => config.entrypoint = Some(command(rest).map_err(fail)?),
        "ENV" => env(config, rest).map_err(fail)?,
        "EXPOSE" => expose(config, rest).map_err(fail)?,
        "LABEL" => {
            let labels = config.labels.get_or_insert_with(Default::default);
            for (k, v) in pairs(rest).map_err(fail)? {
                labels.insert(k, v);
            }
        }
        "ONBUILD" => onbuild(config, rest),
        "USER" => config.user = Some(rest.to_string()),
        "VOLUME" => {
            let volumes = config.volumes.get_or_insert_with(Default::default);
            for v in list(rest).map_err(fail)? {
                volumes.insert(v, json!({}));
            }
        }
        "WORKDIR" => config.working_dir = Some(workdir(config.working_dir.as_deref(), rest)),
        "STOPSIGNAL" => config.stop_signal = Some(rest.to_string()),
        _ => unreachable!("checked against ALLOWED"),
    }
    Ok(())
}

/// JSON exec form, else the shell form run by `/bin/sh -c`.
fn command(rest: &str) -> Result<Vec<String>, String> {
    if rest.starts_with('[') {
        if let Ok(v) = serde_json::from_str::<Vec<String>>(rest) {
            return Ok(v);
        }
    }
    Ok(vec!["/bin/sh".into(), "-c".into(), rest.to_string()])
}

/// A JSON array of strings, else whitespace-separated words.
fn list(rest: &str) -> Result<Vec<String>, String> {
    if rest.starts_with('[') {
        return serde_json::from_str(rest).map_err(|e| format!("invalid JSON array: {e}"));
    }
    words(rest)
}

/// `K=V K2="v 2"` or the old `K value with spaces` form.
fn env(config: &mut ContainerConfig, rest: &str) -> Result<(), String> {
    let first = rest.split_whitespace().next().unwrap_or_default();
    let vars = if first.contains('=') {
        pairs(rest)?
    } else {
        let (k, v) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
        vec![(k.to_string(), v.trim().to_string())]
    };
    let env = config.env.get_or_insert_with(Vec::new);
    for (k, v) in vars {
        let entry = format!("{k}={v}");
        match env
            .iter_mut()
            .find(|e| e.split('=').next() == Some(k.as_str()))
        {
            Some(slot) => *slot = entry,
            None => env.push(entry),
        }
    }
    Ok(())
}

/// `K=V` words, quotes removed; a key must not be empty.
fn pairs(rest: &str) -> Result<Vec<(String, String)>, String> {
    words(rest)?
        .into_iter()
        .map(|w| match w.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            _ => Err(format!("{w:?} is not KEY=VALUE")),
        })
        .collect()
}

fn expose(config: &mut ContainerConfig, rest: &str) -> Result<(), String> {
    let ports = config.exposed_ports.get_or_insert_with(Default::default);
    for w in words(rest)? {
        let (port, proto) = w.split_once('/').unwrap_or((&w, "tcp"));
        let proto = proto.to_ascii_lowercase();
        let valid_port = port.parse::<u16>().is_ok_and(|p| p != 0);
        if !valid_port || !["tcp", "udp", "sctp"].contains(&proto.as_str()) {
            return Err(format!(
                "invalid port {w:?} (want PORT or PORT/tcp|udp|sctp)"
            ));
        }
        ports.insert(format!("{port}/{proto}"), json!({}));
    }
    Ok(())
}

fn onbuild(config: &mut ContainerConfig, rest: &str) {
    let entry = config.extra.entry("OnBuild".into()).or_insert(Value::Null);
    if !entry.is_array() {
        *entry = json!([]);
    }
    if let Some(list) = entry.as_array_mut() {
        list.push(json!(rest));
    }
}

/// An absolute WORKDIR replaces the previous one; a relative one is joined to it.
fn workdir(previous: Option<&str>, rest: &str) -> String {
    if rest.starts_with('/') {
        return rest.to_string();
    }
    let base = previous.filter(|p| !p.is_empty()).unwrap_or("/");
    format!("{}/{rest}", base.trim_end_matches('/'))
}

/// Words split at unquoted whitespace; `"…"` and `'…'` group, `\` escapes the next character.
fn words(s: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some('"') | None, '\\') => {
                cur.extend(chars.next());
                in_word = true;
            }
            (Some(_), c) => cur.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            (None, c) => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if quote.is_some() {
        return Err("unterminated quote".into());
    }
    if in_word {
        out.push(cur);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn applied(changes: &[&str]) -> Value {
        let mut c = ContainerConfig {
            env: Some(vec!["PATH=/bin".into(), "A=old".into()]),
            working_dir: Some("/app".into()),
            ..Default::default()
        };
        let changes: Vec<String> = changes.iter().map(|s| s.to_string()).collect();
        apply_all(&mut c, &changes).unwrap();
        serde_json::to_value(c).unwrap()
    }

    #[test]
    fn each_instruction_sets_its_field() {
        let table: &[(&str, &str, Value)] = &[
            ("CMD [\"ls\",\"-l\"]", "Cmd", json!(["ls", "-l"])),
            ("cmd echo hi", "Cmd", json!(["/bin/sh", "-c", "echo hi"])),
            ("ENTRYPOINT [\"/x\"]", "Entrypoint", json!(["/x"])),
            (
                "ENTRYPOINT top -b",
                "Entrypoint",
                json!(["/bin/sh", "-c", "top -b"]),
            ),
            (
                "ENV A=new B=\"two words\"",
                "Env",
                json!(["PATH=/bin", "A=new", "B=two words"]),
            ),
            (
                "ENV C some value",
                "Env",
                json!(["PATH=/bin", "A=old", "C=some value"]),
            ),
            (
                "EXPOSE 80 53/udp",
                "ExposedPorts",
                json!({"80/tcp": {}, "53/udp": {}}),
            ),
            (
                "LABEL a=1 \"b c\"=2",
                "Labels",
                json!({"a": "1", "b c": "2"}),
            ),
            ("ONBUILD RUN make", "OnBuild", json!(["RUN make"])),
            ("USER 1000:1000", "User", json!("1000:1000")),
            (
                "VOLUME [\"/v1\", \"/v2\"]",
                "Volumes",
                json!({"/v1": {}, "/v2": {}}),
            ),
            ("VOLUME /a /b", "Volumes", json!({"/a": {}, "/b": {}})),
            ("WORKDIR sub", "WorkingDir", json!("/app/sub")),
            ("WORKDIR /abs", "WorkingDir", json!("/abs")),
            ("STOPSIGNAL SIGINT", "StopSignal", json!("SIGINT")),
        ];
        for (change, field, want) in table {
            assert_eq!(&applied(&[change])[field], want, "{change}");
        }
    }

    #[test]
    fn later_changes_build_on_earlier_ones() {
        let c = applied(&["WORKDIR a", "WORKDIR b", "ENV A=1", "ENV A=2"]);
        assert_eq!(c["WorkingDir"], json!("/app/a/b"));
        assert_eq!(c["Env"], json!(["PATH=/bin", "A=2"]));
    }

    #[test]
    fn bad_changes_name_the_change_and_the_cause() {
        let table: &[(&str, &str)] = &[
            (
                "RUN make",
                "unknown instruction RUN (allowed: CMD, ENTRYPOINT",
            ),
            ("FOO", "unknown instruction FOO"),
            ("CMD", "CMD needs an argument"),
            ("EXPOSE http", "invalid port \"http\""),
            ("EXPOSE 80/icmp", "invalid port"),
            ("EXPOSE 0", "invalid port"),
            ("LABEL novalue", "is not KEY=VALUE"),
            ("ENV A=\"open", "unterminated quote"),
            ("VOLUME [\"/a\", 3]", "invalid JSON array"),
        ];
        for (change, want) in table {
            let mut c = ContainerConfig::default();
            let err = apply(&mut c, change).unwrap_err().to_string();
            assert!(err.starts_with(&format!("-c {change}: ")), "{err}");
            assert!(err.contains(want), "{change}: {err}");
        }
    }
}
