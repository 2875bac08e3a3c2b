//! The journal under concurrent writers (threads and processes), rotation and torn lines.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use super::journal::Journal;
use super::{Event, Kind};

fn event(n: usize) -> Event {
    let attrs = BTreeMap::from([("n".to_string(), n.to_string())]);
    Event::new(Kind::Volume, "create", &format!("v{n}"), attrs)
}

fn n_of(e: &Event) -> usize {
    e.actor.attributes["n"].parse().unwrap()
}

/// Everything the reader has now, as the events' numbers.
fn drain(r: &mut super::Reader) -> Vec<usize> {
    let mut out = Vec::new();
    while let Some(e) = r.next_event().unwrap() {
        out.push(n_of(&e));
    }
    out
}

#[test]
fn events_read_back_in_order_and_a_tail_reader_sees_only_new_ones() {
    let dir = tempfile::tempdir().unwrap();
    let j = Journal::open(dir.path());
    assert_eq!(drain(&mut j.reader().unwrap()), Vec::<usize>::new());
    for n in 0..3 {
        j.append(&event(n)).unwrap();
    }
    let mut tail = j.tail_reader().unwrap();
    assert_eq!(drain(&mut j.reader().unwrap()), [0, 1, 2]);
    assert_eq!(drain(&mut tail), Vec::<usize>::new());
    j.append(&event(3)).unwrap();
    assert_eq!(drain(&mut tail), [3]);
}

#[test]
fn a_torn_last_line_is_skipped_and_ended_by_the_next_append() {
    let dir = tempfile::tempdir().unwrap();
    let j = Journal::open(dir.path());
    j.append(&event(0)).unwrap();
    let mut follower = j.tail_reader().unwrap();
    // What a writer killed in the middle of its write(2) leaves.
    let line = serde_json::to_string(&event(1)).unwrap();
    let path = dir.path().join("events/events.log");
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    f.write_all(&line.as_bytes()[..line.len() / 2]).unwrap();
    assert_eq!(drain(&mut j.reader().unwrap()), [0]);
    assert_eq!(drain(&mut follower), Vec::<usize>::new());
    j.append(&event(2)).unwrap();
    assert_eq!(drain(&mut j.reader().unwrap()), [0, 2]);
    assert_eq!(drain(&mut follower), [2]);
}

#[test]
fn concurrent_threads_lose_and_mix_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let j = Journal::open(dir.path());
    std::thread::scope(|s| {
        for t in 0..8 {
            let j = j.clone();
            s.spawn(move || {
                for i in 0..200 {
                    j.append(&event(t * 1000 + i)).unwrap();
                }
            });
        }
    });
    let mut got = drain(&mut j.reader().unwrap());
    // Each writer's events stay in its order.
    for t in 0..8 {
        let mine: Vec<usize> = got.iter().copied().filter(|n| n / 1000 == t).collect();
        assert_eq!(mine, (0..200).map(|i| t * 1000 + i).collect::<Vec<_>>());
    }
    got.sort_unstable();
    got.dedup();
    assert_eq!(got.len(), 1600);
}

/// Run by `concurrent_processes_lose_and_mix_nothing` in child processes (this test binary,
/// with `HULL_JOURNAL_CHILD` set): appends 300 events numbered from `HULL_JOURNAL_BASE`.
#[test]
fn journal_child_appender() {
    let (Ok(dir), Ok(base)) = (
        std::env::var("HULL_JOURNAL_CHILD"),
        std::env::var("HULL_JOURNAL_BASE"),
    ) else {
        return;
    };
    let base: usize = base.parse().unwrap();
    let j = Journal::open(Path::new(&dir)).with_max_bytes(1 << 30);
    for i in 0..300 {
        j.append(&event(base + i)).unwrap();
    }
}

