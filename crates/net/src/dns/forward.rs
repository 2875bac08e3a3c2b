//! Forwarding what the responder does not answer itself: each query goes to the first upstream
//! resolver under a fresh random ID (the client's own IDs may collide, and a guessable ID helps
//! a spoofer), is remembered under that ID with the client's address and ID, and its answer is
//! passed back with the client's ID restored. An upstream that stays silent past the timeout
//! gets the query passed on to the next; when none is left the client gets SERVFAIL.
//!
//! The bookkeeping is pure: every call takes `now`, and sending is the caller's job.
//!
//! ```text
//! let mut f = Forwarder::new(upstreams, UPSTREAM_TIMEOUT);
//! let Action::Upstream(to, bytes) = f.forward(&q, &packet, client, now) else { .. };
//! // ... later, from the upstream socket:
//! if let Some(Action::Client(to, bytes)) = f.answer(from, &reply) { /* send */ }
//! for action in f.expire(now) { /* send */ }
//! ```

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::wire::{self, Header, Query, Rcode};

/// How long one upstream gets to answer before the next is asked: two upstreams fit in glibc's
/// and musl's 5 s wait, so the client hears SERVFAIL rather than nothing.
pub const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(2);
/// Queries in flight at once; more are answered SERVFAIL (a flood must not grow the monitor).
pub const MAX_PENDING: usize = 1024;

/// A message to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Upstream(SocketAddr, Vec<u8>),
    Client(SocketAddr, Vec<u8>),
}

#[derive(Debug)]
struct Pending {
    client: SocketAddr,
    query: Query,
    /// The query as the client sent it (EDNS and all), with our ID.
    bytes: Vec<u8>,
    upstream: usize,
    deadline: Instant,
}

#[derive(Debug)]
pub struct Forwarder {
    upstreams: Vec<SocketAddr>,
    timeout: Duration,
    pending: HashMap<u16, Pending>,
    /// SipHash under a per-process random key, of a counter: unpredictable IDs without a
    /// random-number crate.
    keys: RandomState,
    counter: u64,
}

impl Forwarder {
    pub fn new(upstreams: Vec<SocketAddr>, timeout: Duration) -> Forwarder {
        Forwarder {
            upstreams,
            timeout,
            pending: HashMap::new(),
            keys: RandomState::new(),
            counter: 0,
        }
    }

    pub fn upstreams(&self) -> &[SocketAddr] {
        &self.upstreams
    }

    pub fn in_flight(&self) -> usize {
        self.pending.len()
    }

    /// Sends `packet` (the parsed `q`) from `client` upstream; without upstreams the name
    /// does not exist (NXDOMAIN), with a full table the client gets SERVFAIL.
    pub fn forward(
        &mut self,
        q: &Query,
        packet: &[u8],
        client: SocketAddr,
        now: Instant,
    ) -> Action {
        let Some(&first) = self.upstreams.first() else {
            return Action::Client(client, wire::reply(q, Rcode::NxDomain, &[]));
        };
        if self.pending.len() >= MAX_PENDING {
            return Action::Client(client, wire::reply(q, Rcode::ServFail, &[]));
        }
        let id = self.fresh_id();
        let bytes = wire::with_id(packet, id);
        self.pending.insert(
            id,
            Pending {
                client,
                query: q.clone(),
                bytes: bytes.clone(),
                upstream: 0,
                deadline: now + self.timeout,
            },
        );
        Action::Upstream(first, bytes)
    }

    /// An upstream's answer, back to its client under the client's ID; None for anything that
    /// is not the answer to a query in flight from that very upstream (late, spoofed, junk).
    pub fn answer(&mut self, from: SocketAddr, reply: &[u8]) -> Option<Action> {
        let h = Header::parse(reply).ok()?;
        let p = self.pending.get(&h.id)?;
        if !h.is_response() || self.upstreams[p.upstream] != from {
            return None;
        }
        let p = self.pending.remove(&h.id)?;
        Some(Action::Client(
            p.client,
            wire::with_id(reply, p.query.header.id),
        ))
    }

    /// Queries whose upstream stayed silent: on to the next upstream, or SERVFAIL.
    pub fn expire(&mut self, now: Instant) -> Vec<Action> {
        let due: Vec<u16> = self
            .pending
            .iter()
            .filter(|(_, p)| p.deadline <= now)
            .map(|(id, _)| *id)
            .collect();
        let mut out = Vec::new();
        for id in due {
            let p = self.pending.get_mut(&id).expect("due id is pending");
            if p.upstream + 1 < self.upstreams.len() {
                p.upstream += 1;
                p.deadline = now + self.timeout;
                out.push(Action::Upstream(
                    self.upstreams[p.upstream],
                    p.bytes.clone(),
                ));
            } else {
                let p = self.pending.remove(&id).expect("due id is pending");
                out.push(Action::Client(
                    p.client,
                    wire::reply(&p.query, Rcode::ServFail, &[]),
                ));
            }
        }
        out
    }

