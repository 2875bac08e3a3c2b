use hull_oci::runtime::{ExecCpuAffinity, IoPriority, Linux, MemoryPolicy, Personality};
use hull_oci::runtime::{Process, Scheduler};

use super::*;

/// A host with CPUs 0-3 and NUMA nodes 0-1, in a temp dir.
struct FakeHost {
    dir: tempfile::TempDir,
}

impl FakeHost {
    fn new() -> FakeHost {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("cpus"), "0-3\n").unwrap();
        std::fs::write(dir.path().join("nodes"), "0-1\n").unwrap();
        FakeHost { dir }
    }

    fn host(&self) -> Host {
        Host {
            cpus: self.dir.path().join("cpus"),
            nodes: self.dir.path().join("nodes"),
        }
    }
}

fn with_linux(linux: Linux) -> Result<ProcAttrs, String> {
    let h = FakeHost::new();
    plan_on(&Process::default(), Some(&linux), Role::Init, &h.host())
}

fn with_process(p: Process, role: Role) -> Result<ProcAttrs, String> {
    let h = FakeHost::new();
    plan_on(&p, None, role, &h.host())
}

fn mpol(mode: &str, nodes: Option<&str>, flags: &[&str]) -> Result<ProcAttrs, String> {
    with_linux(Linux {
        memory_policy: Some(MemoryPolicy {
            mode: mode.into(),
            nodes: nodes.map(String::from),
            flags: flags.iter().map(|f| f.to_string()).collect(),
        }),
        ..Linux::default()
    })
}

fn sched(s: Scheduler) -> Result<ProcAttrs, String> {
    with_process(
        Process {
            scheduler: Some(s),
            ..Process::default()
        },
        Role::Init,
    )
}

/// The error, which must be one line starting with `field`.
fn refused(r: Result<ProcAttrs, String>, field: &str) -> String {
    let err = r.expect_err("accepted");
    assert!(
        err.starts_with(field),
        "{err:?} does not start with {field}"
    );
    assert!(!err.contains('\n'), "{err:?}");
    err
}

#[test]
fn memory_policy_modes_become_numbers_with_their_flags() {
    let a = mpol("MPOL_BIND", Some("0-1"), &["MPOL_F_STATIC_NODES"]).unwrap();
    let m = a.memory_policy.unwrap();
    assert_eq!(m.mode, MPOL_BIND | MPOL_F_STATIC_NODES);
    assert_eq!(m.nodes, vec![0b11]);
    let a = mpol("MPOL_PREFERRED", Some(""), &[]).unwrap();
    assert_eq!(a.memory_policy.unwrap().mode, MPOL_PREFERRED);
    assert!(mpol("MPOL_DEFAULT", None, &[]).is_ok());
    assert!(mpol("MPOL_LOCAL", None, &[]).is_ok());
    assert!(mpol("MPOL_BIND", Some("0"), &["MPOL_F_NUMA_BALANCING"]).is_ok());
    // Relative numbers are positions, not node ids: 5 is fine on a 2-node host.
    assert!(mpol("MPOL_INTERLEAVE", Some("5"), &["MPOL_F_RELATIVE_NODES"]).is_ok());
}

#[test]
fn memory_policy_refusals_name_the_field() {
    let f = "linux.memoryPolicy";
    let e = refused(mpol("INTERLEAVE", Some("0"), &[]), f);
    assert!(e.contains("MPOL_INTERLEAVE"), "{e}"); // lists the valid names
    refused(
        mpol("", Some("0-7"), &[]),
        "linux.memoryPolicy.mode is required",
    );
    refused(mpol("MPOL_PREFERRED", Some("0"), &["badflag"]), f);
    refused(mpol("MPOL_DEFAULT", Some("0-1"), &[]), f);
    refused(mpol("MPOL_DEFAULT", None, &["MPOL_F_STATIC_NODES"]), f);
    refused(mpol("MPOL_LOCAL", Some("0"), &[]), f);
    refused(mpol("MPOL_BIND", None, &[]), f);
    refused(mpol("MPOL_INTERLEAVE", Some(" "), &[]), f);
    let both = ["MPOL_F_STATIC_NODES", "MPOL_F_RELATIVE_NODES"];
    refused(mpol("MPOL_BIND", Some("0"), &both), f);
    refused(mpol("MPOL_PREFERRED", None, &["MPOL_F_RELATIVE_NODES"]), f);
    refused(
        mpol("MPOL_INTERLEAVE", Some("0"), &["MPOL_F_NUMA_BALANCING"]),
        f,
    );
    let e = refused(mpol("MPOL_BIND", Some("0-9876543210"), &[]), f);
    assert!(e.contains("too large"), "{e}");
    let e = refused(mpol("MPOL_BIND", Some("0,7"), &[]), f);
    assert!(e.contains("no NUMA node 7"), "{e}");
}

