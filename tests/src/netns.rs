//! Network namespaces and private network stores for the root tests of hull_net
//! (network.rs, network_dns.rs). Both undo themselves on drop, even when the test failed.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use hull_net::{self as network, Attachment, CreateRequest, Endpoint, Network, Networks};

use crate::Hull;

/// A named network namespace (`ip netns add hulltest-<pid>-<tag>`), deleted on drop.
pub struct Netns {
    name: String,
}

impl Netns {
    pub fn new(tag: &str) -> Netns {
        let name = format!("hulltest-{}-{tag}", std::process::id());
        let st = Command::new("ip")
            .args(["netns", "add", &name])
            .status()
            .unwrap();
        assert!(st.success(), "ip netns add {name}");
        Netns { name }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn path(&self) -> PathBuf {
        PathBuf::from("/run/netns").join(&self.name)
    }

    /// A command run inside the namespace.
    pub fn exec(&self, args: &[&str]) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name]).args(args);
        c
    }

    /// Whether one ping from inside gets an answer.
    pub fn ping(&self, ip: Ipv4Addr) -> bool {
        self.exec(&["busybox", "ping", "-c1", "-W1", &ip.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap()
            .success()
    }

    /// The interface names inside.
    pub fn links(&self) -> Vec<String> {
        let out = self.exec(&["ip", "-o", "link", "show"]).output().unwrap();
        link_names(&String::from_utf8_lossy(&out.stdout))
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// The interface names in `ip -o link show` output, without their `@peer` suffix.
pub fn link_names(ip_o_link: &str) -> Vec<String> {
    ip_o_link
        .lines()
        .filter_map(|l| l.split(':').nth(1))
        .map(|n| n.trim().split('@').next().unwrap_or_default().to_string())
        .collect()
}

/// A private store; on drop it detaches every endpoint and removes its networks (bridges and
/// nft rules), even when the test failed.
pub struct NetStore {
    pub hull: Hull,
}

impl NetStore {
    pub fn new() -> NetStore {
        NetStore { hull: Hull::new() }
    }

    pub fn root(&self) -> PathBuf {
        self.hull.root()
    }

    /// Creates a network with its own subnet.
    pub fn network(&self, name: &str, subnet: &str) -> Network {
        Networks::open(&self.root())
            .create(&CreateRequest {
                name: name.into(),
                subnet: Some(subnet.parse().unwrap()),
                ..Default::default()
            })
            .unwrap()
    }

    /// Attaches `ns` as the endpoint; panics naming it when that fails.
    pub fn attach_endpoint(&self, ns: &Netns, ep: &Endpoint) -> Attachment {
        network::attach(&self.root(), &ns.path(), ep)
            .unwrap_or_else(|e| panic!("attach {} to {}: {e:?}", ep.owner, ep.network))
    }
}

impl Default for NetStore {
    fn default() -> NetStore {
        NetStore::new()
    }
}

impl Drop for NetStore {
    fn drop(&mut self) {
        let root = self.root();
        if let Err(e) = network::sweep(&root, |_| false) {
            eprintln!("cleanup: sweep: {e}");
        }
        for n in Networks::open(&root).list().unwrap_or_default() {
            if n.name != "bridge" {
                if let Err(e) = network::remove_network(&root, &n.id) {
                    eprintln!("cleanup: remove network {}: {e}", n.name);
                }
            }
        }
    }
}
