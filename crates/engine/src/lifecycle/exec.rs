//! `docker exec`: run a command in a running container, with the container's environment,
//! user, working directory, capabilities, seccomp filter and no_new_privs unless flags say
//! otherwise. The process comes from the runtime's exec (all namespaces, the cgroup); here we
//! only decide what it runs as and hold it in the foreground.
//!
//! ```no_run
//! # use hull_engine::{Engine, lifecycle::{ExecConfig, ExecOptions}, run::RealHost};
//! let engine = Engine::open("/var/lib/hull".as_ref()).unwrap();
//! let opts = ExecOptions { container: "web".into(), args: vec!["ps".into()], ..Default::default() };
//! let code = engine.exec(&ExecConfig::from_options(&opts, &RealHost).unwrap()).unwrap();
//! ```
//!
//! A detached exec (`-d`) returns as soon as the process runs; `hull exec` then exits, so the
//! process is re-parented to the nearest subreaper (or the host's init), which reaps it. With
//! `-d -t` it gets a pty, as with Docker, whose master (Docker's shim keeps it) is held and
//! drained by a forked copy of `hull exec` until the process and its children let go of it.

use std::fs;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use hull_oci::runtime::{ConsoleSize, Process, User};
use hull_runtime::ExecRequest;

use crate::engine::{io_err, rt_err};
use crate::lifecycle::foreground;
use crate::run::options::env_flags;
use crate::run::user;
use crate::run::{FlagError, Host};
use crate::{Engine, EngineError};

/// `hull exec` flags as plain data.
#[derive(Debug, Clone, Default)]
pub struct ExecOptions {
    pub detach: bool,
    pub interactive: bool,
    pub tty: bool,
    pub env: Vec<String>,
    pub env_files: Vec<PathBuf>,
    pub user: Option<String>,
    pub workdir: Option<String>,
    pub container: String,
    pub args: Vec<String>,
}

/// Validated `hull exec` flags: `env` holds `KEY=VALUE` entries only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecConfig {
    pub detach: bool,
    pub interactive: bool,
    pub tty: bool,
    pub env: Vec<String>,
    pub user: Option<String>,
    pub workdir: Option<String>,
    pub container: String,
    pub args: Vec<String>,
    /// The pty's size from the start (the API's ConsoleSize); None: this terminal's.
    pub console_size: Option<ConsoleSize>,
}

impl ExecConfig {
    pub fn from_options(o: &ExecOptions, host: &dyn Host) -> Result<ExecConfig, FlagError> {
        if o.args.is_empty() {
            return Err(FlagError {
                flag: "COMMAND",
                value: String::new(),
                reason: "exec needs a command to run".into(),
            });
        }
        if let Some(w) = o.workdir.as_deref().filter(|w| !w.starts_with('/')) {
            return Err(FlagError {
                flag: "--workdir",
                value: w.to_string(),
                reason: "the working directory must be an absolute path".into(),
            });
        }
        Ok(ExecConfig {
            detach: o.detach,
            interactive: o.interactive && !o.detach,
            tty: o.tty,
            env: env_flags(&o.env, &o.env_files, host)?,
            user: o.user.clone().filter(|u| !u.is_empty()),
            workdir: o.workdir.clone(),
            container: o.container.clone(),
            args: o.args.clone(),
            console_size: None,
        })
    }
}

impl Engine {
    /// `hull exec`: runs `config.args` in the running container and returns its exit code
    /// (0 at once with `-d`). 126/127 come back as errors whose `exit_code` says so.
    pub fn exec(&self, config: &ExecConfig) -> Result<i32, EngineError> {
        self.exec_observed(config, &mut |_| {})
    }

