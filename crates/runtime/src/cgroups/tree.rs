//! Making and removing cgroup directories: every level from a hierarchy's mount down to a
//! container's cgroup (v2 controllers enabled on the way), and the removal of shared parents
//! such as `/hull` once they are empty.
//!
//! A shared parent can vanish at any moment while a tree is made: another hull process removes
//! it ([`remove_if_empty`]) when its own container was the last one below it. Until the leaf
//! exists nothing holds the parent, so:
//! - hull processes serialise the two with a flock on the hierarchy's mount directory (never
//!   removed): shared while a tree is made, exclusive while shared parents are removed;
//! - the levels are all made before anything is written to them: once the leaf exists the
//!   parent is busy and stays;
//! - and for removers that take no lock (another tool, an older hull), the whole step is made
//!   again, a bounded number of times, when one of its calls finds a level gone ([`vanished`]).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::{read_file, write_file, CgroupError, CgroupRoot, Dirs, RMDIR_PATIENCE, V2_CONTROLLERS};

/// How many times the tree is made in all before a vanished level counts as an error. Each
/// attempt takes microseconds, so losing this many races in a row means something else is
/// wrong (the mount itself is gone, say).
const ATTEMPTS: usize = 20;

/// Takes the flock that orders making trees against removing shared parents (see the module
/// comment) on the mount directory of the first hierarchy of `dirs`: every hull process picks
/// the same one. Released when the file is dropped.
fn lock_hierarchy(dirs: &Dirs, exclusive: bool) -> Result<Option<fs::File>, CgroupError> {
    let mount = match dirs {
        Dirs::V1(map) => match map.values().next() {
            Some((mount, _)) => mount,
            None => return Ok(None),
        },
        Dirs::V2 { mount, .. } => mount,
    };
    let err = |source| CgroupError::Lock {
        dir: mount.clone(),
        source,
    };
    let file = fs::File::open(mount).map_err(err)?;
    if exclusive {
        file.lock().map_err(err)?;
    } else {
        file.lock_shared().map_err(err)?;
    }
    Ok(Some(file))
}

fn mkdir(dir: &Path) -> Result<(), CgroupError> {
    match fs::create_dir(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(source) => Err(CgroupError::Create {
            dir: dir.into(),
            source,
        }),
    }
}

/// The directories from `mount` (exclusive) down to `dir` (inclusive).
pub(super) fn below(mount: &Path, dir: &Path) -> Vec<PathBuf> {
    let rel = dir.strip_prefix(mount).unwrap_or(dir);
    let mut cur = mount.to_path_buf();
    rel.components()
        .map(|c| {
            cur.push(c);
            cur.clone()
        })
        .collect()
}

/// v1 cpuset refuses tasks while `cpuset.cpus`/`cpuset.mems` are empty (ENOSPC), and a new
/// directory starts empty: copy the parent's values into each level that has none.
fn copy_cpuset_down(mount: &Path, dir: &Path) -> Result<(), CgroupError> {
    for level in below(mount, dir) {
        let parent = level.parent().unwrap_or(mount);
        for file in ["cpuset.cpus", "cpuset.mems"] {
            if read_file(&level, file)?.trim().is_empty() {
                let value = read_file(parent, file)?;
                write_file(&level, file, value.trim())?;
            }
        }
    }
    Ok(())
}

/// v2: a child only gets a controller's files once every ancestor enabled it for its children.
/// Must happen top-down, because a parent can only enable what its own parent passed down
/// (listed in its `cgroup.controllers`).
fn enable_controllers(dir: &Path) -> Result<(), CgroupError> {
    let available = read_file(dir, "cgroup.controllers")?;
    let enabled = read_file(dir, "cgroup.subtree_control")?;
    let missing: Vec<String> = V2_CONTROLLERS
        .iter()
        .filter(|c| available.split_whitespace().any(|a| a == **c))
        .filter(|c| !enabled.split_whitespace().any(|e| e == **c))
        .map(|c| format!("+{c}"))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    write_file(dir, "cgroup.subtree_control", &missing.join(" "))
}

