//! The composition root: one [`Engine`] per store root (its container records, image store and
//! runtime), [`EngineError`] (every concern's error, as Docker's exit codes read them) and
//! `create`. The concerns extend `Engine` with their commands: running and removing a
//! container in `lifecycle/`, the network glue in `endpoint/`, `cp` in `copy/`.
//!
//! ```no_run
//! # use hull_engine::{Engine, run::{RunConfig, RunOptions, RealHost}};
//! let engine = Engine::open("/var/lib/hull".as_ref()).unwrap();
//! let opts = RunOptions { image: "busybox".into(), args: vec!["true".into()], ..Default::default() };
//! let config = RunConfig::from_options(&opts, &RealHost).unwrap();
//! let record = engine.create(config).unwrap();       // image must be in the store
//! let code = engine.run(&record.id).unwrap();         // foreground; removes it with --rm
//! ```

use std::io;
use std::path::{Path, PathBuf};

use hull_image::store::StoreError;
use hull_image::Store;
use hull_runtime::{Runtime, RuntimeError, Step};

use crate::run::spec::{self, SpecError};
use crate::run::user::UserError;
use crate::run::RunConfig;
use crate::state::{ContainerError, Containers, Record};

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Container(#[from] ContainerError),
    #[error(transparent)]
    Image(#[from] StoreError),
    #[error(transparent)]
    Spec(#[from] SpecError),
    #[error(transparent)]
    User(#[from] UserError),
    #[error("container {id}: {op} {path}: {source}")]
    Io {
        id: String,
        op: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    /// The runtime's own message names the container.
    #[error("runtime {op}")]
    Runtime {
        id: String,
        op: &'static str,
        #[source]
        source: Box<RuntimeError>,
    },
    #[error("container {0} is already running")]
    AlreadyRunning(String),
    #[error("container {0} is not running")]
    NotRunning(String),
    /// The container's monitor could not start it: `docker run`'s exit code and its reason.
    #[error("{message}")]
    StartFailed {
        id: String,
        code: u8,
        message: String,
    },
    /// `hull update --restart` of a `--rm` container, refused as Docker refuses it.
    #[error("container {0}: Conflicting options: --restart and --rm")]
    RestartWithRm(String),
    #[error("container {0} is already paused")]
    AlreadyPaused(String),
    #[error("container {0} is not paused")]
    NotPaused(String),
    #[error("container {0} is paused, unpause the container before exec")]
    ExecPaused(String),
    #[error(transparent)]
    Signal(#[from] crate::run::BadSignal),
    #[error("conflict: you cannot remove a running container {0}: stop it first or use -f")]
    RemoveRunning(String),
    #[error(transparent)]
    Copy(#[from] crate::copy::CopyError),
    #[error(transparent)]
    Network(#[from] crate::endpoint::netrun::NetRunError),
    #[error(transparent)]
    Volume(#[from] crate::volume::VolumeError),
    #[error(transparent)]
    Commit(#[from] crate::commit::CommitError),
    /// `rmi` of an image a container uses: Docker's conflict message.
    #[error("{0}")]
    ImageConflict(String),
}

impl EngineError {
    /// `docker run`'s exit code for an engine failure: 127 when the command does not exist, 126
    /// when it cannot be run, else 125.
    pub fn exit_code(&self) -> u8 {
        match self {
            EngineError::Runtime { source, .. } => command_failure_code(source),
            EngineError::StartFailed { code, .. } => *code,
            _ => 125,
        }
    }
}

/// Docker's codes for a command that cannot run: 127 not found, 126 not executable (including
/// an execve that fails with EACCES or ENOEXEC); any other runtime failure is the engine's, 125.
fn command_failure_code(e: &RuntimeError) -> u8 {
    match e {
        RuntimeError::Init {
            step: Step::NotFound,
            ..
        } => 127,
        RuntimeError::Init {
            step: Step::NotExecutable,
            ..
        } => 126,
        RuntimeError::Exec {
            step: Step::NotFound,
            ..
        } => 127,
        RuntimeError::Exec {
            step: Step::NotExecutable,
            ..
        } => 126,
        RuntimeError::ExecFailed { errno, .. } if *errno == libc::ENOENT => 127,
        RuntimeError::ExecFailed { .. } => 126,
        _ => 125,
    }
}

pub(crate) fn io_err<'a>(
    id: &'a str,
    op: &'static str,
    path: &'a Path,
) -> impl FnOnce(io::Error) -> EngineError + 'a {
    move |source| EngineError::Io {
        id: id.to_string(),
        op,
        path: path.to_path_buf(),
        source,
    }
}

pub(crate) fn rt_err<'a>(
    id: &'a str,
    op: &'static str,
) -> impl FnOnce(RuntimeError) -> EngineError + 'a {
    move |source| EngineError::Runtime {
        id: id.to_string(),
        op,
        source: Box::new(source),
    }
}

pub struct Engine {
    pub(crate) root: PathBuf,
    pub containers: Containers,
    pub images: Store,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").field("root", &self.root).finish()
    }
}

pub(crate) fn now() -> String {
    hull_image::pull::now_rfc3339()
}

impl Engine {
    pub fn open(root: &Path) -> Result<Engine, EngineError> {
        Ok(Engine {
            root: root.to_path_buf(),
            containers: Containers::open(root)?,
            images: Store::open(root)?,
        })
    }

    pub(crate) fn runtime(&self) -> Result<Runtime, EngineError> {
        Runtime::new(self.root.join("runtime"))
            .map(|rt| rt.with_seccomp_cache(self.root.join("cache").join("seccomp")))
            .map_err(rt_err("-", "open runtime"))
    }

    /// Records a new container for `config` (status Created). The image must be in the store;
    /// pulling is the caller's business.
    pub fn create(&self, mut config: RunConfig) -> Result<Record, EngineError> {
        let image = self.images.resolve(&config.image)?;
        let image_config = self.images.config(&image.id)?.config.unwrap_or_default();
        // Fails here, before anything is recorded or any volume made, when there is nothing
        // to run or the name is taken (checked again under the names lock when recording).
        let command = spec::command(&image_config, &config)?;
        self.check_name_free(config.name.as_deref())?;
        config.labels = crate::run::labels::merge(image_config.labels.as_ref(), &config.labels);
        self.volumes_at_create(&mut config, &image_config)?;
        let image_health = crate::run::health::from_image(&image_config);
        config.healthcheck = crate::run::health::merge(image_health.as_ref(), config.healthcheck);
        config.stop_signal = config.stop_signal.or(image_config.stop_signal.clone());
        let image_ref = config.image.clone();
        let record =
            (self.containers).create(config, command, &image_ref, &image.id.to_string(), now())?;
        self.container_event(&record, "create", &[]);
        Ok(record)
    }

    fn check_name_free(&self, name: Option<&str>) -> Result<(), EngineError> {
        let Some(name) = name else { return Ok(()) };
        match self.containers.list()?.into_iter().find(|r| r.name == name) {
            Some(owner) => Err(ContainerError::NameInUse {
                name: name.to_string(),
                id: owner.id,
            }
            .into()),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hull_runtime::InitError;

    fn init_error(step: Step) -> InitError {
        InitError {
            step,
            message: "x".into(),
            errno: None,
        }
    }

    #[test]
    fn runtime_errors_map_to_dockers_exit_codes() {
        let init = |step| EngineError::Runtime {
            id: "c".into(),
            op: "create",
            source: Box::new(RuntimeError::Init {
                id: "c".into(),
                step,
                cause: init_error(step),
            }),
        };
        assert_eq!(init(Step::NotFound).exit_code(), 127);
        assert_eq!(init(Step::NotExecutable).exit_code(), 126);
        assert_eq!(init(Step::Cwd).exit_code(), 125);
        let exec = |errno| EngineError::Runtime {
            id: "c".into(),
            op: "start",
            source: Box::new(RuntimeError::ExecFailed {
                id: "c".into(),
                errno,
            }),
        };
        assert_eq!(exec(libc::ENOEXEC).exit_code(), 126);
        assert_eq!(exec(libc::ENOENT).exit_code(), 127);
        assert_eq!(EngineError::AlreadyRunning("x".into()).exit_code(), 125);
        let exec_step = |step| EngineError::Runtime {
            id: "c".into(),
            op: "exec",
            source: Box::new(RuntimeError::Exec {
                id: "c".into(),
                step,
                cause: init_error(step),
            }),
        };
        assert_eq!(exec_step(Step::NotFound).exit_code(), 127);
        assert_eq!(exec_step(Step::NotExecutable).exit_code(), 126);
        assert_eq!(exec_step(Step::JoinNamespace).exit_code(), 125);
    }
}
