//! Logs at volume, through `hull run -d` and `hull logs`: large output comes back byte for
//! byte per stream, long lines are stored as Docker's 16 KiB partial entries, and a monitor
//! killed mid-stream leaves a log that reads back without gaps.

use hull_tests::{container_pids, require_root, wait_until, Hull};

/// The pid of the container's monitor (its command line names the ID).
fn monitor_pid(id: &str) -> Option<String> {
    hull_tests::pids_where(|pid| {
        std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| {
            let c = String::from_utf8_lossy(&c);
            c.contains("__monitor") && c.contains(id)
        })
    })
    .into_iter()
    .next()
}

fn seq(from: u32, to: u32) -> String {
    (from..=to).map(|i| format!("{i}\n")).collect()
}

fn log_file(h: &Hull, id: &str) -> std::path::PathBuf {
    h.root()
        .join("containers")
        .join(id)
        .join(format!("{id}-json.log"))
}

#[test]
fn megabytes_of_output_come_back_byte_for_byte_per_stream() {
    require_root!();
    let h = Hull::new();
    let script = "seq 1 50000 >&2; seq 1 300000; yes x | head -n 40000 | tr -d '\\n'; echo; \
                  printf 'caf\\303\\251 \"q\" \\\\ tab\\t end'";
    let c = h.detach(&[], &["sh", "-c", script]);
    assert_eq!(h.ok(&["wait", &c.1]).trim(), "0");
    let out = h.run(&["logs", &c.1]);
    assert!(out.status.success(), "{out:?}");
    let mut want = seq(1, 300000);
    want.push_str(&"x".repeat(40000));
    want.push_str("\ncafé \"q\" \\ tab\t end");
    assert!(
        out.stdout == want.as_bytes(),
        "stdout: {} bytes, {} written",
        out.stdout.len(),
        want.len()
    );
    assert!(out.stderr == seq(1, 50000).as_bytes(), "stderr differs");

    // The 40000-byte line: two 16 KiB partial entries without a newline, then the rest.
    let raw = std::fs::read_to_string(log_file(&h, &c.1)).unwrap();
    let long: Vec<String> = raw
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["log"].as_str().unwrap().starts_with('x'))
        .map(|v| v["log"].as_str().unwrap().to_string())
        .collect();
    let sizes: Vec<usize> = long.iter().map(String::len).collect();
    assert_eq!(sizes, [16384, 16384, 40000 - 2 * 16384 + 1]);
    assert!(long[1].ends_with('x') && long[2].ends_with("x\n"));

    // --tail counts entries across both streams; -t prefixes each with its RFC 3339 time.
    let tail = h.ok(&["logs", "--tail", "1", "-t", &c.1]);
    let (time, text) = tail.split_once(' ').unwrap();
    assert_eq!(text, "café \"q\" \\ tab\t end");
    assert!(time.len() == 30 && time.ends_with('Z'), "{time}");
    let since = h.ok(&["logs", "--since", time, "--tail", "all", &c.1]);
    assert!(
        since.ends_with("end"),
        "{}",
        &since[since.len().saturating_sub(80)..]
    );
}

#[test]
fn a_monitor_killed_mid_stream_leaves_every_flushed_line_readable() {
    require_root!();
    let h = Hull::new();
    let script = "i=0; while :; do echo line$i; i=$((i+1)); done";
    let c = h.detach(&[], &["sh", "-c", script]);
    let path = log_file(&h, &c.1);
    wait_until("200 KB of log", || {
        std::fs::metadata(&path).is_ok_and(|m| m.len() > 200_000)
    });
    let pid = monitor_pid(&c.1).expect("a monitor runs");
    std::process::Command::new("kill")
        .args(["-9", &pid])
        .status()
        .unwrap();
    let size_at_kill = std::fs::metadata(&path).unwrap().len();
    wait_until("the monitor to die", || monitor_pid(&c.1).is_none());
    // With its reader gone the container's next write ends it (SIGPIPE); kill it to be sure.
    for pid in container_pids(&c.1) {
        let _ = std::process::Command::new("kill")
            .args(["-9", &pid])
            .status();
    }
    // Every entry complete in the file when the monitor died is read back.
    let file = std::fs::read(&path).unwrap();
    assert!(file.len() as u64 >= size_at_kill);
    let whole_at_kill = file[..size_at_kill as usize]
        .iter()
        .filter(|&&b| b == b'\n')
        .count();
    let out = h.ok(&["logs", &c.1]);
    let numbers: Vec<u64> = out
        .lines()
        .map(|l| {
            l.strip_prefix("line")
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("not a whole line: {l:?}"))
        })
        .collect();
    assert!(
        numbers.len() >= whole_at_kill,
        "{} lines read, {whole_at_kill} were in the file at the kill",
        numbers.len()
    );
    let gap = numbers.iter().enumerate().find(|&(i, &n)| n != i as u64);
    assert!(gap.is_none(), "a line missing or out of order: {gap:?}");
}

/// The last `n` bytes of the file at `path` (fewer when it is shorter or missing).
fn tail(path: &std::path::Path, n: u64) -> Vec<u8> {
    use std::io::{Read, Seek, SeekFrom};
    let mut out = Vec::new();
    if let Ok(mut f) = std::fs::File::open(path) {
        let len = f.metadata().map_or(0, |m| m.len());
        let _ = f.seek(SeekFrom::Start(len.saturating_sub(n)));
        let _ = f.read_to_end(&mut out);
    }
    out
}

/// The number of threads of process `pid` (0 once it is gone).
fn threads(pid: &str) -> usize {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Threads:"))
                .and_then(|n| n.trim().parse().ok())
        })
        .unwrap_or(0)
}

#[test]
fn a_large_burst_is_written_by_a_second_thread_while_health_checks_fork() {
    require_root!();
    let h = Hull::new();
    let flags = [
        "--network",
        "none",
        "--health-cmd",
        "true",
        "--health-interval",
        "100ms",
    ];
    let script = "seq 1 100000; yes 0123456789 | head -n 1500000; seq 100001 200000; sleep 600";
    let c = h.detach(&flags, &["sh", "-c", script]);
    let pid = monitor_pid(&c.1).expect("a monitor runs");
    let path = log_file(&h, &c.1);
    let mut most = 0;
    let last = b"{\"log\":\"200000\\n\"";
    let complete = hull_tests::poll(120, || {
        most = most.max(threads(&pid));
        tail(&path, 300).windows(last.len()).any(|w| w == last)
    });
    assert!(complete, "the log never held the last line");
    assert!(
        most >= 2,
        "the monitor never ran its writer thread ({most} threads at most)"
    );
    let mut want = seq(1, 100000);
    want.push_str(&"0123456789\n".repeat(1_500_000));
    want.push_str(&seq(100001, 200000));
    let out = h.run(&["logs", &c.1]);
    assert!(
        out.stdout == want.as_bytes(),
        "stdout: {} bytes, {} written",
        out.stdout.len(),
        want.len()
    );
    // The checks forked between the writer's runs, and passed.
    let health = h.ok(&["inspect", "-f", "{{json .State.Health}}", &c.1]);
    let health: serde_json::Value = serde_json::from_str(&health).unwrap();
    assert_eq!(health["Status"], "healthy", "{health}");
    assert_eq!(health["FailingStreak"], 0, "{health}");
    assert_eq!(threads(&pid), 1, "the writer thread ends with the burst");
}
