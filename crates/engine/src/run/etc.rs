//! The per-container /etc/hostname, /etc/hosts and /etc/resolv.conf, generated as text (pure) and
//! bind-mounted over the image's files by the spec.

use std::net::IpAddr;

/// Docker's /etc/hosts for a container without a bridge address: loopback names, the IPv6
/// well-known names, then `--add-host` entries.
pub fn hosts(add_hosts: &[(String, String)]) -> String {
    let mut out = String::from(
        "127.0.0.1\tlocalhost\n\
         ::1\tlocalhost ip6-localhost ip6-loopback\n\
         fe00::0\tip6-localnet\n\
         ff00::0\tip6-mcastprefix\n\
         ff02::1\tip6-allnodes\n\
         ff02::2\tip6-allrouters\n",
    );
    out.push_str(&hosts_entries(add_hosts));
    out
}

/// Docker's /etc/hosts for a container with an address: loopback and IPv6 names, the
/// container's own `<ip>\t<hostname>`, then `--add-host` entries.
pub fn hosts_with_ip(add_hosts: &[(String, String)], ip: IpAddr, hostname: &str) -> String {
    let mut out = hosts(&[]);
    out.push_str(&format!("{ip}\t{hostname}\n"));
    out.push_str(&hosts_entries(add_hosts));
    out
}

/// `--add-host` entries as hosts lines.
pub fn hosts_entries(add_hosts: &[(String, String)]) -> String {
    add_hosts
        .iter()
        .map(|(name, ip)| format!("{ip}\t{name}\n"))
        .collect()
}

/// Docker's fallback resolvers when the host has none that a container can reach.
pub const FALLBACK_NAMESERVERS: [&str; 2] = ["8.8.8.8", "8.8.4.4"];

