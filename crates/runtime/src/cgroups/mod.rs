//! Cgroups v1 and v2, detected at run time, written as plain files under a root that is passed
//! in, so tests run against a fake cgroupfs in a temp dir.
//!
//! Lifecycle, as the runtime drives it:
//!
//! ```no_run
//! # use hull_runtime::cgroups::{Cgroup, CgroupRoot};
//! # use hull_oci::runtime::Resources;
//! # fn demo(init_pid: i32, resources: &Resources) -> Result<(), Box<dyn std::error::Error>> {
//! let root = CgroupRoot::detect()?; // once per process: v1 or v2, where, and our own cgroup
//! let cg = Cgroup::create(&root, "/hull/abc", resources)?; // mkdir + limits (+ device filter)
//! cg.add_process(init_pid)?; // before init execs the user's program
//! // ... the container runs; `hull stats` calls cg.stats(), `hull pause` cg.freeze() ...
//! let cg = Cgroup::open(&root, "/hull/abc")?; // from a later CLI process
//! let oom = cg.oom_killed()?; // after the container exits: report OOMKilled
//! cg.kill_all(9)?; // nothing may be left for rmdir to succeed
//! cg.delete()?; // idempotent
//! # let _ = oom; Ok(()) }
//! ```
//!
//! Paths follow OCI `linux.cgroupsPath`: an absolute path is relative to the hierarchy's root, a
//! relative one to the caller's own cgroup (from `/proc/self/cgroup`) on v1, and to its parent
//! on v2 (as runc: the caller's own cgroup holds the caller, so it cannot enable controllers for
//! children). The systemd form `slice:prefix:name` is for the systemd driver (`systemd/`): the
//! scope systemd makes is then opened here like any other cgroup.

mod detect;
mod devices;
mod plan;
mod procs;
mod root;
mod stats;
mod subgroup;
pub mod systemd;
mod tree;

use std::fs;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::time::Duration;

use hull_oci::runtime::Resources;

pub use detect::{Hierarchy, Layout};
pub use root::CgroupRoot;
pub use stats::CgroupStats;
pub use subgroup::SubCgroups;
pub use tree::remove_if_empty;

use plan::{IfMissing, Write};
use root::Dirs;

/// v2 controllers enabled for children in every ancestor's `cgroup.subtree_control`.
const V2_CONTROLLERS: &[&str] = &["cpu", "cpuset", "hugetlb", "io", "memory", "pids"];

