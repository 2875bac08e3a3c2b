//! Root integration test: a compiled filter, loaded for real, returns the profile's errno for
//! the rules that match (argument comparisons included) and lets everything else through.
//! Gated by HULL_ROOT_TESTS=1 (it needs no privilege beyond no_new_privs, but it is a tier-2
//! test: it changes the process it runs in, so it re-executes itself as a child).

use std::os::unix::net::UnixDatagram;
use std::process::Command;

use hull_oci::runtime::{Seccomp, SeccompArg, SeccompSyscall};

const CHILD: &str = "HULL_SECCOMP_CHILD";
const AF_UNIX: u64 = 1;
const EAFNOSUPPORT: i32 = 97;
const ENOTSUP: u32 = 95;

fn root_tests_enabled() -> bool {
    if std::env::var_os("HULL_ROOT_TESTS").is_none_or(|v| v.is_empty() || v == "0") {
        eprintln!("skipped: set HULL_ROOT_TESTS=1 (as root)");
        return false;
    }
    assert!(
        rustix::process::geteuid().is_root(),
        "HULL_ROOT_TESTS is set but the tests are not running as root"
    );
    true
}

/// Default allow; `socket(AF_UNIX, ...)` fails with EAFNOSUPPORT; `mkdir`/`mkdirat` with ENOTSUP.
fn profile() -> Seccomp {
    Seccomp {
        default_action: "SCMP_ACT_ALLOW".into(),
        architectures: vec![
            "SCMP_ARCH_X86_64".into(),
            "SCMP_ARCH_X86".into(),
            "SCMP_ARCH_X32".into(),
        ],
        flags: vec!["SECCOMP_FILTER_FLAG_TSYNC".into()],
        syscalls: vec![
            SeccompSyscall {
                names: vec!["socket".into()],
                action: "SCMP_ACT_ERRNO".into(),
                errno_ret: Some(EAFNOSUPPORT as u32),
                args: vec![SeccompArg {
                    index: 0,
                    value: AF_UNIX,
                    value_two: 0,
                    op: "SCMP_CMP_EQ".into(),
                }],
            },
            SeccompSyscall {
                names: vec!["mkdir".into(), "mkdirat".into(), "no_such_syscall".into()],
                action: "SCMP_ACT_ERRNO".into(),
                errno_ret: Some(ENOTSUP),
                args: vec![],
            },
        ],
        ..Default::default()
    }
}

fn child_body() {
    // Created before the filter, which denies mkdir.
    let dir = tempfile::tempdir().unwrap();
    let filter = hull_runtime::seccomp::compile(&profile()).unwrap();
    rustix::thread::set_no_new_privs(true).unwrap();
    filter.load().unwrap();

    let err = UnixDatagram::unbound().unwrap_err();
    assert_eq!(err.raw_os_error(), Some(EAFNOSUPPORT), "{err}");
    // Another family passes the argument comparison.
    std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let err = std::fs::create_dir(dir.path().join("d")).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(ENOTSUP as i32), "{err}");
    // TSYNC: the test harness's other threads, and new ones, carry the filter too.
    let other = std::thread::spawn(|| {
        UnixDatagram::unbound()
            .map(drop)
            .map_err(|e| e.raw_os_error())
    });
    assert_eq!(other.join().unwrap(), Err(Some(EAFNOSUPPORT)));
    assert!(rustix::process::getpid().as_raw_nonzero().get() > 1);
}

#[test]
fn loaded_filter_returns_the_profiles_errno_and_compares_arguments() {
    if !root_tests_enabled() {
        return;
    }
    if std::env::var_os(CHILD).is_some() {
        return child_body();
    }
    let name = "loaded_filter_returns_the_profiles_errno_and_compares_arguments";
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "child failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}
