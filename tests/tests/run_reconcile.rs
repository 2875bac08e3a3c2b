//! What is left when `hull run` itself dies, and how `hull rm` cleans it up.

use std::process::Stdio;

use hull_tests::{cgroup_dirs, container_pids, fixture, require_root, wait_until, Hull};

fn busybox() -> String {
    format!("{}/busybox:latest", fixture("HULL_TEST_REGISTRY"))
}

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

#[test]
fn rm_after_a_killed_run_removes_its_process_cgroup_and_state() {
    require_root!();
    let h = Hull::new();
    h.ok(&["pull", "-q", &busybox()]);
    let mut runner = h
        .command(&["run", "--name", "orphan", &busybox(), "sleep", "300"])
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
    runner.kill().unwrap();
    runner.wait().unwrap();

    // The sleep still runs, orphaned: plain rm must refuse, as for any running container.
    let err = h.fails(&["rm", "orphan"]);
    assert!(err.contains("orphan"), "{err}");
    h.ok(&["rm", "-f", "orphan"]);
    assert!(!runtime_state.exists(), "runtime state left behind");
    assert_eq!(cgroup_dirs(&id), Vec::<String>::new(), "cgroup left behind");
    assert!(!h.root().join("containers").join(&id).exists());
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.contains(&id), "mount left behind");
    let leftover = container_pids(&id);
    assert!(leftover.is_empty(), "container process left: {leftover:?}");
}