/// How long `delete` retries `rmdir` on EBUSY: exiting processes leave the cgroup a moment after
/// their parent has reaped them.
const RMDIR_PATIENCE: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error("read mount table {path}")]
    Detect { path: PathBuf, source: io::Error },
    #[error("no cgroup file system is mounted")]
    NotMounted,
    #[error("no cgroup {} hierarchy is mounted on this host", version.as_str())]
    VersionNotMounted { version: CgroupVersion },
    #[error("cgroup path {path:?}: the slice:prefix:name form needs the systemd cgroup driver (--systemd-cgroup)")]
    SystemdUnsupported { path: String },
    #[error("cgroup path {path:?} for the systemd cgroup driver: {reason}")]
    SystemdPath { path: String, reason: String },
    #[error("systemd cgroup driver: {reason}")]
    SystemdUnavailable { reason: String },
    #[error("systemd: {op} {unit}")]
    Systemd {
        op: &'static str,
        unit: String,
        source: Box<zbus::Error>,
    },
    #[error("systemd: {op} {unit}: the job ended {result:?}")]
    SystemdJob {
        op: &'static str,
        unit: String,
        result: String,
    },
    #[error("cgroup path {path:?}: {reason}")]
    InvalidPath { path: String, reason: &'static str },
    #[error("invalid cgroup resource {what}: {reason}")]
    InvalidResource { what: &'static str, reason: String },
    #[error("cgroup v1 controller {controller} is not mounted, needed to write {file}")]
    ControllerMissing { controller: String, file: String },
    #[error("cgroup v2 controller {controller} is not available in {dir} (cgroup.controllers), needed to write {file}")]
    ControllerUnavailable {
        controller: String,
        file: String,
        dir: PathBuf,
    },
    /// A knob the spec asks for whose file exists only with a kernel feature the host lacks.
    #[error("{knob}: the host has no {feature} (cgroup {version} {missing} missing)")]
    HostLacks {
        /// `file=value`, as the other write errors name a write.
        knob: String,
        feature: &'static str,
        version: &'static str,
        /// The files looked for ("a" or "a and b").
        missing: String,
    },
    #[error("cgroup {path} does not exist")]
    NotFound { path: String },
    #[error("create cgroup directory {dir}")]
    Create { dir: PathBuf, source: io::Error },
    #[error("write {file}={value} in {dir}")]
    Write {
        file: String,
        value: String,
        dir: PathBuf,
        source: io::Error,
    },
    #[error("read {file} in {dir}")]
    Read {
        file: String,
        dir: PathBuf,
        source: io::Error,
    },
    #[error("lock cgroup hierarchy {dir}")]
    Lock { dir: PathBuf, source: io::Error },
    #[error("remove cgroup directory {dir}")]
    Remove { dir: PathBuf, source: io::Error },
    #[error("attach device filter to {dir}")]
    DeviceFilter { dir: PathBuf, source: io::Error },
    #[error("signal {signal} to pid {pid} of cgroup {path}")]
    Kill {
        signal: i32,
        pid: i32,
        path: String,
        source: io::Error,
    },
    #[error("freeze {dir}: not frozen after {waited:?}")]
    FreezeTimeout { dir: PathBuf, waited: Duration },
}

impl CgroupError {
    /// The io::ErrorKind behind the error, for callers that match on NotFound/InvalidInput.
    pub fn kind(&self) -> io::ErrorKind {
        match self {
            CgroupError::Detect { source, .. }
            | CgroupError::Create { source, .. }
            | CgroupError::Write { source, .. }
            | CgroupError::Read { source, .. }
            | CgroupError::Remove { source, .. }
            | CgroupError::Lock { source, .. }
            | CgroupError::DeviceFilter { source, .. }
            | CgroupError::Kill { source, .. } => source.kind(),
            CgroupError::NotFound { .. }
            | CgroupError::NotMounted
            | CgroupError::VersionNotMounted { .. } => io::ErrorKind::NotFound,
            CgroupError::SystemdUnsupported { .. }
            | CgroupError::SystemdUnavailable { .. }
            | CgroupError::ControllerMissing { .. }
            | CgroupError::ControllerUnavailable { .. }
            | CgroupError::HostLacks { .. } => io::ErrorKind::Unsupported,
            CgroupError::InvalidPath { .. }
            | CgroupError::InvalidResource { .. }
            | CgroupError::SystemdPath { .. } => io::ErrorKind::InvalidInput,
            CgroupError::Systemd { .. } | CgroupError::SystemdJob { .. } => io::ErrorKind::Other,
            CgroupError::FreezeTimeout { .. } => io::ErrorKind::TimedOut,
        }
    }
}

/// cgroup v1 or v2 (`"v1"`/`"v2"` in state files).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CgroupVersion {
    V1,
    V2,
}

impl CgroupVersion {
    pub fn as_str(self) -> &'static str {
        match self {
            CgroupVersion::V1 => "v1",
            CgroupVersion::V2 => "v2",
        }
    }
}

/// One container's cgroup (a directory in every v1 hierarchy, or the one v2 directory).
#[derive(Debug, Clone)]
pub struct Cgroup {
    path: String,
    dirs: Dirs,
}

fn read_file(dir: &Path, file: &str) -> Result<String, CgroupError> {
    fs::read_to_string(dir.join(file)).map_err(|source| CgroupError::Read {
        file: file.into(),
        dir: dir.into(),
        source,
    })
}

