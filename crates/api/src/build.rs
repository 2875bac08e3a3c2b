//! `POST /build` (Docker's classic builder: `docker build` with `DOCKER_BUILDKIT=0`, Compose's
//! `build:`, the SDKs' `images.build`) and `POST /build/prune`.
//!
//! The body is the context tar (plain, gzip or zstd; bzip2 and xz are refused with a 400). The
//! query is checked first (a 400 names the field), then the context is unpacked; from there on
//! the answer is a 200 stream of Docker's JSON lines: each line the builder says as
//! `{"stream":"…\n"}`, each RUN's output likewise, the image as `{"aux":{"ID":"sha256:…"}}`,
//! and a failure (a Dockerfile error, a failing RUN with its exit code) as the last line,
//! `{"errorDetail":{…},"error":…}`. The build runs on a thread of its own; its RUN containers
//! run under monitors, as the API's start runs them (this process is multi-threaded and never
//! forks a container). A client that goes away stops the build at its running (or next) RUN,
//! which is killed and removed; the build then fails and tags nothing.

use std::collections::BTreeMap;
use std::path::{Component, Path};
use std::sync::Arc;

use base64::Engine as _;
use bytes::Bytes;
use hull_build::context::{Context, ContextError};
use hull_build::exec::{self, BuildError, BuildOptions, Progress, RunMode};
use hull_image::platform::PlatformSpec;
use hull_image::pull::{PullOptions, Quiet};
use hull_image::registry::{DockerConfig, Registry};
use hull_image::Reference;
use hyper::body::Incoming;
use hyper::header::HeaderValue;
use hyper::{Method, Request, StatusCode};
use serde_json::{json, Value};
use tokio::sync::mpsc::Sender;

use crate::body;
use crate::error::{one_line, ApiError};
use crate::images_archive::body_reader;
use crate::query::Query;
use crate::route::{blocking, not_served, Handled, Shared, Target};

pub async fn route(shared: Arc<Shared>, req: Request<Incoming>, t: Target) -> Handled {
    let segs: Vec<&str> = t.segments.iter().map(String::as_str).collect();
    match (req.method(), segs.as_slice()) {
        (&Method::POST, ["build"]) => build(&shared, req, &t).await,
        (&Method::POST, ["build", "prune"]) => prune(&shared).await,
        _ => Err(not_served(req.method(), &t)),
    }
}

/// What the request asks for.
struct Params {
    dockerfile: String,
    opts: BuildOptions,
    /// `X-Registry-Config`'s credentials, for the base images' pulls.
    credentials: Option<DockerConfig>,
}

