//! IP address management: one JSON lease file per network, changed only under a file lock and
//! written atomically, so concurrent `hull` processes never hand out an address twice.
//!
//! ```no_run
//! # use std::net::Ipv4Addr;
//! # use std::path::Path;
//! # use hull_net::{ipam::Ipam, subnet::Subnet};
//! # fn main() -> Result<(), hull_net::NetworkError> {
//! # let dir = Path::new("/var/lib/hull/networks/web");
//! let subnet: Subnet = "172.18.0.0/16".parse().expect("valid subnet");
//! let ipam = Ipam::open(dir, subnet, Ipv4Addr::new(172, 18, 0, 1));
//! let ip = ipam.allocate("owner-key")?;   // first free after the last one handed out
//! ipam.release("owner-key")?;             // the address becomes free again
//! # let _ = ip;
//! # Ok(())
//! # }
//! ```

use std::collections::BTreeMap;
use std::fs::File;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::ports::PortMap;
use super::subnet::Subnet;
use super::NetworkError;

/// One endpoint's lease: its address and what else was set up for it, so that detach and sweep
/// know what to undo.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    pub ip: Ipv4Addr,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub host_veth: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<PortMap>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub mac: String,
}

impl Lease {
    /// A new lease on `ip`, before anything is set up for it.
    fn bare(ip: Ipv4Addr) -> Lease {
        Lease {
            ip,
            host_veth: String::new(),
            ports: Vec::new(),
            aliases: Vec::new(),
            mac: String::new(),
        }
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct LeaseFile {
    leases: BTreeMap<String, Lease>,
    /// The address handed out last: the next search starts after it (like podman and Docker),
    /// so a just-released address is not reused at once.
    last: Option<Ipv4Addr>,
}

/// The leases of one network.
#[derive(Debug, Clone)]
pub struct Ipam {
    dir: PathBuf,
    subnet: Subnet,
    gateway: Ipv4Addr,
}

impl Ipam {
    pub fn open(dir: &Path, subnet: Subnet, gateway: Ipv4Addr) -> Ipam {
        Ipam {
            dir: dir.to_path_buf(),
            subnet,
            gateway,
        }
    }

    /// The owner's address: its existing lease, or the first free one after the last handed out.
    pub fn allocate(&self, owner: &str) -> Result<Ipv4Addr, NetworkError> {
        self.with_leases(|file| {
            if let Some(l) = file.leases.get(owner) {
                return Ok((l.ip, false));
            }
            let ip = self.next_free(file).ok_or(NetworkError::Exhausted {
                subnet: self.subnet.to_string(),
            })?;
            file.leases.insert(owner.to_string(), Lease::bare(ip));
            file.last = Some(ip);
            Ok((ip, true))
        })
    }

    /// The owner's lease on a chosen address (`--ip`): one of the subnet's host addresses that
    /// is neither the gateway nor another owner's.
    pub fn allocate_at(&self, owner: &str, ip: Ipv4Addr) -> Result<Ipv4Addr, NetworkError> {
        let n = u32::from(ip);
        if !self.subnet.contains(ip)
            || n == self.subnet.network()
            || n == self.subnet.broadcast()
            || ip == self.gateway
        {
            return Err(NetworkError::InvalidInput(format!(
                "address {ip} is not a free host address of {}",
                self.subnet
            )));
        }
        self.with_leases(|file| {
            if let Some((other, _)) = file.leases.iter().find(|(_, l)| l.ip == ip) {
                return match other == owner {
                    true => Ok((ip, false)),
                    false => Err(NetworkError::Conflict(format!(
                        "address {ip} is already in use on {}",
                        self.subnet
                    ))),
                };
            }
            if file.leases.contains_key(owner) {
                return Err(NetworkError::Conflict(format!(
                    "{owner} already holds another address on {}",
                    self.subnet
                )));
            }
            file.leases.insert(owner.to_string(), Lease::bare(ip));
            Ok((ip, true))
        })
    }

    /// Changes the owner's lease in place (records its veth, ports, aliases).
    pub fn update(&self, owner: &str, f: impl FnOnce(&mut Lease)) -> Result<(), NetworkError> {
        self.with_leases(|file| match file.leases.get_mut(owner) {
            Some(l) => {
                f(l);
                Ok(((), true))
            }
            None => Err(NetworkError::NotFound {
                what: "lease",
                name: owner.to_string(),
            }),
        })
    }

    /// Frees the owner's address; returns the lease it had, if any.
    pub fn release(&self, owner: &str) -> Result<Option<Lease>, NetworkError> {
        self.with_leases(|file| {
            let old = file.leases.remove(owner);
            let changed = old.is_some();
            Ok((old, changed))
        })
    }

    /// The lease file, replaced (a new inode) on every change: readers may cache by its stat.
    pub fn lease_file(&self) -> PathBuf {
        self.dir.join("leases.json")
    }

    pub fn leases(&self) -> Result<BTreeMap<String, Lease>, NetworkError> {
        self.with_leases(|file| Ok((file.leases.clone(), false)))
    }

    fn next_free(&self, file: &LeaseFile) -> Option<Ipv4Addr> {
        let first = self.subnet.network() + 1;
        let last = self.subnet.broadcast() - 1;
        let used: std::collections::HashSet<u32> =
            file.leases.values().map(|l| u32::from(l.ip)).collect();
        let start = file
            .last
            .map(u32::from)
            .filter(|ip| (first..=last).contains(ip))
            .map_or(first, |ip| if ip == last { first } else { ip + 1 });
        let span = last - first + 1;
        (0..span)
            .map(|i| first + (start - first + i) % span)
            .find(|ip| *ip != u32::from(self.gateway) && !used.contains(ip))
            .map(Ipv4Addr::from)
    }

    /// Runs `f` on the lease file under the network's lock; writes the file back (atomically)
    /// when `f` says it changed something.
    fn with_leases<T>(
        &self,
        f: impl FnOnce(&mut LeaseFile) -> Result<(T, bool), NetworkError>,
    ) -> Result<T, NetworkError> {
        let io = |op: &'static str, path: &Path| {
            let path = path.to_path_buf();
            move |source| NetworkError::Io { op, path, source }
        };
        std::fs::create_dir_all(&self.dir).map_err(io("create", &self.dir))?;
        let lock_path = self.dir.join("leases.lock");
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io("open lock", &lock_path))?;
        lock.lock().map_err(io("lock", &lock_path))?;
        // The temp of a writer killed before its rename (a cheap readdir of a small dir).
        let _ = hull_sys::fs::sweep_atomic_temps(&self.dir);
        let path = self.lease_file();
        let mut file = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| NetworkError::Corrupt {
                path: path.clone(),
                source: e,
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => LeaseFile::default(),
            Err(e) => return Err(io("read", &path)(e)),
        };
        let (out, changed) = f(&mut file)?;
        if changed {
            let bytes = serde_json::to_vec_pretty(&file).expect("lease file serializes");
            hull_sys::fs::write_atomic(&path, &bytes, hull_sys::fs::Durability::Durable)
                .map_err(io("write", &path))?;
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ipam(dir: &Path, cidr: &str) -> Ipam {
        let subnet: Subnet = cidr.parse().unwrap();
        Ipam::open(dir, subnet, subnet.first_host())
    }

    #[test]
    fn skips_network_gateway_and_broadcast_until_exhausted() {
        let d = tempfile::tempdir().unwrap();
        let ipam = ipam(d.path(), "10.99.0.0/29"); // .1 gateway, .2-.6 usable, .7 broadcast
        let got: Vec<Ipv4Addr> = (0..5)
            .map(|i| ipam.allocate(&format!("c{i}")).unwrap())
            .collect();
        let want: Vec<Ipv4Addr> = (2..=6).map(|i| Ipv4Addr::new(10, 99, 0, i)).collect();
        assert_eq!(got, want);
        let err = ipam.allocate("c5").unwrap_err();
        assert!(matches!(err, NetworkError::Exhausted { .. }), "{err}");
        assert_eq!(
            ipam.allocate("c0").unwrap(),
            want[0],
            "same owner keeps its lease"
        );
    }

    #[test]
    fn released_address_is_reused_after_wraparound() {
        let d = tempfile::tempdir().unwrap();
        let ipam = ipam(d.path(), "10.99.0.0/29");
        for i in 0..5 {
            ipam.allocate(&format!("c{i}")).unwrap();
        }
        let freed = ipam.release("c1").unwrap().unwrap().ip;
        assert!(
            ipam.release("c1").unwrap().is_none(),
            "release is idempotent"
        );
        assert_eq!(ipam.allocate("new").unwrap(), freed);
        assert_eq!(ipam.leases().unwrap().len(), 5);
    }

    #[test]
    fn next_search_starts_after_the_last_handed_out() {
        let d = tempfile::tempdir().unwrap();
        let ipam = ipam(d.path(), "10.99.0.0/24");
        let a = ipam.allocate("a").unwrap();
        ipam.release("a").unwrap();
        let b = ipam.allocate("b").unwrap();
        assert_ne!(
            a, b,
            "a just-released address is not handed out again at once"
        );
    }

    #[test]
    fn concurrent_allocations_get_distinct_addresses() {
        let d = tempfile::tempdir().unwrap();
        let threads: Vec<_> = (0..16)
            .map(|t| {
                let ipam = ipam(d.path(), "10.99.0.0/24");
                std::thread::spawn(move || {
                    (0..8)
                        .map(|i| ipam.allocate(&format!("t{t}-{i}")).unwrap())
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut all: Vec<Ipv4Addr> = threads
            .into_iter()
            .flat_map(|t| t.join().unwrap())
            .collect();
        let n = all.len();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), n, "an address was handed out twice");
        assert_eq!(ipam(d.path(), "10.99.0.0/24").leases().unwrap().len(), 128);
    }

    #[test]
    fn chosen_addresses_are_checked() {
        let d = tempfile::tempdir().unwrap();
        let ipam = ipam(d.path(), "10.99.0.0/24");
        let want = Ipv4Addr::new(10, 99, 0, 50);
        assert_eq!(ipam.allocate_at("a", want).unwrap(), want);
        assert_eq!(ipam.allocate_at("a", want).unwrap(), want, "idempotent");
        for (owner, ip) in [
            ("b", want),                         // taken
            ("a", Ipv4Addr::new(10, 99, 0, 51)), // a has one already
            ("b", Ipv4Addr::new(10, 99, 0, 1)),  // gateway
            ("b", Ipv4Addr::new(10, 99, 0, 255)),
            ("b", Ipv4Addr::new(10, 98, 0, 5)),
        ] {
            assert!(ipam.allocate_at(owner, ip).is_err(), "{owner} {ip}");
        }
        assert_ne!(
            ipam.allocate("b").unwrap(),
            want,
            "a chosen address is not handed out"
        );
    }

    #[test]
    fn update_records_endpoint_details() {
        let d = tempfile::tempdir().unwrap();
        let ipam = ipam(d.path(), "10.99.0.0/24");
        ipam.allocate("a").unwrap();
        ipam.update("a", |l| l.host_veth = "hull12345678".into())
            .unwrap();
        assert_eq!(ipam.leases().unwrap()["a"].host_veth, "hull12345678");
        assert!(ipam.update("missing", |_| {}).is_err());
    }
}
