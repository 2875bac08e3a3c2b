//! `hull logs`: prints a container's json-file log, stdout lines to stdout and stderr lines to
//! stderr; `-f` follows it until the container stops running.

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use hull_engine::monitor::{log_path, LogLine};
use hull_engine::Engine;

use super::Ctx;
use crate::cli::LogsArgs;

/// The complete lines of the log from `offset` on, and the offset after the last of them.
fn read_from(path: &Path, offset: u64) -> Result<(Vec<LogLine>, u64)> {
    let mut file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), offset)),
        Err(e) => return Err(e).with_context(|| format!("open {}", path.display())),
    };
    file.seek(SeekFrom::Start(offset))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)
        .with_context(|| format!("read {}", path.display()))?;
    let complete = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let lines = bytes[..complete]
        .split(|&b| b == b'\n')
        .filter_map(|l| serde_json::from_slice(l).ok())
        .collect();
    Ok((lines, offset + complete as u64))
}

fn print(lines: &[LogLine], timestamps: bool) {
    let (mut out, mut err) = (std::io::stdout().lock(), std::io::stderr().lock());
    for l in lines {
        let to: &mut dyn Write = if l.stream == "stderr" {
            &mut err
        } else {
            &mut out
        };
        let _ = match timestamps {
            true => write!(to, "{} {}", l.time, l.log),
            false => write!(to, "{}", l.log),
        };
    }
    let _ = out.flush();
}

/// `--tail`: "all", or a number of lines from the end.
fn tail(lines: Vec<LogLine>, tail: &str) -> Result<Vec<LogLine>> {
    if tail == "all" {
        return Ok(lines);
    }
    let n: usize = tail
        .parse()
        .with_context(|| format!("invalid --tail {tail:?}: a number or \"all\""))?;
    Ok(lines[lines.len().saturating_sub(n)..].to_vec())
}

pub fn logs(ctx: &Ctx, args: LogsArgs) -> Result<u8> {
    let engine = Engine::open(&ctx.root).context("open hull store")?;
    let record = engine.containers.resolve(&args.container)?;
    let path = log_path(&engine, &record.id);
    let (lines, offset) = read_from(&path, 0)?;
    print(&tail(lines, &args.tail)?, args.timestamps);
    if args.follow {
        follow(&engine, &record.id, &path, offset, args.timestamps)?;
    }
    Ok(0)
}

/// Prints what the container writes until it stops running.
fn follow(engine: &Engine, id: &str, path: &Path, mut offset: u64, timestamps: bool) -> Result<()> {
    loop {
        // Checked before reading, so the last read sees everything the container wrote.
        let running = engine.containers.is_running(id);
        let (lines, next) = read_from(path, offset)?;
        print(&lines, timestamps);
        offset = next;
        if !running {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_complete_lines_and_tails() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x-json.log");
        std::fs::write(
            &p,
            "{\"log\":\"a\\n\",\"stream\":\"stdout\",\"time\":\"t1\"}\n\
             {\"log\":\"b\\n\",\"stream\":\"stderr\",\"time\":\"t2\"}\n{\"log\":",
        )
        .unwrap();
        let (lines, off) = read_from(&p, 0).unwrap();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[1].stream, "stderr");
        let (rest, off2) = read_from(&p, off).unwrap();
        assert!(rest.is_empty());
        assert_eq!(off, off2);
        assert_eq!(tail(lines.clone(), "1").unwrap()[0].log, "b\n");
        assert_eq!(tail(lines, "all").unwrap().len(), 2);
    }
}
