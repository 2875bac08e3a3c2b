//! `GET /system/df`: the engine's disk usage as Docker's document.

use std::sync::Arc;

use hyper::StatusCode;
use serde_json::{json, Value};

use crate::body;
use crate::error::{one_line, ApiError};
use crate::route::{blocking, Handled, Shared};

pub async fn df(shared: &Arc<Shared>) -> Handled {
    let doc = blocking(shared, |s| {
        let usage = s
            .engine
            .disk_usage()
            .map_err(|e| ApiError::internal(one_line(&e)))?;
        let cache = hull_build::exec::cache_records(s.engine.images.root())
            .map_err(|e| ApiError::internal(e.message))?;
        let now = hull_image::time::now_secs();
        let mut doc = hull_engine::view::df::document(&s.engine, &usage, now);
        doc["BuildCache"] = cache.iter().map(cache_record).collect();
        Ok(doc)
    })
    .await?;
    Ok(body::json(StatusCode::OK, &doc))
}

/// One build cache record as Docker's `BuildCache` entries show it.
fn cache_record(r: &hull_build::exec::CacheRecord) -> Value {
    let time = |secs: i64| hull_image::time::format_rfc3339(secs, 0);
    let description = match r.kind {
        hull_build::exec::CacheKind::Step => "a build step's image".to_string(),
        hull_build::exec::CacheKind::CacheMount => format!("cache mount {}", r.id),
    };
    json!({
        "ID": r.id,
        "Parent": "",
        "Parents": [],
        "Type": r.kind.docker_type(),
        "Description": description,
        "InUse": r.in_use,
        "Shared": false,
        "Size": r.size,
        "CreatedAt": time(r.created),
        "LastUsedAt": time(r.last_used),
        "UsageCount": 1,
    })
}
