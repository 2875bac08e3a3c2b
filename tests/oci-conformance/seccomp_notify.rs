//! `linux.seccomp.listenerPath` (config-linux.md "The Container Process State"): the runtime
//! sends a unix socket there the container process state with the filter's notification
//! descriptor, and an agent answers the calls the filter notifies. The agent here is a thread
//! of the test; each case runs against runc too, with the same expectation.

use std::io::Read;
use std::os::fd::OwnedFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use hull_tests::require_root;
use serde_json::{json, Value};

use crate::bundle::{text, Bundle};
use crate::error_contract::runtimes;

const METADATA: &str = "MKDIR=deny-then-fake";

/// The first mkdir is refused by the agent (EPERM), the second faked: it "succeeds" and makes
/// nothing. With no agent answering, neither would return.
const SCRIPT: &str = "mkdir /denied; echo denied=$?; mkdir /faked; echo faked=$?; \
                      ls -d /faked || echo faked=absent; echo end";

/// What the agent got: the message and the calls it answered.
#[derive(Debug)]
struct Report {
    message: Value,
    answered: usize,
}

/// The agent's two reports: the pid in the message as soon as it came, then the whole.
struct Agent {
    got: mpsc::Receiver<Value>,
    done: mpsc::Receiver<Result<Report, String>>,
}

/// Accepts one connection on `path`, reads the container process state and the descriptor,
/// then answers two notified calls: EPERM, then a faked success.
fn spawn_agent(path: &Path) -> Agent {
    let listener = UnixListener::bind(path).expect("bind the agent's socket");
    let (tx, done) = mpsc::channel();
    let (got_tx, got) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(serve(&listener, &got_tx));
    });
    Agent { got, done }
}

/// Asserts the agent has the message once create returned, before start (as runc sends it:
/// an agent may wait for it before it lets the container start).
fn assert_got_at_create(who: &str, agent: &Agent, pid: &Value) {
    let got = agent
        .got
        .recv_timeout(Duration::from_secs(10))
        .unwrap_or_else(|e| panic!("{who}: no message for the agent after create: {e}"));
    assert_eq!(&got, pid, "{who}: the message's pid");
}

fn serve(listener: &UnixListener, got: &mpsc::Sender<Value>) -> Result<Report, String> {
    let (message, fd) = read_message(listener)?;
    let _ = got.send(message["pid"].clone());
    answer_two(&fd)?;
    Ok(Report {
        message,
        answered: 2,
    })
}

/// Accepts one connection and reads the container process state and the descriptor with it.
fn read_message(listener: &UnixListener) -> Result<(Value, OwnedFd), String> {
    let conn = accept_within(listener, Duration::from_secs(30))?;
    let mut buf = vec![0u8; 64 * 1024];
    let (n, fd) = hull_sys::socket::recv_with_fd(&conn, &mut buf).map_err(|e| e.to_string())?;
    let fd = fd.ok_or("no descriptor with the message")?;
    let mut bytes = buf[..n].to_vec();
    // The sender may split the payload (not the descriptor), and need not close the connection
    // (runc keeps it open while its create runs): read until the JSON is whole.
    let message: Value = loop {
        if let Ok(v) = serde_json::from_slice(&bytes) {
            break v;
        }
        let n = (&conn).read(&mut buf).map_err(|e| e.to_string())?;
        if n == 0 {
            return Err(format!("end of stream in the message: {bytes:?}"));
        }
        bytes.extend_from_slice(&buf[..n]);
    };
    Ok((message, fd))
}

/// Answers two notified calls: EPERM, then a faked success.
fn answer_two(fd: &OwnedFd) -> Result<(), String> {
    let eperm = rustix::io::Errno::PERM.raw_os_error();
    for (val, error) in [(0, eperm), (0, 0)] {
        let n = hull_sys::seccomp::notif_recv(fd).map_err(|e| format!("notif recv: {e}"))?;
        hull_sys::seccomp::notif_respond(fd, n.id, val, error)
            .map_err(|e| format!("notif send: {e}"))?;
    }
    Ok(())
}

fn accept_within(listener: &UnixListener, limit: Duration) -> Result<UnixStream, String> {
    listener.set_nonblocking(true).map_err(|e| e.to_string())?;
    let start = Instant::now();
    loop {
        match listener.accept() {
            Ok((conn, _)) => {
                conn.set_nonblocking(false).map_err(|e| e.to_string())?;
                return Ok(conn);
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && start.elapsed() < limit => {
                std::thread::sleep(Duration::from_millis(20))
            }
            Err(e) => return Err(format!("accept: {e}")),
        }
    }
}

fn notify_seccomp(listener: &Path) -> Value {
    json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "listenerPath": listener,
        "listenerMetadata": METADATA,
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}]
    })
}

