//! `hull build`: context + Dockerfile → `hull_build::exec::build` → print as Docker's classic
//! builder prints.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use hull_build::context::Context;
use hull_build::exec::output::Output;
use hull_build::exec::{build as run_build, parse_secret, BuildOptions, Format, Stdout};
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
    let labels = labels(&args.labels)?;
    let format: Format = match &args.format {
        Some(f) => f.parse().map_err(|e| anyhow::anyhow!("build: {e}"))?,
        None => Format::default(),
    };
    let output: Option<Output> = match &args.output {
        Some(o) => Some(o.parse().map_err(|e| anyhow::anyhow!("build: {e}"))?),
        None => None,
    };
    if let Some(p) = &args.platform {
        hull_build::exec::platform::check(p, "build: --platform")?;
    }
    let (context, text, name) = load(&args)?;
    let file = match hull_build::dockerfile::parse(&name, &text) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("hull: build: {e}");
            return Ok(1);
        }
    };
    let mut secrets = std::collections::BTreeMap::new();
    for s in &args.secrets {
        let (id, source) = parse_secret(s).map_err(|e| anyhow::anyhow!("build: {e}"))?;
        secrets.insert(id, source);
    }
    let engine = Engine::open(&ctx.root).context("open hull store")?;
    let opts = BuildOptions {
        text,
        target: args.target,
        build_args,
        network: args.network.filter(|n| n != "default"),
        quiet: args.quiet,
        no_cache: args.no_cache,
        pull: args.pull,
        tags,
        labels,
        format,
        registry: crate::settings::registry_config(ctx.config.as_deref(), None)?,
        secrets,
    };
    let pull = |engine: &Engine, image: &str| {
        // Present when `--pull` pulls again: no "Unable to find image" then.
        let present = engine.images.resolve(image).is_ok();
        super::run::pull_image(ctx, engine, image, None, present).map_err(|e| format!("{e:#}"))
    };
    let id = match run_build(&engine, &context, &file, &opts, &pull, &Stdout) {
        Ok(id) => id,
        Err(e) => {
            eprintln!("hull: build: {e}");
            return Ok(1);
        }
    };
    if let Some(out) = &output {
        if let Err(e) = hull_build::exec::output::write(&engine, &id, out) {
            eprintln!("hull: build: {e}");
            return Ok(1);
        }
    }
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

/// `--label K=V`s (a bare `K` is an empty label, as Docker takes it).
fn labels(raw: &[String]) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for l in raw {
        let (k, v) = l.split_once('=').unwrap_or((l.as_str(), ""));
        if k.is_empty() {
            anyhow::bail!("build: --label {l:?}: the key is empty");
        }
        out.insert(k.to_string(), v.to_string());
    }
    Ok(out)
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
