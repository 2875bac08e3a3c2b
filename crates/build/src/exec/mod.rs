//! The build executor, classic-builder style: one intermediate image per step.
//!
//! Each stage the target needs (the target, every stage it names in `FROM` or
//! `COPY --from` or `RUN --mount=…,from=`, transitively) runs in file order. A step starts from the previous step's
//! image: config-only instructions write a new config over the same layers (history
//! `empty_layer`), RUN runs a container (`hull-build-<pid>-<n>`, always removed) and commits
//! its upper dir ([`Engine::commit_build`]), COPY/ADD write a layer tar ([`copy`]).
//! Intermediate images stay untagged (dangling), as Docker's classic builder leaves them.
//! WORKDIR only sets the config: the directory appears in the next RUN (the runtime creates
//! the working directory) or COPY (missing parents are written into the layer).

mod cache;
mod cache_records;
mod config;
mod copy;
mod fetch;
mod finish;
mod interrupts;
mod mounts;
mod onbuild;
pub mod output;
mod parallel;
pub mod platform;
pub mod progress;
mod run;
mod run_output;

pub use finish::Format;
pub use interrupts::{catch_interrupts, interrupted};
pub use mounts::{parse_secret, SecretSource};

use std::collections::{BTreeMap, BTreeSet};

use hull_engine::Engine;
use hull_image::store::LayerRef;
use hull_image::Reference;
use hull_oci::image::{ImageConfig, RootFs};
use hull_oci::Digest;

use crate::context::Context;
use crate::dockerfile::{subst, Dockerfile, Instruction, Stage};
pub use cache_records::{cache_records, prune_cache, CacheKind, CacheRecord, PrunedCache};
pub use progress::{Progress, Quiet, RunMode, Stdout};

/// Why a build failed: one line, naming the step and the cause.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct BuildError {
    pub message: String,
    /// A failing RUN's exit code (Docker's clients exit with it).
    pub code: Option<i32>,
}

pub(crate) fn fail(msg: impl Into<String>) -> BuildError {
    BuildError {
        message: msg.into(),
        code: None,
    }
}

/// An error and its causes on one line (`a: b: c`), as the CLI prints its own errors: the
/// engine's errors keep the cause (the runtime's failed step) in `source()`.
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let text = c.to_string();
        if !out.ends_with(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cur = c.source();
    }
    out
}

#[cfg(test)]
mod chain_tests {
    #[derive(Debug, thiserror::Error)]
    #[error("runtime create")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn the_causes_follow_the_error() {
        let e = Outer(std::io::Error::other("chdir /out: no such file"));
        assert_eq!(super::chain(&e), "runtime create: chdir /out: no such file");
    }
}

/// What `hull build` was asked for.
pub struct BuildOptions {
    /// The Dockerfile's text, for the `Step N/M : …` lines.
    pub text: String,
    pub target: Option<String>,
    /// `--build-arg K=V` (a bare `K` already looked up in the environment by the caller).
    pub build_args: BTreeMap<String, String>,
    /// `--network` for RUN containers.
    pub network: Option<String>,
    pub quiet: bool,
    /// `--no-cache`: run every step.
    pub no_cache: bool,
    /// `--pull`: pull every image a step names (FROM, COPY --from) once, even one the store has.
    pub pull: bool,
    pub tags: Vec<Reference>,
    /// `--label K=V`: set on the final image.
    pub labels: BTreeMap<String, String>,
    /// `--format`.
    pub format: Format,
    /// TLS trust and retries for ADD of a URL (the registry client's rules).
    pub registry: hull_image::registry::RegistryConfig,
    /// `--secret`: id → where its value is read from (at the RUN that mounts it).
    pub secrets: BTreeMap<String, SecretSource>,
}

/// Pulls an image the store lacks (the caller knows the registry settings).
pub type Pull<'a> = &'a (dyn Fn(&Engine, &str) -> Result<(), String> + Sync);

