//! The host side: where the hierarchies are ([`CgroupRoot`], detected or given) and where a
//! cgroup path lands in them.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use hull_oci::runtime::Resources;

use super::{detect, plan, CgroupError, CgroupVersion, Hierarchy, Layout};

/// Where cgroup file systems are conventionally mounted; only [`CgroupRoot::detect`] uses it.
const DEFAULT_ROOT: &str = "/sys/fs/cgroup";

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
    /// [`Cgroup::create`](super::Cgroup::create) fails instead, naming the feature, so the
    /// engine should ask first.
    pub fn supports_swap_limit(&self) -> bool {
        match &self.layout {
            Layout::V1(map) => map
                .get("memory")
                .is_some_and(|h| h.mount.join("memory.memsw.limit_in_bytes").exists()),
            Layout::V2(h) => v2_swap_accounting(h, self.own.get("").map_or("/", |o| o)),
        }
    }

    /// Warnings for the fields of `r` that [`Cgroup::create`](super::Cgroup::create) skips on
    /// this host (see `plan::ignored`): kernel memory, and the v1-only knobs on v2.
    pub fn ignored_resources(&self, r: &Resources) -> Vec<String> {
        plan::ignored(r, self.version() == CgroupVersion::V2)
    }

    /// The absolute cgroup path of `path` in the hierarchy of `key` (`""` on v2).
    pub(super) fn cgroup_path(&self, key: &str, path: &str) -> Result<String, CgroupError> {
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
    pub(super) fn dirs_of(&self, path: &str) -> Result<Dirs, CgroupError> {
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
/// most hosts). With none to look at, say yes: [`Cgroup::create`](super::Cgroup::create) then
/// names what is missing.
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
pub(super) enum Dirs {
    /// controller → (hierarchy mount, cgroup dir).
    V1(BTreeMap<String, (PathBuf, PathBuf)>),
    V2 {
        mount: PathBuf,
        dir: PathBuf,
    },
}

impl Dirs {
    /// Every directory once (co-mounted v1 controllers share one).
    pub(super) fn distinct(&self) -> Vec<&Path> {
        let mut out: Vec<&Path> = match self {
            Dirs::V1(dirs) => dirs.values().map(|(_, d)| d.as_path()).collect(),
            Dirs::V2 { dir, .. } => vec![dir],
        };
        out.sort();
        out.dedup();
        out
    }
}
