//! Proof with a real tool: an image hull committed, saved with `hull save`, loads into podman
//! and runs there with the new files, the new config, and the deleted file hidden (the
//! whiteout hull wrote is one podman understands). podman runs on a private temp store with
//! runc (crun refuses this hybrid cgroup host) and is reset when the test ends.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use hull_tests::{require_root, wait_until, Hull};

/// A private podman store that is reset and removed on drop, passing or failing.
struct Podman {
    dir: tempfile::TempDir,
}

impl Podman {
    fn cmd(&self, args: &[&str]) -> Output {
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

    /// `podman run --rm` with the limits this host allows (root lacks CAP_SYS_RESOURCE, and
    /// podman raises nofile and nproc past the hard limits unless told).
    fn run(&self, image: &str, cmd: &[&str]) -> Output {
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

fn tool_on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn committed_image_runs_under_podman_with_the_whiteout() {
    require_root!();
    if tool_on_path("podman").is_none() || tool_on_path("runc").is_none() {
        println!("skipped: podman proof (podman or runc is not installed)");
        return;
    }
    let h = Hull::new();
    let script = "echo made-by-hull > /newfile; rm /bin/vi; touch /ready; sleep 300";
    let _c = h.detach(&["--name", "pm"], &["sh", "-c", script]);
    wait_until("the container's changes", || {
        h.run(&["exec", "pm", "test", "-e", "/ready"])
            .status
            .success()
    });
    h.ok(&[
        "commit",
        "-c",
        "ENV MADE=hull",
        "pm",
        "hullproof/committed:1",
    ]);
    let t = tempfile::tempdir().unwrap();
    let archive = t.path().join("img.tar");
    h.ok(&[
        "save",
        "-o",
        archive.to_str().unwrap(),
        "hullproof/committed:1",
    ]);

    let podman = Podman {
        dir: tempfile::Builder::new()
            .prefix("hull-podman-")
            .tempdir()
            .unwrap(),
    };
    let loaded = podman.cmd(&["load", "-i", archive.to_str().unwrap()]);
    assert!(loaded.status.success(), "podman load: {}", text(&loaded));
    let image = "localhost/hullproof/committed:1";
    let probe = "cat /newfile; test -e /bin/vi && echo vi-present || echo vi-hidden; echo $MADE";
    let out = podman.run(image, &["sh", "-c", probe]);
    let seen = text(&out);
    if !out.status.success() && seen.contains("OCI") {
        println!("skipped: podman run (podman cannot run containers here: {seen})");
        return;
    }
    assert!(out.status.success(), "podman run: {seen}");
    assert_eq!(seen, "made-by-hull\nvi-hidden\nhull\n");
}
