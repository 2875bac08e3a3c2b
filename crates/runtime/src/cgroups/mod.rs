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
//! children). The systemd form `slice:prefix:name` is refused.

mod detect;
mod devices;
mod plan;
mod stats;
mod tree;

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use hull_oci::runtime::Resources;

pub use detect::{Hierarchy, Layout};
pub use stats::CgroupStats;
pub use tree::remove_if_empty;

use plan::{IfMissing, Write};

/// Where cgroup file systems are conventionally mounted; only [`CgroupRoot::detect`] uses it.
const DEFAULT_ROOT: &str = "/sys/fs/cgroup";

/// v2 controllers enabled for children in every ancestor's `cgroup.subtree_control`.
const V2_CONTROLLERS: &[&str] = &["cpu", "cpuset", "hugetlb", "io", "memory", "pids"];

/// How long `delete` retries `rmdir` on EBUSY: exiting processes leave the cgroup a moment after
/// their parent has reaped them.
const RMDIR_PATIENCE: Duration = Duration::from_secs(2);

/// How long `freeze` waits for every task to reach the frozen state.
const FREEZE_PATIENCE: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error("read mount table {path}")]
    Detect { path: PathBuf, source: io::Error },
    #[error("no cgroup file system is mounted")]
    NotMounted,
    #[error("no cgroup {} hierarchy is mounted on this host", version.as_str())]
    VersionNotMounted { version: CgroupVersion },
    #[error("cgroup path {path:?}: systemd cgroup driver not supported")]
    SystemdUnsupported { path: String },
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
            | CgroupError::ControllerMissing { .. }
            | CgroupError::ControllerUnavailable { .. }
            | CgroupError::HostLacks { .. } => io::ErrorKind::Unsupported,
            CgroupError::InvalidPath { .. } | CgroupError::InvalidResource { .. } => {
                io::ErrorKind::InvalidInput
            }
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

/// The host's cgroup layout plus the caller's own cgroup (for relative paths).
#[derive(Debug, Clone)]
pub struct CgroupRoot {
    layout: Layout,
    /// The hierarchies of the other version, where the host mounts both (a hybrid host's
    /// cgroup2 at `/sys/fs/cgroup/unified`): containers made there are still found.
    other: Option<Layout>,
    own: BTreeMap<String, String>,
}

impl CgroupRoot {
    /// Reads /proc/self/mountinfo and /proc/self/cgroup: v2 when cgroup2 is mounted at
    /// /sys/fs/cgroup (or is the only cgroup file system with controllers), else v1.
    pub fn detect() -> Result<CgroupRoot, CgroupError> {
        let read = |path: &str| {
            fs::read_to_string(path).map_err(|source| CgroupError::Detect {
                path: path.into(),
                source,
            })
        };
        let mountinfo = read("/proc/self/mountinfo")?;
        let own = read("/proc/self/cgroup")?;
        CgroupRoot::detect_from(&mountinfo, &own, Path::new(DEFAULT_ROOT))
    }

    /// [`CgroupRoot::detect`] from given texts, with `root` where a unified hierarchy would be.
    pub fn detect_from(
        mountinfo: &str,
        proc_self_cgroup: &str,
        root: &Path,
    ) -> Result<CgroupRoot, CgroupError> {
        let layout =
            detect::layout_from_mountinfo(mountinfo, root).ok_or(CgroupError::NotMounted)?;
        Ok(CgroupRoot {
            other: detect::other_layout(mountinfo, &layout),
            layout,
            own: detect::own_cgroups(proc_self_cgroup),
        })
    }

    /// A v2 hierarchy mounted at `mount` (a fake cgroupfs in tests); the caller is in `/`.
    pub fn v2_at(mount: impl Into<PathBuf>) -> CgroupRoot {
        CgroupRoot {
            layout: Layout::V2(Hierarchy {
                mount: mount.into(),
                root: "/".into(),
            }),
            other: None,
            own: BTreeMap::new(),
        }
    }

    /// v1 hierarchies: controller (or `name=...`) → mount point; co-mounted controllers give
    /// the same mount point. The caller is in `/` everywhere.
    pub fn v1_at(mounts: BTreeMap<String, PathBuf>) -> CgroupRoot {
        let hierarchies = mounts
            .into_iter()
            .map(|(key, mount)| {
                let root = "/".to_string();
                (key, Hierarchy { mount, root })
            })
            .collect();
        CgroupRoot {
            layout: Layout::V1(hierarchies),
            other: None,
            own: BTreeMap::new(),
        }
    }

