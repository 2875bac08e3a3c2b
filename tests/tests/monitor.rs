//! The detached monitor's policies: restarts (`--restart`), log rotation (`--log-opt`), log
//! selection by time (`logs --since/--until`).

use hull_tests::{fixture, require_root, wait_until, Hull};

fn busybox() -> String {
    format!("{}/busybox:latest", fixture("HULL_TEST_REGISTRY"))
}

/// `hull rm -f` of the container when the test ends, passing or failing.
struct Removed<'a>(&'a Hull, String);

impl Drop for Removed<'_> {
    fn drop(&mut self) {
        let _ = self.0.run(&["rm", "-f", &self.1]);
    }
}

/// `hull run -d FLAGS… busybox CMD…`; returns the ID with its guard.
fn detach<'a>(h: &'a Hull, flags: &[&str], cmd: &[&str]) -> Removed<'a> {
    let image = busybox();
    let mut argv = vec!["run", "-d"];
    argv.extend_from_slice(flags);
    argv.push(&image);
    argv.extend_from_slice(cmd);
    let id = h.ok(&argv).trim().to_string();
    assert_eq!(id.len(), 64, "{id:?}");
    Removed(h, id)
}

fn inspect(h: &Hull, id: &str) -> serde_json::Value {
    let out = h.ok(&["inspect", id]);
    let docs: serde_json::Value = serde_json::from_str(&out).unwrap();
    docs[0].clone()
}

fn log_lines(h: &Hull, id: &str) -> usize {
    h.ok(&["logs", id]).lines().count()
}

#[test]
fn on_failure_3_restarts_a_failing_container_exactly_three_times() {
    require_root!();
    let h = Hull::new();
    let c = detach(
        &h,
        &["--restart", "on-failure:3"],
        &["sh", "-c", "echo run; exit 1"],
    );
    // The monitor holds the container until the last run: wait returns the final exit.
    assert_eq!(h.ok(&["wait", &c.1]).trim(), "1");
    let doc = inspect(&h, &c.1);
    assert_eq!(doc["RestartCount"], 3, "{doc:#}");
    assert_eq!(doc["State"]["Status"], "exited");
    assert_eq!(doc["State"]["ExitCode"], 1);
    assert_eq!(doc["HostConfig"]["RestartPolicy"]["Name"], "on-failure");
    assert_eq!(doc["HostConfig"]["RestartPolicy"]["MaximumRetryCount"], 3);
    assert_eq!(log_lines(&h, &c.1), 4, "one line per run");
}

#[test]
fn always_restarts_a_clean_exit_until_hull_stop() {
    require_root!();
    let h = Hull::new();
    let c = detach(&h, &["--restart", "always"], &["sh", "-c", "echo run"]);
    wait_until("three runs", || log_lines(&h, &c.1) >= 3);
    h.ok(&["stop", &c.1]);
    let runs = log_lines(&h, &c.1);
    let doc = inspect(&h, &c.1);
    assert_eq!(doc["State"]["Status"], "exited", "{doc:#}");
    assert!(doc["RestartCount"].as_u64().unwrap() >= 2, "{doc:#}");
    // The longest delay so far was short; a restart would have shown up by now.
    std::thread::sleep(std::time::Duration::from_secs(2));
    assert_eq!(log_lines(&h, &c.1), runs, "no run after stop");
    assert!(!h.ok(&["ps"]).contains(&c.1[..12]));
}

#[test]
fn hull_kill_also_ends_restarts_like_docker_kill() {
    require_root!();
    let h = Hull::new();
    let c = detach(&h, &["--restart", "always"], &["sleep", "60"]);
    h.ok(&["kill", &c.1]);
    assert_eq!(h.ok(&["wait", &c.1]).trim(), "137");
    assert_eq!(inspect(&h, &c.1)["RestartCount"], 0);
}

#[test]
fn without_restart_a_failing_container_runs_once() {
    require_root!();
    let h = Hull::new();
    let c = detach(&h, &[], &["sh", "-c", "echo run; exit 1"]);
    assert_eq!(h.ok(&["wait", &c.1]).trim(), "1");
    let doc = inspect(&h, &c.1);
    assert_eq!(doc["RestartCount"], 0);
    assert_eq!(doc["HostConfig"]["RestartPolicy"]["Name"], "no");
    assert_eq!(log_lines(&h, &c.1), 1);
}

#[test]
fn restart_conflicts_with_rm() {
    require_root!();
    let h = Hull::new();
    let out = h.run(&[
        "run",
        "-d",
        "--rm",
        "--restart",
        "always",
        &busybox(),
        "true",
    ]);
    assert_eq!(out.status.code(), Some(125));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Conflicting options: --restart and --rm"),
        "{err}"
    );
}
