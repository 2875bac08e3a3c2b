//! Health checks through the `hull` CLI: `--health-*` flags and an image's HEALTHCHECK, run by
//! the container's monitor (a foreground run's checker); `inspect`'s `State.Health`, `ps`'s
//! status and `--filter health=`.
//! Intervals are short so that each test takes a few seconds.

use hull_tests::{busybox, container_pids, poll, require_root, wait_until, Hull};
use serde_json::Value;

fn health(h: &Hull, name: &str) -> Value {
    let v: Value = serde_json::from_str(&h.ok(&["inspect", name])).unwrap();
    v[0]["State"]["Health"].clone()
}

fn status_of(h: &Hull, name: &str) -> String {
    h.ok(&[
        "ps",
        "-a",
        "--filter",
        &format!("name=^{name}$"),
        "--format",
        "{{.Status}}",
    ])
    .trim()
    .to_string()
}

fn names_with(h: &Hull, health: &str) -> Vec<String> {
    let out = h.ok(&[
        "ps",
        "--filter",
        &format!("health={health}"),
        "--format",
        "{{.Names}}",
    ]);
    let mut v: Vec<String> = out.lines().map(String::from).collect();
    v.sort();
    v
}

/// Waits until the container's health log holds `n` results (`what` says which).
fn wait_checks(h: &Hull, name: &str, n: usize, what: &str) {
    wait_until(what, || {
        health(h, name)["Log"]
            .as_array()
            .is_some_and(|l| l.len() >= n)
    });
}

/// Waits until the container's health reads `want`; its last State.Health.
fn wait_health(h: &Hull, name: &str, want: &str) -> Value {
    wait_until(&format!("{name} to be {want}"), || {
        health(h, name)["Status"] == want
    });
    health(h, name)
}

#[test]
fn a_check_turns_healthy_once_its_file_exists() {
    require_root!();
    let h = Hull::new();
    let flags = [
        "--name",
        "web",
        "--network",
        "none",
        "--health-cmd",
        "echo checking; test -e /tmp/ready",
        "--health-interval",
        "200ms",
        "--health-retries",
        "1000",
    ];
    let _c = h.detach(&flags, &["sleep", "60"]);
    let _plain = h.detach(&["--name", "plain", "--network", "none"], &["sleep", "60"]);
    // Failing checks (below the retries) keep it starting.
    wait_checks(&h, "web", 2, "two failed checks");
    let hs = health(&h, "web");
    assert_eq!(hs["Status"], "starting", "{hs}");
    assert!(hs["FailingStreak"].as_u64().unwrap() >= 2, "{hs}");
    assert_eq!(hs["Log"][0]["ExitCode"], 1, "{hs}");
    assert_eq!(hs["Log"][0]["Output"], "checking\n", "{hs}");
    assert!(status_of(&h, "web").ends_with("(health: starting)"));
    assert_eq!(names_with(&h, "starting"), ["web"]);
    assert_eq!(names_with(&h, "none"), ["plain"]);
    assert_eq!(health(&h, "plain"), Value::Null);

    h.ok(&["exec", "web", "touch", "/tmp/ready"]);
    let hs = wait_health(&h, "web", "healthy");
    assert_eq!(hs["FailingStreak"], 0);
    let log = hs["Log"].as_array().unwrap();
    assert!(log.len() <= 5, "{hs}");
    let last = log.last().unwrap();
    assert_eq!(last["ExitCode"], 0, "{hs}");
    assert!(last["Start"].as_str().unwrap() <= last["End"].as_str().unwrap());
    assert!(
        status_of(&h, "web").ends_with("(healthy)"),
        "{}",
        status_of(&h, "web")
    );
    assert_eq!(names_with(&h, "healthy"), ["web"]);
    assert!(names_with(&h, "starting").is_empty());

    // Five more checks later the log still holds five.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert_eq!(health(&h, "web")["Log"].as_array().unwrap().len(), 5);
    let cfg: Value = serde_json::from_str(&h.ok(&["inspect", "web"])).unwrap();
    assert_eq!(
        cfg[0]["Config"]["Healthcheck"],
        serde_json::json!({
            "Test": ["CMD-SHELL", "echo checking; test -e /tmp/ready"],
            "Interval": 200_000_000,
            "Retries": 1000,
        })
    );
    // A stopped container's health reads unhealthy, as Docker's does.
    h.ok(&["stop", "-t", "1", "web"]);
    assert_eq!(health(&h, "web")["Status"], "unhealthy");
}

