//! `hull version`, `hull info` (also `hull system info`) and `hull completion`.

use std::io::Write;

use anyhow::{Context, Result};
use clap::CommandFactory;
use hull_engine::{Engine, HostFacts};
use serde_json::Value;

use super::Ctx;
use crate::cli::Cli;
use crate::cli_system::{CompletionArgs, CompletionShell, FormatArgs};
use crate::output::{human_size_binary, render_template, OutputFormat};

/// `hull version`: the engine's version, OS/arch and kernel; no store is opened.
pub fn version(ctx: &Ctx, args: FormatArgs) -> Result<u8> {
    let doc = hull_engine::view::system::version(&HostFacts::gather(&ctx.root));
    print_or(args.format.as_deref(), &doc, |d| {
        format!(
            "Version:      {}\nOS/Arch:      {}/{}\nKernel:       {}\n",
            d["Version"].as_str().unwrap_or(""),
            d["Os"].as_str().unwrap_or(""),
            d["Arch"].as_str().unwrap_or(""),
            d["KernelVersion"].as_str().unwrap_or("")
        )
    })
}

/// `hull info`: Docker's lines for the fields hull has, or `--format`.
pub fn info(ctx: &Ctx, args: FormatArgs) -> Result<u8> {
    let engine = Engine::open(&ctx.root).context("open hull store")?;
    let doc = engine.info().context("read system information")?;
    print_or(args.format.as_deref(), &doc, info_text)
}

/// `--format json` or a template over `doc`; else `text(doc)`.
fn print_or(format: Option<&str>, doc: &Value, text: impl Fn(&Value) -> String) -> Result<u8> {
    match OutputFormat::parse(format) {
        OutputFormat::Json => println!("{doc}"),
        OutputFormat::Template { text: t, .. } => {
            println!("{}", render_template(&t, doc).map_err(anyhow::Error::msg)?)
        }
        OutputFormat::Table => print!("{}", text(doc)),
    }
    Ok(0)
}

/// Docker's `info` layout (its Server section) for the fields hull has.
fn info_text(d: &Value) -> String {
    let s = |k: &str| match &d[k] {
        Value::String(v) => v.clone(),
        other => other.to_string(),
    };
    let list = |k: &str| {
        let items = d["Plugins"][k].as_array().cloned().unwrap_or_default();
        let words: Vec<&str> = items.iter().filter_map(Value::as_str).collect();
        words.join(" ")
    };
    let mem = d["MemTotal"].as_u64().unwrap_or(0);
    let backing = d["DriverStatus"][0][1].as_str().unwrap_or("").to_string();
    let mut out = String::from("Server:\n");
    for (label, value) in [
        (" Containers", s("Containers")),
        ("  Running", s("ContainersRunning")),
        ("  Paused", s("ContainersPaused")),
        ("  Stopped", s("ContainersStopped")),
        (" Images", s("Images")),
        (" Server Version", s("ServerVersion")),
        (" Storage Driver", s("Driver")),
        ("  Backing Filesystem", backing),
        (" Logging Driver", s("LoggingDriver")),
        (" Cgroup Driver", s("CgroupDriver")),
        (" Cgroup Version", s("CgroupVersion")),
        (" Plugins", String::new()),
        ("  Volume", list("Volume")),
        ("  Network", list("Network")),
        ("  Log", list("Log")),
        (" Default Runtime", s("DefaultRuntime")),
        (" Security Options", String::new()),
        ("  seccomp", "\n".to_string()),
        ("   Profile", "default".to_string()),
        (" Kernel Version", s("KernelVersion")),
        (" Operating System", s("OperatingSystem")),
        (" OSType", s("OSType")),
        (" Architecture", s("Architecture")),
        (" CPUs", s("NCPU")),
        (" Total Memory", human_size_binary(mem)),
        (" Name", s("Name")),
        (" Docker Root Dir", s("DockerRootDir")),
        (" Live Restore Enabled", s("LiveRestoreEnabled")),
    ] {
        // An empty value heads a group (`Plugins:`); a newline one is a bare item (`seccomp`).
        match value.as_str() {
            "" => out.push_str(&format!("{label}:\n")),
            "\n" => out.push_str(&format!("{label}\n")),
            _ => out.push_str(&format!("{label}: {value}\n")),
        }
    }
    out
}

/// `hull completion SHELL`: the script on stdout, as `docker completion` prints it.
pub fn completion(args: CompletionArgs) -> Result<u8> {
    let shell = match args.shell {
        CompletionShell::Bash => clap_complete::Shell::Bash,
        CompletionShell::Zsh => clap_complete::Shell::Zsh,
        CompletionShell::Fish => clap_complete::Shell::Fish,
    };
    // Into memory first: clap_complete panics when its writer fails (`| head`).
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "hull", &mut script);
    match std::io::stdout().write_all(&script) {
        Ok(()) => Ok(0),
        // The reader went away, as with any filter that stops early: the shell's SIGPIPE code.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(141),
        Err(e) => Err(e).context("write the completion script"),
    }
}
