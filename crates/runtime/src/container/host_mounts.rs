//! A container without a mount namespace of its own mounts into the host's mount table, at and
//! under its rootfs (runtime-tools' linux_ns_itype). `create` notes which mounts were there
//! before init ran; `delete`, or a create that failed, detaches the ones added since, newest
//! first (the rootfs bind last), so the container leaves no mount behind (runc leaves them).

use std::collections::BTreeSet;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

const FILE: &str = "host-mounts.json";

#[derive(Serialize, Deserialize)]
struct Before {
    rootfs: PathBuf,
    /// Mount ids (mountinfo's first field), not paths: a mount stacked on a path that had one
    /// already is the container's too.
    ids: BTreeSet<u64>,
}

/// (mount id, mount point) of every mount at or below `rootfs`, in mount order.
fn below(mountinfo: &str, rootfs: &Path) -> Vec<(u64, PathBuf)> {
    mountinfo
        .lines()
        .filter_map(|l| {
            let mut f = l.split(' ');
            let id = f.next()?.parse().ok()?;
            let point = PathBuf::from(hull_sys::mount::unescape_mountinfo(f.nth(3)?));
            point.starts_with(rootfs).then_some((id, point))
        })
        .collect()
}

fn mountinfo() -> io::Result<String> {
    std::fs::read_to_string("/proc/self/mountinfo")
}

/// Records the mounts at and below `rootfs` now, in the state dir `dir` (before init runs).
pub(super) fn note_before(dir: &Path, rootfs: &Path) -> io::Result<()> {
    let ids = below(&mountinfo()?, rootfs).into_iter().map(|(id, _)| id);
    let before = Before {
        rootfs: rootfs.to_path_buf(),
        ids: ids.collect(),
    };
    let bytes = serde_json::to_vec(&before).map_err(io::Error::other)?;
    std::fs::write(dir.join(FILE), bytes)
}

/// Detaches the mounts added at or below the rootfs since [`note_before`]; nothing for a container
/// that had its own mount namespace (no record). The first failure is returned, after trying
/// every mount.
pub(super) fn release(dir: &Path) -> io::Result<()> {
    let bytes = match std::fs::read(dir.join(FILE)) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    let before: Before = serde_json::from_slice(&bytes).map_err(io::Error::other)?;
    let added = added_since(&mountinfo()?, &before);
    let mut first_error = None;
    for point in added.iter().rev() {
        match hull_sys::mount::unmount(point, true) {
            // Gone with a detached parent already.
            Err(e) if matches!(e.raw_os_error(), Some(libc::EINVAL | libc::ENOENT)) => {}
            Err(e) => {
                let e = io::Error::new(e.kind(), format!("unmount {}: {e}", point.display()));
                first_error.get_or_insert(e);
            }
            Ok(()) => {}
        }
    }
    first_error.map_or(Ok(()), Err)
}

fn added_since(mountinfo: &str, before: &Before) -> Vec<PathBuf> {
    below(mountinfo, &before.rootfs)
        .into_iter()
        .filter(|(id, _)| !before.ids.contains(id))
        .map(|(_, point)| point)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const INFO: &str = "\
22 1 8:1 / / rw shared:1 - ext4 /dev/sda1 rw
40 22 0:5 / /b/rootfs rw - overlay overlay rw
41 40 0:6 / /b/rootfs/vol rw - tmpfs tmpfs rw
50 40 0:7 / /b/rootfs/proc rw - proc proc rw
51 40 0:8 / /b/rootfs/dev rw - tmpfs tmpfs rw
52 51 0:9 / /b/rootfs/dev/pts rw - devpts devpts rw
53 41 0:10 / /b/rootfs/vol rw - tmpfs tmpfs rw
54 40 0:11 / /b/rootfs\\040x rw - tmpfs tmpfs rw
55 40 0:11 / /b/rootfs/with\\040space rw - tmpfs tmpfs rw
56 40 0:13 / /b/rootfs rw - overlay overlay rw
60 22 0:12 / /b/rootfs2/proc rw - proc proc rw
";

    #[test]
    fn only_mounts_at_or_below_the_rootfs_count() {
        let got: Vec<u64> = below(INFO, Path::new("/b/rootfs"))
            .iter()
            .map(|(id, _)| *id)
            .collect();
        assert_eq!(got, vec![40, 41, 50, 51, 52, 53, 55, 56]);
    }

    #[test]
    fn what_was_there_before_stays_and_a_mount_stacked_on_it_goes() {
        let before = Before {
            rootfs: "/b/rootfs".into(),
            ids: [40, 41].into_iter().collect(),
        };
        let added: Vec<PathBuf> = added_since(INFO, &before);
        let want: Vec<PathBuf> = ["proc", "dev", "dev/pts", "vol", "with space", ""]
            .iter()
            .map(|p| Path::new("/b/rootfs").join(p))
            .collect();
        assert_eq!(added, want);
    }
}
