//! Published ports: DNAT from a host address and port to a container's address and port.
//!
//! - From other hosts: `prerouting`, matching local destination addresses (`fib daddr type
//!   local`) or the one host IP asked for.
//! - From the host itself: the same match in the `output` chain.
//! - Via 127.0.0.1: DNAT alone leaves a 127.0.0.1 source that the container cannot answer and
//!   the kernel will not route; the network's bridge has route_localnet=1 and a masquerade for
//!   127.0.0.0/8 (see `nat`). This was chosen over a userland proxy because it needs no process
//!   per port (hull has no daemon to run one) and keeps the data path in the kernel.
//! - Hairpin (a container reaching itself through its published port): masquerade.

use std::fmt;
use std::net::{Ipv4Addr, TcpListener, UdpSocket};

use serde::{Deserialize, Serialize};

use super::firewall::{self, Chain, Match, Rule, Verdict};
use super::NetworkError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    Tcp,
    Udp,
}

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        })
    }
}

/// `-p host_ip:host_port:container_port/proto`. A host_port of 0 asks for a free one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PortMap {
    pub host_ip: Ipv4Addr,
    pub host_port: u16,
    pub container_port: u16,
    pub proto: Proto,
}

impl fmt::Display for PortMap {
    /// Docker's PORTS column: `0.0.0.0:8080->80/tcp`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}->{}/{}",
            self.host_ip, self.host_port, self.container_port, self.proto
        )
    }
}

impl PortMap {
    /// Whether two maps claim the same host port (an unspecified host IP claims all).
    fn clashes(&self, other: &PortMap) -> bool {
        self.proto == other.proto
            && self.host_port == other.host_port
            && (self.host_ip == other.host_ip
                || self.host_ip.is_unspecified()
                || other.host_ip.is_unspecified())
    }
}

/// Fails with PortInUse when a map's host port is taken: by another of `maps`, by one of hull's
/// own published maps (`published`; DNATed ports have no socket to collide with), or by a host
/// socket (checked by binding it). Changes nothing.
pub fn check_free(maps: &[PortMap], published: &[PortMap]) -> Result<(), NetworkError> {
    for (i, m) in maps.iter().enumerate() {
        let dup = maps[..i].iter().chain(published).any(|o| o.clashes(m));
        if dup {
            return Err(NetworkError::PortInUse { map: m.to_string() });
        }
        try_bind(m)?;
    }
    Ok(())
}

/// Binds the host address and port once and lets go: EADDRINUSE means a host socket has it;
/// any other failure (an address that is not the host's) is bad input.
fn try_bind(m: &PortMap) -> Result<(), NetworkError> {
    let addr = (m.host_ip, m.host_port);
    let bound = match m.proto {
        Proto::Tcp => TcpListener::bind(addr).map(drop),
        Proto::Udp => UdpSocket::bind(addr).map(drop),
    };
    match bound {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
            Err(NetworkError::PortInUse { map: m.to_string() })
        }
        Err(e) => Err(NetworkError::InvalidInput(format!(
            "cannot publish {m}: bind {}:{}: {e}",
            m.host_ip, m.host_port
        ))),
    }
}

/// Replaces host_port 0 with a port the kernel says is free now.
pub fn assign_random(maps: &[PortMap]) -> Result<Vec<PortMap>, NetworkError> {
    maps.iter()
        .map(|m| {
            if m.host_port != 0 {
                return Ok(*m);
            }
            let port = match m.proto {
                Proto::Tcp => TcpListener::bind((m.host_ip, 0)).and_then(|l| l.local_addr()),
                Proto::Udp => UdpSocket::bind((m.host_ip, 0)).and_then(|s| s.local_addr()),
            }
            .map_err(|source| NetworkError::Io {
                op: "pick a free host port on",
                path: m.host_ip.to_string().into(),
                source,
            })?
            .port();
            Ok(PortMap {
                host_port: port,
                ..*m
            })
        })
        .collect()
}

