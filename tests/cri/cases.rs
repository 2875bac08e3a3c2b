//! The CRI tier's cases (each runs once per handler, with the same expectations) and its
//! leak check.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use k8s_cri::v1::*;

use crate::client::Spec;
use crate::harness::{self, poll, Containerd};
use crate::stream::Stream;

type Case = fn(&Containerd, &str, &str);

pub const CASES: &[(&str, Case)] = &[
    (
        "lifecycle, exec, stats, update, log reopen, graceful stop",
        lifecycle,
    ),
    ("attach (streaming)", attach),
    ("stop past the grace period", stop_past_grace),
    ("two containers of a pod on localhost", localhost),
    ("hostNetwork pod", host_network),
    ("OOM kill", oom),
];

/// A shell loop that logs a line every 0.2 s and exits 0 on SIGTERM.
const LOGGER: &[&str] = &[
    "sh",
    "-c",
    "trap 'exit 0' TERM; i=0; while true; do echo line$i; i=$((i+1)); sleep 0.2; done",
];

fn wait_state(c: &Containerd, id: &str, want: ContainerState, secs: u64) {
    let ok = poll(secs, || c.state(id) == want);
    assert!(
        ok,
        "container {id} not {want:?} after {secs} s (is {:?})",
        c.state(id)
    );
}

fn lifecycle(c: &Containerd, handler: &str, image: &str) {
    let pod = c.run_pod(&format!("life-{handler}"), handler, false);
    let (status, _) = c.pod_status(&pod.id);
    let ip = status.network.map(|n| n.ip).unwrap_or_default();
    let prefix = c.subnet.trim_end_matches("0/24");
    assert!(
        ip.starts_with(prefix),
        "pod IP {ip:?} is not in {}",
        c.subnet
    );
    let id = c.create_start(&pod, &Spec::new("logger", image, LOGGER));
    wait_state(c, &id, ContainerState::ContainerRunning, 30);

    let (code, out, err) = c.exec_sync(&id, &["sh", "-c", "echo out; echo err >&2; exit 3"]);
    assert_eq!(
        (code, out.as_str(), err.as_str()),
        (3, "out\n", "err\n"),
        "ExecSync"
    );

    // The leak check must see a running pod's every kind of trace, or it proves nothing.
    Leftovers::of(c).assert_sees_a_pod();
    exec_stream(c, &id);
    stats(c, &id);
    update(c, &id);
    reopen_log(c, &pod, &id);

    let start = Instant::now();
    c.stop(&id, 20);
    let took = start.elapsed();
    let (st, _) = c.status(&id);
    assert_eq!(
        st.state,
        ContainerState::ContainerExited as i32,
        "state after stop"
    );
    assert_eq!(st.exit_code, 0, "a graceful stop: the TERM trap exits 0");
    assert!(
        took < Duration::from_secs(15),
        "graceful stop took {took:?}"
    );
    c.remove(&id);
    c.remove_pod(&pod);
}

/// Exec through the streaming server: stdout, stderr and the exit status on channel 3.
fn exec_stream(c: &Containerd, id: &str) {
    let mut r = c.runtime.clone();
    let req = ExecRequest {
        container_id: id.into(),
        cmd: ["sh", "-c", "echo sout; echo serr >&2; exit 4"]
            .iter()
            .map(|s| s.to_string())
            .collect(),
        stdout: true,
        stderr: true,
        ..Default::default()
    };
    let url = c
        .block_on(r.exec(req))
        .unwrap_or_else(|e| panic!("Exec in {id}: {e}"))
        .into_inner()
        .url;
    let out = Stream::connect(&url).read_to_end(30);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "sout\n",
        "exec stdout: {out:?}"
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "serr\n",
        "exec stderr: {out:?}"
    );
    let status: serde_json::Value = serde_json::from_str(&out.status)
        .unwrap_or_else(|e| panic!("exec status {:?}: {e}", out.status));
    assert_eq!(status["reason"], "NonZeroExitCode", "exec status {status}");
    assert_eq!(
        status["details"]["causes"][0]["message"], "4",
        "exec status {status}"
    );
}