/// The container's resolv.conf from the host's: nameservers on loopback are unreachable from a
/// new network namespace and are dropped, the public fallback replaces an empty list, and
/// `--dns` replaces the nameservers altogether. Search and options lines are kept.
pub fn resolv_conf(host: &str, dns: &[String]) -> String {
    let mut out = String::new();
    let mut servers = 0;
    for line in host.lines() {
        let mut words = line.split_whitespace();
        if words.next() == Some("nameserver") {
            let reachable = words
                .next()
                .and_then(|ip| ip.parse::<IpAddr>().ok())
                .is_some_and(|ip| !ip.is_loopback());
            if dns.is_empty() && reachable {
                out.push_str(line.trim());
                out.push('\n');
                servers += 1;
            }
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    let extra: Vec<&str> = if dns.is_empty() {
        if servers == 0 {
            FALLBACK_NAMESERVERS.to_vec()
        } else {
            Vec::new()
        }
    } else {
        dns.iter().map(String::as_str).collect()
    };
    for s in extra {
        out.push_str(&format!("nameserver {s}\n"));
    }
    out
}

/// The host's resolv.conf with `--dns-search` and `--dns-option` applied, Docker's way: each
/// given list replaces the host's `search`/`domain` or `options` lines, and a search list of
/// just `.` means no search domains at all. The result feeds [`resolv_conf`] or
/// [`resolv_conf_embedded`].
pub fn with_dns_overrides(host: &str, search: &[String], options: &[String]) -> String {
    let mut out = String::new();
    for line in host.lines() {
        let key = line.split_whitespace().next();
        let replaced = match key {
            Some("search" | "domain") => !search.is_empty(),
            Some("options") => !options.is_empty(),
            _ => false,
        };
        if !replaced {
            out.push_str(line);
            out.push('\n');
        }
    }
    let domains: Vec<&str> = search
        .iter()
        .map(String::as_str)
        .filter(|d| *d != ".")
        .collect();
    if !domains.is_empty() {
        out.push_str(&format!("search {}\n", domains.join(" ")));
    }
    if !options.is_empty() {
        out.push_str(&format!("options {}\n", options.join(" ")));
    }
    out
}

/// The resolv.conf of a container on a user-defined network, Docker's rule for its embedded
/// DNS: the only nameserver is the responder at 127.0.0.11 (which forwards to the host's
/// nameservers, or to `--dns`), the host's search and options lines are kept, and
/// `options ndots:0` is added unless the host sets ndots (container names are bare, and a
/// search domain must not be tried first for them). The default `bridge` network has no
/// embedded DNS and uses [`resolv_conf`].
pub fn resolv_conf_embedded(host: &str) -> String {
    let mut out = String::from("nameserver 127.0.0.11\n");
    let mut ndots = false;
    for line in host.lines() {
        let mut words = line.split_whitespace();
        match words.next() {
            Some("search" | "domain") => {}
            Some("options") => ndots |= words.any(|w| w.starts_with("ndots:")),
            _ => continue,
        }
        out.push_str(line.trim());
        out.push('\n');
    }
    if !ndots {
        out.push_str("options ndots:0\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_search_and_options_replace_the_hosts_lines() {
        let host = "domain corp\nsearch a.example b.example\nnameserver 10.0.0.1\noptions rotate\n";
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(with_dns_overrides(host, &[], &[]), host);
        assert_eq!(
            with_dns_overrides(host, &s(&["x.test"]), &s(&["ndots:2", "timeout:1"])),
            "nameserver 10.0.0.1\nsearch x.test\noptions ndots:2 timeout:1\n"
        );
        assert_eq!(
            with_dns_overrides(host, &s(&["."]), &[]),
            "nameserver 10.0.0.1\noptions rotate\n"
        );
        // Through the embedded rule, a given ndots is kept rather than replaced by ndots:0.
        let embedded = resolv_conf_embedded(&with_dns_overrides(host, &[], &s(&["ndots:3"])));
        assert_eq!(
            embedded,
            "nameserver 127.0.0.11\ndomain corp\nsearch a.example b.example\noptions ndots:3\n"
        );
    }

    #[test]
    fn hosts_has_localhost_then_added_hosts() {
        let h = hosts(&[("db".into(), "10.0.0.2".into())]);
        let lines: Vec<&str> = h.lines().collect();
        assert_eq!(lines[0], "127.0.0.1\tlocalhost");
        assert_eq!(lines[1], "::1\tlocalhost ip6-localhost ip6-loopback");
        assert_eq!(*lines.last().unwrap(), "10.0.0.2\tdb");
    }

    #[test]
    fn hosts_with_ip_names_the_container_after_localhost() {
        let h = hosts_with_ip(
            &[("db".into(), "10.0.0.9".into())],
            "10.88.0.2".parse().unwrap(),
            "abc",
        );
        let lines: Vec<&str> = h.lines().collect();
        assert_eq!(lines[0], "127.0.0.1\tlocalhost");
        assert_eq!(lines[lines.len() - 2], "10.88.0.2\tabc");
        assert_eq!(lines[lines.len() - 1], "10.0.0.9\tdb");
    }

    #[test]
    fn loopback_nameservers_are_dropped_with_fallback() {
        let host = "# generated\nnameserver 127.0.0.53\noptions edns0 trust-ad\nsearch lan\n";
        assert_eq!(
            resolv_conf(host, &[]),
            "# generated\noptions edns0 trust-ad\nsearch lan\nnameserver 8.8.8.8\nnameserver 8.8.4.4\n"
        );
    }

    #[test]
    fn reachable_nameservers_are_kept() {
        let host = "nameserver 10.0.0.1\nnameserver ::1\nnameserver 192.168.1.1\n";
        assert_eq!(
            resolv_conf(host, &[]),
            "nameserver 10.0.0.1\nnameserver 192.168.1.1\n"
        );
        assert_eq!(
            resolv_conf("", &[]),
            "nameserver 8.8.8.8\nnameserver 8.8.4.4\n"
        );
    }

    #[test]
    fn dns_flag_replaces_nameservers() {
        let host = "nameserver 10.0.0.1\nsearch lan\n";
        assert_eq!(
            resolv_conf(host, &["1.1.1.1".into()]),
            "search lan\nnameserver 1.1.1.1\n"
        );
    }

    #[test]
    fn user_networks_name_the_embedded_resolver_only() {
        let host = "# generated\nnameserver 127.0.0.53\nnameserver 10.0.0.1\nsearch lan corp\n\
                    options edns0 trust-ad\n";
        assert_eq!(
            resolv_conf_embedded(host),
            "nameserver 127.0.0.11\nsearch lan corp\noptions edns0 trust-ad\noptions ndots:0\n"
        );
        assert_eq!(
            resolv_conf_embedded("options ndots:2 rotate\n"),
            "nameserver 127.0.0.11\noptions ndots:2 rotate\n",
            "the host's ndots wins"
        );
        assert_eq!(
            resolv_conf_embedded(""),
            "nameserver 127.0.0.11\noptions ndots:0\n"
        );
    }
}
