//! Step one of parsing: argv to plain data, no syscalls.

use std::path::PathBuf;

pub use crate::cli_network::{
    NetworkCommand, NetworkConnectArgs, NetworkCreateArgs, NetworkDisconnectArgs, NetworkLsArgs,
    NetworkNamesArgs, NetworkPruneArgs,
};
pub use crate::cli_system::{SystemCommand, SystemDfArgs, SystemPruneArgs};
use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "hull",
    version,
    about = "A daemonless, Docker-compatible container engine",
    disable_help_subcommand = true
)]
pub struct Cli {
    /// Store root (default /var/lib/hull)
    #[arg(long, global = true, env = "HULL_ROOT", value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Config file with registry settings (default /etc/hull/config.json)
    #[arg(long, global = true, env = "HULL_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Download an image from a registry
    Pull(PullArgs),
    /// Upload an image to a registry
    Push(PushArgs),
    /// List images
    Images(ImagesArgs),
    /// Create a tag TARGET that refers to SOURCE
    Tag(TagArgs),
    /// Remove one or more images
    Rmi(RmiArgs),
    /// Load an image from a docker-archive or oci-archive tar (optionally gzip-compressed)
    Load(LoadArgs),
    /// Save one or more images to a docker-archive tar
    Save(SaveArgs),
    /// Build an image from a Dockerfile
    Build(crate::cli_build::BuildArgs),
    /// Manage the build cache
    #[command(subcommand)]
    Builder(crate::cli_build::BuilderCommand),
    /// Create a new image from a container's changes
    Commit(crate::cli_commit::CommitArgs),
    /// Import the contents from a tarball to create a filesystem image
    Import(crate::cli_commit::ImportArgs),
    /// Show the history of an image
    History(crate::cli_commit::HistoryArgs),
    /// Log in to a registry
    Login(LoginArgs),
    /// Log out from a registry
    Logout(LogoutArgs),
    /// Manage images
    #[command(subcommand)]
    Image(ImageCommand),
    /// Create and run a new container from an image
    Run(Box<RunArgs>),
    /// List containers
    Ps(PsArgs),
    /// Remove one or more containers
    Rm(RmArgs),
    /// Start a stopped container (in the background; attached with -a)
    Start(StartArgs),
    /// Attach the terminal to a running container's input and output
    Attach(AttachArgs),
    /// Fetch the logs of a container
    Logs(LogsArgs),
    /// Stop one or more running containers
    Stop(StopArgs),
    /// Kill one or more running containers
    Kill(KillArgs),
    /// Block until one or more containers stop, then print their exit codes
    Wait(ContainersArgs),
    /// Display detailed information on one or more containers
    Inspect(ContainerInspectArgs),
    /// Run a command in a running container
    Exec(ExecArgs),
    /// Copy files/folders between a container and the local filesystem
    Cp(CpArgs),
    /// Export a container's filesystem as a tar archive
    Export(ExportArgs),
    /// Display the running processes of a container
    Top(TopArgs),
    /// Inspect changes to files or directories on a container's filesystem
    Diff(crate::cli_events::DiffArgs),
    /// Display a live stream of container(s) resource usage statistics
    Stats(StatsArgs),
    /// Create a new container without starting it
    Create(Box<RunArgs>),
    /// Rename a container
    Rename(RenameArgs),
    /// Update the resource limits or restart policy of one or more containers
    Update(UpdateArgs),
    /// Pause all processes within one or more containers
    Pause(ContainersArgs),
    /// Unpause all processes within one or more containers
    Unpause(ContainersArgs),
    /// Restart one or more containers (detached)
    Restart(StopArgs),
    /// Manage containers
    #[command(subcommand)]
    Container(ContainerCommand),
    /// List port mappings or a specific mapping for the container
    Port(PortArgs),
    /// The monitor of a detached container (started by `hull run -d`)
    #[command(name = "__monitor", hide = true)]
    Monitor(MonitorArgs),
    /// Manage networks
    #[command(subcommand)]
    Network(NetworkCommand),
    /// Manage volumes
    #[command(subcommand)]
    Volume(crate::cli_volume::VolumeCommand),
    /// Manage hull
    #[command(subcommand)]
    System(SystemCommand),
    /// Get real time events from the store's journal
    Events(crate::cli_events::EventsArgs),
    /// Show the hull version information
    Version(crate::cli_system::FormatArgs),
    /// Display system-wide information
    Info(crate::cli_system::FormatArgs),
    /// Print a shell completion script (bash, zsh or fish)
    Completion(crate::cli_system::CompletionArgs),
}

