//! Root tests of `hull run`'s networking: the default bridge, user networks, published ports,
//! network modes, cleanup and reconciliation. Every store has its own default subnet
//! (10.240.x.0/24, see `Hull::new`) and bridge (`hull0-<store tag>`); user networks here use
//! 10.232.x.0/24. Traffic stays between the containers' namespaces, their bridges and
//! 127.0.0.1. The tests take one lock (they share hull's nft table and ip_forward).

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream, UdpSocket};
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

use hull_tests::host::{host_objects, leases};
use hull_tests::{fixture, free_port, free_port_pair, probe_path, require_root, wait_until, Hull};
use serde_json::Value;

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn busybox() -> String {
    format!("{}/busybox:latest", fixture("HULL_TEST_REGISTRY"))
}

/// The container's address on `network`, from `inspect`.
fn ip_on(h: &Hull, name: &str, network: &str) -> Ipv4Addr {
    let d = h.inspect(name);
    let ip = d["NetworkSettings"]["Networks"][network]["IPAddress"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    ip.parse()
        .unwrap_or_else(|_| panic!("{name} has no address on {network}: {d}"))
}

fn gateway_of(h: &Hull, name: &str) -> Ipv4Addr {
    h.inspect(name)["NetworkSettings"]["Gateway"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

/// A long-running detached container.
fn sleeper(h: &Hull, name: &str, extra: &[&str]) {
    let image = busybox();
    let mut args = vec!["run", "-d", "--name", name];
    args.extend_from_slice(extra);
    args.extend([image.as_str(), "sleep", "300"]);
    h.ok(&args);
}

fn assert_nothing_left(h: &Hull) {
    let (links, rules) = host_objects(h);
    assert!(links.is_empty(), "links left: {links:#?}");
    assert!(rules.is_empty(), "nft rules left: {rules:#?}");
    assert!(leases(h).is_empty(), "leases left: {:?}", leases(h));
}

fn rm_all(h: &Hull) {
    let ids = h.ok(&["ps", "-aq"]);
    let ids: Vec<&str> = ids.split_whitespace().collect();
    if !ids.is_empty() {
        let mut args = vec!["rm", "-f"];
        args.extend(ids);
        h.ok(&args);
    }
}

fn exec(h: &Hull, name: &str, cmd: &[&str]) -> std::process::Output {
    let mut args = vec!["exec", name];
    args.extend_from_slice(cmd);
    h.run(&args)
}

#[test]
fn two_containers_ping_each_other_and_know_their_address() {
    require_root!();
    let _s = serial();
    let h = Hull::new();
    sleeper(&h, "ca", &[]);
    sleeper(&h, "cb", &[]);
    let (a, b) = (ip_on(&h, "ca", "bridge"), ip_on(&h, "cb", "bridge"));
    assert_ne!(a, b);
    let ping = exec(&h, "ca", &["ping", "-c1", "-W2", &b.to_string()]);
    assert!(ping.status.success(), "a cannot ping b: {ping:?}");
    let ping = exec(&h, "cb", &["ping", "-c1", "-W2", &a.to_string()]);
    assert!(ping.status.success(), "b cannot ping a: {ping:?}");
    let own = exec(&h, "ca", &["hostname", "-i"]);
    assert_eq!(String::from_utf8_lossy(&own.stdout).trim(), a.to_string());
    let hosts = exec(&h, "ca", &["cat", "/etc/hosts"]);
    let hosts = String::from_utf8_lossy(&hosts.stdout).into_owned();
    assert!(hosts.starts_with("127.0.0.1\tlocalhost\n"), "{hosts}");
    assert!(hosts.contains(&format!("{a}\t")), "{hosts}");
    rm_all(&h);
    assert_nothing_left(&h);
}

fn http_get_opt(addr: (Ipv4Addr, u16)) -> Option<String> {
    let mut s = TcpStream::connect_timeout(&addr.into(), Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    s.write_all(b"GET / HTTP/1.0\r\n\r\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

fn http_get(addr: (Ipv4Addr, u16)) -> String {
    let mut s = TcpStream::connect_timeout(&addr.into(), Duration::from_secs(5))
        .unwrap_or_else(|e| panic!("connect {addr:?}: {e}"));
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

#[test]
fn published_http_is_reached_on_loopback_and_on_the_bridge_address() {
    require_root!();
    let _s = serial();
    let h = Hull::new();
    let port = free_port();
    let image = busybox();
    let publish = format!("{port}:80");
    h.ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "-p",
        &publish,
        &image,
        "sh",
        "-c",
        "mkdir /www && echo hello-from-hull > /www/index.html && exec httpd -f -p 80 -h /www",
    ]);
    let ps = h.ok(&["ps"]);
    assert!(ps.contains(&format!("0.0.0.0:{port}->80/tcp")), "{ps}");
    assert_eq!(
        h.ok(&["port", "web", "80"]).trim(),
        format!("0.0.0.0:{port}")
    );
    let gw = gateway_of(&h, "web");
    wait_until("httpd answers", || {
        TcpStream::connect((Ipv4Addr::LOCALHOST, port))
            .and_then(|mut s| {
                s.write_all(b"GET / HTTP/1.0\r\n\r\n")?;
                let mut v = String::new();
                s.read_to_string(&mut v)?;
                Ok(v.contains("hello-from-hull"))
            })
            .unwrap_or(false)
    });
    assert!(http_get((Ipv4Addr::LOCALHOST, port)).contains("hello-from-hull"));
    assert!(http_get((gw, port)).contains("hello-from-hull"));
    let d = h.inspect("web");
    assert_eq!(
        d["NetworkSettings"]["Ports"]["80/tcp"][0]["HostPort"],
        port.to_string()
    );
    assert_eq!(
        d["HostConfig"]["PortBindings"]["80/tcp"][0]["HostPort"],
        port.to_string()
    );
    // -P with --expose: a random host port, shown by `hull port`.
    h.ok(&[
        "run",
        "-d",
        "--name",
        "web2",
        "-P",
        "--expose",
        "80",
        &image,
        "sh",
        "-c",
        "mkdir /www && echo random-port > /www/index.html && exec httpd -f -p 80 -h /www",
    ]);
    let mapped = h.ok(&["port", "web2"]);
    let random: u16 = mapped
        .trim()
        .strip_prefix("80/tcp -> 0.0.0.0:")
        .unwrap_or_else(|| panic!("{mapped}"))
        .parse()
        .unwrap();
    assert_ne!(random, port);
    wait_until("httpd on the random port answers", || {
        http_get_opt((Ipv4Addr::LOCALHOST, random)).is_some_and(|r| r.contains("random-port"))
    });
    rm_all(&h);
    assert_nothing_left(&h);
}

#[test]
fn published_udp_port_answers() {
    require_root!();
    let _s = serial();
    let h = Hull::new();
    let port = UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let publish = format!("127.0.0.1:{port}:5353/udp");
    let probe = format!("{}:/probe:ro", probe_path().display());
    h.ok(&[
        "run",
        "-d",
        "--name",
        "udp",
        "-p",
        &publish,
        "-v",
        &probe,
        &busybox(),
        "/probe",
        "udp-echo",
        "5353",
    ]);
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut buf = [0u8; 64];
    let mut got = String::new();
    wait_until("a UDP echo", || {
        let _ = sock.send_to(b"ping-udp\n", ("127.0.0.1", port));
        match sock.recv(&mut buf) {
            Ok(n) => {
                got = String::from_utf8_lossy(&buf[..n]).into_owned();
                true
            }
            Err(_) => false,
        }
    });
    assert_eq!(got, "ping-udp\n");
    rm_all(&h);
    assert_nothing_left(&h);
}

#[test]
fn a_port_in_use_fails_before_the_container_starts() {
    require_root!();
    let _s = serial();
    let h = Hull::new();
    let held = TcpListener::bind("0.0.0.0:0").unwrap();
    let port = held.local_addr().unwrap().port();
    let publish = format!("{port}:80");
    let out = h.run(&[
        "run",
        "--name",
        "clash",
        "-p",
        &publish,
        &busybox(),
        "touch",
        "/ran",
    ]);
    assert_eq!(out.status.code(), Some(125), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        err.trim().lines().last().unwrap_or_default(),
        format!("hull: host port 0.0.0.0:{port}->80/tcp is already in use"),
    );
    let ps = h.ok(&["ps", "-a"]);
    assert!(!ps.contains("Up "), "{ps}");
    assert_nothing_left(&h);
    // -d reports the same, and nothing is left running either.
    let out = h.run(&["run", "-d", "-p", &publish, &busybox(), "sleep", "30"]);
    assert_eq!(out.status.code(), Some(125), "{out:?}");
    assert!(h.ok(&["ps", "-q"]).trim().is_empty());
    rm_all(&h);
    assert_nothing_left(&h);
}

#[test]
fn user_networks_are_isolated_from_each_other() {
    require_root!();
    let _s = serial();
    let h = Hull::new();
    h.ok(&["network", "create", "--subnet", "10.232.1.0/24", "red"]);
    h.ok(&["network", "create", "--subnet", "10.232.2.0/24", "blue"]);
    sleeper(&h, "r1", &["--network", "red", "--ip", "10.232.1.50"]);
    assert_eq!(ip_on(&h, "r1", "red"), Ipv4Addr::new(10, 232, 1, 50));
    let taken = h.fails(&[
        "run",
        "--rm",
        "--network",
        "red",
        "--ip",
        "10.232.1.50",
        &busybox(),
        "true",
    ]);
    assert!(
        taken.contains("address 10.232.1.50 is already in use"),
        "{taken}"
    );
    sleeper(&h, "r2", &["--network", "red", "--network-alias", "db"]);
    sleeper(&h, "b1", &["--network", "blue"]);
    let (r2, b1) = (ip_on(&h, "r2", "red"), ip_on(&h, "b1", "blue"));
    assert!(r2.octets()[..3] == [10, 232, 1], "{r2}");
    let same = exec(&h, "r1", &["ping", "-c1", "-W2", &r2.to_string()]);
    assert!(same.status.success(), "same network: {same:?}");
    let other = exec(&h, "r1", &["ping", "-c1", "-W1", &b1.to_string()]);
    assert!(!other.status.success(), "red reached blue");
    let d = h.inspect("r2");
    let red = &d["NetworkSettings"]["Networks"]["red"];
    let short = &d["Id"].as_str().unwrap()[..12];
    assert_eq!(red["Aliases"], serde_json::json!(["db", short]));
    assert_eq!(red["DNSNames"], serde_json::json!(["r2", "db", short]));
    assert_eq!(red["IPAMConfig"], Value::Null);
    assert_eq!(red["EndpointID"], d["Id"]);
    // The DNS answers every DNSNames entry with r2's address.
    for name in ["r2", "db", short] {
        let out = exec(&h, "r1", &["nslookup", name, "127.0.0.11"]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains(&r2.to_string()), "{name}: {text}");
    }
    let r1 = &h.inspect("r1")["NetworkSettings"]["Networks"]["red"];
    assert_eq!(
        r1["IPAMConfig"],
        serde_json::json!({"IPv4Address": "10.232.1.50"})
    );
    rm_all(&h);
    h.ok(&["network", "rm", "red", "blue"]);
    assert_nothing_left(&h);
}

#[test]
fn thirty_containers_started_in_parallel_get_distinct_addresses() {
    require_root!();
    let _s = serial();
    let h = Hull::new();
    let image = busybox();
    // 30 on a host; HULL_TEST_SCALE=0.2 (the VM tier, under TCG) makes it 6.
    let n = hull_tests::scaled(30);
    let children: Vec<_> = (0..n)
        .map(|i| {
            h.command(&[
                "run",
                "-d",
                "--name",
                &format!("p{i}"),
                &image,
                "sleep",
                "300",
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success(), "{out:?}");
    }
    let mut ips: Vec<Ipv4Addr> = (0..n)
        .map(|i| ip_on(&h, &format!("p{i}"), "bridge"))
        .collect();
    ips.sort();
    ips.dedup();
    assert_eq!(ips.len(), n, "duplicate addresses: {ips:?}");
    let first = exec(&h, "p0", &["ping", "-c1", "-W2", &ips[n - 1].to_string()]);
    assert!(first.status.success(), "{first:?}");
    rm_all(&h);
    assert_nothing_left(&h);
}

#[test]
fn a_killed_monitor_leaves_an_endpoint_the_next_command_reconciles() {
    require_root!();
    let _s = serial();
    let h = Hull::new();
    let port = free_port();
    let publish = format!("{port}:80");
    sleeper(&h, "orphan", &["-p", &publish]);
    let id = h
        .ok(&["inspect", "-f", "{{.Id}}", "orphan"])
        .trim()
        .to_string();
    let pid = h.inspect("orphan")["State"]["Pid"].as_i64().unwrap();
    let monitor = monitor_pid(&id).expect("the monitor's pid");
    let kill = |p: i64| {
        assert!(Command::new("kill")
            .args(["-9", &p.to_string()])
            .status()
            .unwrap()
            .success())
    };
    kill(monitor);
    wait_until("the monitor is gone", || {
        !std::path::Path::new(&format!("/proc/{monitor}")).exists()
    });
    kill(pid); // the container's init, orphaned: its netns goes with it
    wait_until("the init is gone", || {
        !std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z "))
    });
    assert!(
        !leases(&h).is_empty(),
        "the endpoint should still be leased"
    );
    h.ok(&["ps"]);
    assert!(
        leases(&h).is_empty(),
        "ps did not reconcile: {:?}",
        leases(&h)
    );
    assert_nothing_left(&h);
    // The port is free again for a new container.
    let out = h.run(&["run", "--rm", "-p", &publish, &busybox(), "true"]);
    assert!(out.status.success(), "{out:?}");
    rm_all(&h);
    assert_nothing_left(&h);
}

/// The pid of `hull __monitor <id>`, found in /proc.
fn monitor_pid(id: &str) -> Option<i64> {
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let pid: i64 = e.file_name().to_str()?.parse().ok()?;
        let cmdline = std::fs::read(e.path().join("cmdline")).ok()?;
        let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
        let hit = args
            .windows(2)
            .any(|w| w[0] == b"__monitor" && w[1] == id.as_bytes());
        hit.then_some(pid)
    })
}

#[test]
fn none_host_and_container_modes() {
    require_root!();
    let _s = serial();
    let h = Hull::new();
    let image = busybox();
    let none = h.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        &image,
        "ls",
        "/sys/class/net",
    ]);
    assert_eq!(none.split_whitespace().collect::<Vec<_>>(), ["lo"]);
    let host_links = std::fs::read_dir("/sys/class/net").unwrap().count();
    let host = h.ok(&[
        "run",
        "--rm",
        "--network",
        "host",
        &image,
        "ls",
        "/sys/class/net",
    ]);
    assert_eq!(host.split_whitespace().count(), host_links, "{host}");
    // Docker runs it, warns and discards the ports.
    let out = h.run(&[
        "run",
        "--rm",
        "--network",
        "host",
        "-p",
        "80",
        &image,
        "echo",
        "ran",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "ran\n");
    assert!(
        err.contains("WARNING: Published ports are discarded when using host network mode"),
        "{err}"
    );
    let err = h.fails(&[
        "run",
        "--rm",
        "--network",
        "none",
        "-p",
        "80",
        &image,
        "true",
    ]);
    assert!(err.contains("conflicting options"), "{err}");
    sleeper(&h, "base", &[]);
    let base_ip = ip_on(&h, "base", "bridge");
    let joined = h.ok(&[
        "run",
        "--rm",
        "--network",
        "container:base",
        &image,
        "hostname",
        "-i",
    ]);
    assert_eq!(joined.trim(), base_ip.to_string());
    h.ok(&["stop", "-t", "1", "base"]);
    let err = h.fails(&["run", "--rm", "--network", "container:base", &image, "true"]);
    assert!(err.contains("non running container"), "{err}");
    rm_all(&h);
    assert_nothing_left(&h);
}

#[test]
fn network_sweep_lists_and_removes_what_nothing_owns() {
    require_root!();
    let _s = serial();
    let h = Hull::new();
    sleeper(&h, "kept", &[]);
    // A lease whose owner never existed: what a crash between reserve and the record leaves.
    let nets = hull_net::Networks::open(&h.root());
    let bridge = nets.get("bridge").unwrap();
    nets.ipam(&bridge).allocate("ghost").unwrap();
    let out = h.ok(&["network", "sweep"]);
    assert!(out.contains("endpoint bridge/ghost"), "{out}");
    assert_eq!(leases(&h).len(), 1, "the running container keeps its lease");
    let again = h.ok(&["network", "sweep"]);
    assert!(again.trim().is_empty(), "{again}");
    rm_all(&h);
    assert_nothing_left(&h);
}

#[test]
fn the_host_wide_sweep_removes_what_a_deleted_store_left() {
    require_root!();
    let _s = serial();
    let gone = Hull::new();
    let port = free_port();
    let publish = format!("{port}:80");
    sleeper(&gone, "left", &["-p", &publish]);
    let id = gone
        .ok(&["inspect", "-f", "{{.Id}}", "left"])
        .trim()
        .to_string();
    let pid = gone.inspect("left")["State"]["Pid"].as_i64().unwrap();
    let monitor = monitor_pid(&id).expect("the monitor's pid");
    for p in [monitor, pid] {
        assert!(Command::new("kill")
            .args(["-9", &p.to_string()])
            .status()
            .unwrap()
            .success());
    }
    wait_until("the init is gone", || {
        !std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z "))
    });
    let (links, rules) = host_objects(&gone);
    assert!(
        !links.is_empty() && !rules.is_empty(),
        "{links:?} {rules:?}"
    );
    // The store's network state goes, as when a store directory is deleted.
    std::fs::remove_dir_all(gone.root().join("networks")).unwrap();
    let other = Hull::new();
    let out = other.ok(&["network", "sweep"]);
    for l in &links {
        let name = l.split(": ").nth(1).unwrap().split('@').next().unwrap();
        assert!(
            out.contains(&format!("link {name}")),
            "{name} not swept: {out}"
        );
    }
    let (links, rules) = host_objects(&gone);
    assert!(links.is_empty(), "links left: {links:#?}");
    assert!(rules.is_empty(), "rules left: {rules:#?}");
}

#[test]
fn containers_on_a_user_network_find_each_other_by_name_and_alias() {
    require_root!();
    let _s = serial();
    let h = Hull::new();
    h.ok(&["network", "create", "--subnet", "10.232.5.0/24", "names"]);
    sleeper(&h, "srv", &["--network", "names", "--network-alias", "db"]);
    sleeper(&h, "client", &["--network", "names"]);
    sleeper(&h, "outsider", &[]);
    let srv = ip_on(&h, "srv", "names");

    let resolv = exec(&h, "client", &["cat", "/etc/resolv.conf"]);
    let resolv = String::from_utf8_lossy(&resolv.stdout).into_owned();
    assert!(resolv.contains("nameserver 127.0.0.11"), "{resolv}");
    for name in ["srv", "db", "SRV.names"] {
        let out = exec(&h, "client", &["nslookup", name]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains(&srv.to_string()), "{name}: {out:?}");
    }
    let by_name = exec(&h, "client", &["ping", "-c1", "-W2", "db"]);
    assert!(by_name.status.success(), "ping db: {by_name:?}");
    // The default bridge has no embedded DNS (Docker's rule), and srv is not on it anyway.
    let outside = exec(&h, "outsider", &["ping", "-c1", "-W1", "srv"]);
    assert!(!outside.status.success(), "the default bridge resolved srv");

    // connect: a second interface on `names`, reachable by address; disconnect removes it.
    h.ok(&["network", "connect", "names", "outsider"]);
    let eth1 = exec(&h, "outsider", &["ip", "-o", "-4", "addr", "show", "eth1"]);
    assert!(
        String::from_utf8_lossy(&eth1.stdout).contains("10.232.5."),
        "{eth1:?}"
    );
    let over_eth1 = exec(&h, "outsider", &["ping", "-c1", "-W2", &srv.to_string()]);
    assert!(over_eth1.status.success(), "{over_eth1:?}");
    // inspect shows the connection beside the first network, with eth1's address.
    let nets = h.inspect("outsider")["NetworkSettings"]["Networks"].clone();
    let names = nets["names"]["IPAddress"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(eth1_has(&eth1, &names), "inspect: {nets}");
    assert_eq!(nets["names"]["DNSNames"][0], "outsider", "{nets}");
    assert!(nets["bridge"]["IPAddress"].is_string(), "{nets}");
    h.ok(&["network", "disconnect", "names", "outsider"]);
    let nets = h.inspect("outsider")["NetworkSettings"]["Networks"].clone();
    assert!(
        nets.get("names").is_none(),
        "still in inspect after disconnect: {nets}"
    );
    let gone = exec(&h, "outsider", &["ip", "link", "show", "eth1"]);
    assert!(!gone.status.success(), "eth1 still there: {gone:?}");

    rm_all(&h);
    h.ok(&["network", "rm", "names"]);
    assert_nothing_left(&h);
}

/// Whether `ip -o addr show eth1`'s output holds `ip` (a non-empty address).
fn eth1_has(out: &std::process::Output, ip: &str) -> bool {
    !ip.is_empty() && String::from_utf8_lossy(&out.stdout).contains(&format!("{ip}/"))
}

/// Regression: a runner killed after releasing its network's last lease but before removing
/// the bridge and NAT rules left them for good: `rm` found no lease to detach, and `network
/// sweep` kept every network's rules as claimed.
#[test]
fn a_detach_killed_after_releasing_the_last_lease_leaves_nothing_after_sweep() {
    require_root!();
    let _s = serial();
    let h = Hull::new();
    sleeper(&h, "released", &[]);
    let id = h
        .ok(&["inspect", "-f", "{{.Id}}", "released"])
        .trim()
        .to_string();
    let monitor = monitor_pid(&id).expect("the monitor's pid");
    assert!(Command::new("kill")
        .args(["-9", &monitor.to_string()])
        .status()
        .unwrap()
        .success());
    // The kill landed right after the lease was released.
    let nets = hull_net::Networks::open(&h.root());
    let bridge = nets.get("bridge").unwrap();
    assert!(nets.ipam(&bridge).release(&id).unwrap().is_some());
    let (links, rules) = host_objects(&h);
    assert!(
        !links.is_empty() && !rules.is_empty(),
        "{links:?} {rules:?}"
    );
    h.ok(&["rm", "-f", "released"]);
    h.ok(&["network", "sweep"]);
    assert_nothing_left(&h);
}

#[test]
fn ps_lists_exposed_ports_and_merges_ranges() {
    require_root!();
    let _s = serial();
    let h = Hull::new();
    let range = free_port_pair();
    let published = format!("{range}-{}:{range}-{}", range + 1, range + 1);
    sleeper(
        &h,
        "ranges",
        &["--expose", "90", "--expose", "91/tcp", "-p", &published],
    );
    let ps = h.ok(&["ps", "--format", "{{.Ports}}"]);
    assert_eq!(
        ps.trim(),
        format!(
            "90-91/tcp, 0.0.0.0:{range}-{}->{range}-{}/tcp",
            range + 1,
            range + 1
        )
    );
    h.ok(&["stop", "-t", "1", "ranges"]);
    let ps = h.ok(&["ps", "-a", "--format", "{{.Ports}}"]);
    assert_eq!(ps.trim(), "", "a stopped container shows no ports");
    rm_all(&h);
    assert_nothing_left(&h);
}

#[test]
fn port_errors_read_like_dockers() {
    require_root!();
    let _s = serial();
    let h = Hull::new();
    sleeper(&h, "one", &["-p", "80"]);
    let err = h.fails(&["port", "one", "81"]);
    assert!(
        err.contains("No public port '81/tcp' published for one"),
        "{err}"
    );
    h.ok(&["stop", "-t", "1", "one"]);
    assert_eq!(
        h.ok(&["port", "one"]),
        "",
        "a stopped container has no ports"
    );
    let err = h.fails(&["port", "one", "80"]);
    assert!(
        err.contains("No public port '80/tcp' published for one"),
        "{err}"
    );
    let err = h.fails(&["port", "nosuch"]);
    assert!(
        err.to_lowercase().contains("no such container: nosuch"),
        "{err}"
    );
    rm_all(&h);
    assert_nothing_left(&h);
}

#[test]
fn hostname_add_host_and_dns_flags_shape_the_containers_etc_files() {
    require_root!();
    let _s = serial();
    let h = Hull::new();
    let script = "hostname; hostname -i; echo ==; cat /etc/hosts; echo ==; cat /etc/resolv.conf";
    let out = h.ok(&[
        "run",
        "--rm",
        "--hostname",
        "web1",
        "--add-host",
        "db.local:10.1.2.3",
        "--dns",
        "10.9.9.9",
        "--dns-search",
        "x.test",
        "--dns-option",
        "ndots:2",
        &busybox(),
        "sh",
        "-c",
        script,
    ]);
    let parts: Vec<&str> = out.split("==\n").collect();
    assert_eq!(parts.len(), 3, "{out}");
    let mut head = parts[0].lines();
    assert_eq!(head.next(), Some("web1"), "{out}");
    let ip: Ipv4Addr = head.next().unwrap().trim().parse().expect("hostname -i");
    let hosts = parts[1];
    assert!(hosts.contains("10.1.2.3\tdb.local"), "{hosts}");
    assert!(hosts.contains(&format!("{ip}\tweb1")), "{hosts}");
    assert!(hosts.contains("127.0.0.1\tlocalhost"), "{hosts}");
    let resolv = parts[2];
    assert!(resolv.contains("nameserver 10.9.9.9"), "{resolv}");
    assert!(!resolv.contains("nameserver 127."), "{resolv}");
    assert!(resolv.contains("search x.test\n"), "{resolv}");
    assert!(resolv.contains("options ndots:2\n"), "{resolv}");

    // On a user network the embedded resolver is the only nameserver; the search and options
    // given still apply (and --dns becomes its upstream).
    h.ok(&["network", "create", "--subnet", "10.232.6.0/24", "etcnet"]);
    let resolv = h.ok(&[
        "run",
        "--rm",
        "--network",
        "etcnet",
        "--dns-search",
        ".",
        "--dns",
        "10.9.9.9",
        &busybox(),
        "cat",
        "/etc/resolv.conf",
    ]);
    assert!(resolv.starts_with("nameserver 127.0.0.11\n"), "{resolv}");
    assert!(!resolv.contains("10.9.9.9"), "{resolv}");
    assert!(!resolv.contains("search"), "{resolv}");
    h.ok(&["network", "rm", "etcnet"]);
    assert_nothing_left(&h);
}
