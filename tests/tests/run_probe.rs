//! End-to-end checks of `hull run`'s isolation, security and limits, seen from inside the
//! container by the static probe (`tests/probe/probe.c`, bind-mounted at /probe) or busybox, and
//! from the host side through the container's cgroup directories while it runs.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};

use hull_tests::{
    cgroup_dir_of, cgroup_v2_host, container_id_of, entries, fixture, probe_path, require_root,
    Hull,
};

/// Docker's 14 default capabilities by kernel number (CHOWN, DAC_OVERRIDE, FOWNER, FSETID, KILL,
/// SETGID, SETUID, SETPCAP, NET_BIND_SERVICE, NET_RAW, SYS_CHROOT, MKNOD, AUDIT_WRITE, SETFCAP).
const DOCKER_CAPS: [u32; 14] = [0, 1, 3, 4, 5, 6, 7, 8, 10, 13, 18, 27, 29, 31];
const CAP_CHOWN: u32 = 0;
const CAP_SYS_ADMIN: u32 = 21;

fn busybox() -> String {
    format!("{}/busybox:latest", fixture("HULL_TEST_REGISTRY"))
}

fn probe_volume() -> String {
    format!("{}:/probe:ro", probe_path().display())
}

/// `hull run --rm -v PROBE:/probe:ro FLAGS… busybox ARGS…`.
fn run(h: &Hull, flags: &[&str], args: &[&str]) -> Output {
    h.run(
        &run_argv(flags, args)
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    )
}

fn run_argv(flags: &[&str], args: &[&str]) -> Vec<String> {
    let mut argv = vec!["run".to_string(), "-v".into(), probe_volume()];
    argv.extend(flags.iter().map(|s| s.to_string()));
    argv.push(busybox());
    argv.extend(args.iter().map(|s| s.to_string()));
    argv
}

/// Runs the probe with `--rm` and `flags`; asserts it exited 0; returns its facts.
fn probe(h: &Hull, flags: &[&str], cmds: &[&str]) -> HashMap<String, String> {
    let mut f = vec!["--rm"];
    f.extend(flags);
    let mut args = vec!["/probe"];
    args.extend(cmds);
    let out = run(h, &f, &args);
    assert_eq!(code(&out), 0, "probe {flags:?} {cmds:?}: {}", stderr(&out));
    facts(&stdout(&out))
}

/// Runs `sh -c script` with `--rm` and `flags`; returns stdout (stderr is folded in by the script
/// where it matters).
fn sh(h: &Hull, flags: &[&str], script: &str) -> String {
    let mut f = vec!["--rm"];
    f.extend(flags);
    let out = run(h, &f, &["sh", "-c", script]);
    assert_eq!(code(&out), 0, "sh {flags:?} {script:?}: {}", stderr(&out));
    stdout(&out)
}

fn facts(text: &str) -> HashMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn lines_of<'a>(text: &'a str, key: &str) -> Vec<&'a str> {
    let prefix = format!("{key}=");
    text.lines()
        .filter_map(|l| l.strip_prefix(&prefix))
        .collect()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn mask(caps: &[u32]) -> u64 {
    caps.iter().fold(0, |m, c| m | 1 << c)
}

fn hex(f: &HashMap<String, String>, key: &str) -> u64 {
    u64::from_str_radix(&f[key], 16).unwrap_or_else(|_| panic!("{key}={:?}", f.get(key)))
}

/// A field of the test process's own /proc/self/status, as hex.
fn own_status_hex(key: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with(&format!("{key}:")))
        .unwrap();
    u64::from_str_radix(line.split_whitespace().nth(1).unwrap(), 16).unwrap()
}

fn host_ns(name: &str) -> String {
    let link = std::fs::read_link(format!("/proc/self/ns/{name}")).unwrap();
    let link = link.to_string_lossy();
    link[link.find('[').unwrap() + 1..link.len() - 1].to_string()
}

