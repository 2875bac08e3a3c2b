//! `hull-runtime --systemd-cgroup` against runc's on the same bundle: the container's cgroup is
//! a transient scope `prefix-name.scope` in the slice of `linux.cgroupsPath` (`slice:prefix:name`,
//! a nested slice that did not exist before), with `Delegate=yes` and the limits as unit
//! properties that match the cgroup files; update, pause and resume work without the flag (the
//! driver is remembered), delete and a failed create leave no unit behind. Needs systemd as
//! PID 1 on pure cgroup v2 (the VM tier); elsewhere only the refusal is checked.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use hull_tests::{hull_bin, require_root};
use serde_json::Value;

/// Whether this host runs systemd on the unified hierarchy; None when it does, else why not.
fn no_systemd() -> Option<&'static str> {
    if !Path::new("/run/systemd/system").is_dir() {
        return Some("systemd is not running on this host (no /run/systemd/system)");
    }
    if !Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        return Some("the host is not on the unified cgroup hierarchy");
    }
    None
}

/// A runtime under test with its own --root and busybox bundle, and the slice its containers
/// go in (`hulltest-<runtime><pid>.slice`, below `hulltest.slice`: made on the fly).
struct Rt {
    name: &'static str,
    dir: tempfile::TempDir,
    slice: String,
    ids: Vec<String>,
}

impl Rt {
    fn new(name: &'static str, tag: &str) -> Rt {
        let dir = tempfile::tempdir().expect("temp dir");
        hull_tests::busybox_rootfs(&dir.path().join("bundle/rootfs"), &["sh", "sleep", "true"]);
        let slice = format!("hulltest-{name}{tag}{}.slice", std::process::id());
        Rt {
            name,
            dir,
            slice,
            ids: Vec::new(),
        }
    }

    /// hull-runtime, and runc where it is installed.
    fn all(tag: &str) -> Vec<Rt> {
        let mut v = vec![Rt::new("hull", tag)];
        match Command::new("runc").arg("--version").output() {
            Ok(o) if o.status.success() => v.push(Rt::new("runc", tag)),
            _ => eprintln!("skipped: the runc comparison (runc is not installed)"),
        }
        v
    }

