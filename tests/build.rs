//! Builds the probe (`probe/probe.c`) as a static binary, so that it runs inside any container
//! rootfs, and tells the tests where it is (`HULL_PROBE`, read by `probe_path()`).

use std::path::PathBuf;
use std::process::Command;

fn main() {
    let src = "probe/probe.c";
    println!("cargo:rerun-if-changed={src}");
    println!("cargo:rerun-if-env-changed=CC");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR")).join("probe");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    // Static: the rootfs it runs in may have no libc at all (busybox-static test roots).
    let status = Command::new(&cc)
        .args(["-static", "-O2", "-Wall", "-Wextra", "-o"])
        .arg(&out)
        .arg(src)
        .status()
        .unwrap_or_else(|e| panic!("run {cc} to build the probe: {e}"));
    assert!(
        status.success(),
        "{cc} -static failed to build {src} ({status}): is libc6-dev (glibc's libc.a) installed?"
    );
    println!("cargo:rustc-env=HULL_PROBE={}", out.display());
}
