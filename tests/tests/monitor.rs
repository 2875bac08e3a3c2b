//! The detached monitor's policies: restarts (`--restart`), log rotation (`--log-opt`), log
//! selection by time (`logs --since/--until`).

use hull_tests::{busybox, require_root, wait_until, Hull};

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
    let c = h.detach(
        &["--restart", "on-failure:3"],
        &["sh", "-c", "echo run; exit 1"],
    );
    // wait returns at the first exit (Docker); the monitor holds the container until the last.
    assert_eq!(h.ok(&["wait", &c.1]).trim(), "1");
    wait_until("the last run", || {
        let doc = inspect(&h, &c.1);
        doc["RestartCount"] == 3 && doc["State"]["Status"] == "exited"
    });
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
    let c = h.detach(&["--restart", "always"], &["sh", "-c", "echo run"]);
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
    let c = h.detach(&["--restart", "always"], &["sleep", "60"]);
    h.ok(&["kill", &c.1]);
    assert_eq!(h.ok(&["wait", &c.1]).trim(), "137");
    assert_eq!(inspect(&h, &c.1)["RestartCount"], 0);
}

#[test]
fn without_restart_a_failing_container_runs_once() {
    require_root!();
    let h = Hull::new();
    let c = h.detach(&[], &["sh", "-c", "echo run; exit 1"]);
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

#[test]
fn log_rotation_keeps_max_file_small_files_and_logs_reads_them_in_order() {
    require_root!();
    let h = Hull::new();
    let script = "i=0; while [ $i -lt 300 ]; do echo line$i; i=$((i+1)); done";
    let c = h.detach(
        &["--log-opt", "max-size=1k", "--log-opt", "max-file=3"],
        &["sh", "-c", script],
    );
    assert_eq!(h.ok(&["wait", &c.1]).trim(), "0");
    let dir = h.root().join("containers").join(&c.1);
    let logs: Vec<(String, u64)> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains("-json.log"))
        .map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            (name, e.metadata().unwrap().len())
        })
        .collect();
    assert_eq!(logs.len(), 3, "{logs:?}");
    for (name, size) in &logs {
        assert!(*size <= 1024 + 200, "{name} has {size} bytes");
    }
    let out = h.ok(&["logs", &c.1]);
    let numbers: Vec<u32> = out
        .lines()
        .map(|l| l.strip_prefix("line").unwrap().parse().unwrap())
        .collect();
    assert_eq!(numbers.last(), Some(&299), "{out}");
    assert!(numbers.len() > 10 && numbers.len() < 300, "{out}");
    assert!(numbers.windows(2).all(|w| w[1] == w[0] + 1), "{out}");
    let doc = inspect(&h, &c.1);
    assert_eq!(doc["HostConfig"]["LogConfig"]["Config"]["max-file"], "3");
}

#[test]
fn log_driver_none_keeps_no_log_and_logs_says_so() {
    require_root!();
    let h = Hull::new();
    let c = h.detach(&["--log-driver", "none"], &["echo", "hi"]);
    assert_eq!(h.ok(&["wait", &c.1]).trim(), "0");
    let err = h.fails(&["logs", &c.1]);
    assert!(
        err.contains("configured logging driver does not support reading"),
        "{err}"
    );
    assert!(!h
        .root()
        .join("containers")
        .join(&c.1)
        .join(format!("{}-json.log", c.1))
        .exists());
    let err = h.fails(&["run", "--log-opt", "colour=red", &busybox(), "true"]);
    assert!(err.contains("unknown log opt 'colour'"), "{err}");
}

#[test]
fn logs_since_and_until_select_lines_by_time() {
    require_root!();
    let h = Hull::new();
    let c = h.detach(&[], &["sh", "-c", "echo before; sleep 1; echo after"]);
    assert_eq!(h.ok(&["wait", &c.1]).trim(), "0");
    let stamped = h.ok(&["logs", "-t", &c.1]);
    let time_of = |text: &str| {
        stamped
            .lines()
            .find(|l| l.ends_with(text))
            .and_then(|l| l.split_once(' '))
            .map(|(t, _)| t.to_string())
            .unwrap_or_else(|| panic!("{text} not in {stamped}"))
    };
    let (before, after) = (time_of("before"), time_of("after"));
    assert_eq!(h.ok(&["logs", "--since", &after, &c.1]), "after\n");
    assert_eq!(h.ok(&["logs", "--until", &before, &c.1]), "before\n");
    assert_eq!(h.ok(&["logs", "--since", "1h", &c.1]), "before\nafter\n");
    assert_eq!(h.ok(&["logs", "--since", "0s", &c.1]), "");
    let secs = after.split('.').next().unwrap();
    let unix = epoch_secs(secs);
    assert!(h
        .ok(&["logs", "--since", &unix.to_string(), &c.1])
        .ends_with("after\n"));
    let err = h.fails(&["logs", "--since", "yesterday", &c.1]);
    assert!(err.contains("--since"), "{err}");
}

