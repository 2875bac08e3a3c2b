//! Cgroup writes against fake cgroupfs trees in temp dirs. The fake holds the directories and
//! empty files the kernel would have; the code under test never creates files (no O_CREAT), so
//! a write to a file the kernel would not have fails here as it would there.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use hull_oci::runtime::{
    BlockIo, Cpu, DeviceRule, HugepageLimit, InterfacePriority, Memory, Network, Pids, Resources,
    ThrottleDevice, WeightDevice,
};

use super::*;

const V2_LEAF_FILES: &[&str] = &[
    "cgroup.controllers",
    "cgroup.subtree_control",
    "cgroup.procs",
    "cgroup.freeze",
    "cgroup.events",
    "cpu.weight",
    "cpu.max",
    "cpu.stat",
    "cpuset.cpus",
    "cpuset.mems",
    "io.stat",
    "memory.max",
    "memory.swap.max",
    "memory.low",
    "memory.current",
    "memory.events",
    "memory.stat",
    "pids.max",
    "pids.current",
];

fn touch(dir: &Path, files: &[&str]) {
    fs::create_dir_all(dir).unwrap();
    for f in files {
        fs::write(dir.join(f), "").unwrap();
    }
}

fn content(dir: &Path, file: &str) -> String {
    fs::read_to_string(dir.join(file)).unwrap()
}

/// A v2 tree: the root offers controllers; `levels` (e.g. ["hull", "hull/abc"]) exist with the
/// files a kernel would show once the parents enabled every controller.
fn fake_v2(levels: &[&str]) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    touch(
        root,
        &[
            "cgroup.controllers",
            "cgroup.subtree_control",
            "cgroup.procs",
        ],
    );
    fs::write(
        root.join("cgroup.controllers"),
        "cpuset cpu io memory hugetlb pids rdma misc\n",
    )
    .unwrap();
    for level in levels {
        let dir = root.join(level);
        touch(&dir, V2_LEAF_FILES);
        fs::write(
            dir.join("cgroup.controllers"),
            "cpuset cpu io memory pids\n",
        )
        .unwrap();
    }
    tmp
}

fn limits() -> Resources {
    Resources {
        memory: Some(Memory {
            limit: Some(32 << 20),
            swap: Some(64 << 20),
            reservation: Some(16 << 20),
            ..Memory::default()
        }),
        cpu: Some(Cpu {
            shares: Some(1024),
            quota: Some(50_000),
            period: Some(100_000),
            cpus: Some("1".into()),
            mems: Some("0".into()),
            ..Cpu::default()
        }),
        pids: Some(Pids { limit: 64 }),
        ..Resources::default()
    }
}

#[test]
fn v2_create_enables_controllers_and_writes_limits() {
    let tmp = fake_v2(&["hull", "hull/abc"]);
    let root = CgroupRoot::v2_at(tmp.path());
    let cg = Cgroup::create(&root, "/hull/abc", &limits()).unwrap();
    let leaf = tmp.path().join("hull/abc");
    assert_eq!(cg.distinct_dirs(), [leaf.as_path()]);
    let all = "+cpu +cpuset +io +memory +pids";
    assert_eq!(
        content(tmp.path(), "cgroup.subtree_control"),
        "+cpu +cpuset +hugetlb +io +memory +pids"
    );
    assert_eq!(
        content(&tmp.path().join("hull"), "cgroup.subtree_control"),
        all
    );
    assert_eq!(
        content(&leaf, "cgroup.subtree_control"),
        "",
        "the leaf keeps none"
    );
    for (file, want) in [
        ("memory.max", "33554432"),
        ("memory.swap.max", "33554432"),
        ("memory.low", "16777216"),
        ("cpu.weight", "39"),
        ("cpu.max", "50000 100000"),
        ("cpuset.cpus", "1"),
        ("cpuset.mems", "0"),
        ("pids.max", "64"),
    ] {
        assert_eq!(content(&leaf, file), want, "{file}");
    }
}

