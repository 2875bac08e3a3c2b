//! Firewall rules as data, applied through one of two backends:
//! - nftables (`nft -f -`), in hull's own table `ip hull` (see `nft`);
//! - iptables, where `nft` is absent, in hull's own chains `HULL-*` jumped to from the built-in
//!   ones (see `iptables`).
//!
//! Besides, `foreign` adds accepts for a bridge to other firewalls' forward chains that would
//! drop its traffic.
//!
//! Either way every rule carries a comment naming its owner (a tag), removal deletes exactly
//! the rules of the tags asked for, and hull's table or chains go away with their last rule.
//! `HULL_FIREWALL=nft|iptables` forces a backend (tests use it to cover the fallback).

use std::fs::File;
use std::net::Ipv4Addr;
use std::path::Path;

use super::ports::Proto;
use super::subnet::Subnet;
use super::{foreign, iptables, nft, NetworkError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chain {
    /// nat, before routing: DNAT of traffic from other hosts and from containers.
    Prerouting,
    /// nat, locally generated: DNAT of the host's own connections.
    Output,
    /// nat, after routing: masquerade.
    Postrouting,
    /// filter, forwarded traffic: isolation between networks.
    Forward,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Match {
    SourceNet(Subnet),
    Source(Ipv4Addr),
    Dest(Ipv4Addr),
    /// The destination is one of the host's own addresses.
    DestLocal,
    InIface(String),
    OutIface(String),
    NotOutIface(String),
    /// Any interface whose name starts with this.
    OutIfacePrefix(String),
    /// No interface whose name starts with this.
    NotOutIfacePrefix(String),
    NotInIfacePrefix(String),
    /// A packet of a connection already accepted (conntrack established or related).
    Reply,
    /// A packet whose destination was rewritten by DNAT (a published port).
    Dnatted,
    DestPort(Proto, u16),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Masquerade,
    Dnat(Ipv4Addr, u16),
    Drop,
    /// Leave hull's chain (the built-in chain's policy and rules decide).
    Return,
    /// Only in other firewalls' chains (see `foreign`).
    Accept,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub chain: Chain,
    pub matches: Vec<Match>,
    pub verdict: Verdict,
}

impl Rule {
    pub fn new(chain: Chain, matches: Vec<Match>, verdict: Verdict) -> Rule {
        Rule {
            chain,
            matches,
            verdict,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Nft,
    Iptables,
}

/// The backend: `HULL_FIREWALL` if set, else nft when installed, else iptables; None when
/// neither tool is there (then hull sets up no NAT and says so).
pub fn backend() -> Option<Backend> {
    match std::env::var("HULL_FIREWALL").as_deref() {
        Ok("nft") => return Some(Backend::Nft),
        Ok("iptables") => return Some(Backend::Iptables),
        _ => {}
    }
    if on_path("nft") {
        Some(Backend::Nft)
    } else if on_path("iptables") {
        Some(Backend::Iptables)
    } else {
        None
    }
}

pub fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
}

fn require_backend() -> Result<Backend, NetworkError> {
    backend().ok_or(NetworkError::Firewall {
        op: "find a firewall tool",
        detail: "neither nft nor iptables is installed".into(),
    })
}

/// Installs `rules` tagged `tag`, unless rules with that tag exist already (idempotent).
pub fn add_once(tag: &str, rules: &[Rule]) -> Result<(), NetworkError> {
    let backend = require_backend()?;
    let _lock = lock()?;
    if backend == Backend::Nft {
        return nft::add_once(tag, rules);
    }
    if tags(backend)?.iter().any(|t| t == tag) {
        return Ok(());
    }
    iptables::add(tag, rules)
}

/// Deletes the rules tagged `tag` (and hull's table or chains once empty). Nothing to do
/// without a firewall tool.
pub fn remove_tag(tag: &str) -> Result<(), NetworkError> {
    let Some(backend) = backend() else {
        return Ok(());
    };
    let _lock = lock()?;
    match backend {
        Backend::Nft => nft::remove_tag(tag),
        Backend::Iptables => iptables::remove(&|c| c == tag).map(drop),
    }
}

/// Deletes every rule whose tag `doomed` selects (and hull's table or chains once empty);
/// returns the deleted rules' tags. Nothing to do without a firewall tool.
pub fn remove(doomed: impl Fn(&str) -> bool) -> Result<Vec<String>, NetworkError> {
    let Some(backend) = backend() else {
        return Ok(Vec::new());
    };
    let _lock = lock()?;
    let mut gone = match backend {
        Backend::Nft => nft::remove(&doomed)?,
        Backend::Iptables => iptables::remove(&doomed)?,
    };
    gone.extend(foreign::remove(&doomed)?);
    Ok(gone)
}

/// Opens the forward path for a network's bridge in other firewalls' chains (see `foreign`).
pub fn allow_forward(tag: &str, bridge: &str) -> Result<(), NetworkError> {
    let _lock = lock()?;
    foreign::allow(tag, bridge)
}

/// Removes what [`allow_forward`] added for `tag`.
pub fn remove_forward(tag: &str) -> Result<(), NetworkError> {
    let _lock = lock()?;
    foreign::remove(&|c| c == tag).map(drop)
}

/// Whether any hull rule (of any store) exists.
pub fn any_rules() -> Result<bool, NetworkError> {
    match backend() {
        Some(b) => Ok(!tags(b)?.is_empty()),
        None => Ok(false),
    }
}

fn tags(backend: Backend) -> Result<Vec<String>, NetworkError> {
    match backend {
        Backend::Nft => Ok(nft::rules()?.into_iter().map(|r| r.comment).collect()),
        Backend::Iptables => iptables::tags(),
    }
}

/// Holds the host-wide lock for changes to hull's rules: they are shared by every hull store on
/// the host, and deleting rules by handle or number must not race another process.
#[derive(Debug)]
pub struct Lock {
    _file: File,
}

pub fn lock() -> Result<Lock, NetworkError> {
    let f = super::lock_file(Path::new("/run/hull"), "firewall.lock")?;
    Ok(Lock { _file: f })
}

/// Runs a firewall tool; its stderr becomes the error's detail.
pub fn run_tool(tool: &str, args: &[&str], stdin: Option<&str>) -> Result<String, NetworkError> {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let op = "run";
    let fail = |detail: String| NetworkError::Firewall { op, detail };
    let mut child = Command::new(tool)
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| fail(format!("{tool}: {e}")))?;
    let wrote = match (stdin, child.stdin.take()) {
        (Some(text), Some(mut pipe)) => pipe.write_all(text.as_bytes()),
        _ => Ok(()),
    };
    let out = child
        .wait_with_output()
        .map_err(|e| fail(format!("{tool}: {e}")))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(fail(format!("{tool} {}: {}", args.join(" "), err.trim())));
    }
    wrote.map_err(|e| fail(format!("{tool}: {e}")))?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
