//! OCI lifecycle hooks (runtime-spec config.md "POSIX-platform Hooks", runtime.md "Lifecycle").
//!
//! Where each kind runs, and who runs it:
//!
//! | hook            | when                                          | namespace | run by | status on stdin | on failure |
//! |-----------------|-----------------------------------------------|-----------|--------|-----------------|------------|
//! | prestart        | namespaces exist, mounts done, before pivot   | runtime   | parent | created  | create fails |
//! | createRuntime   | right after prestart                          | runtime   | parent | creating | create fails |
//! | createContainer | after createRuntime, before pivot_root        | container | init   | creating | create fails |
//! | startContainer  | after start, just before the user's execve    | container | init   | created  | start fails, the container stops |
//! | poststart       | after start released init, before it returns  | runtime   | start  | running  | start fails, the container stops |
//! | poststop        | after delete removed the container            | runtime   | delete | stopped  | warning |
//!
//! prestart's `created` is what runtime-tools' hooks_stdin checks (runc 1.1 passes `creating`).
//! Each hook gets the container's state JSON on stdin, runs with exactly its `args` (args[0] is
//! argv[0]) and `env` (a startContainer hook without `env` gets the process's, as runc does),
//! and is killed when its `timeout` (seconds) passes. Its stdout and stderr
//! are captured and the tail is quoted in the error.
//!
//! ```no_run
//! # use hull_oci::runtime::{Hook, State};
//! # fn f(hook: Hook, state: State) -> Result<(), hull_runtime::hooks::HookError> {
//! hull_runtime::hooks::run_all("createRuntime", &[hook], &state)?;
//! # Ok(()) }
//! ```

use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hull_oci::runtime::{Hook, Hooks, State};

/// The hook kinds this runtime runs, in lifecycle order (for `features`).
pub const KINDS: &[&str] = &[
    "prestart",
    "createRuntime",
    "createContainer",
    "startContainer",
    "poststart",
    "poststop",
];

/// The last bytes of a failed hook's output quoted in its error.
const OUTPUT_TAIL: usize = 1024;

