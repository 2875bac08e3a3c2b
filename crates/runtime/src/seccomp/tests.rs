use hull_oci::runtime::{Seccomp, SeccompArg, SeccompSyscall};

use super::*;

/// `AUDIT_ARCH_X86_64` and `AUDIT_ARCH_I386` (EM_* | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE).
const AUDIT_ARCH_X86_64: u32 = 0xC000_003E;
const AUDIT_ARCH_I386: u32 = 0x4000_0003;

fn rule(names: &[&str], action: &str) -> SeccompSyscall {
    SeccompSyscall {
        names: names.iter().map(|s| s.to_string()).collect(),
        action: action.into(),
        ..Default::default()
    }
}

fn arg(index: u32, value: u64, value_two: u64, op: &str) -> SeccompArg {
    SeccompArg {
        index,
        value,
        value_two,
        op: op.into(),
    }
}

fn allow_list(names: &[&str]) -> Seccomp {
    Seccomp {
        default_action: "SCMP_ACT_ERRNO".into(),
        architectures: vec![
            "SCMP_ARCH_X86_64".into(),
            "SCMP_ARCH_X86".into(),
            "SCMP_ARCH_X32".into(),
        ],
        syscalls: vec![rule(names, "SCMP_ACT_ALLOW")],
        ..Default::default()
    }
}

#[test]
fn compiles_an_allow_list_to_a_nonempty_program() {
    let f = compile(&allow_list(&["read", "write", "exit_group"])).unwrap();
    assert!(!f.is_empty());
    assert!(f.len() > 5, "{f:?}");
    assert_eq!(f.flags(), 0);
}

#[cfg(target_arch = "x86_64")]
#[test]
fn listed_x86_arches_are_dispatched_on() {
    let f = compile(&allow_list(&["read"])).unwrap();
    assert!(f.covers_audit_arch(AUDIT_ARCH_X86_64));
    assert!(f.covers_audit_arch(AUDIT_ARCH_I386));

    let native_only = Seccomp {
        architectures: vec![],
        ..allow_list(&["read"])
    };
    let f = compile(&native_only).unwrap();
    assert!(f.covers_audit_arch(AUDIT_ARCH_X86_64));
    assert!(!f.covers_audit_arch(AUDIT_ARCH_I386));
}

#[test]
fn unknown_syscall_names_are_skipped_like_runc() {
    let f = compile(&allow_list(&["read", "no_such_syscall_in_any_kernel"])).unwrap();
    assert!(!f.is_empty());
}

#[test]
fn rules_equal_to_the_default_action_are_skipped() {
    let mut spec = allow_list(&["read"]);
    spec.syscalls.push(rule(&["write"], "SCMP_ACT_ERRNO"));
    compile(&spec).unwrap();
}

#[test]
fn errno_rules_and_argument_comparisons_compile() {
    let mut spec = allow_list(&["read"]);
    let mut clone = rule(&["clone"], "SCMP_ACT_ALLOW");
    clone.args = vec![arg(0, 0x7E02_0000, 0, "SCMP_CMP_MASKED_EQ")];
    let mut clone3 = rule(&["clone3"], "SCMP_ACT_ERRNO");
    clone3.errno_ret = Some(libc::ENOSYS as u32);
    // The same argument twice: OR-ed, one rule each.
    let mut personality = rule(&["personality"], "SCMP_ACT_ALLOW");
    personality.args = vec![arg(0, 0, 0, "SCMP_CMP_EQ"), arg(0, 8, 0, "SCMP_CMP_EQ")];
    let mut socket = rule(&["socket"], "SCMP_ACT_ALLOW");
    socket.args = vec![arg(0, 40, 0, "SCMP_CMP_NE")];
    let mut several = rule(&["mmap"], "SCMP_ACT_ALLOW");
    several.args = vec![
        arg(0, 1, 0, "SCMP_CMP_LT"),
        arg(1, 1, 0, "SCMP_CMP_LE"),
        arg(2, 1, 0, "SCMP_CMP_GE"),
        arg(3, 1, 0, "SCMP_CMP_GT"),
    ];
    spec.syscalls
        .extend([clone, clone3, personality, socket, several]);
    let bigger = compile(&spec).unwrap();
    assert!(bigger.len() > compile(&allow_list(&["read"])).unwrap().len());
}

#[test]
fn flags_map_to_seccomp_filter_flags() {
    let mut spec = allow_list(&["read"]);
    spec.flags = vec![
        "SECCOMP_FILTER_FLAG_TSYNC".into(),
        "SECCOMP_FILTER_FLAG_LOG".into(),
    ];
    let f = compile(&spec).unwrap();
    assert_eq!(f.flags(), 1 | 2);
}

#[test]
fn every_default_action_is_accepted() {
    for a in [
        "SCMP_ACT_ALLOW",
        "SCMP_ACT_KILL",
        "SCMP_ACT_KILL_PROCESS",
        "SCMP_ACT_KILL_THREAD",
        "SCMP_ACT_TRAP",
        "SCMP_ACT_LOG",
        "SCMP_ACT_TRACE",
    ] {
        let spec = Seccomp {
            default_action: a.into(),
            syscalls: vec![rule(&["getpid"], "SCMP_ACT_ERRNO")],
            ..Default::default()
        };
        compile(&spec).unwrap_or_else(|e| panic!("{a}: {e}"));
    }
}

