//! `hull push`: Docker's output (`The push refers to repository [...]`, a line per layer, then
//! `TAG: digest: sha256:… size: N`), or only the pushed reference with `-q`.

use anyhow::{bail, Context, Result};
use hull_image::push::{Format, PushOptions, Quiet};
use hull_image::reference::Reference;
use hull_image::registry::Registry;

use super::Ctx;
use crate::cli::{CompressionFormat, PushArgs};
use crate::progress::Progress;
use crate::settings::registry_config;

pub fn push(ctx: &Ctx, args: PushArgs) -> Result<u8> {
    let store = ctx.store()?;
    let targets = targets(&store, &args)?;
    let config = registry_config(ctx.config.as_deref(), args.cert_dir.as_deref())?;
    let first = &targets[0];
    let registry = Registry::new(first.domain(), &config)?;
    let opts = PushOptions {
        format: match args.compression_format {
            CompressionFormat::Gzip => Format::Gzip,
            CompressionFormat::Zstd => Format::Zstd,
        },
        ..PushOptions::default()
    };
    if !args.quiet {
        println!(
            "The push refers to repository [{}]",
            first.familiar_repository()
        );
    }
    for target in &targets {
        let progress = Progress::new(args.quiet);
        let outcome = if args.quiet {
            hull_image::push::push(&store, &registry, target, &opts, &Quiet)
        } else {
            hull_image::push::push(&store, &registry, target, &opts, &progress)
        }
        .with_context(|| format!("push {}", target.familiar()))?;
        progress.finish();
        let name = target.familiar();
        super::events::emit(ctx, |e| e.image_event("push", &name, &name));
        if args.quiet {
            println!("{}", target.familiar());
        } else {
            println!(
                "{}: digest: {} size: {}",
                outcome.tag, outcome.digest, outcome.size
            );
        }
    }
    Ok(0)
}

/// The references to push: the one named (tag `latest` by default), or with `--all-tags` every
/// local tag of its repository.
fn targets(store: &hull_image::Store, args: &PushArgs) -> Result<Vec<Reference>> {
    if !args.all_tags {
        let reference = Reference::parse_with_default_tag(&args.image)?;
        if reference.digest().is_some() {
            bail!(
                "push {}: name a tag, not a digest (pushing by digest is not supported)",
                args.image
            );
        }
        return Ok(vec![reference]);
    }
    let named = Reference::parse(&args.image)?;
    if named.tag().is_some() || named.digest().is_some() {
        bail!(
            "push {}: --all-tags takes a repository without a tag",
            args.image
        );
    }
    let mut tags: Vec<Reference> = store
        .tags_by_image()?
        .into_values()
        .flatten()
        .filter(|r| r.repository() == named.repository() && r.tag().is_some())
        .collect();
    tags.sort_by_key(|r| r.to_string());
    if tags.is_empty() {
        bail!(
            "push {}: no local tags of this repository",
            named.familiar_repository()
        );
    }
    Ok(tags)
}
