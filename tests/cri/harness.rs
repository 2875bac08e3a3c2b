//! A private containerd with its CRI plugin, for the CRI tier (tests/tests/cri.rs) and its
//! benchmark driver (tests/examples/cri-bench.rs), included by both with `#[path]`.
//!
//! Everything lives below one temp dir: containerd's root, state and socket, the CNI config
//! (Debian's bridge plugin on a bridge and a /24 of this process's own), the pod logs. Runtime
//! handlers: `runc`, `crun` and `hull` (the hull binary as `hull-runtime`), all through the runc
//! v2 shim with `BinaryName`. The pod sandbox image is built here from `tests/probe/pause.c`
//! and imported with ctr; the workload image is pulled from the fixture registry through the
//! CRI. Dropping [`Containerd`] removes every pod, stops containerd and its shims (by PID),
//! unmounts, deletes the bridge and the cgroup parents, and removes the temp dir.

use std::fs::File;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hyper_util::rt::TokioIo;
use k8s_cri::v1::image_service_client::ImageServiceClient;
use k8s_cri::v1::runtime_service_client::RuntimeServiceClient;
use k8s_cri::v1::*;
use tonic::transport::{Channel, Endpoint, Uri};

/// The sandbox image's name (imported, never pulled).
pub const PAUSE_IMAGE: &str = "hull.test/pause:1";

/// How containerd (and the runtimes under it) manage cgroups.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Driver {
    Cgroupfs,
    Systemd,
}

impl Driver {
    /// `HULL_CRI_CGROUP_DRIVER` (cgroupfs or systemd); by default systemd where systemd runs
    /// (/run/systemd/system exists), as kubeadm does, else cgroupfs.
    pub fn from_env() -> Driver {
        match std::env::var("HULL_CRI_CGROUP_DRIVER").as_deref() {
            Ok("cgroupfs") => Driver::Cgroupfs,
            Ok("systemd") => Driver::Systemd,
            Ok(v) if !v.is_empty() => {
                panic!("HULL_CRI_CGROUP_DRIVER={v}: not cgroupfs or systemd")
            }
            _ if Path::new("/run/systemd/system").exists() => Driver::Systemd,
            _ => Driver::Cgroupfs,
        }
    }
}

/// Why the CRI tier cannot run on this host (a missing program or plugin), if it cannot.
pub fn missing_prerequisite() -> Option<String> {
    let programs = [
        "containerd",
        "ctr",
        "containerd-shim-runc-v2",
        "runc",
        "tar",
    ];
    for p in programs {
        if !on_path(p) {
            return Some(format!("{p} is not installed"));
        }
    }
    for p in ["bridge", "host-local", "loopback"] {
        if !Path::new("/usr/lib/cni").join(p).exists() {
            return Some(format!(
                "/usr/lib/cni/{p} is missing (containernetworking-plugins)"
            ));
        }
    }
    None
}

pub fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|d| d.join(program).is_file()))
}

/// A running private containerd and CRI clients to it.
pub struct Containerd {
    pub dir: PathBuf,
    pub sock: PathBuf,
    pub driver: Driver,
    /// The CNI bridge and the pods' /24 (`10.231.N.0/24`).
    pub bridge: String,
    pub subnet: String,
    /// The pods' cgroup parent: a cgroupfs path or a systemd slice.
    pub cgroup_parent: String,
    child: Option<Child>,
    _subnet_claim: File,
    rt: tokio::runtime::Runtime,
    pub runtime: RuntimeServiceClient<Channel>,
    pub images: ImageServiceClient<Channel>,
    /// Handlers with their runtime binaries (runc, crun when installed, hull).
    pub handlers: Vec<(String, PathBuf)>,
    /// The network namespaces (bind-mounted files) of every pod started, for the leak check.
    pub netns: std::cell::RefCell<Vec<String>>,
    _dir: DirGuard,
}

