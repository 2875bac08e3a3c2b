//! `hull logs`: prints a container's json-file log, stdout lines to stdout and stderr lines to
//! stderr; `--since`/`--until` select by time; `-f` follows it until the container stops
//! running. The reading is the engine's (`lifecycle::logs`), shared with the API.

use std::io;

use anyhow::{Context, Result};
use hull_engine::lifecycle::logs::{LogError, LogRequest, Window};
use hull_engine::Engine;

use super::Ctx;
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

pub fn logs(ctx: &Ctx, args: LogsArgs) -> Result<u8> {
    let engine = Engine::open(&ctx.root).context("open hull store")?;
    let record = engine.containers.resolve(&args.container)?;
    let req = LogRequest {
        window: Window::for_logs(
            args.since.as_deref(),
            args.until.as_deref(),
            ("--since", "--until"),
        )?,
        tail: parse_tail(&args.tail)?,
        timestamps: args.timestamps,
        follow: args.follow,
    };
    let read = engine.read_logs(&record, &req, io::stdout().lock(), io::stderr(), &|| false);
    match read {
        // `hull logs … | head`: the reader went away, which ends `logs` without an error.
        Err(LogError::Write(e)) if e.kind() == io::ErrorKind::BrokenPipe => Ok(0),
        Err(e) => Err(e.into()),
        Ok(()) => Ok(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_is_all_or_a_count() {
        assert_eq!(parse_tail("all").unwrap(), None);
        assert_eq!(parse_tail("3").unwrap(), Some(3));
        let err = parse_tail("three").unwrap_err().to_string();
        assert_eq!(err, "invalid --tail \"three\": a number or \"all\"");
    }
}
