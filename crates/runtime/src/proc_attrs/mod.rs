//! The per-process attributes of runtime-spec 1.2 that the kernel keeps across execve:
//! `process.ioPriority`, `process.scheduler`, `process.execCPUAffinity`, `linux.personality`
//! and `linux.memoryPolicy`.
//!
//! [`plan`] runs before the fork (in `create`, and in `exec` for the exec'd process): it checks
//! names, ranges and combinations the kernel would refuse, and CPUs or nodes this host does not
//! have, each as one line naming the field, and turns the names into numbers. The container's
//! process then calls [`ProcAttrs::apply`] as the first of its security steps, before AppArmor,
//! seccomp, the capability drop and the uid switch: raising a priority or choosing a real-time
//! class needs CAP_SYS_NICE or CAP_SYS_ADMIN, and the user's seccomp filter may deny these calls.
//! An exec'd process's `execCPUAffinity.initial` is applied earlier, by the process that joins
//! the container's cgroup, before it joins ([`ProcAttrs::apply_initial`]).

mod cpulist;
pub mod names;

use std::io;
use std::path::{Path, PathBuf};

use hull_oci::runtime::Scheduler;
use hull_oci::runtime::{ExecCpuAffinity, IoPriority, Linux, MemoryPolicy, Personality, Process};
use hull_sys::sched::SchedAttr;

use names::*;

/// Whose attributes: `execCPUAffinity` is for exec'd processes only (config.md: "not
/// applicable to the container's init process"); create still checks it, since the
/// container's process is the template of later execs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Init,
    Exec,
}

/// The checked attributes, as the kernel takes them; the default changes nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcAttrs {
    io_priority: Option<(u16, u16)>,
    scheduler: Option<SchedAttr>,
    personality: Option<u32>,
    memory_policy: Option<MemPolicy>,
    affinity_initial: Option<Mask>,
    affinity_final: Option<Mask>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct MemPolicy {
    /// The mode with its flags or'ed in.
    mode: i32,
    nodes: Mask,
}

/// A step the kernel refused: what (naming the field and the call) and why.
#[derive(Debug, thiserror::Error)]
#[error("{what}: {source}")]
pub struct ApplyError {
    pub what: String,
    #[source]
    pub source: io::Error,
}

/// Where the host lists its CPUs and NUMA nodes (sysfs; tests point elsewhere).
struct Host {
    cpus: PathBuf,
    nodes: PathBuf,
}

impl Host {
    fn this() -> Host {
        Host {
            cpus: "/sys/devices/system/cpu/possible".into(),
            nodes: "/sys/devices/system/node/possible".into(),
        }
    }
}

/// Checks `process`'s attributes and the container's (`linux`) for `role`.
pub fn plan(process: &Process, linux: Option<&Linux>, role: Role) -> Result<ProcAttrs, String> {
    plan_on(process, linux, role, &Host::this())
}

fn plan_on(
    process: &Process,
    linux: Option<&Linux>,
    role: Role,
    host: &Host,
) -> Result<ProcAttrs, String> {
    let mut a = ProcAttrs::default();
    if let Some(io) = &process.io_priority {
        a.io_priority = Some(io_priority(io)?);
    }
    if let Some(s) = &process.scheduler {
        a.scheduler = Some(scheduler(s)?);
    }
    if let Some(aff) = &process.exec_cpu_affinity {
        let (initial, last) = exec_affinity(aff, host)?;
        if role == Role::Exec {
            (a.affinity_initial, a.affinity_final) = (initial, last);
        }
    }
    if let Some(p) = linux.and_then(|l| l.personality.as_ref()) {
        a.personality = Some(personality(p)?);
    }
    if let Some(m) = linux.and_then(|l| l.memory_policy.as_ref()) {
        a.memory_policy = memory_policy(m, host)?;
    }
    Ok(a)
}

fn io_priority(io: &IoPriority) -> Result<(u16, u16), String> {
    let class = lookup(IOPRIO_CLASSES, "process.ioPriority.class", &io.class)?;
    let level = io
        .priority
        .ok_or("process.ioPriority.priority is required")?;
    if !(0..=7).contains(&level) {
        return Err(format!(
            "process.ioPriority.priority {level}: not within 0 (highest) to 7 (lowest)"
        ));
    }
    Ok((class, level as u16))
}