#[test]
fn health_is_starting_as_soon_as_run_d_returns() {
    require_root!();
    let h = Hull::new();
    // `run -d` returns when the container starts; the first check is an hour away, so only
    // the start itself can have set the status. Several runs, as a race shows only sometimes.
    for i in 0..5 {
        let name = format!("early{i}");
        let flags = ["--name", &name, "--network", "none", "--health-cmd", "true"];
        let flags = [&flags[..], &["--health-interval", "1h"]].concat();
        let _c = h.detach(&flags, &["sleep", "60"]);
        let hs = health(&h, &name);
        assert_eq!(hs["Status"], "starting", "{name}: {hs}");
        assert_eq!(hs["FailingStreak"], 0, "{name}: {hs}");
    }
}

#[test]
fn failures_past_the_retries_make_it_unhealthy_with_output_cut_to_4k() {
    require_root!();
    let h = Hull::new();
    let flags = [
        "--name",
        "sick",
        "--network",
        "none",
        "--health-cmd",
        "head -c 10000 /dev/zero | tr '\\0' x; exit 3",
        "--health-interval",
        "200ms",
        "--health-retries",
        "2",
    ];
    let _c = h.detach(&flags, &["sleep", "60"]);
    let hs = wait_health(&h, "sick", "unhealthy");
    assert!(hs["FailingStreak"].as_u64().unwrap() >= 2, "{hs}");
    let first = &hs["Log"][0];
    assert_eq!(first["ExitCode"], 3);
    assert_eq!(first["Output"].as_str().unwrap(), "x".repeat(4096));
    assert!(status_of(&h, "sick").ends_with("(unhealthy)"));
    assert_eq!(names_with(&h, "unhealthy"), ["sick"]);
}

#[test]
fn a_check_past_its_timeout_is_killed_with_its_children() {
    require_root!();
    let h = Hull::new();
    let flags = [
        "--name",
        "slow",
        "--network",
        "none",
        "--health-cmd",
        "sleep 31 & sleep 32",
        "--health-timeout",
        "300ms",
        "--health-interval",
        "200ms",
        "--health-retries",
        "1",
    ];
    let c = h.detach(&flags, &["sleep", "60"]);
    let hs = wait_health(&h, "slow", "unhealthy");
    let first = &hs["Log"][0];
    assert_eq!(first["ExitCode"], -1, "{hs}");
    assert_eq!(first["Output"], "Health check exceeded timeout (300ms)");
    // Checks go on every 200 ms, so a probe may be alive now within its own 300 ms. Each probe
    // seen now must die (or be a zombie of the container's pid 1, which reaps nothing) within
    // its timeout plus slack: an untouched `sleep 31` would outlive this by far.
    let seen = live_probes(&c.1);
    let mut alive = seen.clone();
    poll(10, || {
        alive.retain(|p| is_live_probe(p));
        alive.is_empty()
    });
    assert!(
        alive.is_empty(),
        "probe processes outlived their timeout: {alive:?} (of {seen:?})"
    );
}

fn is_live_probe(pid: &str) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
    (cmdline.contains("sleep 31") || cmdline.contains("sleep 32")) && !stat.contains(") Z")
}

fn live_probes(id: &str) -> Vec<String> {
    container_pids(id)
        .into_iter()
        .filter(|p| is_live_probe(p))
        .collect()
}

#[test]
fn failures_in_the_start_period_do_not_count() {
    require_root!();
    let h = Hull::new();
    let flags = [
        "--name",
        "boot",
        "--network",
        "none",
        "--health-cmd",
        "false",
        "--health-start-period",
        "5s",
        "--health-start-interval",
        "100ms",
        "--health-interval",
        "30s",
        "--health-retries",
        "1",
    ];
    let started = std::time::Instant::now();
    let _c = h.detach(&flags, &["sleep", "60"]);
    // The start interval (not the 30s interval) runs checks during the start period, and their
    // failures leave it starting.
    wait_checks(&h, "boot", 2, "two checks in the start period");
    let hs = health(&h, "boot");
    if started.elapsed() < std::time::Duration::from_millis(4500) {
        assert_eq!(hs["Status"], "starting", "{hs}");
        assert_eq!(hs["FailingStreak"], 0, "{hs}");
    } else {
        println!("skipped: the in-period check (the host was too slow to look within 4.5s)");
    }
    // Past it, the next failure counts (retries 1: unhealthy at once).
    let hs = wait_health(&h, "boot", "unhealthy");
    assert_eq!(hs["FailingStreak"], 1, "{hs}");
}

