//! What `cp` sees besides the root file system, as Docker's cp does: a container's volumes and
//! bind mounts. A running container is seen through `/proc/<pid>/root`, its own mount namespace;
//! a stopped one gets each volume and bind mounted onto its mounted overlay for the copy (the
//! target resolved inside the root, so an image's symlink cannot point a mount at the host),
//! taken off again when the copy is done.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use hull_sys::fs::{self as sys, OFlags};

use crate::run::UserMount;
use crate::state::Record;
use crate::volume::RunVolumes;
use crate::{Engine, EngineError};

/// The binds made for one copy; each unmounted (in reverse) when dropped, then the volumes'
/// own mounts.
pub(crate) struct CopyMounts<'a> {
    /// O_PATH fds of the mounted targets (the mounts' tops).
    tops: Vec<OwnedFd>,
    _volumes: Option<RunVolumes<'a>>,
}

impl Drop for CopyMounts<'_> {
    fn drop(&mut self) {
        for fd in self.tops.drain(..).rev() {
            let _ = hull_sys::mount::unmount(&fd_path(fd.as_fd()), true);
        }
    }
}

fn fd_path(fd: BorrowedFd<'_>) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

/// A running container's root as it sees it, mounts included: `/proc/<pid>/root`.
pub(crate) fn running_root(record: &Record) -> Option<OwnedFd> {
    let pid = record.state.pid?;
    sys::open_dir(Path::new(&format!("/proc/{pid}/root"))).ok()
}

impl Engine {
    /// Mounts the stopped container's volumes and binds onto `root` (its mounted overlay).
    /// Targets missing from the root are left out (a run creates them).
    pub(crate) fn copy_mounts(
        &self,
        record: &Record,
        root: BorrowedFd<'_>,
        rootfs: &Path,
    ) -> Result<CopyMounts<'_>, EngineError> {
        let (mounts, volumes) = self.volumes_for_run(record, rootfs)?;
        let mut out = CopyMounts {
            tops: Vec::new(),
            _volumes: Some(volumes),
        };
        let mut binds: Vec<(PathBuf, &str, bool)> = mounts
            .iter()
            .filter_map(|m| match m {
                UserMount::Bind {
                    source,
                    target,
                    readonly,
                } => Some((source.clone(), target.as_str(), *readonly)),
                _ => None,
            })
            .collect();
        // Parents before what is mounted inside them.
        binds.sort_by_key(|(_, t, _)| t.matches('/').count());
        for (source, target, readonly) in binds {
            let rel = Path::new(target.trim_start_matches('/'));
            let Ok(at) = sys::open_in_root(root, rel, OFlags::PATH) else {
                continue;
            };
            let spec = hull_sys::mount::MountSpec::Bind { source, readonly };
            hull_sys::mount::mount(&spec, &fd_path(at.as_fd())).map_err(crate::engine::io_err(
                &record.id,
                "mount for cp",
                Path::new(target),
            ))?;
            let top = sys::open_in_root(root, rel, OFlags::PATH).map_err(crate::engine::io_err(
                &record.id,
                "open",
                Path::new(target),
            ))?;
            out.tops.push(top);
        }
        Ok(out)
    }
}
