//! Helpers for hull's root integration and end-to-end tests.
//!
//! These tests run the built `hull` binary against the real local registries that
//! `scripts/fixtures start` provides. They are gated by `HULL_ROOT_TESTS=1`: without it every test
//! returns early (the unit-test tier stays root-free); with it, a non-root user is a failure, not
//! a silent pass.

pub mod build;
pub mod host;
pub mod netns;
pub mod pty;
pub mod reboot;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// True when the root tests should run. Panics when they were asked for but cannot run.
pub fn root_tests_enabled() -> bool {
    if std::env::var_os("HULL_ROOT_TESTS").is_none_or(|v| v.is_empty() || v == "0") {
        eprintln!("skipped: set HULL_ROOT_TESTS=1 (as root, after scripts/fixtures start)");
        return false;
    }
    assert!(
        rustix::process::geteuid().is_root(),
        "HULL_ROOT_TESTS is set but the tests are not running as root"
    );
    true
}

/// Skips the calling test unless root tests are enabled.
#[macro_export]
macro_rules! require_root {
    () => {
        if !$crate::root_tests_enabled() {
            return;
        }
    };
}

/// A fixture setting from `scripts/fixtures env`.
pub fn fixture(var: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| {
        panic!("{var} is not set: run `eval \"$(scripts/fixtures env)\"` after `scripts/fixtures start`")
    })
}

/// The `hull` binary next to this test's deps directory (cargo builds it with the workspace).
pub fn hull_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("HULL_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("current exe");
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    let bin = dir.join("hull");
    assert!(
        bin.exists(),
        "{} not built: run cargo build first",
        bin.display()
    );
    bin
}

/// A private hull store (and docker config dir) in a temp dir. Dropping it unmounts anything
/// left mounted below it and removes it.
pub struct Hull {
    pub dir: tempfile::TempDir,
    envs: Vec<(String, String)>,
    /// Held while the store lives: its default network's subnet is this test's alone.
    _subnet: std::fs::File,
}

/// Claims a /24 in 10.240.0.0/16 for a test store's default network, unique among the test
/// processes on this host: the claim is an flock on `/tmp/hull-test-subnets/<n>.lock`, released
/// when the store is dropped or its process dies.
fn claim_default_subnet() -> (String, std::fs::File) {
    let dir = Path::new("/tmp/hull-test-subnets");
    std::fs::create_dir_all(dir).expect("subnet claims dir");
    let routes = std::fs::read_to_string("/proc/net/route").unwrap_or_default();
    for n in 0..=255u32 {
        // A route there (a bridge a crashed test left) would make hull refuse the subnet.
        let dest = format!("{:08X}", u32::from_le_bytes([10, 240, n as u8, 0]));
        if routes
            .lines()
            .any(|l| l.split_whitespace().nth(1) == Some(dest.as_str()))
        {
            continue;
        }
        let f = std::fs::File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join(format!("{n}.lock")))
            .expect("subnet claim file");
        if f.try_lock().is_ok() {
            return (format!("10.240.{n}.0/24"), f);
        }
    }
    panic!("all 256 test subnets in 10.240.0.0/16 are claimed");
}

impl Default for Hull {
    fn default() -> Self {
        Self::new()
    }
}

impl Hull {
    pub fn new() -> Hull {
        let dir = tempfile::Builder::new()
            .prefix("hull-test-")
            .tempdir()
            .expect("temp dir");
        let docker_config = dir.path().join("docker");
        std::fs::create_dir_all(&docker_config).unwrap();
        let (subnet, claim) = claim_default_subnet();
        Hull {
            _subnet: claim,
            envs: vec![
                ("HULL_DEFAULT_SUBNET".into(), subnet),
                (
                    "HULL_ROOT".into(),
                    dir.path().join("root").display().to_string(),
                ),
                ("DOCKER_CONFIG".into(), docker_config.display().to_string()),
                (
                    "HULL_CONFIG".into(),
                    dir.path().join("config.json").display().to_string(),
                ),
            ],
            dir,
        }
        .with_config("{}")
    }

    /// Replaces the hull config file (registry settings).
    pub fn with_config(self, json: &str) -> Hull {
        std::fs::write(self.dir.path().join("config.json"), json).unwrap();
        self
    }

    /// The store's default network subnet (`10.240.<n>.0/24`, this test's alone).
    pub fn default_subnet(&self) -> &str {
        &self
            .envs
            .iter()
            .find(|(k, _)| k == "HULL_DEFAULT_SUBNET")
            .expect("set by new")
            .1
    }

    pub fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(hull_bin());
        c.args(args).stdin(Stdio::null());
        for (k, v) in &self.envs {
            c.env(k, v);
        }
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("spawn hull")
    }

    /// Runs hull, asserts success, returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "hull {args:?} failed ({}):\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `inspect --format json NAME`: the container's document.
    pub fn inspect(&self, name: &str) -> serde_json::Value {
        let out = self.ok(&["inspect", "--format", "json", name]);
        serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("inspect {name}: {e}: {out}"))
    }

    /// Runs hull, asserts failure, returns stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            !out.status.success(),
            "hull {args:?} unexpectedly succeeded:\n{}",
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }
}