/// Seconds since the epoch of `YYYY-MM-DDTHH:MM:SS` (UTC), by `date`.
fn epoch_secs(t: &str) -> i64 {
    let out = std::process::Command::new("date")
        .args(["-u", "-d", &format!("{t}Z"), "+%s"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

#[test]
fn between_runs_ps_and_inspect_show_restarting_and_stop_ends_it() {
    require_root!();
    let h = Hull::new();
    let c = h.detach(&["--restart", "always"], &["sh", "-c", "exit 3"]);
    // The delay doubles from 100 ms: soon the container spends most of its time waiting. On a
    // slow machine a restart can still fall between two reads, so inspect and ps are read
    // together until both see the same wait.
    let prefix = c.1[..12].to_string();
    wait_until("inspect and ps to show restarting", || {
        let doc = inspect(&h, &c.1);
        let ps = h.ok(&["ps", "-a"]);
        let row = ps.lines().find(|l| l.starts_with(&prefix)).unwrap_or("");
        doc["State"]["Status"] == "restarting"
            && doc["State"]["Restarting"] == true
            && row.contains("Restarting (3)")
    });
    h.ok(&["stop", &c.1]);
    assert_eq!(inspect(&h, &c.1)["State"]["Status"], "exited");
}

#[test]
fn logs_f_follows_across_rotations() {
    require_root!();
    let h = Hull::new();
    let script = "i=0; while [ $i -lt 60 ]; do echo line$i; i=$((i+1)); sleep 0.05; done";
    let c = h.detach(
        &["--log-opt", "max-size=300", "--log-opt", "max-file=5"],
        &["sh", "-c", script],
    );
    let out = h.ok(&["logs", "-f", &c.1]);
    let numbers: Vec<u32> = out
        .lines()
        .map(|l| l.strip_prefix("line").unwrap().parse().unwrap())
        .collect();
    assert_eq!(numbers.last(), Some(&59), "{out}");
    assert!(numbers.windows(2).all(|w| w[1] == w[0] + 1), "{out}");
}

#[test]
fn wait_returns_at_the_first_exit_of_a_container_that_restarts() {
    require_root!();
    let h = Hull::new();
    // Fails once when told to (/go), then runs on: only the first exit can end the wait.
    let script = "test -e /ran && exec sleep 1000; touch /ran; \
                  until test -e /go; do sleep 0.05; done; exit 3";
    let c = h.detach(&["--restart", "on-failure:2"], &["sh", "-c", script]);
    let mut wait = h
        .command(&["wait", &c.1])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // It polls (sleeps) once it has read the record: only then may the first run end.
    let wchan = format!("/proc/{}/wchan", wait.id());
    wait_until("hull wait to poll", || {
        std::fs::read_to_string(&wchan).is_ok_and(|w| w.contains("nanosleep"))
    });
    h.ok(&["exec", &c.1, "touch", "/go"]);
    let mut status = None;
    let waited = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        wait_until("hull wait to return", || {
            status = wait.try_wait().unwrap();
            status.is_some()
        })
    }));
    if waited.is_err() {
        let _ = wait.kill();
        let _ = wait.wait();
        panic!("hull wait did not return at the first exit");
    }
    let mut out = String::new();
    std::io::Read::read_to_string(&mut wait.stdout.take().unwrap(), &mut out).unwrap();
    assert!(status.unwrap().success());
    assert_eq!(out.trim(), "3");
    wait_until("the second run", || {
        inspect(&h, &c.1)["State"]["Status"] == "running"
    });
    assert_eq!(inspect(&h, &c.1)["RestartCount"], 1);
}
