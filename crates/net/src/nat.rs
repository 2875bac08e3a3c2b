//! A network's host-side NAT and filtering: masquerade for traffic leaving the subnet through
//! any other interface, isolation from the other hull bridges, and IPv4 forwarding.

use std::path::Path;

use super::firewall::{self, Chain, Match, Rule, Verdict};
use super::subnet::Subnet;
use super::NetworkError;

/// The rules of one network:
/// - masquerade what leaves the subnet through any interface but its bridge (outbound NAT);
/// - masquerade 127.0.0.0/8 sources going out the bridge: a published port reached on
///   127.0.0.1 is DNATed in `output`, and the container must be able to answer it (the
///   bridge also gets route_localnet=1, see [`enable_localnet`]);
/// - isolation: forwarding from this bridge to itself returns (bridged traffic seen with
///   br_netfilter), to any other hull bridge is dropped.
pub fn network_rules(bridge: &str, subnet: &Subnet) -> Vec<Rule> {
    let br = || bridge.to_string();
    vec![
        Rule::new(
            Chain::Postrouting,
            vec![Match::SourceNet(*subnet), Match::NotOutIface(br())],
            Verdict::Masquerade,
        ),
        Rule::new(
            Chain::Postrouting,
            vec![
                Match::SourceNet(Subnet::new([127, 0, 0, 0].into(), 8).expect("valid")),
                Match::OutIface(br()),
            ],
            Verdict::Masquerade,
        ),
        Rule::new(
            Chain::Forward,
            vec![Match::InIface(br()), Match::OutIface(br())],
            Verdict::Return,
        ),
        Rule::new(
            Chain::Forward,
            vec![Match::InIface(br()), Match::OutIfacePrefix("hull".into())],
            Verdict::Drop,
        ),
    ]
}

/// Installs the network's rules once and turns on forwarding.
pub fn apply(tag: &str, bridge: &str, subnet: &Subnet) -> Result<(), NetworkError> {
    firewall::add_once(tag, &network_rules(bridge, subnet))?;
    enable_localnet(bridge)?;
    enable_forwarding()
}

const FORWARD: &str = "/proc/sys/net/ipv4/ip_forward";
/// Marks that hull (not the admin) turned forwarding on; /run is reset with the sysctl at boot.
const FORWARD_MARK: &str = "/run/hull/ip_forward.enabled-by-hull";

/// Turns net.ipv4.ip_forward on when it is off, and records that hull did it.
pub fn enable_forwarding() -> Result<(), NetworkError> {
    let cur = std::fs::read_to_string(FORWARD).map_err(io("read", FORWARD))?;
    if cur.trim() == "1" {
        return Ok(());
    }
    std::fs::create_dir_all("/run/hull").map_err(io("create", "/run/hull"))?;
    std::fs::write(FORWARD_MARK, b"1\n").map_err(io("write", FORWARD_MARK))?;
    std::fs::write(FORWARD, b"1\n").map_err(io("write", FORWARD))
}

/// Turns forwarding back off if hull turned it on, hull's table is gone (no network left) and
/// no other engine's bridge is there: dockerd or podman started after hull found forwarding on
/// (hull's doing) and left it so; their containers need it still. The mark stays then, so a
/// later call turns it off once the other bridge is gone.
pub fn restore_forwarding() -> Result<(), NetworkError> {
    if !Path::new(FORWARD_MARK).exists() || firewall::any_rules()? {
        return Ok(());
    }
    if foreign_bridge().is_some() {
        return Ok(()); // docker0, cni-podman0, virbr0: forwarding is theirs too now
    }
    std::fs::write(FORWARD, b"0\n").map_err(io("write", FORWARD))?;
    // Another store's last network may have gone at the same moment and taken the mark first.
    match std::fs::remove_file(FORWARD_MARK) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io("remove", FORWARD_MARK)(e)),
        _ => Ok(()),
    }
}

/// A bridge on the host that is not hull's (every hull bridge's name starts with `hull`).
fn foreign_bridge() -> Option<String> {
    std::fs::read_dir("/sys/class/net")
        .ok()?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .find(|n| {
            !n.starts_with("hull") && Path::new("/sys/class/net").join(n).join("bridge").is_dir()
        })
}

/// route_localnet=1 on the bridge: lets packets with a 127.0.0.0/8 source (DNATed from a
/// host-local connection to 127.0.0.1:PORT) be routed out of it instead of dropped as martians.
pub fn enable_localnet(bridge: &str) -> Result<(), NetworkError> {
    let path = format!("/proc/sys/net/ipv4/conf/{bridge}/route_localnet");
    std::fs::write(&path, b"1\n").map_err(io("write", &path))
}

fn io(op: &'static str, path: &str) -> impl FnOnce(std::io::Error) -> NetworkError {
    let path = path.into();
    move |source| NetworkError::Io { op, path, source }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn network_rules_masquerade_and_isolate() {
        let s: Subnet = "10.90.0.0/16".parse().unwrap();
        let text: String = network_rules("hull-n1", &s)
            .iter()
            .map(|r| super::super::nft::render(r, "t"))
            .collect();
        assert!(
            text.contains("postrouting ip saddr 10.90.0.0/16 oifname != \"hull-n1\" masquerade"),
            "{text}"
        );
        assert!(text.contains("ip saddr 127.0.0.0/8 oifname \"hull-n1\" masquerade"));
        assert!(text.contains("forward iifname \"hull-n1\" oifname \"hull-n1\" return"));
        assert!(text.contains("forward iifname \"hull-n1\" oifname \"hull*\" drop"));
        let ret = text.find(" return ").unwrap();
        assert!(
            ret < text.find(" drop ").unwrap(),
            "return must come before drop"
        );
    }
}
