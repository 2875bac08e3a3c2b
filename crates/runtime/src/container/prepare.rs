//! What `create` reads and checks before it forks, so that errors come back as plain values
//! rather than from inside init.

use std::io;
use std::path::{Path, PathBuf};

use hull_oci::runtime::Spec;

use super::{CreateRequest, Runtime, RuntimeError};
use crate::{mounts, process, rlimits};

/// What `create` checked and prepared before forking.
pub(super) struct Prepared {
    pub(super) spec: Spec,
    pub(super) rootfs: PathBuf,
    pub(super) mounts: Vec<mounts::PlannedMount>,
    pub(super) namespaces: process::NamespacePlan,
    pub(super) seccomp: Option<crate::seccomp::Filter>,
}

/// Reads and checks everything that can be checked before the fork, so errors come back as
/// plain values rather than from inside init.
pub(super) fn prepare(
    req: &CreateRequest,
    seccomp_cache: Option<&Path>,
) -> Result<Prepared, RuntimeError> {
    let id = &req.id;
    let invalid = |reason: String| RuntimeError::InvalidSpec {
        id: id.clone(),
        reason,
    };
    let spec = match &req.spec {
        Some(s) => s.clone(),
        None => read_spec(&req.bundle.join("config.json"))?,
    };
    let root = spec
        .root
        .as_ref()
        .ok_or_else(|| invalid("no root".into()))?;
    let rootfs = if root.path.is_absolute() {
        root.path.clone()
    } else {
        req.bundle.join(&root.path)
    };
    let rootfs = rootfs
        .canonicalize()
        .map_err(|e| invalid(format!("rootfs {}: {e}", rootfs.display())))?;
    let proc = spec
        .process
        .as_ref()
        .ok_or_else(|| invalid("no process".into()))?;
    if proc.args.is_empty() {
        return Err(invalid("process.args is empty".into()));
    }
    if !Path::new(&proc.cwd).is_absolute() {
        return Err(invalid(format!("cwd {:?} is not absolute", proc.cwd)));
    }
    rlimits::validate(&proc.rlimits).map_err(invalid)?;
    if let Some(hooks) = &spec.hooks {
        crate::hooks::validate(hooks).map_err(invalid)?;
    }
    if let Some(caps) = &proc.capabilities {
        crate::capabilities::validate(caps).map_err(|source| RuntimeError::Capabilities {
            id: id.clone(),
            source,
        })?;
    }
    let linux = spec.linux.clone().unwrap_or_default();
    // Without one, init's mounts and pivot_root would act on the caller's own mount namespace
    // (the host's). runc refuses it too (when it has paths to mask, as every default spec does).
    if !linux.namespaces.iter().any(|n| n.kind == "mount") {
        return Err(invalid(
            "linux.namespaces has no mount namespace: the rootfs setup would change the host's \
             mounts"
                .into(),
        ));
    }
    let seccomp = match &linux.seccomp {
        Some(s) => Some(
            match seccomp_cache {
                Some(dir) => crate::seccomp::compile_cached(s, dir),
                None => crate::seccomp::compile(s),
            }
            .map_err(|source| RuntimeError::Seccomp {
                id: id.clone(),
                source,
            })?,
        ),
        None => None,
    };
    let namespaces = process::plan_namespaces(&linux.namespaces).map_err(invalid)?;
    let mounts = mounts::plan(&spec.mounts, &req.bundle).map_err(|e| invalid(e.to_string()))?;
    Ok(Prepared {
        spec,
        rootfs,
        mounts,
        namespaces,
        seccomp,
    })
}

pub(crate) fn read_spec(path: &Path) -> Result<Spec, RuntimeError> {
    let err = |source| RuntimeError::ReadSpec {
        path: path.to_path_buf(),
        source,
    };
    let bytes = std::fs::read(path).map_err(err)?;
    serde_json::from_slice(&bytes).map_err(|e| err(io::Error::new(io::ErrorKind::InvalidData, e)))
}

impl Runtime {
    /// With AppArmor absent from the kernel, a profile cannot be applied: warn and ignore it
    /// (as runc does) rather than fail every container that names one. With AppArmor present,
    /// a profile that is not loaded is an error naming it.
    pub(super) fn check_apparmor(&self, id: &str, spec: &mut Spec) -> Result<(), RuntimeError> {
        match spec.process.as_mut() {
            Some(proc) => self.check_process_apparmor(id, proc),
            None => Ok(()),
        }
    }

    /// The same for one process (create's, or an exec'd one).
    pub(crate) fn check_process_apparmor(
        &self,
        id: &str,
        proc: &mut hull_oci::runtime::Process,
    ) -> Result<(), RuntimeError> {
        let Some(profile) = proc.apparmor_profile.as_deref() else {
            return Ok(());
        };
        if crate::apparmor::enabled() {
            return crate::apparmor::check_loaded(profile).map_err(|reason| {
                RuntimeError::InvalidSpec {
                    id: id.to_string(),
                    reason,
                }
            });
        }
        (self.warn)(&format!(
            "apparmor is not enabled on this host: ignoring process.apparmorProfile {profile:?}"
        ));
        proc.apparmor_profile = None;
        Ok(())
    }
}