fn stats(c: &Containerd, id: &str) {
    let mut r = c.runtime.clone();
    let req = ContainerStatsRequest {
        container_id: id.into(),
    };
    let s = c
        .block_on(r.container_stats(req))
        .unwrap_or_else(|e| panic!("ContainerStats {id}: {e}"))
        .into_inner()
        .stats
        .expect("ContainerStats without stats");
    let mem = s.memory.and_then(|m| m.working_set_bytes).map(|v| v.value);
    assert!(mem.is_some_and(|m| m > 0), "memory working set: {mem:?}");
    let cpu = s
        .cpu
        .and_then(|c| c.usage_core_nano_seconds)
        .map(|v| v.value);
    assert!(cpu.is_some_and(|n| n > 0), "cpu usage: {cpu:?}");
}

/// UpdateContainerResources: memory 96 MiB and a 0.5-CPU quota land in the cgroup files.
fn update(c: &Containerd, id: &str) {
    let mut r = c.runtime.clone();
    let req = UpdateContainerResourcesRequest {
        container_id: id.into(),
        linux: Some(LinuxContainerResources {
            memory_limit_in_bytes: 96 << 20,
            cpu_period: 100_000,
            cpu_quota: 50_000,
            ..Default::default()
        }),
        ..Default::default()
    };
    c.block_on(r.update_container_resources(req))
        .unwrap_or_else(|e| panic!("UpdateContainerResources {id}: {e}"));
    let pid = c.pid(id);
    let (mem_file, cpu_file) = match cgroup_dir(pid, "memory") {
        Some(v1_mem) => (
            v1_mem.join("memory.limit_in_bytes"),
            cgroup_dir(pid, "cpu").unwrap().join("cpu.cfs_quota_us"),
        ),
        None => {
            let d = cgroup_dir(pid, "").expect("a v2 cgroup line");
            (d.join("memory.max"), d.join("cpu.max"))
        }
    };
    let read =
        |f: &Path| std::fs::read_to_string(f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
    assert_eq!(
        read(&mem_file).trim(),
        (96u64 << 20).to_string(),
        "{}",
        mem_file.display()
    );
    let cpu = read(&cpu_file);
    assert!(
        cpu.trim() == "50000" || cpu.trim() == "50000 100000",
        "{}: {cpu:?}",
        cpu_file.display()
    );
}

/// The cgroup directory of `pid` for a v1 controller, or (controller "") its v2 one.
fn cgroup_dir(pid: i64, controller: &str) -> Option<PathBuf> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    let path = text.lines().find_map(|l| {
        let mut f = l.splitn(3, ':');
        let (_, ctrls, path) = (f.next()?, f.next()?, f.next()?);
        let hit = match controller {
            "" => ctrls.is_empty() && Path::new("/sys/fs/cgroup/cgroup.controllers").exists(),
            c => ctrls.split(',').any(|x| x == c),
        };
        hit.then(|| (ctrls.to_string(), path.to_string()))
    })?;
    let base = Path::new("/sys/fs/cgroup");
    let root = match controller {
        "" => base.to_path_buf(),
        _ => base.join(&path.0),
    };
    Some(root.join(path.1.trim_start_matches('/')))
}

/// ReopenContainerLog: after the log file is renamed away, the runtime writes a new one.
fn reopen_log(c: &Containerd, pod: &crate::client::Pod, id: &str) {
    let dir = PathBuf::from(&pod.config.log_directory);
    let log = dir.join("logger.log");
    assert!(
        poll(20, || std::fs::metadata(&log).is_ok_and(|m| m.len() > 0)),
        "no log at {}",
        log.display()
    );
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains(" stdout F line0"), "CRI log format: {text:?}");
    std::fs::rename(&log, dir.join("logger.log.1")).unwrap();
    let mut r = c.runtime.clone();
    let req = ReopenContainerLogRequest {
        container_id: id.into(),
    };
    c.block_on(r.reopen_container_log(req))
        .unwrap_or_else(|e| panic!("ReopenContainerLog {id}: {e}"));
    let ok = poll(20, || {
        std::fs::read_to_string(&log).is_ok_and(|t| t.contains(" stdout F line"))
    });
    assert!(
        ok,
        "no new lines in {} after ReopenContainerLog",
        log.display()
    );
}

