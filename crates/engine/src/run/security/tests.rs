use hull_oci::runtime::Seccomp;

use super::*;

fn docker_default_caps() -> Vec<String> {
    DEFAULT_CAPABILITIES.iter().map(|s| s.to_string()).collect()
}

fn host(arch: &str, native: &str, kernel: (u32, u32), caps: &[&str]) -> Host {
    let caps: Vec<String> = caps.iter().map(|s| s.to_string()).collect();
    Host {
        arch: arch.into(),
        native: native.into(),
        kernel,
        ..Host::current(&caps)
    }
}

fn amd64(caps: &[&str]) -> Seccomp {
    resolve(
        &default_profile(),
        &host("amd64", "SCMP_ARCH_X86_64", (6, 18), caps),
    )
    .unwrap()
}

/// The rules that name `syscall`.
fn rules_for<'a>(s: &'a Seccomp, syscall: &str) -> Vec<&'a hull_oci::runtime::SeccompSyscall> {
    s.syscalls
        .iter()
        .filter(|r| r.names.iter().any(|n| n == syscall))
        .collect()
}

/// Allowed with no argument condition.
fn allowed(s: &Seccomp, syscall: &str) -> bool {
    rules_for(s, syscall)
        .iter()
        .any(|r| r.action == "SCMP_ACT_ALLOW" && r.args.is_empty())
}

const ADMIN_ONLY: &[&str] = &[
    "mount",
    "umount2",
    "unshare",
    "setns",
    "bpf",
    "fsopen",
    "fsconfig",
    "fsmount",
    "move_mount",
    "open_tree",
    "mount_setattr",
    "sethostname",
    "setdomainname",
    "clone3",
];
const NEVER_BY_DEFAULT: &[&str] = &[
    "keyctl",
    "add_key",
    "request_key",
    "kexec_load",
    "reboot",
    "init_module",
    "swapon",
    "swapoff",
    "pivot_root",
    "acct",
    "settimeofday",
    "iopl",
    "userfaultfd",
];

#[test]
fn default_denies_with_eperm_and_allows_about_350_syscalls() {
    let s = amd64(&[]);
    assert_eq!(s.default_action, "SCMP_ACT_ERRNO");
    assert_eq!(s.default_errno_ret, Some(1));
    let mut names: Vec<&str> = s
        .syscalls
        .iter()
        .filter(|r| r.action == "SCMP_ACT_ALLOW")
        .flat_map(|r| r.names.iter().map(String::as_str))
        .collect();
    names.sort();
    names.dedup();
    assert!(
        (320..=400).contains(&names.len()),
        "{} allowed",
        names.len()
    );
    for common in [
        "read",
        "write",
        "openat",
        "execve",
        "exit_group",
        "futex",
        "mmap",
        "clone",
    ] {
        assert!(names.contains(&common), "{common}");
    }
}

#[test]
fn docker_default_caps_leave_admin_and_key_syscalls_denied() {
    let s = default_seccomp(&docker_default_caps());
    for name in ADMIN_ONLY.iter().chain(NEVER_BY_DEFAULT) {
        assert!(
            !allowed(&s, name),
            "{name} is allowed without its capability"
        );
    }
    for name in ["keyctl", "add_key", "request_key"] {
        assert!(rules_for(&s, name).is_empty(), "{name} has a rule");
    }
    // CAP_SYS_CHROOT is among Docker's defaults.
    assert!(allowed(&s, "chroot"));
}

#[test]
fn cap_sys_admin_unlocks_the_admin_syscalls() {
    let s = amd64(&["CAP_SYS_ADMIN"]);
    for name in ADMIN_ONLY {
        assert!(allowed(&s, name), "{name} not allowed with CAP_SYS_ADMIN");
    }
    // The ENOSYS rule for clone3 is gone, and clone has no argument restriction.
    assert!(rules_for(&s, "clone3")
        .iter()
        .all(|r| r.action == "SCMP_ACT_ALLOW"));
    assert!(allowed(&s, "clone"));
    assert!(!allowed(&s, "keyctl"));
}

#[test]
fn each_capability_unlocks_its_own_syscalls_only() {
    let table = [
        ("CAP_SYS_BOOT", "reboot"),
        ("CAP_SYS_MODULE", "init_module"),
        ("CAP_SYS_TIME", "settimeofday"),
        ("CAP_SYS_RAWIO", "iopl"),
        ("CAP_SYS_PACCT", "acct"),
        ("CAP_SYS_NICE", "mbind"),
        ("CAP_SYSLOG", "syslog"),
        ("CAP_BPF", "bpf"),
        ("CAP_PERFMON", "perf_event_open"),
        ("CAP_SYS_PTRACE", "kcmp"),
        ("CAP_DAC_READ_SEARCH", "open_by_handle_at"),
        ("CAP_SYS_TTY_CONFIG", "vhangup"),
    ];
    for (cap, syscall) in table {
        assert!(!allowed(&amd64(&[]), syscall), "{syscall} without {cap}");
        assert!(allowed(&amd64(&[cap]), syscall), "{syscall} with {cap}");
    }
    assert!(!allowed(&amd64(&["CAP_BPF"]), "mount"));
}

