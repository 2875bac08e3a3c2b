//! `hull system prune`: stopped containers, then networks no container uses, then (with
//! `--volumes`) anonymous volumes no container uses, then dangling images (with `all`, every
//! image no container was created from), in Docker's order.

use std::collections::HashSet;

use hull_image::store::Removal;

use crate::endpoint::NetRunError;
use crate::lifecycle::manage::Pruned;
use crate::{Engine, EngineError};

/// What `system prune` removed.
#[derive(Debug, Default)]
pub struct SystemPruned {
    pub containers: Vec<Pruned>,
    /// Network names.
    pub networks: Vec<String>,
    /// Volume names (only with `volumes`).
    pub volumes: Vec<String>,
    pub images: Vec<Removal>,
    /// Bytes freed: the containers' writable layers, the volumes' and the images' sizes.
    pub reclaimed: u64,
}

impl Engine {
    /// `hull system prune [-a] [--volumes]`. As Docker 23+, `--volumes` removes anonymous
    /// volumes only, whatever `all` says (named ones go with `hull volume prune -a`).
    pub fn system_prune(&self, all: bool, volumes: bool) -> Result<SystemPruned, EngineError> {
        let containers = self.prune()?;
        let networks =
            (self.network_prune()).map_err(|e| EngineError::Network(NetRunError::from(e)))?;
        let volumes = match volumes {
            true => self.volume_prune(false)?,
            false => Default::default(),
        };
        // The containers left (running ones, and any created meanwhile) keep their images.
        let in_use: HashSet<String> = self
            .containers
            .list()?
            .into_iter()
            .map(|r| r.image_id)
            .collect();
        let before = self.image_bytes();
        let images = self
            .images
            .prune_keeping(all, |id| in_use.contains(&id.to_string()))?;
        self.images_removed(None, &images);
        let freed_images = before.saturating_sub(self.image_bytes());
        let reclaimed =
            containers.iter().map(|p| p.reclaimed).sum::<u64>() + volumes.reclaimed + freed_images;
        Ok(SystemPruned {
            containers,
            networks,
            volumes: volumes.deleted,
            images,
            reclaimed,
        })
    }

    /// The images' sizes, summed (what `hull images` shows).
    fn image_bytes(&self) -> u64 {
        self.images
            .list()
            .map(|l| l.iter().map(|s| s.record.size).sum())
            .unwrap_or(0)
    }
}
