//! `hull network create|ls|inspect|rm|prune|connect|disconnect`.

use anyhow::{Context, Result};
use hull_engine::endpoint::ConnectRequest;
use hull_engine::Engine;
use hull_net::{self as network, CreateRequest, Network, Networks};
use std::collections::BTreeMap;

use serde::Serialize;

use super::Ctx;
use crate::cli::{
    NetworkConnectArgs, NetworkCreateArgs, NetworkDisconnectArgs, NetworkLsArgs, NetworkNamesArgs,
    NetworkPruneArgs,
};

/// Prints the new network's full ID, like `docker network create`.
pub fn create(ctx: &Ctx, args: NetworkCreateArgs) -> Result<u8> {
    let subnet = args
        .subnet
        .as_deref()
        .map(str::parse)
        .transpose()
        .map_err(|e: String| anyhow::anyhow!(e))?;
    let gateway = args
        .gateway
        .as_deref()
        .map(|g| g.parse().with_context(|| format!("invalid gateway {g:?}")))
        .transpose()?;
    if gateway.is_some() && subnet.is_none() {
        anyhow::bail!("--gateway needs --subnet");
    }
    if Predefined::named(&args.name).is_some() {
        anyhow::bail!(
            "operation is not permitted on predefined {} network",
            args.name
        );
    }
    let net = Networks::open(&ctx.root)
        .create(&CreateRequest {
            name: args.name.clone(),
            subnet,
            gateway,
            driver: Some(args.driver),
        })
        .with_context(|| format!("create network {}", args.name))?;
    println!("{}", net.id);
    Ok(0)
}

/// Docker's columns: NETWORK ID, NAME, DRIVER, SCOPE.
pub fn ls(ctx: &Ctx, args: NetworkLsArgs) -> Result<u8> {
    let nets = Networks::open(&ctx.root).list().context("list networks")?;
    let mut listed: Vec<ListedNetwork> = nets
        .iter()
        .map(|n| ListedNetwork {
            id: n.id.clone(),
            name: n.name.clone(),
            driver: n.driver.clone(),
        })
        .chain(Predefined::ALL.iter().map(|p| ListedNetwork {
            id: p.id(&ctx.root),
            name: p.name().to_string(),
            driver: p.driver().to_string(),
        }))
        .collect();
    listed.sort_by(|a, b| a.name.cmp(&b.name));
    print!("{}", ls_text(&listed, args.quiet, args.no_trunc));
    Ok(0)
}

/// One row of `network ls`.
struct ListedNetwork {
    id: String,
    name: String,
    driver: String,
}

/// Docker's `network ls` text: IDs alone with `-q`, else the table, IDs cut to 12 characters
/// unless `--no-trunc`.
fn ls_text(nets: &[ListedNetwork], quiet: bool, no_trunc: bool) -> String {
    let id = |n: &ListedNetwork| {
        if no_trunc {
            n.id.clone()
        } else {
            n.id.chars().take(12).collect()
        }
    };
    if quiet {
        return nets.iter().map(|n| format!("{}\n", id(n))).collect();
    }
    let mut rows = vec![vec![
        "NETWORK ID".to_string(),
        "NAME".into(),
        "DRIVER".into(),
        "SCOPE".into(),
    ]];
    rows.extend(
        nets.iter()
            .map(|n| vec![id(n), n.name.clone(), n.driver.clone(), "local".into()]),
    );
    crate::output::table(&rows)
}

/// Docker's pre-defined networks besides `bridge`: `host` (the host's network namespace) and
/// `none` (loopback only). They are network modes, not records in the store: listed,
/// inspected, never created or removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Predefined {
    Host,
    None,
}

impl Predefined {
    const ALL: [Predefined; 2] = [Predefined::Host, Predefined::None];

