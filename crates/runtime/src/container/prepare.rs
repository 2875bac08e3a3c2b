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
    pub(super) attrs: crate::proc_attrs::ProcAttrs,
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
    check_oci_version(&spec.oci_version).map_err(invalid)?;
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
    let attrs = crate::proc_attrs::plan(proc, spec.linux.as_ref(), crate::proc_attrs::Role::Init)
        .map_err(invalid)?;
    let linux = spec.linux.clone().unwrap_or_default();
    if !linux.has_namespace("mount") {
        check_without_mount_namespace(&spec).map_err(invalid)?;
    }
    check_uts(&spec, &linux).map_err(invalid)?;
    crate::timens::validate(&linux).map_err(invalid)?;
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
        attrs,
    })
}

/// `ociVersion` must be a SemVer 2.0 version of the 1.x spec (config.md): `1.2.0`, `1.0.2-dev`,
/// `1.1.0+build`. runc 1.1 takes any string; crun and youki refuse what is not a version, and
/// youki's contest (set_misc_props) expects that. A config without the field gets hull's own.
fn check_oci_version(v: &str) -> Result<(), String> {
    let core = v.split(['-', '+']).next().unwrap_or_default();
    let suffix_ok = v[core.len()..]
        .split(['-', '+', '.'])
        .skip(1)
        .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric()));
    let parts: Vec<&str> = core.split('.').collect();
    let numeric = |p: &&str| {
        !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) && (*p == "0" || !p.starts_with('0'))
    };
    if parts.len() == 3 && parts.iter().all(numeric) && parts[0] == "1" && suffix_ok {
        return Ok(());
    }
    Err(format!(
        "ociVersion {v:?} is not a 1.x.y version of the runtime spec (this runtime implements {})",
        hull_oci::runtime::OCI_VERSION
    ))
}

/// Without a mount namespace the container inherits the caller's (config-linux.md): its
/// mounts, the rootfs bound onto itself first, land in the host's mount table, and init
/// chroots rather than pivots (a read-only root remounts that bind only). What would change
/// the host's own mounts instead is refused: masking or read-only paths (runc refuses them the
/// same way) and a root propagation (of the host's `/`).
fn check_without_mount_namespace(spec: &Spec) -> Result<(), String> {
    let linux = spec.linux.clone().unwrap_or_default();
    let refused = [
        (!linux.masked_paths.is_empty(), "linux.maskedPaths"),
        (!linux.readonly_paths.is_empty(), "linux.readonlyPaths"),
        (
            linux.rootfs_propagation.is_some(),
            "linux.rootfsPropagation",
        ),
    ];
    match refused.iter().find(|(set, _)| *set) {
        Some((_, what)) => Err(format!(
            "{what} needs a mount namespace, and linux.namespaces has none: it would change the \
             host's mounts"
        )),
        None => Ok(()),
    }
}

/// A hostname or domainname needs a UTS namespace of the container's own: without one,
/// sethostname in init would rename the host (containerd asks for a hostname in a hostNetwork
/// pod's sandbox when its UTS namespace is the host's). runc refuses such a spec too.
fn check_uts(spec: &Spec, linux: &hull_oci::runtime::Linux) -> Result<(), String> {
    let names = spec.hostname.is_some() || spec.domainname.is_some();
    if names && !linux.has_namespace("uts") {
        return Err(
            "hostname or domainname set without a private UTS namespace: it would rename the host"
                .into(),
        );
    }
    Ok(())
}

pub(crate) fn read_spec(path: &Path) -> Result<Spec, RuntimeError> {
    let err = |source| RuntimeError::ReadSpec {
        path: path.to_path_buf(),
        source,
    };
    let bytes = std::fs::read(path).map_err(err)?;
    serde_json::from_slice(&bytes).map_err(|e| err(io::Error::new(io::ErrorKind::InvalidData, e)))
}

/// Keeps the spec in the state dir (see [`crate::state::SPEC_FILE`]).
pub(super) fn save_spec(dir: &Path, spec: &Spec) -> io::Result<()> {
    let bytes = serde_json::to_vec(spec).map_err(io::Error::other)?;
    std::fs::write(dir.join(crate::state::SPEC_FILE), bytes)
}

/// The spec `create` read, from the state dir `dir`; the bundle's config.json only for a
/// container created before hull kept a copy.
pub(crate) fn saved_spec(dir: &Path, bundle: &Path) -> Result<Spec, RuntimeError> {
    let saved = dir.join(crate::state::SPEC_FILE);
    if saved.exists() {
        return read_spec(&saved);
    }
    read_spec(&bundle.join("config.json"))
}

impl Runtime {
    /// What create's process asks of the host: its capabilities and AppArmor profile (see
    /// [`Runtime::check_capabilities`] and [`Runtime::check_process_apparmor`]).
    pub(super) fn check_process(&self, id: &str, spec: &mut Spec) -> Result<(), RuntimeError> {
        match spec.process.as_mut() {
            Some(proc) => {
                self.check_capabilities(id, proc)?;
                self.check_process_apparmor(id, proc)
            }
            None => Ok(()),
        }
    }

    /// Capability names this kernel has no capability for are dropped from the sets with one
    /// warning, as runc does (runc 1.1: "ignoring unknown or unavailable capabilities: [...]");
    /// sets the kernel would refuse are an error, before the fork. For create's process or an
    /// exec'd one.
    pub(crate) fn check_capabilities(
        &self,
        id: &str,
        proc: &mut hull_oci::runtime::Process,
    ) -> Result<(), RuntimeError> {
        let Some(caps) = proc.capabilities.as_mut() else {
            return Ok(());
        };
        let ignored = crate::capabilities::unavailable(caps);
        if !ignored.is_empty() {
            (self.warn)(&format!(
                "ignoring unknown or unavailable capabilities: [{}]",
                ignored.join(" ")
            ));
            crate::capabilities::without(caps, &ignored);
        }
        crate::capabilities::validate(caps).map_err(|source| RuntimeError::Capabilities {
            id: id.to_string(),
            source,
        })
    }

    /// With AppArmor absent from the kernel, a profile cannot be applied: warn and ignore it
    /// (as runc does) rather than fail every container that names one. With AppArmor present,
    /// a profile that is not loaded is an error naming it. For create's process or an exec'd one.
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

#[cfg(test)]
mod tests {
    use super::check_oci_version;

    #[test]
    fn oci_version_must_be_a_1_x_y_semver() {
        for ok in [
            "1.0.0",
            "1.2.0",
            "1.0.2-dev",
            "1.1.0-rc.1",
            "1.1.0+build.5",
            "1.10.3",
        ] {
            check_oci_version(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        for bad in [
            "invalid", "", "2.0.0", "0.1.0", "1.2", "1.2.x", "01.2.0", "1.2.0-", "1.2.0+",
        ] {
            let e = check_oci_version(bad).unwrap_err();
            assert!(e.contains(&format!("{bad:?}")), "{e}");
        }
    }
}