#[test]
fn clone_is_allowed_only_without_namespace_flags_and_clone3_gets_enosys() {
    let s = amd64(&[]);
    let clone = rules_for(&s, "clone");
    assert_eq!(clone.len(), 1, "{clone:?}");
    let a = &clone[0].args[0];
    assert_eq!((a.index, a.value, a.value_two), (0, 0x7E02_0000, 0));
    assert_eq!(a.op, "SCMP_CMP_MASKED_EQ");
    // CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET
    let ns = [
        0x20000u64,
        0x0200_0000,
        0x0400_0000,
        0x0800_0000,
        0x1000_0000,
        0x2000_0000,
        0x4000_0000,
    ];
    assert_eq!(ns.iter().fold(0, |m, f| m | f), CLONE_NS_FLAGS);

    let clone3 = rules_for(&s, "clone3");
    assert_eq!(clone3.len(), 1);
    assert_eq!(clone3[0].action, "SCMP_ACT_ERRNO");
    assert_eq!(clone3[0].errno_ret, Some(38));

    let s390 = resolve(
        &default_profile(),
        &host("s390x", "SCMP_ARCH_S390X", (6, 1), &[]),
    )
    .unwrap();
    let clone = rules_for(&s390, "clone");
    assert_eq!(clone.len(), 1);
    assert_eq!(clone[0].args[0].index, 1, "s390 passes flags second");
}

#[test]
fn socket_and_personality_are_restricted_by_argument() {
    let s = amd64(&[]);
    let socket = rules_for(&s, "socket");
    assert_eq!(socket.len(), 1);
    assert_eq!(socket[0].args[0].op, "SCMP_CMP_NE");
    assert_eq!(socket[0].args[0].value, 40, "AF_VSOCK");
    let personality = rules_for(&s, "personality");
    assert_eq!(personality.len(), 5);
    assert!(personality
        .iter()
        .all(|r| r.args.len() == 1 && r.args[0].op == "SCMP_CMP_EQ"));
}

#[test]
fn x86_64_covers_the_x86_and_x32_abis() {
    let s = amd64(&[]);
    assert_eq!(
        s.architectures,
        ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
    );
    assert!(allowed(&s, "arch_prctl"));
    assert!(allowed(&s, "modify_ldt"));
    assert!(!allowed(&s, "cacheflush"));

    let arm = resolve(
        &default_profile(),
        &host("arm64", "SCMP_ARCH_AARCH64", (6, 1), &[]),
    )
    .unwrap();
    assert_eq!(arm.architectures, ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]);
    assert!(!allowed(&arm, "arch_prctl"));
    assert!(allowed(&arm, "cacheflush"));
}

#[test]
fn ptrace_needs_cap_sys_ptrace_before_linux_4_8() {
    let old = |caps: &[&str]| {
        resolve(
            &default_profile(),
            &host("amd64", "SCMP_ARCH_X86_64", (4, 4), caps),
        )
        .unwrap()
    };
    assert!(!allowed(&old(&[]), "ptrace"));
    assert!(allowed(&old(&["CAP_SYS_PTRACE"]), "ptrace"));
    assert!(allowed(&amd64(&[]), "ptrace"));
    assert!(!allowed(&amd64(&[]), "kcmp"));
}

#[test]
fn default_profile_round_trips_through_docker_json() {
    let json = serde_json::to_vec_pretty(&default_profile()).unwrap();
    let caps = docker_default_caps();
    assert_eq!(
        parse_docker_profile(&json, &caps).unwrap(),
        default_seccomp(&caps)
    );
}

#[test]
fn default_profile_compiles_to_bpf() {
    for caps in [
        docker_default_caps(),
        vec![],
        vec!["CAP_SYS_ADMIN".to_string()],
    ] {
        let filter = hull_runtime::seccomp::compile(&default_seccomp(&caps)).unwrap();
        assert!(filter.len() > 100, "{filter:?}");
    }
}

