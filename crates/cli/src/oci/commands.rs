//! One function per runc command, each a few calls into [`hull_runtime::Runtime`].

use std::path::PathBuf;

use anyhow::{anyhow, bail, Context, Result};
use hull_runtime::{foreground, CreateRequest, Runtime};
use serde_json::json;

use super::args::{
    CreateArgs, DeleteArgs, EventsArgs, Format, KillArgs, ListArgs, OciCli, OciCommand, PsArgs,
    RunArgs,
};
use super::spec;

pub fn run(cli: OciCli) -> Result<u8> {
    check_globals(&cli)?;
    if cli.version {
        println!("{} version {}", super::ARGV0, env!("CARGO_PKG_VERSION"));
        println!("spec: {}", hull_oci::runtime::OCI_VERSION);
        return Ok(0);
    }
    let Some(command) = cli.command else {
        bail!("no command given (see '{} --help')", super::ARGV0);
    };
    let rt = || {
        Runtime::new(cli.root.clone())
            .map(|rt| rt.with_systemd_cgroup(cli.systemd_cgroup))
            .map(|rt| match cli.debug {
                true => rt.with_debug(debug_on_stderr),
                false => rt,
            })
            .with_context(|| format!("open state root {}", cli.root.display()))
    };
    match command {
        OciCommand::Spec(a) => spec::write_spec(&a.bundle).map(|()| 0),
        OciCommand::Features => print_json(&spec::features()),
        OciCommand::Create(a) => create(&rt()?, a).map(|_| 0),
        OciCommand::Run(a) => run_container(&rt()?, a),
        OciCommand::Start(a) => rt()?.start(&a.id).map(|()| 0).map_err(Into::into),
        OciCommand::State(a) => print_json(&serde_json::to_value(rt()?.state(&a.id)?)?),
        OciCommand::Kill(a) => kill(&rt()?, a),
        OciCommand::Delete(a) => delete(&rt()?, a),
        OciCommand::List(a) => list(&rt()?, a),
        OciCommand::Ps(a) => ps(&rt()?, a),
        OciCommand::Pause(a) => rt()?.pause(&a.id).map(|()| 0).map_err(Into::into),
        OciCommand::Resume(a) => rt()?.resume(&a.id).map(|()| 0).map_err(Into::into),
        OciCommand::Events(a) => events(&rt()?, a),
        OciCommand::Exec(a) => super::exec::exec(&rt()?, a),
        OciCommand::Update(a) => super::update::update(&rt()?, a),
    }
}

/// `--debug`: the runtime's debug lines on stderr, as runc writes its own.
fn debug_on_stderr(msg: &str) {
    eprintln!("{}: debug: {msg}", super::ARGV0);
}

fn check_globals(cli: &OciCli) -> Result<()> {
    match cli.rootless.as_deref() {
        None | Some("false") | Some("auto") => Ok(()),
        Some("true") => bail!("--rootless=true: not supported, hull-runtime must run as root"),
        Some(other) => bail!("--rootless {other:?}: expected true, false or auto"),
    }
}

fn print_json(v: &serde_json::Value) -> Result<u8> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(0)
}

/// Creates the container; its init stays blocked on exec.fifo and outlives this process.
fn create(rt: &Runtime, a: CreateArgs) -> Result<i32> {
    let created = create_with_console(rt, a, false)?;
    Ok(created.pid)
}

