//! Getting one blob into the repository: `HEAD` first, then a cross-repository mount when the
//! image came from another repository of the same registry, else an upload: one `PUT` for a
//! blob up to [`MONOLITHIC_MAX`], `PATCH` chunks of that size then an empty `PUT` for larger
//! ones. An uncompressed layer is compressed on the way up: a compressor thread feeds 1 MiB
//! pieces through a bounded channel to the uploading thread while hashing them and teeing them
//! into the content store, so compression, hashing and upload overlap and memory stays bounded.

use std::io::{self, BufReader, Read, Write};
use std::sync::mpsc::{sync_channel, Receiver};

use hull_oci::Digest;
use sha2::{Digest as _, Sha256};

use super::compress::{compress, Format};
use super::plan::BlobJob;
use super::{PushError, PushEvent, PushObserver};
use crate::registry::{BlobCheck, Registry, UploadSession, MONOLITHIC_MAX};
use crate::store::{Store, StoreError};

/// Bytes per piece handed from the compressor (or file reader) to the uploader.
const PIECE: usize = 1 << 20;
/// Pieces queued ahead of the uploader: one chunk's worth, so compression goes on during a PATCH.
const PIECES_IN_FLIGHT: usize = MONOLITHIC_MAX / PIECE;

/// Where one blob job ended up.
#[derive(Debug, Clone)]
pub(crate) struct Pushed {
    pub digest: Digest,
    pub size: u64,
}

pub(crate) struct Ctx<'a> {
    pub store: &'a Store,
    pub registry: &'a Registry,
    pub repo: &'a str,
    /// Other repositories on the same registry the image was pulled from (mount sources).
    pub mount_from: &'a [String],
    pub format: Format,
    pub threads: usize,
    pub observer: &'a dyn PushObserver,
}

pub(crate) fn push_blob(ctx: &Ctx, job: &BlobJob) -> Result<Pushed, PushError> {
    let key = job.key().clone();
    ctx.observer.event(PushEvent::Preparing(key.clone()));
    let pushed = match job {
        BlobJob::Stored { digest, size } => push_stored(ctx, digest, *size)?,
        BlobJob::Compress { tar } => push_compressed(ctx, tar)?,
    };
    Ok(pushed)
}

fn push_stored(ctx: &Ctx, digest: &Digest, size: u64) -> Result<Pushed, PushError> {
    let done = Pushed {
        digest: digest.clone(),
        size,
    };
    if ctx.registry.blob_exists(ctx.repo, digest)? {
        ctx.observer.event(PushEvent::Exists(digest.clone()));
        return Ok(done);
    }
    let mut session = None;
    // mount_sources gives at most one repository: Docker tries one mount, then uploads.
    if let Some(from) = ctx.mount_from.first() {
        match ctx.registry.start_upload(ctx.repo, Some((digest, from)))? {
            BlobCheck::Mounted => {
                ctx.observer.event(PushEvent::Mounted {
                    layer: digest.clone(),
                    from: from.clone(),
                });
                return Ok(done);
            }
            BlobCheck::Upload(s) => session = Some(s),
        }
    }
    let file = ctx
        .store
        .content
        .open_blob(digest)
        .map_err(StoreError::from)?;
    let mut reader = BufReader::with_capacity(PIECE, file);
    let mut next = || read_piece(&mut reader);
    ctx.observer.event(PushEvent::Pushing {
        layer: digest.clone(),
        done: 0,
        total: Some(size),
    });
    upload(ctx, digest, Some(size), session, &mut next)?;
    let actual_size = ctx.store.content.size(digest).unwrap_or(size);
    ctx.observer.event(PushEvent::Pushed(digest.clone()));
    Ok(Pushed {
        digest: digest.clone(),
        size: actual_size,
    })
}

fn read_piece(reader: &mut impl Read) -> io::Result<Option<Vec<u8>>> {
    let mut piece = Vec::with_capacity(PIECE);
    reader.take(PIECE as u64).read_to_end(&mut piece)?;
    Ok((!piece.is_empty()).then_some(piece))
}

/// Compresses the stored tar `tar` while uploading the output; commits the compressed blob to
/// the content store once the registry has it.
fn push_compressed(ctx: &Ctx, tar: &Digest) -> Result<Pushed, PushError> {
    let file = ctx.store.content.open_blob(tar).map_err(StoreError::from)?;
    ctx.observer.event(PushEvent::Pushing {
        layer: tar.clone(),
        done: 0,
        total: None,
    });
    let mut ingest = ctx
        .store
        .content
        .ingest_unknown()
        .map_err(StoreError::from)?;
    let (tx, rx) = sync_channel::<Vec<u8>>(PIECES_IN_FLIGHT);
    let (format, threads) = (ctx.format, ctx.threads);
    let ((digest, size, ingest), (session, last)) = std::thread::scope(|s| {
        let compressor = s.spawn(move || -> io::Result<(Digest, u64, _)> {
            let mut hasher = Sha256::new();
            let mut size = 0u64;
            let mut piece = Vec::with_capacity(PIECE);
            let mut sink = |b: &[u8]| -> io::Result<()> {
                hasher.update(b);
                ingest.write_all(b)?;
                size += b.len() as u64;
                piece.extend_from_slice(b);
                if piece.len() >= PIECE {
                    let full = std::mem::replace(&mut piece, Vec::with_capacity(PIECE));
                    tx.send(full)
                        .map_err(|_| io::Error::other("the upload stopped"))?;
                }
                Ok(())
            };
            compress(
                BufReader::with_capacity(PIECE, file),
                format,
                threads,
                &mut sink,
            )?;
            if !piece.is_empty() {
                tx.send(piece)
                    .map_err(|_| io::Error::other("the upload stopped"))?;
            }
            Ok((Digest::from_sha256_bytes(&hasher.finalize()), size, ingest))
        });
        upload_stream(ctx, tar, rx, compressor)
    })?;
    finish(ctx, &digest, session, &last)?;
    ingest.commit().map_err(StoreError::from)?;
    ctx.observer.event(PushEvent::Pushed(tar.clone()));
    Ok(Pushed { digest, size })
}