/// The image a step starts from: ID (None for `scratch` before any step), layers, config.
#[derive(Clone)]
pub(crate) struct Current {
    pub id: Option<Digest>,
    pub layers: Vec<LayerRef>,
    pub config: ImageConfig,
}

pub(crate) struct Builder<'a> {
    pub engine: &'a Engine,
    pub context: &'a Context,
    pub opts: &'a BuildOptions,
    pub escape: char,
    pub pull: Pull<'a>,
    /// Where every line and every RUN's output goes.
    pub progress: &'a dyn Progress,
    /// Build args consumed by some ARG (for Docker's warning about the rest).
    pub used_args: BTreeSet<String>,
    /// RUN containers made so far by every stage (their names count with it).
    pub containers: &'a std::sync::atomic::AtomicUsize,
    pub step: usize,
    pub steps: usize,
    /// Finished stages by index.
    pub done: BTreeMap<usize, Current>,
    /// ADD's URLs, fetched once per build.
    pub(crate) downloads: fetch::Downloads,
    /// Images pulled in this build (`--pull` pulls each once).
    pub pulled: std::cell::RefCell<BTreeSet<String>>,
    /// The ONBUILD trigger that runs now (its text stands for the Dockerfile's line).
    pub trigger_text: Option<String>,
}

/// Runs the build; returns the final image's ID (tagged per `opts.tags`). Everything it says,
/// and each RUN's output, goes to `progress`.
pub fn build(
    engine: &Engine,
    context: &Context,
    file: &Dockerfile,
    opts: &BuildOptions,
    pull: Pull<'_>,
    progress: &dyn Progress,
) -> Result<Digest, BuildError> {
    let target = target_index(file, opts.target.as_deref())?;
    let deps = stage_deps(file, target);
    let steps = deps
        .keys()
        .map(|&i| 1 + file.stages[i].instructions.len())
        .sum();
    let containers = std::sync::atomic::AtomicUsize::new(0);
    run::sweep_orphans(engine);
    if let (Some(s), false) = (&file.directives.syntax, opts.quiet) {
        progress.line(&format!(
            "Note: # syntax={s} is ignored: hull reads the Dockerfile with its own parser"
        ));
    }
    let mut b = Builder::new(engine, context, opts, pull, progress, &containers);
    b.escape = file.directives.escape;
    b.steps = steps;
    let globals = b.global_args(file)?;
    b.run_stages(file, &deps, &globals)?;
    let mut last = b
        .done
        .remove(&target)
        .ok_or_else(|| fail("no stage built"))?;
    finish::add_labels(&mut last, &opts.labels);
    let layers = finish::in_format(&last.layers, opts.format)?;
    let id = engine
        .images
        .add_local_image(&last.config, layers, &opts.tags)
        .map_err(|e| fail(format!("store the image: {e}")))?;
    let unused: Vec<&String> = opts
        .build_args
        .keys()
        .filter(|k| !b.used_args.contains(*k) && !run::PROXY_ARGS.contains(&k.as_str()))
        .collect();
    if !unused.is_empty() {
        let names: Vec<&str> = unused.iter().map(|s| s.as_str()).collect();
        progress.warning(&format!(
            "[Warning] One or more build-args [{}] were not consumed",
            names.join(" ")
        ));
    }
    if !opts.quiet {
        progress.line(&format!("Successfully built {}", &id.hex()[..12]));
        for t in &opts.tags {
            progress.line(&format!("Successfully tagged {}", t.familiar()));
        }
    }
    Ok(id)
}

fn target_index(file: &Dockerfile, target: Option<&str>) -> Result<usize, BuildError> {
    match target {
        None => Ok(file.stages.len() - 1),
        Some(t) => stage_by_name(file, t)
            .ok_or_else(|| fail(format!("target stage {t:?} could not be found"))),
    }
}

/// A stage named `name` (case-insensitive) or numbered `name`.
pub(crate) fn stage_by_name(file: &Dockerfile, name: &str) -> Option<usize> {
    let lower = name.to_lowercase();
    if let Some(i) = file
        .stages
        .iter()
        .position(|s| s.name.as_deref() == Some(lower.as_str()))
    {
        return Some(i);
    }
    name.parse::<usize>()
        .ok()
        .filter(|&i| i < file.stages.len())
}