#[test]
fn scheduler_policies_and_their_rules() {
    let ok = |policy: &str, nice, priority| {
        sched(Scheduler {
            policy: policy.into(),
            nice,
            priority,
            ..Scheduler::default()
        })
    };
    let s = ok("SCHED_BATCH", Some(1), None).unwrap().scheduler.unwrap();
    assert_eq!((s.policy, s.nice, s.priority), (3, 1, 0));
    let s = ok("SCHED_FIFO", None, Some(50)).unwrap().scheduler.unwrap();
    assert_eq!((s.policy, s.priority), (1, 50));
    let f = "process.scheduler";
    refused(ok("SCHED_FOO", None, None), f);
    refused(ok("", None, None), "process.scheduler.policy is required");
    refused(ok("SCHED_ISO", None, None), f);
    refused(ok("SCHED_OTHER", Some(20), None), f);
    refused(ok("SCHED_OTHER", None, Some(5)), f);
    refused(ok("SCHED_RR", None, None), f);
    refused(ok("SCHED_RR", None, Some(100)), f);
    let flags = sched(Scheduler {
        policy: "SCHED_OTHER".into(),
        flags: vec![
            "SCHED_FLAG_RESET_ON_FORK".into(),
            "SCHED_FLAG_KEEP_PARAMS".into(),
        ],
        ..Scheduler::default()
    });
    assert_eq!(flags.unwrap().scheduler.unwrap().flags, 0x11);
    let bad_flag = sched(Scheduler {
        policy: "SCHED_OTHER".into(),
        flags: vec!["SCHED_FLAG_NOPE".into()],
        ..Scheduler::default()
    });
    refused(bad_flag, f);
}

#[test]
fn deadline_needs_runtime_within_deadline_within_period() {
    let dl = |runtime, deadline, period| {
        sched(Scheduler {
            policy: "SCHED_DEADLINE".into(),
            runtime: Some(runtime),
            deadline: Some(deadline),
            period: Some(period),
            ..Scheduler::default()
        })
    };
    assert!(dl(10_000, 20_000, 30_000).is_ok());
    assert!(dl(10_000, 20_000, 0).is_ok());
    for (r, d, p) in [
        (10_000, 0, 0),
        (100, 2000, 0),
        (30_000, 20_000, 0),
        (1, 2, 1),
    ] {
        refused(dl(r, d, p), "process.scheduler");
    }
    refused(dl(10_000, 20_000, 15_000), "process.scheduler");
}

#[test]
fn io_priority_classes_and_levels() {
    let io = |class: &str, priority| {
        with_process(
            Process {
                io_priority: Some(IoPriority {
                    class: class.into(),
                    priority,
                }),
                ..Process::default()
            },
            Role::Init,
        )
    };
    assert_eq!(
        io("IOPRIO_CLASS_RT", Some(1)).unwrap().io_priority,
        Some((1, 1))
    );
    assert_eq!(
        io("IOPRIO_CLASS_IDLE", Some(7)).unwrap().io_priority,
        Some((3, 7))
    );
    refused(io("IOPRIO_CLASS_NONE", Some(0)), "process.ioPriority.class");
    refused(io("IOPRIO_CLASS_BE", None), "process.ioPriority.priority");
    refused(
        io("IOPRIO_CLASS_BE", Some(8)),
        "process.ioPriority.priority",
    );
    refused(
        io("IOPRIO_CLASS_BE", Some(-1)),
        "process.ioPriority.priority",
    );
}

#[test]
fn exec_affinity_is_checked_for_init_and_applied_for_exec_only() {
    let p = |initial: &str, last: &str| Process {
        exec_cpu_affinity: Some(ExecCpuAffinity {
            initial: Some(initial.into()),
            final_: Some(last.into()),
        }),
        ..Process::default()
    };
    let exec = with_process(p("0,1", "1-3"), Role::Exec).unwrap();
    assert_eq!(exec.affinity_initial, Some(vec![0b11]));
    assert_eq!(exec.affinity_final, Some(vec![0b1110]));
    let init = with_process(p("0,1", "1-3"), Role::Init).unwrap();
    assert_eq!(init, ProcAttrs::default());
    // Empty means "do not change".
    let empty = with_process(p("", " "), Role::Exec).unwrap();
    assert_eq!(empty, ProcAttrs::default());
    let e = refused(
        with_process(p("0", "2-x"), Role::Init),
        "process.execCPUAffinity.final",
    );
    assert!(e.contains("not a number"), "{e}");
    let e = refused(
        with_process(p("4", "0"), Role::Exec),
        "process.execCPUAffinity.initial",
    );
    assert!(e.contains("no CPU 4") && e.contains("0-3"), "{e}");
}

#[test]
fn personality_domains_and_no_flags() {
    let pers = |domain: &str, flags: &[&str]| {
        with_linux(Linux {
            personality: Some(Personality {
                domain: domain.into(),
                flags: flags.iter().map(|f| f.to_string()).collect(),
            }),
            ..Linux::default()
        })
    };
    assert_eq!(pers("LINUX32", &[]).unwrap().personality, Some(0x0008));
    assert_eq!(pers("LINUX", &[]).unwrap().personality, Some(0));
    refused(pers("LINUX64", &[]), "linux.personality.domain");
    refused(pers("", &[]), "linux.personality.domain is required");
    refused(
        pers("LINUX", &["ADDR_NO_RANDOMIZE"]),
        "linux.personality.flags",
    );
}

#[test]
fn nothing_set_changes_nothing() {
    let a = plan(&Process::default(), Some(&Linux::default()), Role::Exec).unwrap();
    assert_eq!(a, ProcAttrs::default());
    // Applying the empty plan makes no call at all.
    a.apply().unwrap();
    assert_eq!(a.apply_initial().unwrap(), None);
}
