//! runtime-spec 1.2's process attributes (config.md, config-linux.md): `process.ioPriority`,
//! `process.scheduler`, `process.execCPUAffinity`, `linux.personality` and
//! `linux.memoryPolicy`, read back by the probe (`/probe sched`) from the kernel, for the
//! container's process and for exec'd ones. Each case runs against runc too when its version
//! has the feature (runc 1.1, Debian 12's, has none of them: the case says so and checks hull
//! alone).

use std::path::Path;

use hull_tests::require_root;
use serde_json::{json, Value};

use crate::bundle::{facts, text, Bundle};
use crate::error_contract::{runtimes, Runtime, Setup};

/// runc's version from `runc --version` (major, minor).
fn runc_version() -> Option<(u32, u32)> {
    let out = std::process::Command::new("runc")
        .arg("--version")
        .output()
        .ok()?;
    let line = text(&out.stdout);
    let v = line.lines().next()?.strip_prefix("runc version ")?;
    let mut parts = v.split(|c: char| !c.is_ascii_digit());
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

/// hull-runtime, and runc when it is at least `since` (the release that added `feature`, from
/// runc's changelog); otherwise a `skipped:` line says why runc is left out.
fn runtimes_with<'a>(
    b: &'a Bundle,
    name: &str,
    feature: &str,
    since: (u32, u32),
) -> Vec<Runtime<'a>> {
    let runc = runc_version();
    runtimes(b, name)
        .into_iter()
        .filter(|rt| {
            let keep = rt.name != "runc" || runc.is_some_and(|v| v >= since);
            if !keep {
                println!(
                    "skipped: {name} against runc ({feature} needs runc {}.{}, this is {runc:?})",
                    since.0, since.1
                );
            }
            keep
        })
        .collect()
}

/// Runs `args` (stdio on files); returns the exit code, stdout and stderr.
fn output(rt: &Runtime, args: &[&str], dir: &Path) -> (i32, String, String) {
    let (code, err) = rt.run(args);
    let out = std::fs::read_to_string(dir.join("cmd.out")).unwrap_or_default();
    (code, out, err)
}

/// `run` of the bundle as last written; the probe's facts (the run must succeed).
fn run_facts(rt: &Runtime, b: &Bundle) -> std::collections::BTreeMap<String, String> {
    let (code, out, err) = output(rt, &["run", "-b", "BUNDLE", "ID"], b.path());
    assert_eq!(code, 0, "{}: run: {err}", rt.name);
    rt.run(&["delete", "--force", "ID"]);
    facts(&out)
}

/// `exec` of a process.json with `process` (probe's sched facts) into the running container.
fn exec_facts(rt: &Runtime, b: &Bundle, process: Value) -> (i32, String, String) {
    let path = b.path().join(format!("{}.process.json", rt.name));
    std::fs::write(&path, process.to_string()).unwrap();
    let args = ["--debug", "exec", "--process", path.to_str().unwrap(), "ID"];
    output(rt, &args, b.path())
}

fn probe_process(extra: Value) -> Value {
    let mut p = json!({"args": ["/probe", "sched"], "cwd": "/", "env": ["PATH=/bin"],
                       "user": {"uid": 0, "gid": 0}});
    for (k, v) in extra.as_object().unwrap() {
        p[k] = v.clone();
    }
    p
}

fn assert_facts(f: &std::collections::BTreeMap<String, String>, want: &[(&str, &str)], who: &str) {
    for (key, value) in want {
        assert_eq!(
            f.get(*key).map(String::as_str),
            Some(*value),
            "{who}: {key} in {f:?}"
        );
    }
}

/// The container's pid, from `state`.
fn pid_of(rt: &Runtime, b: &Bundle) -> String {
    let (code, out, err) = output(rt, &["state", "ID"], b.path());
    assert_eq!(code, 0, "{}: state: {err}", rt.name);
    let state: Value = serde_json::from_str(&out).unwrap();
    state["pid"].as_i64().expect("pid").to_string()
}