/// The query, checked before the body is read.
fn params(q: &Query) -> Result<Params, ApiError> {
    let tags = q
        .all("t")
        .iter()
        .filter(|t| !t.is_empty())
        .map(|t| {
            Reference::parse_with_default_tag(t)
                .map_err(|e| ApiError::bad(format!("t: invalid reference format {t:?}: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    for flag in ["rm", "forcerm", "squash"] {
        q.flag(flag, false)?; // accepted: intermediate containers always go
    }
    if let Some(v) = q.get("version").filter(|v| !v.is_empty() && *v != "1") {
        return Err(ApiError::bad(format!(
            "version: builder version {v:?} (BuildKit) is not supported; hull serves the \
             classic builder (version 1, DOCKER_BUILDKIT=0)"
        )));
    }
    if q.get("remote").is_some_and(|r| !r.is_empty()) {
        return Err(ApiError::bad(
            "remote: a context from a URL or git repository is not supported; send the context \
             as the request body",
        ));
    }
    json_list(q, "cachefrom")?; // accepted: the step cache is the store's own
    check_platform(q.get("platform").unwrap_or_default())?;
    let dockerfile = match q.get("dockerfile").filter(|d| !d.is_empty()) {
        Some(d) => d.to_string(),
        None => "Dockerfile".to_string(),
    };
    if Path::new(&dockerfile)
        .components()
        .any(|c| c == Component::ParentDir)
    {
        return Err(ApiError::bad(format!(
            "dockerfile: {dockerfile:?} is outside the build context"
        )));
    }
    let opts = BuildOptions {
        text: String::new(),
        target: q
            .get("target")
            .filter(|t| !t.is_empty())
            .map(str::to_string),
        build_args: json_map(q, "buildargs")?,
        network: network(q.get("networkmode").unwrap_or_default())?,
        quiet: q.flag("q", false)?,
        no_cache: q.flag("nocache", false)?,
        pull: q.flag("pull", false)?,
        tags,
        labels: json_map(q, "labels")?,
        format: Default::default(),
        // Set by the handler from the service's settings (ADD of a URL).
        registry: Default::default(),
        secrets: Default::default(),
    };
    Ok(Params {
        dockerfile,
        opts,
        credentials: None,
    })
}

/// `X-Registry-Config`: base64url of `{"REGISTRY": {"username", "password"} or {"auth"}, …}`,
/// what Docker's clients send with a build for the registries they have logins for.
fn registry_config(header: Option<&HeaderValue>) -> Result<Option<DockerConfig>, ApiError> {
    let Some(text) = header.map(|h| h.as_bytes()).filter(|h| !h.is_empty()) else {
        return Ok(None);
    };
    let bad = |why: String| ApiError::bad(format!("X-Registry-Config: {why}"));
    let trimmed: Vec<u8> = text.iter().copied().filter(|b| *b != b'=').collect();
    let decoded = [
        base64::engine::general_purpose::URL_SAFE_NO_PAD,
        base64::engine::general_purpose::STANDARD_NO_PAD,
    ]
    .iter()
    .find_map(|e| e.decode(&trimmed).ok())
    .ok_or_else(|| bad("not base64".into()))?;
    let doc: BTreeMap<String, Value> =
        serde_json::from_slice(&decoded).map_err(|e| bad(e.to_string()))?;
    let mut config = DockerConfig::default();
    let mut any = false;
    for (registry, entry) in doc {
        let field = |k: &str| entry.get(k).and_then(Value::as_str).unwrap_or_default();
        let (mut user, mut pass) = (field("username").to_string(), field("password").to_string());
        if user.is_empty() && !field("auth").is_empty() {
            let pair = base64::engine::general_purpose::STANDARD
                .decode(field("auth"))
                .ok()
                .and_then(|b| String::from_utf8(b).ok());
            if let Some((u, p)) = pair.as_deref().and_then(|p| p.split_once(':')) {
                (user, pass) = (u.to_string(), p.to_string());
            }
        }
        if user.is_empty() && pass.is_empty() {
            continue;
        }
        let host = registry
            .trim_start_matches("https://")
            .trim_start_matches("http://");
        let host = host.split('/').next().unwrap_or(host);
        config.set(host, &user, &pass);
        any = true;
    }
    Ok(any.then_some(config))
}

/// `{"K": "V", …}`; a null value (a build arg the client named without a value) is left out.
fn json_map(q: &Query, key: &str) -> Result<BTreeMap<String, String>, ApiError> {
    let Some(text) = q.get(key).filter(|s| !s.is_empty()) else {
        return Ok(BTreeMap::new());
    };
    let map: BTreeMap<String, Option<String>> = serde_json::from_str(text)
        .map_err(|e| ApiError::bad(format!("{key}: not a JSON object of strings: {e}")))?;
    Ok(map
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v)))
        .collect())
}

fn json_list(q: &Query, key: &str) -> Result<Vec<String>, ApiError> {
    match q.get(key).filter(|s| !s.is_empty()) {
        None => Ok(Vec::new()),
        Some(text) => serde_json::from_str(text)
            .map_err(|e| ApiError::bad(format!("{key}: not a JSON array of strings: {e}"))),
    }
}

/// Only the host's platform is built.
fn check_platform(p: &str) -> Result<(), ApiError> {
    if p.is_empty() {
        return Ok(());
    }
    let host = PlatformSpec::host();
    let want = p
        .parse::<PlatformSpec>()
        .map_err(|e| ApiError::bad(format!("platform: {p:?}: {e}")))?;
    let same_variant = want.variant.is_none() || want.variant == host.variant;
    if want.os == host.os && want.architecture == host.architecture && same_variant {
        return Ok(());
    }
    Err(ApiError::bad(format!(
        "platform: {p:?}: hull builds only for the host's platform, {}/{}",
        host.os, host.architecture
    )))
}

/// `networkmode` as the RUN containers' `--network`.
fn network(mode: &str) -> Result<Option<String>, ApiError> {
    match mode {
        "" | "default" | "bridge" => Ok(None),
        "none" | "host" => Ok(Some(mode.to_string())),
        other => Err(ApiError::bad(format!(
            "networkmode: {other:?}: the build's RUN containers take default, bridge, none or host"
        ))),
    }
}

async fn build(shared: &Arc<Shared>, req: Request<Incoming>, t: &Target) -> Handled {
    let mut params = params(&t.query)?;
    params.credentials = registry_config(req.headers().get("x-registry-config"))?;
    params.opts.registry =
        hull_engine::settings::registry_config(shared.opts.config.as_deref(), None, None)
            .map_err(|e| ApiError::internal(one_line(&e)))?;
    let reader = body_reader(req.into_body());
    let context = blocking(shared, move |_| {
        Context::from_tar(reader).map_err(|e| match e {
            ContextError::Tar(_) | ContextError::Ignore(_) => ApiError::bad(e.to_string()),
            other => ApiError::internal(one_line(&other)),
        })
    })
    .await?;
    let (tx, reply) = body::stream("application/json");
    let service = shared.clone();
    std::thread::Builder::new()
        .name("api-build".into())
        .spawn(move || {
            let sink = Lines {
                tx,
                quiet: params.opts.quiet,
            };
            match run(&service, &context, params, &sink) {
                Ok(id) => sink.send(&json!({"aux": {"ID": id.to_string()}})),
                Err(e) => sink.send(&error_line(&e)),
            }
        })
        .map_err(|e| ApiError::internal(format!("start the build thread: {e}")))?;
    Ok(reply)
}

/// Reads and parses the Dockerfile in the context, then builds.
fn run(
    s: &Shared,
    context: &Context,
    mut params: Params,
    sink: &Lines,
) -> Result<hull_oci::Digest, BuildError> {
    let rel = params.dockerfile.trim_start_matches('/');
    let text = std::fs::read_to_string(context.root().join(rel)).map_err(|e| BuildError {
        message: format!("Cannot locate specified Dockerfile: {rel}: {e}"),
        code: None,
    })?;
    let name = Path::new(rel)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| rel.to_string());
    let file = hull_build::dockerfile::parse(&name, &text).map_err(|e| BuildError {
        message: e.to_string(),
        code: None,
    })?;
    params.opts.text = text;
    let credentials = params.credentials.take();
    let pull = |engine: &hull_engine::Engine, image: &str| {
        pull_base(s, engine, image, credentials.clone(), sink)
    };
    let id = exec::build(&s.engine, context, &file, &params.opts, &pull, sink)?;
    if params.opts.quiet {
        sink.line(&id.to_string());
    }
    let tags: Vec<String> = params.opts.tags.iter().map(|t| t.familiar()).collect();
    for tag in &tags {
        s.engine.image_tagged(&id.to_string(), tag);
    }
    Ok(id)
}

