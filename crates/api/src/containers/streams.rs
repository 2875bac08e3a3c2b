//! A container's streams through the API: logs (`logs`), attach and resize (`attach`), exec
//! (`exec`), top and stats (`stats`), archive (`docker cp`) and export (`archive`).

use std::sync::Arc;

use hyper::body::Incoming;
use hyper::{Method, Request};

use super::{archive, attach, logs, stats, Routed};
use crate::route::{Shared, Target};

pub async fn route(shared: &Arc<Shared>, req: Request<Incoming>, t: &Target) -> Routed {
    let segs: Vec<&str> = t.segments.iter().map(String::as_str).collect();
    let q = &t.query;
    let done = match (req.method(), &segs[1..]) {
        (&Method::GET, [name, "logs"]) => logs::logs(shared, name, q).await,
        (&Method::POST, [name, "attach"]) => {
            let name = name.to_string();
            attach::attach(shared, req, &name, q).await
        }
        (&Method::POST, [name, "resize"]) => attach::resize(shared, name, t).await,
        (&Method::GET, [name, "top"]) => stats::top(shared, name, q).await,
        (&Method::GET, [name, "stats"]) => stats::stats(shared, name, q).await,
        (&Method::HEAD, [name, "archive"]) => archive::head(shared, name, q).await,
        (&Method::GET, [name, "archive"]) => archive::get(shared, name, q).await,
        (&Method::PUT, [name, "archive"]) => {
            let name = name.to_string();
            archive::put(shared, req, &name, q).await
        }
        (&Method::GET, [name, "export"]) => archive::export(shared, name).await,
        (&Method::POST, [name, "exec"]) => {
            let name = name.to_string();
            crate::exec::create(shared, req, &name).await
        }
        _ => return Routed::Pass(req),
    };
    Routed::Done(done)
}
