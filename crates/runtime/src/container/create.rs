//! `create`: the state directory, the cgroup, init's fork, and the handshake with init until it
//! waits before the user's program.

use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use hull_oci::runtime::{Hooks, Spec, State};
use rustix::fs::{Mode, OFlags};
use rustix::process::{Pid, Signal};

use super::error::{cg_err, listener_err};
use super::prepare::prepare;
use super::{Runtime, RuntimeError};
use crate::cgroups::systemd::Scope;
use crate::cgroups::{Cgroup, CgroupRoot};
use crate::process::init::InitArgs;
use crate::process::sync::{self, FromInit, ToInit};
use crate::state::{self as st, ContainerState, Status};
use crate::{mounts, process};

/// What `create` needs.
#[derive(Debug)]
pub struct CreateRequest {
    pub id: String,
    /// The bundle directory; `config.json` is read from it unless `spec` is given.
    pub bundle: PathBuf,
    pub spec: Option<Spec>,
    /// The container's stdin, stdout and stderr; None inherits the caller's.
    pub stdio: Option<[OwnedFd; 3]>,
    /// runc's `--console-socket`: where to send the pty master (SCM_RIGHTS) when
    /// `process.terminal` is true. Without it the master is returned in [`Created::console`].
    pub console_socket: Option<PathBuf>,
    pub pid_file: Option<PathBuf>,
    /// Run a minimal init as pid 1 that forwards signals to the user's process and reaps zombies
    /// (`hull run --init`); it is this binary's own code, nothing is added to the rootfs.
    pub init: bool,
    pub no_pivot: bool,
    /// runc's `--preserve-fds N`: descriptors 3..3+N of the caller stay open in the container's
    /// process (LISTEN_FDS and the like in `process.env` are the caller's business).
    pub preserve_fds: u32,
    /// Give the container a session keyring of its own, named `_ses.<id>` (runc's default;
    /// `--no-new-keyring` turns it off). Off in [`CreateRequest::new`].
    pub new_keyring: bool,
}

impl CreateRequest {
    pub fn new(id: &str, bundle: PathBuf) -> CreateRequest {
        CreateRequest {
            id: id.to_string(),
            bundle,
            spec: None,
            stdio: None,
            console_socket: None,
            pid_file: None,
            init: false,
            no_pivot: false,
            preserve_fds: 0,
            new_keyring: false,
        }
    }
}

/// A created container: its init pid (a child of the caller) and, for a terminal without a
/// console socket, the pty master.
#[derive(Debug)]
pub struct Created {
    pub pid: i32,
    pub console: Option<OwnedFd>,
}

/// What `await_ready` needs besides the id.
struct Ready<'a> {
    sock: &'a OwnedFd,
    console_socket: Option<&'a Path>,
    hooks: &'a hull_oci::runtime::Hooks,
    state: &'a State,
    /// For the listener's message, when init sends its notification descriptor.
    seccomp: Option<&'a hull_oci::runtime::Seccomp>,
}

/// prestart (deprecated, still used) then createRuntime, in the runtime namespace. prestart
/// sees status `created`, as runtime-tools' hooks_stdin checks (runc 1.1 passes `creating`);
/// createRuntime and createContainer see `creating`.
fn run_runtime_hooks(
    id: &str,
    hooks: &hull_oci::runtime::Hooks,
    state: &State,
) -> Result<(), RuntimeError> {
    let err = |source| RuntimeError::Hook {
        id: id.to_string(),
        source: Box::new(source),
    };
    let prestart_state = State {
        status: Status::Created.as_str().to_string(),
        ..state.clone()
    };
    crate::hooks::run_all("prestart", &hooks.prestart, &prestart_state).map_err(err)?;
    crate::hooks::run_all("createRuntime", &hooks.create_runtime, state).map_err(err)
}

