//! runc's error contract: the errors that clients tell apart by their text, and the exit codes.
//! Each row runs against runc (when installed) and hull-runtime with the same expectation: the
//! exit code, a substring of stderr, and for every failure the word `error` (youki's contest
//! treats stderr holding "error" as a failed command, `tests/contest/.../utils/test_utils.rs`).
//!
//! The clients, and what they match on:
//! - containerd's runc shim (`cmd/containerd-shim-runc-v2/process/utils.go`, `checkKillError`):
//!   "container not running" (or "process already finished", "no such process") after `kill`
//!   means the process is already gone, a success; "does not exist" means no such container.
//!   `process/init.go` (`delete`) ignores a `delete` failing with "does not exist". go-runc
//!   appends the runtime's stderr to the error it hands the shim (`runc.go`, `runOrError`).
//! - CRI-O (`internal/oci/runtime_oci.go`, `runtimeCmd`): "container not running" (runc's) or
//!   "no such process" (crun's) from any command means the container is gone.
//! - youki's contest (`tests/contest/contest/src/utils/test_utils.rs`): "does not exist" from
//!   `state` means not found; any other stderr with "error" is a failure.
//! - runtime-tools' validation only checks that these cases fail (`validation/kill`, `delete`).

use std::path::Path;
use std::process::{Command, Stdio};

use hull_tests::{hull_bin, require_root};

use crate::bundle::Bundle;

/// What exists before the command runs, under the id `ID`.
#[derive(Clone, Copy, PartialEq)]
pub(crate) enum Setup {
    Nothing,
    Created,
    Running,
    Paused,
    Stopped,
}

struct Case {
    setup: Setup,
    /// `ID` stands for the container's id, `BUNDLE` for the bundle path.
    args: &'static [&'static str],
    exit: i32,
    /// A substring of stderr (empty: no check beyond the exit code).
    text: &'static str,
}

/// One `#[test]` per row, all checked by [`check`].
macro_rules! contract {
    ($($name:ident: $setup:ident, $args:expr => $exit:literal, $text:literal;)*) => {
        $(
            #[test]
            fn $name() {
                check(stringify!($name), &Case { setup: Setup::$setup, args: &$args, exit: $exit, text: $text });
            }
        )*
    };
}

contract! {
    // containerd's shim (checkKillError) and CRI-O: "already gone", so `crictl stop` succeeds.
    kill_stopped: Stopped, ["kill", "ID", "KILL"] => 1, "container not running";
    // containerd's shim runs `kill --all` after init exited (to reap what is left).
    kill_all_stopped: Stopped, ["kill", "--all", "ID", "KILL"] => 0, "";
    kill_created: Created, ["kill", "ID", "KILL"] => 0, "";
    // containerd's shim (checkKillError): "no such container".
    kill_unknown: Nothing, ["kill", "nosuch", "KILL"] => 1, "does not exist";
    // runtime-tools: kill without an id must fail.
    kill_empty_id: Nothing, ["kill", "", "KILL"] => 1, "container id cannot be empty";
    // youki's contest (get_container_status): not found.
    state_unknown: Nothing, ["state", "nosuch"] => 1, "does not exist";
    state_empty_id: Nothing, ["state", ""] => 1, "container id cannot be empty";
    // runtime-tools (DeleteNonStopGenError): must fail, and leave the container be.
    delete_running: Running, ["delete", "ID"] => 1, "not stopped: running";
    // runc kills and removes a never-started container without --force.
    delete_created: Created, ["delete", "ID"] => 0, "";
    // containerd's shim (process/init.go, delete): "does not exist" is ignored.
    delete_unknown: Nothing, ["delete", "nosuch"] => 1, "does not exist";
    delete_force_unknown: Nothing, ["delete", "--force", "nosuch"] => 0, "";
    delete_empty_id: Nothing, ["delete", ""] => 1, "container id cannot be empty";
    // runc exits 255 when exec fails; its shim reads the message from the log.
    exec_stopped: Stopped, ["exec", "ID", "true"] => 255, "stopped";
    exec_unknown: Nothing, ["exec", "nosuch", "true"] => 255, "does not exist";
    create_existing: Created, ["create", "-b", "BUNDLE", "ID"] => 1, "already exists";
    start_running: Running, ["start", "ID"] => 1, "already running";
    start_stopped: Stopped, ["start", "ID"] => 1, "has stopped";
    start_unknown: Nothing, ["start", "nosuch"] => 1, "does not exist";
    // CRI-O: "container not running" from any command means gone.
    pause_stopped: Stopped, ["pause", "ID"] => 1, "container not running";
    // Signal 0 checks that init exists (kill(2)); on a stopped container it is the same
    // "container not running" as any other signal.
    kill_zero_created: Created, ["kill", "ID", "0"] => 0, "";
    kill_zero_running: Running, ["kill", "ID", "0"] => 0, "";
    kill_zero_stopped: Stopped, ["kill", "ID", "0"] => 1, "container not running";
    kill_all_created: Created, ["kill", "--all", "ID", "KILL"] => 0, "";
    // runc freezes a created container too (start then refuses until resume).
    pause_created: Created, ["pause", "ID"] => 0, "";
    pause_paused: Paused, ["pause", "ID"] => 1, "";
    start_paused: Paused, ["start", "ID"] => 1, "paused";
    delete_paused: Paused, ["delete", "ID"] => 1, "not stopped: paused";
    delete_force_paused: Paused, ["delete", "--force", "ID"] => 0, "";
    // runc: "cannot exec in a paused container (use --ignore-paused to override)".
    exec_paused: Paused, ["exec", "ID", "true"] => 255, "use --ignore-paused to override";
}

