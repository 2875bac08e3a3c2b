//! `hull push`: put an image's blobs, then its manifest, into a registry repository.
//!
//! `plan.rs` decides what goes (stored manifest byte-for-byte, a whole index, or a manifest built
//! after compressing hull-made layers), `blob.rs` gets each blob there (HEAD, mount, monolithic
//! or chunked upload; compression overlapped with upload), `compress.rs` compresses in parallel.
//! The manifest is put only once every blob is confirmed present, so an interrupted push leaves
//! nothing visible under the tag. Afterwards the image record points at the compressed blobs and
//! the manifest that was pushed, so the next push of it is byte-for-byte too.

mod blob;
pub mod compress;
mod plan;
mod record;
#[cfg(test)]
mod tests;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use hull_oci::image::Descriptor;
use hull_oci::Digest;

pub use compress::Format;

use crate::reference::Reference;
use crate::registry::{Registry, RegistryError};
use crate::store::{Store, StoreError};

/// How many blobs go up at once (Docker's default is 5; pushes are rarely wider).
pub const DEFAULT_CONCURRENCY: usize = 4;

#[derive(Debug, thiserror::Error)]
pub enum PushError {
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("image {image} layer {layer}: {reason}")]
    Layer {
        image: String,
        layer: Digest,
        reason: String,
    },
    #[error("stored manifest {digest}: {reason}")]
    Manifest { digest: Digest, reason: String },
    #[error("compress layer {layer}: {reason}")]
    Compress { layer: Digest, reason: String },
    #[error("read blob {blob}: {reason}")]
    Read { blob: Digest, reason: String },
    #[error("push {reference}: a tag is needed (pushing by digest alone is not supported)")]
    NoTag { reference: String },
}

/// Progress reports, keyed by the stored blob's digest, for the CLI to draw as Docker does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushEvent {
    /// The blobs to push, layers first, config last.
    Blobs(Vec<Digest>),
    /// A worker took up this blob (the others wait for a free one).
    Preparing(Digest),
    Pushing {
        layer: Digest,
        done: u64,
        total: Option<u64>,
    },
    Exists(Digest),
    Mounted {
        layer: Digest,
        from: String,
    },
    Pushed(Digest),
    /// A one-line remark (an index pushed as a single platform).
    Note(String),
}

pub trait PushObserver: Sync {
    fn event(&self, event: PushEvent);
}

/// An observer that ignores everything.
#[derive(Debug)]
pub struct Quiet;
impl PushObserver for Quiet {
    fn event(&self, _: PushEvent) {}
}

#[derive(Debug, Clone)]
pub struct PushOptions {
    pub format: Format,
    /// Blobs in flight at once.
    pub concurrency: usize,
    /// Compression threads per layer.
    pub threads: usize,
}

impl Default for PushOptions {
    fn default() -> Self {
        PushOptions {
            format: Format::Gzip,
            concurrency: DEFAULT_CONCURRENCY,
            threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
        }
    }
}

#[derive(Debug, Clone)]
pub struct PushOutcome {
    pub tag: String,
    /// The digest of the top manifest (the index's, for a whole index).
    pub digest: Digest,
    pub size: u64,
}

/// Pushes the local image `reference` names to the repository and tag it names.
pub fn push(
    store: &Store,
    registry: &Registry,
    reference: &Reference,
    opts: &PushOptions,
    observer: &dyn PushObserver,
) -> Result<PushOutcome, PushError> {
    let Some(tag) = reference.tag() else {
        return Err(PushError::NoTag {
            reference: reference.to_string(),
        });
    };
    let _gc = store.gc_shared()?;
    // A push killed earlier leaves its temp blob (the half-compressed layer) behind.
    store.sweep_stale()?;
    let name = reference.familiar();
    let record = store.resolve(&reference.to_string())?;
    let zstd = opts.format == Format::Zstd;
    let plan = plan::plan(store, &record, &name, zstd)?;
    if let Some(note) = &plan.note {
        observer.event(PushEvent::Note(note.clone()));
    }
    let mount_from = mount_sources(&record.repo_digests, reference);
    let ctx = blob::Ctx {
        store,
        registry,
        repo: reference.path(),
        mount_from: &mount_from,
        format: opts.format,
        threads: opts.threads.max(1),
        observer,
    };
    observer.event(PushEvent::Blobs(
        plan.blobs.iter().map(|b| b.key().clone()).collect(),
    ));
    let pushed = push_all(&ctx, &plan.blobs, opts.concurrency.max(1))?;
    for child in &plan.children {
        let digest = Digest::sha256_of(&child.bytes);
        registry.put_manifest(
            reference.path(),
            &digest.to_string(),
            &child.media_type,
            &child.bytes,
        )?;
    }
    let (top, replaced) = match &plan.top {
        Some(top) => (top.clone(), Vec::new()),
        None => built_manifest(store, &record, &plan, &pushed, zstd)?,
    };
    let digest = registry.put_manifest(reference.path(), tag, &top.media_type, &top.bytes)?;
    let repo_digest = format!("{}@{digest}", reference.repository());
    // A manifest built here becomes the image's, so the next push sends these same bytes.
    let manifest = plan.top.is_none().then_some(&top.bytes[..]);
    record::update(store, &record.id, &replaced, manifest, repo_digest)?;
    Ok(PushOutcome {
        tag: tag.to_string(),
        digest,
        size: top.bytes.len() as u64,
    })
}

