//! The container's init, running in the forked copy of the runtime (no re-exec). [`run`] is the
//! ordered recipe; every step reports failure to the parent as a typed [`InitError`].

use std::ffi::CString;
use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

use hull_oci::runtime::{Process, Spec, State};
use rustix::fs::{Mode, OFlags};
use rustix::thread::LinkNameSpaceType;

use super::sync::{self, FromInit, InitError, Step, ToInit};
use crate::mounts::PlannedMount;
use crate::proc_attrs::ProcAttrs;
use crate::seccomp::{Filter, Listener};
use crate::{capabilities, console, devices, mini_init, mounts, rlimits, user};

/// Everything init needs, prepared by the parent before the fork (so init allocates little and
/// validates nothing).
pub struct InitArgs {
    pub spec: Spec,
    pub rootfs: PathBuf,
    pub mounts: Vec<PlannedMount>,
    /// Namespaces to join (`linux.namespaces` entries with a path).
    pub join: Vec<(String, PathBuf)>,
    /// Whether to unshare a new cgroup namespace (see `NamespacePlan::new_cgroup`).
    pub new_cgroup: bool,
    /// Whether to make and enter a new time namespace (see `NamespacePlan::new_time`).
    pub new_time: bool,
    pub sock: OwnedFd,
    /// The container's state dir, opened before pivot_root so exec.fifo stays reachable.
    pub state_dir: OwnedFd,
    pub stdio: Option<[OwnedFd; 3]>,
    pub seccomp: Option<Filter>,
    pub mini_init: bool,
    pub no_pivot: bool,
    /// Descriptors 3..3+preserve_fds stay open across the exec.
    pub preserve_fds: u32,
    /// The name of a new session keyring to join, if any.
    pub keyring: Option<String>,
    /// The cgroup's v1 `tasks` files, when init is to move itself into its cgroup (see
    /// `Cgroup::self_join_files`); empty when the parent moves it.
    pub cgroup_join: Vec<std::fs::File>,
    /// I/O priority, scheduler, personality and memory policy (see [`crate::proc_attrs`]).
    pub attrs: ProcAttrs,
}

type Result<T> = std::result::Result<T, InitError>;

pub(crate) fn fail(
    step: Step,
    what: impl Into<String>,
) -> impl FnOnce(std::io::Error) -> InitError {
    let what = what.into();
    move |e| InitError::new(step, what, Some(&e))
}

/// Runs init to the exec of the user's program; never returns.
pub fn run(mut args: InitArgs) -> ! {
    let result = prepare(&args)
        .and_then(|ready| {
            load_listeners_filter(&mut args)?;
            sync::send(&args.sock, &FromInit::Ready).map_err(fail(Step::Sync, "send ready"))?;
            Ok(ready)
        })
        .and_then(|ready| Ok((ready, wait_for_start(&args)?)));
    match result {
        Ok(((program, hook_state), fifo)) => launch(args, &program, hook_state, fifo),
        Err(e) => report_and_exit(&args.sock, e),
    }
}

fn report_and_exit(sock: &OwnedFd, err: InitError) -> ! {
    let _ = sync::send(sock, &FromInit::Error(err));
    hull_sys::process::exit_now(1)
}

