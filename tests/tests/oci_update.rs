//! `hull-runtime update` on a busybox bundle: new limits reach the cgroup files of a running
//! and of a paused container, are kept in the state for the next update, and a stopped or
//! unknown container is refused as runc refuses it. Where runc is installed the same steps run
//! against it, with the same expectations. The cgroup files are read where the host's version
//! keeps them (v1 per controller, v2 in one directory).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use hull_tests::{hull_bin, require_root};
use serde_json::Value;

/// A runtime binary under test, with its own --root, a bundle, and the containers to delete.
struct Rt {
    name: &'static str,
    dir: tempfile::TempDir,
    ids: Vec<String>,
}

impl Rt {
    fn new(name: &'static str) -> Rt {
        let dir = tempfile::tempdir().expect("temp dir");
        hull_tests::busybox_rootfs(&dir.path().join("bundle/rootfs"), &["sh", "sleep", "true"]);
        Rt {
            name,
            dir,
            ids: Vec::new(),
        }
    }

    /// hull-runtime, and runc where it is installed.
    fn all() -> Vec<Rt> {
        let mut v = vec![Rt::new("hull")];
        match Command::new("runc").arg("--version").output() {
            Ok(o) if o.status.success() => v.push(Rt::new("runc")),
            _ => eprintln!("skipped: the runc comparison (runc is not installed)"),
        }
        v
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = match self.name {
            "hull" => {
                let mut c = Command::new(hull_bin());
                c.arg("runtime");
                c
            }
            other => Command::new(other),
        };
        c.arg("--root")
            .arg(self.dir.path().join("state"))
            .args(args);
        c.stdin(Stdio::null());
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run the runtime")
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{} {args:?}: {err}", self.name);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `update -r -` with `json` on stdin, as containerd's shim calls it.
    fn update_json(&self, id: &str, json: &str) {
        let mut child = self
            .command(&["update", "--resources=-", id])
            .stdin(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn update");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(json.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{} update -r -: {err}", self.name);
    }

    /// Runs `args` detached in a new container with its cgroup at `cgroup_path(id)`.
    fn start(&mut self, name: &str, args: &[&str]) -> String {
        let id = format!("upd-{name}-{}-{}", self.name, std::process::id());
        self.ids.push(id.clone());
        let bundle = self.dir.path().join("bundle");
        let _ = std::fs::remove_file(bundle.join("config.json"));
        Command::new(hull_bin())
            .args(["runtime", "spec", "--bundle"])
            .arg(&bundle)
            .status()
            .expect("hull runtime spec");
        let path = bundle.join("config.json");
        let mut c: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        c["process"]["terminal"] = Value::Bool(false);
        c["process"]["args"] = args.iter().map(|a| Value::from(*a)).collect();
        c["linux"]["cgroupsPath"] = Value::from(cgroup_path(&id));
        std::fs::write(&path, serde_json::to_vec_pretty(&c).unwrap()).unwrap();
        let status = self
            .command(&["run", "-d", "-b", bundle.to_str().unwrap(), &id])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("run -d");
        assert!(status.success(), "{} run -d {id}", self.name);
        id
    }

    fn status(&self, id: &str) -> String {
        let st: Value = serde_json::from_str(&self.ok(&["state", id])).expect("state JSON");
        st["status"].as_str().unwrap_or_default().to_string()
    }

    fn wait_stopped(&self, id: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.status(id) != "stopped" {
            assert!(Instant::now() < deadline, "{id} did not stop");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Rt {
    fn drop(&mut self) {
        for id in &self.ids {
            let _ = self.run(&["resume", id]);
            let _ = self.run(&["delete", "--force", id]);
        }
    }
}

fn cgroup_path(id: &str) -> String {
    format!("/hull-test-{id}")
}

fn is_v2() -> bool {
    Path::new("/sys/fs/cgroup/cgroup.controllers").exists()
}

/// The file holding `v2_file` (on v2) or `v1_file` of `controller` (on v1) for container `id`.
fn knob(id: &str, controller: &str, v1_file: &str, v2_file: &str) -> PathBuf {
    let base = PathBuf::from("/sys/fs/cgroup");
    let rel = cgroup_path(id);
    match is_v2() {
        true => base.join(&rel[1..]).join(v2_file),
        false => base.join(controller).join(&rel[1..]).join(v1_file),
    }
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p)
        .unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
        .trim()
        .to_string()
}

fn memory_limit(id: &str) -> String {
    read(&knob(id, "memory", "memory.limit_in_bytes", "memory.max"))
}

fn pids_max(id: &str) -> String {
    read(&knob(id, "pids", "pids.max", "pids.max"))
}

/// (quota, period) as the kernel shows them: v1's two files, or v2's `cpu.max`.
fn cpu_max(id: &str) -> (String, String) {
    if is_v2() {
        let line = read(&knob(id, "cpu", "", "cpu.max"));
        let (q, p) = line.split_once(' ').expect("cpu.max: quota period");
        return (q.to_string(), p.to_string());
    }
    let q = read(&knob(id, "cpu", "cpu.cfs_quota_us", ""));
    (q, read(&knob(id, "cpu", "cpu.cfs_period_us", "")))
}

#[test]
fn update_sets_memory_cpu_and_pids_and_keeps_them_for_the_next_update() {
    require_root!();
    for mut rt in Rt::all() {
        let id = rt.start("run", &["sleep", "1000"]);
        rt.ok(&[
            "update",
            "--memory",
            "64M",
            "--cpu-quota",
            "50000",
            "--pids-limit",
            "20",
            &id,
        ]);
        assert_eq!(memory_limit(&id), (64 << 20).to_string(), "{}", rt.name);
        assert_eq!(cpu_max(&id).0, "50000", "{}", rt.name);
        assert_eq!(pids_max(&id), "20", "{}", rt.name);
        // A later update of the period alone keeps the quota (v2 writes both in cpu.max).
        rt.ok(&["update", "--cpu-period", "200000", &id]);
        let want = ("50000".to_string(), "200000".to_string());
        assert_eq!(cpu_max(&id), want, "{}", rt.name);
        assert_eq!(memory_limit(&id), (64 << 20).to_string(), "{}", rt.name);
        // containerd's form: JSON on stdin.
        rt.update_json(&id, r#"{"memory":{"limit":33554432},"pids":{"limit":30}}"#);
        assert_eq!(memory_limit(&id), (32 << 20).to_string(), "{}", rt.name);
        assert_eq!(pids_max(&id), "30", "{}", rt.name);
        assert_eq!(rt.status(&id), "running");
        if rt.name == "hull" {
            let state = rt.dir.path().join("state").join(&id).join("state.json");
            let st: Value = serde_json::from_slice(&std::fs::read(state).unwrap()).unwrap();
            let r = &st["resources"];
            assert_eq!(r["memory"]["limit"], 32 << 20, "{st}");
            assert_eq!(r["cpu"]["quota"], 50000, "{st}");
            assert_eq!(r["cpu"]["period"], 200000, "{st}");
            assert_eq!(r["pids"]["limit"], 30, "{st}");
        }
    }
}

#[test]
fn update_reaches_a_paused_container_and_leaves_it_paused() {
    require_root!();
    for mut rt in Rt::all() {
        let id = rt.start("paused", &["sleep", "1000"]);
        rt.ok(&["pause", &id]);
        rt.ok(&["update", "--memory", "48M", "--pids-limit", "7", &id]);
        assert_eq!(memory_limit(&id), (48 << 20).to_string(), "{}", rt.name);
        assert_eq!(pids_max(&id), "7", "{}", rt.name);
        assert_eq!(rt.status(&id), "paused", "{}", rt.name);
        rt.ok(&["resume", &id]);
        assert_eq!(rt.status(&id), "running", "{}", rt.name);
    }
}

#[test]
fn update_of_a_stopped_or_unknown_container_fails_as_in_runc() {
    require_root!();
    for mut rt in Rt::all() {
        let id = rt.start("stopped", &["true"]);
        rt.wait_stopped(&id);
        let out = rt.run(&["update", "--memory", "64M", &id]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{}: {err}", rt.name);
        assert!(err.contains("container not running"), "{}: {err}", rt.name);
        let out = rt.run(&["update", "--memory", "64M", "no-such-container"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{}: {err}", rt.name);
        assert!(err.contains("does not exist"), "{}: {err}", rt.name);
    }
}

#[test]
fn an_update_that_fails_changes_nothing() {
    require_root!();
    let mut rt = Rt::new("hull");
    let id = rt.start("refused", &["sleep", "1000"]);
    rt.ok(&["update", "--memory", "64M", "--pids-limit", "5", &id]);
    let fails = |args: &[&str], word: &str| {
        let out = rt.run(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains(word), "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
    };
    // One byte is below a page: refused before any file is written.
    fails(
        &["update", "--memory", "1", "--pids-limit", "9", &id],
        "memory",
    );
    fails(&["update", "--memory", "lots", &id], "lots");
    // The kernel refuses CPU 4095 after the memory limit was written: it is put back.
    fails(
        &["update", "--memory", "32M", "--cpuset-cpus", "4095", &id],
        "cpuset.cpus",
    );
    assert_eq!(memory_limit(&id), (64 << 20).to_string());
    assert_eq!(pids_max(&id), "5");
    let state = rt.dir.path().join("state").join(&id).join("state.json");
    let st: Value = serde_json::from_slice(&std::fs::read(state).unwrap()).unwrap();
    assert_eq!(st["resources"]["memory"]["limit"], 64 << 20, "{st}");
    assert!(st["resources"]["cpu"].is_null(), "{st}");
}

/// memory+swap as the kernel shows it: v1's memsw limit, or v2's memory + swap.max.
fn memory_and_swap(id: &str) -> Option<u64> {
    let file = knob(
        id,
        "memory",
        "memory.memsw.limit_in_bytes",
        "memory.swap.max",
    );
    let swap: u64 = std::fs::read_to_string(file).ok()?.trim().parse().ok()?;
    match is_v2() {
        true => Some(swap + memory_limit(id).parse::<u64>().ok()?),
        false => Some(swap),
    }
}

#[test]
fn memory_and_swap_go_up_and_down_together() {
    require_root!();
    for mut rt in Rt::all() {
        let id = rt.start("swap", &["sleep", "1000"]);
        if memory_and_swap(&id).is_none() && !is_v2() {
            eprintln!("skipped: memory+swap updates (the host has no swap accounting)");
            return;
        }
        // Each step needs the kernel's memsw >= limit at every write: lowering writes the
        // limit first, raising past the current limit the memsw first.
        for (mem, swap) in [(256, 512), (128, 192), (600, 1024)] {
            let (m, s) = (format!("{mem}M"), format!("{swap}M"));
            rt.ok(&["update", "--memory", &m, "--memory-swap", &s, &id]);
            assert_eq!(memory_limit(&id), (mem << 20).to_string(), "{}", rt.name);
            assert_eq!(memory_and_swap(&id), Some(swap << 20), "{}", rt.name);
        }
    }
}
