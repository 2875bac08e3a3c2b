//! Docker's default seccomp profile, as a table. It is the allow-list moby ships as
//! `profiles/seccomp/default.json`, restated here rule by rule; [`profile`] turns it into the
//! Docker format so that it is evaluated by the same code as a user's `seccomp=profile.json`.
//!
//! Shape: everything not allowed fails with EPERM. A large unconditional allow-list comes first;
//! then rules that depend on the architecture, the kernel version or the capabilities the
//! container has in its bounding set.

use super::profile::{ArchMap, Condition, DockerProfile, DockerSyscall};
use hull_oci::runtime::SeccompArg;

const ALLOW: &str = "SCMP_ACT_ALLOW";
const ERRNO: &str = "SCMP_ACT_ERRNO";

/// `EPERM`: the errno of everything outside the allow-list.
const EPERM: u32 = 1;
/// `ENOSYS`: what clone3 returns without CAP_SYS_ADMIN, so that libc falls back to clone(2),
/// whose flags the filter can inspect (clone3 passes them in memory, out of seccomp's reach).
const ENOSYS: u32 = 38;

/// clone(2) flags that create namespaces: NEWNS 0x20000 | NEWCGROUP 0x02000000 |
/// NEWUTS 0x04000000 | NEWIPC 0x08000000 | NEWUSER 0x10000000 | NEWPID 0x20000000 |
/// NEWNET 0x40000000 = 0x7E020000. Without CAP_SYS_ADMIN clone is allowed only when
/// `flags & CLONE_NS_FLAGS == 0`.
pub const CLONE_NS_FLAGS: u64 = 0x7E02_0000;

/// `AF_VSOCK`: sockets to the hypervisor are denied, every other family is allowed.
const AF_VSOCK: u64 = 40;

/// personality(2) values that stay allowed: PER_LINUX, PER_LINUX32, UNAME26, UNAME26|PER_LINUX32,
/// and 0xffffffff, which only queries the current persona.
const PERSONALITIES: [u64; 5] = [0x0, 0x8, 0x2_0000, 0x2_0008, 0xffff_ffff];

