//! Hijacked connections for attach and exec start: a request with `Upgrade: tcp` gets `101
//! Switching Protocols`, then the connection carries the output stream one way and the client's
//! stdin the other; the client's half-close of its side ends stdin, and the output's end closes
//! the connection. A request without the header (older clients) gets the output as a chunked
//! body instead, and sends no stdin.

use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use hyper::header::{HeaderValue, CONNECTION, CONTENT_TYPE, UPGRADE};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::UnixStream;
use tokio::sync::mpsc;

use crate::body::{self, ApiBody, Reply};

/// A hijacked (or streamed) session, as its producers see it.
pub struct Session {
    /// The output: frames (or raw bytes with a TTY) for the client; sends fail once it is gone.
    pub out: mpsc::Sender<Bytes>,
    /// The client's stdin, when asked for and the connection was upgraded; ends (None) at the
    /// client's half-close or hang-up.
    pub input: Option<mpsc::Receiver<Bytes>>,
    /// The response to send.
    pub reply: Reply,
}

/// Whether the client asked for the connection (`Upgrade: tcp`).
fn wants_upgrade<B>(req: &Request<B>) -> bool {
    req.headers()
        .get(UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("tcp"))
}

/// Starts a session on `req`: with `Upgrade: tcp` the 101 reply, and the connection bridged once
/// hyper hands it over; else a chunked body.
pub fn start<B>(req: &mut Request<B>, content_type: &'static str, stdin: bool) -> Session {
    if !wants_upgrade(req) {
        let (out, reply) = body::stream(content_type);
        return Session {
            out,
            input: None,
            reply,
        };
    }
    let upgrade = hyper::upgrade::on(req);
    let (out, out_rx) = mpsc::channel(64);
    let (in_tx, in_rx) = match stdin {
        true => {
            let (t, r) = mpsc::channel(16);
            (Some(t), Some(r))
        }
        false => (None, None),
    };
    tokio::spawn(async move {
        // A client gone before the switch drops both channels, which stops the producers.
        let Ok(up) = upgrade.await else { return };
        match up.downcast::<TokioIo<UnixStream>>() {
            Ok(parts) => {
                let stream = parts.io.into_inner();
                let probe = stream.as_fd().try_clone_to_owned().ok();
                let early = parts.read_buf;
                bridge(stream, early, out_rx, in_tx, move || {
                    probe.as_ref().is_some_and(hung_up)
                })
                .await;
            }
            Err(up) => bridge(TokioIo::new(up), Bytes::new(), out_rx, in_tx, || false).await,
        }
    });
    let mut reply = Response::new(ApiBody::Full(Default::default()));
    *reply.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = reply.headers_mut();
    h.insert(CONNECTION, HeaderValue::from_static("Upgrade"));
    h.insert(UPGRADE, HeaderValue::from_static("tcp"));
    h.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    Session {
        out,
        input: in_rx,
        reply,
    }
}

/// How long after the switch the first output may go.
const FIRST_WRITE_AFTER: Duration = Duration::from_millis(30);

/// How often a session whose client half-closed checks whether the client is gone entirely.
const HUP_CHECK: Duration = Duration::from_millis(250);

/// The peer closed the socket entirely (not just its writing half): POLLHUP.
fn hung_up(fd: &OwnedFd) -> bool {
    use rustix::event::{PollFd, PollFlags, Timespec};
    let mut fds = [PollFd::new(fd, PollFlags::empty())];
    let zero = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    matches!(rustix::event::poll(&mut fds, Some(&zero)), Ok(n) if n > 0)
        && fds[0].revents().intersects(PollFlags::HUP | PollFlags::ERR)
}

/// Relays until the output ends (then the connection is closed) or the client hangs up. The
/// client's half-close ends only its input: the output goes on. After it, `gone` (the peer
/// closed entirely) is asked now and then, so that a silent stream does not outlive its client.
/// `early` is what hyper read past the request.
async fn bridge<S>(
    io: S,
    early: Bytes,
    mut out: mpsc::Receiver<Bytes>,
    input: Option<mpsc::Sender<Bytes>>,
    gone: impl Fn() -> bool,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (mut rd, mut wr) = tokio::io::split(io);
    let reading = AtomicBool::new(true);
    let writer = async {
        // Clients that read the 101's headers through a buffer (Python's http.client) lose
        // whatever came in the same read; output that is ready at once waits until they are
        // past them. The end of a stream with no output needs no wait.
        let first_write = tokio::time::Instant::now() + FIRST_WRITE_AFTER;
        loop {
            tokio::select! {
                b = out.recv() => match b {
                    Some(b) => {
                        tokio::time::sleep_until(first_write).await;
                        if wr.write_all(&b).await.is_err() || wr.flush().await.is_err() {
                            return;
                        }
                    }
                    None => {
                        let _ = wr.shutdown().await;
                        return;
                    }
                },
                () = tokio::time::sleep(HUP_CHECK) => {
                    if !reading.load(Ordering::Relaxed) && gone() {
                        return;
                    }
                }
            }
        }
    };
    let reader = async {
        // Read to the end even once the input's consumer is gone, to see the client's close.
        let mut input = input;
        let mut pending = Some(early).filter(|b| !b.is_empty());
        let mut buf = vec![0u8; 32 << 10];
        loop {
            let chunk = match pending.take() {
                Some(b) => b,
                None => match rd.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => Bytes::copy_from_slice(&buf[..n]),
                },
            };
            if let Some(tx) = &input {
                if tx.send(chunk).await.is_err() {
                    input = None;
                }
            }
        }
        reading.store(false, Ordering::Relaxed);
        // The client's end of stdin.
        drop(input);
    };
    tokio::pin!(writer);
    tokio::select! {
        () = &mut writer => {}
        () = reader => writer.await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn half_close_ends_input_and_the_output_goes_on() {
        let (client, server) = tokio::io::duplex(1024);
        let (out_tx, out_rx) = mpsc::channel(4);
        let (in_tx, mut in_rx) = mpsc::channel(4);
        let task = tokio::spawn(bridge(server, Bytes::new(), out_rx, Some(in_tx), || false));
        let (mut crd, mut cwr) = tokio::io::split(client);
        cwr.write_all(b"abc").await.unwrap();
        cwr.shutdown().await.unwrap();
        assert_eq!(&in_rx.recv().await.unwrap()[..], b"abc");
        assert!(
            in_rx.recv().await.is_none(),
            "stdin did not end at the half-close"
        );
        out_tx.send(Bytes::from_static(b"out")).await.unwrap();
        drop(out_tx);
        let mut got = Vec::new();
        crd.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"out");
        task.await.unwrap();
    }
}
