//! Optional knobs on fake cgroupfs trees: block I/O, hugetlb, net_cls/net_prio, realtime and
//! idle, and the errors of a host whose kernel lacks the feature behind a file.

use super::*;

fn throttle(major: i64, minor: i64, rate: u64) -> ThrottleDevice {
    ThrottleDevice { major, minor, rate }
}

fn block_io() -> BlockIo {
    BlockIo {
        weight: Some(300),
        leaf_weight: None,
        weight_device: vec![WeightDevice {
            major: 8,
            minor: 0,
            weight: Some(500),
            leaf_weight: None,
        }],
        throttle_read_bps_device: vec![throttle(8, 0, 1 << 20)],
        throttle_write_bps_device: vec![throttle(8, 0, 2 << 20)],
        throttle_read_iops_device: vec![throttle(8, 16, 100)],
        throttle_write_iops_device: vec![throttle(8, 16, 200)],
    }
}

/// A v1 tree of single-controller hierarchies, each level holding `files`.
fn fake_v1_with(hierarchies: &[(&str, &[&str])], level: &str) -> (tempfile::TempDir, CgroupRoot) {
    let tmp = tempfile::tempdir().unwrap();
    let mut mounts = BTreeMap::new();
    for (name, files) in hierarchies {
        let mount = tmp.path().join(name);
        touch(&mount, &["cgroup.procs"]);
        touch(&mount.join(level), &["cgroup.procs"]);
        touch(&mount.join(level), files);
        for key in name.split(',') {
            mounts.insert(key.to_string(), mount.clone());
        }
    }
    (tmp, CgroupRoot::v1_at(mounts))
}

/// Every write the test saw to `file` is its final content here; a fake file keeps the last.
const V1_BLKIO_BFQ: &[&str] = &[
    "blkio.bfq.weight",
    "blkio.bfq.weight_device",
    "blkio.throttle.read_bps_device",
    "blkio.throttle.write_bps_device",
    "blkio.throttle.read_iops_device",
    "blkio.throttle.write_iops_device",
];

#[test]
fn v1_block_io_prefers_bfq_files_and_writes_throttles() {
    let (tmp, root) = fake_v1_with(&[("blkio", V1_BLKIO_BFQ)], "c");
    let r = Resources {
        block_io: Some(block_io()),
        ..Resources::default()
    };
    Cgroup::create(&root, "/c", &r).unwrap();
    let leaf = tmp.path().join("blkio/c");
    for (file, want) in [
        ("blkio.bfq.weight", "300"),
        ("blkio.bfq.weight_device", "8:0 500"),
        ("blkio.throttle.read_bps_device", "8:0 1048576"),
        ("blkio.throttle.write_bps_device", "8:0 2097152"),
        ("blkio.throttle.read_iops_device", "8:16 100"),
        ("blkio.throttle.write_iops_device", "8:16 200"),
    ] {
        assert_eq!(content(&leaf, file), want, "{file}");
    }
}

#[test]
fn v1_block_io_falls_back_to_cfq_weight_files() {
    let files: &[&str] = &["blkio.weight", "blkio.weight_device", "blkio.leaf_weight"];
    let (tmp, root) = fake_v1_with(&[("blkio", files)], "c");
    let r = Resources {
        block_io: Some(BlockIo {
            weight: Some(300),
            leaf_weight: Some(200),
            weight_device: vec![WeightDevice {
                major: 8,
                minor: 0,
                weight: Some(500),
                leaf_weight: None,
            }],
            ..BlockIo::default()
        }),
        ..Resources::default()
    };
    Cgroup::create(&root, "/c", &r).unwrap();
    let leaf = tmp.path().join("blkio/c");
    assert_eq!(content(&leaf, "blkio.weight"), "300");
    assert_eq!(content(&leaf, "blkio.weight_device"), "8:0 500");
    assert_eq!(content(&leaf, "blkio.leaf_weight"), "200");
    assert!(
        !leaf.join("blkio.bfq.weight").exists(),
        "no file is created"
    );
}

#[test]
fn v1_hugetlb_sizes_the_host_lacks_are_refused() {
    let files: &[&str] = &["hugetlb.2MB.limit_in_bytes", "hugetlb.1GB.limit_in_bytes"];
    let (tmp, root) = fake_v1_with(&[("hugetlb", files)], "c");
    let limit = |page_size: &str| Resources {
        hugepage_limits: vec![HugepageLimit {
            page_size: page_size.into(),
            limit: 4 << 21,
        }],
        ..Resources::default()
    };
    Cgroup::create(&root, "/c", &limit("2MB")).unwrap();
    let leaf = tmp.path().join("hugetlb/c");
    assert_eq!(content(&leaf, "hugetlb.2MB.limit_in_bytes"), "8388608");
    let err = Cgroup::create(&root, "/c", &limit("64KB")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid cgroup resource hugepageLimits: the host has no 64KB huge pages"
    );
    let err = Cgroup::create(&root, "/c", &limit("../x")).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{err}");
}

