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