#[test]
fn concurrent_processes_lose_and_mix_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..4)
        .map(|p| {
            std::process::Command::new(&exe)
                .args([
                    "--exact",
                    "events::journal_tests::journal_child_appender",
                    "--quiet",
                ])
                .env("HULL_JOURNAL_CHILD", dir.path())
                .env("HULL_JOURNAL_BASE", (p * 1000).to_string())
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let mut got = drain(&mut Journal::open(dir.path()).reader().unwrap());
    assert_eq!(got.len(), 1200, "every line of 4 processes parses");
    got.sort_unstable();
    got.dedup();
    assert_eq!(got.len(), 1200);
}

#[test]
fn a_follower_loses_nothing_across_rotations() {
    let dir = tempfile::tempdir().unwrap();
    let j = Journal::open(dir.path()).with_max_bytes(1500);
    let mut follower = j.tail_reader().unwrap();
    let mut seen = Vec::new();
    for n in 0..200 {
        j.append(&event(n)).unwrap();
        if n % 3 == 0 {
            seen.extend(drain(&mut follower));
        }
    }
    seen.extend(drain(&mut follower));
    assert_eq!(seen, (0..200).collect::<Vec<_>>());
    assert!(
        dir.path().join("events/events.log.1").exists(),
        "it rotated"
    );
    // Only the current file and the one before it are kept, in order.
    let kept = drain(&mut j.reader().unwrap());
    assert!(kept.len() < 40 && !kept.is_empty(), "{kept:?}");
    assert_eq!(kept, (200 - kept.len()..200).collect::<Vec<_>>());
}

#[test]
fn a_slow_follower_reads_the_file_rotated_after_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let j = Journal::open(dir.path()).with_max_bytes(1500);
    let mut follower = j.tail_reader().unwrap();
    j.append(&event(0)).unwrap();
    assert_eq!(drain(&mut follower), [0]);
    let mut n = 1;
    // Two rotations before it looks again: its own file (drained from where it was), then
    // the whole file rotated after it, then the current one.
    let rotated = dir.path().join("events/events.log.1");
    let rotations = || {
        std::fs::metadata(&rotated)
            .map(|m| std::os::unix::fs::MetadataExt::ino(&m))
            .ok()
    };
    let mut inodes = std::collections::BTreeSet::new();
    while inodes.len() < 2 {
        j.append(&event(n)).unwrap();
        n += 1;
        inodes.extend(rotations());
    }
    assert_eq!(drain(&mut follower), (1..n).collect::<Vec<_>>());
}

/// Run by `writers_killed_mid_append_leave_a_readable_journal` in child processes: appends
/// until killed.
#[test]
fn journal_endless_appender() {
    let Ok(dir) = std::env::var("HULL_JOURNAL_ENDLESS") else {
        return;
    };
    let j = Journal::open(Path::new(&dir)).with_max_bytes(256 << 10);
    for n in 0.. {
        j.append(&event(n)).unwrap();
    }
}

/// The bytes of the files directly in `dir`.
fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

#[test]
fn writers_killed_mid_append_leave_a_readable_journal() {
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    for round in 0..5 {
        let mut children: Vec<_> = (0..3)
            .map(|_| {
                std::process::Command::new(&exe)
                    .args(["--exact", "events::journal_tests::journal_endless_appender"])
                    .env("HULL_JOURNAL_ENDLESS", dir.path())
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .spawn()
                    .unwrap()
            })
            .collect();
        // The kill lands mid-append only once they append: a loaded machine (a guest under
        // TCG) may take longer than the jitter just to start them.
        let start = dir_bytes(&dir.path().join("events"));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while dir_bytes(&dir.path().join("events")) == start && std::time::Instant::now() < deadline
        {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        std::thread::sleep(std::time::Duration::from_millis(30 + 20 * round));
        for c in &mut children {
            c.kill().unwrap(); // SIGKILL, wherever it is
            c.wait().unwrap();
        }
    }
    let j = Journal::open(dir.path()).with_max_bytes(256 << 10);
    let mut follower = j.tail_reader().unwrap();
    let before = drain(&mut j.reader().unwrap());
    assert!(!before.is_empty(), "the children appended");
    j.append(&event(1_000_000)).unwrap();
    assert_eq!(
        drain(&mut follower),
        [1_000_000],
        "the next append reads back whole"
    );
    let after = drain(&mut j.reader().unwrap());
    assert_eq!(after.last(), Some(&1_000_000));
}
