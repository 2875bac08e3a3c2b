//! `hull exec` into a detached busybox container: the exec'd process shares the container's
//! namespaces, cgroup and security settings; flags, exit codes, -d and -it behave like
//! `docker exec`.

use std::collections::HashMap;
use std::process::Output;

use hull_tests::{
    cgroup_v2_host, container_pids, probe_path, require_root, wait_until, Hull, Removed,
};

/// `hull run -d -v PROBE:/probe:ro FLAGS… busybox sleep 1000`; returns the container's guard.
fn running<'a>(h: &'a Hull, flags: &[&str]) -> Removed<'a> {
    let probe = format!("{}:/probe:ro", probe_path().display());
    let mut argv = vec!["-v", &probe];
    argv.extend_from_slice(flags);
    h.detach(&argv, &["sleep", "1000"])
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn exec(h: &Hull, args: &[&str]) -> Output {
    let mut argv = vec!["exec"];
    argv.extend_from_slice(args);
    h.run(&argv)
}

/// The probe's `key=value` lines (the last value of a repeated key wins).
fn facts(out: &str) -> HashMap<String, String> {
    out.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// `key:\tvalue` lines of /proc/<pid>/status.
fn status_of(pid: &str) -> HashMap<String, String> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.to_string(), v.trim().to_string()))
        .collect()
}

/// The host pid of the container's init (its `sleep 1000`).
fn init_pid(id: &str) -> String {
    container_pids(id)
        .into_iter()
        .find(|p| {
            std::fs::read(format!("/proc/{p}/cmdline")).is_ok_and(|c| c == b"sleep\x001000\x00")
        })
        .expect("the container's sleep")
}

#[test]
fn exec_shares_namespaces_cgroup_and_security_with_the_container() {
    require_root!();
    let h = Hull::new();
    let c = running(&h, &["--security-opt", "no-new-privileges"]);
    let id = c.1.as_str();

    let out = exec(&h, &[id, "cat", "/proc/1/cmdline"]);
    assert_eq!(
        text(&out.stdout),
        "sleep\x001000\x00",
        "{}",
        text(&out.stderr)
    );

    let out = exec(&h, &[id, "/probe", "pid", "hostname", "status", "cgroup"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let f = facts(&stdout);
    assert_ne!(f["pid"], "1", "{stdout}");
    assert_eq!(f["hostname"], id[..12], "{stdout}");
    let init = status_of(&init_pid(id));
    for key in ["CapEff", "CapBnd", "CapPrm", "NoNewPrivs", "Seccomp"] {
        assert_eq!(f[key], init[key], "{key}: {stdout}");
    }
    assert_eq!(f["Seccomp"], "2");
    assert_eq!(f["NoNewPrivs"], "1");
    let cgroups: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("cgroup="))
        .collect();
    if cgroup_v2_host() {
        // It joined the container's cgroup namespace, rooted at the container's cgroup: being
        // in that cgroup reads `/` (outside it, `/..`).
        assert_eq!(
            cgroups,
            ["cgroup=0::/"],
            "not in the container's cgroup: {cgroups:?}"
        );
    } else {
        assert!(
            cgroups.iter().any(|l| l.contains(id)),
            "not in the container's cgroup: {cgroups:?}"
        );
    }
}

#[test]
fn exit_codes_flags_and_missing_commands_follow_docker() {
    require_root!();
    let h = Hull::new();
    let c = running(&h, &[]);
    let id = c.1.as_str();

    assert_eq!(exec(&h, &[id, "sh", "-c", "exit 3"]).status.code(), Some(3));

    let out = exec(&h, &[id, "nosuchcmd"]);
    assert_eq!(out.status.code(), Some(127));
    let err = text(&out.stderr);
    assert!(
        err.starts_with("hull: ") && err.contains("nosuchcmd"),
        "{err}"
    );
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert_eq!(exec(&h, &[id, "/etc/passwd"]).status.code(), Some(126));

    let out = exec(
        &h,
        &[
            "-e",
            "X=5",
            "-w",
            "/tmp",
            "-u",
            "hulluser",
            id,
            "sh",
            "-c",
            "echo $X; pwd; id -u; id -g",
        ],
    );
    assert_eq!(
        text(&out.stdout),
        "5\n/tmp\n1000\n1000\n",
        "{}",
        text(&out.stderr)
    );
    // Without flags: the container's user, working dir and environment.
    let out = exec(&h, &[id, "sh", "-c", "id -u; pwd; echo $HOSTNAME"]);
    assert_eq!(text(&out.stdout), format!("0\n/\n{}\n", &id[..12]));
    assert_eq!(
        exec(&h, &["-u", "nosuchuser", id, "true"]).status.code(),
        Some(125)
    );
}

#[test]
fn exec_in_a_stopped_container_fails_cleanly() {
    require_root!();
    let h = Hull::new();
    let c = running(&h, &[]);
    let id = c.1.as_str();
    h.ok(&["stop", "-t", "1", id]);
    let out = exec(&h, &[id, "true"]);
    assert_eq!(out.status.code(), Some(125));
    let err = text(&out.stderr);
    assert!(err.contains("is not running"), "{err}");
    let out = exec(&h, &["nosuchcontainer", "true"]);
    assert_eq!(out.status.code(), Some(125));
}

#[test]
fn detached_exec_runs_until_the_container_stops() {
    require_root!();
    let h = Hull::new();
    let c = running(&h, &[]);
    let id = c.1.as_str();
    let out = exec(&h, &["-d", id, "sleep", "999"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "");
    let sleeper = || {
        container_pids(id).into_iter().find(|p| {
            std::fs::read(format!("/proc/{p}/cmdline")).is_ok_and(|c| c == b"sleep\x00999\x00")
        })
    };
    let pid = sleeper().expect("the detached exec's process runs in the container");
    h.ok(&["stop", "-t", "1", id]);
    wait_until("the detached exec to end with its container", || {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |s| {
            s.rsplit_once(')').unwrap().1.trim_start().starts_with('Z')
        })
    });
}

#[test]
fn interactive_tty_exec_relays_a_pty() {
    require_root!();
    let h = Hull::new();
    let c = running(&h, &[]);
    let id = c.1.as_str();
    // script(1) gives `hull exec` a terminal and types our input into it.
    let line = format!(
        "{} exec -it {id} sh -c 'tty; read x; echo got-$x; exit 6'",
        hull_tests::hull_bin().display()
    );
    let cmd = h.command(&[]);
    let mut script = std::process::Command::new("script");
    script.args(["-qec", &line, "/dev/null"]);
    for (k, v) in cmd.get_envs() {
        if let Some(v) = v {
            script.env(k, v);
        }
    }
    let mut child = script
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("script(1)");
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), b"typed\n").unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = text(&out.stdout);
    assert!(stdout.contains("/dev/pts/"), "{stdout}");
    assert!(stdout.contains("got-typed"), "{stdout}");
    assert_eq!(out.status.code(), Some(6), "{stdout}");
}

