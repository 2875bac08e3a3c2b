//! Bridge networking: networks and their IPAM, veth endpoints in a network namespace given by
//! path, NAT and published ports in hull's own nftables table. It knows nothing of containers:
//! an endpoint has an `owner` key (the caller's container ID) and a netns path.
//!
//! Lifecycle, as the engine's run uses it (`hull_engine::netrun`):
//!
//! ```text
//! let ep = Endpoint { owner: &id, network: "bridge", ports: &maps, aliases: &[name], mac: None };
//! let r = hull_net::reserve(root, &ep)?;    // lease + host ports; nothing on the host yet
//! // ... write r.ip into the container's /etc/hosts, runtime create (init waits) ...
//! let a = hull_net::plug(root, Path::new(&format!("/proc/{pid}/ns/net")), &r)?;
//! // bridge → veth → eth0/lo/route → port maps; then runtime start
//! hull_net::detach(root, &id)?;             // on exit or failure; idempotent
//! hull_net::sweep(root, |owner| alive(owner))?; // after crashes: what nothing owns any more
//! ```
//!
//! `attach` is reserve + plug in one call, for a namespace that already exists.
//!
//! What hull creates on the host is tagged so that it can be found again: host veths are named
//! `hull` + 8 hex of a hash (store, network, owner) and carry the link alias
//! `hull <store> ep <network-id12> <owner>`; bridges carry `hull <store> net <network-id12>`;
//! nft rules carry the same strings as comments. `<store>` is 8 hex of the store root's hash,
//! so two hull stores on one host never sweep each other's objects.
#![forbid(unsafe_code)]

pub mod claims;
pub mod dns;
pub mod firewall;
pub mod foreign;
pub mod ipam;
pub mod iptables;
pub mod ledger;
pub mod nat;
pub mod netlink;
pub mod netns;
pub mod nft;
pub mod orphans;
pub mod ports;
pub mod store;
pub mod subnet;

use std::fs::File;
use std::net::Ipv4Addr;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

pub use ports::{PortMap, Proto};
pub use store::{CreateRequest, Network, Networks};

#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    #[error("{what} {name} not found")]
    NotFound { what: &'static str, name: String },
    #[error("{what} {name} already exists")]
    AlreadyExists { what: &'static str, name: String },
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    InvalidInput(String),
    #[error("network {name} has active endpoints")]
    InUse { name: String },
    #[error("no free address left in {subnet}")]
    Exhausted { subnet: String },
    #[error("host port {map} is already in use")]
    PortInUse { map: String },
    #[error("{op} {}", path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("corrupt network file {}", path.display())]
    Corrupt {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("netlink: {op} {object}")]
    Netlink {
        op: &'static str,
        object: String,
        #[source]
        source: std::io::Error,
    },
    #[error("firewall: {op}: {detail}")]
    Firewall { op: &'static str, detail: String },
}

fn nl(op: &'static str, object: &str) -> impl FnOnce(std::io::Error) -> NetworkError {
    let object = object.to_string();
    move |source| NetworkError::Netlink { op, object, source }
}

/// What to attach: an owner (container ID), the network, and its port maps.
#[derive(Debug, Clone)]
pub struct Endpoint<'a> {
    pub owner: &'a str,
    pub network: &'a str,
    pub ports: &'a [PortMap],
    pub aliases: &'a [String],
    pub mac: Option<[u8; 6]>,
}

/// What attach set up, for the container's record, /etc/hosts and `inspect`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub network_id: String,
    pub network: String,
    pub ip: Ipv4Addr,
    pub gateway: Ipv4Addr,
    pub prefix_len: u8,
    pub mac: String,
    pub host_veth: String,
    /// The port maps with random host ports resolved.
    pub ports: Vec<PortMap>,
}

/// 8 hex of the store root's hash: the part of every tag that says which store made it.
pub fn store_tag(root: &Path) -> String {
    let root = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
    hash8(root.as_os_str().as_encoded_bytes())
}

fn hash8(bytes: &[u8]) -> String {
    hex::encode(&Sha256::digest(bytes)[..4])
}

fn net_tag(store: &str, net: &Network) -> String {
    format!("hull {store} net {}", net.short_id())
}

fn ep_tag(store: &str, net: &Network, owner: &str) -> String {
    format!("hull {store} ep {} {owner}", net.short_id())
}

