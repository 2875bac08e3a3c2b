//! The filesystem (config.md, config-linux.md): mounts, rootfs propagation, masked and
//! read-only paths.

use hull_tests::require_root;
use serde_json::json;

use crate::bundle::{facts, values, Bundle};

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
