//! Image references, parsed and normalized the way Docker does it.
//!
//! `busybox` → `docker.io/library/busybox:latest`; `user/app:v1` → `docker.io/user/app:v1`;
//! `localhost:5000/x` → `localhost:5000/x:latest`; `host/x@sha256:…` pins a digest. The first path
//! component is a registry host when it contains `.` or `:` or is `localhost`.

use std::fmt;
use std::str::FromStr;

use hull_oci::{is_sha256_hex, Digest};

/// The registry that bare names live on, and its legacy aliases.
pub const DEFAULT_DOMAIN: &str = "docker.io";
const LEGACY_DOMAIN: &str = "index.docker.io";
const OFFICIAL_PREFIX: &str = "library/";
pub const DEFAULT_TAG: &str = "latest";
/// Docker's limit on the full repository name (domain + path).
const MAX_NAME_LEN: usize = 255;
/// A tag is one word character followed by up to 127 of `[A-Za-z0-9_.-]`.
const MAX_TAG_LEN: usize = 128;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid reference {input:?}: {reason}")]
pub struct ReferenceError {
    pub input: String,
    pub reason: String,
}

/// A normalized image reference: always has a domain; tag and digest are optional.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    domain: String,
    path: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

/// What to ask the registry for: the digest wins over the tag, as in Docker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target<'a> {
    Tag(&'a str),
    Digest(&'a Digest),
}

impl Reference {
    /// Parses `s` and fills in Docker's defaults (domain, `library/`), but not the tag.
    pub fn parse(s: &str) -> Result<Reference, ReferenceError> {
        let fail = |reason: &str| ReferenceError {
            input: s.to_string(),
            reason: reason.to_string(),
        };
        if s.is_empty() {
            return Err(fail("reference is empty"));
        }
        if is_sha256_hex(s) {
            return Err(fail(
                "a 64-character hex string is an image id, not a repository name",
            ));
        }
        let (rest, digest) = split_digest(s).map_err(|r| fail(&r))?;
        let (name, tag) = split_tag(rest);
        if let Some(tag) = tag {
            validate_tag(tag).map_err(|r| fail(&r))?;
        }
        let (domain, path) = split_domain(name);
        validate_domain(&domain).map_err(|r| fail(&r))?;
        validate_path(&path).map_err(|r| fail(&r))?;
        if domain.len() + 1 + path.len() > MAX_NAME_LEN {
            return Err(fail("repository name is longer than 255 characters"));
        }
        Ok(Reference {
            domain,
            path,
            tag: tag.map(str::to_string),
            digest,
        })
    }

    /// Like [`Reference::parse`], then adds `:latest` when neither tag nor digest is given.
    pub fn parse_with_default_tag(s: &str) -> Result<Reference, ReferenceError> {
        let mut r = Reference::parse(s)?;
        if r.tag.is_none() && r.digest.is_none() {
            r.tag = Some(DEFAULT_TAG.to_string());
        }
        Ok(r)
    }

    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The repository path on the registry, e.g. `library/busybox`.
    pub fn path(&self) -> &str {
        &self.path
    }

    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// What to fetch from the registry.
    pub fn target(&self) -> Target<'_> {
        match (&self.digest, &self.tag) {
            (Some(d), _) => Target::Digest(d),
            (None, Some(t)) => Target::Tag(t),
            (None, None) => Target::Tag(DEFAULT_TAG),
        }
    }

    /// `domain/path`, fully qualified: `docker.io/library/busybox`.
    pub fn repository(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }

    /// The repository as Docker shows it: `busybox`, `user/app`, `localhost:5000/x`.
    pub fn familiar_repository(&self) -> String {
        if self.domain == DEFAULT_DOMAIN {
            self.path
                .strip_prefix(OFFICIAL_PREFIX)
                .unwrap_or(&self.path)
                .to_string()
        } else {
            self.repository()
        }
    }

    /// A copy with the tag replaced and the digest dropped.
    pub fn with_tag(&self, tag: &str) -> Reference {
        Reference {
            tag: Some(tag.to_string()),
            digest: None,
            ..self.clone()
        }
    }

    /// A copy pinned to `digest`, without a tag (`repo@sha256:…`).
    pub fn with_digest(&self, digest: Digest) -> Reference {
        Reference {
            tag: None,
            digest: Some(digest),
            ..self.clone()
        }
    }

    /// The short form Docker prints: `busybox:latest`, `localhost:5000/x@sha256:…`.
    pub fn familiar(&self) -> String {
        let mut s = self.familiar_repository();
        push_tag_and_digest(&mut s, self.tag.as_deref(), self.digest.as_ref());
        s
    }
}

