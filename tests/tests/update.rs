//! `hull update`: new limits reach a running detached container's cgroup and its record
//! (`inspect`), a stopped container keeps them for its next start, a new restart policy is
//! recorded (and refused with `--rm`), and bad flags fail with one line.

use hull_tests::{cgroup_dir_of, cgroup_v2_host, require_root, Hull};
use serde_json::Value;

fn host_config(h: &Hull, name: &str) -> Value {
    let v: Value = serde_json::from_str(&h.ok(&["inspect", name])).unwrap();
    v[0]["HostConfig"].clone()
}

fn knob(id: &str, controller: &str, v1: &str, v2: &str) -> String {
    let file = if cgroup_v2_host() { v2 } else { v1 };
    let path = cgroup_dir_of(id, controller).join(file);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
        .trim()
        .to_string()
}

#[test]
fn update_changes_a_running_container_and_its_record() {
    require_root!();
    let h = Hull::new();
    let c = h.detach(&["--name", "upd", "--memory", "128m"], &["sleep", "1000"]);
    let id = c.1.clone();
    let out = h.ok(&[
        "update",
        "--memory",
        "64m",
        "--cpus",
        "0.5",
        "--cpu-shares",
        "512",
        "--pids-limit",
        "20",
        "--restart",
        "on-failure:3",
        "upd",
    ]);
    assert_eq!(out.trim(), "upd");
    assert_eq!(
        knob(&id, "memory", "memory.limit_in_bytes", "memory.max"),
        (64 << 20).to_string()
    );
    assert_eq!(knob(&id, "pids", "pids.max", "pids.max"), "20");
    match cgroup_v2_host() {
        true => assert_eq!(knob(&id, "cpu", "", "cpu.max"), "50000 100000"),
        false => {
            assert_eq!(knob(&id, "cpu", "cpu.cfs_quota_us", ""), "50000");
            assert_eq!(knob(&id, "cpu", "cpu.shares", ""), "512");
        }
    }
    let hc = host_config(&h, "upd");
    assert_eq!(hc["Memory"], 64 << 20, "{hc}");
    assert_eq!(hc["NanoCpus"], 500_000_000, "{hc}");
    assert_eq!(hc["CpuShares"], 512, "{hc}");
    assert_eq!(hc["PidsLimit"], 20, "{hc}");
    assert_eq!(hc["RestartPolicy"]["Name"], "on-failure", "{hc}");
    assert_eq!(hc["RestartPolicy"]["MaximumRetryCount"], 3, "{hc}");
    // What is not given keeps its value.
    h.ok(&["update", "--pids-limit", "30", "upd"]);
    let hc = host_config(&h, "upd");
    assert_eq!(
        (hc["Memory"].clone(), hc["PidsLimit"].clone()),
        ((64 << 20).into(), 30.into())
    );
    assert_eq!(
        knob(&id, "memory", "memory.limit_in_bytes", "memory.max"),
        (64 << 20).to_string()
    );
}

#[test]
fn update_of_a_stopped_container_applies_at_its_next_start() {
    require_root!();
    let h = Hull::new();
    let c = h.detach(&["--name", "later"], &["sleep", "1000"]);
    let id = c.1.clone();
    h.ok(&["stop", "-t", "0", "later"]);
    h.ok(&["update", "--memory", "48m", "later"]);
    assert_eq!(host_config(&h, "later")["Memory"], 48 << 20);
    h.ok(&["start", "later"]);
    assert_eq!(
        knob(&id, "memory", "memory.limit_in_bytes", "memory.max"),
        (48 << 20).to_string()
    );
}

#[test]
fn update_refuses_bad_flags_and_restart_with_rm() {
    require_root!();
    let h = Hull::new();
    let _c = h.detach(&["--name", "rmme", "--rm"], &["sleep", "1000"]);
    let err = h.fails(&["update", "--restart", "always", "rmme"]);
    assert!(err.contains("--restart and --rm"), "{err}");
    let err = h.fails(&["update", "--memory", "lots", "rmme"]);
    assert!(err.contains("--memory") && err.contains("lots"), "{err}");
    let err = h.fails(&["update", "rmme"]);
    assert!(err.contains("one or more flags"), "{err}");
    let err = h.fails(&["update", "--memory", "64m", "no-such-container"]);
    assert!(err.contains("no-such-container"), "{err}");
}

#[test]
fn a_restart_policy_set_while_running_is_used_at_the_next_exit() {
    require_root!();
    let h = Hull::new();
    let _c = h.detach(&["--name", "flaky"], &["sh", "-c", "sleep 1; exit 3"]);
    h.ok(&["update", "--restart", "on-failure:2", "flaky"]);
    hull_tests::wait_until("two restarts and then exited", || {
        let v: Value = serde_json::from_str(&h.ok(&["inspect", "flaky"])).unwrap();
        v[0]["RestartCount"] == 2 && v[0]["State"]["Status"] == "exited"
    });
}
