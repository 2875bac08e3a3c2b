//! `hull system df`: what images, containers and volumes take on disk, and how much of it
//! nothing uses (what a prune could give back), with Docker's rules for "active".

use std::collections::HashMap;

use hull_image::store::ImageSummary;

use crate::state::{Record, Status};
use crate::volume::{disk_usage, VolumeUsage};
use crate::{Engine, EngineError};

/// One line of the summary: how many, how many in use, bytes, and bytes nothing uses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UsageLine {
    pub total: usize,
    pub active: usize,
    pub size: u64,
    pub reclaimable: u64,
}

/// An image and how many containers (running or not) were created from it.
#[derive(Debug, Clone)]
pub struct ImageUsage {
    pub image: ImageSummary,
    pub containers: usize,
}

/// A container and the bytes of its writable layer.
#[derive(Debug, Clone)]
pub struct ContainerUsage {
    pub record: Record,
    pub size: u64,
}

#[derive(Debug, Clone, Default)]
pub struct DiskUsage {
    pub images: Vec<ImageUsage>,
    pub containers: Vec<ContainerUsage>,
    pub volumes: Vec<VolumeUsage>,
}

impl DiskUsage {
    /// Images: active when a container uses it; sizes as `hull images` shows them.
    pub fn images_line(&self) -> UsageLine {
        line(
            self.images
                .iter()
                .map(|i| (i.containers > 0, i.image.record.size)),
        )
    }

    /// Containers: active when running (Docker counts only running ones).
    pub fn containers_line(&self) -> UsageLine {
        line(self.containers.iter().map(|c| {
            let running = matches!(c.record.state.status, Status::Running | Status::Restarting);
            (running, c.size)
        }))
    }

    /// Local volumes: active when a container (running or not) uses it.
    pub fn volumes_line(&self) -> UsageLine {
        line(self.volumes.iter().map(|v| (v.ref_count > 0, v.size)))
    }
}

fn line(items: impl Iterator<Item = (bool, u64)>) -> UsageLine {
    items.fold(UsageLine::default(), |mut l, (active, size)| {
        l.total += 1;
        l.size += size;
        match active {
            true => l.active += 1,
            false => l.reclaimable += size,
        }
        l
    })
}

impl Engine {
    /// Everything `system df` reports, measured now.
    pub fn disk_usage(&self) -> Result<DiskUsage, EngineError> {
        let records = self.containers.list()?;
        let mut users: HashMap<String, usize> = HashMap::new();
        for r in &records {
            *users.entry(r.image_id.clone()).or_default() += 1;
        }
        let images = self
            .images
            .list()?
            .into_iter()
            .map(|image| ImageUsage {
                containers: users
                    .get(&image.record.id.to_string())
                    .copied()
                    .unwrap_or(0),
                image,
            })
            .collect();
        let containers = records
            .into_iter()
            .map(|record| ContainerUsage {
                size: disk_usage(&self.containers.dir(&record.id).join("upper")),
                record,
            })
            .collect();
        Ok(DiskUsage {
            images,
            containers,
            volumes: self.volume_usage()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_counts_active_items_and_what_the_others_take() {
        let l = line([(true, 10), (false, 5), (false, 7)].into_iter());
        assert_eq!(
            l,
            UsageLine {
                total: 3,
                active: 1,
                size: 22,
                reclaimable: 12
            }
        );
        assert_eq!(line(std::iter::empty()), UsageLine::default());
    }
}
