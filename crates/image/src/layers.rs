//! The layer store: one unpacked directory per layer, keyed by its diff ID (the digest of the
//! uncompressed tar), in overlayfs's native format (whiteouts are 0/0 char devices, opaque
//! directories carry `trusted.overlay.opaque=y`). Because each layer's directory depends only on its
//! own tar, layers are shared between every image that contains them.
//!
//! Lifecycle: [`LayerStore::begin`] gives a [`LayerWriter`] whose `diff` directory lives under
//! `<root>/tmp`; the caller unpacks into it; [`LayerWriter::commit`] syncs the filesystem and renames
//! it to `<root>/layers/<hex>`. The rename is the commit point, so a layer directory that exists is
//! complete. Two processes unpacking the same layer both succeed; the second rename finds the
//! layer present and discards its own copy. [`LayerStore::mounts`] describes a stack as data; it
//! never mounts anything itself.
//!
//! ```no_run
//! # use hull_image::layers::{LayerStore, LayerMeta};
//! # let diff_id: hull_oci::Digest = todo!();
//! let store = LayerStore::open("/var/lib/hull".as_ref()).unwrap();
//! let writer = store.begin().unwrap();
//! // unpack a tar into writer.diff_dir() ...
//! store.commit(writer, &LayerMeta { diff_id: diff_id.clone(), source: None, size: 0 }).unwrap();
//! let mount = store.mounts(&[diff_id], None).unwrap();
//! ```

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use hull_oci::Digest;
use hull_sys::mount::{MountSpec, OverlayUpper};
use serde::{Deserialize, Serialize};

use crate::fsutil::{read_json, remove_any, write_json_atomic, TempName};

#[derive(Debug, thiserror::Error)]
pub enum LayerError {
    #[error("layer {0} is not in the layer store")]
    NotFound(Digest),
    #[error("an image needs at least one layer")]
    Empty,
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        source: io::Error,
    },
}

fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> LayerError + 'a {
    move |source| LayerError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

/// What the store remembers about a layer besides its files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerMeta {
    pub diff_id: Digest,
    /// The blob the layer was unpacked from, when it is kept in the content store: `save` streams
    /// it back out so the exported tar hashes to the same diff ID.
    pub source: Option<SourceBlob>,
    /// Bytes of regular-file content.
    pub size: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceBlob {
    pub digest: Digest,
    pub media_type: String,
}

#[derive(Debug, Clone)]
pub struct LayerStore {
    layers: PathBuf,
    tmp: PathBuf,
}

/// A layer being unpacked; dropping it without commit removes the partial directory.
#[derive(Debug)]
pub struct LayerWriter {
    dir: PathBuf,
    committed: bool,
}

impl LayerWriter {
    /// The directory to unpack into.
    pub fn diff_dir(&self) -> PathBuf {
        self.dir.join("diff")
    }
}

impl Drop for LayerWriter {
    fn drop(&mut self) {
        if !self.committed {
            let _ = remove_any(&self.dir);
        }
    }
}

impl LayerStore {
    pub fn open(root: &Path) -> Result<LayerStore, LayerError> {
        let layers = root.join("layers");
        let tmp = root.join("tmp");
        for dir in [&layers, &tmp] {
            fs::create_dir_all(dir).map_err(io_err("create directory", dir))?;
        }
        Ok(LayerStore { layers, tmp })
    }

    fn dir(&self, diff_id: &Digest) -> PathBuf {
        self.layers.join(diff_id.hex())
    }

    /// The unpacked files of a committed layer.
    pub fn diff_dir(&self, diff_id: &Digest) -> PathBuf {
        self.dir(diff_id).join("diff")
    }

    pub fn contains(&self, diff_id: &Digest) -> bool {
        self.dir(diff_id).join("meta.json").is_file()
    }

    pub fn meta(&self, diff_id: &Digest) -> Result<LayerMeta, LayerError> {
        let path = self.dir(diff_id).join("meta.json");
        read_json(&path)
            .map_err(io_err("read layer metadata", &path))?
            .ok_or_else(|| LayerError::NotFound(diff_id.clone()))
    }

    /// Points the layer's metadata at another blob it can be exported from (push replaced an
    /// uncompressed blob with its compressed form). Atomic: a crash leaves the old or new file.
    pub fn set_source(&self, diff_id: &Digest, source: SourceBlob) -> Result<(), LayerError> {
        let mut meta = self.meta(diff_id)?;
        meta.source = Some(source);
        let path = self.dir(diff_id).join("meta.json");
        write_json_atomic(&path, &meta).map_err(io_err("write layer metadata", &path))
    }

    pub fn begin(&self) -> Result<LayerWriter, LayerError> {
        let dir = self.tmp.join(TempName::new("layer").to_string());
        let diff = dir.join("diff");
        fs::create_dir_all(&diff).map_err(io_err("create layer directory", &diff))?;
        Ok(LayerWriter {
            dir,
            committed: false,
        })
    }

