//! The v2 cases of the runtime's root tests: a container on whatever cgroup2 hierarchy the
//! host has (the hybrid host's controller-less `/sys/fs/cgroup/unified`, or a pure-v2 host's
//! root with controllers in the VM tier).

use std::path::PathBuf;

use hull_oci::runtime::{Device, DeviceRule, Memory, Namespace, Pids, Process, Resources};
use hull_runtime::cgroups::{CgroupRoot, CgroupVersion};
use hull_runtime::Runtime;

use super::{common, exec_to_end, spec, wait, Bundle, Rt};

/// The cgroup2 mount of a hybrid host (or of a pure v2 one), from /proc/self/mountinfo.
fn cgroup2_mount() -> Option<PathBuf> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    info.lines().find_map(|l| {
        let (left, right) = l.split_once(" - ")?;
        let mount = left.split(' ').nth(4)?;
        right.starts_with("cgroup2 ").then(|| PathBuf::from(mount))
    })
}

/// Removes a (parent) cgroup directory on drop, once its children are gone.
struct RmdirOnDrop(PathBuf);

impl Drop for RmdirOnDrop {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir(&self.0) {
            if e.kind() != std::io::ErrorKind::NotFound {
                eprintln!("cleanup: rmdir {}: {e}", self.0.display());
            }
        }
    }
}

/// The v2 path end to end on a cgroup2 hierarchy that may have no controllers at all (this
/// host's hybrid mount): create (nested path), device filter for init and for exec'd processes,
/// pause/resume through cgroup.freeze, stats and oom_killed without controller files; a limit
/// whose controller is missing fails create, naming the file, and leaves no cgroup behind.
pub(super) fn v2_cgroup_without_controllers() {
    let Some(mount) = cgroup2_mount() else {
        eprint!("(skipped: no cgroup2 mount) ");
        return;
    };
    let parent = format!("/hull-rt-test-{}", std::process::id());
    // Declared first so that it drops last, once no cgroup below uses what it disables.
    let _subtree = common::RestoreSubtreeControl::new(&mount);
    // Declared before the runtime so that it drops after it: the containers' cgroups go first.
    let _parent = RmdirOnDrop(mount.join(&parent[1..]));
    let mut rt = Rt::new();
    rt.rt.cgroups = CgroupRoot::v2_at(&mount);
    let cg_path = format!("{parent}/v2");
    let b = Bundle::new();
    let mut s = spec(&["sleep", "100"]);
    let linux = s.linux.as_mut().unwrap();
    linux.cgroups_path = Some(cg_path.clone());
    // As Docker on a v2 host: the container sees its own cgroup as the root.
    linux.namespaces.push(Namespace {
        kind: "cgroup".into(),
        path: None,
    });
    // /dev/kmsg may be read but not written: an open for writing must fail with EPERM.
    linux.devices = vec![Device {
        kind: "c".into(),
        path: "/dev/kmsg".into(),
        major: 1,
        minor: 11,
        file_mode: Some(0o644),
        ..Device::default()
    }];
    let rule = |allow, major: Option<i64>, minor, access: &str| DeviceRule {
        allow,
        kind: major.map(|_| "c".to_string()),
        major,
        minor,
        access: Some(access.into()),
    };
    linux.resources = Some(Resources {
        devices: vec![
            rule(false, None, None, "rwm"),
            rule(true, Some(1), Some(11), "r"),
        ],
        ..Resources::default()
    });
    // exec reads the spec from the bundle.
    std::fs::write(
        b.path().join("config.json"),
        serde_json::to_vec(&s).unwrap(),
    )
    .unwrap();
    let pid = rt.create("v2", &b, s, None).unwrap();
    rt.rt.start("v2").unwrap();
    let cg = rt.rt.cgroup("v2").unwrap();
    assert_eq!(cg.version(), CgroupVersion::V2);
    assert!(cg.pids().unwrap().contains(&pid), "init not in {cg_path}");

    // `true`, not `:`: a failed redirection of a special builtin ends a non-interactive sh.
    let script = "cat /proc/self/cgroup; true < /dev/kmsg && echo kmsg-read-ok; \
                  true > /dev/kmsg && echo kmsg-write-ok; true > /dev/null && echo null-ok";
    let process = Process {
        args: ["sh", "-c", script].iter().map(|a| a.to_string()).collect(),
        env: vec!["PATH=/bin".into()],
        cwd: "/".into(),
        ..Default::default()
    };
    let (st, out) = exec_to_end(&rt, "v2", process).unwrap();
    assert_eq!(st.exit_status(), Some(0), "{out}");
    assert!(out.contains("0::/\n"), "{out}");
    assert!(
        out.contains("kmsg-read-ok") && out.contains("null-ok"),
        "{out}"
    );
    assert!(!out.contains("kmsg-write-ok"), "{out}");
    assert!(out.contains("/dev/kmsg: Operation not permitted"), "{out}");

    // state.json records v2, and a runtime that detects the host afresh (v1 on a hybrid host)
    // still finds the container's cgroup there: pause and resume go through it.
    let state_file = rt.rt.state_root.join("v2/state.json");
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&state_file).unwrap()).unwrap();
    assert_eq!(state["cgroup_version"], "v2", "{state}");
    let fresh = Runtime::new(rt.rt.state_root.clone()).unwrap();
    let again = fresh.cgroup("v2").unwrap();
    assert_eq!(again.version(), CgroupVersion::V2);
    assert_eq!(again.distinct_dirs(), cg.distinct_dirs());
    fresh.pause("v2").unwrap();
    assert_eq!(rt.rt.state("v2").unwrap().status, "paused");
    let events = std::fs::read_to_string(cg.distinct_dirs()[0].join("cgroup.events")).unwrap();
    assert!(events.contains("frozen 1"), "{events}");
    fresh.resume("v2").unwrap();
    assert_eq!(rt.rt.state("v2").unwrap().status, "running");
    let has_pids = std::fs::read_to_string(mount.join("cgroup.controllers"))
        .unwrap()
        .split_whitespace()
        .any(|c| c == "pids");
    // cpu.stat is a core file: there without the cpu controller; pids.current is not.
    let stats = cg.stats().unwrap();
    assert!(stats.cpu_usage_ns.is_some(), "{stats:?}");
    assert_eq!(stats.pids_current.is_some(), has_pids, "{stats:?}");
    assert!(!rt.rt.oom_killed("v2").unwrap());
    rt.rt.kill("v2", libc::SIGKILL, false).unwrap();
    assert_eq!(wait(pid).terminating_signal(), Some(libc::SIGKILL));
    rt.rt.delete("v2", false).unwrap();
    assert!(!mount.join(&cg_path[1..]).exists());

    // A pids limit needs the pids controller, which this hierarchy may not offer.
    if !has_pids {
        let mut s = spec(&["true"]);
        let linux = s.linux.as_mut().unwrap();
        linux.cgroups_path = Some(cg_path.clone());
        linux.resources = Some(Resources {
            pids: Some(Pids { limit: 10 }),
            ..Resources::default()
        });
        let err = rt.create("v2pids", &b, s, None).unwrap_err();
        assert!(
            format!("{:?}", err).contains("pids.max"),
            "{err}: {:?}",
            err
        );
        assert!(!mount.join(&cg_path[1..]).exists());
    }
}