impl Hull {
    /// `hull run -d FLAGS… busybox CMD…`: asserts it printed a full ID and returns it with a
    /// guard that removes the container when the test ends.
    pub fn detach(&self, flags: &[&str], cmd: &[&str]) -> Removed<'_> {
        let image = busybox();
        let mut argv = vec!["run", "-d"];
        argv.extend_from_slice(flags);
        argv.push(&image);
        argv.extend_from_slice(cmd);
        let id = self.ok(&argv).trim().to_string();
        assert_eq!(id.len(), 64, "{id:?}");
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()), "{id:?}");
        Removed(self, id)
    }

    /// Starts `hull ARGS…` in the background with its output discarded. The caller owns the
    /// child: it kills (by its pid) or waits for it.
    pub fn spawn(&self, args: &[&str]) -> std::process::Child {
        self.command(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    }

    /// Waits until `ps` lists one running container; its full ID.
    pub fn wait_for_running_id(&self) -> String {
        wait_until("the container to run", || {
            self.ok(&["ps", "-q", "--no-trunc"]).trim().len() == 64
        });
        self.ok(&["ps", "-q", "--no-trunc"]).trim().to_string()
    }
}

/// Runs `cmd` to its end and returns its stdout; fails the test, naming `what` and quoting the
/// command's stderr, unless it exited 0.
pub fn stdout_ok(cmd: &mut Command, what: &str) -> Vec<u8> {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run: {e}"));
    assert!(
        out.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// The fixture registry's busybox image (see tests/fixtures/README.md).
pub fn busybox() -> String {
    format!("{}/busybox:latest", fixture("HULL_TEST_REGISTRY"))
}

/// A minimal rootfs at `rootfs`: the host's static `/bin/busybox` in `bin/`, with a symlink for
/// each of `applets`.
pub fn busybox_rootfs(rootfs: &Path, applets: &[&str]) {
    let bin = rootfs.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::copy("/bin/busybox", bin.join("busybox")).expect("copy /bin/busybox");
    for name in applets {
        std::os::unix::fs::symlink("busybox", bin.join(name)).unwrap();
    }
}

/// `hull rm -f` of a container (by ID or name) when the test ends, passing or failing.
pub struct Removed<'a>(pub &'a Hull, pub String);

impl Drop for Removed<'_> {
    fn drop(&mut self) {
        let _ = self.0.run(&["rm", "-f", &self.1]);
    }
}

impl Drop for Hull {
    fn drop(&mut self) {
        self.remove_all_containers();
        unmount_below(self.dir.path());
    }
}

impl Hull {
    /// `rm -f` of every container left (a failed test's), so that its processes, veths and
    /// firewall rules do not outlive the store.
    fn remove_all_containers(&self) {
        let ids = entries(&self.root().join("containers"));
        if ids.is_empty() {
            return;
        }
        let mut args = vec!["rm", "-f"];
        args.extend(ids.iter().map(String::as_str));
        let _ = self.command(&args).stderr(Stdio::null()).output();
    }
}

/// Unmounts (lazily) every mount at or below `dir`, deepest first.
pub fn unmount_below(dir: &Path) {
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return;
    };
    let prefix = dir.display().to_string();
    let mut points: Vec<&str> = info
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|p| p.starts_with(&prefix))
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for p in points {
        let _ = rustix::mount::unmount(p, rustix::mount::UnmountFlags::DETACH);
    }
}

/// Lists the entries of a directory (names only, sorted); empty when it does not exist.
pub fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// The repository root (for scripts/).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The static probe binary (`tests/probe/probe.c`, built by `tests/build.rs`): copy it into a
/// container rootfs and run it to report facts from the inside, one `key=value` line each.
pub fn probe_path() -> PathBuf {
    PathBuf::from(env!("HULL_PROBE"))
}

/// `n` times `HULL_TEST_SCALE` (a positive number; 1 when unset), rounded, at least 1: the loop
/// counts of the slow crash and concurrency tests, smaller where the machine is slow (the VM
/// tier runs them under emulation with 0.2). Panics on a value that is not a positive number.
pub fn scaled(n: usize) -> usize {
    scaled_by(n, std::env::var("HULL_TEST_SCALE").ok().as_deref())
}

fn scaled_by(n: usize, scale: Option<&str>) -> usize {
    let Some(v) = scale else { return n };
    let s = v
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s > 0.0)
        .unwrap_or_else(|| panic!("HULL_TEST_SCALE={v}: not a positive number"));
    ((n as f64 * s).round() as usize).max(1)
}