#[test]
fn pid_namespace_shows_only_the_container_with_pid_1() {
    require_root!();
    let h = Hull::new();
    let f = probe(&h, &[], &["pid", "ppid"]);
    assert_eq!((f["pid"].as_str(), f["ppid"].as_str()), ("1", "0"), "{f:?}");
    let ps = sh(&h, &[], "ps -o pid | tail -n +2");
    let pids: Vec<u32> = ps.split_whitespace().map(|p| p.parse().unwrap()).collect();
    assert!(pids.contains(&1) && pids.len() <= 3, "ps sees {pids:?}");
    assert!(pids.iter().all(|p| *p < 10), "ps sees {pids:?}");
}

#[test]
fn namespaces_differ_from_the_host_except_with_network_host() {
    require_root!();
    let h = Hull::new();
    let f = probe(&h, &[], &["ns"]);
    for ns in ["mnt", "pid", "uts", "ipc", "net"] {
        assert_ne!(f[&format!("ns.{ns}")], host_ns(ns), "{ns} namespace shared");
    }
    let cgroup_private = f["ns.cgroup"] != host_ns("cgroup");
    assert_eq!(cgroup_private, cgroup_v2_host(), "cgroup ns only on v2");
    assert_eq!(f["ns.user"], host_ns("user"));
    let f = probe(&h, &["--network", "host"], &["ns"]);
    assert_eq!(f["ns.net"], host_ns("net"));
    assert_ne!(f["ns.uts"], host_ns("uts"));
}

/// A new network namespace starts with `lo` down; hull did not bring it up, so nothing in a
/// `--network none` container could talk to 127.0.0.1.
#[test]
fn network_none_has_only_lo_and_lo_is_up() {
    require_root!();
    let h = Hull::new();
    let out = sh(
        &h,
        &["--network", "none"],
        "ls /sys/class/net; cat /sys/class/net/lo/flags",
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert_eq!(lines[0], "lo");
    let flags = u32::from_str_radix(lines[1].trim_start_matches("0x"), 16).unwrap();
    assert_eq!(flags & 1, 1, "lo is down (flags {})", lines[1]);
}

#[test]
fn default_capabilities_are_dockers_fourteen() {
    require_root!();
    let h = Hull::new();
    let f = probe(&h, &[], &["status"]);
    for set in ["CapBnd", "CapPrm", "CapEff"] {
        assert_eq!(hex(&f, set), mask(&DOCKER_CAPS), "{set}");
    }
    assert_eq!(hex(&f, "CapInh"), 0);
    assert_eq!(hex(&f, "CapAmb"), 0);
}

#[test]
fn cap_drop_chown_cap_add_sys_admin_and_cap_drop_all() {
    require_root!();
    let h = Hull::new();
    let f = probe(
        &h,
        &["--cap-drop", "CHOWN", "--cap-add", "SYS_ADMIN"],
        &["status", "denied"],
    );
    let want = mask(&DOCKER_CAPS) & !(1 << CAP_CHOWN) | 1 << CAP_SYS_ADMIN;
    for set in ["CapBnd", "CapPrm", "CapEff"] {
        assert_eq!(hex(&f, set), want, "{set}");
    }
    // With CAP_SYS_ADMIN the default profile lets mount and unshare through.
    assert_eq!(f["mount"], "ENODEV");
    assert_eq!(f["unshare_newns"], "ok");
    let out = sh(
        &h,
        &["--cap-drop", "CHOWN"],
        "touch /f; chown 1:1 /f 2>&1; echo rc=$?",
    );
    assert!(
        out.contains("rc=1"),
        "chown worked without CAP_CHOWN: {out}"
    );
    let f = probe(&h, &["--cap-drop", "ALL"], &["status"]);
    for set in ["CapBnd", "CapPrm", "CapEff", "CapInh", "CapAmb"] {
        assert_eq!(hex(&f, set), 0, "{set}");
    }
}

/// `--privileged` asked for every capability the kernel knows, but hull (root without
/// CAP_SYS_RESOURCE here) cannot grant what it does not hold, so capset failed and privileged
/// containers could not start at all.
#[test]
fn privileged_starts_when_hull_lacks_a_capability() {
    require_root!();
    let h = Hull::new();
    let f = probe(
        &h,
        &["--privileged"],
        &["status", "denied", "masked", "procsys"],
    );
    let own = own_status_hex("CapPrm");
    for set in ["CapBnd", "CapPrm", "CapEff"] {
        assert_eq!(hex(&f, set), own, "{set}");
    }
    assert_eq!(f["Seccomp"], "0");
    assert_eq!(f["mount"], "ENODEV", "mount is allowed");
    assert_eq!(f["keyctl"], "ok");
    assert_eq!(f["firmware"], "readable");
    assert_eq!(f["procsys"], "writable");
    let out = sh(&h, &["--privileged"], "wc -c < /proc/timer_list");
    assert_ne!(out.trim(), "0", "/proc/timer_list masked");
}

#[test]
fn seccomp_default_denies_mount_unshare_keyctl_and_unconfined_lifts_it() {
    require_root!();
    let h = Hull::new();
    let f = probe(&h, &[], &["status", "denied"]);
    assert_eq!(f["Seccomp"], "2");
    assert_eq!(f["NoNewPrivs"], "0");
    for call in ["mount", "unshare_newns", "keyctl", "clone_newuser"] {
        assert_eq!(f[call], "EPERM", "{call}");
    }
    let f = probe(
        &h,
        &["--security-opt", "seccomp=unconfined"],
        &["status", "denied"],
    );
    assert_eq!(f["Seccomp"], "0");
    // Without seccomp, the missing CAP_SYS_ADMIN still refuses mount, but keyctl works.
    assert_eq!(f["mount"], "EPERM");
    assert_eq!(f["keyctl"], "ok");
}

#[test]
fn seccomp_profile_file_denying_mkdir_is_enforced() {
    require_root!();
    let h = Hull::new();
    let profile = h.dir.path().join("no-mkdir.json");
    std::fs::write(
        &profile,
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
            {"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO","errnoRet":1}]}"#,
    )
    .unwrap();
    let opt = format!("seccomp={}", profile.display());
    let out = sh(
        &h,
        &["--security-opt", &opt],
        "mkdir /made 2>&1; echo rc=$?; touch /touched && echo touched; grep Seccomp: /proc/self/status",
    );
    assert!(out.contains("Operation not permitted"), "{out}");
    assert!(out.contains("rc=1") && out.contains("touched"), "{out}");
    assert!(out.contains("Seccomp:\t2"), "{out}");
}