fn scheduler(s: &Scheduler) -> Result<SchedAttr, String> {
    let policy = lookup(SCHED_POLICIES, "process.scheduler.policy", &s.policy)?;
    if policy == SCHED_ISO {
        return Err("process.scheduler.policy \"SCHED_ISO\": Linux has no such scheduler".into());
    }
    let nice = s.nice.unwrap_or(0);
    if !(-20..=19).contains(&nice) {
        return Err(format!(
            "process.scheduler.nice {nice}: not within -20 to 19"
        ));
    }
    let priority = s.priority.unwrap_or(0);
    let realtime = policy == SCHED_FIFO || policy == SCHED_RR;
    if realtime && !(1..=99).contains(&priority) {
        return Err(format!(
            "process.scheduler.priority {priority}: {} needs 1 to 99",
            s.policy
        ));
    }
    if !realtime && priority != 0 {
        return Err(format!(
            "process.scheduler.priority {priority}: only SCHED_FIFO and SCHED_RR take a \
             priority, {} takes 0",
            s.policy
        ));
    }
    let mut flags = 0;
    for f in &s.flags {
        flags |= lookup(SCHED_FLAGS, "process.scheduler.flags", f)?;
    }
    let attr = SchedAttr {
        policy,
        flags,
        nice,
        priority: priority as u32,
        runtime: s.runtime.unwrap_or(0),
        deadline: s.deadline.unwrap_or(0),
        period: s.period.unwrap_or(0),
    };
    if policy == SCHED_DEADLINE {
        check_deadline(&attr)?;
    }
    Ok(attr)
}

/// The kernel's rules for SCHED_DEADLINE (sched_setattr(2)): 1024 ns ≤ runtime ≤ deadline ≤
/// period, where a period of 0 means the deadline.
fn check_deadline(a: &SchedAttr) -> Result<(), String> {
    let period = if a.period == 0 { a.deadline } else { a.period };
    let why = if a.deadline == 0 {
        "SCHED_DEADLINE needs a deadline"
    } else if a.runtime < 1024 {
        "SCHED_DEADLINE needs a runtime of at least 1024 ns"
    } else if a.runtime > a.deadline || a.deadline > period {
        "SCHED_DEADLINE needs runtime <= deadline <= period"
    } else if period >= 1 << 63 {
        "the period is too large"
    } else {
        return Ok(());
    };
    Err(format!(
        "process.scheduler runtime {} deadline {} period {}: {why}",
        a.runtime, a.deadline, a.period
    ))
}

/// A CPU or node bitmask (bit n of word n/64), as `hull_sys::sched` takes it.
type Mask = Vec<u64>;

fn exec_affinity(a: &ExecCpuAffinity, host: &Host) -> Result<(Option<Mask>, Option<Mask>), String> {
    let one = |field: &str, list: Option<&str>| -> Result<Option<Mask>, String> {
        let Some(list) = list else { return Ok(None) };
        let mask = cpulist::parse(field, list)?;
        // Empty: "the runtime SHOULD NOT change" the affinity.
        if mask.is_empty() {
            return Ok(None);
        }
        on_host(field, list, &mask, &host.cpus, "CPU")?;
        Ok(Some(mask))
    };
    Ok((
        one("process.execCPUAffinity.initial", a.initial.as_deref())?,
        one("process.execCPUAffinity.final", a.final_.as_deref())?,
    ))
}

/// An error naming the ids of `mask` that the host's list at `sysfs` lacks.
fn on_host(field: &str, list: &str, mask: &[u64], sysfs: &Path, what: &str) -> Result<(), String> {
    let missing = cpulist::missing_on_host(mask, sysfs)?;
    if missing.is_empty() {
        return Ok(());
    }
    let host = std::fs::read_to_string(sysfs).unwrap_or_default();
    let ids: Vec<String> = missing.iter().map(u32::to_string).collect();
    Err(format!(
        "{field} {list:?}: this host has no {what} {} (it has {})",
        ids.join(","),
        host.trim()
    ))
}

fn personality(p: &Personality) -> Result<u32, String> {
    let domain = lookup(PERSONALITY_DOMAINS, "linux.personality.domain", &p.domain)?;
    if !p.flags.is_empty() {
        return Err(format!(
            "linux.personality.flags {:?}: the runtime spec defines no flags",
            p.flags
        ));
    }
    Ok(domain)
}

