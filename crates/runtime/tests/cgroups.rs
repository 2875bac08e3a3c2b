//! Root integration tests on the host's real cgroup hierarchy: v1 on a hybrid host (the
//! development VM), v2 on a pure-v2 host with controllers (the VM test tier: Debian with systemd),
//! plus the v2 device filter and the shared-parent race on whatever cgroup2 mount there is (the
//! hybrid host's `/sys/fs/cgroup/unified` has no controllers, but BPF device filters and cgroup
//! directories need none). Gated by `HULL_ROOT_TESTS=1`; they fail, rather than pass, when the
//! variable is set and we are not root. A test that cannot check something on this host says
//! `skipped: <what> (<why>)`.
//!
//! Every test uses a unique cgroup name (`/hull-test-<pid>-<n>`) and a [`Guard`] that kills the
//! children it started and removes the cgroup even when an assertion fails.

mod common;

use std::io::Write as _;
use std::os::unix::process::ExitStatusExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use hull_oci::runtime::{BlockIo, Cpu, DeviceRule, Memory, Pids, Resources, ThrottleDevice};
use hull_runtime::cgroups::{Cgroup, CgroupError, CgroupRoot, CgroupVersion, Layout};

fn root_tests_enabled() -> bool {
    if std::env::var_os("HULL_ROOT_TESTS").as_deref() != Some("1".as_ref()) {
        eprintln!("skipped: set HULL_ROOT_TESTS=1 (as root) to run cgroup integration tests");
        return false;
    }
    assert!(
        rustix::process::geteuid().is_root(),
        "HULL_ROOT_TESTS=1 but not running as root"
    );
    true
}

fn unique_path() -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "/hull-test-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Kills the children we started (by their pid) and deletes the cgroup on drop.
struct Guard {
    cgroup: Option<Cgroup>,
    children: Vec<Option<Child>>,
}

impl Guard {
    fn new(cgroup: Cgroup) -> Guard {
        Guard {
            cgroup: Some(cgroup),
            children: Vec::new(),
        }
    }

    fn cg(&self) -> &Cgroup {
        self.cgroup.as_ref().expect("cgroup")
    }

    /// Starts `sh -c script` blocked on a line of stdin, moves it into the cgroup, then lets it
    /// go: everything the script does happens inside the cgroup.
    fn spawn_inside(&mut self, script: &str) -> usize {
        let mut child = Command::new("/bin/busybox")
            .args(["sh", "-c", &format!("read _go; {script}")])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn busybox sh");
        let pid = child.id() as i32;
        let stdin = child.stdin.take();
        self.children.push(Some(child));
        self.cg().add_process(pid).expect("add child to cgroup");
        stdin
            .expect("stdin")
            .write_all(b"go\n")
            .expect("release child");
        self.children.len() - 1
    }

    fn pid(&self, idx: usize) -> i32 {
        self.children[idx].as_ref().expect("child").id() as i32
    }

    fn wait_output(&mut self, idx: usize) -> std::process::Output {
        let child = self.children[idx].take().expect("child");
        child.wait_with_output().expect("wait child")
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        for child in self.children.iter_mut().flatten() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if let Some(cg) = self.cgroup.take() {
            // Grandchildren (the scripts' own children) are in the cgroup too.
            let _ = cg.kill_all(SIGKILL);
            if let Err(e) = cg.delete() {
                eprintln!("cleanup: {e}");
            }
        }
    }
}

const SIGKILL: i32 = 9;

fn read(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file))
        .unwrap_or_else(|e| panic!("read {}/{file}: {e}", dir.display()))
        .trim()
        .to_string()
}

fn detect_v1(what: &str) -> Option<CgroupRoot> {
    let root = CgroupRoot::detect().expect("detect cgroups");
    if root.version() != CgroupVersion::V1 {
        eprintln!("skipped: {what} on cgroup v1 (the host is cgroup v2)");
        return None;
    }
    Some(root)
}

