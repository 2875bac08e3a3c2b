//! Crash safety of container and network state changes: each operation is started, its `hull`
//! process gets `kill -9` (in a second variant the store's monitors too) at a spread of moments,
//! and then the store must still be usable and exact:
//!
//! - `ps -a` works, lists every container that has a record, shows no duplicate names and no
//!   "Up" for a container whose processes are gone;
//! - `rm -f` of everything, `network rm` of the test network and `network sweep` succeed;
//! - nothing of the store is left on the host: no process, cgroup, mount, link, nft rule,
//!   lease, monitor, runtime state, nor a `write_atomic` temp file;
//! - the name can be used again.
//!
//! The delays are fractions of how long the operation takes when it is not killed (measured
//! first), so the kills spread over its whole course; `run` also gets killed at moments found
//! by polling the store (record published, runtime state written...).

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hull_tests::host::{atomic_temps_below, host_objects, leases, monitor_pids, mounts_below};
use hull_tests::{
    busybox, cgroup_dirs, container_pids, entries, free_port, require_root, wait_until, Hull,
};

/// The tests share hull's nft table and ip_forward with each other.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

const NAME: &str = "crashme";
const NET: &str = "crashnet";

/// A container that exits at SIGTERM at once (`sleep` as pid 1 would ignore it), so that
/// `stop` and `restart` run their whole course quickly.
const SLEEPER: &str = "trap 'exit 0' TERM; sleep 300 & wait";

/// Who gets `kill -9`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Victims {
    /// The hull process that makes the change.
    Cli,
    /// That, and every monitor of the store right after.
    CliAndMonitors,
}

/// When the kill lands.
#[derive(Clone, Copy)]
enum Moment {
    After(Duration),
    /// The store reached a state: the first moment `reached` says yes.
    Store(&'static str, fn(&Path) -> bool),
}

impl std::fmt::Debug for Moment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Moment::After(d) => write!(f, "{d:?}"),
            Moment::Store(what, _) => f.write_str(what),
        }
    }
}

struct Op {
    what: &'static str,
    /// Brings the store to where the operation starts.
    setup: fn(&Hull),
    /// The operation's arguments.
    args: fn(&Hull) -> Vec<String>,
    /// Whether a monitor runs while it does its work (a second round kills it too).
    monitors: bool,
    /// Extra moments found by polling the store.
    moments: &'static [Moment],
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn sleeper_args(mode: &str, extra: &[String]) -> Vec<String> {
    let mut v = strings(&[mode]);
    v.extend(strings(&["--name", NAME]));
    v.extend(extra.iter().cloned());
    v.extend([busybox(), "sh".into(), "-c".into(), SLEEPER.into()]);
    v
}

fn run_sleeper(h: &Hull) {
    let args = sleeper_args("run", &strings(&["-d"]));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    h.ok(&args);
}

/// This test's user network: 10.233.<n>.0/24 beside the store's default 10.240.<n>.0/24.
fn user_subnet(h: &Hull) -> String {
    h.default_subnet().replacen("10.240.", "10.233.", 1)
}

fn create_network(h: &Hull) {
    h.ok(&["network", "create", "--subnet", &user_subnet(h), NET]);
}

fn nothing(_: &Hull) {}

/// A container's record directory was published.
fn record_published(root: &Path) -> bool {
    entries(&root.join("containers"))
        .iter()
        .any(|d| d.len() == 64)
}

fn runtime_dir_made(root: &Path) -> bool {
    !entries(&root.join("runtime")).is_empty()
}

fn runtime_state_written(root: &Path) -> bool {
    entries(&root.join("runtime"))
        .iter()
        .any(|d| root.join("runtime").join(d).join("state.json").exists())
}

fn lease_taken(root: &Path) -> bool {
    std::fs::read_to_string(root.join("networks/bridge/leases.json"))
        .is_ok_and(|t| t.contains("\"ip\""))
}

const RUN_MOMENTS: &[Moment] = &[
    Moment::Store("record published", record_published),
    Moment::Store("runtime dir made", runtime_dir_made),
    Moment::Store("lease taken", lease_taken),
    Moment::Store("runtime state written", runtime_state_written),
];

/// A spawned hull that is SIGKILLed and reaped when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(h: &Hull, args: &[String]) -> Running {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Running(
        h.command(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn hull"),
    )
}