/// A base image the store lacks, pulled with the service's registry settings and the
/// credentials the client sent (as Docker's daemon, the service reads no client's config file).
fn pull_base(
    s: &Shared,
    engine: &hull_engine::Engine,
    image: &str,
    credentials: Option<DockerConfig>,
    sink: &Lines,
) -> Result<(), String> {
    let reference = Reference::parse_with_default_tag(image).map_err(|e| e.to_string())?;
    let tag = reference.tag().unwrap_or_default().to_string();
    let head = format!("Pulling from {}", reference.path());
    sink.send(&json!({"status": head, "id": tag}));
    let config =
        hull_engine::settings::registry_config(s.opts.config.as_deref(), None, credentials)
            .map_err(|e| one_line(&e))?;
    let registry = Registry::new(reference.domain(), &config).map_err(|e| one_line(&e))?;
    let opts = PullOptions {
        platform: PlatformSpec::host(),
        ..PullOptions::default()
    };
    let done = hull_image::pull::pull(&engine.images, &registry, &reference, &opts, &Quiet)
        .map_err(|e| format!("pull {}: {}", reference.familiar(), one_line(&e)))?;
    engine.image_pulled(&reference.familiar());
    sink.send(&json!({"status": format!("Digest: {}", done.digest)}));
    let status = match done.updated {
        true => "Downloaded newer image for",
        false => "Image is up to date for",
    };
    sink.send(&json!({"status": format!("Status: {status} {}", reference.familiar())}));
    Ok(())
}

/// Docker's error line; a failing RUN's exit code is its `code` (the docker CLI exits with it).
fn error_line(e: &BuildError) -> Value {
    let mut detail = json!({"message": e.message});
    if let Some(code) = e.code {
        detail["code"] = json!(code);
    }
    json!({"errorDetail": detail, "error": e.message})
}

/// The build's sink: every line a `{"stream": …}` JSON line on the response.
struct Lines {
    tx: Sender<Bytes>,
    /// `q`: the RUNs' output is not sent either (Docker's clients print the stream as the ID).
    quiet: bool,
}

impl Lines {
    fn send(&self, v: &Value) {
        // A client gone away shows in `gone`; the build then stops at its running or next RUN.
        let _ = self.tx.blocking_send(Bytes::from(body::json_line(v)));
    }
}

impl Progress for Lines {
    fn line(&self, text: &str) {
        self.send(&json!({"stream": format!("{text}\n")}));
    }

    fn warning(&self, text: &str) {
        self.line(text);
    }

    fn run_mode(&self) -> RunMode {
        RunMode::Detached
    }

    fn output(&self, bytes: &[u8]) {
        if self.quiet {
            return;
        }
        self.send(&json!({"stream": String::from_utf8_lossy(bytes)}));
    }

