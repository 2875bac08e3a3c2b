//! `GET /system/df`: the engine's disk usage as Docker's document.

use std::sync::Arc;

use hyper::StatusCode;

use crate::body;
use crate::error::{one_line, ApiError};
use crate::route::{blocking, Handled, Shared};

pub async fn df(shared: &Arc<Shared>) -> Handled {
    let doc = blocking(shared, |s| {
        let usage = s
            .engine
            .disk_usage()
            .map_err(|e| ApiError::internal(one_line(&e)))?;
        let now = hull_image::time::now_secs();
        Ok(hull_engine::view::df::document(&s.engine, &usage, now))
    })
    .await?;
    Ok(body::json(StatusCode::OK, &doc))
}
