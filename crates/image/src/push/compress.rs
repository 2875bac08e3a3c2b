//! Parallel layer compression for push.
//!
//! gzip, pigz-style: the tar is cut into independent [`BLOCK`]-sized blocks; worker threads
//! deflate each one (raw deflate ending in a sync flush, so it ends byte-aligned and the blocks
//! can be concatenated) and CRC it; the calling thread writes them out in order behind one gzip
//! header, then an empty final deflate block and the trailer, whose CRC is the workers' CRCs
//! combined. The result is ONE ordinary gzip member that any gunzip reads. Blocks do not share a
//! dictionary (pigz passes the previous 32 KiB along), which costs about 1% of size.
//!
//! zstd: the zstd library's own multithreaded encoder.
//!
//! Memory stays bounded: at most `2 × threads` blocks wait for a worker and as many for the
//! writer, whatever the layer's size.

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::{Arc, Mutex};

use flate2::{Compress, FlushCompress};

/// Input bytes per independently compressed gzip block.
pub const BLOCK: usize = 1 << 20;
/// gzip level (zlib's default, as gzip and pigz use).
const GZIP_LEVEL: u32 = 6;
/// zstd level (the zstd tool's default).
const ZSTD_LEVEL: i32 = 3;

/// The compression applied to a layer on push.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Gzip,
    Zstd,
}

/// Compresses all of `source` into `sink`, in order, with `threads` workers; returns the number
/// of input bytes.
pub fn compress(
    source: impl Read + Send,
    format: Format,
    threads: usize,
    sink: &mut dyn FnMut(&[u8]) -> io::Result<()>,
) -> io::Result<u64> {
    match format {
        Format::Gzip => gzip(source, threads.max(1), BLOCK, sink),
        Format::Zstd => zstd(source, threads.max(1), sink),
    }
}

/// (sequence number, input block), or the read error that ended the input.
type Block = io::Result<(u64, Vec<u8>)>;
/// (sequence number, deflated bytes, CRC of the input, input length)
type Compressed = io::Result<(u64, Vec<u8>, crc32fast::Hasher, u64)>;

pub(crate) fn gzip(
    source: impl Read + Send,
    threads: usize,
    block: usize,
    sink: &mut dyn FnMut(&[u8]) -> io::Result<()>,
) -> io::Result<u64> {
    // ID1 ID2 CM=deflate FLG=0 MTIME=0 XFL=0 OS=255 (unknown): reproducible output.
    sink(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff])?;
    let (in_tx, in_rx) = sync_channel::<Block>(threads * 2);
    let (out_tx, out_rx) = sync_channel::<Compressed>(threads * 2);
    let in_rx = Arc::new(Mutex::new(in_rx));
    std::thread::scope(|s| {
        s.spawn(move || read_blocks(source, block, &in_tx));
        for _ in 0..threads {
            let (in_rx, out_tx) = (in_rx.clone(), out_tx.clone());
            s.spawn(move || deflate_worker(&in_rx, &out_tx));
        }
        drop(out_tx);
        write_in_order(out_rx, sink)
    })
}

fn read_blocks(mut source: impl Read, block: usize, tx: &std::sync::mpsc::SyncSender<Block>) {
    for seq in 0.. {
        let mut buf = Vec::with_capacity(block);
        match (&mut source).take(block as u64).read_to_end(&mut buf) {
            Ok(0) => return,
            Ok(_) => {
                if tx.send(Ok((seq, buf))).is_err() {
                    return;
                }
            }
            Err(e) => {
                let _ = tx.send(Err(e));
                return;
            }
        }
    }
}

fn deflate_worker(rx: &Mutex<Receiver<Block>>, tx: &std::sync::mpsc::SyncSender<Compressed>) {
    loop {
        let next = rx.lock().unwrap_or_else(|e| e.into_inner()).recv();
        let Ok(next) = next else { return };
        let result = next.and_then(|(seq, input)| {
            let mut crc = crc32fast::Hasher::new();
            crc.update(&input);
            Ok((seq, deflate_block(&input)?, crc, input.len() as u64))
        });
        if tx.send(result).is_err() {
            return;
        }
    }
}

/// Raw deflate of one block, ending in a sync flush (an empty stored block), so the output ends
/// on a byte boundary and the next block's output can follow it directly.
fn deflate_block(input: &[u8]) -> io::Result<Vec<u8>> {
    let mut c = Compress::new(flate2::Compression::new(GZIP_LEVEL), false);
    let mut out = Vec::with_capacity(input.len() / 2 + 1024);
    loop {
        if out.len() == out.capacity() {
            out.reserve(64 << 10);
        }
        let consumed = c.total_in() as usize;
        c.compress_vec(&input[consumed..], &mut out, FlushCompress::Sync)
            .map_err(io::Error::other)?;
        if c.total_in() as usize == input.len() && out.len() < out.capacity() {
            return Ok(out);
        }
    }
}

