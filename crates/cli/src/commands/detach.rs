//! `hull run -d` and `hull start`: the engine starts a monitor (this binary's hidden `__monitor`
//! command, `hull_engine::lifecycle::launch`) and waits for its one line: `started`, or the error
//! that kept the container from starting, with its exit code. For `hull start -a` the monitor
//! first says `listening`, and waits for the CLI to attach before it starts the container.

use std::io::Write;

use anyhow::{Context, Result};
use hull_engine::lifecycle::attach::{self, ClientEnd, ClientOptions};
use hull_engine::lifecycle::launch::{self, MonitorLine, LISTENING, STARTED};
use hull_engine::lifecycle::monitor::MonitorEvent;
use hull_engine::state::{Record, Status};
use hull_engine::{Engine, EngineError};

use super::run::container_code;
use super::Ctx;
use crate::cli::MonitorArgs;

/// Starts the monitor of `record` and returns once the container runs (printing its ID) or
/// failed to start (printing the monitor's one-line error).
pub fn run(ctx: &Ctx, engine: &Engine, record: &Record) -> Result<u8> {
    start(ctx, engine, record, &record.id)
}

/// `hull start CTR` without `-a`: as `run -d`, printing the name the user gave.
pub fn start(_ctx: &Ctx, engine: &Engine, record: &Record, shown: &str) -> Result<u8> {
    match engine.start_detached(record) {
        Ok(_child) => {
            println!("{shown}");
            Ok(0)
        }
        Err(e) => failed(e),
    }
}

/// A start the monitor refused: its one line on stderr and its exit code; any other error is
/// the CLI's.
fn failed(e: EngineError) -> Result<u8> {
    match e {
        EngineError::StartFailed { code, message, .. } => Ok(report(code, &message)),
        other => Err(anyhow::Error::new(other)),
    }
}

/// How a monitor started by `hull system boot` ended its first line.
pub enum BootStart {
    Started,
    /// Another command (a second boot, a `hull start`) runs it already.
    AlreadyRunning,
    Failed(String),
}

/// Starts `record` under a new monitor for `hull system boot`, printing nothing.
pub fn start_for_boot(_ctx: &Ctx, engine: &Engine, record: &Record) -> Result<BootStart> {
    match engine.start_detached(record) {
        Ok(_child) => Ok(BootStart::Started),
        Err(_) if engine.containers.is_alive(&record.id) => Ok(BootStart::AlreadyRunning),
        Err(EngineError::StartFailed { message, .. }) => Ok(BootStart::Failed(message)),
        Err(e) => Err(anyhow::Error::new(e)),
    }
}

/// `hull start -a [-i] CTR`: a monitor that waits for this client before it starts the
/// container, so no output is missed; returns the container's exit code.
pub fn start_attached(
    _ctx: &Ctx,
    engine: &Engine,
    record: &Record,
    opts: &ClientOptions,
) -> Result<u8> {
    let mut monitor = engine.spawn_monitor(record, true)?;
    match monitor.next_line()? {
        MonitorLine::Listening => {}
        other => return Ok(report_line(other)),
    }
    let sock = attach::connect(&engine.containers.dir(&record.id))
        .context("connect to the container's monitor")?;
    match attach::run_client(sock, opts).context("attach to the container")? {
        ClientEnd::Exited(code) => {
            settle(engine, record);
            Ok(container_code(code))
        }
        ClientEnd::Detached => Ok(0),
        // The container did not start: the monitor says why.
        ClientEnd::Closed => Ok(report_line(monitor.next_line()?)),
    }
}