/// Undoes a half-made container (kill init, stop its scope, remove cgroup and state dir)
/// unless disarmed.
struct CreateGuard<'a> {
    dir: &'a Path,
    cgroups: &'a CgroupRoot,
    pid: Option<i32>,
    cgroup: Option<Cgroup>,
    /// The systemd scope being started for it (systemd driver).
    unit: Option<String>,
    armed: bool,
}

impl<'a> CreateGuard<'a> {
    /// A guard that undoes a create of the container whose state dir is `dir` until disarmed.
    fn armed(dir: &'a Path, cgroups: &'a CgroupRoot) -> Self {
        CreateGuard {
            dir,
            cgroups,
            pid: None,
            cgroup: None,
            unit: None,
            armed: true,
        }
    }
}

impl Drop for CreateGuard<'_> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        if let Some(pid) = self.pid.and_then(Pid::from_raw) {
            let _ = rustix::process::kill_process(pid, Signal::KILL);
            let _ = rustix::process::waitpid(Some(pid), rustix::process::WaitOptions::empty());
        }
        if let Some(unit) = self.unit.take() {
            let _ = super::systemd::stop_scope("", &unit, self.cgroup.as_ref());
        }
        if let Some(cg) = self.cgroup.take() {
            let _ = cg.delete();
        }
        // also when the cgroup was made and removed again inside create_cgroup.
        super::release_cgroup_parent(self.cgroups);
        let _ = super::host_mounts::release(self.dir);
        let _ = std::fs::remove_dir_all(self.dir);
    }
}

/// The state directory of a container being created, as `create` fills it before the fork.
struct NewStateDir {
    /// The container's lock, held until it is recorded as created.
    lock: std::fs::File,
    state: ContainerState,
    hooks: Hooks,
    /// An `O_PATH` descriptor of the directory, for init (which opens exec.fifo through it).
    fd: OwnedFd,
}

/// Without a mount namespace of its own, the container's mounts land in the host's table:
/// notes what is there before, so delete (or a failed create) removes only what it added.
fn note_host_mounts(id: &str, dir: &Path, spec: &Spec, rootfs: &Path) -> Result<(), RuntimeError> {
    let linux = spec.linux.as_ref();
    if linux.is_some_and(|l| l.has_namespace("mount")) {
        return Ok(());
    }
    super::host_mounts::note_before(dir, rootfs)
        .map_err(RuntimeError::io(id, "note the host's mounts"))
}