/// The nice value and policy of `pid`, from /proc/<pid>/stat (fields 19 and 41).
fn nice_and_policy(pid: &str) -> (String, String) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let rest: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    (rest[16].to_string(), rest[38].to_string())
}

#[test]
fn io_priority_and_scheduler_are_set_for_the_container_and_exec() {
    require_root!();
    let mut b = Bundle::new();
    b.config["process"]["ioPriority"] = json!({"class": "IOPRIO_CLASS_BE", "priority": 6});
    b.config["process"]["scheduler"] = json!({"policy": "SCHED_BATCH", "nice": 7});
    b.args(&["/probe", "sched"]);
    b.write();
    let want = [
        ("ioprio_class", "2"),
        ("ioprio_level", "6"),
        ("sched_policy", "3"),
        ("sched_nice", "7"),
    ];
    for rt in runtimes_with(&b, "ioprio-run", "process.ioPriority", (1, 2)) {
        assert_facts(&run_facts(&rt, &b), &want, rt.name);
    }

    b.args(&["sleep", "1000"]);
    // With realtime group scheduling (cgroup v1, CONFIG_RT_GROUP_SCHED) a cgroup without a
    // realtime budget refuses SCHED_FIFO, and hull's parent cgroup has none: the container
    // gets a cgroup of its own below the root, with a budget.
    if Path::new("/sys/fs/cgroup/cpu/cpu.rt_runtime_us").exists() {
        b.linux(
            "cgroupsPath",
            json!(format!("/hull-conf-rt-{}", std::process::id())),
        );
        b.config["linux"]["resources"]["cpu"] =
            json!({"realtimePeriod": 1_000_000, "realtimeRuntime": 10_000});
    }
    b.write();
    for rt in runtimes_with(&b, "ioprio-exec", "exec's process.ioPriority", (1, 3)) {
        rt.setup(Setup::Running);
        let pid = pid_of(&rt, &b);
        assert_eq!(
            nice_and_policy(&pid),
            ("7".into(), "3".into()),
            "{}: init",
            rt.name
        );
        // An exec'd process has its own: a real-time I/O class and SCHED_FIFO need
        // CAP_SYS_ADMIN / CAP_SYS_NICE, which it still has when they are applied.
        let own = json!({"ioPriority": {"class": "IOPRIO_CLASS_RT", "priority": 3},
                         "scheduler": {"policy": "SCHED_FIFO", "priority": 10}});
        let (code, out, err) = exec_facts(&rt, &b, probe_process(own));
        assert_eq!(code, 0, "{}: exec: {err}", rt.name);
        let want = [
            ("ioprio_class", "1"),
            ("ioprio_level", "3"),
            ("sched_policy", "1"),
            ("sched_priority", "10"),
        ];
        assert_facts(&facts(&out), &want, rt.name);
    }
}

#[test]
fn exec_cpu_affinity_is_initial_before_the_cgroup_and_final_for_the_program() {
    require_root!();
    let online = std::fs::read_to_string("/sys/devices/system/cpu/online").unwrap();
    if online.trim() == "0" {
        println!("skipped: execCPUAffinity (one CPU online: nothing to tell apart)");
        return;
    }
    let mut b = Bundle::new();
    b.config["process"]["execCPUAffinity"] = json!({"initial": "1", "final": "0"});
    b.args(&["sleep", "1000"]);
    b.write();
    for rt in runtimes_with(&b, "affinity", "process.execCPUAffinity", (1, 3)) {
        rt.setup(Setup::Running);
        // Not for the container's own process (config.md).
        let status = std::fs::read_to_string(format!("/proc/{}/status", pid_of(&rt, &b))).unwrap();
        let init = facts(&status.replace(":\t", "="))["Cpus_allowed_list"].clone();
        assert_ne!(init, "0", "{}: init got the final affinity", rt.name);

        // The container's process as the template: initial 1 (mask 0x2), final 0.
        let (code, out, err) = output(&rt, &["--debug", "exec", "ID", "/probe", "sched"], b.path());
        assert_eq!(code, 0, "{}: exec: {err}", rt.name);
        assert_eq!(facts(&out)["Cpus_allowed_list"], "0", "{}", rt.name);
        assert!(
            err.contains("affinity: 0x2"),
            "{}: debug log: {err}",
            rt.name
        );

        // process.json's own: initial 0, final 1.
        let own = json!({"execCPUAffinity": {"initial": "0", "final": "1"}});
        let (code, out, err) = exec_facts(&rt, &b, probe_process(own));
        assert_eq!(code, 0, "{}: exec: {err}", rt.name);
        assert_eq!(facts(&out)["Cpus_allowed_list"], "1", "{}", rt.name);
        assert!(
            err.contains("affinity: 0x1"),
            "{}: debug log: {err}",
            rt.name
        );

        let bad = json!({"execCPUAffinity": {"final": "0-x"}});
        let (code, out, err) = exec_facts(&rt, &b, probe_process(bad));
        assert_ne!(code, 0, "{}: ran with a bad CPU list: {out}", rt.name);
        if rt.name == "hull-runtime" {
            assert!(err.contains("process.execCPUAffinity.final"), "{err}");
            assert_eq!(err.lines().count(), 1, "{err}");
        }
    }
}

