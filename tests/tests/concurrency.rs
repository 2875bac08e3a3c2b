//! Many hull commands at once, hull commands killed half-way, and a simulated host reboot: the
//! store stays exact (`ps -a` lists what exists, names stay unique) and nothing leaks (mounts
//! under the store, cgroups, processes).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use hull_tests::host::{monitor_pids, mounts_below};
use hull_tests::{
    busybox, cgroup_dirs, container_pids, require_root, unmount_below, wait_until, Hull,
};

/// Removes every container of the store when the test ends, passing or failing; kills what hull
/// could not (only processes in the cgroups of this store's containers) and removes their
/// cgroups.
struct Cleanup<'a> {
    h: &'a Hull,
    ids: Vec<String>,
}

impl<'a> Cleanup<'a> {
    fn new(h: &'a Hull) -> Cleanup<'a> {
        Cleanup { h, ids: Vec::new() }
    }
}

/// A private store with the fixture busybox pulled.
fn hull_with_busybox() -> Hull {
    let h = Hull::new();
    h.ok(&["pull", "-q", &busybox()]);
    h
}

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        let listed = self.h.run(&["ps", "-aq", "--no-trunc"]);
        let mut ids: BTreeSet<String> = String::from_utf8_lossy(&listed.stdout)
            .split_whitespace()
            .map(String::from)
            .collect();
        ids.extend(hull_tests::entries(&self.h.root().join("containers")));
        ids.extend(self.ids.iter().cloned());
        for id in ids.iter().filter(|id| id.len() == 64) {
            let _ = self.h.run(&["rm", "-f", id]);
            for pid in container_pids(id) {
                let _ = std::process::Command::new("kill")
                    .args(["-9", &pid])
                    .status();
            }
            for dir in cgroup_dirs(id) {
                let _ = std::fs::remove_dir(dir);
            }
        }
    }
}

fn ps_all(h: &Hull) -> BTreeMap<String, String> {
    h.ok(&["ps", "-a", "--no-trunc", "--format", "{{.ID}} {{.Names}}"])
        .lines()
        .map(|l| {
            let (id, name) = l.split_once(' ').unwrap();
            (id.to_string(), name.to_string())
        })
        .collect()
}

/// Asserts that nothing of the given containers is left: no process, cgroup, mount or state.
fn assert_nothing_left(h: &Hull, ids: &[String]) {
    for id in ids {
        assert!(container_pids(id).is_empty(), "processes of {id} left");
        assert!(cgroup_dirs(id).is_empty(), "{:?}", cgroup_dirs(id));
        assert!(
            !h.root().join("runtime").join(id).exists(),
            "runtime state of {id} left"
        );
    }
    assert_eq!(
        mounts_below(h),
        Vec::<String>::new(),
        "mounts left under the store"
    );
}

#[derive(Debug)]
struct Outcome {
    name: Option<String>,
    id: Option<String>,
    removed: bool,
    stderr: String,
}

/// How many parallel shells, and how they name their containers: 2/5 without a name, 3/10 with
/// a name of their own, the rest sharing `shared` names (three each). 50 shells: 20, 15, and 15
/// sharing 5 names; fewer under `HULL_TEST_SCALE`.
struct Mix {
    shells: usize,
    unnamed: usize,
    own: usize,
    shared: usize,
}

fn mix() -> Mix {
    let shells = hull_tests::scaled(50).max(10);
    let (unnamed, own) = (shells * 2 / 5, shells * 3 / 10);
    let shared = ((shells - unnamed - own) / 3).max(1);
    Mix {
        shells,
        unnamed,
        own,
        shared,
    }
}

/// One of the parallel shells: `run -d` (named or not, see `Mix`), and every third also `rm -f`
/// of what it started right away, while the others still run.
fn shell(h: &Hull, m: &Mix, i: usize) -> Outcome {
    let image = busybox();
    let name = if i < m.unnamed {
        None
    } else if i < m.unnamed + m.own {
        Some(format!("own{i}"))
    } else {
        Some(format!("shared{}", i % m.shared))
    };
    let mut argv = vec!["run", "-d"];
    if let Some(n) = &name {
        argv.extend(["--name", n]);
    }
    argv.extend([image.as_str(), "sleep", "600"]);
    let out = h.run(&argv);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let id = out
        .status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string());
    let removed = match &id {
        Some(id) if i.is_multiple_of(3) => {
            h.ok(&["rm", "-f", id]);
            true
        }
        _ => false,
    };
    Outcome {
        name,
        id,
        removed,
        stderr,
    }
}

