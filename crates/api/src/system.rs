//! `/_ping`, `/version`, `/info` and `/system/df`.

use std::sync::Arc;

use hyper::body::Incoming;
use hyper::header::{HeaderValue, CACHE_CONTROL, PRAGMA};
use hyper::{Method, Request, StatusCode};

use crate::body;
use crate::error::ApiError;
use crate::route::{blocking, not_served, Handled, Shared, Target};

pub async fn route(shared: Arc<Shared>, req: Request<Incoming>, t: Target) -> Handled {
    let segs: Vec<&str> = t.segments.iter().map(String::as_str).collect();
    match (req.method(), segs.as_slice()) {
        (&Method::GET | &Method::HEAD, ["_ping"]) => Ok(ping(req.method() == Method::HEAD)),
        (&Method::GET, ["version"]) => {
            let root = shared.opts.root.clone();
            let facts =
                blocking(&shared, move |_| Ok(hull_engine::HostFacts::gather(&root))).await?;
            Ok(body::json(
                StatusCode::OK,
                &hull_engine::view::system::version(&facts),
            ))
        }
        (&Method::GET, ["info"]) => {
            let doc = blocking(&shared, |s| {
                s.engine
                    .info()
                    .map_err(|e| ApiError::internal(crate::error::one_line(&e)))
            })
            .await?;
            Ok(body::json(StatusCode::OK, &doc))
        }
        (&Method::GET, ["system", "df"]) => crate::system_df::df(&shared).await,
        _ => Err(not_served(req.method(), &t)),
    }
}

/// `OK` (no body for HEAD), never cached, as Docker answers it.
fn ping(head: bool) -> body::Reply {
    let mut r = body::bytes(
        StatusCode::OK,
        "text/plain; charset=utf-8",
        if head { "" } else { "OK" },
    );
    let h = r.headers_mut();
    h.insert(
        CACHE_CONTROL,
        HeaderValue::from_static("no-cache, no-store, must-revalidate"),
    );
    h.insert(PRAGMA, HeaderValue::from_static("no-cache"));
    r
}
