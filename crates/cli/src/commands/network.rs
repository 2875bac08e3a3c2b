//! `hull network create|ls|inspect|rm|prune|connect|disconnect`.

use anyhow::{Context, Result};
use hull_engine::endpoint::connect::ConnectRequest;
use hull_engine::view;
use hull_engine::view::network::Predefined;
use hull_engine::view::network_list;
use hull_engine::Engine;
use hull_net::{CreateRequest, Networks};
use serde_json::Value;
use std::collections::BTreeMap;

use super::Ctx;
use crate::cli::{
    NetworkConnectArgs, NetworkCreateArgs, NetworkDisconnectArgs, NetworkLsArgs, NetworkNamesArgs,
    NetworkPruneArgs,
};
use crate::output::{render_rows, OutputFormat};

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
    let net = Engine::open(&ctx.root)
        .context("open hull store")?
        .network_create(&CreateRequest {
            name: args.name.clone(),
            subnet,
            gateway,
            driver: Some(args.driver),
            labels: super::volume::pairs("--label", &args.label, false)?,
        })
        .with_context(|| format!("create network {}", args.name))?;
    println!("{}", net.id);
    Ok(0)
}

/// Docker's `network ls`: NETWORK ID, NAME, DRIVER, SCOPE, sorted by name; `-f` and
/// `--format` as Docker's.
pub fn ls(ctx: &Ctx, args: NetworkLsArgs) -> Result<u8> {
    let filters = network_list::parse_filters(&args.filter).map_err(anyhow::Error::msg)?;
    let nets = Networks::open(&ctx.root);
    let mut docs = network_list::documents(&ctx.root, &nets).context("list networks")?;
    docs.retain(|d| network_list::matches(&filters, d));
    let mut rows: Vec<Value> = docs
        .iter()
        .map(|d| network_list::row(d, !args.no_trunc))
        .collect();
    rows.sort_by(|a, b| a["Name"].as_str().cmp(&b["Name"].as_str()));
    match (args.quiet, OutputFormat::parse(args.format.as_deref())) {
        (true, _) | (false, OutputFormat::Table) => print!("{}", ls_text(&rows, args.quiet)),
        (false, OutputFormat::Json) => rows.iter().for_each(|r| println!("{r}")),
        (false, OutputFormat::Template { text, table }) => {
            let names: BTreeMap<&str, &str> = [
                ("ID", "NETWORK ID"),
                ("Name", "NAME"),
                ("Driver", "DRIVER"),
                ("Scope", "SCOPE"),
                ("IPv6", "IPV6"),
                ("Internal", "INTERNAL"),
                ("Labels", "LABELS"),
                ("CreatedAt", "CREATED AT"),
            ]
            .into();
            print!(
                "{}",
                render_rows(&text, table, &names, &rows).map_err(anyhow::Error::msg)?
            );
        }
    }
    Ok(0)
}

/// Docker's `network ls` text from the rows: IDs alone with `-q`, else the table.
fn ls_text(rows: &[Value], quiet: bool) -> String {
    let cell = |r: &Value, k: &str| r[k].as_str().unwrap_or_default().to_string();
    if quiet {
        return rows
            .iter()
            .map(|r| format!("{}\n", cell(r, "ID")))
            .collect();
    }
    let mut cells = vec![vec![
        "NETWORK ID".to_string(),
        "NAME".into(),
        "DRIVER".into(),
        "SCOPE".into(),
    ]];
    cells.extend(rows.iter().map(|r| {
        ["ID", "Name", "Driver", "Scope"]
            .iter()
            .map(|k| cell(r, k))
            .collect()
    }));
    crate::output::table(&cells)
}

pub fn inspect(ctx: &Ctx, args: NetworkNamesArgs) -> Result<u8> {
    let nets = Networks::open(&ctx.root);
    let mut out = Vec::new();
    let mut code = 0;
    for name in &args.networks {
        match view::network::inspect(&ctx.root, &nets, name) {
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

/// Removes each network, printing its name; 1 when any removal failed.
pub fn rm(ctx: &Ctx, args: NetworkNamesArgs) -> Result<u8> {
    let engine = Engine::open(&ctx.root).context("open hull store")?;
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
        match engine.network_remove(name) {
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
    let removed = Engine::open(&ctx.root)
        .context("open hull store")?
        .network_prune()
        .context("prune networks")?;
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

/// `hull network sweep`: the host-wide check. Lists and removes what this store created that
/// nothing owns (endpoints of containers that are not running, untracked veths and bridges,
/// firewall rules), and whatever hull stores that no longer exist left on the host.
pub fn sweep(ctx: &Ctx) -> Result<u8> {
    let engine = Engine::open(&ctx.root).context("open hull store")?;
    let own = engine.sweep_network()?;
    let host = engine.sweep_host_network()?;
    for report in [&own, &host.removed] {
        for l in &report.leases {
            println!("endpoint {l}");
        }
        for l in &report.links {
            println!("link {l}");
        }
        for r in &report.rules {
            println!("rule {r}");
        }
    }
    for u in &host.unknown {
        eprintln!("hull: left alone, no store is registered for it: {u}");
    }
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

    fn listed(name: &str, driver: &str, trunc: bool) -> Value {
        let doc = serde_json::json!({"Id": format!("{:0<64}", name.len()), "Name": name,
                                     "Driver": driver, "Labels": {}, "Created": ""});
        network_list::row(&doc, trunc)
    }

    #[test]
    fn ls_shows_dockers_columns() {
        let nets = |trunc| {
            [
                listed("bridge", "bridge", trunc),
                listed("host", "host", trunc),
            ]
        };
        let out = ls_text(&nets(true), false);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "NETWORK ID     NAME      DRIVER    SCOPE");
        assert_eq!(lines[2], "400000000000   host      host      local");
        assert_eq!(ls_text(&nets(true), true), "600000000000\n400000000000\n");
        assert!(ls_text(&nets(false), true).starts_with(&format!("6{}\n", "0".repeat(63))));
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
