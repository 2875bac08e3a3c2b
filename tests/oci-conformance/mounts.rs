//! The filesystem (config.md, config-linux.md): mounts, rootfs propagation, masked and
//! read-only paths.

use hull_tests::require_root;
use serde_json::json;

use crate::bundle::{facts, text, values, Bundle};

#[test]
fn mounts_and_rootfs_propagation() {
    require_root!();
    let mut b = Bundle::new();
    let data = b.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::write(data.join("file"), "from the host\n").unwrap();
    let mut mounts = b.config["mounts"].as_array().unwrap().clone();
    mounts.push(
        json!({"destination": "/data", "type": "bind", "source": data,
                       "options": ["rbind", "ro"]}),
    );
    mounts.push(
        json!({"destination": "/scratch", "type": "tmpfs", "source": "tmpfs",
                       "options": ["size=1m", "mode=1777"]}),
    );
    b.config["mounts"] = json!(mounts);
    b.linux("rootfsPropagation", json!("rprivate"));
    b.args(&["/probe", "mounts"]);
    let out = b.run("mounts");
    let lines = values(&out, "mountinfo");
    let find = |dest: &str| {
        lines
            .iter()
            .find(|l| l.split(' ').nth(4) == Some(dest))
            .unwrap_or_else(|| panic!("{dest} not mounted: {lines:?}"))
            .clone()
    };
    let data_line = find("/data");
    assert!(
        data_line.split(' ').nth(5).unwrap().starts_with("ro"),
        "{data_line}"
    );
    assert!(find("/scratch").contains(" - tmpfs "));
    let root = find("/");
    assert!(
        !root.contains("shared:"),
        "root propagates to the host: {root}"
    );
    b.args(&["cat", "/data/file"]);
    assert_eq!(b.run("bindread"), "from the host\n");
}

#[test]
fn masked_and_readonly_paths() {
    require_root!();
    let mut b = Bundle::new();
    // A file (masked with /dev/null) and a directory (masked with an empty tmpfs).
    b.linux(
        "maskedPaths",
        json!(["/proc/cpuinfo", "/sys/firmware", "/proc/nonexistent"]),
    );
    b.linux("readonlyPaths", json!(["/proc/sys"]));
    b.args(&[
        "sh",
        "-c",
        "/probe masked procsys; cat /proc/cpuinfo; echo end",
    ]);
    let out = b.run("masked");
    let f = facts(&out);
    assert_eq!(f["firmware"], "masked");
    assert_eq!(f["procsys"], "EROFS");
    assert!(
        out.ends_with("procsys=EROFS\nend\n"),
        "cpuinfo not masked: {out}"
    );
    b.linux("maskedPaths", json!([]));
    b.linux("readonlyPaths", json!([]));
    let out = b.run("unmasked");
    let f = facts(&out);
    assert_ne!(f["firmware"], "masked");
    assert_ne!(f["procsys"], "EROFS");
    assert!(out.contains("processor"), "{out}");
}

/// Unmounts (lazily, with everything under it) what a test mounted on the host, even when the
/// test fails.
struct HostMount(std::path::PathBuf);

impl Drop for HostMount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .args(["-R", "-l"])
            .arg(&self.0)
            .status();
    }
}