    fn gone(&self) -> bool {
        self.tx.is_closed()
    }
}

/// `POST /build/prune`: forgets the step cache; the images it named stay.
async fn prune(shared: &Arc<Shared>) -> Handled {
    let pruned = blocking(shared, |s| {
        exec::prune_cache(s.engine.images.root()).map_err(|e| ApiError::internal(e.message))
    })
    .await?;
    Ok(body::json(
        StatusCode::OK,
        &json!({"CachesDeleted": pruned.keys, "SpaceReclaimed": pruned.bytes}),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> Query {
        Query::parse(Some(s))
    }

    #[test]
    fn the_query_becomes_build_options() {
        let p = params(&q("t=a%2Fb%3A1&t=c&dockerfile=sub%2FD&buildargs=%7B%22A%22%3A%221%22%2C%22N%22%3Anull%7D&labels=%7B%22l%22%3A%22v%22%7D&target=base&nocache=1&q=1&networkmode=host&rm=1&forcerm=0&pull=1&cachefrom=%5B%5D")).unwrap();
        assert_eq!(p.dockerfile, "sub/D");
        let tags: Vec<String> = p.opts.tags.iter().map(|t| t.familiar()).collect();
        assert_eq!(tags, ["a/b:1", "c:latest"]);
        assert_eq!(p.opts.build_args.get("A").map(String::as_str), Some("1"));
        assert!(!p.opts.build_args.contains_key("N"));
        assert_eq!(p.opts.labels.get("l").map(String::as_str), Some("v"));
        assert_eq!(p.opts.target.as_deref(), Some("base"));
        assert!(p.opts.no_cache && p.opts.quiet && p.opts.pull);
        assert_eq!(p.opts.network.as_deref(), Some("host"));
        let d = params(&q("networkmode=default")).unwrap();
        assert_eq!(d.dockerfile, "Dockerfile");
        assert_eq!(d.opts.network, None);
        assert!(!d.opts.pull);
    }

    #[test]
    fn bad_parameters_are_400s_naming_the_field() {
        for (query, field) in [
            ("t=UPPER%3Ax", "t:"),
            ("buildargs=%5B1%5D", "buildargs:"),
            ("labels=nope", "labels:"),
            ("networkmode=mynet", "networkmode:"),
            ("platform=linux%2Fs390x", "platform:"),
            ("nocache=maybe", "nocache"),
            ("pull=maybe", "pull"),
            ("cachefrom=x", "cachefrom:"),
            ("dockerfile=..%2FD", "dockerfile:"),
            ("version=2", "version:"),
            ("remote=https%3A%2F%2Fx", "remote:"),
        ] {
            let Err(e) = params(&q(query)) else {
                panic!("{query} accepted");
            };
            assert_eq!(e.status, StatusCode::BAD_REQUEST, "{query}");
            assert!(e.message.contains(field), "{query}: {}", e.message);
        }
        let host = PlatformSpec::host();
        let here = format!("platform={}%2F{}", host.os, host.architecture);
        assert!(params(&q(&here)).is_ok());
    }

    #[test]
    fn registry_config_reads_each_registrys_login() {
        let enc = |s: &str| base64::engine::general_purpose::URL_SAFE.encode(s);
        let h = |s: String| HeaderValue::from_str(&s).unwrap();
        let basic = base64::engine::general_purpose::STANDARD.encode("u2:p2");
        let doc = format!(
            r#"{{"127.0.0.1:5001": {{"username": "u", "password": "p"}},
                "https://r.example/v1/": {{"auth": "{basic}"}}, "empty": {{}}}}"#
        );
        let c = registry_config(Some(&h(enc(&doc)))).unwrap().unwrap();
        assert_eq!(
            c.get_inline("127.0.0.1:5001"),
            Some(("u".into(), "p".into()))
        );
        assert_eq!(c.get_inline("r.example"), Some(("u2".into(), "p2".into())));
        assert!(registry_config(Some(&h(enc("{}")))).unwrap().is_none());
        assert!(registry_config(None).unwrap().is_none());
        let e = registry_config(Some(&h("!!".into()))).unwrap_err();
        assert!(e.message.contains("X-Registry-Config"), "{}", e.message);
    }

    #[test]
    fn a_failing_run_carries_its_exit_code() {
        let e = BuildError {
            message: "RUN false (Dockerfile:2): exit code 3".into(),
            code: Some(3),
        };
        let v = error_line(&e);
        assert_eq!(v["errorDetail"]["code"], 3);
        assert_eq!(v["error"], v["errorDetail"]["message"]);
        let v = error_line(&BuildError {
            message: "x".into(),
            code: None,
        });
        assert!(v["errorDetail"].get("code").is_none());
    }
}