type CompressorOutput = (Digest, u64, crate::content::Ingest);
type UploadTail = (Option<UploadSession>, Vec<u8>);

/// Uploads the compressor's pieces as they come: every full chunk goes up as a `PATCH`; what is
/// left when the compressor ends (the whole blob, when it is small) is returned for the final
/// `PUT`, which needs the digest the compressor computes.
fn upload_stream(
    ctx: &Ctx,
    key: &Digest,
    rx: Receiver<Vec<u8>>,
    compressor: std::thread::ScopedJoinHandle<'_, io::Result<CompressorOutput>>,
) -> Result<(CompressorOutput, UploadTail), PushError> {
    let mut session = None;
    let mut chunk = Vec::with_capacity(MONOLITHIC_MAX + PIECE);
    let mut sent = 0u64;
    let streamed: Result<(), PushError> = (|| {
        for piece in &rx {
            chunk.extend_from_slice(&piece);
            while chunk.len() > MONOLITHIC_MAX {
                patch(
                    ctx,
                    key,
                    &mut session,
                    &chunk[..MONOLITHIC_MAX],
                    &mut sent,
                    None,
                )?;
                chunk.drain(..MONOLITHIC_MAX);
            }
        }
        Ok(())
    })();
    drop(rx);
    let compressed = compressor
        .join()
        .unwrap_or_else(|_| Err(io::Error::other("the compressor thread panicked")));
    // An upload failure makes the compressor fail too ("the upload stopped"): report the cause.
    streamed?;
    let compressed = compressed.map_err(|e| PushError::Compress {
        layer: key.clone(),
        reason: e.to_string(),
    })?;
    Ok((compressed, (session, chunk)))
}

fn patch(
    ctx: &Ctx,
    key: &Digest,
    session: &mut Option<UploadSession>,
    chunk: &[u8],
    sent: &mut u64,
    total: Option<u64>,
) -> Result<(), PushError> {
    if session.is_none() {
        *session = Some(new_session(ctx)?);
    }
    let s = session.as_mut().expect("just set");
    ctx.registry.patch_chunk(s, chunk)?;
    *sent += chunk.len() as u64;
    ctx.observer.event(PushEvent::Pushing {
        layer: key.clone(),
        done: *sent,
        total,
    });
    Ok(())
}

fn new_session(ctx: &Ctx) -> Result<UploadSession, PushError> {
    match ctx.registry.start_upload(ctx.repo, None)? {
        BlobCheck::Upload(s) => Ok(s),
        BlobCheck::Mounted => unreachable!("no mount was asked for"),
    }
}

/// Uploads a blob of known digest from `next` pieces: monolithic when it fits one chunk.
fn upload(
    ctx: &Ctx,
    digest: &Digest,
    total: Option<u64>,
    mut session: Option<UploadSession>,
    next: &mut dyn FnMut() -> io::Result<Option<Vec<u8>>>,
) -> Result<(), PushError> {
    let read_err = |e: io::Error| PushError::Read {
        blob: digest.clone(),
        reason: e.to_string(),
    };
    let mut chunk = Vec::with_capacity(MONOLITHIC_MAX + PIECE);
    let mut sent = 0u64;
    while let Some(piece) = next().map_err(read_err)? {
        chunk.extend_from_slice(&piece);
        while chunk.len() > MONOLITHIC_MAX {
            patch(
                ctx,
                digest,
                &mut session,
                &chunk[..MONOLITHIC_MAX],
                &mut sent,
                total,
            )?;
            chunk.drain(..MONOLITHIC_MAX);
        }
    }
    finish(ctx, digest, session, &chunk)
}

/// The final `PUT ?digest=`: with the whole blob when no chunk went up yet, else with the rest.
fn finish(
    ctx: &Ctx,
    digest: &Digest,
    session: Option<UploadSession>,
    rest: &[u8],
) -> Result<(), PushError> {
    let mut session = match session {
        Some(s) => s,
        None => new_session(ctx)?,
    };
    let body = if session.offset() > 0 && !rest.is_empty() {
        ctx.registry.patch_chunk(&mut session, rest)?;
        &[][..]
    } else {
        rest
    };
    ctx.registry.finish_upload(session, digest, body)?;
    Ok(())
}
