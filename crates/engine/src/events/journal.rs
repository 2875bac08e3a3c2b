//! The events journal on disk: `<root>/events/events.log`, one JSON line per event, and the
//! file it was rotated from, `events.log.1`.
//!
//! Many processes append at once (CLI commands, monitors, the service). Each append is one
//! `write(2)` of a whole line to a descriptor opened with `O_APPEND`, under a shared flock of
//! `events/lock`; rotation (a rename of the full file to `events.log.1`) takes that lock
//! exclusively, so once a file is rotated nobody writes to it again. A line a writer killed
//! mid-append left without its newline is ended by the next append (which starts with a
//! newline then), so the torn piece stands alone on its line and readers skip it.
//!
//! ```no_run
//! # use hull_engine::events::{Event, Journal, Kind};
//! let journal = Journal::open("/var/lib/hull".as_ref());
//! journal.append(&Event::new(Kind::Volume, "create", "data", Default::default())).unwrap();
//! let mut reader = journal.reader().unwrap();     // from the oldest kept event
//! while let Some(event) = reader.next_event().unwrap() { println!("{}", event.action) }
//! ```

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use super::Event;

/// The journal's size at which it is rotated: the current file and the one before are kept,
/// so between 4 and 8 MiB of events (some 15 000 to 30 000 of them) stay readable.
pub const MAX_BYTES: u64 = 4 << 20;

#[derive(Debug, thiserror::Error)]
#[error("events journal: {op} {path}: {source}")]
pub struct JournalError {
    op: &'static str,
    path: PathBuf,
    source: io::Error,
}

fn jerr<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> JournalError + 'a {
    move |source| JournalError {
        op,
        path: path.to_path_buf(),
        source,
    }
}

/// The journal of one store.
#[derive(Debug, Clone)]
pub struct Journal {
    dir: PathBuf,
    max_bytes: u64,
}

impl Journal {
    /// The journal of the store at `root` (nothing is opened or created yet).
    pub fn open(root: &Path) -> Journal {
        Journal {
            dir: root.join("events"),
            max_bytes: MAX_BYTES,
        }
    }

    /// The same journal, rotated at `max_bytes` (tests rotate small files).
    pub fn with_max_bytes(mut self, max_bytes: u64) -> Journal {
        self.max_bytes = max_bytes;
        self
    }

    fn current(&self) -> PathBuf {
        self.dir.join("events.log")
    }

    fn rotated(&self) -> PathBuf {
        self.dir.join("events.log.1")
    }

    /// The lock file, held shared by appenders and openers, exclusively by rotation.
    fn lock(&self) -> Result<File, JournalError> {
        let path = self.dir.join("lock");
        fs::create_dir_all(&self.dir).map_err(jerr("create directory", &self.dir))?;
        OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&path)
            .map_err(jerr("open", &path))
    }

    /// Appends `event` as one line; rotates the file once it reached the size limit.
    pub fn append(&self, event: &Event) -> Result<(), JournalError> {
        let mut line = serde_json::to_vec(event).expect("events serialize");
        line.push(b'\n');
        let lock = self.lock()?;
        lock.lock_shared().map_err(jerr("lock", &self.dir))?;
        let path = self.current();
        // Readable too: the torn-line check reads the last byte.
        let file = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .mode(0o600)
            .open(&path)
            .map_err(jerr("open", &path))?;
        if ends_torn(&file) {
            line.insert(0, b'\n');
        }
        write_whole(&file, &line).map_err(jerr("append to", &path))?;
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        drop(lock);
        if size >= self.max_bytes {
            self.rotate()?;
        }
        Ok(())
    }

    /// Renames a full current file to `events.log.1` (replacing the older one), under the
    /// exclusive lock; one that another process rotated meanwhile is left alone.
    fn rotate(&self) -> Result<(), JournalError> {
        let lock = self.lock()?;
        lock.lock().map_err(jerr("lock", &self.dir))?;
        let path = self.current();
        let full = fs::metadata(&path).is_ok_and(|m| m.len() >= self.max_bytes);
        if full {
            fs::rename(&path, self.rotated()).map_err(jerr("rotate", &path))?;
        }
        Ok(())
    }

    /// A reader from the oldest event kept (the rotated file, then the current one).
    pub fn reader(&self) -> Result<Reader, JournalError> {
        let lock = self.lock()?;
        lock.lock_shared().map_err(jerr("lock", &self.dir))?;
        let older = open_if_exists(&self.rotated())?;
        let current = open_if_exists(&self.current())?;
        Ok(Reader {
            journal: self.clone(),
            done: None,
            older,
            current,
            partial: Vec::new(),
            lines: Vec::new(),
            pos: 0,
        })
    }

    /// A reader of only what is appended from now on.
    pub fn tail_reader(&self) -> Result<Reader, JournalError> {
        let mut r = self.reader()?;
        r.done = r.older.take().map(|o| o.ino);
        if let Some(f) = &mut r.current {
            f.file
                .seek(SeekFrom::End(0))
                .map_err(jerr("seek", &self.current()))?;
        }
        Ok(r)
    }
}