    /// Sets the caller's own cgroups from the text of `/proc/self/cgroup`.
    pub fn with_own_cgroups(mut self, proc_self_cgroup: &str) -> CgroupRoot {
        self.own = detect::own_cgroups(proc_self_cgroup);
        self
    }

    pub fn version(&self) -> CgroupVersion {
        match self.layout {
            Layout::V1(_) => CgroupVersion::V1,
            Layout::V2(_) => CgroupVersion::V2,
        }
    }

    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The same host seen through its hierarchies of `version`: itself when that is the version
    /// in use, the other mounted version's hierarchies otherwise (a container's state records
    /// where its cgroup was made, see `state.rs`).
    pub fn for_version(&self, version: CgroupVersion) -> Result<CgroupRoot, CgroupError> {
        if version == self.version() {
            return Ok(self.clone());
        }
        let layout = self
            .other
            .clone()
            .ok_or(CgroupError::VersionNotMounted { version })?;
        Ok(CgroupRoot {
            layout,
            other: Some(self.layout.clone()),
            own: self.own.clone(),
        })
    }

    /// Whether a memory+swap limit can be applied (swap accounting: `memory.memsw.*` on v1,
    /// `memory.swap.max` on v2). Docker drops `--memory-swap` with a warning when it cannot;
    /// [`Cgroup::create`] fails instead, naming the feature, so the engine should ask first.
    pub fn supports_swap_limit(&self) -> bool {
        match &self.layout {
            Layout::V1(map) => map
                .get("memory")
                .is_some_and(|h| h.mount.join("memory.memsw.limit_in_bytes").exists()),
            Layout::V2(h) => v2_swap_accounting(h, self.own.get("").map_or("/", |o| o)),
        }
    }

    /// Warnings for the fields of `r` that [`Cgroup::create`] skips on this host (see
    /// `plan::ignored`): kernel memory, and the v1-only knobs on v2.
    pub fn ignored_resources(&self, r: &Resources) -> Vec<String> {
        plan::ignored(r, self.version() == CgroupVersion::V2)
    }

    /// The absolute cgroup path of `path` in the hierarchy of `key` (`""` on v2).
    fn cgroup_path(&self, key: &str, path: &str) -> Result<String, CgroupError> {
        let invalid = |reason| CgroupError::InvalidPath {
            path: path.into(),
            reason,
        };
        if path.contains(':') {
            return Err(CgroupError::SystemdUnsupported { path: path.into() });
        }
        let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
        if parts.is_empty() {
            return Err(invalid("must name a cgroup below the root"));
        }
        if parts.iter().any(|p| *p == "." || *p == "..") {
            return Err(invalid("must not contain . or .. components"));
        }
        let base = match self.own.get(key) {
            _ if path.starts_with('/') => "",
            None => "",
            // v2, as runc: below our cgroup's parent. Ours holds us, and a cgroup with processes
            // cannot pass controllers to children ("no internal processes"): under systemd we
            // sit in a service's or a session's leaf.
            Some(own) if key.is_empty() => own.rsplit_once('/').map_or("", |(parent, _)| parent),
            Some(own) => own.trim_end_matches('/'),
        };
        Ok(format!("{base}/{}", parts.join("/")))
    }

    /// The directories of `path`: one per distinct v1 hierarchy (keyed by each controller it
    /// carries), or the one v2 directory (key `""`).
    fn dirs_of(&self, path: &str) -> Result<Dirs, CgroupError> {
        match &self.layout {
            Layout::V2(h) => Ok(Dirs::V2 {
                mount: h.mount.clone(),
                dir: h.dir_of(&self.cgroup_path("", path)?),
            }),
            Layout::V1(map) => {
                let mut dirs = BTreeMap::new();
                for (key, h) in map {
                    let dir = h.dir_of(&self.cgroup_path(key, path)?);
                    dirs.insert(key.clone(), (h.mount.clone(), dir));
                }
                Ok(Dirs::V1(dirs))
            }
        }
    }
}