impl fmt::Display for Reference {
    /// The fully qualified form, which round-trips through [`Reference::parse`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = self.repository();
        push_tag_and_digest(&mut s, self.tag.as_deref(), self.digest.as_ref());
        f.write_str(&s)
    }
}

impl FromStr for Reference {
    type Err = ReferenceError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Reference::parse(s)
    }
}

fn push_tag_and_digest(s: &mut String, tag: Option<&str>, digest: Option<&Digest>) {
    if let Some(t) = tag {
        s.push(':');
        s.push_str(t);
    }
    if let Some(d) = digest {
        s.push('@');
        s.push_str(&d.to_string());
    }
}

fn split_digest(s: &str) -> Result<(&str, Option<Digest>), String> {
    match s.split_once('@') {
        None => Ok((s, None)),
        Some((rest, d)) => {
            let digest = d.parse::<Digest>().map_err(|e| e.to_string())?;
            Ok((rest, Some(digest)))
        }
    }
}

/// A `:` after the last `/` starts the tag; one before it belongs to a `host:port`.
fn split_tag(s: &str) -> (&str, Option<&str>) {
    let last_slash = s.rfind('/').map_or(0, |i| i + 1);
    match s[last_slash..].rfind(':') {
        Some(i) => (&s[..last_slash + i], Some(&s[last_slash + i + 1..])),
        None => (s, None),
    }
}

fn split_domain(name: &str) -> (String, String) {
    let (domain, path) = match name.split_once('/') {
        Some((first, rest)) if looks_like_host(first) => (first.to_string(), rest.to_string()),
        _ => (DEFAULT_DOMAIN.to_string(), name.to_string()),
    };
    let domain = if domain == LEGACY_DOMAIN {
        DEFAULT_DOMAIN.to_string()
    } else {
        domain
    };
    let path = if domain == DEFAULT_DOMAIN && !path.contains('/') {
        format!("{OFFICIAL_PREFIX}{path}")
    } else {
        path
    };
    (domain, path)
}

fn looks_like_host(component: &str) -> bool {
    component.contains('.') || component.contains(':') || component == "localhost"
}

fn validate_tag(tag: &str) -> Result<(), String> {
    let mut bytes = tag.bytes();
    let first_ok = bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_');
    let rest_ok = bytes.all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
    if !first_ok || !rest_ok || tag.len() > MAX_TAG_LEN {
        return Err(format!(
            "tag {tag:?} must match [A-Za-z0-9_][A-Za-z0-9_.-]{{0,127}}"
        ));
    }
    Ok(())
}

fn validate_domain(domain: &str) -> Result<(), String> {
    let bad = || format!("registry host {domain:?} is not a valid host[:port]");
    let (host, port) = if let Some(rest) = domain.strip_prefix('[') {
        let (v6, after) = rest.split_once(']').ok_or_else(bad)?;
        if v6.is_empty()
            || !v6
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
        {
            return Err(bad());
        }
        (None, after.strip_prefix(':'))
    } else {
        match domain.rsplit_once(':') {
            Some((h, p)) => (Some(h), Some(p)),
            None => (Some(domain), None),
        }
    };
    if let Some(host) = host {
        if host.is_empty() || !host.split('.').all(valid_host_label) {
            return Err(bad());
        }
    }
    if let Some(port) = port {
        if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
    }
    Ok(())
}

fn valid_host_label(label: &str) -> bool {
    let b = label.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
}

fn validate_path(path: &str) -> Result<(), String> {
    if path.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(format!("repository name {path:?} must be lowercase"));
    }
    for component in path.split('/') {
        if !valid_path_component(component) {
            return Err(format!(
                "repository path component {component:?} must match [a-z0-9]+((.|_|__|-+)[a-z0-9]+)*"
            ));
        }
    }
    Ok(())
}