#[test]
fn v1_network_class_and_priorities() {
    let hierarchies: &[(&str, &[&str])] = &[(
        "net_cls,net_prio",
        &["net_cls.classid", "net_prio.ifpriomap"],
    )];
    let (tmp, root) = fake_v1_with(hierarchies, "c");
    let r = Resources {
        network: Some(Network {
            class_id: Some(0x10_0001),
            priorities: vec![InterfacePriority {
                name: "lo".into(),
                priority: 7,
            }],
        }),
        ..Resources::default()
    };
    Cgroup::create(&root, "/c", &r).unwrap();
    let leaf = tmp.path().join("net_cls,net_prio/c");
    assert_eq!(content(&leaf, "net_cls.classid"), "1048577");
    assert_eq!(content(&leaf, "net_prio.ifpriomap"), "lo 7");
    assert!(root.ignored_resources(&r).is_empty());
    // Without the controllers mounted, as on many hosts: a clear error, as runc gives.
    let (_tmp, bare) = fake_v1_with(&[("pids", &["pids.max"])], "c");
    let err = Cgroup::create(&bare, "/c", &r).unwrap_err();
    assert_eq!(
        err.to_string(),
        "cgroup v1 controller net_cls is not mounted, needed to write net_cls.classid"
    );
}

#[test]
fn v1_cpu_realtime_idle_and_memory_extras() {
    let hierarchies: &[(&str, &[&str])] = &[
        (
            "cpu",
            &["cpu.rt_period_us", "cpu.rt_runtime_us", "cpu.idle"],
        ),
        (
            "memory",
            &[
                "memory.swappiness",
                "memory.oom_control",
                "memory.soft_limit_in_bytes",
            ],
        ),
    ];
    let (tmp, root) = fake_v1_with(hierarchies, "c");
    let r = Resources {
        cpu: Some(Cpu {
            realtime_period: Some(100_000),
            realtime_runtime: Some(20_000),
            idle: Some(1),
            ..Cpu::default()
        }),
        memory: Some(Memory {
            reservation: Some(8 << 20),
            swappiness: Some(10),
            disable_oom_killer: Some(true),
            kernel: Some(64 << 20),
            kernel_tcp: Some(8 << 20),
            ..Memory::default()
        }),
        ..Resources::default()
    };
    Cgroup::create(&root, "/c", &r).unwrap();
    let cpu = tmp.path().join("cpu/c");
    assert_eq!(content(&cpu, "cpu.rt_period_us"), "100000");
    assert_eq!(content(&cpu, "cpu.rt_runtime_us"), "20000");
    assert_eq!(content(&cpu, "cpu.idle"), "1");
    let mem = tmp.path().join("memory/c");
    assert_eq!(content(&mem, "memory.swappiness"), "10");
    assert_eq!(content(&mem, "memory.oom_control"), "1");
    assert_eq!(content(&mem, "memory.soft_limit_in_bytes"), "8388608");
    let warnings = root.ignored_resources(&r);
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(warnings[0].contains("memory.kernel "), "{warnings:?}");
    assert!(warnings[1].contains("memory.kernelTCP"), "{warnings:?}");
}

#[test]
fn v2_block_io_uses_io_weight_without_bfq_and_io_max() {
    let tmp = fake_v2(&["hull", "hull/abc"]);
    touch(&tmp.path().join("hull/abc"), &["io.weight", "io.max"]);
    let root = CgroupRoot::v2_at(tmp.path());
    let mut b = block_io();
    b.weight_device.clear();
    b.throttle_read_bps_device.clear();
    b.throttle_write_bps_device.clear();
    b.throttle_read_iops_device.clear();
    let r = Resources {
        block_io: Some(b),
        ..Resources::default()
    };
    Cgroup::create(&root, "/hull/abc", &r).unwrap();
    let leaf = tmp.path().join("hull/abc");
    // 300 on blkio's 10..=1000 scale is 2930 on io.weight's 1..=10000.
    assert_eq!(content(&leaf, "io.weight"), "2930");
    assert_eq!(content(&leaf, "io.max"), "8:16 wiops=200");
    assert!(!leaf.join("io.bfq.weight").exists());
}

#[test]
fn v2_block_io_prefers_bfq_weight() {
    let tmp = fake_v2(&["hull", "hull/abc"]);
    touch(
        &tmp.path().join("hull/abc"),
        &["io.bfq.weight", "io.weight"],
    );
    let root = CgroupRoot::v2_at(tmp.path());
    let r = Resources {
        block_io: Some(BlockIo {
            weight: Some(300),
            ..BlockIo::default()
        }),
        ..Resources::default()
    };
    Cgroup::create(&root, "/hull/abc", &r).unwrap();
    let leaf = tmp.path().join("hull/abc");
    assert_eq!(content(&leaf, "io.bfq.weight"), "300");
    assert_eq!(content(&leaf, "io.weight"), "");
}