impl Containerd {
    /// Starts containerd with the given runtime binary for `hull` (the hull binary, run by the
    /// shim as `hull-runtime` through a symlink) and waits until its CRI answers.
    pub fn start(hull: &Path, registry: &str) -> Containerd {
        let dir = tempdir();
        let dir_guard = DirGuard(dir.clone());
        let sock = dir.join("containerd.sock");
        let driver = Driver::from_env();
        let (n, claim) = claim_subnet();
        let tag = std::process::id();
        let cgroup_parent = match driver {
            Driver::Cgroupfs => format!("/hullcri-{tag}"),
            Driver::Systemd => format!("hullcri{tag}.slice"),
        };
        std::fs::create_dir_all(dir.join("bin")).unwrap();
        let hull_runtime = dir.join("bin/hull-runtime");
        std::os::unix::fs::symlink(hull, &hull_runtime).unwrap();
        let mut handlers = vec![("runc".to_string(), which("runc"))];
        if on_path("crun") {
            handlers.push(("crun".to_string(), which("crun")));
        }
        handlers.push(("hull".to_string(), hull_runtime));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("build a tokio runtime for the CRI client");
        // Placeholders until containerd answers (spawn replaces them); a lazy channel needs a
        // runtime to exist in.
        let lazy = {
            let _in_rt = rt.enter();
            Endpoint::from_static("http://[::]").connect_lazy()
        };
        let mut c = Containerd {
            bridge: format!("hcri{}", tag % 100_000),
            subnet: format!("10.231.{n}.0/24"),
            dir,
            sock,
            driver,
            cgroup_parent,
            child: None,
            _subnet_claim: claim,
            runtime: RuntimeServiceClient::new(lazy.clone()),
            images: ImageServiceClient::new(lazy),
            rt,
            handlers,
            netns: Default::default(),
            _dir: dir_guard,
        };
        c.write_config(registry);
        c.spawn();
        c.import_pause();
        c
    }

