//! `hull ps --filter/--format`, `rename`, `pause`/`unpause`, `restart`, `container prune`, `rm`
//! of several containers, name clashes, and the commands on a container whose `hull run` was
//! killed with -9.

use hull_tests::{busybox, cgroup_dirs, container_pids, require_root, wait_until, Hull};

/// Removes (rm -f) every container of the store when the test ends, passing or failing, and
/// kills whatever of them hull could not.
struct Cleanup<'a>(&'a Hull);

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        let ids = self.0.run(&["ps", "-aq", "--no-trunc"]);
        for id in String::from_utf8_lossy(&ids.stdout).split_whitespace() {
            let _ = self.0.run(&["rm", "-f", id]);
            for pid in container_pids(id) {
                let _ = std::process::Command::new("kill")
                    .args(["-9", &pid])
                    .status();
            }
        }
    }
}

fn detach(h: &Hull, name: &str, cmd: &[&str]) -> String {
    let image = busybox();
    let mut argv = vec!["run", "-d", "--name", name, &image];
    argv.extend_from_slice(cmd);
    h.ok(&argv).trim().to_string()
}

fn ps_line(h: &Hull, name: &str) -> String {
    let out = h.ok(&["ps", "-a", "--format", "{{.Names}} {{.State}} {{.Status}}"]);
    out.lines()
        .find(|l| l.split(' ').next() == Some(name))
        .unwrap_or_else(|| panic!("{name} not in ps -a:\n{out}"))
        .to_string()
}

fn inspect_state(h: &Hull, name: &str) -> serde_json::Value {
    let v: serde_json::Value = serde_json::from_str(&h.ok(&["inspect", name])).unwrap();
    v[0]["State"].clone()
}