#[test]
fn v2_enables_only_missing_and_available_controllers() {
    let tmp = fake_v2(&["hull", "hull/abc"]);
    fs::write(tmp.path().join("cgroup.controllers"), "memory pids\n").unwrap();
    fs::write(
        tmp.path().join("hull/cgroup.subtree_control"),
        "memory pids\n",
    )
    .unwrap();
    fs::write(tmp.path().join("hull/cgroup.controllers"), "memory pids\n").unwrap();
    let root = CgroupRoot::v2_at(tmp.path());
    Cgroup::create(&root, "/hull/abc", &Resources::default()).unwrap();
    assert_eq!(
        content(tmp.path(), "cgroup.subtree_control"),
        "+memory +pids"
    );
    assert_eq!(
        content(&tmp.path().join("hull"), "cgroup.subtree_control"),
        "memory pids\n"
    );
}

#[test]
fn v2_write_error_names_file_value_and_dir() {
    let tmp = fake_v2(&["hull", "hull/abc"]);
    fs::remove_file(tmp.path().join("hull/abc/memory.max")).unwrap();
    let root = CgroupRoot::v2_at(tmp.path());
    let err = Cgroup::create(&root, "/hull/abc", &limits()).unwrap_err();
    let dir = tmp.path().join("hull/abc");
    assert_eq!(
        err.to_string(),
        format!("write memory.max=33554432 in {}", dir.display())
    );
    assert_eq!(err.kind(), io::ErrorKind::NotFound);
}

#[test]
fn v2_swap_without_accounting_is_a_clear_error() {
    let tmp = fake_v2(&["hull", "hull/abc"]);
    fs::remove_file(tmp.path().join("hull/abc/memory.swap.max")).unwrap();
    let root = CgroupRoot::v2_at(tmp.path());
    let err = Cgroup::create(&root, "/hull/abc", &limits()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "memory.swap.max=33554432: the host has no swap accounting, CONFIG_MEMCG_SWAP with \
         swapaccount=1 (cgroup v2 memory.swap.max missing)"
    );
    assert_eq!(err.kind(), io::ErrorKind::Unsupported);
}

#[test]
fn v2_unified_entries_are_raw_files() {
    let tmp = fake_v2(&["hull", "hull/abc"]);
    touch(&tmp.path().join("hull/abc"), &["memory.high"]);
    let mut r = Resources::default();
    r.unified.insert("memory.high".into(), "1000000".into());
    let root = CgroupRoot::v2_at(tmp.path());
    Cgroup::create(&root, "/hull/abc", &r).unwrap();
    assert_eq!(
        content(&tmp.path().join("hull/abc"), "memory.high"),
        "1000000"
    );
}

#[test]
fn v2_device_rules_try_to_attach_a_program() {
    // A temp dir is no cgroup: the attach (or, unprivileged, the load) must fail, naming the
    // directory. That it is attempted at all is what this checks; the program is tested as data
    // in devices.rs and loaded for real in the root tests.
    let tmp = fake_v2(&["hull", "hull/abc"]);
    let r = Resources {
        devices: vec![DeviceRule {
            allow: false,
            access: Some("rwm".into()),
            ..DeviceRule::default()
        }],
        ..Resources::default()
    };
    let root = CgroupRoot::v2_at(tmp.path());
    let err = Cgroup::create(&root, "/hull/abc", &r).unwrap_err();
    assert!(matches!(err, CgroupError::DeviceFilter { .. }), "{err}");
}

