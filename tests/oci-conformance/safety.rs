//! Safety (issue 12's findings): a process that never starts is an error, the last steps
//! before exec need no call a user's seccomp filter may deny, and delete or a failed create
//! leave no init or cgroup behind. Each case runs the same bundle under runc where cheap.

use std::process::Command;
use std::time::{Duration, Instant};

use hull_tests::{cgroup_dirs, container_pids, require_root};
use serde_json::json;

use crate::bundle::{text, values, Bundle};

/// Waits up to 10 s for `path` to contain `want`; returns what it holds then.
fn wait_for_output(path: &std::path::Path, want: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got = std::fs::read_to_string(path).unwrap_or_default();
        if got.contains(want) || Instant::now() > deadline {
            return got;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn seccomp_denying_close_range_still_runs_the_process() {
    require_root!();
    let mut b = Bundle::new();
    // An allowlist written before close_range existed denies it; so does this rule.
    b.linux(
        "seccomp",
        json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": ["close_range"], "action": "SCMP_ACT_ERRNO"}]}),
    );
    b.args(&["echo", "ran"]);
    let id = b.create("closerange", &[]);
    b.ok(&["start", &id]);
    let out = wait_for_output(&b.path().join("closerange.out"), "ran");
    assert_eq!(out, "ran\n", "the container's process never ran");
    let runc_id = format!("{id}-runc");
    if let Some(r) = b.runc(&["run", &runc_id]) {
        assert!(r.status.success(), "runc: {}", text(&r.stderr));
        assert_eq!(text(&r.stdout), "ran\n");
    }
}

/// init fails after `start` released it (here its execve is denied): `start` exits non-zero,
/// naming the container and the cause. (runc 1.1 prints init's error but exits 0.)
#[test]
fn exec_failure_after_start_is_an_error() {
    require_root!();
    let mut b = Bundle::new();
    b.linux(
        "seccomp",
        json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": ["execve", "execveat"], "action": "SCMP_ACT_ERRNO"}]}),
    );
    b.args(&["echo", "ran"]);
    let id = b.create("execdenied", &[]);
    let out = b.output(&["start", &id]);
    let err = text(&out.stderr);
    assert!(!out.status.success(), "start exited 0: {err}");
    assert!(err.contains(&id) && err.contains("execve"), "{err}");
    assert!(err.contains("Operation not permitted"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn delete_of_created_container_kills_init_and_removes_cgroup() {
    require_root!();
    let mut b = Bundle::new();
    b.args(&["sleep", "1000"]);
    let id = b.create("delcreated", &[]);
    let pid = b.state(&id)["pid"].as_i64().expect("pid");
    assert!(!cgroup_dirs(&id).is_empty(), "the case needs a cgroup");
    b.ok(&["delete", &id]);
    assert!(!alive(pid), "init {pid} survived delete");
    assert_eq!(cgroup_dirs(&id), Vec::<String>::new());
    assert_eq!(container_pids(&id), Vec::<String>::new());
    assert!(!b.output(&["state", &id]).status.success());
    let runc_id = format!("{id}-runc");
    if let Some(r) = b.runc(&["create", &runc_id]) {
        assert!(r.status.success(), "runc create: {}", text(&r.stderr));
        let d = b.runc(&["delete", &runc_id]).unwrap();
        assert!(d.status.success(), "runc delete: {}", text(&d.stderr));
        // runc does not wait for init to be reaped: a zombie may linger a moment.
        let live = |id: &str| -> Vec<String> {
            let pids = container_pids(id).into_iter();
            pids.filter(|p| alive(p.parse().unwrap())).collect()
        };
        assert_eq!(live(&runc_id), Vec::<String>::new());
    }
}

#[test]
fn failed_create_leaves_no_init_or_cgroup() {
    require_root!();
    let mut b = Bundle::new();
    b.args(&["/no/such/program"]);
    b.write();
    let id = b.id("createfails");
    let bundle = b.bundle();
    let out = b.output(&["create", "-b", bundle.to_str().unwrap(), &id]);
    assert!(
        !out.status.success(),
        "create of a missing program succeeded"
    );
    assert_eq!(cgroup_dirs(&id), Vec::<String>::new());
    assert_eq!(container_pids(&id), Vec::<String>::new());
    assert!(!b.root().join(&id).exists(), "state dir left behind");
}

/// Alive and not a zombie.
fn alive(pid: i64) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|s| !s.rsplit_once(')').unwrap().1.trim_start().starts_with('Z'))
}

/// This process's (the host's) mounts at `/` or below `dir`: other sessions on the host may
/// mount elsewhere meanwhile.
fn host_mounts(dir: &std::path::Path) -> Vec<String> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let dir = dir.to_str().unwrap();
    info.lines()
        .filter(|l| {
            let point = l.split(' ').nth(4).unwrap_or("");
            point == "/" || point.starts_with(dir)
        })
        .map(str::to_string)
        .collect()
}

/// Without a mount namespace init's mounts and pivot_root would act on the host's: refused
/// before anything is mounted, in one line; runc refuses the same bundle.
#[test]
fn a_spec_without_a_mount_namespace_is_refused() {
    require_root!();
    let mut b = Bundle::new();
    b.args(&["echo", "ran"]);
    let namespaces = b.config["linux"]["namespaces"].as_array().unwrap().clone();
    let kept: Vec<_> = namespaces
        .into_iter()
        .filter(|n| n["type"] != "mount")
        .collect();
    b.linux("namespaces", json!(kept));
    let before = host_mounts(b.path());
    let out = b.run_output("nomntns");
    let err = text(&out.stderr);
    assert!(
        !out.status.success(),
        "run without a mount namespace succeeded"
    );
    assert!(err.contains("mount namespace"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert_eq!(
        host_mounts(b.path()),
        before,
        "the host's mount table changed"
    );
    let runc_id = format!("conf-nomntns-runc-{}", std::process::id());
    if let Some(r) = b.runc(&["run", &runc_id]) {
        assert!(!r.status.success(), "runc ran it: {}", text(&r.stdout));
        assert_eq!(
            host_mounts(b.path()),
            before,
            "runc changed the host's mount table"
        );
    }
}

/// The container's `/` line in the probe's mountinfo.
fn root_line(out: &str) -> String {
    let lines = values(out, "mountinfo");
    let root = lines.iter().find(|l| l.split(' ').nth(4) == Some("/"));
    root.cloned().unwrap_or_else(|| panic!("no / in {lines:?}"))
}

/// rootfsPropagation shared, rshared and unbindable: the container's `/` is so, and none of its
/// mounts reach the host even with the rootfs on a shared mount (as where systemd makes the
/// host's `/` shared). runc gives the same on the same bundle.
#[test]
fn root_propagation_shared_and_unbindable_leak_nothing() {
    require_root!();
    let mut b = Bundle::new();
    // The rootfs on a shared tmpfs: the host's side of a peer group the container copies.
    let shared = b.path().join("shared");
    std::fs::create_dir(&shared).unwrap();
    let sh = |cmd: &str| {
        let ok = Command::new("sh").args(["-c", cmd]).status().unwrap();
        assert!(ok.success(), "{cmd}");
    };
    let (rootfs, dir) = (b.bundle().join("rootfs"), shared.display());
    sh(&format!(
        "mount -t tmpfs tmpfs {dir} && mount --make-shared {dir}"
    ));
    sh(&format!("cp -a {} {dir}/rootfs", rootfs.display()));
    b.config["root"]["path"] = json!(shared.join("rootfs"));
    b.args(&["/probe", "mounts"]);
    for (setting, tag) in [
        ("shared", "shared:"),
        ("rshared", "shared:"),
        ("unbindable", "unbindable"),
    ] {
        b.linux("rootfsPropagation", json!(setting));
        let before = host_mounts(b.path());
        let root = root_line(&b.run(&format!("prop-{setting}")));
        assert!(root.contains(tag), "{setting}: {root}");
        assert_eq!(host_mounts(b.path()), before, "{setting}: mounts leaked");
        let runc_id = format!("conf-prop-{setting}-runc-{}", std::process::id());
        if let Some(r) = b.runc(&["run", &runc_id]) {
            assert!(r.status.success(), "runc {setting}: {}", text(&r.stderr));
            // runc (1.1.5 here) runs all three, but its container's `/` stays private: it
            // applies the setting before it makes the rootfs's parent private. hull applies it
            // after pivot_root, to the container's own `/`; so only the outcome is compared.
            assert_eq!(host_mounts(b.path()), before, "runc {setting}: leaked");
        }
    }
}

/// A hostname without a UTS namespace of the container's own would rename the host: refused
/// in one line, the host's name unchanged; runc refuses the same bundle. (containerd's CRI asks
/// for one in a hostNetwork pod's sandbox when kubelet sets a hostname.)
#[test]
fn a_hostname_without_a_uts_namespace_is_refused() {
    require_root!();
    let mut b = Bundle::new();
    b.args(&["echo", "ran"]);
    b.config["hostname"] = json!("conf-renamed-the-host");
    let namespaces = b.config["linux"]["namespaces"].as_array().unwrap().clone();
    let kept: Vec<_> = namespaces
        .into_iter()
        .filter(|n| n["type"] != "uts")
        .collect();
    b.linux("namespaces", json!(kept));
    let before = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let _restore = RestoreHostname(before.clone());
    let out = b.run_output("nouts");
    let err = text(&out.stderr);
    let after = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_eq!(after, before, "the host's hostname changed");
    assert!(
        !out.status.success(),
        "run with a hostname and no UTS namespace succeeded"
    );
    assert!(err.contains("UTS namespace"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    let runc_id = format!("conf-nouts-runc-{}", std::process::id());
    if let Some(r) = b.runc(&["run", &runc_id]) {
        assert!(!r.status.success(), "runc ran it: {}", text(&r.stdout));
    }
}

/// Puts the host's name back if a failing runtime renamed it.
struct RestoreHostname(String);

impl Drop for RestoreHostname {
    fn drop(&mut self) {
        let now = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
        if now != self.0 {
            let _ = std::fs::write("/proc/sys/kernel/hostname", self.0.trim_end());
        }
    }
}
