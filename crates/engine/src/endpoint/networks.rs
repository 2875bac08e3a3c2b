//! `hull network create|rm|prune` through the engine, so that each records its event
//! (`create`, `destroy`) as it happens, whichever front end asked.

use hull_net::{CreateRequest, Network, NetworkError, Networks};

use crate::Engine;

impl Engine {
    /// Creates a user network; records `create`.
    pub fn network_create(&self, req: &CreateRequest) -> Result<Network, NetworkError> {
        let net = Networks::open(&self.root).create(req)?;
        self.network_event("create", &net.id, &net.name, &net.driver, &[]);
        Ok(net)
    }

    /// Removes a network by name or ID; records `destroy`.
    pub fn network_remove(&self, name_or_id: &str) -> Result<Network, NetworkError> {
        let net = hull_net::remove_network(&self.root, name_or_id)?;
        self.network_event("destroy", &net.id, &net.name, &net.driver, &[]);
        Ok(net)
    }

    /// Removes every user network without endpoints; records `destroy` for each. Returns
    /// their names.
    pub fn network_prune(&self) -> Result<Vec<String>, NetworkError> {
        self.network_prune_where(|_| true)
    }

    /// As [`Engine::network_prune`], of the networks for which `wanted` holds (the API's
    /// filters).
    pub fn network_prune_where(
        &self,
        wanted: impl Fn(&Network) -> bool,
    ) -> Result<Vec<String>, NetworkError> {
        let before = Networks::open(&self.root).list()?;
        let removed = hull_net::prune_networks_where(&self.root, wanted)?;
        for net in before.iter().filter(|n| removed.contains(&n.name)) {
            self.network_event("destroy", &net.id, &net.name, &net.driver, &[]);
        }
        Ok(removed)
    }
}
