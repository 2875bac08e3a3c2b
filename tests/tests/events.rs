//! `hull events`: the journal every command writes, read through the CLI. A container's life
//! (create, start, kill, die, stop, destroy) in order with Docker's attributes, image and
//! volume events, Docker's filters and since/until, Docker's line format, a follower that sees
//! a new event, ends at `--until` and when its stdout closes, and bad input.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hull_tests::{busybox, require_root, Hull};

/// Unix seconds with nanoseconds, as `--since`/`--until` take them.
fn now() -> String {
    let d = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    format!("{}.{:09}", d.as_secs(), d.subsec_nanos())
}

/// The events in `[since, now]` that pass `filters`, as JSON documents.
fn events(h: &Hull, since: &str, filters: &[&str]) -> Vec<serde_json::Value> {
    let until = now();
    let mut argv = vec![
        "events", "--since", since, "--until", &until, "--format", "json",
    ];
    for f in filters {
        argv.extend(["--filter", f]);
    }
    h.ok(&argv)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn actions(evs: &[serde_json::Value]) -> Vec<String> {
    evs.iter()
        .map(|e| e["Action"].as_str().unwrap().to_string())
        .collect()
}

/// Kills (by pid) and reaps a follower the test started, whatever happened.
struct Follower(Child);

impl Drop for Follower {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_containers_life_is_journaled_in_order_with_dockers_attributes() {
    require_root!();
    let h = Hull::new();
    let image = busybox();
    let t0 = now();
    h.ok(&["pull", "-q", &image]);
    let id = h.ok(&[
        "create", "--name", "evweb", "--label", "tier=web", &image, "sleep", "60",
    ]);
    let id = id.trim();
    h.ok(&["start", "evweb"]);
    assert_eq!(
        h.run(&["exec", "evweb", "sh", "-c", "exit 4"])
            .status
            .code(),
        Some(4)
    );
    h.ok(&["stop", "-t", "1", "evweb"]);
    h.ok(&["rm", "evweb"]);

    let evs = events(&h, &t0, &["container=evweb"]);
    let got = actions(&evs);
    let at = |a: &str| {
        got.iter()
            .position(|g| g == a)
            .unwrap_or_else(|| panic!("{a} in {got:?}"))
    };
    assert_eq!(at("create"), 0, "{got:?}");
    assert!(
        at("create") < at("start") && at("start") < at("kill"),
        "{got:?}"
    );
    assert!(at("kill") < at("die") && at("die") < at("stop"), "{got:?}");
    assert_eq!(got.last().map(String::as_str), Some("destroy"), "{got:?}");
    for e in &evs {
        assert_eq!(e["Type"], "container");
        assert_eq!(e["Actor"]["ID"], id);
        assert_eq!(
            (e["id"].as_str(), e["status"].as_str()),
            (Some(id), e["Action"].as_str())
        );
        assert_eq!(e["from"], image.as_str());
        assert_eq!(e["scope"], "local");
        let attrs = &e["Actor"]["Attributes"];
        assert_eq!(
            (attrs["name"].as_str(), attrs["tier"].as_str()),
            (Some("evweb"), Some("web"))
        );
        assert_eq!(attrs["image"], image.as_str());
        let nanos = e["timeNano"].as_i64().unwrap();
        assert_eq!(e["time"].as_i64().unwrap(), nanos / 1_000_000_000);
    }
    let die = &evs[at("die")];
    let code: i32 = die["Actor"]["Attributes"]["exitCode"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        code == 137 || code == 143,
        "sleep as init ends by SIGTERM or SIGKILL: {code}"
    );
    assert_eq!(evs[at("kill")]["Actor"]["Attributes"]["signal"], "15");

    let exec = [
        at("exec_create: sh -c exit 4"),
        at("exec_start: sh -c exit 4"),
        at("exec_die"),
    ];
    assert!(
        at("start") < exec[0] && exec[0] < exec[1] && exec[1] < exec[2],
        "{got:?}"
    );
    assert!(exec[2] < at("kill"), "{got:?}");
    let die = &evs[exec[2]]["Actor"]["Attributes"];
    assert_eq!(die["exitCode"], "4");
    assert_eq!(die["execID"], evs[exec[0]]["Actor"]["Attributes"]["execID"]);

    // The run's endpoint on the default network: connect before start, disconnect after die.
    let net = events(&h, &t0, &["type=network"]);
    assert_eq!(actions(&net), ["connect", "disconnect"], "{net:?}");
    for e in &net {
        assert_eq!(e["Actor"]["Attributes"]["container"], id);
        assert_eq!(e["Actor"]["Attributes"]["name"], "bridge");
    }

    let pulls = events(&h, &t0, &["type=image", "event=pull"]);
    assert_eq!(pulls.len(), 1, "{pulls:?}");
    assert_eq!(
        pulls[0]["Actor"]["Attributes"]["name"],
        pulls[0]["Actor"]["ID"]
    );
}

#[test]
fn image_and_volume_events_and_the_filters() {
    require_root!();
    let h = Hull::new();
    let image = busybox();
    h.ok(&["pull", "-q", &image]);
    let t0 = now();
    h.ok(&["tag", &image, "evtag:1"]);
    h.ok(&["rmi", "evtag:1"]);
    h.ok(&["volume", "create", "--label", "k=v", "evvol"]);
    h.ok(&["volume", "rm", "evvol"]);
    std::thread::sleep(Duration::from_millis(50));
    let t1 = now();
    h.ok(&["volume", "create", "later"]);
    h.ok(&["volume", "rm", "later"]);

    let img = events(&h, &t0, &["type=image"]);
    assert_eq!(actions(&img), ["tag", "untag"], "{img:?}");
    assert_eq!(img[0]["Actor"]["Attributes"]["name"], "evtag:1");
    assert!(img[0]["Actor"]["ID"]
        .as_str()
        .unwrap()
        .starts_with("sha256:"));
    assert_eq!(
        events(&h, &t0, &["image=evtag"]).len(),
        1,
        "by name, the tag stripped"
    );

    let vols = events(&h, &t0, &["type=volume"]);
    assert_eq!(actions(&vols), ["create", "destroy", "create", "destroy"]);
    assert!(
        vols[0].get("status").is_none(),
        "no legacy fields for volumes"
    );
    assert_eq!(vols[0]["Actor"]["Attributes"]["driver"], "local");
    assert_eq!(
        actions(&events(&h, &t0, &["volume=evvol"])),
        ["create", "destroy"]
    );
    assert_eq!(events(&h, &t0, &["volume=evvol", "event=destroy"]).len(), 1);
    assert_eq!(
        events(&h, &t0, &["type=volume", "event=create", "event=destroy"]).len(),
        4
    );
    assert_eq!(
        events(&h, &t0, &["container=evvol"]).len(),
        0,
        "only container events"
    );
    // The window: since t1 only the later volume; until t1 only the first.
    let later = events(&h, &t1, &["type=volume"]);
    assert_eq!(later.len(), 2, "{later:?}");
    assert!(later.iter().all(|e| e["Actor"]["ID"] == "later"));
    let until = h.ok(&[
        "events",
        "--since",
        &t0,
        "--until",
        &t1,
        "--filter",
        "type=volume",
        "--format",
        "{{.Actor.ID}}",
    ]);
    assert_eq!(until.lines().collect::<Vec<_>>(), ["evvol", "evvol"]);
    // A duration: everything of the last 10 minutes, up to now.
    let recent = h.ok(&[
        "events",
        "--since",
        "10m",
        "--until",
        "0s",
        "--filter",
        "type=volume",
    ]);
    assert_eq!(recent.lines().count(), 4, "{recent}");
    // Docker's default line: time with nine digits in UTC, type, action, ID, sorted attributes.
    let line = h.ok(&[
        "events",
        "--since",
        &t1,
        "--until",
        &now(),
        "--filter",
        "event=create",
    ]);
    let line = line.trim();
    let (time, rest) = line.split_once(' ').unwrap();
    assert_eq!(rest, "volume create later (driver=local)");
    assert!(
        time.len() == 30 && time.ends_with('Z') && time.as_bytes()[19] == b'.',
        "{time}"
    );
}

#[test]
fn a_follower_sees_new_events_and_ends_at_until_or_a_closed_stdout() {
    require_root!();
    let h = Hull::new();
    let since = now();
    let mut follow = h.command(&[
        "events",
        "--since",
        &since,
        "--filter",
        "type=volume",
        "--format",
        "{{.Action}} {{.Actor.ID}}",
    ]);
    let mut f = Follower(follow.stdout(Stdio::piped()).spawn().unwrap());
    let mut lines = BufReader::new(f.0.stdout.take().unwrap()).lines();
    h.ok(&["volume", "create", "followed"]);
    assert_eq!(lines.next().unwrap().unwrap(), "create followed");
    h.ok(&["volume", "rm", "followed"]);
    assert_eq!(lines.next().unwrap().unwrap(), "destroy followed");
    assert!(
        f.0.try_wait().unwrap().is_none(),
        "still following without --until"
    );
    // Its stdout closed: the next event ends it, quietly.
    drop(lines);
    h.ok(&["volume", "create", "after-close"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = f.0.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "the follower outlived its closed stdout"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status}");

    // With --until in the future it follows until then, and exits 0.
    let until = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 2;
    let started = Instant::now();
    let out = h.ok(&[
        "events",
        "--until",
        &until.to_string(),
        "--filter",
        "type=volume",
    ]);
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    // As Docker's: with --until alone the journal is replayed from its start.
    assert_eq!(out.lines().count(), 3, "{out}");
    assert!(out
        .lines()
        .next()
        .unwrap()
        .ends_with("volume create followed (driver=local)"));
}

#[test]
fn bad_input_names_the_field() {
    require_root!();
    let h = Hull::new();
    let err = h.fails(&["events", "--filter", "colour=red", "--until", "0"]);
    assert!(err.contains("invalid filter 'colour'"), "{err}");
    let err = h.fails(&["events", "--filter", "type", "--until", "0"]);
    assert!(err.contains("expected key=value"), "{err}");
    let err = h.fails(&["events", "--since", "yesterday"]);
    assert!(err.contains("since") && err.contains("yesterday"), "{err}");
    let err = h.fails(&["events", "--since", "20", "--until", "10"]);
    assert!(err.contains("cannot be after"), "{err}");
}

#[test]
fn health_changes_are_journaled_once_each() {
    require_root!();
    let h = Hull::new();
    let t0 = now();
    let flags = [
        "--name",
        "evhealth",
        "--network",
        "none",
        "--health-cmd",
        "test -e /tmp/ready",
        "--health-interval",
        "200ms",
        "--health-retries",
        "2",
    ];
    let _c = h.detach(&flags, &["sleep", "60"]);
    let statuses = |h: &Hull| {
        let evs = events(h, &t0, &["container=evhealth", "event=health_status"]);
        actions(&evs)
    };
    // Two failed checks make it unhealthy; a passing one healthy; each change once.
    hull_tests::wait_until("unhealthy", || statuses(&h).len() == 1);
    h.ok(&["exec", "evhealth", "touch", "/tmp/ready"]);
    hull_tests::wait_until("healthy", || statuses(&h).len() == 2);
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(
        statuses(&h),
        ["health_status: unhealthy", "health_status: healthy"]
    );
    let by_prefix = events(&h, &t0, &["event=health_status"]);
    assert_eq!(by_prefix.len(), 2, "event=health_status matches by prefix");
}
