//! `hull ps`, `hull rm`, `hull start`.

use anyhow::{Context, Result};
use hull_engine::state::Record;
use hull_engine::Engine;

use super::Ctx;
use crate::cli::{ContainersArgs, KillArgs, PsArgs, RmArgs, StartArgs, StopArgs};
use crate::output::{render_template, table, template_header, OutputFormat};
use hull_engine::lifecycle::attach::{parse_detach_keys, ClientOptions};
use hull_engine::state::listing::Filters;
use hull_engine::view;

fn engine(ctx: &Ctx) -> Result<Engine> {
    Engine::open(&ctx.root).context("open hull store")
}

pub fn ps(ctx: &Ctx, args: PsArgs) -> Result<u8> {
    let filters = Filters::parse(&args.filter)?;
    let engine = engine(ctx)?;
    let mut records: Vec<Record> = engine
        .list(args.all || filters.implies_all())?
        .into_iter()
        .filter(|r| filters.matches(r))
        .collect();
    view::ps::add_image_exposed_ports(&engine, &mut records);
    let now = crate::output::now_secs();
    if args.quiet {
        for r in &records {
            println!("{}", if args.no_trunc { &r.id } else { r.short_id() });
        }
        return Ok(0);
    }
    let trunc = !args.no_trunc;
    match OutputFormat::parse(args.format.as_deref()) {
        OutputFormat::Table => print!("{}", ps_table(&records, now, trunc)),
        OutputFormat::Json => {
            for r in &records {
                println!("{}", view::ps::row(r, now, trunc));
            }
        }
        OutputFormat::Template { text, table } => {
            print!("{}", ps_template(&records, now, trunc, &text, table)?)
        }
    }
    Ok(0)
}

fn ps_template(
    records: &[Record],
    now: i64,
    trunc: bool,
    text: &str,
    header: bool,
) -> Result<String> {
    let names: std::collections::BTreeMap<&str, &str> = [
        ("ID", "CONTAINER ID"),
        ("Image", "IMAGE"),
        ("Command", "COMMAND"),
        ("CreatedAt", "CREATED AT"),
        ("RunningFor", "CREATED"),
        ("Status", "STATUS"),
        ("State", "STATE"),
        ("Ports", "PORTS"),
        ("Names", "NAMES"),
        ("Labels", "LABELS"),
        ("Size", "SIZE"),
        ("Mounts", "MOUNTS"),
        ("Networks", "NETWORKS"),
    ]
    .into();
    let mut lines = Vec::new();
    if header {
        lines.push(template_header(text, &names));
    }
    for r in records {
        lines.push(
            render_template(text, &view::ps::row(r, now, trunc)).map_err(anyhow::Error::msg)?,
        );
    }
    if header || text.contains("\\t") {
        let rows: Vec<Vec<String>> = lines
            .iter()
            .map(|l| l.split('\t').map(str::to_string).collect())
            .collect();
        return Ok(table(&rows));
    }
    Ok(lines.iter().map(|l| format!("{l}\n")).collect())
}

const PS_HEADER: [&str; 7] = [
    "CONTAINER ID",
    "IMAGE",
    "COMMAND",
    "CREATED",
    "STATUS",
    "PORTS",
    "NAMES",
];

/// The row fields under [`PS_HEADER`], in its order.
const PS_FIELDS: [&str; 7] = [
    "ID",
    "Image",
    "Command",
    "RunningFor",
    "Status",
    "Ports",
    "Names",
];

pub fn ps_table(records: &[Record], now: i64, trunc: bool) -> String {
    let mut rows = vec![PS_HEADER.iter().map(|h| h.to_string()).collect::<Vec<_>>()];
    for r in records {
        let row = view::ps::row(r, now, trunc);
        rows.push(
            PS_FIELDS
                .iter()
                .map(|f| row[*f].as_str().unwrap_or_default().to_string())
                .collect(),
        );
    }
    table(&rows)
}

pub fn rm(ctx: &Ctx, args: RmArgs) -> Result<u8> {
    let engine = engine(ctx)?;
    let mut code = 0;
    for name in &args.containers {
        match engine.remove_with_volumes(name, args.force, args.volumes) {
            Ok(_) => println!("{name}"),
            Err(e) => {
                eprintln!("hull: {}", crate::one_line(&anyhow::Error::new(e)));
                code = 1;
            }
        }
    }
    Ok(code)
}

/// `hull start CTR`: runs an exited container again under a new monitor; with `-a` this
/// terminal attaches to it (and with `-i` sends it its input) until it exits.
pub fn start(ctx: &Ctx, args: StartArgs) -> Result<u8> {
    let engine = engine(ctx)?;
    let record = engine.containers.resolve(&args.container)?;
    if !args.attach {
        return super::detach::start(ctx, &engine, &record, &args.container);
    }
    let opts = ClientOptions {
        stdin: args.interactive,
        tty: record.config.tty,
        detach_keys: parse_detach_keys(&args.detach_keys).map_err(anyhow::Error::msg)?,
    };
    super::detach::start_attached(ctx, &engine, &record, &opts)
}