/// The controllers a pure-v2 host offers at its root (`/sys/fs/cgroup/cgroup.controllers`,
/// the file runc's docs name as the sign of v2), or None with a note on a v1 or hybrid host.
fn detect_v2(what: &str) -> Option<(CgroupRoot, Vec<String>)> {
    let root = CgroupRoot::detect().expect("detect cgroups");
    let offered = std::fs::read_to_string("/sys/fs/cgroup/cgroup.controllers");
    match (root.version(), offered) {
        (CgroupVersion::V2, Ok(text)) if !text.trim().is_empty() => {
            let offered = text.split_whitespace().map(String::from).collect();
            Some((root, offered))
        }
        _ => {
            eprintln!(
                "skipped: {what} on cgroup v2 (no cgroup2 with controllers at /sys/fs/cgroup)"
            );
            None
        }
    }
}

/// A host whose controllers are in use: v1, or v2 with controllers (the limits below mean the
/// same on both).
fn detect_limits_host(what: &str) -> Option<CgroupRoot> {
    let root = CgroupRoot::detect().expect("detect cgroups");
    if root.version() == CgroupVersion::V1 {
        return Some(root);
    }
    detect_v2(what).map(|(root, _)| root)
}

fn allow(kind: &str, major: i64, minor: i64) -> DeviceRule {
    DeviceRule {
        allow: true,
        kind: Some(kind.into()),
        major: Some(major),
        minor: Some(minor),
        access: Some("rwm".into()),
    }
}

fn deny_all() -> DeviceRule {
    DeviceRule {
        allow: false,
        access: Some("rwm".into()),
        ..DeviceRule::default()
    }
}

#[test]
fn v1_limits_are_written_and_processes_join() {
    if !root_tests_enabled() {
        return;
    }
    let what = "memory, cpu, cpuset, pids and device limits, freezer";
    let Some(root) = detect_v1(what) else { return };
    let r = Resources {
        memory: Some(Memory {
            limit: Some(64 << 20),
            reservation: Some(32 << 20),
            ..Memory::default()
        }),
        cpu: Some(Cpu {
            shares: Some(512),
            quota: Some(50_000),
            period: Some(100_000),
            cpus: Some("0".into()),
            mems: Some("0".into()),
            ..Cpu::default()
        }),
        pids: Some(Pids { limit: 32 }),
        devices: vec![deny_all(), allow("c", 1, 3), allow("c", 1, 5)],
        ..Resources::default()
    };
    let path = unique_path();
    let mut g = Guard::new(Cgroup::create(&root, &path, &r).expect("create cgroup"));
    let cg_dirs = g.cg().clone();
    let dir = |c: &str| cg_dirs.dir(c).expect(c).to_path_buf();
    assert_eq!(read(&dir("memory"), "memory.limit_in_bytes"), "67108864");
    assert_eq!(
        read(&dir("memory"), "memory.soft_limit_in_bytes"),
        "33554432"
    );
    assert_eq!(read(&dir("cpu"), "cpu.shares"), "512");
    assert_eq!(read(&dir("cpu"), "cpu.cfs_quota_us"), "50000");
    assert_eq!(read(&dir("cpu"), "cpu.cfs_period_us"), "100000");
    assert_eq!(read(&dir("cpuset"), "cpuset.cpus"), "0");
    assert_eq!(read(&dir("cpuset"), "cpuset.mems"), "0");
    assert_eq!(read(&dir("pids"), "pids.max"), "32");
    assert_eq!(
        read(&dir("devices"), "devices.list"),
        "c 1:3 rwm\nc 1:5 rwm"
    );

    let idx = g.spawn_inside("exec /bin/busybox sleep 30");
    let pid = g.pid(idx);
    let deadline = Instant::now() + Duration::from_secs(5);
    while !g.cg().pids().unwrap().contains(&pid) {
        assert!(Instant::now() < deadline, "pid {pid} never showed up");
        std::thread::sleep(Duration::from_millis(10));
    }
    for d in g.cg().distinct_dirs() {
        assert!(
            read(d, "cgroup.procs")
                .lines()
                .any(|l| l == pid.to_string()),
            "pid {pid} not in {}",
            d.display()
        );
    }
    let stats = g.cg().stats().unwrap();
    assert_eq!(stats.memory_limit, Some(64 << 20));
    assert_eq!(stats.pids_limit, Some(32));
    assert!(stats.pids_current.unwrap() >= 1);
    assert!(stats.cpu_usage_ns.is_some());

    // freeze/thaw round trip on the real freezer.
    g.cg().freeze().unwrap();
    assert_eq!(read(&dir("freezer"), "freezer.state"), "FROZEN");
    g.cg().thaw().unwrap();
    assert_eq!(read(&dir("freezer"), "freezer.state"), "THAWED");

    // Delete while a process remains must fail (EBUSY after the patience), and work after.
    let all_dirs: Vec<PathBuf> = g
        .cg()
        .distinct_dirs()
        .iter()
        .map(|d| d.to_path_buf())
        .collect();
    g.cg().kill_all(SIGKILL).unwrap();
    let out = g.wait_output(idx);
    assert!(!out.status.success());
    g.cg().delete().expect("delete");
    for d in &all_dirs {
        assert!(!d.exists(), "{} still exists", d.display());
    }
    g.cg().delete().expect("delete is idempotent");
}

