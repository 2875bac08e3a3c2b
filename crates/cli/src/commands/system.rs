//! `hull system boot`: run once when the machine starts (see contrib/systemd/hull-boot.service
//! and contrib/init/hull-boot.sh).

use anyhow::{Context, Result};
use hull_engine::Engine;

use super::detach::{start_for_boot, BootStart};
use super::Ctx;

/// Reconciles what died with the machine, then starts each container its restart policy brings
/// back under a new monitor: one line per container started (stdout) or failed (stderr), exit
/// 1 when any failed.
pub fn boot(ctx: &Ctx) -> Result<u8> {
    let engine = Engine::open(&ctx.root).context("open hull store")?;
    let plan = engine.boot().context("reconcile containers at boot")?;
    let mut failed = 0;
    for r in &plan.removed {
        println!("removed {} {}", r.name, r.short_id());
    }
    for (r, cause) in &plan.remove_failed {
        eprintln!("hull: remove {} {}: {cause}", r.name, r.short_id());
        failed += 1;
    }
    for r in &plan.start {
        match start_for_boot(ctx, &engine, r) {
            Ok(BootStart::Started) => println!("started {} {}", r.name, r.short_id()),
            // Started by someone else meanwhile: what boot wanted, and not a second copy.
            Ok(BootStart::AlreadyRunning) => {}
            Ok(BootStart::Failed(cause)) => {
                eprintln!("hull: start {} {}: {cause}", r.name, r.short_id());
                failed += 1;
            }
            Err(e) => {
                eprintln!(
                    "hull: start {} {}: {}",
                    r.name,
                    r.short_id(),
                    crate::one_line(&e)
                );
                failed += 1;
            }
        }
    }
    Ok(u8::from(failed > 0))
}
