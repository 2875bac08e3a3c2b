//! A container's volumes for one run: each resolved to a bind of its `_data`, a `type`/`device`
//! volume mounted there first (and taken off after the run when no other running container uses
//! it), and a new, empty volume filled from the image unless `nocopy`.
//!
//! The copy goes into a temp directory beside `_data` and is swapped in with one
//! `RENAME_EXCHANGE` after a syncfs, so a run killed mid-copy leaves the volume empty (and the
//! next run copies again), never half full. A tmpfs or device volume is filled in place.

use std::fs;
use std::io;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use super::store::{test_pause, unmount_data, CreateRequest};
use super::{copyup, io_err, Volume, VolumeError, Volumes};
use crate::run::UserMount;
use crate::state::Record;
use crate::{Engine, EngineError};

/// The volumes a run mounted on their `_data`; taken off when dropped unless another running
/// container uses them.
pub(crate) struct RunVolumes<'a> {
    engine: &'a Engine,
    id: String,
    mounted: Vec<Volume>,
}

impl Drop for RunVolumes<'_> {
    fn drop(&mut self) {
        let users = self.engine.volume_users().unwrap_or_default();
        for v in &self.mounted {
            let shared = users.get(&v.name).is_some_and(|ids| {
                ids.iter()
                    .any(|id| *id != self.id && self.engine.containers.is_running(id))
            });
            if !shared {
                unmount_data(&v.mountpoint);
            }
        }
    }
}

impl Engine {
    /// Makes `record`'s volumes ready for a run on `rootfs` (the mounted image); returns its
    /// mounts with each volume turned into a bind of its data, and the guard of what it mounted.
    pub(crate) fn volumes_for_run(
        &self,
        record: &Record,
        rootfs: &Path,
    ) -> Result<(Vec<UserMount>, RunVolumes<'_>), EngineError> {
        let volumes = self.volumes();
        let mut guard = RunVolumes {
            engine: self,
            id: record.id.clone(),
            mounted: Vec::new(),
        };
        let mut out = Vec::new();
        for m in &record.config.mounts {
            let UserMount::Volume {
                name,
                target,
                readonly,
                nocopy,
            } = m
            else {
                out.push(m.clone());
                continue;
            };
            // Made on first use when missing (a record from before it was removed by hand).
            let req = CreateRequest {
                name: Some(name.clone()),
                ..Default::default()
            };
            let v = volumes.create(&req, Volumes::now())?.0;
            if v.is_mounted_kind()
                && !hull_sys::mount::is_mountpoint(&v.mountpoint).unwrap_or(false)
            {
                mount_kind(&v)?;
                guard.mounted.push(v.clone());
            }
            if !nocopy {
                copy_up(&v, rootfs, target)?;
            }
            self.volume_event(
                "mount",
                &v.name,
                &mount_attrs(&record.id, target, *readonly),
            );
            out.push(UserMount::Bind {
                source: v.mountpoint.clone(),
                target: target.clone(),
                readonly: *readonly,
            });
        }
        Ok((out, guard))
    }
}

