//! `hull pull`: resolve a reference to a platform manifest, then fetch, verify and unpack every
//! layer in one streaming pass per layer, several layers at once.
//!
//! For each layer, one thread runs the chain
//! `registry body → tee into the content store → gunzip/unzstd → diff-ID verifier → untar`,
//! so download, decompression and extraction overlap, and nothing waits for all downloads. The
//! blob commits only once its digest and size check out, and the layer directory only once its
//! diff ID does; a layer already in the store (by diff ID) is skipped.

use std::io::{self, Read};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use hull_oci::image::{media, Compression, Descriptor, ImageConfig, Index, Manifest};
use hull_oci::Digest;

use crate::content::{TeeReader, VerifyingReader};
use crate::layers::{LayerMeta, LayerWriter, SourceBlob};
use crate::platform::PlatformSpec;
use crate::reference::{Reference, Target};
use crate::registry::{Registry, RegistryError};
use crate::store::{ImageRecord, LayerRef, Store, StoreError};
use crate::unpack::{unpack, UnpackError, UnpackOptions};

/// Manifests and configs are small; anything bigger is hostile or broken.
const MAX_CONFIG_BYTES: u64 = 8 << 20;
/// How many layers download and unpack at once.
pub const DEFAULT_CONCURRENCY: usize = 4;
/// Attempts per layer when the transfer fails for a transient reason.
const LAYER_ATTEMPTS: u32 = 3;

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

/// A manifest resolved for one platform, with the digest the reference resolved to.
struct Resolved {
    top_digest: Digest,
    manifest_digest: Digest,
    manifest: Manifest,
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

fn resolve(
    store: &Store,
    registry: &Registry,
    reference: &Reference,
    platform: &PlatformSpec,
) -> Result<Resolved, PullError> {
    let target = match reference.target() {
        Target::Tag(t) => t.to_string(),
        Target::Digest(d) => d.to_string(),
    };
    let (top_digest, top) = fetch_manifest(store, registry, reference, &target)?;
    match top {
        Parsed::Manifest(manifest) => Ok(Resolved {
            manifest_digest: top_digest.clone(),
            top_digest,
            manifest,
        }),
        Parsed::Index(index) => {
            let chosen = platform
                .select(&index.manifests)
                .ok_or_else(|| PullError::Platform {
                    reference: reference.familiar(),
                    platform: platform.to_string(),
                    available: available_platforms(&index),
                })?;
            let (digest, child) =
                fetch_manifest(store, registry, reference, &chosen.digest.to_string())?;
            match child {
                Parsed::Manifest(manifest) => Ok(Resolved {
                    top_digest,
                    manifest_digest: digest,
                    manifest,
                }),
                Parsed::Index(_) => Err(manifest_error(reference, "an index nested in an index")),
            }
        }
    }
}

fn available_platforms(index: &Index) -> String {
    let list: Vec<String> = index
        .manifests
        .iter()
        .filter_map(|d| d.platform.as_ref())
        .map(|p| match &p.variant {
            Some(v) => format!("{}/{}/{v}", p.os, p.architecture),
            None => format!("{}/{}", p.os, p.architecture),
        })
        .collect();
    if list.is_empty() {
        "none".to_string()
    } else {
        list.join(", ")
    }
}

enum Parsed {
    Index(Index),
    Manifest(Manifest),
}

fn manifest_error(reference: &Reference, reason: impl Into<String>) -> PullError {
    PullError::Manifest {
        reference: reference.familiar(),
        reason: reason.into(),
    }
}

/// Fetches, verifies, parses and stores one manifest or index.
fn fetch_manifest(
    store: &Store,
    registry: &Registry,
    reference: &Reference,
    target: &str,
) -> Result<(Digest, Parsed), PullError> {
    let fetched = registry.fetch_manifest(reference.path(), target)?;
    let digest = Digest::sha256_of(&fetched.bytes);
    if let Some(claimed) = &fetched.digest {
        if claimed != &digest {
            return Err(manifest_error(
                reference,
                format!("digest mismatch: registry says {claimed}, content hashes to {digest}"),
            ));
        }
    }
    let parsed = parse_manifest(reference, &fetched.media_type, &fetched.bytes)?;
    store
        .content
        .put(&fetched.bytes, Some(&digest))
        .map_err(StoreError::from)?;
    Ok((digest, parsed))
}

fn parse_manifest(
    reference: &Reference,
    media_type: &str,
    bytes: &[u8],
) -> Result<Parsed, PullError> {
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| manifest_error(reference, format!("invalid JSON: {e}")))?;
    let declared = value
        .get("mediaType")
        .and_then(|v| v.as_str())
        .unwrap_or(media_type);
    let kind = if declared == media::OCI_INDEX || declared == media::DOCKER_MANIFEST_LIST {
        "index"
    } else if declared == media::OCI_MANIFEST || declared == media::DOCKER_MANIFEST {
        "manifest"
    } else if value.get("manifests").is_some() {
        "index"
    } else if value.get("layers").is_some() {
        "manifest"
    } else if value.get("schemaVersion").and_then(|v| v.as_u64()) == Some(1) {
        return Err(manifest_error(
            reference,
            "docker schema 1 is obsolete and not supported",
        ));
    } else {
        return Err(manifest_error(
            reference,
            format!("unsupported media type {declared:?}"),
        ));
    };
    let bad = |e: serde_json::Error| manifest_error(reference, format!("malformed {kind}: {e}"));
    if value.get("schemaVersion").and_then(|v| v.as_u64()) != Some(2) {
        return Err(manifest_error(reference, "schemaVersion must be 2"));
    }
    Ok(if kind == "index" {
        Parsed::Index(serde_json::from_value(value).map_err(bad)?)
    } else {
        let m: Manifest = serde_json::from_value(value).map_err(bad)?;
        validate_manifest(reference, &m)?;
        Parsed::Manifest(m)
    })
}