#[test]
fn fifty_concurrent_runs_and_removes_lose_nothing() {
    require_root!();
    let h = hull_with_busybox();
    let mut cleanup = Cleanup::new(&h);
    let hr = &h;
    let m = &mix();
    let outcomes: Vec<Outcome> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..m.shells)
            .map(|i| s.spawn(move || shell(hr, m, i)))
            .collect();
        handles.into_iter().map(|t| t.join().unwrap()).collect()
    });
    cleanup.ids = outcomes.iter().filter_map(|o| o.id.clone()).collect();

    for o in outcomes.iter().filter(|o| o.id.is_none()) {
        assert!(
            o.name.as_deref().is_some_and(|n| n.starts_with("shared")),
            "run failed: {o:?}"
        );
        assert!(o.stderr.contains("Conflict. The container name"), "{o:?}");
    }
    for n in 0..m.shared {
        let name = format!("shared{n}");
        let won: Vec<&Outcome> = outcomes
            .iter()
            .filter(|o| o.name.as_deref() == Some(&name) && o.id.is_some())
            .collect();
        // Exactly one, unless a winner was removed early enough for another to take the name.
        assert!(!won.is_empty(), "nobody got {name}");
        assert!(won.iter().filter(|o| !o.removed).count() <= 1, "{won:?}");
    }
    let expected: BTreeSet<String> = outcomes
        .iter()
        .filter(|o| !o.removed)
        .filter_map(|o| o.id.clone())
        .collect();
    let listed = ps_all(&h);
    let listed_ids: BTreeSet<String> = listed.keys().cloned().collect();
    assert_eq!(listed_ids, expected, "ps -a is not exact");
    let names: BTreeSet<&String> = listed.values().collect();
    assert_eq!(names.len(), listed.len(), "duplicate names: {listed:?}");
    for o in outcomes.iter().filter(|o| !o.removed) {
        if let (Some(id), Some(name)) = (&o.id, &o.name) {
            assert_eq!(&listed[id], name);
        }
    }
    let running = h.ok(&["ps", "-q", "--no-trunc"]);
    assert_eq!(running.lines().count(), expected.len(), "{running}");
    let removed: Vec<String> = outcomes
        .iter()
        .filter(|o| o.removed)
        .filter_map(|o| o.id.clone())
        .collect();
    assert_nothing_left_but_store(&h, &removed);

    // And all at once, from parallel shells again.
    std::thread::scope(|s| {
        for id in &expected {
            let h = &h;
            s.spawn(move || h.ok(&["rm", "-f", id]));
        }
    });
    assert!(ps_all(&h).is_empty());
    assert_nothing_left(&h, &cleanup.ids);
    assert_eq!(hull_tests::entries(&h.root().join("containers")), ["lock"]);
}

/// The removed ones are gone completely (the others still run, so their mounts stay).
fn assert_nothing_left_but_store(h: &Hull, removed: &[String]) {
    let mounts = mounts_below(h).join("\n");
    for id in removed {
        assert!(container_pids(id).is_empty(), "processes of {id} left");
        assert!(cgroup_dirs(id).is_empty(), "{:?}", cgroup_dirs(id));
        assert!(!mounts.contains(id.as_str()), "mount of {id} left");
        assert!(!h.root().join("containers").join(id).exists());
    }
}

