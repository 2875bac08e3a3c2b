//! `hull run`'s network flags, validated without touching the host: `--network`, `-p`,
//! `--expose`, `--mac-address`, `--network-alias`.

use std::net::Ipv4Addr;

use crate::run::config::{FlagError, NetworkMode};
use hull_net::{PortMap, Proto};

fn flag_err(flag: &'static str, value: &str, reason: impl Into<String>) -> FlagError {
    FlagError {
        flag,
        value: value.to_string(),
        reason: reason.into(),
    }
}

/// `--network`: bridge (the default; `default` is Docker's other spelling), none, host,
/// `container:NAME`, or the name of a user-defined network.
pub fn network_mode(n: Option<&str>) -> Result<NetworkMode, FlagError> {
    match n {
        None | Some("bridge" | "default") => Ok(NetworkMode::Bridge("bridge".into())),
        Some("none") => Ok(NetworkMode::None),
        Some("host") => Ok(NetworkMode::Host),
        Some(v) => match v.strip_prefix("container:") {
            Some("") => Err(flag_err(
                "--network",
                v,
                "container: needs a container name",
            )),
            Some(c) => Ok(NetworkMode::Container(c.to_string())),
            None if valid_network_name(v) => Ok(NetworkMode::Bridge(v.to_string())),
            None => Err(flag_err(
                "--network",
                v,
                "expected bridge, none, host, container:NAME or a network name",
            )),
        },
    }
}

fn valid_network_name(n: &str) -> bool {
    n.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

/// `[ip:][hostport[-end]:]containerport[-end][/tcp|/udp]`; a missing host port (`80`,
/// `127.0.0.1::80`) is 0, chosen at run time. A range maps port by port.
pub fn publish(p: &str) -> Result<Vec<PortMap>, FlagError> {
    let bad = |reason: &str| flag_err("--publish", p, reason);
    let (spec, proto) = split_proto(p).map_err(|r| bad(&r))?;
    let parts: Vec<&str> = spec.split(':').collect();
    let (ip, host, container) = match parts.as_slice() {
        [c] => ("", "", *c),
        [h, c] => ("", *h, *c),
        [ip, h, c] => (*ip, *h, *c),
        _ => {
            return Err(bad(
                "expected [ip:][hostport:]containerport[/proto] (IPv4 only)",
            ))
        }
    };
    let host_ip = if ip.is_empty() {
        Ipv4Addr::UNSPECIFIED
    } else {
        ip.parse::<Ipv4Addr>()
            .map_err(|_| bad("the host address must be an IPv4 address"))?
    };
    let container = port_range(container).map_err(|r| bad(&r))?;
    let host = if host.is_empty() {
        vec![0; container.len()]
    } else {
        port_range(host).map_err(|r| bad(&r))?
    };
    if host.len() != container.len() {
        return Err(bad(
            "the host and container port ranges must have the same length",
        ));
    }
    Ok(host
        .into_iter()
        .zip(container)
        .map(|(host_port, container_port)| PortMap {
            host_ip,
            host_port,
            container_port,
            proto,
        })
        .collect())
}

/// `--expose 80`, `80/udp`, `8000-8010`: normalized `port/proto` strings.
pub fn expose(e: &str) -> Result<Vec<String>, FlagError> {
    let (spec, proto) = split_proto(e).map_err(|r| flag_err("--expose", e, r))?;
    let ports = port_range(spec).map_err(|r| flag_err("--expose", e, r))?;
    Ok(ports.into_iter().map(|p| format!("{p}/{proto}")).collect())
}

/// An image's or `--expose`'s `port/proto` key (proto optional) as a map to a random host port.
pub fn exposed_to_map(key: &str) -> Option<PortMap> {
    let (spec, proto) = split_proto(key).ok()?;
    let port = spec.parse::<u16>().ok().filter(|p| *p != 0)?;
    Some(PortMap {
        host_ip: Ipv4Addr::UNSPECIFIED,
        host_port: 0,
        container_port: port,
        proto,
    })
}

fn split_proto(s: &str) -> Result<(&str, Proto), String> {
    match s.rsplit_once('/') {
        None => Ok((s, Proto::Tcp)),
        Some((p, "tcp")) => Ok((p, Proto::Tcp)),
        Some((p, "udp")) => Ok((p, Proto::Udp)),
        Some((_, other)) => Err(format!("unsupported protocol {other:?}: tcp or udp")),
    }
}

fn port_range(s: &str) -> Result<Vec<u16>, String> {
    let port = |p: &str| {
        p.parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| format!("invalid port {p:?}"))
    };
    match s.split_once('-') {
        None => Ok(vec![port(s)?]),
        Some((a, b)) => {
            let (a, b) = (port(a)?, port(b)?);
            if a > b {
                return Err(format!("invalid port range {s:?}"));
            }
            Ok((a..=b).collect())
        }
    }
}