#[test]
fn no_new_privileges_is_off_by_default_and_setuid_root_works() {
    require_root!();
    let h = Hull::new();
    // A setuid-root copy of the probe (busybox in the image is not setuid), bind-mounted in.
    let suid = h.dir.path().join("suid-probe");
    std::fs::copy(probe_path(), &suid).unwrap();
    std::fs::set_permissions(&suid, std::os::unix::fs::PermissionsExt::from_mode(0o4755)).unwrap();
    let vol = format!("{}:/suid-probe:ro", suid.display());
    let args = ["/suid-probe", "ids", "status"];
    let out = run(&h, &["--rm", "-u", "1000", "-v", &vol], &args);
    let f = facts(&stdout(&out));
    assert_eq!(f["NoNewPrivs"], "0", "{}", stderr(&out));
    assert_eq!((f["uid"].as_str(), f["euid"].as_str()), ("1000", "0"));
    let nnp = [
        "--rm",
        "-u",
        "1000",
        "-v",
        &vol,
        "--security-opt",
        "no-new-privileges",
    ];
    let f = facts(&stdout(&run(&h, &nnp, &args)));
    assert_eq!(f["NoNewPrivs"], "1");
    assert_eq!(f["euid"], "1000", "setuid honoured under no_new_privs");
}