/// v2: below our cgroup's parent, since ours holds us and so cannot pass controllers down
/// (a systemd service's leaf, say); v1 has no such rule and uses our own.
#[test]
fn relative_paths_are_below_our_parent_on_v2_and_our_own_on_v1() {
    let tmp = fake_v2(&["system.slice", "system.slice/ctr"]);
    let root = CgroupRoot::v2_at(tmp.path()).with_own_cgroups("0::/system.slice/hull.service\n");
    let cg = Cgroup::create(&root, "ctr", &Resources::default()).unwrap();
    assert_eq!(
        cg.distinct_dirs(),
        [tmp.path().join("system.slice/ctr").as_path()]
    );
    let at_root = CgroupRoot::v2_at(tmp.path()).with_own_cgroups("0::/\n");
    let cg = Cgroup::open(&at_root, "system.slice").unwrap();
    assert_eq!(
        cg.distinct_dirs(),
        [tmp.path().join("system.slice").as_path()]
    );
    let cg = Cgroup::open(&root, "/system.slice").unwrap();
    assert_eq!(
        cg.distinct_dirs(),
        [tmp.path().join("system.slice").as_path()]
    );
    let (tmp, v1) = fake_v1(&["me", "me/ctr"], false);
    let v1 = v1.with_own_cgroups("5:pids:/me\n4:memory:/me\n");
    let cg = Cgroup::open(&v1, "ctr").unwrap();
    assert_eq!(
        cg.dir("pids"),
        Some(tmp.path().join("pids/me/ctr").as_path())
    );
}

#[test]
fn bad_paths_are_refused() {
    let tmp = fake_v2(&[]);
    let root = CgroupRoot::v2_at(tmp.path());
    let r = Resources::default();
    let err = Cgroup::create(&root, "system.slice:hull:abc", &r).unwrap_err();
    assert!(
        err.to_string()
            .contains("needs the systemd cgroup driver (--systemd-cgroup)"),
        "{err}"
    );
    for bad in ["/hull/../../etc", "", "/", "./x"] {
        let err = Cgroup::create(&root, bad, &r).unwrap_err();
        assert!(
            matches!(err, CgroupError::InvalidPath { .. }),
            "{bad}: {err}"
        );
    }
}

#[test]
fn invalid_resources_leave_nothing_behind() {
    let tmp = fake_v2(&[]);
    let root = CgroupRoot::v2_at(tmp.path());
    let r = Resources {
        memory: Some(Memory {
            limit: Some(1),
            ..Memory::default()
        }),
        ..Resources::default()
    };
    let err = Cgroup::create(&root, "/hull/abc", &r).unwrap_err();
    assert!(err.to_string().contains("below one page"), "{err}");
    assert!(!tmp.path().join("hull").exists());
}

#[test]
fn v2_process_oom_stats_and_freeze() {
    let tmp = fake_v2(&["hull", "hull/abc"]);
    let root = CgroupRoot::v2_at(tmp.path());
    let cg = Cgroup::create(&root, "/hull/abc", &Resources::default()).unwrap();
    let leaf = tmp.path().join("hull/abc");

    cg.add_process(4242).unwrap();
    assert_eq!(content(&leaf, "cgroup.procs"), "4242");
    assert_eq!(cg.pids().unwrap(), [4242]);

    assert!(!cg.oom_killed().unwrap());
    fs::write(
        leaf.join("memory.events"),
        "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n",
    )
    .unwrap();
    assert!(cg.oom_killed().unwrap());

    fs::write(leaf.join("cpu.stat"), "usage_usec 1500\nuser_usec 1000\n").unwrap();
    fs::write(leaf.join("memory.current"), "8192\n").unwrap();
    fs::write(leaf.join("memory.max"), "max\n").unwrap();
    fs::write(leaf.join("memory.stat"), "anon 4096\ninactive_file 1024\n").unwrap();
    fs::write(leaf.join("pids.current"), "3\n").unwrap();
    fs::write(leaf.join("pids.max"), "64\n").unwrap();
    fs::write(
        leaf.join("io.stat"),
        "8:0 rbytes=10 wbytes=20 rios=1 wios=1\n",
    )
    .unwrap();
    let s = cg.stats().unwrap();
    assert_eq!(
        s,
        CgroupStats {
            cpu_usage_ns: Some(1_500_000),
            memory_usage: Some(8192),
            memory_limit: None,
            memory_inactive_file: Some(1024),
            pids_current: Some(3),
            pids_limit: Some(64),
            io_read_bytes: Some(10),
            io_write_bytes: Some(20),
        }
    );

    fs::write(leaf.join("cgroup.events"), "populated 1\nfrozen 1\n").unwrap();
    cg.freeze().unwrap();
    assert_eq!(content(&leaf, "cgroup.freeze"), "1");
}

