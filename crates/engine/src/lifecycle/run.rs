//! Running a container, in the foreground or under the monitor: the one recipe every run shares
//! (`run_claimed`), from the overlay root to the recorded exit, with a guard per step that undoes
//! it on the way out.

use std::fs;
use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use hull_image::store::StoreError;
use hull_oci::image::ContainerConfig;
use hull_oci::runtime::Spec;
use hull_oci::Digest;
use hull_runtime::cgroups::{CgroupRoot, CgroupVersion};
use hull_runtime::{CreateRequest, Created, Runtime, RuntimeError};
use hull_sys::fs::Durability;
use hull_sys::mount::OverlayUpper;

use crate::endpoint::netrun::{self, RunNetwork};
use crate::engine::{io_err, now, rt_err};
use crate::lifecycle::foreground;
use crate::run::etc;
use crate::run::spec::{self, EtcFiles, SpecInputs, CGROUP_PARENT};
use crate::run::user::{self, ExecUser};
use crate::run::{NetworkMode, RunConfig, SeccompChoice};
use crate::state::{Lock, NetworkState, Record, Status};
use crate::{Engine, EngineError};

/// The container's rootfs overlay; unmounted when dropped.
pub(crate) struct MountedRootfs {
    target: PathBuf,
}

impl Drop for MountedRootfs {
    fn drop(&mut self) {
        if let Err(e) = hull_sys::mount::unmount(&self.target, false) {
            eprintln!("hull: unmount {}: {e}; detaching it", self.target.display());
            let _ = hull_sys::mount::unmount(&self.target, true);
        }
    }
}

/// A container the runtime created; deleted (killed if needed, cgroup removed) when dropped.
struct RuntimeContainer<'a> {
    runtime: &'a Runtime,
    id: &'a str,
}

/// Kills what is left of a container, removes its cgroup and runtime state; a container the
/// runtime does not know (already deleted) is fine. A failure is printed: for callers that
/// cannot do better than go on (`rm` must not, see `delete_from_runtime_checked`).
pub(crate) fn delete_from_runtime(runtime: &Runtime, id: &str) {
    if let Err(e) = delete_from_runtime_checked(runtime, id) {
        eprintln!("hull: delete container {id}: {e}");
    }
}

/// `delete_from_runtime`, returning the runtime's failure to delete its state (after the
/// cgroup clean-up, which goes on regardless).
pub(crate) fn delete_from_runtime_checked(runtime: &Runtime, id: &str) -> Result<(), RuntimeError> {
    let deleted = match runtime.delete(id, true) {
        Ok(()) | Err(RuntimeError::NotFound { .. }) => Ok(()),
        Err(e) => Err(e),
    };
    // A runner killed inside runtime create can leave the cgroup (and an init in it) before the
    // runtime recorded either: the engine knows the path, since it chose it.
    if let Some(cg) = kill_cgroup(runtime, id) {
        if let Err(e) = cg.delete() {
            eprintln!("hull: remove cgroup {}: {e}", cg.path());
        }
    }
    // The shared parent of every container's cgroup; it goes when the last container does,
    // so hull leaves nothing in the cgroup tree once no container exists.
    let _ = hull_runtime::cgroups::remove_if_empty(&runtime.cgroups, CGROUP_PARENT);
    deleted
}

/// SIGKILLs every process in the container's cgroup (the path the engine gave it), if it exists.
pub(crate) fn kill_cgroup(runtime: &Runtime, id: &str) -> Option<hull_runtime::cgroups::Cgroup> {
    let path = format!("{CGROUP_PARENT}/{id}");
    let cg = hull_runtime::cgroups::Cgroup::open(&runtime.cgroups, &path).ok()?;
    let _ = cg.kill_all(libc::SIGKILL);
    Some(cg)
}

impl Drop for RuntimeContainer<'_> {
    fn drop(&mut self) {
        delete_from_runtime(self.runtime, self.id);
    }
}