/// Kubernetes' Bidirectional volume (critest's `rshared` case, issue 12): with rootfsPropagation
/// rshared and an `rshared` bind of a shared host mount, a mount the container makes in the
/// volume appears on the host. runc gives the same on the same bundle.
#[test]
fn rshared_volume_sends_the_containers_mounts_to_the_host() {
    require_root!();
    let mut b = Bundle::new();
    let vol = b.path().join("vol");
    std::fs::create_dir(&vol).unwrap();
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "mount -t tmpfs hullvol {0} && mount --make-shared {0}",
            vol.display()
        ))
        .status()
        .unwrap();
    let _guard = HostMount(vol.clone());
    assert!(status.success(), "make {} a shared tmpfs", vol.display());
    let mut mounts = b.config["mounts"].as_array().unwrap().clone();
    mounts.push(json!({"destination": "/vol", "type": "bind", "source": vol,
                       "options": ["rbind", "rshared", "rw"]}));
    b.config["mounts"] = json!(mounts);
    b.linux("rootfsPropagation", json!("rshared"));
    for set in ["bounding", "effective", "permitted"] {
        let caps = b.config["process"]["capabilities"][set].as_array_mut();
        caps.expect("capability list").push(json!("CAP_SYS_ADMIN"));
    }
    let script = "mkdir -p /vol/$0 && mount -t tmpfs from-container /vol/$0 && touch /vol/$0/made";
    let check = |who: &str| {
        let made = vol.join(who).join("made");
        assert!(
            made.exists(),
            "{who}: the container's mount did not reach the host"
        );
        let unmounted = std::process::Command::new("umount")
            .arg(vol.join(who))
            .status();
        assert!(
            unmounted.unwrap().success(),
            "{who}: no mount at {}",
            vol.join(who).display()
        );
    };
    b.args(&["sh", "-c", script, "hull"]);
    b.run("rshared");
    check("hull");
    b.args(&["sh", "-c", script, "runc"]);
    b.write();
    let runc_id = format!("conf-rshared-runc-{}", std::process::id());
    if let Some(r) = b.runc(&["run", &runc_id]) {
        assert!(
            r.status.success(),
            "runc: {}",
            crate::bundle::text(&r.stderr)
        );
        check("runc");
    }
}

/// The mount options (field 6) of `dest` in the probe's mountinfo.
fn options_of(out: &str, dest: &str) -> String {
    options_line(out, dest)
        .split(' ')
        .nth(5)
        .unwrap()
        .to_string()
}

/// Recursive mount attributes (issue 12): `rro`, `rnosuid`, ... reach the submounts an rbind
/// brings along, where plain `ro` reaches the top mount only. runc gives the same options.
#[test]
fn recursive_mount_attributes_reach_submounts() {
    require_root!();
    let mut b = Bundle::new();
    let src = b.path().join("tree");
    std::fs::create_dir_all(src.join("sub")).unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
        .arg(src.join("sub"))
        .status()
        .unwrap();
    assert!(mounted.success(), "mount the submount");
    let recursive = [
        "rro",
        "rnosuid",
        "rnodev",
        "rnoexec",
        "rnoatime",
        "rnodiratime",
        "rnosymfollow",
    ];
    let mut mounts = b.config["mounts"].as_array().unwrap().clone();
    let mut rec = vec!["rbind"];
    rec.extend(recursive);
    mounts.push(json!({"destination": "/rec", "type": "bind", "source": src, "options": rec}));
    mounts.push(
        json!({"destination": "/plain", "type": "bind", "source": src,
                       "options": ["rbind", "ro", "nosuid"]}),
    );
    // Undone by later words: rro then rrw leaves it writable; strictatime replaces noatime.
    mounts.push(
        json!({"destination": "/undone", "type": "bind", "source": src,
                       "options": ["rbind", "rro", "rnoatime", "rrw", "rstrictatime"]}),
    );
    b.config["mounts"] = json!(&mounts);
    b.args(&["/probe", "mounts"]);
    let out = b.run("recattrs");
    let want = "ro,nosuid,nodev,noexec,noatime,nodiratime,nosymfollow";
    assert_eq!(options_of(&out, "/rec"), want);
    assert_eq!(options_of(&out, "/rec/sub"), want, "the submount");
    assert!(options_of(&out, "/plain").starts_with("ro,nosuid"));
    assert!(
        options_of(&out, "/plain/sub").starts_with("rw,relatime"),
        "plain ro reached the submount: {out}"
    );
    assert_eq!(options_of(&out, "/undone/sub"), "rw");
    // runc (1.1.5) refuses /undone: it keeps both access-time modes and the kernel says EINVAL.
    mounts.pop();
    b.config["mounts"] = json!(mounts);
    b.write();
    let runc_id = format!("conf-recattrs-runc-{}", std::process::id());
    if let Some(r) = b.runc(&["run", &runc_id]) {
        assert!(r.status.success(), "runc: {}", text(&r.stderr));
        let theirs = text(&r.stdout);
        for dest in ["/rec", "/rec/sub", "/plain", "/plain/sub"] {
            assert_eq!(options_of(&theirs, dest), options_of(&out, dest), "{dest}");
        }
    }
}