/// Which of `files` a new cgroup below `root` has: one is made, looked at and removed.
fn offered_files(root: &CgroupRoot, files: &[&str]) -> Vec<bool> {
    let cg = Cgroup::create(root, &unique_path(), &Resources::default()).expect("probe cgroup");
    let dir = cg.dir("memory").expect("v2 dir").to_path_buf();
    let out = files.iter().map(|f| dir.join(f).exists()).collect();
    cg.delete().expect("delete probe cgroup");
    out
}

/// A fixed whole disk with a driver behind it (not a partition, loop, RAM, zram or CD-ROM
/// device), for an io.max rule.
fn whole_disk() -> Option<String> {
    let entries = std::fs::read_dir("/sys/dev/block").ok()?;
    let fixed =
        |p: &Path| std::fs::read_to_string(p.join("removable")).is_ok_and(|r| r.trim() == "0");
    let mut disks: Vec<String> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| !p.join("partition").exists() && p.join("device").exists() && fixed(p))
        .filter_map(|p| p.file_name()?.to_str().map(String::from))
        .collect();
    disks.sort();
    disks.into_iter().next()
}

fn v2_io(bfq: bool, io_weight: bool, io_max: bool) -> Option<BlockIo> {
    let mut b = BlockIo::default();
    if bfq || io_weight {
        b.weight = Some(300);
    } else {
        eprintln!("skipped: v2 I/O weight (neither io.bfq.weight nor io.weight is offered)");
    }
    match whole_disk().and_then(|d| {
        let (major, minor) = d.split_once(':')?;
        Some((major.parse().ok()?, minor.parse().ok()?))
    }) {
        Some((major, minor)) if io_max => b.throttle_read_bps_device.push(ThrottleDevice {
            major,
            minor,
            rate: 1 << 20,
        }),
        _ => eprintln!("skipped: v2 io.max (no io.max, or no whole disk to limit)"),
    }
    (b != BlockIo::default()).then_some(b)
}

