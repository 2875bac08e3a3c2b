//! Overlay mounts in the form this kernel takes.
//!
//! Two forms exist:
//! - [`LowerForm::Append`]: the new mount API with one `lowerdir+` per layer (overlayfs parses it
//!   from Linux 6.8 on), so the number of layers is bounded only by overlayfs' own stack limit.
//! - [`LowerForm::Joined`]: mount(2) with one `lowerdir=a:b:c` option string, which every kernel
//!   takes. That string must fit the one page mount(2) copies, so each directory is named by a
//!   short `/proc/self/fd/N` path to an `O_PATH` descriptor instead of its full path.
//!
//! Why not ask `fsconfig` whether `lowerdir+` works: before 6.5 overlayfs has no parser of its own
//! for the new API, and the VFS's legacy one accepts any key at `fsconfig` time, failing only at
//! `FSCONFIG_CMD_CREATE`. So the form is found by an actual (detached, never attached) mount, once
//! per boot, and the answer is cached in [`CACHE_FILE`] next to the boot ID it holds for.

use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use rustix::fs::{Mode, OFlags};
use rustix::mount::{
    fsconfig_create, fsconfig_set_string, fsmount, fsopen, move_mount, FsMountFlags, FsOpenFlags,
    MountAttrFlags, MountFlags, MoveMountFlags,
};

use super::OverlayUpper;

/// How this kernel's overlayfs takes its lower layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LowerForm {
    /// One `lowerdir+` per layer through fsopen/fsconfig (Linux 6.8+).
    Append,
    /// One joined `lowerdir=` option through mount(2) (every kernel).
    Joined,
}

/// Where the per-boot answer of [`lower_form`] is kept: `<boot id> append|joined`.
pub const CACHE_FILE: &str = "/run/hull/overlay-lowers";

/// Overrides the probe (`append` or `joined`): for tests, and for a kernel that lies.
pub const OVERRIDE_ENV: &str = "HULL_OVERLAY_LOWERS";

/// mount(2) copies at most one page of options, including the terminating NUL.
const MOUNT_DATA_MAX: usize = 4096 - 1;

/// The form this kernel takes: the override, the per-boot cache, or a fresh probe.
pub fn lower_form() -> LowerForm {
    static FORM: OnceLock<LowerForm> = OnceLock::new();
    *FORM.get_or_init(|| {
        if let Some(form) = std::env::var(OVERRIDE_ENV)
            .ok()
            .and_then(|v| parse_form(&v))
        {
            return form;
        }
        let boot = boot_id();
        if let Some(form) = boot
            .as_deref()
            .and_then(|b| read_cache(Path::new(CACHE_FILE), b))
        {
            return form;
        }
        let form = probe_lower_form(&scratch_parent());
        if let Some(b) = boot {
            // Best effort: without the cache the next process probes again.
            let _ = write_cache(Path::new(CACHE_FILE), &b, form);
        }
        form
    })
}

/// Mounts an overlay of `lowers` (top-most first) with an optional upper on `target`, in `form`.
pub fn mount_overlay_as(
    form: LowerForm,
    lowers: &[PathBuf],
    upper: Option<&OverlayUpper>,
    target: &Path,
) -> io::Result<()> {
    match form {
        LowerForm::Append => mount_appended(lowers, upper, target),
        LowerForm::Joined => mount_joined(lowers, upper, target),
    }
}

fn mount_appended(
    lowers: &[PathBuf],
    upper: Option<&OverlayUpper>,
    target: &Path,
) -> io::Result<()> {
    let fs = fsopen("overlay", FsOpenFlags::FSOPEN_CLOEXEC)?;
    for lower in lowers {
        fsconfig_set_string(fs.as_fd(), "lowerdir+", lower)?;
    }
    if let Some(u) = upper {
        fsconfig_set_string(fs.as_fd(), "upperdir", &u.upper)?;
        fsconfig_set_string(fs.as_fd(), "workdir", &u.work)?;
    }
    // Index and metacopy stay off: they tie the upper dir to these exact lower inodes.
    fsconfig_set_string(fs.as_fd(), "index", "off")?;
    fsconfig_create(fs.as_fd())?;
    let attrs = if upper.is_none() {
        MountAttrFlags::MOUNT_ATTR_RDONLY
    } else {
        MountAttrFlags::empty()
    };
    let mnt = fsmount(fs.as_fd(), FsMountFlags::FSMOUNT_CLOEXEC, attrs)?;
    move_mount(
        mnt.as_fd(),
        "",
        rustix::fs::CWD,
        target,
        MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH,
    )?;
    Ok(())
}

fn mount_joined(lowers: &[PathBuf], upper: Option<&OverlayUpper>, target: &Path) -> io::Result<()> {
    // The descriptors must stay open until mount(2) has resolved every path.
    let lower_fds = lowers
        .iter()
        .map(|p| open_dir_path(p))
        .collect::<io::Result<Vec<_>>>()?;
    let upper_fds = match upper {
        Some(u) => Some((open_dir_path(&u.upper)?, open_dir_path(&u.work)?)),
        None => None,
    };
    let data = joined_options(
        &lower_fds,
        upper_fds.as_ref().map(|(u, w)| (u, w)),
        lowers.len(),
    )?;
    let flags = if upper.is_none() {
        MountFlags::RDONLY
    } else {
        MountFlags::empty()
    };
    let data = std::ffi::CString::new(data)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "overlay options hold a NUL"))?;
    rustix::mount::mount("overlay", target, "overlay", flags, Some(data.as_c_str()))?;
    Ok(())
}