#[test]
fn delete_is_idempotent() {
    let tmp = fake_v2(&[]);
    let root = CgroupRoot::v2_at(tmp.path());
    fs::create_dir(tmp.path().join("gone")).unwrap();
    let cg = Cgroup::open(&root, "/gone").unwrap();
    cg.delete().unwrap();
    assert!(!tmp.path().join("gone").exists());
    cg.delete().unwrap();
    assert!(matches!(
        Cgroup::open(&root, "/gone"),
        Err(CgroupError::NotFound { .. })
    ));
}

/// A v1 tree: cpu and cpuacct co-mounted, plus cpuset, memory, pids, devices. `levels` exist
/// in every hierarchy with that hierarchy's files.
fn fake_v1(levels: &[&str], memsw: bool) -> (tempfile::TempDir, CgroupRoot) {
    let tmp = tempfile::tempdir().unwrap();
    let mut files: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    files.insert(
        "cpu,cpuacct",
        vec!["cpu.shares", "cpu.cfs_period_us", "cpu.cfs_quota_us"],
    );
    files.insert("cpuset", vec!["cpuset.cpus", "cpuset.mems"]);
    let mut memory = vec![
        "memory.limit_in_bytes",
        "memory.soft_limit_in_bytes",
        "memory.oom_control",
    ];
    if memsw {
        memory.push("memory.memsw.limit_in_bytes");
    }
    files.insert("memory", memory);
    files.insert("pids", vec!["pids.max"]);
    files.insert("devices", vec!["devices.allow", "devices.deny"]);
    let mut mounts = BTreeMap::new();
    for (hierarchy, hfiles) in &files {
        let mount = tmp.path().join(hierarchy);
        touch(&mount, &["cgroup.procs"]);
        // The root has the same files as children for memory/cpuset in a real v1 tree.
        touch(&mount, hfiles);
        for level in levels {
            touch(&mount.join(level), &["cgroup.procs"]);
            touch(&mount.join(level), hfiles);
        }
        for key in hierarchy.split(',') {
            mounts.insert(key.to_string(), mount.clone());
        }
    }
    fs::write(tmp.path().join("cpuset/cpuset.cpus"), "0-3\n").unwrap();
    fs::write(tmp.path().join("cpuset/cpuset.mems"), "0\n").unwrap();
    if memsw {
        fs::write(tmp.path().join("memory/memory.memsw.limit_in_bytes"), "").unwrap();
    }
    (tmp, CgroupRoot::v1_at(mounts))
}

#[test]
fn v1_create_writes_every_hierarchy() {
    let (tmp, root) = fake_v1(&["hull", "hull/abc"], true);
    let mut r = limits();
    r.devices = vec![
        DeviceRule {
            allow: false,
            access: Some("rwm".into()),
            ..DeviceRule::default()
        },
        DeviceRule {
            allow: true,
            kind: Some("c".into()),
            major: Some(1),
            minor: Some(3),
            access: Some("rwm".into()),
        },
    ];
    let cg = Cgroup::create(&root, "/hull/abc", &r).unwrap();
    assert_eq!(
        cg.distinct_dirs().len(),
        5,
        "cpu and cpuacct share a directory"
    );
    let leaf = |h: &str| tmp.path().join(h).join("hull/abc");
    for (h, file, want) in [
        ("memory", "memory.limit_in_bytes", "33554432"),
        ("memory", "memory.memsw.limit_in_bytes", "67108864"),
        ("memory", "memory.soft_limit_in_bytes", "16777216"),
        ("cpu,cpuacct", "cpu.shares", "1024"),
        ("cpu,cpuacct", "cpu.cfs_period_us", "100000"),
        ("cpu,cpuacct", "cpu.cfs_quota_us", "50000"),
        ("cpuset", "cpuset.cpus", "1"),
        ("cpuset", "cpuset.mems", "0"),
        ("pids", "pids.max", "64"),
        ("devices", "devices.deny", "a"),
        ("devices", "devices.allow", "c 1:3 rwm"),
    ] {
        assert_eq!(content(&leaf(h), file), want, "{h}/{file}");
    }
    // The intermediate cpuset level got its parent's values so tasks can join below it.
    let mid = tmp.path().join("cpuset/hull");
    assert_eq!(content(&mid, "cpuset.cpus"), "0-3");
    assert_eq!(content(&mid, "cpuset.mems"), "0");

    cg.add_process(77).unwrap();
    for dir in cg.distinct_dirs() {
        assert_eq!(content(dir, "cgroup.procs"), "77", "{}", dir.display());
    }
}

