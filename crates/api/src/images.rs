//! `/images/…`: list, inspect, history, tag, remove and prune here; the pull in `images_pull`,
//! the push in `images_push`,
//! save and load in `images_archive`. Image names hold `/` and `:`, so a path is matched by its
//! first segment and its last, and the name is what lies between.

use std::sync::Arc;

use hull_engine::view;
use hull_engine::EngineError;
use hull_image::store::{ImageSummary, Removal};
use hull_image::Reference;
use hyper::body::Incoming;
use hyper::{Method, Request, StatusCode};
use serde_json::{json, Value};

use crate::body;
use crate::error::{one_line, ApiError};
use crate::route::{blocking, not_served, Handled, Shared, Target};
use crate::{images_archive, images_pull, images_push};

pub async fn route(shared: Arc<Shared>, req: Request<Incoming>, t: Target) -> Handled {
    let segs: Vec<&str> = t.segments.iter().map(String::as_str).collect();
    let method = req.method().clone();
    match (&method, &segs[1..]) {
        (&Method::GET, ["json"]) => list(&shared, &t).await,
        (&Method::POST, ["create"]) => images_pull::pull(&shared, req, &t).await,
        (&Method::POST, ["load"]) => images_archive::load(&shared, req, &t).await,
        (&Method::GET, ["get"]) => images_archive::save(&shared, t.query.all("names")).await,
        (&Method::POST, ["prune"]) => prune(&shared, &t).await,
        (&Method::POST, ["search"]) | (&Method::GET, ["search"]) => Err(ApiError::new(
            StatusCode::NOT_IMPLEMENTED,
            "searching a registry is not supported by hull",
        )),
        (_, [name @ .., last]) if !name.is_empty() => {
            let name = name.join("/");
            match (&method, *last) {
                (&Method::GET, "json") => inspect(&shared, name).await,
                (&Method::GET, "history") => history(&shared, name).await,
                (&Method::POST, "tag") => tag(&shared, name, &t).await,
                (&Method::POST, "push") => images_push::push(&shared, req, name, &t).await,
                (&Method::GET, "get") => images_archive::save(&shared, vec![name]).await,
                (&Method::DELETE, _) => remove(&shared, segs[1..].join("/"), &t).await,
                _ => Err(not_served(&method, &t)),
            }
        }
        (&Method::DELETE, [name]) => remove(&shared, name.to_string(), &t).await,
        _ => Err(not_served(&method, &t)),
    }
}

/// An engine failure about the image the client named `name`.
pub fn engine_error(name: &str, e: EngineError) -> ApiError {
    match e {
        EngineError::Image(ref s) => ApiError::image(name, s),
        EngineError::ImageConflict(m) => ApiError::conflict(m),
        other => ApiError::internal(one_line(&other)),
    }
}

/// `GET /images/json?all&filters`: Docker's ImageSummary per image, newest first.
async fn list(shared: &Arc<Shared>, t: &Target) -> Handled {
    let _all = t.query.flag("all", false)?; // hull keeps no intermediate images to hide
    let filters = ImageFilters::parse(t.query.filters()?)?;
    let rows = blocking(shared, move |s| {
        let (usage, _) = s
            .engine
            .image_usage()
            .map_err(|e| ApiError::internal(one_line(&e)))?;
        let created = |name: &str| -> Result<Option<String>, ApiError> {
            let r = s
                .engine
                .images
                .resolve(name)
                .map_err(|e| ApiError::image(name, &e))?;
            Ok(usage
                .iter()
                .find(|u| u.image.record.id == r.id)
                .and_then(|u| u.image.created.clone()))
        };
        let bounds = filters.bounds(created)?;
        Ok(usage
            .iter()
            .filter(|u| filters.matches(s, &u.image, &bounds))
            .map(|u| view::image::summary(&s.engine.images, u))
            .collect::<Vec<_>>())
    })
    .await?;
    Ok(body::json(StatusCode::OK, &Value::Array(rows)))
}

/// `images` and `image prune` filters: dangling, label, reference, before, since, until.
#[derive(Debug, Default)]
pub struct ImageFilters {
    dangling: Option<bool>,
    labels: Vec<String>,
    references: Vec<String>,
    before: Option<String>,
    since: Option<String>,
    until: Option<i64>,
}

/// `before`/`since` as creation times (RFC 3339) of the images they name.
pub struct Bounds {
    before: Option<String>,
    since: Option<String>,
}

