//! The rotating json-file log the monitor writes, by the options in
//! [`crate::run::logconfig::LogConfig`].

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::lifecycle::logwriter::BackgroundWriter;
use crate::run::logconfig::{LogConfig, LogDriver};

/// The `n`th rotated file of the log at `path`: `<path>.<n>`, 1 the newest.
pub fn rotated(path: &Path, n: u32) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(format!(".{n}"));
    PathBuf::from(p)
}

/// Every file of the log, oldest first: the rotated ones that exist, then `path` itself.
pub fn files_oldest_first(path: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = (1..)
        .map(|n| rotated(path, n))
        .take_while(|p| p.exists())
        .collect();
    files.reverse();
    files.push(path.to_path_buf());
    files
}

/// The log as the monitor writes it: whole entries appended, rotated by size. Entries gather
/// in a buffer that [`LogFile::flush`] writes with one `write(2)`; the monitor flushes after
/// each read of the container's output, so a monitor killed at any point loses at most what
/// it read last (during a large burst, with the writer thread, the last two buffers), and a
/// torn last line is left for readers to skip.
#[derive(Debug)]
pub struct LogFile {
    path: PathBuf,
    /// None with the `none` driver: entries are dropped.
    file: Option<File>,
    /// Bytes in the file, those buffered included.
    size: u64,
    /// Bytes of entries appended since the log was opened (rotations do not reset it).
    appended: u64,
    config: LogConfig,
    buf: Vec<u8>,
    /// During a large burst: the thread that writes full buffers ([`LogFile::background`]).
    writer: Option<BackgroundWriter>,
}

/// The buffer is written once it holds this much (and at every flush).
const FLUSH_AT: usize = 64 * 1024;
/// With the writer thread: larger buffers, fewer hand-overs between the threads.
const BACKGROUND_FLUSH_AT: usize = 256 * 1024;

fn open_append(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .read(true)
        .open(path)
}

/// Ends a log whose last line a killed monitor left torn, so that the next entry starts a line
/// of its own (the torn one stays unreadable alone, instead of spoiling the next).
fn terminate_torn_line(file: &mut File, size: u64) -> io::Result<u64> {
    use std::os::unix::fs::FileExt;
    let mut last = [0u8; 1];
    if size == 0 || (file.read_at(&mut last, size - 1)? == 1 && last[0] == b'\n') {
        return Ok(size);
    }
    file.write_all(b"\n")?;
    Ok(size + 1)
}

impl LogFile {
    pub fn open(path: &Path, config: &LogConfig) -> io::Result<LogFile> {
        let mut file = match config.driver {
            LogDriver::JsonFile => Some(open_append(path)?),
            LogDriver::None => None,
        };
        let size = match &mut file {
            Some(f) => {
                let len = f.metadata()?.len();
                terminate_torn_line(f, len)?
            }
            None => 0,
        };
        Ok(LogFile {
            path: path.to_path_buf(),
            file,
            size,
            appended: 0,
            config: config.clone(),
            buf: Vec::new(),
            writer: None,
        })
    }

    /// Bytes of entries appended since the log was opened.
    pub fn appended(&self) -> u64 {
        self.appended
    }

    /// [`LogFile::background`] or [`LogFile::foreground`].
    pub fn set_background(&mut self, on: bool) -> io::Result<()> {
        match (on, self.writer.is_some()) {
            (true, false) => self.background(),
            (false, true) => self.foreground(),
            _ => Ok(()),
        }
    }

    /// Hands full buffers to a writer thread from now on, until [`LogFile::foreground`] (or the
    /// end of the burst, [`LogFile::flush_and_release`]). For a large burst of output.
    pub fn background(&mut self) -> io::Result<()> {
        if let (Some(file), None) = (&self.file, &self.writer) {
            self.writer = Some(BackgroundWriter::start(file)?);
        }
        Ok(())
    }

