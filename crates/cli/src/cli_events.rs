//! `hull events`'s and `hull diff`'s arguments (argv to plain data, as `cli`): what a container
//! did, as a journal of events and as changes to its files.

use clap::Args;

#[derive(Debug, Args)]
pub struct EventsArgs {
    /// Show events created since this time (RFC 3339, Unix seconds, or a duration ago: 10m)
    #[arg(long)]
    pub since: Option<String>,
    /// Stream events until this time (RFC 3339, Unix seconds, or a duration ago: 10m)
    #[arg(long)]
    pub until: Option<String>,
    /// Filter output (type=, event=, container=, image=, network=, volume=, label=); repeatable
    #[arg(short, long = "filter")]
    pub filters: Vec<String>,
    /// Format the output with a Go template (`{{.Action}}`, `{{.Actor.ID}}`, …) or `json`
    #[arg(long)]
    pub format: Option<String>,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The container
    pub container: String,
}