    fn name(self) -> &'static str {
        match self {
            Predefined::Host => "host",
            Predefined::None => "none",
        }
    }

    fn driver(self) -> &'static str {
        match self {
            Predefined::Host => "host",
            Predefined::None => "null",
        }
    }

    fn named(name: &str) -> Option<Predefined> {
        Self::ALL.into_iter().find(|p| p.name() == name)
    }

    /// A stable 64-hex ID per store (Docker's are random per daemon).
    fn id(self, root: &std::path::Path) -> String {
        use sha2::{Digest, Sha256};
        let seed = format!(
            "hull predefined network {} {}",
            self.name(),
            network::store_tag(root)
        );
        hex::encode(Sha256::digest(seed.as_bytes()))
    }

    /// By name, full ID or an ID prefix (as Docker resolves networks).
    fn resolve(root: &std::path::Path, name_or_id: &str) -> Option<Predefined> {
        Self::named(name_or_id).or_else(|| {
            Self::ALL
                .into_iter()
                .find(|p| name_or_id.len() >= 3 && p.id(root).starts_with(name_or_id))
        })
    }

    fn document(self, root: &std::path::Path, created: &str) -> NetworkDoc {
        NetworkDoc {
            name: self.name().to_string(),
            id: self.id(root),
            created: created.to_string(),
            scope: "local",
            driver: self.driver().to_string(),
            enable_ipv6: false,
            ipam: Ipam {
                driver: "default",
                options: None,
                config: Vec::new(),
            },
            internal: false,
            attachable: false,
            ingress: false,
            config_from: ConfigFrom::default(),
            config_only: false,
            containers: BTreeMap::new(),
            options: BTreeMap::new(),
            labels: BTreeMap::new(),
        }
    }
}

pub fn inspect(ctx: &Ctx, args: NetworkNamesArgs) -> Result<u8> {
    let nets = Networks::open(&ctx.root);
    let mut out = Vec::new();
    let mut code = 0;
    for name in &args.networks {
        let doc = match Predefined::resolve(&ctx.root, name) {
            Some(p) => nets
                .get(network::store::DEFAULT_NETWORK)
                .map(|bridge| p.document(&ctx.root, &bridge.created)),
            None => nets.get(name).and_then(|n| inspect_json(&nets, &n)),
        };
        match doc {
            Ok(v) => out.push(v),
            Err(e) => {
                eprintln!("hull: {e}");
                code = 1;
            }
        }
    }
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(code)
}