impl Engine {
    /// Runs the container in the foreground and returns its exit code; with `--rm` everything
    /// it left is removed afterwards, whether it ran or failed to start.
    pub fn run(&self, id: &str) -> Result<i32, EngineError> {
        let record = self.containers.load(id)?;
        let stdio = stdio(id, &record.config)?;
        self.run_foreground(record, stdio)
    }

    /// [`Engine::run`] with the container's stdout and stderr both going to `out`, and stdin
    /// /dev/null (a quiet build's RUN steps, whose output is shown only when one fails).
    pub fn run_into(&self, id: &str, out: &fs::File) -> Result<i32, EngineError> {
        let record = self.containers.load(id)?;
        let null = Path::new("/dev/null");
        let stdin = fs::File::open(null).map_err(io_err(id, "open", null))?;
        let dup = || {
            out.try_clone().map(OwnedFd::from).map_err(io_err(
                id,
                "duplicate",
                Path::new("the output file"),
            ))
        };
        let stdio = [OwnedFd::from(stdin), dup()?, dup()?];
        self.run_foreground(record, Some(stdio))
    }

    fn run_foreground(
        &self,
        record: Record,
        stdio: Option<[OwnedFd; 3]>,
    ) -> Result<i32, EngineError> {
        let id = record.id.as_str();
        let interactive = record.config.interactive;
        self.run_with(id, stdio, |runtime, created| {
            let signals = foreground::catch_signals().map_err(io_err(
                id,
                "catch signals for",
                Path::new("init"),
            ))?;
            // Forked before any thread starts, with the signals caught (it ignores them).
            let _checker = self.foreground_checker(&record, created.pid)?;
            let _dns = self.embedded_dns_thread(&record, created.pid)?;
            hold_in_foreground(runtime, id, created, signals, interactive)
        })
    }

    /// The lifecycle shared by the foreground run and the detached monitor: claim the running
    /// lock, set the container up with `stdio`, let `hold` start it and wait for its exit code,
    /// then record the exit and tear down (everything, with `--rm`).
    pub(crate) fn run_with(
        &self,
        id: &str,
        stdio: Option<[OwnedFd; 3]>,
        hold: impl FnOnce(&Runtime, Created) -> Result<i32, EngineError>,
    ) -> Result<i32, EngineError> {
        let claim = self
            .containers
            .try_claim_running(id)?
            .ok_or_else(|| EngineError::AlreadyRunning(id.to_string()))?;
        let record = self.containers.load(id)?;
        let result = self.run_claimed(&record, stdio, hold);
        self.finish_run(&record, claim, result)
    }

    /// The end of a run, foreground or detached: records a failed run's exit code (Docker's
    /// 125/126/127), gives up the running claim, then removes a `--rm` container. The claim
    /// must go first because removal refuses a container that still counts as running.
    pub(crate) fn finish_run(
        &self,
        record: &Record,
        claim: Lock,
        result: Result<i32, EngineError>,
    ) -> Result<i32, EngineError> {
        let id = record.id.as_str();
        if let Err(e) = &result {
            let code = i32::from(e.exit_code());
            let _ = self
                .containers
                .update(id, |r| r.state.exit_code = Some(code));
            self.failed_run_event(id, code);
        }
        drop(claim);
        if record.config.rm {
            let code = match &result {
                Ok(code) => *code,
                Err(e) => i32::from(e.exit_code()),
            };
            self.containers.leave_exit_code(id, code);
            self.containers.remove(id)?;
            self.container_event(record, "destroy", &[]);
            self.remove_anonymous_volumes(record);
        }
        result
    }

