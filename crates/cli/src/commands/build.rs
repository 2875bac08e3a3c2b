//! `hull build`: context + Dockerfile → `hull_build::exec::build` → print as Docker's classic
//! builder prints.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use hull_build::context::Context;
use hull_build::exec::output::Output;
use hull_build::exec::{
    build as run_build, parse_secret, BuildOptions, Format, Progress, Quiet, Stdout,
};
use hull_build::ignore::DockerIgnore;
use hull_engine::Engine;
use hull_image::Reference;

use super::Ctx;
use crate::build_progress::TtyProgress;
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
    let (format, output) = format_and_output(&args)?;
    let live = match args.progress.as_str() {
        "auto" => std::io::stdout().is_terminal(),
        "tty" => true,
        "plain" => false,
        other => anyhow::bail!("build: --progress {other:?}: must be auto, plain or tty"),
    };
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
    let id = match build_with_sink(&engine, &context, &file, &opts, &pull, live) {
        Ok(id) => id,
        Err(code) => return Ok(code),
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

/// Runs the build on the sink `-q` and `--progress` choose; the image ID, or the exit code of
/// a failed build (reported).
fn build_with_sink(
    engine: &Engine,
    context: &Context,
    file: &hull_build::dockerfile::Dockerfile,
    opts: &BuildOptions,
    pull: hull_build::exec::Pull<'_>,
    live: bool,
) -> std::result::Result<hull_oci::Digest, u8> {
    let quiet = Quiet::default();
    let tty = TtyProgress::new();
    let live = live && !opts.quiet;
    let sink: &dyn Progress = match (opts.quiet, live) {
        (true, _) => &quiet,
        (false, true) => &tty,
        (false, false) => &Stdout,
    };
    // Ctrl-C stops the build at its next step (and the RUN running) rather than ending hull:
    // the live view's RUNs run detached, and after a foreground RUN the runtime's forwarding
    // handler would otherwise leave SIGINT ignored between steps.
    hull_build::exec::catch_interrupts();
    let built = run_build(engine, context, file, opts, pull, sink);
    if built.is_err() && live {
        tty.show_failed_step();
    }
    let id = built.map_err(|e| failed(&quiet, &e))?;
    // A successful quiet build still owes the user Docker's warnings.
    for w in quiet
        .warnings
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
    {
        eprintln!("{w}");
    }
    Ok(id)
}

/// `hull builder prune`: removes the build cache no build uses (step entries and RUN cache
/// mounts), printing Docker's lines.
pub fn prune(ctx: &Ctx, _args: crate::cli_build::BuilderPruneArgs) -> Result<u8> {
    let engine = Engine::open(&ctx.root).context("open hull store")?;
    let pruned = hull_build::exec::prune_cache(engine.images.root())
        .map_err(|e| anyhow::anyhow!("builder prune: {e}"))?;
    let keys: Vec<&str> = pruned.keys.iter().map(String::as_str).collect();
    super::system::section("Deleted build cache objects:", &keys);
    println!(
        "Total reclaimed space: {}",
        crate::output::human_size(pruned.bytes)
    );
    Ok(0)
}

/// Reports a failed build; its exit code. `-q` kept the RUN output and the warnings, which a
/// failed build shows; a failing RUN's exit code is the build's, as with Docker's CLI.
fn failed(quiet: &Quiet, e: &hull_build::exec::BuildError) -> u8 {
    let kept = quiet.kept.lock().unwrap_or_else(|e| e.into_inner());
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(&kept);
    let _ = writeln!(err, "hull: build: {e}");
    e.code
        .and_then(|c| u8::try_from(c).ok())
        .filter(|&c| c != 0)
        .unwrap_or(1)
}

/// `--format` and `--output`, parsed; `--platform` checked against the host.
fn format_and_output(args: &BuildArgs) -> Result<(Format, Option<Output>)> {
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
    Ok((format, output))
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
    let dockerfile_on_stdin = args.file.as_deref() == Some("-");
    if args.context == "-" {
        if dockerfile_on_stdin {
            anyhow::bail!(
                "build: -f - with context -: stdin cannot be both the context and the Dockerfile"
            );
        }
        return load_stdin(args.file.as_deref());
    }
    let root = PathBuf::from(&args.context);
    if !root.is_dir() {
        anyhow::bail!("build: context {}: not a directory", root.display());
    }
    let path = match &args.file {
        Some(f) if !dockerfile_on_stdin => PathBuf::from(f),
        _ => root.join("Dockerfile"),
    };
    let text = if dockerfile_on_stdin {
        read_stdin_text()?
    } else {
        std::fs::read_to_string(&path).with_context(|| format!("build: read {}", path.display()))?
    };
    let ignore = DockerIgnore::load_for(&root, &path)
        .with_context(|| format!("build: read the .dockerignore of {}", root.display()))?;
    let context = Context::from_dir(&root, ignore)
        .with_context(|| format!("build: context {}", root.display()))?;
    Ok((context, text, file_name(&path.to_string_lossy())))
}

/// `hull build -`: a tar (plain or compressed) is the context; anything else is a Dockerfile,
/// built with an empty context, as Docker's CLI does.
fn load_stdin(file: Option<&str>) -> Result<(Context, String, String)> {
    let mut stdin = std::io::stdin().lock();
    let mut prefix = Vec::with_capacity(512);
    (&mut stdin)
        .take(512)
        .read_to_end(&mut prefix)
        .context("build: read stdin")?;
    if !hull_build::context::looks_like_archive(&prefix) {
        let mut rest = Vec::new();
        stdin
            .read_to_end(&mut rest)
            .context("build: read the Dockerfile from stdin")?;
        prefix.extend(rest);
        let text = String::from_utf8(prefix)
            .map_err(|_| anyhow::anyhow!("build: the Dockerfile on stdin is not UTF-8 text"))?;
        let context = Context::empty().context("build: make an empty context")?;
        return Ok((context, text, "Dockerfile".into()));
    }
    let context = Context::from_tar(std::io::Cursor::new(prefix).chain(stdin))
        .context("build: read the context tar from stdin")?;
    let rel = file.unwrap_or("Dockerfile");
    let path = context.root().join(rel.trim_start_matches('/'));
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("build: read {rel} in the context"))?;
    Ok((context, text, file_name(rel)))
}

/// `-f -`: the Dockerfile's text from stdin.
fn read_stdin_text() -> Result<String> {
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .context("build: read the Dockerfile from stdin (-f -)")?;
    Ok(text)
}

fn file_name(path: &str) -> String {
    Path::new(path)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.to_string())
}