#[test]
fn v2_hugetlb_max_and_cpu_idle() {
    let tmp = fake_v2(&["hull", "hull/abc"]);
    let leaf = tmp.path().join("hull/abc");
    touch(&leaf, &["hugetlb.2MB.max", "cpu.idle"]);
    fs::write(leaf.join("cgroup.controllers"), "cpu hugetlb\n").unwrap();
    let root = CgroupRoot::v2_at(tmp.path());
    let r = Resources {
        hugepage_limits: vec![HugepageLimit {
            page_size: "2MB".into(),
            limit: 2 << 21,
        }],
        cpu: Some(Cpu {
            idle: Some(1),
            ..Cpu::default()
        }),
        ..Resources::default()
    };
    Cgroup::create(&root, "/hull/abc", &r).unwrap();
    let leaf = tmp.path().join("hull/abc");
    assert_eq!(content(&leaf, "hugetlb.2MB.max"), "4194304");
    assert_eq!(content(&leaf, "cpu.idle"), "1");
}

#[test]
fn v2_realtime_is_refused_and_v1_only_fields_are_ignored_with_warnings() {
    let tmp = fake_v2(&["hull", "hull/abc"]);
    let root = CgroupRoot::v2_at(tmp.path());
    let rt = Resources {
        cpu: Some(Cpu {
            realtime_runtime: Some(1000),
            ..Cpu::default()
        }),
        ..Resources::default()
    };
    let err = Cgroup::create(&root, "/hull/abc", &rt).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{err}");
    assert!(err.to_string().contains("cpu.realtime"), "{err}");
    let r = Resources {
        network: Some(Network {
            class_id: Some(1),
            priorities: vec![],
        }),
        memory: Some(Memory {
            swappiness: Some(10),
            disable_oom_killer: Some(true),
            ..Memory::default()
        }),
        block_io: Some(BlockIo {
            leaf_weight: Some(100),
            ..BlockIo::default()
        }),
        ..Resources::default()
    };
    Cgroup::create(&root, "/hull/abc", &r).unwrap();
    let warnings = root.ignored_resources(&r).join("\n");
    for what in [
        "swappiness",
        "disableOOMKiller",
        "leaf weights",
        "network classID",
    ] {
        assert!(warnings.contains(what), "{what} in {warnings}");
    }
}

/// Knobs whose files exist only with a kernel feature: the error names the knob, the feature
/// and the files looked for (this host has no BFQ, for one).
#[test]
fn missing_kernel_features_are_named() {
    let (_tmp, root) = fake_v1_with(&[("blkio", &[]), ("cpu", &["cpu.shares"])], "c");
    let weight = Resources {
        block_io: Some(BlockIo {
            weight: Some(300),
            ..BlockIo::default()
        }),
        ..Resources::default()
    };
    let err = Cgroup::create(&root, "/c", &weight).unwrap_err();
    assert_eq!(
        err.to_string(),
        "blkio.weight=300: the host has no BFQ I/O scheduler \
         (cgroup v1 blkio.bfq.weight and blkio.weight missing)"
    );
    assert_eq!(err.kind(), io::ErrorKind::Unsupported);
    let rt = Resources {
        cpu: Some(Cpu {
            realtime_runtime: Some(10_000),
            ..Cpu::default()
        }),
        ..Resources::default()
    };
    let err = Cgroup::create(&root, "/c", &rt).unwrap_err();
    assert_eq!(
        err.to_string(),
        "cpu.rt_runtime_us=10000: the host has no realtime group scheduling, \
         CONFIG_RT_GROUP_SCHED (cgroup v1 cpu.rt_runtime_us missing)"
    );
    let tmp = fake_v2(&["hull", "hull/abc"]);
    let root = CgroupRoot::v2_at(tmp.path());
    let err = Cgroup::create(&root, "/hull/abc", &weight).unwrap_err();
    assert_eq!(
        err.to_string(),
        "io.weight=2930: the host has no proportional I/O weights, the BFQ scheduler or \
         blk-iocost (cgroup v2 io.bfq.weight and io.weight missing)"
    );
}

/// v2: a controller the parent does not pass down is named, not its missing file.
#[test]
fn v2_controller_not_offered_is_named() {
    let tmp = fake_v2(&["hull", "hull/abc"]);
    let leaf = tmp.path().join("hull/abc");
    fs::write(leaf.join("cgroup.controllers"), "memory\n").unwrap();
    let root = CgroupRoot::v2_at(tmp.path());
    let r = Resources {
        pids: Some(Pids { limit: 10 }),
        ..Resources::default()
    };
    let err = Cgroup::create(&root, "/hull/abc", &r).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "cgroup v2 controller pids is not available in {} (cgroup.controllers), \
             needed to write pids.max",
            leaf.display()
        )
    );
}
