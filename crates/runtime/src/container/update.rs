//! `update`: new resource limits for a live container's cgroup (runc's `update`), kept in the
//! state so the next update, and `hull inspect`, start from what is applied.

use hull_oci::runtime::{Cpu, Memory, Resources};

use super::error::cg_err;
use super::{live_status, Runtime, RuntimeError};
use crate::state::{self as st, Status};

impl Runtime {
    /// Applies `update` to the cgroup of a created, running or paused container. Fields that
    /// `update` leaves unset keep their current values; the merged resources are applied as a
    /// whole (a new CPU quota keeps the period, a swap limit is checked against the memory
    /// limit) and recorded. On failure the previous values are put back, as runc does.
    pub fn update(&self, id: &str, update: &Resources) -> Result<(), RuntimeError> {
        let dir = self.existing_dir(id)?;
        let _lock = st::lock(&dir).map_err(RuntimeError::io(id, "lock"))?;
        let mut state = st::read(&dir).map_err(RuntimeError::io(id, "read state"))?;
        if live_status(&state) == Status::Stopped {
            return Err(RuntimeError::BadStatus {
                id: id.to_string(),
                op: "update",
                status: "stopped",
            });
        }
        let cg = self.cgroup_of(id, &state)?;
        let current = state.resources.clone().unwrap_or_default();
        let (merged, skipped) = merge(&current, update);
        let ignored = self.cgroups.ignored_resources(update).into_iter();
        for warning in ignored.chain(skipped.into_iter().map(String::from)) {
            (self.warn)(&format!("container {id}: update: {warning}"));
        }
        let fs = match &state.systemd_unit {
            Some(unit) => self.update_scope(id, unit, &merged)?,
            None => merged.clone(),
        };
        if let Err(e) = cg.update(&without_devices(&fs)) {
            if let Some(unit) = &state.systemd_unit {
                let _ = self.update_scope(id, unit, &current);
            }
            let _ = cg.update(&without_devices(&current));
            return Err(cg_err(id)(e));
        }
        state.resources = Some(merged);
        st::write(&dir, &state).map_err(RuntimeError::io(id, "write state"))
    }
}

/// Device rules are applied once, at create: applying them again would stack a further filter
/// on v2. runc's update skips them too.
fn without_devices(r: &Resources) -> Resources {
    Resources {
        devices: Vec::new(),
        ..r.clone()
    }
}

/// `update` over `current`: each field `update` sets (non-zero, non-empty) replaces the current
/// one. Returns the merged resources and the parts of `update` an update does not apply.
pub(crate) fn merge(current: &Resources, update: &Resources) -> (Resources, Vec<&'static str>) {
    let mut out = current.clone();
    if let Some(m) = &update.memory {
        out.memory = Some(merge_memory(out.memory.take().unwrap_or_default(), m));
    }
    if let Some(c) = &update.cpu {
        out.cpu = Some(merge_cpu(out.cpu.take().unwrap_or_default(), c));
    }
    if update.pids.is_some() {
        out.pids = update.pids.clone();
    }
    if let Some(w) = update.block_io.as_ref().and_then(|b| b.weight) {
        out.block_io.get_or_insert_with(Default::default).weight = Some(w).filter(|&w| w != 0);
    }
    out.unified.extend(update.unified.clone());
    let mut skipped = Vec::new();
    let b = update.block_io.clone().unwrap_or_default();
    let devices_io = !b.weight_device.is_empty()
        || !b.throttle_read_bps_device.is_empty()
        || !b.throttle_write_bps_device.is_empty()
        || !b.throttle_read_iops_device.is_empty()
        || !b.throttle_write_iops_device.is_empty()
        || b.leaf_weight.is_some();
    for (given, what) in [
        (
            !update.devices.is_empty(),
            "ignoring devices (set at create only)",
        ),
        (
            devices_io,
            "ignoring blockIO other than weight (set at create only)",
        ),
        (
            !update.hugepage_limits.is_empty(),
            "ignoring hugepageLimits (set at create only)",
        ),
        (
            update.network.is_some(),
            "ignoring network (set at create only)",
        ),
    ] {
        if given {
            skipped.push(what);
        }
    }
    (out, skipped)
}

fn some_nonzero<T: Default + PartialEq>(v: Option<T>) -> Option<T> {
    v.filter(|v| *v != T::default())
}

