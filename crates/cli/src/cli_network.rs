//! `hull network`'s arguments (argv to plain data, as `cli`).

use clap::{Args, Subcommand};

#[derive(Debug, Subcommand)]
pub enum NetworkCommand {
    /// Create a network
    Create(NetworkCreateArgs),
    /// List networks
    #[command(alias = "list")]
    Ls(NetworkLsArgs),
    /// Display detailed information on one or more networks
    Inspect(NetworkNamesArgs),
    /// Remove one or more networks
    #[command(alias = "remove")]
    Rm(NetworkNamesArgs),
    /// Remove all unused networks
    Prune(NetworkPruneArgs),
    /// Connect a running container to a network
    Connect(NetworkConnectArgs),
    /// Disconnect a container from a network
    Disconnect(NetworkDisconnectArgs),
    /// Remove the endpoints, links and rules of this store that no running container owns
    Sweep,
}

#[derive(Debug, Args)]
pub struct NetworkConnectArgs {
    /// Add a network-scoped alias for the container (repeatable)
    #[arg(long = "alias")]
    pub aliases: Vec<String>,
    /// IPv4 address on the network
    #[arg(long)]
    pub ip: Option<String>,
    pub network: String,
    pub container: String,
}

#[derive(Debug, Args)]
pub struct NetworkDisconnectArgs {
    /// Do not fail when the container is not connected to the network
    #[arg(short, long)]
    pub force: bool,
    pub network: String,
    pub container: String,
}

#[derive(Debug, Args)]
pub struct NetworkCreateArgs {
    /// Subnet in CIDR format (default: the first free private pool)
    #[arg(long)]
    pub subnet: Option<String>,
    /// IPv4 gateway for the subnet (default: its first address)
    #[arg(long)]
    pub gateway: Option<String>,
    /// Driver to manage the network (only "bridge")
    #[arg(short, long, default_value = "bridge")]
    pub driver: String,
    /// Set metadata on the network (K=V)
    #[arg(long)]
    pub label: Vec<String>,
    pub name: String,
}

#[derive(Debug, Args)]
pub struct NetworkLsArgs {
    /// Only display network IDs
    #[arg(short, long)]
    pub quiet: bool,
    /// Do not truncate the output
    #[arg(long)]
    pub no_trunc: bool,
    /// Filter output (name=, id=, driver=, label=K[=V], scope=local, type=custom|builtin,
    /// dangling=true|false)
    #[arg(short, long)]
    pub filter: Vec<String>,
    /// Format output: table, json, or a Go template ({{.ID}}, {{.Name}}, {{.Driver}}, …)
    #[arg(long)]
    pub format: Option<String>,
}

#[derive(Debug, Args)]
pub struct NetworkNamesArgs {
    #[arg(required = true)]
    pub networks: Vec<String>,
}

#[derive(Debug, Args)]
pub struct NetworkPruneArgs {
    /// Do not prompt for confirmation (hull never prompts)
    #[arg(short, long)]
    pub force: bool,
}