#[test]
fn v1_swap_without_memsw_is_refused_unless_unset() {
    let (_tmp, root) = fake_v1(&["hull", "hull/abc"], false);
    assert!(!root.supports_swap_limit());
    let err = Cgroup::create(&root, "/hull/abc", &limits()).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("memory.memsw.limit_in_bytes=67108864: the host has no swap accounting"),
        "{err}"
    );
    let mut r = limits();
    r.memory.as_mut().unwrap().swap = None;
    Cgroup::create(&root, "/hull/abc", &r).unwrap();
}

#[test]
fn v1_missing_controller_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let mount = tmp.path().join("memory");
    touch(&mount, &["cgroup.procs", "memory.limit_in_bytes"]);
    touch(&mount.join("x"), &["cgroup.procs", "memory.limit_in_bytes"]);
    let root = CgroupRoot::v1_at(BTreeMap::from([("memory".to_string(), mount)]));
    let r = Resources {
        pids: Some(Pids { limit: 5 }),
        ..Resources::default()
    };
    let err = Cgroup::create(&root, "/x", &r).unwrap_err();
    assert_eq!(
        err.to_string(),
        "cgroup v1 controller pids is not mounted, needed to write pids.max"
    );
}

#[test]
fn v1_oom_and_stats() {
    let (tmp, root) = fake_v1(&["hull", "hull/abc"], true);
    let cg = Cgroup::create(&root, "/hull/abc", &Resources::default()).unwrap();
    let mem = tmp.path().join("memory/hull/abc");
    fs::write(
        mem.join("memory.oom_control"),
        "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n",
    )
    .unwrap();
    assert!(!cg.oom_killed().unwrap());
    fs::write(
        mem.join("memory.oom_control"),
        "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n",
    )
    .unwrap();
    assert!(cg.oom_killed().unwrap());
    fs::write(mem.join("memory.limit_in_bytes"), "9223372036854771712\n").unwrap();
    fs::write(mem.join("memory.usage_in_bytes"), "4096\n").unwrap();
    let s = cg.stats().unwrap();
    assert_eq!(s.memory_limit, None);
    assert_eq!(s.memory_usage, Some(4096));
    assert_eq!(s.cpu_usage_ns, None, "no cpuacct.usage in the fake");
}