/// The DNAT (and hairpin masquerade) rules for `maps` to `ip`.
pub fn port_rules(ip: Ipv4Addr, maps: &[PortMap]) -> Vec<Rule> {
    let mut out = Vec::new();
    for m in maps {
        let dst = if m.host_ip.is_unspecified() {
            Match::DestLocal
        } else {
            Match::Dest(m.host_ip)
        };
        let matches = vec![dst, Match::DestPort(m.proto, m.host_port)];
        let dnat = Verdict::Dnat(ip, m.container_port);
        out.push(Rule::new(Chain::Prerouting, matches.clone(), dnat.clone()));
        out.push(Rule::new(Chain::Output, matches, dnat));
        out.push(Rule::new(
            Chain::Postrouting,
            vec![
                Match::Source(ip),
                Match::Dest(ip),
                Match::DestPort(m.proto, m.container_port),
            ],
            Verdict::Masquerade,
        ));
    }
    out
}

/// Installs the port maps for `ip`, tagged `tag` (nothing to do for none).
pub fn publish(tag: &str, ip: Ipv4Addr, maps: &[PortMap]) -> Result<(), NetworkError> {
    if maps.is_empty() {
        return Ok(());
    }
    firewall::add_once(tag, &port_rules(ip, maps))
}

/// Removes the port maps tagged `tag`.
pub fn unpublish(tag: &str) -> Result<(), NetworkError> {
    firewall::remove_tag(tag)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(ip: [u8; 4], hp: u16, cp: u16, proto: Proto) -> PortMap {
        PortMap {
            host_ip: ip.into(),
            host_port: hp,
            container_port: cp,
            proto,
        }
    }

    #[test]
    fn rules_dnat_from_outside_and_from_the_host() {
        let r: String = port_rules(
            Ipv4Addr::new(10, 90, 0, 2),
            &[
                map([0, 0, 0, 0], 8080, 80, Proto::Tcp),
                map([127, 0, 0, 1], 5353, 53, Proto::Udp),
            ],
        )
        .iter()
        .map(|r| super::super::nft::render(r, "t"))
        .collect();
        assert!(r.contains("add rule ip hull prerouting fib daddr type local tcp dport 8080 dnat to 10.90.0.2:80 comment \"t\""), "{r}");
        assert!(r.contains(
            "add rule ip hull output fib daddr type local tcp dport 8080 dnat to 10.90.0.2:80"
        ));
        assert!(r.contains("output ip daddr 127.0.0.1 udp dport 5353 dnat to 10.90.0.2:53"));
        assert!(r.contains("ip saddr 10.90.0.2 ip daddr 10.90.0.2 tcp dport 80 masquerade"));
        assert_eq!(
            map([0, 0, 0, 0], 8080, 80, Proto::Tcp).to_string(),
            "0.0.0.0:8080->80/tcp"
        );
    }

    #[test]
    fn a_port_held_by_a_host_socket_or_by_hull_is_in_use() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let err = check_free(&[map([127, 0, 0, 1], port, 80, Proto::Tcp)], &[]).unwrap_err();
        assert!(matches!(err, NetworkError::PortInUse { .. }), "{err}");
        let err = check_free(&[map([0, 0, 0, 0], port, 80, Proto::Tcp)], &[]).unwrap_err();
        assert!(matches!(err, NetworkError::PortInUse { .. }), "{err}");
        drop(l);
        let mine = [map([0, 0, 0, 0], port, 80, Proto::Tcp)];
        assert!(check_free(&[map([127, 0, 0, 1], port, 81, Proto::Tcp)], &mine).is_err());
        assert!(check_free(&[map([127, 0, 0, 1], port, 81, Proto::Udp)], &mine).is_ok());
        let foreign = map([192, 0, 2, 254], 8080, 80, Proto::Tcp);
        let err = check_free(&[foreign], &[]).unwrap_err();
        assert!(matches!(err, NetworkError::InvalidInput(_)), "{err}");
        let twice = [mine[0], mine[0]];
        assert!(
            check_free(&twice, &[]).is_err(),
            "the same port twice in one request"
        );
    }

    #[test]
    fn random_ports_get_assigned() {
        let got = assign_random(&[map([127, 0, 0, 1], 0, 80, Proto::Udp)]).unwrap();
        assert_ne!(got[0].host_port, 0);
    }
}
