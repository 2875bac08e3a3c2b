//! The embedded DNS responder of user-defined networks, Docker's 127.0.0.11: containers on the
//! same user network resolve each other by name, `--network-alias` and short ID; everything
//! else is forwarded to the host's resolvers.
//!
//! There is no daemon. Each container's responder is served by that container's own runner
//! (the monitor of `hull run -d`, the foreground `hull run`), which polls two non-blocking UDP
//! sockets:
//! - the listening socket, created while the thread is setns'd into the container's network
//!   namespace and bound there to 127.0.0.11:53; a socket stays in the namespace it was
//!   created in, so the runner serves it from the host's namespace afterwards;
//! - the upstream socket, created in the host's namespace, so the host's resolvers (even a
//!   127.0.0.53 stub) are reachable as they are from the host.
//!
//! Names come from the networks' lease files ([`crate::ipam`]): every endpoint's
//! lease records its owner and aliases. The responder answers from the user networks on which
//! its own owner holds a lease (so `network connect`/`disconnect` take effect at once), reading
//! a lease file again only when it changed.
//!
//! ```text
//! let dns = dns::serve_for(root, Path::new(&format!("/proc/{pid}/ns/net")), "mynet", &id, &[])?;
//! if let Some(mut dns) = dns {
//!     // poll dns.fds() for POLLIN, at most dns.next_timeout() long, then:
//!     dns.handle_ready();
//! }
//! ```

pub mod forward;
pub mod names;
pub mod wire;

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags};

use self::forward::{Action, Forwarder, UPSTREAM_TIMEOUT};
use self::names::Scope;
use self::wire::{Answer, Query, Rcode};
use super::ipam::Lease;
use super::store::DEFAULT_NETWORK;
use super::{netns, NetworkError, Networks};

/// Where Docker's embedded DNS listens inside a container.
pub const LISTEN: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(127, 0, 0, 11), 53);
/// The address a user network's resolv.conf names.
pub const NAMESERVER: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 11);
/// Packets handled per socket per call, so that a flood cannot starve the runner's other work.
const BATCH: usize = 64;
/// A UDP DNS message without EDNS is at most 512 bytes; with EDNS, clients ask up to 4096.
const MAX_MESSAGE: usize = 4096;

/// Networks without embedded DNS: the default bridge (Docker's rule: no name resolution there),
/// and the modes without a network of their own.
pub fn has_embedded_dns(network: &str) -> bool {
    !(network == DEFAULT_NETWORK
        || network == "none"
        || network == "host"
        || network == "default"
        || network.starts_with("container:"))
}

/// True when a container on `network` (a name or ID prefix) gets the embedded DNS: a user
/// network that exists. Its resolv.conf then names 127.0.0.11 (the engine's
/// `etc::resolv_conf_embedded`).
pub fn serves(root: &Path, network: &str) -> bool {
    has_embedded_dns(network)
        && Networks::open(root)
            .get(network)
            .is_ok_and(|net| net.name != DEFAULT_NETWORK)
}

/// The responder for the container `owner` whose network namespace is `netns`, attached to
/// `network`: None where Docker runs no embedded DNS ([`has_embedded_dns`]). Forwards to
/// `dns` (`--dns`) when given, else to the host's /etc/resolv.conf nameservers.
pub fn serve_for(
    root: &Path,
    netns: &Path,
    network: &str,
    owner: &str,
    dns: &[String],
) -> Result<Option<DnsServer>, NetworkError> {
    if !serves(root, network) {
        return Ok(None);
    }
    let upstreams = if dns.is_empty() {
        let text = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
        upstreams_from_resolv_conf(&text)
    } else {
        dns.iter()
            .filter_map(|s| s.parse::<IpAddr>().ok())
            .map(|ip| SocketAddr::new(ip, 53))
            .collect()
    };
    let config = DnsConfig {
        root: root.to_path_buf(),
        owner: owner.to_string(),
        listen: SocketAddr::V4(LISTEN),
        upstreams,
    };
    DnsServer::bind(netns, config).map(Some)
}

/// The nameservers of a resolv.conf, port 53; loopback ones included (the upstream socket
/// lives in the host's namespace, where they answer).
pub fn upstreams_from_resolv_conf(text: &str) -> Vec<SocketAddr> {
    text.lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            (w.next() == Some("nameserver")).then(|| w.next()).flatten()
        })
        .filter_map(|ip| ip.parse::<IpAddr>().ok())
        .map(|ip| SocketAddr::new(ip, 53))
        .collect()
}