    /// Writes what is buffered and ends the writer thread, if one runs: afterwards the monitor
    /// is single-threaded again (it may fork) and everything read is in the file.
    pub fn foreground(&mut self) -> io::Result<()> {
        let flushed = self.flush();
        let finished = self.writer.take().map_or(Ok(()), BackgroundWriter::finish);
        flushed.and(finished)
    }

    fn flush_at(&self) -> usize {
        if self.writer.is_some() {
            BACKGROUND_FLUSH_AT
        } else {
            FLUSH_AT
        }
    }

    /// True with the `none` driver: nothing is kept, so callers need not encode entries.
    pub fn discards(&self) -> bool {
        self.file.is_none()
    }

    /// Appends one entry (a whole line). Rotates first when the file already reached
    /// max-size, so a file exceeds it by at most one entry, as Docker's do.
    pub fn write_entry(&mut self, entry: &[u8]) -> io::Result<()> {
        self.append_with(|buf| buf.extend_from_slice(entry))
    }

    /// Appends the entry `encode` writes into the buffer (as [`LogFile::write_entry`]).
    pub fn append_with(&mut self, encode: impl FnOnce(&mut Vec<u8>)) -> io::Result<()> {
        self.append_batch(|buf, _| encode(buf)).map(|_| ())
    }

    /// Appends the entries `encode` writes into the buffer, given the room left before the
    /// buffer is flushed or the file reaches max-size: past it, only the entry that crossed it
    /// may follow, so a file still exceeds max-size by at most one entry. Returns what `encode`
    /// does (its default when nothing is kept).
    pub fn append_batch<T: Default>(
        &mut self,
        encode: impl FnOnce(&mut Vec<u8>, usize) -> T,
    ) -> io::Result<T> {
        if self.file.is_none() {
            return Ok(T::default());
        }
        if self.config.max_size.is_some_and(|max| self.size >= max) {
            self.rotate()?;
        }
        let flush_at = self.flush_at();
        if self.buf.capacity() == 0 {
            self.buf.reserve(flush_at + flush_at / 2);
        }
        let before = self.buf.len();
        let to_max = self
            .config
            .max_size
            .map_or(u64::MAX, |max| max.saturating_sub(self.size));
        let to_flush = flush_at.saturating_sub(before);
        let room = to_flush.min(usize::try_from(to_max).unwrap_or(usize::MAX));
        let encoded = encode(&mut self.buf, room.max(1));
        let added = (self.buf.len() - before) as u64;
        self.size += added;
        self.appended += added;
        if self.buf.len() >= flush_at {
            self.flush()?;
        }
        Ok(encoded)
    }

    /// Writes the buffered entries to the file, or hands them to the writer thread.
    pub fn flush(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        if let Some(writer) = &mut self.writer {
            let full = std::mem::take(&mut self.buf);
            return match writer.write(full, BACKGROUND_FLUSH_AT + BACKGROUND_FLUSH_AT / 2) {
                Ok(empty) => {
                    self.buf = empty;
                    Ok(())
                }
                // The thread failed and ended: its error says why.
                Err(_) => self.foreground(),
            };
        }
        if let Some(file) = &mut self.file {
            let written = file.write_all(&self.buf);
            self.buf.clear();
            written?;
        }
        Ok(())
    }

    /// Writes the buffered entries, ends the writer thread and frees the buffer's memory: the
    /// monitor idles far longer than it writes, and its resident size should not keep a
    /// burst's buffer.
    pub fn flush_and_release(&mut self) -> io::Result<()> {
        let flushed = self.foreground();
        self.buf = Vec::new();
        flushed
    }

    /// Starts the next file once this one reached max-size: everything buffered is written
    /// first, and a writer thread (which holds the old file) is started afresh on the new one.
    fn rotate(&mut self) -> io::Result<()> {
        let background = self.writer.is_some();
        self.foreground()?;
        self.rotate_files()?;
        if background {
            self.background()?;
        }
        Ok(())
    }

