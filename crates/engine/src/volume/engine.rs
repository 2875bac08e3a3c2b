//! What the engine does with volumes: `hull volume create|rm|prune`, which containers use a
//! volume, a container's volumes resolved when it is created (anonymous names, the image's
//! `VOLUME`s, `--volumes-from`), and removed with `rm -v`.

use std::collections::BTreeMap;

use hull_oci::image::ContainerConfig;
use hull_oci::runtime::Spec;

use super::store::{disk_usage, CreateRequest};
use super::{Volume, VolumeError, Volumes, ANONYMOUS_LABEL};
use crate::run::{RunConfig, UserMount};
use crate::state::{Record, Status};
use crate::{Engine, EngineError};

/// A volume with what `system df` shows of it.
#[derive(Debug, Clone)]
pub struct VolumeUsage {
    pub volume: Volume,
    /// Apparent size of `_data`, in bytes.
    pub size: u64,
    /// How many containers (running or not) use it.
    pub ref_count: usize,
}

/// What `volume prune` removed.
#[derive(Debug, Clone, Default)]
pub struct PruneReport {
    pub deleted: Vec<String>,
    pub reclaimed: u64,
}

impl Engine {
    pub fn volumes(&self) -> Volumes {
        Volumes::open(&self.root)
    }

    /// `hull volume create`: the new volume, or the existing one of that name.
    pub fn volume_create(&self, req: &CreateRequest) -> Result<Volume, EngineError> {
        let (volume, created) = self.volumes().create(req, Volumes::now())?;
        if created {
            self.volume_event("create", &volume.name, &[]);
        }
        Ok(volume)
    }

    /// Volume name → the IDs of the containers (running or not) that use it.
    /// A container whose record cannot be read (Dead) still holds its volumes: they are read
    /// from the mounts of its runtime bundle, when it was ever started.
    pub fn volume_users(&self) -> Result<BTreeMap<String, Vec<String>>, EngineError> {
        let mut users: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for r in self.containers.list()? {
            let names: Vec<String> = match r.state.status {
                Status::Dead => self.bundle_volumes(&r.id),
                _ => r
                    .config
                    .mounts
                    .iter()
                    .filter_map(UserMount::volume)
                    .map(String::from)
                    .collect(),
            };
            for name in names {
                users.entry(name).or_default().push(r.id.clone());
            }
        }
        Ok(users)
    }

    /// The volumes the container's bundle mounts: sources `volumes/<name>/_data` of this store.
    fn bundle_volumes(&self, id: &str) -> Vec<String> {
        let config = self.containers.bundle(id).join("config.json");
        let spec = std::fs::read(config)
            .ok()
            .and_then(|b| serde_json::from_slice::<Spec>(&b).ok());
        let volumes = self.volumes();
        let sources = spec
            .into_iter()
            .flat_map(|s| s.mounts)
            .filter_map(|m| m.source);
        sources
            .filter_map(|source| {
                let name = source.parent()?.file_name()?.to_str()?.to_string();
                (volumes.mountpoint(&name) == source).then_some(name)
            })
            .collect()
    }

    /// `hull volume rm`: refused while a container uses the volume; `force` only lets a
    /// missing volume pass, as Docker's does.
    pub fn volume_remove(&self, name: &str, force: bool) -> Result<(), EngineError> {
        let volumes = self.volumes();
        let v = match volumes.get(name) {
            Err(VolumeError::NotFound(_)) if force => return Ok(()),
            other => other?,
        };
        if let Some(ids) = self.volume_users()?.remove(name) {
            return Err(VolumeError::InUse {
                name: name.to_string(),
                ids,
            }
            .into());
        }
        volumes.remove(&v)?;
        self.volume_event("destroy", name, &[]);
        Ok(())
    }

    /// `hull volume prune`: the unused volumes go, only the anonymous ones unless `all`
    /// (Docker 23's rule).
    pub fn volume_prune(&self, all: bool) -> Result<PruneReport, EngineError> {
        self.volume_prune_where(all, |_| true)
    }

    /// As [`Engine::volume_prune`], of the volumes for which `wanted` holds (the API's label
    /// filters).
    pub fn volume_prune_where(
        &self,
        all: bool,
        wanted: impl Fn(&Volume) -> bool,
    ) -> Result<PruneReport, EngineError> {
        let users = self.volume_users()?;
        let volumes = self.volumes();
        let mut report = PruneReport::default();
        for v in volumes.list()? {
            if users.contains_key(&v.name) || !(all || v.is_anonymous()) || !wanted(&v) {
                continue;
            }
            let size = disk_usage(&v.mountpoint);
            volumes.remove(&v)?;
            self.volume_event("destroy", &v.name, &[]);
            report.reclaimed += size;
            report.deleted.push(v.name);
        }
        Ok(report)
    }