/// Whether the file's last byte is not a newline (a writer died mid-line), read with one
/// `pread`. A concurrent append in flight can make this true spuriously; the cost is an empty
/// line, which readers skip.
fn ends_torn(file: &File) -> bool {
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let mut last = [0u8; 1];
    len > 0 && file.read_exact_at(&mut last, len - 1).is_ok() && last[0] != b'\n'
}

/// One `write(2)` for the whole line, as long as the kernel takes it whole (a regular file
/// does); a short write finishes with more.
fn write_whole(mut file: &File, bytes: &[u8]) -> io::Result<()> {
    io::Write::write_all(&mut file, bytes)
}

/// An open journal file, its inode and the path it was opened at (for errors).
struct Opened {
    file: File,
    ino: u64,
    path: PathBuf,
}

impl Opened {
    /// See [`read_more`].
    fn read_more(
        &mut self,
        partial: &mut Vec<u8>,
        lines: &mut Vec<Vec<u8>>,
    ) -> Result<bool, JournalError> {
        read_more(&mut self.file, partial, lines).map_err(jerr("read", &self.path))
    }
}

fn open_if_exists(path: &Path) -> Result<Option<Opened>, JournalError> {
    match File::open(path) {
        Ok(file) => {
            let ino = file.metadata().map_err(jerr("stat", path))?.ino();
            Ok(Some(Opened {
                file,
                ino,
                path: path.to_path_buf(),
            }))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(jerr("open", path)(e)),
    }
}

/// Reads the journal in order and follows it across rotations: [`Reader::next_event`] returns
/// None when it has caught up, and later calls return what was appended since.
pub struct Reader {
    journal: Journal,
    /// The inode of a rotated file already read (or, for a tail reader, not wanted).
    done: Option<u64>,
    /// The rotated file, read first.
    older: Option<Opened>,
    current: Option<Opened>,
    /// Bytes after the last newline read: a line still being written.
    partial: Vec<u8>,
    /// Complete lines read and not yet returned.
    lines: Vec<Vec<u8>>,
    pos: usize,
}

impl Reader {
    /// The next complete event, or None when there is none yet. Lines that do not parse (a
    /// torn line, an empty one) are skipped.
    pub fn next_event(&mut self) -> Result<Option<Event>, JournalError> {
        loop {
            while self.pos < self.lines.len() {
                let line = std::mem::take(&mut self.lines[self.pos]);
                self.pos += 1;
                if let Ok(event) = serde_json::from_slice::<Event>(&line) {
                    return Ok(Some(event));
                }
            }
            self.lines.clear();
            self.pos = 0;
            if !self.fill()? {
                return Ok(None);
            }
        }
    }

    /// Reads more lines: the rotated file to its end first, then the current one; at the
    /// current file's end, checks whether it was rotated away. False when nothing is new.
    fn fill(&mut self) -> Result<bool, JournalError> {
        if let Some(older) = &mut self.older {
            let got = older.read_more(&mut self.partial, &mut self.lines)?;
            if got {
                return Ok(true);
            }
            // A rotated file gets no more appends: whatever is unterminated was torn.
            self.partial.clear();
            self.done = self.older.take().map(|o| o.ino);
        }
        if let Some(cur) = &mut self.current {
            if cur.read_more(&mut self.partial, &mut self.lines)? {
                return Ok(true);
            }
        }
        self.follow_rotation()
    }

    /// When the file held is not the one at `events.log` any more (or none is there), the one
    /// held is finished (drained by `fill` as `older`), and the new pair is opened. True when
    /// that happened.
    fn follow_rotation(&mut self) -> Result<bool, JournalError> {
        let path = self.journal.current();
        let now_ino = match fs::metadata(&path) {
            Ok(m) => Some(m.ino()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(jerr("stat", &path)(e)),
        };
        if self.current.as_ref().map(|c| c.ino) == now_ino {
            return Ok(false);
        }
        let fresh = self.journal.reader()?;
        let held = self.current.take();
        let unread = fresh.older.filter(|o| Some(o.ino) != self.done);
        // The file that was rotated after ours (two rotations since the last look) is read
        // whole; ours, if it is now `events.log.1`, is drained from where we were.
        self.older = match (held, unread) {
            (Some(mut h), Some(o)) if h.ino != o.ino => {
                while h.read_more(&mut self.partial, &mut self.lines)? {}
                // Nobody appends to a rotated file: an unterminated end was torn.
                self.partial.clear();
                Some(o)
            }
            (Some(h), _) => Some(h),
            (None, o) => o,
        };
        self.current = fresh.current;
        Ok(self.older.is_some() || self.current.is_some())
    }
}

/// Appends the complete lines that follow in `file` to `lines`, keeping an unterminated tail in
/// `partial`. False at the end of the file.
fn read_more(file: &mut File, partial: &mut Vec<u8>, lines: &mut Vec<Vec<u8>>) -> io::Result<bool> {
    let mut buf = vec![0u8; 64 << 10];
    let n = file.read(&mut buf)?;
    if n == 0 {
        return Ok(false);
    }
    partial.extend_from_slice(&buf[..n]);
    if let Some(end) = memchr::memrchr(b'\n', partial) {
        let rest = partial.split_off(end + 1);
        let done = std::mem::replace(partial, rest);
        lines.extend(
            done.split(|b| *b == b'\n')
                .filter(|l| !l.is_empty())
                .map(<[u8]>::to_vec),
        );
    }
    Ok(true)
}
