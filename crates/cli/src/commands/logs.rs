//! `hull logs`: prints a container's json-file log (its rotated files oldest first, then the
//! current one), stdout lines to stdout and stderr lines to stderr; `--since`/`--until` select
//! by time; `-f` follows it, across rotations, until the container stops running.

use std::fs::File;
use std::io;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use hull_engine::lifecycle::logfile::files_oldest_first;
use hull_engine::lifecycle::monitor::log_path;
use hull_engine::run::LogDriver;
use hull_engine::Engine;

use super::logread::{scan, Printer, Selector};
use super::{logtime, Ctx};
use crate::cli::LogsArgs;

/// `--tail`: "all" (None), or a number of lines from the end.
fn parse_tail(tail: &str) -> Result<Option<usize>> {
    if tail == "all" {
        return Ok(None);
    }
    let n = tail
        .parse()
        .with_context(|| format!("invalid --tail {tail:?}: a number or \"all\""))?;
    Ok(Some(n))
}

type StdPrinter = Printer<std::io::StdoutLock<'static>, std::io::Stderr>;

/// The complete lines of the log at `path` from `offset` on through `each`; the offset after
/// the last of them (a missing file has none).
/// Opens `path` (`None` when it is gone: rotated past max-file, or no log yet).
fn open_log(path: &Path) -> Result<Option<File>> {
    match File::open(path) {
        Ok(f) => Ok(Some(f)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("open {}", path.display())),
    }
}

/// A failed write to stdout or stderr is passed on as it is (a closed pipe ends `logs`
/// quietly); anything else names the log.
fn read_err(e: io::Error, path: &Path) -> anyhow::Error {
    match e.kind() {
        io::ErrorKind::BrokenPipe => e.into(),
        _ => anyhow::Error::new(e).context(format!("read {}", path.display())),
    }
}

/// `--since`/`--until` as a window of nanoseconds since the epoch.
#[derive(Debug, Clone, Copy)]
struct Window {
    since: Option<i128>,
    until: Option<i128>,
}

impl Window {
    fn parse(since: Option<&str>, until: Option<&str>) -> Result<Window> {
        let now = logtime::now();
        let one = |flag: &str, v: Option<&str>| -> Result<Option<i128>> {
            v.map(|v| {
                logtime::parse(v, now).with_context(|| {
                    format!("invalid value for --{flag} {v:?}: a duration (10s, 2m, 1h), a Unix timestamp or an RFC 3339 time")
                })
            })
            .transpose()
        };
        Ok(Window {
            since: one("since", since)?,
            until: one("until", until)?,
        })
    }

    fn keeps(&self, time: &str) -> bool {
        if self.since.is_none() && self.until.is_none() {
            return true;
        }
        let Some(t) = logtime::rfc3339(time) else {
            return false;
        };
        self.since.is_none_or(|s| t >= s) && self.until.is_none_or(|u| t <= u)
    }
}

pub fn logs(ctx: &Ctx, args: LogsArgs) -> Result<u8> {
    match print_logs(ctx, args) {
        Err(e) if is_broken_pipe(&e) => Ok(0),
        other => other,
    }
}

/// `hull logs … | head`: the reader went away, which ends `logs` without an error.
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.downcast_ref::<io::Error>()
        .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
}

fn print_logs(ctx: &Ctx, args: LogsArgs) -> Result<u8> {
    let engine = Engine::open(&ctx.root).context("open hull store")?;
    let record = engine.containers.resolve(&args.container)?;
    if record.config.log.driver == LogDriver::None {
        anyhow::bail!("configured logging driver does not support reading");
    }
    let window = Window::parse(args.since.as_deref(), args.until.as_deref())?;
    let tail = parse_tail(&args.tail)?;
    let path = log_path(&engine, &record.id);
    let mut printer = Printer::new(io::stdout().lock(), io::stderr(), args.timestamps);
    let mut selector = Selector::new(|t: &str| window.keeps(t), tail);
    // Every file is opened before any is read: a rotation while we read (the monitor renames
    // .1 to .2 and so on) cannot then make us read one file twice or skip one.
    let mut opened = Vec::new();
    for p in files_oldest_first(&path) {
        opened.push((open_log(&p)?, p));
    }
    let (mut current, current_path) = opened.pop().expect("the current file is always listed");
    for (file, p) in &mut opened {
        if let Some(f) = file {
            scan(f, 0, |l| selector.line(l, &mut printer)).map_err(|e| read_err(e, p))?;
        }
    }
    let offset = match &mut current {
        Some(f) => scan(f, 0, |l| selector.line(l, &mut printer))
            .map_err(|e| read_err(e, &current_path))?,
        None => 0,
    };
    selector.finish(&mut printer)?;
    if args.follow && args.until.is_none() {
        let held = Followed {
            file: current,
            offset,
        };
        follow(&engine, &record.id, &path, held, &mut printer, window)?;
    }
    Ok(0)
}

/// The log file being followed: an open handle survives a rotation that renames it away.
struct Followed {
    file: Option<std::fs::File>,
    offset: u64,
}

impl Followed {
    #[cfg(test)]
    fn open(path: &Path, offset: u64) -> Followed {
        Followed {
            file: std::fs::File::open(path).ok(),
            offset,
        }
    }

    /// Prints the entries in the window written since the last call.
    fn print_new(&mut self, printer: &mut StdPrinter, window: Window) -> Result<()> {
        let Some(file) = &mut self.file else {
            return Ok(());
        };
        let mut selector = Selector::new(|t: &str| window.keeps(t), None);
        self.offset = scan(file, self.offset, |l| selector.line(l, printer))
            .map_err(|e| read_err(e, Path::new("the followed log")))?;
        printer.flush()?;
        Ok(())
    }

    /// After the held file was read to its end: the file the monitor wrote after it, at 0.
    /// That is the next one by age, not always `path`: a reader kept off the CPU can see two
    /// rotations at once. The files are opened first and matched by inode, so a rotation
    /// between the listing and the opening cannot make us skip one.
    fn successor(&self, path: &Path) -> Followed {
        use std::os::unix::fs::MetadataExt;
        let ino = |f: &std::fs::File| f.metadata().map(|m| m.ino()).ok();
        let opened: Vec<std::fs::File> = files_oldest_first(path)
            .iter()
            .filter_map(|p| std::fs::File::open(p).ok())
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

/// Prints what the container writes until it stops running, across rotations.
fn follow(
    engine: &Engine,
    id: &str,
    path: &Path,
    mut followed: Followed,
    printer: &mut StdPrinter,
    window: Window,
) -> Result<()> {
    loop {
        // Checked before reading, so the last read sees everything the container wrote.
        let running = engine.containers.is_running(id);
        let replaced = followed.replaced(path);
        followed.print_new(printer, window)?;
        if replaced {
            // The rest of the old file was just read; the one after it starts at 0.
            followed = followed.successor(path);
            continue;
        }
        if !running {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn a_follower_seeing_two_rotations_at_once_reads_the_file_between() {
        use hull_engine::lifecycle::logfile::rotated;
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
    fn tail_is_all_or_a_count() {
        assert_eq!(parse_tail("all").unwrap(), None);
        assert_eq!(parse_tail("3").unwrap(), Some(3));
        let err = parse_tail("three").unwrap_err().to_string();
        assert_eq!(err, "invalid --tail \"three\": a number or \"all\"");
    }
}