    /// The recipe of one run. Each guard undoes its step on the way out, in reverse.
    pub(crate) fn run_claimed(
        &self,
        record: &Record,
        stdio: Option<[OwnedFd; 3]>,
        hold: impl FnOnce(&Runtime, Created) -> Result<i32, EngineError>,
    ) -> Result<i32, EngineError> {
        let id = record.id.as_str();
        // A runner killed with -9 leaves its container running, orphaned; starting it again
        // would kill it (runtime delete) and stack a second rootfs mount on its own.
        if self.containers.orphan_alive(id) {
            return Err(EngineError::AlreadyRunning(id.to_string()));
        }
        let image_id = record
            .image_id
            .parse::<Digest>()
            .map_err(|_| StoreError::NotFound(record.image_id.clone()))?;
        let image = self.images.record(&image_id)?;
        let image_config = self.images.config(&image_id)?.config.unwrap_or_default();
        let rootfs = self.mount_rootfs(id, &image.diff_ids())?;
        // Must happen after the mount because the user is looked up in the image's /etc/passwd.
        let user_name = record
            .config
            .user
            .as_deref()
            .or(image_config.user.as_deref());
        let exec_user = user::resolve_in_rootfs(&rootfs.target, user_name)?;
        // Volumes become binds of their data, filled from the image when new.
        let (mounts, volumes) = self.volumes_for_run(record, &rootfs.target)?;
        let mut resolved = record.clone();
        resolved.config.mounts = mounts;
        if matches!(record.config.network, NetworkMode::Bridge(_)) {
            // A dead runner's endpoint may hold the ports or addresses this run wants.
            if let Err(e) = self.reconcile_network() {
                eprintln!("hull: reconcile networks: {e}");
            }
        }
        // Reserved before create: a host port in use fails here, before anything runs.
        let net = netrun::prepare(&self.root, &self.containers, record, &image_config)?;
        let spec = self.build_spec(&resolved, &image_config, &exec_user, &net)?;
        let bundle = self.write_bundle(id, &spec)?;

        let runtime = self.runtime()?;
        let created = self.create_in_runtime(&runtime, record, bundle, spec, stdio)?;
        let container = RuntimeContainer {
            runtime: &runtime,
            id,
        };
        // Between create and start: the namespace exists, the program has not run yet.
        let attached = net.plug(created.pid, &netrun::aliases(record))?;
        self.record_started(id, created.pid, &attached)?;
        let held = hold(&runtime, created);
        let oom = runtime.oom_killed(id).unwrap_or(false);
        drop(container);
        drop(net);
        drop(volumes);
        drop(rootfs);
        if attached.is_some() {
            let _ = self.containers.update(id, |r| r.state.clear_networks());
            self.endpoint_event("disconnect", id, &attached);
        }
        let code = held?;
        self.record_exited(id, code, oom)?;
        Ok(code)
    }

    /// The container's OCI spec: its hostname and /etc files (its own, or those of the container
    /// whose network it shares), the seccomp profile, the resolved user, and the host's limits.
    fn build_spec(
        &self,
        record: &Record,
        image_config: &ContainerConfig,
        exec_user: &ExecUser,
        net: &RunNetwork,
    ) -> Result<Spec, EngineError> {
        let id = record.id.as_str();
        let (hostname, etc_files) = match net {
            RunNetwork::Shared {
                etc_dir, hostname, ..
            } => (hostname.clone(), EtcFiles::in_dir(etc_dir)),
            _ => {
                let hostname = spec::hostname(&record.config, id, &host_hostname());
                let files = self.write_etc_files(id, &record.config, &hostname, net.ip())?;
                (hostname, files)
            }
        };
        let profile = read_seccomp_profile(id, &record.config.seccomp)?;
        let mut spec = spec::build(
            image_config,
            &record.config,
            &SpecInputs {
                id,
                hostname: &hostname,
                user: exec_user,
                etc: &etc_files,
                cgroup_v2: cgroup_v2_host(),
                seccomp: spec::seccomp(&record.config, profile.as_deref())?,
            },
        )?;
        if let RunNetwork::Shared { netns, .. } = net {
            spec::join_netns(&mut spec, netns);
        }
        if !swap_limit_supported() && spec::drop_swap_limit(&mut spec) {
            eprintln!("{}", spec::NO_SWAP_LIMIT_WARNING);
        }
        Ok(spec)
    }

