//! End-to-end tests of `hull run`'s terminal, stdin, signals, exit codes and failure paths, run
//! the way a user runs it: under a real pty made here, with pipes, and signalled from outside.
//!
//! Docker behaviours pinned here (and matched by hull):
//! - `-t` gives the program a pty (`/dev/pts/0`) with the host window's size, and resizes it on
//!   SIGWINCH; the host terminal's settings are restored after the run.
//! - Without `-i` the program's stdin is /dev/null.
//! - SIGINT and SIGTERM sent to a foreground `hull run` go to the container's pid 1. A shell as
//!   pid 1 without a trap *ignores* SIGTERM (the kernel drops default-action signals for a pid
//!   namespace's init), so `hull run` keeps running, exactly like `docker run`; it ends when pid
//!   1 dies (here: SIGKILL from the host, 137). With `--init`, the program is pid 2 and dies by
//!   the forwarded signal: 143.
//! - A program that does not exist gives 127 and the container stays in `Created` (Docker's
//!   status for a container whose start failed), or is removed with `--rm`.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use hull_tests::pty::Pty;
use hull_tests::{entries, fixture, probe_path, require_root, Hull};
use rustix::process::{Pid, Signal};
use rustix::termios::tcgetattr;

fn busybox() -> String {
    format!("{}/busybox:latest", fixture("HULL_TEST_REGISTRY"))
}

/// A store with busybox already pulled, so that stderr holds only what the run itself says.
fn hull_with_busybox() -> Hull {
    let h = Hull::new();
    h.ok(&["pull", "-q", &busybox()]);
    h
}

/// `hull run ARGS` with `IMG` replaced by the busybox reference.
fn run_args(args: &[&str]) -> Vec<String> {
    let mut v = vec!["run".to_string()];
    v.extend(args.iter().map(|a| match *a {
        "IMG" => busybox(),
        a => a.to_string(),
    }));
    v
}

fn cmd(h: &Hull, args: &[&str]) -> Command {
    let argv = run_args(args);
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    h.command(&argv)
}

