//! `hull system df -v`: Docker's verbose form, one table per kind: each image with the bytes it
//! shares with other images and its own, each container with its writable layer and volumes,
//! each volume with how many containers use it, and each record of the build cache.

use hull_build::exec::CacheRecord;
use hull_engine::lifecycle::df::{DiskUsage, ImageUsage};
use hull_engine::view;

use crate::output::{human_size, human_size_with_precision, since, table};

/// Docker prints shared and unique image sizes (and volume sizes) with four significant digits.
fn size4(bytes: u64) -> String {
    human_size_with_precision(bytes, 4)
}

/// The four sections, as Docker prints them.
pub fn render(usage: &DiskUsage, cache: &[CacheRecord], now: i64) -> String {
    let mut out = String::from("Images space usage:\n\n");
    let mut rows = vec![header(&[
        "REPOSITORY",
        "TAG",
        "IMAGE ID",
        "CREATED",
        "SIZE",
        "SHARED SIZE",
        "UNIQUE SIZE",
        "CONTAINERS",
    ])];
    rows.extend(usage.images.iter().map(image_row));
    out.push_str(&table(&rows));

    out.push_str("\nContainers space usage:\n\n");
    let mut rows = vec![header(&[
        "CONTAINER ID",
        "IMAGE",
        "COMMAND",
        "LOCAL VOLUMES",
        "SIZE",
        "CREATED",
        "STATUS",
        "NAMES",
    ])];
    rows.extend(usage.containers.iter().map(|c| {
        let ps = view::ps::row(&c.record, now, true);
        let field = |k: &str| ps[k].as_str().unwrap_or_default().to_string();
        let volumes = c.record.config.mounts.iter();
        let volumes = volumes.filter(|m| m.volume().is_some()).count();
        vec![
            field("ID"),
            field("Image"),
            field("Command"),
            volumes.to_string(),
            human_size(c.size),
            field("RunningFor"),
            field("Status"),
            field("Names"),
        ]
    }));
    out.push_str(&table(&rows));

    out.push_str("\nLocal Volumes space usage:\n\n");
    let mut rows = vec![header(&["VOLUME NAME", "LINKS", "SIZE"])];
    rows.extend(usage.volumes.iter().map(|v| {
        vec![
            v.volume.name.clone(),
            v.ref_count.to_string(),
            size4(v.size),
        ]
    }));
    out.push_str(&table(&rows));

    out.push_str(&build_cache(cache, now));
    out
}

/// The build cache's section: its total, then one row per record, an ID in use marked `*`.
fn build_cache(cache: &[CacheRecord], now: i64) -> String {
    let total: u64 = cache.iter().map(|r| r.size).sum();
    let mut out = format!("\nBuild cache usage: {}\n\n", human_size(total));
    let mut rows = vec![header(&[
        "CACHE ID",
        "CACHE TYPE",
        "SIZE",
        "CREATED",
        "LAST USED",
        "USAGE",
        "SHARED",
    ])];
    let ago = |t: i64| format!("{} ago", hull_engine::view::human_duration(now - t));
    rows.extend(cache.iter().map(|r| {
        let mut id: String = r.id.chars().take(12).collect();
        if r.in_use {
            id.push('*');
        }
        vec![
            id,
            r.kind.docker_type().to_string(),
            human_size(r.size),
            ago(r.created),
            ago(r.last_used),
            "1".to_string(),
            "false".to_string(),
        ]
    }));
    out.push_str(&table(&rows));
    out
}

fn header(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| n.to_string()).collect()
}

/// One row per image, named by its first tag as Docker does (`<none>` when it has none).
fn image_row(i: &ImageUsage) -> Vec<String> {
    let s = &i.image;
    let (repo, tag) = s
        .tags
        .first()
        .map_or(("<none>".into(), "<none>".into()), |t| {
            (
                t.familiar_repository(),
                t.tag().unwrap_or("<none>").to_string(),
            )
        });
    let size = s.record.size;
    vec![
        repo,
        tag,
        s.record.id.short().to_string(),
        since(s.created.as_deref()),
        human_size(size),
        size4(i.shared_size),
        size4(size.saturating_sub(i.shared_size)),
        i.containers.to_string(),
    ]
}