fn validate_manifest(reference: &Reference, m: &Manifest) -> Result<(), PullError> {
    for layer in &m.layers {
        if Compression::of_layer_media_type(&layer.media_type).is_none() {
            return Err(manifest_error(
                reference,
                format!(
                    "layer {} has unsupported media type {:?}",
                    layer.digest, layer.media_type
                ),
            ));
        }
    }
    if m.config.size > MAX_CONFIG_BYTES {
        return Err(manifest_error(reference, "config is larger than 8 MiB"));
    }
    Ok(())
}

fn fetch_config(
    store: &Store,
    registry: &Registry,
    reference: &Reference,
    manifest: &Manifest,
) -> Result<ImageConfig, PullError> {
    let desc = &manifest.config;
    if !store.content.contains(&desc.digest) {
        let blob = registry.fetch_blob(reference.path(), &desc.digest)?;
        let mut bytes = Vec::new();
        VerifyingReader::new(blob.reader, desc.digest.clone(), Some(desc.size))
            .take(MAX_CONFIG_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| manifest_error(reference, format!("config {}: {e}", desc.digest)))?;
        store
            .content
            .put(&bytes, Some(&desc.digest))
            .map_err(StoreError::from)?;
    }
    let bytes = store.content.read(&desc.digest).map_err(StoreError::from)?;
    serde_json::from_slice(&bytes)
        .map_err(|e| manifest_error(reference, format!("config {}: invalid: {e}", desc.digest)))
}

fn check_layers_match_config(
    reference: &Reference,
    manifest: &Manifest,
    config: &ImageConfig,
) -> Result<(), PullError> {
    let (layers, diffs) = (manifest.layers.len(), config.rootfs.diff_ids.len());
    if layers != diffs {
        return Err(manifest_error(
            reference,
            format!("the manifest lists {layers} layers but the config has {diffs} diff_ids"),
        ));
    }
    Ok(())
}

