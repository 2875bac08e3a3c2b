//! `exec --cgroup`: the sub-cgroup of the container's cgroup an exec'd process joins instead
//! of the container's own. runc's form, given once or more: `[<controller>[,<controller>…]:]<path>`,
//! the path taken inside the container's cgroup (`/` is the cgroup itself), and never out of
//! it. A path with controllers applies to their hierarchies (v1), the others take the path
//! without controllers, or the cgroup itself.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Component, Path, PathBuf};

use super::procs::open_join_file;
use super::{read_file, Cgroup, CgroupError, Dirs};

/// The parsed `--cgroup` arguments.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SubCgroups {
    /// The path without controllers.
    general: Option<PathBuf>,
    /// controller → path.
    by_controller: BTreeMap<String, PathBuf>,
}

fn invalid(arg: &str, reason: &'static str) -> CgroupError {
    CgroupError::InvalidPath {
        path: arg.to_string(),
        reason,
    }
}

/// `path` inside the container's cgroup, relative (empty for the cgroup itself).
fn inside(arg: &str, path: &str) -> Result<PathBuf, CgroupError> {
    let mut out = PathBuf::new();
    for c in Path::new(path).components() {
        match c {
            Component::Normal(name) => out.push(name),
            Component::RootDir | Component::CurDir => {}
            Component::ParentDir | Component::Prefix(_) => {
                return Err(invalid(
                    arg,
                    "a sub-cgroup may not lead out of the container's cgroup",
                ))
            }
        }
    }
    Ok(out)
}

impl SubCgroups {
    /// Parses `--cgroup` arguments; a controller named twice is an error.
    pub fn parse(args: &[String]) -> Result<SubCgroups, CgroupError> {
        let mut subs = SubCgroups::default();
        for arg in args {
            match arg.split_once(':') {
                None => {
                    if subs.general.replace(inside(arg, arg)?).is_some() {
                        return Err(invalid(arg, "a second path without controllers"));
                    }
                }
                Some((controllers, path)) => {
                    let path = inside(arg, path)?;
                    for c in controllers.split(',') {
                        if c.is_empty() {
                            return Err(invalid(arg, "an empty controller name"));
                        }
                        if subs.by_controller.insert(c.into(), path.clone()).is_some() {
                            return Err(invalid(arg, "a controller named twice"));
                        }
                    }
                }
            }
        }
        Ok(subs)
    }

    pub fn is_empty(&self) -> bool {
        self.general.is_none() && self.by_controller.is_empty()
    }

    fn path_for(&self, controller: &str) -> &Path {
        self.by_controller
            .get(controller)
            .or(self.general.as_ref())
            .map_or(Path::new(""), PathBuf::as_path)
    }
}

impl Cgroup {
    /// As [`Cgroup::join_files`], for the sub-cgroups `subs` names: each must exist, and every
    /// controller it names must be one the host has.
    pub fn sub_join_files(&self, subs: &SubCgroups) -> Result<Vec<fs::File>, CgroupError> {
        let (targets, file) = match &self.dirs {
            Dirs::V1(dirs) => {
                let unknown = subs.by_controller.keys().find(|c| !dirs.contains_key(*c));
                if let Some(c) = unknown {
                    return Err(CgroupError::ControllerMissing {
                        controller: c.clone(),
                        file: "tasks".into(),
                    });
                }
                let mut targets: Vec<PathBuf> = dirs
                    .iter()
                    .map(|(c, (_, dir))| dir.join(subs.path_for(c)))
                    .collect();
                targets.sort();
                targets.dedup();
                (targets, "tasks")
            }
            Dirs::V2 { mount, dir } => (vec![dir.join(v2_path(subs, mount)?)], "cgroup.procs"),
        };
        targets
            .iter()
            .map(|dir| {
                if !dir.is_dir() {
                    return Err(CgroupError::NotFound {
                        path: dir.display().to_string(),
                    });
                }
                open_join_file(dir, file)
            })
            .collect()
    }
}

/// The one path of a v2 cgroup: controllers must exist on the host and name the same path.
fn v2_path<'s>(subs: &'s SubCgroups, mount: &Path) -> Result<&'s Path, CgroupError> {
    let available = read_file(mount, "cgroup.controllers")?;
    let unknown = subs
        .by_controller
        .keys()
        .find(|c| !available.split_whitespace().any(|a| a == c.as_str()));
    if let Some(c) = unknown {
        return Err(CgroupError::ControllerMissing {
            controller: c.clone(),
            file: "cgroup.procs".into(),
        });
    }
    let mut paths = subs.by_controller.values().chain(subs.general.as_ref());
    let first = paths.next().map_or(Path::new(""), PathBuf::as_path);
    if paths.any(|p| p != first) {
        return Err(CgroupError::InvalidPath {
            path: first.display().to_string(),
            reason: "cgroup v2 has one hierarchy: every --cgroup must name the same path",
        });
    }
    Ok(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<SubCgroups, CgroupError> {
        SubCgroups::parse(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn paths_stay_inside_and_controllers_take_their_own() {
        let s = parse(&["/a/b", "cpu,memory:c", "pids:/"]).unwrap();
        assert_eq!(s.path_for("cpu"), Path::new("c"));
        assert_eq!(s.path_for("memory"), Path::new("c"));
        assert_eq!(s.path_for("pids"), Path::new(""));
        assert_eq!(s.path_for("freezer"), Path::new("a/b"));
        assert!(parse(&[]).unwrap().is_empty());
        assert_eq!(parse(&["x"]).unwrap().path_for("cpu"), Path::new("x"));
    }

    #[test]
    fn a_path_out_of_the_cgroup_or_a_repeat_is_refused() {
        for bad in [
            &["..", ""][..1],
            &["a/../../b"],
            &["cpu:.."],
            &["a", "b"],
            &["cpu:a", "cpu:b"],
            &[":a"],
        ] {
            let e = parse(bad).unwrap_err().to_string();
            assert!(e.starts_with("cgroup path"), "{bad:?}: {e}");
        }
    }
}