/// After an attached client saw the exit: waits until the monitor recorded it (and, unless it
/// restarts the container, tore it down), so that a `hull rm` right after succeeds, as after
/// `docker start -a`.
pub fn settle(engine: &Engine, record: &Record) {
    if record.config.restart.is_no() {
        let _ = engine.wait(&record.id);
        return;
    }
    let running = |r: Result<Record, _>| r.is_ok_and(|r: Record| r.state.status == Status::Running);
    for _ in 0..200 {
        if !running(engine.containers.load(&record.id)) {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// A monitor's line that is not the one awaited, as a failure (a monitor that started the
/// container when asked to wait is not expected: it counts as one that said nothing).
fn report_line(line: MonitorLine) -> u8 {
    match line {
        MonitorLine::Failed { code, message } => report(code, &message),
        MonitorLine::Started | MonitorLine::Listening => match launch::parse_line("") {
            MonitorLine::Failed { code, message } => report(code, &message),
            _ => 125,
        },
    }
}

/// The CLI's side of a failed start.
fn report(code: u8, message: &str) -> u8 {
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
    let result = engine.run_detached(&args.id, args.attach_first, |event| match event {
        MonitorEvent::Listening => say(LISTENING),
        MonitorEvent::Started => {
            tell(STARTED);
            told = true;
        }
    });
    match result {
        Ok(code) => Ok(container_code(code)),
        Err(e) => {
            let code = e.exit_code();
            let line = crate::one_line(&anyhow::Error::new(e));
            if told {
                eprintln!("hull: {line}");
            } else {
                tell(&launch::error_line(code, &line));
            }
            Ok(code)
        }
    }
}

/// The monitor's argv exactly as `Engine::spawn_monitor` writes it (`hull --root ROOT __monitor
/// [--attach-first] ID`), recognized before clap so that a monitor never runs, and never keeps
/// resident, the argument parser.
pub fn monitor_from_argv(args: &[std::ffi::OsString]) -> Option<(Ctx, MonitorArgs)> {
    let args: Vec<&str> = args.iter().map(|a| a.to_str()).collect::<Option<_>>()?;
    let (root, attach_first, id) = match args.as_slice() {
        [_, "--root", root, "__monitor", "--attach-first", id] => (root, true, id),
        [_, "--root", root, "__monitor", id] => (root, false, id),
        _ => return None,
    };
    let ctx = Ctx {
        root: root.into(),
        config: None,
    };
    let args = MonitorArgs {
        attach_first,
        id: id.to_string(),
    };
    Some((ctx, args))
}

/// Writes a line to the CLI.
fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// Writes the last line to the CLI and closes the pipe (stdout becomes /dev/null).
fn tell(line: &str) {
    say(line);
    if let Ok(null) = std::fs::File::open("/dev/null") {
        let _ = rustix::stdio::dup2_stdout(&null);
    }
}

#[cfg(test)]
mod tests {
    use hull_engine::lifecycle::launch::parse_line;

    #[test]
    fn monitor_lines_become_exit_codes() {
        assert_eq!(
            super::report_line(parse_line("error 127 no such file")),
            127
        );
        assert_eq!(super::report_line(parse_line("")), 125);
        assert_eq!(super::report_line(parse_line("started")), 125);
    }

    #[test]
    fn the_monitors_own_argv_skips_clap_and_nothing_else_does() {
        let argv = |a: &[&str]| a.iter().map(std::ffi::OsString::from).collect::<Vec<_>>();
        let (ctx, args) =
            super::monitor_from_argv(&argv(&["hull", "--root", "/r", "__monitor", "abc"])).unwrap();
        assert_eq!(ctx.root, std::path::Path::new("/r"));
        assert_eq!((args.id.as_str(), args.attach_first), ("abc", false));
        let (_, args) = super::monitor_from_argv(&argv(&[
            "hull",
            "--root",
            "/r",
            "__monitor",
            "--attach-first",
            "abc",
        ]))
        .unwrap();
        assert!(args.attach_first);
        assert!(super::monitor_from_argv(&argv(&["hull", "run", "-d", "x"])).is_none());
        assert!(super::monitor_from_argv(&argv(&["hull", "__monitor", "abc"])).is_none());
    }
}