/// The host end's name: `hull` + 8 hex (15 chars max for a Linux interface name).
pub fn host_veth_name(store: &str, net: &Network, owner: &str) -> String {
    format!(
        "hull{}",
        hash8(format!("{store}/{}/{owner}", net.id).as_bytes())
    )
}

/// Docker's MAC scheme: 02:42 and the four address bytes.
fn mac_for(ip: Ipv4Addr) -> [u8; 6] {
    let o = ip.octets();
    [0x02, 0x42, o[0], o[1], o[2], o[3]]
}

fn mac_string(mac: [u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Creates the network's bridge (idempotent), its gateway address, and its NAT rules.
pub fn ensure_host_side(root: &Path, net: &Network) -> Result<u32, NetworkError> {
    let store = store_tag(root);
    orphans::register_store(root, &store)?;
    let mut h = netlink::Netlink::open().map_err(nl("open socket for", &net.bridge))?;
    let existed = h
        .link_by_name(&net.bridge)
        .map_err(nl("find", &net.bridge))?
        .is_some();
    let br = h
        .ensure_bridge(&net.bridge)
        .map_err(nl("create bridge", &net.bridge))?;
    h.set_alias(br, &net_tag(&store, net))
        .map_err(nl("tag bridge", &net.bridge))?;
    h.add_address(br, net.gateway, net.subnet.prefix)
        .map_err(nl("add gateway address to", &net.bridge))?;
    h.set_up(br).map_err(nl("bring up", &net.bridge))?;
    nat::apply(&net_tag(&store, net), &net.bridge, &net.subnet)?;
    // Other firewalls' forward chains: once per bridge-up (spawning iptables and nft costs
    // tens of milliseconds), undone with the bridge in remove_host_side.
    if !existed {
        firewall::allow_forward(&net_tag(&store, net), &net.bridge)?;
    }
    Ok(br)
}

/// Removes the network's bridge and rules (missing pieces are fine).
pub fn remove_host_side(root: &Path, net: &Network) -> Result<(), NetworkError> {
    let tag = net_tag(&store_tag(root), net);
    let mut h = netlink::Netlink::open().map_err(nl("open socket for", &net.bridge))?;
    if let Some(l) = h
        .link_by_name(&net.bridge)
        .map_err(nl("find", &net.bridge))?
    {
        // Only a bridge this store tagged, or one left untagged by a create killed before it
        // could tag it (this store's network record names it): another store's is not ours.
        if owns_bridge(&l, &tag) {
            h.delete_link(l.index)
                .map_err(nl("delete bridge", &net.bridge))?;
        }
    }
    firewall::remove_tag(&tag)?;
    firewall::remove_forward(&tag)?;
    nat::restore_forwarding()?;
    Ok(())
}

/// True when the link with this network's bridge name is the network's bridge: tagged with its
/// tag, or untagged. The kernel ignores IFLA_IFALIAS when it creates a link (6.18: `ip link add
/// X alias T type bridge` makes no alias), so the tag comes in a second message and a kill in
/// between leaves the bridge untagged; its name, derived from this store's network, is then
/// what says it is ours.
fn owns_bridge(link: &netlink::Link, tag: &str) -> bool {
    match link.alias.as_deref() {
        None | Some("") => true,
        Some(alias) => alias == tag,
    }
}

/// `hull network rm`: refused while any endpoint holds a lease.
pub fn remove_network(root: &Path, name_or_id: &str) -> Result<Network, NetworkError> {
    let nets = Networks::open(root);
    let net = nets.get(name_or_id)?;
    if net.name == store::DEFAULT_NETWORK {
        return Err(NetworkError::InvalidInput(format!(
            "{} is a pre-defined network and cannot be removed",
            net.name
        )));
    }
    if !nets.ipam(&net).leases()?.is_empty() {
        return Err(NetworkError::InUse { name: net.name });
    }
    remove_host_side(root, &net)?;
    nets.remove_record(&net)?;
    Ok(net)
}

/// `hull network prune`: removes every user network without endpoints; returns their names.
pub fn prune_networks(root: &Path) -> Result<Vec<String>, NetworkError> {
    prune_networks_where(root, |_| true)
}

/// As [`prune_networks`], of the networks for which `wanted` holds (the API's filters).
pub fn prune_networks_where(
    root: &Path,
    wanted: impl Fn(&Network) -> bool,
) -> Result<Vec<String>, NetworkError> {
    let nets = Networks::open(root);
    let mut removed = Vec::new();
    for net in nets.list()? {
        if net.name == store::DEFAULT_NETWORK
            || !wanted(&net)
            || !nets.ipam(&net).leases()?.is_empty()
        {
            continue;
        }
        match remove_network(root, &net.id) {
            Ok(n) => removed.push(n.name),
            Err(NetworkError::InUse { .. }) => {} // an endpoint arrived meanwhile
            Err(e) => return Err(e),
        }
    }
    Ok(removed)
}

/// Every published port map of the store (checked against new maps: a DNATed port has no
/// socket that a bind would collide with).
fn published_ports(nets: &Networks) -> Result<Vec<PortMap>, NetworkError> {
    let mut out = Vec::new();
    for net in nets.list()? {
        for lease in nets.ipam(&net).leases()?.into_values() {
            out.extend(lease.ports);
        }
    }
    Ok(out)
}

/// Connects the namespace at `netns` to the endpoint's network: [`reserve`] then [`plug`].
/// On any failure it undoes what it did and returns the error.
pub fn attach(root: &Path, netns: &Path, ep: &Endpoint<'_>) -> Result<Attachment, NetworkError> {
    let r = reserve(root, ep)?;
    plug(root, netns, &r)
}

/// The first half of attach, before the namespace exists: the address lease and the host ports
/// (checked free, random ones chosen), so that /etc/hosts can be written before the container
/// is created. Nothing on the host changes yet. Undo with [`detach`] if the container never
/// gets to [`plug`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    pub owner: String,
    pub network: Network,
    pub ip: Ipv4Addr,
    pub mac: [u8; 6],
    pub ports: Vec<PortMap>,
}

pub fn reserve(root: &Path, ep: &Endpoint<'_>) -> Result<Reservation, NetworkError> {
    reserve_at(root, ep, None)
}

/// [`reserve`], with the address asked for (`--ip`) when `ip` is set.
pub fn reserve_at(
    root: &Path,
    ep: &Endpoint<'_>,
    ip: Option<Ipv4Addr>,
) -> Result<Reservation, NetworkError> {
    let nets = Networks::open(root);
    let _ports_lock = ports_lock(&nets)?;
    // Read under the lock: a concurrent reserve may have just moved the default network.
    let net = claims::recheck(root, &nets, nets.get(ep.network)?)?;
    let ports = ports::assign_random(ep.ports)?;
    ports::check_free(&ports, &published_ports(&nets)?)?;
    let ipam = nets.ipam(&net);
    if ipam.leases()?.contains_key(ep.owner) {
        return Err(NetworkError::AlreadyExists {
            what: "endpoint",
            name: format!("{} on network {}", ep.owner, net.name),
        });
    }
    let ip = match ip {
        Some(ip) => ipam.allocate_at(ep.owner, ip)?,
        None => ipam.allocate(ep.owner)?,
    };
    let mac = ep.mac.unwrap_or_else(|| mac_for(ip));
    // The lease is recorded with its ports before the rules exist, so that a concurrent attach
    // sees them as taken once the lock is released.
    let recorded = ipam.update(ep.owner, |l| {
        l.ports = ports.clone();
        l.aliases = ep.aliases.to_vec();
        l.mac = mac_string(mac);
    });
    if let Err(e) = recorded {
        let _ = ipam.release(ep.owner);
        return Err(e);
    }
    Ok(Reservation {
        owner: ep.owner.to_string(),
        network: net,
        ip,
        mac,
        ports,
    })
}

/// The second half of attach, once the namespace exists: bridge, veth, eth0/lo/route, port
/// maps. On failure the whole endpoint (the reservation included) is undone.
pub fn plug(root: &Path, netns: &Path, r: &Reservation) -> Result<Attachment, NetworkError> {
    connect(root, netns, r).inspect_err(|_| {
        let _ = detach_from(root, &Networks::open(root), &r.network, &r.owner);
    })
}

fn ports_lock(nets: &Networks) -> Result<File, NetworkError> {
    lock_file(nets.dir(), "ports.lock")
}

/// Serializes a network's host side: plugging an endpoint in (which creates the bridge) and
/// tearing the bridge down once the last endpoint left, so neither sees the other half done.
fn host_lock(nets: &Networks, net: &Network) -> Result<File, NetworkError> {
    lock_file(&nets.dir().join(&net.name), "host.lock")
}

/// Opens (creating `dir` and the file if missing) and exclusively locks `dir/name`; the lock is
/// held until the returned file is dropped.
fn lock_file(dir: &Path, name: &str) -> Result<File, NetworkError> {
    let path = dir.join(name);
    let io = |op| {
        let path = path.clone();
        move |source| NetworkError::Io { op, path, source }
    };
    std::fs::create_dir_all(dir).map_err(io("create dir for"))?;
    let f = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io("open"))?;
    f.lock().map_err(io("lock"))?;
    Ok(f)
}