/// A `mount` event's attributes, as Docker's: the container, where, and whether writable.
fn mount_attrs(id: &str, target: &str, readonly: bool) -> [(&'static str, String); 4] {
    [
        ("container", id.to_string()),
        ("destination", target.to_string()),
        ("propagation", String::new()),
        ("read/write", (!readonly).to_string()),
    ]
}

/// Mounts a `type`/`device` volume on its `_data`, as the local driver does.
fn mount_kind(v: &Volume) -> Result<(), VolumeError> {
    use rustix::mount::{MountFlags, MountPropagationFlags};
    let o = v.option("o").unwrap_or("");
    let mut flags = MountFlags::empty();
    let mut data = Vec::new();
    let mut bind = false;
    for opt in o.split(',').filter(|s| !s.is_empty()) {
        match opt {
            "bind" | "rbind" => bind = true,
            "ro" => flags |= MountFlags::RDONLY,
            "rw" => {}
            "nosuid" => flags |= MountFlags::NOSUID,
            "nodev" => flags |= MountFlags::NODEV,
            "noexec" => flags |= MountFlags::NOEXEC,
            "noatime" => flags |= MountFlags::NOATIME,
            other => data.push(other),
        }
    }
    let target = &v.mountpoint;
    let err = |e: io::Error| io_err(&v.name, "mount", target)(e);
    if bind {
        let device = v.option("device").unwrap_or_default();
        rustix::mount::mount_bind(device, target).map_err(|e| err(e.into()))?;
        if flags.contains(MountFlags::RDONLY) {
            rustix::mount::mount_remount(target, MountFlags::BIND | flags, "")
                .map_err(|e| io_err(&v.name, "remount read-only", target)(e.into()))?;
        }
        return Ok(());
    }
    let kind = v.option("type").unwrap_or("none");
    let device = v.option("device").unwrap_or(kind);
    let data = std::ffi::CString::new(data.join(","))
        .map_err(|_| err(io::Error::from(io::ErrorKind::InvalidInput)))?;
    rustix::mount::mount(device, target, kind, flags, Some(data.as_c_str()))
        .map_err(|e| err(e.into()))?;
    // A volume's mount stays out of the host's other mounts' propagation.
    let _ = rustix::mount::mount_change(target, MountPropagationFlags::PRIVATE);
    Ok(())
}

/// Fills an empty volume with what the image holds at `target` (a directory), as Docker does.
fn copy_up(v: &Volume, rootfs: &Path, target: &str) -> Result<(), VolumeError> {
    let root = hull_sys::fs::open_dir(rootfs).map_err(io_err(&v.name, "open", rootfs))?;
    let rel = Path::new(target.trim_start_matches('/'));
    let Ok(src) = hull_sys::fs::open_dir_in_root(root.as_fd(), rel) else {
        // Nothing there, or not a directory: nothing to copy.
        return Ok(());
    };
    let data = &v.mountpoint;
    let dir = data.parent().expect("_data has a parent");
    // Two runs filling one new volume: the second waits, then finds it full. (An flock on the
    // record, so nothing is added to the volume's directory.)
    let record = dir.join("volume.json");
    let lock = fs::File::open(&record).map_err(io_err(&v.name, "open", &record))?;
    lock.lock().map_err(io_err(&v.name, "lock", &record))?;
    if !is_empty_dir(data).map_err(io_err(&v.name, "read", data))? {
        return Ok(());
    }
    let src_path = proc_fd_path(&src);
    if v.is_mounted_kind() {
        return copyup::copy_tree(&src_path, data).map_err(io_err(
            &v.name,
            "copy image content to",
            data,
        ));
    }
    sweep_copies(dir);
    let tmp = dir.join(format!(".copyup.{}.tmp", std::process::id()));
    let _ = fs::remove_dir_all(&tmp);
    fs::create_dir(&tmp).map_err(io_err(&v.name, "create directory", &tmp))?;
    let filled = copyup::copy_tree(&src_path, &tmp).and_then(|()| {
        let fd = hull_sys::fs::open_dir(&tmp)?;
        hull_sys::fs::syncfs(fd.as_fd())?;
        test_pause("HULL_TEST_PAUSE_VOLUME_COPYUP");
        exchange(&tmp, data)
    });
    let result = filled.map_err(io_err(&v.name, "copy image content to", data));
    // Now the old, empty `_data` (or a failed copy).
    let _ = fs::remove_dir_all(&tmp);
    result
}

fn proc_fd_path(fd: &std::os::fd::OwnedFd) -> PathBuf {
    use std::os::fd::AsRawFd;
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

fn is_empty_dir(p: &Path) -> io::Result<bool> {
    Ok(fs::read_dir(p)?.next().is_none())
}

/// Swaps two directories in one step.
fn exchange(a: &Path, b: &Path) -> io::Result<()> {
    use rustix::fs::{renameat_with, RenameFlags, CWD};
    renameat_with(CWD, a, CWD, b, RenameFlags::EXCHANGE).map_err(io::Error::from)
}

/// Removes the copies of runs that were killed mid-copy.
fn sweep_copies(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let pid = name
            .strip_prefix(".copyup.")
            .and_then(|r| r.strip_suffix(".tmp"))
            .and_then(|p| p.parse::<u32>().ok());
        if pid.is_some_and(|p| !Path::new(&format!("/proc/{p}")).exists()) {
            let _ = fs::remove_dir_all(e.path());
        }
    }
}
