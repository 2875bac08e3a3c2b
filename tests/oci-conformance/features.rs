//! Issue 12's "Features" findings outside the mount table: a spec edited after `create`, the
//! capability sets that must make a container fail or are ignored, and namespaces inherited or joined by path
//! for every type (runtime-tools' config_updates_without_affect, process_capabilities_fail,
//! linux_ns_itype, linux_ns_path). Each runs under runc too, with the same expectation.

use hull_tests::require_root;
use serde_json::json;

use crate::bundle::{facts, text, Bundle};

/// The inode of `/proc/<pid>/ns/<name>`, as the probe prints it.
fn ns_of(pid: i64, name: &str) -> String {
    let link = std::fs::read_link(format!("/proc/{pid}/ns/{name}")).unwrap();
    let link = link.to_string_lossy().into_owned();
    let inode = link.split_once('[').unwrap().1.trim_end_matches(']');
    inode.to_string()
}

/// Waits until `path` holds `want` (the container's output, written after start).
fn wait_for_file(path: &std::path::Path, want: &str) -> String {
    hull_tests::wait_until(&format!("{want:?} in {}", path.display()), || {
        std::fs::read_to_string(path).is_ok_and(|s| s.contains(want))
    });
    std::fs::read_to_string(path).unwrap()
}

/// After `create`, config.json may change or go: `start` runs what was read at create, and an
/// exec joins the namespaces that spec gave the container (with the edited file's, none, it
/// would run on the host).
#[test]
fn config_updates_after_create_do_not_affect_the_container() {
    require_root!();
    let mut b = Bundle::new();
    b.args(&["sh", "-c", "echo original; exec sleep 1000"]);
    let config = b.bundle().join("config.json");
    let id = b.create("cfgupdate", &[]);
    std::fs::write(&config, r#"{"ociVersion": "1.0.0"}"#).unwrap();
    b.ok(&["start", &id]);
    let out = wait_for_file(&b.path().join("cfgupdate.out"), "original");
    assert_eq!(out, "original\n");
    let pid = b.state(&id)["pid"].as_i64().expect("pid");
    let f = facts(&b.ok(&["exec", &id, "/probe", "ns"]));
    for ns in ["mnt", "pid", "net", "ipc", "uts"] {
        assert_eq!(
            f[&format!("ns.{ns}")],
            ns_of(pid, ns),
            "exec's {ns} namespace"
        );
    }
    b.ok(&["kill", &id, "KILL"]);
    hull_tests::wait_until("stopped", || b.state(&id)["status"] == "stopped");
    b.ok(&["delete", &id]);

    b.write();
    let runc_id = format!("{id}-runc");
    let Some(r) = b.runc(&["create", &runc_id]) else {
        return;
    };
    assert!(r.status.success(), "runc create: {}", text(&r.stderr));
    std::fs::write(&config, r#"{"ociVersion": "1.0.0"}"#).unwrap();
    let r = b.runc(&["start", &runc_id]).unwrap();
    assert!(r.status.success(), "runc start: {}", text(&r.stderr));
    assert_eq!(wait_for_file(&b.path().join("runc.out"), "original"), out);
    // runc's exec takes its process template from the config.json in its working directory,
    // so only start is compared.
    let _ = b.runc(&["kill", &runc_id, "KILL"]);
}

/// A capability name the kernel has no number for is dropped from the sets with one warning,
/// and the container runs without it: runc 1.1 does so ("ignoring unknown or unavailable
/// capabilities: [CAP_TEST]"), and youki's contest (process_capabilities_fail) looks for that
/// text.
#[test]
fn an_unknown_capability_is_ignored_with_a_warning() {
    require_root!();
    let mut b = Bundle::new();
    for set in ["bounding", "effective"] {
        let mut names = b.config["process"]["capabilities"][set]
            .as_array()
            .unwrap()
            .clone();
        names.push(json!("CAP_TEST"));
        b.config["process"]["capabilities"][set] = json!(names);
    }
    b.args(&["echo", "ran"]);
    let out = b.run_output("capunknown");
    let warning = "ignoring unknown or unavailable capabilities: [CAP_TEST]";
    let runc_id = format!("conf-capunknown-runc-{}", std::process::id());
    for (who, out) in [("hull", Some(out)), ("runc", b.runc(&["run", &runc_id]))] {
        let Some(out) = out else { continue };
        let err = text(&out.stderr);
        assert!(out.status.success(), "{who}: {err}");
        assert_eq!(text(&out.stdout), "ran\n", "{who}");
        assert!(err.contains(warning), "{who}: {err}");
        assert_eq!(err.lines().count(), 1, "{who}: {err}");
    }
}

/// A bounding set that lacks what the inheritable set asks for cannot be set up: the kernel
/// refuses the capset, and the container must not start with fewer capabilities than asked
/// (youki's contest, process_capabilities_bounding: unset bounding, inheritable
/// CAP_SYS_ADMIN). runc applies the sets before its `create` returns, so `create` fails, in
/// words that say EPERM; hull checks the kernel's rule before the fork.
#[test]
fn an_inheritable_capability_outside_the_bounding_set_fails_create() {
    require_root!();
    let mut b = Bundle::new();
    b.config["process"]["capabilities"] = json!({
        "effective": ["CAP_SYS_ADMIN"],
        "permitted": ["CAP_SYS_ADMIN"],
        "inheritable": ["CAP_SYS_ADMIN"],
    });
    b.args(&["echo", "ran"]);
    b.write();
    let id = b.id("capbounding");
    let bundle = b.bundle();
    let out = b.output(&["create", "-b", bundle.to_str().unwrap(), &id]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("Operation not permitted"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        !b.output(&["state", &id]).status.success(),
        "a container was left"
    );
    if let Some(r) = b.runc(&["create", &format!("{id}-runc")]) {
        let err = text(&r.stderr).to_lowercase();
        assert_eq!(r.status.code(), Some(1), "runc: {err}");
        assert!(err.contains("operation not permitted"), "runc: {err}");
    }
}

/// A capabilities object with no sets (youki's contest, bounding_dropped_when_unset): every
/// set is empty, the bounding set too, as under runc.
#[test]
fn unset_capability_sets_are_empty_the_bounding_set_too() {
    require_root!();
    let mut b = Bundle::new();
    b.config["process"]["capabilities"] = json!({});
    b.args(&["/probe", "status"]);
    let f = facts(&b.run("capsunset"));
    let zero = "0000000000000000";
    for set in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] {
        assert_eq!(f[set], zero, "{set}");
    }
    let runc_id = format!("conf-capsunset-runc-{}", std::process::id());
    if let Some(r) = b.runc(&["run", &runc_id]) {
        assert!(r.status.success(), "runc: {}", text(&r.stderr));
        assert_eq!(facts(&text(&r.stdout))["CapBnd"], zero, "runc");
    }
}

/// This process's mount points below `dir`.
fn mounts_below(dir: &std::path::Path) -> Vec<String> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let dir = format!("{}/", dir.display());
    info.lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|p| p.starts_with(&dir))
        .map(str::to_string)
        .collect()
}