fn attach(c: &Containerd, handler: &str, image: &str) {
    let pod = c.run_pod(&format!("attach-{handler}"), handler, false);
    let mut spec = Spec::new(
        "echo",
        image,
        &["sh", "-c", "while read l; do echo \"got $l\"; done"],
    );
    spec.stdin = true;
    let id = c.create_start(&pod, &spec);
    wait_state(c, &id, ContainerState::ContainerRunning, 30);
    let mut r = c.runtime.clone();
    let req = AttachRequest {
        container_id: id.clone(),
        stdin: true,
        stdout: true,
        stderr: true,
        tty: false,
    };
    let url = c
        .block_on(r.attach(req))
        .unwrap_or_else(|e| panic!("Attach {id}: {e}"))
        .into_inner()
        .url;
    let mut s = Stream::connect(&url);
    s.send_stdin(b"hello\n");
    let (found, out) = s.read_until_stdout("got hello", 30);
    assert!(found, "attach: no echo of stdin: {out:?}");
    s.close();
    c.stop(&id, 5);
    c.remove(&id);
    c.remove_pod(&pod);
}

/// A container that ignores SIGTERM: StopContainer waits out the 2 s grace period, then
/// SIGKILL ends it (exit 137).
fn stop_past_grace(c: &Containerd, handler: &str, image: &str) {
    let pod = c.run_pod(&format!("grace-{handler}"), handler, false);
    let cmd = [
        "sh",
        "-c",
        "trap '' TERM; echo ready; while true; do sleep 0.1; done",
    ];
    let id = c.create_start(&pod, &Spec::new("stubborn", image, &cmd));
    wait_state(c, &id, ContainerState::ContainerRunning, 30);
    let start = Instant::now();
    c.stop(&id, 2);
    let took = start.elapsed();
    let (st, _) = c.status(&id);
    assert_eq!(
        st.state,
        ContainerState::ContainerExited as i32,
        "state after stop"
    );
    assert_eq!(st.exit_code, 137, "killed after the grace period");
    assert!(
        took >= Duration::from_secs(2),
        "stop returned after {took:?}, before the grace period"
    );
    c.remove(&id);
    c.remove_pod(&pod);
}

fn localhost(c: &Containerd, handler: &str, image: &str) {
    let pod = c.run_pod(&format!("local-{handler}"), handler, false);
    let server = [
        "sh",
        "-c",
        "mkdir /www && echo hello-from-server > /www/index.html && exec httpd -f -p 127.0.0.1:8080 -h /www",
    ];
    let s = c.create_start(&pod, &Spec::new("server", image, &server));
    let client = c.create_start(&pod, &Spec::new("client", image, &["sleep", "3600"]));
    wait_state(c, &client, ContainerState::ContainerRunning, 30);
    let mut last = (0, String::new(), String::new());
    let ok = poll(30, || {
        last = c.exec_sync(
            &client,
            &["wget", "-qO-", "http://127.0.0.1:8080/index.html"],
        );
        last.1 == "hello-from-server\n"
    });
    assert!(
        ok,
        "the client did not reach the server on localhost: {last:?}"
    );
    for id in [&s, &client] {
        c.stop(id, 2);
        c.remove(id);
    }
    c.remove_pod(&pod);
}

fn host_network(c: &Containerd, handler: &str, image: &str) {
    let host_ns = std::fs::read_link("/proc/self/ns/net").unwrap();
    let host_ns = host_ns.display().to_string();
    let netns_of = |host: bool, name: &str| {
        let pod = c.run_pod(&format!("{name}-{handler}"), handler, host);
        let id = c.create_start(&pod, &Spec::new("sleeper", image, &["sleep", "3600"]));
        wait_state(c, &id, ContainerState::ContainerRunning, 30);
        let (code, out, err) = c.exec_sync(&id, &["readlink", "/proc/self/ns/net"]);
        assert_eq!(code, 0, "readlink in the container: {err}");
        c.stop(&id, 2);
        c.remove(&id);
        c.remove_pod(&pod);
        out.trim().to_string()
    };
    assert_eq!(
        netns_of(true, "hostnet"),
        host_ns,
        "a hostNetwork pod's network namespace"
    );
    assert_ne!(
        netns_of(false, "podnet"),
        host_ns,
        "a pod's own network namespace"
    );
}