impl Runtime {
    /// Creates the container: its init runs in new namespaces with the rootfs set up and waits
    /// before the user's program until [`Runtime::start`].
    pub fn create(&self, req: CreateRequest) -> Result<Created, RuntimeError> {
        let id = req.id.clone();
        let dir = self.dir(&id)?;
        let mut prep = prepare(&req, self.seccomp_cache.as_deref())?;
        self.check_process(&id, &mut prep.spec)?;
        make_state_dir(&id, &dir)?;
        let mut guard = CreateGuard::armed(&dir, &self.cgroups);
        let mut sd = fill_state_dir(&id, &dir, &req.bundle, &prep.spec)?;
        note_host_mounts(&id, &dir, &prep.spec, &prep.rootfs)?;
        let (ours, theirs) =
            hull_sys::socket::seqpacket_pair().map_err(RuntimeError::io(&id, "socketpair"))?;
        let scope = self.systemd_scope(&id, &prep.spec)?;
        let (cgroup, cgroup_join) = self.create_cgroup(&id, &prep.spec)?;
        guard.cgroup = cgroup.clone();
        let for_children = process::enter_for_children(&prep.namespaces.join_for_children)
            .map_err(RuntimeError::io(&id, "join namespaces for init"))?;
        let forked = hull_sys::process::fork_with_flags(prep.namespaces.clone_flags)
            .map_err(RuntimeError::io(&id, "clone init"))?;
        let pid = match forked {
            hull_sys::process::Forked::Child => {
                for_children.stay();
                // We are init: the parent's end must not stay open here, or the parent would
                // never see end-of-stream when our exec succeeds; and our copy of the lock
                // descriptor would keep the flock held until exec.
                drop((ours, sd.lock));
                process::init::run(InitArgs {
                    spec: prep.spec,
                    rootfs: prep.rootfs,
                    mounts: prep.mounts,
                    join: prep.namespaces.join,
                    new_cgroup: prep.namespaces.new_cgroup,
                    new_time: prep.namespaces.new_time,
                    sock: theirs,
                    state_dir: sd.fd,
                    stdio: req.stdio,
                    seccomp: prep.seccomp,
                    mini_init: req.init,
                    no_pivot: req.no_pivot,
                    preserve_fds: req.preserve_fds,
                    keyring: req.new_keyring.then(|| format!("_ses.{id}")),
                    cgroup_join: cgroup_join.unwrap_or_default(),
                    attrs: prep.attrs,
                })
            }
            hull_sys::process::Forked::Parent(pid) => {
                drop(for_children);
                pid
            }
        };
        let self_join = cgroup_join.is_some();
        drop((theirs, sd.fd, req.stdio, cgroup_join));
        guard.pid = Some(pid);

        let cgroup =
            self.cgroup_for_init(&id, scope.as_ref(), cgroup, pid, &prep.spec, &mut guard)?;
        let unit = scope.map(|s| s.unit);
        place_in_cgroup(&id, pid, cgroup.as_ref(), self_join, unit, &mut sd.state)?;
        write_id_maps(&id, &prep.spec, pid)?;
        let cgroup_paths = init_cgroup_paths(pid, cgroup.as_ref(), self_join);
        let hook_state = ContainerState {
            pid: Some(pid),
            ..sd.state.clone()
        }
        .oci(Status::Creating);
        send_proceed(&id, &ours, &prep.spec, &hook_state, cgroup_paths)?;
        let ready = Ready {
            sock: &ours,
            console_socket: req.console_socket.as_deref(),
            hooks: &sd.hooks,
            state: &hook_state,
            seccomp: prep.spec.linux.as_ref().and_then(|l| l.seccomp.as_ref()),
        };
        let console = self.await_ready(&id, ready)?;

        record_created(&id, &dir, &mut sd.state, pid, req.pid_file.as_deref())?;
        guard.armed = false;
        drop(sd.lock);
        self.sync.lock().expect("sync map").insert(id, ours);
        Ok(Created { pid, console })
    }

    /// Init's cgroup: with the systemd driver the scope, started now with init in it (the
    /// guard stops it if create fails later); else `made`, the cgroup made before the fork.
    fn cgroup_for_init(
        &self,
        id: &str,
        scope: Option<&Scope>,
        made: Option<Cgroup>,
        pid: i32,
        spec: &Spec,
        guard: &mut CreateGuard<'_>,
    ) -> Result<Option<Cgroup>, RuntimeError> {
        let Some(scope) = scope else {
            return Ok(made);
        };
        guard.unit = Some(scope.unit.clone());
        let cg = self.start_scope(id, scope, pid, &self.spec_resources(spec))?;
        guard.cgroup = Some(cg.clone());
        Ok(Some(cg))
    }

