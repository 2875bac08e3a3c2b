//! The runtime's operations and their options (runtime.md): create, start, state, kill and
//! delete, `--pid-file`, `--console-socket`, `--preserve-fds`, the session keyring, AppArmor.

use std::os::unix::net::UnixListener;
use std::path::Path;
use std::process::{Command, Stdio};

use hull_tests::{hull_bin, require_root};
use serde_json::json;

use crate::bundle::{text, Bundle};

#[test]
fn lifecycle_state_kill_delete() {
    require_root!();
    let mut b = Bundle::new();
    b.args(&["sleep", "1000"]);
    b.config["annotations"] = json!({"org.example.key": "value"});
    let id = b.create("life", &[]);
    let st = b.state(&id);
    assert_eq!(st["status"], "created");
    assert_eq!(
        st["ociVersion"].as_str().unwrap().split('.').next(),
        Some("1")
    );
    assert_eq!(st["annotations"]["org.example.key"], "value");
    assert_eq!(st["bundle"], b.bundle().to_str().unwrap());
    let pid = st["pid"].as_i64().expect("pid");
    b.ok(&["start", &id]);
    assert_eq!(b.state(&id)["status"], "running");
    assert!(!b.output(&["delete", &id]).status.success());
    b.ok(&["kill", &id, "KILL"]);
    hull_tests::wait_until("container stopped", || b.state(&id)["status"] == "stopped");
    assert!(!b.output(&["kill", &id, "KILL"]).status.success());
    b.ok(&["delete", &id]);
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    assert!(
        stat.is_empty()
            || stat
                .rsplit_once(')')
                .unwrap()
                .1
                .trim_start()
                .starts_with('Z'),
        "init {pid} survived delete"
    );
    assert!(!b.output(&["state", &id]).status.success());
}

#[test]
fn pid_file_and_console_socket() {
    require_root!();
    let mut b = Bundle::new();
    let sock_path = b.path().join("console.sock");
    let listener = UnixListener::bind(&sock_path).unwrap();
    b.config["process"]["terminal"] = json!(true);
    b.args(&["sh", "-c", "test -t 0 && echo tty-ok; sleep 1000"]);
    let pid_file = b.path().join("pid");
    let id = b.create(
        "console",
        &[
            "--console-socket",
            sock_path.to_str().unwrap(),
            "--pid-file",
            pid_file.to_str().unwrap(),
        ],
    );
    let (conn, _) = listener.accept().unwrap();
    let mut buf = [0u8; 256];
    let (_, fd) = hull_sys::socket::recv_with_fd(&conn, &mut buf).unwrap();
    let master = fd.expect("a pty master over SCM_RIGHTS");
    let pid = b.state(&id)["pid"].as_i64().unwrap();
    assert_eq!(
        std::fs::read_to_string(&pid_file).unwrap().trim(),
        pid.to_string()
    );
    b.ok(&["start", &id]);
    let mut master = std::fs::File::from(master);
    let mut got = String::new();
    while !got.contains("tty-ok") {
        let mut chunk = [0u8; 256];
        let n = std::io::Read::read(&mut master, &mut chunk).unwrap();
        assert!(n > 0, "pty closed: {got:?}");
        got.push_str(&String::from_utf8_lossy(&chunk[..n]));
    }
    b.ok(&["delete", "--force", &id]);
}

#[test]
fn preserve_fds_keyring_and_apparmor() {
    require_root!();
    let mut b = Bundle::new();
    b.linux("maskedPaths", json!([]));
    // With AppArmor on, `unconfined` is the one profile every such kernel has; without it, any
    // name is ignored with a warning (checked below).
    let apparmor = Path::new("/sys/kernel/security/apparmor").exists();
    let profile = if apparmor {
        "unconfined"
    } else {
        "hull-test-profile"
    };
    b.config["process"]["apparmorProfile"] = json!(profile);
    b.args(&[
        "sh",
        "-c",
        "echo via-fd3 >&3; grep -c _ses.conf-fds /proc/keys",
    ]);
    b.write();
    let id = b.id("fds");
    let out_file = b.path().join("fd3");
    // fd 3 of the runtime becomes fd 3 of the container's process.
    let script = format!(
        "exec 3>{}; exec {} runtime --root {} run --preserve-fds 1 -b {} {id}",
        out_file.display(),
        hull_bin().display(),
        b.root().display(),
        b.bundle().display()
    );
    let out = Command::new("/bin/sh")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(std::fs::read_to_string(&out_file).unwrap(), "via-fd3\n");
    // A session keyring of its own, named after the container.
    assert_eq!(text(&out.stdout), "1\n");
    if !apparmor {
        let err = text(&out.stderr);
        assert!(err.contains("warning") && err.contains("apparmor"), "{err}");
    }
    // Without --preserve-fds, fd 3 is closed in the container; --no-new-keyring keeps ours.
    b.args(&[
        "sh",
        "-c",
        "echo x >&3 || echo closed; grep -c _ses.conf-nofds /proc/keys",
    ]);
    b.write();
    let id = b.id("nofds");
    let script = format!(
        "exec 3>/dev/null; exec {} runtime --root {} run --no-new-keyring -b {} {id}",
        hull_bin().display(),
        b.root().display(),
        b.bundle().display()
    );
    let out = Command::new("/bin/sh")
        .args(["-c", &script])
        .output()
        .unwrap();
    assert!(
        text(&out.stdout).starts_with("closed\n0\n"),
        "{}",
        text(&out.stdout)
    );
    if apparmor {
        // A profile the kernel has not loaded fails create, naming the profile.
        b.config["process"]["apparmorProfile"] = json!("hull-no-such-profile");
        b.args(&["true"]);
        let out = b.run_output("noprofile");
        assert!(!out.status.success());
        let err = text(&out.stderr);
        assert!(
            err.contains("\"hull-no-such-profile\" is not loaded"),
            "{err}"
        );
    } else {
        eprintln!("skipped: a missing apparmor profile's error (AppArmor is not enabled here)");
    }
}