/// Allowed for every container: the ordinary life of a process (files, memory, signals,
/// sockets, time, ids, IPC), including 32-bit and time64 variants for the x86/x32 ABIs.
const ALWAYS: &[&str] = &[
    "accept",
    "accept4",
    "access",
    "adjtimex",
    "alarm",
    "bind",
    "brk",
    "cachestat",
    "capget",
    "capset",
    "chdir",
    "chmod",
    "chown",
    "chown32",
    "clock_adjtime",
    "clock_adjtime64",
    "clock_getres",
    "clock_getres_time64",
    "clock_gettime",
    "clock_gettime64",
    "clock_nanosleep",
    "clock_nanosleep_time64",
    "close",
    "close_range",
    "connect",
    "copy_file_range",
    "creat",
    "dup",
    "dup2",
    "dup3",
    "epoll_create",
    "epoll_create1",
    "epoll_ctl",
    "epoll_ctl_old",
    "epoll_pwait",
    "epoll_pwait2",
    "epoll_wait",
    "epoll_wait_old",
    "eventfd",
    "eventfd2",
    "execve",
    "execveat",
    "exit",
    "exit_group",
    "faccessat",
    "faccessat2",
    "fadvise64",
    "fadvise64_64",
    "fallocate",
    "fanotify_mark",
    "fchdir",
    "fchmod",
    "fchmodat",
    "fchmodat2",
    "fchown",
    "fchown32",
    "fchownat",
    "fcntl",
    "fcntl64",
    "fdatasync",
    "fgetxattr",
    "flistxattr",
    "flock",
    "fork",
    "fremovexattr",
    "fsetxattr",
    "fstat",
    "fstat64",
    "fstatat64",
    "fstatfs",
    "fstatfs64",
    "fsync",
    "ftruncate",
    "ftruncate64",
    "futex",
    "futex_requeue",
    "futex_time64",
    "futex_wait",
    "futex_waitv",
    "futex_wake",
    "futimesat",
    "getcpu",
    "getcwd",
    "getdents",
    "getdents64",
    "getegid",
    "getegid32",
    "geteuid",
    "geteuid32",
    "getgid",
    "getgid32",
    "getgroups",
    "getgroups32",
    "getitimer",
    "getpeername",
    "getpgid",
    "getpgrp",
    "getpid",
    "getppid",
    "getpriority",
    "getrandom",
    "getresgid",
    "getresgid32",
    "getresuid",
    "getresuid32",
    "getrlimit",
    "get_robust_list",
    "getrusage",
    "getsid",
    "getsockname",
    "getsockopt",
    "get_thread_area",
    "gettid",
    "gettimeofday",
    "getuid",
    "getuid32",
    "getxattr",
    "inotify_add_watch",
    "inotify_init",
    "inotify_init1",
    "inotify_rm_watch",
    "io_cancel",
    "ioctl",
    "io_destroy",
    "io_getevents",
    "io_pgetevents",
    "io_pgetevents_time64",
    "ioprio_get",
    "ioprio_set",
    "io_setup",
    "io_submit",
    "ipc",
    "kill",
    "landlock_add_rule",
    "landlock_create_ruleset",
    "landlock_restrict_self",
    "lchown",
    "lchown32",
    "lgetxattr",
    "link",
    "linkat",
    "listen",
    "listxattr",
    "llistxattr",
    "_llseek",
    "lremovexattr",
    "lseek",
    "lsetxattr",
    "lstat",
    "lstat64",
    "madvise",
    "map_shadow_stack",
    "membarrier",
    "memfd_create",
    "memfd_secret",
    "mincore",
    "mkdir",
    "mkdirat",
    "mknod",
    "mknodat",
    "mlock",
    "mlock2",
    "mlockall",
    "mmap",
    "mmap2",
    "mprotect",
    "mq_getsetattr",
    "mq_notify",
    "mq_open",
    "mq_timedreceive",
    "mq_timedreceive_time64",
    "mq_timedsend",
    "mq_timedsend_time64",
    "mq_unlink",
    "mremap",
    "mseal",
    "msgctl",
    "msgget",
    "msgrcv",
    "msgsnd",
    "msync",
    "munlock",
    "munlockall",
    "munmap",
    "nanosleep",
    "newfstatat",
    "_newselect",
    "open",
    "openat",
    "openat2",
    "pause",
    "pidfd_open",
    "pidfd_send_signal",
    "pipe",
    "pipe2",
    "pkey_alloc",
    "pkey_free",
    "pkey_mprotect",
    "poll",
    "ppoll",
    "ppoll_time64",
    "prctl",
    "pread64",
    "preadv",
    "preadv2",
    "prlimit64",
    "process_mrelease",
    "pselect6",
    "pselect6_time64",
    "pwrite64",
    "pwritev",
    "pwritev2",
    "read",
    "readahead",
    "readlink",
    "readlinkat",
    "readv",
    "recv",
    "recvfrom",
    "recvmmsg",
    "recvmmsg_time64",
    "recvmsg",
    "remap_file_pages",
    "removexattr",
    "rename",
    "renameat",
    "renameat2",
    "restart_syscall",
    "rmdir",
    "rseq",
    "rt_sigaction",
    "rt_sigpending",
    "rt_sigprocmask",
    "rt_sigqueueinfo",
    "rt_sigreturn",
    "rt_sigsuspend",
    "rt_sigtimedwait",
    "rt_sigtimedwait_time64",
    "rt_tgsigqueueinfo",
    "sched_getaffinity",
    "sched_getattr",
    "sched_getparam",
    "sched_get_priority_max",
    "sched_get_priority_min",
    "sched_getscheduler",
    "sched_rr_get_interval",
    "sched_rr_get_interval_time64",
    "sched_setaffinity",
    "sched_setattr",
    "sched_setparam",
    "sched_setscheduler",
    "sched_yield",
    "seccomp",
    "select",
    "semctl",
    "semget",
    "semop",
    "semtimedop",
    "semtimedop_time64",
    "send",
    "sendfile",
    "sendfile64",
    "sendmmsg",
    "sendmsg",
    "sendto",
    "setfsgid",
    "setfsgid32",
    "setfsuid",
    "setfsuid32",
    "setgid",
    "setgid32",
    "setgroups",
    "setgroups32",
    "setitimer",
    "setpgid",
    "setpriority",
    "setregid",
    "setregid32",
    "setresgid",
    "setresgid32",
    "setresuid",
    "setresuid32",
    "setreuid",
    "setreuid32",
    "setrlimit",
    "set_robust_list",
    "setsid",
    "setsockopt",
    "set_thread_area",
    "set_tid_address",
    "setuid",
    "setuid32",
    "setxattr",
    "shmat",
    "shmctl",
    "shmdt",
    "shmget",
    "shutdown",
    "sigaltstack",
    "signalfd",
    "signalfd4",
    "sigprocmask",
    "sigreturn",
    "socketcall",
    "socketpair",
    "splice",
    "stat",
    "stat64",
    "statfs",
    "statfs64",
    "statx",
    "symlink",
    "symlinkat",
    "sync",
    "sync_file_range",
    "syncfs",
    "sysinfo",
    "tee",
    "tgkill",
    "time",
    "timer_create",
    "timer_delete",
    "timer_getoverrun",
    "timer_gettime",
    "timer_gettime64",
    "timer_settime",
    "timer_settime64",
    "timerfd_create",
    "timerfd_gettime",
    "timerfd_gettime64",
    "timerfd_settime",
    "timerfd_settime64",
    "times",
    "tkill",
    "truncate",
    "truncate64",
    "ugetrlimit",
    "umask",
    "uname",
    "unlink",
    "unlinkat",
    "utime",
    "utimensat",
    "utimensat_time64",
    "utimes",
    "vfork",
    "vmsplice",
    "wait4",
    "waitid",
    "waitpid",
    "write",
    "writev",
];

