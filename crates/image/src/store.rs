//! The image store: image records and tags on top of the content and layer stores.
//!
//! Layout under the root:
//! ```text
//! lock, gc.lock          see crate::lock
//! repositories.json      tag (fully qualified reference) → image ID
//! images/<hex>.json      one ImageRecord per image; <hex> is the config digest, the image ID
//! blobs/sha256/<hex>     the content store (manifests, configs, layer blobs)
//! layers/<hex>/          the layer store (diff/ + meta.json), keyed by diff ID
//! mounts/<hex>/          mount points of `hull image mount`
//! tmp/                   in-progress blobs and layers, named after their owner's pid
//! ```
//! Every metadata file is written atomically, and every change that reads and rewrites metadata
//! holds `lock`, so concurrent hull processes never lose an update.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use hull_oci::image::ImageConfig;
use hull_oci::{is_sha256_hex, Digest};
use serde::{Deserialize, Serialize};

use crate::content::{ContentError, ContentStore};
use crate::fsutil::{read_json, write_json_atomic};
use crate::layers::{LayerError, LayerStore};
use crate::lock::FileLock;
use crate::reference::{Reference, ReferenceError};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("no such image: {0}")]
    NotFound(String),
    #[error("image id prefix {prefix:?} is ambiguous: it matches {}", candidates.join(", "))]
    Ambiguous {
        prefix: String,
        candidates: Vec<String>,
    },
    #[error("conflict: unable to delete {id} (must be forced) - image is referenced in multiple repositories")]
    MultipleTags { id: String },
    #[error("conflict: unable to delete {id}: the image is mounted at {path} (run `hull image unmount`)")]
    Mounted { id: String, path: PathBuf },
    #[error(transparent)]
    Reference(#[from] ReferenceError),
    #[error(transparent)]
    Content(#[from] ContentError),
    #[error(transparent)]
    Layer(#[from] LayerError),
    #[error("image {id}: invalid config: {source}")]
    Config {
        id: String,
        source: serde_json::Error,
    },
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        source: io::Error,
    },
}

pub(crate) fn io_err<'a>(
    op: &'static str,
    path: &'a Path,
) -> impl FnOnce(io::Error) -> StoreError + 'a {
    move |source| StoreError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

/// Everything hull records about one image. The image ID is the digest of its config blob.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageRecord {
    pub id: Digest,
    /// `repo@sha256:…` for every registry manifest (or index) this image was pulled by.
    #[serde(default)]
    pub repo_digests: Vec<String>,
    /// The manifest blob, when one is stored (pulled or loaded from an OCI archive).
    #[serde(default)]
    pub manifest: Option<Digest>,
    pub layers: Vec<LayerRef>,
    /// Bytes of file content across all layers.
    pub size: u64,
    /// RFC 3339 time the image was last pulled, loaded or tagged here.
    pub added: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerRef {
    pub diff_id: Digest,
    /// The compressed blob as distributed, when known.
    pub blob: Option<Digest>,
    pub media_type: String,
    pub blob_size: u64,
}

impl ImageRecord {
    pub fn diff_ids(&self) -> Vec<Digest> {
        self.layers.iter().map(|l| l.diff_id.clone()).collect()
    }
}

/// One row of `hull images`.
#[derive(Debug, Clone)]
pub struct ImageSummary {
    pub record: ImageRecord,
    pub tags: Vec<Reference>,
    pub created: Option<String>,
}

/// What `rmi` and `prune` did, in the order Docker prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Removal {
    Untagged(String),
    Deleted(Digest),
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Repositories {
    #[serde(default)]
    tags: BTreeMap<String, Digest>,
}

#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
    pub content: ContentStore,
    pub layers: LayerStore,
}

