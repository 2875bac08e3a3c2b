//! Which cgroup layout the host has, from the text of `/proc/self/mountinfo`, and which cgroup
//! the calling process is in, from the text of `/proc/self/cgroup`. Pure functions of text, so
//! every layout is testable from a sample.

use hull_sys::mount::unescape_mountinfo;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Controllers a v1 hierarchy can carry (besides named ones like `name=systemd`). Options in the
/// super-block list that are not here (`rw`, `clone_children`, `xattr`...) are not controllers.
pub(crate) const V1_CONTROLLERS: &[&str] = &[
    "blkio",
    "cpu",
    "cpuacct",
    "cpuset",
    "devices",
    "freezer",
    "hugetlb",
    "memory",
    "misc",
    "net_cls",
    "net_prio",
    "perf_event",
    "pids",
    "rdma",
];

/// One mounted hierarchy: where it is mounted, and which cgroup of the hierarchy the mount shows
/// (`/` unless it is a bind mount or seen from inside a cgroup namespace).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hierarchy {
    pub mount: PathBuf,
    pub root: String,
}

impl Hierarchy {
    /// The directory of cgroup `cgroup` (an absolute path in the hierarchy).
    pub(crate) fn dir_of(&self, cgroup: &str) -> PathBuf {
        let below = cgroup
            .strip_prefix(self.root.trim_end_matches('/'))
            .filter(|rest| rest.is_empty() || rest.starts_with('/'))
            .unwrap_or(cgroup);
        let below = below.trim_start_matches('/');
        if below.is_empty() {
            self.mount.clone()
        } else {
            self.mount.join(below)
        }
    }
}

/// The host's cgroup layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layout {
    /// v1 (legacy or hybrid): controller (or `name=...`) → its hierarchy. Co-mounted controllers
    /// (`cpu,cpuacct`) map to the same hierarchy.
    V1(BTreeMap<String, Hierarchy>),
    /// v2 (unified): one hierarchy.
    V2(Hierarchy),
}

struct MountLine<'a> {
    root: String,
    mount: PathBuf,
    fstype: &'a str,
    super_opts: &'a str,
}

/// `id parent maj:min root mount opts [optional...] - fstype source super_opts`
fn parse_line(line: &str) -> Option<MountLine<'_>> {
    let (left, right) = line.split_once(" - ")?;
    let left: Vec<&str> = left.split(' ').collect();
    let mut right = right.split(' ');
    let fstype = right.next()?;
    let _source = right.next()?;
    let super_opts = right.next().unwrap_or("");
    Some(MountLine {
        root: unescape_mountinfo(left.get(3)?),
        mount: PathBuf::from(unescape_mountinfo(left.get(4)?)),
        fstype,
        super_opts,
    })
}

fn v1_keys(super_opts: &str) -> impl Iterator<Item = &str> {
    super_opts
        .split(',')
        .filter(|opt| V1_CONTROLLERS.contains(opt) || opt.starts_with("name="))
}

/// Decides the layout. v2 when a cgroup2 file system is mounted at `root` (normally
/// /sys/fs/cgroup), or when no v1 controller is mounted at all and a cgroup2 mount exists
/// elsewhere. Otherwise v1: a hybrid host's cgroup2 at `<root>/unified` carries at most a
/// controller or two (hugetlb, say) and only systemd's tracking, so it is ignored. Controllers
/// split between v1 and a non-root cgroup2 mount are not supported.
pub(crate) fn layout_from_mountinfo(mountinfo: &str, root: &Path) -> Option<Layout> {
    let mounts: Vec<MountLine<'_>> = mountinfo.lines().filter_map(parse_line).collect();
    let v2 = mounts.iter().filter(|m| m.fstype == "cgroup2");
    let unified = |m: &MountLine<'_>| Hierarchy {
        mount: m.mount.clone(),
        root: m.root.clone(),
    };
    if let Some(m) = v2.clone().find(|m| m.mount == root) {
        return Some(Layout::V2(unified(m)));
    }
    let mut v1 = BTreeMap::new();
    for m in mounts.iter().filter(|m| m.fstype == "cgroup") {
        for key in v1_keys(m.super_opts) {
            // The first mount of a hierarchy wins; later ones are usually bind mounts of it.
            v1.entry(key.to_string()).or_insert_with(|| unified(m));
        }
    }
    let has_controller = v1.keys().any(|k| !k.starts_with("name="));
    if has_controller {
        return Some(Layout::V1(v1));
    }
    v2.clone().next().map(|m| Layout::V2(unified(m)))
}

/// The hierarchies of the version `chosen` is not, if the host mounts them too: the first
/// cgroup2 mount beside v1 hierarchies (a hybrid host), or the v1 controllers beside cgroup2.
pub(crate) fn other_layout(mountinfo: &str, chosen: &Layout) -> Option<Layout> {
    let mounts: Vec<MountLine<'_>> = mountinfo.lines().filter_map(parse_line).collect();
    let hierarchy = |m: &MountLine<'_>| Hierarchy {
        mount: m.mount.clone(),
        root: m.root.clone(),
    };
    match chosen {
        Layout::V1(_) => mounts
            .iter()
            .find(|m| m.fstype == "cgroup2")
            .map(|m| Layout::V2(hierarchy(m))),
        Layout::V2(_) => {
            let mut v1 = BTreeMap::new();
            for m in mounts.iter().filter(|m| m.fstype == "cgroup") {
                for key in v1_keys(m.super_opts) {
                    v1.entry(key.to_string()).or_insert_with(|| hierarchy(m));
                }
            }
            (!v1.is_empty()).then_some(Layout::V1(v1))
        }
    }
}

