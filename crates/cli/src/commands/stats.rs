//! `hull stats [--no-stream] [--no-trunc] [--format …] [-a] [CONTAINER…]`.

use std::collections::BTreeMap;
use std::io::{IsTerminal as _, Write as _};
use std::time::Duration;

use anyhow::{Context, Result};
use hull_engine::lifecycle::stats::Sample;
use hull_engine::state::Record;
use hull_engine::view;
use hull_engine::Engine;
use serde_json::{json, Value};

use super::run::report;
use super::Ctx;
use crate::cli::StatsArgs;
use crate::output::{render_rows, table, OutputFormat};

/// Between the two samples that make a CPU %, and between refreshes.
const INTERVAL: Duration = Duration::from_secs(1);

const HEADER: [(&str, &str); 8] = [
    ("ID", "CONTAINER ID"),
    ("Name", "NAME"),
    ("CPUPerc", "CPU %"),
    ("MemUsage", "MEM USAGE / LIMIT"),
    ("MemPerc", "MEM %"),
    ("NetIO", "NET I/O"),
    ("BlockIO", "BLOCK I/O"),
    ("PIDs", "PIDS"),
];

pub fn stats(ctx: &Ctx, args: StatsArgs) -> Result<u8> {
    let engine = Engine::open(&ctx.root).context("open hull store")?;
    let records = match containers(&engine, &args) {
        Ok(r) => r,
        Err(e) => return Ok(report(e)),
    };
    let format = OutputFormat::parse(args.format.as_deref());
    let clear = !args.no_stream && std::io::stdout().is_terminal();
    let mut prev = sample_all(&engine, &records)?;
    loop {
        std::thread::sleep(INTERVAL);
        let cur = sample_all(&engine, &records)?;
        let rows: Vec<Value> = records
            .iter()
            .zip(prev.iter().zip(&cur))
            .map(|(r, (p, c))| row(r, p, c, !args.no_trunc))
            .collect();
        let mut out = std::io::stdout().lock();
        if clear {
            // Home and clear, like docker stats redrawing its table.
            write!(out, "\x1b[H\x1b[2J")?;
        }
        write!(out, "{}", render(&rows, &format)?)?;
        out.flush()?;
        if args.no_stream {
            return Ok(0);
        }
        prev = cur;
    }
}

/// The named containers, or every running one (every one with `-a`).
fn containers(engine: &Engine, args: &StatsArgs) -> Result<Vec<Record>, hull_engine::EngineError> {
    if args.containers.is_empty() {
        return engine.list(args.all);
    }
    args.containers
        .iter()
        .map(|n| Ok(engine.containers.resolve(n)?))
        .collect()
}

fn sample_all(engine: &Engine, records: &[Record]) -> Result<Vec<Sample>> {
    records
        .iter()
        .map(|r| Ok(engine.stats_sample(r)?))
        .collect()
}

/// One row, keyed like Docker's `--format` fields.
fn row(r: &Record, prev: &Sample, cur: &Sample, trunc: bool) -> Value {
    let v = view::stats::row(r, prev, cur);
    let id = if trunc { r.short_id() } else { &r.id };
    if !v.running {
        return json!({
            "BlockIO": "0B / 0B", "CPUPerc": "0.00%", "Container": id, "ID": id,
            "MemPerc": "0.00%", "MemUsage": "0B / 0B", "Name": v.name, "NetIO": "0B / 0B",
            "PIDs": "0",
        });
    }
    json!({
        "BlockIO": format!("{} / {}", decimal(v.block_read), decimal(v.block_write)),
        "CPUPerc": format!("{:.2}%", v.cpu_percent),
        "Container": id,
        "ID": id,
        "MemPerc": format!("{:.2}%", v.memory_percent),
        "MemUsage": format!("{} / {}", binary(v.memory_usage), binary(v.memory_limit)),
        "Name": v.name,
        "NetIO": format!("{} / {}", decimal(v.net_rx), decimal(v.net_tx)),
        "PIDs": v.pids.to_string(),
    })
}

fn render(rows: &[Value], format: &OutputFormat) -> Result<String> {
    let mut out = String::new();
    match format {
        OutputFormat::Table => {
            let mut lines = vec![HEADER.iter().map(|(_, h)| h.to_string()).collect()];
            for r in rows {
                lines.push(
                    HEADER
                        .iter()
                        .map(|(k, _)| r[k].as_str().unwrap_or_default().to_string())
                        .collect::<Vec<_>>(),
                );
            }
            out.push_str(&table(&lines));
        }
        OutputFormat::Json => {
            for r in rows {
                out.push_str(&format!("{r}\n"));
            }
        }
        OutputFormat::Template {
            text,
            table: header,
        } => {
            let names: BTreeMap<&str, &str> = HEADER.iter().copied().collect();
            out.push_str(&render_rows(text, *header, &names, rows).map_err(anyhow::Error::msg)?);
        }
    }
    Ok(out)
}

/// Go's `%.<precision>g` for the sizes Docker prints: significant digits, trailing zeros cut.
fn go_g(v: f64, precision: i32) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let exp = v.abs().log10().floor() as i32;
    let decimals = (precision - 1 - exp).max(0) as usize;
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

fn scaled(bytes: u64, base: f64, units: &[&str], precision: i32) -> String {
    let mut v = bytes as f64;
    let mut i = 0;
    while v >= base && i < units.len() - 1 {
        v /= base;
        i += 1;
    }
    format!("{}{}", go_g(v, precision), units[i])
}

/// Docker's `units.BytesSize`: binary units, four significant digits (`1.465MiB`).
fn binary(bytes: u64) -> String {
    scaled(bytes, 1024.0, &["B", "KiB", "MiB", "GiB", "TiB", "PiB"], 4)
}

/// Docker's `units.HumanSizeWithPrecision(x, 3)`: decimal units (`12.3kB`).
fn decimal(bytes: u64) -> String {
    scaled(bytes, 1000.0, &["B", "kB", "MB", "GB", "TB", "PB"], 3)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_like_docker_stats() {
        assert_eq!(binary(0), "0B");
        assert_eq!(binary(1536000), "1.465MiB");
        assert_eq!(binary(16 << 30), "16GiB");
        assert_eq!(binary(512), "512B");
        assert_eq!(decimal(0), "0B");
        assert_eq!(decimal(12_345), "12.3kB");
        assert_eq!(decimal(4_096_000), "4.1MB");
    }

    #[test]
    fn table_and_json_have_dockers_columns() {
        let row = json!({
            "BlockIO": "0B / 0B", "CPUPerc": "99.50%", "Container": "abc", "ID": "abc",
            "MemPerc": "1.00%", "MemUsage": "1MiB / 100MiB", "Name": "web", "NetIO": "0B / 0B",
            "PIDs": "2",
        });
        let t = render(std::slice::from_ref(&row), &OutputFormat::Table).unwrap();
        let header = t.lines().next().unwrap();
        assert!(
            header.starts_with("CONTAINER ID   NAME      CPU %     MEM USAGE / LIMIT"),
            "{header}"
        );
        assert!(t.lines().nth(1).unwrap().ends_with("   2"));
        let j = render(std::slice::from_ref(&row), &OutputFormat::Json).unwrap();
        let back: Value = serde_json::from_str(j.trim()).unwrap();
        assert_eq!(back["CPUPerc"], "99.50%");
        let f = OutputFormat::parse(Some("{{.Name}}: {{.CPUPerc}}"));
        assert_eq!(render(&[row], &f).unwrap(), "web: 99.50%\n");
    }
}