/// The host-side and in-namespace steps of attach, after the lease.
fn connect(root: &Path, netns: &Path, r: &Reservation) -> Result<Attachment, NetworkError> {
    connect_as(root, netns, r, "eth0")
}

/// `hull network connect`: one more endpoint for a namespace that may already be on other
/// networks, as the first free `ethN` inside it (eth1 beside the first network's eth0), on a
/// chosen address with `ip`. The default route stays with eth0 (it is added only when the new
/// interface is eth0). Returns the interface's name with the attachment. Undone on failure;
/// [`disconnect`] removes it.
pub fn connect_extra(
    root: &Path,
    netns: &Path,
    ep: &Endpoint<'_>,
    ip: Option<Ipv4Addr>,
) -> Result<(String, Attachment), NetworkError> {
    let r = reserve_at(root, ep, ip)?;
    let plugged = next_interface(netns).and_then(|ifname| {
        let a = connect_as(root, netns, &r, &ifname)?;
        Ok((ifname, a))
    });
    plugged.inspect_err(|_| {
        let _ = detach_from(root, &Networks::open(root), &r.network, &r.owner);
    })
}

/// `hull network disconnect`: removes `owner`'s endpoint on one network (its veth, which takes
/// the interface inside the namespace with it, its port maps and its lease).
pub fn disconnect(root: &Path, owner: &str, network: &str) -> Result<(), NetworkError> {
    let nets = Networks::open(root);
    let net = nets.get(network)?;
    if !nets.ipam(&net).leases()?.contains_key(owner) {
        return Err(NetworkError::NotFound {
            what: "endpoint",
            name: format!("{owner} on network {}", net.name),
        });
    }
    detach_from(root, &nets, &net, owner)
}