/// `network inspect`'s document, its keys in Docker's order (serde keeps a struct's field
/// order; a `json!` map would sort them).
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct NetworkDoc {
    name: String,
    id: String,
    created: String,
    scope: &'static str,
    driver: String,
    #[serde(rename = "EnableIPv6")]
    enable_ipv6: bool,
    #[serde(rename = "IPAM")]
    ipam: Ipam,
    internal: bool,
    attachable: bool,
    ingress: bool,
    config_from: ConfigFrom,
    config_only: bool,
    containers: BTreeMap<String, Endpoint>,
    options: BTreeMap<String, String>,
    labels: BTreeMap<String, String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct Ipam {
    driver: &'static str,
    /// Docker prints `{}` for a user network and null for host and none.
    options: Option<BTreeMap<String, String>>,
    config: Vec<IpamConfig>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct IpamConfig {
    subnet: String,
    gateway: String,
}

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
struct ConfigFrom {
    network: String,
}

/// One container in `Containers`, Docker's keys first; `Ports` is hull's addition.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct Endpoint {
    name: String,
    #[serde(rename = "EndpointID")]
    endpoint_id: String,
    mac_address: String,
    #[serde(rename = "IPv4Address")]
    ipv4_address: String,
    #[serde(rename = "IPv6Address")]
    ipv6_address: String,
    ports: Vec<String>,
}

fn inspect_json(nets: &Networks, n: &Network) -> Result<NetworkDoc, network::NetworkError> {
    let mut containers = BTreeMap::new();
    for (owner, lease) in nets.ipam(n).leases()? {
        containers.insert(
            owner.clone(),
            Endpoint {
                name: lease.aliases.first().cloned().unwrap_or(owner.clone()),
                endpoint_id: owner,
                mac_address: lease.mac,
                ipv4_address: format!("{}/{}", lease.ip, n.subnet.prefix),
                ipv6_address: String::new(),
                ports: lease.ports.iter().map(|p| p.to_string()).collect(),
            },
        );
    }
    Ok(NetworkDoc {
        name: n.name.clone(),
        id: n.id.clone(),
        created: n.created.clone(),
        scope: "local",
        driver: n.driver.clone(),
        enable_ipv6: false,
        ipam: Ipam {
            driver: "default",
            options: Some(BTreeMap::new()),
            config: vec![IpamConfig {
                subnet: n.subnet.to_string(),
                gateway: n.gateway.to_string(),
            }],
        },
        internal: false,
        attachable: false,
        ingress: false,
        config_from: ConfigFrom::default(),
        config_only: false,
        containers,
        options: [(
            "com.docker.network.bridge.name".to_string(),
            n.bridge.clone(),
        )]
        .into(),
        labels: BTreeMap::new(),
    })
}

/// Removes each network, printing its name; 1 when any removal failed.
pub fn rm(ctx: &Ctx, args: NetworkNamesArgs) -> Result<u8> {
    let mut code = 0;
    for name in &args.networks {
        if let Some(p) = Predefined::resolve(&ctx.root, name) {
            eprintln!(
                "hull: {} is a pre-defined network and cannot be removed",
                p.name()
            );
            code = 1;
            continue;
        }
        match network::remove_network(&ctx.root, name) {
            Ok(_) => println!("{name}"),
            Err(e) => {
                eprintln!("hull: {}", crate::one_line(&anyhow::Error::new(e)));
                code = 1;
            }
        }
    }
    Ok(code)
}

pub fn prune(ctx: &Ctx, _args: NetworkPruneArgs) -> Result<u8> {
    let removed = network::prune_networks(&ctx.root).context("prune networks")?;
    if !removed.is_empty() {
        println!("Deleted Networks:");
        for n in removed {
            println!("{n}");
        }
    }
    Ok(0)
}

/// The flags of `network connect` as the engine's request.
fn connect_request(args: &NetworkConnectArgs) -> Result<ConnectRequest> {
    let ip = args
        .ip
        .as_deref()
        .map(|ip| {
            ip.parse::<std::net::Ipv4Addr>()
                .with_context(|| format!("invalid --ip {ip:?}: an IPv4 address"))
        })
        .transpose()?;
    Ok(ConnectRequest {
        aliases: args.aliases.clone(),
        ip,
    })
}

/// `docker network connect` prints nothing on success.
pub fn connect(ctx: &Ctx, args: NetworkConnectArgs) -> Result<u8> {
    let req = connect_request(&args)?;
    let engine = Engine::open(&ctx.root).context("open hull store")?;
    engine
        .connect_network(&args.network, &args.container, &req)
        .with_context(|| {
            format!(
                "connect container {} to network {}",
                args.container, args.network
            )
        })?;
    Ok(0)
}

pub fn disconnect(ctx: &Ctx, args: NetworkDisconnectArgs) -> Result<u8> {
    let engine = Engine::open(&ctx.root).context("open hull store")?;
    engine
        .disconnect_network(&args.network, &args.container, args.force)
        .with_context(|| {
            format!(
                "disconnect container {} from network {}",
                args.container, args.network
            )
        })?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command, NetworkCommand};
    use clap::Parser;

    fn parse(args: &[&str]) -> NetworkCommand {
        match Cli::try_parse_from(args).unwrap().command {
            Command::Network(n) => n,
            other => panic!("{other:?}"),
        }
    }

    fn listed(name: &str, driver: &str) -> ListedNetwork {
        ListedNetwork {
            id: format!("{:0<64}", name.len()),
            name: name.into(),
            driver: driver.into(),
        }
    }

    #[test]
    fn ls_shows_dockers_columns() {
        let nets = [listed("bridge", "bridge"), listed("host", "host")];
        let out = ls_text(&nets, false, false);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "NETWORK ID     NAME     DRIVER   SCOPE");
        assert_eq!(lines[2], "400000000000   host     host     local");
        assert_eq!(ls_text(&nets, true, false), "600000000000\n400000000000\n");
        assert!(ls_text(&nets, true, true).starts_with(&format!("6{}\n", "0".repeat(63))));
    }

    #[test]
    fn host_and_none_are_predefined_with_stable_ids() {
        let root = std::path::Path::new("/nonexistent/hull-root");
        assert_eq!(Predefined::named("host"), Some(Predefined::Host));
        assert_eq!(Predefined::None.driver(), "null");
        assert_eq!(Predefined::named("bridge"), None);
        let id = Predefined::None.id(root);
        assert_eq!(id.len(), 64);
        assert_eq!(id, Predefined::None.id(root));
        assert_ne!(id, Predefined::Host.id(root));
        assert_eq!(Predefined::resolve(root, &id[..12]), Some(Predefined::None));
        assert_eq!(Predefined::resolve(root, "mynet"), None);
    }

    #[test]
    fn inspect_keys_come_in_dockers_order() {
        let root = std::path::Path::new("/nonexistent/hull-root");
        let doc = Predefined::Host.document(root, "2024-01-02T03:04:05Z");
        let text = serde_json::to_string(&doc).unwrap();
        let order = [
            "Name",
            "Id",
            "Created",
            "Scope",
            "Driver",
            "EnableIPv6",
            "IPAM",
            "Internal",
            "Attachable",
            "Ingress",
            "ConfigFrom",
            "ConfigOnly",
            "Containers",
            "Options",
            "Labels",
        ];
        // The outer object's keys are the lines indented by two spaces.
        let pretty = serde_json::to_string_pretty(&doc).unwrap();
        let keys: Vec<&str> = pretty
            .lines()
            .filter_map(|l| l.strip_prefix("  \""))
            .filter_map(|l| l.split_once('"').map(|(k, _)| k))
            .collect();
        assert_eq!(keys, order, "{pretty}");
        assert!(
            text.contains(r#""IPAM":{"Driver":"default","Options":null,"Config":[]}"#),
            "{text}"
        );
        assert!(text.contains(r#""Driver":"host""#), "{text}");
    }

    #[test]
    fn connect_takes_aliases_and_an_ip() {
        let NetworkCommand::Connect(a) = parse(&[
            "hull", "network", "connect", "--alias", "api", "--alias", "v1", "--ip", "10.1.0.9",
            "back", "web",
        ]) else {
            panic!("not connect")
        };
        assert_eq!((a.network.as_str(), a.container.as_str()), ("back", "web"));
        let req = connect_request(&a).unwrap();
        assert_eq!(req.aliases, ["api", "v1"]);
        assert_eq!(req.ip, Some(std::net::Ipv4Addr::new(10, 1, 0, 9)));
    }

    #[test]
    fn connect_refuses_a_bad_ip_and_missing_operands() {
        let NetworkCommand::Connect(a) =
            parse(&["hull", "network", "connect", "--ip", "x", "n", "c"])
        else {
            panic!("not connect")
        };
        assert!(connect_request(&a).is_err());
        assert!(Cli::try_parse_from(["hull", "network", "connect", "n"]).is_err());
    }

    #[test]
    fn disconnect_takes_force() {
        let NetworkCommand::Disconnect(a) =
            parse(&["hull", "network", "disconnect", "-f", "n", "c"])
        else {
            panic!("not disconnect")
        };
        assert!(a.force);
        assert_eq!((a.network.as_str(), a.container.as_str()), ("n", "c"));
    }
}