/// `--mac-address 02:42:ac:11:00:02`: six hex bytes, unicast, normalized to lowercase.
pub fn mac_address(m: &str) -> Result<String, FlagError> {
    let bytes: Vec<Option<u8>> = m
        .split(':')
        .map(|b| {
            (b.len() == 2)
                .then(|| u8::from_str_radix(b, 16).ok())
                .flatten()
        })
        .collect();
    let ok = bytes.len() == 6 && bytes.iter().all(Option::is_some);
    if !ok || bytes[0].is_some_and(|b| b & 1 == 1) {
        return Err(flag_err(
            "--mac-address",
            m,
            "expected a unicast MAC address such as 02:42:ac:11:00:02",
        ));
    }
    Ok(m.to_ascii_lowercase())
}

/// Parses a normalized MAC back to bytes.
pub fn mac_bytes(m: &str) -> Option<[u8; 6]> {
    let v: Vec<u8> = m
        .split(':')
        .map(|b| u8::from_str_radix(b, 16).ok())
        .collect::<Option<_>>()?;
    v.try_into().ok()
}

/// `--ip`: an IPv4 address, on a user-defined network only (Docker's rule: the default
/// network's addresses are the engine's to hand out).
pub fn ip(ip: &str, network: &Option<String>) -> Result<Ipv4Addr, FlagError> {
    let addr = ip
        .parse::<Ipv4Addr>()
        .map_err(|_| flag_err("--ip", ip, "not an IPv4 address"))?;
    match network_mode(network.as_deref())? {
        NetworkMode::Bridge(n) if n != "bridge" => Ok(addr),
        _ => Err(flag_err(
            "--ip",
            ip,
            "user specified IP address is supported on user defined networks only",
        )),
    }
}

/// `--network-alias`: a DNS name.
pub fn network_alias(a: &str) -> Result<String, FlagError> {
    let ok = !a.is_empty()
        && a.len() <= 253
        && a.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_".contains(c))
        });
    if !ok {
        return Err(flag_err("--network-alias", a, "not a valid DNS name"));
    }
    Ok(a.to_string())
}

/// Docker's warning when `-p`/`-P` meet `--network host`: it runs the container without them.
pub const HOST_PORTS_DISCARDED: &str = "Published ports are discarded when using host network mode";

