//! `POST /images/create?fromImage&tag&platform`: a pull, its progress streamed as Docker's JSON
//! lines. The image crate's pull runs on a thread of its own (it starts its layer threads and
//! never forks); its progress events become lines on a channel. Until the manifest is resolved
//! nothing is sent, so a missing image or refused credentials answer with an HTTP error; after
//! that a failure is the stream's last line, `{"errorDetail":…,"error":…}`. A client that goes
//! away does not stop the pull: it completes (or fails) as `hull pull` would, and the store's
//! own crash-safety keeps a half-done one invisible.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use bytes::Bytes;
use hull_image::platform::PlatformSpec;
use hull_image::pull::{PullError, PullEvent, PullObserver, PullOptions, PullOutcome};
use hull_image::reference::Reference;
use hull_image::registry::{DockerConfig, ErrorKind, Registry, RegistryError};
use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use serde_json::{json, Value};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};

use crate::body;
use crate::error::{one_line, ApiError};
use crate::route::{Handled, Shared, Target};

/// How often a layer's `Downloading` line may repeat.
const PROGRESS_EVERY: Duration = Duration::from_millis(100);

/// What the pull thread reports: a progress line, or the end.
enum Msg {
    Line(Value),
    Done(Result<PullOutcome, PullError>),
}

pub async fn pull(shared: &Arc<Shared>, req: Request<Incoming>, t: &Target) -> Handled {
    if t.query.get("fromSrc").is_some_and(|s| !s.is_empty()) {
        return Err(ApiError::new(
            StatusCode::NOT_IMPLEMENTED,
            "importing a root file system (fromSrc) is not supported by hull",
        ));
    }
    let reference = reference(t.query.get("fromImage"), t.query.get("tag"))?;
    let platform = match t.query.get("platform").filter(|p| !p.is_empty()) {
        Some(p) => p
            .parse::<PlatformSpec>()
            .map_err(|e| ApiError::bad(format!("invalid platform {p:?}: {e}")))?,
        None => PlatformSpec::host(),
    };
    let credentials = registry_auth(req.headers().get("x-registry-auth"), reference.domain())?;
    let config =
        hull_engine::settings::registry_config(shared.opts.config.as_deref(), None, credentials)
            .map_err(|e| ApiError::internal(one_line(&e)))?;
    let registry = Registry::new(reference.domain(), &config).map_err(|e| {
        let text = format!("pull {}: {}", reference.familiar(), one_line(&e));
        match e.kind() {
            ErrorKind::InvalidInput => ApiError::bad(text),
            _ => ApiError::internal(text), // the service's certificates
        }
    })?;
    let (tx, mut rx) = unbounded_channel();
    let service = shared.clone();
    let job = reference.clone();
    std::thread::Builder::new()
        .name("api-pull".into())
        .spawn(move || {
            let observer = Lines::new(tx.clone());
            let opts = PullOptions {
                platform,
                ..PullOptions::default()
            };
            let store = &service.engine.images;
            let outcome = hull_image::pull::pull(store, &registry, &job, &opts, &observer);
            if outcome.is_ok() {
                service.engine.image_pulled(&job.familiar());
            }
            let _ = tx.send(Msg::Done(outcome));
        })
        .map_err(|e| ApiError::internal(format!("start the pull thread: {e}")))?;
    // Nothing is sent until the manifest is resolved: a failure before that is an HTTP error.
    let first = match rx.recv().await {
        Some(Msg::Done(Err(e))) => return Err(pull_error(&reference, &e)),
        Some(m) => m,
        None => return Err(ApiError::internal("the pull thread ended without a result")),
    };
    let (out, reply) = body::stream("application/json");
    let what = reference
        .tag()
        .map(str::to_string)
        .or_else(|| reference.digest().map(|d| d.to_string()))
        .unwrap_or_default();
    let head = json!({"status": format!("Pulling from {}", reference.path()), "id": what});
    tokio::spawn(forward(out, rx, first, head, reference));
    Ok(reply)
}

/// Sends the lines to the client until the pull ends or the client goes away.
async fn forward(
    out: tokio::sync::mpsc::Sender<Bytes>,
    mut rx: UnboundedReceiver<Msg>,
    first: Msg,
    head: Value,
    reference: Reference,
) {
    if out.send(line(&head)).await.is_err() {
        return;
    }
    let mut next = Some(first);
    loop {
        let msg = match next.take() {
            Some(m) => m,
            None => match rx.recv().await {
                Some(m) => m,
                None => return,
            },
        };
        let lines = match msg {
            Msg::Line(v) => vec![v],
            Msg::Done(Ok(o)) => finished(&reference, &o),
            Msg::Done(Err(e)) => {
                let message = format!("pull {}: {}", reference.familiar(), one_line(&e));
                vec![json!({"errorDetail": {"message": message}, "error": message})]
            }
        };
        for v in lines {
            if out.send(line(&v)).await.is_err() {
                return; // the client went away; the pull thread carries on to its end
            }
        }
    }
}

