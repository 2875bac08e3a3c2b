//! runc's `exec` flags, as containerd's shim and conmon pass them: `--preserve-fds`,
//! `--ignore-paused`, `--process`, `--detach`, `--pid-file`, `--cwd`, `--env`, `--user`,
//! `--cap`, `--no-new-privs`, `--tty` with `--console-socket`, `--apparmor` and `--cgroup`. Each case runs
//! against runc (when installed) and hull-runtime with the same expectation.

use std::process::{Command, Stdio};
use std::time::Duration;

use hull_tests::require_root;
use serde_json::json;

use crate::bundle::{text, Bundle};
use crate::cgroups::cgroup_v2_host;
use crate::error_contract::{runtimes, Runtime, Setup};

fn sleeping_bundle() -> Bundle {
    let mut b = Bundle::new();
    b.args(&["sleep", "1000"]);
    let bin = b.bundle().join("rootfs/bin");
    for name in ["grep", "pwd", "test"] {
        std::os::unix::fs::symlink("busybox", bin.join(name)).unwrap();
    }
    std::fs::create_dir(b.bundle().join("rootfs/tmp")).unwrap();
    b.write();
    b
}

/// `rt`'s command line run through a shell that first opens `file` as descriptors 3 and 4.
fn with_fds_3_and_4(rt: &Runtime, args: &[&str], file: &std::path::Path) -> Command {
    let inner = rt.command(args);
    let mut c = Command::new("/bin/sh");
    c.arg("-c")
        .arg(r#"exec 3<"$FD_FILE" 4<"$FD_FILE"; exec "$@""#)
        .arg("sh")
        .arg(inner.get_program())
        .args(inner.get_args())
        .env("FD_FILE", file)
        .stdin(Stdio::null());
    c
}

#[test]
fn exec_preserve_fds_passes_the_callers_descriptors() {
    require_root!();
    let b = sleeping_bundle();
    let data = b.path().join("fd-data");
    std::fs::write(&data, "through fd 3\n").unwrap();
    let script = "cat /proc/self/fd/3; test -e /proc/self/fd/4 && echo fd4-open || echo fd4-closed";
    for rt in runtimes(&b, "preserve-fds") {
        rt.setup(Setup::Running);
        let args = ["exec", "--preserve-fds", "1", "ID", "sh", "-c", script];
        let out = with_fds_3_and_4(&rt, &args, &data).output().unwrap();
        let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
        assert!(out.status.success(), "{}: {stderr}", rt.name);
        assert_eq!(
            stdout, "through fd 3\nfd4-closed\n",
            "{}: {stderr}",
            rt.name
        );
        // Without the flag, nothing past stderr reaches the process.
        let args = [
            "exec",
            "ID",
            "sh",
            "-c",
            "test -e /proc/self/fd/3 && echo open || echo closed",
        ];
        let out = with_fds_3_and_4(&rt, &args, &data).output().unwrap();
        assert_eq!(
            text(&out.stdout),
            "closed\n",
            "{}: {}",
            rt.name,
            text(&out.stderr)
        );
    }
}

#[test]
fn exec_ignore_paused_runs_once_the_container_is_resumed() {
    require_root!();
    let b = sleeping_bundle();
    for rt in runtimes(&b, "ignore-paused") {
        rt.setup(Setup::Paused);
        let out = b.path().join(format!("{}.exec.out", rt.name));
        let mut child = rt
            .command(&["exec", "--ignore-paused", "ID", "echo", "ran while paused"])
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Accepted, but the process is frozen with the rest of the container until resume.
        std::thread::sleep(Duration::from_millis(700));
        let early = child.try_wait().unwrap();
        rt.ok(&["resume", "ID"]);
        assert!(
            early.is_none(),
            "{}: exec finished while paused: {early:?}",
            rt.name
        );
        hull_tests::wait_until("exec to finish", || child.try_wait().unwrap().is_some());
        let status = child.wait_with_output().unwrap();
        assert!(
            status.status.success(),
            "{}: {}",
            rt.name,
            text(&status.stderr)
        );
        let stdout = std::fs::read_to_string(&out).unwrap();
        assert_eq!(stdout, "ran while paused\n", "{}", rt.name);
    }
}

#[test]
fn exec_flags_set_the_process_as_runc_does() {
    require_root!();
    let b = sleeping_bundle();
    let outdir = b.bundle().join("rootfs/out");
    std::fs::create_dir(&outdir).unwrap();
    std::fs::set_permissions(&outdir, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    let script = "echo \"$(pwd) $X $(id -u):$(id -g)\" > /out/flags; \
                  grep -E '^(NoNewPrivs|CapBnd)' /proc/self/status >> /out/flags";
    for rt in runtimes(&b, "exec-flags") {
        rt.setup(Setup::Running);
        let _ = std::fs::remove_file(outdir.join("flags"));
        let pid_file = b.path().join(format!("{}.pid", rt.name));
        let pid_arg = pid_file.to_str().unwrap();
        let args = [
            "exec",
            "--detach",
            "--pid-file",
            pid_arg,
            "--cwd",
            "/tmp",
            "--env",
            "X=x1",
            "--user",
            "1000:1001",
            "--cap",
            "CAP_SYS_NICE",
            "--no-new-privs",
            "ID",
            "sh",
            "-c",
            script,
        ];
        rt.ok(&args);
        let pid: i32 = std::fs::read_to_string(&pid_file)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert!(pid > 0, "{}: pid file", rt.name);
        hull_tests::wait_until("the exec'd process's output", || {
            std::fs::read_to_string(outdir.join("flags")).is_ok_and(|s| s.lines().count() == 3)
        });
        let got = std::fs::read_to_string(outdir.join("flags")).unwrap();
        let mut lines = got.lines();
        assert_eq!(
            lines.next(),
            Some("/tmp x1 1000:1001"),
            "{}: {got}",
            rt.name
        );
        let cap_bnd = lines.next().unwrap().rsplit('\t').next().unwrap();
        let cap_bnd = u64::from_str_radix(cap_bnd.trim(), 16).unwrap();
        assert_ne!(
            cap_bnd & 1 << 23,
            0,
            "{}: CAP_SYS_NICE not bounding: {got}",
            rt.name
        );
        assert_eq!(
            lines
                .next()
                .map(str::split_whitespace)
                .and_then(|mut w| w.nth(1)),
            Some("1"),
            "{}: NoNewPrivs: {got}",
            rt.name
        );

        // --process: the whole process from a file, no command line.
        let process = json!({"args": ["sh", "-c", "echo from-process > /out/process"],
            "cwd": "/", "env": ["PATH=/bin"], "user": {"uid": 0, "gid": 0}});
        let file = b.path().join(format!("{}.process.json", rt.name));
        std::fs::write(&file, process.to_string()).unwrap();
        rt.ok(&["exec", "--process", file.to_str().unwrap(), "ID"]);
        let got = std::fs::read_to_string(outdir.join("process")).unwrap();
        assert_eq!(got, "from-process\n", "{}", rt.name);
        let _ = std::fs::remove_file(outdir.join("process"));

        // --apparmor: as create, a host without AppArmor ignores the profile with a warning
        // (runc refuses it there, so this part is hull's own).
        if rt.name == "hull-runtime"
            && !std::path::Path::new("/sys/kernel/security/apparmor").exists()
        {
            let (code, err) = rt.run(&["exec", "--apparmor", "hull-test-profile", "ID", "echo"]);
            assert_eq!(code, 0, "{err}");
            assert!(err.contains("warning") && err.contains("apparmor"), "{err}");
        }
    }
}

/// `exec -d -t --console-socket`, as containerd's shim runs `ctr exec -t`: the pty master goes
/// to the socket and the process sees a terminal.
#[test]
fn exec_tty_sends_the_pty_to_the_console_socket() {
    require_root!();
    let b = sleeping_bundle();
    for rt in runtimes(&b, "exec-tty") {
        rt.setup(Setup::Running);
        let sock_path = b.path().join(format!("{}.console.sock", rt.name));
        let listener = std::os::unix::net::UnixListener::bind(&sock_path).unwrap();
        let sock = sock_path.to_str().unwrap();
        let script = "test -t 0 && echo exec-tty-ok; sleep 5";
        let args = [
            "exec",
            "-d",
            "-t",
            "--console-socket",
            sock,
            "ID",
            "sh",
            "-c",
            script,
        ];
        rt.ok(&args);
        let (conn, _) = listener.accept().unwrap();
        let mut buf = [0u8; 256];
        let (_, fd) = hull_sys::socket::recv_with_fd(&conn, &mut buf).unwrap();
        let mut master = std::fs::File::from(fd.expect("a pty master over SCM_RIGHTS"));
        let mut got = String::new();
        while !got.contains("exec-tty-ok") {
            let mut chunk = [0u8; 256];
            let n = std::io::Read::read(&mut master, &mut chunk).unwrap();
            assert!(n > 0, "{}: pty closed: {got:?}", rt.name);
            got.push_str(&String::from_utf8_lossy(&chunk[..n]));
        }
    }
}

/// The running container's cgroup directory on the host: the unified one on a v2 host, else
/// its pids hierarchy's (from its init's /proc/PID/cgroup).
fn container_cgroup_dir(rt: &Runtime, v2: bool) -> std::path::PathBuf {
    rt.ok(&["state", "ID"]);
    let state = std::fs::read(rt.bundle_path().join("cmd.out")).unwrap();
    let state: serde_json::Value = serde_json::from_slice(&state).unwrap();
    let pid = state["pid"].as_i64().expect("pid");
    let own = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let (mount, prefix) = match v2 {
        true => ("/sys/fs/cgroup", "0::"),
        false => ("/sys/fs/cgroup/pids", ":pids:"),
    };
    let path = own
        .lines()
        .find_map(|l| l.split_once(prefix).map(|(_, p)| p))
        .unwrap_or_else(|| panic!("{}: no {prefix} line in {own}", rt.name));
    std::path::Path::new(mount).join(path.trim_start_matches('/'))
}

/// Removes a cgroup directory the test made, also when the test fails (before the container's
/// delete, which a non-empty v1 cgroup would refuse).
struct MadeCgroup(std::path::PathBuf);

impl Drop for MadeCgroup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.0);
    }
}