impl ImageFilters {
    pub fn parse(pairs: Vec<(String, String)>) -> Result<ImageFilters, ApiError> {
        let mut f = ImageFilters::default();
        for (k, v) in pairs {
            match k.as_str() {
                "dangling" => {
                    f.dangling = Some(match v.as_str() {
                        "true" | "1" => true,
                        "false" | "0" => false,
                        _ => return Err(ApiError::bad(format!("invalid filter 'dangling={v}'"))),
                    })
                }
                "label" => f.labels.push(v),
                "reference" => f.references.push(v),
                "before" => f.before = Some(v),
                "since" => f.since = Some(v),
                "until" => {
                    f.until = Some(until(&v).ok_or_else(|| {
                        ApiError::bad(format!("invalid filter 'until={v}': not a time"))
                    })?)
                }
                _ => return Err(ApiError::bad(format!("invalid filter '{k}'"))),
            }
        }
        Ok(f)
    }

    pub fn bounds(
        &self,
        created: impl Fn(&str) -> Result<Option<String>, ApiError>,
    ) -> Result<Bounds, ApiError> {
        let at = |n: &Option<String>| n.as_deref().map(&created).transpose();
        Ok(Bounds {
            before: at(&self.before)?.flatten(),
            since: at(&self.since)?.flatten(),
        })
    }

    pub fn matches(&self, s: &Shared, image: &ImageSummary, bounds: &Bounds) -> bool {
        let dangling = image.tags.is_empty();
        let created = image.created.as_deref().unwrap_or_default();
        self.dangling.is_none_or(|d| d == dangling)
            && bounds.before.as_deref().is_none_or(|b| created < b)
            && bounds.since.as_deref().is_none_or(|b| created > b)
            && self
                .until
                .is_none_or(|u| hull_image::time::parse_rfc3339(created).is_some_and(|c| c < u))
            && (self.references.is_empty()
                || self
                    .references
                    .iter()
                    .any(|p| image.tags.iter().any(|t| reference_matches(p, t))))
            && (self.labels.is_empty() || self.labels_match(s, image))
    }

    fn labels_match(&self, s: &Shared, image: &ImageSummary) -> bool {
        let labels = s
            .engine
            .images
            .config(&image.record.id)
            .ok()
            .and_then(|c| c.config)
            .and_then(|c| c.labels)
            .unwrap_or_default();
        self.labels.iter().all(|l| match l.split_once('=') {
            Some((k, v)) => labels.get(k).is_some_and(|have| have == v),
            None => labels.contains_key(l),
        })
    }
}

/// Docker's `reference` filter: a pattern (`*` matching within a path component) against the
/// familiar `repo:tag`, or against the repository alone.
fn reference_matches(pattern: &str, tag: &Reference) -> bool {
    let full = tag.familiar();
    let repo = tag.familiar_repository();
    glob(pattern, &full) || glob(pattern, &repo)
}

/// `*` matches any run of characters other than `/`; everything else is literal.
fn glob(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, rest)) => {
            let Some(tail) = text.strip_prefix(head) else {
                return false;
            };
            (0..=tail.len())
                .take_while(|&i| !tail[..i].contains('/'))
                .filter(|&i| tail.is_char_boundary(i))
                .any(|i| glob(rest, &tail[i..]))
        }
    }
}

/// `until`: a Unix time, an RFC 3339 time, or a Go duration before now; seconds.
pub(crate) fn until(v: &str) -> Option<i64> {
    if let Ok(secs) = v.split('.').next().unwrap_or(v).parse::<i64>() {
        return Some(secs);
    }
    if let Some(t) = hull_image::time::parse_rfc3339(v) {
        return Some(t);
    }
    let nanos = hull_engine::run::units::parse_go_duration(v).ok()?;
    Some(hull_image::time::now_secs() - (nanos / 1_000_000_000) as i64)
}

async fn inspect(shared: &Arc<Shared>, name: String) -> Handled {
    let doc = blocking(shared, move |s| {
        let r = s
            .engine
            .images
            .resolve(&name)
            .map_err(|e| ApiError::image(&name, &e))?;
        view::image::document(&s.engine.images, &r).map_err(|e| ApiError::internal(one_line(&e)))
    })
    .await?;
    Ok(body::json(StatusCode::OK, &doc))
}

async fn history(shared: &Arc<Shared>, name: String) -> Handled {
    let rows = blocking(shared, move |s| {
        let r = s
            .engine
            .images
            .resolve(&name)
            .map_err(|e| ApiError::image(&name, &e))?;
        view::image::history(&s.engine.images, &r).map_err(|e| ApiError::internal(one_line(&e)))
    })
    .await?;
    Ok(body::json(StatusCode::OK, &Value::Array(rows)))
}

