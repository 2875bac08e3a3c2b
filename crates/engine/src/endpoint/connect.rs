//! `hull network connect` and `disconnect`: a running container gets one more network (an
//! `ethN` beside its eth0, see [`hull_net::connect_extra`]) or loses one. The record lists the
//! networks so added in `state.extra_networks`; the run path's teardown detaches the container
//! from every network when it exits, so they last for the current run.
//!
//! Docker records a connection of a stopped container for its next start; hull refuses it
//! (there is no namespace to plug into yet) with a clear error.

use std::net::Ipv4Addr;
use std::path::PathBuf;

use crate::run::NetworkMode;
use crate::state::{ContainerError, NetworkState, Record};
use crate::Engine;
use hull_net::{Attachment, Endpoint, NetworkError, Networks};

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error(transparent)]
    Container(#[from] ContainerError),
    #[error(transparent)]
    Network(#[from] NetworkError),
    #[error(
        "container {0} is not running: hull connects running containers only (start it first)"
    )]
    NotRunning(String),
    #[error(
        "container {container} uses network mode {mode}: it cannot be connected to other networks"
    )]
    SharedNamespace {
        container: String,
        mode: &'static str,
    },
    #[error("container {container} is not connected to network {network}")]
    NotConnected { container: String, network: String },
}

/// What `network connect` asks for besides the network and the container.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnectRequest {
    /// `--alias`: names on this network besides the container's own.
    pub aliases: Vec<String>,
    /// `--ip`.
    pub ip: Option<Ipv4Addr>,
}

/// Whether a container in `mode` has a namespace of its own that may join more networks
/// (Docker refuses host and none); Err names the mode.
fn connectable(mode: &NetworkMode) -> Result<(), &'static str> {
    match mode {
        NetworkMode::Bridge(_) => Ok(()),
        NetworkMode::None => Err("none"),
        NetworkMode::Host => Err("host"),
        // Its namespace is another container's: connect that one instead, as Docker says.
        NetworkMode::Container(_) => Err("container"),
    }
}

/// The DNS names of the container on the new network: its name, then the aliases.
fn dns_names(record: &Record, aliases: &[String]) -> Vec<String> {
    let mut out = vec![record.name.clone()];
    out.extend(aliases.iter().filter(|a| **a != record.name).cloned());
    out
}

impl Engine {
    /// `hull network connect`: returns the interface's name and the attachment.
    pub fn connect_network(
        &self,
        network: &str,
        container: &str,
        req: &ConnectRequest,
    ) -> Result<(String, Attachment), ConnectError> {
        let record = self.containers.resolve(container)?;
        let id = record.id.clone();
        connectable(&record.config.network).map_err(|mode| ConnectError::SharedNamespace {
            container: record.name.clone(),
            mode,
        })?;
        let pid = record.state.pid.filter(|_| self.containers.is_running(&id));
        let Some(pid) = pid else {
            return Err(ConnectError::NotRunning(record.name));
        };
        let net = Networks::open(&self.root).get(network)?;
        if net.name == hull_net::store::DEFAULT_NETWORK && !req.aliases.is_empty() {
            return Err(NetworkError::InvalidInput(
                "network-scoped aliases are supported only on user-defined networks".into(),
            )
            .into());
        }
        let aliases = dns_names(&record, &req.aliases);
        let ep = Endpoint {
            owner: &id,
            network: &net.name,
            ports: &[],
            aliases: &aliases,
            mac: None,
        };
        let netns = PathBuf::from(format!("/proc/{pid}/ns/net"));
        let done = hull_net::connect_extra(&self.root, &netns, &ep, req.ip)?;
        let state = NetworkState {
            network: net.name.clone(),
            network_id: done.1.network_id.clone(),
            ip: done.1.ip,
            gateway: done.1.gateway,
            prefix_len: done.1.prefix_len,
            mac: done.1.mac.clone(),
            aliases: aliases.clone(),
            ports: Vec::new(),
            netns,
        };
        let recorded = self.containers.update(&id, |r| {
            if !r.state.extra_networks.contains(&net.name) {
                r.state.extra_networks.push(net.name.clone());
            }
            r.state.extra_attachments.retain(|a| a.network != net.name);
            r.state.extra_attachments.push(state);
        });
        if let Err(e) = recorded {
            let _ = hull_net::disconnect(&self.root, &id, &net.name);
            return Err(e.into());
        }
        self.network_event(
            "connect",
            &net.id,
            &net.name,
            &net.driver,
            &[("container", id)],
        );
        Ok(done)
    }

    /// `hull network disconnect`: removes the container's endpoint on `network`; with
    /// `force`, a container that has none there is not an error.
    pub fn disconnect_network(
        &self,
        network: &str,
        container: &str,
        force: bool,
    ) -> Result<(), ConnectError> {
        let record = self.containers.resolve(container)?;
        let net = Networks::open(&self.root).get(network)?;
        let listed = record.state.extra_networks.contains(&net.name);
        let detached = match hull_net::disconnect(&self.root, &record.id, &net.name) {
            Ok(()) => true,
            Err(NetworkError::NotFound {
                what: "endpoint", ..
            }) => false,
            Err(e) => return Err(e.into()),
        };
        if listed {
            self.containers.update(&record.id, |r| {
                r.state.extra_networks.retain(|n| *n != net.name);
                r.state.extra_attachments.retain(|a| a.network != net.name);
            })?;
        }
        if !detached && !listed && !force {
            return Err(ConnectError::NotConnected {
                container: record.name,
                network: net.name,
            });
        }
        if detached || listed {
            let c = [("container", record.id.clone())];
            self.network_event("disconnect", &net.id, &net.name, &net.driver, &c);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_namespaces_cannot_be_connected() {
        assert_eq!(connectable(&NetworkMode::Host), Err("host"));
        assert_eq!(connectable(&NetworkMode::None), Err("none"));
        let joined = NetworkMode::Container("web".into());
        assert_eq!(connectable(&joined), Err("container"));
        assert_eq!(connectable(&NetworkMode::Bridge("bridge".into())), Ok(()));
    }
}