/// Everything up to `Ready` (which the caller sends): the container exists, blocked before the
/// user's program. Returns the program to run and the state for the startContainer hooks.
fn prepare(a: &InitArgs) -> Result<(PathBuf, Option<State>)> {
    let proc = a.spec.process.as_ref().expect("validated by create");
    // must happen first because every other descriptor we inherited keeps its open file
    // description, and any flock on it, alive until our exec: a caller that holds a lock (the
    // engine's running.lock) and is killed before it records us would leave it held by us.
    close_inherited(a)?;
    // must happen before the exec because an ignored signal stays ignored across execve: the
    // runtime's caller ignores SIGPIPE (Rust's default) and may itself have been started with
    // SIGINT and SIGQUIT ignored (a shell's background job), which the program must not inherit.
    hull_sys::signal::reset_all().map_err(fail(Step::Fork, "reset signal dispositions"))?;
    if let Some(fds) = &a.stdio {
        console::install_stdio(fds).map_err(fail(Step::Console, "install stdio"))?;
    }
    // must happen before anything else because the parent places us in the cgroup and writes the
    // uid/gid maps first; until then we have no identity in a new user namespace.
    let (cgroup_paths, hook_state) = wait_proceed(&a.sock)?;
    join_cgroup(&a.cgroup_join)?;
    // must happen before mounts because a joined mount namespace is where they have to go.
    join_namespaces(&a.join)?;
    // must happen after the cgroup join because a new cgroup namespace is rooted at the cgroup
    // we are in; after joining namespaces so that a joined user namespace owns it; before
    // mounts because the container's cgroup2 mount shows the namespace's root.
    unshare_cgroup(a.new_cgroup)?;
    // must happen before mounts because a process whose ids are unmapped in its user namespace
    // (we still have the host's root ids) cannot create files (EOVERFLOW).
    // after joining namespaces (a joined user namespace must own it); before the switch to
    // the user namespace's root, because that makes us undumpable and /proc/self/timens_offsets
    // then belongs to the host's root, which we no longer are.
    enter_time_namespace(a)?;
    become_userns_root(&a.spec)?;
    join_keyring(a.keyring.as_deref())?;
    set_hostname(&a.spec)?;
    loopback_up(&a.spec)?;
    setup_rootfs(a, &cgroup_paths, hook_state.as_ref())?;
    // after pivot_root, so the path (and any symlink in it) resolves in the container's root;
    // before finalize_rootfs, which may make that root read-only. A missing working directory
    // is created (0755, owned by the container's root), as runc and Docker do: an image's
    // WORKDIR need not exist in its layers.
    create_cwd(Path::new(&proc.cwd))?;
    // after pivot_root because the pty must come from the container's own devpts.
    if proc.terminal {
        let master = console::setup(proc.console_size).map_err(fail(Step::Console, "pty"))?;
        sync::send_fd(&a.sock, &FromInit::Console, &master)
            .map_err(fail(Step::Sync, "send console"))?;
    }
    // must happen before the read-only paths because /proc/sys becomes read-only there.
    write_sysctls(&a.spec)?;
    finalize_rootfs(&a.spec)?;
    rlimits::apply(&proc.rlimits).map_err(fail(Step::Rlimits, "apply"))?;
    set_oom_score_adj(proc)?;
    let cwd = Path::new(&proc.cwd);
    rustix::process::chdir(cwd)
        .map_err(std::io::Error::from)
        .map_err(fail(Step::Cwd, format!("chdir {}", cwd.display())))?;
    let program = resolve_program(proc)?;
    // after every mkdir of mount points, which the umask would otherwise restrict.
    let umask = proc.user.umask.unwrap_or(0o022);
    rustix::process::umask(Mode::from_raw_mode(umask));
    Ok((program, hook_state))
}

/// Closes what init inherited from the runtime's caller, keeping stdio, the preserved range
/// 3..3+preserve_fds and what [`InitArgs`] holds.
fn close_inherited(a: &InitArgs) -> Result<()> {
    let mut keep: Vec<RawFd> = (0..3 + a.preserve_fds as RawFd).collect();
    keep.extend([a.sock.as_raw_fd(), a.state_dir.as_raw_fd()]);
    keep.extend(a.stdio.iter().flatten().map(|fd| fd.as_raw_fd()));
    keep.extend(a.cgroup_join.iter().map(|f| f.as_raw_fd()));
    hull_sys::process::close_all_except(&keep)
        .map_err(fail(Step::Fork, "close inherited descriptors"))
}

fn enter_time_namespace(a: &InitArgs) -> Result<()> {
    if !a.new_time {
        return Ok(());
    }
    let offsets = a
        .spec
        .linux
        .as_ref()
        .map(|l| l.time_offsets.clone())
        .unwrap_or_default();
    crate::timens::enter_new(&offsets).map_err(fail(Step::JoinNamespace, "time namespace"))
}

fn unshare_cgroup(new_cgroup: bool) -> Result<()> {
    if !new_cgroup {
        return Ok(());
    }
    hull_sys::process::unshare_cgroup_namespace()
        .map_err(fail(Step::JoinNamespace, "unshare cgroup namespace"))
}

/// Moves init (single-threaded) into its cgroup by writing "0", i.e. itself, to each tasks file.
fn join_cgroup(tasks: &[std::fs::File]) -> Result<()> {
    for f in tasks {
        rustix::io::write(f, b"0")
            .map_err(std::io::Error::from)
            .map_err(fail(Step::Sync, "join cgroup"))?;
    }
    Ok(())
}