/// runc pauses a created container too; `start` then refuses until `resume`, which brings it
/// back to created (not running), and `start` works again.
#[test]
fn a_paused_created_container_starts_after_resume() {
    require_root!();
    let mut b = Bundle::new();
    b.args(&["sleep", "1000"]);
    b.write();
    for rt in crate::error_contract::runtimes(&b, "pause-created") {
        rt.setup(crate::error_contract::Setup::Created);
        rt.ok(&["pause", "ID"]);
        assert_eq!(rt.status(), "paused", "{}", rt.name);
        let (code, err) = rt.run(&["start", "ID"]);
        assert_eq!(code, 1, "{}: start of a paused container: {err}", rt.name);
        rt.ok(&["resume", "ID"]);
        assert_eq!(rt.status(), "created", "{}", rt.name);
        rt.ok(&["start", "ID"]);
        assert_eq!(rt.status(), "running", "{}", rt.name);
    }
}

/// A seccomp filter that kills execve: init dies by SIGSYS before the program runs, and
/// `start` must say so (it used to exit 0). Not compared with runc 1.1: its Go init is
/// multi-threaded, SCMP_ACT_KILL kills only the thread, and `runc run` hangs.
#[test]
fn start_fails_when_init_is_killed_before_it_executes_the_program() {
    require_root!();
    let mut b = Bundle::new();
    b.args(&["sh", "-c", "echo ran > /ran"]);
    b.linux(
        "seccomp",
        json!({"defaultAction": "SCMP_ACT_ALLOW",
               "syscalls": [{"names": ["execve"], "action": "SCMP_ACT_KILL"}]}),
    );
    b.write();
    let out = b.run_output("killed");
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "run: {err}");
    assert!(
        err.contains("killed by signal 31") && err.contains("error"),
        "{err}"
    );
    assert!(!b.bundle().join("rootfs/ran").exists());
}

/// With `--preserve-fds N` and nothing open past stderr, the process sees 0, 1 and 2 only: the
/// runtime adds none of its own descriptors to the preserved range (youki's contest
/// fd_control/only_stdio, which runs the runtime with whatever its own caller left open: a
/// descriptor the caller leaks is preserved, as asked, so the runtime here gets only stdio).
/// runc refuses preserved descriptors that are not open, so it runs with N = 0.
#[test]
fn preserve_fds_adds_none_of_the_runtimes_own() {
    require_root!();
    let mut b = Bundle::new();
    b.args(&["sh", "-c", "ls /proc/$$/fd; true"]);
    b.write();
    for rt in crate::error_contract::runtimes(&b, "only-stdio") {
        let n = if rt.name == "runc" { "0" } else { "100" };
        let inner = rt.command(&["run", "--preserve-fds", n, "-b", "BUNDLE", "ID"]);
        // bash, not sh: dash cannot redirect descriptors past 9.
        let out = Command::new("/bin/bash")
            .arg("-c")
            .arg(
                r#"for f in /proc/$$/fd/*; do n=${f##*/}; [ "$n" -gt 2 ] && eval "exec $n>&-"; done
                   exec "$@""#,
            )
            .arg("bash")
            .arg(inner.get_program())
            .args(inner.get_args())
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let err = text(&out.stderr);
        assert!(out.status.success(), "{}: {err}", rt.name);
        assert_eq!(
            text(&out.stdout),
            "0\n1\n2\n",
            "{} (--preserve-fds {n})",
            rt.name
        );
    }
}
