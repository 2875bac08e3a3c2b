//! `hull build`: context + Dockerfile → `hull_build::exec::build` → print as Docker's classic
//! builder prints.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use hull_build::context::Context;
use hull_build::exec::{build as run_build, BuildOptions, Stdout};
use hull_build::ignore::DockerIgnore;
use hull_engine::Engine;
use hull_image::Reference;

use super::Ctx;
use crate::cli_build::BuildArgs;

pub fn build(ctx: &Ctx, args: BuildArgs) -> Result<u8> {
    if let Some(n) = &args.network {
        if !["default", "none", "host"].contains(&n.as_str()) {
            anyhow::bail!("build: --network {n:?}: must be default, none or host");
        }
    }
    let tags = args
        .tags
        .iter()
        .map(|t| Reference::parse_with_default_tag(t).with_context(|| format!("build: -t {t}")))
        .collect::<Result<Vec<_>>>()?;
    let build_args = build_args(&args.build_args);
    let (context, text, name) = load(&args)?;
    let file = match hull_build::dockerfile::parse(&name, &text) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("hull: build: {e}");
            return Ok(1);
        }
    };
    let engine = Engine::open(&ctx.root).context("open hull store")?;
    let opts = BuildOptions {
        text,
        target: args.target,
        build_args,
        network: args.network.filter(|n| n != "default"),
        quiet: args.quiet,
        no_cache: args.no_cache,
        pull: false,
        tags,
        labels: BTreeMap::new(),
    };
    let pull = |engine: &Engine, image: &str| {
        super::run::pull_image(ctx, engine, image, None, false).map_err(|e| format!("{e:#}"))
    };
    let id = match run_build(&engine, &context, &file, &opts, &pull, &Stdout) {
        Ok(id) => id,
        Err(e) => {
            eprintln!("hull: build: {e}");
            return Ok(1);
        }
    };
    if args.quiet {
        println!("{id}");
    }
    if let Some(f) = &args.iidfile {
        std::fs::write(f, id.to_string()).with_context(|| format!("build: write --iidfile {f}"))?;
    }
    Ok(0)
}

/// `K=V` as given; a bare `K` takes the environment's value (left out when unset, as Docker).
fn build_args(raw: &[String]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for a in raw {
        match a.split_once('=') {
            Some((k, v)) => {
                out.insert(k.to_string(), v.to_string());
            }
            None => {
                if let Ok(v) = std::env::var(a) {
                    out.insert(a.clone(), v);
                }
            }
        }
    }
    out
}

/// The context, the Dockerfile's text and the name its errors carry.
fn load(args: &BuildArgs) -> Result<(Context, String, String)> {
    if args.context == "-" {
        let context = Context::from_tar(std::io::stdin().lock())
            .context("build: read the context tar from stdin")?;
        let rel = args.file.clone().unwrap_or_else(|| "Dockerfile".into());
        let path = context.root().join(rel.trim_start_matches('/'));
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("build: read {rel} in the context"))?;
        return Ok((context, text, file_name(&rel)));
    }
    let root = PathBuf::from(&args.context);
    if !root.is_dir() {
        anyhow::bail!("build: context {}: not a directory", root.display());
    }
    let path = match &args.file {
        Some(f) => PathBuf::from(f),
        None => root.join("Dockerfile"),
    };
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("build: read {}", path.display()))?;
    let ignore = DockerIgnore::load_for(&root, &path)
        .with_context(|| format!("build: read the .dockerignore of {}", root.display()))?;
    let context = Context::from_dir(&root, ignore)
        .with_context(|| format!("build: context {}", root.display()))?;
    Ok((context, text, file_name(&path.to_string_lossy())))
}

fn file_name(path: &str) -> String {
    Path::new(path)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.to_string())
}