/// A process over the container's 32 MiB limit is killed by the kernel; the CRI reports
/// `OOMKilled` and the container's shell exits with the victim's status. The shell outlives
/// the victim by 2 s because the shim learns of the kill from the cgroup's memory.events: when
/// the victim was the container's last process, systemd removed the scope at once, and the
/// event raced that removal (runc lost it once in the 6.1 guest).
fn oom(c: &Containerd, handler: &str, image: &str) {
    let pod = c.run_pod(&format!("oom-{handler}"), handler, false);
    let cmd = [
        "sh",
        "-c",
        "dd if=/dev/zero of=/dev/null bs=256M count=1; code=$?; sleep 2; exit $code",
    ];
    let mut spec = Spec::new("hog", image, &cmd);
    spec.memory_limit = 32 << 20;
    let id = c.create_start(&pod, &spec);
    wait_state(c, &id, ContainerState::ContainerExited, 60);
    let (st, _) = c.status(&id);
    assert_eq!(
        (st.reason.as_str(), st.exit_code),
        ("OOMKilled", 137),
        "{st:?}"
    );
    c.remove(&id);
    c.remove_pod(&pod);
}

/// What the pods of a containerd left on the host.
#[derive(Debug, PartialEq)]
pub struct Leftovers {
    mounts: Vec<String>,
    cgroups: Vec<String>,
    processes: Vec<String>,
    netns: Vec<String>,
    veths: Vec<String>,
}

impl Leftovers {
    pub fn of(c: &Containerd) -> Leftovers {
        let dir = c.dir.display().to_string();
        let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        let netns = c.netns.borrow().clone();
        let mounts = info
            .lines()
            .filter_map(|l| l.split(' ').nth(4))
            .filter(|m| m.starts_with(&dir) || netns.iter().any(|n| n == m))
            .map(String::from)
            .collect();
        let cgroups = harness::cgroups_below(&c.cgroup_parent);
        let mut processes: Vec<String> =
            c.shim_pids().iter().map(|p| format!("shim {p}")).collect();
        for d in &cgroups {
            let procs = std::fs::read_to_string(d.join("cgroup.procs")).unwrap_or_default();
            processes.extend(procs.lines().map(|p| format!("{p} in {}", d.display())));
        }
        let links = std::process::Command::new("ip")
            .args(["-o", "link", "show", "master", &c.bridge])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        Leftovers {
            mounts,
            // Parent directories stay until the harness goes; a container's is named after it.
            cgroups: cgroups
                .iter()
                .filter(|d| names_container(d))
                .map(|d| d.display().to_string())
                .collect(),
            processes,
            netns: netns
                .into_iter()
                .filter(|n| Path::new(n).exists())
                .collect(),
            veths: links.lines().map(String::from).collect(),
        }
    }

    /// Panics unless every kind of trace of a pod is there (for a running pod).
    fn assert_sees_a_pod(&self) {
        let kinds = [
            ("mounts", &self.mounts),
            ("container cgroups", &self.cgroups),
            ("processes", &self.processes),
            ("network namespaces", &self.netns),
            ("veths", &self.veths),
        ];
        for (kind, found) in kinds {
            assert!(
                !found.is_empty(),
                "the leak check sees no {kind} of a running pod: {self:#?}"
            );
        }
    }

    /// What `after` has that `self` had not.
    pub fn new_in(&self, after: &Leftovers) -> Vec<String> {
        let new = |a: &[String], b: &[String]| -> Vec<String> {
            b.iter().filter(|x| !a.contains(x)).cloned().collect()
        };
        [
            new(&self.mounts, &after.mounts),
            new(&self.cgroups, &after.cgroups),
            new(&self.processes, &after.processes),
            new(&self.netns, &after.netns),
            new(&self.veths, &after.veths),
        ]
        .concat()
    }
}

/// True when the directory's name holds a 64-hex container or sandbox id.
fn names_container(d: &Path) -> bool {
    let name = d.file_name().unwrap_or_default().to_string_lossy();
    name.as_bytes()
        .windows(64)
        .any(|w| w.iter().all(u8::is_ascii_hexdigit))
}
