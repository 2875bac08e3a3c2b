//! Namespaces (config-linux.md): new ones, joined ones by path, a user namespace with its
//! uid/gid mappings, a time namespace with its offsets, and the namespaced sysctls written inside.

use std::path::Path;

use hull_tests::require_root;
use serde_json::{json, Value};

use crate::bundle::{facts, host_ns, text, values, Bundle};

#[test]
fn new_namespaces_differ_from_the_host() {
    require_root!();
    let mut b = Bundle::new();
    b.args(&["/probe", "ns"]);
    b.linux(
        "namespaces",
        json!([{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"},
               {"type": "mount"}, {"type": "cgroup"}]),
    );
    let f = facts(&b.run("newns"));
    for (spec, proc) in [
        ("pid", "pid"),
        ("network", "net"),
        ("ipc", "ipc"),
        ("uts", "uts"),
        ("mount", "mnt"),
        ("cgroup", "cgroup"),
    ] {
        let inside = f.get(&format!("ns.{proc}")).expect(proc);
        assert!(
            !host_ns(proc).contains(inside.as_str()),
            "{spec}: same as the host"
        );
    }
    assert_eq!(
        f["ns.user"],
        host_ns("user")
            .trim_start_matches("user:[")
            .trim_end_matches(']')
    );
}

#[test]
fn namespaces_with_a_path_are_joined() {
    require_root!();
    let mut b = Bundle::new();
    b.args(&["sleep", "1000"]);
    b.linux(
        "namespaces",
        json!([{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"},
               {"type": "mount"}]),
    );
    let holder = b.create("holder", &[]);
    let pid = b.state(&holder)["pid"].as_i64().unwrap();
    let ns = |n: &str| {
        let l = std::fs::read_link(format!("/proc/{pid}/ns/{n}")).unwrap();
        let l = l.to_string_lossy().into_owned();
        l.split_once('[')
            .unwrap()
            .1
            .trim_end_matches(']')
            .to_string()
    };
    b.args(&["/probe", "ns"]);
    b.linux(
        "namespaces",
        json!([{"type": "pid", "path": format!("/proc/{pid}/ns/pid")},
               {"type": "network", "path": format!("/proc/{pid}/ns/net")},
               {"type": "ipc", "path": format!("/proc/{pid}/ns/ipc")},
               {"type": "uts", "path": format!("/proc/{pid}/ns/uts")},
               {"type": "mount"}]),
    );
    let f = facts(&b.run("joiner"));
    for n in ["pid", "net", "ipc", "uts"] {
        assert_eq!(f[&format!("ns.{n}")], ns(n), "{n} not joined");
    }
    assert_ne!(f["ns.mnt"], ns("mnt"));
}

#[test]
fn uid_and_gid_mappings_make_a_user_namespace() {
    require_root!();
    let mut b = userns_bundle(100000, 200000);
    b.args(&["/probe", "idmap", "ids", "ns"]);
    let out = b.run("userns");
    assert_eq!(values(&out, "uid_map"), ["0 100000 65536"]);
    assert_eq!(values(&out, "gid_map"), ["0 200000 65536"]);
    let f = facts(&out);
    assert_eq!((f["uid"].as_str(), f["gid"].as_str()), ("0", "0"));
    assert!(!host_ns("user").contains(&f["ns.user"]));

    // exec joins the user namespace (first, so it may join the others it owns) and gets the
    // same mapping. Root writes gid_map without `setgroups deny`, as runc does (runc denies it
    // only for rootless containers), so the container keeps setgroups(2).
    b.args(&["sleep", "1000"]);
    let id = b.create("userns-exec", &[]);
    b.ok(&["start", &id]);
    let out = b.ok(&["exec", &id, "/probe", "idmap", "ids", "ns"]);
    assert_eq!(values(&out, "uid_map"), ["0 100000 65536"]);
    let exec = facts(&out);
    assert_eq!((exec["uid"].as_str(), exec["gid"].as_str()), ("0", "0"));
    let pid = b.state(&id)["pid"].as_i64().unwrap();
    let init_userns = std::fs::read_link(format!("/proc/{pid}/ns/user")).unwrap();
    assert!(
        init_userns.to_string_lossy().contains(&exec["ns.user"]),
        "{init_userns:?} vs {}",
        exec["ns.user"]
    );
    let setgroups = b.ok(&["exec", &id, "cat", "/proc/self/setgroups"]);
    assert_eq!(setgroups.trim(), "allow");
}

/// A bundle with a user namespace whose root is host uid `uid` and gid `gid` (65536 ids each),
/// and who owns the rootfs and can reach it.
pub(crate) fn userns_bundle(uid: u32, gid: u32) -> Bundle {
    let mut b = Bundle::new();
    b.linux(
        "namespaces",
        json!([{"type": "pid"}, {"type": "user"}, {"type": "ipc"}, {"type": "uts"},
               {"type": "mount"}]),
    );
    b.linux(
        "uidMappings",
        json!([{"containerID": 0, "hostID": uid, "size": 65536}]),
    );
    b.linux(
        "gidMappings",
        json!([{"containerID": 0, "hostID": gid, "size": 65536}]),
    );
    // sysfs and cgroupfs need a network / cgroup namespace owned by the user namespace.
    let mounts: Vec<Value> = b.config["mounts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| !["/sys", "/sys/fs/cgroup"].contains(&m["destination"].as_str().unwrap()))
        .cloned()
        .collect();
    b.config["mounts"] = json!(mounts);
    chown_tree(&b.bundle().join("rootfs"), uid, gid);
    for dir in [b.path(), b.bundle().as_path()] {
        std::fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    }
    b
}

pub(crate) fn chown_tree(dir: &Path, uid: u32, gid: u32) {
    std::os::unix::fs::lchown(dir, Some(uid), Some(gid)).unwrap();
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            chown_tree(&e.path(), uid, gid);
        } else {
            std::os::unix::fs::lchown(e.path(), Some(uid), Some(gid)).unwrap();
        }
    }
}

#[test]
fn sysctls_are_written_in_the_container() {
    require_root!();
    let mut b = Bundle::new();
    b.linux(
        "sysctl",
        json!({"net.ipv4.ip_forward": "1", "kernel.shmmni": "1234"}),
    );
    b.args(&[
        "cat",
        "/proc/sys/net/ipv4/ip_forward",
        "/proc/sys/kernel/shmmni",
    ]);
    assert_eq!(b.run("sysctl"), "1\n1234\n");
}

/// The `clock secs nanosecs` lines of /proc/self/timens_offsets, without the kernel's padding.
fn offset_lines(out: &str) -> Vec<String> {
    out.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|l| l.starts_with("monotonic") || l.starts_with("boottime"))
        .collect()
}

