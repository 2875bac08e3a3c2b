//! IPv4 subnets: parsing, overlap, host routes, and picking a free private pool.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// An IPv4 network in CIDR form, always stored with its host bits cleared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Subnet {
    pub addr: Ipv4Addr,
    pub prefix: u8,
}

impl Subnet {
    pub fn new(addr: Ipv4Addr, prefix: u8) -> Option<Subnet> {
        (prefix <= 32).then(|| Subnet {
            addr: Ipv4Addr::from(u32::from(addr) & mask(prefix)),
            prefix,
        })
    }

    pub fn network(&self) -> u32 {
        u32::from(self.addr)
    }

    pub fn broadcast(&self) -> u32 {
        self.network() | !mask(self.prefix)
    }

    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & mask(self.prefix) == self.network()
    }

    pub fn overlaps(&self, other: &Subnet) -> bool {
        let p = self.prefix.min(other.prefix);
        self.network() & mask(p) == other.network() & mask(p)
    }

    /// The first usable address, the conventional gateway (x.x.x.1 for a /16).
    pub fn first_host(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.network() + 1)
    }
}

fn mask(prefix: u8) -> u32 {
    if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix))
    }
}

impl fmt::Display for Subnet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl FromStr for Subnet {
    type Err = String;
    fn from_str(s: &str) -> Result<Subnet, String> {
        let (a, p) = s
            .split_once('/')
            .ok_or_else(|| format!("invalid subnet {s:?}: want CIDR like 10.1.0.0/16"))?;
        let addr: Ipv4Addr = a
            .parse()
            .map_err(|_| format!("invalid subnet {s:?}: bad IPv4 address"))?;
        let prefix: u8 = p
            .parse()
            .ok()
            .filter(|p| (8..=30).contains(p))
            .ok_or_else(|| format!("invalid subnet {s:?}: prefix must be 8..30"))?;
        Subnet::new(addr, prefix).ok_or_else(|| format!("invalid subnet {s:?}"))
    }
}

impl Serialize for Subnet {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Subnet {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Subnet, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

// Where hull's subnets come from, chosen to miss what the other engines on a host take first:
// - Docker: docker0 on 172.17.0.0/16, user networks on 172.18-31.0.0/16, then 192.168.0.0/16
//   in /20s (its default address pools);
// - podman 4: its default network on 10.88.0.0/16 (cni-podman0 or podman0), user networks in
//   /24s from 10.89.0.0 up to 10.255.255.0;
// - CRI-O's default bridge 10.85.0.0/16; k3s 10.42-43.0.0/16; Kubernetes services 10.96.0.0/12
//   and flannel 10.244.0.0/16 (inside podman's range anyway).
// 10.64.0.0/12 (10.64-79) and 10.80-87 (but 10.85) are in none of them, nor is 172.16.0.0/16
// (Docker's pools begin at 172.17), the last resort for a host that routes all of 10.0.0.0/8
// (a VPN). The host's routes and addresses are checked as well, each time an endpoint is
// reserved (see `claims`).

/// The default network's candidates: 10.87.0.0/16 first, then the /16s below it but CRI-O's.
pub fn default_pools() -> Vec<Subnet> {
    [87u8, 86, 84, 83, 82, 81, 80]
        .into_iter()
        .map(|b| Subnet::new(Ipv4Addr::new(10, b, 0, 0), 16).expect("valid"))
        .collect()
}

/// User networks' candidates (`network create` without `--subnet`): 10.64.0.0/12 in /20s,
/// 256 networks of 4094 addresses.
pub fn user_pools() -> Vec<Subnet> {
    (0u32..256)
        .map(|i| {
            let base = u32::from(Ipv4Addr::new(10, 64, 0, 0)) + (i << 12);
            Subnet::new(Ipv4Addr::from(base), 20).expect("valid")
        })
        .collect()
}

/// The last resort of both: 172.16.0.0/16 in /20s.
pub fn fallback_pools() -> Vec<Subnet> {
    (0u8..16)
        .map(|i| Subnet::new(Ipv4Addr::new(172, 16, i << 4, 0), 20).expect("valid"))
        .collect()
}

/// The first candidate that overlaps none of `taken`.
pub fn first_free(candidates: &[Subnet], taken: &[Subnet]) -> Option<Subnet> {
    candidates
        .iter()
        .find(|c| !taken.iter().any(|t| t.overlaps(c)))
        .copied()
}

/// The IPv4 routes of the host's main table (from /proc/net/route), default route excluded:
/// a new network must not shadow any of them.
pub fn host_routes() -> Vec<Subnet> {
    host_routes_by_iface().into_iter().map(|(_, s)| s).collect()
}

/// [`host_routes`] with the interface of each.
pub fn host_routes_by_iface() -> Vec<(String, Subnet)> {
    std::fs::read_to_string("/proc/net/route")
        .map(|t| parse_proc_net_route(&t))
        .unwrap_or_default()
}

/// Parses /proc/net/route: `Iface Destination Gateway Flags RefCnt Use Metric Mask ...` with
/// the addresses as little-endian hex.
pub fn parse_proc_net_route(text: &str) -> Vec<(String, Subnet)> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let dest = u32::from_str_radix(f.get(1)?, 16).ok()?;
            let m = u32::from_str_radix(f.get(7)?, 16).ok()?;
            // The kernel prints the raw in-memory u32, so its host-order bytes are the address.
            let prefix = m.count_ones() as u8;
            let addr = Ipv4Addr::from(dest.to_ne_bytes());
            let net = (prefix > 0).then(|| Subnet::new(addr, prefix)).flatten()?;
            Some((f.first()?.to_string(), net))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_overlap() {
        let a: Subnet = "10.88.3.4/16".parse().unwrap();
        assert_eq!(a.to_string(), "10.88.0.0/16");
        let b: Subnet = "10.88.200.0/24".parse().unwrap();
        let c: Subnet = "10.89.0.0/16".parse().unwrap();
        assert!(a.overlaps(&b) && b.overlaps(&a));
        assert!(!a.overlaps(&c));
        assert!(a.contains("10.88.255.255".parse().unwrap()));
        assert_eq!(
            Ipv4Addr::from(a.broadcast()),
            Ipv4Addr::new(10, 88, 255, 255)
        );
        assert!("10.0.0.0".parse::<Subnet>().is_err());
        assert!("10.0.0.0/31".parse::<Subnet>().is_err());
    }