fn finished(reference: &Reference, o: &PullOutcome) -> Vec<Value> {
    let status = if o.updated {
        "Downloaded newer image for"
    } else {
        "Image is up to date for"
    };
    vec![
        json!({"status": format!("Digest: {}", o.digest)}),
        json!({"status": format!("Status: {status} {}", reference.familiar())}),
    ]
}

fn line(v: &Value) -> Bytes {
    Bytes::from(body::json_line(v))
}

/// `fromImage` with `tag` (a tag, or a digest), as Docker combines them; no tag is `latest`.
pub fn reference(from: Option<&str>, tag: Option<&str>) -> Result<Reference, ApiError> {
    let from = from
        .filter(|f| !f.is_empty())
        .ok_or_else(|| ApiError::bad("fromImage: the image to pull is required"))?;
    let bad = |e: &dyn std::error::Error| ApiError::bad(format!("invalid reference format: {e}"));
    let parsed = Reference::parse_with_default_tag(from).map_err(|e| bad(&e))?;
    match tag.filter(|t| !t.is_empty()) {
        None => Ok(parsed),
        Some(t) if t.starts_with("sha256:") => {
            let d = t.parse().map_err(|_| {
                ApiError::bad(format!("invalid reference format: bad digest {t:?}"))
            })?;
            Ok(parsed.with_digest(d))
        }
        Some(t) => {
            // A tag is checked by parsing it as part of a reference.
            Reference::parse(&format!("x:{t}")).map_err(|e| bad(&e))?;
            Ok(parsed.with_tag(t))
        }
    }
}

/// The credentials in `X-Registry-Auth` (base64url of `{username, password, serveraddress,
/// identitytoken}`) for `domain`; None without the header (Docker's daemon reads no
/// client's config file, and neither does the service).
pub(crate) fn registry_auth(
    header: Option<&hyper::header::HeaderValue>,
    domain: &str,
) -> Result<Option<DockerConfig>, ApiError> {
    let Some(text) = header.map(|h| h.as_bytes()).filter(|h| !h.is_empty()) else {
        return Ok(None);
    };
    let bad = |why: String| ApiError::bad(format!("X-Registry-Auth: {why}"));
    let trimmed: Vec<u8> = text
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace() && *b != b'=')
        .collect();
    let engines = [
        base64::engine::general_purpose::URL_SAFE_NO_PAD,
        base64::engine::general_purpose::STANDARD_NO_PAD,
    ];
    let decoded = engines
        .iter()
        .find_map(|e| e.decode(&trimmed).ok())
        .ok_or_else(|| bad("not base64".into()))?;
    let doc: Value = serde_json::from_slice(&decoded).map_err(|e| bad(e.to_string()))?;
    let field = |k: &str| doc.get(k).and_then(Value::as_str).unwrap_or_default();
    let (mut user, mut pass) = (field("username").to_string(), field("password").to_string());
    // Some clients send config.json's `auth` (base64 of `user:pass`) instead.
    if user.is_empty() && pass.is_empty() && !field("auth").is_empty() {
        let pair = base64::engine::general_purpose::STANDARD
            .decode(field("auth"))
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| bad("auth: not base64 of user:password".into()))?;
        let (u, p) = pair
            .split_once(':')
            .ok_or_else(|| bad("auth: not base64 of user:password".into()))?;
        (user, pass) = (u.to_string(), p.to_string());
    }
    if user.is_empty() && pass.is_empty() {
        if !field("identitytoken").is_empty() {
            return Err(bad(
                "identity tokens are not supported; send a username and password".into(),
            ));
        }
        return Ok(None); // `{}`: what clients send when they have no credentials
    }
    let mut config = DockerConfig::default();
    config.set(domain, &user, &pass);
    Ok(Some(config))
}

/// A failure before anything was streamed, with Docker's status: a registry's "denied" is
/// Docker's 404 `pull access denied`; missing or refused credentials are a 500, as Docker's
/// daemon answers them (a 401 would make the docker CLI prompt for a login).
fn pull_error(reference: &Reference, e: &PullError) -> ApiError {
    let text = one_line(e);
    let Some(kind) = (match e {
        PullError::Registry(r) => Some(r.kind()),
        _ => None,
    }) else {
        return match e {
            PullError::Platform { .. } => ApiError::not_found(text),
            _ => ApiError::internal(format!("pull {}: {text}", reference.familiar())),
        };
    };
    match kind {
        ErrorKind::NotFound => ApiError::not_found(format!(
            "manifest for {} not found: {text}",
            reference.familiar()
        )),
        ErrorKind::Denied => ApiError::not_found(format!(
            "pull access denied for {}, repository does not exist or may require \
             'docker login': {text}",
            reference.familiar_repository()
        )),
        ErrorKind::Unauthorized => ApiError::internal(format!(
            "pull {}: unauthorized: {}",
            reference.familiar(),
            match e {
                PullError::Registry(RegistryError::AuthRequired { .. }) => {
                    "no basic auth credentials".to_string()
                }
                _ => text,
            }
        )),
        ErrorKind::InvalidInput => ApiError::bad(text),
        _ => ApiError::internal(format!("pull {}: {text}", reference.familiar())),
    }
}