#[test]
fn personality_linux32_shows_a_32_bit_machine_in_the_container_and_exec() {
    require_root!();
    if !cfg!(target_arch = "x86_64") {
        println!("skipped: personality LINUX32 (uname's i686 is x86_64's 32-bit name)");
        return;
    }
    let mut b = Bundle::new();
    b.linux("personality", json!({"domain": "LINUX32"}));
    b.args(&["/probe", "sched"]);
    b.write();
    let want = [("machine", "i686"), ("personality", "00000008")];
    for rt in runtimes_with(&b, "personality-run", "linux.personality", (1, 2)) {
        assert_facts(&run_facts(&rt, &b), &want, rt.name);
    }
    b.args(&["sleep", "1000"]);
    b.write();
    for rt in runtimes_with(&b, "personality-exec", "linux.personality", (1, 2)) {
        rt.setup(Setup::Running);
        let (code, out, err) = output(&rt, &["exec", "ID", "/probe", "sched"], b.path());
        assert_eq!(code, 0, "{}: exec: {err}", rt.name);
        assert_facts(&facts(&out), &want, rt.name);
    }
}

/// Whether this kernel has NUMA (a node directory in sysfs); else a `skipped:` line.
fn numa(what: &str) -> bool {
    let ok = Path::new("/sys/devices/system/node/possible").exists();
    if !ok {
        println!("skipped: {what} (kernel without NUMA)");
    }
    ok
}

#[test]
fn memory_policy_is_set_for_the_container_and_exec() {
    require_root!();
    if !numa("linux.memoryPolicy") {
        return;
    }
    // MPOL_BIND is 2, MPOL_PREFERRED 1; MPOL_F_STATIC_NODES 0x8000, MPOL_F_RELATIVE_NODES
    // 0x4000. Node 0 exists on every NUMA kernel.
    let cases = [
        (
            json!({"mode": "MPOL_BIND", "nodes": "0", "flags": ["MPOL_F_STATIC_NODES"]}),
            [
                ("mempolicy_mode", "2"),
                ("mempolicy_flags", "8000"),
                ("mempolicy_nodes", "1"),
            ],
        ),
        (
            json!({"mode": "MPOL_PREFERRED", "nodes": "0", "flags": ["MPOL_F_RELATIVE_NODES"]}),
            [
                ("mempolicy_mode", "1"),
                ("mempolicy_flags", "4000"),
                ("mempolicy_nodes", "1"),
            ],
        ),
    ];
    for (policy, want) in &cases {
        let mut b = Bundle::new();
        b.linux("memoryPolicy", policy.clone());
        b.args(&["/probe", "sched"]);
        b.write();
        for rt in runtimes_with(&b, "mempolicy-run", "linux.memoryPolicy", (1, 4)) {
            assert_facts(&run_facts(&rt, &b), want, rt.name);
        }
        b.args(&["sleep", "1000"]);
        b.write();
        for rt in runtimes_with(&b, "mempolicy-exec", "linux.memoryPolicy", (1, 4)) {
            rt.setup(Setup::Running);
            let (code, out, err) = output(&rt, &["exec", "ID", "/probe", "sched"], b.path());
            assert_eq!(code, 0, "{}: exec: {err}", rt.name);
            assert_facts(&facts(&out), want, rt.name);
        }
    }
}