    /// Writes the bundle's config.json; returns the bundle.
    fn write_bundle(&self, id: &str, spec: &Spec) -> Result<PathBuf, EngineError> {
        let bundle = self.containers.bundle(id);
        let config_path = bundle.join("config.json");
        let bytes = serde_json::to_vec_pretty(spec).expect("specs serialize");
        // The temp of a runner killed before its rename; this runner holds the claim.
        let _ = hull_sys::fs::sweep_atomic_temps(&bundle);
        // Regenerated on every start, so a host crash losing it costs nothing.
        hull_sys::fs::write_atomic(&config_path, &bytes, Durability::ProcessCrash)
            .map_err(io_err(id, "write", &config_path))?;
        Ok(bundle)
    }

    /// The runtime's create: init waits for start.
    fn create_in_runtime(
        &self,
        runtime: &Runtime,
        record: &Record,
        bundle: PathBuf,
        spec: Spec,
        stdio: Option<[OwnedFd; 3]>,
    ) -> Result<Created, EngineError> {
        let id = record.id.as_str();
        // A container left behind by a crashed run of the same container would block create.
        let _ = runtime.delete(id, true);
        let _ = self.remove_runtime_stub(id);
        let mut req = CreateRequest::new(id, bundle);
        req.spec = Some(spec);
        req.init = record.config.init;
        req.stdio = stdio;
        runtime.create(req).map_err(rt_err(id, "create"))
    }

    fn record_started(
        &self,
        id: &str,
        pid: i32,
        attached: &Option<NetworkState>,
    ) -> Result<(), EngineError> {
        self.containers.update(id, |r| {
            r.state.status = Status::Running;
            r.state.pid = Some(pid);
            r.state.network = attached.clone();
            r.state.started_at = Some(now());
            r.state.exit_code = None;
            r.state.finished_at = None;
            r.state.oom_killed = false;
            r.state.paused = false;
            // In the same write as Running, so that no reader (`run -d` returns on start) sees
            // a running container with a health check but no health yet.
            super::health::mark_starting(r);
        })?;
        self.endpoint_event("connect", id, attached);
        self.container_event_id(id, "start", &[]);
        Ok(())
    }

    fn record_exited(&self, id: &str, code: i32, oom: bool) -> Result<(), EngineError> {
        self.containers.update(id, |r| {
            r.state.status = Status::Exited;
            r.state.pid = None;
            r.state.exit_code = Some(code);
            r.state.finished_at = Some(now());
            r.state.oom_killed = oom;
            r.state.paused = false;
        })?;
        self.exit_events(id, code, oom);
        Ok(())
    }

    pub(crate) fn mount_rootfs(
        &self,
        id: &str,
        diff_ids: &[Digest],
    ) -> Result<MountedRootfs, EngineError> {
        let dir = self.containers.dir(id);
        let (upper, work, target) = (
            dir.join("upper"),
            dir.join("work"),
            self.containers.rootfs(id),
        );
        for d in [&upper, &work, &target] {
            fs::create_dir_all(d).map_err(io_err(id, "create directory", d))?;
        }
        // Left mounted by a runner that died (kill -9) with its container: nothing uses it now.
        if hull_sys::mount::is_mountpoint(&target).unwrap_or(false) {
            let _ = hull_sys::mount::unmount(&target, true);
        }
        let spec = self
            .images
            .layers
            .mounts(diff_ids, Some(OverlayUpper { upper, work }))
            .map_err(StoreError::from)?;
        hull_sys::mount::mount(&spec, &target).map_err(io_err(id, "mount rootfs at", &target))?;
        Ok(MountedRootfs { target })
    }