/// Every v2 limit hull writes, read back from the kernel's files, on a pure-v2 host (the VM
/// tier); what the host does not offer is named as skipped.
#[test]
fn v2_limits_are_written_and_processes_join() {
    if !root_tests_enabled() {
        return;
    }
    let what = "memory.max, memory.swap.max, cpu.max, cpu.weight, pids.max, cpuset, io, freeze";
    let Some((root, offered)) = detect_v2(what) else {
        return;
    };
    let has = |c: &str| offered.iter().any(|o| o == c);
    if !["memory", "cpu", "pids"].iter().all(|c| has(c)) {
        eprintln!("skipped: {what} (the root offers only {offered:?})");
        return;
    }
    let files = ["memory.swap.max", "io.bfq.weight", "io.weight", "io.max"];
    let [swap, bfq, io_weight, io_max] = offered_files(&root, &files)[..] else {
        unreachable!()
    };
    if !swap {
        eprintln!("skipped: memory.swap.max (the kernel has no swap accounting)");
    }
    let mut cpu = Cpu {
        shares: Some(512),
        quota: Some(50_000),
        period: Some(100_000),
        ..Cpu::default()
    };
    if has("cpuset") {
        cpu.cpus = Some("0".into());
        cpu.mems = Some("0".into());
    } else {
        eprintln!("skipped: v2 cpuset (controller not offered)");
    }
    let block_io = v2_io(bfq, io_weight, io_max);
    let r = Resources {
        memory: Some(Memory {
            limit: Some(64 << 20),
            swap: swap.then_some(96 << 20),
            ..Memory::default()
        }),
        cpu: Some(cpu),
        pids: Some(Pids { limit: 32 }),
        block_io: block_io.clone(),
        ..Resources::default()
    };
    let mut g = Guard::new(Cgroup::create(&root, &unique_path(), &r).expect("create v2"));
    let dir = g.cg().dir("memory").expect("v2 dir").to_path_buf();
    let mut want = vec![
        ("memory.max", "67108864".to_string()),
        ("cpu.max", "50000 100000".into()),
        // cpu.shares 512 on cpu.weight's scale: 1 + (512 - 2) * 9999 / 262142.
        ("cpu.weight", "20".into()),
        ("pids.max", "32".into()),
    ];
    if swap {
        // memory+swap 96 MiB - memory 64 MiB: v2's file holds the swap alone.
        want.push(("memory.swap.max", "33554432".into()));
    }
    if has("cpuset") {
        want.push(("cpuset.cpus", "0".into()));
        want.push(("cpuset.mems", "0".into()));
    }
    for (file, value) in want {
        assert_eq!(read(&dir, file), value, "{file}");
    }
    if let Some(b) = &block_io {
        if b.weight.is_some() {
            let (file, value) = if bfq {
                ("io.bfq.weight", "default 300")
            } else {
                ("io.weight", "default 2930")
            };
            assert_eq!(read(&dir, file).lines().next(), Some(value), "{file}");
        }
        if let Some(t) = b.throttle_read_bps_device.first() {
            let max = read(&dir, "io.max");
            let rule = format!("{}:{} rbps=1048576 ", t.major, t.minor);
            assert!(max.starts_with(&rule), "{max}");
        }
    }
    let idx = g.spawn_inside("exec /bin/busybox sleep 30");
    let pid = g.pid(idx);
    let deadline = Instant::now() + Duration::from_secs(5);
    while !g.cg().pids().unwrap().contains(&pid) {
        assert!(Instant::now() < deadline, "pid {pid} never showed up");
        std::thread::sleep(Duration::from_millis(10));
    }
    let stats = g.cg().stats().unwrap();
    assert_eq!(stats.memory_limit, Some(64 << 20), "{stats:?}");
    assert_eq!(stats.pids_limit, Some(32), "{stats:?}");
    assert!(stats.pids_current.unwrap() >= 1, "{stats:?}");
    g.cg().freeze().unwrap();
    assert!(read(&dir, "cgroup.events").contains("frozen 1"));
    g.cg().thaw().unwrap();
    assert!(read(&dir, "cgroup.events").contains("frozen 0"));
    g.cg().kill_all(SIGKILL).unwrap();
    let out = g.wait_output(idx);
    assert_eq!(out.status.signal(), Some(SIGKILL), "{out:?}");
    g.cg().delete().expect("delete");
    assert!(!dir.exists(), "{} still exists", dir.display());
}