/// Whether v2 cgroups get `memory.swap.max`. The root cgroup has none, so look in the first
/// cgroup with the memory controller among ours and the root's children (systemd's slices on
/// most hosts). With none to look at, say yes: [`Cgroup::create`] then names what is missing.
fn v2_swap_accounting(h: &Hierarchy, own: &str) -> bool {
    let children = fs::read_dir(&h.mount)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path());
    std::iter::once(h.dir_of(own))
        .chain(children)
        .find(|dir| dir.join("memory.current").exists())
        .is_none_or(|dir| dir.join("memory.swap.max").exists())
}

#[derive(Debug, Clone)]
enum Dirs {
    /// controller → (hierarchy mount, cgroup dir).
    V1(BTreeMap<String, (PathBuf, PathBuf)>),
    V2 {
        mount: PathBuf,
        dir: PathBuf,
    },
}

impl Dirs {
    /// Every directory once (co-mounted v1 controllers share one).
    fn distinct(&self) -> Vec<&Path> {
        let mut out: Vec<&Path> = match self {
            Dirs::V1(dirs) => dirs.values().map(|(_, d)| d.as_path()).collect(),
            Dirs::V2 { dir, .. } => vec![dir],
        };
        out.sort();
        out.dedup();
        out
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

    /// Applies `resources` to an existing cgroup (`docker update`). Device rules are added to
    /// what is there; on v2 a further filter is attached, and every attached one must allow.
    pub fn update(&self, resources: &Resources) -> Result<(), CgroupError> {
        let writes = self.plan(resources)?;
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

    /// Moves process `pid` into the cgroup, in every hierarchy.
    pub fn add_process(&self, pid: i32) -> Result<(), CgroupError> {
        let pid = pid.to_string();
        self.distinct_dirs()
            .into_iter()
            .try_for_each(|dir| write_file(dir, "cgroup.procs", &pid))
    }

    /// v1 only (None on v2): every hierarchy's `tasks` file, opened for writing by the caller.
    /// A single-threaded process that writes "0" to them moves itself, and the kernel then
    /// skips the threadgroup rwsem write lock whose RCU synchronisation makes the first
    /// `cgroup.procs` write of a [`Cgroup::add_process`] take 5-30 ms.
    pub fn self_join_files(&self) -> Result<Option<Vec<fs::File>>, CgroupError> {
        if matches!(self.dirs, Dirs::V2 { .. }) {
            return Ok(None);
        }
        let open = |dir: &Path| {
            fs::OpenOptions::new()
                .write(true)
                .open(dir.join("tasks"))
                .map_err(|source| CgroupError::Write {
                    file: "tasks".into(),
                    value: "0".into(),
                    dir: dir.into(),
                    source,
                })
        };
        self.distinct_dirs()
            .into_iter()
            .map(open)
            .collect::<Result<_, _>>()
            .map(Some)
    }

    /// Files through which a single-threaded process moves itself into the cgroup by writing
    /// "0": every v1 hierarchy's `tasks`, or the v2 directory's `cgroup.procs` (`exec` joins a
    /// running container's cgroup this way, before it forks the process that will execve).
    pub fn join_files(&self) -> Result<Vec<fs::File>, CgroupError> {
        if let Some(files) = self.self_join_files()? {
            return Ok(files);
        }
        let dir = self.distinct_dirs()[0];
        fs::OpenOptions::new()
            .write(true)
            .open(dir.join("cgroup.procs"))
            .map(|f| vec![f])
            .map_err(|source| CgroupError::Write {
                file: "cgroup.procs".into(),
                value: "0".into(),
                dir: dir.into(),
                source,
            })
    }

    /// `lines` of a `/proc/<pid>/cgroup` (controllers → path) with the path of every v1
    /// hierarchy this cgroup spans replaced by the cgroup's path there: what a member process
    /// of the cgroup that was otherwise where `lines` says reads from its /proc/self/cgroup.
    pub fn member_proc_cgroup(&self, lines: Vec<(String, String)>) -> Vec<(String, String)> {
        let Dirs::V1(dirs) = &self.dirs else {
            return lines;
        };
        let ours = |controllers: &str| {
            let (mount, dir) = controllers.split(',').find_map(|c| dirs.get(c))?;
            let rel = dir.strip_prefix(mount).ok()?;
            Some(format!("/{}", rel.display()))
        };
        lines
            .into_iter()
            .map(|(c, path)| {
                let path = ours(&c).unwrap_or(path);
                (c, path)
            })
            .collect()
    }

    /// Pids of the processes in the cgroup (not in its children).
    pub fn pids(&self) -> Result<Vec<i32>, CgroupError> {
        let dir = ["pids", "memory", "freezer"]
            .iter()
            .find_map(|c| self.dir(c))
            .or_else(|| self.distinct_dirs().first().copied())
            .ok_or_else(|| CgroupError::NotFound {
                path: self.path.clone(),
            })?;
        let text = read_optional(dir, "cgroup.procs")?.unwrap_or_default();
        Ok(text.lines().filter_map(|l| l.trim().parse().ok()).collect())
    }

    /// True when the OOM killer killed a process in this cgroup (`oom_kill N` with N > 0 in
    /// v2 memory.events or v1 memory.oom_control, the latter since Linux 4.13).
    pub fn oom_killed(&self) -> Result<bool, CgroupError> {
        let file = match self.dirs {
            Dirs::V1(_) => "memory.oom_control",
            Dirs::V2 { .. } => "memory.events",
        };
        let Some(dir) = self.dir("memory") else {
            return Ok(false);
        };
        let text = read_optional(dir, file)?.unwrap_or_default();
        Ok(stats::keyed(&text, "oom_kill").is_some_and(|n| n > 0))
    }

    /// Stops every task (`hull pause`) and waits until the kernel reports them frozen.
    pub fn freeze(&self) -> Result<(), CgroupError> {
        self.set_frozen(true)
    }

    /// Resumes the tasks after [`Cgroup::freeze`].
    pub fn thaw(&self) -> Result<(), CgroupError> {
        self.set_frozen(false)
    }

    fn set_frozen(&self, frozen: bool) -> Result<(), CgroupError> {
        let (dir, file, value, state_file, want) = match &self.dirs {
            Dirs::V2 { dir, .. } => {
                let (v, want) = if frozen {
                    ("1", "frozen 1")
                } else {
                    ("0", "frozen 0")
                };
                (dir.as_path(), "cgroup.freeze", v, "cgroup.events", want)
            }
            Dirs::V1(_) => {
                let dir = self
                    .dir("freezer")
                    .ok_or_else(|| CgroupError::ControllerMissing {
                        controller: "freezer".into(),
                        file: "freezer.state".into(),
                    })?;
                let v = if frozen { "FROZEN" } else { "THAWED" };
                (dir, "freezer.state", v, "freezer.state", v)
            }
        };
        write_file(dir, file, value)?;
        let start = Instant::now();
        loop {
            if read_file(dir, state_file)?
                .lines()
                .any(|l| l.trim() == want)
            {
                return Ok(());
            }
            if start.elapsed() > FREEZE_PATIENCE {
                return Err(CgroupError::FreezeTimeout {
                    dir: dir.into(),
                    waited: start.elapsed(),
                });
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Sends `signal` to every process in the cgroup. SIGKILL on v2 uses `cgroup.kill` (Linux
    /// 5.14+), which also catches processes forked meanwhile; otherwise the cgroup is frozen (if
    /// it can be) while signalling, so nothing forks between reading the list and the kill.
    pub fn kill_all(&self, signal: i32) -> Result<(), CgroupError> {
        if let Dirs::V2 { dir, .. } = &self.dirs {
            if signal == libc::SIGKILL && dir.join("cgroup.kill").exists() {
                return write_file(dir, "cgroup.kill", "1");
            }
        }
        let sig = rustix::process::Signal::from_named_raw(signal).ok_or_else(|| {
            CgroupError::InvalidResource {
                what: "signal",
                reason: format!("{signal} is not a signal"),
            }
        })?;
        let frozen = self.freeze().is_ok();
        let result = self.signal_each(sig, signal);
        if frozen {
            self.thaw()?;
        }
        result
    }

    fn signal_each(&self, sig: rustix::process::Signal, raw: i32) -> Result<(), CgroupError> {
        for pid in self.pids()? {
            let Some(p) = rustix::process::Pid::from_raw(pid) else {
                continue;
            };
            match rustix::process::kill_process(p, sig) {
                Ok(()) | Err(rustix::io::Errno::SRCH) => {}
                Err(e) => {
                    return Err(CgroupError::Kill {
                        signal: raw,
                        pid,
                        path: self.path.clone(),
                        source: io::Error::from_raw_os_error(e.raw_os_error()),
                    })
                }
            }
        }
        Ok(())
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