/// `POST /images/{name}/tag?repo&tag`: 201.
async fn tag(shared: &Arc<Shared>, name: String, t: &Target) -> Handled {
    let repo = t
        .query
        .get("repo")
        .filter(|r| !r.is_empty())
        .ok_or_else(|| ApiError::bad("repo: the repository to tag in is required"))?;
    let target = match t.query.get("tag").filter(|t| !t.is_empty()) {
        Some(tag) => format!("{repo}:{tag}"),
        None => repo.to_string(),
    };
    let target = Reference::parse_with_default_tag(&target)
        .map_err(|e| ApiError::bad(format!("invalid reference format: {e}")))?;
    if target.digest().is_some() {
        return Err(ApiError::bad(
            "refusing to create a tag with a digest reference",
        ));
    }
    blocking(shared, move |s| {
        s.engine
            .images
            .tag(&name, &target)
            .map_err(|e| ApiError::image(&name, &e))?;
        s.engine.image_tagged(&name, &target.familiar());
        Ok(())
    })
    .await?;
    Ok(body::empty(StatusCode::CREATED))
}

/// `DELETE /images/{name}?force&noprune`: `[{"Untagged": …}, {"Deleted": …}]`.
async fn remove(shared: &Arc<Shared>, name: String, t: &Target) -> Handled {
    let force = t.query.flag("force", false)?;
    let _noprune = t.query.flag("noprune", false)?; // hull keeps no parent images to prune
    let events = blocking(shared, move |s| {
        s.engine
            .remove_image(&name, force)
            .map_err(|e| engine_error(&name, e))
    })
    .await?;
    Ok(body::json(StatusCode::OK, &removals(&events)))
}

fn removals(events: &[Removal]) -> Value {
    Value::Array(
        events
            .iter()
            .map(|e| match e {
                Removal::Untagged(t) => json!({"Untagged": t}),
                Removal::Deleted(d) => json!({"Deleted": d.to_string()}),
            })
            .collect(),
    )
}

/// `POST /images/prune?filters`: dangling images (every unused one with `dangling=false`).
async fn prune(shared: &Arc<Shared>, t: &Target) -> Handled {
    let filters = ImageFilters::parse(t.query.filters()?)?;
    if filters.before.is_some() || filters.since.is_some() || !filters.references.is_empty() {
        return Err(ApiError::bad(
            "invalid filter: image prune takes dangling, label and until",
        ));
    }
    let all = filters.dangling == Some(false);
    let pruned = blocking(shared, move |s| {
        let bounds = Bounds {
            before: None,
            since: None,
        };
        let check = ImageFilters {
            dangling: None,
            ..filters
        };
        s.engine
            .prune_images(all, |image| check.matches(s, image, &bounds))
            .map_err(|e| ApiError::internal(one_line(&e)))
    })
    .await?;
    let deleted = removals(&pruned.removed);
    let deleted = match deleted.as_array().is_some_and(Vec::is_empty) {
        true => Value::Null,
        false => deleted,
    };
    Ok(body::json(
        StatusCode::OK,
        &json!({"ImagesDeleted": deleted, "SpaceReclaimed": pruned.reclaimed}),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_patterns_match_within_a_component() {
        let r = |s: &str| Reference::parse_with_default_tag(s).unwrap();
        assert!(reference_matches("busybox", &r("busybox:latest")));
        assert!(reference_matches("busybox:*", &r("busybox:1.36")));
        assert!(reference_matches(
            "127.0.0.1:5000/*",
            &r("127.0.0.1:5000/busybox")
        ));
        assert!(!reference_matches("busy", &r("busybox")));
        assert!(!reference_matches("*", &r("127.0.0.1:5000/busybox")));
    }

    #[test]
    fn filters_are_checked() {
        let p = |k: &str, v: &str| vec![(k.to_string(), v.to_string())];
        assert!(ImageFilters::parse(p("dangling", "true")).unwrap().dangling == Some(true));
        assert!(ImageFilters::parse(p("dangling", "maybe")).is_err());
        assert!(ImageFilters::parse(p("colour", "red"))
            .unwrap_err()
            .message
            .contains("colour"));
        assert!(ImageFilters::parse(p("until", "10m"))
            .unwrap()
            .until
            .is_some());
        assert!(ImageFilters::parse(p("until", "whenever")).is_err());
        assert_eq!(until("1700000000"), Some(1_700_000_000));
    }
}
