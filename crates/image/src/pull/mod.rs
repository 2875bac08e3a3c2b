//! `hull pull`: resolve a reference to a platform manifest, then fetch, verify and unpack every
//! layer in one streaming pass per layer, several layers at once.
//!
//! For each layer, one thread runs the chain
//! `registry body → tee into the content store → gunzip/unzstd → diff-ID verifier → untar`,
//! so download, decompression and extraction overlap, and nothing waits for all downloads. The
//! blob commits only once its digest and size check out, and the layer directory only once its
//! diff ID does; a layer already in the store (by diff ID) is skipped.

use std::io::{self, BufRead, Read, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::sync::Mutex;

use hull_oci::image::{media, Compression, Descriptor, ImageConfig, Index, Manifest};
use hull_oci::Digest;

use crate::content::{Ingest, VerifyingReader};
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
///
/// Two threads share the work: a fetch thread reads the blob in [`CHUNK`]-sized buffers, hashes
/// and writes them to the content store, and hands them over a bounded channel to this thread,
/// which decompresses, hashes again (the diff ID) and unpacks. The blob commits only once its
/// digest checks out, and the layer only after that.
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
        let (unpacked, fetched) = pipelined(source, None, |chunks| {
            unpack_layer(store, chunks, compression, diff_id)
        });
        fetched.map_err(fatal)?;
        let (writer, size) = unpacked.map_err(fatal)?;
        return commit_layer(store, writer, desc, diff_id, size).map_err(fatal);
    }
    let blob = registry.fetch_blob(reference.path(), &desc.digest)?;
    let progress = ProgressReader::new(blob.reader, &desc.digest, Some(desc.size), observer);
    let mut ingest = store
        .content
        .ingest(&desc.digest, Some(desc.size))
        .map_err(fatal)?;
    let (unpacked, fetched) = pipelined(progress, Some(&mut ingest), |chunks| {
        unpack_layer(store, chunks, compression, diff_id)
    });
    // The fetch side's error is the root cause when both failed (a reset connection shows up
    // on the unpack side only as a truncated or unreadable tar).
    fetched.map_err(classify_io)?;
    let (writer, size) = unpacked.map_err(classify_io)?;
    observer.event(PullEvent::Verifying(desc.digest.clone()));
    // The blob must commit before the layer because a committed layer is never fetched again:
    // a kill between the two would otherwise leave a layer whose source blob is gone for good,
    // and every image using it would name a blob the store lacks. The other way round, a kill
    // leaves a blob without its layer, which the next pull unpacks from the local blob.
    ingest.commit().map_err(fatal)?;
    commit_layer(store, writer, desc, diff_id, size).map_err(fatal)
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

/// Bytes per buffer handed from a layer's fetch thread to its unpack thread. The registry client
/// reads 8 KiB per call; gathering 256 KiB first makes one blob write and one decompressor refill
/// out of 32 network reads.
const CHUNK: usize = 256 << 10;
/// Full buffers queued per layer: enough to absorb a burst of small-file work on the unpack side
/// without holding much memory (at most CHUNKS_IN_FLIGHT + 2 buffers, 1.5 MiB, per layer).
const CHUNKS_IN_FLIGHT: usize = 4;

/// What the fetch thread sends: `len` valid bytes of a `CHUNK`-long buffer, the end, or a failure.
enum ChunkMsg {
    Data(Vec<u8>, usize),
    End,
    Failed(io::ErrorKind, String),
}

/// Runs `consume` on this thread over the chunks that a scoped fetch thread reads from `source`
/// (and copies into `ingest`). Returns both sides' results; the fetch side's is `Ok` when it
/// stopped because the consumer went away.
fn pipelined<R, T>(
    source: R,
    ingest: Option<&mut Ingest>,
    consume: impl FnOnce(&mut Chunks) -> io::Result<T>,
) -> (io::Result<T>, io::Result<()>)
where
    R: Read + Send,
{
    let (tx, rx) = mpsc::sync_channel(CHUNKS_IN_FLIGHT);
    let (recycle_tx, recycle_rx) = mpsc::channel();
    std::thread::scope(|s| {
        let fetch = s.spawn(move || pump(source, ingest, &tx, &recycle_rx));
        let mut chunks = Chunks {
            rx,
            recycle: recycle_tx,
            cur: Vec::new(),
            pos: 0,
            len: 0,
            end: false,
            failed: None,
        };
        let consumed = consume(&mut chunks);
        // Dropping the receiver stops a fetch thread that is still sending (on a failure).
        drop(chunks);
        let fetched = fetch
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("layer fetch thread panicked")));
        (consumed, fetched)
    })
}