/// A spec without namespaces inherits every one of the runtime's (runtime-tools'
/// linux_ns_itype), the mount namespace too: the container's mounts are in the host's table
/// while it lives, and delete takes them away (runc leaves them).
#[test]
fn no_namespaces_inherits_every_one() {
    require_root!();
    let mut b = Bundle::new();
    b.linux("namespaces", json!([]));
    b.linux("maskedPaths", json!([]));
    b.linux("readonlyPaths", json!([]));
    b.config.as_object_mut().unwrap().remove("hostname");
    b.args(&["sleep", "1000"]);
    let rootfs = b.bundle().join("rootfs");
    let id = b.create("itype", &[]);
    let pid = b.state(&id)["pid"].as_i64().expect("pid");
    let me = std::process::id() as i64;
    let kinds = ["mnt", "pid", "net", "ipc", "uts", "user", "cgroup"];
    for ns in kinds {
        assert_eq!(ns_of(pid, ns), ns_of(me, ns), "{ns} not inherited");
    }
    let proc = format!("{}/proc", rootfs.display());
    assert!(mounts_below(&rootfs).contains(&proc), "no /proc mount");
    assert!(
        is_mount_point(&rootfs),
        "the rootfs is not bound onto itself"
    );
    b.ok(&["start", &id]);
    // An exec runs in the container's root too, as its init does (no mount namespace to join).
    std::fs::write(rootfs.join("only-in-the-rootfs"), "container's\n").unwrap();
    let out = b.ok(&["exec", &id, "cat", "/only-in-the-rootfs"]);
    assert_eq!(
        out, "container's\n",
        "exec ran outside the container's root"
    );
    b.ok(&["kill", &id, "KILL"]);
    hull_tests::wait_until("stopped", || b.state(&id)["status"] == "stopped");
    b.ok(&["delete", &id]);
    assert_eq!(mounts_below(&rootfs), Vec::<String>::new(), "mounts left");
    assert!(!is_mount_point(&rootfs), "the rootfs bind is left");

    b.write();
    let runc_id = format!("{id}-runc");
    if let Some(r) = b.runc(&["create", &runc_id]) {
        assert!(r.status.success(), "runc create: {}", text(&r.stderr));
        let st = b.runc(&["state", &runc_id]).unwrap();
        let st: serde_json::Value = serde_json::from_slice(&st.stdout).unwrap();
        let runc_pid = st["pid"].as_i64().unwrap();
        for ns in kinds {
            assert_eq!(ns_of(runc_pid, ns), ns_of(me, ns), "runc: {ns}");
        }
        let _ = b.runc(&["delete", "--force", &runc_id]);
    }
}

/// Whether `dir` itself is a mount point in this process's mount table.
fn is_mount_point(dir: &std::path::Path) -> bool {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let dir = dir.display().to_string();
    info.lines()
        .any(|l| l.split(' ').nth(4) == Some(dir.as_str()))
}

