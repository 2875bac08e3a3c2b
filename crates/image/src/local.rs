//! Images made on this host (`commit`, `import`, later `build`): a layer from a tar stream, and
//! an image record from a config and its layers.
//!
//! A new layer is kept as the uncompressed tar hull read (media type
//! `application/vnd.oci.image.layer.v1.tar`): its blob digest is its diff ID, nothing is
//! compressed while committing, and `push` compresses it when it leaves the host. The tar is
//! hashed into the content store and unpacked into the layer store in one pass, through the same
//! breakout-safe extractor as pulls. The blob is committed first, then the layer, then the config
//! and the record, each by a rename: a process killed half-way leaves complete pieces that no
//! record references (the next `gc` collects them), never a partial one that looks complete.
//! Callers hold [`Store::gc_shared`] from the first layer to the record, so a concurrent `gc`
//! does not collect the new, still unreferenced layers.

use std::io::{self, Read, Write};

use hull_oci::image::{media, ImageConfig};
use hull_oci::Digest;

use crate::content::{ContentError, Ingest};
use crate::layers::{LayerMeta, SourceBlob};
use crate::pull::now_rfc3339;
use crate::reference::Reference;
use crate::store::{ImageRecord, LayerRef, Store, StoreError};
use crate::unpack::{unpack, UnpackError, UnpackOptions};

#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    #[error("layer tar: {0}")]
    Unpack(#[from] UnpackError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("image config: {0}")]
    Config(serde_json::Error),
}

impl From<ContentError> for LocalError {
    fn from(e: ContentError) -> Self {
        LocalError::Store(StoreError::Content(e))
    }
}

/// A new layer and the bytes of file content it holds.
#[derive(Debug, Clone)]
pub struct NewLayer {
    pub layer: LayerRef,
    pub size: u64,
}

/// Copies what the unpacker reads into the blob being ingested.
struct Tee<'a, R> {
    inner: R,
    blob: &'a mut Ingest,
}

impl<R: Read> Read for Tee<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.blob.write_all(&buf[..n])?;
        Ok(n)
    }
}

/// A root filesystem tar as `import` takes it: plain, gzip or zstd, told by its first bytes.
/// xz and bzip2 are named and refused (hull carries no decoder for them).
pub fn open_tar<'a, R: Read + 'a>(reader: R) -> io::Result<Box<dyn Read + 'a>> {
    let mut buf = io::BufReader::with_capacity(256 << 10, reader);
    let magic = io::BufRead::fill_buf(&mut buf)?;
    let refuse = |what: &str| {
        Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "{what}-compressed tar is not supported (decompress it first, or use gzip or zstd)"
            ),
        ))
    };
    Ok(match magic {
        [] => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "empty input: not a tar archive",
            ))
        }
        [0x1f, 0x8b, ..] => Box::new(flate2::read::MultiGzDecoder::new(buf)),
        [0x28, 0xb5, 0x2f, 0xfd, ..] => Box::new(zstd::stream::read::Decoder::with_buffer(buf)?),
        [0xfd, b'7', b'z', b'X', b'Z', 0, ..] => return refuse("xz"),
        [b'B', b'Z', b'h', ..] => return refuse("bzip2"),
        _ => Box::new(buf),
    })
}

impl Store {
    /// Stores the uncompressed layer tar `tar` as a blob and unpacks it into the layer store
    /// (unless a layer with its diff ID is already there). See the module doc for crash safety.
    pub fn add_layer_from_tar<R: Read>(&self, tar: R) -> Result<NewLayer, LocalError> {
        let mut blob = self.content.ingest_unknown()?;
        let writer = self.layers.begin().map_err(StoreError::from)?;
        let opts = UnpackOptions {
            chown: rustix::process::geteuid().is_root(),
        };
        let stats = {
            let tee = Tee {
                inner: tar,
                blob: &mut blob,
            };
            unpack(tee, &writer.diff_dir(), &opts)?
        };
        let blob_size = blob.written();
        let diff_id = blob.commit()?;
        let size = match self.layers.meta(&diff_id) {
            Ok(meta) => meta.size,
            Err(_) => {
                let meta = LayerMeta {
                    diff_id: diff_id.clone(),
                    source: Some(SourceBlob {
                        digest: diff_id.clone(),
                        media_type: media::OCI_LAYER.to_string(),
                    }),
                    size: stats.bytes,
                };
                self.layers
                    .commit(writer, &meta)
                    .map_err(StoreError::from)?;
                stats.bytes
            }
        };
        Ok(NewLayer {
            layer: LayerRef {
                diff_id: diff_id.clone(),
                blob: Some(diff_id),
                media_type: media::OCI_LAYER.to_string(),
                blob_size,
            },
            size,
        })
    }

