//! `hull run -d` and the commands on a detached container: logs, stop, kill, wait, inspect, and
//! what is left when its monitor is killed.

use std::time::{Duration, Instant};

use hull_tests::{busybox, cgroup_dirs, container_pids, require_root, wait_until, Hull, Removed};

/// `hull run -d FLAGS… -- CMD…` (or just `CMD…`) through [`Hull::detach`].
fn detach<'a>(h: &'a Hull, args: &[&str]) -> Removed<'a> {
    match args.iter().position(|a| *a == "--") {
        Some(split) if split > 0 => h.detach(&args[..split], &args[split + 1..]),
        _ => h.detach(&[], args),
    }
}

/// The pid of the container's monitor (its command line names the ID).
fn monitor_pid(id: &str) -> Option<String> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|pid| pid.bytes().all(|b| b.is_ascii_digit()))
        .find(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| {
                let c = String::from_utf8_lossy(&c);
                c.contains("__monitor") && c.contains(id)
            })
        })
}

fn status_of(h: &Hull, id: &str) -> String {
    let out = h.ok(&["ps", "-a", "--no-trunc"]);
    out.lines()
        .find(|l| l.starts_with(id))
        .unwrap_or_else(|| panic!("{id} not in ps -a:\n{out}"))
        .to_string()
}

#[test]
fn run_d_returns_while_the_container_runs_and_ps_shows_it_up() {
    require_root!();
    let h = Hull::new();
    let start = Instant::now();
    let c = detach(&h, &["sleep", "30"]);
    assert!(start.elapsed() < Duration::from_secs(10));
    let ps = h.ok(&["ps"]);
    assert!(ps.contains(&c.1[..12]), "{ps}");
    assert!(status_of(&h, &c.1).contains("Up "), "{ps}");
    let pid = monitor_pid(&c.1).expect("a monitor runs");
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let rss = status.lines().find(|l| l.starts_with("VmRSS")).unwrap();
    let anon = status.lines().find(|l| l.starts_with("RssAnon")).unwrap();
    let threads = status.lines().find(|l| l.starts_with("Threads")).unwrap();
    eprintln!("monitor {pid}: {rss}; {anon}; {threads}");
    assert!(
        threads.ends_with("\t1"),
        "the monitor is single-threaded: {threads}"
    );
}

#[test]
fn logs_go_to_their_streams_with_timestamps_and_tail() {
    require_root!();
    let h = Hull::new();
    // Pauses usually order the lines, but two pipes read in one poll round (a monitor that a
    // loaded machine kept off the CPU) have no order between them, as with Docker: so the
    // tail is checked against the log's own order, which `logs -t` shows.
    let c = detach(
        &h,
        &[
            "sh",
            "-c",
            "echo out; sleep 0.5; echo err >&2; sleep 0.5; echo out2",
        ],
    );
    assert_eq!(h.ok(&["wait", &c.1]).trim(), "0");
    let out = h.run(&["logs", &c.1]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "out\nout2\n");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "err\n");
    let last = last_stamped_entry(&h, &c.1);
    let tail = h.run(&["logs", "--tail", "1", &c.1]);
    let (on_stdout, on_stderr) = match last {
        (text, false) => (format!("{text}\n"), String::new()),
        (text, true) => (String::new(), format!("{text}\n")),
    };
    assert_eq!(String::from_utf8_lossy(&tail.stdout), on_stdout);
    assert_eq!(String::from_utf8_lossy(&tail.stderr), on_stderr);
}

/// The last line of a container's log in the log's order (by `logs -t` time stamps, which the
/// monitor takes as it reads): its text, and whether it went to stderr. Checks each stamp's
/// shape and that each line is on the stream it was written to.
fn last_stamped_entry(h: &Hull, id: &str) -> (String, bool) {
    let stamped = h.run(&["logs", "-t", id]);
    let mut entries = Vec::new();
    for (bytes, is_err) in [(&stamped.stdout, false), (&stamped.stderr, true)] {
        for line in String::from_utf8_lossy(bytes).lines() {
            let (time, text) = line.split_once(' ').unwrap();
            assert_eq!(text.starts_with("err"), is_err, "{line}");
            assert!(
                time.ends_with('Z') && time.contains('T') && time.len() == 30,
                "{line}"
            );
            entries.push((time.to_string(), text.to_string(), is_err));
        }
    }
    assert_eq!(entries.len(), 3, "{entries:?}");
    // Fixed-width RFC 3339 in UTC: text order is time order.
    entries.sort();
    let (_, text, is_err) = entries.pop().unwrap();
    (text, is_err)
}

#[test]
fn logs_f_follows_until_the_container_exits() {
    require_root!();
    let h = Hull::new();
    let script = "for i in 1 2 3 4; do echo line$i; sleep 0.5; done";
    let c = detach(&h, &["sh", "-c", script]);
    let start = Instant::now();
    let out = h.ok(&["logs", "-f", &c.1]);
    assert_eq!(out, "line1\nline2\nline3\nline4\n");
    assert!(
        start.elapsed() > Duration::from_millis(1000),
        "{:?}",
        start.elapsed()
    );
    assert!(start.elapsed() < Duration::from_secs(10));
}

#[test]
fn stop_kills_a_container_that_ignores_sigterm_after_the_timeout() {
    require_root!();
    let h = Hull::new();
    let c = detach(&h, &["sh", "-c", "trap '' TERM; sleep 60"]);
    let start = Instant::now();
    h.ok(&["stop", "-t", "1", &c.1]);
    let took = start.elapsed();
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_secs(10),
        "{took:?}"
    );
    assert!(
        status_of(&h, &c.1).contains("Exited (137)"),
        "{}",
        status_of(&h, &c.1)
    );
    assert_eq!(h.ok(&["wait", &c.1]).trim(), "137");
}

