//! Container records that cannot be read (left empty or torn by a power loss, damaged on disk):
//! `ps -a` shows them dead, `rm -f` removes them with everything else of the container. And a
//! runtime state that cannot be deleted: `rm -f` fails and keeps the record, so nothing is lost.

use std::process::Stdio;

use hull_tests::{busybox, cgroup_dirs, container_pids, require_root, wait_until, Hull};

/// Kills every process still in the container's cgroup, so a failing test leaves none behind.
struct KillLeftovers(String);

impl Drop for KillLeftovers {
    fn drop(&mut self) {
        for pid in container_pids(&self.0) {
            let _ = std::process::Command::new("kill")
                .args(["-9", &pid])
                .status();
        }
    }
}

fn tear_record(h: &Hull, id: &str, garbage: &[u8]) {
    let record = h.root().join("containers").join(id).join("container.json");
    std::fs::write(&record, garbage).unwrap();
}

/// `ps -a` on the store: (stdout, stderr).
fn ps_all(h: &Hull) -> (String, String) {
    let out = h.run(&["ps", "-a", "--no-trunc"]);
    assert!(out.status.success(), "ps -a failed: {out:?}");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn assert_listed_dead(h: &Hull, id: &str) {
    let (out, err) = ps_all(h);
    let line = out
        .lines()
        .find(|l| l.starts_with(id))
        .unwrap_or_else(|| panic!("{id} not listed:\n{out}"));
    assert!(line.contains("Dead"), "{line}");
    assert!(line.trim_end().ends_with(id), "named by its ID: {line}");
    let warning: Vec<&str> = err.lines().filter(|l| l.contains(&id[..12])).collect();
    assert_eq!(warning.len(), 1, "one warning line: {err}");
    assert!(warning[0].starts_with("hull: warning:"), "{err}");
    let state = h.ok(&["ps", "-a", "-q", "--no-trunc", "--filter", "status=dead"]);
    assert_eq!(state.trim(), id);
}

#[test]
fn a_torn_record_of_a_stopped_container_is_dead_and_rm_f_removes_it() {
    require_root!();
    let h = Hull::new();
    h.ok(&["pull", "-q", &busybox()]);
    h.ok(&["run", "--name", "torn", &busybox(), "true"]);
    let id = h.ok(&["ps", "-aq", "--no-trunc"]).trim().to_string();
    assert_eq!(id.len(), 64, "{id:?}");
    tear_record(&h, &id, b"{\"id\": \"ab");
    assert_listed_dead(&h, &id);
    tear_record(&h, &id, b"");
    assert_listed_dead(&h, &id);
    // Its name is lost with the record: a new container may take it.
    h.ok(&["run", "--rm", "--name", "torn", &busybox(), "true"]);
    h.ok(&["rm", "-f", &id[..12]]);
    assert!(!h.root().join("containers").join(&id).exists());
    let (out, err) = ps_all(&h);
    assert!(!out.contains(&id), "{out}");
    assert!(!err.contains(&id[..12]), "{err}");
}

#[test]
fn rm_f_of_a_dead_record_whose_container_runs_on_removes_everything() {
    require_root!();
    let h = Hull::new();
    h.ok(&["pull", "-q", &busybox()]);
    let mut runner = h
        .command(&["run", "--name", "lost", &busybox(), "sleep", "300"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_until("the container to run", || {
        h.ok(&["ps", "-q", "--no-trunc"]).trim().len() == 64
    });
    let id = h.ok(&["ps", "-q", "--no-trunc"]).trim().to_string();
    let _guard = KillLeftovers(id.clone());
    let runtime_state = h.root().join("runtime").join(&id);
    wait_until("the runtime state", || runtime_state.exists());
    let leases = h.root().join("networks").join("bridge").join("leases.json");
    wait_until("the network lease", || {
        std::fs::read_to_string(&leases).is_ok_and(|l| l.contains(&id))
    });
    // Started, not just created: a runner killed before `start` takes its waiting init along.
    wait_until("the sleep to run", || {
        container_pids(&id).iter().any(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "sleep")
        })
    });
    // A runner killed with -9 leaves the container running, orphaned; then its record tears.
    runner.kill().unwrap();
    runner.wait().unwrap();
    tear_record(&h, &id, b"\0\0\0\0");
    assert_listed_dead(&h, &id);
    assert!(!container_pids(&id).is_empty(), "the sleep runs on");

    let err = h.fails(&["rm", &id]);
    assert!(
        err.contains(&id[..12]),
        "plain rm refuses a live one: {err}"
    );
    h.ok(&["rm", "-f", &id]);
    assert!(!runtime_state.exists(), "runtime state left behind");
    assert_eq!(cgroup_dirs(&id), Vec::<String>::new(), "cgroup left behind");
    assert!(!h.root().join("containers").join(&id).exists());
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.contains(&id), "mount left behind");
    let lease = std::fs::read_to_string(&leases).unwrap_or_default();
    assert!(!lease.contains(&id), "lease left behind: {lease}");
    let leftover = container_pids(&id);
    assert!(leftover.is_empty(), "container process left: {leftover:?}");
}