#[test]
fn ps_filters_and_formats_like_docker() {
    require_root!();
    let h = Hull::new();
    let _c = Cleanup(&h);
    let up = detach(&h, "up", &["sleep", "60"]);
    let three = h.run(&["run", "--name", "three", &busybox(), "sh", "-c", "exit 3"]);
    assert_eq!(three.status.code(), Some(3));
    h.ok(&["run", "--name", "zero", &busybox(), "true"]);
    let names = |args: &[&str]| {
        let mut argv = vec!["ps", "--format", "{{.Names}}"];
        argv.extend_from_slice(args);
        let mut v: Vec<String> = h.ok(&argv).lines().map(String::from).collect();
        v.sort();
        v
    };
    assert_eq!(names(&[]), ["up"]);
    assert_eq!(names(&["-a"]), ["three", "up", "zero"]);
    // A status filter shows stopped containers without -a; one key ORs, two keys AND.
    assert_eq!(names(&["-f", "status=exited"]), ["three", "zero"]);
    assert_eq!(
        names(&["-f", "status=exited", "-f", "status=running"]),
        ["three", "up", "zero"]
    );
    assert_eq!(
        names(&["-a", "-f", "status=exited", "-f", "name=thr"]),
        ["three"]
    );
    assert_eq!(names(&["-a", "-f", "exited=3"]), ["three"]);
    assert_eq!(names(&["-a", "-f", &format!("id={}", &up[..10])]), ["up"]);
    assert!(names(&["-a", "-f", "label=x"]).is_empty());
    let err = h.fails(&["ps", "-f", "status=sleepy"]);
    assert_eq!(err.trim(), "hull: invalid filter 'status=sleepy'");
    let json = h.ok(&["ps", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(json.trim()).unwrap();
    assert_eq!(v["ID"], &up[..12]);
    assert_eq!(v["Names"], "up");
    assert_eq!(v["State"], "running");
    assert!(v["Status"].as_str().unwrap().starts_with("Up "), "{v}");
    assert_eq!(v["Command"], "\"sleep 60\"");
    let q = h.ok(&["ps", "-aq", "-f", "name=up", "--no-trunc"]);
    assert_eq!(q.trim(), up);
}

#[test]
fn pause_freezes_and_stop_of_a_paused_container_works() {
    require_root!();
    let h = Hull::new();
    let _c = Cleanup(&h);
    let id = detach(&h, "frozen", &["sleep", "60"]);
    assert_eq!(h.ok(&["pause", "frozen"]).trim(), "frozen");
    assert!(
        ps_line(&h, "frozen").ends_with("(Paused)"),
        "{}",
        ps_line(&h, "frozen")
    );
    assert!(ps_line(&h, "frozen").starts_with("frozen paused Up "));
    let state = inspect_state(&h, "frozen");
    assert_eq!(state["Status"], "paused");
    assert_eq!(state["Paused"], true);
    let pid = container_pids(&id).pop().expect("a container process");
    let st = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    assert!(st.contains("State:\tD") || st.contains("State:\tS"), "{st}");
    let err = h.fails(&["pause", "frozen"]);
    assert!(err.contains("already paused"), "{err}");
    h.ok(&["unpause", "frozen"]);
    assert!(ps_line(&h, "frozen").starts_with("frozen running Up "));
    let err = h.fails(&["unpause", "frozen"]);
    assert!(err.contains("not paused"), "{err}");
    h.ok(&["pause", "frozen"]);
    h.ok(&["stop", "-t", "1", "frozen"]);
    assert!(
        ps_line(&h, "frozen").starts_with("frozen exited Exited (137)"),
        "{}",
        ps_line(&h, "frozen")
    );
    assert!(container_pids(&id).is_empty());
    assert_eq!(inspect_state(&h, "frozen")["Paused"], false);
    let err = h.fails(&["pause", "frozen"]);
    assert!(err.contains("is not running"), "{err}");
}

#[test]
fn rename_works_running_or_not_and_keeps_names_unique() {
    require_root!();
    let h = Hull::new();
    let _c = Cleanup(&h);
    let id = detach(&h, "before", &["sleep", "60"]);
    h.ok(&["run", "--name", "other", &busybox(), "true"]);
    h.ok(&["rename", "before", "after"]);
    assert!(ps_line(&h, "after").starts_with("after running"));
    let err = h.fails(&["rename", "after", "other"]);
    assert!(
        err.contains("Conflict. The container name \"/other\" is already in use"),
        "{err}"
    );
    h.ok(&["rename", "other", "stopped2"]);
    h.ok(&["stop", "-t", "0", "after"]);
    h.ok(&["rename", &id[..12], "again"]);
    assert!(ps_line(&h, "again").starts_with("again exited"));
    h.fails(&["rename", "nope", "x1"]);
}

#[test]
fn restart_starts_a_stopped_or_running_container_again_detached() {
    require_root!();
    let h = Hull::new();
    let _c = Cleanup(&h);
    let id = detach(&h, "again", &["sh", "-c", "echo started; sleep 60"]);
    let first = container_pids(&id);
    assert_eq!(h.ok(&["restart", "-t", "1", "again"]).trim(), "again");
    wait_until("the restarted container to run", || {
        !container_pids(&id).is_empty()
    });
    assert_ne!(container_pids(&id), first);
    assert!(ps_line(&h, "again").starts_with("again running Up"));
    h.ok(&["stop", "-t", "1", "again"]);
    h.ok(&["restart", "again"]);
    assert!(ps_line(&h, "again").starts_with("again running Up"));
    wait_until("two starts in the log", || {
        h.ok(&["logs", "again"]).matches("started").count() == 3
    });
    let err = h.fails(&["restart", "nope"]);
    assert!(err.contains("no such container"), "{err}");
}

#[test]
fn container_prune_removes_only_stopped_containers() {
    require_root!();
    let h = Hull::new();
    let _c = Cleanup(&h);
    let up = detach(&h, "keep", &["sleep", "60"]);
    h.ok(&[
        "run",
        "--name",
        "gone1",
        &busybox(),
        "sh",
        "-c",
        "head -c 50000 /dev/zero > /big",
    ]);
    h.ok(&["run", "--name", "gone2", &busybox(), "true"]);
    let out = h.ok(&["container", "prune", "-f"]);
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("Deleted Containers:"));
    let deleted: Vec<&str> = lines.by_ref().take_while(|l| !l.is_empty()).collect();
    assert_eq!(deleted.len(), 2, "{out}");
    assert!(!deleted.contains(&up.as_str()));
    assert_eq!(lines.next(), Some("Total reclaimed space: 50kB"), "{out}");
    let left = h.ok(&["ps", "-aq", "--no-trunc"]);
    assert_eq!(left.trim(), up);
    for id in deleted {
        assert!(!h.root().join("containers").join(id).exists());
    }
}

#[test]
fn rm_of_several_reports_each_failure_and_exits_1() {
    require_root!();
    let h = Hull::new();
    let _c = Cleanup(&h);
    detach(&h, "busy", &["sleep", "60"]);
    h.ok(&["run", "--name", "done", &busybox(), "true"]);
    let out = h.run(&["rm", "nope", "busy", "done"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no such container: nope"), "{err}");
    assert!(
        err.contains("cannot remove a running container busy"),
        "{err}"
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "done");
    let left = h.ok(&["ps", "-a", "--format", "{{.Names}}"]);
    assert_eq!(left.trim(), "busy");
}

#[test]
fn a_name_clash_on_run_gives_dockers_conflict_and_leaves_nothing() {
    require_root!();
    let h = Hull::new();
    let _c = Cleanup(&h);
    let id = detach(&h, "taken", &["sleep", "60"]);
    let dirs = hull_tests::entries(&h.root().join("containers"));
    let out = h.run(&["run", "-d", "--name", "taken", &busybox(), "true"]);
    assert_eq!(out.status.code(), Some(125));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        err.trim(),
        format!(
            "hull: Conflict. The container name \"/taken\" is already in use by container \"{id}\". You have to remove (or rename) that container to be able to reuse that name."
        )
    );
    assert_eq!(hull_tests::entries(&h.root().join("containers")), dirs);
    // Generated names are adjective_noun.
    h.ok(&["run", &busybox(), "true"]);
    let names = h.ok(&["ps", "-a", "--format", "{{.Names}}"]);
    let generated = names.lines().find(|n| *n != "taken").unwrap();
    let parts: Vec<&str> = generated.split('_').collect();
    assert_eq!(parts.len(), 2, "{generated}");
    assert!(parts
        .iter()
        .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase())));
}

