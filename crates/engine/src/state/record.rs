//! What hull keeps about one container: its [`Record`] (the config it was created from and the
//! [`State`] it is in), as `container.json` holds it.

use std::io;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use hull_net::PortMap;
use serde::{Deserialize, Serialize};

use crate::run::RunConfig;

/// The exit code of a container whose runner died without recording one (Docker's).
pub const UNKNOWN_EXIT: i32 = 255;

/// Docker's rule for container names: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`.
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() >= 2
        && chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// Where a container is in its life. Exited keeps its code; a record that says Running whose
/// runner is gone is read back as Exited (see [`Containers::load`]).
///
/// [`Containers::load`]: crate::state::Containers::load
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Status {
    #[default]
    Created,
    Running,
    /// Exited, and its monitor runs it again after the restart policy's delay.
    Restarting,
    Exited,
    /// Its record cannot be read (left empty or torn by a power loss, damaged on disk): never
    /// written, only read back ([`Containers::dead_record`]). `ps -a` shows it and `rm` removes
    /// it.
    ///
    /// [`Containers::dead_record`]: crate::state::Containers::dead_record
    Dead,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    pub status: Status,
    #[serde(default)]
    pub pid: Option<i32>,
    #[serde(default)]
    pub exit_code: Option<i32>,
    #[serde(default)]
    pub started_at: Option<String>,
    #[serde(default)]
    pub finished_at: Option<String>,
    #[serde(default)]
    pub oom_killed: bool,
    /// Frozen by `hull pause` (meaningful while Running).
    #[serde(default)]
    pub paused: bool,
    /// Times the monitor ran the container again under its restart policy.
    #[serde(default)]
    pub restart_count: u32,
    /// Set by `hull stop`/`kill` (Docker's HasBeenManuallyStopped): no restart after this exit.
    #[serde(default)]
    pub stopped_by_user: bool,
    /// Networks added by `hull network connect` while it runs (the run's own network is not
    /// listed here).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_networks: Vec<String>,
    /// What each of those attachments got (address, gateway, MAC, names), for inspect.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_attachments: Vec<NetworkState>,
    /// The network a run attached it to, while it runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<NetworkState>,
    /// The health check's results, from the first start of a container that has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<crate::state::health::Health>,
}

impl State {
    /// Forgets every network attachment: the run that held them ended.
    pub fn clear_networks(&mut self) {
        self.network = None;
        self.extra_networks.clear();
        self.extra_attachments.clear();
    }
}

/// Everything hull keeps about one container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub id: String,
    pub name: String,
    /// The image as the user named it.
    pub image: String,
    /// The image ID (`sha256:…`) the container was created from.
    pub image_id: String,
    /// RFC 3339.
    pub created: String,
    /// The command line the container runs (Entrypoint + Cmd resolved), for `ps`.
    #[serde(default)]
    pub command: Vec<String>,
    pub config: RunConfig,
    pub state: State,
}

impl Record {
    pub fn short_id(&self) -> &str {
        &self.id[..12]
    }
}

/// The configuration a dead record reads with: nothing is known, and nothing runs from it
/// (start refuses a dead container).
pub(crate) fn unknown_config() -> RunConfig {
    struct Nothing;
    impl crate::run::Host for Nothing {
        fn env(&self, _: &str) -> Option<String> {
            None
        }
        fn read_file(&self, path: &Path) -> io::Result<String> {
            Err(io::Error::new(
                io::ErrorKind::NotFound,
                path.display().to_string(),
            ))
        }
    }
    let options = crate::run::RunOptions {
        image: "<unknown>".into(),
        ..Default::default()
    };
    let mut config = RunConfig::from_options(&options, &Nothing).expect("default flags are valid");
    config.image = String::new();
    config
}

/// A record for unit tests: `opts` (image `busybox` when none is given) through the real flag
/// parser, ID `4f2a9c1b7e3d` padded to 64 hex, name `web`, created 2026-01-01T00:00:00Z, no
/// command, a default state. Tests set what they look at with struct update syntax.
#[cfg(test)]
pub(crate) fn test_record(mut opts: crate::run::RunOptions) -> Record {
    if opts.image.is_empty() {
        opts.image = "busybox".into();
    }
    Record {
        id: "4f2a9c1b7e3d".to_string() + &"0".repeat(52),
        name: "web".into(),
        image: opts.image.clone(),
        image_id: "sha256:00".into(),
        created: "2026-01-01T00:00:00Z".into(),
        command: vec![],
        config: RunConfig::from_options(&opts, &crate::run::RealHost)
            .expect("test flags are valid"),
        state: State::default(),
    }
}

/// What the record keeps of a running container's network (for `ps`, `inspect`, `port` and
/// the DNS responder); cleared when the run ends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkState {
    pub network: String,
    pub network_id: String,
    pub ip: Ipv4Addr,
    pub gateway: Ipv4Addr,
    pub prefix_len: u8,
    pub mac: String,
    /// The container's name first, then `--network-alias`es.
    pub aliases: Vec<String>,
    /// The published ports, random host ports resolved.
    pub ports: Vec<PortMap>,
    /// The container's network namespace, `/proc/<init pid>/ns/net`.
    pub netns: PathBuf,
}