/// Every path of Docker's masked list that exists on this host is empty inside.
#[test]
fn masked_and_read_only_paths() {
    require_root!();
    let h = Hull::new();
    let f = probe(&h, &[], &["masked", "procsys"]);
    assert_eq!(f["firmware"], "masked");
    assert_eq!(f["procsys"], "EROFS");
    assert!(Path::new("/proc/timer_list").exists());
    let files = [
        "/proc/timer_list",
        "/proc/sched_debug",
        "/proc/keys",
        "/proc/kcore",
    ];
    let present: Vec<&str> = files
        .into_iter()
        .filter(|p| Path::new(p).exists())
        .collect();
    let script: String = present
        .iter()
        .map(|p| format!("echo {p}=$(head -c 64 {p} | wc -c);"))
        .collect();
    let out = facts(&sh(&h, &[], &script));
    for p in present {
        assert_eq!(out[p], "0", "{p} readable");
    }
    if Path::new("/proc/sysrq-trigger").exists() {
        // The shell reports a failed redirection on its own stderr, so the group's stderr is the
        // one to capture.
        let out = sh(
            &h,
            &[],
            "{ echo h > /proc/sysrq-trigger; } 2>&1; echo rc=$?",
        );
        assert!(out.contains("Read-only file system"), "{out}");
    } else {
        eprintln!("skipped: /proc/sysrq-trigger read-only (this host's kernel has no sysrq)");
    }
}

#[test]
fn default_mounts_devices_and_etc_files() {
    require_root!();
    let h = Hull::new();
    let out = run(&h, &["--rm"], &["/probe", "mounts"]);
    let text = stdout(&out);
    let mounts: HashMap<&str, (&str, &str, &str)> = lines_of(&text, "mountinfo")
        .into_iter()
        .map(|l| {
            let (left, right) = l.split_once(" - ").unwrap();
            let left: Vec<&str> = left.split(' ').collect();
            let right: Vec<&str> = right.split(' ').collect();
            (left[4], (left[5], right[0], right[2]))
        })
        .collect();
    let m = |p: &str| {
        *mounts
            .get(p)
            .unwrap_or_else(|| panic!("{p} not mounted: {text}"))
    };
    let (opts, fs, _) = m("/proc");
    assert_eq!(fs, "proc");
    for o in ["nosuid", "noexec", "nodev"] {
        assert!(opts.contains(o), "/proc {opts}");
    }
    assert_eq!(m("/dev").1, "tmpfs");
    let (_, fs, sup) = m("/dev/pts");
    assert_eq!(fs, "devpts");
    assert!(sup.contains("ptmxmode=666") && sup.contains("mode=620") && sup.contains("gid=5"));
    let (_, fs, sup) = m("/dev/shm");
    assert_eq!(fs, "tmpfs");
    assert!(sup.contains("size=65536k"), "/dev/shm {sup}");
    assert_eq!(m("/dev/mqueue").1, "mqueue");
    assert!(m("/sys").0.starts_with("ro"));
    assert!(m("/sys/fs/cgroup").0.starts_with("ro"));
    for etc in ["/etc/hostname", "/etc/hosts", "/etc/resolv.conf"] {
        m(etc);
    }
    // A devpts without newinstance would be the host's, with the host's ptys in it.
    let out = sh(
        &h,
        &[],
        "for d in null zero full random urandom tty; do [ -c /dev/$d ] && echo $d; done; \
         for l in fd stdin stdout stderr ptmx; do echo $l=$(readlink /dev/$l); done; ls /dev/pts",
    );
    let f = facts(&out);
    let chars: Vec<&str> = out.lines().filter(|l| !l.contains('=')).collect();
    assert_eq!(
        &chars[..6],
        ["null", "zero", "full", "random", "urandom", "tty"]
    );
    assert_eq!(&chars[6..], ["ptmx"], "host ptys visible in /dev/pts");
    assert_eq!(f["fd"], "/proc/self/fd");
    assert_eq!(f["stdin"], "/proc/self/fd/0");
    assert_eq!(f["stdout"], "/proc/self/fd/1");
    assert_eq!(f["stderr"], "/proc/self/fd/2");
    assert_eq!(f["ptmx"], "pts/ptmx");
}