/// Runs `op` on each container, printing its name or the error; 1 when any failed.
fn each(names: &[String], mut op: impl FnMut(&str) -> Result<String>) -> u8 {
    let mut code = 0;
    for name in names {
        match op(name) {
            Ok(out) => println!("{out}"),
            Err(e) => {
                eprintln!("hull: {}", crate::one_line(&e));
                code = 1;
            }
        }
    }
    code
}

pub fn stop(ctx: &Ctx, args: StopArgs) -> Result<u8> {
    let engine = engine(ctx)?;
    let timeout = args.time.map(std::time::Duration::from_secs);
    Ok(each(&args.containers, |name| {
        engine.stop(name, timeout)?;
        Ok(name.to_string())
    }))
}

pub fn kill(ctx: &Ctx, args: KillArgs) -> Result<u8> {
    let engine = engine(ctx)?;
    let signal = hull_engine::run::parse_signal(&args.signal)?;
    Ok(each(&args.containers, |name| {
        engine.kill(name, signal)?;
        Ok(name.to_string())
    }))
}

pub fn wait(ctx: &Ctx, args: ContainersArgs) -> Result<u8> {
    let engine = engine(ctx)?;
    Ok(each(&args.containers, |name| {
        Ok(engine.wait(name)?.to_string())
    }))
}

#[cfg(test)]
mod tests {
    use hull_engine::run::{RealHost, RunConfig, RunOptions};
    use hull_engine::state::{State, Status};
    use hull_engine::view::ps::row as ps_json;

    use super::*;

    const NOW: i64 = 1_700_000_000;

    fn at(secs_before: i64) -> String {
        hull_image::time::format_rfc3339(NOW - secs_before, 0)
    }

    fn record(status: Status, exit: Option<i32>) -> Record {
        Record {
            id: "4f2a9c1b7e3d".to_string() + &"0".repeat(52),
            name: "happy_turing".into(),
            image: "busybox".into(),
            image_id: "sha256:00".into(),
            created: at(120),
            command: vec!["sh".into(), "-c".into(), "echo hello; sleep 100".into()],
            config: RunConfig::from_options(
                &RunOptions {
                    image: "busybox".into(),
                    ..RunOptions::default()
                },
                &RealHost,
            )
            .unwrap(),
            state: State {
                status,
                exit_code: exit,
                started_at: Some(at(60)),
                finished_at: Some(at(3)),
                ..State::default()
            },
        }
    }

    #[test]
    fn ps_json_and_templates_read_like_dockers() {
        let r = record(Status::Exited, Some(2));
        let v = ps_json(&r, NOW, true);
        assert_eq!(v["ID"], "4f2a9c1b7e3d");
        assert_eq!(v["Names"], "happy_turing");
        assert_eq!(v["State"], "exited");
        assert_eq!(v["Status"], "Exited (2) 3 seconds ago");
        assert_eq!(v["RunningFor"], "2 minutes ago");
        assert_eq!(v["Command"], "\"sh -c echo hello; s…\"");
        assert_eq!(v["CreatedAt"], "2023-11-14 22:11:20 +0000 UTC");
        let recs = [r];
        assert_eq!(
            ps_template(&recs, NOW, true, "{{.ID}} {{.Names}}", false).unwrap(),
            "4f2a9c1b7e3d happy_turing\n"
        );
        let t = ps_template(&recs, NOW, true, "{{.Names}}\\t{{.State}}", true).unwrap();
        assert_eq!(t, "NAMES          STATE\nhappy_turing   exited\n");
        assert!(ps_template(&recs, NOW, true, "{{.Nope}}", false).is_err());
        let mut labelled = record(Status::Running, None);
        labelled.config.labels = [("b", "2"), ("a", "")]
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .into();
        assert_eq!(
            ps_template(&[labelled], NOW, true, "{{.Labels}}", false).unwrap(),
            "a=,b=2\n"
        );
    }

    #[test]
    fn ps_table_has_dockers_columns_and_truncation() {
        let out = ps_table(&[record(Status::Exited, Some(0))], NOW, true);
        let mut lines = out.lines();
        let header = lines.next().unwrap();
        assert!(
            header.starts_with("CONTAINER ID   IMAGE     COMMAND"),
            "{header}"
        );
        for col in PS_HEADER {
            assert!(header.contains(col));
        }
        let row = lines.next().unwrap();
        assert!(row.starts_with("4f2a9c1b7e3d   busybox   \"sh -c echo hello; s…\"   2 minutes ago   Exited (0) 3 seconds ago"), "{row}");
        assert!(row.ends_with("happy_turing"), "{row}");
        let full = ps_table(&[record(Status::Exited, Some(0))], NOW, false);
        assert!(full.contains("\"sh -c echo hello; sleep 100\""));
        assert!(full.contains(&"0".repeat(52)));
    }
}
