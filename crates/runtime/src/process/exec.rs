//! The child side of `exec`: a process forked from the runtime's caller joins a running
//! container and starts a new program in it. [`run`] is the ordered recipe.
//!
//! Two processes are involved because joining a pid (or time) namespace only applies to the
//! children of the caller: the *intermediate* (forked by [`crate::Runtime::exec`]) joins the
//! cgroup and every namespace, then forks the *exec'd process* with CLONE_PARENT, so that it is
//! born inside the container's pid namespace as a child of the runtime's caller, which can
//! wait for it. The intermediate reports the pid and exits.

use std::os::fd::OwnedFd;
use std::path::Path;

use hull_oci::runtime::Process;
use rustix::fs::Mode;
use rustix::thread::LinkNameSpaceType;

use super::init::{fail, resolve_program, secure_and_exec_process, set_oom_score_adj};
use super::sync::{self, FromInit, InitError, Step};
use crate::proc_attrs::ProcAttrs;
use crate::seccomp::{Filter, Listener};
use crate::{console, rlimits};

/// (spec name, kernel type), in the order they must be joined. The user namespace comes first
/// because it grants the capabilities needed to join the others; mount before pid because
/// nothing here depends on /proc afterwards (every descriptor was opened by the parent).
pub const JOIN_ORDER: &[(&str, LinkNameSpaceType)] = &[
    ("user", LinkNameSpaceType::User),
    ("mount", LinkNameSpaceType::Mount),
    ("pid", LinkNameSpaceType::ProcessID),
    ("ipc", LinkNameSpaceType::InterProcessCommunication),
    ("uts", LinkNameSpaceType::HostNameAndNISDomainName),
    ("network", LinkNameSpaceType::Network),
    ("cgroup", LinkNameSpaceType::ControlGroup),
    ("time", LinkNameSpaceType::Time),
];

/// Everything the intermediate and the exec'd process need, opened by the parent before the
/// fork (once in the container's mount namespace, the host's /proc is out of reach).
pub struct ExecArgs {
    pub process: Process,
    /// The container's namespaces (`/proc/<init>/ns/<kind>`), already in [`JOIN_ORDER`].
    pub namespaces: Vec<(String, OwnedFd)>,
    /// The container's root to chroot into, when it has no mount namespace to join.
    pub root: Option<OwnedFd>,
    /// The cgroup's `tasks` / `cgroup.procs` files (see `Cgroup::join_files`).
    pub cgroup_join: Vec<std::fs::File>,
    pub sock: OwnedFd,
    pub stdio: Option<[OwnedFd; 3]>,
    pub seccomp: Option<Filter>,
    /// The container's seccomp listener, connected by the parent (see [`crate::seccomp::listener`]).
    pub seccomp_listener: Option<Listener>,
    /// Descriptors 3..3+preserve_fds stay open across the exec.
    pub preserve_fds: u32,
    /// I/O priority, scheduler, CPU affinity, personality, memory policy (see
    /// [`crate::proc_attrs`]).
    pub attrs: ProcAttrs,
    /// Where the intermediate reports what it did (`--debug`), if anywhere.
    pub debug: Option<fn(&str)>,
}

type Result<T> = std::result::Result<T, InitError>;

