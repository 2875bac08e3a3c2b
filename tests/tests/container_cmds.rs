//! The commands that look into a container: inspect, top, stats, cp and export.

use hull_tests::{fixture, require_root, Hull};

fn busybox() -> String {
    format!("{}/busybox:latest", fixture("HULL_TEST_REGISTRY"))
}

/// `hull rm -f` of the container when the test ends, passing or failing.
struct Removed<'a>(&'a Hull, String);

impl Drop for Removed<'_> {
    fn drop(&mut self) {
        let _ = self.0.run(&["rm", "-f", &self.1]);
    }
}

/// `hull run -d FLAGS… busybox CMD…`; returns the ID with its guard.
fn detach<'a>(h: &'a Hull, flags: &[&str], cmd: &[&str]) -> Removed<'a> {
    let image = busybox();
    let mut argv = vec!["run", "-d"];
    argv.extend_from_slice(flags);
    argv.push(&image);
    argv.extend_from_slice(cmd);
    let id = h.ok(&argv).trim().to_string();
    assert_eq!(id.len(), 64, "{id:?}");
    Removed(h, id)
}

#[test]
fn inspect_format_picks_docker_fields() {
    require_root!();
    let h = Hull::new();
    let c = detach(
        &h,
        &["--name", "insp2", "-e", "A=1", "--memory", "32m"],
        &["sleep", "100"],
    );
    let f = |t: &str| h.ok(&["inspect", "-f", t, "insp2"]).trim().to_string();
    assert_eq!(f("{{.State.Status}}"), "running");
    assert_eq!(f("{{.State.Running}}"), "true");
    assert_eq!(f("{{.Name}}"), "/insp2");
    assert_eq!(f("{{.Id}}"), c.1);
    assert_eq!(f("{{.HostConfig.Memory}}"), (32 << 20).to_string());
    assert_eq!(f("{{json .Config.Cmd}}"), r#"["sleep","100"]"#);
    let pid: i32 = f("{{.State.Pid}}").parse().unwrap();
    assert!(pid > 0);
    let env = f("{{json .Config.Env}}");
    assert!(env.contains("\"A=1\""), "{env}");
    let v: serde_json::Value = serde_json::from_str(&h.ok(&["inspect", "insp2"])).unwrap();
    assert_eq!(v[0]["HostConfig"]["NetworkMode"], "none");
    h.ok(&["kill", "insp2"]);
    h.ok(&["wait", "insp2"]);
    assert_eq!(f("{{.State.Status}}"), "exited");
    assert_eq!(f("{{.State.ExitCode}}"), "137");
}
