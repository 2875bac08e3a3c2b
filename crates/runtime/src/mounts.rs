//! Mounts as data, then applied in init: OCI mount option strings → flags (a table, like runc's),
//! the plan for `spec.mounts`, and the rootfs recipe (propagation, bind, pivot_root, masked and
//! read-only paths). Everything here before `apply_*` is pure and tested without root.

use std::io;
use std::path::{Component, Path, PathBuf};

use hull_oci::runtime::Mount;
use rustix::mount::{MountFlags, MountPropagationFlags, UnmountFlags};

pub use crate::mount_attrs::RecursiveAttrs;

/// How one option word changes a mount (runc's `mountFlags` table, as data).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OptionEffect {
    Set(MountFlags),
    Clear(MountFlags),
    Propagation(MountPropagationFlags),
    Bind { recursive: bool },
}

const OPTION_TABLE: &[(&str, OptionEffect)] = {
    use MountPropagationFlags as P;
    use OptionEffect::*;
    &[
        ("ro", Set(MountFlags::RDONLY)),
        ("rw", Clear(MountFlags::RDONLY)),
        ("nosuid", Set(MountFlags::NOSUID)),
        ("suid", Clear(MountFlags::NOSUID)),
        ("nodev", Set(MountFlags::NODEV)),
        ("dev", Clear(MountFlags::NODEV)),
        ("noexec", Set(MountFlags::NOEXEC)),
        ("exec", Clear(MountFlags::NOEXEC)),
        ("sync", Set(MountFlags::SYNCHRONOUS)),
        ("async", Clear(MountFlags::SYNCHRONOUS)),
        ("dirsync", Set(MountFlags::DIRSYNC)),
        ("noatime", Set(MountFlags::NOATIME)),
        ("atime", Clear(MountFlags::NOATIME)),
        ("nodiratime", Set(MountFlags::NODIRATIME)),
        ("diratime", Clear(MountFlags::NODIRATIME)),
        ("relatime", Set(MountFlags::RELATIME)),
        ("norelatime", Clear(MountFlags::RELATIME)),
        ("strictatime", Set(MountFlags::STRICTATIME)),
        ("nostrictatime", Clear(MountFlags::STRICTATIME)),
        ("defaults", Clear(MountFlags::empty())),
        ("bind", Bind { recursive: false }),
        ("rbind", Bind { recursive: true }),
        ("private", Propagation(P::PRIVATE)),
        ("rprivate", Propagation(P::PRIVATE.union(P::REC))),
        ("shared", Propagation(P::SHARED)),
        ("rshared", Propagation(P::SHARED.union(P::REC))),
        ("slave", Propagation(P::DOWNSTREAM)),
        ("rslave", Propagation(P::DOWNSTREAM.union(P::REC))),
        ("unbindable", Propagation(P::UNBINDABLE)),
        ("runbindable", Propagation(P::UNBINDABLE.union(P::REC))),
    ]
};

/// Parsed `options` of one mount: flags, propagation changes, bind kind, recursive attributes
/// (`rro`, ...), and the rest as the filesystem's data string (`mode=755,size=65536k`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountOptions {
    pub flags: MountFlags,
    pub propagation: Vec<MountPropagationFlags>,
    pub bind: Option<bool>,
    pub attrs: RecursiveAttrs,
    pub data: Vec<String>,
}

pub fn parse_options(options: &[String]) -> MountOptions {
    let mut out = MountOptions {
        flags: MountFlags::empty(),
        propagation: Vec::new(),
        bind: None,
        attrs: RecursiveAttrs::default(),
        data: Vec::new(),
    };
    for opt in options {
        match OPTION_TABLE.iter().find(|(name, _)| name == opt) {
            Some((_, OptionEffect::Set(f))) => out.flags |= *f,
            Some((_, OptionEffect::Clear(f))) => out.flags &= !*f,
            Some((_, OptionEffect::Propagation(p))) => out.propagation.push(*p),
            Some((_, OptionEffect::Bind { recursive })) => {
                out.bind = Some(out.bind.unwrap_or(false) || *recursive)
            }
            None if out.attrs.add(opt) => {}
            None => out.data.push(opt.clone()),
        }
    }
    out
}

