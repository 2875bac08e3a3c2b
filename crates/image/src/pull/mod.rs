//! `hull pull`: resolve a reference to a platform manifest, then fetch, verify and unpack every
//! layer in one streaming pass per layer, several layers at once.
//!
//! For each layer, one thread runs the chain
//! `registry body → tee into the content store → gunzip/unzstd → diff-ID verifier → untar`,
//! so download, decompression and extraction overlap, and nothing waits for all downloads. The
//! blob commits only once its digest and size check out, and the layer directory only once its
//! diff ID does; a layer already in the store (by diff ID) is skipped.
//!
//! `manifest.rs` resolves the reference and fetches the config, `layer.rs` runs each layer's
//! pass with a pool of workers, and `pipeline.rs` joins a layer's fetch and unpack threads.

mod layer;
mod manifest;
mod pipeline;

use hull_oci::Digest;

pub use layer::decompress;
use layer::fetch_layers;
use manifest::{check_layers_match_config, fetch_config, resolve};

use crate::platform::PlatformSpec;
use crate::reference::Reference;
use crate::registry::{Registry, RegistryError};
use crate::store::{ImageRecord, Store, StoreError};

/// How many layers download and unpack at once.
pub const DEFAULT_CONCURRENCY: usize = 4;

#[derive(Debug, thiserror::Error)]
pub enum PullError {
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("manifest {reference}: {reason}")]
    Manifest { reference: String, reason: String },
    #[error("no manifest for platform {platform} in {reference}; it offers {available}")]
    Platform {
        reference: String,
        platform: String,
        available: String,
    },
    #[error("layer {digest}: {reason}")]
    Layer { digest: Digest, reason: String },
}

/// Progress reports, for the CLI to draw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PullEvent {
    /// The layers to fetch, in order, by blob digest.
    Layers(Vec<Digest>),
    AlreadyExists(Digest),
    Progress {
        layer: Digest,
        done: u64,
        total: Option<u64>,
    },
    Verifying(Digest),
    Complete(Digest),
}

pub trait PullObserver: Sync {
    fn event(&self, event: PullEvent);
}

/// An observer that ignores everything.
#[derive(Debug)]
pub struct Quiet;
impl PullObserver for Quiet {
    fn event(&self, _: PullEvent) {}
}

#[derive(Debug, Clone)]
pub struct PullOptions {
    pub platform: PlatformSpec,
    pub concurrency: usize,
}

impl Default for PullOptions {
    fn default() -> Self {
        PullOptions {
            platform: PlatformSpec::host(),
            concurrency: DEFAULT_CONCURRENCY,
        }
    }
}

#[derive(Debug, Clone)]
pub struct PullOutcome {
    pub id: Digest,
    /// The digest the reference resolved to (the index's, for a multi-platform image).
    pub digest: Digest,
    /// False when the image was already present under this name.
    pub updated: bool,
}

pub fn pull(
    store: &Store,
    registry: &Registry,
    reference: &Reference,
    opts: &PullOptions,
    observer: &dyn PullObserver,
) -> Result<PullOutcome, PullError> {
    let _gc = store.gc_shared()?;
    // A pull killed earlier leaves its temp blobs, layer directories and JSON temps behind;
    // remove those of dead processes (never a concurrent pull's) so they cannot pile up.
    store.sweep_stale()?;
    let resolved = resolve(store, registry, reference, &opts.platform)?;
    let config = fetch_config(store, registry, reference, &resolved.manifest)?;
    check_layers_match_config(reference, &resolved.manifest, &config)?;
    let layers = fetch_layers(
        store,
        registry,
        reference,
        &resolved.manifest,
        &config,
        opts,
        observer,
    )?;
    let record = ImageRecord {
        id: resolved.manifest.config.digest.clone(),
        repo_digests: vec![format!(
            "{}@{}",
            reference.repository(),
            resolved.top_digest
        )],
        manifest: Some(resolved.manifest_digest.clone()),
        size: layers.iter().map(|(_, size)| size).sum(),
        layers: layers.into_iter().map(|(l, _)| l).collect(),
        added: now_rfc3339(),
    };
    let id = record.id.clone();
    let tags: Vec<Reference> = reference
        .tag()
        .map(|t| reference.with_tag(t))
        .into_iter()
        .collect();
    let updated = store.add_image(record, &tags)?;
    Ok(PullOutcome {
        id,
        digest: resolved.top_digest,
        updated,
    })
}

/// The current time as RFC 3339 with nanoseconds, UTC.
pub fn now_rfc3339() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    crate::time::format_rfc3339(now.as_secs() as i64, now.subsec_nanos())
}