/// The first `ethN` not yet in the namespace.
fn next_interface(netns: &Path) -> Result<String, NetworkError> {
    let ns = netns.display().to_string();
    let mut h = netlink::Netlink::open_in(netns).map_err(nl("open socket in", &ns))?;
    let taken: Vec<String> = h
        .links()
        .map_err(nl("list links in", &ns))?
        .into_iter()
        .map(|l| l.name)
        .collect();
    Ok((0..)
        .map(|n| format!("eth{n}"))
        .find(|name| !taken.contains(name))
        .expect("some ethN is free"))
}

/// [`connect`] with the interface inside named `ifname`.
fn connect_as(
    root: &Path,
    netns: &Path,
    r: &Reservation,
    ifname: &str,
) -> Result<Attachment, NetworkError> {
    let (net, owner, ip, mac) = (&r.network, r.owner.as_str(), r.ip, r.mac);
    let store = store_tag(root);
    let _host = host_lock(&Networks::open(root), net)?;
    let bridge = ensure_host_side(root, net)?;
    let veth = host_veth_name(&store, net, owner);
    Networks::open(root)
        .ipam(net)
        .update(owner, |l| l.host_veth = veth.clone())?;
    let ns = File::open(netns).map_err(|source| NetworkError::Io {
        op: "open network namespace",
        path: netns.to_path_buf(),
        source,
    })?;
    let mut host = netlink::Netlink::open().map_err(nl("open socket for", &veth))?;
    remove_stale_veth(&mut host, &veth, &ep_tag(&store, net, owner))?;
    host.create_veth(&veth, ifname, ns.as_fd(), mac)
        .map_err(nl("create veth", &veth))?;
    let idx = host
        .link_by_name(&veth)
        .map_err(nl("find", &veth))?
        .ok_or_else(|| nl("find", &veth)(std::io::ErrorKind::NotFound.into()))?
        .index;
    host.set_alias(idx, &ep_tag(&store, net, owner))
        .map_err(nl("tag", &veth))?;
    host.set_master(idx, bridge)
        .map_err(nl("attach to bridge", &veth))?;
    host.set_up(idx).map_err(nl("bring up", &veth))?;
    configure_inside(netns, ifname, ip, net)?;
    ports::publish(&ep_tag(&store, net, owner), ip, &r.ports)?;
    Ok(Attachment {
        network_id: net.id.clone(),
        network: net.name.clone(),
        ip,
        gateway: net.gateway,
        prefix_len: net.subnet.prefix,
        mac: mac_string(mac),
        host_veth: veth,
        ports: r.ports.clone(),
    })
}

