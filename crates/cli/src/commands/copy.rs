//! `hull cp` and `hull export`.

use std::io::{self, IsTerminal as _, Write as _};

use anyhow::{bail, Context, Result};
use hull_engine::copy::Options;
use hull_engine::Engine;

use super::run::report;
use super::Ctx;
use crate::cli::{CpArgs, ExportArgs};

/// One side of `hull cp`: `CTR:PATH` or a local path (`-` for a tar on stdin/stdout).
#[derive(Debug, PartialEq, Eq)]
enum Operand<'a> {
    Container(&'a str, &'a str),
    Local(&'a str),
}

/// Docker's rule: a path that starts with `/` or `.`, or has no `:`, is local; otherwise the
/// text before the first `:` names the container.
fn operand(arg: &str) -> Operand<'_> {
    if arg.starts_with('/') || arg.starts_with('.') {
        return Operand::Local(arg);
    }
    match arg.split_once(':') {
        Some((ctr, path)) => Operand::Container(ctr, if path.is_empty() { "/" } else { path }),
        None => Operand::Local(arg),
    }
}

/// Stdout for a tar stream: std's stdout flushes at every newline, which binary data is full of.
/// The engine flushes it when the archive is done.
fn stdout() -> io::BufWriter<io::StdoutLock<'static>> {
    io::BufWriter::with_capacity(1 << 16, io::stdout().lock())
}

pub fn cp(ctx: &Ctx, args: CpArgs) -> Result<u8> {
    let engine = Engine::open(&ctx.root).context("open hull store")?;
    let opts = Options {
        archive: args.archive,
        follow_link: args.follow_link,
    };
    let result = match (operand(&args.src), operand(&args.dest)) {
        (Operand::Container(ctr, src), Operand::Local(dest)) => {
            engine.copy_out(ctr, src, dest, stdout(), opts)
        }
        (Operand::Local(src), Operand::Container(ctr, dest)) => {
            engine.copy_in(src, io::stdin().lock(), ctr, dest, opts)
        }
        (Operand::Container(..), Operand::Container(..)) => {
            bail!("copying between containers is not supported")
        }
        (Operand::Local(_), Operand::Local(_)) => {
            bail!("must specify at least one container source")
        }
    };
    Ok(result.map_or_else(report, |()| 0))
}

pub fn export(ctx: &Ctx, args: ExportArgs) -> Result<u8> {
    let engine = Engine::open(&ctx.root).context("open hull store")?;
    let result = match &args.output {
        Some(path) => {
            let file = std::fs::File::create(path)
                .with_context(|| format!("create {}", path.display()))?;
            let mut out = io::BufWriter::new(file);
            engine.export(&args.container, &mut out).map(|()| {
                out.flush()
                    .with_context(|| format!("write {}", path.display()))
            })
        }
        None => {
            if io::stdout().is_terminal() {
                bail!("cowardly refusing to save to a terminal. Use the -o flag or redirect");
            }
            engine.export(&args.container, stdout()).map(Ok)
        }
    };
    match result {
        Ok(flushed) => flushed.map(|()| 0),
        Err(e) => Ok(report(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operands_split_like_docker() {
        assert_eq!(
            operand("web:/etc/passwd"),
            Operand::Container("web", "/etc/passwd")
        );
        assert_eq!(operand("web:"), Operand::Container("web", "/"));
        assert_eq!(operand("/tmp/a:b"), Operand::Local("/tmp/a:b"));
        assert_eq!(operand("./a:b"), Operand::Local("./a:b"));
        assert_eq!(operand("file"), Operand::Local("file"));
        assert_eq!(operand("-"), Operand::Local("-"));
    }
}
