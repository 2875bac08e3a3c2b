//! Creating the container's init: the clone flags from `linux.namespaces`, the fork, and the
//! parent's half of the sync protocol.

pub mod exec;
pub mod init;
pub mod sync;

use std::path::PathBuf;

use hull_oci::runtime::Namespace;

/// Spec namespace type → clone flag.
pub const NAMESPACE_FLAGS: &[(&str, i32)] = &[
    ("pid", libc::CLONE_NEWPID),
    ("network", libc::CLONE_NEWNET),
    ("mount", libc::CLONE_NEWNS),
    ("ipc", libc::CLONE_NEWIPC),
    ("uts", libc::CLONE_NEWUTS),
    ("user", libc::CLONE_NEWUSER),
    ("cgroup", libc::CLONE_NEWCGROUP),
    ("time", libc::CLONE_NEWTIME),
];

/// The namespaces to create (as clone flags) and the ones to join (type, path).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NamespacePlan {
    pub clone_flags: u64,
    pub join: Vec<(String, PathBuf)>,
    /// pid and time namespaces to join: they only apply to children, so the parent enters them
    /// for the fork of init (see [`enter_for_children`]).
    pub join_for_children: Vec<(String, PathBuf)>,
    /// A new cgroup namespace: init unshares it itself once it is in its cgroup, because a
    /// cgroup namespace is rooted at the cgroup its creator is in. Made by the clone, it would
    /// be rooted at the caller's cgroup and show the container its host path (Docker and runc
    /// show `0::/`).
    pub new_cgroup: bool,
    /// A new time namespace: init makes it and enters it itself, once it is root in its user
    /// namespace, so that the offsets can be written first (see `crate::timens`).
    pub new_time: bool,
}

pub fn plan_namespaces(namespaces: &[Namespace]) -> Result<NamespacePlan, String> {
    let mut plan = NamespacePlan::default();
    for ns in namespaces {
        let Some((_, flag)) = NAMESPACE_FLAGS.iter().find(|(k, _)| *k == ns.kind) else {
            return Err(format!("unknown namespace type {:?}", ns.kind));
        };
        match &ns.path {
            None if ns.kind == "cgroup" => plan.new_cgroup = true,
            None if ns.kind == "time" => plan.new_time = true,
            None => plan.clone_flags |= *flag as u32 as u64,
            Some(p) if ns.kind == "pid" || ns.kind == "time" => {
                plan.join_for_children.push((ns.kind.clone(), p.clone()))
            }
            Some(p) => plan.join.push((ns.kind.clone(), p.clone())),
        }
    }
    Ok(plan)
}

/// Puts the children this thread forks next into the pid/time namespaces of `join`; the guard
/// it returns puts them back into this thread's own on drop (in the parent; the child calls
/// [`ChildrenNamespaces::stay`]). setns(CLONE_NEWPID) changes only `pid_for_children`; a time
/// namespace's setns moves the caller too, until the drop.
pub fn enter_for_children(join: &[(String, PathBuf)]) -> std::io::Result<ChildrenNamespaces> {
    use rustix::thread::{move_into_link_name_space, LinkNameSpaceType};
    let mut restore = Vec::new();
    for (kind, path) in join {
        let (ty, own) = match kind.as_str() {
            "pid" => (LinkNameSpaceType::ProcessID, "/proc/thread-self/ns/pid"),
            _ => (LinkNameSpaceType::Time, "/proc/thread-self/ns/time"),
        };
        let open = |p: &std::path::Path| {
            rustix::fs::open(
                p,
                rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::CLOEXEC,
                rustix::fs::Mode::empty(),
            )
            .map_err(|e| {
                std::io::Error::new(
                    std::io::Error::from(e).kind(),
                    format!("open {}: {e}", p.display()),
                )
            })
        };
        let target = open(path)?;
        restore.push((ty, open(std::path::Path::new(own))?));
        move_into_link_name_space(std::os::fd::AsFd::as_fd(&target), Some(ty)).map_err(|e| {
            std::io::Error::new(
                std::io::Error::from(e).kind(),
                format!("join {kind} namespace {}: {e}", path.display()),
            )
        })?;
    }
    Ok(ChildrenNamespaces { restore })
}

/// Returned by [`enter_for_children`].
pub struct ChildrenNamespaces {
    restore: Vec<(rustix::thread::LinkNameSpaceType, std::os::fd::OwnedFd)>,
}

impl ChildrenNamespaces {
    /// In the child just forked: stays where the fork put it. Restoring there would move it
    /// out of a joined time namespace (setns on a time namespace moves the caller too, not
    /// only its children as for pid).
    pub fn stay(mut self) {
        self.restore.clear();
    }
}

impl Drop for ChildrenNamespaces {
    fn drop(&mut self) {
        for (ty, fd) in &self.restore {
            let _ =
                rustix::thread::move_into_link_name_space(std::os::fd::AsFd::as_fd(fd), Some(*ty));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns(kind: &str, path: Option<&str>) -> Namespace {
        Namespace {
            kind: kind.into(),
            path: path.map(PathBuf::from),
        }
    }

    #[test]
    fn new_namespaces_become_flags_and_paths_are_joined() {
        let p = plan_namespaces(&[
            ns("pid", None),
            ns("mount", None),
            ns("network", Some("/var/run/netns/x")),
            ns("cgroup", None),
            ns("time", None),
        ])
        .unwrap();
        // Not CLONE_NEWCGROUP nor CLONE_NEWTIME: init makes them itself.
        assert_eq!(
            p.clone_flags,
            (libc::CLONE_NEWPID | libc::CLONE_NEWNS) as u64
        );
        assert!(p.new_cgroup);
        assert!(p.new_time);
        assert_eq!(
            p.join,
            vec![("network".to_string(), PathBuf::from("/var/run/netns/x"))]
        );
    }

    #[test]
    fn rejects_unknown_types_and_joins_pid_for_children() {
        assert!(plan_namespaces(&[ns("bogus", None)]).is_err());
        let p = plan_namespaces(&[ns("pid", Some("/proc/1/ns/pid"))]).unwrap();
        assert_eq!(p.join_for_children.len(), 1);
        assert_eq!(p.clone_flags, 0);
    }
}
