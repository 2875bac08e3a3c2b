//! `hull network create|ls|inspect|rm|prune`.

use anyhow::{Context, Result};
use hull_engine::network::{self, CreateRequest, Network, Networks};
use serde_json::{json, Map, Value};

use super::Ctx;
use crate::cli::{NetworkCreateArgs, NetworkLsArgs, NetworkNamesArgs, NetworkPruneArgs};

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