/// Runs the intermediate: join, fork, report the pid; never returns.
pub fn run(args: ExecArgs) -> ! {
    // must happen before joining the mount namespace because /proc/self is unreadable there.
    let single = match hull_sys::process::SingleThreaded::check() {
        Ok(s) => s,
        Err(e) => report_and_exit(&args.sock, InitError::new(Step::Fork, "check", Some(&e))),
    };
    // must happen before the cgroup join: `execCPUAffinity.initial` is the affinity for the
    // move into the container's cgroup (config.md).
    match args.attrs.apply_initial() {
        Ok(Some(mask)) => {
            if let Some(debug) = args.debug {
                debug(&format!("exec: initial CPU affinity: {mask}"));
            }
        }
        Ok(None) => {}
        Err(e) => {
            let err = InitError::new(Step::ProcessAttrs, e.what, Some(&e.source));
            report_and_exit(&args.sock, err)
        }
    }
    if let Err(e) = join_container(&args) {
        report_and_exit(&args.sock, e)
    }
    let pid_pipe = match pid_pipe(&args) {
        Ok(p) => p,
        Err(e) => report_and_exit(&args.sock, e),
    };
    // CLONE_PARENT: the new process is the runtime caller's child (our sibling), so the caller
    // can wait for it once we are gone.
    match hull_sys::process::fork_single_threaded(libc::CLONE_PARENT as u64, &single) {
        Ok(hull_sys::process::Forked::Child) => exec_process(args, pid_pipe.map(|(r, _w)| r)),
        Ok(hull_sys::process::Forked::Parent(pid)) => {
            if let Some((_, w)) = &pid_pipe {
                // a failed write leaves the child an end of file, which it reports.
                let _ = rustix::io::write(w, &pid.to_ne_bytes());
            }
            let _ = sync::send(&args.sock, &FromInit::Forked { pid });
            hull_sys::process::exit_now(0)
        }
        Err(e) => report_and_exit(&args.sock, InitError::new(Step::Fork, "fork", Some(&e))),
    }
}

/// With a seccomp listener, the pipe through which the intermediate tells the exec'd process its
/// pid as the host sees it, for the listener's message (inside the container's pid namespace
/// `getpid` gives another number).
fn pid_pipe(a: &ExecArgs) -> Result<Option<(OwnedFd, OwnedFd)>> {
    if a.seccomp_listener.is_none() {
        return Ok(None);
    }
    rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
        .map(Some)
        .map_err(std::io::Error::from)
        .map_err(fail(Step::Fork, "pipe for the pid"))
}

/// Reads the pid the intermediate wrote into the pipe from [`pid_pipe`].
fn read_pid(from: OwnedFd) -> Result<i32> {
    let mut buf = [0u8; 4];
    std::io::Read::read_exact(&mut std::fs::File::from(from), &mut buf)
        .map_err(fail(Step::Fork, "read the pid"))?;
    Ok(i32::from_ne_bytes(buf))
}

fn report_and_exit(sock: &OwnedFd, err: InitError) -> ! {
    let _ = sync::send(sock, &FromInit::Error(err));
    hull_sys::process::exit_now(1)
}

/// The cgroup, then the namespaces, then (without a mount namespace to join) the root.
fn join_container(a: &ExecArgs) -> Result<()> {
    // must happen before the fork because the exec'd process must be accounted to the
    // container (memory, pids, freezer) from its first instruction.
    for f in &a.cgroup_join {
        rustix::io::write(f, b"0")
            .map_err(std::io::Error::from)
            .map_err(fail(Step::Sync, "join cgroup"))?;
    }
    for (kind, fd) in &a.namespaces {
        let ty = JOIN_ORDER
            .iter()
            .find(|(k, _)| k == kind)
            .map(|(_, t)| *t)
            .ok_or_else(|| InitError::new(Step::JoinNamespace, format!("{kind}?"), None))?;
        rustix::thread::move_into_link_name_space(std::os::fd::AsFd::as_fd(fd), Some(ty)).map_err(
            |e| {
                InitError::new(
                    Step::JoinNamespace,
                    format!("{kind} namespace"),
                    Some(&e.into()),
                )
            },
        )?;
    }
    // after the namespaces because a chrooted process may not join a user namespace.
    if let Some(root) = &a.root {
        let what = "chroot into the container's root";
        rustix::process::fchdir(root)
            .map_err(std::io::Error::from)
            .and_then(|()| crate::mounts::chroot_into(Path::new(".")))
            .map_err(fail(Step::PivotRoot, what))?;
    }
    Ok(())
}

