//! `hull images`, `tag`, `rmi`, `image prune`, `image mount`/`unmount`.

use std::collections::BTreeMap;

use anyhow::{bail, Context, Result};
use hull_image::reference::Reference;
use hull_image::store::{ImageSummary, Removal};
use serde_json::{json, Value};

use super::Ctx;
use crate::cli::{ImageRefArgs, ImagesArgs, PruneArgs, RmiArgs, TagArgs};
use crate::output::{human_size, render_template, since, table, template_header, OutputFormat};

/// One row per (image, tag); an untagged image is one `<none>` row.
fn rows(summary: &ImageSummary, no_trunc: bool) -> Vec<Value> {
    let id = if no_trunc {
        summary.record.id.to_string()
    } else {
        summary.record.id.short().to_string()
    };
    let digest_of = |repo: &str| {
        summary
            .record
            .repo_digests
            .iter()
            .filter_map(|d| d.split_once('@'))
            .find(|(r, _)| *r == repo)
            .map_or("<none>".to_string(), |(_, d)| d.to_string())
    };
    let base = |repo: String, tag: String, digest: String| {
        json!({
            "Containers": "N/A",
            "CreatedAt": summary.created.clone().unwrap_or_default(),
            "CreatedSince": since(summary.created.as_deref()),
            "Digest": digest,
            "ID": id,
            "Repository": repo,
            "SharedSize": "N/A",
            "Size": human_size(summary.record.size),
            "Tag": tag,
            "UniqueSize": "N/A",
            "VirtualSize": human_size(summary.record.size),
        })
    };
    if summary.tags.is_empty() {
        return vec![base("<none>".into(), "<none>".into(), "<none>".into())];
    }
    summary
        .tags
        .iter()
        .map(|t| {
            base(
                t.familiar_repository(),
                t.tag().unwrap_or("<none>").to_string(),
                digest_of(&t.repository()),
            )
        })
        .collect()
}

fn matches_filter(row: &Value, filter: &Option<Reference>, raw: Option<&str>) -> bool {
    let Some(f) = filter else { return true };
    let repo_ok = row["Repository"] == f.familiar_repository();
    let tag_given = raw.is_some_and(|r| r.rsplit('/').next().is_some_and(|l| l.contains(':')));
    repo_ok && (!tag_given || Some(row["Tag"].as_str().unwrap_or("")) == f.tag())
}

pub fn list(ctx: &Ctx, args: ImagesArgs) -> Result<u8> {
    let store = ctx.store()?;
    let filter = args
        .reference
        .as_deref()
        .map(Reference::parse_with_default_tag)
        .transpose()?;
    let mut all = Vec::new();
    for s in store.list()? {
        all.extend(
            rows(&s, args.no_trunc)
                .into_iter()
                .filter(|r| matches_filter(r, &filter, args.reference.as_deref())),
        );
    }
    if args.quiet {
        let mut seen = std::collections::BTreeSet::new();
        for r in &all {
            let id = r["ID"].as_str().unwrap_or_default();
            if seen.insert(id.to_string()) {
                println!("{id}");
            }
        }
        return Ok(0);
    }
    match OutputFormat::parse(args.format.as_deref()) {
        OutputFormat::Json => {
            for r in &all {
                println!("{r}");
            }
        }
        OutputFormat::Template {
            text,
            table: header,
        } => {
            print_template(&all, &text, header)?;
        }
        OutputFormat::Table => print_table(&all, args.digests),
    }
    Ok(0)
}

fn print_table(all: &[Value], digests: bool) {
    let mut header = vec!["REPOSITORY", "TAG"];
    if digests {
        header.push("DIGEST");
    }
    header.extend(["IMAGE ID", "CREATED", "SIZE"]);
    let mut out = vec![header.iter().map(|s| s.to_string()).collect::<Vec<_>>()];
    for r in all {
        let mut fields = vec!["Repository", "Tag"];
        if digests {
            fields.push("Digest");
        }
        fields.extend(["ID", "CreatedSince", "Size"]);
        out.push(
            fields
                .iter()
                .map(|f| r[*f].as_str().unwrap_or_default().to_string())
                .collect(),
        );
    }
    print!("{}", table(&out));
}

fn print_template(all: &[Value], text: &str, header: bool) -> Result<()> {
    let names: BTreeMap<&str, &str> = [
        ("Repository", "REPOSITORY"),
        ("Tag", "TAG"),
        ("ID", "IMAGE ID"),
        ("Digest", "DIGEST"),
        ("CreatedSince", "CREATED"),
        ("CreatedAt", "CREATED AT"),
        ("Size", "SIZE"),
    ]
    .into();
    let mut lines = Vec::new();
    if header {
        lines.push(template_header(text, &names));
    }
    for r in all {
        lines.push(render_template(text, r).map_err(anyhow::Error::msg)?);
    }
    if header || text.contains("\\t") {
        let rows: Vec<Vec<String>> = lines
            .iter()
            .map(|l| l.split('\t').map(str::to_string).collect())
            .collect();
        print!("{}", table(&rows));
    } else {
        for l in lines {
            println!("{l}");
        }
    }
    Ok(())
}

pub fn tag(ctx: &Ctx, args: TagArgs) -> Result<u8> {
    let target = Reference::parse_with_default_tag(&args.target)?;
    if target.digest().is_some() {
        bail!("tag {}: a tag target cannot contain a digest", args.target);
    }
    let store = ctx.store()?;
    store
        .tag(&args.source, &target)
        .with_context(|| format!("tag {} as {}", args.source, args.target))?;
    super::events::emit(ctx, |e| e.image_tagged(&args.source, &target.familiar()));
    Ok(0)
}

fn print_removals(events: &[Removal]) {
    for e in events {
        match e {
            Removal::Untagged(t) => println!("Untagged: {t}"),
            Removal::Deleted(d) => println!("Deleted: {d}"),
        }
    }
}

pub fn remove(ctx: &Ctx, args: RmiArgs) -> Result<u8> {
    let engine = hull_engine::Engine::open(&ctx.root).context("open hull store")?;
    let mut failed = false;
    for name in &args.images {
        match engine.remove_image(name, args.force) {
            Ok(events) => print_removals(&events),
            Err(e) => {
                eprintln!("Error response from hull: {e}");
                failed = true;
            }
        }
    }
    Ok(if failed { 1 } else { 0 })
}

pub fn prune(ctx: &Ctx, args: PruneArgs) -> Result<u8> {
    // Docker keeps every image a container (running or not) was created from.
    let engine = hull_engine::Engine::open(&ctx.root).context("open hull store")?;
    let pruned = engine.prune_images(args.all, |_| true)?;
    if !pruned.removed.is_empty() {
        println!("Deleted Images:");
        print_removals(&pruned.removed);
        println!();
    }
    println!("Total reclaimed space: {}", human_size(pruned.reclaimed));
    Ok(0)
}

pub fn mount(ctx: &Ctx, args: ImageRefArgs) -> Result<u8> {
    let store = ctx.store()?;
    let path = store
        .mount(&args.image)
        .with_context(|| format!("mount image {}", args.image))?;
    println!("{}", path.display());
    Ok(0)
}

pub fn unmount(ctx: &Ctx, args: ImageRefArgs) -> Result<u8> {
    let store = ctx.store()?;
    match store
        .unmount(&args.image)
        .with_context(|| format!("unmount image {}", args.image))?
    {
        Some(_) => println!("{}", args.image),
        None => bail!("unmount image {}: it is not mounted", args.image),
    }
    Ok(0)
}
