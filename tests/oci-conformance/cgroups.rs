//! `linux.cgroupsPath` and `linux.resources`, checked for real on this host's hierarchy (v1 on
//! a hybrid host, v2 with controllers in the VM tier); what the host lacks is named as skipped
//! and, where hull must refuse it, its error is checked instead.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::bundle::{facts, text, values, Bundle};
use hull_tests::require_root;

/// The v1 cgroup directory of `controller` for a container's cgroupsPath.
fn v1_file(controller: &str, path: &str, file: &str) -> String {
    let p = format!("/sys/fs/cgroup/{controller}{path}/{file}");
    std::fs::read_to_string(&p)
        .unwrap_or_else(|e| panic!("read {p}: {e}"))
        .trim()
        .to_string()
}

#[test]
fn cgroup_resources_v1() {
    require_root!();
    if !Path::new("/sys/fs/cgroup/memory").exists() {
        eprintln!("skipped: no cgroup v1 memory hierarchy (v2 is covered by unit tests)");
        return;
    }
    let mut b = Bundle::new();
    let path = format!("/hull-conformance-{}", std::process::id());
    b.linux("cgroupsPath", json!(path));
    b.linux(
        "resources",
        json!({
            "memory": {"limit": 67108864, "reservation": 33554432, "swappiness": 10},
            "cpu": {"shares": 512, "quota": 50000, "period": 100000, "cpus": "0", "mems": "0"},
            "pids": {"limit": 42},
            "devices": [{"allow": false, "access": "rwm"},
                        {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"}],
        }),
    );
    b.args(&["/probe", "cgroup", "sleep", "1000"]);
    let id = b.create("cgroups", &[]);
    assert_eq!(
        v1_file("memory", &path, "memory.limit_in_bytes"),
        "67108864"
    );
    assert_eq!(
        v1_file("memory", &path, "memory.soft_limit_in_bytes"),
        "33554432"
    );
    assert_eq!(v1_file("memory", &path, "memory.swappiness"), "10");
    assert_eq!(v1_file("cpu", &path, "cpu.shares"), "512");
    assert_eq!(v1_file("cpu", &path, "cpu.cfs_quota_us"), "50000");
    assert_eq!(v1_file("cpu", &path, "cpu.cfs_period_us"), "100000");
    assert_eq!(v1_file("cpuset", &path, "cpuset.cpus"), "0");
    assert_eq!(v1_file("pids", &path, "pids.max"), "42");
    // The spec's rule, then the nodes every container gets (as runc adds them).
    let devices = v1_file("devices", &path, "devices.list");
    assert!(devices.starts_with("c 1:3 rwm\n"), "{devices}");
    assert!(
        devices.contains("c 136:* rwm") && devices.contains("c 5:2 rwm"),
        "{devices}"
    );
    let pid = b.state(&id)["pid"].as_i64().unwrap();
    let own = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    assert!(
        own.lines()
            .any(|l| l.contains(":memory:") && l.ends_with(&path)),
        "{own}"
    );
    b.ok(&["start", &id]);
    b.ok(&["delete", "--force", &id]);
    assert!(!Path::new(&format!("/sys/fs/cgroup/memory{path}")).exists());
}

#[test]
fn cgroups_path_relative_is_below_the_runtime_cgroup() {
    require_root!();
    if !Path::new("/sys/fs/cgroup/pids").exists() {
        eprintln!("skipped: no cgroup v1 pids hierarchy");
        return;
    }
    let mut b = Bundle::new();
    let rel = format!("hull-conformance-rel-{}", std::process::id());
    b.linux("cgroupsPath", json!(rel));
    b.linux("resources", json!({"pids": {"limit": 17}}));
    b.args(&["/probe", "cgroup"]);
    let f = facts(&b.run("relative"));
    assert_eq!(f["pids_max"], "17");
    let cg = values(&b.run("relative2"), "cgroup");
    assert!(
        cg.iter()
            .any(|l| l.contains(":pids:") || l.starts_with("0::")),
        "{cg:?}"
    );
}

/// The major:minor of the block device behind `/` (a throttle rule needs a real device).
fn root_block_device() -> Option<String> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    let line = mountinfo
        .lines()
        .find(|l| l.split(' ').nth(4) == Some("/"))?;
    let dev = line.split(' ').nth(2)?.to_string();
    let (major, minor) = dev.split_once(':')?;
    // A partition's throttle goes to its whole disk; only whole disks accept rules.
    let sys = format!("/sys/dev/block/{major}:{minor}/partition");
    (!Path::new(&sys).exists()).then_some(dev)
}

/// Whether the v1 controller is mounted as its own hierarchy (or co-mounted) on this host.
fn v1_controller(controller: &str) -> Option<PathBuf> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    mountinfo
        .lines()
        .filter(|l| l.contains(" - cgroup "))
        .find(|l| {
            l.rsplit(' ')
                .next()
                .unwrap_or("")
                .split(',')
                .any(|o| o == controller)
        })
        .and_then(|l| l.split(' ').nth(4).map(PathBuf::from))
}

