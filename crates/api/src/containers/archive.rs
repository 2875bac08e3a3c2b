//! `docker cp` and `docker export` through the API: `HEAD /containers/{id}/archive?path=` (the
//! path's stat in `X-Docker-Container-Path-Stat`, base64 JSON), `GET` (a tar of the path, the
//! same header), `PUT` (a tar extracted into the path, a directory) and `GET
//! /containers/{id}/export`. Paths resolve inside the container as `hull cp` resolves them
//! (`path=../../etc` is the container's `/etc`); tars stream both ways.

use std::io::{self, BufWriter, Read, Write};
use std::sync::Arc;

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::BodyExt;
use hull_engine::copy::stat::{is_missing, PathStat};
use hull_engine::copy::{CopyError, Options};
use hull_engine::EngineError;
use hyper::body::Incoming;
use hyper::header::HeaderValue;
use hyper::{Request, StatusCode};
use tokio::sync::mpsc;

use crate::body::{self, Reply};
use crate::error::ApiError;
use crate::mux::FrameWriter;
use crate::query::Query;
use crate::route::{blocking, Handled, Shared};

const STAT_HEADER: &str = "x-docker-container-path-stat";

/// An engine failure of a copy, as Docker answers it.
fn copy_error(name: &str, path: &str, e: EngineError) -> ApiError {
    if is_missing(&e) {
        return ApiError::not_found(format!(
            "Could not find the file {path} in container {name}"
        ));
    }
    match e {
        EngineError::Copy(CopyError::Path(p)) => ApiError::bad(p.to_string()),
        EngineError::Copy(CopyError::ReadOnly(_)) => ApiError::new(
            StatusCode::FORBIDDEN,
            "container rootfs is marked read-only",
        ),
        other => ApiError::container(name, other),
    }
}

fn path_of(q: &Query) -> Result<String, ApiError> {
    match q.get("path") {
        Some(p) if !p.is_empty() => Ok(p.to_string()),
        _ => Err(ApiError::bad("path: a path in the container is required")),
    }
}

async fn stat(shared: &Arc<Shared>, name: &str, path: &str) -> Result<PathStat, ApiError> {
    let (name, path) = (name.to_string(), path.to_string());
    blocking(shared, move |s| {
        s.engine
            .path_stat(&name, &path)
            .map_err(|e| copy_error(&name, &path, e))
    })
    .await
}

fn with_stat(mut reply: Reply, st: &PathStat) -> Reply {
    let doc = serde_json::to_vec(&st.document()).unwrap_or_default();
    let b64 = base64::engine::general_purpose::STANDARD.encode(doc);
    if let Ok(v) = HeaderValue::from_str(&b64) {
        reply.headers_mut().insert(STAT_HEADER, v);
    }
    reply
}

/// `HEAD /containers/{id}/archive?path=`.
pub async fn head(shared: &Arc<Shared>, name: &str, q: &Query) -> Handled {
    let path = path_of(q)?;
    let st = stat(shared, name, &path).await?;
    Ok(with_stat(body::empty(StatusCode::OK), &st))
}

/// A tar written on a blocking thread into a streamed body; a failure after the headers can
/// only cut the stream short.
fn stream_tar<F>(shared: &Arc<Shared>, what: String, write: F) -> Reply
where
    F: FnOnce(&Shared, &mut dyn Write) -> Result<(), EngineError> + Send + 'static,
{
    let (tx, reply) = body::stream("application/x-tar");
    let shared = shared.clone();
    crate::mux::spawn_producer("tar", move || {
        let mut out =
            BufWriter::with_capacity(64 << 10, FrameWriter::new(tx.clone(), 1, true, true));
        let written = write(&shared, &mut out).map_err(|e| e.to_string());
        let flushed = written.and_then(|()| out.flush().map_err(|e| e.to_string()));
        if let Err(e) = flushed {
            if !tx.is_closed() {
                eprintln!("hull: {what}: {e}");
            }
        }
    });
    reply
}

/// `GET /containers/{id}/archive?path=`.
pub async fn get(shared: &Arc<Shared>, name: &str, q: &Query) -> Handled {
    let path = path_of(q)?;
    let st = stat(shared, name, &path).await?;
    let (n, p) = (name.to_string(), path.clone());
    let reply = stream_tar(
        shared,
        format!("archive {path} of {name}"),
        move |s, out| s.engine.copy_out(&n, &p, "-", out, Options::default()),
    );
    Ok(with_stat(reply, &st))
}

/// `GET /containers/{id}/export`.
pub async fn export(shared: &Arc<Shared>, name: &str) -> Handled {
    let n = name.to_string();
    // Resolved first, so that a missing container is a 404 rather than a cut stream.
    blocking(shared, {
        let n = n.clone();
        move |s| s.resolve_container(&n).map(drop)
    })
    .await?;
    Ok(stream_tar(
        shared,
        format!("export {name}"),
        move |s, out| s.engine.export(&n, out),
    ))
}

/// A request body read from a blocking thread, fed by a task.
struct BodyReader {
    rx: mpsc::Receiver<io::Result<Bytes>>,
    cur: Bytes,
}

impl Read for BodyReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.cur.is_empty() {
            match self.rx.blocking_recv() {
                Some(Ok(b)) => self.cur = b,
                Some(Err(e)) => return Err(e),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.cur.len());
        buf[..n].copy_from_slice(&self.cur[..n]);
        let _ = self.cur.split_to(n);
        Ok(n)
    }
}

fn body_reader(mut body: Incoming) -> BodyReader {
    let (tx, rx) = mpsc::channel(16);
    tokio::spawn(async move {
        while let Some(frame) = body.frame().await {
            let item = match frame {
                Ok(f) => match f.into_data() {
                    Ok(d) => Ok(d),
                    Err(_) => continue,
                },
                Err(e) => Err(io::Error::other(format!("read the request body: {e}"))),
            };
            let failed = item.is_err();
            // The extractor stopped reading (done or failed): the rest is not needed.
            if tx.send(item).await.is_err() || failed {
                return;
            }
        }
    });
    BodyReader {
        rx,
        cur: Bytes::new(),
    }
}

/// `PUT /containers/{id}/archive?path=&noOverwriteDirNonDir=`: the body, a tar, extracted into
/// the directory at `path`. A directory is never replaced by a non-directory (the engine's
/// extraction refuses it whatever the flag says).
pub async fn put(shared: &Arc<Shared>, req: Request<Incoming>, name: &str, q: &Query) -> Handled {
    let path = path_of(q)?;
    q.flag("noOverwriteDirNonDir", false)?;
    let st = stat(shared, name, &path).await?;
    // A symlink is followed (inside the container) by the extraction, which checks it there.
    if st.go_mode() & ((1 << 31) | (1 << 27)) == 0 {
        return Err(ApiError::bad("extraction point is not a directory"));
    }
    let archive = q.flag("copyUIDGID", false)?;
    let reader = body_reader(req.into_body());
    let name = name.to_string();
    blocking(shared, move |s| {
        let opts = Options {
            archive,
            follow_link: false,
        };
        s.engine
            .copy_in("-", reader, &name, &path, opts)
            .map_err(|e| copy_error(&name, &path, e))
    })
    .await?;
    Ok(body::empty(StatusCode::OK))
}
