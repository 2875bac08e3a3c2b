//! What a push sends: the blobs, and the manifests to put after them.
//!
//! - A stored manifest whose layers are all compressed goes up byte-for-byte, so the registry's
//!   digest equals the one it was pulled by. When the record also names a stored index whose
//!   every child manifest and blob is in the store, the whole index goes (children first).
//! - Otherwise (no stored manifest, or uncompressed layers) a new manifest is built once the
//!   layers are compressed: Docker v2s2 when the existing compressed layers are all Docker types
//!   and the format is gzip, else OCI.

use hull_oci::image::{media, Compression, Descriptor, Manifest};
use hull_oci::Digest;

use super::PushError;
use crate::store::{ImageRecord, Store, StoreError};

/// One blob to get into the repository.
#[derive(Debug, Clone)]
pub(crate) enum BlobJob {
    /// A blob in the content store, pushed as it is.
    Stored { digest: Digest, size: u64 },
    /// An uncompressed layer tar (blob digest == diff ID) to compress on the way up.
    Compress { tar: Digest },
}

impl BlobJob {
    /// The digest progress lines are keyed by.
    pub fn key(&self) -> &Digest {
        match self {
            BlobJob::Stored { digest, .. } | BlobJob::Compress { tar: digest } => digest,
        }
    }
}

/// A manifest ready to put: (media type, bytes).
#[derive(Debug, Clone)]
pub(crate) struct Ready {
    pub media_type: String,
    pub bytes: Vec<u8>,
}

#[derive(Debug)]
pub(crate) struct Plan {
    /// Layer and config blobs, deduplicated, layers first.
    pub blobs: Vec<BlobJob>,
    /// Child manifests to put by digest before the top one (an index's platforms).
    pub children: Vec<Ready>,
    /// The top manifest as stored, or None when it is to be built after compression.
    pub top: Option<Ready>,
    /// When the top manifest is built: OCI (true) or Docker v2s2 (false).
    pub oci: bool,
    /// A one-line remark for the user (an index that cannot be pushed whole).
    pub note: Option<String>,
}

pub(crate) fn plan(
    store: &Store,
    record: &ImageRecord,
    name: &str,
    zstd: bool,
) -> Result<Plan, PushError> {
    check_blobs(store, record, name)?;
    let config_size = store.content.size(&record.id).unwrap_or(0);
    let mut blobs: Vec<BlobJob> = record
        .layers
        .iter()
        .map(|l| {
            let digest = l.blob.clone().expect("checked by check_blobs");
            match Compression::of_layer_media_type(&l.media_type) {
                Some(Compression::None) => BlobJob::Compress { tar: digest },
                _ => BlobJob::Stored {
                    digest,
                    size: l.blob_size,
                },
            }
        })
        .collect();
    blobs.push(BlobJob::Stored {
        digest: record.id.clone(),
        size: config_size,
    });
    let must_build = blobs.iter().any(|b| matches!(b, BlobJob::Compress { .. }));
    let stored = match (&record.manifest, must_build) {
        (Some(m), false) if store.content.contains(m) => Some(read_ready(store, m)?),
        _ => None,
    };
    let docker_layers = record
        .layers
        .iter()
        .all(|l| l.media_type.starts_with("application/vnd.docker."));
    let mut plan = Plan {
        blobs,
        children: Vec::new(),
        top: stored,
        oci: zstd || !docker_layers || record.layers.is_empty(),
        note: None,
    };
    if plan.top.is_some() {
        whole_index(store, record, &mut plan)?;
    }
    dedup(&mut plan.blobs);
    Ok(plan)
}

/// Refuses a layer the store cannot produce the bytes of.
fn check_blobs(store: &Store, record: &ImageRecord, name: &str) -> Result<(), PushError> {
    for l in &record.layers {
        let reason = match &l.blob {
            None => {
                "the store has no blob for it (it was unpacked without keeping one)".to_string()
            }
            Some(b) if !store.content.contains(b) => {
                format!("the store has no blob for it ({b} is missing from the content store)")
            }
            Some(_) => continue,
        };
        return Err(PushError::Layer {
            image: name.to_string(),
            layer: l.diff_id.clone(),
            reason,
        });
    }
    Ok(())
}

