//! The runtime's public lifecycle API: create, start, state, kill, delete.

use std::collections::HashMap;
use std::io::{self, Read};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hull_oci::runtime::{Spec, State};
use rustix::fs::{Mode, OFlags};
use rustix::process::{Pid, Signal};

use crate::cgroups::{Cgroup, CgroupError, CgroupRoot};
use crate::process::init::InitArgs;
use crate::process::sync::{self, FromInit, InitError, ToInit};
use crate::state::{self as st, ContainerState, Status};
use crate::{mounts, process, rlimits};

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("detect cgroups: {0}")]
    DetectCgroups(#[source] crate::cgroups::CgroupError),
    #[error("container id {0:?}: must be non-empty and contain no '/'")]
    InvalidId(String),
    #[error("container {id}: already exists")]
    AlreadyExists { id: String },
    #[error("container {id}: does not exist")]
    NotFound { id: String },
    #[error("read spec {path}")]
    ReadSpec {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("container {id}: invalid spec: {reason}")]
    InvalidSpec { id: String, reason: String },
    #[error("container {id}: capabilities")]
    Capabilities {
        id: String,
        #[source]
        source: crate::capabilities::CapsError,
    },
    #[error("container {id}: compile seccomp filter")]
    Seccomp {
        id: String,
        #[source]
        source: crate::seccomp::SeccompError,
    },
    #[error("container {id}: cgroup")]
    Cgroup {
        id: String,
        #[source]
        source: CgroupError,
    },
    #[error("container {id}: {op}")]
    Io {
        id: String,
        op: String,
        #[source]
        source: io::Error,
    },
    /// A step inside the container's init failed; `cause.step` is `NotFound`/`NotExecutable` for
    /// a program that cannot be run (exit codes 127/126 in Docker terms).
    #[error("container {id}: init failed at {step}: {cause}")]
    Init {
        id: String,
        step: crate::Step,
        cause: InitError,
    },
    /// A step of starting an exec'd process failed (see [`RuntimeError::Init`] for the steps).
    #[error("container {id}: exec: {cause}")]
    Exec {
        id: String,
        step: crate::Step,
        cause: InitError,
    },
    #[error("container {id}: exec user program: {}", io::Error::from_raw_os_error(*errno))]
    ExecFailed { id: String, errno: i32 },
    #[error("container {id}: hook")]
    Hook {
        id: String,
        #[source]
        source: Box<crate::hooks::HookError>,
    },
    #[error("container {id}: cannot {op} a container that is {status}")]
    BadStatus {
        id: String,
        op: &'static str,
        status: &'static str,
    },
}

impl RuntimeError {
    pub(crate) fn io(id: &str, op: impl Into<String>) -> impl FnOnce(io::Error) -> RuntimeError {
        let (id, op) = (id.to_string(), op.into());
        move |source| RuntimeError::Io { id, op, source }
    }
}

/// Where the runtime keeps `state.json` per container, and the host's cgroup layout.
#[derive(Debug)]
pub struct Runtime {
    pub state_root: PathBuf,
    pub cgroups: CgroupRoot,
    /// Our end of each init's sync socket, for containers created by this process: `start` reads
    /// an exec failure from it.
    sync: Mutex<HashMap<String, OwnedFd>>,
    /// Where compiled seccomp filters are cached (see [`crate::seccomp::compile_cached`]);
    /// None compiles every time.
    seccomp_cache: Option<PathBuf>,
    /// Where warnings go (a failed poststart or poststop hook); stderr by default.
    warn: fn(&str),
}

fn warn_on_stderr(msg: &str) {
    eprintln!("warning: {msg}");
}

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
}

/// prestart (deprecated, still used) then createRuntime, in the runtime namespace.
fn run_runtime_hooks(
    id: &str,
    hooks: &hull_oci::runtime::Hooks,
    state: &State,
) -> Result<(), RuntimeError> {
    let err = |source| RuntimeError::Hook {
        id: id.to_string(),
        source: Box::new(source),
    };
    crate::hooks::run_all("prestart", &hooks.prestart, state).map_err(err)?;
    crate::hooks::run_all("createRuntime", &hooks.create_runtime, state).map_err(err)
}