/// `scaled(items.len())` of `items` (at least `min`, at most all), spread evenly from the first
/// to the last, so that a smaller run still covers both ends.
pub fn scaled_pick<T: Clone>(items: &[T], min: usize) -> Vec<T> {
    pick_evenly(items, scaled(items.len()).max(min))
}

fn pick_evenly<T: Clone>(items: &[T], k: usize) -> Vec<T> {
    let k = k.min(items.len());
    if k <= 1 {
        return items.iter().take(k).cloned().collect();
    }
    (0..k)
        .map(|i| items[i * (items.len() - 1) / (k - 1)].clone())
        .collect()
}

/// Polls `done` every 50 ms; fails the test after 60 s naming `what` (generous: slow VMs and
/// loaded CI hosts are real, and a passing test never waits that long).
pub fn wait_until(what: &str, done: impl FnMut() -> bool) {
    assert!(poll(60, done), "timed out waiting for {what}");
}

/// Polls `done` every 50 ms for up to `secs` seconds; false when it never held.
pub fn poll(secs: u64, mut done: impl FnMut() -> bool) -> bool {
    let start = std::time::Instant::now();
    while start.elapsed() < std::time::Duration::from_secs(secs) {
        if done() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    false
}

/// Pids whose cgroup path names the container.
pub fn container_pids(id: &str) -> Vec<String> {
    pids_where(|pid| {
        std::fs::read_to_string(format!("/proc/{pid}/cgroup")).is_ok_and(|c| c.contains(id))
    })
}

/// The pids in /proc for which `keep` holds.
pub fn pids_where(keep: impl Fn(&str) -> bool) -> Vec<String> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|pid| pid.bytes().all(|b| b.is_ascii_digit()))
        .filter(|pid| keep(pid))
        .collect()
}

/// Every v1/v2 directory of the container's cgroup that exists.
pub fn cgroup_dirs(id: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
        for dir in [entry.path().join("hull").join(id), entry.path().join(id)] {
            if dir.exists() {
                found.push(dir.display().to_string());
            }
        }
    }
    found
}

/// True when /sys/fs/cgroup is the unified (v2) hierarchy, as on most hosts; false on a v1 or
/// hybrid host (v1 controllers, cgroup2 without controllers at /sys/fs/cgroup/unified).
pub fn cgroup_v2_host() -> bool {
    Path::new("/sys/fs/cgroup/cgroup.controllers").exists()
}

/// The container's cgroup directory that holds `controller`'s files ("memory", "pids", "cpu",
/// …): hull gives every container `/hull/<id>` (engine `CGROUP_PARENT`), below that
/// controller's hierarchy on v1 and below the one hierarchy on v2 (where every controller's
/// files share the directory).
pub fn cgroup_dir_of(id: &str, controller: &str) -> PathBuf {
    let base = Path::new("/sys/fs/cgroup");
    match cgroup_v2_host() {
        true => base.join("hull").join(id),
        false => base.join(controller).join("hull").join(id),
    }
}

/// A container's full ID from the host side (`inspect`), by name or ID. Reading it inside the
/// container from /proc/self/cgroup works only on v1: on v2 the container has its own cgroup
/// namespace and sees `0::/`.
pub fn container_id_of(h: &Hull, name: &str) -> String {
    let id = h.ok(&["inspect", "--format", "{{.Id}}", name]);
    let id = id.trim().to_string();
    assert!(
        id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()),
        "inspect {name}: {id:?}"
    );
    id
}

/// A host port that is free now (bound and released again; good enough for a test).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A port `p` such that `p` and `p + 1` are both free now (for a published range).
pub fn free_port_pair() -> u16 {
    for _ in 0..100 {
        let p = free_port();
        if p < u16::MAX && std::net::TcpListener::bind(("0.0.0.0", p + 1)).is_ok() {
            return p;
        }
    }
    panic!("no two consecutive free ports found in 100 tries");
}

#[cfg(test)]
mod scale_tests {
    use super::{pick_evenly, scaled_by};

    #[test]
    fn scale_multiplies_rounds_and_keeps_one() {
        assert_eq!(scaled_by(50, None), 50);
        assert_eq!(scaled_by(50, Some("0.2")), 10);
        assert_eq!(scaled_by(5, Some("0.2")), 1);
        assert_eq!(scaled_by(3, Some("0.01")), 1);
        assert_eq!(scaled_by(4, Some("2")), 8);
    }

    #[test]
    #[should_panic(expected = "HULL_TEST_SCALE=-1: not a positive number")]
    fn a_bad_scale_is_an_error() {
        scaled_by(5, Some("-1"));
    }

    #[test]
    fn picks_spread_from_first_to_last() {
        let d = [0, 20, 60, 150, 400];
        assert_eq!(pick_evenly(&d, 2), [0, 400]);
        assert_eq!(pick_evenly(&d, 3), [0, 60, 400]);
        assert_eq!(pick_evenly(&d, 9), d);
        assert_eq!(pick_evenly(&d, 1), [0]);
    }
}