impl Store {
    /// Opens (creating if needed) the store at `root`.
    pub fn open(root: &Path) -> Result<Store, StoreError> {
        for sub in ["images", "mounts"] {
            let dir = root.join(sub);
            fs::create_dir_all(&dir).map_err(io_err("create directory", &dir))?;
        }
        Ok(Store {
            root: root.to_path_buf(),
            content: ContentStore::open(root)?,
            layers: LayerStore::open(root)?,
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub(crate) fn tmp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }

    /// The metadata lock; hold it across read-modify-write of tags and records.
    pub fn lock(&self) -> Result<FileLock, StoreError> {
        let p = self.root.join("lock");
        FileLock::exclusive(&p).map_err(io_err("lock", &p))
    }

    /// Held shared by pulls and loads; excludes garbage collection.
    pub fn gc_shared(&self) -> Result<FileLock, StoreError> {
        let p = self.root.join("gc.lock");
        FileLock::shared(&p).map_err(io_err("lock", &p))
    }

    fn gc_exclusive(&self) -> Result<FileLock, StoreError> {
        let p = self.root.join("gc.lock");
        FileLock::exclusive(&p).map_err(io_err("lock", &p))
    }

    fn record_path(&self, id: &Digest) -> PathBuf {
        self.root.join("images").join(format!("{}.json", id.hex()))
    }

    fn repositories_path(&self) -> PathBuf {
        self.root.join("repositories.json")
    }

    fn read_repositories(&self) -> Result<Repositories, StoreError> {
        let p = self.repositories_path();
        Ok(read_json(&p)
            .map_err(io_err("read", &p))?
            .unwrap_or_default())
    }

    fn write_repositories(&self, repos: &Repositories) -> Result<(), StoreError> {
        let p = self.repositories_path();
        write_json_atomic(&p, repos).map_err(io_err("write", &p))
    }

    pub fn record(&self, id: &Digest) -> Result<ImageRecord, StoreError> {
        let p = self.record_path(id);
        read_json(&p)
            .map_err(io_err("read image record", &p))?
            .ok_or_else(|| StoreError::NotFound(id.to_string()))
    }

    pub(crate) fn write_record(&self, record: &ImageRecord) -> Result<(), StoreError> {
        let p = self.record_path(&record.id);
        write_json_atomic(&p, record).map_err(io_err("write image record", &p))
    }

    /// Every image ID with a record.
    pub fn ids(&self) -> Result<Vec<Digest>, StoreError> {
        let dir = self.root.join("images");
        let entries = fs::read_dir(&dir).map_err(io_err("list", &dir))?;
        Ok(entries
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                Digest::from_hex(name.strip_suffix(".json")?).ok()
            })
            .collect())
    }

    pub fn config(&self, id: &Digest) -> Result<ImageConfig, StoreError> {
        let bytes = self.content.read(id)?;
        serde_json::from_slice(&bytes).map_err(|source| StoreError::Config {
            id: id.to_string(),
            source,
        })
    }

    /// Tags pointing at each image.
    pub fn tags_by_image(&self) -> Result<BTreeMap<Digest, Vec<Reference>>, StoreError> {
        let mut out: BTreeMap<Digest, Vec<Reference>> = BTreeMap::new();
        for (name, id) in self.read_repositories()?.tags {
            if let Ok(r) = Reference::parse(&name) {
                out.entry(id).or_default().push(r);
            }
        }
        Ok(out)
    }

    /// Records a new or updated image and points `tags` at it, under the metadata lock. Tags that
    /// pointed elsewhere move; the image they left stays as a dangling `<none>` image.
    /// Returns true when any tag changed or the image is new.
    pub fn add_image(&self, record: ImageRecord, tags: &[Reference]) -> Result<bool, StoreError> {
        let _lock = self.lock()?;
        let mut record = record;
        let mut changed = true;
        if let Ok(old) = self.record(&record.id) {
            changed = false;
            for d in old.repo_digests {
                if !record.repo_digests.contains(&d) {
                    record.repo_digests.push(d);
                }
            }
        }
        record.repo_digests.sort();
        self.write_record(&record)?;
        let mut repos = self.read_repositories()?;
        for tag in tags {
            let previous = repos.tags.insert(tag.to_string(), record.id.clone());
            changed |= previous.as_ref() != Some(&record.id);
        }
        self.write_repositories(&repos)?;
        Ok(changed)
    }