#[test]
fn users_numeric_named_and_without_passwd_entry() {
    require_root!();
    let h = Hull::new();
    let f = probe(&h, &["-u", "1000:1000"], &["ids"]);
    assert_eq!((f["uid"].as_str(), f["gid"].as_str()), ("1000", "1000"));
    assert_eq!((f["euid"].as_str(), f["egid"].as_str()), ("1000", "1000"));
    let f = probe(&h, &["-u", "hulluser"], &["ids"]);
    assert_eq!((f["uid"].as_str(), f["gid"].as_str()), ("1000", "1000"));
    assert_eq!(f["groups"], "1001", "supplementary group hullextra");
    let f = probe(&h, &["-u", "4321"], &["ids", "status"]);
    assert_eq!((f["uid"].as_str(), f["gid"].as_str()), ("4321", "0"));
    assert_eq!(
        hex(&f, "CapEff"),
        0,
        "a non-root user keeps no effective caps"
    );
}

#[test]
fn memory_limit_ends_in_oom_kill_137_recorded() {
    require_root!();
    let h = Hull::new();
    let flags = ["--name", "oom", "--memory", "32m"];
    let out = run(
        &h,
        &flags,
        &["/probe", "cgroup", "sleep", "0", "alloc", "100"],
    );
    let text = stdout(&out);
    assert_eq!(code(&out), 137, "{text}{}", stderr(&out));
    assert_eq!(facts(&text)["memory_max"], (32u64 << 20).to_string());
    assert!(!text.contains("alloc_mb="), "{text}");
    let id = container_id_of(&h, "oom");
    let ps = h.ok(&["ps", "-a"]);
    let row = ps.lines().find(|l| l.ends_with("oom")).expect("ps row");
    assert!(row.contains("Exited (137)"), "{row}");
    let record = h.root().join("containers").join(&id).join("container.json");
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(record).unwrap()).unwrap();
    assert_eq!(record["state"]["oom_killed"], true, "{record}");
    assert_eq!(record["state"]["exit_code"], 137);
    h.ok(&["rm", "oom"]);
}

#[test]
fn pids_limit_contains_a_fork_bomb() {
    require_root!();
    let h = Hull::new();
    let f = probe(&h, &["--pids-limit", "20"], &["cgroup", "fork-bomb"]);
    assert_eq!(f["pids_max"], "20");
    let forks: u32 = f["forks"].parse().unwrap();
    assert!(forks < 20, "{forks} forks");
    assert_eq!(f["fork_error"], "EAGAIN");
}

/// A running `hull run`, waited for (not killed) when dropped: the container sleeps briefly.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.wait();
    }
}

#[test]
fn resource_flags_show_in_the_host_cgroup_files() {
    require_root!();
    let h = Hull::new();
    let flags = [
        "--rm",
        "--name",
        "limits",
        "--cpus",
        "0.5",
        "--cpu-shares",
        "512",
        "--cpuset-cpus",
        "0",
        "--memory",
        "48m",
        "--pids-limit",
        "33",
        "--ulimit",
        "nofile=1024:2048",
    ];
    let argv = run_argv(&flags, &["/probe", "cgroup", "rlimit", "sleep", "3"]);
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    let mut running = Running(h.command(&argv).stdout(Stdio::piped()).spawn().unwrap());
    let mut text = String::new();
    let mut reader = BufReader::new(running.0.stdout.take().unwrap());
    while !text.contains("nofile_hard=") {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap() == 0 {
            panic!("container ended early: {text}");
        }
        text.push_str(&line);
    }
    // The container sleeps 3 s after printing: it is still there to be inspected.
    let id = container_id_of(&h, "limits");
    let read = |controller: &str, file: &str| {
        let p = cgroup_dir_of(&id, controller).join(file);
        std::fs::read_to_string(&p)
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
            .trim()
            .to_string()
    };
    if cgroup_v2_host() {
        // runc's mapping: cpu.max "quota period", cpu.weight = 1 + (512 - 2) * 9999 / 262142.
        assert_eq!(read("cpu", "cpu.max"), "50000 100000");
        assert_eq!(read("cpu", "cpu.weight"), "20");
        assert_eq!(read("cpuset", "cpuset.cpus"), "0");
        assert_eq!(read("memory", "memory.max"), (48u64 << 20).to_string());
        assert_eq!(read("pids", "pids.max"), "33");
    } else {
        assert_eq!(read("cpu", "cpu.cfs_quota_us"), "50000");
        assert_eq!(read("cpu", "cpu.cfs_period_us"), "100000");
        assert_eq!(read("cpu", "cpu.shares"), "512");
        assert_eq!(read("cpuset", "cpuset.cpus"), "0");
        assert_eq!(
            read("memory", "memory.limit_in_bytes"),
            (48u64 << 20).to_string()
        );
        assert_eq!(read("pids", "pids.max"), "33");
    }
    let f = facts(&text);
    assert_eq!(f["memory_max"], (48u64 << 20).to_string());
    assert_eq!(f["pids_max"], "33");
    assert_eq!(
        (f["nofile_soft"].as_str(), f["nofile_hard"].as_str()),
        ("1024", "2048")
    );
}