fn wait_for_file(path: &Path, want: &str) -> String {
    hull_tests::wait_until(&format!("{want:?} in {}", path.display()), || {
        std::fs::read_to_string(path).is_ok_and(|s| s.contains(want))
    });
    std::fs::read_to_string(path).unwrap()
}

/// The agent's report, the container's stdout and stderr, for one runtime.
fn check(who: &str, agent: &Agent, out: &Path, err: &Path) -> Report {
    let report = agent
        .done
        .recv_timeout(Duration::from_secs(60))
        .unwrap_or_else(|e| panic!("{who}: the agent never finished: {e}"))
        .unwrap_or_else(|e| panic!("{who}: agent: {e}"));
    let stdout = wait_for_file(out, "end\n");
    assert_eq!(
        stdout, "denied=1\nfaked=0\nfaked=absent\nend\n",
        "{who}: the container did not get the agent's answers"
    );
    let stderr = std::fs::read_to_string(err).unwrap_or_default();
    assert!(
        stderr.contains("Operation not permitted"),
        "{who}: stderr: {stderr}"
    );
    assert_eq!(report.answered, 2);
    let m = &report.message;
    assert_eq!(m["fds"], json!(["seccompFd"]), "{who}: {m}");
    assert!(
        m["ociVersion"]
            .as_str()
            .is_some_and(|v| v.starts_with("1.")),
        "{who}: {m}"
    );
    assert!(m["pid"].as_i64().is_some_and(|p| p > 0), "{who}: {m}");
    assert_eq!(m["metadata"], METADATA, "{who}: {m}");
    assert_eq!(m["state"]["status"], "creating", "{who}: {m}");
    assert_eq!(m["state"]["pid"], m["pid"], "{who}: {m}");
    report
}

/// The agent gets the container process state and the descriptor, and its answers (an error,
/// a faked success) are what the container's mkdir sees.
#[test]
fn the_listener_gets_the_notify_fd_and_answers_the_container() {
    require_root!();
    let mut b = Bundle::new();
    b.args(&["sh", "-c", SCRIPT]);
    let sock = b.path().join("agent-hull.sock");
    b.linux("seccomp", notify_seccomp(&sock));
    let agent = spawn_agent(&sock);
    let id = b.create("notify", &[]);
    let pid = b.state(&id)["pid"].clone();
    assert_got_at_create("hull", &agent, &pid);
    b.ok(&["start", &id]);
    let (out, err) = (b.path().join("notify.out"), b.path().join("notify.err"));
    let report = check("hull", &agent, &out, &err);
    assert_eq!(report.message["state"]["id"], id.as_str());
    assert_eq!(report.message["pid"], pid);
    assert!(!b.bundle().join("rootfs/denied").exists());
    assert!(!b.bundle().join("rootfs/faked").exists());

    let sock = b.path().join("agent-runc.sock");
    b.linux("seccomp", notify_seccomp(&sock));
    b.write();
    let runc_id = format!("{id}-runc");
    let agent = spawn_agent(&sock);
    let Some(r) = b.runc(&["create", &runc_id]) else {
        return;
    };
    assert!(r.status.success(), "runc create: {}", text(&r.stderr));
    let st = b.runc(&["state", &runc_id]).unwrap();
    let pid = serde_json::from_slice::<Value>(&st.stdout).unwrap()["pid"].clone();
    assert_got_at_create("runc", &agent, &pid);
    let r = b.runc(&["start", &runc_id]).unwrap();
    assert!(r.status.success(), "runc start: {}", text(&r.stderr));
    let (out, err) = (b.path().join("runc.out"), b.path().join("runc.err"));
    let report = check("runc", &agent, &out, &err);
    assert_eq!(report.message["state"]["id"], runc_id.as_str());
    assert_eq!(report.message["pid"], pid);
}

