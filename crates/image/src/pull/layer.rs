//! Each layer's streaming pass (download or local blob → verify → decompress → diff-ID verify →
//! unpack → commit), retried when the transfer fails for a transient reason, and the workers
//! that run several layers at once.

use std::io::{self, BufRead, Read};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use hull_oci::image::{Compression, Descriptor, ImageConfig, Manifest};
use hull_oci::Digest;

use super::pipeline::{pipelined, Chunks};
use super::{PullError, PullEvent, PullObserver, PullOptions};
use crate::content::VerifyingReader;
use crate::layers::{LayerMeta, LayerWriter, SourceBlob};
use crate::reference::Reference;
use crate::registry::{Registry, RegistryError};
use crate::store::{LayerRef, Store};
use crate::unpack::{unpack, UnpackError, UnpackOptions};

/// Attempts per layer when the transfer fails for a transient reason.
const LAYER_ATTEMPTS: u32 = 3;

/// Fetches all layers with `opts.concurrency` worker threads. Returns each layer's reference and
/// unpacked size, in manifest order.
pub(super) fn fetch_layers(
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
/// Two threads share the work: a fetch thread reads the blob in
/// [`CHUNK`](super::pipeline::CHUNK)-sized buffers, hashes and writes them to the content store,
/// and hands them over a bounded channel to this thread, which decompresses, hashes again (the
/// diff ID) and unpacks. The blob commits only once its digest checks out, and the layer only
/// after that.
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