#[test]
fn read_only_rootfs_with_writable_tmpfs() {
    require_root!();
    let h = Hull::new();
    let out = sh(
        &h,
        &["--read-only", "--tmpfs", "/run"],
        "{ echo x > /x; } 2>&1; echo root=$?; { echo x > /tmp/x; } 2>&1; echo tmp=$?; \
         echo y > /run/y && cat /run/y; echo z > /dev/shm/z && cat /dev/shm/z",
    );
    let f = facts(&out);
    assert_eq!(f["root"], "1", "{out}");
    assert_eq!(f["tmp"], "1", "{out}");
    assert!(out.contains("Read-only file system"), "{out}");
    assert!(out.contains("y\n") && out.contains("z\n"), "{out}");
}

#[test]
fn device_cgroup_denies_a_disk_made_with_mknod() {
    require_root!();
    let h = Hull::new();
    let out = sh(
        &h,
        &[],
        "mknod /dev/sda b 8 0 && echo made; head -c 1 /dev/sda > /dev/null 2>&1; echo open=$?; \
         head -c 1 /dev/sda 2>&1 | grep -o 'Operation not permitted'",
    );
    assert!(out.contains("made"), "mknod failed with CAP_MKNOD: {out}");
    assert_eq!(facts(&out)["open"], "1", "{out}");
    assert!(out.contains("Operation not permitted"), "{out}");
}

#[test]
fn run_rm_leaves_no_mount_cgroup_or_directory() {
    require_root!();
    let h = Hull::new();
    let out = run(
        &h,
        &[
            "--rm",
            "--memory",
            "64m",
            "--pids-limit",
            "50",
            "--cpus",
            "1",
        ],
        &["/probe", "hostname", "cgroup"],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    // The container is gone with --rm, so its ID comes from inside: its hostname is the ID's
    // first 12 hex digits (the cgroup path names it only on v1; v2 shows `0::/`).
    let id = facts(&stdout(&out))["hostname"].clone();
    assert!(
        id.len() == 12 && id.bytes().all(|b| b.is_ascii_hexdigit()),
        "{id:?}"
    );
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!info.contains(&id), "mount of {id} left");
    let store = h.root().display().to_string();
    assert!(!info.contains(&store), "mount below {store} left");
    assert!(!h.root().join("containers").join(&id).exists());
    assert!(entries(&h.root().join("containers"))
        .iter()
        .all(|e| e == "lock"));
    // Every hierarchy's `hull` parent: each v1 controller's, and the v2 one's.
    let root = Path::new("/sys/fs/cgroup");
    let parents = entries(root)
        .into_iter()
        .map(|c| root.join(c).join("hull"))
        .chain([root.join("hull")]);
    let left: Vec<PathBuf> = parents
        .flat_map(|p| entries(&p).into_iter().map(move |c| p.join(c)))
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(&id))
        })
        .collect();
    assert!(left.is_empty(), "cgroups left: {left:?}");
}
