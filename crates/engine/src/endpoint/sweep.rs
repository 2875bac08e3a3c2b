//! Endpoints nobody runs any more: the reconciliation `ps`, `run` and `rm` do on their way, and
//! `hull network sweep`.

use crate::endpoint::NetRunError;
use crate::{Engine, EngineError};

impl Engine {
    /// Detaches the network endpoints of containers whose runner died (`kill -9` of a monitor)
    /// and whose processes are gone, and what else this store created that nothing owns. Cheap
    /// when there is nothing to do: it reads the lease files and tries each owner's lock.
    pub fn reconcile_network(&self) -> Result<hull_net::SweepReport, EngineError> {
        let alive = |owner: &str| self.containers.is_alive(owner);
        if !hull_net::has_stale_endpoints(&self.root, alive) {
            return Ok(Default::default());
        }
        self.sweep_network()
    }

    /// `hull network sweep`: removes every endpoint whose container is not running, and every
    /// link and rule of this store that nothing claims.
    pub fn sweep_network(&self) -> Result<hull_net::SweepReport, EngineError> {
        let alive = |owner: &str| self.containers.is_alive(owner);
        hull_net::sweep(&self.root, alive).map_err(|e| EngineError::Network(NetRunError::from(e)))
    }

    /// The host-wide half of `hull network sweep`: links and rules of hull stores that no longer
    /// exist.
    pub fn sweep_host_network(&self) -> Result<hull_net::orphans::OrphanReport, EngineError> {
        hull_net::orphans::sweep_orphans().map_err(|e| EngineError::Network(NetRunError::from(e)))
    }
}
