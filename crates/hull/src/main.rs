//! The `hull` binary: the command line (hull-cli), with the Docker Engine API service (hull-api)
//! handed in for `hull system service`. The two front ends never import each other; this is the
//! one place that links them.
#![forbid(unsafe_code)]

use std::process::ExitCode;

fn main() -> ExitCode {
    // The service's exec helper (a fresh process: the service may not fork), before anything.
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if let Some(code) = hull_api::helper_main(&argv) {
        return code;
    }
    hull_cli::main(serve)
}

/// `hull system service`: the command line's request, as the api crate's options.
fn serve(req: hull_cli::ServiceRequest) -> anyhow::Result<()> {
    hull_api::serve(hull_api::ServiceOptions {
        root: req.root,
        config: req.config,
        uri: req.uri,
        idle: req.idle,
    })?;
    Ok(())
}