/// Creates the container. With `process.terminal` and no `--console-socket`, the pty master
/// comes back in `console` when `relay` (a foreground `run` relays it to our own stdio, as
/// runc does); otherwise that is an error, since nobody could ever read the terminal.
fn create_with_console(rt: &Runtime, a: CreateArgs, relay: bool) -> Result<hull_runtime::Created> {
    let bundle = std::fs::canonicalize(&a.bundle)
        .with_context(|| format!("bundle {}", a.bundle.display()))?;
    let mut req = CreateRequest::new(&a.id, bundle);
    req.console_socket = a.console_socket.map(absolute).transpose()?;
    req.pid_file = a.pid_file.map(absolute).transpose()?;
    req.no_pivot = a.no_pivot;
    req.preserve_fds = a.preserve_fds;
    req.new_keyring = !a.no_new_keyring;
    let created = rt.create(req)?;
    if created.console.is_some() && !relay {
        let _ = rt.delete(&a.id, true);
        bail!("cannot allocate a terminal and detach without --console-socket");
    }
    Ok(created)
}

pub(super) fn absolute(p: PathBuf) -> Result<PathBuf> {
    if p.is_absolute() {
        return Ok(p);
    }
    Ok(std::env::current_dir()
        .context("current directory")?
        .join(p))
}

/// `run`: create and start; without `--detach`, wait (forwarding signals and relaying the
/// terminal, as runc does), delete, and exit with the program's code (128 + N if signal N killed
/// it).
fn run_container(rt: &Runtime, a: RunArgs) -> Result<u8> {
    let id = a.create.id.clone();
    if a.detach {
        create(rt, a.create)?;
        return start_or_delete(rt, &id).map(|()| 0);
    }
    // Before the container starts: until then a SIGTERM would kill us and orphan it.
    let signals = foreground::catch_signals().context("catch signals")?;
    let created = create_with_console(rt, a.create, true)?;
    if let Some(console) = &created.console {
        foreground::copy_window_size(console);
    }
    start_or_delete(rt, &id)?;
    let code = foreground::wait(signals, created.pid, created.console, true);
    rt.delete(&id, true)?;
    Ok(code.context("wait for the container")? as u8)
}

fn start_or_delete(rt: &Runtime, id: &str) -> Result<()> {
    rt.start(id).map_err(|e| {
        let _ = rt.delete(id, true);
        e.into()
    })
}

fn kill(rt: &Runtime, a: KillArgs) -> Result<u8> {
    let sig = parse_signal(&a.signal)?;
    rt.kill(&a.id, sig, a.all)?;
    Ok(0)
}

/// A signal as runc takes it: `TERM`, `SIGTERM`, `term` or a number; 0 only checks that the
/// container's process exists, as kill(2) and runc do.
pub fn parse_signal(s: &str) -> Result<i32> {
    if s == "0" {
        return Ok(0);
    }
    hull_sys::signal::parse(s).ok_or_else(|| anyhow!("invalid signal {s:?}"))
}

fn delete(rt: &Runtime, a: DeleteArgs) -> Result<u8> {
    // A created (never started) container is deleted without --force, as runc does: the
    // runtime kills its waiting init under the container's lock.
    match rt.delete(&a.id, a.force) {
        Ok(()) => Ok(0),
        // runc: deleting a missing container with --force is not an error.
        Err(hull_runtime::RuntimeError::NotFound { .. }) if a.force => Ok(0),
        Err(e) => Err(e.into()),
    }
}

/// One row of `list`.
struct Row {
    state: hull_oci::runtime::State,
    created: String,
    owner: String,
}

fn list(rt: &Runtime, a: ListArgs) -> Result<u8> {
    let rows = rows(rt)?;
    if a.quiet {
        rows.iter().for_each(|r| println!("{}", r.state.id));
        return Ok(0);
    }
    if a.format == Format::Json {
        let v: Vec<_> = rows.iter().map(row_json).collect();
        println!("{}", serde_json::Value::Array(v));
        return Ok(0);
    }
    let mut out = vec![["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"].map(String::from)];
    for r in &rows {
        let pid = r
            .state
            .pid
            .filter(|_| r.state.status != "stopped")
            .unwrap_or(0);
        out.push([
            r.state.id.clone(),
            pid.to_string(),
            r.state.status.clone(),
            r.state.bundle.display().to_string(),
            r.created.clone(),
            r.owner.clone(),
        ]);
    }
    print_table(&out);
    Ok(0)
}