#[test]
fn sigterm_to_a_foreground_exec_reaches_the_process() {
    require_root!();
    let h = Hull::new();
    let c = running(&h, &[]);
    let id = c.1.as_str();
    let script = "trap 'echo got-term; exit 9' TERM; echo ready; while true; do sleep 0.1; done";
    let mut child = h
        .command(&["exec", id, "sh", "-c", script])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn hull exec");
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut stdout, &mut line).unwrap();
    assert_eq!(line, "ready\n");
    let pid = rustix::process::Pid::from_raw(child.id() as i32).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
    // Bounded: if the signal were not forwarded, hull exec would wait forever.
    let mut status = None;
    let exited = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        wait_until("hull exec to exit after SIGTERM", || {
            status = child.try_wait().unwrap();
            status.is_some()
        })
    }));
    if exited.is_err() {
        let _ = child.kill();
        let _ = child.wait();
        panic!("SIGTERM was not forwarded to the exec'd process");
    }
    let status = status.unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    assert_eq!(rest, "got-term\n");
    assert_eq!(status.code(), Some(9));
}

#[test]
fn exec_d_t_runs_on_a_pty_that_outlives_hull_exec() {
    require_root!();
    let h = Hull::new();
    let c = running(&h, &[]);
    // Closing the pty's master would hang it up: sh would die of SIGHUP before writing /done.
    let script = "tty > /tty; sleep 1; echo done > /done";
    h.ok(&["exec", "-d", "-t", &c.1, "sh", "-c", script]);
    wait_until("the detached exec to finish", || {
        exec(&h, &[&c.1, "cat", "/done"]).status.success()
    });
    let tty = text(&exec(&h, &[&c.1, "cat", "/tty"]).stdout);
    assert!(tty.starts_with("/dev/pts/"), "{tty:?}");
}

#[test]
fn exec_u_takes_home_from_the_users_passwd_entry_unless_set() {
    require_root!();
    let h = Hull::new();
    let c = running(&h, &[]);
    let home = |args: &[&str]| {
        let mut argv = args.to_vec();
        argv.extend([c.1.as_str(), "sh", "-c", "echo $HOME"]);
        text(&exec(&h, &argv).stdout).trim().to_string()
    };
    assert_eq!(home(&[]), "/root");
    assert_eq!(home(&["-u", "hulluser"]), "/home/hulluser");
    assert_eq!(home(&["-u", "1000:1000"]), "/home/hulluser");
    assert_eq!(home(&["-u", "hulluser", "-e", "HOME=/mine"]), "/mine");
    // A HOME the container was given explicitly stays.
    let set = running(&h, &["-e", "HOME=/srv"]);
    let out = exec(&h, &["-u", "hulluser", &set.1, "sh", "-c", "echo $HOME"]);
    assert_eq!(text(&out.stdout).trim(), "/srv");
}

#[test]
fn exec_into_a_paused_container_is_refused_like_docker() {
    require_root!();
    let h = Hull::new();
    let c = running(&h, &["--name", "frozen"]);
    h.ok(&["pause", "frozen"]);
    let out = exec(&h, &["frozen", "true"]);
    let err = text(&out.stderr);
    h.ok(&["unpause", "frozen"]);
    assert_eq!(out.status.code(), Some(125), "{err}");
    assert!(
        err.contains("container frozen is paused, unpause the container before exec"),
        "{err}"
    );
    assert!(exec(&h, &[&c.1, "true"]).status.success());
}