#[test]
fn detect_from_texts() {
    let mountinfo = "41 31 0:38 / /x/unified rw - cgroup2 cgroup2 rw\n\
                     35 31 0:32 / /x/memory rw - cgroup cgroup rw,memory\n";
    let root = CgroupRoot::detect_from(mountinfo, "4:memory:/a\n0::/\n", Path::new("/x")).unwrap();
    assert_eq!(root.version(), CgroupVersion::V1);
    let cg = Cgroup::open(&root, "b");
    // Relative to our own memory cgroup /a; it does not exist on this machine.
    assert!(matches!(cg, Err(CgroupError::NotFound { .. })));
    assert_eq!(
        root.dirs_of("b").unwrap().clone_v1_dir("memory"),
        Some(Path::new("/x/memory/a/b").to_path_buf())
    );
    assert!(matches!(
        CgroupRoot::detect_from("", "", Path::new("/x")),
        Err(CgroupError::NotMounted)
    ));
    // A container made on the hybrid host's cgroup2 mount is found there again.
    let v2 = root.for_version(CgroupVersion::V2).unwrap();
    assert_eq!(v2.version(), CgroupVersion::V2);
    let Dirs::V2 { dir, .. } = v2.dirs_of("/hull/c").unwrap() else {
        panic!("v2 dirs expected");
    };
    assert_eq!(dir, Path::new("/x/unified/hull/c"));
    assert_eq!(
        v2.for_version(CgroupVersion::V1).unwrap().version(),
        CgroupVersion::V1
    );
    // A pure v2 host has no v1 to go back to.
    let pure = "30 23 0:26 / /x rw - cgroup2 cgroup2 rw\n";
    let root = CgroupRoot::detect_from(pure, "0::/\n", Path::new("/x")).unwrap();
    let err = root.for_version(CgroupVersion::V1).unwrap_err();
    assert_eq!(
        err.to_string(),
        "no cgroup v1 hierarchy is mounted on this host"
    );
}

impl Dirs {
    fn clone_v1_dir(&self, key: &str) -> Option<PathBuf> {
        match self {
            Dirs::V1(map) => map.get(key).map(|(_, d)| d.clone()),
            Dirs::V2 { .. } => None,
        }
    }
}

#[test]
fn v1_member_proc_cgroup_replaces_the_hierarchies_the_cgroup_spans() {
    let (_tmp, root) = fake_v1(&["hull", "hull/abc"], false);
    let cg = Cgroup::open(&root, "/hull/abc").unwrap();
    let own = vec![
        ("cpu,cpuacct".to_string(), "/".to_string()),
        ("memory".to_string(), "/user/1".to_string()),
        ("name=systemd".to_string(), "/x".to_string()),
        ("".to_string(), "/".to_string()),
    ];
    assert_eq!(
        cg.member_proc_cgroup(own),
        vec![
            ("cpu,cpuacct".to_string(), "/hull/abc".to_string()),
            ("memory".to_string(), "/hull/abc".to_string()),
            ("name=systemd".to_string(), "/x".to_string()),
            ("".to_string(), "/".to_string()),
        ]
    );
}

#[test]
fn v1_self_join_files_open_every_hierarchys_tasks_file() {
    let (tmp, root) = fake_v1(&["hull", "hull/abc"], false);
    for h in ["cpu,cpuacct", "cpuset", "memory", "pids", "devices"] {
        fs::write(tmp.path().join(h).join("hull/abc/tasks"), "").unwrap();
    }
    let cg = Cgroup::open(&root, "/hull/abc").unwrap();
    let files = cg.self_join_files().unwrap().expect("v1 has tasks files");
    assert_eq!(files.len(), 5);
    fs::remove_file(tmp.path().join("pids/hull/abc/tasks")).unwrap();
    assert!(cg.self_join_files().is_err());
}

#[test]
fn join_files_are_tasks_on_v1_and_cgroup_procs_on_v2() {
    let (tmp, root) = fake_v1(&["hull", "hull/abc"], false);
    for h in ["cpu,cpuacct", "cpuset", "memory", "pids", "devices"] {
        fs::write(tmp.path().join(h).join("hull/abc/tasks"), "").unwrap();
    }
    let cg = Cgroup::open(&root, "/hull/abc").unwrap();
    assert_eq!(cg.join_files().unwrap().len(), 5);

    let tmp = fake_v2(&["hull", "hull/abc"]);
    let root = CgroupRoot::v2_at(tmp.path());
    let cg = Cgroup::open(&root, "/hull/abc").unwrap();
    let mut files = cg.join_files().unwrap();
    assert_eq!(files.len(), 1);
    std::io::Write::write_all(&mut files[0], b"0").unwrap();
    assert_eq!(content(&tmp.path().join("hull/abc"), "cgroup.procs"), "0");
    fs::remove_file(tmp.path().join("hull/abc/cgroup.procs")).unwrap();
    assert!(cg.join_files().is_err());
}