    /// [`Engine::exec`], telling `started` the process's pid (in the host's pid namespace) as
    /// soon as it runs: the API's exec inspect shows it.
    pub fn exec_observed(
        &self,
        config: &ExecConfig,
        started: &mut dyn FnMut(i32),
    ) -> Result<i32, EngineError> {
        let record = self.containers.resolve(&config.container)?;
        let id = record.id.as_str();
        if !self.containers.is_alive(id) {
            return Err(EngineError::NotRunning(record.name.clone()));
        }
        if record.state.paused {
            return Err(EngineError::ExecPaused(record.name.clone()));
        }
        let runtime = self.runtime()?;
        let template = runtime
            .spec(id)
            .map_err(rt_err(id, "exec"))?
            .process
            .unwrap_or_default();
        let rootfs = self.containers.rootfs(id);
        let user = match &config.user {
            Some(u) => Some(user::resolve_in_rootfs(&rootfs, Some(u))?),
            None => None,
        };
        let size = config.console_size.or_else(host_console_size);
        let mut process = exec_process(template, config, user.as_ref(), size);
        if let Some(u) = &user {
            if !sets_home(&config.env) && !self.container_sets_home(&record) {
                set_home(&mut process.env, &u.home);
            }
        }
        // must happen before the process starts: until then SIGINT would kill us and leave it.
        let signals = match config.detach {
            true => None,
            false => Some(foreground::catch_signals().map_err(io_err(
                id,
                "catch signals for",
                Path::new("exec"),
            ))?),
        };
        let mut req = ExecRequest::new(id, process);
        req.stdio = exec_stdio(id, config)?;
        let executed = runtime.exec(req).map_err(rt_err(id, "exec"))?;
        started(executed.pid);
        let exec_id = self.exec_start_events(&record, &config.args);
        let Some(signals) = signals else {
            if let Some(console) = executed.console {
                hold_detached_console(console).map_err(io_err(id, "hold", Path::new("pty")))?;
            }
            return Ok(0);
        };
        let code = foreground::wait(signals, executed.pid, executed.console, config.interactive)
            .map_err(io_err(id, "wait for", Path::new("exec")));
        self.exec_die_event(&record, exec_id, code.as_ref().ok().copied());
        code
    }
}

impl Engine {
    /// The container's HOME came from `-e` or the image's Env rather than from its user's
    /// passwd entry (which the spec's environment adds when neither sets it).
    fn container_sets_home(&self, record: &crate::state::Record) -> bool {
        let image_env = record
            .image_id
            .parse()
            .ok()
            .and_then(|id| self.images.config(&id).ok())
            .and_then(|c| c.config)
            .and_then(|c| c.env)
            .unwrap_or_default();
        sets_home(&record.config.env) || sets_home(&image_env)
    }
}

/// Forks a holder of a detached exec's pty master: closing it would hang the terminal up
/// (SIGHUP to the process), and not reading it would block the process once its output fills
/// the pty. The holder drains it until every slave side is closed (EIO), then exits; `hull exec`
/// returns at once, so the holder is re-parented and reaped like the process.
fn hold_detached_console(master: OwnedFd) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    match hull_sys::process::fork_with_flags(0)? {
        hull_sys::process::Forked::Parent(_) => Ok(()),
        hull_sys::process::Forked::Child => {
            // Out of the caller's session and off its stdio, so a pipe reading `hull exec`'s
            // output is not held open by us.
            let _ = rustix::process::setsid();
            let _ = hull_sys::process::close_all_except(&[master.as_raw_fd()]);
            let mut buf = [0u8; 4096];
            loop {
                match rustix::io::read(&master, &mut buf) {
                    Ok(n) if n > 0 => {}
                    Err(rustix::io::Errno::INTR) => {}
                    _ => hull_sys::process::exit_now(0),
                }
            }
        }
    }
}

fn sets_home(env: &[String]) -> bool {
    env.iter().any(|e| e.starts_with("HOME="))
}

/// `exec -u USER` without an explicit HOME: the user's home, as runc gives an exec'd process
/// whose environment (Docker's: the container's Config.Env and `-e`) has none.
fn set_home(env: &mut Vec<String>, home: &str) {
    env.retain(|e| !e.starts_with("HOME="));
    env.push(format!("HOME={home}"));
}

/// The exec'd process: the container's own (capabilities, rlimits, no_new_privs, user, cwd,
/// env) with the command, `-e`, `-u`, `-w` and `-t` applied.
pub fn exec_process(
    template: Process,
    config: &ExecConfig,
    user: Option<&user::ExecUser>,
    console_size: Option<ConsoleSize>,
) -> Process {
    let mut env = template.env.clone();
    for e in &config.env {
        let key = e.split('=').next().unwrap_or(e);
        match env.iter_mut().find(|x| x.split('=').next() == Some(key)) {
            Some(slot) => *slot = e.clone(),
            None => env.push(e.clone()),
        }
    }
    if config.tty && !env.iter().any(|e| e.starts_with("TERM=")) {
        env.push("TERM=xterm".into());
    }
    let user = match user {
        Some(u) => User {
            uid: u.uid,
            gid: u.gid,
            additional_gids: u.additional_gids.clone(),
            ..template.user.clone()
        },
        None => template.user.clone(),
    };
    Process {
        terminal: config.tty,
        console_size: if config.tty { console_size } else { None },
        args: config.args.clone(),
        env,
        cwd: config.workdir.clone().unwrap_or(template.cwd.clone()),
        user,
        ..template
    }
}

/// The size of our terminal, for the exec'd process's pty from its first instruction.
fn host_console_size() -> Option<ConsoleSize> {
    let ws = rustix::termios::tcgetwinsize(io::stdout().as_fd()).ok()?;
    Some(ConsoleSize {
        height: u32::from(ws.ws_row),
        width: u32::from(ws.ws_col),
    })
}