/// What `create` checked and prepared before forking.
struct Prepared {
    spec: Spec,
    rootfs: PathBuf,
    mounts: Vec<mounts::PlannedMount>,
    namespaces: process::NamespacePlan,
    seccomp: Option<crate::seccomp::Filter>,
}

/// Undoes a half-made container (kill init, remove cgroup and state dir) unless disarmed.
struct CreateGuard<'a> {
    dir: &'a Path,
    pid: Option<i32>,
    cgroup: Option<Cgroup>,
    armed: bool,
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
        if let Some(cg) = self.cgroup.take() {
            let _ = cg.delete();
        }
        let _ = std::fs::remove_dir_all(self.dir);
    }
}

impl Runtime {
    pub fn new(state_root: PathBuf) -> Result<Runtime, RuntimeError> {
        let cgroups = CgroupRoot::detect().map_err(RuntimeError::DetectCgroups)?;
        std::fs::create_dir_all(&state_root).map_err(RuntimeError::io("", "create state root"))?;
        Ok(Runtime {
            state_root,
            cgroups,
            sync: Mutex::new(HashMap::new()),
            seccomp_cache: None,
            warn: warn_on_stderr,
        })
    }

    /// Caches compiled seccomp filters in `dir`, so that containers started with the same
    /// profile skip libseccomp's compile.
    pub fn with_seccomp_cache(mut self, dir: PathBuf) -> Runtime {
        self.seccomp_cache = Some(dir);
        self
    }

    pub(crate) fn seccomp_cache(&self) -> Option<&Path> {
        self.seccomp_cache.as_deref()
    }

    /// Sends warnings (failed poststart/poststop hooks) to `warn` instead of stderr.
    pub fn with_warnings(mut self, warn: fn(&str)) -> Runtime {
        self.warn = warn;
        self
    }

    fn dir(&self, id: &str) -> Result<PathBuf, RuntimeError> {
        if id.is_empty() || id.contains('/') || id == "." || id == ".." {
            return Err(RuntimeError::InvalidId(id.to_string()));
        }
        Ok(self.state_root.join(id))
    }

    /// Creates the container: its init runs in new namespaces with the rootfs set up and waits
    /// before the user's program until [`Runtime::start`].
    pub fn create(&self, req: CreateRequest) -> Result<Created, RuntimeError> {
        let id = req.id.clone();
        let dir = self.dir(&id)?;
        let mut prep = prepare(&req, self.seccomp_cache.as_deref())?;
        self.check_apparmor(&id, &mut prep.spec)?;
        match std::fs::create_dir(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                return Err(RuntimeError::AlreadyExists { id })
            }
            Err(e) => return Err(RuntimeError::io(&id, "create state dir")(e)),
        }
        let mut guard = CreateGuard {
            dir: &dir,
            pid: None,
            cgroup: None,
            armed: true,
        };
        let lock = st::lock(&dir).map_err(RuntimeError::io(&id, "lock"))?;
        let mut state = ContainerState {
            id: id.clone(),
            status: Status::Creating,
            pid: None,
            pid_start_time: None,
            bundle: req.bundle.clone(),
            cgroup_path: None,
            cgroup_version: None,
            annotations: prep.spec.annotations.clone(),
        };
        st::write(&dir, &state).map_err(RuntimeError::io(&id, "write state"))?;
        let hooks = prep.spec.hooks.clone().unwrap_or_default();
        if prep.spec.hooks.is_some() {
            crate::hooks::save(&dir, &hooks).map_err(RuntimeError::io(&id, "save hooks"))?;
        }
        rustix::fs::mknodat(
            rustix::fs::CWD,
            dir.join(st::EXEC_FIFO),
            rustix::fs::FileType::Fifo,
            Mode::from_raw_mode(0o600),
            0,
        )
        .map_err(|e| RuntimeError::io(&id, "create exec.fifo")(e.into()))?;
        // In a user namespace init is its root, a host id that must be able to open the fifo.
        if let Some((uid, gid)) = userns_root(&prep.spec) {
            std::os::unix::fs::chown(dir.join(st::EXEC_FIFO), Some(uid), Some(gid))
                .map_err(RuntimeError::io(&id, "chown exec.fifo"))?;
        }
        let state_dir = rustix::fs::open(
            &dir,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| RuntimeError::io(&id, "open state dir")(e.into()))?;
        let (ours, theirs) =
            hull_sys::socket::seqpacket_pair().map_err(RuntimeError::io(&id, "socketpair"))?;