/// Without a mount namespace a read-only root is the rootfs bound onto itself in the host's
/// table and remounted read-only (youki's contest ns_itype asks for one, and unmounts it):
/// the container cannot write to it, and delete takes the bind away with the rest, after which
/// the host's directory is writable again.
#[test]
fn no_mount_namespace_takes_a_read_only_root() {
    require_root!();
    let mut b = Bundle::new();
    b.linux("namespaces", json!([{"type": "pid"}]));
    b.linux("maskedPaths", json!([]));
    b.linux("readonlyPaths", json!([]));
    b.config["root"]["readonly"] = json!(true);
    b.config.as_object_mut().unwrap().remove("hostname");
    b.args(&[
        "sh",
        "-c",
        "touch /written 2>/dev/null && echo wrote || echo read-only",
    ]);
    let rootfs = b.bundle().join("rootfs");
    let id = b.create("nomnt-ro", &[]);
    assert!(
        is_mount_point(&rootfs),
        "the rootfs is not bound onto itself"
    );
    // The host's path reaches the top of the stack there, the read-only bind, until delete.
    let host_write = std::fs::write(rootfs.join("host-wrote"), "x");
    assert_eq!(
        host_write.unwrap_err().raw_os_error(),
        Some(rustix::io::Errno::ROFS.raw_os_error())
    );
    b.ok(&["start", &id]);
    let out = b.path().join("nomnt-ro.out");
    hull_tests::wait_until("the container's output", || {
        std::fs::read_to_string(&out).is_ok_and(|s| s.ends_with('\n'))
    });
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "read-only\n");
    hull_tests::wait_until("stopped", || b.state(&id)["status"] == "stopped");
    b.ok(&["delete", &id]);
    assert!(!rootfs.join("written").exists());
    assert!(!is_mount_point(&rootfs), "the rootfs bind is left");
    std::fs::write(rootfs.join("host-wrote"), "x").expect("the rootfs is still read-only");
    assert_eq!(mounts_below(&rootfs), Vec::<String>::new(), "mounts left");
}

/// Without a mount namespace, what would remount or re-propagate the host's own mounts is
/// refused before anything is mounted, in one line naming the setting.
#[test]
fn no_mount_namespace_refuses_what_would_change_host_mounts() {
    require_root!();
    let cases = [
        ("maskedPaths", json!(["/proc/kcore"])),
        ("rootfsPropagation", json!("shared")),
    ];
    for (key, value) in cases {
        let mut b = Bundle::new();
        b.linux("namespaces", json!([{"type": "pid"}]));
        b.linux("maskedPaths", json!([]));
        b.linux("readonlyPaths", json!([]));
        b.linux(key, value);
        b.args(&["echo", "ran"]);
        let rootfs = b.bundle().join("rootfs");
        let out = b.run_output(&format!("nomnt-{}", key.to_lowercase()));
        let err = text(&out.stderr);
        assert!(!out.status.success(), "{key}: ran");
        assert!(
            err.contains(key) && err.contains("mount namespace"),
            "{err}"
        );
        assert_eq!(err.lines().count(), 1, "{err}");
        assert_eq!(mounts_below(&rootfs), Vec::<String>::new(), "{key}");
    }
}

/// `ociVersion` must be a 1.x.y SemVer version (config.md; youki's contest set_misc_props):
/// anything else fails create in one line naming it, and what clients write (runc's `spec`
/// gives `1.0.2-dev`) is taken. runc 1.1 takes any string, so its refusals are only reported.
#[test]
fn an_invalid_oci_version_fails_create() {
    require_root!();
    for (version, valid) in [
        ("1.0.2-dev", true),
        ("1.1.0+build.1", true),
        ("invalid", false),
        ("2.0.0", false),
        ("", false),
    ] {
        let mut b = Bundle::new();
        b.config["ociVersion"] = json!(version);
        b.args(&["echo", "ran"]);
        let out = b.run_output("ociversion");
        let err = text(&out.stderr);
        if valid {
            assert!(out.status.success(), "{version:?}: {err}");
            assert_eq!(text(&out.stdout), "ran\n", "{version:?}");
        } else {
            assert_eq!(out.status.code(), Some(1), "{version:?} ran");
            assert!(err.contains(&format!("ociVersion {version:?}")), "{err}");
            assert_eq!(err.lines().count(), 1, "{err}");
            assert!(text(&out.stdout).is_empty(), "{version:?}: the program ran");
        }
        let runc_id = format!("conf-ociversion-runc-{}", std::process::id());
        if let Some(r) = b.runc(&["run", &runc_id]) {
            match (valid, r.status.success()) {
                (true, ok) => assert!(ok, "runc {version:?}: {}", text(&r.stderr)),
                (false, true) => println!(
                    "skipped: runc comparison for ociVersion {version:?} (runc 1.1 does not \
                     check ociVersion)"
                ),
                (false, false) => {}
            }
        }
    }
}
