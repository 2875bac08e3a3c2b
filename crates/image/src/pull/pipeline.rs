//! One layer's two threads: a fetch thread reads the blob in [`CHUNK`]-sized buffers and tees
//! them into the content store, and the calling thread consumes them as a buffered reader.

use std::io::{self, BufRead, Read, Write};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};

use crate::content::Ingest;

/// Bytes per buffer handed from a layer's fetch thread to its unpack thread. The registry client
/// reads 8 KiB per call; gathering 256 KiB first makes one blob write and one decompressor refill
/// out of 32 network reads.
pub(super) const CHUNK: usize = 256 << 10;
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
pub(super) fn pipelined<R, T>(
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
pub(super) struct Chunks {
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

#[cfg(test)]
mod tests {
    use hull_oci::Digest;

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