/// Deletes a veth of this endpoint left by a crash between create and detach, so that a new
/// attach of the same owner does not fail on the name. A link of that name tagged for someone
/// else is left alone (the create then fails on it).
fn remove_stale_veth(h: &mut netlink::Netlink, veth: &str, tag: &str) -> Result<(), NetworkError> {
    if let Some(l) = h.link_by_name(veth).map_err(nl("find", veth))? {
        if l.alias.as_deref().is_none_or(|a| a == tag) {
            h.delete_link(l.index).map_err(nl("delete stale", veth))?;
        }
    }
    Ok(())
}

/// Inside the namespace: the interface (eth0) gets its address and comes up, lo comes up,
/// and eth0 gets the default route (a further network's interface only its subnet's route).
fn configure_inside(
    netns: &Path,
    ifname: &str,
    ip: Ipv4Addr,
    net: &Network,
) -> Result<(), NetworkError> {
    let ns = format!("{ifname} in {}", netns.display());
    let mut h = netlink::Netlink::open_in(netns).map_err(nl("open socket in", &ns))?;
    let iface = h
        .link_by_name(ifname)
        .map_err(nl("find", &ns))?
        .ok_or_else(|| nl("find", &ns)(std::io::ErrorKind::NotFound.into()))?;
    h.add_address(iface.index, ip, net.subnet.prefix)
        .map_err(nl("add address to", &ns))?;
    h.set_up(iface.index).map_err(nl("bring up", &ns))?;
    if let Some(lo) = h.link_by_name("lo").map_err(nl("find lo for", &ns))? {
        h.set_up(lo.index).map_err(nl("bring up lo for", &ns))?;
    }
    if ifname != "eth0" {
        return Ok(());
    }
    h.add_default_route(iface.index, net.gateway)
        .map_err(nl("add default route via", &ns))
}

/// Disconnects `owner` from every network: unpublish its ports, delete its host veth (which
/// takes `eth0` with it), release its lease. Pieces already gone are fine.
pub fn detach(root: &Path, owner: &str) -> Result<(), NetworkError> {
    let nets = Networks::open(root);
    for net in nets.list()? {
        detach_from(root, &nets, &net, owner)?;
    }
    Ok(())
}

fn detach_from(
    root: &Path,
    nets: &Networks,
    net: &Network,
    owner: &str,
) -> Result<(), NetworkError> {
    let store = store_tag(root);
    let ipam = nets.ipam(net);
    let lease = ipam.leases()?.remove(owner);
    let tag = ep_tag(&store, net, owner);
    if lease.as_ref().is_none_or(|l| !l.ports.is_empty()) {
        ports::unpublish(&tag)?;
    }
    let veth = lease
        .as_ref()
        .map(|l| l.host_veth.clone())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| host_veth_name(&store, net, owner));
    let mut h = netlink::Netlink::open().map_err(nl("open socket for", &veth))?;
    if let Some(l) = h.link_by_name(&veth).map_err(nl("find", &veth))? {
        if l.alias.as_deref().is_none_or(|a| a == tag) {
            h.delete_link(l.index).map_err(nl("delete", &veth))?;
        }
    }
    if ipam.release(owner)?.is_some() {
        remove_host_side_if_unused(root, nets, net)?;
    }
    Ok(())
}

/// Everything hull creates goes when it is no longer used: the network's bridge and NAT rules
/// go with its last endpoint (and come back with the next one).
fn remove_host_side_if_unused(
    root: &Path,
    nets: &Networks,
    net: &Network,
) -> Result<(), NetworkError> {
    let _host = host_lock(nets, net)?;
    if nets.ipam(net).leases()?.is_empty() {
        remove_host_side(root, net)?;
        let mut others = nets.list()?.into_iter().map(|n| nets.ipam(&n).leases());
        if others.try_fold(true, |empty, l| l.map(|l| empty && l.is_empty()))? {
            // Nothing of this store is left on the host. (A plug racing this keeps its objects
            // but loses the registration: the host-wide sweep then only reports them.)
            orphans::unregister_store(&store_tag(root));
        }
    }
    Ok(())
}