#[test]
fn an_images_healthcheck_runs_and_no_healthcheck_turns_it_off() {
    require_root!();
    let Some(archive) = std::env::var_os("HULL_TEST_HEALTHCHECK_ARCHIVE")
        .filter(|a| std::path::Path::new(a).exists())
    else {
        println!(
            "skipped: image HEALTHCHECK (no HULL_TEST_HEALTHCHECK_ARCHIVE: scripts/fixtures start)"
        );
        return;
    };
    let h = Hull::new();
    h.ok(&["load", "-i", archive.to_str().unwrap()]);
    let image = "healthcheck:latest";
    h.ok(&[
        "run",
        "-d",
        "--name",
        "img",
        "--network",
        "none",
        image,
        "sleep",
        "60",
    ]);
    let cfg: Value = serde_json::from_str(&h.ok(&["inspect", "img"])).unwrap();
    assert_eq!(
        cfg[0]["Config"]["Healthcheck"]["Test"],
        serde_json::json!(["CMD", "/bin/test", "-e", "/tmp/healthy"])
    );
    // The image's: every 250ms, unhealthy after 2 failures.
    wait_health(&h, "img", "unhealthy");
    h.ok(&["exec", "img", "touch", "/tmp/healthy"]);
    wait_health(&h, "img", "healthy");
    // A flag overrides one field and keeps the image's test.
    h.ok(&[
        "run",
        "-d",
        "--name",
        "retry",
        "--network",
        "none",
        "--health-retries",
        "1000",
        image,
        "sleep",
        "60",
    ]);
    let cfg: Value = serde_json::from_str(&h.ok(&["inspect", "retry"])).unwrap();
    let hc = &cfg[0]["Config"]["Healthcheck"];
    assert_eq!(
        (hc["Retries"].clone(), hc["Interval"].clone()),
        (1000.into(), 250_000_000.into())
    );
    h.ok(&[
        "run",
        "-d",
        "--name",
        "off",
        "--network",
        "none",
        "--no-healthcheck",
        image,
        "sleep",
        "60",
    ]);
    let cfg: Value = serde_json::from_str(&h.ok(&["inspect", "off"])).unwrap();
    assert_eq!(
        cfg[0]["Config"]["Healthcheck"]["Test"],
        serde_json::json!(["NONE"])
    );
    // No check runs: after several of the image's intervals, still no health at all.
    std::thread::sleep(std::time::Duration::from_millis(1000));
    assert_eq!(health(&h, "off"), Value::Null);
    assert!(names_with(&h, "none").contains(&"off".to_string()));
    assert!(
        !status_of(&h, "off").contains('('),
        "{}",
        status_of(&h, "off")
    );
}

#[test]
fn bad_health_flags_are_refused_naming_the_flag() {
    require_root!();
    let h = Hull::new();
    let image = busybox();
    for (flag, value, says) in [
        ("--health-interval", "soon", "invalid duration"),
        ("--health-timeout", "-1s", "cannot be negative"),
        ("--health-start-period", "5", "missing unit"),
        ("--health-retries", "-2", "cannot be negative"),
    ] {
        let err = h.fails(&["create", flag, value, &image, "true"]);
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(
            err.contains(flag) && err.contains(says),
            "{flag} {value}: {err}"
        );
    }
    let err = h.fails(&[
        "run",
        "--no-healthcheck",
        "--health-cmd",
        "true",
        &image,
        "true",
    ]);
    assert!(err.contains("--no-healthcheck"), "{err}");
    assert!(poll(1, || h.ok(&["ps", "-aq"]).trim().is_empty()));
}

