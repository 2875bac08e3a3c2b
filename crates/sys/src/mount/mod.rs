//! Performing mounts. Everything above this crate describes mounts as data ([`MountSpec`]); this is
//! the one place that turns that data into syscalls.

use std::io;
use std::path::{Path, PathBuf};

use rustix::mount::{MountFlags, UnmountFlags};

pub mod overlay;

/// One mount, as data: an overlay stack or a bind mount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MountSpec {
    /// `lowers` are ordered top-most first, as overlayfs wants them. Without `upper` the mount is
    /// read-only and needs at least two lowers (an overlayfs rule).
    Overlay {
        lowers: Vec<PathBuf>,
        upper: Option<OverlayUpper>,
    },
    /// A bind mount of `source`, optionally read-only.
    Bind { source: PathBuf, readonly: bool },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverlayUpper {
    pub upper: PathBuf,
    pub work: PathBuf,
}

/// Mounts `spec` on `target`.
pub fn mount(spec: &MountSpec, target: &Path) -> io::Result<()> {
    match spec {
        MountSpec::Overlay { lowers, upper } => {
            overlay::mount_overlay_as(overlay::lower_form(), lowers, upper.as_ref(), target)
        }
        MountSpec::Bind { source, readonly } => bind(source, target, *readonly),
    }
}

fn bind(source: &Path, target: &Path, readonly: bool) -> io::Result<()> {
    rustix::mount::mount_bind(source, target)?;
    if readonly {
        // A bind mount ignores MS_RDONLY on creation; it takes a remount to apply it.
        let flags = MountFlags::BIND | MountFlags::RDONLY;
        rustix::mount::mount_remount(target, flags, "")?;
    }
    Ok(())
}

/// Unmounts `target`; `detach` makes it lazy (MNT_DETACH).
pub fn unmount(target: &Path, detach: bool) -> io::Result<()> {
    let flags = if detach {
        UnmountFlags::DETACH
    } else {
        UnmountFlags::empty()
    };
    rustix::mount::unmount(target, flags)?;
    Ok(())
}

/// True when `path` is a mount point, judged by /proc/self/mountinfo.
pub fn is_mountpoint(path: &Path) -> io::Result<bool> {
    let info = std::fs::read_to_string("/proc/self/mountinfo")?;
    let want = path.to_string_lossy();
    Ok(info
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .any(|mp| unescape_mountinfo(mp) == want))
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo` octal.
fn unescape_mountinfo(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 4], 8) {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unescapes_mountinfo_octal() {
        assert_eq!(unescape_mountinfo(r"/a\040b"), "/a b");
        assert_eq!(unescape_mountinfo("/plain"), "/plain");
    }
}