/// Runs the operation to its end and returns how long it took.
fn measure(h: &Hull, op: &Op) -> Duration {
    (op.setup)(h);
    let args = (op.args)(h);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let t = Instant::now();
    h.ok(&args);
    let took = t.elapsed();
    check_and_clean(h, &format!("{} (not killed)", op.what));
    took
}

/// Kill moments spread over an operation that takes `d`.
fn delays(d: Duration) -> Vec<Moment> {
    let mut v: Vec<Duration> = [0u32, 2, 4, 8, 12]
        .iter()
        .map(|&sixteenths| d * sixteenths / 16)
        .collect();
    v.dedup();
    // Fewer under HULL_TEST_SCALE; the store moments of each operation always run.
    hull_tests::scaled_pick(&v, 2)
        .into_iter()
        .map(Moment::After)
        .collect()
}

/// Starts the operation, waits for `moment`, kills the victims.
fn start_and_kill(h: &Hull, op: &Op, moment: Moment, victims: Victims) {
    (op.setup)(h);
    let start = Instant::now();
    let mut cli = spawn(h, &(op.args)(h));
    let root = h.root();
    loop {
        let reached = match moment {
            Moment::After(d) => start.elapsed() >= d,
            Moment::Store(_, reached) => reached(&root),
        };
        if reached || cli.0.try_wait().expect("try_wait").is_some() {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{}: {moment:?} never came",
            op.what
        );
        std::thread::sleep(Duration::from_micros(200));
    }
    drop(cli);
    if victims == Victims::CliAndMonitors {
        kill9(&monitor_pids(h));
    }
}

fn kill9(pids: &[String]) {
    for pid in pids {
        let _ = std::process::Command::new("kill")
            .args(["-9", pid])
            .status();
    }
}

/// `ps -a`: (id, name, status) of each container.
fn ps_all(h: &Hull) -> Vec<(String, String, String)> {
    h.ok(&[
        "ps",
        "-a",
        "--no-trunc",
        "--format",
        "{{.ID}}\t{{.Names}}\t{{.Status}}",
    ])
    .lines()
    .map(|l| {
        let mut f = l.splitn(3, '\t').map(String::from);
        (
            f.next().unwrap(),
            f.next().unwrap_or_default(),
            f.next().unwrap_or_default(),
        )
    })
    .collect()
}

/// Container directories that hold a record.
fn recorded(h: &Hull) -> BTreeSet<String> {
    let dir = h.root().join("containers");
    entries(&dir)
        .into_iter()
        .filter(|d| !d.starts_with('.') && dir.join(d).join("container.json").exists())
        .collect()
}

/// Containers that `ps` shows "Up" although none of their processes lives.
fn up_but_dead(listed: &[(String, String, String)]) -> Vec<String> {
    listed
        .iter()
        .filter(|(id, _, status)| status.starts_with("Up") && container_pids(id).is_empty())
        .map(|(_, name, status)| format!("{name}: {status}"))
        .collect()
}

