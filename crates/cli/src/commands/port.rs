//! `hull port CTR [PRIVATE_PORT[/PROTO]]`: a running container's published ports.

use anyhow::{Context, Result};
use hull_engine::view::ports;
use hull_engine::Engine;
use hull_net::{PortMap, Proto};

use super::Ctx;
use crate::cli::PortArgs;

/// `hull port CTR [PRIVATE_PORT[/PROTO]]`, Docker's output: `80/tcp -> 0.0.0.0:8080` per map,
/// or just `0.0.0.0:8080` for the port asked for.
pub fn port(ctx: &Ctx, args: PortArgs) -> Result<u8> {
    let engine = Engine::open(&ctx.root).context("open hull store")?;
    let r = engine.containers.resolve(&args.container)?;
    let maps = ports::live_ports(&r);
    let Some(want) = args.port.as_deref() else {
        for m in &maps {
            println!(
                "{} -> {}:{}",
                ports::port_key(m.container_port, m.proto),
                m.host_ip,
                m.host_port
            );
        }
        return Ok(0);
    };
    let (port, proto) = parse_private_port(want)?;
    let found: Vec<&PortMap> = maps
        .iter()
        .filter(|m| m.container_port == port && m.proto == proto)
        .collect();
    if found.is_empty() {
        anyhow::bail!(
            "No public port '{}' published for {}",
            ports::port_key(port, proto),
            args.container
        );
    }
    for m in found {
        println!("{}:{}", m.host_ip, m.host_port);
    }
    Ok(0)
}

fn parse_private_port(p: &str) -> Result<(u16, Proto)> {
    let (port, proto) = p.split_once('/').unwrap_or((p, "tcp"));
    let proto = match proto {
        "tcp" => Proto::Tcp,
        "udp" => Proto::Udp,
        other => anyhow::bail!("invalid protocol {other:?}: tcp or udp"),
    };
    let port = port
        .parse::<u16>()
        .with_context(|| format!("invalid port {port:?}"))?;
    Ok((port, proto))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_ports_parse_with_a_default_protocol() {
        assert_eq!(parse_private_port("80").unwrap(), (80, Proto::Tcp));
        assert_eq!(parse_private_port("53/udp").unwrap(), (53, Proto::Udp));
        assert!(parse_private_port("53/sctp").is_err());
        assert!(parse_private_port("x").is_err());
    }
}
