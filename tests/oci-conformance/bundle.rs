//! The harness every case uses: a bundle with its own state root, and the probe's output.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use hull_tests::{hull_bin, probe_path, unmount_below};
use serde_json::{json, Value};

/// A state root and a bundle; dropping it force-deletes the containers (hull's and runc's) and
/// unmounts leftovers.
pub(crate) struct Bundle {
    dir: tempfile::TempDir,
    ids: Vec<String>,
    runc_ids: Vec<String>,
    pub(crate) config: Value,
}

impl Bundle {
    pub(crate) fn new() -> Bundle {
        let dir = tempfile::tempdir().expect("temp dir");
        let rootfs = dir.path().join("bundle/rootfs");
        hull_tests::busybox_rootfs(
            &rootfs,
            &["sh", "echo", "sleep", "cat", "mkdir", "sync", "ls", "id"],
        );
        std::fs::copy(probe_path(), rootfs.join("probe")).expect("copy probe");
        let out = Command::new(hull_bin())
            .args(["runtime", "spec", "-b"])
            .arg(dir.path().join("bundle"))
            .output()
            .unwrap();
        assert!(out.status.success(), "spec: {}", text(&out.stderr));
        let path = dir.path().join("bundle/config.json");
        let mut config: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        config["process"]["terminal"] = json!(false);
        config["root"]["readonly"] = json!(false);
        Bundle {
            dir,
            ids: Vec::new(),
            runc_ids: Vec::new(),
            config,
        }
    }

    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }

    pub(crate) fn bundle(&self) -> PathBuf {
        self.path().join("bundle")
    }

    pub(crate) fn root(&self) -> PathBuf {
        self.path().join("state")
    }

    pub(crate) fn id(&mut self, name: &str) -> String {
        let id = format!("conf-{name}-{}", std::process::id());
        self.ids.push(id.clone());
        id
    }

    pub(crate) fn args(&mut self, args: &[&str]) -> &mut Bundle {
        self.config["process"]["args"] = json!(args);
        self
    }

    pub(crate) fn linux(&mut self, key: &str, v: Value) -> &mut Bundle {
        self.config["linux"][key] = v;
        self
    }

    pub(crate) fn write(&self) {
        let path = self.bundle().join("config.json");
        std::fs::write(path, serde_json::to_vec_pretty(&self.config).unwrap()).unwrap();
    }

    pub(crate) fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(hull_bin());
        c.arg("runtime").arg("--root").arg(self.root()).args(args);
        c.stdin(Stdio::null());
        c
    }

    pub(crate) fn output(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run hull runtime")
    }

    pub(crate) fn ok(&self, args: &[&str]) -> String {
        let out = self.output(args);
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
        text(&out.stdout)
    }

    /// `run` in the foreground: writes config.json, returns the output (which must succeed).
    pub(crate) fn run(&mut self, name: &str) -> String {
        let out = self.run_output(name);
        assert!(
            out.status.success(),
            "run {name}: {} {}",
            out.status,
            text(&out.stderr)
        );
        text(&out.stdout)
    }

    pub(crate) fn run_output(&mut self, name: &str) -> Output {
        self.write();
        let id = self.id(name);
        let bundle = self.bundle();
        self.output(&["run", "-b", bundle.to_str().unwrap(), &id])
    }

    /// `create` with stdio to files (the container inherits them), then returns the id.
    pub(crate) fn create(&mut self, name: &str, extra: &[&str]) -> String {
        self.write();
        let id = self.id(name);
        let bundle = self.bundle();
        let mut args = vec!["create", "-b", bundle.to_str().unwrap()];
        args.extend_from_slice(extra);
        args.push(&id);
        let out = self
            .command(&args)
            .stdout(std::fs::File::create(self.path().join(format!("{name}.out"))).unwrap())
            .stderr(std::fs::File::create(self.path().join(format!("{name}.err"))).unwrap())
            .status()
            .unwrap();
        let err = std::fs::read_to_string(self.path().join(format!("{name}.err"))).unwrap();
        assert!(out.success(), "create {name}: {err}");
        id
    }

    /// runc on the same bundle (config.json as last written), with its own state root; None,
    /// after a `skipped:` line, when runc is not installed.
    pub(crate) fn runc(&mut self, args: &[&str]) -> Option<Output> {
        if Command::new("runc").arg("--version").output().is_err() {
            println!("skipped: runc comparison (runc is not installed)");
            return None;
        }
        if let Some(id) = args.last().filter(|_| matches!(args[0], "run" | "create")) {
            self.runc_ids.push(id.to_string());
        }
        let mut c = Command::new("runc");
        c.arg("--root")
            .arg(self.path().join("runc-state"))
            .args(args);
        c.current_dir(self.bundle()).stdin(Stdio::null());
        if args[0] != "create" {
            return Some(c.output().expect("run runc"));
        }
        // The container inherits create's stdio: pipes would stay open while it lives.
        let (out, err) = (self.path().join("runc.out"), self.path().join("runc.err"));
        c.stdout(std::fs::File::create(&out).unwrap());
        c.stderr(std::fs::File::create(&err).unwrap());
        let status = c.status().expect("run runc");
        Some(Output {
            status,
            stdout: std::fs::read(out).unwrap_or_default(),
            stderr: std::fs::read(err).unwrap_or_default(),
        })
    }

    pub(crate) fn state(&self, id: &str) -> Value {
        serde_json::from_str(&self.ok(&["state", id])).expect("state JSON")
    }
}

impl Drop for Bundle {
    fn drop(&mut self) {
        for id in &self.ids {
            let _ = self.output(&["delete", "--force", id]);
        }
        for id in &self.runc_ids {
            let _ = Command::new("runc")
                .arg("--root")
                .arg(self.path().join("runc-state"))
                .args(["delete", "--force", id])
                .output();
        }
        unmount_below(self.dir.path());
    }
}

pub(crate) fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The probe's `key=value` lines (the last value of a repeated key wins; see `values`).
pub(crate) fn facts(out: &str) -> BTreeMap<String, String> {
    out.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

pub(crate) fn values(out: &str, key: &str) -> Vec<String> {
    out.lines()
        .filter_map(|l| l.split_once('='))
        .filter(|(k, _)| *k == key)
        .map(|(_, v)| v.to_string())
        .collect()
}

pub(crate) fn host_ns(name: &str) -> String {
    let link = std::fs::read_link(format!("/proc/self/ns/{name}")).unwrap();
    link.to_string_lossy().into_owned()
}

/// A capability set as /proc/<pid>/status shows it.
pub(crate) fn cap_mask(caps: &[u32]) -> String {
    format!("{:016x}", caps.iter().fold(0u64, |m, c| m | 1 << c))
}