/// Flags that only make sense with a network of the container's own: refused with none, host
/// and container:NAME (Docker refuses them with container:NAME and has no ports without a
/// network namespace of the container's own). Ports with host are Docker's exception: they are
/// discarded with a warning (see [`HOST_PORTS_DISCARDED`]).
pub fn check_conflicts(
    mode: &NetworkMode,
    publishing: bool,
    mac: bool,
    aliases: bool,
) -> Result<(), FlagError> {
    let kind = match mode {
        NetworkMode::Bridge(_) => return Ok(()),
        NetworkMode::None => "none",
        NetworkMode::Host => "host",
        NetworkMode::Container(_) => "container",
    };
    let publishing = publishing && kind != "host";
    let what = if publishing {
        ("--publish", "port publishing")
    } else if mac {
        ("--mac-address", "a MAC address")
    } else if aliases {
        ("--network-alias", "network aliases")
    } else {
        return Ok(());
    };
    Err(flag_err(
        what.0,
        kind,
        format!(
            "conflicting options: {} and the {kind} network mode",
            what.1
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(ip: [u8; 4], h: u16, c: u16, proto: Proto) -> PortMap {
        PortMap {
            host_ip: ip.into(),
            host_port: h,
            container_port: c,
            proto,
        }
    }

    #[test]
    fn network_modes_parse_like_dockers() {
        assert_eq!(
            network_mode(None).unwrap(),
            NetworkMode::Bridge("bridge".into())
        );
        assert_eq!(
            network_mode(Some("default")).unwrap(),
            NetworkMode::Bridge("bridge".into())
        );
        assert_eq!(network_mode(Some("none")).unwrap(), NetworkMode::None);
        assert_eq!(network_mode(Some("host")).unwrap(), NetworkMode::Host);
        assert_eq!(
            network_mode(Some("container:web")).unwrap(),
            NetworkMode::Container("web".into())
        );
        assert_eq!(
            network_mode(Some("mynet")).unwrap(),
            NetworkMode::Bridge("mynet".into())
        );
        assert!(network_mode(Some("container:")).is_err());
        assert!(network_mode(Some("bad name")).is_err());
    }

    #[test]
    fn publish_forms() {
        let any = [0, 0, 0, 0];
        assert_eq!(publish("80").unwrap(), [m(any, 0, 80, Proto::Tcp)]);
        assert_eq!(publish("8080:80").unwrap(), [m(any, 8080, 80, Proto::Tcp)]);
        assert_eq!(
            publish("127.0.0.1:8080:80/udp").unwrap(),
            [m([127, 0, 0, 1], 8080, 80, Proto::Udp)]
        );
        assert_eq!(
            publish("127.0.0.1::80").unwrap(),
            [m([127, 0, 0, 1], 0, 80, Proto::Tcp)]
        );
        assert_eq!(
            publish("8000-8001:80-81").unwrap(),
            [m(any, 8000, 80, Proto::Tcp), m(any, 8001, 81, Proto::Tcp)]
        );
        assert_eq!(publish("53-54/udp").unwrap().len(), 2);
        for bad in [
            "",
            "x",
            "0",
            "70000",
            "1:2:3:4",
            "80/sctp",
            "8000-8002:80-81",
            "::1:80:80",
            "9-8",
            "a.b:1:2",
        ] {
            let e = publish(bad).unwrap_err();
            assert_eq!(e.flag, "--publish", "{bad}");
        }
    }

    #[test]
    fn expose_and_image_ports() {
        assert_eq!(expose("80").unwrap(), ["80/tcp"]);
        assert_eq!(expose("53/udp").unwrap(), ["53/udp"]);
        assert_eq!(expose("1-3").unwrap(), ["1/tcp", "2/tcp", "3/tcp"]);
        assert!(expose("x").is_err());
        assert_eq!(
            exposed_to_map("80/tcp"),
            Some(m([0, 0, 0, 0], 0, 80, Proto::Tcp))
        );
        assert_eq!(exposed_to_map("53/sctp"), None);
    }

    #[test]
    fn mac_addresses_and_aliases() {
        assert_eq!(
            mac_address("02:42:AC:11:00:02").unwrap(),
            "02:42:ac:11:00:02"
        );
        assert_eq!(
            mac_bytes("02:42:ac:11:00:02"),
            Some([2, 0x42, 0xac, 0x11, 0, 2])
        );
        for bad in ["01:00:5e:00:00:01", "02:42:ac:11:00", "zz:42:ac:11:00:02"] {
            assert!(mac_address(bad).is_err(), "{bad}");
        }
        assert!(network_alias("web.internal").is_ok());
        assert!(network_alias("a b").is_err());
    }

    #[test]
    fn ip_only_on_user_networks() {
        let user = Some("mynet".to_string());
        assert_eq!(ip("10.1.0.9", &user).unwrap(), Ipv4Addr::new(10, 1, 0, 9));
        assert!(ip("10.1.0.9", &None).is_err());
        assert!(ip("10.1.0.9", &Some("host".into())).is_err());
        assert!(ip("::1", &user).is_err());
    }

    #[test]
    fn own_network_flags_conflict_with_other_modes() {
        let e = check_conflicts(&NetworkMode::None, true, false, false).unwrap_err();
        assert_eq!(e.flag, "--publish");
        assert!(e.reason.contains("none network mode"), "{}", e.reason);
        assert!(check_conflicts(&NetworkMode::Host, true, false, false).is_ok());
        let e = check_conflicts(&NetworkMode::Host, false, true, false).unwrap_err();
        assert!(e.reason.contains("host network mode"), "{}", e.reason);
        assert!(check_conflicts(&NetworkMode::Container("x".into()), false, true, false).is_err());
        assert!(check_conflicts(&NetworkMode::None, false, false, false).is_ok());
        assert!(check_conflicts(&NetworkMode::Bridge("b".into()), true, true, true).is_ok());
    }
}
