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
}

pub fn plan_namespaces(namespaces: &[Namespace]) -> Result<NamespacePlan, String> {
    let mut plan = NamespacePlan::default();
    for ns in namespaces {
        let Some((_, flag)) = NAMESPACE_FLAGS.iter().find(|(k, _)| *k == ns.kind) else {
            return Err(format!("unknown namespace type {:?}", ns.kind));
        };
        match &ns.path {
            None => plan.clone_flags |= *flag as u32 as u64,
            // Joining a pid (or time) namespace only affects children, so init would have to
            // fork once more; not supported yet.
            Some(p) if ns.kind == "pid" || ns.kind == "time" => {
                return Err(format!(
                    "joining an existing {} namespace ({}) is not supported",
                    ns.kind,
                    p.display()
                ))
            }
            Some(p) => plan.join.push((ns.kind.clone(), p.clone())),
        }
    }
    Ok(plan)
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
        ])
        .unwrap();
        assert_eq!(
            p.clone_flags,
            (libc::CLONE_NEWPID | libc::CLONE_NEWNS) as u64
        );
        assert_eq!(
            p.join,
            vec![("network".to_string(), PathBuf::from("/var/run/netns/x"))]
        );
    }

    #[test]
    fn rejects_unknown_types_and_pid_paths() {
        assert!(plan_namespaces(&[ns("bogus", None)]).is_err());
        assert!(plan_namespaces(&[ns("pid", Some("/proc/1/ns/pid"))]).is_err());
    }
}
