//! `exec`: a new process inside a running container, in all its namespaces and its cgroup, with
//! its own [`Process`] (args, env, cwd, user, capabilities, rlimits, terminal) and the
//! container's seccomp filter.
//!
//! ```no_run
//! # use hull_runtime::{Runtime, ExecRequest};
//! # let rt = Runtime::new("/run/hull/runtime".into()).unwrap();
//! let mut process = rt.spec("web").unwrap().process.unwrap(); // the container's as a template
//! process.args = vec!["ps".into()];
//! let executed = rt.exec(ExecRequest::new("web", process)).unwrap();
//! // the caller is the process's parent and can waitpid(executed.pid)
//! ```
//!
//! Like `create`, `exec` forks from the calling process, which must be single-threaded.

use std::io;
use std::os::fd::OwnedFd;
use std::path::PathBuf;

use hull_oci::runtime::{Process, Spec};
use rustix::fs::{Mode, OFlags};
use rustix::process::{Pid, WaitOptions};

use crate::cgroups::{CgroupError, SubCgroups};
use crate::container::{live_status, saved_spec};
use crate::proc_attrs::Role;
use crate::process::exec::{self as child, ExecArgs};
use crate::process::sync::{self, FromInit};
use crate::state::{self as st, ContainerState, Status};
use crate::{Runtime, RuntimeError};

/// What `exec` needs.
#[derive(Debug)]
pub struct ExecRequest {
    pub id: String,
    pub process: Process,
    /// stdin, stdout and stderr; None inherits the caller's. Ignored with `process.terminal`.
    pub stdio: Option<[OwnedFd; 3]>,
    /// Where to send the pty master when `process.terminal`; else it is returned.
    pub console_socket: Option<PathBuf>,
    pub pid_file: Option<PathBuf>,
    /// Descriptors 3..3+preserve_fds of the caller stay open in the process (runc's
    /// `--preserve-fds`).
    pub preserve_fds: u32,
    /// Exec into a paused container too (runc's `--ignore-paused`); the process then starts
    /// frozen, and this call returns once the container is resumed.
    pub ignore_paused: bool,
    /// runc's `--cgroup`: sub-cgroups of the container's cgroup to join instead of it.
    pub cgroup: Vec<String>,
}

impl ExecRequest {
    pub fn new(id: &str, process: Process) -> ExecRequest {
        ExecRequest {
            id: id.to_string(),
            process,
            stdio: None,
            console_socket: None,
            pid_file: None,
            preserve_fds: 0,
            ignore_paused: false,
            cgroup: Vec::new(),
        }
    }
}

/// The started process: a child of the caller (wait for it), and its pty master when it has a
/// terminal and no console socket was given.
#[derive(Debug)]
pub struct Executed {
    pub pid: i32,
    pub console: Option<OwnedFd>,
}

/// What the parent collected from the intermediate and the exec'd process.
#[derive(Default)]
struct Report {
    pid: Option<i32>,
    console: Option<OwnedFd>,
    error: Option<RuntimeError>,
}

impl Runtime {
    /// The container's spec as `create` read it, e.g. as the template of an exec.
    pub fn spec(&self, id: &str) -> Result<Spec, RuntimeError> {
        let state = self.read_state(id)?;
        saved_spec(&self.existing_dir(id)?, &state.bundle)
    }

    fn read_state(&self, id: &str) -> Result<ContainerState, RuntimeError> {
        let dir = self.existing_dir(id)?;
        let _lock = st::lock(&dir).map_err(RuntimeError::io(id, "lock"))?;
        st::read(&dir).map_err(RuntimeError::io(id, "read state"))
    }

