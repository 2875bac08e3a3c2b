//! `RUN --mount=…`: BuildKit's mount spec, parsed into a [`Mount`] (pure).
//!
//! The spec is comma-separated `key=value` fields (a bare key means `true` for the boolean
//! ones). The parser runs once at parse time (when the spec has no `$`, so the error names the
//! Dockerfile line) and again in the executor after variable substitution. Defaults follow the
//! Dockerfile reference: `type=bind`; a cache's `id` is its target; a secret's target is
//! `/run/secrets/<id>` and its id the target's base name; binds and secrets are read-only,
//! caches and tmpfs writable.

/// The kind of mount (`type=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MountType {
    Bind,
    Cache,
    Tmpfs,
    Secret,
}

/// `sharing=` of a cache mount.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sharing {
    #[default]
    Shared,
    Private,
    Locked,
}

/// One parsed `--mount`, defaults applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub kind: MountType,
    /// Where it appears in the container (relative targets are resolved against the working
    /// directory by the executor). None only for an `env=`-only secret.
    pub target: Option<String>,
    /// `source|src`: a path inside the context, stage or image (bind, cache `from`); for a
    /// secret, its id when `id` is not given.
    pub source: Option<String>,
    /// `from=`: a stage or image name (bind, cache).
    pub from: Option<String>,
    /// `id=`: the cache's or secret's id (defaulted).
    pub id: Option<String>,
    pub sharing: Sharing,
    /// `mode=` (octal).
    pub mode: Option<u32>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub readonly: bool,
    /// `required=`: a secret that is not provided fails the step (else the mount is skipped).
    pub required: bool,
    /// `env=`: a secret exposed as this environment variable.
    pub env: Option<String>,
    /// `size=` of a tmpfs, in bytes.
    pub size: Option<u64>,
}

fn boolean(key: &str, value: Option<&str>) -> Result<bool, String> {
    match value {
        None | Some("true") | Some("1") => Ok(true),
        Some("false") | Some("0") => Ok(false),
        Some(v) => Err(format!("{key}={v}: not a boolean")),
    }
}

fn number(key: &str, value: &str, radix: u32, max: u32) -> Result<u32, String> {
    u32::from_str_radix(value, radix)
        .ok()
        .filter(|n| *n <= max)
        .ok_or_else(|| format!("{key}={value}: not a valid {key}"))
}

/// Bytes of `64m`, `1g`, `4096`, `512k` (binary multiples, as Docker's units).
fn bytes(value: &str) -> Result<u64, String> {
    let v = value.trim().to_ascii_lowercase();
    let v = v.trim_end_matches('b');
    let (num, mul) = match v.chars().last() {
        Some('k') => (&v[..v.len() - 1], 1u64 << 10),
        Some('m') => (&v[..v.len() - 1], 1 << 20),
        Some('g') => (&v[..v.len() - 1], 1 << 30),
        _ => (v, 1),
    };
    num.parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mul))
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("size={value}: not a size"))
}

/// Parses one `--mount` spec (the text after `--mount=`).
pub fn parse_mount(spec: &str) -> Result<Mount, String> {
    let mut kind = MountType::Bind;
    let mut m = Mount {
        kind,
        target: None,
        source: None,
        from: None,
        id: None,
        sharing: Sharing::Shared,
        mode: None,
        uid: None,
        gid: None,
        readonly: false,
        required: false,
        env: None,
        size: None,
    };
    let (mut ro, mut rw) = (None, None);
    for field in spec.split(',').filter(|f| !f.is_empty()) {
        let (key, value) = match field.split_once('=') {
            Some((k, v)) => (k.trim().to_ascii_lowercase(), Some(v)),
            None => (field.trim().to_ascii_lowercase(), None),
        };
        let need = |v: Option<&str>| {
            v.map(str::to_string)
                .ok_or_else(|| format!("{key} needs a value"))
        };
        match key.as_str() {
            "type" => {
                kind = match need(value)?.as_str() {
                    "bind" => MountType::Bind,
                    "cache" => MountType::Cache,
                    "tmpfs" => MountType::Tmpfs,
                    "secret" => MountType::Secret,
                    "ssh" => return Err("type=ssh is not supported".into()),
                    other => return Err(format!("unknown mount type {other:?}")),
                }
            }
            "target" | "dst" | "destination" => m.target = Some(need(value)?),
            "source" | "src" => m.source = Some(need(value)?),
            "from" => m.from = Some(need(value)?),
            "id" => m.id = Some(need(value)?),
            "sharing" => {
                m.sharing = match need(value)?.as_str() {
                    "shared" => Sharing::Shared,
                    "private" => Sharing::Private,
                    "locked" => Sharing::Locked,
                    other => return Err(format!("unknown sharing mode {other:?}")),
                }
            }
            "mode" => m.mode = Some(number("mode", &need(value)?, 8, 0o7777)?),
            "uid" => m.uid = Some(number("uid", &need(value)?, 10, u32::MAX)?),
            "gid" => m.gid = Some(number("gid", &need(value)?, 10, u32::MAX)?),
            "readonly" | "ro" => ro = Some(boolean(&key, value)?),
            "rw" | "readwrite" => rw = Some(boolean(&key, value)?),
            "required" => m.required = boolean(&key, value)?,
            "env" => m.env = Some(need(value)?),
            "size" => m.size = Some(bytes(&need(value)?)?),
            _ => return Err(format!("unknown key {key:?} in mount {spec:?}")),
        }
    }
    m.kind = kind;
    defaults(&mut m, ro, rw)?;
    Ok(m)
}

fn defaults(m: &mut Mount, ro: Option<bool>, rw: Option<bool>) -> Result<(), String> {
    let explicit = match (ro, rw) {
        (Some(r), _) => Some(r),
        (None, Some(w)) => Some(!w),
        (None, None) => None,
    };
    if m.env.is_some() && m.kind != MountType::Secret {
        return Err("env= is only for type=secret".into());
    }
    if m.size.is_some() && m.kind != MountType::Tmpfs {
        return Err("size= is only for type=tmpfs".into());
    }
    if m.target.as_deref() == Some("") {
        return Err("the target is empty".into());
    }
    match m.kind {
        MountType::Secret => {
            if m.id.is_none() {
                m.id = m
                    .target
                    .as_deref()
                    .and_then(|t| t.trim_end_matches('/').rsplit('/').next())
                    .filter(|b| !b.is_empty())
                    .map(str::to_string);
            }
            let Some(id) = m.id.clone() else {
                return Err("a secret mount needs an id or a target".into());
            };
            if m.target.is_none() && m.env.is_none() {
                m.target = Some(format!("/run/secrets/{id}"));
            }
            if explicit == Some(false) {
                return Err("a secret mount is read-only".into());
            }
            m.readonly = true;
        }
        MountType::Cache => {
            let Some(t) = m.target.clone() else {
                return Err("a cache mount needs a target".into());
            };
            m.id.get_or_insert(t);
            m.readonly = explicit.unwrap_or(false);
        }
        MountType::Bind | MountType::Tmpfs => {
            if m.target.is_none() {
                return Err("the mount needs a target".into());
            }
            m.readonly = explicit.unwrap_or(m.kind == MountType::Bind);
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "mount_tests.rs"]
mod tests;
