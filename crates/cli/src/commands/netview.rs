//! A container's network as Docker shows it: the `ps` PORTS column, `inspect`'s
//! `NetworkSettings` and `HostConfig.PortBindings`, `hull port`, and `hull network sweep`.

use anyhow::{Context, Result};
use hull_engine::run::{NetworkMode, RunConfig};
use hull_engine::state::{Record, Status};
use hull_engine::Engine;
use hull_net::{PortMap, Proto};
use serde_json::{json, Map, Value};

use super::Ctx;
use crate::cli::PortArgs;

/// The ports of a running container as Docker's PORTS column shows them: published ones
/// (`0.0.0.0:8080->80/tcp`) and exposed-but-unpublished ones (`80/tcp`, from `config.expose`,
/// which `ps` fills with the image's too).
pub fn ps_ports(r: &Record) -> String {
    let maps = live_ports(r);
    if r.state.network.is_none() || r.state.status != Status::Running {
        return String::new();
    }
    let exposed: Vec<(u16, Proto)> = r
        .config
        .expose
        .iter()
        .filter_map(|e| hull_engine::run::netopts::exposed_to_map(e))
        .map(|m| (m.container_port, m.proto))
        .filter(|(p, proto)| {
            !maps
                .iter()
                .any(|m| m.container_port == *p && m.proto == *proto)
        })
        .collect();
    displayable_ports(&maps, &exposed)
}

/// Adds the image's exposed ports to the `--expose` list of each running record with a
/// network (in memory, for `ps`): Docker's PORTS shows them too.
pub fn add_image_exposed_ports(engine: &Engine, records: &mut [Record]) {
    for r in records.iter_mut() {
        if r.state.network.is_none() || r.state.status != Status::Running {
            continue;
        }
        let image = super::container_inspect::image_config(engine, r);
        for port in image.exposed_ports.iter().flat_map(|m| m.keys()) {
            if !r.config.expose.contains(port) {
                r.config.expose.push(port.clone());
            }
        }
    }
}

/// One port of the PORTS column: published ones have a host address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ShownPort {
    private: u16,
    host: Option<(std::net::Ipv4Addr, u16)>,
    proto: Proto,
}

/// Docker's PORTS text: sorted by container port; runs of consecutive ports merged when they
/// share a protocol (and a host address, published on the same port numbers):
/// `80-81/tcp`, `0.0.0.0:8000-8001->8000-8001/tcp`. A map to a different host port stays on
/// its own, after the groups: `0.0.0.0:8080->80/tcp`.
fn displayable_ports(published: &[PortMap], exposed: &[(u16, Proto)]) -> String {
    let mut ports: Vec<ShownPort> = published
        .iter()
        .map(|m| ShownPort {
            private: m.container_port,
            host: Some((m.host_ip, m.host_port)),
            proto: m.proto,
        })
        .chain(exposed.iter().map(|&(private, proto)| ShownPort {
            private,
            host: None,
            proto,
        }))
        .collect();
    ports.sort_by_key(|p| (p.private, p.host, p.proto as u8));
    ports.dedup();
    // (host ip, proto) -> current run (first, last), in order of first appearance.
    let mut groups: Vec<(Option<std::net::Ipv4Addr>, Proto, u16, u16)> = Vec::new();
    let mut done = Vec::new();
    let mut mappings = Vec::new();
    for p in ports {
        let ip = match p.host {
            Some((ip, host_port)) if host_port != p.private => {
                mappings.push(format!("{ip}:{host_port}->{}/{}", p.private, p.proto));
                continue;
            }
            Some((ip, _)) => Some(ip),
            None => None,
        };
        match groups.iter_mut().find(|g| g.0 == ip && g.1 == p.proto) {
            None => groups.push((ip, p.proto, p.private, p.private)),
            Some(g) if g.3.checked_add(1) == Some(p.private) => g.3 = p.private,
            Some(g) => {
                done.push(port_group(g.0, g.1, g.2, g.3));
                (g.2, g.3) = (p.private, p.private);
            }
        }
    }
    done.extend(groups.iter().map(|g| port_group(g.0, g.1, g.2, g.3)));
    done.extend(mappings);
    done.join(", ")
}

fn port_group(ip: Option<std::net::Ipv4Addr>, proto: Proto, first: u16, last: u16) -> String {
    let range = if first == last {
        first.to_string()
    } else {
        format!("{first}-{last}")
    };
    match ip {
        Some(ip) => format!("{ip}:{range}->{range}/{proto}"),
        None => format!("{range}/{proto}"),
    }
}

fn live_ports(r: &Record) -> Vec<PortMap> {
    match (&r.state.network, r.state.status) {
        (Some(n), Status::Running) => n.ports.clone(),
        _ => Vec::new(),
    }
}

fn port_key(port: u16, proto: Proto) -> String {
    format!("{port}/{proto}")
}

