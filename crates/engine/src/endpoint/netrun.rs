//! How a run uses [`hull_net`]: what a container's network mode asks for before the
//! runtime creates it (a reservation, or another container's namespace), the plug between
//! create and start, and the detach on every way out.
//!
//! ```text
//! let mut net = netrun::prepare(root, &containers, record, &image_config)?; // reserve
//! // /etc/hosts gets net.ip(); runtime create
//! let state = net.plug(pid)?;      // bridge, veth, eth0, ports: before start
//! // ... the container runs ...
//! drop(net);                       // detach: veth, rules, lease (also on any error)
//! ```

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use hull_oci::image::ContainerConfig;

use crate::run::netopts;
use crate::run::{NetworkMode, RunConfig};
use crate::state::{Containers, NetworkState, Record, Status};
use hull_net::{Endpoint, NetworkError, PortMap, Reservation};

#[derive(Debug, thiserror::Error)]
pub enum NetRunError {
    #[error(transparent)]
    Network(#[from] NetworkError),
    #[error("cannot join network of a non running container: {0}")]
    NotRunning(String),
    #[error("cannot join the network of container {0}: it has the host's network")]
    JoinsHost(String),
    #[error(transparent)]
    Container(#[from] crate::state::ContainerError),
}

/// A run's network, from before create to after exit.
pub(crate) enum RunNetwork {
    /// none or host: nothing to set up (the spec says which).
    Nothing,
    /// bridge or a user network: a reservation now, plugged in once the namespace exists;
    /// detached when dropped.
    Own(Endpointed),
    /// `container:NAME`: that container's namespace and /etc files.
    Shared {
        netns: PathBuf,
        etc_dir: PathBuf,
        hostname: String,
    },
}

/// A reserved (and maybe plugged) endpoint; detached on drop.
pub(crate) struct Endpointed {
    root: PathBuf,
    reservation: Reservation,
}

impl Drop for Endpointed {
    fn drop(&mut self) {
        if let Err(e) = hull_net::detach(&self.root, &self.reservation.owner) {
            eprintln!(
                "hull: detach container {} from its network: {e}",
                self.reservation.owner
            );
        }
    }
}

impl RunNetwork {
    /// The container's address on its own network.
    pub fn ip(&self) -> Option<Ipv4Addr> {
        match self {
            RunNetwork::Own(e) => Some(e.reservation.ip),
            _ => None,
        }
    }

    /// Connects the namespace of `pid` (created, not started) to the reserved network.
    pub fn plug(&self, pid: i32, aliases: &[String]) -> Result<Option<NetworkState>, NetRunError> {
        let RunNetwork::Own(e) = self else {
            return Ok(None);
        };
        let netns = PathBuf::from(format!("/proc/{pid}/ns/net"));
        let a = hull_net::plug(&e.root, &netns, &e.reservation)?;
        Ok(Some(NetworkState {
            network: a.network,
            network_id: a.network_id,
            ip: a.ip,
            gateway: a.gateway,
            prefix_len: a.prefix_len,
            mac: a.mac,
            aliases: aliases.to_vec(),
            ports: a.ports,
            netns,
        }))
    }
}

/// The port maps a run publishes: `-p`, plus with `-P` every port the image exposes and
/// `--expose` adds, each to a random host port (ports that `-p` maps already are skipped).
pub fn ports_to_publish(config: &RunConfig, image: &ContainerConfig) -> Vec<PortMap> {
    let mut maps = config.publish.clone();
    if config.publish_all {
        let exposed = image
            .exposed_ports
            .iter()
            .flat_map(|m| m.keys().cloned())
            .chain(config.expose.iter().cloned());
        for m in exposed.filter_map(|k| netopts::exposed_to_map(&k)) {
            let mapped = maps
                .iter()
                .any(|p| p.container_port == m.container_port && p.proto == m.proto);
            if !mapped {
                maps.push(m);
            }
        }
    }
    maps
}

/// The endpoint's names: the container's name, then its `--network-alias`es.
pub fn aliases(record: &Record) -> Vec<String> {
    std::iter::once(record.name.clone())
        .chain(record.config.network_aliases.iter().cloned())
        .collect()
}

/// Reserves what the run's network mode needs before the runtime creates the container: a
/// lease and host ports (a port in use fails here, before anything runs), or the namespace of
/// the container to join.
pub(crate) fn prepare(
    root: &Path,
    containers: &Containers,
    record: &Record,
    image: &ContainerConfig,
) -> Result<RunNetwork, NetRunError> {
    match &record.config.network {
        NetworkMode::None | NetworkMode::Host => Ok(RunNetwork::Nothing),
        NetworkMode::Bridge(name) => {
            let ports = ports_to_publish(&record.config, image);
            let aliases = aliases(record);
            let mac = record
                .config
                .mac_address
                .as_deref()
                .and_then(netopts::mac_bytes);
            let ep = Endpoint {
                owner: &record.id,
                network: name,
                ports: &ports,
                aliases: &aliases,
                mac,
            };
            let reservation = hull_net::reserve_at(root, &ep, record.config.ip)?;
            Ok(RunNetwork::Own(Endpointed {
                root: root.to_path_buf(),
                reservation,
            }))
        }
        NetworkMode::Container(name) => joined(containers, name),
    }
}

/// The running container `name`'s namespace, /etc files and hostname.
fn joined(containers: &Containers, name: &str) -> Result<RunNetwork, NetRunError> {
    let other = containers.resolve(name)?;
    let pid = other
        .state
        .pid
        .filter(|_| other.state.status == Status::Running)
        .ok_or_else(|| NetRunError::NotRunning(name.to_string()))?;
    if other.config.network == NetworkMode::Host {
        return Err(NetRunError::JoinsHost(name.to_string()));
    }
    let etc_dir = containers.dir(&other.id);
    let hostname = std::fs::read_to_string(etc_dir.join("hostname"))
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| other.short_id().to_string());
    Ok(RunNetwork::Shared {
        netns: PathBuf::from(format!("/proc/{pid}/ns/net")),
        etc_dir,
        hostname,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn publish_all_adds_exposed_ports_not_mapped_yet() {
        let opts = crate::run::RunOptions {
            image: "x".into(),
            publish: vec!["8080:80".into()],
            publish_all: true,
            expose: vec!["53/udp".into()],
            ..Default::default()
        };
        let config = RunConfig::from_options(&opts, &crate::run::RealHost).unwrap();
        let image = ContainerConfig {
            exposed_ports: Some(BTreeMap::from([
                ("80/tcp".to_string(), serde_json::json!({})),
                ("443/tcp".to_string(), serde_json::json!({})),
            ])),
            ..Default::default()
        };
        let mut got: Vec<(u16, u16, String)> = ports_to_publish(&config, &image)
            .iter()
            .map(|m| (m.host_port, m.container_port, m.proto.to_string()))
            .collect();
        got.sort();
        assert_eq!(
            got,
            [
                (0, 53, "udp".to_string()),
                (0, 443, "tcp".into()),
                (8080, 80, "tcp".into())
            ]
        );
        let plain = RunConfig {
            publish_all: false,
            ..config
        };
        assert_eq!(ports_to_publish(&plain, &image).len(), 1);
    }
}