/// Waits for `Proceed`, keeping the `HookState` that may come first.
#[allow(clippy::type_complexity)]
fn wait_proceed(sock: &OwnedFd) -> Result<(Vec<(String, String)>, Option<State>)> {
    let mut hook_state = None;
    loop {
        match sync::recv::<ToInit>(sock) {
            Ok(Some((ToInit::Proceed { cgroup_paths }, _))) => {
                return Ok((cgroup_paths, hook_state))
            }
            Ok(Some((ToInit::HookState(s), _))) => hook_state = Some(s),
            Ok(Some((other, _))) => {
                return Err(InitError::new(
                    Step::Sync,
                    format!("unexpected {other:?} before proceed"),
                    None,
                ))
            }
            Ok(None) => return Err(InitError::new(Step::Sync, "parent went away", None)),
            Err(e) => return Err(InitError::new(Step::Sync, "receive proceed", Some(&e))),
        }
    }
}

/// prestart and createRuntime (run by the parent, in the runtime namespace), then
/// createContainer here in the container's namespaces; all before pivot_root, so a
/// createContainer hook's path still resolves in the runtime's filesystem.
fn run_create_hooks(sock: &OwnedFd, spec: &Spec, state: Option<&State>) -> Result<()> {
    let (Some(hooks), Some(state)) = (&spec.hooks, state) else {
        return Ok(());
    };
    if !hooks.prestart.is_empty() || !hooks.create_runtime.is_empty() {
        sync::send(sock, &FromInit::RunHooks)
            .map_err(fail(Step::Hooks, "ask parent to run hooks"))?;
        match sync::recv::<ToInit>(sock) {
            Ok(Some((ToInit::HooksDone, _))) => {}
            Ok(_) => {
                return Err(InitError::new(
                    Step::Hooks,
                    "parent did not run the hooks",
                    None,
                ))
            }
            Err(e) => return Err(InitError::new(Step::Hooks, "wait for hooks", Some(&e))),
        }
    }
    crate::hooks::run_all("createContainer", &hooks.create_container, state)
        .map_err(|e| InitError::new(Step::Hooks, error_chain(&e), None))
}

/// startContainer hooks: after start, in the container (after pivot_root), before the user's
/// program; a failure stops the container. A hook without `env` gets the process's environment,
/// as runc gives it (and youki's contest checks).
fn run_start_hooks(spec: &Spec, state: Option<State>) -> Result<()> {
    let (Some(hooks), Some(mut state)) = (&spec.hooks, state) else {
        return Ok(());
    };
    state.status = crate::state::Status::Created.as_str().to_string();
    let env = spec
        .process
        .as_ref()
        .map(|p| p.env.clone())
        .unwrap_or_default();
    let list: Vec<_> = hooks
        .start_container
        .iter()
        .map(|h| match h.env.is_empty() {
            true => hull_oci::runtime::Hook {
                env: env.clone(),
                ..h.clone()
            },
            false => h.clone(),
        })
        .collect();
    crate::hooks::run_all("startContainer", &list, &state)
        .map_err(|e| InitError::new(Step::Hooks, error_chain(&e), None))
}

/// An error with its sources, as one line.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut msg = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        msg = format!("{msg}: {s}");
        src = s.source();
    }
    msg
}

/// (spec name, kernel type). User comes first: joining it changes what we may join next.
const JOIN_ORDER: &[(&str, LinkNameSpaceType)] = &[
    ("user", LinkNameSpaceType::User),
    ("ipc", LinkNameSpaceType::InterProcessCommunication),
    ("uts", LinkNameSpaceType::HostNameAndNISDomainName),
    ("network", LinkNameSpaceType::Network),
    ("cgroup", LinkNameSpaceType::ControlGroup),
    ("mount", LinkNameSpaceType::Mount),
];