/// Syscalls that only some architectures have: (names, Go architecture names they apply to).
const PER_ARCH: &[(&[&str], &[&str])] = &[
    (&["sync_file_range2", "swapcontext"], &["ppc64le"]),
    (
        &[
            "arm_fadvise64_64",
            "arm_sync_file_range",
            "sync_file_range2",
            "breakpoint",
            "cacheflush",
            "set_tls",
        ],
        &["arm", "arm64"],
    ),
    (&["arch_prctl"], &["amd64", "x32"]),
    (&["modify_ldt"], &["amd64", "x32", "x86"]),
    (
        &[
            "s390_pci_mmio_read",
            "s390_pci_mmio_write",
            "s390_runtime_instr",
        ],
        &["s390", "s390x"],
    ),
    (&["riscv_flush_icache"], &["riscv64"]),
];

/// Syscalls a capability unlocks: with the capability in the bounding set the syscall is allowed
/// outright (the capability check then happens in the kernel, as on the host).
const BY_CAPABILITY: &[(&str, &[&str])] = &[
    ("CAP_DAC_READ_SEARCH", &["open_by_handle_at"]),
    (
        "CAP_SYS_ADMIN",
        &[
            "bpf",
            "clone",
            "clone3",
            "fanotify_init",
            "fsconfig",
            "fsmount",
            "fsopen",
            "fspick",
            "lookup_dcookie",
            "mount",
            "mount_setattr",
            "move_mount",
            "name_to_handle_at",
            "open_tree",
            "perf_event_open",
            "quotactl",
            "quotactl_fd",
            "setdomainname",
            "sethostname",
            "setns",
            "syslog",
            "umount",
            "umount2",
            "unshare",
        ],
    ),
    ("CAP_SYS_BOOT", &["reboot"]),
    ("CAP_SYS_CHROOT", &["chroot"]),
    (
        "CAP_SYS_MODULE",
        &["delete_module", "init_module", "finit_module"],
    ),
    ("CAP_SYS_PACCT", &["acct"]),
    (
        "CAP_SYS_PTRACE",
        &[
            "kcmp",
            "pidfd_getfd",
            "process_madvise",
            "process_vm_readv",
            "process_vm_writev",
            "ptrace",
        ],
    ),
    ("CAP_SYS_RAWIO", &["iopl", "ioperm"]),
    (
        "CAP_SYS_TIME",
        &["settimeofday", "stime", "clock_settime", "clock_settime64"],
    ),
    ("CAP_SYS_TTY_CONFIG", &["vhangup"]),
    (
        "CAP_SYS_NICE",
        &[
            "get_mempolicy",
            "mbind",
            "set_mempolicy",
            "set_mempolicy_home_node",
        ],
    ),
    ("CAP_SYSLOG", &["syslog"]),
    ("CAP_BPF", &["bpf"]),
    ("CAP_PERFMON", &["perf_event_open"]),
];

