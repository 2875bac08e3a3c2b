//! `hull network create|ls|inspect|rm|prune|connect|disconnect`.

use anyhow::{Context, Result};
use hull_engine::connect::ConnectRequest;
use hull_engine::network::{self, CreateRequest, Network, Networks};
use hull_engine::Engine;
use serde_json::{json, Map, Value};

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
    let id = |n: &Network| {
        if args.no_trunc {
            n.id.clone()
        } else {
            n.short_id().to_string()
        }
    };
    if args.quiet {
        for n in &nets {
            println!("{}", id(n));
        }
        return Ok(0);
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
    print!("{}", crate::output::table(&rows));
    Ok(0)
}

pub fn inspect(ctx: &Ctx, args: NetworkNamesArgs) -> Result<u8> {
    let nets = Networks::open(&ctx.root);
    let mut out = Vec::new();
    let mut code = 0;
    for name in &args.networks {
        match nets.get(name).and_then(|n| inspect_json(&nets, &n)) {
            Ok(v) => out.push(v),
            Err(e) => {
                eprintln!("hull: {e}");
                code = 1;
            }
        }
    }
    println!("{}", serde_json::to_string_pretty(&Value::Array(out))?);
    Ok(code)
}

/// Docker's shape: Name, Id, Created, Scope, Driver, IPAM.Config, Containers, Options.
fn inspect_json(nets: &Networks, n: &Network) -> Result<Value, network::NetworkError> {
    let mut containers = Map::new();
    for (owner, lease) in nets.ipam(n).leases()? {
        containers.insert(
            owner.clone(),
            json!({
                "Name": lease.aliases.first().cloned().unwrap_or(owner),
                "MacAddress": lease.mac,
                "IPv4Address": format!("{}/{}", lease.ip, n.subnet.prefix),
                "IPv6Address": "",
                "Ports": lease.ports.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
            }),
        );
    }
    Ok(json!({
        "Name": n.name,
        "Id": n.id,
        "Created": n.created,
        "Scope": "local",
        "Driver": n.driver,
        "EnableIPv6": false,
        "IPAM": {
            "Driver": "default",
            "Options": {},
            "Config": [{"Subnet": n.subnet.to_string(), "Gateway": n.gateway.to_string()}],
        },
        "Internal": false,
        "Attachable": false,
        "Containers": containers,
        "Options": {"com.docker.network.bridge.name": n.bridge},
        "Labels": {},
    }))
}

/// Removes each network, printing its name; 1 when any removal failed.
pub fn rm(ctx: &Ctx, args: NetworkNamesArgs) -> Result<u8> {
    let mut code = 0;
    for name in &args.networks {
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
