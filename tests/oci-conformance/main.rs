//! OCI runtime-spec conformance for `hull-runtime`, one case per spec section. Each case writes a
//! bundle (busybox from the host plus the static probe) whose process checks itself from the
//! inside; the test then asserts on what it printed. The cases are grouped by section:
//! `lifecycle.rs` (operations), `namespaces.rs`, `mounts.rs`, `process.rs`, `hooks.rs`, and
//! `cgroups.rs`, checked for real on this host's hierarchy (v1 or v2); `error_contract.rs`
//! (runc's error texts and exit codes, each row run against runc too); `exec.rs` (runc's exec
//! flags, against runc too); `devices.rs` and `features.rs` (issue 12's findings: linux.devices,
//! config edits after create, capability sets that must fail, inherited namespaces; run against
//! runc too); `proc_attrs.rs` (runtime-spec 1.2's I/O priority, scheduler, exec CPU affinity,
//! personality and memory policy, against runc when its version has them); `seccomp_notify.rs`
//! (the seccomp listener: an agent thread answers the container's notified calls, against runc
//! too); `bundle.rs` is the
//! harness. Every case has its own state root and force-deletes its
//! containers, even on failure.

mod bundle;
mod cgroups;
mod devices;
mod error_contract;
mod exec;
mod features;
mod hooks;
mod lifecycle;
mod mounts;
mod namespaces;
mod proc_attrs;
mod process;
mod safety;
mod seccomp_notify;