fn join_namespaces(join: &[(String, PathBuf)]) -> Result<()> {
    for (kind, ty) in JOIN_ORDER {
        for (_, path) in join.iter().filter(|(k, _)| k == kind) {
            let what = format!("{kind} namespace {}", path.display());
            let fd = rustix::fs::open(path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
                .map_err(|e| InitError::new(Step::JoinNamespace, &what, Some(&e.into())))?;
            rustix::thread::move_into_link_name_space(fd.as_fd_ref(), Some(*ty))
                .map_err(|e| InitError::new(Step::JoinNamespace, &what, Some(&e.into())))?;
        }
    }
    Ok(())
}

trait AsFdRef {
    fn as_fd_ref(&self) -> std::os::fd::BorrowedFd<'_>;
}
impl AsFdRef for OwnedFd {
    fn as_fd_ref(&self) -> std::os::fd::BorrowedFd<'_> {
        std::os::fd::AsFd::as_fd(self)
    }
}

/// In a user namespace (new, or joined by path), switches to its root: the parent has written
/// the id maps, and our capabilities there allow the change.
fn become_userns_root(spec: &Spec) -> Result<()> {
    let in_userns = spec.linux.as_ref().is_some_and(|l| l.has_namespace("user"));
    if !in_userns {
        return Ok(());
    }
    let root_gid = rustix::process::Gid::ROOT;
    let root_uid = rustix::process::Uid::ROOT;
    rustix::thread::set_thread_res_gid(root_gid, root_gid, root_gid).map_err(|e| {
        InitError::new(Step::User, "setresgid 0 in user namespace", Some(&e.into()))
    })?;
    rustix::thread::set_thread_res_uid(root_uid, root_uid, root_uid)
        .map_err(|e| InitError::new(Step::User, "setresuid 0 in user namespace", Some(&e.into())))
}

/// A session keyring of the container's own, so keys do not leak between containers. A kernel
/// without keyrings (ENOSYS) is not an error, as with runc.
fn join_keyring(name: Option<&str>) -> Result<()> {
    let Some(name) = name else { return Ok(()) };
    let cname = CString::new(name)
        .map_err(|_| InitError::new(Step::Keyring, "keyring name has a NUL byte", None))?;
    match hull_sys::process::join_session_keyring(&cname) {
        Ok(_) => Ok(()),
        Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => Ok(()),
        Err(e) => Err(InitError::new(
            Step::Keyring,
            format!("join {name}"),
            Some(&e),
        )),
    }
}

fn set_hostname(spec: &Spec) -> Result<()> {
    if let Some(h) = &spec.hostname {
        rustix::system::sethostname(h.as_bytes()).map_err(|e| {
            InitError::new(Step::Hostname, format!("sethostname {h}"), Some(&e.into()))
        })?;
    }
    if let Some(d) = &spec.domainname {
        rustix::system::setdomainname(d.as_bytes()).map_err(|e| {
            InitError::new(
                Step::Hostname,
                format!("setdomainname {d}"),
                Some(&e.into()),
            )
        })?;
    }
    Ok(())
}

/// A new network namespace starts with `lo` down; runc brings it up (its "loopback" strategy)
/// and Docker's `--network none` relies on that. A joined namespace (a path) is left as it is.
fn loopback_up(spec: &Spec) -> Result<()> {
    let new_net = spec.linux.as_ref().is_some_and(|l| {
        l.namespaces
            .iter()
            .any(|n| n.kind == "network" && n.path.is_none())
    });
    if new_net {
        hull_sys::socket::set_interface_up("lo").map_err(fail(Step::Network, "lo"))?;
    }
    Ok(())
}

fn create_cwd(cwd: &Path) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if cwd.as_os_str().is_empty() || std::fs::symlink_metadata(cwd).is_ok() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(cwd)
        .map_err(fail(Step::Cwd, format!("create {}", cwd.display())))
}

