//! `hull system`'s arguments, and those of `hull version`, `hull info` and `hull completion`
//! (argv to plain data, as `cli`).

use clap::{Args, Subcommand, ValueEnum};

#[derive(Debug, Subcommand)]
pub enum SystemCommand {
    /// Reconcile the containers that died with the machine and start those whose restart
    /// policy brings them back (run once at boot)
    Boot,
    /// Remove stopped containers, unused networks and dangling images
    Prune(SystemPruneArgs),
    /// Show disk usage: images, containers, local volumes and build cache
    Df(SystemDfArgs),
    /// Display system-wide information (as `hull info`)
    Info(FormatArgs),
    /// Serve the Docker Engine API on a socket, for the docker CLI, Compose and the SDKs
    Service(ServiceArgs),
}

#[derive(Debug, Args)]
pub struct ServiceArgs {
    /// Exit after this many seconds without a connection (0: never)
    #[arg(short, long, default_value_t = 5)]
    pub time: u64,
    /// Where to listen: unix:///path (default unix:///run/hull/hull.sock) or tcp://127.0.0.1:PORT
    pub uri: Option<String>,
}

#[derive(Debug, Args)]
pub struct SystemDfArgs {
    /// Show every image, container and volume with its space usage
    #[arg(short, long)]
    pub verbose: bool,
    /// Format the output with a Go template ({{.Type}}, {{.TotalCount}}, {{.Active}},
    /// {{.Size}}, {{.Reclaimable}}) or `json`
    #[arg(long)]
    pub format: Option<String>,
}

#[derive(Debug, Args)]
pub struct SystemPruneArgs {
    /// Remove all images no container uses, not just dangling ones
    #[arg(short, long)]
    pub all: bool,
    /// Do not prompt for confirmation (hull never prompts)
    #[arg(short, long)]
    pub force: bool,
    /// Prune anonymous volumes too
    #[arg(long)]
    pub volumes: bool,
}

#[derive(Debug, Args)]
pub struct FormatArgs {
    /// Format the output with a Go template (`{{.Version}}`, `{{.KernelVersion}}`, …) or `json`
    #[arg(short, long)]
    pub format: Option<String>,
}

#[derive(Debug, Args)]
pub struct CompletionArgs {
    /// The shell to complete in
    pub shell: CompletionShell,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum CompletionShell {
    Bash,
    Zsh,
    Fish,
}