/// The host's highest NUMA node + 1, which no list may name.
fn missing_node() -> u32 {
    let possible = std::fs::read_to_string("/sys/devices/system/node/possible").unwrap();
    let last = possible.trim().rsplit([',', '-']).next().unwrap();
    last.parse::<u32>().unwrap() + 1
}

/// What the kernel or this host cannot do is refused by `create`, in one line naming the
/// field, and nothing runs (youki's contest memory_policy negative cases, and the same rules
/// for the other attributes). runc before each feature's release ignores the field, so only
/// hull is checked.
#[test]
fn impossible_attributes_fail_create_naming_the_field() {
    require_root!();
    let numa = numa("linux.memoryPolicy refusals that need NUMA");
    let node = if numa {
        missing_node().to_string()
    } else {
        "1".into()
    };
    let mut cases: Vec<(&str, &str, Value)> = vec![
        (
            "process",
            "ioPriority",
            json!({"class": "IOPRIO_CLASS_NONE", "priority": 0}),
        ),
        (
            "process",
            "ioPriority",
            json!({"class": "IOPRIO_CLASS_BE", "priority": 8}),
        ),
        ("process", "scheduler", json!({"policy": "SCHED_ISO"})),
        ("process", "scheduler", json!({"policy": "SCHED_FIFO"})),
        (
            "process",
            "scheduler",
            json!({"policy": "SCHED_OTHER", "nice": 20}),
        ),
        (
            "process",
            "scheduler",
            json!({"policy": "SCHED_DEADLINE", "runtime": 2000,
                                        "deadline": 1000}),
        ),
        ("process", "execCPUAffinity", json!({"initial": "0-"})),
        ("process", "execCPUAffinity", json!({"final": "65000"})),
        ("linux", "personality", json!({"domain": "LINUX64"})),
        (
            "linux",
            "personality",
            json!({"domain": "LINUX", "flags": ["ADDR_NO_RANDOMIZE"]}),
        ),
        (
            "linux",
            "memoryPolicy",
            json!({"mode": "INTERLEAVE", "nodes": "0"}),
        ),
        ("linux", "memoryPolicy", json!({"nodes": "0-7"})),
        (
            "linux",
            "memoryPolicy",
            json!({"mode": "MPOL_PREFERRED", "nodes": "0",
                                         "flags": ["MPOL_F_RELATIVE_NODES", "badflag"]}),
        ),
        (
            "linux",
            "memoryPolicy",
            json!({"mode": "MPOL_DEFAULT", "nodes": "0-7"}),
        ),
        (
            "linux",
            "memoryPolicy",
            json!({"mode": "MPOL_BIND", "nodes": "0",
                  "flags": ["MPOL_F_STATIC_NODES", "MPOL_F_RELATIVE_NODES"]}),
        ),
        (
            "linux",
            "memoryPolicy",
            json!({"mode": "MPOL_BIND", "nodes": "0-9876543210"}),
        ),
        ("linux", "memoryPolicy", json!({"mode": "MPOL_INTERLEAVE"})),
    ];
    if numa {
        cases.push((
            "linux",
            "memoryPolicy",
            json!({"mode": "MPOL_BIND", "nodes": node}),
        ));
    }
    for (section, field, value) in cases {
        let mut b = Bundle::new();
        b.config[section][field] = value.clone();
        b.args(&["echo", "ran"]);
        let out = b.run_output("refused");
        let (stdout, err) = (text(&out.stdout), text(&out.stderr));
        assert!(!out.status.success(), "{field} {value}: ran: {stdout}");
        assert!(!stdout.contains("ran"), "{field} {value}: the program ran");
        assert!(
            err.contains(&format!("{section}.{field}")),
            "{value}: {err}"
        );
        assert_eq!(err.lines().count(), 1, "{value}: {err}");
    }
}

