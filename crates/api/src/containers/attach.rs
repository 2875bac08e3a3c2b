//! `POST /containers/{id}/attach` (hijacked, see `hijack`) and `POST /containers/{id}/resize`:
//! the client becomes one more client of the container's monitor (`lifecycle::attach`), its
//! frames turned into Docker's stream (multiplexed, raw with a TTY) and the client's stdin into
//! the monitor's; the client's half-close closes the container's stdin. `logs=1` first replays
//! the log. Attaching to a container that is not running waits for its next start, as Docker's.

use std::collections::HashMap;
use std::os::unix::net::UnixStream;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use bytes::Bytes;
use hull_engine::lifecycle::attach::{self, Frame, FrameReader};
use hull_engine::lifecycle::logs::{LogRequest, Window};
use hull_engine::state::Record;
use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use crate::body;
use crate::error::ApiError;
use crate::hijack;
use crate::mux::{self, FrameWriter};
use crate::query::Query;
use crate::route::{blocking, Handled, Shared, Target};

/// What the client attached for.
#[derive(Debug, Clone, Copy)]
struct Wanted {
    stdin: bool,
    stdout: bool,
    stderr: bool,
    logs: bool,
    stream: bool,
}

fn wanted(q: &Query) -> Result<Wanted, ApiError> {
    Ok(Wanted {
        stdin: q.flag("stdin", false)?,
        stdout: q.flag("stdout", false)?,
        stderr: q.flag("stderr", false)?,
        logs: q.flag("logs", false)?,
        stream: q.flag("stream", false)?,
    })
}

async fn resolve(shared: &Arc<Shared>, name: &str) -> Result<Record, ApiError> {
    let name = name.to_string();
    blocking(shared, move |s| s.resolve_container(&name)).await
}

pub async fn attach(
    shared: &Arc<Shared>,
    mut req: Request<Incoming>,
    name: &str,
    q: &Query,
) -> Handled {
    let w = wanted(q)?;
    let record = resolve(shared, name).await?;
    let session = hijack::start(&mut req, mux::content_type(record.config.tty), w.stdin);
    let shared = shared.clone();
    tokio::spawn(async move {
        let out = session.out;
        if w.logs {
            replay(&shared, &record, w, &out, Window::default()).await;
        }
        if !w.stream {
            return;
        }
        // Output from here on is this attach's; a run it connected to too late to see any of
        // it live (or that began and ended between two looks) is replayed from the log.
        let since = Window {
            since: Some(hull_engine::events::time::now()),
            until: None,
        };
        if let Some(sock) = connect_when_running(&shared, &record, w, &out, since).await {
            let mut forwarded = false;
            relay(sock, &record, w, out.clone(), session.input, &mut forwarded).await;
            if !forwarded && !out.is_closed() {
                replay(&shared, &record, w, &out, since).await;
            }
        }
    });
    Ok(session.reply)
}

/// The log (of `window`) into the stream, from a blocking thread.
async fn replay(
    shared: &Arc<Shared>,
    record: &Record,
    w: Wanted,
    out: &mpsc::Sender<Bytes>,
    window: Window,
) {
    let (shared, record, out) = (shared.clone(), record.clone(), out.clone());
    let tty = record.config.tty;
    let _ = tokio::task::spawn_blocking(move || {
        let req = LogRequest {
            window,
            ..Default::default()
        };
        let o = FrameWriter::new(out.clone(), 1, tty, w.stdout);
        let e = FrameWriter::new(out.clone(), 2, tty, w.stderr);
        let _ = shared
            .engine
            .read_logs(&record, &req, o, e, &|| out.is_closed());
    })
    .await;
}

/// Containers with an attach waiting for their next run, and how many.
static WAITING: LazyLock<Mutex<HashMap<String, usize>>> = LazyLock::new(Default::default);

/// Whether an attach waits for container `id` to start: a start through the API should then
/// start its monitor with `--attach-first` (as `hull start -a`), so that the attach misses no
/// output (and a client's end of stdin closes the container's, as Docker's StdinOnce).
pub fn waiting(id: &str) -> bool {
    lock_waiting().get(id).is_some_and(|&n| n > 0)
}

fn lock_waiting() -> std::sync::MutexGuard<'static, HashMap<String, usize>> {
    WAITING.lock().unwrap_or_else(|p| p.into_inner())
}

/// Rung when a monitor started for waiting attaches listens for them.
static LISTENING: LazyLock<tokio::sync::Notify> = LazyLock::new(Default::default);

/// Wakes the attaches waiting for their container's start (see [`connect_when_running`]): a
/// monitor started for them now listens.
pub fn monitor_listening() {
    LISTENING.notify_waiters();
}

/// Counts an attach as waiting for `id` while it lives.
struct Waiting(String);

impl Waiting {
    fn new(id: &str) -> Waiting {
        *lock_waiting().entry(id.to_string()).or_default() += 1;
        Waiting(id.to_string())
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        let mut all = lock_waiting();
        if let Some(n) = all.get_mut(&self.0) {
            *n -= 1;
            if *n == 0 {
                all.remove(&self.0);
            }
        }
    }
}