    /// Starts `req.process` in the running container `req.id` and returns once it has called
    /// execve (or failed to: the error says at which step, with `NotFound`/`NotExecutable` for
    /// a program that cannot be run).
    pub fn exec(&self, mut req: ExecRequest) -> Result<Executed, RuntimeError> {
        let id = req.id.as_str();
        let state = self.read_state(id)?;
        match live_status(&state) {
            Status::Running => {}
            Status::Paused if req.ignore_paused => {}
            s @ (Status::Creating | Status::Created | Status::Paused | Status::Stopped) => {
                return Err(RuntimeError::BadStatus {
                    id: id.to_string(),
                    op: "exec",
                    status: s.as_str(),
                })
            }
        }
        let spec = saved_spec(&self.existing_dir(id)?, &state.bundle)?;
        validate(id, &req.process)?;
        self.check_capabilities(id, &mut req.process)?;
        let attrs = crate::proc_attrs::plan(&req.process, spec.linux.as_ref(), Role::Exec)
            .map_err(|reason| RuntimeError::InvalidSpec {
                id: id.to_string(),
                reason,
            })?;
        self.check_process_apparmor(id, &mut req.process)?;
        let init = state.pid.expect("a running container has a pid");
        let namespaces = open_namespaces(id, &spec, init)?;
        let root = open_root_without_mount_ns(id, &spec, init)?;
        let cgroup_join = self.cgroup_join_files(id, &state, &req.cgroup)?;
        let seccomp = self.compile_seccomp(id, &spec)?;
        let seccomp_listener = exec_listener(id, &spec, &state)?;
        let (ours, theirs) =
            hull_sys::socket::seqpacket_pair().map_err(RuntimeError::io(id, "socketpair"))?;
        let args = ExecArgs {
            process: req.process,
            namespaces,
            root,
            cgroup_join,
            sock: theirs,
            stdio: req.stdio,
            seccomp,
            seccomp_listener,
            preserve_fds: req.preserve_fds,
            attrs,
            debug: self.debug,
        };
        let forked =
            hull_sys::process::fork_with_flags(0).map_err(RuntimeError::io(id, "fork for exec"))?;
        let intermediate = match forked {
            hull_sys::process::Forked::Child => {
                drop(ours);
                child::run(args)
            }
            hull_sys::process::Forked::Parent(pid) => pid,
        };
        drop(args);
        let report = collect(id, &ours);
        reap(intermediate);
        finish(
            id,
            report,
            req.console_socket.as_deref(),
            req.pid_file.as_deref(),
        )
    }

    /// The files through which the intermediate joins the container's cgroup, or the
    /// sub-cgroups `sub_args` name (none when the container has no cgroup of its own).
    fn cgroup_join_files(
        &self,
        id: &str,
        state: &ContainerState,
        sub_args: &[String],
    ) -> Result<Vec<std::fs::File>, RuntimeError> {
        let err = |source| RuntimeError::Cgroup {
            id: id.to_string(),
            source,
        };
        let sub = SubCgroups::parse(sub_args).map_err(err)?;
        let Some(path) = &state.cgroup_path else {
            if !sub.is_empty() {
                return Err(err(CgroupError::InvalidPath {
                    path: sub_args.join(" "),
                    reason: "the container has no cgroup of its own to join a sub-cgroup of",
                }));
            }
            return Ok(Vec::new());
        };
        let cgroup = self.open_cgroup(state, path).map_err(err)?;
        match sub.is_empty() {
            true => cgroup.join_files(),
            false => cgroup.sub_join_files(&sub),
        }
        .map_err(err)
    }

    /// The container's filter (from its config.json), through the same cache as `create`.
    fn compile_seccomp(
        &self,
        id: &str,
        spec: &Spec,
    ) -> Result<Option<crate::seccomp::Filter>, RuntimeError> {
        let Some(s) = spec.linux.as_ref().and_then(|l| l.seccomp.as_ref()) else {
            return Ok(None);
        };
        match self.seccomp_cache() {
            Some(dir) => crate::seccomp::compile_cached(s, dir),
            None => crate::seccomp::compile(s),
        }
        .map(Some)
        .map_err(|source| RuntimeError::Seccomp {
            id: id.to_string(),
            source,
        })
    }
}

/// The connection to the container's seccomp listener, with the message for the exec'd process:
/// the container's state as it runs (see [`crate::seccomp::listener`] for the pid).
fn exec_listener(
    id: &str,
    spec: &Spec,
    state: &ContainerState,
) -> Result<Option<crate::seccomp::Listener>, RuntimeError> {
    let Some(seccomp) = spec.linux.as_ref().and_then(|l| l.seccomp.as_ref()) else {
        return Ok(None);
    };
    crate::seccomp::listener::open(seccomp, || state.oci(Status::Running))
        .map_err(crate::container::listener_err(id))
}

fn validate(id: &str, proc: &Process) -> Result<(), RuntimeError> {
    let invalid = |reason: String| RuntimeError::InvalidSpec {
        id: id.to_string(),
        reason,
    };
    if proc.args.is_empty() {
        return Err(invalid("exec: process.args is empty".into()));
    }
    if !std::path::Path::new(&proc.cwd).is_absolute() {
        return Err(invalid(format!("exec: cwd {:?} is not absolute", proc.cwd)));
    }
    crate::rlimits::validate(&proc.rlimits).map_err(invalid)
}

