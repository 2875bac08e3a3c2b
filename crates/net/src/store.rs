//! The networks store: `<root>/networks/<name>/network.json` (written atomically) beside that
//! network's `leases.json`. Creating and removing networks happens under
//! `<root>/networks/store.lock`, so names and subnets stay unique.
//!
//! ```no_run
//! # use std::path::Path;
//! # use hull_net::{CreateRequest, Networks};
//! # fn main() -> Result<(), hull_net::NetworkError> {
//! # let root = Path::new("/var/lib/hull");
//! let nets = Networks::open(root);
//! let n = nets.create(&CreateRequest { name: "web".into(), ..Default::default() })?;
//! nets.remove_record(&n)?;   // refused while a lease exists
//! # Ok(())
//! # }
//! ```

use std::collections::BTreeMap;
use std::fs::File;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::ipam::Ipam;
use super::subnet::{self, Subnet};
use super::NetworkError;

/// The default network's name, bridge and driver (Docker's `bridge` network is `docker0`).
pub const DEFAULT_NETWORK: &str = "bridge";
pub const DEFAULT_BRIDGE: &str = "hull0";
pub const DRIVER_BRIDGE: &str = "bridge";
/// The store whose default network's bridge is plain `hull0`; any other store's is
/// `hull0-<store tag>`, so that two stores (test stores, say) never share a bridge.
pub const DEFAULT_ROOT: &str = "/var/lib/hull";
/// Overrides the default network's subnet when it is first created (tests give every store
/// its own).
pub const DEFAULT_SUBNET_ENV: &str = "HULL_DEFAULT_SUBNET";

/// The default network's bridge for the store at `root`.
pub fn default_bridge(root: &Path) -> String {
    let canonical = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
    if canonical == Path::new(DEFAULT_ROOT) {
        DEFAULT_BRIDGE.to_string()
    } else {
        format!("{DEFAULT_BRIDGE}-{}", super::store_tag(root))
    }
}

/// `HULL_DEFAULT_SUBNET`, when set.
fn default_subnet_override() -> Result<Option<Subnet>, NetworkError> {
    match std::env::var(DEFAULT_SUBNET_ENV) {
        Ok(v) if !v.is_empty() => v.parse().map(Some).map_err(|_| {
            NetworkError::InvalidInput(format!("{DEFAULT_SUBNET_ENV}={v} is not a subnet"))
        }),
        _ => Ok(None),
    }
}

/// What a new network asks for: a subnet and gateway, else the pools to pick from.
struct Plan {
    want: Option<Subnet>,
    gateway: Option<Ipv4Addr>,
    pools: Vec<Subnet>,
}

/// The default network's candidates, then the user networks' pools, then the last resort.
fn default_candidates() -> Vec<Subnet> {
    [
        subnet::default_pools(),
        subnet::user_pools(),
        subnet::fallback_pools(),
    ]
    .concat()
}

