//! After a push: the image record learns the repository digest, and layers compressed on this
//! push switch to their compressed blobs, with the pushed manifest stored as the image's.
//!
//! Order, for crash safety (a kill -9 between any two steps leaves a valid store): the
//! compressed blobs and the manifest are committed first; the record is rewritten atomically
//! under the store lock; then each layer's export source moves to the compressed blob; only then
//! is an uncompressed tar no image references any more removed. Decompressing the new blob gives
//! the exact tar, so diff IDs stay valid.

use hull_oci::Digest;

use crate::layers::{LayerError, SourceBlob};
use crate::store::{Store, StoreError};

/// A layer whose uncompressed `tar` blob was replaced by `blob` on this push.
#[derive(Debug, Clone)]
pub(crate) struct Replaced {
    pub tar: Digest,
    pub blob: Digest,
    pub size: u64,
    pub media_type: String,
}

pub(crate) fn update(
    store: &Store,
    id: &Digest,
    replaced: &[Replaced],
    manifest: Option<&[u8]>,
    repo_digest: String,
) -> Result<(), StoreError> {
    let manifest = manifest
        .map(|bytes| store.content.put(bytes, None))
        .transpose()?;
    let _lock = store.lock()?;
    let mut record = store.record(id)?;
    for layer in &mut record.layers {
        let Some(r) = replaced
            .iter()
            .find(|r| layer.blob.as_ref() == Some(&r.tar))
        else {
            continue;
        };
        layer.blob = Some(r.blob.clone());
        layer.media_type = r.media_type.clone();
        layer.blob_size = r.size;
    }
    if manifest.is_some() {
        record.manifest = manifest;
    }
    if !record.repo_digests.contains(&repo_digest) {
        record.repo_digests.push(repo_digest);
        record.repo_digests.sort();
    }
    store.write_record(&record)?;
    for r in replaced {
        let diff_id = record
            .layers
            .iter()
            .find(|l| l.blob.as_ref() == Some(&r.blob))
            .map(|l| l.diff_id.clone());
        if let Some(diff_id) = diff_id {
            let source = SourceBlob {
                digest: r.blob.clone(),
                media_type: r.media_type.clone(),
            };
            match store.layers.set_source(&diff_id, source) {
                Ok(()) | Err(LayerError::NotFound(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        if !referenced(store, &r.tar)? {
            store.content.remove(&r.tar)?;
        }
    }
    Ok(())
}

/// Does any image record still name `blob` as a layer blob?
fn referenced(store: &Store, blob: &Digest) -> Result<bool, StoreError> {
    for id in store.ids()? {
        let record = store.record(&id)?;
        if record.layers.iter().any(|l| l.blob.as_ref() == Some(blob)) {
            return Ok(true);
        }
    }
    Ok(false)
}