/// Propagation, the rootfs bind, spec mounts, devices, then pivot_root.
fn setup_rootfs(
    a: &InitArgs,
    cgroup_paths: &[(String, String)],
    hook_state: Option<&State>,
) -> Result<()> {
    let linux = a.spec.linux.clone().unwrap_or_default();
    // Without one the mount namespace is the host's: its `/` keeps its propagation (create
    // refused a rootfsPropagation), and the rootfs bind is in the host's table until delete.
    let own_mount_ns = linux.has_namespace("mount");
    if own_mount_ns {
        // must happen before mounting anything so nothing propagates to the host.
        mounts::make_root_private(linux.rootfs_propagation.as_deref(), &a.rootfs)
            .map_err(fail(Step::Mounts, "root propagation"))?;
    }
    // must happen before the spec mounts because they go on top of this bind mount, which
    // pivot_root then takes as the new root (or chroot, which a read-only root remounts).
    mounts::bind_rootfs(&a.rootfs).map_err(fail(Step::Mounts, "rootfs"))?;
    for m in &a.mounts {
        mounts::apply(&a.rootfs, m, cgroup_paths).map_err(fail(Step::Mounts, "spec mount"))?;
    }
    // after the /dev tmpfs mount (they go into it) and before pivot_root (host /dev reachable).
    devices::populate(&a.rootfs, &linux.devices).map_err(fail(Step::Devices, "populate /dev"))?;
    // after the mounts (hooks may inspect or add to them) and before pivot_root (the spec has
    // createContainer paths resolve in the runtime's filesystem).
    run_create_hooks(&a.sock, &a.spec, hook_state)?;
    if !own_mount_ns {
        // pivot_root or a move over `/` would change the host's own root.
        return mounts::chroot_into(&a.rootfs).map_err(fail(Step::PivotRoot, "chroot"));
    }
    if a.no_pivot {
        mounts::move_root(&a.rootfs).map_err(fail(Step::PivotRoot, "move root"))?;
    } else {
        mounts::pivot_root(&a.rootfs).map_err(fail(Step::PivotRoot, "pivot"))?;
    }
    // after pivot_root because it refuses a shared root, and because only the container's own
    // `/` may be made shared (the host's would then receive our mounts).
    mounts::apply_root_propagation(linux.rootfs_propagation.as_deref())
        .map_err(fail(Step::Mounts, "root propagation"))
}

fn write_sysctls(spec: &Spec) -> Result<()> {
    let Some(linux) = &spec.linux else {
        return Ok(());
    };
    for (key, value) in &linux.sysctl {
        let path = Path::new("/proc/sys").join(key.replace('.', "/"));
        std::fs::write(&path, value.as_bytes())
            .map_err(fail(Step::Sysctl, format!("write {}", path.display())))?;
    }
    Ok(())
}

/// Masked paths, read-only paths, then `root.readonly` last because the steps before it still
/// create mount points.
fn finalize_rootfs(spec: &Spec) -> Result<()> {
    if let Some(linux) = &spec.linux {
        for p in &linux.masked_paths {
            mounts::mask_path(Path::new(p)).map_err(fail(Step::MaskedPaths, p.clone()))?;
        }
        for p in &linux.readonly_paths {
            mounts::readonly_path(Path::new(p)).map_err(fail(Step::ReadonlyPaths, p.clone()))?;
        }
    }
    if spec.root.as_ref().is_some_and(|r| r.readonly) {
        mounts::remount_readonly(Path::new("/")).map_err(fail(Step::Mounts, "read-only root"))?;
    }
    Ok(())
}

pub(crate) fn set_oom_score_adj(proc: &Process) -> Result<()> {
    if let Some(adj) = proc.oom_score_adj {
        std::fs::write("/proc/self/oom_score_adj", adj.to_string())
            .map_err(fail(Step::OomScoreAdj, adj.to_string()))?;
    }
    Ok(())
}

pub(crate) fn resolve_program(proc: &Process) -> Result<PathBuf> {
    let program = proc.args.first().expect("validated by create");
    user::resolve(program, &proc.env, Path::new("/")).map_err(|e| match e {
        user::ResolveError::NotFound(p) => InitError {
            step: Step::NotFound,
            message: format!("{p}: no such file or directory in the container's PATH"),
            errno: Some(libc::ENOENT),
        },
        user::ResolveError::NotExecutable(p) => InitError {
            step: Step::NotExecutable,
            message: format!("{}: permission denied", p.display()),
            errno: Some(libc::EACCES),
        },
    })
}

/// Blocks until `start` opens exec.fifo for reading (open for writing blocks until then), then
/// tells it we are released. The fifo stays open through the startContainer hooks: `start`
/// reads a failure of theirs from it (as JSON after the first byte), or end of file once init
/// closed it to go on, so a `start` in another process than `create` reports the failure too.
fn wait_for_start(a: &InitArgs) -> Result<std::fs::File> {
    let fifo = rustix::fs::openat(
        &a.state_dir,
        crate::state::EXEC_FIFO,
        OFlags::WRONLY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| InitError::new(Step::WaitStart, "open exec.fifo", Some(&e.into())))?;
    let mut f = std::fs::File::from(fifo);
    f.write_all(b"0")
        .map_err(fail(Step::WaitStart, "write exec.fifo"))?;
    Ok(f)
}

