//! Docker's stream formats for logs, attach and exec: multiplexed (an 8-byte header per frame:
//! the stream, 1 stdout or 2 stderr, three zero bytes, the payload's length as a big-endian
//! u32) when the container has no TTY, the bytes as they are when it has one.

use std::io::{self, Write};

use bytes::Bytes;
use tokio::sync::mpsc;

/// The content type Docker names each format with.
pub fn content_type(tty: bool) -> &'static str {
    match tty {
        true => "application/vnd.docker.raw-stream",
        false => "application/vnd.docker.multiplexed-stream",
    }
}

/// `payload` as one frame of `stream` (1 stdout, 2 stderr), or as it is with a TTY.
pub fn frame(stream: u8, tty: bool, payload: &[u8]) -> Bytes {
    if tty {
        return Bytes::copy_from_slice(payload);
    }
    let mut out = Vec::with_capacity(8 + payload.len());
    out.extend_from_slice(&[stream, 0, 0, 0]);
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    out.extend_from_slice(payload);
    Bytes::from(out)
}

/// One stream of a response body, written from a blocking thread: each write one frame on the
/// channel. Writes to a stream the client did not ask for are dropped. A write fails with
/// BrokenPipe once the client went away (the body, and so the channel's receiver, dropped).
pub struct FrameWriter {
    tx: mpsc::Sender<Bytes>,
    stream: u8,
    tty: bool,
    wanted: bool,
}

impl FrameWriter {
    pub fn new(tx: mpsc::Sender<Bytes>, stream: u8, tty: bool, wanted: bool) -> FrameWriter {
        FrameWriter {
            tx,
            stream,
            tty,
            wanted,
        }
    }
}

impl Write for FrameWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.wanted && !buf.is_empty() {
            self.tx
                .blocking_send(frame(self.stream, self.tty, buf))
                .map_err(|_| io::Error::from(io::ErrorKind::BrokenPipe))?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Runs a stream's producer on a thread of its own: a follow or a stats stream lasts as long
/// as its client, and on tokio's blocking pool (bounded) enough of them would starve every
/// other request's engine call. The producer ends when its client goes (a failed send).
pub fn spawn_producer(what: &str, f: impl FnOnce() + Send + 'static) {
    let spawned = std::thread::Builder::new()
        .name(format!("hull-api {what}"))
        .spawn(f);
    if let Err(e) = spawned {
        eprintln!("hull: start the {what} stream: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_carry_the_stream_and_a_big_endian_length() {
        assert_eq!(&frame(2, false, b"hi")[..], b"\x02\0\0\0\0\0\0\x02hi");
        assert_eq!(&frame(1, true, b"hi")[..], b"hi");
    }

    #[test]
    fn a_gone_reader_fails_the_write_and_unwanted_streams_are_dropped() {
        let (tx, mut rx) = mpsc::channel(4);
        let mut w = FrameWriter::new(tx.clone(), 1, false, true);
        let mut skip = FrameWriter::new(tx, 2, false, false);
        w.write_all(b"x").unwrap();
        skip.write_all(b"y").unwrap();
        assert_eq!(&rx.try_recv().unwrap()[..], b"\x01\0\0\0\0\0\0\x01x");
        assert!(rx.try_recv().is_err());
        drop(rx);
        let e = w.write_all(b"z").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::BrokenPipe);
    }
}