/// `HostConfig.PortBindings` as asked for: Docker leaves an unspecified address or a random
/// port empty.
pub fn port_bindings(c: &RunConfig) -> Value {
    let mut out = Map::new();
    for m in &c.publish {
        let host_ip = if m.host_ip.is_unspecified() {
            String::new()
        } else {
            m.host_ip.to_string()
        };
        let host_port = if m.host_port == 0 {
            String::new()
        } else {
            m.host_port.to_string()
        };
        push(
            &mut out,
            port_key(m.container_port, m.proto),
            json!({"HostIp": host_ip, "HostPort": host_port}),
        );
    }
    Value::Object(out)
}

fn push(out: &mut Map<String, Value>, key: String, v: Value) {
    match out.get_mut(&key).and_then(Value::as_array_mut) {
        Some(list) => list.push(v),
        None => {
            out.insert(key, json!([v]));
        }
    }
}

/// `NetworkSettings`: the live attachment while the container runs, else the empty shape
/// Docker prints for a stopped container.
pub fn network_settings(r: &Record) -> Value {
    let c = &r.config;
    let mode = match &c.network {
        NetworkMode::Container(_) => String::new(),
        m => m.name(),
    };
    let mut ports = Map::new();
    for m in live_ports(r) {
        push(
            &mut ports,
            port_key(m.container_port, m.proto),
            json!({"HostIp": m.host_ip.to_string(), "HostPort": m.host_port.to_string()}),
        );
    }
    let live = r
        .state
        .network
        .as_ref()
        .filter(|_| r.state.status == Status::Running);
    let ip = live.map(|n| n.ip.to_string()).unwrap_or_default();
    let gateway = live.map(|n| n.gateway.to_string()).unwrap_or_default();
    let mac = live.map(|n| n.mac.clone()).unwrap_or_default();
    let prefix = live.map_or(0, |n| n.prefix_len);
    let mut networks = Map::new();
    if !mode.is_empty() {
        networks.insert(
            mode.clone(),
            json!({
                "IPAMConfig": c.ip.map(|ip| json!({"IPv4Address": ip.to_string()})),
                "Links": null,
                "Aliases": live.and_then(|_| aliases(c)),
                "DNSNames": live.and_then(|n| dns_names(r, n, &mode)),
                "MacAddress": mac,
                "NetworkID": live.map(|n| n.network_id.clone()).unwrap_or_default(),
                "EndpointID": live.map(|_| r.id.clone()).unwrap_or_default(),
                "Gateway": gateway,
                "IPAddress": ip,
                "IPPrefixLen": prefix,
                "IPv6Gateway": "",
                "GlobalIPv6Address": "",
                "GlobalIPv6PrefixLen": 0,
            }),
        );
    }
    let on_default = mode == "bridge";
    let pick = |v: String| if on_default { v } else { String::new() };
    json!({
        "Bridge": "",
        "SandboxID": live.map(|_| r.id.clone()).unwrap_or_default(),
        "SandboxKey": live.map(|n| n.netns.display().to_string()).unwrap_or_default(),
        "Ports": ports,
        "Gateway": pick(gateway.clone()),
        "IPAddress": pick(ip.clone()),
        "IPPrefixLen": if on_default { prefix } else { 0 },
        "MacAddress": pick(mac.clone()),
        "Networks": networks,
    })
}

/// `Aliases` as Docker 26+ has it: the `--network-alias`es alone, null without any.
fn aliases(c: &RunConfig) -> Option<Vec<String>> {
    (!c.network_aliases.is_empty()).then(|| c.network_aliases.clone())
}

/// `DNSNames` (Docker 26+): what the embedded DNS answers for the container on a user network
/// (its name, `--network-alias`es and short ID, the names the responder matches); null on the
/// default bridge, which has no name resolution.
fn dns_names(r: &Record, n: &hull_engine::state::NetworkState, mode: &str) -> Option<Vec<String>> {
    (mode != "bridge").then(|| {
        let mut names = n.aliases.clone();
        names.push(r.short_id().to_string());
        names
    })
}

