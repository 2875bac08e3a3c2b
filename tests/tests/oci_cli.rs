//! hull as a runc-compatible runtime (`hull runtime …` / `hull-runtime …`) on a busybox bundle
//! built from the host's /bin/busybox: lifecycle, state validation, run's exit code, list, ps,
//! pause, events and the error conventions. Each test has its own --root and deletes (with
//! --force) every container it created, even when an assertion fails.

use std::fs::File;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use hull_tests::{hull_bin, require_root};
use serde_json::Value;

/// A state root and a bundle in a temp dir; dropping it force-deletes the containers.
struct Oci {
    dir: tempfile::TempDir,
    ids: Vec<String>,
}

impl Oci {
    fn new() -> Oci {
        let dir = tempfile::tempdir().expect("temp dir");
        hull_tests::busybox_rootfs(
            &dir.path().join("bundle/rootfs"),
            &["sh", "echo", "sleep", "cat"],
        );
        Oci {
            dir,
            ids: Vec::new(),
        }
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    fn bundle(&self) -> PathBuf {
        self.dir.path().join("bundle")
    }

    /// A unique id per test (tests run in parallel, each with its own root anyway).
    fn id(&mut self, name: &str) -> String {
        let id = format!("{name}-{}", std::process::id());
        self.ids.push(id.clone());
        id
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(hull_bin());
        c.arg("runtime").arg("--root").arg(self.root()).args(args);
        c
    }

    /// Runs a command whose output can be read to the end (not create / run -d: their
    /// container inherits stdout and would keep a pipe open).
    fn run(&self, args: &[&str]) -> Output {
        self.command(args)
            .stdin(Stdio::null())
            .output()
            .expect("run hull")
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "{args:?} failed: {}",
            text(&out.stderr)
        );
        text(&out.stdout)
    }