/// `lowerdir=/proc/self/fd/A:/proc/self/fd/B,upperdir=…,workdir=…,index=off`, or an error when
/// even the short names do not fit mount(2)'s page.
fn joined_options(
    lowers: &[OwnedFd],
    upper: Option<(&OwnedFd, &OwnedFd)>,
    layers: usize,
) -> io::Result<String> {
    let names: Vec<String> = lowers.iter().map(fd_path).collect();
    let mut data = format!("lowerdir={}", names.join(":"));
    if let Some((u, w)) = upper {
        data.push_str(&format!(",upperdir={},workdir={}", fd_path(u), fd_path(w)));
    }
    data.push_str(",index=off");
    if data.len() > MOUNT_DATA_MAX {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "overlay of {layers} layers needs {} bytes of mount options, more than the \
                 {MOUNT_DATA_MAX} this kernel takes (lowerdir+ for longer stacks needs Linux 6.8)",
                data.len()
            ),
        ));
    }
    Ok(data)
}

fn open_dir_path(path: &Path) -> io::Result<OwnedFd> {
    let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
    rustix::fs::open(path, flags, Mode::empty()).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("open overlay dir {}: {e}", path.display()),
        )
    })
}

fn fd_path(fd: &OwnedFd) -> String {
    format!("/proc/self/fd/{}", fd.as_raw_fd())
}

/// Whether overlayfs takes `lowerdir+`: tries a real read-only mount of two empty lowers made in
/// a scratch dir below `parent`. The mount is never attached anywhere; closing its descriptor
/// releases it.
pub fn probe_lower_form(parent: &Path) -> LowerForm {
    let scratch = parent.join(format!("overlay-probe-{}", std::process::id()));
    let (a, b) = (scratch.join("a"), scratch.join("b"));
    let made = std::fs::create_dir_all(&a).and_then(|()| std::fs::create_dir_all(&b));
    let works = made.is_ok() && try_append_mount(&[a, b]).is_ok();
    let _ = std::fs::remove_dir_all(&scratch);
    if works {
        LowerForm::Append
    } else {
        LowerForm::Joined
    }
}

fn try_append_mount(lowers: &[PathBuf]) -> io::Result<()> {
    let fs = fsopen("overlay", FsOpenFlags::FSOPEN_CLOEXEC)?;
    for lower in lowers {
        fsconfig_set_string(fs.as_fd(), "lowerdir+", lower)?;
    }
    fsconfig_create(fs.as_fd())?;
    let _detached = fsmount(
        fs.as_fd(),
        FsMountFlags::FSMOUNT_CLOEXEC,
        MountAttrFlags::MOUNT_ATTR_RDONLY,
    )?;
    Ok(())
}

fn scratch_parent() -> PathBuf {
    let run = Path::new(CACHE_FILE).parent().unwrap_or(Path::new("/run"));
    if std::fs::create_dir_all(run).is_ok() {
        run.to_path_buf()
    } else {
        std::env::temp_dir()
    }
}

fn parse_form(s: &str) -> Option<LowerForm> {
    match s.trim() {
        "append" => Some(LowerForm::Append),
        "joined" => Some(LowerForm::Joined),
        _ => None,
    }
}

fn form_name(form: LowerForm) -> &'static str {
    match form {
        LowerForm::Append => "append",
        LowerForm::Joined => "joined",
    }
}

fn boot_id() -> Option<String> {
    let id = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
    Some(id.trim().to_string()).filter(|s| !s.is_empty())
}

/// The cached form when the cache was written during boot `boot`.
pub fn read_cache(path: &Path, boot: &str) -> Option<LowerForm> {
    let text = std::fs::read_to_string(path).ok()?;
    let (cached_boot, form) = text.trim().split_once(' ')?;
    (cached_boot == boot).then(|| parse_form(form)).flatten()
}

/// Writes the cache atomically (a temp file renamed over it), so a reader never sees half.
pub fn write_cache(path: &Path, boot: &str, form: LowerForm) -> io::Result<()> {
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    std::fs::write(&tmp, format!("{boot} {}\n", form_name(form)))?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_holds_only_for_its_boot() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("overlay-lowers");
        write_cache(&file, "boot-1", LowerForm::Joined).unwrap();
        assert_eq!(read_cache(&file, "boot-1"), Some(LowerForm::Joined));
        assert_eq!(read_cache(&file, "boot-2"), None);
        write_cache(&file, "boot-2", LowerForm::Append).unwrap();
        assert_eq!(read_cache(&file, "boot-2"), Some(LowerForm::Append));
        std::fs::write(&file, "garbage").unwrap();
        assert_eq!(read_cache(&file, "garbage"), None);
    }

    #[test]
    fn joined_options_name_short_fd_paths_and_refuse_more_than_a_page() {
        let dir = tempfile::tempdir().unwrap();
        let fds: Vec<OwnedFd> = (0..3).map(|_| open_dir_path(dir.path()).unwrap()).collect();
        let data = joined_options(&fds, Some((&fds[0], &fds[1])), 3).unwrap();
        assert!(data.starts_with("lowerdir=/proc/self/fd/"), "{data}");
        assert_eq!(data.matches("/proc/self/fd/").count(), 5, "{data}");
        assert!(data.ends_with(",index=off"), "{data}");
        // 300 layers of "/proc/self/fd/NN:" (≥ 17 bytes each) cannot fit 4095 bytes.
        let many: Vec<OwnedFd> = (0..300)
            .map(|_| open_dir_path(dir.path()).unwrap())
            .collect();
        let err = joined_options(&many, None, 300).unwrap_err();
        assert!(err.to_string().contains("overlay of 300 layers"), "{err}");
        assert!(err.to_string().contains("Linux 6.8"), "{err}");
    }

    #[test]
    fn opening_a_missing_layer_names_it() {
        let err = open_dir_path(Path::new("/nonexistent/hull-layer")).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/hull-layer"), "{err}");
    }
}