#[test]
fn a_monitor_killed_mid_check_leaves_a_readable_record() {
    require_root!();
    let h = Hull::new();
    for (round, delay_ms) in [0u64, 37, 71, 113].into_iter().enumerate() {
        let name = format!("crash{round}");
        let flags = [
            "--name",
            &name,
            "--network",
            "none",
            "--health-cmd",
            "echo probing",
            "--health-interval",
            "50ms",
        ];
        let c = h.detach(&flags, &["sleep", "60"]);
        wait_checks(&h, &name, 3, "three checks");
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        // The monitor and any check process it forked (they share its command line).
        let needle = format!("__monitor\0{}", c.1);
        let family = hull_tests::pids_where(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(&needle))
        });
        assert!(!family.is_empty(), "no monitor for {name}");
        for pid in &family {
            let _ = std::process::Command::new("kill")
                .args(["-9", pid])
                .status();
        }
        let v: Value = serde_json::from_str(&h.ok(&["inspect", &name])).unwrap();
        let state = &v[0]["State"];
        assert_ne!(state["Status"], "dead", "torn record: {state}");
        for entry in state["Health"]["Log"].as_array().unwrap() {
            assert_eq!(entry["Output"], "probing\n", "{state}");
            assert!(
                entry["End"].as_str().is_some_and(|e| !e.is_empty()),
                "{state}"
            );
        }
        h.ok(&["rm", "-f", &name]);
    }
}

/// A foreground `hull run` in a child process; killed (by its pid) if the test ends before it.
struct Foreground(std::process::Child);

impl Drop for Foreground {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn run_in_foreground(h: &Hull, name: &str, check: &str, retries: &str) -> Foreground {
    let image = busybox();
    Foreground(h.spawn(&[
        "run",
        "--name",
        name,
        "--network",
        "none",
        "--health-cmd",
        check,
        "--health-interval",
        "200ms",
        "--health-retries",
        retries,
        &image,
        "sleep",
        "30",
    ]))
}

#[test]
fn a_foreground_run_checks_health_as_a_detached_one_does() {
    require_root!();
    let h = Hull::new();
    let mut fg = run_in_foreground(&h, "fg", "echo fg; test -e /tmp/ready", "1000");
    let mut sick = run_in_foreground(&h, "fgsick", "exit 3", "2");
    wait_until("both to run", || {
        h.ok(&["ps", "--format", "{{.Names}}"]).lines().count() == 2
    });
    wait_checks(&h, "fg", 2, "two failed checks of fg");
    let hs = health(&h, "fg");
    assert_eq!(hs["Status"], "starting", "{hs}");
    assert_eq!(hs["Log"][0]["Output"], "fg\n", "{hs}");
    assert!(status_of(&h, "fg").ends_with("(health: starting)"));
    h.ok(&["exec", "fg", "touch", "/tmp/ready"]);
    wait_health(&h, "fg", "healthy");
    let status = status_of(&h, "fg");
    assert!(
        status.starts_with("Up ") && status.ends_with("(healthy)"),
        "{status}"
    );
    assert_eq!(names_with(&h, "healthy"), ["fg"]);

    let hs = wait_health(&h, "fgsick", "unhealthy");
    assert_eq!(hs["Log"][0]["ExitCode"], 3, "{hs}");
    assert!(status_of(&h, "fgsick").ends_with("(unhealthy)"));

    // Stopped, the run ends (its checker with it) and the health reads unhealthy.
    h.ok(&["stop", "-t", "1", "fg", "fgsick"]);
    for (name, child) in [("fg", &mut fg.0), ("fgsick", &mut sick.0)] {
        let mut code = None;
        poll(20, || {
            code = child.try_wait().unwrap();
            code.is_some()
        });
        assert!(
            code.is_some(),
            "the foreground run of {name} outlived its container"
        );
        assert_eq!(health(&h, name)["Status"], "unhealthy", "{name}");
    }
    // No checker process is left behind (each shares its run's command line).
    let left = hull_tests::pids_where(|pid| {
        std::fs::read(format!("/proc/{pid}/cmdline"))
            .is_ok_and(|c| String::from_utf8_lossy(&c).contains("--health-cmd\0echo fg"))
    });
    assert!(left.is_empty(), "health checkers left: {left:?}");
}
