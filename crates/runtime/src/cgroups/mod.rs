//! Cgroups v1 and v2, detected at run time, written as plain files under a root that is passed in
//! (so tests run against a fake cgroupfs in a temp dir). STUB: the cgroups work replaces this.

use std::io;
use std::path::PathBuf;

use hull_oci::runtime::Resources;

#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error("cgroup {path}: not implemented yet")]
    Unimplemented { path: String },
}

/// The host's cgroup layout.
#[derive(Debug, Clone)]
pub struct CgroupRoot {
    pub mount: PathBuf,
}

impl CgroupRoot {
    /// Reads /proc/self/mountinfo to find v2 (unified, with controllers) or v1 hierarchies.
    pub fn detect() -> io::Result<CgroupRoot> {
        Ok(CgroupRoot {
            mount: PathBuf::from("/sys/fs/cgroup"),
        })
    }
}

/// One container's cgroup (in every v1 hierarchy, or the one v2 directory).
#[derive(Debug)]
pub struct Cgroup {
    pub path: String,
}

impl Cgroup {
    /// Creates the cgroup `path` (e.g. "/hull/<id>") and applies `resources`.
    pub fn create(
        _root: &CgroupRoot,
        path: &str,
        _resources: &Resources,
    ) -> Result<Cgroup, CgroupError> {
        Err(CgroupError::Unimplemented {
            path: path.to_string(),
        })
    }

    /// Opens an existing cgroup.
    pub fn open(_root: &CgroupRoot, path: &str) -> Result<Cgroup, CgroupError> {
        Err(CgroupError::Unimplemented {
            path: path.to_string(),
        })
    }

    pub fn add_process(&self, _pid: i32) -> Result<(), CgroupError> {
        Err(CgroupError::Unimplemented {
            path: self.path.clone(),
        })
    }

    /// True when the OOM killer killed a process in this cgroup.
    pub fn oom_killed(&self) -> Result<bool, CgroupError> {
        Err(CgroupError::Unimplemented {
            path: self.path.clone(),
        })
    }

    /// Pids of the processes in the cgroup.
    pub fn pids(&self) -> Result<Vec<i32>, CgroupError> {
        Err(CgroupError::Unimplemented {
            path: self.path.clone(),
        })
    }

    /// Removes the cgroup (all its hierarchies); it must have no processes left.
    pub fn delete(&self) -> Result<(), CgroupError> {
        Err(CgroupError::Unimplemented {
            path: self.path.clone(),
        })
    }
}
