//! The fast path of `hull logs`: a log file is read in large chunks and its lines decoded
//! in place ([`crate::lifecycle::jsonlog::decode_entry`]), and the entries' text goes out
//! in large writes, stdout's and stderr's in the order they were logged.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};

use crate::lifecycle::jsonlog::decode_entry;

/// How much one read of the log takes.
const CHUNK: usize = 1 << 20;
/// Output is written once this much is buffered, or when the stream changes.
const WRITE_AT: usize = 64 * 1024;

/// Calls `each` with every complete line (without its `\n`) of `file` from `offset` on; the
/// offset after the last of them. A torn last line is left for a later call.
pub fn scan(
    file: &mut File,
    offset: u64,
    mut each: impl FnMut(&[u8]) -> io::Result<()>,
) -> io::Result<u64> {
    file.seek(SeekFrom::Start(offset))?;
    let mut buf = vec![0u8; CHUNK];
    let (mut filled, mut done) = (0, offset);
    loop {
        if filled == buf.len() {
            // One line longer than the buffer: room for the rest of it.
            buf.resize(buf.len() * 2, 0);
        }
        let n = match file.read(&mut buf[filled..]) {
            Ok(0) => return Ok(done),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let start = filled;
        filled += n;
        let Some(last) = memchr::memrchr(b'\n', &buf[start..filled]) else {
            continue;
        };
        let complete = start + last + 1;
        let mut from = 0;
        for end in memchr::memchr_iter(b'\n', &buf[..complete]) {
            each(&buf[from..end])?;
            from = end + 1;
        }
        buf.copy_within(complete..filled, 0);
        filled -= complete;
        done += complete as u64;
    }
}

/// Entries' text on its way out: buffered, and flushed whenever the next entry is of the other
/// stream, so that stdout and stderr keep their order when they go to one place.
pub struct Printer<O: Write, E: Write> {
    out: O,
    err: E,
    buf: Vec<u8>,
    buf_is_stderr: bool,
    timestamps: bool,
}

impl<O: Write, E: Write> Printer<O, E> {
    pub fn new(out: O, err: E, timestamps: bool) -> Printer<O, E> {
        Printer {
            out,
            err,
            buf: Vec::with_capacity(WRITE_AT * 2),
            buf_is_stderr: false,
            timestamps,
        }
    }

    /// One entry: its time first with `-t`, then its text as logged.
    pub fn entry(&mut self, stderr: bool, time: &str, text: &[u8]) -> io::Result<()> {
        if stderr != self.buf_is_stderr {
            self.flush()?;
            self.buf_is_stderr = stderr;
        }
        if self.timestamps {
            self.buf.extend_from_slice(time.as_bytes());
            self.buf.push(b' ');
        }
        self.buf.extend_from_slice(text);
        if self.buf.len() >= WRITE_AT {
            self.flush()?;
        }
        Ok(())
    }

    pub fn flush(&mut self) -> io::Result<()> {
        let to: &mut dyn Write = match self.buf_is_stderr {
            true => &mut self.err,
            false => &mut self.out,
        };
        to.write_all(&self.buf)?;
        self.buf.clear();
        to.flush()
    }
}

/// The entries `logs` prints: those in the time window (`keep`), all or the last `tail`.
pub struct Selector<K: Fn(&str) -> bool> {
    keep: K,
    tail: Option<usize>,
    /// With `--tail N`: the last N entries kept, as (stderr, time, text).
    last: VecDeque<(bool, String, Vec<u8>)>,
    text: Vec<u8>,
}

impl<K: Fn(&str) -> bool> Selector<K> {
    pub fn new(keep: K, tail: Option<usize>) -> Selector<K> {
        Selector {
            keep,
            tail,
            last: VecDeque::new(),
            text: Vec::new(),
        }
    }

    /// One line of the log: printed now, kept for the tail, or skipped (outside the window,
    /// or not an entry: a torn line).
    pub fn line<O: Write, E: Write>(
        &mut self,
        line: &[u8],
        printer: &mut Printer<O, E>,
    ) -> io::Result<()> {
        self.text.clear();
        let Some(meta) = decode_entry(line, &mut self.text) else {
            return Ok(());
        };
        if !(self.keep)(&meta.time) {
            return Ok(());
        }
        match self.tail {
            None => printer.entry(meta.stderr, &meta.time, &self.text),
            Some(0) => Ok(()),
            Some(n) => {
                if self.last.len() == n {
                    self.last.pop_front();
                }
                let text = std::mem::take(&mut self.text);
                self.last
                    .push_back((meta.stderr, meta.time.into_owned(), text));
                Ok(())
            }
        }
    }

    /// Prints the entries kept for `--tail`.
    pub fn finish<O: Write, E: Write>(&mut self, printer: &mut Printer<O, E>) -> io::Result<()> {
        for (stderr, time, text) in self.last.drain(..) {
            printer.entry(stderr, &time, &text)?;
        }
        printer.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lifecycle::jsonlog::encode_entry;

    fn log_of(entries: &[(&[u8], &str)]) -> Vec<u8> {
        let mut v = Vec::new();
        for (i, (text, stream)) in entries.iter().enumerate() {
            encode_entry(
                &mut v,
                text,
                stream,
                &format!("2026-01-01T00:00:0{i}.000000000Z"),
            );
        }
        v
    }

    /// Everything `logs` would print, as (stdout, stderr, both in write order).
    fn print(log: &[u8], tail: Option<usize>, ts: bool) -> (Vec<u8>, Vec<u8>) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x-json.log");
        std::fs::write(&p, log).unwrap();
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let mut printer = Printer::new(&mut out, &mut err, ts);
        let mut sel = Selector::new(|t: &str| t != "2026-01-01T00:00:09.000000000Z", tail);
        let mut f = File::open(&p).unwrap();
        let end = scan(&mut f, 0, |l| sel.line(l, &mut printer)).unwrap();
        sel.finish(&mut printer).unwrap();
        assert_eq!(
            end,
            log.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1) as u64
        );
        (out, err)
    }

    #[test]
    fn streams_tail_timestamps_and_a_torn_last_line() {
        let mut log = log_of(&[(b"a\n", "stdout"), (b"b\n", "stderr"), (b"c", "stdout")]);
        log.extend_from_slice(b"{\"log\":\"torn");
        let (out, err) = print(&log, None, false);
        assert_eq!((&out[..], &err[..]), (&b"a\nc"[..], &b"b\n"[..]));
        let (out, err) = print(&log, Some(1), true);
        assert_eq!(out, b"2026-01-01T00:00:02.000000000Z c");
        assert!(err.is_empty());
        assert_eq!(print(&log, Some(0), false), (Vec::new(), Vec::new()));
    }

    #[test]
    fn the_order_across_streams_is_kept_when_both_go_to_one_place() {
        let log = log_of(&[(b"1\n", "stdout"), (b"2\n", "stderr"), (b"3\n", "stdout")]);
        let both = std::cell::RefCell::new(Vec::new());
        struct Shared<'a>(&'a std::cell::RefCell<Vec<u8>>);
        impl Write for Shared<'_> {
            fn write(&mut self, b: &[u8]) -> io::Result<usize> {
                self.0.borrow_mut().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let mut printer = Printer::new(Shared(&both), Shared(&both), false);
        let mut sel = Selector::new(|_: &str| true, None);
        for line in log.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            sel.line(line, &mut printer).unwrap();
        }
        sel.finish(&mut printer).unwrap();
        assert_eq!(both.into_inner(), b"1\n2\n3\n");
    }

    #[test]
    fn lines_across_chunk_boundaries_and_longer_than_a_chunk() {
        let mut entries: Vec<(Vec<u8>, &str)> = Vec::new();
        for i in 0..30_000 {
            entries.push((format!("line {i}\n").into_bytes(), "stdout"));
        }
        entries.insert(1234, (vec![b'x'; CHUNK * 2], "stderr"));
        let refs: Vec<(&[u8], &str)> = entries.iter().map(|(t, s)| (&t[..], *s)).collect();
        let (out, err) = print(&log_of(&refs), None, false);
        // The 10th entry's time is outside the window `print` selects.
        let want: Vec<u8> = entries
            .iter()
            .enumerate()
            .filter(|&(i, (_, s))| *s == "stdout" && i != 9)
            .map(|(_, e)| e)
            .flat_map(|(t, _)| t.clone())
            .collect();
        assert!(
            out == want,
            "{} bytes printed, {} logged",
            out.len(),
            want.len()
        );
        assert_eq!(err.len(), CHUNK * 2);
    }
}
