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

/// The JSON `docker image inspect` prints for one image.
pub fn document(store: &Store, record: &ImageRecord) -> Result<Value, ImageViewError> {
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
