//! Root tests of the embedded DNS responder (hull_net::dns) and of connecting an
//! endpoint to a second network, on network namespaces the tests create (`ip netns add`,
//! unique names) attached to networks with their own subnets (10.233.x.0/24) in a private
//! store. No traffic leaves the machine: queries go from a test namespace to 127.0.0.11 inside
//! it, and forwarded ones to a fake upstream resolver on 127.0.0.1 in the host's namespace.
//! The tests share host state (links, hull's nft table), so they run one at a time.

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use hull_net::dns::{self, wire, DnsConfig, DnsServer};
use hull_net::{self as network, netns, Endpoint, Networks};
use hull_tests::netns::{NetStore, Netns};
use hull_tests::{require_root, Hull};

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Attaches `ns` to `net` under those DNS aliases; its address.
fn attach(store: &NetStore, ns: &Netns, owner: &str, net: &str, aliases: &[&str]) -> Ipv4Addr {
    let aliases: Vec<String> = aliases.iter().map(|a| a.to_string()).collect();
    let ep = Endpoint {
        owner,
        network: net,
        ports: &[],
        aliases: &aliases,
        mac: None,
    };
    store.attach_endpoint(ns, &ep).ip
}

/// A fake upstream resolver on 127.0.0.1 (host namespace): answers `<name>` with 192.0.2.7,
/// except names starting with "nx", which get NXDOMAIN; records every name asked. Stopped and
/// joined on drop.
struct Upstream {
    addr: SocketAddr,
    asked: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

const UPSTREAM_ANSWER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 7);