/// Whether `e` is what a level removed under us looks like: ENOENT from mkdir (its parent is
/// gone) or from opening one of its files (it is gone), or ENODEV from a file opened before
/// the rmdir and used after it (kernfs deactivates the files of a removed directory).
/// `cgroup.subtree_control` also answers ENOENT for a controller the parent stopped offering,
/// which making the tree again handles as well.
pub(super) fn vanished(e: &CgroupError) -> bool {
    let source = match e {
        CgroupError::Create { source, .. }
        | CgroupError::Read { source, .. }
        | CgroupError::Write { source, .. } => source,
        _ => return false,
    };
    source.kind() == io::ErrorKind::NotFound || source.raw_os_error() == Some(libc::ENODEV)
}

/// Runs `make` again, up to [`ATTEMPTS`] times in all, while it fails because a level
/// [`vanished`].
pub(super) fn retry_if_vanished(
    mut make: impl FnMut() -> Result<(), CgroupError>,
) -> Result<(), CgroupError> {
    let mut result = make();
    for _ in 1..ATTEMPTS {
        match &result {
            Err(e) if vanished(e) => result = make(),
            _ => break,
        }
    }
    result
}

/// Makes every level of `dirs`. `made` is called with each directory this call created or
/// found: the kernel fills a new cgroup directory with its files by itself, and a fake cgroupfs
/// in the tests does it there (or removes a parent, to play a concurrent removal).
pub(super) fn create(dirs: &Dirs, made: &mut dyn FnMut(&Path)) -> Result<(), CgroupError> {
    let _shared = lock_hierarchy(dirs, false)?;
    retry_if_vanished(|| match dirs {
        Dirs::V1(dirs) => create_v1(dirs, made),
        Dirs::V2 { mount, dir } => create_v2(mount, dir, made),
    })
}

/// Every level first, then the controllers top-down: once the leaf exists it holds every level
/// above it (a concurrent [`remove_if_empty`] of a shared parent fails with EBUSY), so only the
/// mkdirs can find a level gone. Enabling a controller in a parent that already has a child
/// gives the child the controller's files; the parents never hold processes, so the "no
/// internal processes" rule allows it.
fn create_v2(mount: &Path, dir: &Path, made: &mut dyn FnMut(&Path)) -> Result<(), CgroupError> {
    let levels = below(mount, dir);
    for level in &levels {
        mkdir(level)?;
        made(level);
    }
    enable_controllers(mount)?;
    levels[..levels.len().saturating_sub(1)]
        .iter()
        .try_for_each(|level| enable_controllers(level))
}

fn create_v1(
    dirs: &std::collections::BTreeMap<String, (PathBuf, PathBuf)>,
    made: &mut dyn FnMut(&Path),
) -> Result<(), CgroupError> {
    for (key, (mount, dir)) in dirs {
        for level in below(mount, dir) {
            mkdir(&level)?;
            made(&level);
        }
        if key == "cpuset" {
            copy_cpuset_down(mount, dir)?;
        }
    }
    Ok(())
}

pub(super) fn rmdir_patiently(dir: &Path) -> Result<(), CgroupError> {
    let start = Instant::now();
    loop {
        match fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && start.elapsed() < RMDIR_PATIENCE => {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            Err(source) => {
                return Err(CgroupError::Remove {
                    dir: dir.into(),
                    source,
                })
            }
        }
    }
}