/// Since Linux 4.8 a ptrace'd process can no longer escape its seccomp filter, so reading
/// another process's memory is allowed without CAP_SYS_PTRACE from that kernel on.
const PTRACE_SAFE: (&[&str], &str) = (&["process_vm_readv", "process_vm_writev", "ptrace"], "4.8");

/// Architectures: a native one (the filter's own) and the ABIs its CPU can also run.
const ARCH_MAP: &[(&str, &[&str])] = &[
    ("SCMP_ARCH_X86_64", &["SCMP_ARCH_X86", "SCMP_ARCH_X32"]),
    ("SCMP_ARCH_AARCH64", &["SCMP_ARCH_ARM"]),
    (
        "SCMP_ARCH_MIPS64",
        &["SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64N32"],
    ),
    (
        "SCMP_ARCH_MIPS64N32",
        &["SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64"],
    ),
    (
        "SCMP_ARCH_MIPSEL64",
        &["SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64N32"],
    ),
    (
        "SCMP_ARCH_MIPSEL64N32",
        &["SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64"],
    ),
    ("SCMP_ARCH_S390X", &["SCMP_ARCH_S390"]),
    ("SCMP_ARCH_RISCV64", &[]),
];

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn allow(names: &[&str]) -> DockerSyscall {
    DockerSyscall {
        names: strings(names),
        action: ALLOW.into(),
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

fn caps(names: &[&str]) -> Condition {
    Condition {
        caps: strings(names),
        ..Default::default()
    }
}

fn arches(names: &[&str]) -> Condition {
    Condition {
        arches: strings(names),
        ..Default::default()
    }
}

/// Docker's default profile in Docker's format, before evaluation for a container.
pub fn profile() -> DockerProfile {
    let mut rules = vec![allow(ALWAYS)];
    rules.push(DockerSyscall {
        includes: Condition {
            min_kernel: Some(PTRACE_SAFE.1.into()),
            ..Default::default()
        },
        ..allow(PTRACE_SAFE.0)
    });
    rules.push(DockerSyscall {
        args: vec![arg(0, AF_VSOCK, 0, "SCMP_CMP_NE")],
        ..allow(&["socket"])
    });
    // One rule per value: comparisons on the same argument in one rule would be AND-ed.
    rules.extend(PERSONALITIES.iter().map(|&p| DockerSyscall {
        args: vec![arg(0, p, 0, "SCMP_CMP_EQ")],
        ..allow(&["personality"])
    }));
    rules.extend(PER_ARCH.iter().map(|(names, on)| DockerSyscall {
        includes: arches(on),
        ..allow(names)
    }));
    rules.extend(BY_CAPABILITY.iter().map(|(cap, names)| DockerSyscall {
        includes: caps(&[cap]),
        ..allow(names)
    }));
    rules.extend(clone_without_namespaces());
    DockerProfile {
        default_action: ERRNO.into(),
        default_errno_ret: Some(EPERM),
        arch_map: ARCH_MAP
            .iter()
            .map(|(arch, subs)| ArchMap {
                architecture: arch.to_string(),
                sub_architectures: strings(subs),
            })
            .collect(),
        syscalls: rules,
        ..Default::default()
    }
}

/// Without CAP_SYS_ADMIN: clone only without namespace flags (the flags are argument 0, except
/// on s390 where the first two arguments are swapped), and clone3 fails with ENOSYS.
fn clone_without_namespaces() -> [DockerSyscall; 3] {
    let no_admin = caps(&["CAP_SYS_ADMIN"]);
    let s390 = ["s390", "s390x"];
    [
        DockerSyscall {
            args: vec![arg(0, CLONE_NS_FLAGS, 0, "SCMP_CMP_MASKED_EQ")],
            excludes: Condition {
                arches: strings(&s390),
                ..no_admin.clone()
            },
            ..allow(&["clone"])
        },
        DockerSyscall {
            args: vec![arg(1, CLONE_NS_FLAGS, 0, "SCMP_CMP_MASKED_EQ")],
            includes: arches(&s390),
            excludes: no_admin.clone(),
            ..allow(&["clone"])
        },
        DockerSyscall {
            names: strings(&["clone3"]),
            action: ERRNO.into(),
            errno_ret: Some(ENOSYS),
            excludes: no_admin,
            ..Default::default()
        },
    ]
}