/// On a cgroup2 hierarchy with the memory controller (a pure-v2 host, the VM tier): an OOM
/// kill ends init with SIGKILL (`hull run` reports 137) and is counted in memory.events.
pub(super) fn v2_oom_kill_ends_the_container() {
    let Some(mount) = cgroup2_mount() else {
        eprint!("(skipped: an OOM kill on v2, no cgroup2 mount) ");
        return;
    };
    let offered = std::fs::read_to_string(mount.join("cgroup.controllers")).unwrap();
    if !offered.split_whitespace().any(|c| c == "memory") {
        eprint!(
            "(skipped: an OOM kill on v2, {} has no memory controller) ",
            mount.display()
        );
        return;
    }
    let parent = format!("/hull-rt-oom-{}", std::process::id());
    let _subtree = common::RestoreSubtreeControl::new(&mount);
    let _parent = RmdirOnDrop(mount.join(&parent[1..]));
    let mut rt = Rt::new();
    rt.rt.cgroups = CgroupRoot::v2_at(&mount);
    let b = Bundle::new();
    // The shell keeps all of yes's endless output in memory (not /dev/zero's: sh drops NULs).
    let mut s = spec(&["sh", "-c", "x=$(yes); echo survived"]);
    let linux = s.linux.as_mut().unwrap();
    linux.cgroups_path = Some(format!("{parent}/oom"));
    // memory+swap equal to memory: no escape into swap.
    let swap = rt.rt.cgroups.supports_swap_limit().then_some(16 << 20);
    linux.resources = Some(Resources {
        memory: Some(Memory {
            limit: Some(16 << 20),
            swap,
            ..Memory::default()
        }),
        ..Resources::default()
    });
    let pid = rt.create("oom", &b, s, None).unwrap();
    let cg = rt.rt.cgroup("oom").unwrap();
    assert!(!rt.rt.oom_killed("oom").unwrap());
    rt.rt.start("oom").unwrap();
    assert_eq!(wait(pid).terminating_signal(), Some(libc::SIGKILL));
    assert!(rt.rt.oom_killed("oom").unwrap());
    let events = std::fs::read_to_string(cg.distinct_dirs()[0].join("memory.events")).unwrap();
    assert!(
        events
            .lines()
            .any(|l| l.starts_with("oom_kill ") && l != "oom_kill 0"),
        "{events}"
    );
    rt.rt.delete("oom", false).unwrap();
    assert!(!cg.distinct_dirs()[0].exists());
}
