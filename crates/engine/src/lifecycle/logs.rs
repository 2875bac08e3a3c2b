//! Reading a container's json-file log for `hull logs` and the API's `/containers/{id}/logs`:
//! its rotated files oldest first, then the current one; entries selected by a time window and
//! `tail`; with `follow`, what the container writes next, across rotations, until it stops
//! running. The entries' text goes to two writers (stdout's and stderr's), in logged order.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::events::time as logtime;
use crate::lifecycle::logfile::files_oldest_first;
use crate::lifecycle::logread::{scan, Printer, Selector};
use crate::lifecycle::monitor::log_path;
use crate::run::LogDriver;
use crate::state::Record;
use crate::Engine;

#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("configured logging driver does not support reading")]
    NotReadable,
    #[error("invalid value for {flag} {value:?}: a duration (10s, 2m, 1h), a Unix timestamp or an RFC 3339 time")]
    BadTime { flag: &'static str, value: String },
    #[error("read {}: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    /// A write to the output failed: the reader went away (a closed pipe, a gone client).
    #[error("write the log: {0}")]
    Write(#[source] io::Error),
}

pub use crate::events::time::Window;

impl Window {
    /// Docker's `--since`/`--until` words (a duration back from now, a Unix timestamp or an
    /// RFC 3339 time); `names` are the flags' names as the caller's user knows them.
    pub fn for_logs(
        since: Option<&str>,
        until: Option<&str>,
        names: (&'static str, &'static str),
    ) -> Result<Window, LogError> {
        Window::parse_at(since, until, names, logtime::now())
            .map_err(|(flag, value)| LogError::BadTime { flag, value })
    }

    fn keeps(&self, time: &str) -> bool {
        if self.since.is_none() && self.until.is_none() {
            return true;
        }
        let Some(t) = logtime::rfc3339(time) else {
            return false;
        };
        self.holds(t)
    }
}

/// What to read of a log.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogRequest {
    pub window: Window,
    /// The last this many entries (of the window); None: all.
    pub tail: Option<usize>,
    /// Each entry's time first.
    pub timestamps: bool,
    /// Then what comes next, until the container stops (never with `until`).
    pub follow: bool,
}

