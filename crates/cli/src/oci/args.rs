//! runc's command-line grammar (runc 1.1), as plain data. Kept apart from the Docker-like
//! grammar in `crate::cli`: the two CLIs share no flags.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "hull-runtime",
    about = "hull as a runc-compatible OCI runtime",
    disable_version_flag = true
)]
pub struct OciCli {
    /// Where container state is kept.
    #[arg(long, global = true, default_value = "/run/hull-runtime")]
    pub root: PathBuf,
    /// Also write errors to this file.
    #[arg(long, global = true)]
    pub log: Option<PathBuf>,
    #[arg(long = "log-format", global = true, value_enum, default_value = "text")]
    pub log_format: LogFormat,
    #[arg(long, global = true)]
    pub debug: bool,
    /// Make containers' cgroups as transient systemd scopes (cgroupsPath `slice:prefix:name`),
    /// through systemd's D-Bus API; cgroup v2 only.
    #[arg(long = "systemd-cgroup", global = true)]
    pub systemd_cgroup: bool,
    /// true, false or auto; hull runs only as root, so true is refused.
    #[arg(long, global = true, num_args = 0..=1, default_missing_value = "true")]
    pub rootless: Option<String>,
    /// Print the version.
    #[arg(short = 'v', long)]
    pub version: bool,
    #[command(subcommand)]
    pub command: Option<OciCommand>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum OciCommand {
    /// Create a container, leaving its process blocked before the user's program.
    Create(CreateArgs),
    /// Start a created container.
    Start(IdArg),
    /// Create and start a container.
    Run(RunArgs),
    /// Print a container's OCI state.
    State(IdArg),
    /// Send a signal to a container's init (or all its processes).
    Kill(KillArgs),
    /// Delete a container.
    Delete(DeleteArgs),
    /// List containers.
    #[command(alias = "ls")]
    List(ListArgs),
    /// Write a default config.json.
    Spec(SpecArgs),
    /// Print the runtime's features as JSON.
    Features,
    /// List the processes of a container.
    Ps(PsArgs),
    /// Freeze every process of a container.
    Pause(IdArg),
    /// Thaw a paused container.
    Resume(IdArg),
    /// Print a container's resource usage.
    Events(EventsArgs),
    /// Run a new process in a running container.
    Exec(ExecArgs),
    /// Change the resource limits of a created, running or paused container.
    Update(UpdateArgs),
}

#[derive(Debug, Args)]
pub struct IdArg {
    pub id: String,
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    #[arg(short = 'b', long, default_value = ".")]
    pub bundle: PathBuf,
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    #[arg(long = "no-pivot")]
    pub no_pivot: bool,
    #[arg(long = "no-new-keyring")]
    pub no_new_keyring: bool,
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: u32,
    pub id: String,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub create: CreateArgs,
    #[arg(short = 'd', long)]
    pub detach: bool,
}

#[derive(Debug, Args)]
pub struct KillArgs {
    #[arg(short = 'a', long)]
    pub all: bool,
    pub id: String,
    #[arg(default_value = "SIGTERM")]
    pub signal: String,
}

#[derive(Debug, Args)]
pub struct DeleteArgs {
    #[arg(short = 'f', long)]
    pub force: bool,
    pub id: String,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[arg(short = 'q', long)]
    pub quiet: bool,
    #[arg(short = 'f', long, value_enum, default_value = "table")]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct SpecArgs {
    #[arg(short = 'b', long, default_value = ".")]
    pub bundle: PathBuf,
}

#[derive(Debug, Args)]
pub struct PsArgs {
    #[arg(short = 'f', long, value_enum, default_value = "table")]
    pub format: Format,
    pub id: String,
}

#[derive(Debug, Args)]
pub struct EventsArgs {
    /// Print one sample of the stats and exit.
    #[arg(long)]
    pub stats: bool,
    #[arg(long, default_value = "5s")]
    pub interval: String,
    pub id: String,
}

/// runc's `exec`: with `--process` the file is the whole process; otherwise the container's
/// process (config.json) is the template and the flags change it.
#[derive(Debug, Args)]
pub struct ExecArgs {
    /// A process.json (an OCI `process` object) to run instead of a command line.
    #[arg(short = 'p', long)]
    pub process: Option<PathBuf>,
    /// Start the process and exit, leaving it running.
    #[arg(short = 'd', long)]
    pub detach: bool,
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    /// Where to send the pty master (SCM_RIGHTS) with --tty.
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    /// Allocate a pty for the process.
    #[arg(short = 't', long)]
    pub tty: bool,
    /// Working directory (absolute) inside the container.
    #[arg(long)]
    pub cwd: Option<String>,
    /// Set an environment variable (K=V); may repeat.
    #[arg(short = 'e', long = "env")]
    pub env: Vec<String>,
    /// UID[:GID] to run as.
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    /// Additional group ids; may repeat.
    #[arg(short = 'g', long = "additional-gids")]
    pub additional_gids: Vec<u32>,
    /// Add a capability (CAP_NET_ADMIN or NET_ADMIN) to the bounding, effective and permitted
    /// sets; may repeat.
    #[arg(short = 'c', long = "cap")]
    pub cap: Vec<String>,
    /// Set no_new_privs for the process.
    #[arg(long = "no-new-privs")]
    pub no_new_privs: bool,
    /// The AppArmor profile of the process (the host must have AppArmor enabled).
    #[arg(short = 'a', long)]
    pub apparmor: Option<String>,
    /// Pass descriptors 3..3+N of the caller on to the process.
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: u32,
    /// Exec into a paused container too (the process starts frozen, until `resume`).
    #[arg(long = "ignore-paused")]
    pub ignore_paused: bool,
    /// Join this sub-cgroup of the container's cgroup instead of it:
    /// `[<controller>[,<controller>...]:]<path>`, repeatable (as runc's).
    #[arg(long = "cgroup", value_name = "PATH")]
    pub cgroup: Vec<String>,
    /// Accepted and ignored, as runc does on a host without SELinux: hull has no SELinux
    /// support.
    #[arg(long = "process-label")]
    pub process_label: Option<String>,
    pub id: String,
    /// The command and its arguments (without --process).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

/// runc's `update`. Sizes take runc's units (`64M`, `1g`, `-1` for unlimited). With
/// `--resources` every other flag is ignored, as in runc. Values may be negative (`-1`).
#[derive(Debug, Default, Args)]
pub struct UpdateArgs {
    /// A linux.resources JSON file, or `-` for standard input.
    #[arg(short = 'r', long)]
    pub resources: Option<String>,
    /// Block I/O weight, 10 to 1000.
    #[arg(long = "blkio-weight")]
    pub blkio_weight: Option<u16>,
    /// CFS period in microseconds.
    #[arg(long = "cpu-period", allow_hyphen_values = true)]
    pub cpu_period: Option<String>,
    /// CFS quota in microseconds per period (-1: none).
    #[arg(long = "cpu-quota", allow_hyphen_values = true)]
    pub cpu_quota: Option<String>,
    /// CPU shares (relative weight).
    #[arg(long = "cpu-share", alias = "cpu-shares", allow_hyphen_values = true)]
    pub cpu_share: Option<String>,
    #[arg(long = "cpu-rt-period", allow_hyphen_values = true)]
    pub cpu_rt_period: Option<String>,
    #[arg(long = "cpu-rt-runtime", allow_hyphen_values = true)]
    pub cpu_rt_runtime: Option<String>,
    /// 1 puts the container under SCHED_IDLE.
    #[arg(long = "cpu-idle", allow_hyphen_values = true)]
    pub cpu_idle: Option<String>,
    #[arg(long = "cpuset-cpus")]
    pub cpuset_cpus: Option<String>,
    #[arg(long = "cpuset-mems")]
    pub cpuset_mems: Option<String>,
    /// Ignored with a warning: the kernel has no kernel memory limits.
    #[arg(long = "kernel-memory", hide = true, allow_hyphen_values = true)]
    pub kernel_memory: Option<String>,
    #[arg(long = "kernel-memory-tcp", hide = true, allow_hyphen_values = true)]
    pub kernel_memory_tcp: Option<String>,
    /// Memory limit.
    #[arg(long, allow_hyphen_values = true)]
    pub memory: Option<String>,
    /// Memory reservation (soft limit).
    #[arg(long = "memory-reservation", allow_hyphen_values = true)]
    pub memory_reservation: Option<String>,
    /// Memory plus swap limit (-1: unlimited swap).
    #[arg(long = "memory-swap", allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// Most processes in the container (0 or -1: no limit).
    #[arg(long = "pids-limit", allow_negative_numbers = true)]
    pub pids_limit: Option<i64>,
    pub id: String,
}
