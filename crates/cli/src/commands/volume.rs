//! `hull volume create|ls|inspect|rm|prune`.

use std::collections::BTreeMap;

use anyhow::{bail, Result};
use hull_engine::view::volume::{document, row, Filters};
use hull_engine::volume::CreateRequest;
use hull_engine::Engine;

use super::Ctx;
use crate::cli_volume::{
    VolumeCommand, VolumeCreateArgs, VolumeInspectArgs, VolumeLsArgs, VolumePruneArgs, VolumeRmArgs,
};
use crate::output::{human_size, render_template, table, template_header, OutputFormat};

pub fn volume(ctx: &Ctx, cmd: VolumeCommand) -> Result<u8> {
    let engine = Engine::open(&ctx.root)?;
    match cmd {
        VolumeCommand::Create(a) => create(&engine, a),
        VolumeCommand::Ls(a) => ls(&engine, a),
        VolumeCommand::Inspect(a) => inspect(&engine, a),
        VolumeCommand::Rm(a) => rm(&engine, a),
        VolumeCommand::Prune(a) => prune(&engine, a),
    }
}

/// `K=V` flags into a map; `what` names the flag in the error.
pub(super) fn pairs(
    flag: &str,
    values: &[String],
    need_value: bool,
) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for v in values {
        let (k, val) = match v.split_once('=') {
            Some((k, val)) => (k, val),
            None if !need_value => (v.as_str(), ""),
            None => bail!("invalid argument {v:?} for \"{flag}\" flag: expected key=value"),
        };
        if k.is_empty() {
            bail!("invalid argument {v:?} for \"{flag}\" flag: empty key");
        }
        out.insert(k.to_string(), val.to_string());
    }
    Ok(out)
}

/// Prints the volume's name, like `docker volume create`.
fn create(engine: &Engine, a: VolumeCreateArgs) -> Result<u8> {
    let name = match (a.name_flag, a.name) {
        (Some(f), Some(p)) if f != p => {
            bail!("conflicting options: either specify --name or provide positional arg, not both")
        }
        (f, p) => f.or(p),
    };
    let req = CreateRequest {
        name,
        driver: Some(a.driver),
        options: pairs("--opt", &a.opt, true)?,
        labels: Some(pairs("--label", &a.label, false)?),
    };
    println!("{}", engine.volume_create(&req)?.name);
    Ok(0)
}

fn ls(engine: &Engine, a: VolumeLsArgs) -> Result<u8> {
    let filters = Filters::parse(&a.filter)?;
    let users = engine.volume_users()?;
    let volumes: Vec<_> = engine
        .volumes()
        .list()?
        .into_iter()
        .filter(|v| filters.matches(v, users.contains_key(&v.name)))
        .collect();
    if a.quiet {
        for v in &volumes {
            println!("{}", v.name);
        }
        return Ok(0);
    }
    match OutputFormat::parse(a.format.as_deref()) {
        OutputFormat::Table => {
            let mut rows = vec![vec!["DRIVER".to_string(), "VOLUME NAME".to_string()]];
            rows.extend(
                volumes
                    .iter()
                    .map(|v| vec![v.driver.clone(), v.name.clone()]),
            );
            print!("{}", table(&rows));
        }
        OutputFormat::Json => {
            for v in &volumes {
                println!("{}", row(v));
            }
        }
        OutputFormat::Template {
            text,
            table: header,
        } => {
            let names: BTreeMap<&str, &str> = [
                ("Name", "VOLUME NAME"),
                ("Driver", "DRIVER"),
                ("Mountpoint", "MOUNTPOINT"),
                ("Labels", "LABELS"),
                ("Scope", "SCOPE"),
                ("Size", "SIZE"),
                ("Links", "LINKS"),
            ]
            .into();
            let mut lines = Vec::new();
            if header {
                lines.push(template_header(&text, &names));
            }
            for v in &volumes {
                lines.push(render_template(&text, &row(v)).map_err(anyhow::Error::msg)?);
            }
            for l in lines {
                println!("{l}");
            }
        }
    }
    Ok(0)
}

fn inspect(engine: &Engine, a: VolumeInspectArgs) -> Result<u8> {
    let volumes = engine.volumes();
    let mut docs = Vec::new();
    let mut failed = false;
    for name in &a.volumes {
        match volumes.get(name) {
            Ok(v) => docs.push(document(&v)),
            Err(_) => {
                eprintln!("hull: no such volume: {name}");
                failed = true;
            }
        }
    }
    crate::output::print_documents(a.format.as_deref(), docs)?;
    Ok(u8::from(failed))
}

fn rm(engine: &Engine, a: VolumeRmArgs) -> Result<u8> {
    let mut failed = false;
    for name in &a.volumes {
        match engine.volume_remove(name, a.force) {
            Ok(()) => println!("{name}"),
            Err(e) => {
                eprintln!("hull: {}", crate::one_line(&anyhow::Error::from(e)));
                failed = true;
            }
        }
    }
    Ok(u8::from(failed))
}

fn prune(engine: &Engine, a: VolumePruneArgs) -> Result<u8> {
    let report = engine.volume_prune(a.all)?;
    if !report.deleted.is_empty() {
        println!("Deleted Volumes:");
        for name in &report.deleted {
            println!("{name}");
        }
        println!();
    }
    println!("Total reclaimed space: {}", human_size(report.reclaimed));
    Ok(0)
}