    /// Every volume with its size and how many containers use it (for `system df`).
    pub fn volume_usage(&self) -> Result<Vec<VolumeUsage>, EngineError> {
        let users = self.volume_users()?;
        Ok(self
            .volumes()
            .list()?
            .into_iter()
            .map(|volume| VolumeUsage {
                size: disk_usage(&volume.mountpoint),
                ref_count: users.get(&volume.name).map_or(0, Vec::len),
                volume,
            })
            .collect())
    }

    /// A new container's volumes: `--volumes-from` copied in, an anonymous volume for each of
    /// the image's `VOLUME`s nothing else is mounted on, every volume created (anonymous ones
    /// named), and two mounts on one target refused.
    pub(crate) fn volumes_at_create(
        &self,
        config: &mut RunConfig,
        image: &ContainerConfig,
    ) -> Result<(), EngineError> {
        for from in config.volumes_from.clone() {
            self.mounts_from(config, &from)?;
        }
        for path in image.volumes.iter().flat_map(|v| v.keys()) {
            let target = path.trim_end_matches('/');
            if !target.is_empty() && !config.mounts.iter().any(|m| m.target() == target) {
                config.mounts.push(UserMount::Volume {
                    name: String::new(),
                    target: target.to_string(),
                    readonly: false,
                    nocopy: false,
                });
            }
        }
        for (i, m) in config.mounts.iter().enumerate() {
            if config.mounts[..i].iter().any(|p| p.target() == m.target()) {
                return Err(VolumeError::BadOptions {
                    name: m.volume().unwrap_or("-").to_string(),
                    reason: format!("duplicate mount point: {}", m.target()),
                }
                .into());
            }
        }
        let volumes = self.volumes();
        for m in &mut config.mounts {
            if let UserMount::Volume { name, .. } = m {
                let anonymous = name.is_empty();
                let req = CreateRequest {
                    name: (!anonymous).then(|| name.clone()),
                    labels: anonymous
                        .then(|| BTreeMap::from([(ANONYMOUS_LABEL.into(), "".into())])),
                    ..Default::default()
                };
                let (v, created) = volumes.create(&req, Volumes::now())?;
                if created {
                    self.volume_event("create", &v.name, &[]);
                }
                *name = v.name;
            }
        }
        Ok(())
    }

    /// `--volumes-from CONTAINER[:ro|:rw]`: its volumes and binds on targets not yet taken,
    /// read-only with `:ro`, read-write with `:rw`, else as that container has them.
    fn mounts_from(&self, config: &mut RunConfig, from: &str) -> Result<(), EngineError> {
        let (name, mode) = match from.split_once(':') {
            Some((n, m)) => (n, Some(m == "ro")),
            None => (from, None),
        };
        let other = self.containers.resolve(name)?;
        for m in other.config.mounts {
            if config.mounts.iter().any(|p| p.target() == m.target()) {
                continue;
            }
            config.mounts.push(match (m, mode) {
                (
                    UserMount::Volume {
                        name,
                        target,
                        nocopy,
                        ..
                    },
                    Some(ro),
                ) => UserMount::Volume {
                    name,
                    target,
                    readonly: ro,
                    nocopy,
                },
                (UserMount::Bind { source, target, .. }, Some(ro)) => UserMount::Bind {
                    source,
                    target,
                    readonly: ro,
                },
                (UserMount::Tmpfs { .. }, _) => continue,
                (m, None) => m,
            });
        }
        Ok(())
    }

    /// `rm -v` and `run --rm`: the container's anonymous volumes that no other container uses.
    /// A volume that cannot go is reported and left, as Docker leaves it.
    pub(crate) fn remove_anonymous_volumes(&self, record: &Record) {
        let volumes = self.volumes();
        let users = self.volume_users().unwrap_or_default();
        for name in record.config.mounts.iter().filter_map(UserMount::volume) {
            let in_use = users
                .get(name)
                .is_some_and(|ids| ids.iter().any(|id| *id != record.id));
            match volumes.get(name) {
                Ok(v) if v.is_anonymous() && !in_use => match volumes.remove(&v) {
                    Ok(()) => self.volume_event("destroy", name, &[]),
                    Err(e) => eprintln!("hull: {e}"),
                },
                _ => {}
            }
        }
    }
}