/// The attributes are set before the user's seccomp filter is loaded, so a filter that denies
/// their system calls changes nothing (with and without noNewPrivileges, which moves the
/// filter's load). runc applied personality after seccomp until 1.4.
#[test]
fn attributes_are_set_before_a_filter_that_denies_their_calls() {
    require_root!();
    let denied = [
        "ioprio_set",
        "sched_setattr",
        "sched_setaffinity",
        "personality",
        "set_mempolicy",
    ];
    for nnp in [false, true] {
        let mut b = Bundle::new();
        b.config["process"]["noNewPrivileges"] = json!(nnp);
        b.config["process"]["ioPriority"] = json!({"class": "IOPRIO_CLASS_BE", "priority": 5});
        b.config["process"]["scheduler"] = json!({"policy": "SCHED_BATCH", "nice": 3});
        b.linux("personality", json!({"domain": "LINUX32"}));
        let mut want = vec![
            ("ioprio_class", "2"),
            ("ioprio_level", "5"),
            ("sched_policy", "3"),
            ("sched_nice", "3"),
            ("personality", "00000008"),
        ];
        if numa("memoryPolicy under seccomp") {
            b.linux("memoryPolicy", json!({"mode": "MPOL_BIND", "nodes": "0"}));
            want.push(("mempolicy_mode", "2"));
        }
        b.linux(
            "seccomp",
            json!({"defaultAction": "SCMP_ACT_ALLOW",
                   "syscalls": [{"names": denied, "action": "SCMP_ACT_ERRNO"}]}),
        );
        b.args(&["/probe", "sched"]);
        b.write();
        for rt in runtimes_with(&b, "attrs-seccomp", "personality before seccomp", (1, 4)) {
            let who = format!("{} noNewPrivileges={nnp}", rt.name);
            assert_facts(&run_facts(&rt, &b), &want, &who);
        }
    }
}

/// A refusal only the kernel knows (a real-time I/O class needs CAP_SYS_ADMIN in the initial
/// user namespace, which a user-namespaced container lacks) stops the container before its
/// program, with one line naming the field.
#[test]
fn a_kernel_refusal_stops_the_container_naming_the_field() {
    require_root!();
    let mut b = crate::namespaces::userns_bundle(100_000, 100_000);
    b.config["process"]["ioPriority"] = json!({"class": "IOPRIO_CLASS_RT", "priority": 0});
    b.args(&["echo", "ran"]);
    let out = b.run_output("ioprio-userns");
    let (stdout, err) = (text(&out.stdout), text(&out.stderr));
    assert!(!out.status.success(), "ran: {stdout}");
    assert!(!stdout.contains("ran"), "the program ran");
    assert!(
        err.contains("process.ioPriority") && err.contains("ioprio_set"),
        "{err}"
    );
    assert!(err.contains("Operation not permitted"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn features_list_the_process_attributes() {
    let b = Bundle::new();
    let f: Value = serde_json::from_str(&b.ok(&["features"])).unwrap();
    let modes = f["linux"]["memoryPolicy"]["modes"].as_array().unwrap();
    assert!(
        modes.contains(&json!("MPOL_WEIGHTED_INTERLEAVE")),
        "{modes:?}"
    );
    let flags = f["linux"]["memoryPolicy"]["flags"].as_array().unwrap();
    assert_eq!(flags.len(), 3, "{flags:?}");
    let a = &f["annotations"];
    assert_eq!(
        a["org.hull.runtime.process"],
        "scheduler,ioPriority,execCPUAffinity"
    );
    assert_eq!(
        a["org.hull.runtime.linux.personality.domains"],
        "LINUX,LINUX32"
    );
    let policies = a["org.hull.runtime.process.scheduler.policies"]
        .as_str()
        .unwrap();
    assert!(policies.contains("SCHED_DEADLINE") && !policies.contains("SCHED_ISO"));
}