/// One step of the mount plan, in container paths (absolute, resolved under the rootfs when
/// applied).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlannedMount {
    /// A bind mount; flags other than BIND need a remount to take effect.
    Bind {
        source: PathBuf,
        destination: PathBuf,
        recursive: bool,
        remount_flags: Option<MountFlags>,
        attrs: RecursiveAttrs,
        propagation: Vec<MountPropagationFlags>,
    },
    /// The container's view of /sys/fs/cgroup, read-only.
    Cgroup { destination: PathBuf },
    /// Any other filesystem: proc, tmpfs, devpts, mqueue, sysfs, ...
    Fs {
        kind: String,
        source: String,
        destination: PathBuf,
        flags: MountFlags,
        data: String,
        attrs: RecursiveAttrs,
        propagation: Vec<MountPropagationFlags>,
    },
}

impl PlannedMount {
    pub fn destination(&self) -> &Path {
        match self {
            PlannedMount::Bind { destination, .. }
            | PlannedMount::Cgroup { destination }
            | PlannedMount::Fs { destination, .. } => destination,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("mount {destination}: destination must be absolute")]
    RelativeDestination { destination: PathBuf },
    #[error("mount {destination}: bind mount needs a source")]
    NoSource { destination: PathBuf },
}

/// Builds the plan for `spec.mounts`, in order. Relative bind sources are relative to `bundle`.
pub fn plan(mounts: &[Mount], bundle: &Path) -> Result<Vec<PlannedMount>, PlanError> {
    mounts.iter().map(|m| plan_one(m, bundle)).collect()
}

fn plan_one(m: &Mount, bundle: &Path) -> Result<PlannedMount, PlanError> {
    if !m.destination.is_absolute() {
        return Err(PlanError::RelativeDestination {
            destination: m.destination.clone(),
        });
    }
    let opts = parse_options(&m.options);
    let kind = m.kind.clone().unwrap_or_default();
    let destination = m.destination.clone();
    if kind == "bind" || opts.bind.is_some() {
        let source = m.source.clone().ok_or_else(|| PlanError::NoSource {
            destination: destination.clone(),
        })?;
        let source = if source.is_absolute() {
            source
        } else {
            bundle.join(source)
        };
        let remount_flags = (!opts.flags.is_empty()).then_some(opts.flags);
        return Ok(PlannedMount::Bind {
            source,
            destination,
            recursive: opts.bind.unwrap_or(false),
            remount_flags,
            attrs: opts.attrs,
            propagation: opts.propagation,
        });
    }
    if kind == "cgroup" || kind == "cgroup2" {
        return Ok(PlannedMount::Cgroup { destination });
    }
    let source = m
        .source
        .as_ref()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| kind.clone());
    Ok(PlannedMount::Fs {
        kind,
        source,
        destination,
        flags: opts.flags,
        data: opts.data.join(","),
        attrs: opts.attrs,
        propagation: opts.propagation,
    })
}

/// The propagation `linux.rootfsPropagation` asks for `/` to have, made recursive (default
/// rprivate).
pub fn root_propagation(setting: Option<&str>) -> MountPropagationFlags {
    requested_root_propagation(setting) | MountPropagationFlags::REC
}

/// `linux.rootfsPropagation` as written: `unbindable` is `/` alone, `runbindable` its subtree.
fn requested_root_propagation(setting: Option<&str>) -> MountPropagationFlags {
    let opt = setting.unwrap_or("rprivate").to_string();
    match parse_options(&[opt]).propagation.first() {
        Some(p) => *p,
        None => MountPropagationFlags::PRIVATE | MountPropagationFlags::REC,
    }
}

