//! `hull commit`'s, `hull import`'s and `hull history`'s arguments (argv to plain data, as
//! `cli`): images made from containers and tars, and how an image was made.

use clap::{ArgAction, Args};

#[derive(Debug, Args)]
pub struct CommitArgs {
    /// Author (e.g. "Jane Doe <jane@example.com>")
    #[arg(short, long)]
    pub author: Option<String>,
    /// Commit message
    #[arg(short, long)]
    pub message: Option<String>,
    /// Apply a Dockerfile instruction (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, USER,
    /// VOLUME, WORKDIR, STOPSIGNAL) to the image's config; repeatable
    #[arg(short, long = "change")]
    pub changes: Vec<String>,
    /// Pause the container while its layer is written (--pause=false to not)
    #[arg(short, long, default_value_t = true, action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub pause: bool,
    /// The container
    pub container: String,
    /// REPOSITORY[:TAG] for the new image (untagged when left out)
    pub repository: Option<String>,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Apply a Dockerfile instruction to the image's config; repeatable
    #[arg(short, long = "change")]
    pub changes: Vec<String>,
    /// Commit message for the imported image
    #[arg(short, long)]
    pub message: Option<String>,
    /// Record this platform (os/arch[/variant]) instead of the host's
    #[arg(long)]
    pub platform: Option<String>,
    /// The root filesystem tar: a file, an http(s) URL, or - for stdin (plain, gzip or zstd)
    pub source: String,
    /// REPOSITORY[:TAG] for the new image
    pub repository: Option<String>,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Don't truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Only show image IDs
    #[arg(short, long)]
    pub quiet: bool,
    /// Print sizes and dates in human readable format (--human=false for raw ones)
    #[arg(short = 'H', long, default_value_t = true, action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub human: bool,
    /// Format the output with a Go template (`{{.ID}}`, `{{.CreatedBy}}`, …), `table …` or `json`
    #[arg(long)]
    pub format: Option<String>,
    /// The image
    pub image: String,
}
