//! `/volumes/…`: list, create, inspect, remove and prune, each one engine call as
//! `hull volume` makes it.

use std::collections::BTreeMap;
use std::sync::Arc;

use hull_engine::view::volume::{document, Filters};
use hull_engine::volume::{CreateRequest, Volume, VolumeError};
use hull_engine::EngineError;
use hyper::body::Incoming;
use hyper::{Method, Request, StatusCode};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::body;
use crate::error::{one_line, ApiError};
use crate::route::{blocking, not_served, Handled, Shared, Target};

pub async fn route(shared: Arc<Shared>, req: Request<Incoming>, t: Target) -> Handled {
    let segs: Vec<&str> = t.segments.iter().map(String::as_str).collect();
    match (req.method(), &segs[1..]) {
        (&Method::GET, []) => list(&shared, &t).await,
        (&Method::POST, ["create"]) => {
            let bytes = body::read_all(req.into_body()).await?;
            create(&shared, &bytes).await
        }
        (&Method::POST, ["prune"]) => prune(&shared, &t).await,
        (&Method::GET, [name]) => inspect(&shared, name.to_string()).await,
        (&Method::DELETE, [name]) => remove(&shared, name.to_string(), &t).await,
        _ => Err(not_served(req.method(), &t)),
    }
}

/// A volume failure with Docker's status: 404 missing, 409 in use, 400 bad name or options.
fn volume_error(e: EngineError) -> ApiError {
    match e {
        EngineError::Volume(v) => match v {
            VolumeError::NotFound(_) => ApiError::not_found(v.to_string()),
            VolumeError::InUse { .. } => ApiError::conflict(v.to_string()),
            VolumeError::InvalidName(_) | VolumeError::BadOptions { .. } => {
                ApiError::bad(v.to_string())
            }
            other => ApiError::internal(one_line(&other)),
        },
        other => ApiError::internal(one_line(&other)),
    }
}

/// `GET /volumes?filters`: `{"Volumes": […], "Warnings": []}`.
async fn list(shared: &Arc<Shared>, t: &Target) -> Handled {
    let pairs = t.query.filter_words()?;
    let filters = Filters::parse(&pairs).map_err(|e| ApiError::bad(e.to_string()))?;
    let docs = blocking(shared, move |s| {
        let users = s.engine.volume_users().map_err(volume_error)?;
        let volumes = s
            .engine
            .volumes()
            .list()
            .map_err(|e| volume_error(e.into()))?;
        Ok(volumes
            .iter()
            .filter(|v| filters.matches(v, users.contains_key(&v.name)))
            .map(document)
            .collect::<Vec<_>>())
    })
    .await?;
    Ok(body::json(
        StatusCode::OK,
        &json!({"Volumes": docs, "Warnings": []}),
    ))
}

/// Docker's VolumeCreateBody; unknown fields are ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CreateBody {
    name: Option<String>,
    driver: Option<String>,
    driver_opts: Option<BTreeMap<String, String>>,
    labels: Option<BTreeMap<String, String>>,
}

/// `POST /volumes/create`: 201 with the volume's document (the existing one of that name).
async fn create(shared: &Arc<Shared>, bytes: &[u8]) -> Handled {
    let b: CreateBody = body::parse_json(bytes)?;
    let req = CreateRequest {
        name: b.name.filter(|n| !n.is_empty()),
        driver: Some(b.driver.filter(|d| !d.is_empty()).unwrap_or("local".into())),
        options: b.driver_opts.unwrap_or_default(),
        labels: Some(b.labels.unwrap_or_default()),
    };
    let v = blocking(shared, move |s| {
        s.engine.volume_create(&req).map_err(volume_error)
    })
    .await?;
    Ok(body::json(StatusCode::CREATED, &document(&v)))
}

async fn inspect(shared: &Arc<Shared>, name: String) -> Handled {
    let v = blocking(shared, move |s| {
        s.engine
            .volumes()
            .get(&name)
            .map_err(|e| volume_error(e.into()))
    })
    .await?;
    Ok(body::json(StatusCode::OK, &document(&v)))
}

/// `DELETE /volumes/{name}?force`: 204; `force` lets a missing volume pass, as Docker's.
async fn remove(shared: &Arc<Shared>, name: String, t: &Target) -> Handled {
    let force = t.query.flag("force", false)?;
    blocking(shared, move |s| {
        s.engine.volume_remove(&name, force).map_err(volume_error)
    })
    .await?;
    Ok(body::empty(StatusCode::NO_CONTENT))
}

/// `POST /volumes/prune?filters`: unused anonymous volumes (every unused one with `all=true`),
/// narrowed by `label` / `label!`.
async fn prune(shared: &Arc<Shared>, t: &Target) -> Handled {
    let mut all = false;
    let mut labels = Vec::new();
    for (k, v) in t.query.filters()? {
        match k.as_str() {
            "all" => {
                all = match v.as_str() {
                    "true" | "1" => true,
                    "false" | "0" => false,
                    _ => return Err(ApiError::bad(format!("invalid filter 'all={v}'"))),
                }
            }
            "label" => labels.push((true, v)),
            "label!" => labels.push((false, v)),
            _ => return Err(ApiError::bad(format!("invalid filter '{k}'"))),
        }
    }
    let report = blocking(shared, move |s| {
        let wanted = |v: &Volume| labels.iter().all(|(want, l)| has_label(v, l) == *want);
        s.engine
            .volume_prune_where(all, wanted)
            .map_err(volume_error)
    })
    .await?;
    let deleted = match report.deleted.is_empty() {
        true => Value::Null,
        false => json!(report.deleted),
    };
    Ok(body::json(
        StatusCode::OK,
        &json!({"VolumesDeleted": deleted, "SpaceReclaimed": report.reclaimed}),
    ))
}

/// `key` or `key=value` among the volume's labels.
fn has_label(v: &Volume, filter: &str) -> bool {
    let labels = v.labels.clone().unwrap_or_default();
    match filter.split_once('=') {
        Some((k, want)) => labels.get(k).is_some_and(|have| have == want),
        None => labels.contains_key(filter),
    }
}
