//! hull's command line: Docker-like commands on top of the engine library. Parsing happens in
//! two steps: clap turns argv into plain data ([`cli::Cli`]); each command then validates it into
//! a config and makes one library call. The `hull` binary (crates/hull) calls [`main`], handing
//! it the API service as a [`ServiceEntry`]: cli and api are siblings that never import each
//! other.
#![forbid(unsafe_code)]

mod build_progress;
mod cli;
mod cli_build;
mod cli_commit;
mod cli_events;
mod cli_network;
mod cli_system;
mod cli_volume;
mod commands;
mod health_args;
mod oci;
mod output;
mod progress;
mod settings;

use std::process::ExitCode;

use clap::Parser;

pub use commands::service::{ServiceEntry, ServiceRequest};

/// The whole `hull` command line: argv (with the hidden monitor and the runc-compatible runtime
/// recognized first) to an exit code. `service` runs `hull system service`.
pub fn main(service: ServiceEntry) -> ExitCode {
    quiet_on_closed_stdout();
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if let Some(code) = commands::run_monitor_directly(&args) {
        return ExitCode::from(code);
    }
    if let Some(args) = oci::wants_runtime_cli(&args) {
        return ExitCode::from(oci::main(args));
    }
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if e.use_stderr() => {
            eprintln!("hull: {}", usage_error_line(&e));
            return ExitCode::from(125);
        }
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(0);
        }
    };
    match commands::run(cli, service) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("hull: {}", one_line(&e));
            ExitCode::from(125)
        }
    }
}

/// `hull ps | head -1`: Rust ignores SIGPIPE, so printing to a closed pipe panics with a
/// backtrace. Exit quietly with the shell's code for a SIGPIPE death (128 + 13) instead, as a C
/// or Go tool would. SIGPIPE itself stays ignored: the monitor and attach write to sockets whose
/// peer may go away, and must see EPIPE there rather than die.
fn quiet_on_closed_stdout() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .unwrap_or_default();
        if message.starts_with("failed printing to stdout") && message.contains("Broken pipe") {
            std::process::exit(141);
        }
        default(info);
    }));
}

/// A usage error on one line, like Docker's `unknown flag: --x`, instead of clap's block with a
/// tip and the usage: every engine error is one line, and scripts read the first line of stderr.
fn usage_error_line(e: &clap::Error) -> String {
    let text = e.render().to_string();
    let first = text.lines().next().unwrap_or_default();
    let first = first.strip_prefix("error: ").unwrap_or(first);
    format!("{first} (see 'hull --help')")
}

/// The error and its causes on one line, outermost first, without repeating a cause that the
/// message above it already quotes.
pub(crate) fn one_line(e: &anyhow::Error) -> String {
    let mut out = e.to_string();
    for cause in e.chain().skip(1) {
        let c = cause.to_string();
        if !out.contains(&c) {
            out.push_str(": ");
            out.push_str(&c);
        }
    }
    out.replace('\n', " ")
}