/// set_mempolicy(2)'s rules: MPOL_DEFAULT and MPOL_LOCAL take no nodes, MPOL_PREFERRED takes
/// none or some, the others at least one; the node flags need nodes and exclude each other;
/// MPOL_F_NUMA_BALANCING is for MPOL_BIND and MPOL_PREFERRED_MANY.
fn memory_policy(m: &MemoryPolicy, host: &Host) -> Result<Option<MemPolicy>, String> {
    let mode = lookup(MPOL_MODES, "linux.memoryPolicy.mode", &m.mode)?;
    let mut flags = 0;
    for f in &m.flags {
        flags |= lookup(MPOL_FLAGS, "linux.memoryPolicy.flags", f)?;
    }
    let list = m.nodes.as_deref().unwrap_or("");
    let nodes = cpulist::parse("linux.memoryPolicy.nodes", list)?;
    let name = &m.mode;
    let node_flags = flags & (MPOL_F_STATIC_NODES | MPOL_F_RELATIVE_NODES);
    let refusal = match mode {
        MPOL_DEFAULT | MPOL_LOCAL if !nodes.is_empty() => Some(format!(
            "linux.memoryPolicy.nodes {list:?}: {name} takes no nodes"
        )),
        MPOL_DEFAULT if flags != 0 => Some(format!(
            "linux.memoryPolicy.flags {:?}: MPOL_DEFAULT takes no flags",
            m.flags
        )),
        MPOL_DEFAULT | MPOL_LOCAL | MPOL_PREFERRED => None,
        _ if nodes.is_empty() => Some(format!(
            "linux.memoryPolicy.nodes: {name} needs at least one node"
        )),
        _ => None,
    };
    let refusal = refusal.or_else(|| match () {
        _ if node_flags == MPOL_F_STATIC_NODES | MPOL_F_RELATIVE_NODES => Some(
            "linux.memoryPolicy.flags: MPOL_F_STATIC_NODES and MPOL_F_RELATIVE_NODES exclude \
             each other"
                .to_string(),
        ),
        _ if node_flags != 0 && nodes.is_empty() => Some(format!(
            "linux.memoryPolicy.flags {:?}: node flags need linux.memoryPolicy.nodes",
            m.flags
        )),
        _ if flags & MPOL_F_NUMA_BALANCING != 0
            && mode != MPOL_BIND
            && mode != MPOL_PREFERRED_MANY =>
        {
            Some(format!(
                "linux.memoryPolicy.flags: MPOL_F_NUMA_BALANCING is for MPOL_BIND and \
                 MPOL_PREFERRED_MANY, not {name}"
            ))
        }
        _ => None,
    });
    if let Some(r) = refusal {
        return Err(r);
    }
    if !host.nodes.exists() {
        if mode == MPOL_DEFAULT {
            return Ok(None); // what every process has on a kernel without NUMA
        }
        return Err(format!(
            "linux.memoryPolicy.mode {name}: this kernel has no NUMA support ({} is missing)",
            host.nodes.display()
        ));
    }
    // Relative node numbers are positions in the allowed set, not node ids.
    if flags & MPOL_F_RELATIVE_NODES == 0 {
        on_host(
            "linux.memoryPolicy.nodes",
            list,
            &nodes,
            &host.nodes,
            "NUMA node",
        )?;
    }
    Ok(Some(MemPolicy {
        mode: mode | flags,
        nodes,
    }))
}

impl ProcAttrs {
    /// `execCPUAffinity.initial`, in the process about to join the container's cgroup. Returns
    /// the CPUs now allowed, as the kernel reports them (hexadecimal), when it changed any.
    pub fn apply_initial(&self) -> Result<Option<String>, ApplyError> {
        let Some(mask) = &self.affinity_initial else {
            return Ok(None);
        };
        let what = "process.execCPUAffinity.initial: sched_setaffinity";
        hull_sys::sched::set_cpu_affinity(mask).map_err(fail(what))?;
        let now = hull_sys::sched::cpu_affinity().map_err(fail("sched_getaffinity"))?;
        Ok(Some(cpulist::hex(&now)))
    }

    /// Everything else, in the process about to exec the user's program. The scheduler comes
    /// last: a SCHED_DEADLINE task may not change its affinity, and a real-time one could
    /// starve the steps after it.
    pub fn apply(&self) -> Result<(), ApplyError> {
        use hull_sys::sched;
        if let Some(p) = self.personality {
            let what = format!(
                "linux.personality: personality {}",
                name_of(PERSONALITY_DOMAINS, p)
            );
            sched::set_personality(p).map_err(fail(what))?;
        }
        if let Some(m) = &self.memory_policy {
            let what = format!(
                "linux.memoryPolicy: set_mempolicy {} nodes {:?}",
                name_of(MPOL_MODES, m.mode & 0xff),
                cpulist::ids(&m.nodes)
            );
            sched::set_memory_policy(m.mode, &m.nodes).map_err(fail(what))?;
        }
        if let Some(mask) = &self.affinity_final {
            let what = format!(
                "process.execCPUAffinity.final: sched_setaffinity {:?}",
                cpulist::ids(mask)
            );
            sched::set_cpu_affinity(mask).map_err(fail(what))?;
        }
        if let Some((class, level)) = self.io_priority {
            let what = format!(
                "process.ioPriority: ioprio_set {} {level}",
                name_of(IOPRIO_CLASSES, class)
            );
            sched::set_io_priority(class, level).map_err(fail(what))?;
        }
        if let Some(s) = &self.scheduler {
            let mut what = format!(
                "process.scheduler: sched_setattr {} nice {} priority {}",
                name_of(SCHED_POLICIES, s.policy),
                s.nice,
                s.priority
            );
            let realtime = [SCHED_FIFO, SCHED_RR, SCHED_DEADLINE].contains(&s.policy);
            sched::set_sched_attr(s).map_err(|e| {
                if realtime && e.raw_os_error() == Some(libc::EPERM) {
                    what.push_str(
                        " (a real-time policy needs CAP_SYS_NICE and, where the kernel groups \
                         real-time time by cgroup, linux.resources.cpu.realtimeRuntime)",
                    );
                }
                ApplyError { what, source: e }
            })?;
        }
        Ok(())
    }
}

fn fail(what: impl Into<String>) -> impl FnOnce(io::Error) -> ApplyError {
    let what = what.into();
    move |source| ApplyError { what, source }
}

#[cfg(test)]
mod tests;
