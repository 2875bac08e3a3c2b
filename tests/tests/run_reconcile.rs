//! What is left when `hull run` itself dies, and how `hull rm` cleans it up.

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

#[test]
fn rm_after_a_killed_run_removes_its_process_cgroup_and_state() {
    require_root!();
    let h = Hull::new();
    h.ok(&["pull", "-q", &busybox()]);
    let mut runner = h.spawn(&["run", "--name", "orphan", &busybox(), "sleep", "300"]);
    let id = h.wait_for_running_id();
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

/// Force-deletes an OCI-level container (`hull runtime`) even when the test fails.
struct DeleteRuntimeContainer {
    state: std::path::PathBuf,
    id: String,
}

impl Drop for DeleteRuntimeContainer {
    fn drop(&mut self) {
        let _ = Hull::new()
            .command(&["runtime", "--root", self.state.to_str().unwrap()])
            .args(["delete", "--force", &self.id])
            .status();
    }
}

/// A runner holding a flock (the engine's running.lock) clones init, then dies before it can
/// record it: init, waiting for start, must not keep the lock's open file description alive.
#[test]
fn init_waiting_for_start_does_not_hold_its_callers_lock() {
    require_root!();
    let h = Hull::new();
    let dir = h.dir.path();
    hull_tests::busybox_rootfs(&dir.join("bundle/rootfs"), &["sleep"]);
    let bundle = dir.join("bundle");
    let state = dir.join("state");
    let runtime = |args: &[&str]| {
        let mut c = h.command(&["runtime", "--root", state.to_str().unwrap()]);
        c.args(args);
        c
    };
    let out = runtime(&["spec", "--bundle", bundle.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "spec: {out:?}");
    let config = bundle.join("config.json");
    let mut spec: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&config).unwrap()).unwrap();
    spec["process"]["terminal"] = false.into();
    spec["process"]["args"] = serde_json::json!(["sleep", "1000"]);
    std::fs::write(&config, serde_json::to_vec(&spec).unwrap()).unwrap();

    let lock = dir.join("running.lock");
    let id = format!("lockheld-{}", std::process::id());
    let _guard = DeleteRuntimeContainer {
        state: state.clone(),
        id: id.clone(),
    };
    // flock(1) holds the lock on a descriptor its command inherits, as the runner's clone does.
    let inner = runtime(&["create", "--bundle", bundle.to_str().unwrap(), &id]);
    let status = std::process::Command::new("flock")
        .arg("-x")
        .arg(&lock)
        .arg(inner.get_program())
        .args(inner.get_args())
        .envs(inner.get_envs().filter_map(|(k, v)| Some((k, v?))))
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(dir.join("stdout")).unwrap())
        .stderr(std::fs::File::create(dir.join("stderr")).unwrap())
        .status()
        .unwrap();
    assert!(
        status.success(),
        "create: {}",
        std::fs::read_to_string(dir.join("stderr")).unwrap()
    );
    let st = h.ok(&["runtime", "--root", state.to_str().unwrap(), "state", &id]);
    let st: serde_json::Value = serde_json::from_str(&st).unwrap();
    assert_eq!(st["status"], "created");
    let pid = st["pid"].as_i64().expect("init pid");

    let held: Vec<_> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .flatten()
        .filter(|e| std::fs::read_link(e.path()).is_ok_and(|t| t == lock))
        .map(|e| e.file_name())
        .collect();
    assert!(
        held.is_empty(),
        "init {pid} holds the lock file as fd {held:?}"
    );
    let free = std::process::Command::new("flock")
        .args(["-n", "-x"])
        .arg(&lock)
        .arg("true")
        .status()
        .unwrap();
    assert!(free.success(), "the lock is still held while init waits");
}
