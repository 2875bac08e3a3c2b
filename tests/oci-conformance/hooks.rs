//! Hooks (config.md, runtime.md): order, the state on stdin and the env of each kind (checked
//! against runc too, with runc 1.1's known differences named), and which failure fails which
//! command.

use hull_tests::require_root;
use serde_json::{json, Value};

use crate::bundle::{text, Bundle};
use crate::error_contract::{runtimes, Setup};

const KINDS: [&str; 6] = [
    "prestart",
    "createRuntime",
    "createContainer",
    "startContainer",
    "poststart",
    "poststop",
];

/// The status each hook must see on stdin: `created` for prestart (runtime-tools'
/// hooks_stdin), `creating` for the two create hooks and `created` for startContainer (runc),
/// `running` for poststart and `stopped` for poststop.
const STATUS: [&str; 6] = [
    "created", "creating", "creating", "created", "running", "stopped",
];

/// What runc 1.1 (Debian 12's) does differently: prestart sees `creating`, and poststart runs
/// during `create` (seeing `created`), not after the program started; runc 1.2 moved it. (Its
/// startContainer env differs too, see below.)
fn runc_1_1(kind: &str, status: &'static str) -> &'static str {
    match kind {
        "prestart" => "creating",
        "poststart" => "created",
        _ => status,
    }
}

/// A bundle whose hooks save their stdin to `<kind>.json` and append `<kind> $HOOK_ENV` to
/// `order`; every hook but startContainer has `env` HOOK_ENV=<kind>, startContainer has none
/// and must get the process's (HOOK_ENV=from-process).
fn hook_bundle() -> (Bundle, std::path::PathBuf) {
    let mut b = Bundle::new();
    let hooks_dir = b.path().join("hooks");
    std::fs::create_dir(&hooks_dir).unwrap();
    let hook = |kind: &str| {
        let script = format!(
            "cat > {0}/$KIND.json; echo $KIND $HOOK_ENV >> {0}/order",
            hooks_dir.display()
        );
        let env = match kind {
            "startContainer" => json!([]),
            _ => json!([format!("HOOK_ENV={kind}")]),
        };
        json!({"path": "/bin/sh", "args": ["sh", "-c", script.replace("$KIND", kind)],
            "env": env, "timeout": 10})
    };
    b.config["hooks"] = KINDS
        .iter()
        .map(|k| (k.to_string(), json!([hook(k)])))
        .collect();
    let env = b.config["process"]["env"].as_array_mut().unwrap();
    env.push(json!("HOOK_ENV=from-process"));
    // startContainer runs in the container: the hooks dir must be there at the same path.
    let mut mounts = b.config["mounts"].as_array().unwrap().clone();
    mounts.push(
        json!({"destination": hooks_dir, "type": "bind", "source": hooks_dir,
        "options": ["rbind", "rw"]}),
    );
    b.config["mounts"] = json!(mounts);
    let user = format!("echo user >> {}/order", hooks_dir.display());
    b.args(&["sh", "-c", &user]);
    b.write();
    (b, hooks_dir)
}

#[test]
fn hooks_run_in_order_with_the_state_and_env_the_spec_gives() {
    require_root!();
    let (b, hooks_dir) = hook_bundle();
    let log = hooks_dir.join("order");
    for rt in runtimes(&b, "hooks") {
        let _ = std::fs::remove_file(&log);
        let runc = rt.name == "runc";
        rt.setup(Setup::Created);
        let mut want_created = vec!["prestart prestart", "createRuntime createRuntime"];
        want_created.push("createContainer createContainer");
        if runc {
            want_created.push("poststart poststart");
        }
        let created = std::fs::read_to_string(&log).unwrap();
        assert_eq!(
            created.lines().collect::<Vec<_>>(),
            want_created,
            "{}",
            rt.name
        );
        rt.ok(&["start", "ID"]);
        hull_tests::wait_until("stopped", || rt.status() == "stopped");
        rt.ok(&["delete", "ID"]);
        let mut got: Vec<String> = std::fs::read_to_string(&log)
            .unwrap()
            .lines()
            .map(String::from)
            .collect();
        // The program and poststart race (poststart runs once init exec'd the program).
        if got.get(4).map(String::as_str) == Some("poststart poststart") {
            got.swap(4, 5);
        }
        let mut want = want_created.clone();
        // runc 1.1 runs a startContainer hook without env with an empty environment; runc
        // 1.3 gives it the process's, as youki's contest (start_container_env) expects.
        match runc {
            true => want.extend(["startContainer", "user"]),
            false => want.extend(["startContainer from-process", "user"]),
        }
        if !runc {
            want.push("poststart poststart");
        }
        want.push("poststop poststop");
        assert_eq!(got, want, "{}", rt.name);
        for (kind, status) in KINDS.iter().zip(STATUS) {
            let path = hooks_dir.join(format!("{kind}.json"));
            let st: Value = serde_json::from_slice(&std::fs::read(path).unwrap())
                .unwrap_or_else(|e| panic!("{}: {kind}: state on stdin: {e}", rt.name));
            let status = if runc { runc_1_1(kind, status) } else { status };
            assert_eq!(st["status"], status, "{}: {kind}: {st}", rt.name);
            assert_eq!(st["id"], rt.id.as_str(), "{}: {kind}", rt.name);
            assert_eq!(
                st["bundle"],
                b.bundle().to_str().unwrap(),
                "{}: {kind}",
                rt.name
            );
            if *kind != "poststop" {
                assert!(st["pid"].as_i64().unwrap() > 0, "{}: {kind}: {st}", rt.name);
            }
        }
    }
}

#[test]
fn a_failing_create_hook_aborts_create_and_cleans_up() {
    require_root!();
    let mut b = Bundle::new();
    b.args(&["sleep", "1000"]);
    for kind in ["createRuntime", "createContainer"] {
        b.config["hooks"] = json!({kind: [{"path": "/bin/sh",
            "args": ["sh", "-c", "echo nope >&2; exit 3"]}]});
        b.write();
        let id = b.id(kind);
        let bundle = b.bundle();
        let out = b.output(&["create", "-b", bundle.to_str().unwrap(), &id]);
        assert!(!out.status.success(), "{kind}: create succeeded");
        let err = text(&out.stderr);
        assert!(err.contains(kind) && err.contains("nope"), "{kind}: {err}");
        assert!(!b.root().join(&id).exists(), "{kind}: state left behind");
    }
    // A hook past its timeout is killed and fails create too.
    b.config["hooks"] =
        json!({"prestart": [{"path": "/bin/sleep", "args": ["sleep", "100"], "timeout": 1}]});
    let out = b.run_output("timeout");
    assert!(
        text(&out.stderr).contains("timeout"),
        "{}",
        text(&out.stderr)
    );
    // A failing poststart fails run (see a_failing_poststart_hook_stops_the_rest_and_the_container).
    b.config["hooks"] = json!({"poststart": [{"path": "/bin/false"}]});
    b.args(&["sleep", "1000"]);
    let out = b.run_output("poststart");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("poststart"),
        "{}",
        text(&out.stderr)
    );
}

