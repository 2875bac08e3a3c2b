//! `hull run -d -it` / `-d -i`, `hull attach` and its detach keys, `hull start [-a [-i]]`: the
//! monitor keeps the container's pty or stdin and relays it to attached clients.

use std::io::Write;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use hull_tests::pty::Pty;
use std::os::unix::fs::OpenOptionsExt;

use hull_tests::{require_root, wait_until, Hull};

/// A child killed (by its PID) if the test ends before it does.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

impl Reaped {
    /// The exit code, failing the test after 20 s.
    fn code(&mut self) -> i32 {
        let start = Instant::now();
        loop {
            if let Some(s) = self.0.try_wait().unwrap() {
                return s.code().unwrap_or(-1);
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "hull did not exit"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

#[test]
fn attach_to_d_it_detaches_with_ctrl_p_ctrl_q_and_returns_the_exit_code() {
    require_root!();
    let h = Hull::new();
    let c = h.detach(&["-it"], &["sh"]);
    let mut pty = Pty::open(24, 80);

    let mut attach = Reaped(pty.spawn(&h.command(&["attach", &c.1])));
    pty.write(b"echo hi$((6*7))\r");
    assert!(pty.read_until("hi42", 20), "{:?}", pty.seen);
    pty.write(b"\x10\x11");
    assert_eq!(attach.code(), 0, "{:?}", pty.seen);
    assert!(
        h.ok(&["ps"]).contains(&c.1[..12]),
        "still running after detach"
    );

    let mut attach = Reaped(pty.spawn(&h.command(&["attach", &c.1])));
    pty.write(b"echo again$((6*7))\r");
    assert!(pty.read_until("again42", 20), "{:?}", pty.seen);
    pty.write(b"exit 7\r");
    assert_eq!(attach.code(), 7, "{:?}", pty.seen);
    assert_eq!(h.ok(&["wait", &c.1]).trim(), "7");
}

#[test]
fn attach_without_a_tty_relays_stdin_stdout_and_stderr() {
    require_root!();
    let h = Hull::new();
    let script = "read x; echo got $x; echo oops >&2; exit 3";
    let c = h.detach(&["-i"], &["sh", "-c", script]);
    let mut child = h
        .command(&["attach", &c.1])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"hello\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "got hello\n");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "oops\n");
    // The log has it too.
    assert_eq!(h.ok(&["logs", &c.1]), "got hello\n");
}

#[test]
fn attach_to_an_exited_container_fails() {
    require_root!();
    let h = Hull::new();
    let c = h.detach(&[], &["true"]);
    h.ok(&["wait", &c.1]);
    let err = h.fails(&["attach", &c.1]);
    assert!(
        err.contains("You cannot attach to a stopped container"),
        "{err}"
    );
}

#[test]
fn start_runs_in_the_background_and_start_a_i_attaches_stdin() {
    require_root!();
    let h = Hull::new();
    let c = h.detach(
        &["-i", "--name", "again"],
        &["sh", "-c", "read x; echo got $x"],
    );
    h.ok(&["stop", "-t", "1", &c.1]);
    // Without -a: the name, and the container runs (waiting for input).
    assert_eq!(h.ok(&["start", "again"]).trim(), "again");
    assert!(h.ok(&["ps"]).contains(&c.1[..12]));
    h.ok(&["stop", "-t", "1", &c.1]);
    let mut child = h
        .command(&["start", "-a", "-i", "again"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"there\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "got there\n");
}

/// Bytes queued in the pipe that is `pid`'s fd 0, and the pipe's capacity.
fn stdin_pipe_fill(pid: &str) -> (u64, usize) {
    let pipe = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
        .open(format!("/proc/{pid}/fd/0"))
        .expect("open the container's stdin pipe");
    (
        rustix::io::ioctl_fionread(&pipe).unwrap(),
        rustix::pipe::fcntl_getpipe_size(&pipe).unwrap(),
    )
}

#[test]
fn a_container_that_never_reads_its_stdin_does_not_stall_the_monitor() {
    require_root!();
    let h = Hull::new();
    let c = h.detach(
        &["-i"],
        &["sh", "-c", "while :; do echo tick; sleep 1; done"],
    );
    let pid = h
        .ok(&["inspect", "-f", "{{.State.Pid}}", &c.1])
        .trim()
        .to_string();
    let mut pusher = h
        .command(&["attach", &c.1])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut input = pusher.stdin.take().unwrap();
    let _pusher = Reaped(pusher);
    // Blocks once the monitor stops taking input; ends with an error when attach goes away.
    std::thread::spawn(move || {
        let chunk = [b'x'; 8192];
        for _ in 0..128 {
            if input.write_all(&chunk).is_err() {
                return;
            }
        }
    });
    wait_until("the container's stdin pipe to fill", || {
        let (queued, size) = stdin_pipe_fill(&pid);
        queued as usize >= size
    });

    // The monitor still relays output to another client, and still answers stop.
    let mut watcher = h
        .command(&["attach", "--no-stdin", &c.1])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let out = watcher.stdout.take().unwrap();
    let _watcher = Reaped(watcher);
    let seen = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = seen.clone();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(out).lines() {
            if line.is_ok_and(|l| l == "tick") {
                flag.store(true, std::sync::atomic::Ordering::SeqCst);
                return;
            }
        }
    });
    wait_until("output relayed to a second client", || {
        seen.load(std::sync::atomic::Ordering::SeqCst)
    });
    assert!(h.ok(&["logs", &c.1]).contains("tick\n"));
    h.ok(&["stop", "-t", "1", &c.1]);
    assert_eq!(
        h.ok(&["inspect", "-f", "{{.State.Running}}", &c.1]).trim(),
        "false"
    );
}