#[derive(Debug, thiserror::Error)]
pub enum HookError {
    #[error("{kind} hook {path}: start")]
    Spawn {
        kind: String,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{kind} hook {path}: killed after its timeout of {secs}s")]
    Timeout {
        kind: String,
        path: PathBuf,
        secs: u32,
    },
    #[error("{kind} hook {path}: {status}{output}")]
    Failed {
        kind: String,
        path: PathBuf,
        status: String,
        output: String,
    },
    #[error("{kind} hook {path}: {op}")]
    Io {
        kind: String,
        path: PathBuf,
        op: &'static str,
        #[source]
        source: io::Error,
    },
}

/// Checks what can be checked before create: absolute paths and positive timeouts.
pub fn validate(hooks: &Hooks) -> Result<(), String> {
    for (kind, list) in by_kind(hooks) {
        for h in list {
            if !h.path.is_absolute() {
                return Err(format!(
                    "{kind} hook path {} is not absolute",
                    h.path.display()
                ));
            }
            if h.timeout == Some(0) {
                return Err(format!(
                    "{kind} hook {}: timeout must be positive",
                    h.path.display()
                ));
            }
        }
    }
    Ok(())
}

/// The hook lists with their spec names, in lifecycle order.
pub fn by_kind(hooks: &Hooks) -> [(&'static str, &[Hook]); 6] {
    [
        ("prestart", &hooks.prestart),
        ("createRuntime", &hooks.create_runtime),
        ("createContainer", &hooks.create_container),
        ("startContainer", &hooks.start_container),
        ("poststart", &hooks.poststart),
        ("poststop", &hooks.poststop),
    ]
}

/// Runs `hooks` in order, stopping at the first failure.
pub fn run_all(kind: &str, hooks: &[Hook], state: &State) -> Result<(), HookError> {
    let json = serde_json::to_vec(state).expect("state always serializes");
    hooks.iter().try_for_each(|h| run(kind, h, &json))
}

/// Runs every hook in `hooks` and returns the failures (for poststart and poststop, which only
/// warn and go on with the next hook).
pub fn run_all_collecting(kind: &str, hooks: &[Hook], state: &State) -> Vec<HookError> {
    let json = serde_json::to_vec(state).expect("state always serializes");
    hooks
        .iter()
        .filter_map(|h| run(kind, h, &json).err())
        .collect()
}

/// Runs one hook with `state` on its stdin and waits for it (killing it at its timeout).
pub fn run(kind: &str, hook: &Hook, state: &[u8]) -> Result<(), HookError> {
    let io_err = |op| {
        move |source| HookError::Io {
            kind: kind.to_string(),
            path: hook.path.clone(),
            op,
            source,
        }
    };
    // Files, not pipes: a hook that never reads stdin cannot block us (or, in init, whose
    // SIGPIPE is back at its default, kill us), and one that writes a lot cannot fill a pipe.
    let stdin = memfile("hook-stdin").map_err(io_err("create stdin"))?;
    let mut input = stdin.try_clone().map_err(io_err("create stdin"))?;
    input
        .write_all(state)
        .and_then(|()| input.seek(SeekFrom::Start(0)).map(drop))
        .map_err(io_err("write state to stdin"))?;
    let output = memfile("hook-output").map_err(io_err("create output"))?;
    let stderr = output.try_clone().map_err(io_err("create output"))?;
    let child = command(hook)
        .stdin(Stdio::from(stdin))
        .stdout(Stdio::from(
            output.try_clone().map_err(io_err("create output"))?,
        ))
        .stderr(Stdio::from(stderr))
        .spawn()
        .map_err(|source| HookError::Spawn {
            kind: kind.to_string(),
            path: hook.path.clone(),
            source,
        })?;
    let status = wait_with_timeout(child, hook.timeout).map_err(io_err("wait"))?;
    let Some(status) = status else {
        return Err(HookError::Timeout {
            kind: kind.to_string(),
            path: hook.path.clone(),
            secs: hook.timeout.unwrap_or_default(),
        });
    };
    if status.success() {
        return Ok(());
    }
    Err(HookError::Failed {
        kind: kind.to_string(),
        path: hook.path.clone(),
        status: status.to_string(),
        output: tail(output),
    })
}

/// The hook's command line: path, then args with args[0] as argv[0], and only its env.
fn command(hook: &Hook) -> Command {
    let mut c = Command::new(&hook.path);
    if let Some((argv0, rest)) = hook.args.split_first() {
        c.arg0(argv0).args(rest);
    }
    c.env_clear();
    for kv in &hook.env {
        match kv.split_once('=') {
            Some((k, v)) => c.env(k, v),
            None => c.env(kv, ""),
        };
    }
    c
}

/// Waits for the child; `Ok(None)` when it was killed at the timeout.
fn wait_with_timeout(
    mut child: Child,
    timeout: Option<u32>,
) -> io::Result<Option<std::process::ExitStatus>> {
    let Some(secs) = timeout else {
        return child.wait().map(Some);
    };
    let deadline = Instant::now() + Duration::from_secs(secs.into());
    let mut nap = Duration::from_millis(1);
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            child.wait()?;
            return Ok(None);
        }
        std::thread::sleep(nap);
        nap = (nap * 2).min(Duration::from_millis(20));
    }
}

fn memfile(name: &str) -> io::Result<std::fs::File> {
    let fd = rustix::fs::memfd_create(name, rustix::fs::MemfdFlags::CLOEXEC)?;
    Ok(std::fs::File::from(fd))
}

/// The last [`OUTPUT_TAIL`] bytes of the output, as `": …"` (empty when there was none).
fn tail(mut f: std::fs::File) -> String {
    let mut buf = Vec::new();
    if f.seek(SeekFrom::Start(0)).is_err() || f.read_to_end(&mut buf).is_err() {
        return String::new();
    }
    let start = buf.len().saturating_sub(OUTPUT_TAIL);
    let text = String::from_utf8_lossy(&buf[start..]);
    let text = text.trim();
    if text.is_empty() {
        String::new()
    } else {
        format!(": {text}")
    }
}