    /// Finds an image by reference, `repo@digest`, full ID or unambiguous ID prefix.
    pub fn resolve(&self, name: &str) -> Result<ImageRecord, StoreError> {
        let hex = name.strip_prefix("sha256:").unwrap_or(name);
        if is_sha256_hex(hex) {
            return self.record(&Digest::from_hex(hex).expect("checked hex"));
        }
        if let Some(id) = self.resolve_reference(name)? {
            return self.record(&id);
        }
        self.resolve_prefix(name)
    }

    fn resolve_reference(&self, name: &str) -> Result<Option<Digest>, StoreError> {
        let Ok(reference) = Reference::parse_with_default_tag(name) else {
            return Ok(None);
        };
        if let Some(digest) = reference.digest() {
            let wanted = format!("{}@{digest}", reference.repository());
            for id in self.ids()? {
                if self.record(&id)?.repo_digests.contains(&wanted) {
                    return Ok(Some(id));
                }
            }
            return Ok(None);
        }
        Ok(self
            .read_repositories()?
            .tags
            .get(&reference.to_string())
            .cloned())
    }

    fn resolve_prefix(&self, prefix: &str) -> Result<ImageRecord, StoreError> {
        let hex = prefix.strip_prefix("sha256:").unwrap_or(prefix);
        let valid = !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit());
        if !valid {
            return Err(StoreError::NotFound(prefix.to_string()));
        }
        let matches: Vec<Digest> = self
            .ids()?
            .into_iter()
            .filter(|id| id.hex().starts_with(hex))
            .collect();
        match matches.as_slice() {
            [] => Err(StoreError::NotFound(prefix.to_string())),
            [one] => self.record(one),
            many => Err(StoreError::Ambiguous {
                prefix: prefix.to_string(),
                candidates: many.iter().map(|d| d.short().to_string()).collect(),
            }),
        }
    }

    /// `hull tag`: points `target` at the image `source` names.
    pub fn tag(&self, source: &str, target: &Reference) -> Result<(), StoreError> {
        let record = self.resolve(source)?;
        let _lock = self.lock()?;
        let mut repos = self.read_repositories()?;
        repos.tags.insert(target.to_string(), record.id.clone());
        self.write_repositories(&repos)
    }

    /// Removes the tag `target` alone, keeping the image even when it was its last tag (a
    /// container still uses it): `rmi -f` of a tag in use. `Untagged`, or None when no such tag.
    pub fn untag(&self, target: &Reference) -> Result<Option<Removal>, StoreError> {
        let _lock = self.lock()?;
        let mut repos = self.read_repositories()?;
        let key = target.to_string();
        if repos.tags.remove(&key).is_none() {
            return Ok(None);
        }
        self.write_repositories(&repos)?;
        Ok(Some(Removal::Untagged(familiar(&key))))
    }

    /// Images with their tags and creation time, newest first.
    pub fn list(&self) -> Result<Vec<ImageSummary>, StoreError> {
        let mut tags = self.tags_by_image()?;
        let mut out = Vec::new();
        for id in self.ids()? {
            let Ok(record) = self.record(&id) else {
                continue;
            };
            let created = self.config(&id).ok().and_then(|c| c.created);
            let mut t = tags.remove(&id).unwrap_or_default();
            t.sort_by_key(|r| r.to_string());
            out.push(ImageSummary {
                record,
                tags: t,
                created,
            });
        }
        out.sort_by(|a, b| {
            b.created
                .cmp(&a.created)
                .then(a.record.id.cmp(&b.record.id))
        });
        Ok(out)
    }

    /// `hull rmi`: removes a tag, or an image with all its tags, then collects garbage.
    pub fn remove(&self, name: &str, force: bool) -> Result<Vec<Removal>, StoreError> {
        let record = self.resolve(name)?;
        let mut events = Vec::new();
        {
            let _lock = self.lock()?;
            let mut repos = self.read_repositories()?;
            let tags: Vec<String> = repos
                .tags
                .iter()
                .filter(|(_, id)| **id == record.id)
                .map(|(t, _)| t.clone())
                .collect();
            let by_tag = Self::named_tag(name, &tags);
            let doomed_tags = match by_tag {
                Some(t) => vec![t],
                None if tags.len() > 1 && !force && distinct_repos(&tags) > 1 => {
                    return Err(StoreError::MultipleTags {
                        id: record.id.short().to_string(),
                    })
                }
                None => tags.clone(),
            };
            for t in &doomed_tags {
                repos.tags.remove(t);
                events.push(Removal::Untagged(familiar(t)));
            }
            let still_tagged = repos.tags.values().any(|id| *id == record.id);
            if !still_tagged {
                self.ensure_unmounted_or_fail(&record.id)?;
                self.write_repositories(&repos)?;
                self.delete_record(&record.id)?;
                events.push(Removal::Deleted(record.id.clone()));
            } else {
                self.write_repositories(&repos)?;
            }
        }
        self.gc()?;
        Ok(events)
    }

    /// The fully qualified tag `name` refers to, when it names one of the image's tags rather
    /// than its ID.
    fn named_tag(name: &str, tags: &[String]) -> Option<String> {
        let full = Reference::parse_with_default_tag(name).ok()?.to_string();
        tags.contains(&full).then_some(full)
    }

    fn delete_record(&self, id: &Digest) -> Result<(), StoreError> {
        let p = self.record_path(id);
        match fs::remove_file(&p) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io_err("remove", &p)(e)),
            _ => Ok(()),
        }
    }

    /// `hull image prune`: removes dangling images (all unused images with `all`).
    pub fn prune(&self, all: bool) -> Result<Vec<Removal>, StoreError> {
        self.prune_keeping(all, |_| false)
    }

    /// As [`Store::prune`], but an image for which `in_use` holds (a container's) stays, as
    /// Docker keeps every image a container was created from.
    pub fn prune_keeping(
        &self,
        all: bool,
        in_use: impl Fn(&Digest) -> bool,
    ) -> Result<Vec<Removal>, StoreError> {
        let mut events = Vec::new();
        {
            let _lock = self.lock()?;
            let mut repos = self.read_repositories()?;
            for id in self.ids()? {
                let tags: Vec<String> = repos
                    .tags
                    .iter()
                    .filter(|(_, t)| **t == id)
                    .map(|(n, _)| n.clone())
                    .collect();
                if (!tags.is_empty() && !all)
                    || in_use(&id)
                    || self.mountpoint_if_mounted(&id).is_some()
                {
                    continue;
                }
                for t in tags {
                    repos.tags.remove(&t);
                    events.push(Removal::Untagged(familiar(&t)));
                }
                self.write_repositories(&repos)?;
                self.delete_record(&id)?;
                events.push(Removal::Deleted(id));
            }
        }
        self.gc()?;
        Ok(events)
    }

    /// Deletes every layer and blob that no image record references. Waits for running pulls
    /// and loads to finish first (they hold the GC lock shared).
    pub fn gc(&self) -> Result<u64, StoreError> {
        let _gc = self.gc_exclusive()?;
        let _lock = self.lock()?;
        let (live_layers, mut live_blobs) = self.live_set()?;
        let mut reclaimed = 0;
        for diff_id in self.layers.list()? {
            if live_layers.contains(&diff_id) {
                if let Ok(meta) = self.layers.meta(&diff_id) {
                    live_blobs.extend(meta.source.map(|s| s.digest));
                }
                continue;
            }
            reclaimed += self.layers.meta(&diff_id).map(|m| m.size).unwrap_or(0);
            self.layers.remove(&diff_id)?;
        }
        for blob in self.content.list()? {
            if !live_blobs.contains(&blob) {
                reclaimed += self.content.size(&blob).unwrap_or(0);
                self.content.remove(&blob)?;
            }
        }
        self.sweep_stale()?;
        Ok(reclaimed)
    }

    /// Removes what dead processes left: temp blobs and layers, and half-written JSON files.
    pub fn sweep_stale(&self) -> Result<(), StoreError> {
        let tmp = self.tmp_dir();
        crate::fsutil::sweep_stale(&tmp).map_err(io_err("sweep", &tmp))?;
        for dir in [self.root.clone(), self.root.join("images")] {
            hull_sys::fs::sweep_atomic_temps(&dir).map_err(io_err("sweep", &dir))?;
        }
        Ok(())
    }

    fn live_set(&self) -> Result<(BTreeSet<Digest>, BTreeSet<Digest>), StoreError> {
        let mut layers = BTreeSet::new();
        let mut blobs = BTreeSet::new();
        for id in self.ids()? {
            let record = self.record(&id)?;
            blobs.insert(record.id.clone());
            blobs.extend(record.manifest.clone());
            for d in &record.repo_digests {
                if let Some((_, digest)) = d.split_once('@') {
                    blobs.extend(digest.parse::<Digest>().ok());
                }
            }
            for l in &record.layers {
                layers.insert(l.diff_id.clone());
                blobs.extend(l.blob.clone());
            }
        }
        Ok((layers, blobs))
    }

    /// Where `hull image mount` mounts an image.
    pub fn mountpoint(&self, id: &Digest) -> PathBuf {
        self.root.join("mounts").join(id.hex())
    }

    pub fn mountpoint_if_mounted(&self, id: &Digest) -> Option<PathBuf> {
        let p = self.mountpoint(id);
        hull_sys::mount::is_mountpoint(&p).ok()?.then_some(p)
    }

    fn ensure_unmounted_or_fail(&self, id: &Digest) -> Result<(), StoreError> {
        match self.mountpoint_if_mounted(id) {
            Some(path) => Err(StoreError::Mounted {
                id: id.short().to_string(),
                path,
            }),
            None => Ok(()),
        }
    }

    /// `hull image mount`: mounts the image's layers read-only and returns the mount point.
    /// Mounting an image that is already mounted returns the same path.
    pub fn mount(&self, name: &str) -> Result<PathBuf, StoreError> {
        let record = self.resolve(name)?;
        let _lock = self.lock()?;
        if let Some(p) = self.mountpoint_if_mounted(&record.id) {
            return Ok(p);
        }
        let target = self.mountpoint(&record.id);
        fs::create_dir_all(&target).map_err(io_err("create mount point", &target))?;
        let spec = self.layers.mounts(&record.diff_ids(), None)?;
        hull_sys::mount::mount(&spec, &target).map_err(io_err("mount image at", &target))?;
        Ok(target)
    }

    /// `hull image unmount`: returns the path unmounted, or None when it was not mounted.
    pub fn unmount(&self, name: &str) -> Result<Option<PathBuf>, StoreError> {
        let record = self.resolve(name)?;
        let _lock = self.lock()?;
        let Some(target) = self.mountpoint_if_mounted(&record.id) else {
            return Ok(None);
        };
        hull_sys::mount::unmount(&target, false).map_err(io_err("unmount", &target))?;
        let _ = fs::remove_dir(&target);
        Ok(Some(target))
    }
}

fn distinct_repos(tags: &[String]) -> usize {
    tags.iter()
        .filter_map(|t| Reference::parse(t).ok().map(|r| r.repository()))
        .collect::<BTreeSet<_>>()
        .len()
}

fn familiar(full: &str) -> String {
    Reference::parse(full)
        .map(|r| r.familiar())
        .unwrap_or_else(|_| full.to_string())
}
