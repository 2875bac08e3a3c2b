//! `GET /images/{name}/get`, `GET /images/get?names=…` (`docker save`, a docker-archive
//! streamed as it is written) and `POST /images/load` (the request body streamed into the
//! store's loader, as `hull load` reads stdin).

use std::io::{self, Read, Write};
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::BodyExt;
use hull_image::archive::{self, ArchiveError};
use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use serde_json::json;
use tokio::sync::mpsc;

use crate::body;
use crate::error::{one_line, ApiError};
use crate::route::{blocking, Handled, Shared, Target};

/// How much of the archive is sent at once.
const CHUNK: usize = 64 << 10;

pub async fn save(shared: &Arc<Shared>, names: Vec<String>) -> Handled {
    if names.is_empty() {
        return Err(ApiError::bad("names: give at least one image to save"));
    }
    // Every name resolves before anything is sent: a missing one is a 404.
    let images = blocking(shared, move |s| {
        for n in &names {
            s.engine
                .images
                .resolve(n)
                .map_err(|e| ApiError::image(n, &e))?;
        }
        archive::select(&s.engine.images, &names).map_err(|e| ApiError::internal(one_line(&e)))
    })
    .await?;
    let (tx, reply) = body::stream("application/x-tar");
    let store = shared.engine.images.clone();
    tokio::task::spawn_blocking(move || {
        let out = Sender {
            tx,
            buf: Vec::with_capacity(CHUNK),
        };
        // A client gone mid-archive fails the write; nothing on the store changes.
        if let Ok(mut out) = archive::save(&store, &images, out) {
            let _ = out.flush();
        }
    });
    Ok(reply)
}

/// Writes into the response body, a chunk at a time (on the blocking pool).
struct Sender {
    tx: mpsc::Sender<Bytes>,
    buf: Vec<u8>,
}

impl Write for Sender {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::take(&mut self.buf));
        self.tx
            .blocking_send(chunk)
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the client went away"))
    }
}

/// `POST /images/load?quiet`: `{"stream":"Loaded image: …\n"}` per tag (or ID, untagged).
pub async fn load(shared: &Arc<Shared>, req: Request<Incoming>, t: &Target) -> Handled {
    let _quiet = t.query.flag("quiet", false)?; // no progress is sent either way
    let reader = body_reader(req.into_body());
    let loaded = blocking(shared, move |s| {
        let loaded = archive::load(&s.engine.images, reader).map_err(|e| load_error(&e))?;
        for image in &loaded {
            let tags: Vec<String> = image.tags.iter().map(|t| t.familiar()).collect();
            s.engine.image_loaded(&image.id.to_string(), &tags);
        }
        Ok(loaded)
    })
    .await?;
    let mut out = Vec::new();
    for image in loaded {
        if image.tags.is_empty() {
            let text = format!("Loaded image ID: {}\n", image.id);
            out.extend(body::json_line(&json!({ "stream": text })));
        }
        for tag in image.tags {
            let text = format!("Loaded image: {}\n", tag.familiar());
            out.extend(body::json_line(&json!({ "stream": text })));
        }
    }
    Ok(body::bytes(StatusCode::OK, "application/json", out))
}

fn load_error(e: &ArchiveError) -> ApiError {
    let text = format!("load: {}", one_line(e));
    match e {
        ArchiveError::Invalid(_) | ArchiveError::Member { .. } | ArchiveError::Layer { .. } => {
            ApiError::bad(text)
        }
        _ => ApiError::internal(text),
    }
}

/// The request body as a [`Read`] for a blocking thread (fed by a task of the runtime).
pub(crate) fn body_reader(mut incoming: Incoming) -> Receiver {
    let (tx, rx) = mpsc::channel::<io::Result<Bytes>>(16);
    tokio::spawn(async move {
        while let Some(frame) = incoming.frame().await {
            let item = match frame {
                Ok(f) => match f.into_data() {
                    Ok(b) => Ok(b),
                    Err(_) => continue, // trailers
                },
                Err(e) => Err(io::Error::other(format!("read the request body: {e}"))),
            };
            let failed = item.is_err();
            if tx.send(item).await.is_err() || failed {
                return;
            }
        }
    });
    Receiver {
        rx,
        chunk: Bytes::new(),
    }
}

/// The request body as a reader, on a blocking thread.
pub(crate) struct Receiver {
    rx: mpsc::Receiver<io::Result<Bytes>>,
    chunk: Bytes,
}

impl Read for Receiver {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.chunk.is_empty() {
            match self.rx.blocking_recv() {
                Some(item) => self.chunk = item?,
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len());
        buf[..n].copy_from_slice(&self.chunk.split_to(n));
        Ok(n)
    }
}