#[test]
fn bad_input_is_reported_by_name() {
    let bad = |f: &dyn Fn(&mut Seccomp)| {
        let mut spec = allow_list(&["read"]);
        f(&mut spec);
        compile(&spec).unwrap_err().to_string()
    };
    assert!(bad(&|s| s.default_action = "SCMP_ACT_NOPE".into()).contains("SCMP_ACT_NOPE"));
    assert!(bad(&|s| s.architectures.push("SCMP_ARCH_VAX".into())).contains("SCMP_ARCH_VAX"));
    assert!(bad(&|s| s.flags.push("SECCOMP_FILTER_FLAG_NOPE".into())).contains("FLAG_NOPE"));
    assert!(
        bad(&|s| s.syscalls[0].args = vec![arg(0, 1, 0, "SCMP_CMP_ABOUT")])
            .contains("SCMP_CMP_ABOUT")
    );
    assert!(bad(&|s| s.default_errno_ret = Some(70000)).contains("70000"));
    assert!(bad(&|s| s.syscalls[0].action = "SCMP_ACT_NOTIFY".into()).contains("listenerPath"));
}

/// `SECCOMP_RET_USER_NOTIF`, the return value of a notify rule in the BPF program.
const RET_USER_NOTIF: u32 = 0x7fc0_0000;
/// `BPF_RET | BPF_K`.
const RET_K: u16 = 0x06;

fn notify_profile() -> Seccomp {
    Seccomp {
        default_action: "SCMP_ACT_ALLOW".into(),
        listener_path: Some("/run/agent.sock".into()),
        listener_metadata: Some("MKDIR=deny".into()),
        syscalls: vec![rule(&["mkdir", "mkdirat"], "SCMP_ACT_NOTIFY")],
        ..Default::default()
    }
}

fn returns_user_notif(f: &Filter) -> bool {
    f.program
        .iter()
        .any(|i| i.code == RET_K && i.k == RET_USER_NOTIF)
}

#[test]
fn notify_rules_compile_with_a_listener_and_load_with_new_listener() {
    let f = compile(&notify_profile()).unwrap();
    assert!(returns_user_notif(&f), "{f:?}");
    assert!(f.has_listener());
    assert_eq!(f.flags(), hull_sys::seccomp::FILTER_FLAG_NEW_LISTENER);
    // A listener without notify rules still gets its descriptor; no listener, no flag.
    let quiet = Seccomp {
        syscalls: vec![rule(&["mkdir"], "SCMP_ACT_ERRNO")],
        ..notify_profile()
    };
    let f = compile(&quiet).unwrap();
    assert!(f.has_listener() && !returns_user_notif(&f));
    assert!(!compile(&allow_list(&["read"])).unwrap().has_listener());
}

#[test]
fn notify_without_a_listener_or_that_would_deadlock_is_refused() {
    let bad = |f: &dyn Fn(&mut Seccomp)| {
        let mut spec = notify_profile();
        f(&mut spec);
        compile(&spec).unwrap_err().to_string()
    };
    assert!(bad(&|s| s.listener_path = None).contains("needs linux.seccomp.listenerPath"));
    assert!(bad(&|s| s.default_action = "SCMP_ACT_NOTIFY".into()).contains("default action"));
    let sendmsg = bad(&|s| {
        s.syscalls
            .push(rule(&["write", "sendmsg"], "SCMP_ACT_NOTIFY"))
    });
    assert!(sendmsg.contains("sendmsg"), "{sendmsg}");
    let tsync = bad(&|s| s.flags.push("SECCOMP_FILTER_FLAG_TSYNC".into()));
    assert!(tsync.contains("TSYNC"), "{tsync}");
    // Denying sendmsg (not notifying it) is the profile's business.
    let mut deny = notify_profile();
    deny.syscalls.push(rule(&["sendmsg"], "SCMP_ACT_ERRNO"));
    compile(&deny).unwrap();
}

mod listener {
    use std::os::unix::net::UnixListener;

    use hull_oci::runtime::{ContainerProcessState, State};

    use super::super::listener::{connect, message, process_state};
    use super::super::Listener;
    use super::*;

    fn state() -> State {
        State {
            oci_version: "1.2.0".into(),
            id: "web".into(),
            status: "creating".into(),
            pid: Some(4242),
            bundle: "/b/web".into(),
            annotations: [("k".to_string(), "v".to_string())].into(),
        }
    }

