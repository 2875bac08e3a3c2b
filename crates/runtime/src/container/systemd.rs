//! The systemd cgroup driver's part of the lifecycle (see `cgroups::systemd`): the scope is
//! checked before init is cloned, started once init exists (systemd moves it in), updated
//! through unit properties, and stopped at delete or when create fails. The scope's unit is
//! recorded in the state, so later commands find it without `--systemd-cgroup`, as with runc.

use hull_oci::runtime::{Resources, Spec};

use super::error::cg_err;
use super::{Runtime, RuntimeError};
use crate::cgroups::systemd::{self, Scope, Systemd};
use crate::cgroups::{Cgroup, CgroupError, CgroupVersion};

impl Runtime {
    /// The container's scope when the runtime uses the systemd driver, checked (host, path,
    /// limits) before anything is made.
    pub(super) fn systemd_scope(
        &self,
        id: &str,
        spec: &Spec,
    ) -> Result<Option<Scope>, RuntimeError> {
        if !self.systemd_cgroup {
            return Ok(None);
        }
        if self.cgroups.version() != CgroupVersion::V2 {
            return Err(cg_err(id)(CgroupError::SystemdUnavailable {
                reason: "needs the unified cgroup hierarchy (cgroup v2); this host uses v1".into(),
            }));
        }
        let linux = spec.linux.as_ref();
        let path = linux.and_then(|l| l.cgroups_path.as_deref());
        let scope = Scope::parse(path, id).map_err(cg_err(id))?;
        let resources = linux.and_then(|l| l.resources.clone()).unwrap_or_default();
        systemd::resource_properties(&resources).map_err(cg_err(id))?;
        Ok(Some(scope))
    }

    /// Starts the scope with init in it and applies the limits: as unit properties, then to
    /// the cgroupfs (what systemd has no property for, and the device filter).
    pub(super) fn start_scope(
        &self,
        id: &str,
        scope: &Scope,
        pid: i32,
        resources: &Resources,
    ) -> Result<Cgroup, RuntimeError> {
        let err = |e| cg_err(id)(e);
        let (limits, fs) = systemd::resource_properties(resources).map_err(&err)?;
        let pid = u32::try_from(pid).unwrap_or_default();
        let mut props = systemd::scope_properties(scope, id, pid);
        props.extend(limits);
        let bus = Systemd::connect().map_err(&err)?;
        bus.start_transient(&scope.unit, &props).map_err(&err)?;
        let cg = Cgroup::open(&self.cgroups, &scope.cgroup_path).map_err(&err)?;
        cg.enable_parent_controllers();
        cg.update(&fs).map_err(&err)?;
        Ok(cg)
    }

    /// New limits for a container's scope: unit properties (at run time), returning what to
    /// write to the cgroupfs after.
    pub(super) fn update_scope(
        &self,
        id: &str,
        unit: &str,
        resources: &Resources,
    ) -> Result<Resources, RuntimeError> {
        let err = |e| cg_err(id)(e);
        let (props, fs) = systemd::resource_properties(resources).map_err(&err)?;
        Systemd::connect()
            .and_then(|bus| bus.set_properties(unit, &props))
            .map_err(&err)?;
        Ok(fs)
    }
}

/// Stops a container's scope and forgets it (nothing is left of a unit systemd already
/// dropped). Processes still in it are killed first: systemd's stop would wait for them.
pub(super) fn stop_scope(
    id: &str,
    unit: &str,
    cgroup: Option<&Cgroup>,
) -> Result<(), RuntimeError> {
    if let Some(cg) = cgroup {
        let _ = cg.kill_all(libc::SIGKILL);
    }
    Systemd::connect()
        .and_then(|bus| bus.stop(unit))
        .map_err(cg_err(id))
}