fn run(h: &Hull, args: &[&str]) -> Output {
    cmd(h, args).output().expect("spawn hull")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

/// Waits for `child` up to `secs`; kills it (by its pid) and fails the test after that.
fn wait_timeout(child: &mut Child, secs: u64) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("hull did not exit within {secs} s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn signal(child: &Child, sig: Signal) {
    let pid = Pid::from_raw(child.id() as i32).unwrap();
    rustix::process::kill_process(pid, sig).unwrap();
}

/// Tests here compare the host's hull cgroups before and after, so they run one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Empty hull cgroups (container IDs): a leak. A cgroup with processes belongs to a running
/// container, maybe of another test run on this host, so it does not count.
fn hull_cgroups() -> Vec<String> {
    let mut all = Vec::new();
    for base in [
        "/sys/fs/cgroup/memory/hull",
        "/sys/fs/cgroup/pids/hull",
        "/sys/fs/cgroup/hull",
    ] {
        let base = Path::new(base);
        all.extend(entries(base).into_iter().filter(|e| {
            let procs = std::fs::read_to_string(base.join(e).join("cgroup.procs"));
            e.len() == 64 && procs.is_ok_and(|p| p.trim().is_empty())
        }));
    }
    all
}

/// No container record, no mount below the store, and no cgroup beyond those in `before`.
fn assert_nothing_left(h: &Hull, before: &[String], what: &str) {
    let containers = entries(&h.root().join("containers"));
    assert!(
        containers.iter().all(|e| e == "lock"),
        "{what}: containers left: {containers:?}"
    );
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let root = h.root().display().to_string();
    assert!(!info.contains(&root), "{what}: mounts left below {root}");
    // A leaked cgroup stays; another test's container being torn down (an empty cgroup for a
    // moment) goes within a few seconds.
    let new = || -> Vec<String> {
        hull_cgroups()
            .into_iter()
            .filter(|c| !before.contains(c))
            .collect()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !new().is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let left = new();
    assert!(left.is_empty(), "{what}: cgroups left: {left:?}");
}

#[test]
fn tty_sees_a_pty_with_the_host_size_and_restores_the_terminal() {
    require_root!();
    let _serial = serial();
    let h = hull_with_busybox();
    let mut pty = Pty::open(30, 100);
    let before = tcgetattr(pty.slave()).unwrap();
    let mut child = pty.spawn(&cmd(
        &h,
        &["--rm", "-t", "IMG", "sh", "-c", "tty; stty size"],
    ));
    let status = wait_timeout(&mut child, 20);
    pty.drain();
    let seen = &pty.seen;
    assert_eq!(status.code(), Some(0), "{seen}");
    let lines: Vec<&str> = seen.lines().map(str::trim_end).collect();
    assert!(
        lines.contains(&"/dev/pts/0") || lines.contains(&"/dev/console"),
        "no tty: {seen:?}"
    );
    // regression: the size was copied only after the program had started, which saw 0x0
    assert!(
        lines.contains(&"30 100"),
        "window size not passed: {seen:?}"
    );
    let after = tcgetattr(pty.slave()).unwrap();
    assert_eq!(
        format!("{before:?}"),
        format!("{after:?}"),
        "terminal mode not restored"
    );
}

#[test]
fn tty_resize_reaches_the_container_as_sigwinch() {
    require_root!();
    let _serial = serial();
    let h = hull_with_busybox();
    let mut pty = Pty::open(24, 80);
    let script = "trap 'stty size; exit 3' WINCH; stty size; echo ready; \
                  i=0; while [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done";
    let mut child = pty.spawn(&cmd(&h, &["--rm", "-t", "IMG", "sh", "-c", script]));
    let ready = pty.read_until("ready", 15);
    assert!(ready, "container did not start: {:?}", pty.seen);
    assert!(pty.seen.contains("24 80"), "{:?}", pty.seen);
    // The kernel sends SIGWINCH to hull (the pty's foreground process group) on this resize.
    pty.resize(40, 120);
    let resized = pty.read_until("40 120", 10);
    let status = wait_timeout(&mut child, 15);
    assert!(
        resized,
        "resize did not reach the container: {:?}",
        pty.seen
    );
    assert_eq!(status.code(), Some(3), "{:?}", pty.seen);
}

#[test]
fn ctrl_c_on_the_terminal_interrupts_the_container() {
    require_root!();
    let _serial = serial();
    let h = hull_with_busybox();
    let mut pty = Pty::open(24, 80);
    // --init: the program is not pid 1, so SIGINT's default action (death) applies to it.
    let script = "echo ready; exec sleep 30";
    let mut child = pty.spawn(&cmd(
        &h,
        &["--rm", "-it", "--init", "IMG", "sh", "-c", script],
    ));
    let ready = pty.read_until("ready", 15);
    assert!(ready, "container did not start: {:?}", pty.seen);
    std::thread::sleep(Duration::from_millis(200));
    pty.write(b"\x03");
    let status = wait_timeout(&mut child, 10);
    pty.drain();
    assert_eq!(status.code(), Some(130), "{:?}", pty.seen);
}

// ---------------------------------------------------------------------------------------------
// stdin

#[test]
fn interactive_passes_stdin_and_without_it_stdin_is_dev_null() {
    require_root!();
    let _serial = serial();
    let h = hull_with_busybox();
    let pipe_in = |args: &[&str], input: &[u8]| {
        let mut child = cmd(&h, args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let input = input.to_vec();
        // A writer thread: a large input must not deadlock against a full stdout pipe.
        let writer = std::thread::spawn(move || {
            let _ = stdin.write_all(&input);
        });
        let out = child.wait_with_output().unwrap();
        writer.join().unwrap();
        out
    };
    let out = pipe_in(&["--rm", "-i", "IMG", "cat"], b"hi\n");
    assert_eq!((code(&out), text(&out.stdout)), (0, "hi\n".into()));

    let out = pipe_in(
        &["--rm", "IMG", "sh", "-c", "readlink /proc/self/fd/0; cat"],
        b"hi\n",
    );
    assert_eq!(
        (code(&out), text(&out.stdout)),
        (0, "/dev/null\n".into()),
        "{}",
        text(&out.stderr)
    );

    let big: Vec<u8> = (0..1024 * 1024u32).map(|i| (i * 7 % 251) as u8).collect();
    let out = pipe_in(&["--rm", "-i", "IMG", "cat"], &big);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    assert_eq!(out.stdout.len(), big.len(), "1 MiB through -i: length");
    assert!(out.stdout == big, "1 MiB through -i: content differs");
}

// ---------------------------------------------------------------------------------------------
// signals and exit codes

/// Starts `hull run ARGS` with stdout piped and waits for the container to print "ready".
fn start_until_ready(h: &Hull, args: &[&str]) -> (Child, BufReader<std::process::ChildStdout>) {
    let mut child = cmd(h, args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    if line.trim() != "ready" {
        let _ = child.kill();
        let _ = child.wait();
        panic!("container did not start: {line:?}");
    }
    (child, out)
}

fn rest(mut out: BufReader<std::process::ChildStdout>) -> String {
    let mut s = String::new();
    out.read_to_string(&mut s).unwrap();
    s
}

const LOOP: &str = "echo ready; while true; do sleep 0.1; done";

#[test]
fn sigterm_and_sigint_to_hull_reach_the_container() {
    require_root!();
    let _serial = serial();
    let h = hull_with_busybox();
    for (sig, name, want) in [(Signal::TERM, "TERM", 7), (Signal::INT, "INT", 9)] {
        let script = format!("trap 'echo got {name}; exit {want}' {name}; {LOOP}");
        let (mut child, out) = start_until_ready(&h, &["--rm", "IMG", "sh", "-c", &script]);
        signal(&child, sig);
        let status = wait_timeout(&mut child, 10);
        // The code first: a hull killed by the signal itself leaves the container running with
        // our stdout pipe, and reading it to the end would never finish.
        assert_eq!(status.code(), Some(want), "{name}");
        assert_eq!(rest(out), format!("got {name}\n"));
    }

    // --init: the shell is pid 2 and dies of the forwarded SIGTERM.
    let (mut child, _out) = start_until_ready(&h, &["--rm", "--init", "IMG", "sh", "-c", LOOP]);
    signal(&child, Signal::TERM);
    assert_eq!(wait_timeout(&mut child, 10).code(), Some(143));
}

/// The children of `pid` (from /proc), to find the container's init below `hull run`.
fn children(pid: u32) -> Vec<i32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

#[test]
fn sigterm_to_a_shell_as_pid_1_without_a_trap_is_ignored_like_docker() {
    require_root!();
    let _serial = serial();
    let h = hull_with_busybox();
    let before = hull_cgroups();
    let (mut child, _out) = start_until_ready(&h, &["--rm", "IMG", "sh", "-c", LOOP]);
    signal(&child, Signal::TERM);
    std::thread::sleep(Duration::from_millis(800));
    let still_running = child.try_wait().unwrap().is_none();
    // The container's pid 1 is hull's child (the runtime forks it); kill it from the host.
    let inits = children(child.id());
    assert_eq!(inits.len(), 1, "container init below hull: {inits:?}");
    let init = Pid::from_raw(inits[0]).unwrap();
    rustix::process::kill_process(init, Signal::KILL).unwrap();
    let status = wait_timeout(&mut child, 10);
    assert!(still_running, "pid 1 without a handler died of SIGTERM");
    assert_eq!(status.code(), Some(137));
    assert_nothing_left(&h, &before, "after SIGKILL of pid 1");
}

/// Regression: an ignored signal survives execve, and the container's program inherited hull's
/// ignored SIGPIPE (Rust's std) and the SIGINT/SIGQUIT a shell ignores for background jobs.
#[test]
fn container_program_starts_with_no_signal_ignored() {
    require_root!();
    let _serial = serial();
    let h = hull_with_busybox();
    let inner = cmd(&h, &["--rm", "IMG", "grep", "^SigIgn", "/proc/self/status"]);
    let mut c = Command::new("sh");
    c.arg("-c")
        .arg("trap '' INT QUIT; exec \"$0\" \"$@\"")
        .arg(inner.get_program())
        .args(inner.get_args())
        .stdin(Stdio::null());
    for (k, v) in inner.get_envs() {
        if let Some(v) = v {
            c.env(k, v);
        }
    }
    let out = c.output().unwrap();
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "SigIgn:\t0000000000000000\n");
}

#[test]
fn probe_exit_code_is_hulls_exit_code() {
    require_root!();
    let _serial = serial();
    let h = hull_with_busybox();
    let v = format!("{}:/probe:ro", probe_path().display());
    let out = run(&h, &["--rm", "-v", &v, "IMG", "/probe", "exit", "42"]);
    assert_eq!(code(&out), 42, "{}", text(&out.stderr));
}

#[test]
fn image_with_120_layers_runs() {
    require_root!();
    let _serial = serial();
    let h = Hull::new();
    let before = hull_cgroups();
    let img = format!("{}/many:latest", fixture("HULL_TEST_REGISTRY"));
    let out = h.run(&[
        "run",
        "--rm",
        &img,
        "sh",
        "-c",
        "ls /layers | wc -l; cat /layers/120",
    ]);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    let lines: Vec<String> = text(&out.stdout)
        .lines()
        .map(|l| l.trim().to_string())
        .collect();
    assert_eq!(lines, ["120", "120"]);
    assert_nothing_left(&h, &before, "many layers");
}

// ---------------------------------------------------------------------------------------------
// bad input

/// The lines of stderr that are not Docker's pull notice.
fn error_lines(out: &Output) -> Vec<String> {
    text(&out.stderr)
        .lines()
        .filter(|l| !l.starts_with("Unable to find image"))
        .map(str::to_string)
        .collect()
}

#[test]
fn bad_input_is_one_line_exit_125_and_leaves_nothing() {
    require_root!();
    let _serial = serial();
    let h = hull_with_busybox();
    let before = hull_cgroups();
    let nosuch = format!("{}/nosuch", fixture("HULL_TEST_REGISTRY"));
    let cases: Vec<(Vec<&str>, i32, &str)> = vec![
        (vec!["--rm", &nosuch], 125, "nosuch"),
        (
            vec!["--rm", "-v", "/host:relative", "IMG", "true"],
            125,
            "/host:relative",
        ),
        (
            vec!["--rm", "-v", "/a:/b:bogus", "IMG", "true"],
            125,
            "bogus",
        ),
        (vec!["--rm", "--memory", "1b", "IMG", "true"], 125, "memory"),
        (vec!["--rm", "--memory", "10z", "IMG", "true"], 125, "10z"),
        (vec!["--rm", "--entrypoint", "/nope", "IMG"], 127, "/nope"),
        (
            vec!["--rm", "-u", "nosuchuser", "IMG", "true"],
            125,
            "unable to find user nosuchuser: no matching entries in passwd file",
        ),
        (
            vec!["--rm", "--no-such-flag", "IMG", "true"],
            125,
            "--no-such-flag",
        ),
    ];
    for (args, want, mentions) in cases {
        let out = run(&h, &args);
        let lines = error_lines(&out);
        assert_eq!(code(&out), want, "{args:?}: {lines:?}");
        assert_eq!(lines.len(), 1, "{args:?}: not one line: {lines:?}");
        assert!(lines[0].contains(mentions), "{args:?}: {lines:?}");
        assert!(out.stdout.is_empty(), "{args:?}: {}", text(&out.stdout));
        assert_nothing_left(&h, &before, &format!("{args:?}"));
    }
}

#[test]
fn missing_entrypoint_without_rm_keeps_a_created_record() {
    require_root!();
    let _serial = serial();
    let h = hull_with_busybox();
    let out = run(&h, &["--name", "nope", "--entrypoint", "/nope", "IMG"]);
    assert_eq!(code(&out), 127, "{}", text(&out.stderr));
    let ps = h.ok(&["ps", "-a"]);
    let row = ps.lines().find(|l| l.ends_with(" nope")).expect("row");
    // Docker leaves a container whose start failed in Created (with ExitCode 127).
    assert!(
        row.contains("Created") || row.contains("Exited (127)"),
        "{row}"
    );
    assert_eq!(h.ok(&["rm", "nope"]).trim(), "nope");
    assert_nothing_left(&h, &hull_cgroups(), "rm nope");
}

#[test]
fn name_clash_is_refused_and_keeps_the_first() {
    require_root!();
    let _serial = serial();
    let h = hull_with_busybox();
    let before = hull_cgroups();
    h.ok(&run_args(&["--name", "twin", "IMG", "true"])
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>());
    let out = run(&h, &["--rm", "--name", "twin", "IMG", "echo", "second"]);
    let lines = error_lines(&out);
    assert_eq!(code(&out), 125);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].contains("is already in use"), "{lines:?}");
    assert!(out.stdout.is_empty());
    let records: Vec<_> = entries(&h.root().join("containers"))
        .into_iter()
        .filter(|e| e != "lock")
        .collect();
    assert_eq!(records.len(), 1, "{records:?}");
    h.ok(&["rm", "twin"]);
    assert_nothing_left(&h, &before, "rm twin");
}

// ---------------------------------------------------------------------------------------------
// a container kept after its run

#[test]
fn run_without_rm_keeps_an_exited_container_to_start_and_remove() {
    require_root!();
    let _serial = serial();
    let h = hull_with_busybox();
    let before = hull_cgroups();
    let script = "cat /kept 2>/dev/null || echo first; echo again > /kept; exit 5";
    let out = run(&h, &["--name", "keep", "IMG", "sh", "-c", script]);
    assert_eq!(code(&out), 5, "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "first\n");

    let ps = h.ok(&["ps", "-a"]);
    let row = ps.lines().find(|l| l.ends_with(" keep")).expect("row");
    assert!(row.contains("Exited (5) ") && row.contains(" ago"), "{row}");
    let id: Vec<_> = entries(&h.root().join("containers"))
        .into_iter()
        .filter(|e| e != "lock")
        .collect();
    assert_eq!(id.len(), 1);
    let dir = h.root().join("containers").join(&id[0]);
    assert!(
        dir.join("upper").is_dir(),
        "no upper dir in {}",
        dir.display()
    );

    // The same container again, in the foreground: its upper dir kept /kept.
    let out = h.run(&["start", "-a", "keep"]);
    assert_eq!(code(&out), 5, "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "again\n");

    assert_eq!(h.ok(&["rm", "keep"]).trim(), "keep");
    assert!(!dir.exists(), "{} left", dir.display());
    assert_nothing_left(&h, &before, "rm keep");
}