/// A v1 tree with the hierarchies `hull stats` reads, each holding `/hull/abc`.
fn fake_v1_stats() -> (tempfile::TempDir, CgroupRoot) {
    let tmp = tempfile::tempdir().unwrap();
    let mut mounts = BTreeMap::new();
    for hierarchy in ["cpu,cpuacct", "memory", "pids", "blkio"] {
        let mount = tmp.path().join(hierarchy);
        fs::create_dir_all(mount.join("hull/abc")).unwrap();
        for key in hierarchy.split(',') {
            mounts.insert(key.to_string(), mount.clone());
        }
    }
    (tmp, CgroupRoot::v1_at(mounts))
}

#[test]
fn v1_stats_read_every_controller() {
    let (tmp, root) = fake_v1_stats();
    let cg = Cgroup::open(&root, "/hull/abc").unwrap();
    let dir = |h: &str| tmp.path().join(h).join("hull/abc");
    fs::write(dir("cpu,cpuacct").join("cpuacct.usage"), "123456789\n").unwrap();
    fs::write(dir("memory").join("memory.usage_in_bytes"), "10485760\n").unwrap();
    fs::write(dir("memory").join("memory.limit_in_bytes"), "33554432\n").unwrap();
    fs::write(
        dir("memory").join("memory.stat"),
        "cache 4096\ninactive_file 99\ntotal_cache 8192\ntotal_inactive_file 2048\n",
    )
    .unwrap();
    fs::write(dir("pids").join("pids.current"), "2\n").unwrap();
    fs::write(dir("pids").join("pids.max"), "max\n").unwrap();
    // Only the non-recursive blkio file: older kernels.
    fs::write(
        dir("blkio").join("blkio.throttle.io_service_bytes"),
        "8:0 Read 512\n8:0 Write 1024\n8:0 Total 1536\nTotal 1536\n",
    )
    .unwrap();
    assert_eq!(
        cg.stats().unwrap(),
        CgroupStats {
            cpu_usage_ns: Some(123_456_789),
            memory_usage: Some(10 << 20),
            memory_limit: Some(32 << 20),
            memory_inactive_file: Some(2048),
            pids_current: Some(2),
            pids_limit: None,
            io_read_bytes: Some(512),
            io_write_bytes: Some(1024),
        }
    );
    // The recursive file wins when present.
    fs::write(
        dir("blkio").join("blkio.throttle.io_service_bytes_recursive"),
        "8:0 Read 7\n8:0 Write 9\n",
    )
    .unwrap();
    let s = cg.stats().unwrap();
    assert_eq!((s.io_read_bytes, s.io_write_bytes), (Some(7), Some(9)));
}

#[test]
fn v2_stats_of_an_idle_cgroup_without_io() {
    let tmp = fake_v2(&["hull", "hull/abc"]);
    let root = CgroupRoot::v2_at(tmp.path());
    let cg = Cgroup::create(&root, "/hull/abc", &Resources::default()).unwrap();
    let leaf = tmp.path().join("hull/abc");
    fs::write(leaf.join("cpu.stat"), "usage_usec 0\n").unwrap();
    fs::write(leaf.join("memory.current"), "0\n").unwrap();
    fs::write(leaf.join("memory.max"), "67108864\n").unwrap();
    let _ = fs::remove_file(leaf.join("io.stat"));
    let s = cg.stats().unwrap();
    assert_eq!(s.cpu_usage_ns, Some(0));
    assert_eq!(s.memory_limit, Some(64 << 20));
    assert_eq!(s.io_read_bytes, None, "no io controller: unknown, not zero");
}

/// Optional knobs (block I/O, hugetlb, net_cls/net_prio, realtime, idle) and what a host
/// without their kernel feature answers.
#[path = "tests_host.rs"]
mod host;
