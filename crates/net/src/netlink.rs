//! Links, addresses and routes over rtnetlink, synchronously (no threads, no async runtime: this
//! runs in processes that later fork containers).
//!
//! ```no_run
//! # use std::path::Path;
//! # use hull_net::netlink::Netlink;
//! # fn main() -> std::io::Result<()> {
//! let mut nl = Netlink::open()?;                       // the caller's namespace
//! let br = nl.ensure_bridge("hull0")?;
//! let mut inside = Netlink::open_in(Path::new("/run/netns/x"))?;  // bound to that namespace
//! # let _ = (br, &mut inside);
//! # Ok(())
//! # }
//! ```

use std::io;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::path::Path;

use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL,
    NLM_F_REQUEST,
};
use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use netlink_packet_route::link::{
    InfoData, InfoKind, InfoVeth, LinkAttribute, LinkFlags, LinkInfo, LinkMessage,
};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};

/// One link as seen in a dump.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub index: u32,
    pub name: String,
    pub alias: Option<String>,
    pub master: Option<u32>,
}

/// A route-netlink socket bound to the namespace it was opened in.
pub struct Netlink {
    socket: Socket,
    seq: u32,
}

impl std::fmt::Debug for Netlink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Netlink")
            .field("fd", &self.socket.as_raw_fd())
            .finish()
    }
}

impl Netlink {
    /// A socket in the calling thread's network namespace.
    pub fn open() -> io::Result<Netlink> {
        let mut socket = Socket::new(NETLINK_ROUTE)?;
        socket.bind_auto()?;
        socket.connect(&SocketAddr::new(0, 0))?;
        Ok(Netlink { socket, seq: 0 })
    }

    /// A socket in the namespace at `netns`: sockets stay bound to the namespace they were
    /// created in, so only the creation happens inside it.
    pub fn open_in(netns: &Path) -> io::Result<Netlink> {
        super::netns::in_netns(netns, Netlink::open)
    }