    /// Writes `config` as the image's config blob and records the image with `layers` (which
    /// must match its `rootfs.diff_ids`) and no manifest; `tags` point at it. Returns the ID.
    pub fn add_local_image(
        &self,
        config: &ImageConfig,
        layers: Vec<LayerRef>,
        tags: &[Reference],
    ) -> Result<Digest, LocalError> {
        let bytes = serde_json::to_vec(config).map_err(LocalError::Config)?;
        let id = self.content.put(&bytes, None)?;
        let mut size = 0;
        for l in &layers {
            size += self.layers.meta(&l.diff_id).map_err(StoreError::from)?.size;
        }
        let record = ImageRecord {
            id: id.clone(),
            repo_digests: Vec::new(),
            manifest: None,
            layers,
            size,
            added: now_rfc3339(),
        };
        self.add_image(record, tags)?;
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_with(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, data) in files {
            let mut h = tar::Header::new_ustar();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_uid(0);
            h.set_gid(0);
            h.set_mtime(0);
            h.set_entry_type(tar::EntryType::Regular);
            b.append_data(&mut h, name, *data).unwrap();
        }
        b.into_inner().unwrap()
    }

    #[test]
    fn layer_blob_is_the_tar_and_its_digest_the_diff_id() {
        let root = tempfile::tempdir().unwrap();
        let store = Store::open(root.path()).unwrap();
        let tar = tar_with(&[("a", b"hello"), ("d/b", b"xy")]);
        let new = store.add_layer_from_tar(&tar[..]).unwrap();
        let d = Digest::sha256_of(&tar);
        assert_eq!(new.layer.diff_id, d);
        assert_eq!(new.layer.blob.as_ref(), Some(&d));
        assert_eq!(new.layer.blob_size, tar.len() as u64);
        assert_eq!(new.size, 7);
        assert_eq!(store.content.read(&d).unwrap(), tar);
        let dir = store.layers.diff_dir(&d);
        assert_eq!(std::fs::read(dir.join("d/b")).unwrap(), b"xy");
        // The same tar again reuses the layer and leaves no temp files.
        let again = store.add_layer_from_tar(&tar[..]).unwrap();
        assert_eq!(again.layer, new.layer);
        assert_eq!(
            std::fs::read_dir(root.path().join("tmp")).unwrap().count(),
            0
        );

        let config = ImageConfig {
            os: "linux".into(),
            architecture: "amd64".into(),
            rootfs: hull_oci::image::RootFs {
                kind: "layers".into(),
                diff_ids: vec![d.clone()],
            },
            ..Default::default()
        };
        let tag = Reference::parse_with_default_tag("local/x").unwrap();
        let id = store
            .add_local_image(&config, vec![new.layer], &[tag])
            .unwrap();
        let record = store.resolve("local/x").unwrap();
        assert_eq!(record.id, id);
        assert_eq!(record.manifest, None);
        assert_eq!(record.size, 7);
        assert_eq!(store.config(&id).unwrap().rootfs.diff_ids, vec![d]);
        assert_eq!(store.gc().unwrap(), 0, "the image keeps its layer and blob");
    }

    #[test]
    fn a_refused_tar_leaves_nothing() {
        let root = tempfile::tempdir().unwrap();
        let store = Store::open(root.path()).unwrap();
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(1);
        h.set_entry_type(tar::EntryType::Regular);
        h.as_gnu_mut().unwrap().name[..7].copy_from_slice(b"../evil");
        h.set_cksum();
        b.append(&h, &b"x"[..]).unwrap();
        let tar = b.into_inner().unwrap();
        let err = store.add_layer_from_tar(&tar[..]);
        assert!(err.is_err(), "a climbing path must be refused");
        assert!(!root.path().join("evil").exists());
        assert_eq!(store.content.list().unwrap(), vec![]);
        assert_eq!(store.layers.list().unwrap(), vec![]);
        assert_eq!(
            std::fs::read_dir(root.path().join("tmp")).unwrap().count(),
            0
        );
    }
}