/// Asserts the store's invariants after a kill, removes everything through hull, and asserts
/// that nothing of the store is left on the host.
fn check_and_clean(h: &Hull, when: &str) {
    let mut listed = ps_all(h);
    // A live runner records an exit a moment after the container died (as Docker's daemon
    // does); only an "Up" that never turns into the truth is a lie.
    let t = Instant::now();
    while !up_but_dead(&listed).is_empty() {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "{when}: shown Up, but no process of it lives: {:?}",
            up_but_dead(&listed)
        );
        std::thread::sleep(Duration::from_millis(20));
        listed = ps_all(h);
    }
    let ids: BTreeSet<String> = listed.iter().map(|(id, _, _)| id.clone()).collect();
    let names: BTreeSet<&String> = listed.iter().map(|(_, n, _)| n).collect();
    assert_eq!(
        names.len(),
        listed.len(),
        "{when}: duplicate names {listed:?}"
    );
    assert_eq!(
        ids,
        recorded(h),
        "{when}: ps -a is not what the store holds"
    );

    if !ids.is_empty() {
        let mut args = vec!["rm", "-f"];
        args.extend(ids.iter().map(String::as_str));
        h.ok(&args);
    }
    if h.ok(&["network", "ls"])
        .lines()
        .any(|l| l.split_whitespace().nth(1) == Some(NET))
    {
        h.ok(&["network", "rm", NET]);
    }
    h.ok(&["network", "sweep"]);
    assert!(ps_all(h).is_empty(), "{when}: ps -a after rm -f of all");
    assert_nothing_left(h, &ids, when);
}

fn assert_nothing_left(h: &Hull, ids: &BTreeSet<String>, when: &str) {
    for id in ids {
        assert!(container_pids(id).is_empty(), "{when}: processes of {id}");
        assert!(cgroup_dirs(id).is_empty(), "{when}: {:?}", cgroup_dirs(id));
    }
    wait_until("the monitors to exit", || monitor_pids(h).is_empty());
    assert_eq!(mounts_below(h), Vec::<String>::new(), "{when}: mounts left");
    let (links, rules) = host_objects(h);
    assert!(links.is_empty(), "{when}: links left: {links:#?}");
    assert!(rules.is_empty(), "{when}: nft rules left: {rules:#?}");
    assert!(leases(h).is_empty(), "{when}: leases left: {:?}", leases(h));
    assert!(
        entries(&h.root().join("runtime")).is_empty(),
        "{when}: runtime state left: {:?}",
        entries(&h.root().join("runtime"))
    );
    let temps = atomic_temps_below(&h.root());
    let owners: Vec<String> = temps.iter().map(|t| temp_owner(t)).collect();
    assert!(
        temps.is_empty(),
        "{when}: temp files left: {temps:#?} (writers: {owners:?})"
    );
}

/// The command line of the process that wrote a temp file, or "dead".
fn temp_owner(temp: &Path) -> String {
    let name = temp.file_name().unwrap().to_string_lossy();
    let pid = name.rsplit('.').nth(2).unwrap_or_default().to_string();
    std::fs::read(format!("/proc/{pid}/cmdline")).map_or_else(
        |_| format!("{pid}: dead"),
        |c| format!("{pid}: {}", String::from_utf8_lossy(&c).replace('\0', " ")),
    )
}

/// The name is free again: a new container takes it.
fn assert_name_reusable(h: &Hull, what: &str) {
    run_sleeper(h);
    check_and_clean(h, &format!("{what}: reusing the name"));
}

/// When the test ends, passing or failing: removes the test network and what hull could not
/// (processes in the cgroups of this store's containers, the cgroups).
struct Cleanup<'a>(&'a Hull);

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        let h = self.0;
        kill9(&monitor_pids(h));
        let ids = entries(&h.root().join("containers"));
        for id in ids.iter().filter(|id| id.len() == 64) {
            let _ = h.run(&["rm", "-f", id]);
            kill9(&container_pids(id));
            for dir in cgroup_dirs(id) {
                let _ = std::fs::remove_dir(dir);
            }
        }
        let _ = h.run(&["network", "rm", NET]);
        let _ = h.run(&["network", "sweep"]);
    }
}

/// Measures the operation, then kills it at each moment (and its monitors, when it has any).
fn crash(op: Op) {
    let _s = serial();
    let h = Hull::new();
    h.ok(&["pull", "-q", &busybox()]);
    let _cleanup = Cleanup(&h);
    let took = measure(&h, &op);
    let mut moments = delays(took);
    moments.extend_from_slice(op.moments);
    let rounds: &[Victims] = if op.monitors {
        &[Victims::Cli, Victims::CliAndMonitors]
    } else {
        &[Victims::Cli]
    };
    let t = Instant::now();
    for &victims in rounds {
        for &moment in &moments {
            start_and_kill(&h, &op, moment, victims);
            check_and_clean(
                &h,
                &format!("{} killed ({victims:?}) at {moment:?}", op.what),
            );
        }
    }
    assert_name_reusable(&h, op.what);
    eprintln!(
        "{}: takes {took:?}; {} kills checked in {:?}",
        op.what,
        moments.len() * rounds.len(),
        t.elapsed()
    );
}

