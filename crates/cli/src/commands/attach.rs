//! `hull attach CTR`: this terminal to a detached container's monitor, until the container
//! exits (attach then exits with its code) or the detach keys (Ctrl-P Ctrl-Q) leave it running.

use anyhow::{Context, Result};
use hull_engine::lifecycle::attach::{self, parse_detach_keys, ClientEnd, ClientOptions};
use hull_engine::Engine;

use super::run::container_code;
use super::Ctx;
use crate::cli::AttachArgs;

pub fn attach(ctx: &Ctx, args: AttachArgs) -> Result<u8> {
    let engine = Engine::open(&ctx.root).context("open hull store")?;
    let record = engine.containers.resolve(&args.container)?;
    if !engine.containers.is_running(&record.id) {
        anyhow::bail!("You cannot attach to a stopped container, start it first");
    }
    let opts = ClientOptions {
        stdin: !args.no_stdin,
        tty: record.config.tty,
        detach_keys: parse_detach_keys(&args.detach_keys).map_err(anyhow::Error::msg)?,
    };
    let sock = attach::connect(&engine.containers.dir(&record.id))
        .context("connect to the container's monitor")?;
    match attach::run_client(sock, &opts).context("attach to the container")? {
        ClientEnd::Exited(code) => {
            super::detach::settle(&engine, &record);
            Ok(container_code(code))
        }
        ClientEnd::Detached => Ok(0),
        // The monitor went away without a word (killed): its record has the last word.
        ClientEnd::Closed => Ok(container_code(engine.wait(&record.id)?)),
    }
}