fn merge_memory(mut cur: Memory, upd: &Memory) -> Memory {
    let limit = some_nonzero(upd.limit);
    cur.limit = limit.or(cur.limit);
    cur.reservation = some_nonzero(upd.reservation).or(cur.reservation);
    cur.swap = match (limit, some_nonzero(upd.swap)) {
        (_, Some(swap)) => Some(swap),
        // runc: an unlimited memory with no swap given lifts the swap limit too, which would
        // otherwise sit below the memory limit.
        (Some(-1), None) if cur.swap.is_some() => Some(-1),
        (_, None) => cur.swap,
    };
    cur.swappiness = upd.swappiness.or(cur.swappiness);
    cur.disable_oom_killer = upd.disable_oom_killer.or(cur.disable_oom_killer);
    // Kernel memory limits are gone from the kernel: warned about, never kept.
    cur.kernel = None;
    cur.kernel_tcp = None;
    cur
}

fn merge_cpu(mut cur: Cpu, upd: &Cpu) -> Cpu {
    cur.shares = some_nonzero(upd.shares).or(cur.shares);
    cur.quota = some_nonzero(upd.quota).or(cur.quota);
    cur.period = some_nonzero(upd.period).or(cur.period);
    cur.realtime_runtime = some_nonzero(upd.realtime_runtime).or(cur.realtime_runtime);
    cur.realtime_period = some_nonzero(upd.realtime_period).or(cur.realtime_period);
    let text = |s: &Option<String>| s.clone().filter(|s| !s.is_empty());
    cur.cpus = text(&upd.cpus).or(cur.cpus);
    cur.mems = text(&upd.mems).or(cur.mems);
    cur.idle = upd.idle.or(cur.idle);
    cur
}

#[cfg(test)]
mod tests {
    use super::*;
    use hull_oci::runtime::{BlockIo, Pids};

    fn mem(limit: Option<i64>, swap: Option<i64>) -> Resources {
        Resources {
            memory: Some(Memory {
                limit,
                swap,
                ..Memory::default()
            }),
            ..Resources::default()
        }
    }

    #[test]
    fn set_fields_replace_and_unset_ones_stay() {
        let current = Resources {
            cpu: Some(Cpu {
                shares: Some(512),
                quota: Some(20_000),
                period: Some(50_000),
                cpus: Some("0".into()),
                ..Cpu::default()
            }),
            pids: Some(Pids { limit: 10 }),
            ..mem(Some(32 << 20), Some(64 << 20))
        };
        let update = Resources {
            cpu: Some(Cpu {
                quota: Some(30_000),
                period: Some(0),
                cpus: Some(String::new()),
                ..Cpu::default()
            }),
            pids: Some(Pids { limit: 20 }),
            ..mem(Some(48 << 20), None)
        };
        let (m, skipped) = merge(&current, &update);
        assert!(skipped.is_empty());
        let cpu = m.cpu.unwrap();
        assert_eq!(
            (cpu.shares, cpu.quota, cpu.period),
            (Some(512), Some(30_000), Some(50_000))
        );
        assert_eq!(cpu.cpus.as_deref(), Some("0"));
        let memory = m.memory.unwrap();
        assert_eq!(
            (memory.limit, memory.swap),
            (Some(48 << 20), Some(64 << 20))
        );
        assert_eq!(m.pids, Some(Pids { limit: 20 }));
    }

    #[test]
    fn unlimited_memory_lifts_a_swap_limit_but_not_a_given_one() {
        let current = mem(Some(32 << 20), Some(64 << 20));
        let (m, _) = merge(&current, &mem(Some(-1), None));
        assert_eq!(m.memory.unwrap().swap, Some(-1));
        let (m, _) = merge(&current, &mem(Some(-1), Some(1 << 30)));
        assert_eq!(m.memory.unwrap().swap, Some(1 << 30));
        let (m, _) = merge(&mem(Some(32 << 20), None), &mem(Some(-1), None));
        assert_eq!(m.memory.unwrap().swap, None);
    }

    #[test]
    fn kernel_memory_is_dropped_and_create_only_parts_are_reported() {
        let mut update = mem(None, None);
        update.memory.as_mut().unwrap().kernel = Some(1 << 20);
        update.block_io = Some(BlockIo {
            weight: Some(300),
            leaf_weight: Some(10),
            ..BlockIo::default()
        });
        update.hugepage_limits = vec![Default::default()];
        let (m, skipped) = merge(&Resources::default(), &update);
        assert_eq!(m.memory.unwrap().kernel, None);
        assert_eq!(m.block_io.unwrap().weight, Some(300));
        assert_eq!(skipped.len(), 2, "{skipped:?}");
    }
}