    pub fn links(&mut self) -> io::Result<Vec<Link>> {
        let replies = self.dump(RouteNetlinkMessage::GetLink(LinkMessage::default()))?;
        Ok(replies
            .into_iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewLink(l) => Some(link_of(&l)),
                _ => None,
            })
            .collect())
    }

    pub fn link_by_name(&mut self, name: &str) -> io::Result<Option<Link>> {
        Ok(self.links()?.into_iter().find(|l| l.name == name))
    }

    /// The bridge's index, creating it when missing (a concurrent creator is fine).
    pub fn ensure_bridge(&mut self, name: &str) -> io::Result<u32> {
        if let Some(l) = self.link_by_name(name)? {
            return Ok(l.index);
        }
        let mut msg = LinkMessage::default();
        msg.attributes.push(LinkAttribute::IfName(name.to_string()));
        msg.attributes
            .push(LinkAttribute::LinkInfo(vec![LinkInfo::Kind(
                InfoKind::Bridge,
            )]));
        match self.ack(RouteNetlinkMessage::NewLink(msg), NLM_F_CREATE | NLM_F_EXCL) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {}
            Err(e) => return Err(e),
        }
        self.link_by_name(name)?
            .map(|l| l.index)
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "bridge vanished"))
    }

    /// Creates the veth pair `host` ↔ `peer`, with the peer created directly inside the
    /// namespace `peer_netns` (IFLA_NET_NS_FD on the peer) under its final name.
    pub fn create_veth(
        &mut self,
        host: &str,
        peer: &str,
        peer_netns: BorrowedFd<'_>,
        peer_mac: [u8; 6],
    ) -> io::Result<()> {
        let mut peer_msg = LinkMessage::default();
        peer_msg
            .attributes
            .push(LinkAttribute::IfName(peer.to_string()));
        peer_msg
            .attributes
            .push(LinkAttribute::Address(peer_mac.to_vec()));
        peer_msg
            .attributes
            .push(LinkAttribute::NetNsFd(peer_netns.as_raw_fd()));
        let mut msg = LinkMessage::default();
        msg.attributes.push(LinkAttribute::IfName(host.to_string()));
        msg.attributes.push(LinkAttribute::LinkInfo(vec![
            LinkInfo::Kind(InfoKind::Veth),
            LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(peer_msg))),
        ]));
        self.ack(RouteNetlinkMessage::NewLink(msg), NLM_F_CREATE | NLM_F_EXCL)
    }

    pub fn set_up(&mut self, index: u32) -> io::Result<()> {
        let mut msg = LinkMessage::default();
        msg.header.index = index;
        msg.header.flags = LinkFlags::Up;
        msg.header.change_mask = LinkFlags::Up;
        self.ack(RouteNetlinkMessage::SetLink(msg), 0)
    }

    pub fn set_master(&mut self, index: u32, master: u32) -> io::Result<()> {
        let mut msg = LinkMessage::default();
        msg.header.index = index;
        msg.attributes.push(LinkAttribute::Controller(master));
        self.ack(RouteNetlinkMessage::SetLink(msg), 0)
    }

    /// Sets the link's alias (`ip link set X alias …`): hull tags what it creates with it.
    pub fn set_alias(&mut self, index: u32, alias: &str) -> io::Result<()> {
        let mut msg = LinkMessage::default();
        msg.header.index = index;
        msg.attributes
            .push(LinkAttribute::IfAlias(alias.to_string()));
        self.ack(RouteNetlinkMessage::SetLink(msg), 0)
    }

    /// Adds `ip/prefix` to the link; an address already there is fine.
    pub fn add_address(&mut self, index: u32, ip: Ipv4Addr, prefix: u8) -> io::Result<()> {
        let mut msg = AddressMessage::default();
        msg.header.family = AddressFamily::Inet;
        msg.header.prefix_len = prefix;
        msg.header.index = index;
        let bcast = u32::from(ip) | (u32::MAX.checked_shr(u32::from(prefix)).unwrap_or(0));
        msg.attributes.push(AddressAttribute::Local(ip.into()));
        msg.attributes.push(AddressAttribute::Address(ip.into()));
        msg.attributes
            .push(AddressAttribute::Broadcast(Ipv4Addr::from(bcast)));
        match self.ack(
            RouteNetlinkMessage::NewAddress(msg),
            NLM_F_CREATE | NLM_F_EXCL,
        ) {
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) => Ok(()),
            other => other,
        }
    }

    /// `ip route add default via gateway dev index`.
    pub fn add_default_route(&mut self, index: u32, gateway: Ipv4Addr) -> io::Result<()> {
        let mut msg = RouteMessage::default();
        msg.header.address_family = AddressFamily::Inet;
        msg.header.table = RouteHeader::RT_TABLE_MAIN;
        msg.header.protocol = RouteProtocol::Boot;
        msg.header.scope = RouteScope::Universe;
        msg.header.kind = RouteType::Unicast;
        msg.attributes
            .push(RouteAttribute::Gateway(RouteAddress::Inet(gateway)));
        msg.attributes.push(RouteAttribute::Oif(index));
        self.ack(
            RouteNetlinkMessage::NewRoute(msg),
            NLM_F_CREATE | NLM_F_EXCL,
        )
    }

    /// The IPv4 addresses of every link, as (link index, address, prefix length); a link that
    /// is down keeps its addresses but has no route, so this sees what the routes miss.
    pub fn ipv4_addresses(&mut self) -> io::Result<Vec<(u32, Ipv4Addr, u8)>> {
        let mut req = AddressMessage::default();
        req.header.family = AddressFamily::Inet;
        let replies = self.dump(RouteNetlinkMessage::GetAddress(req))?;
        Ok(replies
            .into_iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewAddress(a) => {
                    let ip = a.attributes.iter().find_map(|x| match x {
                        AddressAttribute::Local(std::net::IpAddr::V4(ip))
                        | AddressAttribute::Address(std::net::IpAddr::V4(ip)) => Some(*ip),
                        _ => None,
                    })?;
                    Some((a.header.index, ip, a.header.prefix_len))
                }
                _ => None,
            })
            .collect())
    }

    /// Deletes the link; a link already gone is fine.
    pub fn delete_link(&mut self, index: u32) -> io::Result<()> {
        let mut msg = LinkMessage::default();
        msg.header.index = index;
        match self.ack(RouteNetlinkMessage::DelLink(msg), 0) {
            Err(e) if e.raw_os_error() == Some(libc::ENODEV) => Ok(()),
            other => other,
        }
    }

    /// Deletes the link named `name` if there is one; returns whether there was.
    pub fn delete_link_named(&mut self, name: &str) -> io::Result<bool> {
        match self.link_by_name(name)? {
            Some(l) => self.delete_link(l.index).map(|()| true),
            None => Ok(false),
        }
    }

    fn send(&mut self, payload: RouteNetlinkMessage, flags: u16) -> io::Result<u32> {
        self.seq = self.seq.wrapping_add(1);
        let mut packet = NetlinkMessage::new(
            NetlinkHeader::default(),
            NetlinkPayload::InnerMessage(payload),
        );
        packet.header.flags = NLM_F_REQUEST | flags;
        packet.header.sequence_number = self.seq;
        packet.finalize();
        let mut buf = vec![0; packet.buffer_len()];
        packet.serialize(&mut buf);
        self.socket.send(&buf, 0)?;
        Ok(self.seq)
    }

    /// Sends a request with NLM_F_ACK and waits for the kernel's answer: Ok on the ACK, the
    /// errno as an io::Error on a NACK.
    fn ack(&mut self, payload: RouteNetlinkMessage, flags: u16) -> io::Result<()> {
        let seq = self.send(payload, NLM_F_ACK | flags)?;
        loop {
            for msg in self.receive()? {
                if msg.header.sequence_number != seq {
                    continue;
                }
                if let NetlinkPayload::Error(e) = msg.payload {
                    return match e.code {
                        None => Ok(()),
                        Some(code) => Err(io::Error::from_raw_os_error(-code.get())),
                    };
                }
            }
        }
    }

    /// Sends a dump request and collects the replies until NLMSG_DONE.
    fn dump(&mut self, payload: RouteNetlinkMessage) -> io::Result<Vec<RouteNetlinkMessage>> {
        let seq = self.send(payload, NLM_F_DUMP)?;
        let mut out = Vec::new();
        loop {
            for msg in self.receive()? {
                if msg.header.sequence_number != seq {
                    continue;
                }
                match msg.payload {
                    NetlinkPayload::InnerMessage(m) => out.push(m),
                    NetlinkPayload::Done(_) => return Ok(out),
                    NetlinkPayload::Error(e) => {
                        let code = e.code.map_or(libc::EIO, |c| -c.get());
                        return Err(io::Error::from_raw_os_error(code));
                    }
                    _ => {}
                }
            }
        }
    }

    /// One datagram, split into its netlink messages.
    fn receive(&mut self) -> io::Result<Vec<NetlinkMessage<RouteNetlinkMessage>>> {
        let (buf, _) = self.socket.recv_from_full()?;
        let mut out = Vec::new();
        let mut offset = 0;
        while offset < buf.len() {
            let msg = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&buf[offset..])
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
            let len = msg.header.length as usize;
            out.push(msg);
            if len == 0 {
                break;
            }
            // Messages are 4-byte aligned within a datagram.
            offset += (len + 3) & !3;
        }
        Ok(out)
    }
}

fn link_of(msg: &LinkMessage) -> Link {
    let mut link = Link {
        index: msg.header.index,
        name: String::new(),
        alias: None,
        master: None,
    };
    for a in &msg.attributes {
        match a {
            LinkAttribute::IfName(n) => link.name = n.clone(),
            LinkAttribute::IfAlias(s) => link.alias = Some(s.clone()),
            LinkAttribute::Controller(m) => link.master = Some(*m),
            _ => {}
        }
    }
    link
}