/// Opens `path` (`None` when it is gone: rotated past max-file, or no log yet).
fn open_log(path: &Path) -> Result<Option<File>, LogError> {
    match File::open(path) {
        Ok(f) => Ok(Some(f)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(LogError::Read {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// A failed read of the log names it; a failed write passes on as what it is.
fn scan_err(e: io::Error, path: &Path, wrote: bool) -> LogError {
    match wrote {
        true => LogError::Write(e),
        false => LogError::Read {
            path: path.to_path_buf(),
            source: e,
        },
    }
}

impl Engine {
    /// Writes the entries `req` selects of `record`'s log to `out` and `err`. `stop` is asked
    /// while following, between reads: true ends the follow early (the reader went away).
    pub fn read_logs<O: Write, E: Write>(
        &self,
        record: &Record,
        req: &LogRequest,
        out: O,
        err: E,
        stop: &dyn Fn() -> bool,
    ) -> Result<(), LogError> {
        if record.config.log.driver == LogDriver::None {
            return Err(LogError::NotReadable);
        }
        let path = log_path(self, &record.id);
        let mut printer = Printer::new(out, err, req.timestamps);
        let window = req.window;
        let mut selector = Selector::new(|t: &str| window.keeps(t), req.tail);
        // Every file is opened before any is read: a rotation while we read (the monitor renames
        // .1 to .2 and so on) cannot then make us read one file twice or skip one.
        let mut opened = Vec::new();
        for p in files_oldest_first(&path) {
            opened.push((open_log(&p)?, p));
        }
        let (mut current, current_path) = opened.pop().expect("the current file is always listed");
        // Set when a write failed, to tell it from a failed read of the log.
        let wrote = std::cell::Cell::new(false);
        let mut each =
            |l: &[u8], p: &mut Printer<O, E>| selector.line(l, p).inspect_err(|_| wrote.set(true));
        for (file, p) in &mut opened {
            if let Some(f) = file {
                scan(f, 0, |l| each(l, &mut printer)).map_err(|e| scan_err(e, p, wrote.get()))?;
            }
        }
        let offset = match &mut current {
            Some(f) => scan(f, 0, |l| each(l, &mut printer))
                .map_err(|e| scan_err(e, &current_path, wrote.get()))?,
            None => 0,
        };
        selector.finish(&mut printer).map_err(LogError::Write)?;
        if req.follow && window.until.is_none() {
            let held = Followed {
                file: current,
                offset,
            };
            self.follow_log(&record.id, &path, held, &mut printer, window, stop)?;
        }
        Ok(())
    }

    /// Writes what the container writes until it stops running, across rotations.
    fn follow_log<O: Write, E: Write>(
        &self,
        id: &str,
        path: &Path,
        mut followed: Followed,
        printer: &mut Printer<O, E>,
        window: Window,
        stop: &dyn Fn() -> bool,
    ) -> Result<(), LogError> {
        loop {
            // Checked before reading, so the last read sees everything the container wrote.
            let running = self.containers.is_running(id);
            let replaced = followed.replaced(path);
            followed.print_new(printer, window)?;
            if replaced {
                // The rest of the old file was just read; the one after it starts at 0.
                followed = followed.successor(path);
                continue;
            }
            if !running || stop() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// The log file being followed: an open handle survives a rotation that renames it away.
struct Followed {
    file: Option<File>,
    offset: u64,
}

impl Followed {
    #[cfg(test)]
    fn open(path: &Path, offset: u64) -> Followed {
        Followed {
            file: File::open(path).ok(),
            offset,
        }
    }

    /// Prints the entries in the window written since the last call.
    fn print_new<O: Write, E: Write>(
        &mut self,
        printer: &mut Printer<O, E>,
        window: Window,
    ) -> Result<(), LogError> {
        let Some(file) = &mut self.file else {
            return Ok(());
        };
        let mut selector = Selector::new(|t: &str| window.keeps(t), None);
        let mut wrote = false;
        self.offset = scan(file, self.offset, |l| {
            selector.line(l, printer).inspect_err(|_| wrote = true)
        })
        .map_err(|e| scan_err(e, Path::new("the followed log"), wrote))?;
        printer.flush().map_err(LogError::Write)
    }

    /// After the held file was read to its end: the file the monitor wrote after it, at 0.
    /// That is the next one by age, not always `path`: a reader kept off the CPU can see two
    /// rotations at once. The files are opened first and matched by inode, so a rotation
    /// between the listing and the opening cannot make us skip one.
    fn successor(&self, path: &Path) -> Followed {
        use std::os::unix::fs::MetadataExt;
        let ino = |f: &File| f.metadata().map(|m| m.ino()).ok();
        let opened: Vec<File> = files_oldest_first(path)
            .iter()
            .filter_map(|p| File::open(p).ok())
            .collect();
        let held = self.file.as_ref().and_then(ino);
        let at = held.and_then(|h| opened.iter().position(|f| ino(f) == Some(h)));
        let next = match at {
            // Truncated in place: the same file again, from its start.
            Some(i) if i + 1 == opened.len() => Some(i),
            Some(i) => Some(i + 1),
            // The held file is gone (past max-file) or was never there: every file left is
            // newer than it, so the oldest is next.
            None => (!opened.is_empty()).then_some(0),
        };
        Followed {
            file: next.and_then(|i| opened.into_iter().nth(i)),
            offset: 0,
        }
    }

    /// True when `path` is no longer the file held (rotated away, or truncated under it).
    fn replaced(&self, path: &Path) -> bool {
        use std::os::unix::fs::MetadataExt;
        let (Some(file), Ok(now)) = (&self.file, std::fs::metadata(path)) else {
            return self.file.is_none() && path.exists();
        };
        let held = file.metadata().ok();
        held.is_none_or(|h| h.ino() != now.ino() || now.len() < self.offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn a_follower_seeing_two_rotations_at_once_reads_the_file_between() {
        use crate::lifecycle::logfile::rotated;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x-json.log");
        std::fs::write(&p, "first\n").unwrap();
        let held = Followed::open(&p, 6);
        // Two rotations before the follower looks again: first → .2, second → .1, third new.
        std::fs::rename(&p, rotated(&p, 1)).unwrap();
        std::fs::write(&p, "second\n").unwrap();
        std::fs::rename(rotated(&p, 1), rotated(&p, 2)).unwrap();
        std::fs::rename(&p, rotated(&p, 1)).unwrap();
        std::fs::write(&p, "third\n").unwrap();
        assert!(held.replaced(&p));
        let mut next = held.successor(&p);
        let mut text = String::new();
        next.file
            .as_mut()
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, "second\n");
        let mut last = String::new();
        let mut after = next.successor(&p);
        after
            .file
            .as_mut()
            .unwrap()
            .read_to_string(&mut last)
            .unwrap();
        assert_eq!(last, "third\n");
        // The held file deleted (past max-file): the oldest left is next.
        std::fs::remove_file(rotated(&p, 2)).unwrap();
        let gone = Followed::open(&rotated(&p, 1), 0);
        std::fs::remove_file(rotated(&p, 1)).unwrap();
        let mut only = String::new();
        gone.successor(&p)
            .file
            .unwrap()
            .read_to_string(&mut only)
            .unwrap();
        assert_eq!(only, "third\n");
    }

    #[test]
    fn times_outside_the_window_are_dropped() {
        let w = Window::for_logs(
            Some("2026-01-01T00:00:01Z"),
            Some("2026-01-01T00:00:02Z"),
            ("--since", "--until"),
        )
        .unwrap();
        assert!(!w.keeps("2026-01-01T00:00:00.5Z"));
        assert!(w.keeps("2026-01-01T00:00:01.5Z"));
        assert!(!w.keeps("2026-01-01T00:00:02.5Z"));
        let e = Window::for_logs(Some("soon"), None, ("--since", "--until")).unwrap_err();
        assert!(e
            .to_string()
            .starts_with("invalid value for --since \"soon\""));
    }
}
