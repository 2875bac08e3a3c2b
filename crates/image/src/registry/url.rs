//! Just enough URL handling for redirects: the origin (scheme, host, port) of an absolute URL, and
//! resolving a `Location` header against the URL that sent it. ureq parses URLs itself; this only
//! decides where a redirect goes and whether credentials may follow it.

/// Scheme, lowercase host and explicit-or-default port. Two URLs with equal origins may share an
/// Authorization header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Origin {
    pub scheme: String,
    pub host: String,
    pub port: u16,
}

/// Splits `scheme://authority/rest` into its parts; `rest` keeps its leading `/` (or is empty).
fn split(url: &str) -> Option<(&str, &str, &str)> {
    let (scheme, after) = url.split_once("://")?;
    let end = after.find(['/', '?', '#']).unwrap_or(after.len());
    let (authority, rest) = after.split_at(end);
    (!scheme.is_empty() && !authority.is_empty()).then_some((scheme, authority, rest))
}

pub(crate) fn origin(url: &str) -> Option<Origin> {
    let (scheme, authority, _) = split(url)?;
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "http" => 80,
        "https" => 443,
        _ => return None,
    };
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, hp)| hp);
    let (host, port) = split_host_port(host_port);
    let port = match port {
        Some(p) => p.parse().ok()?,
        None => default_port,
    };
    Some(Origin {
        scheme,
        host: host.to_ascii_lowercase(),
        port,
    })
}

/// Splits `host[:port]`, keeping IPv6 brackets on the host: `[::1]:5000` → (`[::1]`, `5000`).
pub(crate) fn split_host_port(host_port: &str) -> (&str, Option<&str>) {
    if host_port.starts_with('[') {
        return match host_port.find(']') {
            Some(end) => {
                let (host, rest) = host_port.split_at(end + 1);
                (host, rest.strip_prefix(':'))
            }
            None => (host_port, None),
        };
    }
    match host_port.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (host_port, None),
    }
}

/// Resolves a `Location` value against the absolute URL `base` (RFC 3986 §5.2, minus dot-segment
/// removal, which registries and CDNs never need).
pub(crate) fn resolve(base: &str, location: &str) -> Option<String> {
    if split(location).is_some() {
        return Some(location.to_string());
    }
    let (scheme, authority, rest) = split(base)?;
    if let Some(net_path) = location.strip_prefix("//") {
        return Some(format!("{scheme}://{net_path}"));
    }
    if location.starts_with('/') {
        return Some(format!("{scheme}://{authority}{location}"));
    }
    let path = rest.split(['?', '#']).next().unwrap_or("");
    if location.starts_with('?') {
        return Some(format!("{scheme}://{authority}{path}{location}"));
    }
    let dir = path.rsplit_once('/').map_or("", |(dir, _)| dir);
    Some(format!("{scheme}://{authority}{dir}/{location}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_normalize_default_ports_and_case() {
        let a = origin("https://Registry.Example/v2/").unwrap();
        let b = origin("https://registry.example:443/x").unwrap();
        assert_eq!(a, b);
        assert_ne!(a, origin("http://registry.example/v2/").unwrap());
        assert_ne!(a, origin("https://registry.example:5000/").unwrap());
        let v6 = origin("http://[::1]:5000/v2/").unwrap();
        assert_eq!((v6.host.as_str(), v6.port), ("[::1]", 5000));
        assert_eq!(origin("ftp://x/"), None);
        assert_eq!(origin("/relative"), None);
    }

    #[test]
    fn userinfo_is_not_the_host() {
        let o = origin("https://evil.example@registry.example/").unwrap();
        assert_eq!(o.host, "registry.example");
    }

    #[test]
    fn resolves_location_forms() {
        let base = "http://127.0.0.1:5000/v2/lib/x/blobs/sha256:ab?x=1";
        let cases = [
            ("https://cdn.example/b?sig=1", "https://cdn.example/b?sig=1"),
            ("//cdn.example/b", "http://cdn.example/b"),
            ("/other/path", "http://127.0.0.1:5000/other/path"),
            ("?y=2", "http://127.0.0.1:5000/v2/lib/x/blobs/sha256:ab?y=2"),
            ("sibling", "http://127.0.0.1:5000/v2/lib/x/blobs/sibling"),
        ];
        for (location, want) in cases {
            assert_eq!(resolve(base, location).as_deref(), Some(want), "{location}");
        }
    }
}