#[test]
fn run_detached_on_the_default_bridge_survives_kill_9() {
    require_root!();
    crash(Op {
        what: "run -d",
        setup: nothing,
        args: |_| sleeper_args("run", &strings(&["-d"])),
        monitors: true,
        moments: RUN_MOMENTS,
    });
}

#[test]
fn run_detached_with_a_published_port_survives_kill_9() {
    require_root!();
    crash(Op {
        what: "run -d -p",
        setup: nothing,
        args: |_| {
            let publish = format!("127.0.0.1:{}:80", free_port());
            sleeper_args("run", &strings(&["-d", "-p", &publish]))
        },
        monitors: true,
        moments: RUN_MOMENTS,
    });
}

#[test]
fn foreground_run_rm_survives_kill_9() {
    require_root!();
    crash(Op {
        what: "run --rm",
        setup: nothing,
        // Exits by itself, so the measured run ends; the kills mostly land before that.
        args: |_| {
            let mut v = strings(&["run", "--rm", "--name", NAME]);
            v.extend([busybox(), "sleep".into(), "0.3".into()]);
            v
        },
        monitors: false,
        moments: RUN_MOMENTS,
    });
}

#[test]
fn rm_f_of_a_running_container_survives_kill_9() {
    require_root!();
    crash(Op {
        what: "rm -f",
        setup: run_sleeper,
        args: |_| strings(&["rm", "-f", NAME]),
        monitors: true,
        moments: &[],
    });
}

#[test]
fn stop_survives_kill_9() {
    require_root!();
    crash(Op {
        what: "stop",
        setup: run_sleeper,
        args: |_| strings(&["stop", "-t", "2", NAME]),
        monitors: true,
        moments: &[],
    });
}

#[test]
fn restart_survives_kill_9() {
    require_root!();
    crash(Op {
        what: "restart",
        setup: run_sleeper,
        args: |_| strings(&["restart", "-t", "2", NAME]),
        monitors: true,
        moments: &[],
    });
}

#[test]
fn rename_survives_kill_9() {
    require_root!();
    crash(Op {
        what: "rename",
        setup: run_sleeper,
        args: |_| strings(&["rename", NAME, "crashme2"]),
        monitors: false,
        moments: &[],
    });
}

#[test]
fn create_survives_kill_9() {
    require_root!();
    crash(Op {
        what: "create",
        setup: nothing,
        args: |_| sleeper_args("create", &[]),
        monitors: false,
        moments: &[Moment::Store("record published", record_published)],
    });
}

#[test]
fn network_create_and_rm_survive_kill_9() {
    require_root!();
    crash(Op {
        what: "network create",
        setup: nothing,
        args: |h| strings(&["network", "create", "--subnet", &user_subnet(h), NET]),
        monitors: false,
        moments: &[],
    });
    crash(Op {
        what: "network rm",
        setup: create_network,
        args: |_| strings(&["network", "rm", NET]),
        monitors: false,
        moments: &[],
    });
}

fn sleeper_on_network(h: &Hull) {
    create_network(h);
    run_sleeper(h);
    h.ok(&["network", "connect", NET, NAME]);
}

#[test]
fn network_connect_and_disconnect_survive_kill_9() {
    require_root!();
    crash(Op {
        what: "network connect",
        setup: |h| {
            create_network(h);
            run_sleeper(h);
        },
        args: |_| strings(&["network", "connect", NET, NAME]),
        monitors: true,
        moments: &[],
    });
    crash(Op {
        what: "network disconnect",
        setup: sleeper_on_network,
        args: |_| strings(&["network", "disconnect", NET, NAME]),
        monitors: true,
        moments: &[],
    });
}