/// An exec'd process loads the container's filter too, with a listener of its own: the agent
/// gets a second message (status `running`) with that filter's descriptor, and its answers are
/// what the exec'd process sees. The message's `pid` is the exec'd process's (as `--pid-file`
/// gives it), its state's the container's.
#[test]
fn an_exec_sends_the_listener_its_own_descriptor() {
    require_root!();
    let mut b = Bundle::new();
    b.args(&["sleep", "1000"]);
    let sock = b.path().join("agent-exec.sock");
    b.linux("seccomp", notify_seccomp(&sock));
    b.write();
    let listener = UnixListener::bind(&sock).expect("bind the agent's socket");
    for rt in runtimes(&b, "notify-exec") {
        let who = rt.name;
        rt.ok(&["create", "-b", "BUNDLE", "ID"]);
        let (created, _create_fd) =
            read_message(&listener).unwrap_or_else(|e| panic!("{who}: create's message: {e}"));
        assert_eq!(created["state"]["status"], "creating", "{who}: {created}");
        rt.ok(&["start", "ID"]);
        let agent = listener.try_clone().unwrap();
        let served = std::thread::spawn(move || {
            let (message, fd) = read_message(&agent)?;
            answer_two(&fd).map(|()| message)
        });
        let pid_file = rt.bundle_path().join("exec.pid");
        let pid_arg = pid_file.to_str().unwrap();
        let (code, err) = rt.run(&["exec", "--pid-file", pid_arg, "ID", "sh", "-c", SCRIPT]);
        let stdout = std::fs::read_to_string(rt.bundle_path().join("cmd.out")).unwrap();
        assert_eq!(code, 0, "{who}: exec: {err}");
        assert_eq!(
            stdout, "denied=1\nfaked=0\nfaked=absent\nend\n",
            "{who}: the exec'd process did not get the agent's answers: {err}"
        );
        let m = served
            .join()
            .unwrap()
            .unwrap_or_else(|e| panic!("{who}: exec's agent: {e}"));
        assert_eq!(m["state"]["status"], "running", "{who}: {m}");
        assert_eq!(m["state"]["id"], rt.id.as_str(), "{who}: {m}");
        assert_eq!(m["state"]["pid"], created["state"]["pid"], "{who}: {m}");
        assert_eq!(m["fds"], json!(["seccompFd"]), "{who}: {m}");
        assert_eq!(m["metadata"], METADATA, "{who}: {m}");
        let exec_pid: i64 = std::fs::read_to_string(&pid_file)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert_eq!(m["pid"], exec_pid, "{who}: {m}");
        assert_ne!(m["pid"], m["state"]["pid"], "{who}: {m}");
    }
}

/// Directories under /sys/fs/cgroup (a few levels down) whose name has `id` in it.
fn cgroups_named(id: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut dirs = vec![(PathBuf::from("/sys/fs/cgroup"), 0)];
    while let Some((dir, depth)) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let path = e.path();
            if !e.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            if e.file_name().to_string_lossy().contains(id) {
                found.push(path.clone());
            }
            if depth < 5 {
                dirs.push((path, depth + 1));
            }
        }
    }
    found
}

/// A listener nobody listens on fails `create` with an error naming the path, and leaves no
/// container behind (no state, no cgroup).
#[test]
fn an_unreachable_listener_fails_create_and_leaves_nothing() {
    require_root!();
    let mut b = Bundle::new();
    b.args(&["sh", "-c", "mkdir /x"]);
    let sock = b.path().join("nobody.sock");
    b.linux("seccomp", notify_seccomp(&sock));
    b.write();
    let id = b.id("nolistener");
    let bundle = b.bundle();
    let out = b.output(&["create", "-b", bundle.to_str().unwrap(), &id]);
    let stderr = text(&out.stderr);
    assert!(!out.status.success(), "create succeeded without a listener");
    let want = format!("seccomp listener {}: connect", sock.display());
    assert!(stderr.contains(&want), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    let st = b.output(&["state", &id]);
    assert!(!st.status.success() && text(&st.stderr).contains("does not exist"));
    assert!(!b.root().join(&id).exists());
    assert_eq!(cgroups_named(&id), Vec::<PathBuf>::new());

    let runc_id = format!("{id}-runc");
    let Some(r) = b.runc(&["create", &runc_id]) else {
        return;
    };
    let stderr = text(&r.stderr);
    assert!(
        !r.status.success(),
        "runc create succeeded without a listener"
    );
    assert!(
        stderr.contains(&sock.display().to_string()),
        "runc: {stderr}"
    );
    let st = b.runc(&["state", &runc_id]).unwrap();
    assert!(
        !st.status.success(),
        "runc left a container: {}",
        text(&st.stdout)
    );
    assert_eq!(cgroups_named(&runc_id), Vec::<PathBuf>::new());
}