#[test]
fn oom_kill_is_detected() {
    if !root_tests_enabled() {
        return;
    }
    let Some(root) = detect_limits_host("an OOM kill") else {
        return;
    };
    // memory+swap equal to memory: no escape into swap even if the host has some.
    let swap = root.supports_swap_limit().then_some(16 << 20);
    let r = Resources {
        memory: Some(Memory {
            limit: Some(16 << 20),
            swap,
            ..Memory::default()
        }),
        ..Resources::default()
    };
    let mut g = Guard::new(Cgroup::create(&root, &unique_path(), &r).expect("create"));
    assert!(!g.cg().oom_killed().unwrap());
    // The shell keeps the whole 64 MiB command substitution in memory.
    let idx = g.spawn_inside("x=$(head -c 67108864 /dev/zero | tr '\\0' a); echo survived");
    let out = g.wait_output(idx);
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("survived"),
        "allocation was not stopped: {out:?}"
    );
    // What `hull run` reports as 137 (128 + SIGKILL).
    assert_eq!(out.status.signal(), Some(SIGKILL), "{out:?}");
    assert!(g.cg().oom_killed().unwrap(), "oom_kill not counted");
    if root.version() == CgroupVersion::V2 {
        let dir = g.cg().dir("memory").expect("v2 dir").to_path_buf();
        let events = read(&dir, "memory.events");
        assert!(
            events
                .lines()
                .any(|l| l.starts_with("oom_kill ") && l != "oom_kill 0"),
            "{events}"
        );
    }
}

#[test]
fn pids_limit_stops_forks() {
    if !root_tests_enabled() {
        return;
    }
    let Some(root) = detect_limits_host("a pids limit") else {
        return;
    };
    let r = Resources {
        pids: Some(Pids { limit: 4 }),
        ..Resources::default()
    };
    let mut g = Guard::new(Cgroup::create(&root, &unique_path(), &r).expect("create"));
    // The shell is one task; it tries to start 8 sleepers. Their stdio goes to /dev/null so
    // they do not hold our pipes open; the guard kills them through the cgroup.
    let idx = g.spawn_inside(
        "for i in 1 2 3 4 5 6 7 8; do /bin/busybox sleep 30 </dev/null >/dev/null 2>&1 & done; \
         /bin/busybox sleep 1",
    );
    let deadline = Instant::now() + Duration::from_millis(600);
    while Instant::now() < deadline {
        let n = g.cg().pids().unwrap().len();
        assert!(n <= 4, "{n} processes in a cgroup limited to 4");
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = g.wait_output(idx);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("fork"),
        "no fork failure reported: {stderr}"
    );
}

#[test]
fn v1_device_deny_blocks_open() {
    if !root_tests_enabled() {
        return;
    }
    let Some(root) = detect_v1("the devices controller") else {
        return;
    };
    let r = Resources {
        devices: vec![deny_all(), allow("c", 1, 5)], // only /dev/zero
        ..Resources::default()
    };
    let mut g = Guard::new(Cgroup::create(&root, &unique_path(), &r).expect("create"));
    let idx = g.spawn_inside(
        "if cat /dev/null; then echo null-open; else echo null-denied; fi; \
         if head -c 1 /dev/zero >/dev/zero; then echo zero-open; fi",
    );
    let out = g.wait_output(idx);
    let stdout = String::from_utf8_lossy(&out.stdout);
    // `>/dev/zero` needs write access to c 1:5, which is allowed; /dev/null is c 1:3.
    assert!(stdout.contains("null-denied"), "{out:?}");
    assert!(stdout.contains("zero-open"), "{out:?}");
}