/// The exec'd process: its pid for the seccomp listener (from `pid_from`, see [`pid_pipe`]),
/// stdio, working directory, limits, then the security steps and execve.
fn exec_process(mut a: ExecArgs, pid_from: Option<OwnedFd>) -> ! {
    if let (Some(from), Some(listener)) = (pid_from, a.seccomp_listener.as_mut()) {
        match read_pid(from) {
            Ok(pid) => listener.set_pid(pid),
            Err(e) => report_and_exit(&a.sock, e),
        }
    }
    match prepare(&a).and_then(|program| {
        let seccomp = (a.seccomp.as_ref(), a.seccomp_listener.as_ref());
        secure_and_exec_process(&a.process, &a.attrs, seccomp, &program, 3 + a.preserve_fds)
    }) {
        Ok(errno) => {
            let _ = sync::send(&a.sock, &FromInit::ExecFailed { errno });
            let code = if errno == libc::ENOENT { 127 } else { 126 };
            hull_sys::process::exit_now(code)
        }
        Err(e) => report_and_exit(&a.sock, e),
    }
}

fn prepare(a: &ExecArgs) -> Result<std::path::PathBuf> {
    let proc = &a.process;
    // must happen before the exec because an ignored signal stays ignored across execve.
    hull_sys::signal::reset_all().map_err(fail(Step::Fork, "reset signal dispositions"))?;
    if let Some(fds) = &a.stdio {
        console::install_stdio(fds).map_err(fail(Step::Console, "install stdio"))?;
    }
    if proc.terminal {
        // The mount namespace is the container's, so /dev/pts/ptmx is its devpts instance.
        let master =
            console::setup_for_exec(proc.console_size).map_err(fail(Step::Console, "pty"))?;
        sync::send_fd(&a.sock, &FromInit::Console, &master)
            .map_err(fail(Step::Sync, "send console"))?;
    }
    rlimits::apply(&proc.rlimits).map_err(fail(Step::Rlimits, "apply"))?;
    set_oom_score_adj(proc)?;
    let cwd = Path::new(&proc.cwd);
    rustix::process::chdir(cwd)
        .map_err(std::io::Error::from)
        .map_err(fail(Step::Cwd, format!("chdir {}", cwd.display())))?;
    let program = resolve_program(proc)?;
    rustix::process::umask(Mode::from_raw_mode(proc.user.umask.unwrap_or(0o022)));
    Ok(program)
}

/// The container's namespace kinds from its spec, in [`JOIN_ORDER`]; unknown kinds are refused.
pub fn join_plan(kinds: &[String]) -> std::result::Result<Vec<String>, String> {
    if let Some(bad) = kinds
        .iter()
        .find(|k| !JOIN_ORDER.iter().any(|(name, _)| name == k))
    {
        return Err(format!("unknown namespace type {bad:?}"));
    }
    Ok(JOIN_ORDER
        .iter()
        .filter(|(name, _)| kinds.iter().any(|k| k == name))
        .map(|(name, _)| name.to_string())
        .collect())
}

/// The file under /proc/<pid>/ns/ for a spec namespace kind.
pub fn proc_ns_file(kind: &str) -> &str {
    match kind {
        "mount" => "mnt",
        "network" => "net",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn joins_user_first_then_mount_and_pid() {
        let plan = join_plan(&s(&["network", "pid", "ipc", "uts", "mount", "user"])).unwrap();
        assert_eq!(plan, s(&["user", "mount", "pid", "ipc", "uts", "network"]));
    }

    #[test]
    fn refuses_unknown_kinds() {
        assert!(join_plan(&s(&["pid", "bogus"])).is_err());
    }

    #[test]
    fn proc_names_differ_for_mount_and_network() {
        assert_eq!(proc_ns_file("mount"), "mnt");
        assert_eq!(proc_ns_file("network"), "net");
        assert_eq!(proc_ns_file("pid"), "pid");
        assert_eq!(proc_ns_file("time"), "time");
    }
}
