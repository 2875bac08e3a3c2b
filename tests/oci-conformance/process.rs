//! The process (config.md, config-linux.md): rlimits, each capability set, and seccomp's
//! actions.

use hull_tests::require_root;
use serde_json::json;

use crate::bundle::{cap_mask, facts, text, Bundle};

#[test]
fn rlimits_are_set() {
    require_root!();
    let mut b = Bundle::new();
    b.config["process"]["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "soft": 321, "hard": 654}]);
    b.args(&["/probe", "rlimit"]);
    let f = facts(&b.run("rlimit"));
    assert_eq!(
        (f["nofile_soft"].as_str(), f["nofile_hard"].as_str()),
        ("321", "654")
    );
}

#[test]
fn each_capability_set_is_applied() {
    require_root!();
    // CAP_CHOWN 0, CAP_KILL 5, CAP_SETUID 7, CAP_NET_BIND_SERVICE 10.
    let mut b = Bundle::new();
    b.config["process"]["capabilities"] = json!({
        "bounding": ["CAP_CHOWN", "CAP_KILL", "CAP_SETUID", "CAP_NET_BIND_SERVICE"],
        "permitted": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
        "effective": ["CAP_CHOWN", "CAP_KILL"],
        "inheritable": ["CAP_KILL", "CAP_NET_BIND_SERVICE"],
        "ambient": ["CAP_NET_BIND_SERVICE"],
    });
    b.config["process"]["user"] = json!({"uid": 1000, "gid": 1000});
    b.args(&["/probe", "status"]);
    let f = facts(&b.run("caps-user"));
    // A non-root execve keeps the inheritable, bounding and ambient sets; permitted and
    // effective become the ambient set (there are no file capabilities).
    assert_eq!(f["CapBnd"], cap_mask(&[0, 5, 7, 10]));
    assert_eq!(f["CapInh"], cap_mask(&[5, 10]));
    assert_eq!(f["CapAmb"], cap_mask(&[10]));
    assert_eq!(f["CapPrm"], cap_mask(&[10]));
    assert_eq!(f["CapEff"], cap_mask(&[10]));
    // As root, execve grants the whole bounding set to permitted and effective, unless
    // no_new_privs caps permitted at what it was (then the permitted set we applied).
    b.config["process"]["user"] = json!({"uid": 0, "gid": 0});
    b.config["process"]["noNewPrivileges"] = json!(true);
    let f = facts(&b.run("caps-root-nnp"));
    assert_eq!(f["CapPrm"], cap_mask(&[0, 5, 10]));
    b.config["process"]["noNewPrivileges"] = json!(false);
    let f = facts(&b.run("caps-root"));
    assert_eq!(f["CapBnd"], cap_mask(&[0, 5, 7, 10]));
    assert_eq!(f["CapPrm"], cap_mask(&[0, 5, 7, 10]));
    assert_eq!(f["CapEff"], cap_mask(&[0, 5, 7, 10]));
}

#[test]
fn seccomp_actions_and_errno_ret() {
    require_root!();
    let mut b = Bundle::new();
    b.linux(
        "seccomp",
        json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            "flags": ["SECCOMP_FILTER_FLAG_LOG"],
            "syscalls": [
                {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38},
                {"names": ["sync"], "action": "SCMP_ACT_KILL_PROCESS"},
                {"names": ["getcwd"], "action": "SCMP_ACT_ERRNO"}
            ]
        }),
    );
    b.args(&[
        "sh",
        "-c",
        // busybox may run an applet in-process: a child sh takes the kill.
        "mkdir /x 2>&1; sh -c sync; echo sync=$?; /probe cwd",
    ]);
    let out = b.run("seccomp");
    assert!(out.contains("Function not implemented"), "{out}");
    assert!(out.contains("sync=159"), "sync not killed by SIGSYS: {out}");
    // errnoRet absent: EPERM.
    assert!(out.contains("cwd=EPERM"), "{out}");
    // defaultErrnoRet with an ERRNO default and the calls sh needs allowed.
    b.linux(
        "seccomp",
        json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]}),
    );
    b.args(&["mkdir", "/y"]);
    let out = b.run_output("seccomp-eacces");
    assert!(
        text(&out.stderr).contains("Permission denied"),
        "{}",
        text(&out.stderr)
    );
    b.linux(
        "seccomp",
        json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/run/nope.sock",
               "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]}),
    );
    let out = b.run_output("seccomp-notify");
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("listener"),
        "{}",
        text(&out.stderr)
    );
}
