//! Builds the probe (`probe/probe.c`) and the CRI tier's pod sandbox process (`probe/pause.c`)
//! as static binaries, so that they run inside any container rootfs, and tells the tests where
//! they are (`HULL_PROBE`, read by `probe_path()`, and `HULL_PAUSE`).

use std::path::PathBuf;
use std::process::Command;

fn main() {
    build_static("probe/probe.c", "probe", "HULL_PROBE");
    build_static("probe/pause.c", "pause", "HULL_PAUSE");
}

fn build_static(src: &str, name: &str, var: &str) {
    println!("cargo:rerun-if-changed={src}");
    println!("cargo:rerun-if-env-changed=CC");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR")).join(name);
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    // Static: the rootfs it runs in may have no libc at all (busybox-static test roots).
    let status = Command::new(&cc)
        .args(["-static", "-O2", "-Wall", "-Wextra", "-o"])
        .arg(&out)
        .arg(src)
        .status()
        .unwrap_or_else(|e| panic!("run {cc} to build {src}: {e}"));
    assert!(
        status.success(),
        "{cc} -static failed to build {src} ({status}): is libc6-dev (glibc's libc.a) installed?"
    );
    println!("cargo:rustc-env={var}={}", out.display());
}
