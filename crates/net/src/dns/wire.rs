//! The DNS wire format (RFC 1035 §4.1), as much of it as the embedded responder needs: the
//! header, one question (names with compression pointers), and answers of type A and PTR.
//! Forwarded messages are never parsed beyond their header: only the ID is rewritten.
//!
//! ```no_run
//! # use std::net::Ipv4Addr;
//! # use hull_net::dns::wire::{parse_query, reply, Answer, Rcode};
//! # fn main() -> Result<(), hull_net::dns::wire::WireError> {
//! # let packet: Vec<u8> = Vec::new();
//! # let ip = Ipv4Addr::new(172, 18, 0, 2);
//! let q = parse_query(&packet)?;                       // header + first question
//! let reply = reply(&q, Rcode::NoError, &[Answer::a(ip)]);
//! # let _ = reply;
//! # Ok(())
//! # }
//! ```

use std::net::Ipv4Addr;

pub const TYPE_A: u16 = 1;
pub const TYPE_PTR: u16 = 12;
pub const TYPE_AAAA: u16 = 28;
pub const CLASS_IN: u16 = 1;

/// ID, flags and the four section counts, 2 bytes each.
pub const HEADER_LEN: usize = 12;
/// A name is at most 255 bytes on the wire (RFC 1035 §2.3.4), a label at most 63.
const MAX_NAME: usize = 255;
const MAX_LABEL: usize = 63;
/// Where the question's name starts in every message: right after the header. Answers point
/// back to it with a compression pointer (0b11 followed by the 14-bit offset).
const QUESTION_POINTER: [u8; 2] = [0xC0, HEADER_LEN as u8];
/// The TTL of answers from the lease file: Docker's embedded server's 600 s (musl and glibc
/// stub resolvers do not cache, so a restarted container's new address is seen at once).
pub const LOCAL_TTL: u32 = 600;

const FLAG_QR: u16 = 0x8000;
const FLAG_AA: u16 = 0x0400;
const FLAG_RD: u16 = 0x0100;
const FLAG_RA: u16 = 0x0080;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rcode {
    NoError = 0,
    FormErr = 1,
    ServFail = 2,
    NxDomain = 3,
    NotImp = 4,
    Refused = 5,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("parse dns message: truncated")]
    Truncated,
    #[error("parse dns name: compression pointer loop")]
    PointerLoop,
    #[error("parse dns name: longer than 255 bytes")]
    NameTooLong,
    #[error("parse dns name: reserved label type")]
    BadLabel,
    #[error("parse dns query: no question")]
    NoQuestion,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub id: u16,
    pub flags: u16,
    pub qdcount: u16,
    pub ancount: u16,
    pub nscount: u16,
    pub arcount: u16,
}

impl Header {
    pub fn parse(buf: &[u8]) -> Result<Header, WireError> {
        if buf.len() < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        let w = |i: usize| u16::from_be_bytes([buf[i], buf[i + 1]]);
        Ok(Header {
            id: w(0),
            flags: w(2),
            qdcount: w(4),
            ancount: w(6),
            nscount: w(8),
            arcount: w(10),
        })
    }

    pub fn is_response(&self) -> bool {
        self.flags & FLAG_QR != 0
    }

    pub fn opcode(&self) -> u8 {
        ((self.flags >> 11) & 0xF) as u8
    }

    pub fn rcode(&self) -> u8 {
        (self.flags & 0xF) as u8
    }