/// A runtime binary with its own state root; dropping it force-deletes the case's container.
pub(crate) struct Runtime<'a> {
    pub(crate) name: &'static str,
    program: Vec<String>,
    root: std::path::PathBuf,
    bundle: &'a Bundle,
    pub(crate) id: String,
}

impl Runtime<'_> {
    pub(crate) fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(&self.program[0]);
        c.args(&self.program[1..]).arg("--root").arg(&self.root);
        let bundle = self.bundle.bundle();
        c.args(args.iter().map(|a| match *a {
            "ID" => self.id.as_str(),
            "BUNDLE" => bundle.to_str().unwrap(),
            a => a,
        }));
        c
    }

    /// Runs with stdio on files (a created container inherits them); returns (code, stderr).
    pub(crate) fn run(&self, args: &[&str]) -> (i32, String) {
        let dir = self.bundle.path();
        let (out, err) = (dir.join("cmd.out"), dir.join("cmd.err"));
        let status = self
            .command(args)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(std::fs::File::create(&err).unwrap())
            .status()
            .unwrap_or_else(|e| panic!("{}: run {args:?}: {e}", self.name));
        let code = status.code().unwrap_or(-1);
        (code, std::fs::read_to_string(err).unwrap_or_default())
    }

    /// The directory of the bundle's files (`cmd.out` holds the last command's stdout).
    pub(crate) fn bundle_path(&self) -> &std::path::Path {
        self.bundle.path()
    }

    pub(crate) fn ok(&self, args: &[&str]) {
        let (code, err) = self.run(args);
        assert_eq!(code, 0, "{}: setup {args:?}: {err}", self.name);
    }

    pub(crate) fn status(&self) -> String {
        self.run(&["state", "ID"]);
        let out = std::fs::read(self.bundle.path().join("cmd.out")).unwrap_or_default();
        let state: serde_json::Value = serde_json::from_slice(&out).unwrap_or_default();
        state["status"].as_str().unwrap_or_default().to_string()
    }

    pub(crate) fn setup(&self, setup: Setup) {
        if setup == Setup::Nothing {
            return;
        }
        self.ok(&["create", "-b", "BUNDLE", "ID"]);
        if setup == Setup::Created {
            return;
        }
        self.ok(&["start", "ID"]);
        if setup == Setup::Paused {
            self.ok(&["pause", "ID"]);
        }
        if setup == Setup::Stopped {
            self.ok(&["kill", "ID", "KILL"]);
            hull_tests::wait_until("container stopped", || self.status() == "stopped");
        }
    }
}

impl Drop for Runtime<'_> {
    fn drop(&mut self) {
        let _ = self.run(&["delete", "--force", "ID"]);
    }
}

fn check(name: &str, case: &Case) {
    require_root!();
    let mut b = Bundle::new();
    b.args(&["sleep", "1000"]);
    b.write();
    for rt in runtimes(&b, name) {
        let rt_name = rt.name;
        rt.setup(case.setup);
        let (code, err) = rt.run(case.args);
        let what = format!("{rt_name} {:?} after {}", case.args, setup_name(case.setup));
        assert_eq!(code, case.exit, "{what}: exit code; stderr: {err}");
        assert!(
            err.contains(case.text),
            "{what}: stderr lacks {:?}: {err}",
            case.text
        );
        if code != 0 {
            assert!(
                err.contains("error"),
                "{what}: stderr lacks \"error\": {err}"
            );
        }
        if case.setup != Setup::Nothing && case.exit != 0 {
            // A refused operation leaves the container as it was (runtime-tools checks this).
            assert!(!rt.status().is_empty(), "{what}: the container is gone");
        }
    }
}

/// runc (when installed) and hull-runtime, each with its own state root and the id
/// `ec-<name>-<pid>`.
pub(crate) fn runtimes<'a>(b: &'a Bundle, name: &str) -> Vec<Runtime<'a>> {
    let hull = vec![
        hull_bin().to_string_lossy().into_owned(),
        "runtime".to_string(),
    ];
    let mut list = vec![("hull-runtime", hull)];
    match which("runc") {
        Some(runc) => list.insert(0, ("runc", vec![runc])),
        None => eprintln!("skipped: {name} against runc (runc is not installed)"),
    }
    list.into_iter()
        .map(|(rt_name, program)| Runtime {
            name: rt_name,
            program,
            root: b.path().join(format!("state-{rt_name}")),
            id: format!("ec-{name}-{}", std::process::id()),
            bundle: b,
        })
        .collect()
}

fn setup_name(s: Setup) -> &'static str {
    match s {
        Setup::Nothing => "nothing",
        Setup::Created => "create",
        Setup::Running => "create, start",
        Setup::Paused => "create, start, pause",
        Setup::Stopped => "create, start, kill",
    }
}

fn which(program: &str) -> Option<String> {
    let path = std::env::var("PATH").unwrap_or_default();
    path.split(':')
        .map(|d| Path::new(d).join(program))
        .find(|p| p.is_file())
        .map(|p| p.to_string_lossy().into_owned())
}
