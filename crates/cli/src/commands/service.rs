//! `hull system service`: the CLI's side is only the arguments. The server lives in the api
//! crate, which the CLI never imports; the `hull` binary hands it in as a [`ServiceEntry`].

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;

use super::Ctx;
use crate::cli_system::ServiceArgs;

/// What the service needs from the command line.
#[derive(Debug, Clone)]
pub struct ServiceRequest {
    pub root: PathBuf,
    pub config: Option<PathBuf>,
    /// `unix:///path` or `tcp://HOST:PORT`; None for the default socket (or systemd's).
    pub uri: Option<String>,
    /// Exit after this long without a connection; None: never.
    pub idle: Option<Duration>,
}

/// The server's entry point, given by the binary that links both front ends.
pub type ServiceEntry = fn(ServiceRequest) -> Result<()>;

pub fn service(ctx: &Ctx, a: ServiceArgs, entry: ServiceEntry) -> Result<u8> {
    entry(ServiceRequest {
        root: ctx.root.clone(),
        config: ctx.config.clone(),
        uri: a.uri,
        idle: (a.time > 0).then(|| Duration::from_secs(a.time)),
    })?;
    Ok(0)
}