/// Repositories on the target's registry, other than the target, that the image came from.
fn mount_sources(repo_digests: &[String], target: &Reference) -> Vec<String> {
    let prefix = format!("{}/", target.domain());
    let mut out: Vec<String> = repo_digests
        .iter()
        .filter_map(|d| d.split_once('@')?.0.strip_prefix(&prefix))
        .filter(|path| *path != target.path())
        .map(str::to_string)
        .collect();
    out.dedup();
    out.truncate(1);
    out
}

/// Runs the blob jobs on `concurrency` threads; the first failure stops the rest from starting.
fn push_all(
    ctx: &blob::Ctx,
    jobs: &[plan::BlobJob],
    concurrency: usize,
) -> Result<Vec<blob::Pushed>, PushError> {
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let results: Mutex<Vec<Option<Result<blob::Pushed, PushError>>>> =
        Mutex::new((0..jobs.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..concurrency.min(jobs.len()) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= jobs.len() || failed.load(Ordering::SeqCst) {
                    return;
                }
                let result = blob::push_blob(ctx, &jobs[i]);
                if result.is_err() {
                    failed.store(true, Ordering::SeqCst);
                }
                results.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(result);
            });
        }
    });
    let results = results.into_inner().unwrap_or_else(|e| e.into_inner());
    let mut out = Vec::with_capacity(jobs.len());
    let mut first_error = None;
    for r in results {
        match r {
            Some(Ok(p)) => out.push(p),
            Some(Err(e)) => {
                first_error.get_or_insert(e);
            }
            None => {}
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

/// The manifest for an image with layers compressed on this push, and the record changes:
/// (uncompressed tar, compressed blob, media type) for each layer that was compressed.
fn built_manifest(
    store: &Store,
    record: &crate::store::ImageRecord,
    plan: &plan::Plan,
    pushed: &[blob::Pushed],
    zstd: bool,
) -> Result<(plan::Ready, Vec<record::Replaced>), PushError> {
    let compressed_type = plan::layer_media_type(plan.oci, zstd);
    let by_key: std::collections::BTreeMap<&Digest, (&plan::BlobJob, &blob::Pushed)> = plan
        .blobs
        .iter()
        .zip(pushed)
        .map(|(job, done)| (job.key(), (job, done)))
        .collect();
    let mut layers = Vec::new();
    let mut replaced: Vec<record::Replaced> = Vec::new();
    for layer in &record.layers {
        let key = layer
            .blob
            .as_ref()
            .expect("plan checked every layer has a blob");
        let Some((job, done)) = by_key.get(key) else {
            continue;
        };
        let media_type = match job {
            plan::BlobJob::Compress { tar } => {
                if !replaced.iter().any(|r| &r.tar == tar) {
                    replaced.push(record::Replaced {
                        tar: tar.clone(),
                        blob: done.digest.clone(),
                        size: done.size,
                        media_type: compressed_type.to_string(),
                    });
                }
                compressed_type.to_string()
            }
            // The same bytes under the manifest's family (a docker base under an OCI image).
            plan::BlobJob::Stored { .. } => {
                hull_oci::image::layer_media_type_in(&layer.media_type, plan.oci)
                    .map_or_else(|| layer.media_type.clone(), str::to_string)
            }
        };
        layers.push(descriptor(media_type, done));
    }
    let config = Descriptor {
        media_type: plan::config_media_type(plan.oci).to_string(),
        digest: record.id.clone(),
        size: store.content.size(&record.id).unwrap_or(0),
        platform: None,
        urls: Vec::new(),
        annotations: Default::default(),
    };
    Ok((plan::build(plan.oci, config, layers), replaced))
}

fn descriptor(media_type: String, done: &blob::Pushed) -> Descriptor {
    Descriptor {
        media_type,
        digest: done.digest.clone(),
        size: done.size,
        platform: None,
        urls: Vec::new(),
        annotations: Default::default(),
    }
}