/// A pure cgroup v2 host (the sign runc's docs give: `/sys/fs/cgroup/cgroup.controllers`).
pub(crate) fn cgroup_v2_host() -> bool {
    Path::new("/sys/fs/cgroup/cgroup.controllers").exists()
}

/// Which of `files` a new cgroup in the v1 hierarchy mounted at `mount` has: one is made,
/// looked at and removed. Some files (the BFQ weights) never show at a hierarchy's root.
fn v1_offers(mount: &Path, files: &[&str]) -> Vec<bool> {
    let probe = mount.join(format!("hull-conformance-probe-{}", std::process::id()));
    std::fs::create_dir(&probe).unwrap_or_else(|e| panic!("mkdir {}: {e}", probe.display()));
    let offered = files.iter().map(|f| probe.join(f).exists()).collect();
    std::fs::remove_dir(&probe).unwrap_or_else(|e| panic!("rmdir {}: {e}", probe.display()));
    offered
}

/// Runs a container whose only resources are `resources` and checks that create fails with
/// `want` (the knob and the kernel feature the host lacks) and leaves nothing behind.
fn refused_for_lack_of(b: &mut Bundle, name: &str, resources: Value, want: &str) {
    b.linux("resources", resources);
    b.args(&["true"]);
    let out = b.run_output(name);
    let err = text(&out.stderr);
    assert!(!out.status.success(), "{name}: ran without {want}");
    assert!(err.contains(want), "{name}: {err}");
    let id = format!("conf-{name}-{}", std::process::id());
    assert!(!b.root().join(&id).exists(), "{name}: state left behind");
}

#[test]
fn cgroup_block_io_cpu_rt_and_memory_extras_v1() {
    require_root!();
    let (Some(blkio), Some(cpu)) = (v1_controller("blkio"), v1_controller("cpu")) else {
        eprintln!("skipped: blkio/cpu extras on cgroup v1 (no v1 blkio/cpu hierarchy)");
        return;
    };
    let Some(dev) = root_block_device() else {
        eprintln!("skipped: blkio/cpu extras on cgroup v1 (/ is not on a whole block device)");
        return;
    };
    let (major, minor) = dev.split_once(':').unwrap();
    let (major, minor): (i64, i64) = (major.parse().unwrap(), minor.parse().unwrap());
    let weights = v1_offers(&blkio, &["blkio.bfq.weight", "blkio.weight"]);
    let weight = weights.contains(&true);
    let cpu_files = v1_offers(&cpu, &["cpu.rt_runtime_us", "cpu.idle"]);
    let (rt, idle) = (cpu_files[0], cpu_files[1]);
    let mut b = Bundle::new();
    // Directly below the root: a realtime budget must come out of the parent's.
    let path = format!("/hull-conformance-extra-{}", std::process::id());
    b.linux("cgroupsPath", json!(path));
    if !weight {
        eprintln!("skipped: blkio.weight applied (the host has no BFQ); checked its error");
        refused_for_lack_of(
            &mut b,
            "noweight",
            json!({"blockIO": {"weight": 300}}),
            "blkio.weight=300: the host has no BFQ I/O scheduler \
             (cgroup v1 blkio.bfq.weight and blkio.weight missing)",
        );
    }
    if !rt {
        eprintln!("skipped: cpu.rt_* applied (no CONFIG_RT_GROUP_SCHED); checked its error");
        refused_for_lack_of(
            &mut b,
            "nort",
            json!({"cpu": {"realtimePeriod": 1000000, "realtimeRuntime": 10000}}),
            "cpu.rt_period_us=1000000: the host has no realtime group scheduling",
        );
    }
    if !idle {
        eprintln!("skipped: cpu.idle (the kernel has no cgroup SCHED_IDLE, before 5.15)");
    }
    let mut block_io = json!({
        "throttleReadBpsDevice": [{"major": major, "minor": minor, "rate": 1048576}],
        "throttleWriteIOPSDevice": [{"major": major, "minor": minor, "rate": 99}],
    });
    let mut script = "cd /sys/fs/cgroup; cat blkio/blkio.throttle.read_bps_device \
                      blkio/blkio.throttle.write_iops_device; "
        .to_string();
    let mut cpu_res = json!({});
    if rt {
        cpu_res["realtimePeriod"] = json!(1000000);
        cpu_res["realtimeRuntime"] = json!(10000);
        script.push_str("cat cpu/cpu.rt_runtime_us cpu/cpu.rt_period_us; ");
    }
    if idle {
        cpu_res["idle"] = json!(0);
    }
    script.push_str("grep oom_kill_disable memory/memory.oom_control; ");
    if weight {
        block_io["weight"] = json!(300);
        script.push_str("cat blkio/blkio.bfq.weight blkio/blkio.weight 2>/dev/null; ");
    }
    script.push_str("true");
    b.linux(
        "resources",
        json!({
            "blockIO": block_io,
            "cpu": cpu_res,
            "memory": {"disableOOMKiller": true, "kernel": 67108864, "kernelTCP": 8388608},
        }),
    );
    // From the inside, through the container's own cgroup mount (cgroup namespace).
    b.args(&["sh", "-c", &script]);
    let out = b.run_output("extras");
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stderr}");
    let mut want = vec![format!("{dev} 1048576"), format!("{dev} 99")];
    if rt {
        want.extend(["10000".to_string(), "1000000".to_string()]);
    }
    want.push("oom_kill_disable 1".into());
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[..want.len()], want, "{stdout}");
    // blkio.bfq.weight reads "default 300" with BFQ, blkio.weight "300" with CFQ.
    if weight {
        let rest = &lines[want.len()..];
        assert!(rest.iter().any(|l| l.ends_with("300")), "{stdout}");
    }
    // Kernel memory limits are gone from the kernel: ignored with a warning, as runc does.
    assert!(
        stderr.contains("memory.kernel ") && stderr.contains("memory.kernelTCP"),
        "{stderr}"
    );
    assert!(!Path::new(&format!("/sys/fs/cgroup/blkio{path}")).exists());
}