#[test]
fn a_cli_killed_mid_run_leaves_a_container_that_ps_shows_and_rm_f_removes() {
    require_root!();
    let h = hull_with_busybox();
    let mut cleanup = Cleanup::new(&h);
    let image = busybox();
    for detach in [true, false] {
        for delay_ms in hull_tests::scaled_pick(&[0u64, 20, 60, 150, 400], 2) {
            let mut argv = vec!["run"];
            if detach {
                argv.push("-d");
            }
            argv.extend([image.as_str(), "sleep", "600"]);
            let mut cli = h.spawn(&argv);
            std::thread::sleep(Duration::from_millis(delay_ms));
            cli.kill().unwrap();
            cli.wait().unwrap();
            // Every container that has a record is listed; rm -f removes it fully. (A create
            // killed half-way leaves only a hidden staging dir, swept by the next create.)
            let dirs: Vec<String> = hull_tests::entries(&h.root().join("containers"))
                .into_iter()
                .filter(|d| !d.starts_with('.'))
                .filter(|d| {
                    h.root()
                        .join("containers")
                        .join(d)
                        .join("container.json")
                        .exists()
                })
                .collect();
            cleanup.ids.extend(dirs.iter().cloned());
            let listed = ps_all(&h);
            for d in &dirs {
                assert!(
                    listed.contains_key(d),
                    "{d} not in ps -a (detach {detach}, {delay_ms} ms)"
                );
            }
            for id in listed.keys() {
                h.ok(&["rm", "-f", id]);
            }
            assert!(ps_all(&h).is_empty());
            assert_nothing_left(&h, &cleanup.ids);
        }
    }
}

fn kill9(pids: &[String]) {
    for pid in pids {
        let _ = std::process::Command::new("kill")
            .args(["-9", pid])
            .status();
    }
}

#[test]
fn after_a_simulated_reboot_ps_is_truthful_and_start_works() {
    require_root!();
    let h = hull_with_busybox();
    let mut cleanup = Cleanup::new(&h);
    let image = busybox();
    // Sleeps on its first run only: after the reboot `start` finds the marker in its upper dir.
    let once = "test -e /marker || { touch /marker; sleep 600; }";
    let a = h.ok(&["run", "-d", "--name", "ra", &image, "sh", "-c", once]);
    let b = h.ok(&["run", "-d", "--name", "rb", &image, "sleep", "600"]);
    let ids = vec![a.trim().to_string(), b.trim().to_string()];
    cleanup.ids = ids.clone();
    let mut fg = h.spawn(&["run", "--name", "fg", &image, "sleep", "600"]);
    wait_until("three containers to run", || {
        h.ok(&["ps", "-q"]).lines().count() == 3
    });
    let fg_id = h
        .ok(&["ps", "-q", "--no-trunc", "-f", "name=fg"])
        .trim()
        .to_string();
    cleanup.ids.push(fg_id.clone());

    // The "reboot": every monitor and runner, then every container process, dies at once;
    // mounts and cgroups vanish; the files on disk (records, runtime state, locks) stay.
    kill9(&monitor_pids(&h));
    fg.kill().unwrap();
    fg.wait().unwrap();
    for id in cleanup.ids.clone() {
        kill9(&container_pids(&id));
    }
    for id in &cleanup.ids {
        wait_until("the container processes to die", || {
            container_pids(id).is_empty()
        });
        // The kernel lets go of a cgroup a moment after its last process died (EBUSY before).
        wait_until("the cgroups to be removable", || {
            cgroup_dirs(id)
                .iter()
                .all(|d| std::fs::remove_dir(d).is_ok())
        });
    }
    unmount_below(h.dir.path());
    assert!(mounts_below(&h).is_empty());
    for id in &cleanup.ids {
        assert!(h
            .root()
            .join("runtime")
            .join(id)
            .join("state.json")
            .exists());
    }

    assert_eq!(h.ok(&["ps", "-q"]), "", "nothing runs after a reboot");
    let status = h.ok(&["ps", "-a", "--format", "{{.Names}} {{.Status}}"]);
    for name in ["ra", "rb", "fg"] {
        assert!(
            status.lines().any(|l| l == format!("{name} Exited (255)")
                || l.starts_with(&format!("{name} Exited (255) "))),
            "{status}"
        );
    }
    // start works again: stale runtime state, running.lock and overlay workdir are reconciled.
    assert_eq!(h.ok(&["start", "ra"]).trim(), "ra");
    assert_eq!(h.ok(&["wait", "ra"]).trim(), "0");
    assert!(h
        .ok(&["ps", "-a", "-f", "name=ra", "--format", "{{.Status}}"])
        .starts_with("Exited (0)"));
    h.ok(&["restart", "rb"]);
    h.ok(&["restart", "fg"]);
    assert_eq!(h.ok(&["ps", "-q"]).lines().count(), 2);
    h.ok(&["stop", "-t", "1", "rb", "fg"]);
    for id in &cleanup.ids {
        h.ok(&["rm", "-f", id]);
    }
    assert_nothing_left(&h, &cleanup.ids);
}
