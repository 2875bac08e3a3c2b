//! `image inspect`'s document: an image record and its config, Docker-shaped.

use hull_image::store::{ImageRecord, StoreError};
use hull_image::Store;
use serde_json::{json, Value};

/// Why an image's document could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ImageViewError {
    #[error("read config of image {id}")]
    Config {
        id: String,
        #[source]
        source: StoreError,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The image's config and its tags, which both of an image's documents show.
fn config_and_tags(
    store: &Store,
    record: &ImageRecord,
) -> Result<(hull_oci::image::ImageConfig, Vec<hull_image::Reference>), ImageViewError> {
    let config = store
        .config(&record.id)
        .map_err(|source| ImageViewError::Config {
            id: record.id.short().to_string(),
            source,
        })?;
    let tags = store
        .tags_by_image()?
        .remove(&record.id)
        .unwrap_or_default();
    Ok((config, tags))
}

/// The JSON `docker image inspect` prints for one image.
pub fn document(store: &Store, record: &ImageRecord) -> Result<Value, ImageViewError> {
    let (config, tags) = config_and_tags(store, record)?;
    let lowers: Vec<String> = record
        .diff_ids()
        .iter()
        .rev()
        .map(|d| store.layers.diff_dir(d).display().to_string())
        .collect();
    Ok(json!({
        "Id": record.id.to_string(),
        "RepoTags": tags.iter().map(|t| t.familiar()).collect::<Vec<_>>(),
        "RepoDigests": record.repo_digests.iter().map(|d| familiar_digest(d)).collect::<Vec<_>>(),
        "Parent": "",
        "Comment": config.history.last().and_then(|h| h.comment.clone()).unwrap_or_default(),
        "Created": config.created.clone().unwrap_or_default(),
        "DockerVersion": config.extra.get("docker_version").cloned().unwrap_or(json!("")),
        "Author": config.author.clone().unwrap_or_default(),
        "Config": config.config.clone().map(|c| serde_json::to_value(c).unwrap_or(Value::Null)).unwrap_or(Value::Null),
        "Architecture": config.architecture,
        "Variant": config.variant,
        "Os": config.os,
        "Size": record.size,
        "GraphDriver": {
            "Name": "overlay",
            "Data": { "LowerDir": lowers.join(":") }
        },
        "RootFS": {
            "Type": "layers",
            "Layers": record.diff_ids().iter().map(|d| d.to_string()).collect::<Vec<_>>(),
        },
        "Metadata": { "LastTagTime": record.added },
    }))
}

/// One row of `GET /images/json`, Docker's ImageSummary: `usage` says how many containers use
/// the image and how many of its bytes other images share (as `system df` measures them).
pub fn summary(store: &Store, usage: &crate::lifecycle::df::ImageUsage) -> Value {
    let image = &usage.image;
    let labels = store
        .config(&image.record.id)
        .ok()
        .and_then(|c| c.config)
        .and_then(|c| c.labels);
    let created = image
        .created
        .as_deref()
        .and_then(hull_image::time::parse_rfc3339)
        .unwrap_or(0);
    let mut tags: Vec<String> = image.tags.iter().map(|t| t.familiar()).collect();
    let mut digests: Vec<String> = image
        .record
        .repo_digests
        .iter()
        .map(|d| familiar_digest(d))
        .collect();
    // API 1.41 shows a dangling image as Docker 20.10 does.
    if tags.is_empty() && digests.is_empty() {
        tags.push("<none>:<none>".into());
        digests.push("<none>@<none>".into());
    }
    json!({
        "Id": image.record.id.to_string(),
        "ParentId": "",
        "RepoTags": tags,
        "RepoDigests": digests,
        "Created": created,
        "Size": image.record.size,
        "SharedSize": usage.shared_size,
        "VirtualSize": image.record.size,
        "Labels": labels,
        "Containers": usage.containers,
    })
}

/// `GET /images/{name}/history`: the config's history, newest first; the layers' sizes go to
/// the entries that made a layer (Docker's IDs: the image's on the newest entry, else
/// `<missing>`).
pub fn history(store: &Store, record: &ImageRecord) -> Result<Vec<Value>, ImageViewError> {
    let (config, tags) = config_and_tags(store, record)?;
    let mut layers = record.diff_ids().into_iter();
    let mut rows: Vec<Value> = config
        .history
        .iter()
        .map(|h| {
            let size = match h.empty_layer {
                Some(true) => 0,
                _ => layers
                    .next()
                    .and_then(|d| store.layers.meta(&d).ok())
                    .map_or(0, |m| m.size),
            };
            json!({
                "Id": "<missing>",
                "Created": h.created.as_deref().and_then(hull_image::time::parse_rfc3339).unwrap_or(0),
                "CreatedBy": h.created_by.clone().unwrap_or_default(),
                "Tags": Value::Null,
                "Size": size,
                "Comment": h.comment.clone().unwrap_or_default(),
            })
        })
        .collect();
    rows.reverse();
    if let Some(first) = rows.first_mut() {
        first["Id"] = json!(record.id.to_string());
        first["Tags"] = json!(tags.iter().map(|t| t.familiar()).collect::<Vec<_>>());
    }
    Ok(rows)
}

/// `docker.io/library/busybox@sha256:…` → `busybox@sha256:…`.
fn familiar_digest(full: &str) -> String {
    match full.split_once('@') {
        Some((repo, digest)) => match hull_image::Reference::parse(repo) {
            Ok(r) => format!("{}@{digest}", r.familiar_repository()),
            Err(_) => full.to_string(),
        },
        None => full.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_read_in_familiar_form() {
        let d = format!("sha256:{}", "a".repeat(64));
        assert_eq!(
            familiar_digest(&format!("docker.io/library/busybox@{d}")),
            format!("busybox@{d}")
        );
        assert_eq!(
            familiar_digest(&format!("127.0.0.1:5000/x/y@{d}")),
            format!("127.0.0.1:5000/x/y@{d}")
        );
        assert_eq!(familiar_digest("not a digest"), "not a digest");
    }
}
