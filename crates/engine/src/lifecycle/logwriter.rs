//! The log's second thread, for large bursts of short lines: while the monitor encodes the
//! next buffer of entries, this thread writes the last one. For lines of a few bytes each entry
//! is many times the bytes read, and writing the entries to the file (on tmpfs, mostly the
//! kernel's page allocation) and encoding them took about 60% and 35% of a busy monitor's
//! time, one after the other; overlapped, such a burst is ingested about a quarter faster
//! (BENCHMARKS.md, "Logs at volume"). For long lines the copies dominate and a third busy
//! thread beside the container's producer only slows both, so the monitor uses the thread only
//! while entries are several times the bytes read.
//!
//! The thread lives only during such a burst ([`crate::lifecycle::burst`]): the monitor forks
//! its health checks and, between runs, the container's next init, and a fork must not happen
//! while another thread may hold a lock (malloc's); the monitor ends the thread
//! ([`BackgroundWriter::finish`]) before either. The hand-over is a rendezvous, so at most two
//! buffers (the one being written, the one being filled) are read from the container and not
//! yet in the file.

use std::fs::File;
use std::io::{self, Write};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::thread::{self, JoinHandle};

/// The writing thread's stack: it only calls write(2).
const STACK: usize = 64 * 1024;

#[derive(Debug)]
pub struct BackgroundWriter {
    to_writer: SyncSender<Vec<u8>>,
    /// Written buffers, cleared, for the encoder to fill again.
    spare: Receiver<Vec<u8>>,
    thread: JoinHandle<io::Result<()>>,
}

impl BackgroundWriter {
    /// Starts the thread, writing to its own handle of `file` (an O_APPEND file: the offset is
    /// the file's end whoever writes).
    pub fn start(file: &File) -> io::Result<BackgroundWriter> {
        let mut file = file.try_clone()?;
        let (to_writer, buffers) = mpsc::sync_channel::<Vec<u8>>(0);
        let (give_back, spare) = mpsc::sync_channel::<Vec<u8>>(2);
        let thread = thread::Builder::new()
            .name("log writer".into())
            .stack_size(STACK)
            .spawn(move || {
                for mut buf in buffers {
                    file.write_all(&buf)?;
                    buf.clear();
                    let _ = give_back.try_send(buf);
                }
                Ok(())
            })?;
        Ok(BackgroundWriter {
            to_writer,
            spare,
            thread,
        })
    }

    /// Hands `buf` to the thread once it finished the previous one, and returns an empty
    /// buffer to fill next (one it wrote, or a new one of `capacity`). A failed write
    /// ends the thread: its error comes from [`BackgroundWriter::finish`].
    pub fn write(&mut self, buf: Vec<u8>, capacity: usize) -> Result<Vec<u8>, Vec<u8>> {
        self.to_writer.send(buf).map_err(|e| e.0)?;
        Ok(self
            .spare
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(capacity)))
    }

    /// Waits until everything handed over is written, and ends the thread.
    pub fn finish(self) -> io::Result<()> {
        drop(self.to_writer);
        self.thread
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("the log writer thread panicked")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::OpenOptions;

    #[test]
    fn buffers_land_in_order_and_all_are_written_by_finish() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .unwrap();
        let mut w = BackgroundWriter::start(&file).unwrap();
        let mut expected = Vec::new();
        for i in 0..200 {
            let mut buf = w.write(Vec::new(), 16).unwrap();
            assert!(buf.is_empty(), "a spare buffer comes back cleared");
            buf.extend_from_slice(format!("entry {i}\n").as_bytes());
            expected.extend_from_slice(&buf);
            w.write(buf, 16).unwrap();
        }
        w.finish().unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), expected);
    }

    #[test]
    fn a_failed_write_is_reported_by_finish() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        std::fs::write(&path, "").unwrap();
        // Read-only: every write fails with EBADF.
        let file = File::open(&path).unwrap();
        let mut w = BackgroundWriter::start(&file).unwrap();
        let mut refused = false;
        for _ in 0..3 {
            refused |= w.write(b"x\n".to_vec(), 16).is_err();
        }
        assert!(refused, "a thread that failed takes no more buffers");
        assert!(w.finish().is_err());
    }
}