/// Joins `path` under `root` resolving symlinks as if `root` were `/`, so a symlink in the image
/// cannot point a mount outside the rootfs (like securejoin). Missing components are appended
/// literally.
pub fn secure_join(root: &Path, path: &Path) -> io::Result<PathBuf> {
    let mut pending: Vec<PathBuf> = path
        .components()
        .rev()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(PathBuf::from(n)),
            Component::ParentDir => Some(PathBuf::from("..")),
            _ => None,
        })
        .collect();
    let mut resolved = PathBuf::new();
    let mut links = 0;
    while let Some(part) = pending.pop() {
        if part.as_os_str() == ".." {
            resolved.pop();
            continue;
        }
        let candidate = resolved.join(&part);
        let full = root.join(&candidate);
        match std::fs::symlink_metadata(&full) {
            Ok(md) if md.file_type().is_symlink() => {
                links += 1;
                if links > 40 {
                    return Err(io::Error::from_raw_os_error(libc::ELOOP));
                }
                let target = std::fs::read_link(&full)?;
                if target.is_absolute() {
                    resolved = PathBuf::new();
                }
                for c in target.components().rev() {
                    match c {
                        Component::Normal(n) => pending.push(PathBuf::from(n)),
                        Component::ParentDir => pending.push(PathBuf::from("..")),
                        _ => {}
                    }
                }
            }
            _ => resolved = candidate,
        }
    }
    Ok(root.join(resolved))
}

// ---- applying (in init, in its own mount namespace) ----

fn ctx(what: &str, path: &Path, e: impl Into<io::Error>) -> io::Error {
    let e = e.into();
    io::Error::new(e.kind(), format!("{what} {}: {e}", path.display()))
}

/// Gives `/` its first propagation, before any other mount: rprivate when rootfsPropagation asks
/// for private, rshared (the host's peer groups kept, so an `rshared` bind mount sends the
/// container's mounts back to the host, as Kubernetes' Bidirectional volumes need) when it asks
/// for shared, else rslave. Then the mount holding `rootfs` is made private when it is shared,
/// because pivot_root refuses a new root whose parent is shared and because nothing mounted
/// under the rootfs may reach the host. An unbindable root comes after pivot_root, from
/// [`apply_root_propagation`].
pub fn make_root_private(setting: Option<&str>, rootfs: &Path) -> io::Result<()> {
    rustix::mount::mount_change("/", first_root_propagation(setting))
        .map_err(|e| ctx("make private", Path::new("/"), e))?;
    if !first_root_propagation(setting).contains(MountPropagationFlags::SHARED) {
        return Ok(()); // rslave or rprivate left no mount shared
    }
    let resolved = rootfs
        .canonicalize()
        .map_err(|e| ctx("resolve", rootfs, e))?;
    let (point, shared) = hull_sys::mount::containing_mount(&resolved)
        .map_err(|e| ctx("find the mount holding", rootfs, e))?;
    if !shared {
        return Ok(());
    }
    rustix::mount::mount_change(&point, MountPropagationFlags::PRIVATE)
        .map_err(|e| ctx("make private", &point, e))
}

/// What `/` gets before the container's mounts: the requested propagation if private or shared.
fn first_root_propagation(setting: Option<&str>) -> MountPropagationFlags {
    let wanted = root_propagation(setting);
    if wanted.intersects(MountPropagationFlags::PRIVATE | MountPropagationFlags::SHARED) {
        wanted
    } else {
        MountPropagationFlags::DOWNSTREAM | MountPropagationFlags::REC
    }
}

/// After pivot_root: the requested propagation of the container's `/`, when it differs from
/// what [`make_root_private`] gave it. Made shared now, its mounts form peer groups of this
/// namespace only (a slave of the host's still sends nothing back).
pub fn apply_root_propagation(setting: Option<&str>) -> io::Result<()> {
    let wanted = requested_root_propagation(setting);
    // A private or slave `/` is what make_root_private gave it already (recursively).
    if wanted.intersects(MountPropagationFlags::PRIVATE | MountPropagationFlags::DOWNSTREAM) {
        return Ok(());
    }
    rustix::mount::mount_change("/", wanted)
        .map_err(|e| ctx("set root propagation", Path::new("/"), e))
}