    /// Fails with exit 1 (255 for `exec`, as runc) and one line on stderr; returns it.
    fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        let want = if args.contains(&"exec") { 255 } else { 1 };
        assert_eq!(
            out.status.code(),
            Some(want),
            "{args:?}: {}",
            text(&out.stderr)
        );
        let err = text(&out.stderr);
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
        err
    }

    /// Runs a command with stdout and stderr in files (the container inherits them).
    fn detached(&self, args: &[&str]) -> (bool, String) {
        let err_path = self.dir.path().join("stderr");
        let out = File::create(self.dir.path().join("stdout")).unwrap();
        let status = self
            .command(args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(File::create(&err_path).unwrap())
            .status()
            .expect("run hull");
        (status.success(), std::fs::read_to_string(err_path).unwrap())
    }

    /// Writes config.json with `hull runtime spec`, then sets the process.
    fn config(&self, args: &[&str]) {
        let bundle = self.bundle();
        let _ = std::fs::remove_file(bundle.join("config.json"));
        self.ok(&["spec", "--bundle", bundle.to_str().unwrap()]);
        let path = bundle.join("config.json");
        let mut c: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        c["process"]["terminal"] = Value::Bool(false);
        c["process"]["args"] = args.iter().map(|a| Value::from(*a)).collect();
        c["root"]["readonly"] = Value::Bool(false);
        std::fs::write(&path, serde_json::to_vec_pretty(&c).unwrap()).unwrap();
    }

    fn state(&self, id: &str) -> Value {
        serde_json::from_str(&self.ok(&["state", id])).expect("state JSON")
    }

    fn wait_status(&self, id: &str, want: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let st = self.state(id)["status"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            if st == want {
                return;
            }
            assert!(Instant::now() < deadline, "{id}: status {st}, want {want}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Oci {
    fn drop(&mut self) {
        for id in &self.ids {
            let _ = self.run(&["delete", "--force", id]);
        }
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn alive(pid: i64) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|s| !s.rsplit_once(')').unwrap().1.trim_start().starts_with('Z'))
}

#[test]
fn spec_writes_a_valid_config_and_refuses_to_overwrite_it() {
    require_root!();
    let oci = Oci::new();
    let bundle = oci.bundle();
    oci.ok(&["spec", "-b", bundle.to_str().unwrap()]);
    let c: Value =
        serde_json::from_slice(&std::fs::read(bundle.join("config.json")).unwrap()).unwrap();
    let _: hull_oci::runtime::Spec = serde_json::from_value(c.clone()).expect("a valid spec");
    assert_eq!(c["process"]["terminal"], Value::Bool(true));
    assert_eq!(c["process"]["args"][0], "sh");
    assert!(c["linux"]["namespaces"].as_array().unwrap().len() >= 5);
    assert!(c["linux"]["maskedPaths"].as_array().unwrap().len() > 3);
    let err = oci.fails(&["spec", "-b", bundle.to_str().unwrap()]);
    assert!(err.contains("exists"), "{err}");
}

#[test]
fn create_start_kill_delete_follow_the_oci_lifecycle() {
    require_root!();
    let mut oci = Oci::new();
    let id = oci.id("life");
    oci.config(&["sh", "-c", "echo ok > /out; exec sleep 1000"]);
    let pid_file = oci.dir.path().join("pid");
    let bundle = oci.bundle();
    let (ok, err) = oci.detached(&[
        "create",
        "--bundle",
        bundle.to_str().unwrap(),
        "--pid-file",
        pid_file.to_str().unwrap(),
        &id,
    ]);
    assert!(ok, "create: {err}");

    // The CLI has exited; init survives it, blocked before the program.
    let st = oci.state(&id);
    assert_eq!(st["status"], "created");
    let pid = st["pid"].as_i64().expect("a pid");
    assert!(alive(pid), "init {pid} died with the CLI");
    assert_eq!(
        std::fs::read_to_string(&pid_file).unwrap().trim(),
        pid.to_string()
    );
    assert!(
        !bundle.join("rootfs/out").exists(),
        "the program ran before start"
    );
    assert!(oci
        .ok(&["list"])
        .lines()
        .any(|l| l.starts_with(&id) && l.contains("created")));
    assert_eq!(oci.ok(&["list", "-q"]).trim(), id);

    oci.ok(&["start", &id]);
    assert_eq!(oci.state(&id)["status"], "running");
    let err = oci.fails(&["start", &id]);
    assert!(err.contains("running"), "{err}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !bundle.join("rootfs/out").exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        std::fs::read_to_string(bundle.join("rootfs/out")).unwrap(),
        "ok\n"
    );

    let err = oci.fails(&["delete", &id]);
    assert!(err.contains("running"), "{err}");
    oci.ok(&["kill", &id, "KILL"]);
    oci.wait_status(&id, "stopped");
    oci.ok(&["delete", &id]);
    let err = oci.fails(&["state", &id]);
    assert!(err.contains("does not exist"), "{err}");
    assert!(!oci.root().join(&id).exists());
}

#[test]
fn kill_defaults_to_sigterm_and_takes_signal_names() {
    require_root!();
    let mut oci = Oci::new();
    let id = oci.id("term");
    oci.config(&[
        "sh",
        "-c",
        "trap 'echo term > /sig; exit 0' TERM; while true; do sleep 0.1; done",
    ]);
    let bundle = oci.bundle();
    let (ok, err) = oci.detached(&["run", "-d", "-b", bundle.to_str().unwrap(), &id]);
    assert!(ok, "run -d: {err}");
    assert_eq!(oci.state(&id)["status"], "running");
    std::thread::sleep(Duration::from_millis(200));
    oci.fails(&["kill", &id, "NOSUCHSIG"]);
    oci.ok(&["kill", &id]);
    oci.wait_status(&id, "stopped");
    assert_eq!(
        std::fs::read_to_string(bundle.join("rootfs/sig")).unwrap(),
        "term\n"
    );
    // runc's words, which containerd's shim and CRI-O read as "already gone".
    let err = oci.fails(&["kill", &id, "SIGKILL"]);
    assert!(err.contains("container not running"), "{err}");
    oci.ok(&["delete", &id]);
}

#[test]
fn run_in_the_foreground_returns_the_exit_code_and_deletes() {
    require_root!();
    let mut oci = Oci::new();
    let id = oci.id("fg");
    oci.config(&["sh", "-c", "echo hello; exit 7"]);
    // Invoked as hull-runtime through a symlink: argv[0] dispatch.
    let link = oci.dir.path().join("hull-runtime");
    std::os::unix::fs::symlink(hull_bin(), &link).unwrap();
    let out = Command::new(&link)
        .arg("--root")
        .arg(oci.root())
        .args(["run", "--bundle"])
        .arg(oci.bundle())
        .arg(&id)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(7), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "hello\n");
    assert!(!oci.root().join(&id).exists(), "run did not delete");
    let version = Command::new(&link).arg("--version").output().unwrap();
    assert!(text(&version.stdout).starts_with("hull-runtime version "));
    assert!(text(&version.stdout).contains("\nspec: 1."));
}

#[test]
fn ps_pause_resume_and_events_use_the_cgroup() {
    require_root!();
    let mut oci = Oci::new();
    let id = oci.id("pause");
    oci.config(&["sleep", "1000"]);
    let bundle = oci.bundle();
    let (ok, err) = oci.detached(&["run", "-d", "-b", bundle.to_str().unwrap(), &id]);
    assert!(ok, "run -d: {err}");
    let pid = oci.state(&id)["pid"].as_i64().unwrap();
    let pids: Vec<i64> = serde_json::from_str(&oci.ok(&["ps", "--format", "json", &id])).unwrap();
    assert_eq!(pids, vec![pid]);
    oci.ok(&["pause", &id]);
    assert_eq!(oci.state(&id)["status"], "paused");
    oci.fails(&["pause", &id]);
    oci.ok(&["resume", &id]);
    assert_eq!(oci.state(&id)["status"], "running");
    let ev: Value = serde_json::from_str(&oci.ok(&["events", "--stats", &id])).unwrap();
    assert_eq!(ev["type"], "stats");
    assert_eq!(ev["id"], id.as_str());
    assert!(ev["data"]["memory"].is_object() && ev["data"]["pids"].is_object());
    oci.ok(&["delete", "--force", &id]);
    assert!(!alive(pid));
}

#[test]
fn errors_are_one_line_exit_1_and_logged_as_json() {
    require_root!();
    let oci = Oci::new();
    let log = oci.dir.path().join("log.json");
    let err = oci.fails(&[
        "--log",
        log.to_str().unwrap(),
        "--log-format",
        "json",
        "state",
        "nope",
    ]);
    assert!(
        err.contains("nope") && err.contains("does not exist"),
        "{err}"
    );
    let line: Value = serde_json::from_str(std::fs::read_to_string(&log).unwrap().trim()).unwrap();
    assert_eq!(line["level"], "error");
    assert!(line["msg"].as_str().unwrap().contains("does not exist"));
    assert!(line["time"].is_string());
    // The driver is the global flag alone: commands that make no cgroup take it too (runc).
    oci.ok(&["--systemd-cgroup", "list"]);
    oci.fails(&["--rootless", "true", "list"]);
    oci.fails(&["exec", "x", "true"]);
    let features: Value = serde_json::from_str(&oci.ok(&["features"])).unwrap();
    assert!(features["linux"]["namespaces"].as_array().unwrap().len() >= 6);
    assert!(features["linux"]["seccomp"]["actions"].is_array());
    assert_eq!(features["linux"]["cgroup"]["systemd"], true);
    let resources = &features["annotations"]["org.hull.runtime.cgroup.resources"];
    assert!(
        resources.as_str().unwrap().contains("blockIO"),
        "{resources}"
    );
}

#[test]
fn exec_runs_a_command_line_or_a_process_json_in_the_container() {
    require_root!();
    let mut oci = Oci::new();
    let id = oci.id("exec");
    oci.config(&["sleep", "1000"]);
    let bundle = oci.bundle();
    let (ok, err) = oci.detached(&["run", "-d", "-b", bundle.to_str().unwrap(), &id]);
    assert!(ok, "run -d: {err}");

    // The container's process is the template; the flags change it.
    let script = "echo $X; pwd; cat /proc/1/cmdline; echo; exit 4";
    let out = oci.run(&[
        "exec", "--cwd", "/bin", "-e", "X=7", &id, "sh", "-c", script,
    ]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "7\n/bin\nsleep\u{0}1000\u{0}\n");

    let process = oci.dir.path().join("process.json");
    let json = serde_json::json!({
        "args": ["sh", "-c", "echo from-json; exit 5"],
        "cwd": "/",
        "env": ["PATH=/bin"],
        "user": {"uid": 0, "gid": 0},
    });
    std::fs::write(&process, json.to_string()).unwrap();
    let out = oci.run(&["exec", "--process", process.to_str().unwrap(), &id]);
    assert_eq!(out.status.code(), Some(5), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "from-json\n");

    let err = oci.fails(&["exec", &id, "nosuchprog"]);
    assert!(err.contains("nosuchprog"), "{err}");
    oci.ok(&["pause", &id]);
    let err = oci.fails(&["exec", &id, "true"]);
    assert!(err.contains("paused"), "{err}");
    oci.ok(&["resume", &id]);

    // Detached: the pid file names a live process in the container, gone with the container.
    let pid_file = oci.dir.path().join("exec.pid");
    let (ok, err) = oci.detached(&[
        "exec",
        "-d",
        "--pid-file",
        pid_file.to_str().unwrap(),
        &id,
        "sleep",
        "999",
    ]);
    assert!(ok, "exec -d: {err}");
    let pid: i64 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(alive(pid));
    let pids: Vec<i64> = serde_json::from_str(&oci.ok(&["ps", "--format", "json", &id])).unwrap();
    assert!(pids.contains(&pid), "{pids:?} lacks {pid}");
    oci.ok(&["delete", "--force", &id]);
    hull_tests::wait_until("the exec'd process to die with the container", || {
        !alive(pid)
    });
}

/// A child process that is killed (by its pid) and reaped when the test ends, even on failure.
struct Reaped(std::process::Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Reaped {
    /// The exit code, waiting at most 20 s.
    fn code(&mut self) -> Option<i32> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.0.try_wait().unwrap() {
                return status.code();
            }
            assert!(Instant::now() < deadline, "hull did not exit within 20 s");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn signal(&self, sig: rustix::process::Signal) {
        let pid = rustix::process::Pid::from_raw(self.0.id() as i32).unwrap();
        rustix::process::kill_process(pid, sig).unwrap();
    }
}

impl Oci {
    /// Starts `hull runtime ARGS` in the background with stdout to `out`.
    fn spawn(&self, args: &[&str], out: &std::path::Path) -> Reaped {
        let child = self
            .command(args)
            .stdin(Stdio::null())
            .stdout(File::create(out).unwrap())
            .spawn()
            .unwrap();
        Reaped(child)
    }

    /// Sets `process.terminal` in config.json (after [`Oci::config`]), and adds busybox `stty`.
    fn terminal(&self) {
        let path = self.bundle().join("config.json");
        let mut c: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        c["process"]["terminal"] = Value::Bool(true);
        std::fs::write(&path, serde_json::to_vec_pretty(&c).unwrap()).unwrap();
        let stty = self.bundle().join("rootfs/bin/stty");
        if !stty.exists() {
            std::os::unix::fs::symlink("busybox", stty).unwrap();
        }
    }

    /// Removes the pid namespace from config.json: the program is then no pid 1, and a signal
    /// it does not handle kills it.
    fn host_pid_namespace(&self) {
        let path = self.bundle().join("config.json");
        let mut c: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .retain(|n| n["type"] != "pid");
        std::fs::write(&path, serde_json::to_vec_pretty(&c).unwrap()).unwrap();
    }
}

#[test]
fn run_with_a_terminal_relays_it_to_our_own_terminal() {
    require_root!();
    let mut oci = Oci::new();
    let id = oci.id("tty");
    let script = "stty size; test -t 0 && echo tty-ok; \
                  while read x; do [ \"$x\" = q ] && exit 7; echo got-$x; stty size; done";
    oci.config(&["sh", "-c", script]);
    oci.terminal();
    let mut pty = hull_tests::pty::Pty::open(24, 80);
    let bundle = oci.bundle();
    let mut hull = Reaped(pty.spawn(&oci.command(&["run", "-b", bundle.to_str().unwrap(), &id])));
    assert!(pty.read_until("tty-ok", 20), "{:?}", pty.seen);
    assert!(
        pty.seen.contains("24 80"),
        "the host's size: {:?}",
        pty.seen
    );
    // Our terminal is raw (the container's pty does the line editing): \r arrives as typed and
    // the container's pty turns it into a newline.
    pty.write(b"hello\r");
    assert!(pty.read_until("got-hello", 20), "{:?}", pty.seen);
    // SIGWINCH reaches hull (the terminal's foreground process), which resizes the container's.
    pty.resize(30, 100);
    let deadline = Instant::now() + Duration::from_secs(20);
    // Each line typed makes the container print its size again, until it shows the new one.
    while !pty.read_until("30 100", 1) {
        assert!(Instant::now() < deadline, "no resize: {:?}", pty.seen);
        pty.write(b"x\r");
    }
    pty.write(b"q\r");
    assert_eq!(hull.code(), Some(7), "{:?}", pty.seen);
    assert!(!oci.root().join(&id).exists(), "run did not delete");
}

#[test]
fn foreground_run_forwards_signals_and_exits_128_plus_n() {
    require_root!();
    let mut oci = Oci::new();
    let bundle = oci.bundle();
    let bundle = bundle.to_str().unwrap();
    // A handled signal: the program decides its exit code.
    let id = oci.id("sig");
    let script = "trap 'echo got-term; exit 3' TERM; echo ready; while :; do sleep 1; done";
    oci.config(&["sh", "-c", script]);
    let out_path = oci.dir.path().join("sig.out");
    let mut hull = oci.spawn(&["run", "-b", bundle, &id], &out_path);
    let read = || std::fs::read_to_string(&out_path).unwrap_or_default();
    hull_tests::wait_until("the container to start", || read().contains("ready"));
    hull.signal(rustix::process::Signal::TERM);
    assert_eq!(hull.code(), Some(3), "{}", read());
    assert!(read().contains("got-term"), "{}", read());

    // An unhandled one kills the program (not pid 1 here): hull exits 128 + N, like runc.
    let id = oci.id("sig2");
    oci.config(&["sh", "-c", "echo ready; exec sleep 1000"]);
    oci.host_pid_namespace();
    let mut hull = oci.spawn(&["run", "-b", bundle, &id], &out_path);
    hull_tests::wait_until("the container to start", || read().contains("ready"));
    // sh has exec'd sleep once the process is no longer sh (comm changes).
    let pid = || oci.state(&id)["pid"].as_i64().unwrap_or(0);
    hull_tests::wait_until("sleep to run", || {
        std::fs::read_to_string(format!("/proc/{}/comm", pid())).is_ok_and(|c| c == "sleep\n")
    });
    hull.signal(rustix::process::Signal::USR1);
    assert_eq!(hull.code(), Some(128 + 10));
}

#[test]
fn foreground_exec_relays_a_terminal_and_forwards_signals() {
    require_root!();
    let mut oci = Oci::new();
    let id = oci.id("exectty");
    oci.config(&["sleep", "1000"]);
    let bundle = oci.bundle();
    let (ok, err) = oci.detached(&["run", "-d", "-b", bundle.to_str().unwrap(), &id]);
    assert!(ok, "run -d: {err}");

    let mut pty = hull_tests::pty::Pty::open(24, 80);
    let script = "test -t 0 && echo exec-tty; read x; echo got-$x; exit 5";
    let exec = oci.command(&["exec", "-t", &id, "sh", "-c", script]);
    let mut hull = Reaped(pty.spawn(&exec));
    assert!(pty.read_until("exec-tty", 20), "{:?}", pty.seen);
    pty.write(b"hi\r");
    assert!(pty.read_until("got-hi", 20), "{:?}", pty.seen);
    assert_eq!(hull.code(), Some(5), "{:?}", pty.seen);

    let script = "trap 'echo exec-term; exit 4' TERM; echo ready; while :; do sleep 1; done";
    let out_path = oci.dir.path().join("exec.out");
    let mut hull = oci.spawn(&["exec", &id, "sh", "-c", script], &out_path);
    let read = || std::fs::read_to_string(&out_path).unwrap_or_default();
    hull_tests::wait_until("exec to start", || read().contains("ready"));
    hull.signal(rustix::process::Signal::TERM);
    assert_eq!(hull.code(), Some(4), "{}", read());
    assert!(read().contains("exec-term"), "{}", read());
    // -t and -d without a console socket: nobody could read the terminal.
    let err = oci.fails(&["exec", "-t", "-d", &id, "true"]);
    assert!(err.contains("console-socket"), "{err}");
}

/// `hull-runtime features | head -1`: a reader that closes the pipe early ends hull quietly with
/// the shell's SIGPIPE code, not a panic and a backtrace on stderr. Needs no root.
#[test]
fn a_closed_stdout_ends_quietly() {
    // The read end is closed before hull starts, so its first write fails.
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    let out = Command::new(hull_bin())
        .args(["runtime", "features"])
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .expect("run hull runtime features");
    assert_eq!(out.status.code(), Some(141), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
}