    #[test]
    fn the_message_is_the_container_process_state() {
        let msg = message(&process_state(&notify_profile(), state()));
        let v: serde_json::Value = serde_json::from_slice(&msg).unwrap();
        assert_eq!(v["ociVersion"], hull_oci::runtime::OCI_VERSION);
        assert_eq!(v["fds"], serde_json::json!(["seccompFd"]));
        assert_eq!(v["pid"], 4242);
        assert_eq!(v["metadata"], "MKDIR=deny");
        assert_eq!(v["state"]["id"], "web");
        assert_eq!(v["state"]["status"], "creating");
        assert_eq!(v["state"]["pid"], 4242);
        assert_eq!(v["state"]["bundle"], "/b/web");
        assert_eq!(v["state"]["annotations"]["k"], "v");
        let parsed: ContainerProcessState = serde_json::from_slice(&msg).unwrap();
        assert_eq!(parsed.state, state());
        // No metadata: the field is left out (it is OPTIONAL).
        let bare = Seccomp {
            listener_metadata: None,
            ..notify_profile()
        };
        let v: serde_json::Value =
            serde_json::from_slice(&message(&process_state(&bare, state()))).unwrap();
        assert!(v.get("metadata").is_none(), "{v}");
    }

    #[test]
    fn an_unreachable_listener_is_named_with_the_operation() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nobody.sock");
        let err = connect(&path).unwrap_err();
        let chain = format!("{err}: {}", std::error::Error::source(&err).unwrap());
        assert_eq!(
            chain,
            format!(
                "seccomp listener {}: connect: No such file or directory (os error 2)",
                path.display()
            )
        );
    }

    #[test]
    fn send_delivers_the_message_with_the_descriptor() {
        use std::io::{Read, Seek, Write};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agent.sock");
        let server = UnixListener::bind(&path).unwrap();
        let sock = connect(&path).unwrap();
        let (conn, _) = server.accept().unwrap();
        let mut l = Listener::new(
            path.clone(),
            sock,
            process_state(&notify_profile(), state()),
        );
        // An exec'd process: its own pid in the message, the container's in the state.
        l.set_pid(5151);
        let mut want = process_state(&notify_profile(), state());
        want.pid = 5151;
        let msg = message(&want);
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(b"notify").unwrap();
        l.send(&file).unwrap();
        drop(l);
        let mut buf = vec![0u8; 64 * 1024];
        let (n, fd) = hull_sys::socket::recv_with_fd(&conn, &mut buf).unwrap();
        assert_eq!(&buf[..n], &msg[..]);
        let mut got = std::fs::File::from(fd.expect("a descriptor with the message"));
        got.rewind().unwrap();
        let mut s = String::new();
        got.read_to_string(&mut s).unwrap();
        assert_eq!(s, "notify");
        // The sender's end is closed with the Listener: end of stream.
        assert_eq!(
            hull_sys::socket::recv_with_fd(&conn, &mut buf).unwrap().0,
            0
        );
    }
}

mod cache {
    use super::super::cache::compile_cached;
    use super::*;

    fn bytes(f: &Filter) -> Vec<(u16, u8, u8, u32)> {
        f.program
            .iter()
            .map(|i| (i.code, i.jt, i.jf, i.k))
            .collect()
    }

    fn entries(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
        let mut v: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn a_miss_compiles_and_stores_and_a_hit_returns_the_same_program() {
        let dir = tempfile::tempdir().unwrap();
        let spec = Seccomp {
            flags: vec!["SECCOMP_FILTER_FLAG_LOG".into()],
            ..allow_list(&["read", "write", "exit_group"])
        };
        let fresh = compile(&spec).unwrap();
        let first = compile_cached(&spec, dir.path()).unwrap();
        let stored = entries(dir.path());
        assert_eq!(stored.len(), 1, "{stored:?}");
        assert!(stored[0].to_string_lossy().ends_with(".bpf"));
        let second = compile_cached(&spec, dir.path()).unwrap();
        assert_eq!(bytes(&first), bytes(&fresh));
        assert_eq!(bytes(&second), bytes(&fresh));
        assert_eq!(
            (first.flags(), second.flags()),
            (fresh.flags(), fresh.flags())
        );
        assert_ne!(second.flags(), 0);
    }

    #[test]
    fn a_different_profile_gets_its_own_entry() {
        let dir = tempfile::tempdir().unwrap();
        let a = compile_cached(&allow_list(&["read"]), dir.path()).unwrap();
        let b = compile_cached(&allow_list(&["read", "write"]), dir.path()).unwrap();
        assert_eq!(entries(dir.path()).len(), 2);
        assert_ne!(bytes(&a), bytes(&b));
    }

    #[test]
    fn a_damaged_entry_is_ignored_and_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        let spec = allow_list(&["read", "write"]);
        let good = compile_cached(&spec, dir.path()).unwrap();
        let path = entries(dir.path()).remove(0);
        let mut data = std::fs::read(&path).unwrap();
        // Flip a bit of the program: a torn or corrupted file must not be loaded.
        let last = data.len() - 1;
        data[last] ^= 1;
        std::fs::write(&path, &data).unwrap();
        let again = compile_cached(&spec, dir.path()).unwrap();
        assert_eq!(bytes(&again), bytes(&good));
        assert_ne!(
            std::fs::read(&path).unwrap(),
            data,
            "entry was not rewritten"
        );
        // Truncated to nothing: the same.
        std::fs::write(&path, b"").unwrap();
        assert_eq!(
            bytes(&compile_cached(&spec, dir.path()).unwrap()),
            bytes(&good)
        );
    }
}