const USER_PROFILE: &str = r#"{
    "defaultAction": "SCMP_ACT_ERRNO",
    "defaultErrnoRet": 38,
    "archMap": [
        {"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]},
        {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]}
    ],
    "syscalls": [
        {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
        {"name": "getpid", "action": "SCMP_ACT_ALLOW", "comment": "old single-name form"},
        {"names": ["mount"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
        {"names": ["chown"], "action": "SCMP_ACT_ALLOW", "excludes": {"caps": ["CAP_SYS_ADMIN"]}},
        {"names": ["arch_prctl"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["amd64"]}},
        {"names": ["cacheflush"], "action": "SCMP_ACT_ALLOW", "excludes": {"arches": ["amd64"]}},
        {"names": ["ptrace"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "4.8"}},
        {"names": ["uselib"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "99.0"}},
        {"names": ["kill"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13,
         "args": [{"index": 1, "value": 9, "op": "SCMP_CMP_EQ"}]}
    ]
}"#;

#[test]
fn parses_docker_format_with_arch_map_and_conditions() {
    let profile: DockerProfile = serde_json::from_str(USER_PROFILE).unwrap();
    let plain = resolve(&profile, &host("amd64", "SCMP_ARCH_X86_64", (6, 18), &[])).unwrap();
    assert_eq!(plain.default_errno_ret, Some(38));
    assert_eq!(
        plain.architectures,
        ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
    );
    for yes in ["read", "getpid", "chown", "arch_prctl", "ptrace"] {
        assert!(allowed(&plain, yes), "{yes}");
    }
    for no in ["mount", "cacheflush", "uselib"] {
        assert!(rules_for(&plain, no).is_empty(), "{no}");
    }
    let kill = rules_for(&plain, "kill")[0];
    assert_eq!(
        (kill.errno_ret, kill.args[0].index, kill.args[0].value),
        (Some(13), 1, 9)
    );

    let admin = resolve(
        &profile,
        &host("arm64", "SCMP_ARCH_AARCH64", (4, 4), &["sys_admin"]),
    )
    .unwrap();
    assert_eq!(admin.architectures, ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]);
    assert!(allowed(&admin, "mount"));
    assert!(allowed(&admin, "cacheflush"));
    for no in ["chown", "arch_prctl", "ptrace"] {
        assert!(rules_for(&admin, no).is_empty(), "{no}");
    }
    hull_runtime::seccomp::compile(&plain).unwrap();
}

#[test]
fn explicit_architectures_are_kept_as_written() {
    let json = br#"{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86"],
                    "syscalls": [{"names": ["keyctl"], "action": "SCMP_ACT_ERRNO"}]}"#;
    let s = parse_docker_profile(json, &[]).unwrap();
    assert_eq!(s.architectures, ["SCMP_ARCH_X86"]);
    assert_eq!(s.default_errno_ret, None);
}

#[test]
fn malformed_profiles_are_rejected_with_a_reason() {
    let bad = |json: &str| {
        parse_docker_profile(json.as_bytes(), &[])
            .unwrap_err()
            .to_string()
    };
    assert!(bad("{").contains("parse seccomp profile"));
    assert!(bad(
        r#"{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86"],
                   "archMap": [{"architecture": "SCMP_ARCH_X86_64"}]}"#
    )
    .contains("archMap"));
    assert!(bad(r#"{"defaultAction": "SCMP_ACT_ALLOW",
                   "syscalls": [{"name": "read", "names": ["write"], "action": "SCMP_ACT_ERRNO"}]}"#)
        .contains("both"));
    assert!(bad(r#"{"defaultAction": "SCMP_ACT_ALLOW",
                   "syscalls": [{"action": "SCMP_ACT_ERRNO"}]}"#)
    .contains("neither"));
    assert!(bad(r#"{"defaultAction": "SCMP_ACT_ALLOW",
                   "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO", "includes": {"minKernel": "new"}}]}"#)
        .contains("minKernel"));
}

#[test]
fn kernel_versions_parse_from_release_strings() {
    assert_eq!(profile::parse_kernel("6.18.0-1-amd64"), Some((6, 18)));
    assert_eq!(profile::parse_kernel("4.8"), Some((4, 8)));
    assert_eq!(profile::parse_kernel("5"), None);
}

#[test]
fn no_capability_gated_syscall_is_also_unconditionally_allowed() {
    let p = default_profile();
    let always = &p.syscalls[0];
    assert!(always.includes.caps.is_empty() && always.args.is_empty());
    for rule in p.syscalls.iter().filter(|r| !r.includes.caps.is_empty()) {
        for name in &rule.names {
            assert!(
                !always.names.contains(name),
                "{name} is gated by {:?} and also always allowed",
                rule.includes.caps
            );
        }
    }
    let mut sorted = always.names.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(
        sorted.len(),
        always.names.len(),
        "duplicate names in the allow-list"
    );
}
