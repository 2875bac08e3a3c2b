//! `hull commit`, `hull import` and `hull history`: translate flags, make one engine call, print
//! as Docker prints.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use hull_engine::commit::{CommitOptions, ImportOptions, ImportSource};
use hull_engine::Engine;
use hull_image::Reference;
use serde_json::{json, Value};

use super::Ctx;
use crate::cli_commit::{CommitArgs, HistoryArgs, ImportArgs};
use crate::output::{human_size, render_template, since, table, template_header, OutputFormat};
use crate::settings::registry_config;

fn new_tag(cmd: &str, repository: Option<&str>) -> Result<Option<Reference>> {
    let Some(repo) = repository else {
        return Ok(None);
    };
    let r = Reference::parse_with_default_tag(repo).with_context(|| format!("{cmd}: {repo}"))?;
    if r.digest().is_some() {
        anyhow::bail!("{cmd}: {repo}: a tag cannot contain a digest");
    }
    Ok(Some(r))
}

pub fn commit(ctx: &Ctx, args: CommitArgs) -> Result<u8> {
    let engine = Engine::open(&ctx.root).context("open hull store")?;
    let opts = CommitOptions {
        author: args.author,
        message: args.message,
        changes: args.changes,
        pause: args.pause,
        tag: new_tag("commit", args.repository.as_deref())?,
        overrides: None,
    };
    let id = engine
        .commit(&args.container, &opts)
        .with_context(|| format!("commit {}", args.container))?;
    println!("{id}");
    Ok(0)
}

pub fn import(ctx: &Ctx, args: ImportArgs) -> Result<u8> {
    let engine = Engine::open(&ctx.root).context("open hull store")?;
    let source = ImportSource::parse(&args.source);
    let registry = match source {
        ImportSource::Url(_) => Some(registry_config(ctx.config.as_deref(), None)?),
        _ => None,
    };
    let opts = ImportOptions {
        changes: args.changes,
        message: args.message,
        platform: args.platform,
        tag: new_tag("import", args.repository.as_deref())?,
        registry,
    };
    let id = engine.import(source, &opts)?;
    println!("{id}");
    Ok(0)
}

/// Docker's CREATED BY column: tabs as spaces, cut to 45 characters with `…`.
fn created_by(text: &str, no_trunc: bool) -> String {
    let text = text.replace('\t', " ");
    if no_trunc || text.chars().count() <= 45 {
        return text;
    }
    let mut cut: String = text.chars().take(44).collect();
    cut.push('…');
    cut
}

/// The row Docker's history formatter offers to templates.
fn row(v: &Value, args: &HistoryArgs) -> Value {
    let id = v["Id"].as_str().unwrap_or_default();
    let id = match (id.strip_prefix("sha256:"), args.no_trunc) {
        (Some(hex), false) => hex.chars().take(12).collect(),
        _ => id.to_string(),
    };
    let secs = v["Created"].as_i64().unwrap_or(0);
    let at = hull_image::time::format_rfc3339(secs, 0);
    let size = v["Size"].as_u64().unwrap_or(0);
    json!({
        "ID": id,
        "CreatedSince": if args.human { since(Some(&at)) } else { at.clone() },
        "CreatedAt": at,
        "CreatedBy": created_by(v["CreatedBy"].as_str().unwrap_or_default(), args.no_trunc),
        "Size": if args.human { human_size(size) } else { size.to_string() },
        "Comment": v["Comment"].as_str().unwrap_or_default(),
    })
}

pub fn history(ctx: &Ctx, args: HistoryArgs) -> Result<u8> {
    let store = ctx.store()?;
    let record = store
        .resolve(&args.image)
        .with_context(|| format!("history {}", args.image))?;
    let rows: Vec<Value> = hull_engine::view::image::history(&store, &record)
        .with_context(|| format!("history {}", args.image))?
        .iter()
        .map(|v| row(v, &args))
        .collect();
    if args.quiet {
        for r in &rows {
            println!("{}", r["ID"].as_str().unwrap_or_default());
        }
        return Ok(0);
    }
    match OutputFormat::parse(args.format.as_deref()) {
        OutputFormat::Json => rows.iter().for_each(|r| println!("{r}")),
        OutputFormat::Template { text, table: head } => print_template(&rows, &text, head)?,
        OutputFormat::Table => {
            let fields = ["ID", "CreatedSince", "CreatedBy", "Size", "Comment"];
            let mut out = vec![["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"]
                .map(String::from)
                .to_vec()];
            for r in &rows {
                let cells = fields.map(|f| r[f].as_str().unwrap_or_default().to_string());
                out.push(cells.to_vec());
            }
            print!("{}", table(&out));
        }
    }
    Ok(0)
}

fn print_template(rows: &[Value], text: &str, header: bool) -> Result<()> {
    let names: BTreeMap<&str, &str> = [
        ("ID", "IMAGE"),
        ("CreatedSince", "CREATED"),
        ("CreatedAt", "CREATED AT"),
        ("CreatedBy", "CREATED BY"),
        ("Size", "SIZE"),
        ("Comment", "COMMENT"),
    ]
    .into();
    let mut lines = Vec::new();
    if header {
        lines.push(template_header(text, &names));
    }
    for r in rows {
        lines.push(render_template(text, r).map_err(anyhow::Error::msg)?);
    }
    if header {
        let cells: Vec<Vec<String>> = lines
            .iter()
            .map(|l| l.split('\t').map(str::to_string).collect())
            .collect();
        print!("{}", table(&cells));
    } else {
        lines.iter().for_each(|l| println!("{l}"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_by_is_cut_at_45_characters() {
        let long = "/bin/sh -c #(nop) COPY file:0123456789abcdef in / ";
        let cut = created_by(long, false);
        assert_eq!(cut.chars().count(), 45);
        assert!(cut.ends_with('…'));
        assert_eq!(created_by(long, true), long);
        assert_eq!(created_by("a\tb", false), "a b");
    }
}
