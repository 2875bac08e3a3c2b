//! Networks as Docker shows them: `network inspect`'s document (for hull's networks and the
//! pre-defined `host` and `none`) and a container's `NetworkSettings`.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::run::NetworkMode;
use crate::state::NetworkState;
use crate::state::{Record, Status};
use hull_net::store::DEFAULT_NETWORK;
use hull_net::{store_tag, Network, NetworkError, Networks};

/// Docker's pre-defined networks besides `bridge`: `host` (the host's network namespace) and
/// `none` (loopback only). They are network modes, not records in the store: listed,
/// inspected, never created or removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Predefined {
    Host,
    None,
}

impl Predefined {
    pub const ALL: [Predefined; 2] = [Predefined::Host, Predefined::None];

    pub fn name(self) -> &'static str {
        match self {
            Predefined::Host => "host",
            Predefined::None => "none",
        }
    }

    pub fn driver(self) -> &'static str {
        match self {
            Predefined::Host => "host",
            Predefined::None => "null",
        }
    }

    pub fn named(name: &str) -> Option<Predefined> {
        Self::ALL.into_iter().find(|p| p.name() == name)
    }

    /// A stable 64-hex ID per store (Docker's are random per daemon).
    pub fn id(self, root: &Path) -> String {
        use sha2::{Digest, Sha256};
        let seed = format!(
            "hull predefined network {} {}",
            self.name(),
            store_tag(root)
        );
        hex::encode(Sha256::digest(seed.as_bytes()))
    }

    /// By name, full ID or an ID prefix (as Docker resolves networks).
    pub fn resolve(root: &Path, name_or_id: &str) -> Option<Predefined> {
        Self::named(name_or_id).or_else(|| {
            Self::ALL
                .into_iter()
                .find(|p| name_or_id.len() >= 3 && p.id(root).starts_with(name_or_id))
        })
    }

    pub fn document(self, root: &Path, created: &str) -> NetworkDoc {
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

/// `network inspect`'s document for a network named by name, full ID or ID prefix: a
/// pre-defined one (dated like the default bridge) or one of the store's.
pub fn inspect(root: &Path, nets: &Networks, name: &str) -> Result<NetworkDoc, NetworkError> {
    match Predefined::resolve(root, name) {
        Some(p) => nets
            .get(DEFAULT_NETWORK)
            .map(|bridge| p.document(root, &bridge.created)),
        None => nets.get(name).and_then(|n| document(nets, &n)),
    }
}

/// `network inspect`'s document, its keys in Docker's order (serde keeps a struct's field
/// order; a `json!` map would sort them).
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkDoc {
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

pub fn document(nets: &Networks, n: &Network) -> Result<NetworkDoc, NetworkError> {
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
        labels: n.labels.clone(),
    })
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
    for m in super::ports::live_ports(r) {
        super::ports::push(
            &mut ports,
            super::ports::port_key(m.container_port, m.proto),
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
                "Aliases": aliases(r, &mode),
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
    if live.is_some() {
        for n in &r.state.extra_attachments {
            networks.insert(n.network.clone(), extra_endpoint(r, n));
        }
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

/// A network `network connect` added while the container runs.
fn extra_endpoint(r: &Record, n: &NetworkState) -> Value {
    let mut aliases: Vec<String> = n
        .aliases
        .iter()
        .filter(|a| **a != r.name)
        .cloned()
        .collect();
    if n.network != "bridge" {
        aliases.push(r.short_id().to_string());
    }
    json!({
        "IPAMConfig": null,
        "Links": null,
        "Aliases": (!aliases.is_empty()).then_some(aliases),
        "DNSNames": dns_names(r, n, &n.network),
        "MacAddress": n.mac,
        "NetworkID": n.network_id,
        "EndpointID": format!("{}-{}", r.id, n.network),
        "Gateway": n.gateway.to_string(),
        "IPAddress": n.ip.to_string(),
        "IPPrefixLen": n.prefix_len,
        "IPv6Gateway": "",
        "GlobalIPv6Address": "",
        "GlobalIPv6PrefixLen": 0,
    })
}

/// `Aliases` as dockerd 20.10 (API 1.41) shows it: the `--network-alias`es, and on a
/// user-defined network the container's short ID too; null when that leaves none. Compose 1.29
/// reads the short ID there as "already connected with its aliases" (else it disconnects and
/// reconnects a created container before starting it).
fn aliases(r: &Record, mode: &str) -> Option<Vec<String>> {
    let mut out = r.config.network_aliases.clone();
    if mode != "bridge" {
        out.push(r.short_id().to_string());
    }
    (!out.is_empty()).then_some(out)
}

/// `DNSNames` (Docker 26+): what the embedded DNS answers for the container on a user network
/// (its name, `--network-alias`es and short ID, the names the responder matches); null on the
/// default bridge, which has no name resolution.
fn dns_names(r: &Record, n: &NetworkState, mode: &str) -> Option<Vec<String>> {
    (mode != "bridge").then(|| {
        let mut names = n.aliases.clone();
        names.push(r.short_id().to_string());
        names
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::RunOptions;
    use crate::state::record::test_record;
    use crate::state::State;

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

    fn running_on(network: &str, opts: RunOptions) -> Record {
        Record {
            image: "busybox".into(),
            command: vec!["true".into()],
            state: State {
                status: Status::Running,
                network: Some(NetworkState {
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
            ..test_record(opts)
        }
    }

    #[test]
    fn endpoints_show_ipam_config_aliases_and_dns_names() {
        let r = running_on(
            "back",
            RunOptions {
                image: "x".into(),
                network: Some("back".into()),
                ip: Some("10.1.0.9".into()),
                network_aliases: vec!["api".into()],
                ..Default::default()
            },
        );
        let ep = &network_settings(&r)["Networks"]["back"];
        assert_eq!(ep["IPAMConfig"], json!({"IPv4Address": "10.1.0.9"}));
        assert_eq!(ep["Aliases"], json!(["api", "4f2a9c1b7e3d"]));
        assert_eq!(ep["DNSNames"], json!(["web", "api", "4f2a9c1b7e3d"]));
        assert_eq!(ep["EndpointID"], json!(r.id));
        assert_eq!(ep["NetworkID"], json!("n".repeat(64)));
        assert_eq!(ep["IPPrefixLen"], 24);
        assert_eq!(ep["Gateway"], "10.1.0.1");
        let plain = running_on(
            "bridge",
            RunOptions {
                image: "x".into(),
                ..Default::default()
            },
        );
        let ep = &network_settings(&plain)["Networks"]["bridge"];
        assert_eq!(ep["IPAMConfig"], Value::Null);
        assert_eq!(ep["Aliases"], Value::Null);
        assert_eq!(ep["DNSNames"], Value::Null);
    }
}