/// A failing poststart hook stops the hooks after it and the container, and fails the command
/// that runs it: the runtime-spec says so since it followed runc (runtime-spec PR 1262: "generate
/// an error, stop the container"), and youki's contest (poststart_fail) checks it. hull runs
/// poststart in `start`, as the spec orders it; runc 1.1 runs it in `create`, which fails and
/// removes the container.
#[test]
fn a_failing_poststart_hook_stops_the_rest_and_the_container() {
    require_root!();
    let mut b = Bundle::new();
    b.args(&["sleep", "1000"]);
    let log = b.path().join("poststart.log");
    let hook = |name: &str, code: i32| {
        json!({"path": "/bin/sh",
               "args": ["sh", "-c", format!("echo {name} >> {}; exit {code}", log.display())]})
    };
    b.config["hooks"] = json!({"poststart": [hook("h1", 0), hook("h2", 3), hook("h3", 0)]});
    b.write();
    for rt in runtimes(&b, "poststart-fail") {
        let _ = std::fs::remove_file(&log);
        let what = rt.name;
        let (code, err) = rt.run(&["create", "-b", "BUNDLE", "ID"]);
        if rt.name == "runc" {
            assert_eq!(code, 1, "{what}: create: {err}");
            assert_eq!(rt.status(), "", "{what}: the container is left");
        } else {
            assert_eq!(code, 0, "{what}: create: {err}");
            let (code, err) = rt.run(&["start", "ID"]);
            assert_eq!(code, 1, "{what}: start: {err}");
            assert!(
                err.contains("poststart") && err.contains("exit"),
                "{what}: {err}"
            );
            assert_eq!(err.lines().count(), 1, "{what}: {err}");
            hull_tests::wait_until("stopped", || rt.status() == "stopped");
            let (code, err) = rt.run(&["delete", "ID"]);
            assert_eq!(code, 0, "{what}: delete: {err}");
        }
        let ran = std::fs::read_to_string(&log).unwrap_or_default();
        assert_eq!(ran, "h1\nh2\n", "{what}: the hooks that ran");
    }
}