#[test]
fn kill_sends_the_signal_and_wait_returns_the_code() {
    require_root!();
    let h = Hull::new();
    let c = detach(
        &h,
        &[
            "sh",
            "-c",
            "trap 'exit 42' USR1; while true; do sleep 0.1; done",
        ],
    );
    std::thread::sleep(Duration::from_millis(300));
    h.ok(&["kill", "-s", "USR1", &c.1]);
    assert_eq!(h.ok(&["wait", &c.1]).trim(), "42");
    let e = h.fails(&["kill", "-s", "NOPE", &c.1]);
    assert!(e.contains("invalid signal"), "{e}");
    let d = detach(&h, &["sh", "-c", "exit 3"]);
    assert_eq!(h.ok(&["wait", &d.1]).trim(), "3");
}

#[test]
fn inspect_is_docker_shaped() {
    require_root!();
    let h = Hull::new();
    let c = detach(
        &h,
        &[
            "--name", "insp", "-e", "A=1", "-m", "64m", "--", "sleep", "30",
        ],
    );
    let out = h.ok(&["inspect", "insp"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let d = &v[0];
    assert_eq!(d["Id"], c.1.as_str());
    assert_eq!(d["Name"], "/insp");
    assert_eq!(d["Path"], "sleep");
    assert_eq!(d["Args"][0], "30");
    assert_eq!(d["State"]["Status"], "running");
    assert_eq!(d["State"]["Running"], true);
    assert!(d["State"]["Pid"].as_i64().unwrap() > 0);
    // Docker's Config.Env: the image's variables, then the user's.
    let env = d["Config"]["Env"].as_array().unwrap();
    assert!(env.iter().any(|e| e == "A=1"), "{env:?}");
    assert!(env[0].as_str().unwrap().starts_with("PATH="), "{env:?}");
    assert_eq!(d["HostConfig"]["Memory"], 64 << 20);
    assert_eq!(d["HostConfig"]["NetworkMode"], "bridge");
    assert!(d["Mounts"].is_array() && d["NetworkSettings"].is_object());
    h.ok(&["kill", "insp"]);
    h.ok(&["wait", "insp"]);
    let v: serde_json::Value = serde_json::from_str(&h.ok(&["inspect", "insp"])).unwrap();
    assert_eq!(v[0]["State"]["Status"], "exited");
    assert_eq!(v[0]["State"]["ExitCode"], 137);
    assert_eq!(v[0]["State"]["Pid"], 0);
    assert_ne!(v[0]["State"]["FinishedAt"], "0001-01-01T00:00:00Z");
}

/// The container outlives its killed monitor: ps tells the truth (Up) while it runs, Exited after.
#[test]
fn a_killed_monitor_leaves_its_container_up_until_it_dies_and_rm_f_cleans_everything() {
    require_root!();
    let h = Hull::new();
    let c = detach(&h, &["sleep", "60"]);
    let id = c.1.clone();
    let pid = monitor_pid(&id).expect("a monitor runs");
    assert!(!container_pids(&id).is_empty());
    std::process::Command::new("kill")
        .args(["-9", &pid])
        .status()
        .unwrap();
    wait_until("the monitor to die", || monitor_pid(&id).is_none());
    assert!(status_of(&h, &id).contains("Up "), "{}", status_of(&h, &id));
    assert!(h.ok(&["ps"]).contains(&id[..12]));
    let err = h.fails(&["rm", &id]);
    assert!(err.contains("running"), "{err}");
    // Its processes die with nobody to record it: Exited, with Docker's unknown code.
    for pid in container_pids(&id) {
        let _ = std::process::Command::new("kill")
            .args(["-9", &pid])
            .status();
    }
    wait_until("ps to show it exited", || {
        status_of(&h, &id).contains("Exited (255)")
    });
    assert!(!h.ok(&["ps"]).contains(&id[..12]));
    h.ok(&["rm", "-f", &id]);
    assert!(container_pids(&id).is_empty(), "processes left");
    assert!(cgroup_dirs(&id).is_empty(), "{:?}", cgroup_dirs(&id));
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.contains(&id), "mount left");
    assert!(!h.root().join("containers").join(&id).exists());
    assert!(!h.root().join("runtime").join(&id).exists());
}

#[test]
fn a_missing_command_fails_with_127_and_one_line() {
    require_root!();
    let h = Hull::new();
    let out = h.run(&["run", "-d", &busybox(), "/nonexistent"]);
    assert_eq!(out.status.code(), Some(127), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("hull:")).collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(out.stdout.is_empty());
    for id in h.ok(&["ps", "-aq", "--no-trunc"]).lines() {
        let _ = h.run(&["rm", "-f", id]);
    }
}

#[test]
fn rm_d_removes_itself_after_exit() {
    require_root!();
    let h = Hull::new();
    let c = detach(&h, &["--rm", "--", "sh", "-c", "sleep 0.3"]);
    wait_until("--rm to remove it", || {
        !h.root().join("containers").join(&c.1).exists()
    });
    assert!(!h.ok(&["ps", "-a", "--no-trunc"]).contains(&c.1));
    assert!(cgroup_dirs(&c.1).is_empty());
}

#[test]
fn rm_f_of_a_running_detached_container_waits_for_its_monitor() {
    require_root!();
    let h = Hull::new();
    let c = detach(&h, &["sleep", "60"]);
    h.ok(&["rm", "-f", &c.1]);
    assert!(monitor_pid(&c.1).is_none());
    assert!(container_pids(&c.1).is_empty());
    assert!(!h.root().join("containers").join(&c.1).exists());
}