/// Bind-mounts the rootfs onto itself: pivot_root needs the new root to be a mount point.
pub fn bind_rootfs(rootfs: &Path) -> io::Result<()> {
    rustix::mount::mount_bind_recursive(rootfs, rootfs).map_err(|e| ctx("bind rootfs", rootfs, e))
}

/// Mounts one planned entry under `rootfs` (before pivot_root). `cgroup_paths` are init's
/// cgroups as the host sees them (controllers, path) for the v1 cgroup view.
pub fn apply(rootfs: &Path, m: &PlannedMount, cgroup_paths: &[(String, String)]) -> io::Result<()> {
    if let PlannedMount::Fs { kind, .. } = m {
        if kind == "proc" || kind == "sysfs" {
            refuse_symlinks(rootfs, m.destination(), kind)?;
        }
    }
    let target = secure_join(rootfs, m.destination())?;
    match m {
        PlannedMount::Bind {
            source,
            recursive,
            remount_flags,
            attrs,
            propagation,
            destination,
        } => {
            create_mountpoint(&target, source.is_dir())?;
            if *recursive {
                rustix::mount::mount_bind_recursive(source, &target)
            } else {
                rustix::mount::mount_bind(source, &target)
            }
            .map_err(|e| ctx("bind mount", &target, e))?;
            if let Some(flags) = remount_flags {
                // A bind mount ignores other flags on creation; it takes a remount to apply them.
                rustix::mount::mount_remount(&target, *flags | MountFlags::BIND, "")
                    .map_err(|e| ctx("remount", &target, e))?;
            }
            attrs.apply(&target, destination)?;
            set_propagation(&target, propagation)
        }
        PlannedMount::Cgroup { .. } => {
            create_mountpoint(&target, true)?;
            mount_cgroup_view(&target, cgroup_paths)
        }
        PlannedMount::Fs {
            kind,
            source,
            flags,
            data,
            attrs,
            propagation,
            destination,
        } => {
            create_mountpoint(&target, true)?;
            let data = std::ffi::CString::new(data.as_str())
                .map_err(|e| ctx("mount data for", &target, io::Error::other(e)))?;
            rustix::mount::mount(source.as_str(), &target, kind.as_str(), *flags, &*data)
                .map_err(|e| ctx(&format!("mount {kind} on"), &target, e))?;
            attrs.apply(&target, destination)?;
            set_propagation(&target, propagation)
        }
    }
}

/// proc and sysfs go on an ordinary directory only: no component of `destination` in the
/// rootfs may be a symlink (secure_join would keep one inside the rootfs, but /proc somewhere
/// else in it is still a way to hide the real /proc from the container's masks), and the last
/// must be a directory if it exists (runc's check, with its words, which clients look for).
fn refuse_symlinks(rootfs: &Path, destination: &Path, kind: &str) -> io::Result<()> {
    let mut path = rootfs.to_path_buf();
    for c in destination.components() {
        let Component::Normal(name) = c else { continue };
        path.push(name);
        let md = match std::fs::symlink_metadata(&path) {
            Ok(md) => md,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(ctx("stat", &path, e)),
        };
        let what = if md.file_type().is_symlink() {
            "is a symlink"
        } else if !md.is_dir() {
            "is not a directory"
        } else {
            continue;
        };
        let inner = path.strip_prefix(rootfs).unwrap_or(&path).display();
        let msg = format!(
            "mount {kind} on {}: /{inner} in the rootfs {what}: {kind} must be mounted on \
             ordinary directory",
            destination.display()
        );
        return Err(io::Error::new(io::ErrorKind::InvalidInput, msg));
    }
    Ok(())
}

fn set_propagation(target: &Path, propagation: &[MountPropagationFlags]) -> io::Result<()> {
    for p in propagation {
        rustix::mount::mount_change(target, *p).map_err(|e| ctx("set propagation", target, e))?;
    }
    Ok(())
}