#[test]
fn stop_of_a_container_whose_run_was_killed_records_its_exit_and_cleans_up() {
    require_root!();
    let h = Hull::new();
    let _c = Cleanup(&h);
    let mut runner = h.spawn(&["run", "--name", "orphan", &busybox(), "sleep", "300"]);
    let id = h.wait_for_running_id();
    // Started, not just created: init has become the sleep.
    wait_until("the sleep to run", || {
        container_pids(&id).iter().any(|p| {
            std::fs::read_to_string(format!("/proc/{p}/comm")).is_ok_and(|c| c.trim() == "sleep")
        })
    });
    runner.kill().unwrap();
    runner.wait().unwrap();
    assert!(ps_line(&h, "orphan").starts_with("orphan running Up"));
    // It runs, so the commands on running containers work on it.
    assert_eq!(h.ok(&["exec", "orphan", "echo", "in"]).trim(), "in");
    assert!(h.ok(&["top", "orphan"]).contains("sleep 300"));
    // Starting it again must not kill it nor mount its rootfs twice.
    let err = h.fails(&["start", "orphan"]);
    assert!(err.contains("already running"), "{err}");
    h.ok(&["stop", "-t", "1", "orphan"]);
    assert!(
        ps_line(&h, "orphan").starts_with("orphan exited Exited (137)"),
        "{}",
        ps_line(&h, "orphan")
    );
    assert!(container_pids(&id).is_empty());
    assert!(cgroup_dirs(&id).is_empty(), "{:?}", cgroup_dirs(&id));
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.contains(&id), "mount left behind");
    assert!(!h.root().join("runtime").join(&id).exists());
    h.ok(&["restart", "orphan"]);
    assert!(ps_line(&h, "orphan").starts_with("orphan running Up"));
}

#[test]
fn create_records_a_container_that_start_runs() {
    require_root!();
    let h = Hull::new();
    let _c = Cleanup(&h);
    let id = h.ok(&[
        "create",
        "--name",
        "later",
        &busybox(),
        "sh",
        "-c",
        "exit 4",
    ]);
    let id = id.trim();
    assert_eq!(id.len(), 64, "{id}");
    assert_eq!(ps_line(&h, "later"), "later created Created");
    assert!(container_pids(id).is_empty());
    assert_eq!(h.run(&["start", "-a", "later"]).status.code(), Some(4));
    assert!(ps_line(&h, "later").starts_with("later exited Exited (4)"));
    let err = h.fails(&["create", "--name", "later", &busybox()]);
    assert!(err.contains("Conflict."), "{err}");
}

#[test]
fn stop_sends_the_stop_signal_and_kill_of_another_keeps_the_restart_policy() {
    require_root!();
    let h = Hull::new();
    let _c = Cleanup(&h);
    let image = busybox();
    let err = h.fails(&["run", "-d", "--stop-signal", "NOPE", &image, "true"]);
    assert!(
        err.contains("\"NOPE\" for \"--stop-signal\" flag: not a signal"),
        "{err}"
    );
    let err = h.fails(&["run", "-d", "--stop-timeout", "-1", &image, "true"]);
    assert!(err.contains("--stop-timeout"), "{err}");
    assert_eq!(h.ok(&["ps", "-aq"]), "", "a refused run left a container");

    // USR1 ends it with 3; SIGTERM would leave it running until the SIGKILL after 30 s (137).
    let script = "trap 'echo got-usr1; exit 3' USR1; trap 'exit 5' HUP; echo ready; \
                  while :; do sleep 0.1; done";
    let flags = ["--stop-signal", "USR1", "--stop-timeout", "30"];
    let mut argv = vec!["run", "-d", "--name", "sig", "--restart", "always"];
    argv.extend_from_slice(&flags);
    argv.extend([image.as_str(), "sh", "-c", script]);
    h.ok(&argv);
    let readies = || h.ok(&["logs", "sig"]).matches("ready").count();
    wait_until("the script to trap", || readies() == 1);
    let config: serde_json::Value = serde_json::from_str(&h.ok(&["inspect", "sig"])).unwrap();
    assert_eq!(config[0]["Config"]["StopSignal"], "USR1");
    assert_eq!(config[0]["Config"]["StopTimeout"], 30);

    // A signal that is not the stop signal is not a stop: the policy runs it again (Docker).
    h.ok(&["kill", "-s", "HUP", "sig"]);
    wait_until("the restart after HUP", || {
        inspect_state(&h, "sig")["Running"] == true && readies() == 2
    });
    h.ok(&["stop", "sig"]);
    let state = inspect_state(&h, "sig");
    assert_eq!(state["ExitCode"], 3, "{state}");
    assert!(h.ok(&["logs", "sig"]).contains("got-usr1"));
    assert!(
        ps_line(&h, "sig").starts_with("sig exited"),
        "the policy ran it again"
    );
}