    fn rotate_files(&mut self) -> io::Result<()> {
        if self.config.max_file < 2 {
            self.file.as_ref().expect("json-file").set_len(0)?;
            self.size = 0;
            return Ok(());
        }
        for n in (1..self.config.max_file - 1).rev() {
            match fs::rename(rotated(&self.path, n), rotated(&self.path, n + 1)) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        fs::rename(&self.path, rotated(&self.path, 1))?;
        self.file = Some(open_append(&self.path)?);
        self.size = 0;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_lines(log: &mut LogFile, n: usize) {
        for i in 0..n {
            log.write_entry(format!("line {i:04}\n").as_bytes())
                .unwrap();
        }
        log.flush().unwrap();
    }

    #[test]
    fn rotation_keeps_max_file_files_newest_last() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x-json.log");
        let config = LogConfig::parse(None, &["max-size=20".into(), "max-file=3".into()]).unwrap();
        let mut log = LogFile::open(&path, &config).unwrap();
        write_lines(&mut log, 10); // 10 bytes each: two per file
        let files = files_oldest_first(&path);
        assert_eq!(files.len(), 3, "{files:?}");
        let text: String = files
            .iter()
            .map(|f| fs::read_to_string(f).unwrap())
            .collect();
        assert_eq!(
            text,
            "line 0004\nline 0005\nline 0006\nline 0007\nline 0008\nline 0009\n"
        );
        assert!(!rotated(&path, 3).exists());
    }

    #[test]
    fn one_file_truncates_and_none_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x-json.log");
        let config = LogConfig::parse(None, &["max-size=20".into()]).unwrap();
        let mut log = LogFile::open(&path, &config).unwrap();
        write_lines(&mut log, 5);
        assert_eq!(fs::read_to_string(&path).unwrap(), "line 0004\n");
        assert_eq!(files_oldest_first(&path).len(), 1);
        let none = dir.path().join("none.log");
        let mut log = LogFile::open(&none, &LogConfig::parse(Some("none"), &[]).unwrap()).unwrap();
        write_lines(&mut log, 1);
        assert!(!none.exists());
    }

    #[test]
    fn with_the_writer_thread_every_entry_lands_in_order_across_rotations() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x-json.log");
        let config =
            LogConfig::parse(None, &["max-size=100k".into(), "max-file=100".into()]).unwrap();
        let mut log = LogFile::open(&path, &config).unwrap();
        write_lines(&mut log, 100);
        log.background().unwrap();
        let mut want: String = (0..100).map(|i| format!("line {i:04}\n")).collect();
        for i in 100..60_000 {
            let entry = format!("entry number {i:06}\n");
            log.write_entry(entry.as_bytes()).unwrap();
            want.push_str(&entry);
        }
        log.flush().unwrap();
        assert!(log.writer.is_some(), "the thread runs until the burst ends");
        log.flush_and_release().unwrap();
        assert!(log.writer.is_none());
        let files = files_oldest_first(&path);
        assert!(files.len() > 10, "rotated into {} files", files.len());
        let text: String = files
            .iter()
            .map(|f| fs::read_to_string(f).unwrap())
            .collect();
        assert!(
            text == want,
            "{} bytes read, {} written",
            text.len(),
            want.len()
        );
        // After the burst, entries are written at each flush again.
        log.write_entry(b"after\n").unwrap();
        log.flush().unwrap();
        assert!(fs::read_to_string(&path).unwrap().ends_with("after\n"));
    }

    #[test]
    fn a_torn_last_line_is_ended_before_new_entries() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x-json.log");
        fs::write(&path, "whole\n{\"log\":\"to").unwrap();
        let config = LogConfig::parse(None, &[]).unwrap();
        let mut log = LogFile::open(&path, &config).unwrap();
        log.write_entry(b"next\n").unwrap();
        log.flush().unwrap();
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            "whole\n{\"log\":\"to\nnext\n"
        );
        // A whole log is left as it is.
        drop(LogFile::open(&path, &config).unwrap());
        assert_eq!(fs::read(&path).unwrap().len(), 22);
    }
}