    fn write(&self, out: &mut Vec<u8>) {
        for w in [
            self.id,
            self.flags,
            self.qdcount,
            self.ancount,
            self.nscount,
            self.arcount,
        ] {
            out.extend_from_slice(&w.to_be_bytes());
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    /// Dotted, without the root's trailing dot, case as sent.
    pub name: String,
    pub qtype: u16,
    pub qclass: u16,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub header: Header,
    pub question: Question,
}

/// Reads the name at `pos`, following compression pointers; returns it and the position after
/// it in the message (after the first pointer, when there is one).
pub fn read_name(buf: &[u8], mut pos: usize) -> Result<(String, usize), WireError> {
    let mut labels: Vec<String> = Vec::new();
    let mut wire_len = 1; // the root's zero byte
    let mut end = None;
    // Every pointer must go strictly backwards, so a loop is impossible; the bound is a second
    // guard.
    let mut jumps = 0;
    loop {
        let len = *buf.get(pos).ok_or(WireError::Truncated)? as usize;
        match len & 0xC0 {
            0x00 if len == 0 => break,
            0x00 => {
                let label = buf
                    .get(pos + 1..pos + 1 + len)
                    .ok_or(WireError::Truncated)?;
                wire_len += len + 1;
                if wire_len > MAX_NAME {
                    return Err(WireError::NameTooLong);
                }
                labels.push(String::from_utf8_lossy(label).into_owned());
                pos += len + 1;
            }
            0xC0 => {
                let low = *buf.get(pos + 1).ok_or(WireError::Truncated)? as usize;
                let target = ((len & 0x3F) << 8) | low;
                jumps += 1;
                if target >= pos || jumps > MAX_NAME / 2 {
                    return Err(WireError::PointerLoop);
                }
                end.get_or_insert(pos + 2);
                pos = target;
            }
            _ => return Err(WireError::BadLabel),
        }
    }
    Ok((labels.join("."), end.unwrap_or(pos + 1)))
}

/// Appends `name` uncompressed; empty labels (a trailing dot) are skipped. Labels longer than
/// 63 bytes are cut, as they cannot be sent.
pub fn write_name(out: &mut Vec<u8>, name: &str) {
    for label in name.split('.').filter(|l| !l.is_empty()) {
        let bytes = &label.as_bytes()[..label.len().min(MAX_LABEL)];
        out.push(bytes.len() as u8);
        out.extend_from_slice(bytes);
    }
    out.push(0);
}

/// The header and first question of a query.
pub fn parse_query(buf: &[u8]) -> Result<Query, WireError> {
    let header = Header::parse(buf)?;
    if header.qdcount == 0 {
        return Err(WireError::NoQuestion);
    }
    let (name, pos) = read_name(buf, HEADER_LEN)?;
    let fixed = buf.get(pos..pos + 4).ok_or(WireError::Truncated)?;
    Ok(Query {
        header,
        question: Question {
            name,
            qtype: u16::from_be_bytes([fixed[0], fixed[1]]),
            qclass: u16::from_be_bytes([fixed[2], fixed[3]]),
        },
    })
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Data {
    A(Ipv4Addr),
    Ptr(String),
}

/// One answer record; its owner name is always the question's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub ttl: u32,
    pub data: Data,
}

impl Answer {
    pub fn a(ip: Ipv4Addr) -> Answer {
        Answer {
            ttl: LOCAL_TTL,
            data: Data::A(ip),
        }
    }

    pub fn ptr(name: &str) -> Answer {
        Answer {
            ttl: LOCAL_TTL,
            data: Data::Ptr(name.to_string()),
        }
    }

    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&QUESTION_POINTER);
        let (rtype, rdata) = match &self.data {
            Data::A(ip) => (TYPE_A, ip.octets().to_vec()),
            Data::Ptr(name) => {
                let mut v = Vec::new();
                write_name(&mut v, name);
                (TYPE_PTR, v)
            }
        };
        out.extend_from_slice(&rtype.to_be_bytes());
        out.extend_from_slice(&CLASS_IN.to_be_bytes());
        out.extend_from_slice(&self.ttl.to_be_bytes());
        out.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        out.extend_from_slice(&rdata);
    }
}

/// The answer to `q`, authoritative: its ID, opcode and RD bit, the question, the answers.
pub fn reply(q: &Query, rcode: Rcode, answers: &[Answer]) -> Vec<u8> {
    let mut out = Vec::with_capacity(512);
    Header {
        id: q.header.id,
        flags: reply_flags(&q.header, rcode) | FLAG_AA,
        qdcount: 1,
        ancount: answers.len() as u16,
        nscount: 0,
        arcount: 0,
    }
    .write(&mut out);
    write_name(&mut out, &q.question.name);
    out.extend_from_slice(&q.question.qtype.to_be_bytes());
    out.extend_from_slice(&q.question.qclass.to_be_bytes());
    for a in answers {
        a.write(&mut out);
    }
    out
}

/// A header-only answer (no question echoed): for messages whose question cannot be read, and
/// for forwarded queries that got no answer.
pub fn error_reply(header: &Header, rcode: Rcode) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN);
    Header {
        id: header.id,
        flags: reply_flags(header, rcode),
        qdcount: 0,
        ancount: 0,
        nscount: 0,
        arcount: 0,
    }
    .write(&mut out);
    out
}

fn reply_flags(query: &Header, rcode: Rcode) -> u16 {
    FLAG_QR | (query.flags & (0xF << 11)) | (query.flags & FLAG_RD) | FLAG_RA | rcode as u16
}

/// A message with its ID replaced (the first two bytes).
pub fn with_id(msg: &[u8], id: u16) -> Vec<u8> {
    let mut out = msg.to_vec();
    if out.len() >= 2 {
        out[..2].copy_from_slice(&id.to_be_bytes());
    }
    out
}

/// A query as a stub resolver sends it (RD set): for tests and for the tests' clients.
pub fn query(id: u16, name: &str, qtype: u16) -> Vec<u8> {
    let mut out = Vec::new();
    Header {
        id,
        flags: FLAG_RD,
        qdcount: 1,
        ancount: 0,
        nscount: 0,
        arcount: 0,
    }
    .write(&mut out);
    write_name(&mut out, name);
    out.extend_from_slice(&qtype.to_be_bytes());
    out.extend_from_slice(&CLASS_IN.to_be_bytes());
    out
}