/// `/proc/self/cgroup` → controller (or `name=...`, or `""` for the v2 line `0::/path`) → path.
pub(crate) fn own_cgroups(proc_self_cgroup: &str) -> BTreeMap<String, String> {
    let mut own = BTreeMap::new();
    for line in proc_self_cgroup.lines() {
        let mut fields = line.splitn(3, ':');
        let (Some(_id), Some(controllers), Some(path)) =
            (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        for key in controllers.split(',') {
            own.insert(key.to_string(), path.to_string());
        }
    }
    own
}

#[cfg(test)]
mod tests {
    use super::*;

    /// This development host: v1 controllers plus systemd's empty-ish cgroup2 at .../unified.
    const HYBRID: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:9 - cgroup cgroup rw,cpu,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset,clone_children
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    const PURE_V2: &str = "\
22 1 0:21 / /proc rw - proc proc rw
30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
";

    /// A hybrid host whose unified mount has hugetlb only, and no v1 controller mounted except
    /// systemd's named hierarchy: the only place with controllers is cgroup2.
    const V2_ELSEWHERE: &str = "\
30 23 0:26 / /sys/fs/cgroup rw - tmpfs tmpfs rw
40 30 0:37 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,name=systemd
41 30 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw
";

    fn root() -> &'static Path {
        Path::new("/sys/fs/cgroup")
    }

    #[test]
    fn hybrid_host_is_v1_with_comounts_and_named_hierarchies() {
        let Some(Layout::V1(map)) = layout_from_mountinfo(HYBRID, root()) else {
            panic!("expected v1");
        };
        let cpu = &map["cpu"];
        assert_eq!(cpu.mount, Path::new("/sys/fs/cgroup/cpu,cpuacct"));
        assert_eq!(map["cpuacct"], *cpu);
        assert_eq!(
            map["name=systemd"].mount,
            Path::new("/sys/fs/cgroup/systemd")
        );
        assert_eq!(map["memory"].mount, Path::new("/sys/fs/cgroup/memory"));
        assert!(!map.contains_key("clone_children"));
        assert!(!map.contains_key("xattr"));
        assert!(!map.contains_key("rw"));
        assert_eq!(map.len(), 7);
    }

    #[test]
    fn cgroup2_at_root_is_v2() {
        let layout = layout_from_mountinfo(PURE_V2, root());
        assert_eq!(
            layout,
            Some(Layout::V2(Hierarchy {
                mount: "/sys/fs/cgroup".into(),
                root: "/".into()
            }))
        );
    }

    #[test]
    fn root_is_a_parameter() {
        // The same text read with another root: cgroup2 is not at it, no v1 controller exists,
        // so the cgroup2 mount found is still used.
        let layout = layout_from_mountinfo(PURE_V2, Path::new("/elsewhere"));
        assert!(matches!(layout, Some(Layout::V2(_))));
    }

    #[test]
    fn unified_without_v1_controllers_is_v2() {
        let Some(Layout::V2(h)) = layout_from_mountinfo(V2_ELSEWHERE, root()) else {
            panic!("expected v2");
        };
        assert_eq!(h.mount, Path::new("/sys/fs/cgroup/unified"));
    }

    #[test]
    fn no_cgroup_mounts_is_none() {
        assert_eq!(
            layout_from_mountinfo("22 1 0:21 / /proc rw - proc proc rw\n", root()),
            None
        );
    }

    #[test]
    fn escaped_mount_points_are_decoded() {
        let text = "30 23 0:26 / /tmp/a\\040b rw - cgroup2 cgroup2 rw\n";
        let Some(Layout::V2(h)) = layout_from_mountinfo(text, Path::new("/tmp/a b")) else {
            panic!("expected v2");
        };
        assert_eq!(h.mount, Path::new("/tmp/a b"));
    }

    #[test]
    fn the_other_version_is_found_beside_the_chosen_one() {
        let hybrid = layout_from_mountinfo(HYBRID, root()).unwrap();
        assert_eq!(
            other_layout(HYBRID, &hybrid),
            Some(Layout::V2(Hierarchy {
                mount: "/sys/fs/cgroup/unified".into(),
                root: "/".into()
            }))
        );
        let v2 = layout_from_mountinfo(PURE_V2, root()).unwrap();
        assert_eq!(other_layout(PURE_V2, &v2), None);
    }

    #[test]
    fn own_cgroups_per_controller() {
        let own = own_cgroups(
            "4:memory:/process_api/9c\n2:cpu,cpuacct:/\n9:name=systemd:/x\n0::/user.slice\n",
        );
        assert_eq!(own["memory"], "/process_api/9c");
        assert_eq!(own["cpuacct"], "/");
        assert_eq!(own["name=systemd"], "/x");
        assert_eq!(own[""], "/user.slice");
    }

    #[test]
    fn dir_of_strips_the_mount_root() {
        let h = Hierarchy {
            mount: "/sys/fs/cgroup".into(),
            root: "/ns".into(),
        };
        assert_eq!(h.dir_of("/ns/hull/a"), Path::new("/sys/fs/cgroup/hull/a"));
        assert_eq!(h.dir_of("/ns"), Path::new("/sys/fs/cgroup"));
        assert_eq!(h.dir_of("/nsx/a"), Path::new("/sys/fs/cgroup/nsx/a"));
        let h = Hierarchy {
            mount: "/m".into(),
            root: "/".into(),
        };
        assert_eq!(h.dir_of("/hull/a"), Path::new("/m/hull/a"));
    }
}