/// Without `-t`: stdin is ours with `-i` else /dev/null, stdout and stderr are ours; detached,
/// all three are /dev/null. With `-t` the pty replaces them (None).
fn exec_stdio(id: &str, config: &ExecConfig) -> Result<Option<[OwnedFd; 3]>, EngineError> {
    if config.tty {
        return Ok(None);
    }
    let null = Path::new("/dev/null");
    let open_null = || {
        fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(null)
            .map(OwnedFd::from)
            .map_err(io_err(id, "open", null))
    };
    let dup = |fd: std::os::fd::BorrowedFd<'_>| {
        fd.try_clone_to_owned()
            .map_err(io_err(id, "duplicate", Path::new("stdio")))
    };
    if config.detach {
        return Ok(Some([open_null()?, open_null()?, open_null()?]));
    }
    let stdin = match config.interactive {
        true => dup(io::stdin().as_fd())?,
        false => open_null()?,
    };
    Ok(Some([
        stdin,
        dup(io::stdout().as_fd())?,
        dup(io::stderr().as_fd())?,
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;

    struct NoHost;
    impl Host for NoHost {
        fn env(&self, _: &str) -> Option<String> {
            Some("from-host".into())
        }
        fn read_file(&self, _: &Path) -> io::Result<String> {
            Err(io::ErrorKind::NotFound.into())
        }
    }

    fn config(args: &[&str]) -> ExecConfig {
        let o = ExecOptions {
            container: "c".into(),
            args: args.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        };
        ExecConfig::from_options(&o, &NoHost).unwrap()
    }

    fn template() -> Process {
        Process {
            args: vec!["sleep".into()],
            env: vec!["PATH=/bin".into(), "A=1".into(), "HOME=/root".into()],
            cwd: "/srv".into(),
            no_new_privileges: true,
            user: User {
                uid: 5,
                gid: 6,
                umask: Some(0o027),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    #[test]
    fn keeps_the_containers_identity_and_security_by_default() {
        let p = exec_process(template(), &config(&["id"]), None, None);
        assert_eq!(p.args, ["id"]);
        assert_eq!(p.cwd, "/srv");
        assert_eq!((p.user.uid, p.user.gid), (5, 6));
        assert!(p.no_new_privileges);
        assert!(!p.terminal);
        assert_eq!(p.env, ["PATH=/bin", "A=1", "HOME=/root"]);
    }

    #[test]
    fn flags_override_env_user_workdir_and_add_term_with_a_tty() {
        let mut c = config(&["sh"]);
        c.env = vec!["A=2".into(), "B=3".into()];
        c.workdir = Some("/tmp".into());
        c.tty = true;
        let u = user::ExecUser {
            uid: 1000,
            gid: 1000,
            additional_gids: vec![1001],
            home: "/home/u".into(),
        };
        let size = ConsoleSize {
            height: 24,
            width: 80,
        };
        let p = exec_process(template(), &c, Some(&u), Some(size));
        assert_eq!(
            p.env,
            ["PATH=/bin", "A=2", "HOME=/root", "B=3", "TERM=xterm"]
        );
        assert_eq!(p.cwd, "/tmp");
        let mut env = p.env.clone();
        set_home(&mut env, &u.home);
        assert_eq!(
            env,
            ["PATH=/bin", "A=2", "B=3", "TERM=xterm", "HOME=/home/u"]
        );
        assert!(sets_home(&env) && !sets_home(&c.env));
        assert_eq!((p.user.uid, p.user.gid), (1000, 1000));
        assert_eq!(p.user.additional_gids, [1001]);
        assert_eq!(p.user.umask, Some(0o027));
        assert!(p.terminal);
        assert_eq!(p.console_size, Some(size));
    }

    #[test]
    fn validates_command_workdir_and_env() {
        let mut o = ExecOptions {
            container: "c".into(),
            ..Default::default()
        };
        assert!(ExecConfig::from_options(&o, &NoHost).is_err());
        o.args = vec!["true".into()];
        o.workdir = Some("rel".into());
        assert!(ExecConfig::from_options(&o, &NoHost).is_err());
        o.workdir = None;
        o.env = vec!["FROM_HOST".into(), " BAD=1".into()];
        assert!(ExecConfig::from_options(&o, &NoHost).is_err());
        o.env.pop();
        let c = ExecConfig::from_options(&o, &NoHost).unwrap();
        assert_eq!(c.env, ["FROM_HOST=from-host"]);
        o.detach = true;
        o.tty = true;
        o.interactive = true;
        let c = ExecConfig::from_options(&o, &NoHost).unwrap();
        assert!(c.detach && c.tty && !c.interactive);
    }
}
