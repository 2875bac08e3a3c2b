//! Running a RUN step's container the way the build's sink asks ([`RunMode`]): in the
//! foreground on this process's stdio (the CLI), or detached under a monitor with its log
//! followed into the sink (a multi-threaded front end, which must not fork a container itself:
//! the monitor is spawned by fork+exec, as `hull run -d` and the API's start do).

use std::io::{self, Seek, SeekFrom, Write};

use hull_engine::lifecycle::logs::LogRequest;
use hull_engine::Engine;

use super::progress::{Progress, RunMode};

/// SIGKILL, for a detached RUN whose reader went away.
const SIGKILL: i32 = 9;

/// Runs the created container `id` to its end; its exit code (130 when the reader went away,
/// as an interrupted foreground RUN).
pub(super) fn run_step(engine: &Engine, id: &str, progress: &dyn Progress) -> Result<i32, String> {
    match progress.run_mode() {
        RunMode::Foreground => engine.run(id).map_err(|e| super::chain(&e)),
        RunMode::Detached => run_detached(engine, id, progress),
        RunMode::Captured => run_captured(engine, id, progress),
    }
}

fn run_captured(engine: &Engine, id: &str, progress: &dyn Progress) -> Result<i32, String> {
    let mut file =
        tempfile::tempfile().map_err(|e| format!("make a temp file for the output: {e}"))?;
    let code = engine.run_into(id, &file).map_err(|e| super::chain(&e));
    let read = file
        .seek(SeekFrom::Start(0))
        .and_then(|_| io::copy(&mut file, &mut Sink(progress)));
    let code = code?;
    read.map_err(|e| format!("read the output back: {e}"))?;
    Ok(code)
}

fn run_detached(engine: &Engine, id: &str, progress: &dyn Progress) -> Result<i32, String> {
    let record = engine.containers.load(id).map_err(|e| e.to_string())?;
    let mut monitor = engine
        .start_detached(&record)
        .map_err(|e| super::chain(&e))?;
    let req = LogRequest {
        follow: true,
        ..LogRequest::default()
    };
    let out = Sink(progress);
    let followed = engine.read_logs(&record, &req, out, Sink(progress), &|| progress.gone());
    let gone = progress.gone();
    if gone {
        let _ = engine.kill(id, SIGKILL);
    }
    // The monitor records the exit before it lets go of the container.
    let _ = monitor.wait();
    followed.map_err(|e| format!("follow the output: {e}"))?;
    if gone {
        return Ok(130);
    }
    let done = engine.containers.load(id).map_err(|e| e.to_string())?;
    done.state
        .exit_code
        .ok_or_else(|| "the container's monitor recorded no exit code".to_string())
}

/// The log's two streams into the sink, as Docker's builder merges them.
struct Sink<'a>(&'a dyn Progress);

impl Write for Sink<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.output(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