/// A rootfs whose /proc or /sys is a symlink is refused (issue 12's prohibit_symlink): proc
/// mounted elsewhere in the rootfs would leave the masks on the wrong path. runc refuses it too.
#[test]
fn a_symlinked_proc_or_sys_is_refused() {
    require_root!();
    for dir in ["proc", "sys"] {
        let mut b = Bundle::new();
        let rootfs = b.bundle().join("rootfs");
        std::fs::create_dir(rootfs.join("elsewhere")).unwrap();
        std::os::unix::fs::symlink("elsewhere", rootfs.join(dir)).unwrap();
        b.args(&["echo", "ran"]);
        let out = b.run_output(&format!("symlink-{dir}"));
        let err = text(&out.stderr);
        assert!(!out.status.success(), "{dir}: ran: {}", text(&out.stdout));
        assert!(
            err.contains(&format!("/{dir} in the rootfs is a symlink")),
            "{err}"
        );
        assert!(
            err.contains("must be mounted on ordinary directory"),
            "{err}"
        );
        assert_eq!(err.lines().count(), 1, "{err}");
        let runc_id = format!("conf-symlink-{dir}-runc-{}", std::process::id());
        if let Some(r) = b.runc(&["run", &runc_id]) {
            assert!(!r.status.success(), "runc ran it: {}", text(&r.stdout));
            let err = text(&r.stderr);
            assert!(
                err.contains("must be mounted on ordinary directory"),
                "{err}"
            );
        }
    }
}

/// Symlinks in the rootfs on the way to a mount's destination resolve as if the rootfs were
/// `/`: an absolute one and one with too many `..` both land inside it, and nothing is created
/// or mounted on the host's path they name. runc does the same (securejoin).
#[test]
fn mount_destinations_cannot_escape_the_rootfs() {
    require_root!();
    let mut b = Bundle::new();
    let host = b.path().join("hostside");
    std::fs::create_dir(&host).unwrap();
    let data = b.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::write(data.join("marker"), "bound\n").unwrap();
    let rootfs = b.bundle().join("rootfs");
    std::os::unix::fs::symlink(&host, rootfs.join("abs")).unwrap();
    let up = "../".repeat(12) + host.strip_prefix("/").unwrap().to_str().unwrap();
    std::os::unix::fs::symlink(&up, rootfs.join("rel")).unwrap();
    let mut mounts = b.config["mounts"].as_array().unwrap().clone();
    mounts.push(
        json!({"destination": "/abs/x", "type": "tmpfs", "source": "tmpfs",
                       "options": ["size=1m"]}),
    );
    mounts.push(
        json!({"destination": "/rel/y", "type": "bind", "source": data,
                       "options": ["rbind"]}),
    );
    b.config["mounts"] = json!(mounts);
    b.args(&["sh", "-c", "/probe mounts; cat /rel/y/marker"]);
    let out = b.run("escape");
    // Inside, the link names the host's path, which now lies in the rootfs.
    let inside = host.display().to_string();
    assert!(
        options_line(&out, &format!("{inside}/x")).contains(" - tmpfs "),
        "{out}"
    );
    assert!(out.ends_with("bound\n"), "{out}");
    assert_eq!(
        std::fs::read_dir(&host).unwrap().count(),
        0,
        "a mount point was made on the host"
    );
    assert!(rootfs
        .join(inside.trim_start_matches('/'))
        .join("x")
        .is_dir());
    let runc_id = format!("conf-escape-runc-{}", std::process::id());
    if let Some(r) = b.runc(&["run", &runc_id]) {
        assert!(r.status.success(), "runc: {}", text(&r.stderr));
        assert!(text(&r.stdout).ends_with("bound\n"));
        assert_eq!(std::fs::read_dir(&host).unwrap().count(), 0, "runc");
    }
}

/// The probe's mountinfo line of `dest`.
fn options_line(out: &str, dest: &str) -> String {
    let lines = values(out, "mountinfo");
    let line = lines.iter().find(|l| l.split(' ').nth(4) == Some(dest));
    line.unwrap_or_else(|| panic!("{dest} not mounted: {lines:?}"))
        .clone()
}