/// Fetches all layers with `opts.concurrency` worker threads. Returns each layer's reference and
/// unpacked size, in manifest order.
fn fetch_layers(
    store: &Store,
    registry: &Registry,
    reference: &Reference,
    manifest: &Manifest,
    config: &ImageConfig,
    opts: &PullOptions,
    observer: &dyn PullObserver,
) -> Result<Vec<(LayerRef, u64)>, PullError> {
    let jobs: Vec<(&Descriptor, &Digest)> = manifest
        .layers
        .iter()
        .zip(&config.rootfs.diff_ids)
        .collect();
    observer.event(PullEvent::Layers(
        jobs.iter().map(|(d, _)| d.digest.clone()).collect(),
    ));
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Result<u64, PullError>>>> =
        Mutex::new((0..jobs.len()).map(|_| None).collect());
    let workers = opts.concurrency.clamp(1, jobs.len().max(1));
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((desc, diff_id)) = jobs.get(i) else {
                    break;
                };
                let r = ensure_layer(store, registry, reference, desc, diff_id, observer);
                let failed = r.is_err();
                results.lock().expect("results lock")[i] = Some(r);
                if failed {
                    // Stop handing out work; layers already running finish or fail on their own.
                    next.store(jobs.len(), Ordering::Relaxed);
                }
            });
        }
    });
    let results = results.into_inner().expect("results lock");
    let mut out = Vec::with_capacity(jobs.len());
    for ((desc, diff_id), r) in jobs.iter().zip(results) {
        let size = match r {
            Some(r) => r?,
            None => continue,
        };
        out.push((
            LayerRef {
                diff_id: (*diff_id).clone(),
                blob: Some(desc.digest.clone()),
                media_type: desc.media_type.clone(),
                blob_size: desc.size,
            },
            size,
        ));
    }
    if out.len() != jobs.len() {
        return Err(PullError::Layer {
            digest: manifest.config.digest.clone(),
            reason: "pull stopped after an earlier layer failed".to_string(),
        });
    }
    Ok(out)
}

/// Makes sure the layer is in the layer store; returns its unpacked size.
fn ensure_layer(
    store: &Store,
    registry: &Registry,
    reference: &Reference,
    desc: &Descriptor,
    diff_id: &Digest,
    observer: &dyn PullObserver,
) -> Result<u64, PullError> {
    if let Ok(meta) = store.layers.meta(diff_id) {
        observer.event(PullEvent::AlreadyExists(desc.digest.clone()));
        return Ok(meta.size);
    }
    let mut attempt = 1;
    loop {
        match fetch_and_unpack(store, registry, reference, desc, diff_id, observer) {
            Ok(size) => {
                observer.event(PullEvent::Complete(desc.digest.clone()));
                return Ok(size);
            }
            Err(LayerFailure::Transient(e)) if attempt < LAYER_ATTEMPTS => {
                let _ = e;
                attempt += 1;
                std::thread::sleep(std::time::Duration::from_millis(250 << attempt));
            }
            Err(LayerFailure::Transient(reason) | LayerFailure::Fatal(reason)) => {
                return Err(PullError::Layer {
                    digest: desc.digest.clone(),
                    reason,
                })
            }
        }
    }
}

enum LayerFailure {
    Transient(String),
    Fatal(String),
}

impl From<RegistryError> for LayerFailure {
    fn from(e: RegistryError) -> Self {
        if e.is_transient() {
            LayerFailure::Transient(e.to_string())
        } else {
            LayerFailure::Fatal(e.to_string())
        }
    }
}

fn fatal(e: impl std::fmt::Display) -> LayerFailure {
    LayerFailure::Fatal(e.to_string())
}

/// The streaming pass for one layer: download (or read the local blob), verify, decompress,
/// verify the diff ID and unpack, then commit blob and layer.
fn fetch_and_unpack(
    store: &Store,
    registry: &Registry,
    reference: &Reference,
    desc: &Descriptor,
    diff_id: &Digest,
    observer: &dyn PullObserver,
) -> Result<u64, LayerFailure> {
    let compression = Compression::of_layer_media_type(&desc.media_type)
        .ok_or_else(|| fatal(format!("unsupported media type {:?}", desc.media_type)))?;
    if store.content.contains(&desc.digest) {
        let file = store.content.open_blob(&desc.digest).map_err(fatal)?;
        let source = VerifyingReader::new(file, desc.digest.clone(), Some(desc.size));
        let (writer, meta) =
            unpack_layer(store, source, compression, desc, diff_id).map_err(fatal)?;
        store.layers.commit(writer, &meta).map_err(fatal)?;
        return Ok(meta.size);
    }
    let blob = registry.fetch_blob(reference.path(), &desc.digest)?;
    let progress = ProgressReader::new(blob.reader, &desc.digest, Some(desc.size), observer);
    let mut ingest = store
        .content
        .ingest(&desc.digest, Some(desc.size))
        .map_err(fatal)?;
    let tee = TeeReader::new(progress, &mut ingest);
    let (writer, meta) =
        unpack_layer(store, tee, compression, desc, diff_id).map_err(classify_io)?;
    observer.event(PullEvent::Verifying(desc.digest.clone()));
    // The blob must commit before the layer because a committed layer is never fetched again:
    // a kill between the two would otherwise leave a layer whose source blob is gone for good,
    // and every image using it would name a blob the store lacks. The other way round, a kill
    // leaves a blob without its layer, which the next pull unpacks from the local blob.
    ingest.commit().map_err(fatal)?;
    store.layers.commit(writer, &meta).map_err(fatal)?;
    Ok(meta.size)
}