impl Upstream {
    fn start() -> Upstream {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let addr = sock.local_addr().unwrap();
        let asked = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (a, s) = (asked.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while !s.load(Ordering::Relaxed) {
                let Ok((n, from)) = sock.recv_from(&mut buf) else {
                    continue;
                };
                let Ok(q) = wire::parse_query(&buf[..n]) else {
                    continue;
                };
                a.lock().unwrap().push(q.question.name.clone());
                let reply = if q.question.name.starts_with("nx") {
                    wire::reply(&q, wire::Rcode::NxDomain, &[])
                } else {
                    wire::reply(
                        &q,
                        wire::Rcode::NoError,
                        &[wire::Answer::a(UPSTREAM_ANSWER)],
                    )
                };
                let _ = sock.send_to(&reply, from);
            }
        });
        Upstream {
            addr,
            asked,
            stop,
            thread: Some(thread),
        }
    }

    fn asked(&self) -> Vec<String> {
        self.asked.lock().unwrap().clone()
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A client socket created inside `ns`, asking 127.0.0.11:53 there.
struct Client {
    sock: UdpSocket,
    next_id: u16,
}

impl Client {
    fn new(ns: &Netns) -> Client {
        let sock = netns::in_netns(&ns.path(), || UdpSocket::bind("127.0.0.1:0")).unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        Client { sock, next_id: 100 }
    }

    /// The answer's header and A records.
    fn ask(&mut self, name: &str, qtype: u16) -> (wire::Header, Vec<Ipv4Addr>) {
        self.next_id += 1;
        let id = self.next_id;
        self.sock
            .send_to(&wire::query(id, name, qtype), "127.0.0.11:53")
            .unwrap();
        let mut buf = [0u8; 4096];
        let n = self
            .sock
            .recv(&mut buf)
            .unwrap_or_else(|e| panic!("no answer for {name}: {e}"));
        let h = wire::Header::parse(&buf[..n]).unwrap();
        assert_eq!(h.id, id, "answer to {name} under the query's id");
        (h, wire::answer_addresses(&buf[..n]).unwrap())
    }

    fn a(&mut self, name: &str) -> Vec<Ipv4Addr> {
        self.ask(name, wire::TYPE_A).1
    }
}

/// A responder serving `ns` for `owner`, on its own thread until dropped.
fn serve(store: &NetStore, ns: &Netns, owner: &str, upstreams: Vec<SocketAddr>) -> dns::DnsThread {
    let config = DnsConfig {
        root: store.root(),
        owner: owner.into(),
        listen: SocketAddr::V4(dns::LISTEN),
        upstreams,
    };
    DnsServer::bind(&ns.path(), config)
        .expect("bind the responder in the namespace")
        .spawn()
        .unwrap()
}

const A_ID: &str = "aaaaaaaaaaaa0000000000000000000000000000000000000000000000000000";
const B_ID: &str = "bbbbbbbbbbbb0000000000000000000000000000000000000000000000000000";
const C_ID: &str = "cccccccccccc0000000000000000000000000000000000000000000000000000";

#[test]
fn containers_on_a_user_network_resolve_each_other_and_the_rest_is_forwarded() {
    require_root!();
    let _s = serial();
    let store = NetStore::new();
    store.network("dnsnet", "10.233.1.0/24");
    store.network("othernet", "10.233.2.0/24");
    let (a, b, c) = (Netns::new("a"), Netns::new("b"), Netns::new("c"));
    attach(&store, &a, A_ID, "dnsnet", &["alpha"]);
    let b_ip = attach(&store, &b, B_ID, "dnsnet", &["web", "www"]);
    let c_ip = attach(&store, &c, C_ID, "othernet", &["hidden"]);
    let upstream = Upstream::start();
    let _dns = serve(&store, &a, A_ID, vec![upstream.addr]);
    let mut client = Client::new(&a);

    for name in ["web", "WWW.", "bbbbbbbbbbbb", "web.dnsnet"] {
        assert_eq!(client.a(name), [b_ip], "{name}");
    }
    let (h, ips) = client.ask("web", wire::TYPE_AAAA);
    assert_eq!(
        (h.rcode(), ips.len()),
        (0, 0),
        "AAAA of a local name: empty NOERROR"
    );
    assert!(
        upstream.asked().is_empty(),
        "local names are not forwarded: {:?}",
        upstream.asked()
    );

    assert_eq!(
        client.a("example.test"),
        [UPSTREAM_ANSWER],
        "forwarded, answer passed back"
    );
    let ips = client.a("hidden");
    assert!(
        !ips.contains(&c_ip),
        "a name of another network resolved: {ips:?}"
    );
    assert_eq!(
        ips,
        [UPSTREAM_ANSWER],
        "not ours: forwarded, the upstream's answer"
    );
    let (h, _) = client.ask("nx-missing", wire::TYPE_A);
    assert_eq!(
        h.rcode(),
        wire::Rcode::NxDomain as u8,
        "the upstream's NXDOMAIN passed back"
    );
    assert_eq!(upstream.asked(), ["example.test", "hidden", "nx-missing"]);

    // A stock resolver inside the namespace gets the same answer.
    let out = a
        .exec(&["busybox", "nslookup", "web", "127.0.0.11"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&b_ip.to_string()),
        "busybox nslookup web:\n{text}"
    );
}

#[test]
fn without_upstreams_unknown_names_do_not_exist() {
    require_root!();
    let _s = serial();
    let store = NetStore::new();
    store.network("dnsnet", "10.233.3.0/24");
    let a = Netns::new("a");
    attach(&store, &a, A_ID, "dnsnet", &["alpha"]);
    let _dns = serve(&store, &a, A_ID, Vec::new());
    let mut client = Client::new(&a);
    let (h, ips) = client.ask("example.test", wire::TYPE_A);
    assert_eq!((h.rcode(), ips.len()), (wire::Rcode::NxDomain as u8, 0));
    assert_eq!(client.a("alpha").len(), 1, "its own name resolves");
}

#[test]
fn the_default_bridge_has_no_embedded_dns() {
    require_root!();
    let _s = serial();
    let store = NetStore::new();
    let a = Netns::new("a");
    let got = dns::serve_for(&store.root(), &a.path(), "bridge", A_ID, &[]).unwrap();
    assert!(got.is_none(), "a responder on the default bridge");
    store.network("dnsnet", "10.233.4.0/24");
    attach(&store, &a, A_ID, "dnsnet", &[]);
    let got = dns::serve_for(
        &store.root(),
        &a.path(),
        "dnsnet",
        A_ID,
        &["127.0.0.1".into()],
    )
    .unwrap();
    assert!(got.is_some(), "no responder on a user network");
    assert!(a.links().contains(&"eth0".to_string()));
}

#[test]
fn connect_adds_eth1_on_a_second_network_and_disconnect_removes_it() {
    require_root!();
    let _s = serial();
    let store = NetStore::new();
    let root = store.root();
    store.network("front", "10.233.5.0/24");
    store.network("back", "10.233.6.0/24");
    let (a, b) = (Netns::new("a"), Netns::new("b"));
    attach(&store, &a, A_ID, "front", &["alpha"]);
    let b_ip = attach(&store, &b, B_ID, "back", &["db"]);
    let _dns = serve(&store, &a, A_ID, Vec::new());
    let mut client = Client::new(&a);
    assert!(
        client.a("db").is_empty(),
        "db is on a network alpha is not on"
    );

    let aliases = vec!["alpha".to_string(), "api".to_string()];
    let ep = Endpoint {
        owner: A_ID,
        network: "back",
        ports: &[],
        aliases: &aliases,
        mac: None,
    };
    let chosen = Ipv4Addr::new(10, 233, 6, 77);
    let (ifname, att) = network::connect_extra(&root, &a.path(), &ep, Some(chosen)).unwrap();
    assert_eq!((ifname.as_str(), att.ip), ("eth1", chosen));
    assert!(a.links().contains(&"eth1".to_string()), "{:?}", a.links());
    let ping = a
        .exec(&["busybox", "ping", "-c1", "-W2", &b_ip.to_string()])
        .output()
        .unwrap();
    assert!(ping.status.success(), "ping db over eth1: {ping:?}");
    assert_eq!(
        client.a("db"),
        [b_ip],
        "db resolves once connected, no restart"
    );
    let nets = Networks::open(&root);
    let back = nets.get("back").unwrap();
    let leases = nets.ipam(&back).leases().unwrap();
    assert_eq!(leases[A_ID].ip, chosen);
    assert_eq!(leases[A_ID].aliases, aliases);
    let again = network::connect_extra(&root, &a.path(), &ep, None);
    assert!(again.is_err(), "connected twice");

    network::disconnect(&root, A_ID, "back").unwrap();
    assert!(!a.links().contains(&"eth1".to_string()), "{:?}", a.links());
    assert!(
        a.links().contains(&"eth0".to_string()),
        "the first network stays"
    );
    assert!(!nets.ipam(&back).leases().unwrap().contains_key(A_ID));
    assert!(
        client.a("db").is_empty(),
        "db still resolves after disconnect"
    );
    let err = network::disconnect(&root, A_ID, "back").unwrap_err();
    assert!(err.to_string().contains("not found"), "{err}");
}

/// `hull rm -f` of the container when the test ends, passing or failing.
struct Removed<'a>(&'a Hull, String);