    fn write_config(&self, registry: &str) {
        let d = &self.dir;
        let systemd = self.driver == Driver::Systemd;
        let mut runtimes = String::new();
        for (name, bin) in &self.handlers {
            runtimes += &format!(
                "[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.{name}]\n\
                 runtime_type = \"io.containerd.runc.v2\"\n\
                 [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.{name}.options]\n\
                 BinaryName = \"{}\"\nSystemdCgroup = {systemd}\n",
                bin.display()
            );
        }
        let config = format!(
            r#"version = 2
root = "{d}/root"
state = "{d}/state"
[grpc]
  address = "{sock}"
[ttrpc]
  address = "{sock}.ttrpc"
[debug]
  address = "{sock}.debug"
[plugins."io.containerd.internal.v1.opt"]
  path = "{d}/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{PAUSE_IMAGE}"
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  systemd_cgroup = false
[plugins."io.containerd.grpc.v1.cri".cni]
  bin_dir = "/usr/lib/cni"
  conf_dir = "{d}/net.d"
  max_conf_num = 1
[plugins."io.containerd.grpc.v1.cri".registry.mirrors."{registry}"]
  endpoint = ["http://{registry}"]
[plugins."io.containerd.grpc.v1.cri".containerd]
  snapshotter = "overlayfs"
  default_runtime_name = "runc"
{runtimes}"#,
            d = d.display(),
            sock = self.sock.display(),
        );
        std::fs::write(d.join("config.toml"), config).unwrap();
        std::fs::create_dir_all(d.join("net.d")).unwrap();
        let cni = format!(
            r#"{{"cniVersion": "0.4.0", "name": "{b}", "plugins": [{{"type": "bridge",
  "bridge": "{b}", "isGateway": true, "ipMasq": false, "hairpinMode": true,
  "ipam": {{"type": "host-local", "dataDir": "{d}/ipam", "ranges": [[{{"subnet": "{s}"}}]],
  "routes": [{{"dst": "0.0.0.0/0"}}]}}}}]}}"#,
            b = self.bridge,
            d = d.display(),
            s = self.subnet
        );
        std::fs::write(d.join("net.d/10-hull-cri.conflist"), cni).unwrap();
    }

    fn spawn(&mut self) {
        let log = File::create(self.dir.join("containerd.log")).unwrap();
        // setpriv --pdeathsig: a test killed outright (a timeout) takes containerd with it.
        let child = Command::new("setpriv")
            .args(["--pdeathsig", "KILL", "containerd", "--config"])
            .arg(self.dir.join("config.toml"))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("spawn containerd");
        self.child = Some(child);
        let start = Instant::now();
        loop {
            if let Some((r, i)) = self.try_connect() {
                self.runtime = r;
                self.images = i;
                return;
            }
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("containerd exited at start ({status}): {}", self.log_tail());
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "containerd's CRI did not answer in 60 s: {}",
                self.log_tail()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn try_connect(&self) -> Option<(RuntimeServiceClient<Channel>, ImageServiceClient<Channel>)> {
        let sock = self.sock.clone();
        let channel = self
            .rt
            .block_on(Endpoint::from_static("http://[::]").connect_with_connector(
                tower::service_fn(move |_: Uri| {
                    let sock = sock.clone();
                    async move {
                        let s = tokio::net::UnixStream::connect(sock).await?;
                        Ok::<_, std::io::Error>(TokioIo::new(s))
                    }
                }),
            ))
            .ok()?;
        let mut r = RuntimeServiceClient::new(channel.clone());
        let ok = self
            .rt
            .block_on(r.version(VersionRequest::default()))
            .is_ok();
        ok.then(|| (r, ImageServiceClient::new(channel)))
    }

    /// The last lines of containerd's log (for failure messages).
    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.join("containerd.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// Runs a CRI call to completion.
    pub fn block_on<F: Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

    /// Builds the pause image (one layer: the static pause binary) as an OCI archive and
    /// imports it into containerd's k8s.io namespace.
    fn import_pause(&self) {
        let img = self.dir.join("pause-image");
        let archive = crate::pause_image::build(&img, Path::new(env!("HULL_PAUSE")), PAUSE_IMAGE);
        let out = Command::new("ctr")
            .arg("-a")
            .arg(&self.sock)
            .args(["-n", "k8s.io", "images", "import", "--no-unpack=false"])
            .arg(&archive)
            .output()
            .expect("run ctr images import");
        assert!(
            out.status.success(),
            "ctr images import {}: {}",
            archive.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Pulls an image through the CRI (from the fixture registry, over plain HTTP).
    pub fn pull(&self, image: &str) {
        let mut i = self.images.clone();
        let req = PullImageRequest {
            image: Some(ImageSpec {
                image: image.into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        self.block_on(i.pull_image(req))
            .unwrap_or_else(|e| panic!("CRI PullImage {image}: {e}"));
    }

    /// The pids of this containerd's shims (their command line names its socket).
    pub fn shim_pids(&self) -> Vec<i32> {
        let sock = self.sock.display().to_string();
        pids_with_cmdline(|c| c.contains("containerd-shim") && c.contains(&sock))
    }

    /// Stops and removes every pod left (a failed case's); errors are only printed.
    pub fn remove_all_pods(&self) {
        let mut r = self.runtime.clone();
        let Ok(pods) = self.block_on(r.list_pod_sandbox(ListPodSandboxRequest::default())) else {
            return;
        };
        for p in pods.into_inner().items {
            let stop = StopPodSandboxRequest {
                pod_sandbox_id: p.id.clone(),
            };
            if let Err(e) = self.block_on(r.stop_pod_sandbox(stop)) {
                eprintln!("cleanup: StopPodSandbox {}: {e}", p.id);
            }
            let rm = RemovePodSandboxRequest {
                pod_sandbox_id: p.id.clone(),
            };
            if let Err(e) = self.block_on(r.remove_pod_sandbox(rm)) {
                eprintln!("cleanup: RemovePodSandbox {}: {e}", p.id);
            }
        }
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        if self.child.is_some() {
            self.remove_all_pods();
        }
        if let Some(mut child) = self.child.take() {
            let _ = rustix::process::kill_process(
                rustix::process::Pid::from_child(&child),
                rustix::process::Signal::TERM,
            );
            let start = Instant::now();
            while child.try_wait().ok().flatten().is_none() && start.elapsed().as_secs() < 10 {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        // Shims outlive containerd by design; these are this containerd's only.
        for pid in self.shim_pids() {
            if let Some(pid) = rustix::process::Pid::from_raw(pid) {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
            }
        }
        hull_tests::unmount_below(&self.dir);
        let _ = Command::new("ip")
            .args(["link", "del", &self.bridge])
            .stderr(Stdio::null())
            .status();
        if self.driver == Driver::Systemd {
            // The pods' slices are systemd's units (transient, below ours): stopping ours
            // stops them and removes their cgroups.
            let _ = Command::new("systemctl")
                .args(["stop", &self.cgroup_parent])
                .stderr(Stdio::null())
                .status();
        }
        remove_cgroup_parents(&self.cgroup_parent);
        // The temp dir goes with the `_dir` field, after this.
    }
}

/// Removes the temp dir when dropped (also when `start` fails half-way), unless
/// `HULL_CRI_KEEP` is set (then it names it, for a look at containerd's log).
struct DirGuard(PathBuf);

impl Drop for DirGuard {
    fn drop(&mut self) {
        if std::env::var_os("HULL_CRI_KEEP").is_some() {
            eprintln!("HULL_CRI_KEEP: left {}", self.0.display());
            return;
        }
        hull_tests::unmount_below(&self.0);
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Removes the (empty) cgroup directories of the pods' parent, deepest first, in every
/// hierarchy (v1 controllers, v2's root, hybrid's unified).
fn remove_cgroup_parents(parent: &str) {
    for root in cgroup_roots() {
        let top = root.join(parent.trim_start_matches('/'));
        let mut dirs = Vec::new();
        collect_dirs(&top, &mut dirs);
        dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
        for d in dirs {
            let _ = std::fs::remove_dir(d);
        }
    }
}

/// Every cgroup directory at or below the pods' parent, in every hierarchy.
pub fn cgroups_below(parent: &str) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    for root in cgroup_roots() {
        collect_dirs(&root.join(parent.trim_start_matches('/')), &mut dirs);
    }
    dirs.sort();
    dirs
}

fn cgroup_roots() -> Vec<PathBuf> {
    let base = Path::new("/sys/fs/cgroup");
    if base.join("cgroup.controllers").exists() {
        return vec![base.to_path_buf()];
    }
    std::fs::read_dir(base)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| p.is_dir())
                .collect()
        })
        .unwrap_or_default()
}

fn collect_dirs(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    out.push(dir.to_path_buf());
    for e in rd.flatten() {
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            collect_dirs(&e.path(), out);
        }
    }
}

/// Pids whose NUL-separated command line (joined with spaces) satisfies `keep`.
pub fn pids_with_cmdline(keep: impl Fn(&str) -> bool) -> Vec<i32> {
    hull_tests::pids_where(|pid| {
        std::fs::read(format!("/proc/{pid}/cmdline"))
            .is_ok_and(|c| keep(&String::from_utf8_lossy(&c).replace('\0', " ")))
    })
    .into_iter()
    .filter_map(|p| p.parse().ok())
    .collect()
}

fn which(program: &str) -> PathBuf {
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|d| d.join(program))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("{program} is not on PATH"))
}

/// A temp dir below `HULL_CRI_TMPDIR` (bench/cri.sh: its scratch file system), else /tmp.
fn tempdir() -> PathBuf {
    let base =
        std::env::var_os("HULL_CRI_TMPDIR").map_or_else(|| PathBuf::from("/tmp"), PathBuf::from);
    tempfile::Builder::new()
        .prefix("hull-cri.")
        .tempdir_in(&base)
        .unwrap_or_else(|e| panic!("create a temp dir in {}: {e}", base.display()))
        .keep()
}

/// Claims a /24 in 10.231.0.0/16 that no route on the host covers, unique among the test
/// processes on this host (an flock on /tmp/hull-cri-subnets/N.lock, released at exit).
fn claim_subnet() -> (u8, File) {
    let dir = Path::new("/tmp/hull-cri-subnets");
    std::fs::create_dir_all(dir).unwrap();
    let routes = std::fs::read_to_string("/proc/net/route").unwrap_or_default();
    for n in 0..=255u8 {
        let dest = format!("{:08X}", u32::from_le_bytes([10, 231, n, 0]));
        if routes.contains(&dest) {
            continue;
        }
        let f = File::create(dir.join(format!("{n}.lock"))).unwrap();
        if rustix::fs::flock(&f, rustix::fs::FlockOperation::NonBlockingLockExclusive).is_ok() {
            return (n, f);
        }
    }
    panic!("no free /24 in 10.231.0.0/16 for the CRI tier's bridge");
}

pub use hull_tests::poll;