/// The hooks saved beside state.json, for start (poststart) and delete (poststop).
pub const HOOKS_FILE: &str = "hooks.json";

pub fn save(dir: &Path, hooks: &Hooks) -> io::Result<()> {
    let bytes = serde_json::to_vec(hooks).expect("hooks always serialize");
    std::fs::write(dir.join(HOOKS_FILE), bytes)
}

/// The saved hooks; none when the container has no hooks file.
pub fn load(dir: &Path) -> io::Result<Hooks> {
    match std::fs::read(dir.join(HOOKS_FILE)) {
        Ok(b) => {
            serde_json::from_slice(&b).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Hooks::default()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> State {
        State {
            oci_version: "1.2.0".into(),
            id: "c1".into(),
            status: "creating".into(),
            pid: Some(42),
            bundle: "/b".into(),
            annotations: Default::default(),
        }
    }

    fn sh(script: &str, timeout: Option<u32>) -> Hook {
        Hook {
            path: "/bin/sh".into(),
            args: vec!["sh".into(), "-c".into(), script.into()],
            env: vec!["HOOKVAR=v1".into()],
            timeout,
        }
    }

    #[test]
    fn a_hook_gets_the_state_on_stdin_and_only_its_env() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let script = format!(
            "cat > {0}.state; echo \"$HOOKVAR ${{HOME:-unset}} $0\" > {0}",
            out.display()
        );
        run_all("prestart", &[sh(&script, Some(5))], &state()).unwrap();
        let got: State =
            serde_json::from_slice(&std::fs::read(out.with_extension("state")).unwrap()).unwrap();
        assert_eq!(got, state());
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "v1 unset sh\n");
    }

    #[test]
    fn a_failing_hook_is_an_error_quoting_its_output() {
        let err = run_all(
            "createRuntime",
            &[sh("echo boom >&2; exit 3", None)],
            &state(),
        )
        .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("createRuntime hook /bin/sh"), "{msg}");
        assert!(msg.contains("3") && msg.contains("boom"), "{msg}");
    }

    #[test]
    fn a_hook_past_its_timeout_is_killed() {
        let err = run_all("poststop", &[sh("exec sleep 30", Some(1))], &state()).unwrap_err();
        assert!(matches!(err, HookError::Timeout { secs: 1, .. }), "{err}");
    }

    #[test]
    fn collecting_runs_every_hook_despite_failures() {
        let dir = tempfile::tempdir().unwrap();
        let mark = dir.path().join("mark");
        let hooks = [
            sh("exit 1", None),
            sh(&format!("touch {}", mark.display()), None),
        ];
        let errs = run_all_collecting("poststart", &hooks, &state());
        assert_eq!(errs.len(), 1);
        assert!(mark.exists());
    }

    #[test]
    fn validate_rejects_relative_paths_and_zero_timeouts() {
        let mut hooks = Hooks::default();
        hooks.poststop.push(Hook {
            path: "rel/hook".into(),
            ..Default::default()
        });
        assert!(validate(&hooks).unwrap_err().contains("not absolute"));
        hooks.poststop[0].path = "/bin/true".into();
        hooks.poststop[0].timeout = Some(0);
        assert!(validate(&hooks).unwrap_err().contains("positive"));
        hooks.poststop[0].timeout = Some(1);
        assert!(validate(&hooks).is_ok());
    }

    #[test]
    fn saved_hooks_load_back_and_a_missing_file_is_none() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(load(dir.path()).unwrap(), Hooks::default());
        let mut hooks = Hooks::default();
        hooks.poststart.push(sh("true", Some(2)));
        save(dir.path(), &hooks).unwrap();
        assert_eq!(load(dir.path()).unwrap(), hooks);
    }
}
