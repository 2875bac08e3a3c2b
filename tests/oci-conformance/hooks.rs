//! Hooks (config.md, runtime.md): order and the state on stdin, and a failing createRuntime or
//! startContainer hook.

use hull_tests::require_root;
use serde_json::{json, Value};

use crate::bundle::{text, Bundle};

#[test]
fn hooks_run_in_order_with_the_state_on_stdin() {
    require_root!();
    let mut b = Bundle::new();
    let hooks_dir = b.path().join("hooks");
    std::fs::create_dir(&hooks_dir).unwrap();
    let log = hooks_dir.join("order");
    let hook = |kind: &str| {
        json!({"path": "/bin/sh", "args": ["sh", "-c",
            format!("cat > {0}/{kind}.json; echo {kind} $HOOK_ENV >> {0}/order", hooks_dir.display())],
            "env": ["HOOK_ENV=yes"], "timeout": 10})
    };
    let kinds = [
        "prestart",
        "createRuntime",
        "createContainer",
        "startContainer",
        "poststart",
        "poststop",
    ];
    b.config["hooks"] = kinds
        .iter()
        .map(|k| (k.to_string(), json!([hook(k)])))
        .collect();
    // startContainer runs in the container: the hooks dir must be there at the same path.
    let mut mounts = b.config["mounts"].as_array().unwrap().clone();
    mounts.push(
        json!({"destination": hooks_dir, "type": "bind", "source": hooks_dir,
                       "options": ["rbind", "rw"]}),
    );
    b.config["mounts"] = json!(mounts);
    b.args(&[
        "sh",
        "-c",
        format!("echo user >> {}", log.display()).as_str(),
    ]);
    let id = b.create("hooks", &[]);
    let created = std::fs::read_to_string(&log).unwrap();
    assert_eq!(
        created,
        "prestart yes\ncreateRuntime yes\ncreateContainer yes\n"
    );
    b.ok(&["start", &id]);
    hull_tests::wait_until("user process", || {
        std::fs::read_to_string(&log).unwrap().contains("user")
    });
    hull_tests::wait_until("stopped", || b.state(&id)["status"] == "stopped");
    b.ok(&["delete", &id]);
    let order: Vec<String> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|l| l.split(' ').next().unwrap().to_string())
        .collect();
    // The user process and poststart race (poststart runs once start released init).
    let mut want: Vec<&str> = kinds.to_vec();
    want.insert(4, "user");
    let mut got = order.clone();
    if got.get(4).map(String::as_str) == Some("poststart") {
        got.swap(4, 5);
    }
    assert_eq!(got, want, "{order:?}");
    for k in kinds {
        let st: Value =
            serde_json::from_slice(&std::fs::read(hooks_dir.join(format!("{k}.json"))).unwrap())
                .unwrap_or_else(|e| panic!("{k}: state on stdin: {e}"));
        assert_eq!(st["id"], id.as_str(), "{k}");
        assert!(st["pid"].as_i64().unwrap() > 0, "{k}");
    }
    let poststop: Value =
        serde_json::from_slice(&std::fs::read(hooks_dir.join("poststop.json")).unwrap()).unwrap();
    assert_eq!(poststop["status"], "stopped");
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
    // A failing poststart only warns.
    b.config["hooks"] = json!({"poststart": [{"path": "/bin/false"}]});
    b.args(&["echo", "ran"]);
    let out = b.run_output("poststart");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("warning"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(text(&out.stdout), "ran\n");
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