/// What the host's routes and link addresses cover.
fn host_taken() -> Result<Vec<Subnet>, NetworkError> {
    Ok(super::claims::host_claims()?
        .into_iter()
        .map(|c| c.subnet)
        .collect())
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Network {
    pub id: String,
    pub name: String,
    pub driver: String,
    pub bridge: String,
    pub subnet: Subnet,
    pub gateway: Ipv4Addr,
    pub created: String,
    /// `--label`s (the API's `Labels`, which Compose reads back).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

impl Network {
    pub fn short_id(&self) -> &str {
        &self.id[..12]
    }
}

#[derive(Debug, Clone, Default)]
pub struct CreateRequest {
    pub name: String,
    pub subnet: Option<Subnet>,
    pub gateway: Option<Ipv4Addr>,
    pub driver: Option<String>,
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone)]
pub struct Networks {
    dir: PathBuf,
}

impl Networks {
    pub fn open(root: &Path) -> Networks {
        Networks {
            dir: root.join("networks"),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// All networks, the default one first (created on first use).
    pub fn list(&self) -> Result<Vec<Network>, NetworkError> {
        self.ensure_default()?;
        let mut nets = self.read_all()?;
        nets.sort_by(|a, b| {
            (a.name != DEFAULT_NETWORK, &a.name).cmp(&(b.name != DEFAULT_NETWORK, &b.name))
        });
        Ok(nets)
    }

    /// A network by name, full ID or unambiguous ID prefix.
    pub fn get(&self, name_or_id: &str) -> Result<Network, NetworkError> {
        let nets = self.list()?;
        if let Some(n) = nets
            .iter()
            .find(|n| n.name == name_or_id || n.id == name_or_id)
        {
            return Ok(n.clone());
        }
        let matches: Vec<&Network> = nets
            .iter()
            .filter(|n| !name_or_id.is_empty() && n.id.starts_with(name_or_id))
            .collect();
        match matches.as_slice() {
            [one] => Ok((*one).clone()),
            [] => Err(NetworkError::NotFound {
                what: "network",
                name: name_or_id.to_string(),
            }),
            _ => Err(NetworkError::InvalidInput(format!(
                "network {name_or_id} is ambiguous: {} networks match",
                matches.len()
            ))),
        }
    }

    pub fn ipam(&self, net: &Network) -> Ipam {
        Ipam::open(&self.dir.join(&net.name), net.subnet, net.gateway)
    }

    pub fn create(&self, req: &CreateRequest) -> Result<Network, NetworkError> {
        validate_name(&req.name)?;
        let driver = req.driver.clone().unwrap_or_else(|| DRIVER_BRIDGE.into());
        if driver != DRIVER_BRIDGE {
            return Err(NetworkError::InvalidInput(format!(
                "driver {driver:?} is not supported: only \"bridge\""
            )));
        }
        self.ensure_default()?;
        let _lock = self.lock()?;
        let existing = self.read_all()?;
        if existing.iter().any(|n| n.name == req.name) {
            return Err(NetworkError::AlreadyExists {
                what: "network",
                name: req.name.clone(),
            });
        }
        let id = new_id(&req.name);
        let bridge = format!("hull-{}", &id[..10]);
        let plan = Plan {
            want: req.subnet,
            gateway: req.gateway,
            pools: [subnet::user_pools(), subnet::fallback_pools()].concat(),
        };
        let mut net = self.plan(&req.name, id, bridge, plan, &existing)?;
        net.labels = req.labels.clone();
        self.write(&net)?;
        Ok(net)
    }

    /// Deletes the network's record and leases once no endpoint holds a lease; the caller
    /// tears down the host side (bridge, rules) first.
    pub fn remove_record(&self, net: &Network) -> Result<(), NetworkError> {
        let _lock = self.lock()?;
        if !self.ipam(net).leases()?.is_empty() {
            return Err(NetworkError::InUse {
                name: net.name.clone(),
            });
        }
        let dir = self.dir.join(&net.name);
        std::fs::remove_dir_all(&dir).map_err(|source| NetworkError::Io {
            op: "remove",
            path: dir,
            source,
        })
    }

    /// Removes what writers killed half-way left: their temp files, and the directory of a
    /// `network create` that died before its record was written (under the store lock, which
    /// every create holds, so none is in progress).
    pub fn sweep_leftovers(&self) -> Result<(), NetworkError> {
        if !self.dir.is_dir() {
            return Ok(());
        }
        let _lock = self.lock()?;
        let _ = hull_sys::fs::sweep_atomic_temps(&self.dir);
        for e in std::fs::read_dir(&self.dir).into_iter().flatten().flatten() {
            let dir = e.path();
            if !dir.is_dir() {
                continue;
            }
            let _ = hull_sys::fs::sweep_atomic_temps(&dir);
            if !dir.join("network.json").exists() && !dir.join("leases.json").exists() {
                let _ = std::fs::remove_dir_all(&dir);
            }
        }
        Ok(())
    }

    fn ensure_default(&self) -> Result<(), NetworkError> {
        if self.dir.join(DEFAULT_NETWORK).join("network.json").exists() {
            return Ok(());
        }
        let _lock = self.lock()?;
        let existing = self.read_all()?;
        if existing.iter().any(|n| n.name == DEFAULT_NETWORK) {
            return Ok(());
        }
        let id = new_id(DEFAULT_NETWORK);
        let root = self.dir.parent().unwrap_or(Path::new("/"));
        let plan = Plan {
            want: default_subnet_override()?,
            gateway: None,
            pools: default_candidates(),
        };
        let net = self.plan(DEFAULT_NETWORK, id, default_bridge(root), plan, &existing)?;
        self.write(&net)
    }

    /// Moves the default network to the first free candidate that overlaps neither the host,
    /// another network, its current subnet nor `avoid` (see `claims::recheck`, whose caller
    /// made sure it has no endpoint). Keeps its ID, name and bridge.
    pub fn readdress(&self, net: &Network, avoid: &[Subnet]) -> Result<Network, NetworkError> {
        let _lock = self.lock()?;
        let others: Vec<Network> = self
            .read_all()?
            .into_iter()
            .filter(|n| n.name != net.name)
            .collect();
        let mut taken: Vec<Subnet> = avoid.to_vec();
        taken.push(net.subnet);
        taken.extend(others.iter().map(|n| n.subnet));
        taken.extend(host_taken()?);
        let subnet = subnet::first_free(&default_candidates(), &taken).ok_or_else(|| {
            NetworkError::Conflict(format!(
                "network {}: no free subnet left to move to from {}",
                net.name, net.subnet
            ))
        })?;
        let moved = Network {
            subnet,
            gateway: subnet.first_host(),
            ..net.clone()
        };
        self.write(&moved)?;
        Ok(moved)
    }

    /// Chooses the subnet and gateway: the requested ones if they are free, else the first
    /// free pool that overlaps neither the host's routes and addresses nor another network.
    fn plan(
        &self,
        name: &str,
        id: String,
        bridge: String,
        plan: Plan,
        existing: &[Network],
    ) -> Result<Network, NetworkError> {
        let host = host_taken()?;
        let ours: Vec<Subnet> = existing.iter().map(|n| n.subnet).collect();
        let subnet = match plan.want {
            Some(s) => {
                if let Some(n) = existing.iter().find(|n| n.subnet.overlaps(&s)) {
                    return Err(NetworkError::Conflict(format!(
                        "subnet {s} overlaps network {} ({})",
                        n.name, n.subnet
                    )));
                }
                if let Some(r) = host.iter().find(|r| r.overlaps(&s)) {
                    return Err(NetworkError::Conflict(format!(
                        "subnet {s} overlaps the host route {r}"
                    )));
                }
                s
            }
            None => {
                let taken: Vec<Subnet> = host.into_iter().chain(ours).collect();
                subnet::first_free(&plan.pools, &taken).ok_or_else(|| {
                    NetworkError::Conflict("no free subnet left in the default pools".into())
                })?
            }
        };
        let gateway = plan.gateway.unwrap_or_else(|| subnet.first_host());
        let g = u32::from(gateway);
        if !subnet.contains(gateway) || g == subnet.network() || g == subnet.broadcast() {
            return Err(NetworkError::InvalidInput(format!(
                "gateway {gateway} is not a host address of {subnet}"
            )));
        }
        Ok(Network {
            id,
            name: name.into(),
            driver: DRIVER_BRIDGE.into(),
            bridge,
            subnet,
            gateway,
            created: hull_oci::time::now_rfc3339(),
            labels: BTreeMap::new(),
        })
    }

    fn write(&self, net: &Network) -> Result<(), NetworkError> {
        let dir = self.dir.join(&net.name);
        let path = dir.join("network.json");
        std::fs::create_dir_all(&dir)
            .and_then(|()| {
                let bytes = serde_json::to_vec_pretty(net).expect("network serializes");
                hull_sys::fs::write_atomic(&path, &bytes, hull_sys::fs::Durability::Durable)
            })
            .map_err(|source| NetworkError::Io {
                op: "write",
                path,
                source,
            })
    }

    /// The networks recorded, without creating the default one (for looking at another
    /// store's).
    pub(crate) fn read_all(&self) -> Result<Vec<Network>, NetworkError> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => {
                return Err(NetworkError::Io {
                    op: "read",
                    path: self.dir.clone(),
                    source,
                })
            }
        };
        let mut out = Vec::new();
        for e in entries.flatten() {
            let path = e.path().join("network.json");
            let Ok(bytes) = std::fs::read(&path) else {
                continue; // not a network directory (lock files), or removed meanwhile
            };
            out.push(
                serde_json::from_slice(&bytes)
                    .map_err(|source| NetworkError::Corrupt { path, source })?,
            );
        }
        Ok(out)
    }

    fn lock(&self) -> Result<File, NetworkError> {
        super::lock_file(&self.dir, "store.lock")
    }
}

/// Docker's rule for names: `[a-zA-Z0-9][a-zA-Z0-9_.-]*`.
fn validate_name(name: &str) -> Result<(), NetworkError> {
    let ok = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
        && !["host", "none"].contains(&name);
    if ok {
        Ok(())
    } else {
        Err(NetworkError::InvalidInput(format!(
            "invalid network name {name:?}: want [a-zA-Z0-9][a-zA-Z0-9_.-]*, not host or none"
        )))
    }
}

/// A 64-hex ID: sha256 of the name, the time and 16 random bytes.
fn new_id(name: &str) -> String {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update(hull_oci::time::now_rfc3339().as_bytes());
    let mut rnd = [0u8; 16];
    if let Ok(mut f) = File::open("/dev/urandom") {
        let _ = std::io::Read::read_exact(&mut f, &mut rnd);
    }
    h.update(rnd);
    hex::encode(h.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(name: &str, subnet: Option<&str>) -> CreateRequest {
        CreateRequest {
            name: name.into(),
            subnet: subnet.map(|s| s.parse().unwrap()),
            ..Default::default()
        }
    }

    #[test]
    fn sweep_removes_a_killed_creates_directory_and_dead_writers_temps() {
        let root = tempfile::tempdir().unwrap();
        let nets = Networks::open(root.path());
        let kept = nets.create(&req("kept", Some("10.231.1.0/24"))).unwrap();
        // pid 99999999 is above the kernel's largest pid_max (2^22): never alive.
        let half = nets.dir().join("half");
        std::fs::create_dir_all(&half).unwrap();
        std::fs::write(half.join(".network.json.99999999.0.tmp"), b"{").unwrap();
        let temp = nets.dir().join("kept/.leases.json.99999999.1.tmp");
        std::fs::write(&temp, b"{").unwrap();
        nets.sweep_leftovers().unwrap();
        assert!(!half.exists());
        assert!(!temp.exists());
        assert_eq!(nets.get("kept").unwrap(), kept);
        nets.create(&req("half", Some("10.231.2.0/24"))).unwrap();
    }

    #[test]
    fn default_network_appears_first_with_hull0() {
        let d = tempfile::tempdir().unwrap();
        let nets = Networks::open(d.path());
        nets.create(&req("alpha", Some("10.201.0.0/24"))).unwrap();
        let all = nets.list().unwrap();
        assert_eq!(all[0].name, "bridge");
        assert_eq!(
            all[0].bridge,
            format!("hull0-{}", super::super::store_tag(d.path()))
        );
        assert!(all[0].bridge.len() <= 15);
        assert!(!host_taken()
            .unwrap()
            .iter()
            .any(|r| r.overlaps(&all[0].subnet)));
        // HULL_DEFAULT_SUBNET aside, the default comes from hull's own pools.
        if std::env::var_os(DEFAULT_SUBNET_ENV).is_none() {
            assert!(
                default_candidates().contains(&all[0].subnet),
                "{}",
                all[0].subnet
            );
        }
        assert_eq!(all[1].name, "alpha");
        assert!(all[1].bridge.starts_with("hull-") && all[1].bridge.len() == 15);
        assert_eq!(all[1].gateway, Ipv4Addr::new(10, 201, 0, 1));
    }

    #[test]
    fn overlapping_subnets_and_duplicate_names_are_refused() {
        let d = tempfile::tempdir().unwrap();
        let nets = Networks::open(d.path());
        nets.create(&req("a", Some("10.202.0.0/16"))).unwrap();
        let e = nets.create(&req("b", Some("10.202.5.0/24"))).unwrap_err();
        assert!(matches!(e, NetworkError::Conflict(_)), "{e}");
        let e = nets.create(&req("a", Some("10.203.0.0/16"))).unwrap_err();
        assert!(matches!(e, NetworkError::AlreadyExists { .. }), "{e}");
        let e = nets.create(&req("bad name", None)).unwrap_err();
        assert!(matches!(e, NetworkError::InvalidInput(_)), "{e}");
        let auto = nets.create(&req("c", None)).unwrap();
        let all = nets.list().unwrap();
        assert_eq!(
            all.iter()
                .filter(|n| n.subnet.overlaps(&auto.subnet))
                .count(),
            1,
            "an automatic subnet overlaps another network"
        );
    }

    #[test]
    fn get_by_name_or_id_prefix_and_remove_refused_while_leased() {
        // A name that is no hex prefix: "a" also matched a default network whose ID began
        // with an a, once in 16 runs.
        let d = tempfile::tempdir().unwrap();
        let nets = Networks::open(d.path());
        let n = nets.create(&req("zeta", Some("10.204.0.0/24"))).unwrap();
        assert_eq!(nets.get(&n.id[..6]).unwrap().name, "zeta");
        nets.ipam(&n).allocate("c1").unwrap();
        let e = nets.remove_record(&n).unwrap_err();
        assert_eq!(e.to_string(), "network zeta has active endpoints");
        nets.ipam(&n).release("c1").unwrap();
        nets.remove_record(&n).unwrap();
        assert!(matches!(
            nets.get("zeta"),
            Err(NetworkError::NotFound { .. })
        ));
    }

    #[test]
    fn concurrent_creates_get_distinct_automatic_subnets() {
        let d = tempfile::tempdir().unwrap();
        let threads: Vec<_> = (0..6)
            .map(|i| {
                let nets = Networks::open(d.path());
                std::thread::spawn(move || {
                    nets.create(&req(&format!("n{i}"), None)).unwrap().subnet
                })
            })
            .collect();
        let mut subnets: Vec<Subnet> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        subnets.push(Networks::open(d.path()).get("bridge").unwrap().subnet);
        for (i, a) in subnets.iter().enumerate() {
            for b in &subnets[i + 1..] {
                assert!(!a.overlaps(b), "{a} overlaps {b}");
            }
        }
    }

    #[test]
    fn readdress_moves_the_default_network_and_keeps_its_identity() {
        let d = tempfile::tempdir().unwrap();
        let nets = Networks::open(d.path());
        let before = nets.get("bridge").unwrap();
        let avoid: Subnet = "10.86.0.0/16".parse().unwrap();
        let moved = nets.readdress(&before, &[avoid]).unwrap();
        assert!(!moved.subnet.overlaps(&before.subnet) && !moved.subnet.overlaps(&avoid));
        assert_eq!(moved.gateway, moved.subnet.first_host());
        assert_eq!((&moved.id, &moved.bridge), (&before.id, &before.bridge));
        assert_eq!(nets.get("bridge").unwrap(), moved);
    }

    #[test]
    fn gateway_must_be_a_host_address_of_the_subnet() {
        let d = tempfile::tempdir().unwrap();
        let nets = Networks::open(d.path());
        let mut r = req("a", Some("10.205.0.0/24"));
        r.gateway = Some(Ipv4Addr::new(10, 205, 1, 1));
        assert!(nets.create(&r).is_err());
        r.gateway = Some(Ipv4Addr::new(10, 205, 0, 254));
        assert_eq!(
            nets.create(&r).unwrap().gateway,
            Ipv4Addr::new(10, 205, 0, 254)
        );
    }
}