/// What a responder serves.
#[derive(Debug, Clone)]
pub struct DnsConfig {
    /// The hull store whose networks' leases name the endpoints.
    pub root: PathBuf,
    /// The container whose namespace the responder serves: its networks are the scope.
    pub owner: String,
    /// Where to listen inside the namespace (127.0.0.11:53).
    pub listen: SocketAddr,
    /// Where to forward other names, tried in order.
    pub upstreams: Vec<SocketAddr>,
}

/// One container's responder: see the module's documentation.
#[derive(Debug)]
pub struct DnsServer {
    listen: UdpSocket,
    upstream: UdpSocket,
    leases: LeaseView,
    forwarder: Forwarder,
}

impl DnsServer {
    /// Binds the listening socket inside `netns` and the upstream socket here.
    pub fn bind(netns: &Path, config: DnsConfig) -> Result<DnsServer, NetworkError> {
        let io = |op: &'static str, path: &Path| {
            let path = path.to_path_buf();
            move |source| NetworkError::Io { op, path, source }
        };
        let any = SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), 0);
        let upstream =
            UdpSocket::bind(any).map_err(io("bind dns upstream socket", Path::new("")))?;
        upstream
            .set_nonblocking(true)
            .map_err(io("set dns upstream socket non-blocking", Path::new("")))?;
        let listen = netns::in_netns(netns, || {
            let s = UdpSocket::bind(config.listen)?;
            s.set_nonblocking(true)?;
            Ok(s)
        })
        .map_err(io("bind dns 127.0.0.11:53 in network namespace", netns))?;
        Ok(DnsServer {
            listen,
            upstream,
            leases: LeaseView::new(config.root, config.owner),
            forwarder: Forwarder::new(config.upstreams, UPSTREAM_TIMEOUT),
        })
    }

    /// The sockets to poll for input.
    pub fn fds(&self) -> [BorrowedFd<'_>; 2] {
        [self.listen.as_fd(), self.upstream.as_fd()]
    }

    /// How long the runner may wait before [`DnsServer::handle_ready`] has timeouts to handle;
    /// None when nothing is in flight.
    pub fn next_timeout(&self) -> Option<Duration> {
        self.forwarder
            .next_deadline()
            .map(|d| d.saturating_duration_since(Instant::now()))
    }

    /// Answers the queries that arrived, passes back upstream answers, and handles timeouts.
    /// Never blocks. Failures to send are dropped, as UDP would drop the packets.
    pub fn handle_ready(&mut self) {
        let mut buf = vec![0u8; MAX_MESSAGE];
        for _ in 0..BATCH {
            let Ok((n, client)) = self.listen.recv_from(&mut buf) else {
                break;
            };
            if let Some(action) = self.on_query(&buf[..n], client) {
                self.send(action);
            }
        }
        for _ in 0..BATCH {
            let Ok((n, from)) = self.upstream.recv_from(&mut buf) else {
                break;
            };
            if let Some(action) = self.forwarder.answer(from, &buf[..n]) {
                self.send(action);
            }
        }
        for action in self.forwarder.expire(Instant::now()) {
            self.send(action);
        }
    }

    fn send(&self, action: Action) {
        let _ = match action {
            Action::Upstream(to, bytes) => self.upstream.send_to(&bytes, to),
            Action::Client(to, bytes) => self.listen.send_to(&bytes, to),
        };
    }

    /// The answer to one client packet, or what to forward; None for what is not a query.
    fn on_query(&mut self, packet: &[u8], client: SocketAddr) -> Option<Action> {
        let q = match wire::parse_query(packet) {
            Ok(q) => q,
            Err(_) => {
                let h = wire::Header::parse(packet).ok()?;
                return (!h.is_response())
                    .then(|| Action::Client(client, wire::error_reply(&h, Rcode::FormErr)));
            }
        };
        if q.header.is_response() {
            return None;
        }
        if q.header.opcode() != 0 {
            return Some(Action::Client(client, wire::reply(&q, Rcode::NotImp, &[])));
        }
        match self.leases.scopes() {
            Ok(scopes) => match local_answer(&q, &scopes.as_scopes()) {
                Some(reply) => Some(Action::Client(client, reply)),
                None => Some(self.forwarder.forward(&q, packet, client, Instant::now())),
            },
            Err(_) => Some(Action::Client(
                client,
                wire::reply(&q, Rcode::ServFail, &[]),
            )),
        }
    }

    /// Serves on a thread of its own until the returned handle is dropped: for a runner that
    /// has no poll loop (the foreground `hull run`, which may start threads once the container
    /// is forked).
    pub fn spawn(self) -> io::Result<DnsThread> {
        let (stop_r, stop_w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?;
        let thread = std::thread::Builder::new()
            .name("dns".into())
            .spawn(move || self.serve_until_closed(stop_r))?;
        Ok(DnsThread {
            stop: Some(stop_w),
            thread: Some(thread),
        })
    }

    fn serve_until_closed(mut self, stop: OwnedFd) {
        loop {
            let timeout = self
                .next_timeout()
                .and_then(|d| rustix::event::Timespec::try_from(d).ok());
            let [a, b] = self.fds();
            let mut fds = [
                PollFd::new(&a, PollFlags::IN),
                PollFd::new(&b, PollFlags::IN),
                PollFd::new(&stop, PollFlags::IN),
            ];
            match rustix::event::poll(&mut fds, timeout.as_ref()) {
                Ok(_) | Err(rustix::io::Errno::INTR) => {}
                Err(_) => return,
            }
            if !fds[2].revents().is_empty() {
                return;
            }
            self.handle_ready();
        }
    }
}