/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`, written out as a scanner.
fn valid_path_component(c: &str) -> bool {
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    let mut i = 0;
    loop {
        let start = i;
        while i < b.len() && alnum(b[i]) {
            i += 1;
        }
        if i == start {
            return false;
        }
        if i == b.len() {
            return true;
        }
        let sep_start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &c[sep_start..i];
        let sep_ok = matches!(sep, "." | "_" | "__") || sep.bytes().all(|x| x == b'-');
        if !sep_ok {
            return false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn norm(s: &str) -> String {
        Reference::parse_with_default_tag(s).unwrap().to_string()
    }

    #[test]
    fn normalizes_like_docker() {
        let table = [
            ("busybox", "docker.io/library/busybox:latest"),
            ("busybox:1.36", "docker.io/library/busybox:1.36"),
            ("user/app:tag", "docker.io/user/app:tag"),
            ("index.docker.io/library/x", "docker.io/library/x:latest"),
            ("docker.io/x", "docker.io/library/x:latest"),
            ("localhost/x", "localhost/x:latest"),
            ("localhost:5000/x", "localhost:5000/x:latest"),
            ("127.0.0.1:5000/a/b/c:v1", "127.0.0.1:5000/a/b/c:v1"),
            ("quay.io/org/img", "quay.io/org/img:latest"),
            ("foo_bar/a-b__c.d:x", "docker.io/foo_bar/a-b__c.d:x"),
            ("[::1]:5000/x", "[::1]:5000/x:latest"),
        ];
        for (input, want) in table {
            assert_eq!(norm(input), want, "input {input}");
        }
    }

    #[test]
    fn digest_is_kept_and_wins_over_tag() {
        let d = "sha256:".to_string() + &"ab".repeat(32);
        let r = Reference::parse_with_default_tag(&format!("host.io/x:v1@{d}")).unwrap();
        assert_eq!(r.tag(), Some("v1"));
        assert_eq!(r.target(), Target::Digest(&d.parse().unwrap()));
        let pinned = Reference::parse_with_default_tag(&format!("busybox@{d}")).unwrap();
        assert_eq!(pinned.tag(), None);
        assert_eq!(pinned.familiar(), format!("busybox@{d}"));
    }

    #[test]
    fn familiar_forms() {
        let r = Reference::parse_with_default_tag("busybox").unwrap();
        assert_eq!(r.familiar(), "busybox:latest");
        let r = Reference::parse_with_default_tag("localhost:5000/x").unwrap();
        assert_eq!(r.familiar(), "localhost:5000/x:latest");
        let r = Reference::parse_with_default_tag("user/app").unwrap();
        assert_eq!(r.familiar_repository(), "user/app");
    }

    #[test]
    fn rejects_malformed() {
        let bad = [
            "",
            "Busybox",
            "UPPER/x",
            "x:",
            "x:-tag",
            "a//b",
            "a/",
            "/a",
            "a..b",
            "-a",
            "a-",
            "x@sha256:abc",
            "x@md5:abc",
            "bad_host:abc/x",
            "host:/x",
            &"a".repeat(64).replace('a', "f"),
            &format!("x:{}", "t".repeat(129)),
            "x y",
        ];
        for input in bad {
            let err = Reference::parse(input);
            assert!(err.is_err(), "{input:?} should be rejected, got {err:?}");
        }
        let msg = Reference::parse("Busybox").unwrap_err().to_string();
        assert!(msg.contains("must be lowercase"), "{msg}");
    }

    fn component() -> impl Strategy<Value = String> {
        "[a-z0-9]{1,5}(([._]|__|-{1,2})[a-z0-9]{1,5}){0,2}"
    }

    proptest! {
        #[test]
        fn parse_display_round_trips(
            host in prop::option::of(prop_oneof![
                Just("localhost".to_string()),
                "[a-z]{1,6}\\.[a-z]{2,3}",
                "[a-z]{1,6}\\.[a-z]{2,3}:[0-9]{2,5}",
            ]),
            comps in prop::collection::vec(component(), 1..4),
            tag in prop::option::of("[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}"),
            digest in prop::option::of("[0-9a-f]{64}"),
        ) {
            let mut s = comps.join("/");
            if let Some(h) = &host { s = format!("{h}/{s}"); }
            if let Some(t) = &tag { s = format!("{s}:{t}"); }
            if let Some(d) = &digest { s = format!("{s}@sha256:{d}"); }
            // Without a host, a first component with a dot would itself be read as a host.
            if is_sha256_hex(&s) || (host.is_none() && comps[0].contains('.')) { return Ok(()); }
            let parsed = Reference::parse(&s).unwrap();
            let again = Reference::parse(&parsed.to_string()).unwrap();
            prop_assert_eq!(&parsed, &again);
            let familiar = Reference::parse(&parsed.familiar()).unwrap();
            prop_assert_eq!(&parsed, &familiar);
        }
    }
}