/// The stages `target` needs (itself included), each with the earlier stages it names.
fn stage_deps(file: &Dockerfile, target: usize) -> parallel::Deps {
    let mut need = parallel::Deps::new();
    let mut todo = vec![target];
    while let Some(i) = todo.pop() {
        if need.contains_key(&i) {
            continue;
        }
        let stage = &file.stages[i];
        let mut refs: Vec<&str> = vec![stage.base.as_str()];
        for ins in &stage.instructions {
            match &ins.value {
                Instruction::Copy(c) | Instruction::Add(c) => refs.extend(c.flags.from.as_deref()),
                // RUN --mount=…,from=STAGE (a stage name is never a variable).
                Instruction::Run(r) => refs.extend(
                    r.flags
                        .mounts
                        .iter()
                        .flat_map(|m| m.split(','))
                        .filter_map(|f| f.strip_prefix("from=")),
                ),
                _ => {}
            }
        }
        let deps: BTreeSet<usize> = refs
            .into_iter()
            .filter_map(|r| stage_by_name(file, r).filter(|&j| j < i))
            .collect();
        todo.extend(deps.iter().copied());
        need.insert(i, deps);
    }
    need
}

impl<'a> Builder<'a> {
    /// A builder at the start of a build: no step run, no stage built.
    fn new(
        engine: &'a Engine,
        context: &'a Context,
        opts: &'a BuildOptions,
        pull: Pull<'a>,
        progress: &'a dyn Progress,
        containers: &'a std::sync::atomic::AtomicUsize,
    ) -> Builder<'a> {
        Builder {
            engine,
            context,
            opts,
            escape: '\\',
            pull,
            progress,
            used_args: BTreeSet::new(),
            containers,
            step: 0,
            steps: 0,
            done: BTreeMap::new(),
            pulled: Default::default(),
            downloads: Default::default(),
            trigger_text: None,
        }
    }

    /// A builder for one stage on another thread: the same build, its own sink, its `Step`
    /// numbers from `step` on, and the stages built so far.
    pub(crate) fn sub_builder<'b>(&self, progress: &'b dyn Progress, step: usize) -> Builder<'b>
    where
        'a: 'b,
    {
        Builder {
            escape: self.escape,
            step,
            steps: self.steps,
            done: self.done.clone(),
            ..Builder::new(
                self.engine,
                self.context,
                self.opts,
                self.pull,
                progress,
                self.containers,
            )
        }
    }

    /// The global ARGs' values (defaults expanded, `--build-arg` wins).
    fn global_args(&mut self, file: &Dockerfile) -> Result<BTreeMap<String, String>, BuildError> {
        let mut out = platform::automatic_args();
        for a in &file.global_args {
            let value = match self.opts.build_args.get(&a.value.name) {
                Some(v) => Some(v.clone()),
                None => match &a.value.default {
                    Some(d) => Some(self.expand(d, &|k| out.get(k).cloned(), a.line)?),
                    None => None,
                },
            };
            if self.opts.build_args.contains_key(&a.value.name) {
                self.used_args.insert(a.value.name.clone());
            }
            if let Some(v) = value {
                out.insert(a.value.name.clone(), v);
            }
        }
        Ok(out)
    }

    pub(crate) fn expand(
        &self,
        word: &str,
        lookup: &dyn Fn(&str) -> Option<String>,
        line: usize,
    ) -> Result<String, BuildError> {
        subst::expand(word, self.escape, lookup)
            .map_err(|e| fail(format!("Dockerfile:{line}: {e}")))
    }

    pub(crate) fn announce(&mut self, line: usize) {
        self.step += 1;
        if self.opts.quiet {
            return;
        }
        let said = format!(
            "Step {}/{} : {}",
            self.step,
            self.steps,
            self.source_line(line)
        );
        self.progress.line(&said);
    }

    pub(crate) fn show_id(&self, id: &Digest) {
        if !self.opts.quiet {
            self.progress.line(&format!(" ---> {}", &id.hex()[..12]));
        }
    }

    fn stage(
        &mut self,
        file: &Dockerfile,
        index: usize,
        globals: &BTreeMap<String, String>,
    ) -> Result<Current, BuildError> {
        let stage = &file.stages[index];
        self.announce(stage.line);
        let mut cur = self.from(file, stage, index, globals)?;
        if let Some(id) = &cur.id {
            self.show_id(id);
        }
        cur = self.fire_triggers(file, cur, stage.line)?;
        let mut args: BTreeMap<String, String> = BTreeMap::new();
        for ins in &stage.instructions {
            self.announce(ins.line);
            if let Instruction::Arg(decls) = &ins.value {
                for d in decls {
                    self.declare_arg(&cur, d, ins.line, &mut args, globals)?;
                }
            }
            cur = self.cached_step(file, cur, &ins.value, ins.line, &args)?;
        }
        Ok(cur)
    }

    /// One step: from the cache when its key is there, else run (and remember it).
    pub(crate) fn cached_step(
        &mut self,
        file: &Dockerfile,
        cur: Current,
        ins: &Instruction,
        line: usize,
        args: &BTreeMap<String, String>,
    ) -> Result<Current, BuildError> {
        if self.progress.gone() || interrupts::interrupted() {
            return Err(fail(format!("build interrupted before Dockerfile:{line}")));
        }
        let key = self.cache_key(file, &cur, ins, line, args)?;
        let cur = match key.as_deref().and_then(|k| self.cache_get(k)) {
            Some(hit) => {
                if !self.opts.quiet {
                    self.progress.line(" ---> Using cache");
                }
                hit
            }
            None => {
                let cur = self.step(file, cur, ins, line, args)?;
                if let (Some(k), Some(id)) = (&key, &cur.id) {
                    self.cache_put(k, id);
                }
                cur
            }
        };
        if let Some(id) = &cur.id {
            self.show_id(id);
        }
        Ok(cur)
    }

    /// Each layer's directory of `img`, lowest first (where its files are on the host).
    pub(crate) fn layer_dirs(&self, img: &Current) -> Vec<std::path::PathBuf> {
        img.layers
            .iter()
            .map(|l| self.engine.images.layers.diff_dir(&l.diff_id))
            .collect()
    }

    /// The Dockerfile's line as written (an ONBUILD trigger's text while it runs): what
    /// `Step N/M` and the history's `created_by` show.
    pub(crate) fn source_line(&self, line: usize) -> String {
        if let Some(t) = &self.trigger_text {
            return t.clone();
        }
        self.opts
            .text
            .lines()
            .nth(line.saturating_sub(1))
            .unwrap_or_default()
            .trim()
            .to_string()
    }

    fn from(
        &mut self,
        file: &Dockerfile,
        stage: &Stage,
        index: usize,
        globals: &BTreeMap<String, String>,
    ) -> Result<Current, BuildError> {
        let base = self.expand(&stage.base, &|k| globals.get(k).cloned(), stage.line)?;
        if let Some(p) = &stage.platform {
            let p = self.expand(p, &|k| globals.get(k).cloned(), stage.line)?;
            platform::check(&p, &format!("FROM --platform (Dockerfile:{})", stage.line))?;
        }
        if let Some(j) = stage_by_name(file, &base).filter(|&j| j < index) {
            return self
                .done
                .get(&j)
                .cloned()
                .ok_or_else(|| fail(format!("stage {base:?} was not built")));
        }
        if base == "scratch" {
            return Ok(scratch());
        }
        self.image(&base, stage.line)
    }

    /// An image by name, pulled when missing.
    pub(crate) fn image(&self, name: &str, line: usize) -> Result<Current, BuildError> {
        let images = &self.engine.images;
        let pulled = self.pulled.borrow().contains(name);
        if (self.opts.pull && !pulled) || images.resolve(name).is_err() {
            (self.pull)(self.engine, name)
                .map_err(|e| fail(format!("FROM {name} (Dockerfile:{line}): {e}")))?;
            self.pulled.borrow_mut().insert(name.to_string());
        }
        let record = images
            .resolve(name)
            .map_err(|e| fail(format!("FROM {name} (Dockerfile:{line}): {e}")))?;
        let config = images
            .config(&record.id)
            .map_err(|e| fail(format!("read the config of {name}: {e}")))?;
        Ok(Current {
            id: Some(record.id),
            layers: record.layers,
            config,
        })
    }

    fn step(
        &mut self,
        file: &Dockerfile,
        cur: Current,
        ins: &Instruction,
        line: usize,
        args: &BTreeMap<String, String>,
    ) -> Result<Current, BuildError> {
        match ins {
            Instruction::Run(r) => self.run(file, cur, r, line, args),
            Instruction::Copy(c) | Instruction::Add(c) => {
                self.copy(file, cur, c, ins.keyword(), line, args)
            }
            Instruction::Arg(_) => self.config_only(cur, line, |_| Ok(())),
            other => {
                let lookup = lookup_fn(&cur, args);
                let other = other.clone();
                let escape = self.escape;
                self.config_only(cur, line, |c| {
                    config::apply(c, &other, escape, &lookup, line)
                })
            }
        }
    }

    fn declare_arg(
        &mut self,
        cur: &Current,
        d: &crate::dockerfile::ArgDecl,
        line: usize,
        args: &mut BTreeMap<String, String>,
        globals: &BTreeMap<String, String>,
    ) -> Result<(), BuildError> {
        let value = if let Some(v) = self.opts.build_args.get(&d.name) {
            self.used_args.insert(d.name.clone());
            Some(v.clone())
        } else if let Some(def) = &d.default {
            let lookup = lookup_fn(cur, args);
            Some(self.expand(def, &lookup, line)?)
        } else {
            globals.get(&d.name).cloned()
        };
        if let Some(v) = value {
            args.insert(d.name.clone(), v);
        }
        Ok(())
    }

    /// A new image with the same layers and a config changed by `change`.
    fn config_only(
        &mut self,
        mut cur: Current,
        line: usize,
        change: impl FnOnce(&mut ImageConfig) -> Result<(), BuildError>,
    ) -> Result<Current, BuildError> {
        change(&mut cur.config)?;
        let text = self.source_line(line);
        cur.config.history.push(hull_oci::image::History {
            created: Some(now()),
            created_by: Some(format!("/bin/sh -c #(nop)  {text}")),
            author: None,
            comment: None,
            empty_layer: Some(true),
        });
        let id = self
            .engine
            .images
            .add_local_image(&cur.config, cur.layers.clone(), &[])
            .map_err(|e| fail(format!("store the image of Dockerfile:{line}: {e}")))?;
        cur.id = Some(id);
        Ok(cur)
    }
}

/// Variables for substitution: the image's ENV, then the stage's ARGs.
pub(crate) fn lookup_fn(
    cur: &Current,
    args: &BTreeMap<String, String>,
) -> impl Fn(&str) -> Option<String> {
    let mut vars = args.clone();
    for e in cur
        .config
        .config
        .iter()
        .flat_map(|c| c.env.iter().flatten())
    {
        if let Some((k, v)) = e.split_once('=') {
            vars.insert(k.to_string(), v.to_string());
        }
    }
    move |k: &str| vars.get(k).cloned()
}

fn scratch() -> Current {
    Current {
        id: None,
        layers: Vec::new(),
        config: ImageConfig {
            created: None,
            author: None,
            architecture: hull_image::platform::PlatformSpec::host()
                .architecture
                .clone(),
            os: "linux".into(),
            variant: None,
            config: Some(Default::default()),
            rootfs: RootFs {
                kind: "layers".into(),
                diff_ids: Vec::new(),
            },
            history: Vec::new(),
            extra: BTreeMap::new(),
        },
    }
}

pub(crate) fn now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    hull_image::time::format_rfc3339(secs, 0)
}