/// The observer: each event as Docker's progress lines (`id` the layer's short digest).
struct Lines {
    tx: UnboundedSender<Msg>,
    last: Mutex<HashMap<String, Instant>>,
}

impl Lines {
    fn new(tx: UnboundedSender<Msg>) -> Lines {
        Lines {
            tx,
            last: Mutex::new(HashMap::new()),
        }
    }

    fn send(&self, id: &str, status: &str, detail: Value) {
        let v = json!({"status": status, "progressDetail": detail, "id": id});
        let _ = self.tx.send(Msg::Line(v));
    }

    /// True when this layer's progress line is due (the last one is always due).
    fn due(&self, id: &str, last_chunk: bool) -> bool {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let due = last_chunk
            || last
                .get(id)
                .is_none_or(|t| now.duration_since(*t) >= PROGRESS_EVERY);
        if due {
            last.insert(id.to_string(), now);
        }
        due
    }
}

impl PullObserver for Lines {
    fn event(&self, event: PullEvent) {
        match event {
            PullEvent::Layers(list) => {
                for d in list {
                    self.send(d.short(), "Pulling fs layer", json!({}));
                }
            }
            PullEvent::AlreadyExists(d) => self.send(d.short(), "Already exists", json!({})),
            PullEvent::Progress { layer, done, total } => {
                let id = layer.short();
                if self.due(id, total == Some(done)) {
                    let mut detail = json!({"current": done});
                    if let Some(t) = total {
                        detail["total"] = json!(t);
                    }
                    self.send(id, "Downloading", detail);
                }
            }
            PullEvent::Verifying(d) => {
                self.send(d.short(), "Verifying Checksum", json!({}));
                self.send(d.short(), "Download complete", json!({}));
                // Unpacking ran alongside the download; what is left of it happens now.
                self.send(d.short(), "Extracting", json!({}));
            }
            PullEvent::Complete(d) => self.send(d.short(), "Pull complete", json!({})),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_image_and_tag_combine_as_dockers() {
        let r = reference(Some("busybox"), Some("1.36")).unwrap();
        assert_eq!(r.familiar(), "busybox:1.36");
        assert_eq!(
            reference(Some("busybox"), None).unwrap().familiar(),
            "busybox:latest"
        );
        let d = format!("sha256:{}", "a".repeat(64));
        let r = reference(Some("127.0.0.1:5000/x"), Some(&d)).unwrap();
        assert_eq!(r.familiar(), format!("127.0.0.1:5000/x@{d}"));
        assert!(reference(None, None)
            .unwrap_err()
            .message
            .contains("fromImage"));
        assert!(reference(Some("UPPER"), None).is_err());
        assert!(reference(Some("busybox"), Some("bad tag")).is_err());
    }

    #[tokio::test]
    async fn a_failure_after_the_first_line_is_the_streams_last_line() {
        let (out, mut client) = tokio::sync::mpsc::channel(16);
        let (tx, rx) = unbounded_channel();
        let r = Reference::parse_with_default_tag("127.0.0.1:5000/x").unwrap();
        let first = Msg::Line(json!({"status": "Pulling fs layer", "id": "abc"}));
        tx.send(Msg::Done(Err(PullError::Manifest {
            reference: r.to_string(),
            reason: "broken".into(),
        })))
        .unwrap();
        drop(tx);
        forward(out, rx, first, json!({"status": "Pulling from x"}), r).await;
        let mut lines = Vec::new();
        while let Some(b) = client.recv().await {
            lines.push(serde_json::from_slice::<Value>(&b).unwrap());
        }
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert_eq!(lines[0]["status"], "Pulling from x");
        assert_eq!(lines[1]["status"], "Pulling fs layer");
        let message = lines[2]["errorDetail"]["message"].as_str().unwrap();
        assert!(message.contains("broken") && message.contains("127.0.0.1:5000/x"));
        assert_eq!(lines[2]["error"], lines[2]["errorDetail"]["message"]);
    }

    #[test]
    fn registry_auth_reads_base64url_json() {
        let enc = |s: &str| base64::engine::general_purpose::URL_SAFE.encode(s);
        let h = |s: String| hyper::header::HeaderValue::from_str(&s).unwrap();
        let auth = h(enc(
            r#"{"username":"u","password":"p?>","serveraddress":"r:5001"}"#,
        ));
        let c = registry_auth(Some(&auth), "r:5001").unwrap().unwrap();
        assert_eq!(c.get_inline("r:5001"), Some(("u".into(), "p?>".into())));
        assert!(registry_auth(Some(&h(enc("{}"))), "r").unwrap().is_none());
        let basic = base64::engine::general_purpose::STANDARD.encode("u2:p:2");
        let c = registry_auth(Some(&h(enc(&format!(r#"{{"auth":"{basic}"}}"#)))), "r")
            .unwrap()
            .unwrap();
        assert_eq!(c.get_inline("r"), Some(("u2".into(), "p:2".into())));
        assert!(registry_auth(None, "r").unwrap().is_none());
        let e = registry_auth(Some(&h("!!".into())), "r").unwrap_err();
        assert!(e.message.contains("X-Registry-Auth"));
    }
}