/// Opens `/proc/<init>/ns/<kind>` for every namespace of the spec, in join order.
fn open_namespaces(
    id: &str,
    spec: &Spec,
    init: i32,
) -> Result<Vec<(String, OwnedFd)>, RuntimeError> {
    let kinds: Vec<String> = spec
        .linux
        .as_ref()
        .map(|l| l.namespaces.iter().map(|n| n.kind.clone()).collect())
        .unwrap_or_default();
    let plan = child::join_plan(&kinds).map_err(|reason| RuntimeError::InvalidSpec {
        id: id.to_string(),
        reason,
    })?;
    plan.into_iter()
        .map(|kind| {
            let path = format!("/proc/{init}/ns/{}", child::proc_ns_file(&kind));
            let fd = rustix::fs::open(&path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
                .map_err(|e| RuntimeError::io(id, format!("open {path}"))(e.into()))?;
            Ok((kind, fd))
        })
        .collect()
}

/// The container's root as its init sees it (`/proc/<init>/root`), for an exec to chroot into
/// when there is no mount namespace to join (joining one sets the root); None otherwise.
fn open_root_without_mount_ns(
    id: &str,
    spec: &Spec,
    init: i32,
) -> Result<Option<OwnedFd>, RuntimeError> {
    if spec
        .linux
        .as_ref()
        .is_some_and(|l| l.has_namespace("mount"))
    {
        return Ok(None);
    }
    let path = format!("/proc/{init}/root");
    let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
    rustix::fs::open(&path, flags, Mode::empty())
        .map(Some)
        .map_err(|e| RuntimeError::io(id, format!("open {path}"))(e.into()))
}

/// Reads every message until both children closed the socket (the exec'd process's end closes
/// on a successful execve).
fn collect(id: &str, sock: &OwnedFd) -> Report {
    let mut report = Report::default();
    loop {
        let msg = match sync::recv::<FromInit>(sock) {
            Ok(Some(m)) => m,
            Ok(None) => return report,
            Err(e) => {
                report.error = Some(RuntimeError::io(id, "read from exec")(e));
                return report;
            }
        };
        match msg {
            (FromInit::Forked { pid }, _) => report.pid = Some(pid),
            (FromInit::Console, fd) => report.console = fd,
            (FromInit::Error(cause), _) => {
                report.error = Some(RuntimeError::Exec {
                    id: id.to_string(),
                    step: cause.step,
                    cause,
                })
            }
            (FromInit::ExecFailed { errno }, _) => {
                report.error = Some(RuntimeError::ExecFailed {
                    id: id.to_string(),
                    errno,
                })
            }
            (other @ (FromInit::Ready | FromInit::RunHooks | FromInit::SeccompFd), _) => {
                report.error = Some(RuntimeError::io(id, "read from exec")(io::Error::other(
                    format!("unexpected message {other:?}"),
                )))
            }
        }
    }
}

/// Waits for a child of ours that is about to exit (or has).
fn reap(pid: i32) {
    if let Some(p) = Pid::from_raw(pid) {
        while let Err(rustix::io::Errno::INTR) =
            rustix::process::waitpid(Some(p), WaitOptions::empty())
        {}
    }
}

/// Turns the report into the result: on failure the exec'd process (which exits right after its
/// report) is reaped; on success the console goes to the socket and the pid to the pid file.
fn finish(
    id: &str,
    report: Report,
    console_socket: Option<&std::path::Path>,
    pid_file: Option<&std::path::Path>,
) -> Result<Executed, RuntimeError> {
    if let Some(e) = report.error {
        if let Some(pid) = report.pid {
            reap(pid);
        }
        return Err(e);
    }
    let pid = report.pid.ok_or_else(|| {
        RuntimeError::io(id, "exec")(io::Error::other("the process exited before it was forked"))
    })?;
    let mut console = report.console;
    if let (Some(path), Some(fd)) = (console_socket, &console) {
        hull_sys::socket::send_fd_to_path(path, fd, "console").map_err(RuntimeError::io(
            id,
            format!("send console to {}", path.display()),
        ))?;
        console = None;
    }
    if let Some(pf) = pid_file {
        std::fs::write(pf, pid.to_string()).map_err(RuntimeError::io(
            id,
            format!("write pid file {}", pf.display()),
        ))?;
    }
    Ok(Executed { pid, console })
}
