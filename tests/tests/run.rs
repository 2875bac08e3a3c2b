//! End-to-end tests of `hull run`, `ps`, `rm` and `start` against the fixture registry's busybox
//! (sh, echo, id, … and a user hulluser 1000:1000). They need the runtime; until it lands they
//! fail at `runtime create`.

use std::path::Path;
use std::process::Output;

use hull_tests::{entries, fixture, require_root, Hull};

fn busybox() -> String {
    format!("{}/busybox:latest", fixture("HULL_TEST_REGISTRY"))
}

fn run(h: &Hull, args: &[&str]) -> Output {
    let img = busybox();
    let mut argv = vec!["run"];
    let split = args
        .iter()
        .position(|a| *a == "IMG")
        .expect("IMG placeholder");
    argv.extend(&args[..split]);
    argv.push(&img);
    argv.extend(&args[split + 1..]);
    h.run(&argv)
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

/// Nothing of the store is still mounted and no container directory is left.
fn assert_nothing_left(h: &Hull) {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let root = h.root().display().to_string();
    assert!(!info.contains(&root), "mounts left below {root}");
    let containers = entries(&h.root().join("containers"));
    assert!(
        containers.iter().all(|e| e == "lock"),
        "containers left: {containers:?}"
    );
}

fn hull_cgroups_left() -> Vec<String> {
    let mut left = Vec::new();
    for base in [
        "/sys/fs/cgroup/memory/hull",
        "/sys/fs/cgroup/pids/hull",
        "/sys/fs/cgroup/hull",
    ] {
        left.extend(
            entries(Path::new(base))
                .into_iter()
                .filter(|e| e.len() == 64),
        );
    }
    left
}

#[test]
fn run_rm_echo_prints_hello_and_leaves_nothing() {
    require_root!();
    let h = Hull::new();
    let out = run(&h, &["--rm", "IMG", "echo", "hello"]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(stdout(&out), "hello\n");
    assert_nothing_left(&h);
    // Other tests run containers at the same time, so look for this container's cgroup only:
    // its hostname is the first 12 hex digits of its ID.
    let out = run(&h, &["--rm", "IMG", "hostname"]);
    let short = stdout(&out).trim().to_string();
    assert_eq!(short.len(), 12, "{short}");
    let left: Vec<String> = hull_cgroups_left()
        .into_iter()
        .filter(|id| id.starts_with(&short))
        .collect();
    assert!(left.is_empty(), "cgroup left behind: {left:?}");
}

#[test]
fn a_missing_working_directory_is_created_as_docker_does() {
    require_root!();
    let h = Hull::new();
    let out = run(
        &h,
        &[
            "--rm",
            "-w",
            "/made/by/run",
            "IMG",
            "sh",
            "-c",
            "pwd; stat -c '%a %u' .",
        ],
    );
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(stdout(&out), "/made/by/run\n755 0\n");
}

#[test]
fn exit_codes_follow_docker() {
    require_root!();
    let h = Hull::new();
    for (args, want) in [
        (vec!["--rm", "IMG", "true"], 0),
        (vec!["--rm", "IMG", "sh", "-c", "exit 3"], 3),
        (vec!["--rm", "IMG", "/etc/passwd"], 126),
        (vec!["--rm", "IMG", "no-such-command"], 127),
        // pid 1 of a pid namespace cannot be SIGKILLed from inside it; with --init the shell
        // is pid 2, so this is a real death by signal 9.
        (vec!["--rm", "--init", "IMG", "sh", "-c", "kill -9 $$"], 137),
        (
            vec!["--rm", "--init", "IMG", "sh", "-c", "kill -15 $$"],
            143,
        ),
        (vec!["--rm", "--memory", "lots", "IMG", "true"], 125),
    ] {
        let out = run(&h, &args);
        assert_eq!(
            code(&out),
            want,
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_nothing_left(&h);
}

#[test]
fn env_workdir_user_and_hostname() {
    require_root!();
    let h = Hull::new();
    let out = run(
        &h,
        &[
            "--rm",
            "-e",
            "FOO=bar",
            "-w",
            "/tmp",
            "-u",
            "hulluser",
            "-h",
            "box",
            "IMG",
            "sh",
            "-c",
            "echo $FOO; pwd; id -u; id -g; hostname; cat /etc/hostname; echo $HOME",
        ],
    );
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        stdout(&out),
        "bar\n/tmp\n1000\n1000\nbox\nbox\n/home/hulluser\n"
    );
    let out = run(&h, &["--rm", "IMG", "sh", "-c", "hostname; echo $PATH"]);
    let text = stdout(&out);
    let mut lines = text.lines();
    assert_eq!(lines.next().map(str::len), Some(12), "{text}");
    assert_eq!(
        lines.next(),
        Some("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
    );
    let out = run(&h, &["--rm", "-u", "nobody-here", "IMG", "true"]);
    assert_eq!(code(&out), 125);
    assert!(String::from_utf8_lossy(&out.stderr).contains("unable to find user nobody-here"));
}

#[test]
fn bind_mounts_and_read_only_rootfs() {
    require_root!();
    let h = Hull::new();
    let host = h.dir.path().join("shared");
    std::fs::create_dir_all(&host).unwrap();
    std::fs::write(host.join("in"), "from host\n").unwrap();
    let v = format!("{}:/data", host.display());
    let out = run(
        &h,
        &[
            "--rm",
            "-v",
            &v,
            "IMG",
            "sh",
            "-c",
            "cat /data/in; echo out > /data/out",
        ],
    );
    assert_eq!(
        stdout(&out),
        "from host\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read_to_string(host.join("out")).unwrap(), "out\n");
    let ro = format!("{}:/data:ro", host.display());
    let out = run(
        &h,
        &["--rm", "-v", &ro, "IMG", "sh", "-c", "echo x > /data/x"],
    );
    assert_ne!(code(&out), 0);
    let out = run(
        &h,
        &["--rm", "--read-only", "IMG", "sh", "-c", "echo x > /x"],
    );
    assert_ne!(code(&out), 0);
    let out = run(
        &h,
        &[
            "--rm",
            "--read-only",
            "--tmpfs",
            "/scratch",
            "IMG",
            "sh",
            "-c",
            "echo x > /scratch/x && cat /scratch/x",
        ],
    );
    assert_eq!(stdout(&out), "x\n");
    assert_nothing_left(&h);
}

#[test]
fn ps_rm_and_start_again() {
    require_root!();
    let h = Hull::new();
    let out = run(&h, &["--name", "again", "IMG", "sh", "-c", "exit 4"]);
    assert_eq!(code(&out), 4);
    let ps = h.ok(&["ps", "-a"]);
    let row = ps.lines().find(|l| l.ends_with("again")).expect("row");
    assert!(row.contains("Exited (4)"), "{row}");
    assert!(
        h.ok(&["ps"]).lines().count() == 1,
        "only the header without -a"
    );
    let out = h.run(&["start", "-a", "again"]);
    assert_eq!(code(&out), 4);
    let clash = run(&h, &["--name", "again", "IMG", "true"]);
    assert_eq!(code(&clash), 125);
    assert!(String::from_utf8_lossy(&clash.stderr).contains("is already in use by container"));
    assert_eq!(h.ok(&["rm", "again"]).trim(), "again");
    assert_nothing_left(&h);
}

#[test]
fn twenty_containers_in_parallel() {
    require_root!();
    let h = Hull::new();
    h.ok(&["pull", "-q", &busybox()]);
    let img = busybox();
    // 20 on a host; HULL_TEST_SCALE=0.2 (the VM tier, under TCG) makes it 4.
    let children: Vec<_> = (0..hull_tests::scaled(20))
        .map(|i| {
            h.command(&["run", "--rm", &img, "sh", "-c", &format!("echo {i}")])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for (i, c) in children.into_iter().enumerate() {
        let out = c.wait_with_output().unwrap();
        assert_eq!(
            code(&out),
            0,
            "{i}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(stdout(&out), format!("{i}\n"));
    }
    assert_nothing_left(&h);
}
