//! `hull build`'s arguments (argv to plain data, as `cli`).

use clap::Args;

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// Name and optionally a tag (NAME[:TAG]); repeatable
    #[arg(short, long = "tag")]
    pub tags: Vec<String>,
    /// Name of the Dockerfile (default: CONTEXT/Dockerfile; - reads it from stdin)
    #[arg(short, long)]
    pub file: Option<String>,
    /// Build this stage (and the stages it needs) instead of the last one
    #[arg(long)]
    pub target: Option<String>,
    /// Set a build-time variable: KEY=VALUE, or KEY to take it from the environment
    #[arg(long = "build-arg")]
    pub build_args: Vec<String>,
    /// Do not use the step cache: run every step
    #[arg(long)]
    pub no_cache: bool,
    /// Print only the image ID
    #[arg(short, long)]
    pub quiet: bool,
    /// Write the image ID to this file
    #[arg(long)]
    pub iidfile: Option<String>,
    /// Network of the RUN containers: default, none or host
    #[arg(long)]
    pub network: Option<String>,
    /// Set a label on the image: KEY=VALUE; repeatable
    #[arg(long = "label")]
    pub labels: Vec<String>,
    /// Pull every FROM image, even one the store already holds
    #[arg(long)]
    pub pull: bool,
    /// The image's manifest format: oci (default) or docker
    #[arg(long)]
    pub format: Option<String>,
    /// Build for this platform (only the host's: hull does not emulate)
    #[arg(long)]
    pub platform: Option<String>,
    /// Also write the image's files out: type=local,dest=DIR (or just DIR) or type=tar,dest=FILE
    #[arg(short, long)]
    pub output: Option<String>,
    /// A secret for RUN --mount=type=secret: id=ID,src=PATH or id=ID,env=VAR; repeatable
    #[arg(long = "secret")]
    pub secrets: Vec<String>,
    /// Progress output: auto (tty on a terminal, else plain), plain, or tty (a live window of
    /// each running step's output)
    #[arg(long, default_value = "auto")]
    pub progress: String,
    /// The build context: a directory, or - for a tar (or a lone Dockerfile) on stdin
    pub context: String,
}

/// `hull builder …`: the build cache.
#[derive(Debug, clap::Subcommand)]
pub enum BuilderCommand {
    /// Remove the build step cache (the images it named stay; `hull image prune` removes the
    /// dangling ones)
    Prune(BuilderPruneArgs),
}

#[derive(Debug, Args)]
pub struct BuilderPruneArgs {
    /// Do not prompt for confirmation (hull never prompts)
    #[arg(short, long)]
    pub force: bool,
}
