//! `hull image inspect`: Docker-shaped JSON.

use anyhow::{Context, Result};
use hull_image::store::ImageRecord;
use hull_image::Store;
use serde_json::{json, Value};

use super::Ctx;
use crate::cli::InspectArgs;
use crate::output::print_documents;

pub fn inspect(ctx: &Ctx, args: InspectArgs) -> Result<u8> {
    let store = ctx.store()?;
    let mut docs = Vec::new();
    let mut failed = false;
    for name in &args.images {
        match store
            .resolve(name)
            .map_err(anyhow::Error::from)
            .and_then(|r| document(&store, &r))
        {
            Ok(doc) => docs.push(doc),
            Err(e) => {
                eprintln!("Error: {e:#}");
                failed = true;
            }
        }
    }
    print_documents(args.format.as_deref(), docs)?;
    Ok(if failed { 1 } else { 0 })
}

/// The JSON `docker image inspect` prints for one image.
pub fn document(store: &Store, record: &ImageRecord) -> Result<Value> {
    let config = store
        .config(&record.id)
        .with_context(|| format!("read config of image {}", record.id.short()))?;
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

fn familiar_digest(full: &str) -> String {
    match full.split_once('@') {
        Some((repo, digest)) => match hull_image::Reference::parse(repo) {
            Ok(r) => format!("{}@{digest}", r.familiar_repository()),
            Err(_) => full.to_string(),
        },
        None => full.to_string(),
    }
}