    /// The runtime with `args`; `--systemd-cgroup` only where `systemd` says so.
    fn command(&self, systemd: bool, args: &[&str]) -> Command {
        let mut c = match self.name {
            "hull" => {
                let mut c = Command::new(hull_bin());
                c.arg("runtime");
                c
            }
            other => Command::new(other),
        };
        c.arg("--root").arg(self.dir.path().join("state"));
        if systemd {
            c.arg("--systemd-cgroup");
        }
        c.args(args).stdin(Stdio::null());
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(false, args).output().expect("run the runtime")
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{} {args:?}: {err}", self.name);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Writes the bundle's config: `args`, the cgroups path, `resources`, and `hooks`.
    fn bundle(&self, args: &[&str], cgroups_path: &str, resources: Value, hooks: Value) -> PathBuf {
        let bundle = self.dir.path().join("bundle");
        let _ = std::fs::remove_file(bundle.join("config.json"));
        let st = Command::new(hull_bin())
            .args(["runtime", "spec", "--bundle"])
            .arg(&bundle)
            .status()
            .expect("hull runtime spec");
        assert!(st.success());
        let path = bundle.join("config.json");
        let mut c: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        c["process"]["terminal"] = Value::Bool(false);
        c["process"]["args"] = args.iter().map(|a| Value::from(*a)).collect();
        c["linux"]["cgroupsPath"] = Value::from(cgroups_path);
        c["linux"]["resources"] = resources;
        if !hooks.is_null() {
            c["hooks"] = hooks;
        }
        std::fs::write(&path, serde_json::to_vec_pretty(&c).unwrap()).unwrap();
        bundle
    }

    /// The id, unit and cgroups path of a new container `name` in this runtime's slice.
    fn names(&mut self, name: &str) -> (String, String, String) {
        let id = format!("sd{name}{}{}", self.name, std::process::id());
        self.ids.push(id.clone());
        let unit = format!("hulltest-{id}.scope");
        (id.clone(), unit, format!("{}:hulltest:{id}", self.slice))
    }

    /// `run -d` with `--systemd-cgroup`; stderr through a file, which the container's process
    /// inherits too (a pipe would stay open as long as it runs).
    fn run_detached(&self, bundle: &Path, id: &str) -> Output {
        let b = bundle.to_str().unwrap();
        let log = self.dir.path().join(format!("{id}.stderr"));
        let file = std::fs::File::create(&log).expect("create stderr file");
        let status = self
            .command(true, &["run", "-d", "-b", b, id])
            .stdout(Stdio::null())
            .stderr(file)
            .status()
            .expect("run -d");
        let stderr = std::fs::read(&log).unwrap_or_default();
        Output {
            status,
            stdout: Vec::new(),
            stderr,
        }
    }

    fn status(&self, id: &str) -> String {
        let st: Value = serde_json::from_str(&self.ok(&["state", id])).expect("state JSON");
        st["status"].as_str().unwrap_or_default().to_string()
    }
}

impl Drop for Rt {
    fn drop(&mut self) {
        for id in &self.ids {
            let _ = self.run(&["resume", id]);
            let _ = self.run(&["delete", "--force", id]);
        }
        let _ = Command::new("systemctl")
            .args(["stop", &self.slice])
            .stderr(Stdio::null())
            .status();
    }
}

/// `systemctl show -p PROP --value UNIT`.
fn show(unit: &str, prop: &str) -> String {
    let out = Command::new("systemctl")
        .args(["show", "-p", prop, "--value", unit])
        .output()
        .expect("systemctl show");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Whether systemd still has `unit` (loaded, or remembered as failed).
fn unit_known(unit: &str) -> bool {
    let out = Command::new("systemctl")
        .args(["list-units", "--all", "--plain", "--no-legend", unit])
        .output()
        .expect("systemctl list-units");
    !String::from_utf8_lossy(&out.stdout).trim().is_empty()
}

fn read(dir: &Path, file: &str) -> String {
    let p = dir.join(file);
    std::fs::read_to_string(&p)
        .unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
        .trim()
        .to_string()
}

fn limits() -> Value {
    serde_json::json!({
        "memory": {"limit": 64 << 20, "reservation": 32 << 20},
        "cpu": {"shares": 512, "quota": 50000, "period": 100000, "cpus": "0"},
        "pids": {"limit": 50},
        "hugepageLimits": hugepages()
    })
}

/// A 4 MB limit of 2 MB pages where the host has them.
fn hugepages() -> Value {
    match Path::new("/sys/kernel/mm/hugepages/hugepages-2048kB").is_dir() {
        true => serde_json::json!([{"pageSize": "2MB", "limit": 4 << 20}]),
        false => serde_json::json!([]),
    }
}

#[test]
fn the_scope_carries_delegation_and_limits_and_goes_away_at_delete() {
    require_root!();
    if let Some(why) = no_systemd() {
        eprintln!("skipped: systemd cgroup driver ({why})");
        return;
    }
    for mut rt in Rt::all("a") {
        let who = rt.name;
        let (id, unit, path) = rt.names("life");
        let bundle = rt.bundle(&["sleep", "1000"], &path, limits(), Value::Null);
        let out = rt.run_detached(&bundle, &id);
        assert!(
            out.status.success(),
            "{who}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // The nested slice exists now, and the scope is in it.
        let cgroup = format!("/hulltest.slice/{}/{unit}", rt.slice);
        assert_eq!(show(&unit, "ControlGroup"), cgroup, "{who}");
        assert_eq!(show(&unit, "ActiveState"), "active", "{who}");
        assert_eq!(show(&unit, "Delegate"), "yes", "{who}");
        assert_eq!(show(&unit, "MemoryMax"), (64u64 << 20).to_string(), "{who}");
        assert_eq!(show(&unit, "MemoryLow"), (32u64 << 20).to_string(), "{who}");
        assert_eq!(show(&unit, "TasksMax"), "50", "{who}");
        assert_eq!(show(&unit, "CPUQuotaPerSecUSec"), "500ms", "{who}");
        assert_eq!(show(&unit, "AllowedCPUs"), "0", "{who}");
        let dir = PathBuf::from("/sys/fs/cgroup").join(&cgroup[1..]);
        assert_eq!(read(&dir, "memory.max"), (64u64 << 20).to_string(), "{who}");
        assert_eq!(read(&dir, "memory.low"), (32u64 << 20).to_string(), "{who}");
        assert_eq!(read(&dir, "pids.max"), "50", "{who}");
        assert_eq!(read(&dir, "cpu.max"), "50000 100000", "{who}");
        assert_eq!(read(&dir, "cpuset.cpus"), "0", "{who}");
        // hugetlb is no controller of systemd's: the runtime passes it down itself, as runc.
        if Path::new("/sys/kernel/mm/hugepages/hugepages-2048kB").is_dir() {
            assert_eq!(
                read(&dir, "hugetlb.2MB.max"),
                (4u64 << 20).to_string(),
                "{who}"
            );
        } else {
            eprintln!("skipped: hugetlb in the scope (the host has no 2 MB huge pages)");
        }
        // Each runtime converts shares its own way; systemd's value and the file agree.
        assert_eq!(show(&unit, "CPUWeight"), read(&dir, "cpu.weight"), "{who}");
        let pid: Value = serde_json::from_str(&rt.ok(&["state", &id])).unwrap();
        let pid = pid["pid"].to_string();
        assert!(
            read(&dir, "cgroup.procs").lines().any(|l| l == pid),
            "{who}: init {pid}"
        );

        // Later commands find the scope without --systemd-cgroup.
        rt.ok(&["update", "--memory", "48M", "--pids-limit", "40", &id]);
        assert_eq!(show(&unit, "MemoryMax"), (48u64 << 20).to_string(), "{who}");
        assert_eq!(show(&unit, "TasksMax"), "40", "{who}");
        assert_eq!(read(&dir, "memory.max"), (48u64 << 20).to_string(), "{who}");
        assert_eq!(read(&dir, "pids.max"), "40", "{who}");
        rt.ok(&["pause", &id]);
        assert_eq!(rt.status(&id), "paused", "{who}");
        assert_eq!(read(&dir, "cgroup.freeze"), "1", "{who}");
        rt.ok(&["resume", &id]);
        assert_eq!(rt.status(&id), "running", "{who}");
        assert!(rt.ok(&["ps", &id]).contains("sleep"), "{who}: ps");

        rt.ok(&["delete", "--force", &id]);
        assert!(!unit_known(&unit), "{who}: {unit} is left after delete");
        assert!(!dir.exists(), "{who}: {} is left", dir.display());
    }
}

#[test]
fn a_failed_create_leaves_no_unit() {
    require_root!();
    if let Some(why) = no_systemd() {
        eprintln!("skipped: systemd cgroup driver ({why})");
        return;
    }
    for mut rt in Rt::all("b") {
        let who = rt.name;
        let (id, unit, path) = rt.names("fail");
        // A createRuntime hook that fails: it runs after the scope exists.
        let hooks = serde_json::json!({"createRuntime": [{"path": "/bin/false"}]});
        let bundle = rt.bundle(&["true"], &path, limits(), hooks);
        let out = rt.run_detached(&bundle, &id);
        assert!(
            !out.status.success(),
            "{who}: create with a failing hook succeeded"
        );
        assert!(
            !unit_known(&unit),
            "{who}: {unit} is left after a failed create"
        );
        let dir = format!("/sys/fs/cgroup/hulltest.slice/{}/{unit}", rt.slice);
        assert!(!Path::new(&dir).exists(), "{who}: {dir} is left");
        // Not a slice:prefix:name path: refused, naming the path.
        let (id, _, _) = rt.names("badpath");
        let bundle = rt.bundle(&["true"], "/plain/path", Value::Null, Value::Null);
        let out = rt.run_detached(&bundle, &id);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{who}: a plain path was taken");
        assert!(err.contains("/plain/path"), "{who}: {err}");
    }
}

#[test]
fn without_systemd_the_driver_is_refused_in_one_line_and_nothing_is_left() {
    require_root!();
    let Some(why) = no_systemd() else {
        eprintln!("skipped: systemd cgroup driver refusal (this host runs systemd on cgroup v2)");
        return;
    };
    let mut rt = Rt::new("hull", "c");
    let (id, _, path) = rt.names("refused");
    let bundle = rt.bundle(&["true"], &path, Value::Null, Value::Null);
    let out = rt.run_detached(&bundle, &id);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "created without systemd ({why})");
    assert!(err.contains("systemd cgroup driver"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert_eq!(rt.ok(&["list", "-q"]).trim(), "", "a container is left");
}
