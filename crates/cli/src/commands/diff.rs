//! `hull diff CONTAINER`: the writable layer's changes against the image, one `A`/`C`/`D` line
//! each, as `docker diff` prints them.

use anyhow::{Context, Result};
use hull_engine::Engine;

use super::Ctx;
use crate::cli_events::DiffArgs;

pub fn diff(ctx: &Ctx, args: DiffArgs) -> Result<u8> {
    let engine = Engine::open(&ctx.root).context("open hull store")?;
    for c in engine.changes(&args.container)? {
        println!("{} {}", c.kind.letter(), c.path);
    }
    Ok(0)
}