impl Drop for Removed<'_> {
    fn drop(&mut self) {
        let _ = self.0.run(&["rm", "-f", &self.1]);
    }
}

#[test]
fn cli_connect_refuses_what_it_cannot_connect() {
    require_root!();
    let _s = serial();
    let store = NetStore::new();
    let h = &store.hull;
    store.network("clinet", "10.233.7.0/24");
    let image = format!(
        "{}/busybox:latest",
        hull_tests::fixture("HULL_TEST_REGISTRY")
    );
    h.ok(&["run", "--name", "stopped", &image, "true"]);
    let _stopped = Removed(h, "stopped".into());
    let err = h.fails(&["network", "connect", "clinet", "stopped"]);
    assert!(
        err.contains("network mode none") || err.contains("not running"),
        "{err}"
    );
    let id = h.ok(&["run", "-d", "--network", "none", &image, "sleep", "60"]);
    let _running = Removed(h, id.trim().into());
    let err = h.fails(&["network", "connect", "clinet", id.trim()]);
    assert!(err.contains("network mode none"), "{err}");
    let err = h.fails(&["network", "connect", "nosuchnet", id.trim()]);
    assert!(err.contains("nosuchnet"), "{err}");
    let err = h.fails(&["network", "disconnect", "clinet", id.trim()]);
    assert!(err.contains("is not connected to network clinet"), "{err}");
    h.ok(&["network", "disconnect", "-f", "clinet", id.trim()]);
}
