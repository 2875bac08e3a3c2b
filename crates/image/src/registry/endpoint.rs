//! Where a registry domain's API lives: the host to contact and whether to use TLS.

use std::net::Ipv4Addr;

use super::error::RegistryError;
use super::url::split_host_port;

/// The Hub's reference domains and the host that serves its API.
const HUB_DOMAINS: [&str; 3] = ["docker.io", "index.docker.io", "registry-1.docker.io"];
const HUB_API_HOST: &str = "registry-1.docker.io";

pub(crate) fn is_docker_hub(domain: &str) -> bool {
    HUB_DOMAINS.contains(&domain.to_ascii_lowercase().as_str())
}

/// The `host[:port]` serving the v2 API for a reference domain.
pub(crate) fn api_host(domain: &str) -> &str {
    if is_docker_hub(domain) {
        HUB_API_HOST
    } else {
        domain
    }
}

/// Refuses domains that could smuggle a path, userinfo or whitespace into the URLs we build.
pub(crate) fn validate_domain(domain: &str) -> Result<(), RegistryError> {
    let bad = |reason| {
        Err(RegistryError::InvalidInput {
            what: "registry domain",
            value: domain.to_string(),
            reason,
        })
    };
    if domain.is_empty() {
        return bad("empty");
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || ".-:[]_".contains(c);
    if !domain.chars().all(allowed) {
        return bad("expected host[:port]");
    }
    let (_, port) = split_host_port(domain);
    if port.is_some_and(|p| p.parse::<u16>().is_err()) {
        return bad("port is not a number");
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scheme {
    Http,
    Https,
}

/// Plain HTTP is allowed only for loopback hosts (localhost, 127.0.0.0/8, [::1], any port) and hosts the user
/// listed as insecure, either as `host:port` or as a bare `host` covering every port.
pub(crate) fn scheme_for(host_port: &str, insecure: &[String]) -> Scheme {
    let (host, _) = split_host_port(host_port);
    let listed = insecure
        .iter()
        .any(|entry| entry.eq_ignore_ascii_case(host_port) || entry.eq_ignore_ascii_case(host));
    if is_loopback(host) || listed {
        Scheme::Http
    } else {
        Scheme::Https
    }
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host == "[::1]"
        || host.parse::<Ipv4Addr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scheme_selection_table() {
        let insecure = vec!["reg.lan:5000".to_string(), "other.lan".to_string()];
        let cases = [
            ("localhost", Scheme::Http),
            ("localhost:5000", Scheme::Http),
            ("LOCALHOST:5000", Scheme::Http),
            ("127.0.0.1:5002", Scheme::Http),
            ("127.1.2.3", Scheme::Http),
            ("[::1]:5000", Scheme::Http),
            ("128.0.0.1:5000", Scheme::Https),
            ("localhost.example.com", Scheme::Https),
            ("quay.io", Scheme::Https),
            ("registry-1.docker.io", Scheme::Https),
            ("reg.lan:5000", Scheme::Http),
            ("reg.lan:5001", Scheme::Https),
            ("reg.lan", Scheme::Https),
            ("other.lan:443", Scheme::Http),
        ];
        for (host, want) in cases {
            assert_eq!(scheme_for(host, &insecure), want, "{host}");
        }
    }

    #[test]
    fn hub_domains_map_to_the_api_host() {
        assert_eq!(api_host("docker.io"), "registry-1.docker.io");
        assert_eq!(api_host("index.docker.io"), "registry-1.docker.io");
        assert_eq!(api_host("quay.io"), "quay.io");
        assert_eq!(api_host("localhost:5000"), "localhost:5000");
    }

    #[test]
    fn domain_validation() {
        for ok in ["docker.io", "localhost:5000", "[::1]:5000", "my_reg.lan"] {
            assert!(validate_domain(ok).is_ok(), "{ok}");
        }
        for bad in ["", "a/b", "user@host", "host:port", "a b", "h:99999"] {
            assert!(validate_domain(bad).is_err(), "{bad}");
        }
    }
}
