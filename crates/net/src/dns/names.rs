//! The names the responder answers itself: for each user network the container is on, every
//! endpoint's aliases (the container's name and its `--network-alias`es, as the run path
//! records them in the lease) and its short ID, bare or qualified with the network's name
//! (`web` and `web.mynet`), compared without case and without a trailing dot, as Docker does.
//! Reverse lookups (PTR) of those endpoints' addresses answer `<name>.<network>`.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use crate::ipam::Lease;

/// The endpoints of one network, as the responder sees them for one query.
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    pub network: &'a str,
    pub leases: &'a BTreeMap<String, Lease>,
}

/// Docker's short container ID: the first 12 characters of the owner key.
const SHORT_ID: usize = 12;

fn normalize(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// The names an endpoint answers to (lowercase), its preferred name first.
fn names_of<'a>(owner: &'a str, lease: &'a Lease) -> impl Iterator<Item = String> + 'a {
    let short = owner.get(..SHORT_ID).unwrap_or(owner);
    lease
        .aliases
        .iter()
        .map(|a| a.to_ascii_lowercase())
        .chain(std::iter::once(short.to_ascii_lowercase()))
}

/// The addresses `name` stands for on the scopes' networks, in lease order without
/// duplicates; None when the name is not one of ours (the query is then forwarded).
pub fn addresses(name: &str, scopes: &[Scope<'_>]) -> Option<Vec<Ipv4Addr>> {
    let name = normalize(name);
    let mut out: Vec<Ipv4Addr> = Vec::new();
    for scope in scopes {
        let suffix = format!(".{}", scope.network.to_ascii_lowercase());
        let bare = name.strip_suffix(&suffix);
        for (owner, lease) in scope.leases {
            let hit = names_of(owner, lease).any(|n| n == name || Some(n.as_str()) == bare);
            if hit && !out.contains(&lease.ip) {
                out.push(lease.ip);
            }
        }
    }
    (!out.is_empty()).then_some(out)
}

/// The address of a reverse name `d.c.b.a.in-addr.arpa`.
pub fn reverse_address(name: &str) -> Option<Ipv4Addr> {
    let name = normalize(name);
    let rest = name.strip_suffix(".in-addr.arpa")?;
    let mut octets = [0u8; 4];
    let mut parts = rest.split('.');
    for o in octets.iter_mut().rev() {
        *o = parts.next()?.parse().ok()?;
    }
    parts.next().is_none().then(|| Ipv4Addr::from(octets))
}

/// The name for a reverse lookup of one of the scopes' endpoints: `<name>.<network>`.
pub fn pointer(name: &str, scopes: &[Scope<'_>]) -> Option<String> {
    let ip = reverse_address(name)?;
    scopes.iter().find_map(|scope| {
        scope
            .leases
            .iter()
            .find(|(_, l)| l.ip == ip)
            .and_then(|(owner, lease)| names_of(owner, lease).next())
            .map(|n| format!("{n}.{}", scope.network))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lease(ip: [u8; 4], aliases: &[&str]) -> Lease {
        Lease {
            ip: Ipv4Addr::from(ip),
            host_veth: String::new(),
            ports: Vec::new(),
            aliases: aliases.iter().map(|a| a.to_string()).collect(),
            mac: String::new(),
        }
    }

    fn net1() -> BTreeMap<String, Lease> {
        let mut m = BTreeMap::new();
        m.insert(
            "0123456789abcdef0123".to_string(),
            lease([10, 0, 0, 2], &["web", "Frontend"]),
        );
        m.insert(
            "fedcba9876543210aaaa".to_string(),
            lease([10, 0, 0, 3], &["db"]),
        );
        m
    }

    #[test]
    fn names_match_without_case_or_trailing_dot() {
        let leases = net1();
        let scopes = [Scope {
            network: "net1",
            leases: &leases,
        }];
        let web = Some(vec![Ipv4Addr::new(10, 0, 0, 2)]);
        for name in [
            "web",
            "WEB",
            "web.",
            "frontend",
            "FrontEnd.",
            "0123456789ab",
        ] {
            assert_eq!(addresses(name, &scopes), web, "{name}");
        }
        assert_eq!(
            addresses("db", &scopes),
            Some(vec![Ipv4Addr::new(10, 0, 0, 3)])
        );
    }

    #[test]
    fn names_qualified_with_the_network_match() {
        let leases = net1();
        let scopes = [Scope {
            network: "net1",
            leases: &leases,
        }];
        assert_eq!(
            addresses("web.net1", &scopes),
            Some(vec![Ipv4Addr::new(10, 0, 0, 2)])
        );
        assert_eq!(addresses("Web.Net1.", &scopes), addresses("web", &scopes));
        assert_eq!(addresses("web.net2", &scopes), None);
    }

    #[test]
    fn other_names_are_not_ours() {
        let leases = net1();
        let scopes = [Scope {
            network: "net1",
            leases: &leases,
        }];
        for name in [
            "example.com",
            "we",
            "0123456789abcdef0123",
            "0123456789a",
            "",
        ] {
            assert_eq!(addresses(name, &scopes), None, "{name}");
        }
        assert_eq!(addresses("web", &[]), None, "no user network, no names");
    }

    #[test]
    fn a_shared_alias_answers_every_address_once() {
        let mut a = net1();
        a.insert("cccccccccccccccc".into(), lease([10, 0, 0, 4], &["web"]));
        let mut b = BTreeMap::new();
        b.insert(
            "0123456789abcdef0123".to_string(),
            lease([10, 0, 0, 2], &["web"]),
        );
        let scopes = [
            Scope {
                network: "a",
                leases: &a,
            },
            Scope {
                network: "b",
                leases: &b,
            },
        ];
        assert_eq!(
            addresses("web", &scopes),
            Some(vec![Ipv4Addr::new(10, 0, 0, 2), Ipv4Addr::new(10, 0, 0, 4)])
        );
    }

    #[test]
    fn reverse_names_answer_the_endpoint() {
        let leases = net1();
        let scopes = [Scope {
            network: "net1",
            leases: &leases,
        }];
        assert_eq!(
            reverse_address("2.0.0.10.in-addr.arpa."),
            Some(Ipv4Addr::new(10, 0, 0, 2))
        );
        assert_eq!(
            pointer("2.0.0.10.in-addr.arpa", &scopes).as_deref(),
            Some("web.net1")
        );
        assert_eq!(pointer("9.0.0.10.in-addr.arpa", &scopes), None);
        assert_eq!(reverse_address("1.2.3.in-addr.arpa"), None);
        assert_eq!(reverse_address("5.1.2.3.4.in-addr.arpa"), None);
        assert_eq!(reverse_address("300.0.0.10.in-addr.arpa"), None);
    }
}
