//! Root integration tests for seccomp and capabilities, in real processes.
//!
//! Loading a filter or dropping capabilities cannot be undone, so each case re-executes this
//! test binary as a child (`--exact <test>` with `HULL_SECURITY_CHILD` set); the child applies the
//! policy to itself, checks what it can from the inside (running the probe for the syscalls that
//! would need `unsafe` here) and panics on failure. The parent asserts the child passed.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::process::Command;

use hull_engine::run::security::{default_seccomp, DEFAULT_CAPABILITIES};
use hull_oci::runtime::Capabilities;
use hull_runtime::{capabilities, seccomp};

const CHILD: &str = "HULL_SECURITY_CHILD";
/// `AUDIT_ARCH_I386`: the 32-bit x86 ABI (int 0x80), which the default profile must cover.
const AUDIT_ARCH_I386: u32 = 0x4000_0003;

/// Runs `test` again in a child process with the child flag set; asserts it passed.
fn run_in_child(test: &str) {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .output()
        .expect("re-run test binary");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "child {test} failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
}

fn is_child() -> bool {
    std::env::var_os(CHILD).is_some()
}

fn docker_caps() -> Vec<String> {
    DEFAULT_CAPABILITIES.iter().map(|s| s.to_string()).collect()
}

fn probe(args: &[&str]) -> HashMap<String, String> {
    let out = Command::new(hull_tests::probe_path())
        .args(args)
        .output()
        .expect("spawn the probe (posix_spawn must survive the filter)");
    assert!(out.status.success(), "probe {args:?}: {}", out.status);
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Inside a process that runs under Docker's default profile with Docker's capabilities in its
/// bounding set evaluated (but still all of root's capabilities, so EPERM comes from seccomp).
fn check_default_profile_denies() {
    assert!(rustix::process::getpid().as_raw_nonzero().get() > 1);
    let f = probe(&["status", "denied"]);
    assert_eq!(f["Seccomp"], "2", "{f:?}");
    assert_eq!(f["mount"], "EPERM", "mount (root would get ENODEV)");
    assert_eq!(f["unshare_newns"], "EPERM");
    assert_eq!(f["keyctl"], "EPERM");
    assert_eq!(f["clone_newuser"], "EPERM");
    // Ordinary work still goes on: files, and the process spawn above.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("f"), b"x").unwrap();
}

#[test]
fn default_profile_under_no_new_privs_denies_namespaces_and_keyctl() {
    hull_tests::require_root!();
    if !is_child() {
        return run_in_child("default_profile_under_no_new_privs_denies_namespaces_and_keyctl");
    }
    let filter = seccomp::compile(&default_seccomp(&docker_caps())).unwrap();
    assert!(
        filter.covers_audit_arch(AUDIT_ARCH_I386),
        "x86 ABI not covered"
    );
    rustix::thread::set_no_new_privs(true).unwrap();
    filter.load().unwrap();
    check_default_profile_denies();
    assert_eq!(probe(&["status"])["NoNewPrivs"], "1");
}

#[test]
fn default_profile_loads_without_no_new_privs_while_cap_sys_admin_is_held() {
    hull_tests::require_root!();
    if !is_child() {
        return run_in_child(
            "default_profile_loads_without_no_new_privs_while_cap_sys_admin_is_held",
        );
    }
    let filter = seccomp::compile(&default_seccomp(&docker_caps())).unwrap();
    filter.load().unwrap();
    check_default_profile_denies();
    assert_eq!(probe(&["status"])["NoNewPrivs"], "0");
}

#[test]
fn dropping_cap_chown_makes_chown_fail_and_status_shows_the_sets() {
    hull_tests::require_root!();
    if !is_child() {
        return run_in_child("dropping_cap_chown_makes_chown_fail_and_status_shows_the_sets");
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("f");
    std::fs::write(&file, b"x").unwrap();

    let without_chown: Vec<String> = docker_caps()
        .into_iter()
        .filter(|c| c != "CAP_CHOWN")
        .collect();
    let caps = Capabilities {
        bounding: without_chown.clone(),
        effective: without_chown.clone(),
        permitted: without_chown.clone(),
        inheritable: vec!["CAP_KILL".into()],
        ambient: vec!["CAP_KILL".into()],
    };
    capabilities::validate(&caps).unwrap();
    capabilities::apply(&caps).unwrap();

    let err = std::os::unix::fs::chown(&file, Some(1234), Some(1234)).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc_eperm()), "{err}");
    assert_eq!(std::fs::metadata(&file).unwrap().uid(), 0);

    let expected = without_chown
        .iter()
        .map(|c| 1u64 << capabilities::from_name(c).unwrap())
        .fold(0, |m, b| m | b);
    // Credentials are per thread, and libtest runs this test on a thread of its own.
    let status = std::fs::read_to_string("/proc/thread-self/status").unwrap();
    let field = |key: &str| {
        let line = status.lines().find(|l| l.starts_with(key)).unwrap();
        u64::from_str_radix(line.split_whitespace().nth(1).unwrap(), 16).unwrap()
    };
    assert_eq!(field("CapBnd:"), expected, "CapBnd");
    assert_eq!(field("CapEff:"), expected, "CapEff");
    assert_eq!(field("CapPrm:"), expected, "CapPrm");
    let kill = 1u64 << 5;
    assert_eq!(field("CapInh:"), kill, "CapInh");
    assert_eq!(field("CapAmb:"), kill, "CapAmb");
}

fn libc_eperm() -> i32 {
    rustix::io::Errno::PERM.raw_os_error()
}