#[test]
fn kernel_rejections_name_file_and_value_and_clean_up() {
    if !root_tests_enabled() {
        return;
    }
    let Some(root) = detect_limits_host("the kernel's refusal of a CFS quota") else {
        return;
    };
    // CFS refuses quotas below 1 ms (EINVAL).
    let r = Resources {
        cpu: Some(Cpu {
            quota: Some(500),
            period: Some(100_000),
            ..Cpu::default()
        }),
        ..Resources::default()
    };
    let path = unique_path();
    let err = Cgroup::create(&root, &path, &r).unwrap_err();
    let (dir, file) = match root.layout() {
        Layout::V1(map) => (map["cpu"].mount.clone(), "cpu.cfs_quota_us=500"),
        Layout::V2(h) => (h.mount.clone(), "cpu.max=500 100000"),
    };
    let cpu_dir = dir.join(path.trim_start_matches('/'));
    assert_eq!(
        err.to_string(),
        format!("write {file} in {}", cpu_dir.display())
    );
    assert!(matches!(err, CgroupError::Write { .. }));
    assert!(
        !cpu_dir.exists(),
        "failed create left {}",
        cpu_dir.display()
    );
    // One byte can never work.
    let one = Resources {
        memory: Some(Memory {
            limit: Some(1),
            ..Memory::default()
        }),
        ..Resources::default()
    };
    let err = Cgroup::create(&root, &path, &one).unwrap_err();
    assert!(err.to_string().contains("below one page"), "{err}");
}

/// The first cgroup2 mount: `/sys/fs/cgroup` on a pure-v2 host, `/sys/fs/cgroup/unified` on a
/// hybrid one. The hybrid one has no memory/pids controllers, but BPF device filters are not a
/// controller and cgroup directories need none, so the device filter and the making of trees
/// are tested for real on either.
fn cgroup2_mount() -> Option<PathBuf> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    mountinfo.lines().find_map(|l| {
        let (left, right) = l.split_once(" - ")?;
        let mount = left.split(' ').nth(4)?;
        right.starts_with("cgroup2 ").then(|| PathBuf::from(mount))
    })
}

/// A node in `dir` for a block device of this host that the host itself can read (a disk
/// before a loop or RAM device), as `(major, minor)`: the cgroup must deny what works outside.
fn host_block_device(dir: &Path) -> Option<(i64, i64)> {
    let mut devs: Vec<(i64, i64)> = std::fs::read_dir("/sys/dev/block")
        .ok()?
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let (major, minor) = name.split_once(':')?;
            Some((major.parse().ok()?, minor.parse().ok()?))
        })
        .collect();
    devs.sort_by_key(|&(major, minor)| (major == 7 || major == 1, major, minor));
    let node = dir.join("host-blk");
    devs.into_iter().find(|(major, minor)| {
        let _ = std::fs::remove_file(&node);
        let made = Command::new("/bin/busybox")
            .arg("mknod")
            .arg(&node)
            .args(["b", &major.to_string(), &minor.to_string()])
            .status()
            .is_ok_and(|s| s.success());
        made && std::fs::File::open(&node).is_ok()
    })
}

/// Docker's device rules in short: deny everything, allow mknod of any node, allow the default
/// character devices (here /dev/null and /dev/zero).
fn docker_like_rules() -> Vec<DeviceRule> {
    let mknod = |kind: &str| DeviceRule {
        allow: true,
        kind: Some(kind.into()),
        access: Some("m".into()),
        ..DeviceRule::default()
    };
    vec![
        deny_all(),
        mknod("c"),
        mknod("b"),
        allow("c", 1, 3),
        allow("c", 1, 5),
    ]
}

