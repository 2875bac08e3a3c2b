//! `hull system boot`: run once when the machine starts (see contrib/systemd/hull-boot.service
//! and contrib/init/hull-boot.sh); `hull system prune`.

use anyhow::{bail, Context, Result};
use hull_engine::lifecycle::df::UsageLine;
use hull_engine::Engine;
use hull_image::store::Removal;

use super::detach::{start_for_boot, BootStart};
use super::Ctx;
use crate::cli::{SystemDfArgs, SystemPruneArgs};
use crate::output::{human_size, now_secs, render_template, table, template_header, OutputFormat};

/// Reconciles what died with the machine, then starts each container its restart policy brings
/// back under a new monitor: one line per container started (stdout) or failed (stderr), exit
/// 1 when any failed.
pub fn boot(ctx: &Ctx) -> Result<u8> {
    let engine = Engine::open(&ctx.root).context("open hull store")?;
    let plan = engine.boot().context("reconcile containers at boot")?;
    let mut failed = 0;
    for r in &plan.removed {
        println!("removed {} {}", r.name, r.short_id());
    }
    for (r, cause) in &plan.remove_failed {
        eprintln!("hull: remove {} {}: {cause}", r.name, r.short_id());
        failed += 1;
    }
    for r in &plan.start {
        match start_for_boot(ctx, &engine, r) {
            Ok(BootStart::Started) => println!("started {} {}", r.name, r.short_id()),
            // Started by someone else meanwhile: what boot wanted, and not a second copy.
            Ok(BootStart::AlreadyRunning) => {}
            Ok(BootStart::Failed(cause)) => {
                eprintln!("hull: start {} {}: {cause}", r.name, r.short_id());
                failed += 1;
            }
            Err(e) => {
                eprintln!(
                    "hull: start {} {}: {}",
                    r.name,
                    r.short_id(),
                    crate::one_line(&e)
                );
                failed += 1;
            }
        }
    }
    Ok(u8::from(failed > 0))
}

/// `hull system prune [-a] [-f]`: Docker's sections (`Deleted Containers:`, `Deleted Networks:`,
/// `Deleted Images:`, each followed by a blank line, only when something was deleted) and
/// `Total reclaimed space: …`. hull never prompts, so `-f` changes nothing.
pub fn prune(ctx: &Ctx, args: SystemPruneArgs) -> Result<u8> {
    let engine = Engine::open(&ctx.root).context("open hull store")?;
    let pruned = engine
        .system_prune(args.all, args.volumes)
        .context("system prune")?;
    let containers: Vec<&str> = pruned.containers.iter().map(|p| p.id.as_str()).collect();
    section("Deleted Containers:", &containers);
    let networks: Vec<&str> = pruned.networks.iter().map(String::as_str).collect();
    section("Deleted Networks:", &networks);
    let volumes: Vec<&str> = pruned.volumes.iter().map(String::as_str).collect();
    section("Deleted Volumes:", &volumes);
    let images: Vec<String> = pruned
        .images
        .iter()
        .map(|e| match e {
            Removal::Untagged(t) => format!("untagged: {t}"),
            Removal::Deleted(d) => format!("deleted: {d}"),
        })
        .collect();
    let images: Vec<&str> = images.iter().map(String::as_str).collect();
    section("Deleted Images:", &images);
    // Docker's system prune removes the build cache too (what no build uses).
    let cache = hull_build::exec::prune_cache(engine.images.root())
        .map_err(|e| anyhow::anyhow!("system prune: {e}"))?;
    let keys: Vec<&str> = cache.keys.iter().map(String::as_str).collect();
    section("Deleted build cache objects:", &keys);
    println!(
        "Total reclaimed space: {}",
        human_size(pruned.reclaimed + cache.bytes)
    );
    Ok(0)
}

/// A prune report's section: its title, one line each, a blank line; nothing when empty.
pub(super) fn section(title: &str, lines: &[&str]) {
    if lines.is_empty() {
        return;
    }
    println!("{title}");
    for l in lines {
        println!("{l}");
    }
    println!();
}

/// `hull system df [--format]`: Docker's summary, one line per type (with `-v`, Docker's verbose
/// tables: [`super::df_verbose`]). RECLAIMABLE is what nothing uses, with its share of SIZE when
/// SIZE is not 0 (not for the build cache, as Docker prints it).
pub fn df(ctx: &Ctx, args: SystemDfArgs) -> Result<u8> {
    if args.verbose && args.format.is_some() {
        bail!("system df: --format cannot be used with --verbose (its output is four tables)");
    }
    let engine = Engine::open(&ctx.root).context("open hull store")?;
    let usage = engine.disk_usage().context("system df")?;
    let cache = hull_build::exec::cache_records(engine.images.root())
        .map_err(|e| anyhow::anyhow!("system df: {e}"))?;
    if args.verbose {
        print!("{}", super::df_verbose::render(&usage, &cache, now_secs()));
        return Ok(0);
    }
    let lines = [
        ("Images", usage.images_line(), true),
        ("Containers", usage.containers_line(), true),
        ("Local Volumes", usage.volumes_line(), true),
        ("Build Cache", cache_line(&cache), false),
    ];
    let docs: Vec<serde_json::Value> = lines
        .iter()
        .map(|(kind, l, share)| df_doc(kind, l, *share))
        .collect();
    match OutputFormat::parse(args.format.as_deref()) {
        OutputFormat::Table => {
            let mut rows = vec![["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"]
                .map(String::from)
                .to_vec()];
            rows.extend(docs.iter().map(|d| {
                ["Type", "TotalCount", "Active", "Size", "Reclaimable"]
                    .map(|k| d[k].as_str().unwrap_or_default().to_string())
                    .to_vec()
            }));
            print!("{}", table(&rows));
        }
        OutputFormat::Json => docs.iter().for_each(|d| println!("{d}")),
        OutputFormat::Template { text, table } => {
            if table {
                let names = [
                    ("Type", "TYPE"),
                    ("TotalCount", "TOTAL"),
                    ("Active", "ACTIVE"),
                    ("Size", "SIZE"),
                    ("Reclaimable", "RECLAIMABLE"),
                ];
                println!("{}", template_header(&text, &names.into()));
            }
            for d in &docs {
                println!("{}", render_template(&text, d).map_err(anyhow::Error::msg)?);
            }
        }
    }
    Ok(0)
}

/// The build cache's summary line: records in use are active, the others reclaimable.
fn cache_line(cache: &[hull_build::exec::CacheRecord]) -> UsageLine {
    UsageLine::of(cache.iter().map(|r| (r.in_use, r.size)))
}

/// One summary line as Docker's `--format` sees it: every field a string.
fn df_doc(kind: &str, l: &UsageLine, share: bool) -> serde_json::Value {
    let mut reclaimable = human_size(l.reclaimable);
    if share && l.size > 0 {
        reclaimable = format!("{reclaimable} ({}%)", l.reclaimable * 100 / l.size);
    }
    serde_json::json!({
        "Type": kind,
        "TotalCount": l.total.to_string(),
        "Active": l.active.to_string(),
        "Size": human_size(l.size),
        "Reclaimable": reclaimable,
    })
}
