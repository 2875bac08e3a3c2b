//! `/containers/…`: list and inspect here; the lifecycle (create, start, stop, …) in `life`
//! (create's translation in `create`, `hostconfig` and `fields`; prune's filters in `prune`),
//! the streams (logs, attach, exec, stats, archive) in `streams`. Each operation translates
//! Docker's parameters into one engine call.

mod archive;
mod attach;
mod create;
mod fields;
mod hostconfig;
mod life;
mod logs;
mod prune;
mod reaper;
mod stats;
mod streams;

use std::sync::Arc;

use hull_engine::view;
use hyper::body::Incoming;
use hyper::{Method, Request, StatusCode};
use serde_json::Value;

use crate::body;
use crate::error::ApiError;
use crate::route::{blocking, not_served, Handled, Shared, Target};

/// A request a module's router did not take, handed on to the next.
pub enum Routed {
    Done(Handled),
    Pass(Request<Incoming>),
}

pub async fn route(shared: Arc<Shared>, req: Request<Incoming>, t: Target) -> Handled {
    let segs: Vec<&str> = t.segments.iter().map(String::as_str).collect();
    match (req.method(), &segs[1..]) {
        (&Method::GET, ["json"]) => return list(&shared, &t).await,
        (&Method::GET, [name, "json"]) => return inspect(&shared, name).await,
        (&Method::GET, [name, "changes"]) => return changes(&shared, name).await,
        _ => {}
    }
    let req = match life::route(&shared, req, &t).await {
        Routed::Done(h) => return h,
        Routed::Pass(req) => req,
    };
    match streams::route(&shared, req, &t).await {
        Routed::Done(h) => h,
        Routed::Pass(req) => Err(not_served(req.method(), &t)),
    }
}

/// The inspect document of the container the client calls `name`.
pub fn document(s: &Shared, name: &str) -> Result<Value, ApiError> {
    let r = s.resolve_container(name)?;
    let image = view::container::image_config(&s.engine, &r);
    Ok(view::container::document(
        &r,
        &image,
        &s.engine.containers.dir(&r.id),
    ))
}

/// `GET /containers/{id}/changes`: `[{"Path", "Kind"}]`, Kind 0 modified, 1 added, 2 deleted.
async fn changes(shared: &Arc<Shared>, name: &str) -> Handled {
    let name = name.to_string();
    let list = blocking(shared, move |s| {
        s.engine
            .changes(&name)
            .map_err(|e| ApiError::container(&name, e))
    })
    .await?;
    let docs: Vec<Value> = list
        .iter()
        .map(|c| serde_json::json!({"Path": c.path, "Kind": c.kind as u8}))
        .collect();
    Ok(body::json(StatusCode::OK, &Value::Array(docs)))
}

async fn inspect(shared: &Arc<Shared>, name: &str) -> Handled {
    let name = name.to_string();
    let doc = blocking(shared, move |s| document(s, &name)).await?;
    Ok(body::json(StatusCode::OK, &doc))
}

/// `GET /containers/json?all&limit&filters&size`.
async fn list(shared: &Arc<Shared>, t: &Target) -> Handled {
    let all = t.query.flag("all", false)?;
    let limit: Option<i64> = t.query.number("limit")?;
    let pairs = t.query.filter_words()?;
    let filters = hull_engine::state::listing::Filters::parse(&pairs)
        .map_err(|e| ApiError::bad(e.to_string()))?;
    let rows = blocking(shared, move |s| {
        let mut records = s
            .engine
            .list(all || filters.implies_all())
            .map_err(|e| ApiError::internal(crate::error::one_line(&e)))?;
        records.retain(|r| filters.matches(r));
        // The newest `limit` (Docker's clients send -1 for none).
        if let Some(n) = limit.filter(|&n| n > 0) {
            records.sort_by(|a, b| b.created.cmp(&a.created));
            records.truncate(n as usize);
        }
        let now = hull_image::time::now_secs();
        Ok(records
            .iter()
            .map(|r| {
                let image = view::container::image_config(&s.engine, r);
                let doc = view::container::document(r, &image, &s.engine.containers.dir(&r.id));
                view::summary::summary(r, &doc, now)
            })
            .collect::<Vec<_>>())
    })
    .await?;
    Ok(body::json(StatusCode::OK, &Value::Array(rows)))
}
