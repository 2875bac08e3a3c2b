//! `hull system df -v`: Docker's verbose form, one table per kind: each image with the bytes it
//! shares with other images and its own, each container with its writable layer and volumes,
//! each volume with how many containers use it, and the (empty) build cache.

use hull_engine::lifecycle::df::{DiskUsage, ImageUsage};
use hull_engine::view;

use crate::output::{human_size, human_size_with_precision, since, table};

/// Docker prints shared and unique image sizes (and volume sizes) with four significant digits.
fn size4(bytes: u64) -> String {
    human_size_with_precision(bytes, 4)
}

/// The four sections, as Docker prints them.
pub fn render(usage: &DiskUsage, now: i64) -> String {
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

    // hull has no build cache: Docker's line and header for an empty one.
    out.push_str("\nBuild cache usage: 0B\n\n");
    out.push_str(&table(&[header(&[
        "CACHE ID",
        "CACHE TYPE",
        "SIZE",
        "CREATED",
        "LAST USED",
        "USAGE",
        "SHARED",
    ])]));
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