fn row_json(r: &Row) -> serde_json::Value {
    json!({
        "ociVersion": r.state.oci_version, "id": r.state.id, "pid": r.state.pid.unwrap_or(0),
        "status": r.state.status, "bundle": r.state.bundle, "rootfs": r.state.bundle.join("rootfs"),
        "created": r.created, "annotations": r.state.annotations, "owner": r.owner,
    })
}

fn rows(rt: &Runtime) -> Result<Vec<Row>> {
    let entries = std::fs::read_dir(&rt.state_root)
        .with_context(|| format!("read {}", rt.state_root.display()))?;
    let mut rows = Vec::new();
    for entry in entries.flatten() {
        let id = entry.file_name().to_string_lossy().into_owned();
        let Ok(state) = rt.state(&id) else { continue };
        let meta = entry.metadata().ok();
        let created = meta
            .as_ref()
            .and_then(|m| m.created().or(m.modified()).ok());
        let uid = meta.as_ref().map_or(0, std::os::unix::fs::MetadataExt::uid);
        rows.push(Row {
            state,
            created: created.map(super::rfc3339).unwrap_or_default(),
            owner: user_name(uid),
        });
    }
    rows.sort_by(|a, b| a.state.id.cmp(&b.state.id));
    Ok(rows)
}

fn user_name(uid: u32) -> String {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    passwd
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() > 2 && f[2] == uid.to_string()).then(|| f[0].to_string())
        })
        .unwrap_or_else(|| uid.to_string())
}

fn print_table(rows: &[[String; 6]]) {
    let widths: Vec<usize> = (0..6)
        .map(|i| rows.iter().map(|r| r[i].len()).max().unwrap_or(0))
        .collect();
    for r in rows {
        let cells: Vec<String> = (0..6)
            .map(|i| format!("{:w$}", r[i], w = widths[i]))
            .collect();
        println!("{}", cells.join("   ").trim_end());
    }
}

fn ps(rt: &Runtime, a: PsArgs) -> Result<u8> {
    let pids = rt
        .cgroup(&a.id)?
        .pids()
        .with_context(|| format!("container {}: list processes", a.id))?;
    if a.format == Format::Json {
        println!("{}", serde_json::to_string(&pids)?);
        return Ok(0);
    }
    println!("PID   CMD");
    for pid in pids {
        let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
        println!("{pid:<5} {}", cmd.trim_end());
    }
    Ok(0)
}

/// `events --stats`: one sample, in runc's event shape.
fn events(rt: &Runtime, a: EventsArgs) -> Result<u8> {
    if !a.stats {
        bail!("events: only --stats (one sample) is supported yet");
    }
    let s = rt
        .cgroup(&a.id)?
        .stats()
        .with_context(|| format!("container {}: read stats", a.id))?;
    let data = json!({
        "cpu": {"usage": {"total": s.cpu_usage_ns}},
        "memory": {
            "usage": {"usage": s.memory_usage, "limit": s.memory_limit},
            "stats": {"inactive_file": s.memory_inactive_file},
        },
        "pids": {"current": s.pids_current, "limit": s.pids_limit},
        "blkio": {"read_bytes": s.io_read_bytes, "write_bytes": s.io_write_bytes},
    });
    println!("{}", json!({"type": "stats", "id": a.id, "data": data}));
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_signals_like_runc() {
        assert_eq!(parse_signal("TERM").unwrap(), libc::SIGTERM);
        assert_eq!(parse_signal("SIGKILL").unwrap(), libc::SIGKILL);
        assert_eq!(parse_signal("9").unwrap(), 9);
        assert_eq!(parse_signal("hup").unwrap(), libc::SIGHUP);
        assert!(parse_signal("NOPE").is_err());
        assert_eq!(parse_signal("0").unwrap(), 0);
        assert!(parse_signal("65").is_err());
    }
}