/// A new time namespace with `linux.timeOffsets` (runtime-spec 1.2; youki's contest time_ns):
/// the program, an exec'd process and a container that joins the namespace by path see the
/// offsets, with or without a user namespace (which then owns the time namespace, so init
/// writes them before it switches to its root). runc 1.1 knows no time namespace: its run is
/// only reported.
#[test]
fn time_offsets_apply_in_a_new_time_namespace() {
    require_root!();
    if !Path::new("/proc/self/ns/time").exists() {
        println!("skipped: time namespace (the kernel has no CONFIG_TIME_NS)");
        return;
    }
    let want = ["monotonic 7881 2718281", "boottime 1337 3141519"];
    for userns in [false, true] {
        let mut b = match userns {
            true => userns_bundle(100000, 200000),
            false => Bundle::new(),
        };
        let mut namespaces = b.config["linux"]["namespaces"].as_array().unwrap().clone();
        namespaces.push(json!({"type": "time"}));
        b.linux("namespaces", json!(namespaces));
        b.linux(
            "timeOffsets",
            json!({"monotonic": {"secs": 7881, "nanosecs": 2718281},
                   "boottime": {"secs": 1337, "nanosecs": 3141519}}),
        );
        b.args(&["cat", "/proc/self/timens_offsets"]);
        let name = if userns { "timens-userns" } else { "timens" };
        assert_eq!(offset_lines(&b.run(name)), want, "userns: {userns}");
        let runc_id = format!("conf-{name}-runc-{}", std::process::id());
        if let Some(r) = b.runc(&["run", &runc_id]) {
            match r.status.success() {
                true => assert_eq!(offset_lines(&text(&r.stdout)), want, "runc"),
                false => println!(
                    "skipped: runc comparison (runc has no time namespace: {})",
                    text(&r.stderr).trim()
                ),
            }
        }
        b.args(&["sleep", "1000"]);
        let id = b.create(&format!("{name}-exec"), &[]);
        b.ok(&["start", &id]);
        let out = b.ok(&["exec", &id, "cat", "/proc/self/timens_offsets"]);
        assert_eq!(offset_lines(&out), want, "exec, userns: {userns}");
        // Another container joins it by path and sees its offsets.
        let pid = b.state(&id)["pid"].as_i64().expect("pid");
        let mut joiner = Bundle::new();
        let mut namespaces = joiner.config["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .clone();
        namespaces.push(json!({"type": "time", "path": format!("/proc/{pid}/ns/time")}));
        joiner.linux("namespaces", json!(namespaces));
        joiner.args(&["cat", "/proc/self/timens_offsets"]);
        let out = joiner.run(&format!("{name}-join"));
        assert_eq!(offset_lines(&out), want, "joined, userns: {userns}");
    }
}

/// Offsets need a new time namespace: without one (or with a joined one, whose offsets are
/// fixed) create fails in one line naming `linux.timeOffsets`, before anything runs.
#[test]
fn time_offsets_without_a_new_time_namespace_fail() {
    require_root!();
    let offsets = json!({"monotonic": {"secs": 1}});
    for (name, ns) in [
        ("timens-none", None),
        ("timens-joined", Some("/proc/self/ns/time")),
    ] {
        let mut b = Bundle::new();
        if let Some(path) = ns {
            let mut namespaces = b.config["linux"]["namespaces"].as_array().unwrap().clone();
            namespaces.push(json!({"type": "time", "path": path}));
            b.linux("namespaces", json!(namespaces));
        }
        b.linux("timeOffsets", offsets.clone());
        b.args(&["echo", "ran"]);
        let out = b.run_output(name);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{name}: {err}");
        assert!(err.contains("linux.timeOffsets"), "{name}: {err}");
        assert_eq!(err.lines().count(), 1, "{name}: {err}");
        assert!(text(&out.stdout).is_empty(), "{name}: the program ran");
    }
}