#[test]
fn a_failing_start_container_hook_fails_a_separate_start() {
    require_root!();
    let mut b = Bundle::new();
    b.args(&["sh", "-c", "echo ran > /ran"]);
    // startContainer hooks run in the container, so the hook is a program of the rootfs.
    b.config["hooks"] = json!({"startContainer": [{"path": "/bin/sh",
        "args": ["sh", "-c", "echo start-hook-nope >&2; exit 3"]}]});
    let id = b.create("starthook", &[]);
    let out = b.output(&["start", &id]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("startContainer") && err.contains("start-hook-nope"),
        "{err}"
    );
    assert!(!b.bundle().join("rootfs/ran").exists(), "the program ran");
    hull_tests::wait_until("init to exit", || b.state(&id)["status"] == "stopped");
    b.ok(&["delete", &id]);

    // A passing hook lets the program run; start still returns promptly.
    b.config["hooks"] = json!({"startContainer": [{"path": "/bin/true"}]});
    std::os::unix::fs::symlink("busybox", b.bundle().join("rootfs/bin/true")).unwrap();
    let id = b.create("starthook-ok", &[]);
    b.ok(&["start", &id]);
    hull_tests::wait_until("the program to run", || {
        b.bundle().join("rootfs/ran").exists()
    });
}

/// Which failing hook fails which command, for each runtime: a failing prestart fails `create`
/// and leaves nothing, a failing poststop only warns (both runtimes); a failing poststart fails
/// `start` and stops the container, and a failing startContainer fails `start`: there runc 1.1
/// differs, named below.
#[test]
fn which_failing_hook_fails_which_command() {
    require_root!();
    for kind in ["prestart", "startContainer", "poststart", "poststop"] {
        let mut b = Bundle::new();
        b.args(&["sh", "-c", "echo ran > /ran"]);
        b.config["hooks"] = json!({kind: [{"path": "/bin/sh",
            "args": ["sh", "-c", format!("echo {kind}-failed >&2; exit 3")]}]});
        b.write();
        for rt in runtimes(&b, &format!("fail-{kind}")) {
            let _ = std::fs::remove_file(b.bundle().join("rootfs/ran"));
            let runc = rt.name == "runc";
            let what = format!("{}: failing {kind}", rt.name);
            let (code, err) = rt.run(&["create", "-b", "BUNDLE", "ID"]);
            // runc 1.1 runs poststart during create and fails it.
            if kind == "prestart" || (runc && kind == "poststart") {
                assert_ne!(code, 0, "{what}: create succeeded");
                assert!(
                    err.contains(&format!("{kind}-failed")) || runc,
                    "{what}: {err}"
                );
                assert_eq!(rt.status(), "", "{what}: the container is left");
                continue;
            }
            assert_eq!(code, 0, "{what}: create: {err}");
            let (code, err) = rt.run(&["start", "ID"]);
            match kind {
                // runtime.md step 7: generate an error; runc 1.1's start has returned by then.
                "startContainer" if !runc => assert_eq!(code, 1, "{what}: start: {err}"),
                // The program runs before poststart, which then stops it.
                "poststart" => assert!(
                    code == 1 && err.contains("poststart-failed"),
                    "{what}: {err}"
                ),
                _ => assert_eq!(code, 0, "{what}: start: {err}"),
            }
            hull_tests::wait_until("stopped", || rt.status() == "stopped");
            let ran = b.bundle().join("rootfs/ran").exists();
            if kind != "poststart" {
                assert_eq!(
                    ran,
                    kind != "startContainer",
                    "{what}: did the program run?"
                );
            }
            let (code, err) = rt.run(&["delete", "ID"]);
            assert_eq!(rt.status(), "", "{what}: delete left the container");
            match kind {
                // The spec: a warning (runc 1.1 logs an error line but exits 0 too).
                "poststop" => assert!(
                    code == 0 && err.contains("poststop-failed"),
                    "{what}: {err}"
                ),
                _ => assert_eq!(code, 0, "{what}: delete: {err}"),
            }
        }
    }
}