/// Network resets and timeouts are worth another attempt; everything else is not.
fn classify_io(e: io::Error) -> LayerFailure {
    match e.kind() {
        io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::TimedOut
        | io::ErrorKind::UnexpectedEof
        | io::ErrorKind::BrokenPipe => LayerFailure::Transient(e.to_string()),
        _ => LayerFailure::Fatal(e.to_string()),
    }
}

/// Unpacks one layer into a fresh layer writer, verifying its diff ID, and drains `source` so a
/// tee behind it has seen every byte. The caller commits the writer.
fn unpack_layer<R: Read>(
    store: &Store,
    mut source: R,
    compression: Compression,
    desc: &Descriptor,
    diff_id: &Digest,
) -> io::Result<(LayerWriter, LayerMeta)> {
    let writer = store.layers.begin().map_err(io::Error::other)?;
    let stats = {
        let decoder = decompress(&mut source, compression)?;
        let mut verified = VerifyingReader::new(decoder, diff_id.clone(), None);
        let opts = UnpackOptions {
            chown: rustix::process::geteuid().is_root(),
        };
        let stats = unpack(&mut verified, &writer.diff_dir(), &opts).map_err(unpack_io_error)?;
        io::copy(&mut verified, &mut io::sink())?;
        if !verified.verified() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "diff id was not verified",
            ));
        }
        stats
    };
    // Read whatever the decompressor left (trailing padding) so the blob digest covers it all.
    io::copy(&mut source, &mut io::sink())?;
    let meta = LayerMeta {
        diff_id: diff_id.clone(),
        source: Some(SourceBlob {
            digest: desc.digest.clone(),
            media_type: desc.media_type.clone(),
        }),
        size: stats.bytes,
    };
    Ok((writer, meta))
}

/// An unpack failure as an I/O error that keeps the kind of the read or write error behind it,
/// so [`classify_io`] can tell a download cut short (worth another attempt) from a bad layer.
fn unpack_io_error(e: UnpackError) -> io::Error {
    let kind = match &e {
        UnpackError::Read(cause) | UnpackError::Io { cause, .. } => cause.kind(),
        _ => io::ErrorKind::InvalidData,
    };
    io::Error::new(kind, e.to_string())
}

/// Wraps a compressed stream in the matching decoder.
pub fn decompress<'a, R: Read + 'a>(
    source: R,
    compression: Compression,
) -> io::Result<Box<dyn Read + 'a>> {
    Ok(match compression {
        Compression::None => Box::new(source),
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(source)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::new(source)?),
    })
}

/// Reports download progress about every 512 KiB.
struct ProgressReader<'a, R> {
    inner: R,
    layer: &'a Digest,
    total: Option<u64>,
    done: u64,
    reported: u64,
    observer: &'a dyn PullObserver,
}

impl<'a, R> ProgressReader<'a, R> {
    fn new(
        inner: R,
        layer: &'a Digest,
        total: Option<u64>,
        observer: &'a dyn PullObserver,
    ) -> Self {
        ProgressReader {
            inner,
            layer,
            total,
            done: 0,
            reported: 0,
            observer,
        }
    }
}

impl<R: Read> Read for ProgressReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.done += n as u64;
        if self.done - self.reported >= 512 << 10 || (n == 0 && self.done != self.reported) {
            self.reported = self.done;
            self.observer.event(PullEvent::Progress {
                layer: self.layer.clone(),
                done: self.done,
                total: self.total,
            });
        }
        Ok(n)
    }
}

/// The current time as RFC 3339 with nanoseconds, UTC.
pub fn now_rfc3339() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    crate::time::format_rfc3339(now.as_secs() as i64, now.subsec_nanos())
}