    #[test]
    fn proc_net_route_is_little_endian_hex() {
        let text =
            "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n\
eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n\
docker0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n";
        let routes = parse_proc_net_route(text);
        assert_eq!(
            routes,
            vec![
                ("eth0".to_string(), "192.0.2.0/24".parse().unwrap()),
                ("docker0".to_string(), "172.17.0.0/16".parse().unwrap())
            ]
        );
    }

    #[test]
    fn first_free_skips_taken_pools() {
        let taken = vec![
            "10.87.0.0/16".parse().unwrap(),
            "10.86.5.0/24".parse().unwrap(),
        ];
        assert_eq!(
            first_free(&default_pools(), &taken),
            Some("10.84.0.0/16".parse().unwrap())
        );
    }

    #[test]
    fn pools_miss_docker_podman_and_cri_o_defaults() {
        let others: Vec<Subnet> = [
            "172.17.0.0/16", // Docker's docker0, then its user networks to 172.31
            "172.18.0.0/15",
            "172.20.0.0/14",
            "172.24.0.0/13",
            "192.168.0.0/16", // Docker's second pool
            "10.88.0.0/13",   // podman: 10.88 default, 10.89-95 user networks
            "10.96.0.0/11",   // podman's user networks, Kubernetes services
            "10.128.0.0/9",   // podman's user networks, up to 10.255
            "10.85.0.0/16",   // CRI-O
            "10.42.0.0/15",   // k3s
        ]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
        let all: Vec<Subnet> = default_pools()
            .into_iter()
            .chain(user_pools())
            .chain(fallback_pools())
            .collect();
        for s in &all {
            assert!(
                !others.iter().any(|o| o.overlaps(s)),
                "{s} is another engine's"
            );
        }
        for (i, a) in all.iter().enumerate() {
            assert!(!all[i + 1..].iter().any(|b| b.overlaps(a)), "{a} twice");
        }
        assert_eq!(user_pools()[1].to_string(), "10.64.16.0/20");
        assert_eq!(user_pools()[255].to_string(), "10.79.240.0/20");
        assert_eq!(default_pools()[0].to_string(), "10.87.0.0/16");
        assert_eq!(fallback_pools()[15].to_string(), "172.16.240.0/20");
    }
}