/// The A records of an answer (owner names not checked): for tests and their clients.
pub fn answer_addresses(msg: &[u8]) -> Result<Vec<Ipv4Addr>, WireError> {
    let h = Header::parse(msg)?;
    let mut pos = HEADER_LEN;
    for _ in 0..h.qdcount {
        pos = read_name(msg, pos)?.1 + 4;
    }
    let mut out = Vec::new();
    for _ in 0..h.ancount {
        pos = read_name(msg, pos)?.1;
        let fixed = msg.get(pos..pos + 10).ok_or(WireError::Truncated)?;
        let rtype = u16::from_be_bytes([fixed[0], fixed[1]]);
        let len = u16::from_be_bytes([fixed[8], fixed[9]]) as usize;
        let rdata = msg
            .get(pos + 10..pos + 10 + len)
            .ok_or(WireError::Truncated)?;
        if rtype == TYPE_A && len == 4 {
            out.push(Ipv4Addr::new(rdata[0], rdata[1], rdata[2], rdata[3]));
        }
        pos += 10 + len;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_round_trips() {
        let bytes = query(0xBEEF, "Web.Example.", TYPE_AAAA);
        let q = parse_query(&bytes).unwrap();
        assert_eq!(q.header.id, 0xBEEF);
        assert!(!q.header.is_response());
        assert_eq!(q.header.opcode(), 0);
        assert_eq!(q.question.name, "Web.Example");
        assert_eq!((q.question.qtype, q.question.qclass), (TYPE_AAAA, CLASS_IN));
    }

    #[test]
    fn reply_carries_question_and_answers() {
        let q = parse_query(&query(7, "db", TYPE_A)).unwrap();
        let ips = [Ipv4Addr::new(10, 0, 0, 2), Ipv4Addr::new(10, 0, 0, 3)];
        let r = reply(
            &q,
            Rcode::NoError,
            &ips.iter().map(|ip| Answer::a(*ip)).collect::<Vec<_>>(),
        );
        let h = Header::parse(&r).unwrap();
        assert!(h.is_response());
        assert_eq!((h.id, h.qdcount, h.ancount, h.rcode()), (7, 1, 2, 0));
        assert_ne!(h.flags & FLAG_RD, 0, "RD is copied");
        assert_eq!(parse_query(&r).unwrap().question, q.question);
        assert_eq!(answer_addresses(&r).unwrap(), ips);
    }

    #[test]
    fn ptr_answer_names_the_target() {
        let q = parse_query(&query(1, "2.0.0.10.in-addr.arpa", TYPE_PTR)).unwrap();
        let r = reply(&q, Rcode::NoError, &[Answer::ptr("web.net1")]);
        // header, question (23 bytes of name + 4), then pointer, type, class, ttl, rdlength.
        let at = HEADER_LEN + 23 + 4;
        assert_eq!(&r[at..at + 2], &QUESTION_POINTER);
        let (name, _) = read_name(&r, at + 12).unwrap();
        assert_eq!(name, "web.net1");
    }

    #[test]
    fn names_follow_compression_pointers() {
        // header, then "example" at 12, then "www" + pointer to 12 at 21.
        let mut m = vec![0u8; HEADER_LEN];
        write_name(&mut m, "example");
        let www = m.len();
        m.extend_from_slice(&[3, b'w', b'w', b'w', 0xC0, HEADER_LEN as u8]);
        m.extend_from_slice(&[0xAA]);
        assert_eq!(
            read_name(&m, www).unwrap(),
            ("www.example".to_string(), www + 6)
        );
    }

    #[test]
    fn hostile_names_are_refused() {
        let mut m = vec![0u8; HEADER_LEN];
        m.extend_from_slice(&[0xC0, HEADER_LEN as u8]); // points at itself
        assert_eq!(read_name(&m, HEADER_LEN), Err(WireError::PointerLoop));
        let mut m = vec![0u8; HEADER_LEN];
        m.extend_from_slice(&[1, b'a', 0xC0, HEADER_LEN as u8 + 4]); // points forward
        assert_eq!(read_name(&m, HEADER_LEN), Err(WireError::PointerLoop));
        let mut m = vec![0u8; HEADER_LEN];
        m.extend_from_slice(&[5, b'a']);
        assert_eq!(read_name(&m, HEADER_LEN), Err(WireError::Truncated));
        let mut m = vec![0u8; HEADER_LEN];
        m.push(0x80);
        assert_eq!(read_name(&m, HEADER_LEN), Err(WireError::BadLabel));
        let mut m = vec![0u8; HEADER_LEN];
        for _ in 0..5 {
            m.push(63);
            m.extend_from_slice(&[b'x'; 63]);
        }
        m.push(0);
        assert_eq!(read_name(&m, HEADER_LEN), Err(WireError::NameTooLong));
        assert_eq!(parse_query(&[0; 5]), Err(WireError::Truncated));
        assert_eq!(parse_query(&[0; HEADER_LEN]), Err(WireError::NoQuestion));
    }

    #[test]
    fn error_reply_and_id_rewrite() {
        let h = Header::parse(&query(42, "x", TYPE_A)).unwrap();
        let r = error_reply(&h, Rcode::ServFail);
        let rh = Header::parse(&r).unwrap();
        assert_eq!((rh.id, rh.rcode(), rh.qdcount), (42, 2, 0));
        assert!(rh.is_response());
        let moved = with_id(&r, 0x1234);
        assert_eq!(Header::parse(&moved).unwrap().id, 0x1234);
        assert_eq!(&moved[2..], &r[2..]);
    }
}
