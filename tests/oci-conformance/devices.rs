//! `linux.devices` (config-linux.md, issue 12's `linux_devices` finding): the nodes are made
//! with mknod, with the spec's type, numbers, mode and owner, even under the default deny-all
//! device cgroup, and the default devices keep working. The same bundle runs under runc.

use hull_tests::require_root;
use serde_json::json;

use crate::bundle::{text, Bundle};

const LIST: &str = "for d in test1 test2 test3 sub/test4; do \
    busybox stat -c '%n %F %t:%T %a %u:%g' /dev/$d; done; \
    echo data > /dev/null && busybox head -c 5 /dev/zero | busybox wc -c; \
    busybox head -c 4 /dev/urandom | busybox wc -c; \
    busybox stat -c '%n %F %t:%T' /dev/null /dev/zero /dev/full /dev/random /dev/tty";

#[test]
fn linux_devices_are_created_with_their_mode_and_owner() {
    require_root!();
    let mut b = Bundle::new();
    let resources = &b.config["linux"]["resources"]["devices"];
    assert_eq!(
        resources[0]["allow"],
        json!(false),
        "the case needs the default deny-all device rules: {resources}"
    );
    // Made-up numbers no host has, so a bind from the host cannot stand in for the mknod.
    b.linux(
        "devices",
        json!([
            {"path": "/dev/test1", "type": "c", "major": 10, "minor": 666,
             "fileMode": 0o640, "uid": 1234, "gid": 5678},
            {"path": "/dev/test2", "type": "b", "major": 8, "minor": 666,
             "fileMode": 0o600, "uid": 0, "gid": 0},
            {"path": "/dev/test3", "type": "p", "fileMode": 0o644},
            {"path": "/dev/sub/test4", "type": "c", "major": 1, "minor": 3,
             "fileMode": 0o666, "uid": 7, "gid": 8},
        ]),
    );
    b.args(&["sh", "-c", LIST]);
    let out = b.run("devices");
    let want_first = [
        "/dev/test1 character special file a:29a 640 1234:5678",
        "/dev/test2 block special file 8:29a 600 0:0",
        "/dev/test3 fifo 0:0 644 0:0",
        "/dev/sub/test4 character special file 1:3 666 7:8",
        "5",
        "4",
        "/dev/null character special file 1:3",
        "/dev/zero character special file 1:5",
    ];
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[..want_first.len()], want_first, "{out}");
    let runc_id = format!("conf-devices-runc-{}", std::process::id());
    if let Some(r) = b.runc(&["run", &runc_id]) {
        assert!(r.status.success(), "runc: {}", text(&r.stderr));
        assert_eq!(text(&r.stdout), out, "runc differs");
    }
}

/// A node whose mknod the device cgroup refuses is an error naming it, not a bind of some host
/// node (outside a user namespace a refused mknod has no other cause worth hiding).
#[test]
fn a_device_that_cannot_be_made_is_a_clear_error() {
    require_root!();
    let mut b = Bundle::new();
    // A type the kernel rejects for mknod on a tmpfs /dev is hard to find; a path under a
    // read-only bind of the host's /proc is not writable at all.
    b.linux(
        "devices",
        json!([{"path": "/proc/test5", "type": "c", "major": 10, "minor": 666}]),
    );
    b.args(&["echo", "ran"]);
    let out = b.run_output("baddevice");
    let err = text(&out.stderr);
    assert!(!out.status.success(), "created a node in /proc");
    assert!(
        err.contains("/proc/test5") && err.contains("mknod"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
}

/// In a user namespace the kernel refuses every device mknod: the host's node of the same path
/// is bound instead (as runc does), and a node the host lacks is an error naming it.
#[test]
fn in_a_user_namespace_devices_are_bound_from_the_host() {
    require_root!();
    if !std::path::Path::new("/dev/kmsg").exists() {
        println!("skipped: userns device bind (the host has no /dev/kmsg)");
        return;
    }
    let mut b = crate::namespaces::userns_bundle(100000, 100000);
    b.linux(
        "devices",
        json!([{"path": "/dev/kmsg", "type": "c", "major": 1, "minor": 11}]),
    );
    b.args(&["busybox", "stat", "-c", "%n %F %t:%T", "/dev/kmsg"]);
    let out = b.run("userns-kmsg");
    assert_eq!(out, "/dev/kmsg character special file 1:b\n");
    let runc_id = format!("conf-userns-kmsg-runc-{}", std::process::id());
    if let Some(r) = b.runc(&["run", &runc_id]) {
        assert!(r.status.success(), "runc: {}", text(&r.stderr));
        assert_eq!(text(&r.stdout), out);
    }

    b.linux(
        "devices",
        json!([{"path": "/dev/test9", "type": "c", "major": 10, "minor": 666}]),
    );
    let out = b.run_output("userns-missing");
    let err = text(&out.stderr);
    assert!(!out.status.success(), "made /dev/test9 in a user namespace");
    assert!(
        err.contains("/dev/test9") && err.contains("user namespace"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
}