/// `hull port CTR [PRIVATE_PORT[/PROTO]]`, Docker's output: `80/tcp -> 0.0.0.0:8080` per map,
/// or just `0.0.0.0:8080` for the port asked for.
pub fn port(ctx: &Ctx, args: PortArgs) -> Result<u8> {
    let engine = Engine::open(&ctx.root).context("open hull store")?;
    let r = engine.containers.resolve(&args.container)?;
    let maps = live_ports(&r);
    let Some(want) = args.port.as_deref() else {
        for m in &maps {
            println!(
                "{} -> {}:{}",
                port_key(m.container_port, m.proto),
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
            port_key(port, proto),
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

    fn map(host_port: u16, container_port: u16, proto: Proto) -> PortMap {
        PortMap {
            host_ip: [0, 0, 0, 0].into(),
            host_port,
            container_port,
            proto,
        }
    }

    #[test]
    fn ps_ports_read_like_dockers() {
        assert_eq!(displayable_ports(&[], &[]), "");
        assert_eq!(
            displayable_ports(&[map(8080, 80, Proto::Tcp)], &[]),
            "0.0.0.0:8080->80/tcp"
        );
        // Exposed, not published; consecutive ones merged per protocol.
        assert_eq!(
            displayable_ports(
                &[],
                &[
                    (81, Proto::Tcp),
                    (80, Proto::Tcp),
                    (53, Proto::Udp),
                    (83, Proto::Tcp)
                ]
            ),
            "80-81/tcp, 53/udp, 83/tcp"
        );
        // Same host and container ports merge; other maps stay one by one, after the groups.
        let maps = [
            map(8001, 8001, Proto::Tcp),
            map(8000, 8000, Proto::Tcp),
            map(9000, 80, Proto::Tcp),
            map(9001, 81, Proto::Tcp),
        ];
        assert_eq!(
            displayable_ports(&maps, &[(443, Proto::Tcp)]),
            "443/tcp, 0.0.0.0:8000-8001->8000-8001/tcp, 0.0.0.0:9000->80/tcp, 0.0.0.0:9001->81/tcp"
        );
        // A gap ends a run (finished runs come first, as in Docker); tcp and udp never merge.
        assert_eq!(
            displayable_ports(
                &[
                    map(53, 53, Proto::Udp),
                    map(53, 53, Proto::Tcp),
                    map(55, 55, Proto::Tcp)
                ],
                &[]
            ),
            "0.0.0.0:53->53/tcp, 0.0.0.0:55->55/tcp, 0.0.0.0:53->53/udp"
        );
    }

    fn running_on(network: &str, opts: hull_engine::run::RunOptions) -> Record {
        Record {
            id: "4f2a9c1b7e3d".to_string() + &"0".repeat(52),
            name: "web".into(),
            image: "busybox".into(),
            image_id: "sha256:00".into(),
            created: "2026-01-01T00:00:00Z".into(),
            command: vec!["true".into()],
            config: RunConfig::from_options(&opts, &hull_engine::run::RealHost).unwrap(),
            state: hull_engine::state::State {
                status: Status::Running,
                network: Some(hull_engine::state::NetworkState {
                    network: network.into(),
                    network_id: "n".repeat(64),
                    ip: [10, 1, 0, 9].into(),
                    gateway: [10, 1, 0, 1].into(),
                    prefix_len: 24,
                    mac: "02:42:0a:01:00:09".into(),
                    aliases: vec!["web".into(), "api".into()],
                    ports: Vec::new(),
                    netns: "/proc/1/ns/net".into(),
                }),
                ..Default::default()
            },
        }
    }

    #[test]
    fn endpoints_show_ipam_config_aliases_and_dns_names() {
        let r = running_on(
            "back",
            hull_engine::run::RunOptions {
                image: "x".into(),
                network: Some("back".into()),
                ip: Some("10.1.0.9".into()),
                network_aliases: vec!["api".into()],
                ..Default::default()
            },
        );
        let ep = &network_settings(&r)["Networks"]["back"];
        assert_eq!(ep["IPAMConfig"], json!({"IPv4Address": "10.1.0.9"}));
        assert_eq!(ep["Aliases"], json!(["api"]));
        assert_eq!(ep["DNSNames"], json!(["web", "api", "4f2a9c1b7e3d"]));
        assert_eq!(ep["EndpointID"], json!(r.id));
        assert_eq!(ep["NetworkID"], json!("n".repeat(64)));
        assert_eq!(ep["IPPrefixLen"], 24);
        assert_eq!(ep["Gateway"], "10.1.0.1");
        let plain = running_on(
            "bridge",
            hull_engine::run::RunOptions {
                image: "x".into(),
                ..Default::default()
            },
        );
        let ep = &network_settings(&plain)["Networks"]["bridge"];
        assert_eq!(ep["IPAMConfig"], Value::Null);
        assert_eq!(ep["Aliases"], Value::Null);
        assert_eq!(ep["DNSNames"], Value::Null);
    }

    #[test]
    fn private_ports_parse_with_a_default_protocol() {
        assert_eq!(parse_private_port("80").unwrap(), (80, Proto::Tcp));
        assert_eq!(parse_private_port("53/udp").unwrap(), (53, Proto::Udp));
        assert!(parse_private_port("53/sctp").is_err());
        assert!(parse_private_port("x").is_err());
    }

    #[test]
    fn bindings_leave_random_and_any_empty() {
        let opts = hull_engine::run::RunOptions {
            image: "x".into(),
            publish: vec!["8080:80".into(), "127.0.0.1::53/udp".into()],
            ..Default::default()
        };
        let c = RunConfig::from_options(&opts, &hull_engine::run::RealHost).unwrap();
        let b = port_bindings(&c);
        assert_eq!(b["80/tcp"][0], json!({"HostIp": "", "HostPort": "8080"}));
        assert_eq!(
            b["53/udp"][0],
            json!({"HostIp": "127.0.0.1", "HostPort": ""})
        );
    }
}
