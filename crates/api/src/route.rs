//! From a request to its handler: the API version prefix, the method and the path. Anything
//! not served answers as Docker does for an endpoint it does not have.

use std::convert::Infallible;
use std::sync::Arc;

use hyper::body::Incoming;
use hyper::header::HeaderValue;
use hyper::{Method, Request, StatusCode};

use crate::body::{self, Reply};
use crate::error::{ApiError, ServiceError};
use crate::query::Query;
use crate::{containers, exec, images, networks, system, volumes, ServiceOptions};

use hull_engine::view::system::{API_VERSION, MIN_API_VERSION};

/// What every handler shares: the engine on the store, and the options it was started with.
pub struct Shared {
    pub engine: hull_engine::Engine,
    pub opts: ServiceOptions,
}

impl Shared {
    pub fn open(opts: &ServiceOptions) -> Result<Shared, ServiceError> {
        let engine =
            hull_engine::Engine::open(&opts.root).map_err(|source| ServiceError::Store {
                path: opts.root.display().to_string(),
                source: Box::new(source),
            })?;
        Ok(Shared {
            engine,
            opts: opts.clone(),
        })
    }

    /// The container the client calls `name` (name, ID or ID prefix); Docker's 404 or 400.
    pub fn resolve_container(&self, name: &str) -> Result<hull_engine::state::Record, ApiError> {
        self.engine
            .containers
            .resolve(name)
            .map_err(|e| ApiError::container(name, e.into()))
    }
}

/// A request's path and query, the version prefix taken off.
pub struct Target {
    pub segments: Vec<String>,
    pub query: Query,
}

impl Target {
    pub fn path(&self) -> String {
        format!("/{}", self.segments.join("/"))
    }
}

pub type Handled = Result<Reply, ApiError>;

pub async fn handle(shared: Arc<Shared>, req: Request<Incoming>) -> Result<Reply, Infallible> {
    let mut reply = match target(&req) {
        Ok(t) => dispatch(shared, req, t)
            .await
            .unwrap_or_else(|e| body::error(&e)),
        Err(e) => body::error(&e),
    };
    let h = reply.headers_mut();
    h.insert("api-version", HeaderValue::from_static(API_VERSION));
    h.insert("ostype", HeaderValue::from_static("linux"));
    h.insert("docker-experimental", HeaderValue::from_static("false"));
    h.insert(
        "server",
        HeaderValue::from_static(concat!("hull/", env!("CARGO_PKG_VERSION"), " (linux)")),
    );
    Ok(reply)
}

/// The path's segments after `/vX.Y` (checked against the versions served) and the query.
fn target(req: &Request<Incoming>) -> Result<Target, ApiError> {
    let uri = req.uri();
    let mut segments: Vec<String> = uri
        .path()
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| {
            form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        })
        .collect();
    if let Some(v) = segments.first().and_then(|s| version_of(s)) {
        check_version(&v)?;
        segments.remove(0);
    }
    Ok(Target {
        segments,
        query: Query::parse(uri.query()),
    })
}

/// `v1.41` → `1.41`.
fn version_of(segment: &str) -> Option<String> {
    let v = segment.strip_prefix('v')?;
    let (major, minor) = v.split_once('.')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    (digits(major) && digits(minor)).then(|| v.to_string())
}

fn parse_version(v: &str) -> (u32, u32) {
    let (a, b) = v.split_once('.').unwrap_or((v, "0"));
    (a.parse().unwrap_or(0), b.parse().unwrap_or(0))
}

fn check_version(v: &str) -> Result<(), ApiError> {
    if parse_version(v) > parse_version(API_VERSION) {
        return Err(ApiError::bad(format!(
            "client version {v} is too new. Maximum supported API version is {API_VERSION}"
        )));
    }
    if parse_version(v) < parse_version(MIN_API_VERSION) {
        return Err(ApiError::bad(format!(
            "client version {v} is too old. Minimum supported API version is {MIN_API_VERSION}, \
             please upgrade your client to a newer version"
        )));
    }
    Ok(())
}

async fn dispatch(shared: Arc<Shared>, req: Request<Incoming>, t: Target) -> Handled {
    let first = t.segments.first().map(String::as_str).unwrap_or_default();
    match first {
        "_ping" | "version" | "info" | "system" => system::route(shared, req, t).await,
        "containers" => containers::route(shared, req, t).await,
        "commit" => crate::commit::route(shared, req, t).await,
        "build" => crate::build::route(shared, req, t).await,
        "exec" => exec::route(shared, req, t).await,
        "images" => images::route(shared, req, t).await,
        "volumes" => volumes::route(shared, req, t).await,
        "networks" => networks::route(shared, req, t).await,
        "events" => crate::events::route(shared, req, t).await,
        "swarm" | "services" | "nodes" | "tasks" | "secrets" | "configs" => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "This node is not a swarm manager. Use \"docker swarm init\" or \"docker swarm join\" \
             to connect this node to swarm and try again.",
        )),
        _ => Err(not_served(req.method(), &t)),
    }
}

/// Docker's answer for a path it does not route.
pub fn not_served(method: &Method, t: &Target) -> ApiError {
    ApiError::not_found(format!("page not found: {method} {}", t.path()))
}

/// Runs a blocking engine call on the blocking pool.
pub async fn blocking<T, F>(shared: &Arc<Shared>, f: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&Shared) -> Result<T, ApiError> + Send + 'static,
{
    let shared = shared.clone();
    tokio::task::spawn_blocking(move || f(&shared))
        .await
        .map_err(|e| ApiError::internal(format!("the request's worker failed: {e}")))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_outside_the_range_are_refused() {
        assert_eq!(version_of("v1.41").as_deref(), Some("1.41"));
        assert_eq!(version_of("volumes"), None);
        assert_eq!(version_of("v1"), None);
        assert!(check_version("1.41").is_ok());
        assert!(check_version("1.24").is_ok());
        assert!(check_version("1.99")
            .unwrap_err()
            .message
            .contains("too new"));
        assert!(check_version("1.12")
            .unwrap_err()
            .message
            .contains("too old"));
    }
}