/// The answer from the lease files, or None to forward: A for a local name, an empty NOERROR
/// for its other types (AAAA: the networks are IPv4-only), PTR for a local address.
fn local_answer(q: &Query, scopes: &[Scope<'_>]) -> Option<Vec<u8>> {
    let name = &q.question.name;
    if q.question.qclass != wire::CLASS_IN {
        return None;
    }
    if q.question.qtype == wire::TYPE_PTR {
        let target = names::pointer(name, scopes)?;
        return Some(wire::reply(q, Rcode::NoError, &[Answer::ptr(&target)]));
    }
    let ips = names::addresses(name, scopes)?;
    let answers: Vec<Answer> = match q.question.qtype {
        wire::TYPE_A => ips.into_iter().map(Answer::a).collect(),
        _ => Vec::new(),
    };
    Some(wire::reply(q, Rcode::NoError, &answers))
}

/// A [`DnsServer`] on its own thread; dropping it stops and joins the thread.
#[derive(Debug)]
pub struct DnsThread {
    stop: Option<OwnedFd>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for DnsThread {
    fn drop(&mut self) {
        // Closing the write end wakes the thread's poll with POLLHUP on the read end.
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The lease files of the store's user networks, read again only when one was replaced
/// (leases are written atomically: a new inode each time).
#[derive(Debug)]
struct LeaseView {
    root: PathBuf,
    owner: String,
    cache: HashMap<String, CachedLeases>,
}

#[derive(Debug, Default)]
struct CachedLeases {
    stamp: Option<(u64, i64, i64, u64)>,
    leases: BTreeMap<String, Lease>,
}

/// The networks a query is answered from, owning their leases for the query's duration.
struct Scopes<'a>(Vec<(&'a str, &'a BTreeMap<String, Lease>)>);

impl Scopes<'_> {
    fn as_scopes(&self) -> Vec<Scope<'_>> {
        self.0
            .iter()
            .map(|(network, leases)| Scope { network, leases })
            .collect()
    }
}

impl LeaseView {
    fn new(root: PathBuf, owner: String) -> LeaseView {
        LeaseView {
            root,
            owner,
            cache: HashMap::new(),
        }
    }

    /// The user networks on which the owner holds a lease, with their leases.
    fn scopes(&mut self) -> Result<Scopes<'_>, NetworkError> {
        let nets = Networks::open(&self.root);
        let list = nets.list()?;
        self.cache
            .retain(|name, _| list.iter().any(|n| &n.name == name));
        for net in list.iter().filter(|n| n.name != DEFAULT_NETWORK) {
            let ipam = nets.ipam(net);
            let stamp = std::fs::metadata(ipam.lease_file())
                .ok()
                .map(|m| (m.ino(), m.mtime(), m.mtime_nsec(), m.len()));
            let cached = self.cache.entry(net.name.clone()).or_default();
            if stamp.is_none() || cached.stamp != stamp {
                cached.leases = ipam.leases()?;
                cached.stamp = stamp;
            }
        }
        let owner = self.owner.as_str();
        let mut out: Vec<(&str, &BTreeMap<String, Lease>)> = self
            .cache
            .iter()
            .filter(|(_, c)| c.leases.contains_key(owner))
            .map(|(name, c)| (name.as_str(), &c.leases))
            .collect();
        out.sort_by_key(|(name, _)| *name);
        Ok(Scopes(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CreateRequest;

    #[test]
    fn default_bridge_and_special_modes_have_no_embedded_dns() {
        for n in ["bridge", "none", "host", "default", "container:web"] {
            assert!(!has_embedded_dns(n), "{n}");
        }
        assert!(has_embedded_dns("mynet"));
    }

    #[test]
    fn upstreams_are_the_hosts_nameservers_loopback_included() {
        let text = "# x\nsearch lan\nnameserver 127.0.0.53\nnameserver  10.0.0.1 \n\
                    nameserver fe80::1%eth0\nnameserver ::1\noptions ndots:2\n";
        let want: Vec<SocketAddr> = ["127.0.0.53:53", "10.0.0.1:53", "[::1]:53"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        assert_eq!(upstreams_from_resolv_conf(text), want);
    }

    fn store_with_leases() -> (tempfile::TempDir, Networks) {
        let d = tempfile::tempdir().unwrap();
        let nets = Networks::open(d.path());
        for (name, subnet) in [("front", "10.250.1.0/24"), ("back", "10.250.2.0/24")] {
            nets.create(&CreateRequest {
                name: name.into(),
                subnet: Some(subnet.parse().unwrap()),
                ..Default::default()
            })
            .unwrap();
        }
        let lease = |net: &str, owner: &str, alias: &str| {
            let ipam = nets.ipam(&nets.get(net).unwrap());
            ipam.allocate(owner).unwrap();
            ipam.update(owner, |l| l.aliases = vec![alias.into()])
                .unwrap();
        };
        lease("front", "me", "me");
        lease("front", "web", "web");
        lease("back", "db", "db");
        (d, nets)
    }

    fn names_seen(view: &mut LeaseView, name: &str) -> Option<Vec<Ipv4Addr>> {
        let scopes = view.scopes().unwrap();
        names::addresses(name, &scopes.as_scopes())
    }

    #[test]
    fn owner_sees_only_its_own_user_networks_and_changes_at_once() {
        let (d, nets) = store_with_leases();
        let mut view = LeaseView::new(d.path().to_path_buf(), "me".into());
        assert_eq!(
            names_seen(&mut view, "web"),
            Some(vec![Ipv4Addr::new(10, 250, 1, 3)])
        );
        assert_eq!(
            names_seen(&mut view, "db"),
            None,
            "db is on another network"
        );
        // `network connect me back`: its lease there makes back's names visible.
        let back = nets.ipam(&nets.get("back").unwrap());
        back.allocate("me").unwrap();
        assert_eq!(
            names_seen(&mut view, "db"),
            Some(vec![Ipv4Addr::new(10, 250, 2, 2)])
        );
        back.release("me").unwrap();
        assert_eq!(names_seen(&mut view, "db"), None);
        let front = nets.ipam(&nets.get("front").unwrap());
        front.release("web").unwrap();
        assert_eq!(
            names_seen(&mut view, "web"),
            None,
            "a gone endpoint is gone"
        );
    }

    #[test]
    fn local_answers_by_type() {
        let (d, _nets) = store_with_leases();
        let mut view = LeaseView::new(d.path().to_path_buf(), "me".into());
        let scopes = view.scopes().unwrap();
        let scopes = scopes.as_scopes();
        let ask = |name: &str, t: u16| {
            let q = wire::parse_query(&wire::query(1, name, t)).unwrap();
            local_answer(&q, &scopes)
        };
        let a = ask("WEB.", wire::TYPE_A).unwrap();
        assert_eq!(
            wire::answer_addresses(&a).unwrap(),
            [Ipv4Addr::new(10, 250, 1, 3)]
        );
        let aaaa = ask("web", wire::TYPE_AAAA).unwrap();
        let h = wire::Header::parse(&aaaa).unwrap();
        assert_eq!((h.rcode(), h.ancount), (0, 0), "AAAA: empty NOERROR");
        assert!(ask("2.1.250.10.in-addr.arpa", wire::TYPE_PTR).is_some());
        assert!(ask("example.com", wire::TYPE_A).is_none(), "forwarded");
        assert!(
            ask("1.1.1.1.in-addr.arpa", wire::TYPE_PTR).is_none(),
            "forwarded"
        );
    }
}
