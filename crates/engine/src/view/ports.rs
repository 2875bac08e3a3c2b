//! A container's ports as Docker shows them: the `ps` PORTS column, `HostConfig.PortBindings`,
//! and the live maps `NetworkSettings.Ports` and `hull port` read.

use serde_json::{json, Map, Value};

use crate::run::netopts::exposed_to_map;
use crate::run::RunConfig;
use crate::state::{Record, Status};
use hull_net::{PortMap, Proto};

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
        .filter_map(|e| exposed_to_map(e))
        .map(|m| (m.container_port, m.proto))
        .filter(|(p, proto)| {
            !maps
                .iter()
                .any(|m| m.container_port == *p && m.proto == *proto)
        })
        .collect();
    displayable_ports(&maps, &exposed)
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

/// The maps a container publishes while it runs (none once it stops).
pub fn live_ports(r: &Record) -> Vec<PortMap> {
    match (&r.state.network, r.state.status) {
        (Some(n), Status::Running) => n.ports.clone(),
        _ => Vec::new(),
    }
}

/// `80/tcp`: how Docker keys a port in its maps and prints it.
pub fn port_key(port: u16, proto: Proto) -> String {
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

/// Appends `v` to the list under `key`, making the list on first use.
pub(super) fn push(out: &mut Map<String, Value>, key: String, v: Value) {
    match out.get_mut(&key).and_then(Value::as_array_mut) {
        Some(list) => list.push(v),
        None => {
            out.insert(key, json!([v]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::{RealHost, RunOptions};

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

    #[test]
    fn bindings_leave_random_and_any_empty() {
        let opts = RunOptions {
            image: "x".into(),
            publish: vec!["8080:80".into(), "127.0.0.1::53/udp".into()],
            ..Default::default()
        };
        let c = RunConfig::from_options(&opts, &RealHost).unwrap();
        let b = port_bindings(&c);
        assert_eq!(b["80/tcp"][0], json!({"HostIp": "", "HostPort": "8080"}));
        assert_eq!(
            b["53/udp"][0],
            json!({"HostIp": "127.0.0.1", "HostPort": ""})
        );
    }
}