#[test]
fn a_dead_container_still_holds_its_named_volume() {
    require_root!();
    let h = Hull::new();
    h.ok(&["pull", "-q", &busybox()]);
    h.ok(&[
        "run",
        "-v",
        "kept:/data",
        &busybox(),
        "sh",
        "-c",
        "echo x > /data/f",
    ]);
    let id = h.ok(&["ps", "-aq", "--no-trunc"]).trim().to_string();
    tear_record(&h, &id, b"");
    // Its record says nothing now, but its bundle still mounts the volume.
    let err = h.fails(&["volume", "rm", "kept"]);
    assert!(err.contains(&format!("volume is in use - [{id}]")), "{err}");
    h.ok(&["volume", "prune", "-a", "-f"]);
    assert!(h.ok(&["volume", "ls", "-q"]).lines().any(|l| l == "kept"));
    h.ok(&["rm", "-f", &id]);
    h.ok(&["volume", "rm", "kept"]);
}

/// Unmounts a bind mount on drop, so a failing test leaves none behind.
struct Unmount(std::path::PathBuf);

impl Drop for Unmount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn rm_f_keeps_the_record_while_the_runtime_state_cannot_be_removed() {
    require_root!();
    let h = Hull::new();
    h.ok(&["pull", "-q", &busybox()]);
    let id = h
        .ok(&["run", "-d", "--name", "stuck", &busybox(), "sleep", "300"])
        .trim()
        .to_string();
    let _guard = KillLeftovers(id.clone());
    let dir = h.root().join("runtime").join(&id);
    wait_until("the runtime state", || dir.join("state.json").exists());
    // A mount inside the runtime's directory (a leak, a busy file system): removing the
    // directory fails however often it is tried.
    let empty = tempfile::tempdir().unwrap();
    let pin = dir.join("pin");
    std::fs::create_dir(&pin).unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["--bind", "-o", "ro"])
        .arg(empty.path())
        .arg(&pin)
        .status()
        .unwrap();
    assert!(mounted.success(), "bind mount {}", pin.display());
    let unmount = Unmount(pin.clone());

    let err = h.fails(&["rm", "-f", "stuck"]);
    assert!(err.contains(&id), "the error names the container: {err}");
    assert!(
        err.contains("Device or resource busy"),
        "and the cause: {err}"
    );
    assert!(
        h.ok(&["ps", "-a", "-q", "--no-trunc"]).contains(&id),
        "the record went while the runtime's directory is left"
    );
    assert!(container_pids(&id).is_empty(), "rm -f still killed it");

    // Once the directory can go, the next rm -f finishes the job.
    drop(unmount);
    h.ok(&["rm", "-f", "stuck"]);
    assert!(!dir.exists(), "runtime state left behind");
    assert_eq!(cgroup_dirs(&id), Vec::<String>::new(), "cgroup left behind");
    assert!(!h.root().join("containers").join(&id).exists());
}