    /// When [`Forwarder::expire`] has work next.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.pending.values().map(|p| p.deadline).min()
    }

    fn fresh_id(&mut self) -> u16 {
        loop {
            self.counter += 1;
            let id = self.keys.hash_one(self.counter) as u16;
            if !self.pending.contains_key(&id) {
                return id;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::wire::{parse_query, query, TYPE_A};
    use std::net::Ipv4Addr;

    const CLIENT: &str = "127.0.0.1:40000";
    const UP1: &str = "10.9.9.1:53";
    const UP2: &str = "10.9.9.2:53";

    fn client() -> SocketAddr {
        CLIENT.parse().unwrap()
    }

    fn fwd(ups: &[&str]) -> Forwarder {
        Forwarder::new(
            ups.iter().map(|u| u.parse().unwrap()).collect(),
            UPSTREAM_TIMEOUT,
        )
    }

    fn send(f: &mut Forwarder, id: u16, now: Instant) -> (SocketAddr, Vec<u8>) {
        let packet = query(id, "example.com", TYPE_A);
        match f.forward(&parse_query(&packet).unwrap(), &packet, client(), now) {
            Action::Upstream(to, bytes) => (to, bytes),
            other => panic!("not forwarded: {other:?}"),
        }
    }

    fn rcode(msg: &[u8]) -> u8 {
        Header::parse(msg).unwrap().rcode()
    }

    /// The upstream's answer to `sent`: same ID, QR set.
    fn upstream_reply(sent: &[u8]) -> Vec<u8> {
        let q = parse_query(sent).unwrap();
        wire::reply(
            &q,
            Rcode::NoError,
            &[wire::Answer::a(Ipv4Addr::new(1, 2, 3, 4))],
        )
    }

    #[test]
    fn answers_go_back_under_the_clients_id() {
        let mut f = fwd(&[UP1]);
        let (to, sent) = send(&mut f, 0x1111, Instant::now());
        assert_eq!(to, UP1.parse().unwrap());
        assert_eq!(&sent[2..], &query(0x1111, "example.com", TYPE_A)[2..]);
        let back = f.answer(UP1.parse().unwrap(), &upstream_reply(&sent));
        let Some(Action::Client(to, msg)) = back else {
            panic!("{back:?}")
        };
        assert_eq!(to, client());
        assert_eq!(Header::parse(&msg).unwrap().id, 0x1111);
        assert_eq!(
            wire::answer_addresses(&msg).unwrap(),
            [Ipv4Addr::new(1, 2, 3, 4)]
        );
        assert_eq!(f.in_flight(), 0);
        assert_eq!(
            f.answer(UP1.parse().unwrap(), &upstream_reply(&sent)),
            None,
            "a second answer is dropped"
        );
    }

    #[test]
    fn same_client_ids_get_distinct_upstream_ids() {
        let mut f = fwd(&[UP1]);
        let now = Instant::now();
        let ids: std::collections::HashSet<u16> = (0..200)
            .map(|_| Header::parse(&send(&mut f, 7, now).1).unwrap().id)
            .collect();
        assert_eq!(ids.len(), 200);
        assert_eq!(f.in_flight(), 200);
    }

    #[test]
    fn answers_from_elsewhere_or_queries_are_dropped() {
        let mut f = fwd(&[UP1, UP2]);
        let (_, sent) = send(&mut f, 5, Instant::now());
        assert_eq!(f.answer(UP2.parse().unwrap(), &upstream_reply(&sent)), None);
        assert_eq!(
            f.answer(UP1.parse().unwrap(), &sent),
            None,
            "not a response"
        );
        assert_eq!(f.answer(UP1.parse().unwrap(), &[1, 2, 3]), None);
        assert_eq!(f.in_flight(), 1);
    }

    #[test]
    fn silence_moves_on_to_the_next_upstream_then_servfail() {
        let mut f = fwd(&[UP1, UP2]);
        let t0 = Instant::now();
        let (_, sent) = send(&mut f, 9, t0);
        assert!(f.expire(t0 + Duration::from_millis(100)).is_empty());
        assert_eq!(f.next_deadline(), Some(t0 + UPSTREAM_TIMEOUT));
        let t1 = t0 + UPSTREAM_TIMEOUT;
        assert_eq!(
            f.expire(t1),
            vec![Action::Upstream(UP2.parse().unwrap(), sent.clone())]
        );
        // Now only UP2's answer counts.
        assert_eq!(f.answer(UP1.parse().unwrap(), &upstream_reply(&sent)), None);
        let out = f.expire(t1 + UPSTREAM_TIMEOUT);
        let [Action::Client(to, msg)] = out.as_slice() else {
            panic!("{out:?}")
        };
        assert_eq!((*to, rcode(msg)), (client(), Rcode::ServFail as u8));
        assert_eq!(Header::parse(msg).unwrap().id, 9);
        assert_eq!(f.next_deadline(), None);
    }

    #[test]
    fn no_upstream_means_nxdomain_and_a_full_table_servfail() {
        let mut f = fwd(&[]);
        let packet = query(3, "example.com", TYPE_A);
        let q = parse_query(&packet).unwrap();
        let Action::Client(_, msg) = f.forward(&q, &packet, client(), Instant::now()) else {
            panic!("forwarded without upstream")
        };
        assert_eq!(rcode(&msg), Rcode::NxDomain as u8);
        let mut f = fwd(&[UP1]);
        let now = Instant::now();
        for _ in 0..MAX_PENDING {
            send(&mut f, 1, now);
        }
        let Action::Client(_, msg) = f.forward(&q, &packet, client(), now) else {
            panic!("forwarded past the limit")
        };
        assert_eq!(rcode(&msg), Rcode::ServFail as u8);
    }
}
