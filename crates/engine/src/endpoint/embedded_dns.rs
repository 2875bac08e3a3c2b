//! Where a container's run meets the embedded DNS responder ([`hull_net::dns`]): the
//! runner starts it once the container's namespace is plugged into its network and before the
//! container starts, serves it while it waits for the exit (the monitor in its poll loop, the
//! foreground `hull run` on a thread), and drops it with the run: each run of a restarted
//! container has a new namespace and gets a new responder.

use std::io;
use std::path::PathBuf;

use crate::run::NetworkMode;
use crate::state::Record;
use crate::{Engine, EngineError};
use hull_net::dns::{self, DnsServer, DnsThread};

/// The network whose embedded DNS a container run in `mode` gets; [`dns::serve_for`] then
/// declines the default bridge. The modes without a network of their own get none.
fn dns_network(mode: &NetworkMode) -> Option<&str> {
    match mode {
        NetworkMode::Bridge(network) => Some(network),
        NetworkMode::None | NetworkMode::Host | NetworkMode::Container(_) => None,
    }
}

impl Engine {
    /// The responder for this run of `record`, whose init is `pid`; None where Docker has no
    /// embedded DNS.
    pub(crate) fn embedded_dns(
        &self,
        record: &Record,
        pid: i32,
    ) -> Result<Option<DnsServer>, EngineError> {
        let Some(network) = dns_network(&record.config.network) else {
            return Ok(None);
        };
        let netns = PathBuf::from(format!("/proc/{pid}/ns/net"));
        dns::serve_for(&self.root, &netns, network, &record.id, &record.config.dns).map_err(|e| {
            EngineError::Io {
                id: record.id.clone(),
                op: "start the embedded dns in",
                path: netns,
                source: io::Error::other(e),
            }
        })
    }

    /// [`Engine::embedded_dns`] served on a thread until the handle is dropped: for the
    /// foreground run, once the runtime has forked (threads are fine from then on).
    pub(crate) fn embedded_dns_thread(
        &self,
        record: &Record,
        pid: i32,
    ) -> Result<Option<DnsThread>, EngineError> {
        let Some(server) = self.embedded_dns(record, pid)? else {
            return Ok(None);
        };
        server.spawn().map(Some).map_err(|source| EngineError::Io {
            id: record.id.clone(),
            op: "start a thread for",
            path: PathBuf::from("the embedded dns"),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_network_modes_with_a_network_of_their_own_get_embedded_dns() {
        assert_eq!(
            dns_network(&NetworkMode::Bridge("front".into())),
            Some("front")
        );
        for mode in [
            NetworkMode::None,
            NetworkMode::Host,
            NetworkMode::Container("web".into()),
        ] {
            assert_eq!(dns_network(&mode), None, "{mode:?}");
        }
    }
}