#[derive(Debug, Args)]
pub struct PortArgs {
    pub container: String,
    /// PRIVATE_PORT[/PROTO]
    pub port: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum ContainerCommand {
    /// Remove all stopped containers
    Prune(ContainerPruneArgs),
}

#[derive(Debug, Args)]
pub struct ContainerPruneArgs {
    /// Do not prompt for confirmation (hull never prompts)
    #[arg(short, long)]
    pub force: bool,
}

/// `hull update`: what is not given keeps its value.
#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// Memory limit (e.g. 64m)
    #[arg(short = 'm', long)]
    pub memory: Option<String>,
    /// Memory plus swap (-1: unlimited swap)
    #[arg(long = "memory-swap", allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// Number of CPUs (e.g. 1.5)
    #[arg(long)]
    pub cpus: Option<String>,
    /// CPU shares (relative weight)
    #[arg(short = 'c', long = "cpu-shares")]
    pub cpu_shares: Option<u64>,
    /// CPUs in which to allow execution (0-3, 0,1)
    #[arg(long = "cpuset-cpus")]
    pub cpuset_cpus: Option<String>,
    /// Tune container pids limit (-1 for unlimited)
    #[arg(long = "pids-limit", allow_negative_numbers = true)]
    pub pids_limit: Option<i64>,
    /// Restart policy to apply when a container exits
    #[arg(long)]
    pub restart: Option<String>,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RenameArgs {
    pub container: String,
    pub new_name: String,
}

#[derive(Debug, Subcommand)]
pub enum ImageCommand {
    /// List images
    #[command(alias = "list")]
    Ls(ImagesArgs),
    /// Download an image from a registry
    Pull(PullArgs),
    /// Upload an image to a registry
    Push(PushArgs),
    /// Display detailed information on one or more images
    Inspect(InspectArgs),
    /// Create a tag TARGET that refers to SOURCE
    Tag(TagArgs),
    /// Remove one or more images
    #[command(alias = "remove")]
    Rm(RmiArgs),
    /// Remove unused images
    Prune(PruneArgs),
    /// Load an image from a tar archive
    Load(LoadArgs),
    /// Save images to a docker-archive tar
    Save(SaveArgs),
    /// Import the contents from a tarball to create a filesystem image
    Import(crate::cli_commit::ImportArgs),
    /// Show the history of an image
    History(crate::cli_commit::HistoryArgs),
    /// Mount an image's filesystem read-only and print the mount point
    Mount(ImageRefArgs),
    /// Unmount an image mounted with `hull image mount`
    #[command(alias = "umount")]
    Unmount(ImageRefArgs),
}

#[derive(Debug, Args)]
pub struct PullArgs {
    /// Pull for this platform (os/arch[/variant]) instead of the host's
    #[arg(long)]
    pub platform: Option<String>,
    /// Print only the image reference
    #[arg(short, long)]
    pub quiet: bool,
    /// Directory of per-registry CA certificates (<dir>/<host:port>/ca.crt)
    #[arg(long, value_name = "DIR")]
    pub cert_dir: Option<PathBuf>,
    /// Image reference, e.g. busybox, localhost:5000/app:v1, repo@sha256:…
    pub image: String,
}

#[derive(Debug, Args)]
pub struct PushArgs {
    /// Push every local tag of the repository
    #[arg(short, long)]
    pub all_tags: bool,
    /// Print only the pushed reference
    #[arg(short, long)]
    pub quiet: bool,
    /// How to compress layers hull made (commit, import, load of an uncompressed archive)
    #[arg(long, value_enum, default_value = "gzip")]
    pub compression_format: CompressionFormat,
    /// Directory of per-registry CA certificates (<dir>/<host:port>/ca.crt)
    #[arg(long, value_name = "DIR")]
    pub cert_dir: Option<PathBuf>,
    /// Image reference, e.g. localhost:5000/app:v1 (a repository alone with --all-tags)
    pub image: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CompressionFormat {
    Gzip,
    Zstd,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
}

#[derive(Debug, Args)]
pub struct ImagesArgs {
    /// Show all images (accepted for compatibility; hull has no intermediate images)
    #[arg(short, long)]
    pub all: bool,
    /// Only show image IDs
    #[arg(short, long)]
    pub quiet: bool,
    /// Show digests
    #[arg(long)]
    pub digests: bool,
    /// Don't truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Output format: table, json, or a template such as '{{.Repository}}:{{.Tag}}'
    #[arg(long)]
    pub format: Option<String>,
    /// Only list images of this repository[:tag]
    pub reference: Option<String>,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Format the output using a template such as '{{.Id}}' or 'json'
    #[arg(short, long)]
    pub format: Option<String>,
    #[arg(required = true)]
    pub images: Vec<String>,
}

#[derive(Debug, Args)]
pub struct TagArgs {
    pub source: String,
    pub target: String,
}

#[derive(Debug, Args)]
pub struct RmiArgs {
    /// Force removal of an image referenced by several repositories
    #[arg(short, long)]
    pub force: bool,
    #[arg(required = true)]
    pub images: Vec<String>,
}

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Remove all images without a container, not just dangling ones
    #[arg(short, long)]
    pub all: bool,
    /// Do not prompt for confirmation (hull never prompts)
    #[arg(short, long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct LoadArgs {
    /// Read from this tar archive instead of stdin
    #[arg(short, long, value_name = "FILE")]
    pub input: Option<PathBuf>,
    /// Suppress the load output
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct SaveArgs {
    /// Write to this file instead of stdout
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    #[arg(required = true)]
    pub images: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ImageRefArgs {
    pub image: String,
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    #[arg(short, long)]
    pub username: Option<String>,
    #[arg(short, long)]
    pub password: Option<String>,
    /// Take the password from stdin
    #[arg(long)]
    pub password_stdin: bool,
    /// Directory of per-registry CA certificates (<dir>/<host:port>/ca.crt)
    #[arg(long, value_name = "DIR")]
    pub cert_dir: Option<PathBuf>,
    /// Registry server (default docker.io)
    pub server: Option<String>,
}

#[derive(Debug, Args)]
pub struct LogoutArgs {
    pub server: Option<String>,
}

/// `hull run`: Docker's flags, collected as plain strings; validation is the engine's.
#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub struct RunArgs {
    /// Print help
    #[arg(long, action = clap::ArgAction::Help)]
    pub help: Option<bool>,
    /// Run in the background and print the container ID
    #[arg(short, long)]
    pub detach: bool,
    /// Keep STDIN open
    #[arg(short, long)]
    pub interactive: bool,
    /// Allocate a pseudo-TTY
    #[arg(short, long)]
    pub tty: bool,
    /// Remove the container when it exits
    #[arg(long)]
    pub rm: bool,
    /// Assign a name to the container
    #[arg(long)]
    pub name: Option<String>,
    /// Set environment variables (K=V, or K to take the host's value)
    #[arg(short, long = "env", value_name = "K=V")]
    pub env: Vec<String>,
    /// Read environment variables from a file
    #[arg(long, value_name = "FILE")]
    pub env_file: Vec<PathBuf>,
    /// Overwrite the image's ENTRYPOINT
    #[arg(long)]
    pub entrypoint: Option<String>,
    /// Working directory inside the container
    #[arg(short, long)]
    pub workdir: Option<String>,
    /// Username or UID (format: user[:group])
    #[arg(short, long)]
    pub user: Option<String>,
    /// Container host name
    #[arg(short = 'h', long)]
    pub hostname: Option<String>,
    /// Run an init inside the container that forwards signals and reaps processes
    #[arg(long)]
    pub init: bool,
    /// Connect a container to a network: bridge (default), none, host, container:NAME or a
    /// network name
    #[arg(long, alias = "net")]
    pub network: Option<String>,
    /// Publish a container's port(s) to the host ([ip:][hostport:]containerport[/proto])
    #[arg(short = 'p', long)]
    pub publish: Vec<String>,
    /// Publish all exposed ports to random host ports
    #[arg(short = 'P', long)]
    pub publish_all: bool,
    /// Expose a port or a range of ports
    #[arg(long)]
    pub expose: Vec<String>,
    /// Add a network-scoped alias for the container
    #[arg(long)]
    pub network_alias: Vec<String>,
    /// Container MAC address (e.g. 92:d0:c6:0a:29:33)
    #[arg(long)]
    pub mac_address: Option<String>,
    /// IPv4 address on a user-defined network (e.g. 172.30.100.104)
    #[arg(long)]
    pub ip: Option<String>,
    /// Bind mount a host path or a volume ([/host|NAME:]/ctr[:ro|rw|nocopy])
    #[arg(short, long = "volume")]
    pub volume: Vec<String>,
    /// Attach a filesystem mount (type=bind|volume|tmpfs,...)
    #[arg(long)]
    pub mount: Vec<String>,
    /// Mount volumes from the specified container(s) (CONTAINER[:ro|:rw])
    #[arg(long)]
    pub volumes_from: Vec<String>,
    /// Mount a tmpfs directory (/path[:opts])
    #[arg(long)]
    pub tmpfs: Vec<String>,
    /// Mount the container's root filesystem as read only
    #[arg(long)]
    pub read_only: bool,
    /// Give extended privileges to this container
    #[arg(long)]
    pub privileged: bool,
    /// Add Linux capabilities
    #[arg(long)]
    pub cap_add: Vec<String>,
    /// Drop Linux capabilities
    #[arg(long)]
    pub cap_drop: Vec<String>,
    /// Security options (no-new-privileges, seccomp=unconfined|PROFILE)
    #[arg(long)]
    pub security_opt: Vec<String>,
    /// Memory limit (units b, k, m, g)
    #[arg(short, long)]
    pub memory: Option<String>,
    /// Memory plus swap limit; -1 for unlimited swap
    #[arg(long)]
    pub memory_swap: Option<String>,
    /// Number of CPUs
    #[arg(long)]
    pub cpus: Option<String>,
    /// CPU shares (relative weight)
    #[arg(short = 'c', long)]
    pub cpu_shares: Option<u64>,
    /// Tune container pids limit (-1 for unlimited)
    #[arg(long, allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// CPUs in which to allow execution (0-3, 0,1)
    #[arg(long)]
    pub cpuset_cpus: Option<String>,
    /// Ulimit options (nofile=1024:2048)
    #[arg(long)]
    pub ulimit: Vec<String>,
    /// Set platform if the image is multi-platform
    #[arg(long)]
    pub platform: Option<String>,
    /// Pull image before running: missing, always, never
    #[arg(long)]
    pub pull: Option<String>,
    /// Add a custom host-to-IP mapping (host:ip)
    #[arg(long)]
    pub add_host: Vec<String>,
    /// Set custom DNS servers
    #[arg(long)]
    pub dns: Vec<String>,
    /// Set custom DNS search domains ("." for none)
    #[arg(long)]
    pub dns_search: Vec<String>,
    /// Set DNS options (resolv.conf `options`)
    #[arg(long = "dns-option", alias = "dns-opt")]
    pub dns_option: Vec<String>,
    /// Restart policy when the container exits: no, on-failure[:N], always, unless-stopped
    #[arg(long)]
    pub restart: Option<String>,
    /// Logging driver: json-file (default) or none
    #[arg(long)]
    pub log_driver: Option<String>,
    /// Log driver options (max-size=10m, max-file=3)
    #[arg(long)]
    pub log_opt: Vec<String>,
    /// Set metadata on a container (KEY=VALUE or KEY)
    #[arg(short, long)]
    pub label: Vec<String>,
    /// Read labels from a file of KEY=VALUE lines
    #[arg(long, value_name = "FILE")]
    pub label_file: Vec<PathBuf>,
    #[command(flatten)]
    pub health: crate::health_args::HealthArgs,
    /// Signal to stop the container (default: the image's STOPSIGNAL, else SIGTERM)
    #[arg(long, value_name = "SIGNAL")]
    pub stop_signal: Option<String>,
    /// Seconds `stop` waits before killing the container (default 10)
    #[arg(long, value_name = "SECONDS", allow_negative_numbers = true)]
    pub stop_timeout: Option<i64>,
    /// The image to run
    pub image: String,
    /// The command and its arguments
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<String>,
}

#[derive(Debug, Args)]
pub struct PsArgs {
    /// Show all containers (default shows just running)
    #[arg(short, long)]
    pub all: bool,
    /// Only display container IDs
    #[arg(short, long)]
    pub quiet: bool,
    /// Don't truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Filter output based on conditions provided (status=, name=, id=, label=, exited=, health=)
    #[arg(short, long = "filter")]
    pub filter: Vec<String>,
    /// Output format: table, json, or a template such as '{{.ID}}\t{{.Names}}'
    #[arg(long)]
    pub format: Option<String>,
}

#[derive(Debug, Args)]
pub struct RmArgs {
    /// Force the removal of a running container (uses SIGKILL)
    #[arg(short, long)]
    pub force: bool,
    /// Remove anonymous volumes associated with the container
    #[arg(short, long)]
    pub volumes: bool,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct StartArgs {
    /// Attach STDOUT/STDERR and wait for the container to exit
    #[arg(short, long)]
    pub attach: bool,
    /// Attach the container's STDIN
    #[arg(short, long)]
    pub interactive: bool,
    /// Override the key sequence for detaching a container
    #[arg(long, default_value = DEFAULT_DETACH_KEYS)]
    pub detach_keys: String,
    #[arg(required = true, num_args = 1)]
    pub container: String,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Follow log output until the container exits
    #[arg(short, long)]
    pub follow: bool,
    /// Show timestamps
    #[arg(short, long)]
    pub timestamps: bool,
    /// Number of lines to show from the end of the logs ("all" for every line)
    #[arg(short = 'n', long, default_value = "all")]
    pub tail: String,
    /// Show logs since a time (RFC 3339, Unix timestamp) or a duration ago (10s, 2m, 1h)
    #[arg(long)]
    pub since: Option<String>,
    /// Show logs before a time (RFC 3339, Unix timestamp) or a duration ago (10s, 2m, 1h)
    #[arg(long)]
    pub until: Option<String>,
    pub container: String,
}

#[derive(Debug, Args)]
pub struct StopArgs {
    /// Seconds to wait before killing the container (default: its --stop-timeout, else 10)
    #[arg(short, long)]
    pub time: Option<u64>,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct KillArgs {
    /// Signal to send to the container
    #[arg(short, long, default_value = "KILL")]
    pub signal: String,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ContainersArgs {
    #[arg(required = true)]
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ContainerInspectArgs {
    /// Format the output using a template such as '{{.State.Status}}' or 'json'
    #[arg(short, long)]
    pub format: Option<String>,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct CpArgs {
    /// Archive mode (copy all uid/gid information)
    #[arg(short, long)]
    pub archive: bool,
    /// Always follow symbol link in SRC_PATH
    #[arg(short = 'L', long)]
    pub follow_link: bool,
    /// CONTAINER:SRC_PATH, or a local path (`-` reads a tar from stdin)
    pub src: String,
    /// CONTAINER:DEST_PATH, or a local path (`-` writes a tar to stdout)
    pub dest: String,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Write to a file, instead of STDOUT
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<std::path::PathBuf>,
    pub container: String,
}

#[derive(Debug, Args)]
pub struct TopArgs {
    pub container: String,
    /// Options for the host's ps (default: hull's own `ps -ef` columns, read from /proc)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub ps_args: Vec<String>,
}

#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Show all containers (default shows just running)
    #[arg(short, long)]
    pub all: bool,
    /// Disable streaming stats and only pull the first result
    #[arg(long)]
    pub no_stream: bool,
    /// Do not truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Output format: table, json, or a template such as '{{.Name}}\t{{.CPUPerc}}'
    #[arg(long)]
    pub format: Option<String>,
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct MonitorArgs {
    /// Wait for a client on the attach socket before starting (`hull start -a`)
    #[arg(long)]
    pub attach_first: bool,
    pub id: String,
}

/// `hull exec`: Docker's flags as plain strings; validation is the engine's.
#[derive(Debug, Args)]
pub struct ExecArgs {
    /// Detached mode: run the command in the background
    #[arg(short, long)]
    pub detach: bool,
    /// Keep STDIN open
    #[arg(short, long)]
    pub interactive: bool,
    /// Allocate a pseudo-TTY
    #[arg(short, long)]
    pub tty: bool,
    /// Set environment variables (K=V, or K to take the host's value)
    #[arg(short, long = "env", value_name = "K=V")]
    pub env: Vec<String>,
    /// Read environment variables from a file
    #[arg(long, value_name = "FILE")]
    pub env_file: Vec<PathBuf>,
    /// Username or UID (format: user[:group])
    #[arg(short, long)]
    pub user: Option<String>,
    /// Working directory inside the container
    #[arg(short, long)]
    pub workdir: Option<String>,
    /// Container name or ID (prefix)
    pub container: String,
    /// The command and its arguments
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<String>,
}

#[derive(Debug, Args)]
pub struct AttachArgs {
    /// Do not attach STDIN
    #[arg(long)]
    pub no_stdin: bool,
    /// Override the key sequence for detaching a container
    #[arg(long, default_value = DEFAULT_DETACH_KEYS)]
    pub detach_keys: String,
    /// Accepted for Docker compatibility; signals are not proxied
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub sig_proxy: bool,
    pub container: String,
}

/// Docker's default detach sequence.
pub const DEFAULT_DETACH_KEYS: &str = "ctrl-p,ctrl-q";
