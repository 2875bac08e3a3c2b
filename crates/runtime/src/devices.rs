//! /dev inside the container: the default device nodes (bind-mounted from the host, which also
//! works in a user namespace), `linux.devices` (mknod; a bind of the host's node only in a user
//! namespace, where mknod of a device is never allowed), and the standard symlinks.

use std::io;
use std::path::Path;

use hull_oci::runtime::Device;
use rustix::fs::{FileType, Mode};

/// Docker's default nodes, bound from the host's /dev.
pub const DEFAULT_DEVICES: &[&str] = &["null", "zero", "full", "random", "urandom", "tty"];

/// The device cgroup rules for what every container gets, whatever its spec says (runc does the
/// same): the [`DEFAULT_DEVICES`], /dev/console, /dev/ptmx and the pty slaves.
pub fn always_allowed() -> Vec<hull_oci::runtime::DeviceRule> {
    const ALLOWED: &[(i64, Option<i64>)] = &[
        (1, Some(3)), // null
        (1, Some(5)), // zero
        (1, Some(7)), // full
        (1, Some(8)), // random
        (1, Some(9)), // urandom
        (5, Some(0)), // tty
        (5, Some(1)), // console
        (5, Some(2)), // ptmx
        (136, None),  // pts/*
    ];
    ALLOWED
        .iter()
        .map(|&(major, minor)| hull_oci::runtime::DeviceRule {
            allow: true,
            kind: Some("c".into()),
            major: Some(major),
            minor,
            access: Some("rwm".into()),
        })
        .collect()
}

/// Device cgroup rules that let init create the nodes of `linux.devices` (`m` only: reading or
/// writing them stays as `linux.resources.devices` says). The cgroup's rules are in force before
/// init sets up /dev, so without these a deny-all would refuse the mknod (runc gets the same by
/// applying its rules after the rootfs is set up).
pub fn creation_rules(devices: &[Device]) -> Vec<hull_oci::runtime::DeviceRule> {
    devices
        .iter()
        .filter_map(|d| {
            let kind = match device_type(&d.kind)? {
                FileType::BlockDevice => "b",
                FileType::CharacterDevice => "c",
                _ => return None, // a fifo is no device: the device cgroup does not check it
            };
            Some(hull_oci::runtime::DeviceRule {
                allow: true,
                kind: Some(kind.into()),
                major: Some(d.major),
                minor: Some(d.minor),
                access: Some("m".into()),
            })
        })
        .collect()
}

/// (link target, link path under /dev).
pub const DEV_SYMLINKS: &[(&str, &str)] = &[
    ("/proc/self/fd", "fd"),
    ("/proc/self/fd/0", "stdin"),
    ("/proc/self/fd/1", "stdout"),
    ("/proc/self/fd/2", "stderr"),
    ("pts/ptmx", "ptmx"),
];

fn ctx(what: &str, path: &Path, e: impl Into<io::Error>) -> io::Error {
    let e = e.into();
    io::Error::new(e.kind(), format!("{what} {}: {e}", path.display()))
}

/// Creates the default devices, the spec's devices and the symlinks under `rootfs/dev` (before
/// pivot_root, while the host's /dev is still reachable).
pub fn populate(rootfs: &Path, extra: &[Device]) -> io::Result<()> {
    let dev = rootfs.join("dev");
    std::fs::create_dir_all(&dev).map_err(|e| ctx("mkdir", &dev, e))?;
    for name in DEFAULT_DEVICES {
        if extra.iter().any(|d| d.path == Path::new("/dev").join(name)) {
            continue;
        }
        bind_host_device(&Path::new("/dev").join(name), &dev.join(name))?;
    }
    for d in extra {
        create_device(rootfs, d)?;
    }
    for (target, name) in DEV_SYMLINKS {
        let link = dev.join(name);
        if std::fs::symlink_metadata(&link).is_ok() {
            continue;
        }
        std::os::unix::fs::symlink(target, &link).map_err(|e| ctx("symlink", &link, e))?;
    }
    Ok(())
}

fn bind_host_device(host: &Path, target: &Path) -> io::Result<()> {
    crate::mounts::create_mountpoint(target, false)?;
    rustix::mount::mount_bind(host, target).map_err(|e| ctx("bind device", target, e))
}