    /// Creates the cgroup when the spec asks for one (before init exists). With it come the
    /// v1 `tasks` files through which init moves itself in (see [`Cgroup::self_join_files`]),
    /// unless there is a user namespace, whose init may lack the permission: then None, and
    /// the caller moves init with [`Cgroup::add_process`]. Nothing with the systemd driver,
    /// whose scope is started once init exists.
    #[allow(clippy::type_complexity)]
    fn create_cgroup(
        &self,
        id: &str,
        spec: &Spec,
    ) -> Result<(Option<Cgroup>, Option<Vec<std::fs::File>>), RuntimeError> {
        let Some(linux) = &spec.linux else {
            return Ok((None, None));
        };
        if self.systemd_cgroup {
            return Ok((None, None));
        }
        if linux.cgroups_path.is_none() && linux.resources.is_none() {
            return Ok((None, None));
        }
        let path = linux
            .cgroups_path
            .clone()
            .unwrap_or_else(|| format!("{}/{id}", super::CGROUP_PARENT));
        let err = |source| RuntimeError::Cgroup {
            id: id.to_string(),
            source,
        };
        let resources = self.spec_resources(spec);
        let cg = Cgroup::create(&self.cgroups, &path, &resources).map_err(err)?;
        if linux.has_namespace("user") {
            return Ok((Some(cg), None));
        }
        match cg.self_join_files() {
            Ok(files) => Ok((Some(cg), files)),
            Err(e) => {
                let _ = cg.delete();
                Err(err(e))
            }
        }
    }

    /// The spec's resources as the cgroup gets them, warning about what this host ignores.
    fn spec_resources(&self, spec: &Spec) -> hull_oci::runtime::Resources {
        let linux = spec.linux.as_ref();
        let mut resources = linux.and_then(|l| l.resources.clone()).unwrap_or_default();
        // like runc: the nodes the runtime itself always creates stay usable under a deny-all.
        if !resources.devices.is_empty() {
            resources.devices.extend(crate::devices::always_allowed());
            // mknod-only rules, so init can make linux.devices' nodes under a deny-all.
            let nodes = linux.map(|l| l.devices.as_slice()).unwrap_or_default();
            resources
                .devices
                .extend(crate::devices::creation_rules(nodes));
        }
        for warning in self.cgroups.ignored_resources(&resources) {
            (self.warn)(&format!("linux.resources: {warning}"));
        }
        resources
    }

    /// Reads init's messages until `Ready`, handing on the console and running the
    /// prestart and createRuntime hooks on the way.
    fn await_ready(&self, id: &str, r: Ready<'_>) -> Result<Option<OwnedFd>, RuntimeError> {
        let (sock, console_socket) = (r.sock, r.console_socket);
        let mut console = None;
        loop {
            let msg =
                sync::recv::<FromInit>(sock).map_err(RuntimeError::io(id, "read from init"))?;
            match msg {
                Some((FromInit::Console, Some(fd))) => match console_socket {
                    Some(path) => hull_sys::socket::send_fd_to_path(path, &fd, "console").map_err(
                        RuntimeError::io(id, format!("send console to {}", path.display())),
                    )?,
                    None => console = Some(fd),
                },
                Some((FromInit::Console, None)) => {
                    return Err(RuntimeError::io(id, "console")(io::Error::other(
                        "init sent no descriptor",
                    )))
                }
                Some((FromInit::Ready, _)) => return Ok(console),
                Some((FromInit::SeccompFd, fd)) => deliver_notify_fd(id, &r, fd)?,
                Some((FromInit::RunHooks, _)) => {
                    run_runtime_hooks(id, r.hooks, r.state)?;
                    sync::send(sock, &ToInit::HooksDone)
                        .map_err(RuntimeError::io(id, "send hooks done to init"))?;
                }
                Some((FromInit::Error(cause), _)) => {
                    return Err(RuntimeError::Init {
                        id: id.to_string(),
                        step: cause.step,
                        cause,
                    })
                }
                Some((FromInit::ExecFailed { errno }, _)) => {
                    return Err(RuntimeError::ExecFailed {
                        id: id.to_string(),
                        errno,
                    })
                }
                Some((FromInit::Forked { pid }, _)) => {
                    return Err(RuntimeError::io(id, "read from init")(io::Error::other(
                        format!("unexpected message Forked {{ pid: {pid} }}"),
                    )))
                }
                None => {
                    return Err(RuntimeError::io(id, "wait for init")(io::Error::other(
                        "init exited before it was ready",
                    )))
                }
            }
        }
    }
}

