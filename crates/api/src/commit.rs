//! `POST /commit`: Docker's commit endpoint. Query `container`, `repo`, `tag`, `comment`,
//! `author`, `pause` (default true) and `changes` (repeatable, or one instruction per line);
//! the body is a container Config whose set fields replace the container's. Answers 201
//! `{"Id": "sha256:…"}`.

use std::sync::Arc;

use hull_engine::commit::{CommitError, CommitOptions};
use hull_engine::EngineError;
use hull_image::Reference;
use hull_oci::image::ContainerConfig;
use hyper::body::Incoming;
use hyper::{Method, Request, StatusCode};
use serde_json::json;

use crate::body;
use crate::error::ApiError;
use crate::route::{blocking, not_served, Handled, Shared, Target};

pub async fn route(shared: Arc<Shared>, req: Request<Incoming>, t: Target) -> Handled {
    if req.method() != Method::POST || t.segments.len() != 1 {
        return Err(not_served(req.method(), &t));
    }
    let container = t
        .query
        .get("container")
        .filter(|c| !c.is_empty())
        .ok_or_else(|| ApiError::bad("container: the container to commit is required"))?
        .to_string();
    let opts = options(&t, body::read_all(req.into_body()).await?.as_ref())?;
    let id = blocking(&shared, move |s| {
        s.resolve_container(&container)?;
        s.engine.commit(&container, &opts).map_err(|e| match e {
            EngineError::Commit(CommitError::Change(c)) => ApiError::bad(c.to_string()),
            other => ApiError::container(&container, other),
        })
    })
    .await?;
    Ok(body::json(
        StatusCode::CREATED,
        &json!({ "Id": id.to_string() }),
    ))
}

fn options(t: &Target, body_bytes: &[u8]) -> Result<CommitOptions, ApiError> {
    let text = |k: &str| t.query.get(k).filter(|v| !v.is_empty()).map(str::to_string);
    let tag = match (text("repo"), text("tag")) {
        (None, _) => None,
        (Some(repo), tag) => {
            let full = tag.map_or(repo.clone(), |tag| format!("{repo}:{tag}"));
            let r = Reference::parse_with_default_tag(&full)
                .map_err(|e| ApiError::bad(format!("invalid reference format: {e}")))?;
            if r.digest().is_some() {
                return Err(ApiError::bad(
                    "refusing to create a tag with a digest reference",
                ));
            }
            Some(r)
        }
    };
    let changes = t
        .query
        .all("changes")
        .iter()
        .flat_map(|c| c.lines().map(str::to_string).collect::<Vec<_>>())
        .filter(|c| !c.trim().is_empty())
        .collect();
    let overrides: Option<ContainerConfig> = body::parse_json(body_bytes)?;
    let overrides = overrides.filter(|o| *o != ContainerConfig::default());
    Ok(CommitOptions {
        author: text("author"),
        message: text("comment"),
        changes,
        pause: t.query.flag("pause", true)?,
        tag,
        overrides,
    })
}