/// A hook runs with its `args` as argv (args[0] included) and is killed at its `timeout`,
/// failing `create` well before the hook would have ended; both runtimes.
#[test]
fn hook_args_and_timeout_are_honoured() {
    require_root!();
    let mut b = Bundle::new();
    b.args(&["sleep", "1000"]);
    let argv_file = b.path().join("argv");
    // argv[0] from /proc (sh -c's $0 is the first argument after the script).
    let script = format!(
        "echo \"$(head -c 12 /proc/$$/cmdline) $0\" > {}",
        argv_file.display()
    );
    b.config["hooks"] = json!({"createRuntime": [{"path": "/bin/sh",
        "args": ["custom-argv0", "-c", script, "first-arg"]}],
        "createContainer": [{"path": "/bin/sleep", "args": ["sleep", "100"], "timeout": 1}]});
    b.write();
    for rt in runtimes(&b, "hook-timeout") {
        let _ = std::fs::remove_file(&argv_file);
        let started = std::time::Instant::now();
        let (code, err) = rt.run(&["create", "-b", "BUNDLE", "ID"]);
        let took = started.elapsed();
        assert_ne!(code, 0, "{}: create succeeded", rt.name);
        assert!(took.as_secs() < 20, "{}: create took {took:?}", rt.name);
        assert!(err.contains("timeout"), "{}: {err}", rt.name);
        assert_eq!(rt.status(), "", "{}: the container is left", rt.name);
        let argv = std::fs::read_to_string(&argv_file).unwrap_or_default();
        assert_eq!(argv, "custom-argv0 first-arg\n", "{}", rt.name);
    }
}

/// A bundle whose program runs `program` and whose poststart hook appends `poststart` to the
/// rootfs' `order` file (the program writes there as `/order`).
fn poststart_bundle(program: &str) -> (Bundle, std::path::PathBuf) {
    let mut b = Bundle::new();
    let order = b.bundle().join("rootfs/order");
    let hook = format!("echo poststart >> {}", order.display());
    b.config["hooks"] = json!({"poststart": [{"path": "/bin/sh", "args": ["sh", "-c", hook]}]});
    b.args(&["sh", "-c", program]);
    b.write();
    (b, order)
}

/// poststart runs once the program reached its first wait, so what the program does before it
/// blocks or exits comes before the hook (runtime-tools' poststart checks the program's write
/// is first). The program first counts for ~50 ms without a syscall, so a hook run right after
/// the execve would win every round. runc 1.1 runs poststart during `create`, before the program.
/// The count follows HULL_TEST_SCALE: under a VM's software emulation the full count nears the
/// runtime's 1 s bound, after which the hook runs anyway.
#[test]
fn poststart_runs_after_the_program_got_going() {
    require_root!();
    let n = hull_tests::scaled(20000);
    let count = format!("i=0; while [ $i -lt {n} ]; do i=$((i+1)); done");
    let (b, order) = poststart_bundle(&format!("{count}; echo program >> /order"));
    for rt in runtimes(&b, "poststart-order") {
        let want = match rt.name {
            "runc" => "poststart\nprogram\n",
            _ => "program\npoststart\n",
        };
        for round in 0..5 {
            let _ = std::fs::remove_file(&order);
            rt.setup(Setup::Created);
            rt.ok(&["start", "ID"]);
            hull_tests::wait_until("stopped", || rt.status() == "stopped");
            rt.ok(&["delete", "ID"]);
            let got = std::fs::read_to_string(&order).unwrap_or_default();
            assert_eq!(got, want, "{}: round {round}", rt.name);
        }
    }
}

/// That wait is bounded: a program that never blocks still gets its poststart hook, and `start`
/// returns within a few seconds.
#[test]
fn poststart_waits_a_bounded_time_for_a_program_that_never_blocks() {
    require_root!();
    let (b, order) = poststart_bundle("while :; do :; done");
    for rt in runtimes(&b, "poststart-busy") {
        let _ = std::fs::remove_file(&order);
        rt.setup(Setup::Created);
        let t0 = std::time::Instant::now();
        rt.ok(&["start", "ID"]);
        let took = t0.elapsed();
        assert!(
            took < std::time::Duration::from_secs(5),
            "{}: start took {took:?}",
            rt.name
        );
        let got = std::fs::read_to_string(&order).unwrap_or_default();
        assert_eq!(got, "poststart\n", "{}", rt.name);
        rt.ok(&["kill", "ID", "KILL"]);
        hull_tests::wait_until("stopped", || rt.status() == "stopped");
    }
}