/// Reads a file that may legitimately be absent (controller not enabled or not mounted).
fn read_optional(dir: &Path, file: &str) -> Result<Option<String>, CgroupError> {
    match read_file(dir, file) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// One `write(2)` of the whole value: cgroup files parse each write on its own, so the value
/// must not be split. No O_CREAT: a missing file is an error, as on the real cgroupfs.
fn write_file(dir: &Path, file: &str, value: &str) -> Result<(), CgroupError> {
    fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(dir.join(file))
        .and_then(|mut f| f.write_all(value.as_bytes()))
        .map_err(|source| CgroupError::Write {
            file: file.into(),
            value: value.into(),
            dir: dir.into(),
            source,
        })
}

/// v2: a controller's files exist in a cgroup only when its parent passed the controller down
/// (listed in the cgroup's `cgroup.controllers`); name it rather than the missing file.
fn check_offered(offered: &str, w: &Write, dir: &Path) -> Result<(), CgroupError> {
    if w.controller.is_empty() || offered.split_whitespace().any(|c| c == w.controller) {
        return Ok(());
    }
    Err(CgroupError::ControllerUnavailable {
        controller: w.controller.into(),
        file: w.file.clone(),
        dir: dir.into(),
    })
}

impl Cgroup {
    /// Creates the cgroup `path` (e.g. "/hull/<id>"), with any missing parents, and applies
    /// `resources`. On failure whatever was created for the leaf is removed again.
    pub fn create(
        root: &CgroupRoot,
        path: &str,
        resources: &Resources,
    ) -> Result<Cgroup, CgroupError> {
        let cg = Cgroup {
            path: path.to_string(),
            dirs: root.dirs_of(path)?,
        };
        // Validate before touching the file system, so a bad spec leaves nothing behind.
        let writes = cg.plan(resources)?;
        let made = tree::create(&cg.dirs, &mut |_| {});
        let applied = made.and_then(|()| cg.apply(&writes, resources));
        if let Err(e) = applied {
            let _ = cg.delete();
            return Err(e);
        }
        Ok(cg)
    }

    /// Opens an existing cgroup; NotFound when it exists in no hierarchy.
    pub fn open(root: &CgroupRoot, path: &str) -> Result<Cgroup, CgroupError> {
        let cg = Cgroup {
            path: path.to_string(),
            dirs: root.dirs_of(path)?,
        };
        if !cg.distinct_dirs().iter().any(|d| d.is_dir()) {
            return Err(CgroupError::NotFound { path: path.into() });
        }
        Ok(cg)
    }

    /// Enables, where they are not yet, the controllers hull uses in every level above an
    /// existing cgroup (a systemd scope: systemd passes down only those it manages, not
    /// hugetlb), as runc does. Best effort: a write that fails leaves the knobs of that
    /// controller to fail by name.
    pub fn enable_parent_controllers(&self) {
        let _ = tree::create(&self.dirs, &mut |_| {});
    }

    /// Applies `resources` to an existing cgroup (`update`). Device rules are added to
    /// what is there; on v2 a further filter is attached, and every attached one must allow.
    pub fn update(&self, resources: &Resources) -> Result<(), CgroupError> {
        let mut writes = self.plan(resources)?;
        if let (CgroupVersion::V1, Some(dir)) = (self.version(), self.dir("memory")) {
            let current = read_optional(dir, "memory.limit_in_bytes")?;
            let current = current.and_then(|t| t.trim().parse::<i64>().ok());
            plan::order_v1_swap(&mut writes, current);
        }
        self.apply(&writes, resources)
    }

    /// The path this cgroup was created or opened with.
    pub fn path(&self) -> &str {
        &self.path
    }

    pub fn version(&self) -> CgroupVersion {
        match self.dirs {
            Dirs::V1(_) => CgroupVersion::V1,
            Dirs::V2 { .. } => CgroupVersion::V2,
        }
    }

    /// The cgroup's directory for a v1 controller (any controller on v2).
    pub fn dir(&self, controller: &str) -> Option<&Path> {
        match &self.dirs {
            Dirs::V1(dirs) => dirs.get(controller).map(|(_, d)| d.as_path()),
            Dirs::V2 { dir, .. } => Some(dir),
        }
    }

    /// Every directory of the cgroup, once each (co-mounted v1 controllers share one).
    pub fn distinct_dirs(&self) -> Vec<&Path> {
        self.dirs.distinct()
    }

    fn plan(&self, r: &Resources) -> Result<Vec<Write>, CgroupError> {
        match self.dirs {
            Dirs::V1(_) => plan::v1_writes(r),
            Dirs::V2 { .. } => plan::v2_writes(r),
        }
    }

    fn dir_for_write(&self, w: &Write) -> Result<&Path, CgroupError> {
        self.dir(w.controller)
            .ok_or_else(|| CgroupError::ControllerMissing {
                controller: w.controller.into(),
                file: w.file.clone(),
            })
    }

    fn apply(&self, writes: &[Write], r: &Resources) -> Result<(), CgroupError> {
        let offered = match &self.dirs {
            Dirs::V2 { dir, .. } if !writes.is_empty() => {
                Some(read_file(dir, "cgroup.controllers")?)
            }
            _ => None,
        };
        for w in writes {
            let dir = self.dir_for_write(w)?;
            if let Some(offered) = &offered {
                check_offered(offered, w, dir)?;
            }
            if dir.join(&w.file).exists() {
                write_file(dir, &w.file, &w.value)?;
                continue;
            }
            self.write_missing(dir, w)?;
        }
        if r.devices.is_empty() {
            return Ok(());
        }
        match &self.dirs {
            Dirs::V2 { dir, .. } => devices::attach(dir, &r.devices),
            Dirs::V1(_) => {
                let lines = devices::v1_lines(&r.devices)?;
                let dir = self
                    .dir("devices")
                    .ok_or_else(|| CgroupError::ControllerMissing {
                        controller: "devices".into(),
                        file: "devices.allow".into(),
                    })?;
                lines
                    .iter()
                    .try_for_each(|(file, line)| write_file(dir, file, line))
            }
        }
    }

    /// A [`Write`] whose file is not in `dir`: its fallback, or an error naming what is missing.
    fn write_missing(&self, dir: &Path, w: &Write) -> Result<(), CgroupError> {
        let version = self.version().as_str();
        let lacks = |feature, file: &str, value: &str, missing: String| CgroupError::HostLacks {
            knob: format!("{file}={value}"),
            feature,
            version,
            missing,
        };
        match &w.if_missing {
            IfMissing::Fail => write_file(dir, &w.file, &w.value),
            IfMissing::Feature(feature) => Err(lacks(feature, &w.file, &w.value, w.file.clone())),
            IfMissing::Fallback {
                file,
                value,
                feature,
            } => {
                if !dir.join(file).exists() {
                    let missing = format!("{} and {file}", w.file);
                    return Err(lacks(feature, file, value, missing));
                }
                write_file(dir, file, value)
            }
            IfMissing::HugepageSize(size) => Err(CgroupError::InvalidResource {
                what: "hugepageLimits",
                reason: format!("the host has no {size} huge pages"),
            }),
        }
    }

    /// Usage figures for `hull stats`; a figure is `None` where its controller is missing.
    pub fn stats(&self) -> Result<CgroupStats, CgroupError> {
        match &self.dirs {
            Dirs::V2 { dir, .. } => stats::v2(dir),
            Dirs::V1(_) => stats::v1(|c| self.dir(c)),
        }
    }

    /// Removes the cgroup's directory in every hierarchy, waiting briefly for exiting processes
    /// to leave. Missing directories are fine, so it is idempotent. Parents such as `/hull` are
    /// left in place: another container may be creating its own cgroup under them right now.
    pub fn delete(&self) -> Result<(), CgroupError> {
        self.distinct_dirs()
            .into_iter()
            .try_for_each(tree::rmdir_patiently)
    }
}

#[cfg(test)]
mod tests;
