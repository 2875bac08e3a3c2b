//! Image commands that need to know about containers: `rmi` refuses an image a container was
//! created from (Docker's conflicts), and `image prune` keeps every such image.

use std::collections::{BTreeMap, HashSet};

use hull_image::store::{ImageRecord, ImageSummary, Removal};
use hull_image::Reference;

use crate::state::Status;
use crate::{Engine, EngineError};

/// A container created from an image.
#[derive(Debug, Clone)]
pub struct ImageUser {
    pub id: String,
    pub running: bool,
}

/// What `image prune` removed and the bytes it gave back.
#[derive(Debug, Clone, Default)]
pub struct ImagePruned {
    pub removed: Vec<Removal>,
    pub reclaimed: u64,
}

impl Engine {
    /// Image ID (`sha256:…`) → the containers created from it, running or not.
    pub fn image_users(&self) -> Result<BTreeMap<String, Vec<ImageUser>>, EngineError> {
        let mut users: BTreeMap<String, Vec<ImageUser>> = BTreeMap::new();
        for r in self.containers.list()? {
            let running = matches!(r.state.status, Status::Running | Status::Restarting);
            users
                .entry(r.image_id.clone())
                .or_default()
                .push(ImageUser {
                    id: r.id.clone(),
                    running,
                });
        }
        Ok(users)
    }

    /// `rmi NAME`, as Docker: a tag the image has others of is only untagged; the last tag, or
    /// the image by ID, is refused while a container uses the image (running: even with
    /// `force`). Forced past a stopped container, the image loses its tags but stays, since
    /// the container's root file system is made of its layers.
    /// Records `untag` and `delete` events for what it removed.
    pub fn remove_image(&self, name: &str, force: bool) -> Result<Vec<Removal>, EngineError> {
        let record = self.images.resolve(name)?;
        let removed = self.remove_resolved(name, &record, force)?;
        self.images_removed(Some(&record.id.to_string()), &removed);
        Ok(removed)
    }

    fn remove_resolved(
        &self,
        name: &str,
        record: &ImageRecord,
        force: bool,
    ) -> Result<Vec<Removal>, EngineError> {
        let tags = self
            .images
            .tags_by_image()?
            .remove(&record.id)
            .unwrap_or_default();
        let by_tag = Reference::parse_with_default_tag(name)
            .ok()
            .filter(|r| r.digest().is_none() && tags.contains(r));
        let users = self
            .image_users()?
            .remove(&record.id.to_string())
            .unwrap_or_default();
        if users.is_empty() || (by_tag.is_some() && tags.len() > 1) {
            return Ok(self.images.remove(name, force)?);
        }
        let image = record.id.short().to_string();
        let container = |u: &ImageUser| u.id.chars().take(12).collect::<String>();
        if let Some(tag) = by_tag {
            if !force {
                return Err(EngineError::ImageConflict(format!(
                    "conflict: unable to remove repository reference \"{name}\" (must force) - \
                     container {} is using its referenced image {image}",
                    container(&users[0])
                )));
            }
            return Ok(self.images.untag(&tag)?.into_iter().collect());
        }
        if let Some(u) = users.iter().find(|u| u.running) {
            return Err(EngineError::ImageConflict(format!(
                "conflict: unable to delete {image} (cannot be forced) - image is being used by \
                 running container {}",
                container(u)
            )));
        }
        if !force {
            return Err(EngineError::ImageConflict(format!(
                "conflict: unable to delete {image} (must be forced) - image is being used by \
                 stopped container {}",
                container(&users[0])
            )));
        }
        let mut removed = Vec::new();
        for t in &tags {
            removed.extend(self.images.untag(t)?);
        }
        Ok(removed)
    }

    /// `image prune`: dangling images (every unused one with `all`) for which `wanted` holds;
    /// an image a container was created from stays. The bytes freed are the layers no image
    /// holds any more. Records `untag` and `delete` events.
    pub fn prune_images(
        &self,
        all: bool,
        wanted: impl Fn(&ImageSummary) -> bool,
    ) -> Result<ImagePruned, EngineError> {
        let users = self.image_users()?;
        let kept: HashSet<String> = self
            .images
            .list()?
            .iter()
            .filter(|s| !wanted(s))
            .map(|s| s.record.id.to_string())
            .collect();
        let before = self.layer_bytes()?;
        let removed = self.images.prune_keeping(all, |id| {
            let id = id.to_string();
            users.contains_key(&id) || kept.contains(&id)
        })?;
        self.images_removed(None, &removed);
        let reclaimed = before.saturating_sub(self.layer_bytes()?);
        Ok(ImagePruned { removed, reclaimed })
    }

    /// The bytes of every layer some image holds, each layer once.
    fn layer_bytes(&self) -> Result<u64, EngineError> {
        let mut seen = HashSet::new();
        let mut total = 0;
        for s in self.images.list()? {
            for d in s.record.diff_ids() {
                if seen.insert(d.clone()) {
                    total += self.images.layers.meta(&d).map_or(0, |m| m.size);
                }
            }
        }
        Ok(total)
    }
}

/// An image's layers mounted on a directory (see [`Engine::mount_layers`]); unmounted (lazily,
/// so it cannot fail busy) when dropped.
pub struct MountedLayers {
    target: std::path::PathBuf,
}

impl MountedLayers {
    pub fn path(&self) -> &std::path::Path {
        &self.target
    }
}

impl Drop for MountedLayers {
    fn drop(&mut self) {
        let _ = hull_sys::mount::unmount(&self.target, true);
    }
}

impl Engine {
    /// Mounts the layers `diff_ids` (lowest first) on the existing directory `target`: read-only,
    /// or writable into `upper` (an upper and a work dir, empty, on one file system) whose
    /// writes stay there. `build` uses it for `RUN --mount=type=bind,from=…`. A failed mount leaves nothing
    /// mounted. The error is the cause only: the caller names the image.
    pub fn mount_layers(
        &self,
        diff_ids: &[hull_oci::Digest],
        target: &std::path::Path,
        upper: Option<(std::path::PathBuf, std::path::PathBuf)>,
    ) -> std::io::Result<MountedLayers> {
        let upper = upper.map(|(upper, work)| hull_sys::mount::OverlayUpper { upper, work });
        let spec = self
            .images
            .layers
            .mounts(diff_ids, upper)
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        // Held before mounting: a bind whose read-only remount failed is still undone.
        let guard = MountedLayers {
            target: target.to_path_buf(),
        };
        hull_sys::mount::mount(&spec, target)?;
        Ok(guard)
    }
}

/// The prefix of the temp dirs `build` mounts layers in: `hull-build-mount.<pid>.`.
pub const BUILD_MOUNT_PREFIX: &str = "hull-build-mount.";

/// Removes the temp dirs in `dir` named `hull-build-mount.<pid>.…` whose builder is gone (killed
/// while it held a layer mount): `merged` unmounted first; a dir that is still a mount point
/// after that is left alone, so nothing is ever removed through a live mount.
pub fn sweep_dead_build_mounts(dir: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix(BUILD_MOUNT_PREFIX)
            .and_then(|rest| rest.split('.').next())
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if !hull_sys::process::process_is_gone(pid) {
            continue;
        }
        let merged = e.path().join("merged");
        let _ = hull_sys::mount::unmount(&merged, true);
        if hull_sys::mount::is_mountpoint(&merged).unwrap_or(true) {
            continue;
        }
        let _ = std::fs::remove_dir_all(e.path());
    }
}