/// After start: either exec the user's program as pid 1, or fork it under the mini init.
fn launch(a: InitArgs, program: &Path, hook_state: Option<State>, fifo: std::fs::File) -> ! {
    if let Err(e) = run_start_hooks(&a.spec, hook_state) {
        let _ = serde_json::to_writer(&fifo, &e);
        report_and_exit(&a.sock, e)
    }
    // The fifo stays open (close-on-exec) until the execve: `start` reads it to its end, so a
    // failure from here on reaches `start` even when it runs in another process than `create`.
    if !a.mini_init {
        exec_user(&a, program, &fifo)
    }
    let blocked = mini_init::blocked();
    // must happen before the fork so a signal sent right after start is not lost.
    if let Err(e) = hull_sys::signal::block(&blocked) {
        report_and_exit(
            &a.sock,
            InitError::new(Step::Fork, "block signals", Some(&e)),
        )
    }
    match hull_sys::process::fork_with_flags(0) {
        Ok(hull_sys::process::Forked::Child) => {
            // The signal mask survives execve: the user's program must start with none blocked.
            if let Err(e) = hull_sys::signal::unblock(&blocked) {
                report_and_exit(
                    &a.sock,
                    InitError::new(Step::Fork, "unblock signals", Some(&e)),
                )
            }
            exec_user(&a, program, &fifo)
        }
        Ok(hull_sys::process::Forked::Parent(child)) => {
            // Pid 1 drops its copy of the sync socket and exec.fifo (and everything else it
            // held) so the parent and `start` see end-of-stream when the child's exec succeeds.
            drop((a, fifo));
            let code = mini_init::supervise(child).unwrap_or(1);
            hull_sys::process::exit_now(code)
        }
        Err(e) => report_and_exit(&a.sock, InitError::new(Step::Fork, "fork", Some(&e))),
    }
}

/// With a listener, the filter is loaded at the end of create, before `Ready`, as runc does:
/// its notification descriptor goes to `create`, which hands it to the listener (a host path,
/// out of our reach after pivot_root) before it returns; everything init does after (waiting
/// for start, the startContainer hooks, the capability and uid switch) runs under the filter,
/// whose notified calls the listener answers. The filter is not loaded again before execve.
/// `sendmsg` is the one call between the load and the hand-over, which `compile` made sure the
/// filter does not notify.
fn load_listeners_filter(a: &mut InitArgs) -> Result<()> {
    let Some(filter) = a.seccomp.take_if(|f| f.has_listener()) else {
        return Ok(());
    };
    let notify = filter
        .load()
        .map_err(|e| InitError::new(Step::Seccomp, error_chain(&e), None))?;
    let Some(fd) = notify else {
        return Ok(());
    };
    sync::send_fd(&a.sock, &FromInit::SeccompFd, &fd)
        .map_err(fail(Step::Seccomp, "send the notify descriptor"))
}

/// The security steps, in the only order that works, then execve. A failure goes to the
/// parent (if it still listens) and to `start` through exec.fifo.
fn exec_user(a: &InitArgs, program: &Path, fifo: &std::fs::File) -> ! {
    match secure_and_exec(a, program) {
        Ok(errno) => {
            let _ = sync::send(&a.sock, &FromInit::ExecFailed { errno });
            let err = std::io::Error::from_raw_os_error(errno);
            let what = format!("execve {}", program.display());
            let _ = serde_json::to_writer(fifo, &InitError::new(Step::Exec, what, Some(&err)));
            let code = if errno == libc::ENOENT { 127 } else { 126 };
            hull_sys::process::exit_now(code)
        }
        Err(e) => {
            let _ = serde_json::to_writer(fifo, &e);
            report_and_exit(&a.sock, e)
        }
    }
}

/// Returns the errno of a failed execve.
fn secure_and_exec(a: &InitArgs, program: &Path) -> Result<i32> {
    let proc = a.spec.process.as_ref().expect("validated by create");
    let seccomp = (a.seccomp.as_ref(), None);
    secure_and_exec_process(proc, &a.attrs, seccomp, program, 3 + a.preserve_fds)
}