/// Hands init's seccomp notification descriptor to the spec's listener with the container
/// process state (see [`crate::seccomp::listener`]).
fn deliver_notify_fd(id: &str, r: &Ready<'_>, fd: Option<OwnedFd>) -> Result<(), RuntimeError> {
    let fd = fd.ok_or_else(|| {
        RuntimeError::io(id, "seccomp listener")(io::Error::other("init sent no descriptor"))
    })?;
    let seccomp = r.seccomp.ok_or_else(|| {
        RuntimeError::io(id, "seccomp listener")(io::Error::other("the spec has no listener"))
    })?;
    crate::seccomp::listener::deliver(seccomp, r.state, &fd).map_err(listener_err(id))
}

/// Makes the container's state directory; one that exists already is another container's.
fn make_state_dir(id: &str, dir: &Path) -> Result<(), RuntimeError> {
    match std::fs::create_dir(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            Err(RuntimeError::AlreadyExists { id: id.to_string() })
        }
        Err(e) => Err(RuntimeError::io(id, "create state dir")(e)),
    }
}

/// Locks the new state directory and fills it: state.json (creating), the hooks, exec.fifo.
fn fill_state_dir(
    id: &str,
    dir: &Path,
    bundle: &Path,
    spec: &Spec,
) -> Result<NewStateDir, RuntimeError> {
    let lock = st::lock(dir).map_err(RuntimeError::io(id, "lock"))?;
    let state = ContainerState {
        id: id.to_string(),
        status: Status::Creating,
        pid: None,
        pid_start_time: None,
        bundle: bundle.to_path_buf(),
        cgroup_path: None,
        cgroup_version: None,
        systemd_unit: None,
        annotations: spec.annotations.clone(),
        resources: spec.linux.as_ref().and_then(|l| l.resources.clone()),
    };
    st::write(dir, &state).map_err(RuntimeError::io(id, "write state"))?;
    super::prepare::save_spec(dir, spec).map_err(RuntimeError::io(id, "save spec"))?;
    let hooks = spec.hooks.clone().unwrap_or_default();
    if spec.hooks.is_some() {
        crate::hooks::save(dir, &hooks).map_err(RuntimeError::io(id, "save hooks"))?;
    }
    make_exec_fifo(id, dir, spec)?;
    let fd = rustix::fs::open(
        dir,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| RuntimeError::io(id, "open state dir")(e.into()))?;
    Ok(NewStateDir {
        lock,
        state,
        hooks,
        fd,
    })
}

/// exec.fifo, which init opens for writing and `start` for reading (see `start.rs`).
fn make_exec_fifo(id: &str, dir: &Path, spec: &Spec) -> Result<(), RuntimeError> {
    rustix::fs::mknodat(
        rustix::fs::CWD,
        dir.join(st::EXEC_FIFO),
        rustix::fs::FileType::Fifo,
        Mode::from_raw_mode(0o600),
        0,
    )
    .map_err(|e| RuntimeError::io(id, "create exec.fifo")(e.into()))?;
    // In a user namespace init is its root, a host id that must be able to open the fifo.
    if let Some((uid, gid)) = userns_root(spec) {
        std::os::unix::fs::chown(dir.join(st::EXEC_FIFO), Some(uid), Some(gid))
            .map_err(RuntimeError::io(id, "chown exec.fifo"))?;
    }
    Ok(())
}

/// Moves init into its cgroup, unless it moves itself in (`self_join`) or systemd moved it into
/// its scope `unit`, and records the cgroup.
fn place_in_cgroup(
    id: &str,
    pid: i32,
    cgroup: Option<&Cgroup>,
    self_join: bool,
    unit: Option<String>,
    state: &mut ContainerState,
) -> Result<(), RuntimeError> {
    if let (Some(cg), false, None) = (cgroup, self_join, &unit) {
        cg.add_process(pid).map_err(cg_err(id))?;
    }
    state.systemd_unit = unit;
    state.cgroup_path = cgroup.map(|c| c.path().to_string());
    state.cgroup_version = cgroup.map(Cgroup::version);
    Ok(())
}