#[test]
fn exec_cgroup_joins_a_sub_cgroup_and_never_one_outside_the_containers() {
    require_root!();
    let v2 = cgroup_v2_host();
    if !v2 && !std::path::Path::new("/sys/fs/cgroup/pids").exists() {
        eprintln!("skipped: exec --cgroup (neither cgroup v2 nor a v1 pids hierarchy)");
        return;
    }
    // On v1 the sub-cgroup is made in one hierarchy, and named with its controller.
    let prefix = if v2 { "" } else { "pids:" };
    let b = sleeping_bundle();
    for rt in runtimes(&b, "exec-cgroup") {
        rt.setup(Setup::Running);
        let sub = MadeCgroup(container_cgroup_dir(&rt, v2).join("sub"));
        std::fs::create_dir(&sub.0).unwrap();
        let arg = format!("{prefix}sub");
        let (code, err) = rt.run(&["exec", "--cgroup", &arg, "ID", "cat", "/proc/self/cgroup"]);
        assert_eq!(code, 0, "{}: {err}", rt.name);
        let own = std::fs::read_to_string(b.path().join("cmd.out")).unwrap();
        let line = if v2 { "0::" } else { ":pids:" };
        assert!(
            own.lines().any(|l| l.contains(line) && l.ends_with("/sub")),
            "{}: {own}",
            rt.name
        );
        for bad in ["..", &format!("{prefix}missing"), "nosuchcontroller:/"] {
            let (code, err) = rt.run(&["exec", "--cgroup", bad, "ID", "true"]);
            assert_ne!(code, 0, "{}: --cgroup {bad} was taken", rt.name);
            assert!(err.contains("error"), "{}: --cgroup {bad}: {err}", rt.name);
        }
    }
}