pub fn create_mountpoint(target: &Path, dir: bool) -> io::Result<()> {
    if dir {
        return std::fs::create_dir_all(target).map_err(|e| ctx("mkdir", target, e));
    }
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent).map_err(|e| ctx("mkdir", parent, e))?;
    }
    if std::fs::symlink_metadata(target).is_err() {
        std::fs::File::create(target).map_err(|e| ctx("create", target, e))?;
    }
    Ok(())
}

const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;
const HOST_CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// The container's /sys/fs/cgroup, read-only. On a v2 host a fresh cgroup2 mount (which shows the
/// container's own subtree when it has a cgroup namespace). On v1 a tmpfs with a read-only bind
/// of the container's own directory in each hierarchy, named like the host's.
fn mount_cgroup_view(target: &Path, cgroup_paths: &[(String, String)]) -> io::Result<()> {
    let ro = MountFlags::RDONLY | MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC;
    let host_is_v2 = rustix::fs::statfs(HOST_CGROUP_ROOT)
        .map(|s| s.f_type == CGROUP2_SUPER_MAGIC)
        .unwrap_or(false);
    if host_is_v2 {
        return rustix::mount::mount("cgroup2", target, "cgroup2", ro, None)
            .map_err(|e| ctx("mount cgroup2 on", target, e));
    }
    let rw = MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC;
    rustix::mount::mount("tmpfs", target, "tmpfs", rw, c"mode=755")
        .map_err(|e| ctx("mount tmpfs on", target, e))?;
    for (dir, path) in v1_hierarchies(cgroup_paths) {
        let host = Path::new(HOST_CGROUP_ROOT)
            .join(&dir)
            .join(path.trim_start_matches('/'));
        if !host.is_dir() {
            continue;
        }
        let inner = target.join(&dir);
        create_mountpoint(&inner, true)?;
        rustix::mount::mount_bind(&host, &inner).map_err(|e| ctx("bind cgroup", &inner, e))?;
        rustix::mount::mount_remount(&inner, ro | MountFlags::BIND, "")
            .map_err(|e| ctx("remount cgroup", &inner, e))?;
    }
    rustix::mount::mount_remount(target, ro, "").map_err(|e| ctx("remount", target, e))
}

/// v1 hierarchy directory names for the `controllers:path` lines of /proc/<pid>/cgroup
/// (`cpu,cpuacct` → `cpu,cpuacct`, `name=systemd` → `systemd`; the v2 line is skipped).
pub fn v1_hierarchies(cgroup_paths: &[(String, String)]) -> Vec<(String, String)> {
    cgroup_paths
        .iter()
        .filter(|(ctrls, _)| !ctrls.is_empty())
        .map(|(ctrls, path)| {
            (
                ctrls.strip_prefix("name=").unwrap_or(ctrls).to_string(),
                path.clone(),
            )
        })
        .collect()
}

/// Parses /proc/<pid>/cgroup lines `id:controllers:path` into (controllers, path).
pub fn parse_proc_cgroup(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| {
            let mut it = l.splitn(3, ':');
            let _id = it.next()?;
            Some((it.next()?.to_string(), it.next()?.to_string()))
        })
        .collect()
}