/// The cgroup lines init is to see as its own (for its cgroup mounts). Init joins on Proceed
/// when it moves itself; until then it is where we are.
fn init_cgroup_paths(pid: i32, cgroup: Option<&Cgroup>, self_join: bool) -> Vec<(String, String)> {
    let whose = if self_join {
        "self".to_string()
    } else {
        pid.to_string()
    };
    let mut cgroup_paths = std::fs::read_to_string(format!("/proc/{whose}/cgroup"))
        .map(|t| mounts::parse_proc_cgroup(&t))
        .unwrap_or_default();
    if let (Some(cg), true) = (cgroup, self_join) {
        cgroup_paths = cg.member_proc_cgroup(cgroup_paths);
    }
    cgroup_paths
}

/// Sends init the state its hooks read (when there are hooks), then lets it proceed.
fn send_proceed(
    id: &str,
    ours: &OwnedFd,
    spec: &Spec,
    hook_state: &State,
    cgroup_paths: Vec<(String, String)>,
) -> Result<(), RuntimeError> {
    if spec.hooks.is_some() {
        sync::send(ours, &ToInit::HookState(hook_state.clone()))
            .map_err(RuntimeError::io(id, "send hook state to init"))?;
    }
    sync::send(ours, &ToInit::Proceed { cgroup_paths })
        .map_err(RuntimeError::io(id, "send proceed to init"))
}

/// Records the container as created, with init's pid and start time, and writes the pid file.
fn record_created(
    id: &str,
    dir: &Path,
    state: &mut ContainerState,
    pid: i32,
    pid_file: Option<&Path>,
) -> Result<(), RuntimeError> {
    state.status = Status::Created;
    state.pid = Some(pid);
    state.pid_start_time = st::pid_start_time(pid);
    st::write(dir, state).map_err(RuntimeError::io(id, "write state"))?;
    if let Some(pf) = pid_file {
        std::fs::write(pf, pid.to_string()).map_err(RuntimeError::io(
            id,
            format!("write pid file {}", pf.display()),
        ))?;
    }
    Ok(())
}

/// The host uid and gid of the container's root, when the spec asks for a new user namespace
/// with mappings for it.
fn userns_root(spec: &Spec) -> Option<(u32, u32)> {
    let linux = spec.linux.as_ref()?;
    linux
        .namespaces
        .iter()
        .find(|n| n.kind == "user" && n.path.is_none())?;
    let host = |maps: &[hull_oci::runtime::IdMapping]| {
        maps.iter()
            .find(|m| m.container_id == 0 && m.size > 0)
            .map(|m| m.host_id)
    };
    Some((host(&linux.uid_mappings)?, host(&linux.gid_mappings)?))
}

/// Writes /proc/<pid>/{uid,gid}_map for a new user namespace. `setgroups` is left at `allow`:
/// a writer with CAP_SETGID in the parent namespace (root) may write gid_map without denying
/// it, and runc writes `deny` only for rootless containers; the container keeps setgroups(2).
fn write_id_maps(id: &str, spec: &Spec, pid: i32) -> Result<(), RuntimeError> {
    let Some(linux) = &spec.linux else {
        return Ok(());
    };
    let new_userns = linux
        .namespaces
        .iter()
        .any(|n| n.kind == "user" && n.path.is_none());
    if !new_userns {
        return Ok(());
    }
    for (file, maps) in [
        ("uid_map", &linux.uid_mappings),
        ("gid_map", &linux.gid_mappings),
    ] {
        let text: String = maps
            .iter()
            .map(|m| format!("{} {} {}\n", m.container_id, m.host_id, m.size))
            .collect();
        let path = format!("/proc/{pid}/{file}");
        std::fs::write(&path, text).map_err(RuntimeError::io(id, format!("write {path}")))?;
    }
    Ok(())
}
