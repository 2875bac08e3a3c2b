//! What the build proof tests share: a file tree as comparable lines, a private buildah store
//! and a private podman store, each removed on drop, passing or failing.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sha2::{Digest, Sha256};

pub fn tool_on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
}

pub fn podman_available() -> bool {
    tool_on_path("podman").is_some()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Every path below `root` (not `root` itself) as `/rel/path` → `TYPE UID:GID MODE DETAIL`, the
/// detail being a file's size and SHA-256, a link's target or a device's number.
pub fn tree(root: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        let md = std::fs::symlink_metadata(&path).unwrap();
        let ft = md.file_type();
        let who = format!("{}:{} {:04o}", md.uid(), md.gid(), md.mode() & 0o7777);
        let rel = format!("/{}", path.strip_prefix(root).unwrap().display());
        let line = if ft.is_dir() {
            walk(root, &path, out);
            format!("dir {who}")
        } else if ft.is_symlink() {
            format!(
                "link {who} -> {}",
                std::fs::read_link(&path).unwrap().display()
            )
        } else if ft.is_file() {
            let data = std::fs::read(&path).unwrap();
            let sum = Sha256::digest(&data);
            let hex: String = sum.iter().take(8).map(|b| format!("{b:02x}")).collect();
            format!("file {who} {} {hex}", data.len())
        } else if ft.is_fifo() {
            format!("fifo {who}")
        } else if ft.is_char_device() || ft.is_block_device() {
            format!("dev {who} {:x}", md.rdev())
        } else {
            format!("other {who}")
        };
        out.insert(rel, line);
    }
}

/// buildah on its own storage root in a temp dir (vfs, chroot isolation: no runtime or cgroups
/// needed), pulling from the plain fixture registry.
pub struct Buildah {
    dir: tempfile::TempDir,
}

impl Buildah {
    /// None when buildah is not installed.
    pub fn new() -> Option<Buildah> {
        tool_on_path("buildah")?;
        let dir = tempfile::Builder::new()
            .prefix("hull-buildah-")
            .tempdir()
            .unwrap();
        Some(Buildah { dir })
    }

    pub fn cmd(&self, args: &[&str]) -> Output {
        let d = self.dir.path();
        Command::new("buildah")
            .arg("--root")
            .arg(d.join("root"))
            .arg("--runroot")
            .arg(d.join("runroot"))
            .args(["--storage-driver", "vfs"])
            .args(args)
            .output()
            .expect("spawn buildah")
    }

    fn ok(&self, args: &[&str]) -> String {
        let mut out = self.cmd(args);
        // buildah's chroot isolation runs each RUN through a sealed memfd copy of itself, and
        // F_ADD_SEALS fails with EBUSY while the kernel holds a transient pin on its pages (seen
        // once in a CI run, under load): a tool's transient failure, tried once more.
        if !out.status.success()
            && text(&out).contains("sealing memfd copy: Device or resource busy")
        {
            println!("buildah {args:?}: the memfd sealing race; once more");
            out = self.cmd(args);
        }
        assert!(out.status.success(), "buildah {args:?}: {}", text(&out));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// `buildah bud` with `args` (ending in `-t TAG … CONTEXT`): the image's Docker config, its
    /// layer count and its file tree. Docker format, so that HEALTHCHECK is kept (buildah drops
    /// it from OCI configs by design); `--layers` so that each step is a layer, as in Docker's
    /// classic builder and hull.
    /// Without `read_tree` the tree is left empty (`buildah from` would fire ONBUILD triggers).
    pub fn build(
        &self,
        args: &[&str],
        read_tree: bool,
    ) -> (serde_json::Value, usize, BTreeMap<String, String>) {
        let mut full = vec![
            "bud",
            "--layers",
            "--format",
            "docker",
            "--isolation",
            "chroot",
        ];
        full.extend(["--tls-verify=false"]);
        full.extend_from_slice(args);
        self.ok(&full);
        let tag = args[args.iter().position(|a| *a == "-t").unwrap() + 1];
        let doc: serde_json::Value =
            serde_json::from_str(&self.ok(&["inspect", "--type", "image", tag])).unwrap();
        let cfg = doc["Docker"]["config"].clone();
        let layers = doc["Docker"]["rootfs"]["diff_ids"]
            .as_array()
            .map_or(0, Vec::len);
        if !read_tree {
            return (cfg, layers, BTreeMap::new());
        }
        let c = self.ok(&["from", "--pull-never", "-q", tag]);
        let mnt = self.ok(&["mount", &c]);
        let mut files = tree(Path::new(&mnt));
        let _ = self.cmd(&["umount", &c]);
        let _ = self.cmd(&["rm", &c]);
        // A RUN step under buildah leaves the empty mount points of the files it bind-mounts
        // (hosts, hostname, resolv.conf) in the image, by design; Docker and hull do not.
        for p in ["/etc/hosts", "/etc/hostname", "/etc/resolv.conf"] {
            if files
                .get(p)
                .is_some_and(|l| l.starts_with("file 0:0 0755 0 "))
            {
                files.remove(p);
            }
        }
        (cfg, layers, files)
    }
}

impl Drop for Buildah {
    fn drop(&mut self) {
        let _ = self.cmd(&["rm", "-a"]);
        let _ = self.cmd(&["rmi", "-a", "-f"]);
        hull_tests::unmount_below(self.dir.path());
    }
}

/// A private podman store (runc: crun refuses this hybrid cgroup host), reset on drop.
pub struct Podman {
    dir: tempfile::TempDir,
}

impl Podman {
    pub fn new() -> Podman {
        let dir = tempfile::Builder::new()
            .prefix("hull-podman-")
            .tempdir()
            .unwrap();
        Podman { dir }
    }

    pub fn cmd(&self, args: &[&str]) -> Output {
        let d = self.dir.path();
        Command::new("podman")
            .arg("--root")
            .arg(d.join("root"))
            .arg("--runroot")
            .arg(d.join("runroot"))
            .args(["--runtime", "runc", "--cgroup-manager", "cgroupfs"])
            .args(["--events-backend", "file", "--storage-driver", "vfs"])
            .args(args)
            .output()
            .expect("spawn podman")
    }

    /// `podman run --rm` with the limits this host allows.
    pub fn run(&self, image: &str, cmd: &[&str]) -> Output {
        let mut args = vec!["run", "--rm", "--network", "none"];
        args.extend([
            "--ulimit",
            "nofile=1024:1024",
            "--ulimit",
            "nproc=4096:4096",
        ]);
        args.push(image);
        args.extend_from_slice(cmd);
        self.cmd(&args)
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        let _ = self.cmd(&["rm", "-af", "-t", "0"]);
        let _ = self.cmd(&["system", "reset", "-f"]);
        hull_tests::unmount_below(self.dir.path());
        for dir in ["libpod_parent/conmon", "libpod_parent"] {
            for ctl in [
                "memory",
                "pids",
                "cpu,cpuacct",
                "cpuset",
                "blkio",
                "devices",
            ] {
                let _ = std::fs::remove_dir(Path::new("/sys/fs/cgroup").join(ctl).join(dir));
            }
        }
    }
}