/// net_cls/net_prio: applied where v1 mounts them, a clear error where v1 does not, and on v2
/// (which has neither) a warning and the container runs, as with runc.
fn check_network_classes(b: &mut Bundle) {
    b.args(&[
        "sh",
        "-c",
        "cat /sys/fs/cgroup/net_cls/net_cls.classid 2>/dev/null; true",
    ]);
    b.linux("resources", json!({"network": {"classID": 1048577}}));
    let out = b.run_output("netcls");
    let err = text(&out.stderr);
    match (cgroup_v2_host(), v1_controller("net_cls")) {
        (true, _) => {
            assert!(out.status.success(), "{err}");
            assert!(
                err.contains("warning") && err.contains("network classID/priorities"),
                "{err}"
            );
        }
        (false, Some(_)) => {
            assert!(out.status.success(), "{err}");
            assert_eq!(text(&out.stdout).trim(), "1048577");
        }
        (false, None) => {
            assert!(!out.status.success());
            assert!(err.contains("controller net_cls is not mounted"), "{err}");
        }
    }
}

#[test]
fn cgroup_hugetlb_and_network_where_mounted_else_a_clear_error() {
    require_root!();
    let mut b = Bundle::new();
    let path = format!("/hull-conformance-net-{}", std::process::id());
    b.linux("cgroupsPath", json!(path));
    check_network_classes(&mut b);
    let sizes: Vec<String> = std::fs::read_dir("/sys/kernel/mm/hugepages")
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    // hugepages-2048kB → 2MB, the form cgroup file names use.
    let two_mb = sizes.iter().any(|s| s == "hugepages-2048kB");
    let v2 = cgroup_v2_host();
    let (file, controller) = if v2 {
        let offered = std::fs::read_to_string("/sys/fs/cgroup/cgroup.controllers").unwrap();
        let hugetlb = offered.split_whitespace().any(|c| c == "hugetlb");
        ("/sys/fs/cgroup/hugetlb.2MB.max", hugetlb)
    } else {
        let file = "/sys/fs/cgroup/hugetlb/hugetlb.2MB.limit_in_bytes";
        (file, v1_controller("hugetlb").is_some())
    };
    b.args(&["sh", "-c", &format!("cat {file}")]);
    b.linux(
        "resources",
        json!({"hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}]}),
    );
    let out = b.run_output("hugetlb");
    let err = text(&out.stderr);
    match (controller, v2) {
        (true, _) if two_mb => {
            assert!(out.status.success(), "{err}");
            assert_eq!(text(&out.stdout).trim(), "4194304");
        }
        (true, _) => assert!(err.contains("no 2MB huge pages"), "{err}"),
        (false, true) => assert!(err.contains("controller hugetlb is not available"), "{err}"),
        (false, false) => assert!(err.contains("controller hugetlb is not mounted"), "{err}"),
    }
    // A page size no host has is refused whatever is mounted.
    b.linux(
        "resources",
        json!({"hugepageLimits": [{"pageSize": "3MB", "limit": 4194304}]}),
    );
    let out = b.run_output("hugetlb3");
    assert!(!out.status.success());
    for name in ["netcls", "hugetlb", "hugetlb3"] {
        let id = format!("conf-{name}-{}", std::process::id());
        assert!(!b.root().join(&id).exists(), "{name}: state left behind");
    }
}
