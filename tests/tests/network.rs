//! Root tests of hull_net: bridges, veths, IPAM, NAT and published ports, on network
//! namespaces the tests create (`ip netns add`, unique names) and networks with their own
//! subnets (10.231.x.0/24) and bridges in a private store, so a real `hull0` is never touched.
//! No traffic leaves the machine: it goes between these namespaces and 127.0.0.1 / the
//! bridges' own addresses. The tests share host state (links, hull's nft table, ip_forward),
//! so they take one lock and run one at a time.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpStream, UdpSocket};
use std::path::Path;
use std::process::{Child, Command};
use std::sync::Mutex;
use std::time::Duration;

use hull_net::{self as network, Attachment, Endpoint, Networks, PortMap, Proto};
use hull_tests::netns::{link_names, NetStore, Netns};
use hull_tests::{free_port, require_root, wait_until, Hull};

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn attach(store: &NetStore, ns: &Netns, owner: &str, net: &str, ports: &[PortMap]) -> Attachment {
    store.attach_endpoint(ns, &endpoint(owner, net, ports))
}

fn endpoint<'a>(owner: &'a str, net: &'a str, ports: &'a [PortMap]) -> Endpoint<'a> {
    Endpoint {
        owner,
        network: net,
        ports,
        aliases: &[],
        mac: None,
    }
}

/// A process started in a netns, killed (by its pid) on drop.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn tcp(host_port: u16, container_port: u16) -> PortMap {
    PortMap {
        host_ip: Ipv4Addr::UNSPECIFIED,
        host_port,
        container_port,
        proto: Proto::Tcp,
    }
}

fn links() -> Vec<String> {
    let out = Command::new("ip")
        .args(["-o", "link", "show"])
        .output()
        .unwrap();
    let mut v = link_names(&String::from_utf8_lossy(&out.stdout));
    v.sort();
    v
}

/// iptables' filter FORWARD and DOCKER-USER chains.
fn forward_rules() -> String {
    ["FORWARD", "DOCKER-USER"]
        .iter()
        .map(|c| {
            let out = Command::new("iptables")
                .args(["-w", "-S", c])
                .output()
                .unwrap();
            String::from_utf8_lossy(&out.stdout).into_owned()
        })
        .collect()
}