    /// Writes the container's /etc/hostname, /etc/hosts and /etc/resolv.conf; with the host's
    /// network, hosts and resolv.conf are the host's own.
    fn write_etc_files(
        &self,
        id: &str,
        config: &RunConfig,
        hostname: &str,
        ip: Option<std::net::Ipv4Addr>,
    ) -> Result<EtcFiles, EngineError> {
        let files = EtcFiles::in_dir(&self.containers.dir(id));
        let host_resolv = fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
        let host_resolv =
            etc::with_dns_overrides(&host_resolv, &config.dns_search, &config.dns_options);
        let (hosts, resolv) = match config.network {
            NetworkMode::Host => {
                let mut hosts = fs::read_to_string("/etc/hosts").unwrap_or_default();
                hosts.push_str(&etc::hosts_entries(&config.add_hosts));
                (hosts, host_resolv)
            }
            _ => (
                match ip {
                    Some(ip) => etc::hosts_with_ip(&config.add_hosts, ip.into(), hostname),
                    None => etc::hosts(&config.add_hosts),
                },
                match &config.network {
                    // `--dns` servers become the embedded responder's upstreams there.
                    NetworkMode::Bridge(net) if hull_net::dns::serves(&self.root, net) => {
                        etc::resolv_conf_embedded(&host_resolv)
                    }
                    _ => etc::resolv_conf(&host_resolv, &config.dns),
                },
            ),
        };
        for (path, text) in [
            (&files.hostname, format!("{hostname}\n")),
            (&files.hosts, hosts),
            (&files.resolv_conf, resolv),
        ] {
            // Regenerated on every start, so a host crash losing them costs nothing.
            hull_sys::fs::write_atomic(path, text.as_bytes(), Durability::ProcessCrash)
                .map_err(io_err(id, "write", path))?;
        }
        Ok(files)
    }
}

/// The foreground's part of a run: forwards the caught `signals` and relays the pty while
/// waiting.
fn hold_in_foreground(
    runtime: &Runtime,
    id: &str,
    created: Created,
    signals: signal_hook::iterator::Signals,
    interactive: bool,
) -> Result<i32, EngineError> {
    // must happen before start because the program may ask for the size right away (`stty
    // size` printed nothing when the relay set it only once the program was running).
    if let Some(console) = &created.console {
        foreground::copy_window_size(console);
    }
    runtime.start(id).map_err(rt_err(id, "start"))?;
    foreground::wait(signals, created.pid, created.console, interactive).map_err(io_err(
        id,
        "wait for",
        Path::new("init"),
    ))
}

/// Without `-i` the container's stdin is /dev/null, as with `docker run`; stdout and stderr are
/// ours. None (inherit everything) with `-i`, and with `-t` where the pty replaces all three.
fn stdio(id: &str, config: &RunConfig) -> Result<Option<[OwnedFd; 3]>, EngineError> {
    if config.interactive || config.tty {
        return Ok(None);
    }
    let null = Path::new("/dev/null");
    let stdin = fs::File::open(null).map_err(io_err(id, "open", null))?;
    let dup = |fd: std::os::fd::BorrowedFd<'_>| {
        fd.try_clone_to_owned()
            .map_err(io_err(id, "duplicate", Path::new("stdio")))
    };
    Ok(Some([
        OwnedFd::from(stdin),
        dup(std::os::fd::AsFd::as_fd(&io::stdout()))?,
        dup(std::os::fd::AsFd::as_fd(&io::stderr()))?,
    ]))
}

fn read_seccomp_profile(id: &str, choice: &SeccompChoice) -> Result<Option<Vec<u8>>, EngineError> {
    match choice {
        SeccompChoice::Profile(path) => {
            fs::read(path)
                .map(Some)
                .map_err(io_err(id, "read seccomp profile", path))
        }
        SeccompChoice::Default | SeccompChoice::Unconfined => Ok(None),
    }
}

fn host_hostname() -> String {
    fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_default()
}

/// Whether the host can limit swap (swap accounting), as the runtime detects it; an unknown
/// layout counts as yes, so the runtime's own error says what is missing.
fn swap_limit_supported() -> bool {
    CgroupRoot::detect().map_or(true, |r| r.supports_swap_limit())
}

/// Whether the host runs cgroup v2 (then containers get a cgroup namespace), as the runtime
/// detects it.
fn cgroup_v2_host() -> bool {
    CgroupRoot::detect().is_ok_and(|r| r.version() == CgroupVersion::V2)
}
