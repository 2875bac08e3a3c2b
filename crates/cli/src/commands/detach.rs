//! `hull run -d`: the CLI starts a monitor (this binary's hidden `__monitor` command) in a new
//! session and waits for one line from it on a pipe: `started`, or the error that kept the
//! container from starting, with its exit code.

use std::fs::OpenOptions;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use anyhow::{Context, Result};
use hull_engine::container::Record;
use hull_engine::Engine;

use super::run::container_code;
use super::Ctx;
use crate::cli::MonitorArgs;

pub(super) const STARTED: &str = "started";

/// Starts the monitor of `record` and returns once the container runs (printing its ID) or
/// failed to start (printing the monitor's one-line error).
pub fn run(ctx: &Ctx, engine: &Engine, record: &Record) -> Result<u8> {
    let line = spawn_monitor(ctx, engine, record)?;
    Ok(report(&line, &record.id))
}

/// Starts the monitor of `record` and returns its one line: `started` or the error.
pub(super) fn spawn_monitor(ctx: &Ctx, engine: &Engine, record: &Record) -> Result<String> {
    let errors = engine.containers.dir(&record.id).join("monitor.log");
    let stderr = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&errors)
        .with_context(|| format!("open {}", errors.display()))?;
    let mut child = Command::new(std::env::current_exe().context("find the hull binary")?)
        .arg("--root")
        .arg(&ctx.root)
        .arg("__monitor")
        .arg(&record.id)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .context("start the container's monitor")?;
    let mut line = String::new();
    let out = child.stdout.take().expect("piped stdout");
    BufReader::new(out)
        .read_line(&mut line)
        .context("read from the container's monitor")?;
    Ok(line.trim_end().to_string())
}

/// The CLI's side of the monitor's one line.
pub(super) fn report(line: &str, id: &str) -> u8 {
    if line == STARTED {
        println!("{id}");
        return 0;
    }
    let (code, message) = match line.strip_prefix("error ").and_then(|l| l.split_once(' ')) {
        Some((code, message)) => (code.parse().unwrap_or(125), message),
        None => (
            125,
            "the container's monitor exited before the container started",
        ),
    };
    eprintln!("hull: {message}");
    code
}

/// The hidden `__monitor ID` command: detaches from the CLI's session, runs the container,
/// and tells the CLI on stdout (a pipe) whether it started.
pub fn monitor(ctx: &Ctx, args: MonitorArgs) -> Result<u8> {
    // Only fails when already a session leader, which is as detached as it gets.
    let _ = rustix::process::setsid();
    let engine = Engine::open(&ctx.root).context("open hull store")?;
    let mut told = false;
    let result = engine.run_detached(&args.id, || {
        tell(STARTED);
        told = true;
    });
    match result {
        Ok(code) => Ok(container_code(code)),
        Err(e) => {
            let code = e.exit_code();
            let line = crate::one_line(&anyhow::Error::new(e));
            if told {
                eprintln!("hull: {line}");
            } else {
                tell(&format!("error {code} {line}"));
            }
            Ok(code)
        }
    }
}

/// Writes the one line to the CLI and closes the pipe (stdout becomes /dev/null).
fn tell(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
    if let Ok(null) = std::fs::File::open("/dev/null") {
        let _ = rustix::stdio::dup2_stdout(&null);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn monitor_lines_become_exit_codes() {
        assert_eq!(super::report("started", "abc"), 0);
        assert_eq!(super::report("error 127 no such file", "abc"), 127);
        assert_eq!(super::report("", "abc"), 125);
    }
}
