//! `hull system df`: what images, containers and volumes take on disk, and how much of it
//! nothing uses (what a prune could give back), with Docker's rules for "active".

use std::collections::{HashMap, HashSet};

use hull_image::store::ImageSummary;
use hull_oci::Digest;

use crate::state::{Record, Status};
use crate::volume::VolumeUsage;
use crate::{Engine, EngineError};

/// One line of the summary: how many, how many in use, bytes, and bytes nothing uses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UsageLine {
    pub total: usize,
    pub active: usize,
    pub size: u64,
    pub reclaimable: u64,
}

/// An image, how many containers (running or not) were created from it, and the bytes of its
/// layers that other images use too (`system df -v`'s SHARED SIZE; the rest is its own).
#[derive(Debug, Clone)]
pub struct ImageUsage {
    pub image: ImageSummary,
    pub containers: usize,
    pub shared_size: u64,
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
    /// The bytes of every layer of every image, each layer once (the store keeps one copy).
    pub layers_size: u64,
    pub containers: Vec<ContainerUsage>,
    pub volumes: Vec<VolumeUsage>,
}

impl DiskUsage {
    /// Images: active when a container uses it. The size is the layers', each counted once;
    /// reclaimable is what is left after the used images' own (unshared) bytes, Docker's rule.
    pub fn images_line(&self) -> UsageLine {
        let used: Vec<&ImageUsage> = self.images.iter().filter(|i| i.containers > 0).collect();
        let own: u64 = used
            .iter()
            .map(|i| i.image.record.size.saturating_sub(i.shared_size))
            .sum();
        UsageLine {
            total: self.images.len(),
            active: used.len(),
            size: self.layers_size,
            reclaimable: self.layers_size.saturating_sub(own),
        }
    }

    /// Containers: active when running (Docker counts only running ones).
    pub fn containers_line(&self) -> UsageLine {
        UsageLine::of(self.containers.iter().map(|c| {
            let running = matches!(c.record.state.status, Status::Running | Status::Restarting);
            (running, c.size)
        }))
    }

    /// Local volumes: active when a container (running or not) uses it.
    pub fn volumes_line(&self) -> UsageLine {
        UsageLine::of(self.volumes.iter().map(|v| (v.ref_count > 0, v.size)))
    }
}

impl UsageLine {
    /// The line of `items` (in use, bytes): what is not in use is reclaimable.
    pub fn of(items: impl Iterator<Item = (bool, u64)>) -> UsageLine {
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
}

/// For each image (its layers' diff IDs), the bytes of its layers that another image has too:
/// the store keeps one copy of a layer, so that much is not the image's own.
fn shared_sizes(images: &[Vec<Digest>], layer_size: impl Fn(&Digest) -> u64) -> Vec<u64> {
    let mut users: HashMap<&Digest, usize> = HashMap::new();
    for layers in images {
        for d in layers.iter().collect::<HashSet<_>>() {
            *users.entry(d).or_default() += 1;
        }
    }
    images
        .iter()
        .map(|layers| {
            let distinct: HashSet<&Digest> = layers.iter().collect();
            distinct
                .into_iter()
                .filter(|d| users[d] > 1)
                .map(&layer_size)
                .sum()
        })
        .collect()
}

impl Engine {
    /// The bytes of the container's writable layer (its overlay upper dir): what removing it
    /// gives back (container prune), and `system df`'s container size.
    pub(crate) fn writable_size(&self, id: &str) -> u64 {
        crate::volume::disk_usage(&self.containers.dir(id).join("upper"))
    }

    /// Every image with how many containers use it and its shared bytes, and the bytes of all
    /// layers (each once): `system df`'s images, and the image list's counts.
    pub fn image_usage(&self) -> Result<(Vec<ImageUsage>, u64), EngineError> {
        let records = self.containers.list()?;
        self.image_usage_of(&records)
    }

    fn image_usage_of(&self, records: &[Record]) -> Result<(Vec<ImageUsage>, u64), EngineError> {
        let mut users: HashMap<String, usize> = HashMap::new();
        for r in records {
            *users.entry(r.image_id.clone()).or_default() += 1;
        }
        let summaries = self.images.list()?;
        let layers: Vec<Vec<Digest>> = summaries.iter().map(|i| i.record.diff_ids()).collect();
        // Each layer's metadata is read once, however many images hold it.
        let sizes: HashMap<&Digest, u64> = layers
            .iter()
            .flatten()
            .map(|d| (d, self.images.layers.meta(d).map_or(0, |m| m.size)))
            .collect();
        let layers_size = sizes.values().sum();
        let shared = shared_sizes(&layers, |d| sizes[d]);
        let images = summaries
            .into_iter()
            .zip(shared)
            .map(|(image, shared_size)| ImageUsage {
                containers: users
                    .get(&image.record.id.to_string())
                    .copied()
                    .unwrap_or(0),
                shared_size,
                image,
            })
            .collect();
        Ok((images, layers_size))
    }

    /// Everything `system df` reports, measured now.
    pub fn disk_usage(&self) -> Result<DiskUsage, EngineError> {
        let records = self.containers.list()?;
        let (images, layers_size) = self.image_usage_of(&records)?;
        let containers = records
            .into_iter()
            .map(|record| ContainerUsage {
                size: self.writable_size(&record.id),
                record,
            })
            .collect();
        Ok(DiskUsage {
            images,
            layers_size,
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
        let l = UsageLine::of([(true, 10), (false, 5), (false, 7)].into_iter());
        assert_eq!(
            l,
            UsageLine {
                total: 3,
                active: 1,
                size: 22,
                reclaimable: 12
            }
        );
        assert_eq!(UsageLine::of(std::iter::empty()), UsageLine::default());
    }

    #[test]
    fn only_layers_another_image_has_count_as_shared() {
        let d = |n: u8| {
            format!("sha256:{}", format!("{n:02x}").repeat(32))
                .parse()
                .unwrap()
        };
        let (base, mid, own_a, own_b) = (d(1), d(2), d(3), d(4));
        let size = |x: &Digest| match x {
            _ if *x == base => 1000,
            _ if *x == mid => 200,
            _ => 7,
        };
        let images = vec![
            vec![base.clone(), mid.clone(), own_a],
            vec![base.clone(), mid.clone(), own_b],
            vec![base.clone()],
            // A layer twice in one image is not shared with itself.
            vec![d(5), d(5)],
        ];
        assert_eq!(shared_sizes(&images, size), [1200, 1200, 1000, 0]);
    }
}