/// The fetch thread: fills buffers from `source`, tees them into `ingest`, sends them on.
fn pump<R: Read>(
    mut source: R,
    mut ingest: Option<&mut Ingest>,
    tx: &SyncSender<ChunkMsg>,
    recycle: &Receiver<Vec<u8>>,
) -> io::Result<()> {
    let result = (|| -> io::Result<bool> {
        loop {
            let mut buf = recycle.try_recv().unwrap_or_else(|_| vec![0; CHUNK]);
            let n = fill(&mut source, &mut buf)?;
            if n == 0 {
                return Ok(true);
            }
            if let Some(ingest) = ingest.as_deref_mut() {
                ingest.write_all(&buf[..n])?;
            }
            if tx.send(ChunkMsg::Data(buf, n)).is_err() {
                return Ok(false);
            }
            if n < CHUNK {
                return Ok(true);
            }
        }
    })();
    match result {
        Ok(true) => {
            let _ = tx.send(ChunkMsg::End);
            Ok(())
        }
        Ok(false) => Ok(()),
        Err(e) => {
            let _ = tx.send(ChunkMsg::Failed(e.kind(), e.to_string()));
            Err(e)
        }
    }
}

/// Reads until `buf` is full or the source ends; returns the bytes read.
fn fill(source: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match source.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// The unpack thread's view of the fetch thread's chunks, as a buffered reader. A stream that
/// stops without the fetch thread's explicit end is an error, never a short EOF.
struct Chunks {
    rx: Receiver<ChunkMsg>,
    recycle: Sender<Vec<u8>>,
    cur: Vec<u8>,
    pos: usize,
    len: usize,
    end: bool,
    failed: Option<(io::ErrorKind, String)>,
}

impl BufRead for Chunks {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        while self.pos == self.len && !self.end {
            if let Some((kind, msg)) = &self.failed {
                return Err(io::Error::new(*kind, msg.clone()));
            }
            match self.rx.recv() {
                Ok(ChunkMsg::Data(buf, len)) => {
                    let spent = std::mem::replace(&mut self.cur, buf);
                    if !spent.is_empty() {
                        let _ = self.recycle.send(spent);
                    }
                    (self.pos, self.len) = (0, len);
                }
                Ok(ChunkMsg::End) => self.end = true,
                Ok(ChunkMsg::Failed(kind, msg)) => self.failed = Some((kind, msg)),
                Err(mpsc::RecvError) => {
                    self.failed = Some((
                        io::ErrorKind::UnexpectedEof,
                        "layer fetch stopped before the end of the blob".to_string(),
                    ))
                }
            }
        }
        Ok(&self.cur[self.pos..self.len])
    }

    fn consume(&mut self, amt: usize) {
        self.pos = (self.pos + amt).min(self.len);
    }
}

impl Read for Chunks {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let avail = self.fill_buf()?;
        let n = avail.len().min(buf.len());
        buf[..n].copy_from_slice(&avail[..n]);
        self.consume(n);
        Ok(n)
    }
}