fn ruleset() -> String {
    let out = Command::new("nft")
        .args(["-s", "list", "ruleset"]) // stateless: no counters, which host traffic changes
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// GET / over TCP; None until the server answers.
fn http_get(addr: (Ipv4Addr, u16)) -> Option<String> {
    let mut s = TcpStream::connect_timeout(&addr.into(), Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(b"GET /index.html HTTP/1.0\r\n\r\n").ok()?;
    let mut body = String::new();
    s.read_to_string(&mut body).ok()?;
    Some(body)
}

fn httpd(ns: &Netns, dir: &Path) -> Server {
    std::fs::write(dir.join("index.html"), "hello from the netns\n").unwrap();
    Server(
        ns.exec(&[
            "busybox",
            "httpd",
            "-f",
            "-p",
            "80",
            "-h",
            &dir.display().to_string(),
        ])
        .spawn()
        .unwrap(),
    )
}

#[test]
fn two_namespaces_on_one_network_ping_each_other() {
    require_root!();
    let _s = serial();
    let store = NetStore::new();
    store.network("n1", "10.231.1.0/24");
    let (a, b) = (Netns::new("ping-a"), Netns::new("ping-b"));
    let aa = attach(&store, &a, "owner-a", "n1", &[]);
    let ab = attach(&store, &b, "owner-b", "n1", &[]);
    assert_ne!(aa.ip, ab.ip);
    assert_eq!(aa.gateway, Ipv4Addr::new(10, 231, 1, 1));
    assert_eq!(aa.prefix_len, 24);
    assert!(a.ping(ab.ip), "a cannot ping b at {}", ab.ip);
    assert!(b.ping(aa.ip), "b cannot ping a at {}", aa.ip);
    assert!(a.ping(aa.gateway), "a cannot ping its gateway");
    let route = a.exec(&["ip", "route"]).output().unwrap();
    assert!(
        String::from_utf8_lossy(&route.stdout).contains("default via 10.231.1.1 dev eth0"),
        "{}",
        String::from_utf8_lossy(&route.stdout)
    );
}

#[test]
fn namespaces_on_different_networks_cannot_reach_each_other() {
    require_root!();
    let _s = serial();
    let store = NetStore::new();
    store.network("iso-a", "10.231.2.0/24");
    store.network("iso-b", "10.231.3.0/24");
    let (a, b) = (Netns::new("iso-a"), Netns::new("iso-b"));
    let aa = attach(&store, &a, "owner-a", "iso-a", &[]);
    let ab = attach(&store, &b, "owner-b", "iso-b", &[]);
    assert_eq!(
        std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward")
            .unwrap()
            .trim(),
        "1",
        "forwarding is on, so only the isolation rule can stop the traffic"
    );
    assert!(b.ping(ab.gateway), "b cannot reach its own gateway");
    assert!(!b.ping(aa.ip), "b on iso-b reached a on iso-a");
    assert!(!a.ping(ab.ip), "a on iso-a reached b on iso-b");
}

#[test]
fn published_tcp_port_is_reached_via_127_0_0_1_and_the_bridge_address() {
    require_root!();
    let _s = serial();
    let store = NetStore::new();
    store.network("pub", "10.231.4.0/24");
    let ns = Netns::new("tcp");
    let port = free_port();
    let att = attach(&store, &ns, "web", "pub", &[tcp(port, 80)]);
    let www = tempfile::tempdir().unwrap();
    let _server = httpd(&ns, www.path());
    let mut body = None;
    wait_until("the published port to answer on 127.0.0.1", || {
        body = http_get((Ipv4Addr::LOCALHOST, port));
        body.is_some()
    });
    assert!(body.unwrap().contains("hello from the netns"));
    let via_bridge = http_get((att.gateway, port)).expect("no answer via the bridge address");
    assert!(via_bridge.contains("hello from the netns"));
    let leases = Networks::open(&store.root());
    let net = leases.get("pub").unwrap();
    assert_eq!(
        leases.ipam(&net).leases().unwrap()["web"].ports,
        vec![tcp(port, 80)]
    );
}

#[test]
fn published_udp_port_answers() {
    require_root!();
    let _s = serial();
    let store = NetStore::new();
    store.network("udp", "10.231.5.0/24");
    let ns = Netns::new("udp");
    let port = free_port();
    let map = PortMap {
        proto: Proto::Udp,
        ..tcp(port, 5353)
    };
    attach(&store, &ns, "dns", "udp", &[map]);
    let echo = "import socket\n\
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
                s.bind(('0.0.0.0', 5353))\n\
                while True:\n    d, a = s.recvfrom(512)\n    s.sendto(d.upper(), a)\n";
    let _server = Server(ns.exec(&["/usr/bin/python3", "-c", echo]).spawn().unwrap());
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut reply = String::new();
    wait_until("a UDP answer through the published port", || {
        sock.send_to(b"ping", (Ipv4Addr::LOCALHOST, port)).unwrap();
        let mut buf = [0u8; 64];
        match sock.recv(&mut buf) {
            Ok(n) => {
                reply = String::from_utf8_lossy(&buf[..n]).into_owned();
                true
            }
            Err(_) => false,
        }
    });
    assert_eq!(reply, "PING");
}

#[test]
fn host_port_in_use_fails_before_anything_changes() {
    require_root!();
    let _s = serial();
    let store = NetStore::new();
    store.network("busy", "10.231.6.0/24");
    let ns = Netns::new("busy");
    let held = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    let port = held.local_addr().unwrap().port();
    let links_before = links();
    let err = network::attach(
        &store.root(),
        &ns.path(),
        &endpoint("c1", "busy", &[tcp(port, 80)]),
    )
    .unwrap_err();
    assert!(
        matches!(err, network::NetworkError::PortInUse { .. }),
        "{err}"
    );
    assert!(
        err.to_string().contains(&format!(":{port}->80/tcp")),
        "{err}"
    );
    assert_eq!(
        links(),
        links_before,
        "a failed attach changed the host's links"
    );
    let nets = Networks::open(&store.root());
    assert!(nets
        .ipam(&nets.get("busy").unwrap())
        .leases()
        .unwrap()
        .is_empty());
    // hull's own published map counts as in use too (a DNATed port has no socket).
    drop(held);
    let ns2 = Netns::new("busy2");
    attach(&store, &ns, "c1", "busy", &[tcp(port, 80)]);
    let err = network::attach(
        &store.root(),
        &ns2.path(),
        &endpoint("c2", "busy", &[tcp(port, 81)]),
    )
    .unwrap_err();
    assert!(
        matches!(err, network::NetworkError::PortInUse { .. }),
        "{err}"
    );
}

#[test]
fn thirty_parallel_attaches_get_distinct_addresses() {
    require_root!();
    let _s = serial();
    let store = NetStore::new();
    store.network("many", "10.231.7.0/24");
    let namespaces: Vec<Netns> = (0..30).map(|i| Netns::new(&format!("m{i}"))).collect();
    let root = store.root();
    let ips: Vec<Ipv4Addr> = std::thread::scope(|s| {
        let handles: Vec<_> = namespaces
            .iter()
            .enumerate()
            .map(|(i, ns)| {
                let root = root.clone();
                s.spawn(move || {
                    let owner = format!("owner-{i}");
                    network::attach(&root, &ns.path(), &endpoint(&owner, "many", &[]))
                        .unwrap_or_else(|e| panic!("attach {owner}: {e:?}"))
                        .ip
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut unique = ips.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 30, "duplicate addresses: {ips:?}");
    for (ns, ip) in namespaces.iter().zip(&ips) {
        let out = ns
            .exec(&["ip", "-o", "-4", "addr", "show", "eth0"])
            .output()
            .unwrap();
        assert!(
            String::from_utf8_lossy(&out.stdout).contains(&format!("{ip}/24")),
            "{} lacks {ip}",
            ns.name()
        );
    }
    assert!(namespaces[0].ping(ips[29]), "first cannot ping last");
}

#[test]
fn detaching_everything_restores_links_rules_and_leases() {
    require_root!();
    let _s = serial();
    let links_before = links();
    let rules_before = ruleset();
    let forward_before = std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap();
    {
        let store = NetStore::new();
        store.network("clean", "10.231.8.0/24");
        let (a, b) = (Netns::new("clean-a"), Netns::new("clean-b"));
        let pa = free_port();
        attach(&store, &a, "a", "clean", &[tcp(pa, 80)]);
        attach(&store, &b, "b", "clean", &[]);
        assert_ne!(links(), links_before);
        assert_ne!(ruleset(), rules_before);
        // The bridge's accepts in iptables' FORWARD (DOCKER-USER on a host with Docker), which
        // a drop policy there would need: four, once for two endpoints.
        let net_tag = format!(
            "--comment \"hull {} net ",
            network::store_tag(&store.root())
        );
        assert_eq!(
            forward_rules().matches(&net_tag).count(),
            4,
            "{}",
            forward_rules()
        );
        network::detach(&store.root(), "a").unwrap();
        network::detach(&store.root(), "a").unwrap(); // idempotent
        network::detach(&store.root(), "b").unwrap();
        let nets = Networks::open(&store.root());
        assert!(nets
            .ipam(&nets.get("clean").unwrap())
            .leases()
            .unwrap()
            .is_empty());
        network::remove_network(&store.root(), "clean").unwrap();
        assert_eq!(links(), links_before, "links left behind");
        assert_eq!(ruleset(), rules_before, "nft rules left behind");
        assert!(!forward_rules().contains(&net_tag), "{}", forward_rules());
        assert_eq!(
            std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap(),
            forward_before,
            "ip_forward not restored"
        );
    }
}

#[test]
fn sweep_removes_endpoints_of_dead_owners_and_orphans() {
    require_root!();
    let _s = serial();
    let store = NetStore::new();
    let net = store.network("sweep", "10.231.9.0/24");
    let (a, b) = (Netns::new("sweep-a"), Netns::new("sweep-b"));
    let aa = attach(&store, &a, "alive", "sweep", &[tcp(free_port(), 80)]);
    let ab = attach(&store, &b, "dead", "sweep", &[tcp(free_port(), 80)]);
    // An orphan: the lease is gone but the veth stays (a crash between the steps of detach).
    let nets = Networks::open(&store.root());
    let report = network::sweep(&store.root(), |o| o == "alive").unwrap();
    assert_eq!(report.leases, vec!["sweep/dead".to_string()]);
    assert!(!links().contains(&ab.host_veth), "dead owner's veth kept");
    assert!(links().contains(&aa.host_veth), "live veth removed");
    nets.ipam(&net).release("alive").unwrap();
    let report = network::sweep(&store.root(), |_| true).unwrap();
    assert!(report.links.contains(&aa.host_veth), "{report:?}");
    assert_eq!(
        report.rules.len(),
        3,
        "the orphan's three port rules: {report:?}"
    );
    let own_endpoints = format!("hull {} ep ", network::store_tag(&store.root()));
    assert!(
        !ruleset().contains(&own_endpoints),
        "endpoint rules left: {}",
        ruleset()
    );
}

#[test]
fn network_rm_is_refused_while_in_use() {
    require_root!();
    let _s = serial();
    let store = NetStore::new();
    let h = &store.hull;
    h.ok(&["network", "create", "--subnet", "10.231.10.0/24", "inuse"]);
    let ns = Netns::new("inuse");
    attach(&store, &ns, "c1", "inuse", &[]);
    let err = h.fails(&["network", "rm", "inuse"]);
    assert!(err.contains("network inuse has active endpoints"), "{err}");
    let inspect = h.ok(&["network", "inspect", "inuse"]);
    let v: serde_json::Value = serde_json::from_str(&inspect).unwrap();
    assert_eq!(v[0]["IPAM"]["Config"][0]["Subnet"], "10.231.10.0/24");
    assert_eq!(v[0]["Containers"]["c1"]["IPv4Address"], "10.231.10.2/24");
    network::detach(&store.root(), "c1").unwrap();
    assert_eq!(h.ok(&["network", "rm", "inuse"]).trim(), "inuse");
    assert!(!h.ok(&["network", "ls"]).contains("inuse"));
}

#[test]
fn host_and_none_are_listed_inspected_and_never_removed() {
    require_root!();
    let _s = serial();
    let store = NetStore::new();
    let h = &store.hull;
    let ls = h.ok(&["network", "ls"]);
    let rows: Vec<Vec<&str>> = ls
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().skip(1).collect())
        .collect();
    assert_eq!(
        rows,
        [
            ["bridge", "bridge", "local"],
            ["host", "host", "local"],
            ["none", "null", "local"]
        ],
        "{ls}"
    );
    let v: serde_json::Value =
        serde_json::from_str(&h.ok(&["network", "inspect", "host", "none"])).unwrap();
    assert_eq!(v[0]["Name"], "host");
    assert_eq!(v[1]["Driver"], "null");
    let id = v[0]["Id"].as_str().unwrap();
    let by_id: serde_json::Value =
        serde_json::from_str(&h.ok(&["network", "inspect", &id[..12]])).unwrap();
    assert_eq!(by_id[0]["Name"], "host");
    let err = h.fails(&["network", "rm", "host"]);
    assert!(
        err.contains("host is a pre-defined network and cannot be removed"),
        "{err}"
    );
    let err = h.fails(&["network", "create", "none"]);
    assert!(err.contains("predefined none network"), "{err}");
    assert_eq!(h.ok(&["network", "ls", "-q"]).lines().count(), 3);
}

#[test]
fn ls_filters_and_formats_as_dockers() {
    require_root!();
    let _s = serial();
    let store = NetStore::new();
    let h = &store.hull;
    h.ok(&[
        "network",
        "create",
        "--subnet",
        "10.231.20.0/24",
        "--label",
        "team=a",
        "lf-a",
    ]);
    h.ok(&["network", "create", "--subnet", "10.231.21.0/24", "lf-b"]);
    let ls = |args: &[&str]| {
        let mut all = vec!["network", "ls"];
        all.extend_from_slice(args);
        h.ok(&all)
    };
    assert_eq!(
        ls(&["-f", "name=lf-", "--format", "{{.Name}}"]),
        "lf-a\nlf-b\n"
    );
    let a: serde_json::Value =
        serde_json::from_str(&h.ok(&["network", "inspect", "lf-a"])).unwrap();
    let a_id = a[0]["Id"].as_str().unwrap();
    assert_eq!(
        ls(&["-f", "label=team=a", "-q"]),
        format!("{}\n", &a_id[..12])
    );
    assert_eq!(
        ls(&["-f", "label=team", "-q", "--no-trunc"]),
        format!("{a_id}\n")
    );
    assert_eq!(
        ls(&[
            "-f",
            "type=builtin",
            "--format",
            "{{.Name}} {{.Driver}} {{.Scope}}"
        ]),
        "bridge bridge local\nhost host local\nnone null local\n"
    );
    let json = ls(&["-f", "name=lf-a", "-f", "driver=bridge", "--format", "json"]);
    let row: serde_json::Value = serde_json::from_str(json.trim()).unwrap();
    assert_eq!(
        (row["Name"].as_str(), row["Labels"].as_str()),
        (Some("lf-a"), Some("team=a"))
    );
    assert!(
        row["CreatedAt"].as_str().unwrap().ends_with(" +0000 UTC"),
        "{row}"
    );
    let table = ls(&[
        "-f",
        "name=lf-b",
        "--format",
        "table {{.Name}}\t{{.Driver}}",
    ]);
    assert_eq!(
        table.lines().collect::<Vec<_>>(),
        ["NAME      DRIVER", "lf-b      bridge"],
        "{table}"
    );
    let err = h.fails(&["network", "ls", "-f", "colour=red"]);
    assert!(err.contains("invalid filter 'colour=red'"), "{err}");
    h.ok(&["network", "rm", "lf-a", "lf-b"]);
}

/// Sets HULL_FIREWALL for the (serialized) test and clears it on drop. iptables-nft creates the
/// (empty) `ip nat` and `ip filter` tables on first use: the ones the test made are deleted.
struct FirewallEnv {
    made: Vec<&'static str>,
}

const IPTABLES_TABLES: [&str; 2] = ["nat", "filter"];

fn nft_table_exists(name: &str) -> bool {
    Command::new("nft")
        .args(["list", "table", "ip", name])
        .output()
        .is_ok_and(|o| o.status.success())
}

impl FirewallEnv {
    fn set(backend: &str) -> FirewallEnv {
        let made = IPTABLES_TABLES
            .into_iter()
            .filter(|t| !nft_table_exists(t))
            .collect();
        std::env::set_var("HULL_FIREWALL", backend);
        FirewallEnv { made }
    }
}

impl Drop for FirewallEnv {
    fn drop(&mut self) {
        std::env::remove_var("HULL_FIREWALL");
        for t in &self.made {
            let _ = Command::new("nft")
                .args(["delete", "table", "ip", t])
                .status();
        }
    }
}

fn iptables_rules() -> String {
    let nat = Command::new("iptables")
        .args(["-w", "-t", "nat", "-S"])
        .output()
        .unwrap();
    let filter = Command::new("iptables")
        .args(["-w", "-S"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&nat.stdout).into_owned() + &String::from_utf8_lossy(&filter.stdout)
}

#[test]
fn iptables_fallback_publishes_isolates_and_cleans_up() {
    require_root!();
    let _s = serial();
    let _env = FirewallEnv::set("iptables");
    {
        let store = NetStore::new();
        store.network("ipt-a", "10.231.11.0/24");
        store.network("ipt-b", "10.231.12.0/24");
        let (a, b) = (Netns::new("ipt-a"), Netns::new("ipt-b"));
        let port = free_port();
        let aa = attach(&store, &a, "web", "ipt-a", &[tcp(port, 80)]);
        attach(&store, &b, "other", "ipt-b", &[]);
        assert!(
            iptables_rules().contains("-j HULL-PREROUTING"),
            "{}",
            iptables_rules()
        );
        let www = tempfile::tempdir().unwrap();
        let _server = httpd(&a, www.path());
        let mut body = None;
        wait_until("the published port to answer on 127.0.0.1", || {
            body = http_get((Ipv4Addr::LOCALHOST, port));
            body.is_some()
        });
        assert!(body.unwrap().contains("hello from the netns"));
        assert!(!b.ping(aa.ip), "ipt-b reached ipt-a");
        network::detach(&store.root(), "web").unwrap();
        network::detach(&store.root(), "other").unwrap();
        network::remove_network(&store.root(), "ipt-a").unwrap();
        network::remove_network(&store.root(), "ipt-b").unwrap();
    }
    let left = iptables_rules();
    assert!(!left.contains("HULL"), "hull chains left behind:\n{left}");
}

#[test]
fn a_failed_attach_undoes_what_it_did() {
    require_root!();
    let _s = serial();
    let store = NetStore::new();
    store.network("undo", "10.231.13.0/24");
    let nets = Networks::open(&store.root());
    let net = nets.get("undo").unwrap();
    // A namespace that already has an eth0: the veth's peer cannot take the name.
    let ns = Netns::new("undo");
    let st = ns
        .exec(&[
            "ip", "link", "add", "eth0", "type", "veth", "peer", "name", "eth1",
        ])
        .status()
        .unwrap();
    assert!(st.success());
    let links_before = links();
    let port = free_port();
    let err = network::attach(
        &store.root(),
        &ns.path(),
        &endpoint("c1", "undo", &[tcp(port, 80)]),
    )
    .unwrap_err();
    assert!(
        matches!(err, network::NetworkError::Netlink { .. }),
        "{err:?}"
    );
    let after: Vec<String> = links().into_iter().filter(|l| l != &net.bridge).collect();
    assert_eq!(after, links_before, "the failed attach left a link behind");
    assert!(nets.ipam(&net).leases().unwrap().is_empty(), "lease kept");
    let own_endpoints = format!("hull {} ep ", network::store_tag(&store.root()));
    assert!(
        !ruleset().contains(&own_endpoints),
        "port rules kept: {}",
        ruleset()
    );
    // A namespace path that does not exist.
    let err = network::attach(
        &store.root(),
        Path::new("/run/netns/hulltest-does-not-exist"),
        &endpoint("c2", "undo", &[]),
    )
    .unwrap_err();
    assert!(matches!(err, network::NetworkError::Io { .. }), "{err:?}");
    assert!(nets.ipam(&net).leases().unwrap().is_empty(), "lease kept");
    // The owner can attach once the namespace is usable.
    let ok = Netns::new("undo-ok");
    attach(&store, &ok, "c1", "undo", &[tcp(port, 80)]);
}

#[test]
fn reserve_then_plug_or_detach() {
    require_root!();
    let _s = serial();
    let store = NetStore::new();
    store.network("two-step", "10.231.14.0/24");
    let root = store.root();
    let nets = Networks::open(&root);
    let net = nets.get("two-step").unwrap();
    let links_before = links();
    let wanted = [tcp(0, 80)];
    let r = network::reserve(&root, &endpoint("c1", "two-step", &wanted)).unwrap();
    assert_ne!(
        r.ports[0].host_port, 0,
        "a random host port is chosen at reserve"
    );
    assert_eq!(links(), links_before, "reserve changed the host's links");
    assert_eq!(nets.ipam(&net).leases().unwrap()["c1"].ip, r.ip);
    // The container never got created: detach gives everything back.
    network::detach(&root, "c1").unwrap();
    assert!(nets.ipam(&net).leases().unwrap().is_empty());
    // Reserve, then plug once the namespace exists.
    let r = network::reserve(&root, &endpoint("c2", "two-step", &[])).unwrap();
    let ns = Netns::new("two-step");
    let a = network::plug(&root, &ns.path(), &r).unwrap();
    assert_eq!(a.ip, r.ip);
    assert!(
        ns.ping(a.gateway),
        "plugged namespace cannot reach its gateway"
    );
}

#[test]
fn a_subnet_routed_on_the_host_is_refused() {
    require_root!();
    let _s = serial();
    let store = NetStore::new();
    store.network("routed", "10.231.15.0/24");
    let ns = Netns::new("routed");
    attach(&store, &ns, "c1", "routed", &[]); // the bridge is up: 10.231.15.0/24 is a host route
    let other = Hull::new();
    let err = other.fails(&["network", "create", "--subnet", "10.231.15.128/25", "clash"]);
    assert!(
        err.contains("overlaps the host route 10.231.15.0/24"),
        "{err}"
    );
    let auto = other.ok(&["network", "create", "auto"]);
    let inspect = other.ok(&["network", "inspect", auto.trim()]);
    let v: serde_json::Value = serde_json::from_str(&inspect).unwrap();
    let subnet = v[0]["IPAM"]["Config"][0]["Subnet"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(subnet, "10.231.15.0/24");
}

/// A bridge holding addresses, as another engine's is (this kernel has no dummy links);
/// deleted on drop.
struct OtherBridge(String);

impl OtherBridge {
    fn new(addrs: &[String]) -> OtherBridge {
        let name = format!("hcxd{}", std::process::id() % 100_000);
        let ip = |args: &[&str]| assert!(Command::new("ip").args(args).status().unwrap().success());
        ip(&["link", "add", &name, "type", "bridge"]);
        let d = OtherBridge(name);
        for a in addrs {
            d.add(a);
        }
        ip(&["link", "set", &d.0, "up"]);
        d
    }

    fn add(&self, addr: &str) {
        let st = Command::new("ip")
            .args(["addr", "add", addr, "dev", &self.0])
            .status()
            .unwrap();
        assert!(st.success(), "ip addr add {addr}");
    }
}

impl Drop for OtherBridge {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["link", "del", &self.0]).status();
    }
}

#[test]
fn a_subnet_taken_later_moves_the_default_network_or_names_the_other_interface() {
    require_root!();
    let _s = serial();
    let store = NetStore::new();
    // The default network on this test's /24 (the CLI has HULL_DEFAULT_SUBNET), and a user one.
    store.hull.ok(&["network", "ls"]);
    store.network("later", "10.231.16.0/24");
    let nets = Networks::open(&store.root());
    let before = nets.get("bridge").unwrap().subnet;
    // Another interface takes both, as podman's first run takes 10.88.0.0/16.
    let gw = |s: &network::subnet::Subnet| format!("{}/{}", s.first_host(), s.prefix);
    let other = OtherBridge::new(&[gw(&before), "10.231.16.1/24".into()]);
    let ns = Netns::new("taken");
    let err = network::attach(&store.root(), &ns.path(), &endpoint("c1", "later", &[]));
    assert_eq!(
        err.unwrap_err().to_string(),
        format!(
            "network later: subnet 10.231.16.0/24 is now also routed via {}; remove one of them",
            other.0
        )
    );
    let a = attach(&store, &ns, "c1", "bridge", &[]);
    let moved = nets.get("bridge").unwrap();
    assert!(!moved.subnet.overlaps(&before), "still on {before}");
    assert!(moved.subnet.contains(a.ip) && a.gateway == moved.gateway);
    assert!(ns.ping(a.gateway), "no route to the moved gateway");
    // In use, it cannot move: the next endpoint is refused, naming the interface.
    other.add(&gw(&moved.subnet));
    let ns2 = Netns::new("taken2");
    let err = network::attach(&store.root(), &ns2.path(), &endpoint("c2", "bridge", &[]));
    let err = err.unwrap_err().to_string();
    assert!(
        err.contains(&format!("is now also routed via {}", other.0))
            && err.contains("no container uses it"),
        "{err}"
    );
    network::detach(&store.root(), "c1").unwrap();
}