/// The writer side: puts blocks back in order, then ends the member.
fn write_in_order(
    rx: Receiver<Compressed>,
    sink: &mut dyn FnMut(&[u8]) -> io::Result<()>,
) -> io::Result<u64> {
    let mut pending = BTreeMap::new();
    let mut next = 0u64;
    let mut crc = crc32fast::Hasher::new();
    let mut total = 0u64;
    for result in rx {
        let (seq, bytes, block_crc, len) = result?;
        pending.insert(seq, (bytes, block_crc, len));
        while let Some((bytes, block_crc, len)) = pending.remove(&next) {
            sink(&bytes)?;
            total += len;
            crc.combine(&block_crc);
            next += 1;
        }
    }
    if !pending.is_empty() {
        return Err(io::Error::other("a compression worker stopped early"));
    }
    // A final fixed-Huffman block holding only end-of-block (BFINAL=1, BTYPE=01, EOB), then
    // CRC-32 and ISIZE (length mod 2^32), little-endian.
    let mut trailer = vec![0x03, 0x00];
    trailer.extend_from_slice(&crc.finalize().to_le_bytes());
    trailer.extend_from_slice(&(total as u32).to_le_bytes());
    sink(&trailer)?;
    Ok(total)
}

/// Adapts the sink callback to `Write` for the zstd encoder.
struct SinkWriter<'a>(&'a mut dyn FnMut(&[u8]) -> io::Result<()>);

impl Write for SinkWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (self.0)(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn zstd(
    mut source: impl Read,
    threads: usize,
    sink: &mut dyn FnMut(&[u8]) -> io::Result<()>,
) -> io::Result<u64> {
    let mut encoder = zstd::stream::write::Encoder::new(SinkWriter(sink), ZSTD_LEVEL)?;
    if threads > 1 {
        encoder.multithread(threads as u32)?;
    }
    let total = io::copy(&mut source, &mut encoder)?;
    encoder.finish()?;
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn data(len: usize, seed: u8) -> Vec<u8> {
        // Half compressible runs, half pseudo-random bytes.
        let mut x = u32::from(seed) + 1;
        (0..len)
            .map(|i| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                if (i / 700) % 2 == 0 {
                    b'a' + (i % 7) as u8
                } else {
                    (x >> 16) as u8
                }
            })
            .collect()
    }

    fn run(input: &[u8], format: Format, threads: usize, block: usize) -> Vec<u8> {
        let mut out = Vec::new();
        let mut sink = |b: &[u8]| -> io::Result<()> {
            out.extend_from_slice(b);
            Ok(())
        };
        let n = match format {
            Format::Gzip => gzip(input, threads, block, &mut sink).unwrap(),
            Format::Zstd => zstd(input, threads, &mut sink).unwrap(),
        };
        assert_eq!(n, input.len() as u64);
        out
    }

    fn gunzip_one_member(gz: &[u8]) -> Vec<u8> {
        // GzDecoder (not MultiGzDecoder) reads exactly one member: the output must be one.
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(gz)
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn gzip_round_trips(len in prop_oneof![Just(0usize), Just(1000), Just(999), Just(1001),
                                               Just(3000), 0usize..20_000],
                            threads in 1usize..5, seed in any::<u8>()) {
            let input = data(len, seed);
            let gz = run(&input, Format::Gzip, threads, 1000);
            prop_assert_eq!(gunzip_one_member(&gz), input);
        }

        #[test]
        fn zstd_round_trips(len in prop_oneof![Just(0usize), Just(BLOCK), 0usize..300_000],
                            seed in any::<u8>()) {
            let input = data(len, seed);
            let z = run(&input, Format::Zstd, 2, BLOCK);
            prop_assert_eq!(zstd::decode_all(&z[..]).unwrap(), input);
        }
    }

    #[test]
    fn gzip_is_deterministic_and_one_valid_member_across_real_blocks() {
        let input = data(3 * BLOCK + 17, 9);
        let a = run(&input, Format::Gzip, 3, BLOCK);
        let b = run(&input, Format::Gzip, 1, BLOCK);
        assert_eq!(a, b, "output must not depend on thread timing");
        assert_eq!(gunzip_one_member(&a), input);
        assert!(a.len() < input.len(), "the runs must compress");
    }

    #[test]
    fn read_error_fails_the_stream() {
        struct Broken(usize);
        impl Read for Broken {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                if self.0 == 0 {
                    return Err(io::Error::other("disk on fire"));
                }
                let n = buf.len().min(self.0);
                self.0 -= n;
                Ok(n)
            }
        }
        let mut sink = |_: &[u8]| -> io::Result<()> { Ok(()) };
        let err = gzip(Broken(5000), 2, 1000, &mut sink).unwrap_err();
        assert!(err.to_string().contains("disk on fire"), "{err}");
    }
}