/// The security steps and execve for `proc` (init's program, or an exec'd process), with the
/// descriptors from `first_closed` on closed at execve; returns the errno of a failed execve.
pub(crate) fn secure_and_exec_process(
    proc: &Process,
    attrs: &ProcAttrs,
    seccomp: (Option<&Filter>, Option<&Listener>),
    program: &Path,
    first_closed: u32,
) -> Result<i32> {
    let argv = cstrings(&proc.args)?;
    let envp = cstrings(&proc.env)?;
    let path = CString::new(program.as_os_str().as_encoded_bytes())
        .map_err(|_| InitError::new(Step::Exec, "program path has a NUL byte", None))?;
    // must happen before seccomp because the user's filter may deny close_range (an allowlist
    // written before it existed), and nothing after the filter may need more than the calls
    // it must allow anyway. 3 + preserve_fds for init: runc's --preserve-fds stay open.
    // Descriptors opened from here on are close-on-exec already (Rust opens them so).
    hull_sys::process::set_cloexec_from(first_closed)
        .map_err(fail(Step::Exec, "mark descriptors close-on-exec"))?;
    // must happen before seccomp (the user's filter may deny these calls) and before the
    // capability drop and uid switch (a real-time class or a lower nice needs CAP_SYS_NICE).
    attrs
        .apply()
        .map_err(|e| InitError::new(Step::ProcessAttrs, e.what, Some(&e.source)))?;
    // Without no_new_privs the kernel only lets a task with CAP_SYS_ADMIN in its effective set
    // load a filter, so it must be loaded before the uid switch (which clears the effective set)
    // and before the capabilities are dropped. The filter must then allow the few calls left
    // before execve (setgroups, setres[ug]id, prctl, capset), as Docker's does.
    // must happen before the uid switch (writing our own attr needs no privilege, but the
    // transition happens at execve) and before seccomp (which may deny the write).
    if let Some(profile) = &proc.apparmor_profile {
        crate::apparmor::set_exec_profile(profile)
            .map_err(fail(Step::AppArmor, format!("profile {profile}")))?;
    }
    if !proc.no_new_privileges {
        load_seccomp(seccomp)?;
    }
    let caps_error =
        |e: capabilities::CapsError| InitError::new(Step::Capabilities, error_chain(&e), None);
    // must happen before the uid switch because dropping from the bounding set needs
    // CAP_SETPCAP in the effective set, which the switch clears.
    if let Some(caps) = &proc.capabilities {
        capabilities::apply_bounding(caps).map_err(caps_error)?;
    }
    // must happen before the other sets are applied because changing uid clears the effective set.
    user::switch(&proc.user).map_err(fail(Step::User, "switch"))?;
    if let Some(caps) = &proc.capabilities {
        capabilities::apply_sets(caps).map_err(caps_error)?;
    }
    if proc.no_new_privileges {
        rustix::thread::set_no_new_privs(true)
            .map_err(|e| InitError::new(Step::NoNewPrivileges, "prctl", Some(&e.into())))?;
        // as late as possible: right before execve, so the filter sees the fewest of our calls.
        load_seccomp(seccomp)?;
    }
    let err = hull_sys::process::execve(&path, &argv, &envp);
    Ok(err.raw_os_error().unwrap_or(libc::EINVAL))
}

/// Loads the filter and, when it has a listener, sends the listener its notification descriptor
/// at once: `sendmsg` is the one call between the two, which `compile` made sure the filter does
/// not notify (see [`crate::seccomp::listener`]).
fn load_seccomp((filter, listener): (Option<&Filter>, Option<&Listener>)) -> Result<()> {
    let Some(f) = filter else { return Ok(()) };
    let notify = f
        .load()
        .map_err(|e| InitError::new(Step::Seccomp, error_chain(&e), None))?;
    if let (Some(fd), Some(l)) = (notify, listener) {
        l.send(fd)
            .map_err(|e| InitError::new(Step::Seccomp, error_chain(&e), None))?;
    }
    Ok(())
}

fn cstrings(v: &[String]) -> Result<Vec<CString>> {
    v.iter()
        .map(|s| {
            CString::new(s.as_bytes())
                .map_err(|_| InitError::new(Step::Exec, format!("{s:?} has a NUL byte"), None))
        })
        .collect()
}