/// The network's bridge when it exists untagged (a create killed before it tagged it), which
/// [`remove_host_side`] removes by its name.
fn untagged_bridge(net: &Network) -> Result<Option<String>, NetworkError> {
    let mut h = netlink::Netlink::open().map_err(nl("open socket for", &net.bridge))?;
    let link = h
        .link_by_name(&net.bridge)
        .map_err(nl("find", &net.bridge))?;
    Ok(link
        .filter(|l| l.alias.as_deref().is_none_or(str::is_empty))
        .map(|l| l.name))
}

/// What [`sweep`] removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SweepReport {
    pub leases: Vec<String>,
    pub links: Vec<String>,
    pub rules: Vec<String>,
}

/// Removes what this store created and nothing claims any more: endpoints whose owner is not
/// `alive` (detached), tagged veths without a lease, tagged bridges of deleted networks, and
/// tagged nft rules of neither a lease nor a network.
pub fn sweep(root: &Path, alive: impl Fn(&str) -> bool) -> Result<SweepReport, NetworkError> {
    let store = store_tag(root);
    let nets = Networks::open(root);
    nets.sweep_leftovers()?;
    let mut report = SweepReport::default();
    let mut claimed = Vec::new();
    for net in nets.list()? {
        claimed.push(net_tag(&store, &net));
        for owner in nets.ipam(&net).leases()?.into_keys() {
            if alive(&owner) {
                claimed.push(ep_tag(&store, &net, &owner));
            } else {
                detach_from(root, &nets, &net, &owner)?;
                report.leases.push(format!("{}/{owner}", net.name));
            }
        }
        // A detach killed between releasing the last lease and removing the bridge and NAT
        // rules leaves them with no lease to find them by: they go here.
        if nets.ipam(&net).leases()?.is_empty() {
            let untagged = untagged_bridge(&net)?;
            remove_host_side_if_unused(root, &nets, &net)?;
            report.links.extend(untagged);
        }
    }
    let mine = format!("hull {store} ");
    let mut h = netlink::Netlink::open().map_err(nl("open socket for", "links"))?;
    for l in h.links().map_err(nl("list", "links"))? {
        let Some(alias) = l.alias.as_deref() else {
            continue;
        };
        if alias.starts_with(&mine) && !claimed.iter().any(|c| c == alias) {
            h.delete_link(l.index).map_err(nl("delete", &l.name))?;
            report.links.push(l.name);
        }
    }
    report.rules = firewall::remove(|c| c.starts_with(&mine) && !claimed.iter().any(|t| t == c))?;
    nat::restore_forwarding()?;
    Ok(report)
}

/// Whether the store has endpoints whose owner is not `alive`: a cheap look at the lease files
/// that says whether [`sweep`] has anything to do.
pub fn has_stale_endpoints(root: &Path, alive: impl Fn(&str) -> bool) -> bool {
    if !root.join("networks").is_dir() {
        return false;
    }
    let nets = Networks::open(root);
    let Ok(list) = nets.list() else {
        return false;
    };
    list.iter().any(|n| {
        nets.ipam(n)
            .leases()
            .is_ok_and(|l| l.keys().any(|owner| !alive(owner)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_tags_fit_linux_limits() {
        let net = Network {
            id: "a".repeat(64),
            name: "n".into(),
            driver: "bridge".into(),
            bridge: "hull-aaaaaaaaaa".into(),
            subnet: "10.1.0.0/24".parse().unwrap(),
            gateway: Ipv4Addr::new(10, 1, 0, 1),
            created: String::new(),
            labels: Default::default(),
        };
        let v = host_veth_name("12345678", &net, &"c".repeat(64));
        assert!(v.starts_with("hull") && v.len() == 12, "{v}");
        assert_ne!(v, host_veth_name("12345678", &net, "other"));
        assert!(ep_tag("12345678", &net, &"c".repeat(64)).len() < 128);
        assert_eq!(
            mac_string(mac_for(Ipv4Addr::new(10, 1, 0, 2))),
            "02:42:0a:01:00:02"
        );
    }

    #[test]
    fn a_bridge_is_ours_when_tagged_by_us_or_untagged() {
        let link = |alias: Option<&str>| netlink::Link {
            index: 7,
            name: "hull-aaaaaaaaaa".into(),
            alias: alias.map(String::from),
            master: None,
        };
        let tag = "hull 12345678 net aaaaaaaaaaaa";
        assert!(owns_bridge(&link(Some(tag)), tag));
        assert!(owns_bridge(&link(None), tag));
        assert!(owns_bridge(&link(Some("")), tag));
        assert!(!owns_bridge(
            &link(Some("hull 87654321 net aaaaaaaaaaaa")),
            tag
        ));
    }
}
