//! `hull create`, `rename`, `update`, `pause`, `unpause`, `restart`, `container prune`.

use anyhow::{anyhow, bail, Context, Result};
use hull_engine::run::config::Limits;
use hull_engine::run::RestartPolicy;
use hull_engine::Engine;

use super::Ctx;
use crate::cli::{ContainerPruneArgs, ContainersArgs, RenameArgs, RunArgs, StopArgs, UpdateArgs};
use crate::output::human_size;

fn engine(ctx: &Ctx) -> Result<Engine> {
    Engine::open(&ctx.root).context("open hull store")
}

/// `hull create`: `run` without running (pulls when needed, records the container, prints its
/// ID); `hull start` runs it later.
pub fn create(ctx: &Ctx, args: RunArgs) -> Result<u8> {
    let opts = super::run::options(args);
    let config = hull_engine::run::RunConfig::from_options(&opts, &hull_engine::run::RealHost)?;
    super::run::print_warnings(&config);
    let engine = engine(ctx)?;
    super::run::ensure_image(ctx, &engine, &config)?;
    match engine.create(config) {
        Ok(r) => {
            println!("{}", r.id);
            Ok(0)
        }
        Err(e) => Ok(super::run::report(e)),
    }
}

pub fn rename(ctx: &Ctx, args: RenameArgs) -> Result<u8> {
    engine(ctx)?.rename(&args.container, &args.new_name)?;
    Ok(0)
}

/// `hull update`: new limits and restart policy, for each container; prints each name.
pub fn update(ctx: &Ctx, args: UpdateArgs) -> Result<u8> {
    let (limits, restart) = update_flags(&args)?;
    let engine = engine(ctx)?;
    Ok(each(&args.containers, |name| {
        engine.update(name, &limits, restart)?;
        Ok(())
    }))
}

/// The flags of `hull update` as the limits they set, in Docker's units.
fn update_flags(a: &UpdateArgs) -> Result<(Limits, Option<RestartPolicy>)> {
    use hull_engine::run::units::{parse_bytes, parse_cpus};
    let flag = |name: &str, v: &str, r: String| anyhow!("invalid argument {v:?} for {name}: {r}");
    let bytes = |name, v: &Option<String>| -> Result<Option<i64>> {
        let Some(v) = v.as_deref() else {
            return Ok(None);
        };
        match v {
            "-1" => Ok(Some(-1)),
            _ => parse_bytes(v).map(Some).map_err(|r| flag(name, v, r)),
        }
    };
    let cpus = a.cpus.as_deref();
    let limits = Limits {
        memory: bytes("--memory", &a.memory)?,
        memory_swap: bytes("--memory-swap", &a.memory_swap)?,
        cpu_quota: cpus
            .map(|c| parse_cpus(c).map_err(|r| flag("--cpus", c, r)))
            .transpose()?,
        cpu_shares: a.cpu_shares,
        pids_limit: a.pids_limit,
        cpuset_cpus: a.cpuset_cpus.clone(),
    };
    let restart = a.restart.as_deref();
    let restart = restart
        .map(|r| RestartPolicy::parse(r).map_err(|e| flag("--restart", r, e)))
        .transpose()?;
    if limits == Limits::default() && restart.is_none() {
        bail!("you must provide one or more flags when using this command");
    }
    Ok((limits, restart))
}

/// Runs `op` on each container, printing its name as given or the error; 1 when any failed.
fn each(names: &[String], mut op: impl FnMut(&str) -> Result<()>) -> u8 {
    let mut code = 0;
    for name in names {
        match op(name) {
            Ok(()) => println!("{name}"),
            Err(e) => {
                eprintln!("hull: {}", crate::one_line(&e));
                code = 1;
            }
        }
    }
    code
}

pub fn pause(ctx: &Ctx, args: ContainersArgs) -> Result<u8> {
    let engine = engine(ctx)?;
    Ok(each(&args.containers, |name| {
        engine.pause(name)?;
        Ok(())
    }))
}

pub fn unpause(ctx: &Ctx, args: ContainersArgs) -> Result<u8> {
    let engine = engine(ctx)?;
    Ok(each(&args.containers, |name| {
        engine.unpause(name)?;
        Ok(())
    }))
}

/// `hull restart`: stop (the stop signal, SIGKILL after `-t`), then start again detached under a
/// new monitor (as `hull start` does), whatever the container was first run with, as Docker's
/// restart does.
pub fn restart(ctx: &Ctx, args: StopArgs) -> Result<u8> {
    let engine = engine(ctx)?;
    let timeout = args.time.map(std::time::Duration::from_secs);
    let mut code = 0;
    for name in &args.containers {
        let restarted = engine
            .stop(name, timeout)
            .map_err(anyhow::Error::new)
            .and_then(|record| super::detach::start(ctx, &engine, &record, name));
        match restarted {
            Ok(0) => engine.container_event_id_by_name(name, "restart"),
            Ok(_) => code = 1,
            Err(e) => {
                eprintln!("hull: {}", crate::one_line(&e));
                code = 1;
            }
        }
    }
    Ok(code)
}

/// `hull container prune`: Docker's output, the IDs removed and the space their writable layers
/// held.
pub fn prune(ctx: &Ctx, _args: ContainerPruneArgs) -> Result<u8> {
    let pruned = engine(ctx)?.prune()?;
    if !pruned.is_empty() {
        println!("Deleted Containers:");
        for p in &pruned {
            println!("{}", p.id);
        }
        println!();
    }
    let total = pruned.iter().map(|p| p.reclaimed).sum();
    println!("Total reclaimed space: {}", human_size(total));
    Ok(0)
}