/// Decompresses, verifies the diff ID and unpacks into a new layer writer; reads the source to
/// its end (trailing padding included) so the blob digest covers every byte.
fn unpack_layer(
    store: &Store,
    source: &mut Chunks,
    compression: Compression,
    diff_id: &Digest,
) -> io::Result<(LayerWriter, u64)> {
    let writer = store.layers.begin().map_err(io::Error::other)?;
    let stats = {
        let decoder = decompress(&mut *source, compression)?;
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
    io::copy(source, &mut io::sink())?;
    Ok((writer, stats.bytes))
}

/// Keeps the kind of the I/O error behind an unpack failure, so a connection cut mid-layer is
/// retried; hostile or corrupt entries stay InvalidData, which is fatal.
fn unpack_io_error(e: UnpackError) -> io::Error {
    let kind = match &e {
        UnpackError::Read(cause) | UnpackError::Io { cause, .. } => cause.kind(),
        _ => io::ErrorKind::InvalidData,
    };
    io::Error::new(kind, e.to_string())
}

fn commit_layer(
    store: &Store,
    writer: LayerWriter,
    desc: &Descriptor,
    diff_id: &Digest,
    size: u64,
) -> io::Result<u64> {
    let meta = LayerMeta {
        diff_id: diff_id.clone(),
        source: Some(SourceBlob {
            digest: desc.digest.clone(),
            media_type: desc.media_type.clone(),
        }),
        size,
    };
    store
        .layers
        .commit(writer, &meta)
        .map_err(io::Error::other)?;
    Ok(size)
}

/// Wraps an already buffered compressed stream in the matching decoder, which then reads the
/// buffer in place instead of copying it into a buffer of its own.
pub fn decompress<'a, R: BufRead + 'a>(
    source: R,
    compression: Compression,
) -> io::Result<Box<dyn Read + 'a>> {
    Ok(match compression {
        Compression::None => Box::new(source),
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(source)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(source)?),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 31 % 251) as u8).collect()
    }

    /// Returns at most 1000 bytes per read, then fails with `fail` once `data` is spent.
    struct Dribble {
        data: Vec<u8>,
        pos: usize,
        fail: Option<io::ErrorKind>,
    }

    impl Read for Dribble {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.pos == self.data.len() {
                return match self.fail {
                    Some(kind) => Err(io::Error::new(kind, "peer went away")),
                    None => Ok(0),
                };
            }
            let n = buf.len().min(1000).min(self.data.len() - self.pos);
            buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
            self.pos += n;
            Ok(n)
        }
    }

    fn dribble(data: &[u8], fail: Option<io::ErrorKind>) -> Dribble {
        Dribble {
            data: data.to_vec(),
            pos: 0,
            fail,
        }
    }

    #[test]
    fn pipeline_delivers_every_byte_in_order() {
        for len in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 5 * CHUNK + 17] {
            let data = bytes(len);
            let (got, fetched) = pipelined(dribble(&data, None), None, |c| {
                let mut out = Vec::new();
                c.read_to_end(&mut out).map(|_| out)
            });
            fetched.unwrap();
            assert_eq!(got.unwrap(), data, "length {len}");
        }
    }

    #[test]
    fn pipeline_fetch_failure_reaches_the_reader_with_its_kind() {
        let data = bytes(3 * CHUNK);
        let (got, fetched) = pipelined(
            dribble(&data, Some(io::ErrorKind::ConnectionReset)),
            None,
            |c| {
                let mut out = Vec::new();
                c.read_to_end(&mut out).map(|_| out)
            },
        );
        assert_eq!(got.unwrap_err().kind(), io::ErrorKind::ConnectionReset);
        assert_eq!(fetched.unwrap_err().kind(), io::ErrorKind::ConnectionReset);
    }

    #[test]
    fn pipeline_consumer_giving_up_stops_the_fetch() {
        let data = bytes(64 * CHUNK);
        let (got, fetched) = pipelined(dribble(&data, None), None, |c| {
            let mut first = [0u8; 10];
            c.read_exact(&mut first)?;
            Err::<(), _>(io::Error::new(io::ErrorKind::InvalidData, "bad tar"))
        });
        assert_eq!(got.unwrap_err().kind(), io::ErrorKind::InvalidData);
        fetched.unwrap();
    }

    #[test]
    fn pipeline_tees_into_the_content_store() {
        let root = tempfile::tempdir().unwrap();
        let content = crate::content::ContentStore::open(root.path()).unwrap();
        let data = bytes(2 * CHUNK + 5);
        let digest = Digest::sha256_of(&data);
        let mut ingest = content.ingest(&digest, Some(data.len() as u64)).unwrap();
        let (got, fetched) = pipelined(dribble(&data, None), Some(&mut ingest), |c| {
            io::copy(c, &mut io::sink())
        });
        fetched.unwrap();
        assert_eq!(got.unwrap(), data.len() as u64);
        ingest.commit().unwrap();
        assert_eq!(content.read(&digest).unwrap(), data);
    }
}