/// The monitor's socket once the container runs. A run that began and ended while we waited
/// (too short to catch) is replayed from the log; None then, or when the client went away or
/// the container was removed.
async fn connect_when_running(
    shared: &Arc<Shared>,
    record: &Record,
    w: Wanted,
    out: &mpsc::Sender<Bytes>,
    since: Window,
) -> Option<UnixStream> {
    let dir = shared.engine.containers.dir(&record.id);
    let began = record.state.started_at.clone();
    let _waiting = Waiting::new(&record.id);
    loop {
        // Armed before the look, so that a monitor that starts listening right after it
        // still wakes this loop; without a ring, it looks again every 50 ms.
        let rung = LISTENING.notified();
        tokio::pin!(rung);
        rung.as_mut().enable();
        if let Ok(sock) = attach::connect(&dir) {
            return Some(sock);
        }
        if out.is_closed() {
            return None;
        }
        let id = record.id.clone();
        let now = blocking(shared, move |s| {
            let r = s.engine.containers.load(&id).ok();
            Ok(r.map(|r| (s.engine.containers.is_running(&id), r)))
        })
        .await
        .ok()??;
        let (running, now) = now;
        if !running && now.state.started_at != began {
            replay(shared, &now, w, out, since).await;
            return None;
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(50)) => {}
            () = rung => {}
        }
    }
}

/// The monitor's frames to the client, the client's stdin to the monitor, until the run ends,
/// the monitor goes away or the client does.
async fn relay(
    sock: UnixStream,
    record: &Record,
    w: Wanted,
    out: mpsc::Sender<Bytes>,
    mut input: Option<mpsc::Receiver<Bytes>>,
    forwarded: &mut bool,
) {
    let tty = record.config.tty;
    let Ok(sock) = sock
        .set_nonblocking(true)
        .and_then(|()| tokio::net::UnixStream::from_std(sock))
    else {
        return;
    };
    // The write half stays open until the end: dropping it would be an EOF the monitor reads
    // as this client leaving.
    let (mut rd, mut wr) = sock.into_split();
    // A monitor that waited for this client (`start_for_attached`) starts the container at
    // its first frame, rather than after waiting for one.
    if wr
        .write_all(&Frame::Stdin(Vec::new()).encode())
        .await
        .is_err()
    {
        return;
    }
    let mut frames = FrameReader::default();
    let mut buf = vec![0u8; 32 << 10];
    loop {
        tokio::select! {
            r = rd.read(&mut buf) => {
                let n = match r { Ok(0) | Err(_) => return, Ok(n) => n };
                frames.push(&buf[..n]);
                while let Ok(Some(f)) = frames.next_frame() {
                    let sent = match f {
                        Frame::Stdout(b) if w.stdout => {
                            *forwarded = true;
                            out.send(mux::frame(1, tty, &b)).await
                        }
                        Frame::Stderr(b) if w.stderr => {
                            *forwarded = true;
                            out.send(mux::frame(2, tty, &b)).await
                        }
                        Frame::Exit(_) => return,
                        _ => Ok(()),
                    };
                    if sent.is_err() {
                        return;
                    }
                }
            }
            b = recv(&mut input), if input.is_some() => {
                let frame = match b {
                    Some(b) => Frame::Stdin(b.to_vec()),
                    None => {
                        input = None;
                        Frame::StdinClose
                    }
                };
                if wr.write_all(&frame.encode()).await.is_err() {
                    return;
                }
            }
            () = out.closed() => return,
        }
    }
}

async fn recv(input: &mut Option<mpsc::Receiver<Bytes>>) -> Option<Bytes> {
    match input {
        Some(rx) => rx.recv().await,
        None => None,
    }
}

/// `POST /containers/{id}/resize?h&w`: a window size frame to the monitor.
pub async fn resize(shared: &Arc<Shared>, name: &str, t: &Target) -> Handled {
    let (rows, cols) = crate::exec::size_of(t)?;
    let record = resolve(shared, name).await?;
    blocking(shared, move |s| {
        let not_running = || ApiError::conflict(format!("Container {} is not running", record.id));
        if !s.engine.containers.is_running(&record.id) {
            return Err(not_running());
        }
        let mut sock =
            attach::connect(&s.engine.containers.dir(&record.id)).map_err(|_| not_running())?;
        use std::io::Write;
        sock.write_all(&Frame::Resize { rows, cols }.encode())
            .map_err(|e| ApiError::internal(format!("resize {}: {e}", record.id)))
    })
    .await?;
    Ok(body::empty(StatusCode::OK))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_attach_counts_as_waiting_while_it_lives() {
        assert!(!waiting("c1"));
        let a = Waiting::new("c1");
        let b = Waiting::new("c1");
        assert!(waiting("c1") && !waiting("c2"));
        drop(a);
        assert!(waiting("c1"));
        drop(b);
        assert!(!waiting("c1"));
    }
}