    /// Makes an unpacked layer durable and visible. Returns false when another process committed
    /// the same layer first (ours is then discarded).
    pub fn commit(&self, mut writer: LayerWriter, meta: &LayerMeta) -> Result<bool, LayerError> {
        let meta_path = writer.dir.join("meta.json");
        write_json_atomic(&meta_path, meta).map_err(io_err("write layer metadata", &meta_path))?;
        // One syncfs covers every file of the layer, far cheaper than an fsync per file; it must
        // happen before the rename, because the rename is what declares the layer complete.
        crate::fsutil::syncfs(&writer.dir).map_err(io_err("sync layer", &writer.dir))?;
        let dest = self.dir(&meta.diff_id);
        match fs::rename(&writer.dir, &dest) {
            Ok(()) => {
                writer.committed = true;
                crate::fsutil::fsync_dir(&self.layers).map_err(io_err("fsync", &self.layers))?;
                Ok(true)
            }
            Err(e) if self.contains(&meta.diff_id) => {
                let _ = e;
                Ok(false)
            }
            Err(e) => Err(io_err("commit layer", &dest)(e)),
        }
    }

    /// Removes a layer; missing is fine. It first moves the layer out of `layers/`, so a crash
    /// half-way never leaves a partial layer that looks complete.
    pub fn remove(&self, diff_id: &Digest) -> Result<(), LayerError> {
        let dir = self.dir(diff_id);
        let doomed = self.tmp.join(TempName::new("rmlayer").to_string());
        match fs::rename(&dir, &doomed) {
            Ok(()) => remove_any(&doomed).map_err(io_err("remove layer", &doomed)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err("remove layer", &dir)(e)),
        }
    }

    pub fn list(&self) -> Result<Vec<Digest>, LayerError> {
        let entries = fs::read_dir(&self.layers).map_err(io_err("list", &self.layers))?;
        Ok(entries
            .flatten()
            .filter_map(|e| Digest::from_hex(&e.file_name().to_string_lossy()).ok())
            .collect())
    }

    /// The mount that stacks `diff_ids` (ordered bottom-most first, as in an image config). With
    /// `upper`, the result is writable; without, read-only. A single read-only layer is a bind
    /// mount, because overlayfs needs two lowers when it has no upper.
    pub fn mounts(
        &self,
        diff_ids: &[Digest],
        upper: Option<OverlayUpper>,
    ) -> Result<MountSpec, LayerError> {
        if diff_ids.is_empty() {
            return Err(LayerError::Empty);
        }
        for d in diff_ids {
            if !self.contains(d) {
                return Err(LayerError::NotFound(d.clone()));
            }
        }
        let lowers: Vec<PathBuf> = diff_ids.iter().rev().map(|d| self.diff_dir(d)).collect();
        Ok(match (lowers.len(), upper) {
            (1, None) => MountSpec::Bind {
                source: lowers[0].clone(),
                readonly: true,
            },
            (_, upper) => MountSpec::Overlay { lowers, upper },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(d: &Digest) -> LayerMeta {
        LayerMeta {
            diff_id: d.clone(),
            source: None,
            size: 1,
        }
    }

    #[test]
    fn commit_makes_layer_visible_once() {
        let root = tempfile::tempdir().unwrap();
        let store = LayerStore::open(root.path()).unwrap();
        let d = Digest::sha256_of(b"layer");
        let w = store.begin().unwrap();
        fs::write(w.diff_dir().join("f"), b"x").unwrap();
        assert!(!store.contains(&d));
        assert!(store.commit(w, &meta(&d)).unwrap());
        assert!(store.contains(&d));
        assert_eq!(fs::read(store.diff_dir(&d).join("f")).unwrap(), b"x");

        let second = store.begin().unwrap();
        assert!(
            !store.commit(second, &meta(&d)).unwrap(),
            "second commit loses"
        );
        assert_eq!(fs::read_dir(root.path().join("tmp")).unwrap().count(), 0);
        assert_eq!(store.list().unwrap(), vec![d.clone()]);
        assert_eq!(store.meta(&d).unwrap(), meta(&d));
    }

    #[test]
    fn dropped_writer_leaves_nothing() {
        let root = tempfile::tempdir().unwrap();
        let store = LayerStore::open(root.path()).unwrap();
        let w = store.begin().unwrap();
        fs::write(w.diff_dir().join("f"), b"x").unwrap();
        drop(w);
        assert_eq!(fs::read_dir(root.path().join("tmp")).unwrap().count(), 0);
    }

    #[test]
    fn mounts_are_data_top_layer_first() {
        let root = tempfile::tempdir().unwrap();
        let store = LayerStore::open(root.path()).unwrap();
        let ids: Vec<Digest> = (0..3u8).map(|i| Digest::sha256_of(&[i])).collect();
        for d in &ids {
            store.commit(store.begin().unwrap(), &meta(d)).unwrap();
        }
        match store.mounts(&ids, None).unwrap() {
            MountSpec::Overlay { lowers, upper } => {
                assert_eq!(lowers[0], store.diff_dir(&ids[2]));
                assert_eq!(lowers[2], store.diff_dir(&ids[0]));
                assert!(upper.is_none());
            }
            other => panic!("expected overlay, got {other:?}"),
        }
        assert!(matches!(
            store.mounts(&ids[..1], None).unwrap(),
            MountSpec::Bind { readonly: true, .. }
        ));
        let missing = Digest::sha256_of(b"missing");
        assert!(matches!(
            store.mounts(&[missing], None),
            Err(LayerError::NotFound(_))
        ));
        assert!(matches!(store.mounts(&[], None), Err(LayerError::Empty)));
        store.remove(&ids[0]).unwrap();
        assert!(!store.contains(&ids[0]));
    }
}