/// pivot_root into `rootfs` with the `pivot_root(".", ".")` trick (no put_old directory), then
/// detaches the old root. The old root must become a slave before the detach so the unmount does
/// not propagate to the host's mounts.
pub fn pivot_root(rootfs: &Path) -> io::Result<()> {
    use rustix::fs::{Mode, OFlags};
    // After pivot_root(".", ".") the old root sits on top of the new one, and "." (our cwd) is
    // the new root for mount(2) (only umount follows to the top): a handle on the old root, taken
    // now, is the one way to name it there.
    let old_root = rustix::fs::open("/", OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
        .map_err(|e| ctx("open old root", Path::new("/"), e))?;
    rustix::process::chdir(rootfs).map_err(|e| ctx("chdir", rootfs, e))?;
    rustix::process::pivot_root(".", ".").map_err(|e| ctx("pivot_root", rootfs, e))?;
    rustix::process::fchdir(&old_root).map_err(|e| ctx("chdir", Path::new("old root"), e))?;
    rustix::mount::mount_change(
        ".",
        MountPropagationFlags::DOWNSTREAM | MountPropagationFlags::REC,
    )
    .map_err(|e| ctx("make old root slave", Path::new("."), e))?;
    rustix::mount::unmount(".", UnmountFlags::DETACH)
        .map_err(|e| ctx("detach old root", Path::new("."), e))?;
    rustix::process::chdir("/").map_err(|e| ctx("chdir", Path::new("/"), e))
}

/// The `no_pivot` alternative (for ramfs roots): move the rootfs over `/` and chroot into it.
pub fn move_root(rootfs: &Path) -> io::Result<()> {
    rustix::process::chdir(rootfs).map_err(|e| ctx("chdir", rootfs, e))?;
    rustix::mount::mount_move(rootfs, "/").map_err(|e| ctx("move mount", rootfs, e))?;
    rustix::process::chroot(".").map_err(|e| ctx("chroot", rootfs, e))?;
    rustix::process::chdir("/").map_err(|e| ctx("chdir", Path::new("/"), e))
}

/// Without a mount namespace of its own: chroot into `rootfs`, which stays where the host has
/// it (the container's mounts under it are in the host's mount table).
pub fn chroot_into(rootfs: &Path) -> io::Result<()> {
    rustix::process::chdir(rootfs).map_err(|e| ctx("chdir", rootfs, e))?;
    rustix::process::chroot(".").map_err(|e| ctx("chroot", rootfs, e))?;
    rustix::process::chdir("/").map_err(|e| ctx("chdir", Path::new("/"), e))
}

/// Masks `path` (inside the container, after pivot): /dev/null over a file, a read-only empty
/// tmpfs over a directory. A missing path is skipped.
pub fn mask_path(path: &Path) -> io::Result<()> {
    let md = match std::fs::metadata(path) {
        Ok(md) => md,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(ctx("stat", path, e)),
    };
    if md.is_dir() {
        rustix::mount::mount("tmpfs", path, "tmpfs", MountFlags::RDONLY, None)
    } else {
        rustix::mount::mount_bind("/dev/null", path)
    }
    .map_err(|e| ctx("mask", path, e))
}

/// Makes `path` read-only: bind it onto itself, then remount read-only keeping the flags it had
/// (nosuid/nodev/noexec are locked in user namespaces). A missing path is skipped.
pub fn readonly_path(path: &Path) -> io::Result<()> {
    if let Err(e) = rustix::mount::mount_bind_recursive(path, path) {
        if e == rustix::io::Errno::NOENT {
            return Ok(());
        }
        return Err(ctx("bind", path, e));
    }
    remount_readonly(path)
}

/// Remounts the mount at `path` read-only, keeping its other flags.
pub fn remount_readonly(path: &Path) -> io::Result<()> {
    let keep = kept_flags(path)?;
    rustix::mount::mount_remount(path, keep | MountFlags::BIND | MountFlags::RDONLY, "")
        .map_err(|e| ctx("remount read-only", path, e))
}

fn kept_flags(path: &Path) -> io::Result<MountFlags> {
    use rustix::fs::StatVfsMountFlags as S;
    let st = rustix::fs::statvfs(path).map_err(|e| ctx("statvfs", path, e))?;
    let table = [
        (S::NOSUID, MountFlags::NOSUID),
        (S::NODEV, MountFlags::NODEV),
        (S::NOEXEC, MountFlags::NOEXEC),
        (S::NOATIME, MountFlags::NOATIME),
        (S::NODIRATIME, MountFlags::NODIRATIME),
        (S::RELATIME, MountFlags::RELATIME),
    ];
    Ok(table
        .iter()
        .filter(|(s, _)| st.f_flag.contains(*s))
        .fold(MountFlags::empty(), |acc, (_, f)| acc | *f))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn options_become_flags_propagation_and_data() {
        let o = parse_options(&s(&[
            "nosuid",
            "noexec",
            "nodev",
            "mode=1777",
            "size=65536k",
            "rprivate",
        ]));
        assert_eq!(
            o.flags,
            MountFlags::NOSUID | MountFlags::NOEXEC | MountFlags::NODEV
        );
        assert_eq!(
            o.propagation,
            vec![MountPropagationFlags::PRIVATE | MountPropagationFlags::REC]
        );
        assert_eq!(o.data, s(&["mode=1777", "size=65536k"]));
        assert_eq!(o.bind, None);
    }

    #[test]
    fn later_options_override_earlier_ones() {
        assert_eq!(parse_options(&s(&["ro", "rw"])).flags, MountFlags::empty());
        assert_eq!(parse_options(&s(&["rw", "ro"])).flags, MountFlags::RDONLY);
    }

    #[test]
    fn recursive_attributes_are_not_data() {
        let o = parse_options(&s(&["rbind", "rro", "rnoexec", "size=1m"]));
        assert_eq!(o.attrs.words, s(&["rro", "rnoexec"]));
        assert_eq!(o.data, s(&["size=1m"]));
        assert_eq!(o.flags, MountFlags::empty());
    }

    #[test]
    fn rbind_wins_over_bind() {
        assert_eq!(parse_options(&s(&["bind", "rbind"])).bind, Some(true));
        assert_eq!(parse_options(&s(&["bind"])).bind, Some(false));
    }

    fn mnt(dest: &str, kind: &str, source: &str, opts: &[&str]) -> Mount {
        Mount {
            destination: dest.into(),
            kind: Some(kind.into()),
            source: Some(source.into()),
            options: s(opts),
        }
    }

    #[test]
    fn plans_a_docker_like_mount_table() {
        let mounts = vec![
            mnt("/proc", "proc", "proc", &["nosuid", "noexec", "nodev"]),
            mnt(
                "/dev/pts",
                "devpts",
                "devpts",
                &[
                    "nosuid",
                    "noexec",
                    "newinstance",
                    "ptmxmode=0666",
                    "mode=0620",
                    "gid=5",
                ],
            ),
            mnt("/sys/fs/cgroup", "cgroup", "cgroup", &["ro"]),
            mnt("/data", "bind", "vol", &["rbind", "ro", "rslave"]),
        ];
        let p = plan(&mounts, Path::new("/bundle")).unwrap();
        assert_eq!(
            p[1],
            PlannedMount::Fs {
                kind: "devpts".into(),
                source: "devpts".into(),
                destination: "/dev/pts".into(),
                flags: MountFlags::NOSUID | MountFlags::NOEXEC,
                data: "newinstance,ptmxmode=0666,mode=0620,gid=5".into(),
                attrs: RecursiveAttrs::default(),
                propagation: vec![],
            }
        );
        assert_eq!(
            p[2],
            PlannedMount::Cgroup {
                destination: "/sys/fs/cgroup".into()
            }
        );
        assert_eq!(
            p[3],
            PlannedMount::Bind {
                source: "/bundle/vol".into(),
                destination: "/data".into(),
                recursive: true,
                remount_flags: Some(MountFlags::RDONLY),
                attrs: RecursiveAttrs::default(),
                propagation: vec![MountPropagationFlags::DOWNSTREAM | MountPropagationFlags::REC],
            }
        );
    }

    #[test]
    fn plain_bind_without_flags_needs_no_remount() {
        let p = plan(&[mnt("/x", "none", "/host", &["bind"])], Path::new("/b")).unwrap();
        assert!(matches!(
            &p[0],
            PlannedMount::Bind {
                remount_flags: None,
                recursive: false,
                ..
            }
        ));
    }

    #[test]
    fn rejects_relative_destinations_and_sourceless_binds() {
        let rel = mnt("data", "tmpfs", "tmpfs", &[]);
        assert!(matches!(
            plan(&[rel], Path::new("/b")),
            Err(PlanError::RelativeDestination { .. })
        ));
        let mut nosrc = mnt("/d", "bind", "", &["bind"]);
        nosrc.source = None;
        assert!(matches!(
            plan(&[nosrc], Path::new("/b")),
            Err(PlanError::NoSource { .. })
        ));
    }

    #[test]
    fn a_private_or_shared_root_propagation_is_applied_before_the_mounts() {
        let rp = MountPropagationFlags::PRIVATE | MountPropagationFlags::REC;
        let rshared = MountPropagationFlags::SHARED | MountPropagationFlags::REC;
        let rslave = MountPropagationFlags::DOWNSTREAM | MountPropagationFlags::REC;
        assert_eq!(first_root_propagation(None), rp);
        assert_eq!(first_root_propagation(Some("private")), rp);
        assert_eq!(first_root_propagation(Some("shared")), rshared);
        assert_eq!(first_root_propagation(Some("rshared")), rshared);
        for later in ["unbindable", "slave", "rslave"] {
            assert_eq!(first_root_propagation(Some(later)), rslave, "{later}");
        }
    }

    #[test]
    fn root_propagation_defaults_to_rprivate() {
        let rp = MountPropagationFlags::PRIVATE | MountPropagationFlags::REC;
        assert_eq!(root_propagation(None), rp);
        assert_eq!(
            root_propagation(Some("slave")),
            MountPropagationFlags::DOWNSTREAM | MountPropagationFlags::REC
        );
    }

    #[test]
    fn secure_join_keeps_symlinks_inside_the_root() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        std::fs::create_dir(r.join("etc")).unwrap();
        std::os::unix::fs::symlink("/etc", r.join("abs")).unwrap();
        std::os::unix::fs::symlink("../../../../etc", r.join("rel")).unwrap();
        assert_eq!(
            secure_join(r, Path::new("/abs/x")).unwrap(),
            r.join("etc/x")
        );
        assert_eq!(
            secure_join(r, Path::new("/rel/x")).unwrap(),
            r.join("etc/x")
        );
        assert_eq!(secure_join(r, Path::new("/../../x")).unwrap(), r.join("x"));
        std::os::unix::fs::symlink("loop", r.join("loop")).unwrap();
        assert!(secure_join(r, Path::new("/loop")).is_err());
    }

    #[test]
    fn proc_and_sysfs_refuse_a_symlink_anywhere_on_the_way() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        std::fs::create_dir_all(r.join("real/fs")).unwrap();
        std::os::unix::fs::symlink("real", r.join("sys")).unwrap();
        std::os::unix::fs::symlink("/real", r.join("proc")).unwrap();
        std::fs::write(r.join("file"), "").unwrap();
        let err = |dest: &str, kind: &str| {
            let e = refuse_symlinks(r, Path::new(dest), kind).unwrap_err();
            e.to_string()
        };
        let e = err("/proc", "proc");
        assert!(e.contains("/proc in the rootfs is a symlink"), "{e}");
        assert!(e.contains("must be mounted on ordinary directory"), "{e}");
        assert!(err("/sys/fs", "sysfs").contains("/sys in the rootfs is a symlink"));
        assert!(err("/file", "proc").contains("is not a directory"));
        refuse_symlinks(r, Path::new("/real/fs"), "sysfs").unwrap();
        refuse_symlinks(r, Path::new("/missing/proc"), "proc").unwrap();
    }

    #[test]
    fn proc_cgroup_lines_map_to_v1_hierarchies() {
        let text = "12:cpu,cpuacct:/hull/a\n1:name=systemd:/hull/a\n0::/hull/a\n";
        let parsed = parse_proc_cgroup(text);
        assert_eq!(parsed.len(), 3);
        assert_eq!(
            v1_hierarchies(&parsed),
            vec![
                ("cpu,cpuacct".to_string(), "/hull/a".to_string()),
                ("systemd".to_string(), "/hull/a".to_string())
            ]
        );
    }
}
