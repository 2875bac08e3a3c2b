//! Performing mounts. Everything above this crate describes mounts as data ([`MountSpec`]); this is
//! the one place that turns that data into syscalls.

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
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

/// Mount attributes for [`set_attributes_recursive`] (`MOUNT_ATTR_*` in linux/mount.h).
pub mod attr {
    pub const RDONLY: u64 = 0x0000_0001;
    pub const NOSUID: u64 = 0x0000_0002;
    pub const NODEV: u64 = 0x0000_0004;
    pub const NOEXEC: u64 = 0x0000_0008;
    /// The access-time mask: RELATIME (0), NOATIME and STRICTATIME are values in it, not bits.
    pub const ATIME_MASK: u64 = 0x0000_0070;
    pub const RELATIME: u64 = 0x0000_0000;
    pub const NOATIME: u64 = 0x0000_0010;
    pub const STRICTATIME: u64 = 0x0000_0020;
    pub const NODIRATIME: u64 = 0x0000_0080;
    pub const NOSYMFOLLOW: u64 = 0x0020_0000;
}

/// `struct mount_attr` of mount_setattr(2), its first version (MOUNT_ATTR_SIZE_VER0, 32 bytes).
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// Sets `set` and clears `clear` ([`attr`] values) on the mount at `path` and every mount below
/// it, in one call (mount_setattr(2) with AT_RECURSIVE, Linux 5.12; NOSYMFOLLOW needs 5.14). A
/// symlink at `path` itself is not followed. A kernel without the call answers ENOSYS.
pub fn set_attributes_recursive(path: &Path, set: u64, clear: u64) -> io::Result<()> {
    let cpath = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path has a NUL byte"))?;
    let attr = MountAttr {
        attr_set: set,
        attr_clr: clear,
        propagation: 0,
        userns_fd: 0,
    };
    let flags = libc::AT_RECURSIVE | libc::AT_SYMLINK_NOFOLLOW;
    // SAFETY: `cpath` is a NUL-terminated string and `attr` a fully initialised struct of the
    // size passed; both live until the call returns, and the kernel only reads them.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            libc::AT_FDCWD,
            cpath.as_ptr(),
            flags as libc::c_uint,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if ret == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
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

/// The mount that holds `path` (an absolute, resolved path) in this mount namespace: its mount
/// point, and whether it is shared (in a peer group). Of stacked mounts, the last one wins.
pub fn containing_mount(path: &Path) -> io::Result<(PathBuf, bool)> {
    let info = std::fs::read_to_string("/proc/self/mountinfo")?;
    Ok(containing_mount_in(&info, path))
}

fn containing_mount_in(info: &str, path: &Path) -> (PathBuf, bool) {
    let mut best = (PathBuf::from("/"), false);
    for line in info.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        let Some(point) = fields.get(4).map(|f| PathBuf::from(unescape_mountinfo(f))) else {
            continue;
        };
        if !path.starts_with(&point) || point.components().count() < best.0.components().count() {
            continue;
        }
        // optional fields run from the 7th to the `-` separator.
        let optional = fields.iter().skip(6).take_while(|f| **f != "-");
        let shared = optional.clone().any(|f| f.starts_with("shared:"));
        best = (point, shared);
    }
    best
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo` octal.
pub fn unescape_mountinfo(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        // bytes, not a str slice: a multi-byte character after a backslash is no escape.
        let octal = bytes.get(i + 1..i + 4).and_then(|d| {
            let d = std::str::from_utf8(d).ok()?;
            u8::from_str_radix(d, 8).ok()
        });
        match (bytes[i], octal) {
            (b'\\', Some(b)) => {
                out.push(b);
                i += 4;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
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
        assert_eq!(unescape_mountinfo("/a\\é"), "/a\\é");
    }

    #[test]
    fn containing_mount_is_the_deepest_and_last() {
        let info = "\
22 1 8:1 / / rw - ext4 /dev/vda rw
30 22 0:40 / /run rw shared:5 - tmpfs tmpfs rw
31 30 0:41 / /run/c\\040x rw shared:7 master:2 - overlay overlay rw
32 31 0:41 / /run/c\\040x rw - overlay overlay rw
";
        let got = |p: &str| containing_mount_in(info, Path::new(p));
        assert_eq!(got("/run/c x/rootfs"), (PathBuf::from("/run/c x"), false));
        assert_eq!(got("/run/other"), (PathBuf::from("/run"), true));
        assert_eq!(got("/runner"), (PathBuf::from("/"), false));
    }
}