/// The BPF device filter (regression: BPF_PROG_ATTACH used to fail with EINVAL because the
/// attr's padding, the kernel's `relative_fd` since 6.6, was left uninitialised). A block
/// device may be made with mknod, as Docker allows, but neither read nor opened for writing
/// (nothing is ever written: `true >>` opens in append mode and closes), while the default
/// devices still work.
#[test]
fn v2_device_filter_denies_block_devices_and_allows_defaults() {
    if !root_tests_enabled() {
        return;
    }
    let Some(mount) = cgroup2_mount() else {
        eprintln!("skipped: the v2 device filter (no cgroup2 mount)");
        return;
    };
    let tmp = tempfile::tempdir().expect("temp dir");
    let Some((major, minor)) = host_block_device(tmp.path()) else {
        eprintln!("skipped: the v2 device filter on block devices (no block device we may read)");
        return;
    };
    let node = tmp.path().join("blk");
    // Declared first so that it drops last, after the guard removed the cgroup.
    let _subtree = common::RestoreSubtreeControl::new(&mount);
    let root = CgroupRoot::v2_at(&mount);
    let r = Resources {
        devices: docker_like_rules(),
        ..Resources::default()
    };
    let mut g = Guard::new(Cgroup::create(&root, &unique_path(), &r).expect("create v2"));
    let script = format!(
        "mknod {n} b {major} {minor} && echo mknod-ok; \
         if head -c 1 {n} >/dev/null; then echo blk-read-open; else echo blk-read-denied; fi; \
         if true >>{n}; then echo blk-write-open; else echo blk-write-denied; fi; \
         if cat /dev/null; then echo null-open; fi; \
         if head -c 1 /dev/zero >/dev/null; then echo zero-open; fi; \
         if head -c 1 /dev/kmsg; then echo kmsg-open; else echo kmsg-denied; fi",
        n = node.display()
    );
    let idx = g.spawn_inside(&script);
    let out = g.wait_output(idx);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    for want in [
        "mknod-ok",
        "blk-read-denied",
        "blk-write-denied",
        "null-open",
        "zero-open",
        "kmsg-denied",
    ] {
        assert!(stdout.lines().any(|l| l == want), "{want}: {out:?}");
    }
    assert!(stderr.contains("Operation not permitted"), "{stderr}");
    // The same node is readable outside the cgroup: the filter, not the node, denied it.
    assert!(
        std::fs::File::open(&node).is_ok(),
        "host cannot open {node:?}"
    );
}

/// Regression (seen on a pure v2 host): a create failed with `write cgroup.subtree_control=… in
/// …/hull: No such device` because another container's removal deleted the shared parent
/// between this create's mkdir of it and its writes to it. Here creates race a loop that
/// removes the parent whenever it is empty, as `hull rm` does after each container.
#[test]
fn v2_create_survives_the_shared_parent_vanishing() {
    if !root_tests_enabled() {
        return;
    }
    let Some(mount) = cgroup2_mount() else {
        eprintln!("skipped: the shared-parent race on v2 (no cgroup2 mount)");
        return;
    };
    let _subtree = common::RestoreSubtreeControl::new(&mount);
    let root = CgroupRoot::v2_at(&mount);
    let parent = unique_path();
    let _cleanup = RemoveTree(mount.join(&parent[1..]));
    let stop = std::sync::atomic::AtomicBool::new(false);
    let removed = AtomicU32::new(0);
    std::thread::scope(|s| {
        s.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                if hull_runtime::cgroups::remove_if_empty(&root, &parent).unwrap() {
                    removed.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
        // Until the parent was removed often enough (the remover shares 2 cores with us).
        let creator = s.spawn(|| {
            let deadline = Instant::now() + Duration::from_secs(20);
            let mut i = 0;
            while removed.load(Ordering::Relaxed) < 50 && Instant::now() < deadline {
                let path = format!("{parent}/c{i}");
                let cg = Cgroup::create(&root, &path, &Resources::default());
                let cg = cg.unwrap_or_else(|e| panic!("create {path}: {e}"));
                cg.delete().unwrap();
                std::thread::yield_now();
                i += 1;
            }
            i
        });
        let result = creator.join();
        stop.store(true, Ordering::Relaxed);
        match result {
            Ok(n) => eprintln!("{n} creates"),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    });
    // Without removals in between, nothing raced.
    let removed = removed.load(Ordering::Relaxed);
    eprintln!("the parent was removed {removed} times meanwhile");
    assert!(removed > 0, "the parent was never removed");
}

/// Removes a cgroup directory and whatever child directories are left in it, on drop.
struct RemoveTree(PathBuf);

impl Drop for RemoveTree {
    fn drop(&mut self) {
        if let Ok(entries) = std::fs::read_dir(&self.0) {
            for e in entries.flatten().filter(|e| e.path().is_dir()) {
                let _ = std::fs::remove_dir(e.path());
            }
        }
        let _ = std::fs::remove_dir(&self.0);
    }
}