        let (cgroup, cgroup_join) = self.create_cgroup(&id, &prep.spec)?;
        guard.cgroup = cgroup.clone();
        let for_children = process::enter_for_children(&prep.namespaces.join_for_children)
            .map_err(RuntimeError::io(&id, "join namespaces for init"))?;
        let forked = hull_sys::process::fork_with_flags(prep.namespaces.clone_flags)
            .map_err(RuntimeError::io(&id, "clone init"))?;
        drop(for_children);
        let pid = match forked {
            hull_sys::process::Forked::Child => {
                // We are init: the parent's end must not stay open here, or the parent would
                // never see end-of-stream when our exec succeeds; and our copy of the lock
                // descriptor would keep the flock held until exec.
                drop((ours, lock));
                process::init::run(InitArgs {
                    spec: prep.spec,
                    rootfs: prep.rootfs,
                    mounts: prep.mounts,
                    join: prep.namespaces.join,
                    new_cgroup: prep.namespaces.new_cgroup,
                    sock: theirs,
                    state_dir,
                    stdio: req.stdio,
                    seccomp: prep.seccomp,
                    mini_init: req.init,
                    no_pivot: req.no_pivot,
                    preserve_fds: req.preserve_fds,
                    keyring: req.new_keyring.then(|| format!("_ses.{id}")),
                    cgroup_join: cgroup_join.unwrap_or_default(),
                })
            }
            hull_sys::process::Forked::Parent(pid) => pid,
        };
        let self_join = cgroup_join.is_some();
        drop((theirs, state_dir, req.stdio, cgroup_join));
        guard.pid = Some(pid);

        if let (Some(cg), false) = (&cgroup, self_join) {
            cg.add_process(pid).map_err(|source| RuntimeError::Cgroup {
                id: id.clone(),
                source,
            })?;
        }
        state.cgroup_path = cgroup.as_ref().map(|c| c.path().to_string());
        state.cgroup_version = cgroup.as_ref().map(Cgroup::version);
        write_id_maps(&id, &prep.spec, pid)?;
        // Init joins on Proceed when it moves itself; until then it is where we are.
        let whose = if self_join {
            "self".to_string()
        } else {
            pid.to_string()
        };
        let mut cgroup_paths = std::fs::read_to_string(format!("/proc/{whose}/cgroup"))
            .map(|t| mounts::parse_proc_cgroup(&t))
            .unwrap_or_default();
        if let (Some(cg), true) = (&cgroup, self_join) {
            cgroup_paths = cg.member_proc_cgroup(cgroup_paths);
        }
        let hook_state = ContainerState {
            pid: Some(pid),
            ..state.clone()
        }
        .oci(Status::Creating);
        if prep.spec.hooks.is_some() {
            sync::send(&ours, &ToInit::HookState(hook_state.clone()))
                .map_err(RuntimeError::io(&id, "send hook state to init"))?;
        }
        sync::send(&ours, &ToInit::Proceed { cgroup_paths })
            .map_err(RuntimeError::io(&id, "send proceed to init"))?;
        let ready = Ready {
            sock: &ours,
            console_socket: req.console_socket.as_deref(),
            hooks: &hooks,
            state: &hook_state,
        };
        let console = self.await_ready(&id, ready)?;

