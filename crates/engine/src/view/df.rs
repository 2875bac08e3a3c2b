//! `GET /system/df`'s document: what `docker system df` reads, from [`DiskUsage`].

use serde_json::{json, Value};

use crate::lifecycle::df::DiskUsage;
use crate::Engine;

/// Layers' total, each image's summary (with its containers and shared bytes), each container's
/// summary with its writable layer's size, each volume with its size and users; no build cache.
pub fn document(engine: &Engine, usage: &DiskUsage, now: i64) -> Value {
    let images: Vec<Value> = usage
        .images
        .iter()
        .map(|u| super::image::summary(&engine.images, u))
        .collect();
    let containers: Vec<Value> = usage
        .containers
        .iter()
        .map(|c| {
            let image = super::container::image_config(engine, &c.record);
            let doc =
                super::container::document(&c.record, &image, &engine.containers.dir(&c.record.id));
            let image_size = usage
                .images
                .iter()
                .find(|i| i.image.record.id.to_string() == c.record.image_id)
                .map_or(0, |i| i.image.record.size);
            let mut row = super::summary::summary(&c.record, &doc, now);
            row["SizeRw"] = json!(c.size);
            row["SizeRootFs"] = json!(c.size + image_size);
            row
        })
        .collect();
    let volumes: Vec<Value> = usage
        .volumes
        .iter()
        .map(|v| {
            let mut doc = super::volume::document(&v.volume);
            doc["UsageData"] = json!({"Size": v.size, "RefCount": v.ref_count});
            doc
        })
        .collect();
    json!({
        "LayersSize": usage.layers_size,
        "Images": images,
        "Containers": containers,
        "Volumes": volumes,
        "BuildCache": [],
    })
}
