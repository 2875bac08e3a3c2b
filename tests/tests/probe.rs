//! The probe builds and reports sensible facts about the test process itself (no root needed).

use std::collections::HashMap;
use std::process::Command;

fn run_probe(args: &[&str]) -> (i32, String) {
    let out = Command::new(hull_tests::probe_path())
        .args(args)
        .output()
        .expect("run probe");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).expect("probe prints utf-8"),
    )
}

fn facts(stdout: &str) -> HashMap<&str, &str> {
    stdout.lines().filter_map(|l| l.split_once('=')).collect()
}

#[test]
fn probe_all_reports_this_process() {
    let (code, out) = run_probe(&["all"]);
    assert_eq!(code, 0, "{out}");
    for line in out.lines() {
        assert!(line.contains('='), "not key=value: {line:?}");
    }
    let f = facts(&out);
    assert!(f["pid"].parse::<u32>().unwrap() > 1);
    assert_eq!(f["uid"], rustix::process::getuid().as_raw().to_string());
    assert!(f["ns.mnt"].parse::<u64>().unwrap() > 0);
    assert_eq!(f["CapBnd"].len(), 16, "{}", f["CapBnd"]);
    assert!(["0", "1"].contains(&f["NoNewPrivs"]));
    assert!(f["umask"].starts_with('0'));
    assert!(f.contains_key("mount") && f.contains_key("keyctl") && f.contains_key("procsys"));
    assert!(out.lines().any(|l| l.starts_with("mountinfo=")), "{out}");
    let hard: u64 = f["nofile_hard"].parse().unwrap();
    assert!(f["nofile_soft"].parse::<u64>().unwrap() <= hard);
}

#[test]
fn probe_subcommands_exit_fork_and_alloc() {
    let (code, out) = run_probe(&["pid", "exit", "7"]);
    assert_eq!(code, 7);
    assert!(out.starts_with("pid="));
    let (code, out) = run_probe(&["fork-bomb", "5", "alloc", "4"]);
    assert_eq!(code, 0, "{out}");
    let f = facts(&out);
    assert_eq!(f["forks"], "5");
    assert_eq!(f["fork_error"], "none");
    assert_eq!(f["alloc_mb"], "4");
    let (code, _) = run_probe(&["no-such-fact"]);
    assert_eq!(code, 2);
}