pub fn device_type(kind: &str) -> Option<FileType> {
    match kind {
        "c" | "u" => Some(FileType::CharacterDevice),
        "b" => Some(FileType::BlockDevice),
        "p" => Some(FileType::Fifo),
        _ => None,
    }
}

/// mknod the device, with its mode and owner. In a user namespace, where the kernel never lets
/// a process create a device node, the host's node of the same path is bound instead (as runc
/// does); anywhere else a refused mknod is an error.
fn create_device(rootfs: &Path, d: &Device) -> io::Result<()> {
    let target = crate::mounts::secure_join(rootfs, &d.path)?;
    let ft = device_type(&d.kind).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("device {}: unknown type {:?}", d.path.display(), d.kind),
        )
    })?;
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent).map_err(|e| ctx("mkdir", parent, e))?;
    }
    let _ = std::fs::remove_file(&target);
    let mode = Mode::from_raw_mode(d.file_mode.unwrap_or(0o666) & 0o7777);
    let dev = rustix::fs::makedev(d.major as u32, d.minor as u32);
    match rustix::fs::mknodat(rustix::fs::CWD, &target, ft, mode, dev) {
        Ok(()) => {}
        Err(rustix::io::Errno::PERM) if ft != FileType::Fifo && in_user_namespace() => {
            return bind_host_device(&d.path, &target).map_err(|e| {
                let what = format!(
                    "mknod is not allowed in a user namespace; bind host {}",
                    d.path.display()
                );
                io::Error::new(
                    e.kind(),
                    format!("device {}: {what}: {e}", d.path.display()),
                )
            });
        }
        Err(e) => {
            let what = format!("mknod ({} {}:{})", d.kind, d.major, d.minor);
            return Err(ctx(&what, &d.path, e));
        }
    }
    // mknod's mode is filtered by the umask; set it exactly.
    rustix::fs::chmod(&target, mode).map_err(|e| ctx("chmod", &target, e))?;
    let uid = d.uid.map(rustix::fs::Uid::from_raw);
    let gid = d.gid.map(rustix::fs::Gid::from_raw);
    rustix::fs::chown(&target, uid, gid).map_err(|e| ctx("chown", &target, e))
}

/// Whether this process runs in a user namespace other than the initial one, whose uid map is
/// the identity over the whole range.
fn in_user_namespace() -> bool {
    std::fs::read_to_string("/proc/self/uid_map").is_ok_and(|m| !is_initial_uid_map(&m))
}

fn is_initial_uid_map(map: &str) -> bool {
    let fields: Vec<&str> = map.split_whitespace().collect();
    fields == ["0", "0", "4294967295"]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_types_follow_the_spec_letters() {
        assert_eq!(device_type("c"), Some(FileType::CharacterDevice));
        assert_eq!(device_type("u"), Some(FileType::CharacterDevice));
        assert_eq!(device_type("b"), Some(FileType::BlockDevice));
        assert_eq!(device_type("p"), Some(FileType::Fifo));
        assert_eq!(device_type("x"), None);
    }

    #[test]
    fn only_the_initial_uid_map_is_the_full_identity() {
        assert!(is_initial_uid_map("         0          0 4294967295\n"));
        assert!(!is_initial_uid_map("         0     100000      65536\n"));
        assert!(!is_initial_uid_map(""));
    }

    #[test]
    fn creation_rules_allow_mknod_of_char_and_block_nodes_only() {
        let dev = |kind: &str, major, minor| Device {
            kind: kind.into(),
            path: "/dev/x".into(),
            major,
            minor,
            file_mode: None,
            uid: None,
            gid: None,
        };
        let rules = creation_rules(&[dev("c", 10, 229), dev("b", 8, 1), dev("p", 0, 0)]);
        let got: Vec<_> = rules
            .iter()
            .map(|r| {
                (
                    r.kind.clone().unwrap(),
                    r.major,
                    r.minor,
                    r.access.clone().unwrap(),
                    r.allow,
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                ("c".to_string(), Some(10), Some(229), "m".to_string(), true),
                ("b".to_string(), Some(8), Some(1), "m".to_string(), true),
            ]
        );
    }

    #[test]
    fn default_table_is_dockers() {
        assert_eq!(DEFAULT_DEVICES.len(), 6);
        assert!(DEV_SYMLINKS.contains(&("pts/ptmx", "ptmx")));
    }
}