        state.status = Status::Created;
        state.pid = Some(pid);
        state.pid_start_time = st::pid_start_time(pid);
        st::write(&dir, &state).map_err(RuntimeError::io(&id, "write state"))?;
        if let Some(pf) = &req.pid_file {
            std::fs::write(pf, pid.to_string()).map_err(RuntimeError::io(
                &id,
                format!("write pid file {}", pf.display()),
            ))?;
        }
        guard.armed = false;
        drop(lock);
        self.sync.lock().expect("sync map").insert(id, ours);
        Ok(Created { pid, console })
    }

    /// With AppArmor absent from the kernel, a profile cannot be applied: warn and ignore it
    /// (as runc does) rather than fail every container that names one. With AppArmor present,
    /// a profile that is not loaded is an error naming it.
    fn check_apparmor(&self, id: &str, spec: &mut Spec) -> Result<(), RuntimeError> {
        let Some(proc) = spec.process.as_mut() else {
            return Ok(());
        };
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

    /// Creates the cgroup when the spec asks for one (before init exists). With it come the
    /// v1 `tasks` files through which init moves itself in (see [`Cgroup::self_join_files`]),
    /// unless there is a user namespace, whose init may lack the permission: then None, and
    /// the caller moves init with [`Cgroup::add_process`].
    #[allow(clippy::type_complexity)]
    fn create_cgroup(
        &self,
        id: &str,
        spec: &Spec,
    ) -> Result<(Option<Cgroup>, Option<Vec<std::fs::File>>), RuntimeError> {
        let Some(linux) = &spec.linux else {
            return Ok((None, None));
        };
        if linux.cgroups_path.is_none() && linux.resources.is_none() {
            return Ok((None, None));
        }
        let path = linux
            .cgroups_path
            .clone()
            .unwrap_or_else(|| format!("/hull/{id}"));
        let err = |source| RuntimeError::Cgroup {
            id: id.to_string(),
            source,
        };
        let mut resources = linux.resources.clone().unwrap_or_default();
        // like runc: the nodes the runtime itself always creates stay usable under a deny-all.
        if !resources.devices.is_empty() {
            resources.devices.extend(crate::devices::always_allowed());
        }
        for warning in self.cgroups.ignored_resources(&resources) {
            (self.warn)(&format!("linux.resources: {warning}"));
        }
        let cg = Cgroup::create(&self.cgroups, &path, &resources).map_err(err)?;
        if linux.namespaces.iter().any(|n| n.kind == "user") {
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

    /// Releases init to exec the user's program. For a container created by this `Runtime`, an
    /// exec failure is returned as [`RuntimeError::ExecFailed`].
    pub fn start(&self, id: &str) -> Result<(), RuntimeError> {
        let dir = self.existing_dir(id)?;
        let _lock = st::lock(&dir).map_err(RuntimeError::io(id, "lock"))?;
        let mut state = st::read(&dir).map_err(RuntimeError::io(id, "read state"))?;
        match live_status(&state) {
            Status::Created => {}
            s @ (Status::Creating | Status::Running | Status::Paused | Status::Stopped) => {
                return Err(RuntimeError::BadStatus {
                    id: id.to_string(),
                    op: "start",
                    status: s.as_str(),
                })
            }
        }
        let exe_before = state.pid.and_then(exe_of);
        let fifo = release_init(&dir, &state)
            .map_err(RuntimeError::io(id, "release init via exec.fifo"))?;
        let _ = std::fs::remove_file(dir.join(st::EXEC_FIFO));
        state.status = Status::Running;
        st::write(&dir, &state).map_err(RuntimeError::io(id, "write state"))?;
        if crate::hooks::load(&dir).is_ok_and(|h| !h.start_container.is_empty()) {
            if let Some(cause) = start_hooks_failure(fifo, &state) {
                self.sync.lock().expect("sync map").remove(id);
                return Err(RuntimeError::Init {
                    id: id.to_string(),
                    step: cause.step,
                    cause,
                });
            }
        }
        if crate::hooks::load(&dir).is_ok_and(|h| !h.poststart.is_empty()) {
            // poststart runs after the user's program was exec'd (runtime.md, Lifecycle step 10).
            wait_exec(&state, exe_before);
        }
        self.run_warning_hooks(&dir, "poststart", &state.oci(Status::Running));
        let sock = self.sync.lock().expect("sync map").remove(id);
        match sock.map(|s| sync::recv::<FromInit>(&s)) {
            None | Some(Ok(None)) => Ok(()),
            Some(Ok(Some((FromInit::ExecFailed { errno }, _)))) => Err(RuntimeError::ExecFailed {
                id: id.to_string(),
                errno,
            }),
            Some(Ok(Some((FromInit::Error(cause), _)))) => Err(RuntimeError::Init {
                id: id.to_string(),
                step: cause.step,
                cause,
            }),
            Some(Ok(Some((other, _)))) => Err(RuntimeError::io(id, "read from init")(
                io::Error::other(format!("unexpected message {other:?}")),
            )),
            Some(Err(e)) => Err(RuntimeError::io(id, "read from init")(e)),
        }
    }

    /// The OCI state, with the status checked against the live process.
    pub fn state(&self, id: &str) -> Result<State, RuntimeError> {
        let dir = self.existing_dir(id)?;
        let state = st::read(&dir).map_err(RuntimeError::io(id, "read state"))?;
        Ok(state.oci(live_status(&state)))
    }

    /// Sends `signal` to init, or with `all` to every process in the container's cgroup.
    pub fn kill(&self, id: &str, signal: i32, all: bool) -> Result<(), RuntimeError> {
        let dir = self.existing_dir(id)?;
        let state = st::read(&dir).map_err(RuntimeError::io(id, "read state"))?;
        match live_status(&state) {
            Status::Created | Status::Running | Status::Paused => {}
            s @ (Status::Creating | Status::Stopped) => {
                return Err(RuntimeError::BadStatus {
                    id: id.to_string(),
                    op: "kill",
                    status: s.as_str(),
                })
            }
        }
        let sig = Signal::from_named_raw(signal).ok_or_else(|| RuntimeError::InvalidSpec {
            id: id.to_string(),
            reason: format!("unknown signal {signal}"),
        })?;
        let mut pids = vec![state.pid.unwrap_or(0)];
        if let (true, Some(path)) = (all, &state.cgroup_path) {
            let err = |source| RuntimeError::Cgroup {
                id: id.to_string(),
                source,
            };
            pids = self
                .open_cgroup(&state, path)
                .and_then(|c| c.pids())
                .map_err(err)?;
        }
        for pid in pids.into_iter().filter_map(Pid::from_raw) {
            match rustix::process::kill_process(pid, sig) {
                Ok(()) | Err(rustix::io::Errno::SRCH) => {}
                Err(e) => return Err(RuntimeError::io(id, format!("kill {pid:?}"))(e.into())),
            }
        }
        Ok(())
    }

    /// Removes a stopped container (with `force`, kills it first): cgroup and state dir.
    pub fn delete(&self, id: &str, force: bool) -> Result<(), RuntimeError> {
        let dir = self.existing_dir(id)?;
        let lock = st::lock(&dir).map_err(RuntimeError::io(id, "lock"))?;
        let state = st::read(&dir).map_err(RuntimeError::io(id, "read state"))?;
        match (live_status(&state), force) {
            (Status::Stopped, _) => {}
            (Status::Creating | Status::Created | Status::Running | Status::Paused, true) => {
                if live_status(&state) == Status::Paused {
                    let _ = self
                        .cgroup_of(id, &state)
                        .and_then(|c| c.thaw().map_err(cg_err(id)));
                }
                kill_and_wait(&state).map_err(RuntimeError::io(id, "kill init"))?
            }
            (
                s @ (Status::Creating | Status::Created | Status::Running | Status::Paused),
                false,
            ) => {
                return Err(RuntimeError::BadStatus {
                    id: id.to_string(),
                    op: "delete",
                    status: s.as_str(),
                })
            }
        }
        if let Some(path) = &state.cgroup_path {
            let err = |source| RuntimeError::Cgroup {
                id: id.to_string(),
                source,
            };
            // Already gone (a host reboot took it, perhaps into another cgroup version) is as
            // good as deleted.
            match self.open_cgroup(&state, path) {
                Err(CgroupError::NotFound { .. } | CgroupError::VersionNotMounted { .. }) => {}
                opened => opened.and_then(|c| c.delete()).map_err(err)?,
            }
        }
        self.sync.lock().expect("sync map").remove(id);
        let hooks = crate::hooks::load(&dir).unwrap_or_else(|e| {
            (self.warn)(&format!("container {id}: read hooks: {e}"));
            Default::default()
        });
        drop(lock);
        std::fs::remove_dir_all(&dir).map_err(RuntimeError::io(id, "remove state dir"))?;
        // after the container is gone (runtime.md, Lifecycle step 13).
        self.warn_failures(
            id,
            crate::hooks::run_all_collecting(
                "poststop",
                &hooks.poststop,
                &state.oci(Status::Stopped),
            ),
        );
        Ok(())
    }

    /// Runs the saved hooks of `kind` (poststart), warning about each failure.
    fn run_warning_hooks(&self, dir: &Path, kind: &str, state: &State) {
        let hooks = match crate::hooks::load(dir) {
            Ok(h) => h,
            Err(e) => return (self.warn)(&format!("container {}: read hooks: {e}", state.id)),
        };
        let list = crate::hooks::by_kind(&hooks)
            .into_iter()
            .find(|(k, _)| *k == kind)
            .map_or(&[][..], |(_, l)| l);
        self.warn_failures(
            &state.id,
            crate::hooks::run_all_collecting(kind, list, state),
        );
    }

    fn warn_failures(&self, id: &str, errors: Vec<crate::hooks::HookError>) {
        for e in errors {
            let mut msg = format!("container {id}: {e}");
            let mut src = std::error::Error::source(&e);
            while let Some(s) = src {
                msg = format!("{msg}: {s}");
                src = s.source();
            }
            (self.warn)(&msg);
        }
    }

    /// Whether the kernel's OOM killer killed a process of the container (read before delete).
    pub fn oom_killed(&self, id: &str) -> Result<bool, RuntimeError> {
        let dir = self.existing_dir(id)?;
        let state = st::read(&dir).map_err(RuntimeError::io(id, "read state"))?;
        let Some(path) = &state.cgroup_path else {
            return Ok(false);
        };
        self.open_cgroup(&state, path)
            .and_then(|c| c.oom_killed())
            .map_err(|source| RuntimeError::Cgroup {
                id: id.to_string(),
                source,
            })
    }

    /// Freezes every process of a running container (runc's `pause`).
    pub fn pause(&self, id: &str) -> Result<(), RuntimeError> {
        self.set_paused(id, true)
    }

    /// Thaws a paused container (runc's `resume`).
    pub fn resume(&self, id: &str) -> Result<(), RuntimeError> {
        self.set_paused(id, false)
    }

    fn set_paused(&self, id: &str, pause: bool) -> Result<(), RuntimeError> {
        let dir = self.existing_dir(id)?;
        let _lock = st::lock(&dir).map_err(RuntimeError::io(id, "lock"))?;
        let mut state = st::read(&dir).map_err(RuntimeError::io(id, "read state"))?;
        let (op, from, to) = match pause {
            true => ("pause", Status::Running, Status::Paused),
            false => ("resume", Status::Paused, Status::Running),
        };
        let status = live_status(&state);
        if status != from {
            return Err(RuntimeError::BadStatus {
                id: id.to_string(),
                op,
                status: status.as_str(),
            });
        }
        let cg = self.cgroup_of(id, &state)?;
        match pause {
            true => cg.freeze(),
            false => cg.thaw(),
        }
        .map_err(cg_err(id))?;
        state.status = to;
        st::write(&dir, &state).map_err(RuntimeError::io(id, "write state"))
    }

    /// The container's cgroup (for `ps`, `events --stats`).
    pub fn cgroup(&self, id: &str) -> Result<Cgroup, RuntimeError> {
        let dir = self.existing_dir(id)?;
        let state = st::read(&dir).map_err(RuntimeError::io(id, "read state"))?;
        self.cgroup_of(id, &state)
    }

    fn cgroup_of(&self, id: &str, state: &ContainerState) -> Result<Cgroup, RuntimeError> {
        let path = state.cgroup_path.as_deref().ok_or_else(|| {
            RuntimeError::io(id, "find cgroup")(io::Error::other("container has no cgroup"))
        })?;
        self.open_cgroup(state, path).map_err(cg_err(id))
    }

    /// Opens the container's cgroup `path` on the cgroup version it was created on (the
    /// host's, for a state file that predates the record).
    pub(crate) fn open_cgroup(
        &self,
        state: &ContainerState,
        path: &str,
    ) -> Result<Cgroup, CgroupError> {
        match state.cgroup_version {
            Some(v) if v != self.cgroups.version() => {
                Cgroup::open(&self.cgroups.for_version(v)?, path)
            }
            _ => Cgroup::open(&self.cgroups, path),
        }
    }

    pub(crate) fn existing_dir(&self, id: &str) -> Result<PathBuf, RuntimeError> {
        let dir = self.dir(id)?;
        if !dir.join(st::STATE_FILE).exists() {
            return Err(RuntimeError::NotFound { id: id.to_string() });
        }
        Ok(dir)
    }
}

/// Reads and checks everything that can be checked before the fork, so errors come back as
/// plain values rather than from inside init.
fn prepare(req: &CreateRequest, seccomp_cache: Option<&Path>) -> Result<Prepared, RuntimeError> {
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

/// The stored status corrected by liveness: a created or running container whose init is gone
/// (or whose pid now belongs to another process) is stopped.
fn cg_err(id: &str) -> impl FnOnce(CgroupError) -> RuntimeError {
    let id = id.to_string();
    move |source| RuntimeError::Cgroup { id, source }
}

pub(crate) fn live_status(state: &ContainerState) -> Status {
    let alive = state
        .pid
        .is_some_and(|pid| st::is_alive(pid, state.pid_start_time));
    match state.status {
        Status::Stopped => Status::Stopped,
        s @ (Status::Creating | Status::Created | Status::Running | Status::Paused) => {
            if alive || (s == Status::Creating && state.pid.is_none()) {
                s
            } else {
                Status::Stopped
            }
        }
    }
}

/// Opens exec.fifo for reading (non-blocking, so a dead init cannot hang us), which unblocks
/// init's open for writing; init then writes one byte.
fn release_init(dir: &Path, state: &ContainerState) -> io::Result<std::fs::File> {
    let fifo = rustix::fs::open(
        dir.join(st::EXEC_FIFO),
        OFlags::RDONLY | OFlags::NONBLOCK | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let mut f = std::fs::File::from(fifo);
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut byte = [0u8; 1];
    loop {
        match f.read(&mut byte) {
            Ok(1) => return Ok(f),
            Ok(_) | Err(_)
                if !state
                    .pid
                    .is_some_and(|p| st::is_alive(p, state.pid_start_time)) =>
            {
                return Err(io::Error::other("init exited before it was released"))
            }
            // End of file: init opened and closed the fifo without writing; it is exiting.
            // poll would report that at once again, so sleep instead of spinning.
            Ok(_) => std::thread::sleep(Duration::from_millis(2)),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => wait_readable(&f)?,
            Err(e) => return Err(e),
        }
        if Instant::now() > deadline {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "init did not answer",
            ));
        }
    }
}

/// After [`release_init`]: reads exec.fifo to its end, which init reaches by closing it once
/// the startContainer hooks passed, or by writing their failure (JSON) and exiting. No
/// deadline: the hooks' own timeouts bound it, and a dead init ends it.
fn start_hooks_failure(mut fifo: std::fs::File, state: &ContainerState) -> Option<InitError> {
    let mut text = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match fifo.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => text.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                let alive = state
                    .pid
                    .is_some_and(|p| st::is_alive(p, state.pid_start_time));
                if !alive || wait_readable(&fifo).is_err() {
                    break;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    serde_json::from_slice(&text).ok()
}

/// Waits until the fifo has data (or its writer hung up), at most 10 ms so that the caller
/// rechecks that init is alive. A fifo nobody has opened for writing yet polls as empty.
fn wait_readable(f: &std::fs::File) -> io::Result<()> {
    use rustix::event::{PollFd, PollFlags, Timespec};
    let mut fds = [PollFd::new(f, PollFlags::IN)];
    let timeout = Timespec {
        tv_sec: 0,
        tv_nsec: 10_000_000,
    };
    match rustix::event::poll(&mut fds, Some(&timeout)) {
        Ok(_) | Err(rustix::io::Errno::INTR) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

fn exe_of(pid: i32) -> Option<PathBuf> {
    std::fs::read_link(format!("/proc/{pid}/exe")).ok()
}

/// Waits (at most 10 s) until init has exec'd: its executable is no longer `before` (the
/// runtime's own binary, of which init is a forked copy), or it is gone.
fn wait_exec(state: &ContainerState, before: Option<PathBuf>) {
    let (Some(pid), Some(before)) = (state.pid, before) else {
        return;
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline && st::is_alive(pid, state.pid_start_time) {
        if exe_of(pid).is_some_and(|exe| exe != before) {
            return;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// SIGKILL init and wait (up to 10 s) until it is gone or a zombie.
fn kill_and_wait(state: &ContainerState) -> io::Result<()> {
    let Some(pid) = state.pid.and_then(Pid::from_raw) else {
        return Ok(());
    };
    match rustix::process::kill_process(pid, Signal::KILL) {
        Ok(()) | Err(rustix::io::Errno::SRCH) => {}
        Err(e) => return Err(e.into()),
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while st::is_alive(pid.as_raw_nonzero().get(), state.pid_start_time) {
        if Instant::now() > deadline {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "init survived SIGKILL",
            ));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(())
}