/// Removes the cgroup `path` in every hierarchy where it is empty (no children, no processes),
/// for parents such as `/hull` that only group other cgroups; a busy or missing one is left as
/// it is. Returns whether anything was removed. A concurrent create below it makes its tree
/// again (see the module comment).
pub fn remove_if_empty(root: &CgroupRoot, path: &str) -> Result<bool, CgroupError> {
    let dirs = root.dirs_of(path)?;
    let _exclusive = lock_hierarchy(&dirs, true)?;
    let mut removed = false;
    for dir in dirs.distinct() {
        match fs::remove_dir(dir) {
            Ok(()) => removed = true,
            Err(e)
                if e.kind() == io::ErrorKind::NotFound
                    || e.raw_os_error() == Some(libc::EBUSY)
                    || e.raw_os_error() == Some(libc::ENOTEMPTY) => {}
            Err(source) => {
                return Err(CgroupError::Remove {
                    dir: dir.into(),
                    source,
                })
            }
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the kernel puts in a new v2 directory whose parent enabled `memory pids`.
    fn kernel_fills(dir: &Path) {
        for (file, text) in [
            ("cgroup.controllers", "memory pids\n"),
            ("cgroup.subtree_control", ""),
            ("cgroup.procs", ""),
        ] {
            if !dir.join(file).exists() {
                fs::write(dir.join(file), text).unwrap();
            }
        }
    }

    fn v2_tree() -> (tempfile::TempDir, Dirs) {
        let tmp = tempfile::tempdir().unwrap();
        kernel_fills(tmp.path());
        let dirs = Dirs::V2 {
            mount: tmp.path().into(),
            dir: tmp.path().join("hull/abc"),
        };
        (tmp, dirs)
    }

    /// Regression (seen on a pure v2 host): another container's removal deleted `/hull` after
    /// this create made it and before it enabled its controllers; the create failed with
    /// `write cgroup.subtree_control=… in …/hull: No such device`. Here the parent vanishes
    /// right after each of the first two mkdirs of it, before the leaf is made.
    #[test]
    fn create_makes_the_tree_again_when_the_shared_parent_vanishes() {
        let (tmp, dirs) = v2_tree();
        let parent = tmp.path().join("hull");
        let mut removals = 0;
        let mut made = |dir: &Path| {
            if dir == parent && removals < 2 {
                removals += 1;
                fs::remove_dir_all(dir).unwrap();
                return;
            }
            kernel_fills(dir);
        };
        create(&dirs, &mut made).unwrap();
        assert_eq!(removals, 2);
        assert!(tmp.path().join("hull/abc/cgroup.procs").exists());
        let enabled = fs::read_to_string(parent.join("cgroup.subtree_control")).unwrap();
        assert_eq!(enabled, "+memory +pids");
    }

    #[test]
    fn a_parent_that_keeps_vanishing_is_an_error_after_a_bound() {
        let (tmp, dirs) = v2_tree();
        let parent = tmp.path().join("hull");
        let mut removals = 0;
        let mut made = |dir: &Path| {
            if dir == parent {
                removals += 1;
                fs::remove_dir_all(dir).unwrap();
            }
        };
        let err = create(&dirs, &mut made).unwrap_err();
        assert_eq!(removals, ATTEMPTS);
        let leaf = parent.join("abc");
        assert_eq!(
            err.to_string(),
            format!("create cgroup directory {}", leaf.display())
        );
    }

    #[test]
    fn only_a_vanished_level_is_retried() {
        let gone = |errno: i32| CgroupError::Write {
            file: "cgroup.subtree_control".into(),
            value: "+pids".into(),
            dir: "/x/hull".into(),
            source: io::Error::from_raw_os_error(errno),
        };
        assert!(vanished(&gone(libc::ENODEV)));
        assert!(vanished(&gone(libc::ENOENT)));
        assert!(!vanished(&gone(libc::EBUSY)));
        let mut calls = 0;
        let denied = retry_if_vanished(|| {
            calls += 1;
            Err(CgroupError::Create {
                dir: "/x".into(),
                source: io::Error::from(io::ErrorKind::PermissionDenied),
            })
        });
        assert!(denied.is_err());
        assert_eq!(calls, 1);
        let mut calls = 0;
        retry_if_vanished(|| {
            calls += 1;
            if calls < 3 {
                Err(gone(libc::ENODEV))
            } else {
                Ok(())
            }
        })
        .unwrap();
        assert_eq!(calls, 3);
    }

    #[test]
    fn shared_parent_is_removed_only_when_empty() {
        let tmp = tempfile::tempdir().unwrap();
        let root = CgroupRoot::v2_at(tmp.path());
        let parent = tmp.path().join("hull");
        fs::create_dir_all(parent.join("busy")).unwrap();
        // A directory with a child is busy: rmdir fails and the parent stays (on the real
        // cgroupfs the child's own files never count; here the child directory stands in for a
        // container).
        assert!(!remove_if_empty(&root, "/hull").unwrap());
        assert!(parent.exists());
        fs::remove_dir(parent.join("busy")).unwrap();
        assert!(remove_if_empty(&root, "/hull").unwrap());
        assert!(!parent.exists());
        assert!(!remove_if_empty(&root, "/hull").unwrap(), "missing is fine");
    }
}
