//! Other claims on a network's subnet. Another engine may take it after hull chose it: podman's
//! first `run` puts 10.88.0.1/16 on cni-podman0, Docker puts 172.17.0.1/16 on docker0, a VPN
//! adds a route. Two routes for one subnet break both sides without an error anywhere, so the
//! subnet is checked against the host's routes and link addresses again each time an endpoint
//! is reserved, before the bridge comes up (see [`recheck`]).

use std::path::Path;

use super::store::{Network, Networks, DEFAULT_NETWORK};
use super::subnet::{self, Subnet};
use super::{netlink, nl, NetworkError};

/// Another interface's route or address that overlaps a subnet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub iface: String,
    pub subnet: Subnet,
}

/// Every route of the main table and every link address on the host, as claims.
pub fn host_claims() -> Result<Vec<Claim>, NetworkError> {
    let mut out: Vec<Claim> = subnet::host_routes_by_iface()
        .into_iter()
        .map(|(iface, subnet)| Claim { iface, subnet })
        .collect();
    let mut h = netlink::Netlink::open().map_err(nl("open socket for", "addresses"))?;
    // Addresses first, links second: a link made between the two dumps (a parallel run bringing
    // this very network's bridge up) is then named, not mistaken for a stranger. An address
    // whose link is gone by the second dump went with it.
    let addrs = h.ipv4_addresses().map_err(nl("list", "addresses"))?;
    let links = h.links().map_err(nl("list", "links"))?;
    for (index, ip, prefix) in addrs {
        let Some(subnet) = Subnet::new(ip, prefix) else {
            continue;
        };
        if let Some(link) = links.iter().find(|l| l.index == index) {
            out.push(Claim {
                iface: link.name.clone(),
                subnet,
            });
        }
    }
    Ok(out)
}

/// The claims among `all` that overlap `subnet` and are not on `own` (the network's bridge).
pub fn others_on(all: &[Claim], subnet: &Subnet, own: &str) -> Vec<Claim> {
    let mut out: Vec<Claim> = Vec::new();
    for c in all {
        if c.iface != own && c.subnet.overlaps(subnet) && !out.iter().any(|o| o.iface == c.iface) {
            out.push(c.clone());
        }
    }
    out
}

/// Checks `net`'s subnet against the host once more; the caller holds the store's ports lock,
/// so no endpoint is reserved meanwhile. When another interface now claims it:
/// - the default network without endpoints moves to a free subnet (its bridge and rules of the
///   old one are removed first) and says so in one line on stderr. With endpoints it cannot
///   move: their addresses are in running containers. (Stopped containers hold no lease; they
///   get an address of the new subnet at their next start.)
/// - a user network, or the default one in use, is an error naming the other interface.
pub fn recheck(root: &Path, nets: &Networks, net: Network) -> Result<Network, NetworkError> {
    let others = others_on(&host_claims()?, &net.subnet, &net.bridge);
    let Some(first) = others.first() else {
        return Ok(net);
    };
    let taken = format!(
        "network {}: subnet {} is now also routed via {}",
        net.name, net.subnet, first.iface
    );
    if net.name != DEFAULT_NETWORK {
        return Err(NetworkError::Conflict(format!(
            "{taken}; remove one of them"
        )));
    }
    let _host = super::host_lock(nets, &net)?;
    if !nets.ipam(&net).leases()?.is_empty() {
        return Err(NetworkError::Conflict(format!(
            "{taken}; remove one of them (hull moves its default network once no container uses it)"
        )));
    }
    super::remove_host_side(root, &net)?;
    let avoid: Vec<Subnet> = others.iter().map(|c| c.subnet).collect();
    let moved = nets.readdress(&net, &avoid)?;
    eprintln!("hull: {taken}; moved it to {}", moved.subnet);
    Ok(moved)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claim(iface: &str, s: &str) -> Claim {
        Claim {
            iface: iface.into(),
            subnet: s.parse().unwrap(),
        }
    }

    #[test]
    fn others_skip_the_own_bridge_and_name_each_interface_once() {
        let all = vec![
            claim("hull0", "10.87.0.0/16"),
            claim("cni-podman0", "10.87.0.0/16"),
            claim("cni-podman0", "10.87.0.1/16"),
            claim("eth0", "192.0.2.0/24"),
            claim("tun0", "10.87.4.0/24"),
        ];
        let s: Subnet = "10.87.0.0/16".parse().unwrap();
        assert_eq!(
            others_on(&all, &s, "hull0"),
            vec![
                claim("cni-podman0", "10.87.0.0/16"),
                claim("tun0", "10.87.4.0/24")
            ]
        );
        assert!(others_on(&all[..1], &s, "hull0").is_empty());
    }
}
