//! `POST /images/{name}/push?tag=`: a push, its progress streamed as Docker's JSON lines
//! (`The push refers to repository [...]`, per layer `Preparing`/`Pushing`/`Pushed`/`Layer already
//! exists`/`Mounted from`, then `TAG: digest: … size: N` and an `aux` line with the digest). No
//! tag pushes every local tag of the repository, as Docker does. Credentials come from
//! `X-Registry-Auth` only. A name with no local image answers 404 before streaming; any later
//! failure is the stream's last line, `{"errorDetail":…,"error":…}`.

use std::sync::Arc;

use bytes::Bytes;
use hull_image::push::{PushEvent, PushObserver, PushOptions};
use hull_image::reference::Reference;
use hull_image::registry::Registry;
use hyper::body::Incoming;
use hyper::Request;
use serde_json::{json, Value};
use tokio::sync::mpsc::{unbounded_channel, UnboundedSender};

use crate::body;
use crate::error::{one_line, ApiError};
use crate::images_pull::registry_auth;
use crate::route::{Handled, Shared, Target};

pub async fn push(
    shared: &Arc<Shared>,
    req: Request<Incoming>,
    name: String,
    t: &Target,
) -> Handled {
    let targets = targets(shared, &name, t.query.get("tag"))?;
    let domain = targets[0].domain().to_string();
    let credentials = registry_auth(req.headers().get("x-registry-auth"), &domain)?;
    let config =
        hull_engine::settings::registry_config(shared.opts.config.as_deref(), None, credentials)
            .map_err(|e| ApiError::internal(one_line(&e)))?;
    let registry = Registry::new(&domain, &config)
        .map_err(|e| ApiError::internal(format!("push {name}: {}", one_line(&e))))?;
    let (tx, mut rx) = unbounded_channel::<Value>();
    let service = shared.clone();
    let head = json!({
        "status": format!("The push refers to repository [{}]", targets[0].familiar_repository())
    });
    let _ = tx.send(head);
    std::thread::Builder::new()
        .name("api-push".into())
        .spawn(move || run(&service, &registry, &targets, &tx))
        .map_err(|e| ApiError::internal(format!("start the push thread: {e}")))?;
    let (out, reply) = body::stream("application/json");
    tokio::spawn(async move {
        while let Some(v) = rx.recv().await {
            if out.send(Bytes::from(body::json_line(&v))).await.is_err() {
                return; // the client went away; the push thread carries on to its end
            }
        }
    });
    Ok(reply)
}

/// The references to push: `name` with `tag`, or every local tag of the repository.
fn targets(shared: &Shared, name: &str, tag: Option<&str>) -> Result<Vec<Reference>, ApiError> {
    let bad = |e: &dyn std::error::Error| ApiError::bad(format!("invalid reference format: {e}"));
    let parsed = Reference::parse(name).map_err(|e| bad(&e))?;
    let store = &shared.engine.images;
    let wanted = match tag.filter(|t| !t.is_empty()) {
        Some(t) => {
            Reference::parse(&format!("x:{t}")).map_err(|e| bad(&e))?;
            Some(parsed.with_tag(t))
        }
        None => parsed.tag().map(|t| parsed.with_tag(t)),
    };
    if let Some(one) = wanted {
        store
            .resolve(&one.to_string())
            .map_err(|e| ApiError::image(&one.familiar(), &e))?;
        return Ok(vec![one]);
    }
    let mut all: Vec<Reference> = store
        .tags_by_image()
        .map_err(|e| ApiError::internal(one_line(&e)))?
        .into_values()
        .flatten()
        .filter(|r| r.repository() == parsed.repository() && r.tag().is_some())
        .collect();
    all.sort_by_key(|r| r.to_string());
    if all.is_empty() {
        return Err(ApiError::not_found(format!(
            "An image does not exist locally with the tag: {}",
            parsed.familiar_repository()
        )));
    }
    Ok(all)
}

/// The push thread: each target in turn, progress and results as lines.
fn run(shared: &Shared, registry: &Registry, targets: &[Reference], tx: &UnboundedSender<Value>) {
    let observer = Lines { tx: tx.clone() };
    let store = &shared.engine.images;
    for target in targets {
        match hull_image::push::push(store, registry, target, &PushOptions::default(), &observer) {
            Ok(o) => {
                let name = target.familiar();
                shared.engine.image_event("push", &name, &name);
                let status = format!("{}: digest: {} size: {}", o.tag, o.digest, o.size);
                let _ = tx.send(json!({"status": status}));
                let aux = json!({"Tag": o.tag, "Digest": o.digest.to_string(), "Size": o.size});
                let _ = tx.send(json!({"progressDetail": {}, "aux": aux}));
            }
            Err(e) => {
                let message = format!("push {}: {}", target.familiar(), one_line(&e));
                let _ = tx.send(json!({"errorDetail": {"message": message}, "error": message}));
                return;
            }
        }
    }
}

/// The observer: each event as Docker's progress line (`id` the layer's short digest).
struct Lines {
    tx: UnboundedSender<Value>,
}

impl Lines {
    fn send(&self, id: &str, status: &str, detail: Value) {
        let _ = self
            .tx
            .send(json!({"status": status, "progressDetail": detail, "id": id}));
    }
}

impl PushObserver for Lines {
    fn event(&self, event: PushEvent) {
        match event {
            PushEvent::Blobs(list) => {
                for d in list {
                    self.send(d.short(), "Preparing", json!({}));
                }
            }
            PushEvent::Preparing(_) => {}
            PushEvent::Pushing { layer, done, total } => {
                let mut detail = json!({"current": done});
                if let Some(t) = total {
                    detail["total"] = json!(t);
                }
                self.send(layer.short(), "Pushing", detail);
            }
            PushEvent::Exists(d) => self.send(d.short(), "Layer already exists", json!({})),
            PushEvent::Mounted { layer, from } => {
                self.send(layer.short(), &format!("Mounted from {from}"), json!({}))
            }
            PushEvent::Pushed(d) => self.send(d.short(), "Pushed", json!({})),
            PushEvent::Note(note) => {
                let _ = self.tx.send(json!({"status": note}));
            }
        }
    }
}