fn read_ready(store: &Store, digest: &Digest) -> Result<Ready, PushError> {
    let bytes = store.content.read(digest).map_err(StoreError::from)?;
    let value: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| PushError::Manifest {
            digest: digest.clone(),
            reason: format!("invalid JSON: {e}"),
        })?;
    let media_type = match value.get("mediaType").and_then(|v| v.as_str()) {
        Some(m) => m.to_string(),
        None if value.get("manifests").is_some() => media::OCI_INDEX.to_string(),
        None => media::OCI_MANIFEST.to_string(),
    };
    Ok(Ready { media_type, bytes })
}

/// Switches the plan to the stored index the image was pulled by, when the store holds every
/// platform's manifest, config and layers; else leaves the single manifest and says why.
fn whole_index(store: &Store, record: &ImageRecord, plan: &mut Plan) -> Result<(), PushError> {
    let indexes = record
        .repo_digests
        .iter()
        .filter_map(|d| d.split_once('@')?.1.parse::<Digest>().ok())
        .filter(|d| Some(d) != record.manifest.as_ref() && store.content.contains(d));
    for digest in indexes {
        let ready = read_ready(store, &digest)?;
        if ready.media_type != media::OCI_INDEX && ready.media_type != media::DOCKER_MANIFEST_LIST {
            continue;
        }
        let index: hull_oci::image::Index =
            serde_json::from_slice(&ready.bytes).map_err(|e| PushError::Manifest {
                digest: digest.clone(),
                reason: e.to_string(),
            })?;
        let mut children = Vec::new();
        let mut blobs = Vec::new();
        let mut missing = 0;
        for child in &index.manifests {
            match child_blobs(store, child)? {
                Some((ready, child_blobs)) => {
                    children.push(ready);
                    blobs.extend(child_blobs);
                }
                None => missing += 1,
            }
        }
        if missing > 0 {
            plan.note = Some(format!(
                "pushing only this platform's manifest: the store lacks {missing} of the {} \
                 platform images of index {digest}",
                index.manifests.len()
            ));
            return Ok(());
        }
        plan.blobs = blobs;
        plan.children = children;
        plan.top = Some(ready);
        return Ok(());
    }
    Ok(())
}

/// A child manifest of an index with its blobs, or None when the store lacks any of them.
fn child_blobs(
    store: &Store,
    child: &Descriptor,
) -> Result<Option<(Ready, Vec<BlobJob>)>, PushError> {
    if !store.content.contains(&child.digest) {
        return Ok(None);
    }
    let ready = read_ready(store, &child.digest)?;
    let Ok(manifest) = serde_json::from_slice::<Manifest>(&ready.bytes) else {
        return Ok(None);
    };
    let mut blobs = Vec::new();
    for d in manifest
        .layers
        .iter()
        .chain(std::iter::once(&manifest.config))
    {
        if !store.content.contains(&d.digest) {
            return Ok(None);
        }
        blobs.push(BlobJob::Stored {
            digest: d.digest.clone(),
            size: d.size,
        });
    }
    Ok(Some((ready, blobs)))
}

fn dedup(blobs: &mut Vec<BlobJob>) {
    let mut seen = std::collections::BTreeSet::new();
    blobs.retain(|b| seen.insert(b.key().clone()));
}

/// The manifest for `layers` (media type, digest, size each) and the config, in the plan's
/// family.
pub(crate) fn build(oci: bool, config: Descriptor, layers: Vec<Descriptor>) -> Ready {
    let media_type = if oci {
        media::OCI_MANIFEST
    } else {
        media::DOCKER_MANIFEST
    };
    let manifest = Manifest {
        schema_version: 2,
        media_type: Some(media_type.to_string()),
        config,
        layers,
        annotations: Default::default(),
    };
    Ready {
        media_type: media_type.to_string(),
        bytes: serde_json::to_vec(&manifest).expect("a manifest serializes"),
    }
}

/// The layer media type for compressed output in the manifest's family.
pub(crate) fn layer_media_type(oci: bool, zstd: bool) -> &'static str {
    match (oci, zstd) {
        (_, true) => media::OCI_LAYER_ZSTD,
        (true, false) => media::OCI_LAYER_GZIP,
        (false, false) => media::DOCKER_LAYER_GZIP,
    }
}

pub(crate) fn config_media_type(oci: bool) -> &'static str {
    if oci {
        media::OCI_CONFIG
    } else {
        media::DOCKER_CONFIG
    }
}
