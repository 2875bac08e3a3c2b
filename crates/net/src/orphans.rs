//! The host-wide part of the check: links and rules tagged by a hull store that no longer
//! exists (its directory deleted while containers ran, a test store whose process died). Each
//! store that builds anything on the host registers itself as `/run/hull/stores/<store tag>`
//! holding its root path; a tag whose registered root has no `networks` directory any more owns
//! nothing. Tags without a registration are listed but left alone: nothing says whose they are.
//! /run is emptied at boot, as are the links and rules.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::{firewall, nat, netlink, nl, NetworkError, SweepReport};

const STORES: &str = "/run/hull/stores";

/// Records that the store at `root` (tag `store`) has objects on the host.
pub fn register_store(root: &Path, store: &str) -> Result<(), NetworkError> {
    let path = Path::new(STORES).join(store);
    let root = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
    let text = root.as_os_str().as_encoded_bytes();
    if std::fs::read(&path).is_ok_and(|t| t == text) {
        return Ok(());
    }
    std::fs::create_dir_all(STORES)
        .and_then(|()| {
            hull_sys::fs::write_atomic(&path, text, hull_sys::fs::Durability::ProcessCrash)
        })
        .map_err(|source| NetworkError::Io {
            op: "register store in",
            path,
            source,
        })
}

/// Forgets the store's registration once it has nothing on the host.
pub fn unregister_store(store: &str) {
    let _ = std::fs::remove_file(Path::new(STORES).join(store));
}

/// The store tag of a `hull <store> …` link alias or rule comment.
fn store_of(tag: &str) -> Option<&str> {
    let store = tag.strip_prefix("hull ")?.split(' ').next()?;
    (store.len() == 8 && store.bytes().all(|b| b.is_ascii_hexdigit())).then_some(store)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Owner {
    Alive,
    Gone,
    Unknown,
}

fn owner(store: &str) -> Owner {
    match std::fs::read(Path::new(STORES).join(store)) {
        Ok(root) => {
            let root = PathBuf::from(String::from_utf8_lossy(&root).into_owned());
            if root.join("networks").is_dir() {
                Owner::Alive
            } else {
                Owner::Gone
            }
        }
        Err(_) => Owner::Unknown,
    }
}

/// Deletes the registrations of stores that no longer exist (their objects are gone too).
fn forget_gone_stores() {
    let _ = hull_sys::fs::sweep_atomic_temps(Path::new(STORES));
    let Ok(entries) = std::fs::read_dir(STORES) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if owner(&name) == Owner::Gone {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// What [`sweep_orphans`] found: removed objects of deleted stores, and the tags of objects
/// whose store is unknown (left alone).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct OrphanReport {
    pub removed: SweepReport,
    pub unknown: Vec<String>,
}

/// Removes every link and rule tagged by a store that no longer exists.
pub fn sweep_orphans() -> Result<OrphanReport, NetworkError> {
    let mut owners: HashMap<String, Owner> = HashMap::new();
    let mut classify = |tag: &str| -> Option<Owner> {
        let store = store_of(tag)?;
        Some(
            *owners
                .entry(store.to_string())
                .or_insert_with(|| owner(store)),
        )
    };
    let mut report = OrphanReport::default();
    let mut h = netlink::Netlink::open().map_err(nl("open socket for", "links"))?;
    let links = h.links().map_err(nl("list", "links"))?;
    for l in links.iter().cloned() {
        let Some(alias) = l.alias.clone() else {
            continue;
        };
        match classify(&alias) {
            Some(Owner::Gone) => {
                h.delete_link(l.index).map_err(nl("delete", &l.name))?;
                report.removed.links.push(l.name);
            }
            Some(Owner::Unknown) => report.unknown.push(format!("link {} ({alias})", l.name)),
            _ => {}
        }
    }
    report.unknown.extend(
        unclaimed_untagged_bridges(&links, &registered_bridges())
            .into_iter()
            .map(|name| format!("link {name} (untagged, no network of a registered store)")),
    );
    let gone: Vec<String> = owners
        .iter()
        .filter(|(_, o)| **o == Owner::Gone)
        .map(|(s, _)| s.clone())
        .collect();
    let doomed = |c: &str| {
        store_of(c).is_some_and(|s| {
            gone.iter().any(|g| g == s) || (!owners.contains_key(s) && owner(s) == Owner::Gone)
        })
    };
    report.removed.rules = firewall::remove(doomed)?;
    forget_gone_stores();
    nat::restore_forwarding()?;
    Ok(report)
}

/// The bridge names of every network of every registered store that still exists.
fn registered_bridges() -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(STORES) else {
        return Vec::new();
    };
    let roots = entries
        .flatten()
        .filter_map(|e| std::fs::read(e.path()).ok())
        .map(|root| PathBuf::from(String::from_utf8_lossy(&root).into_owned()));
    roots
        .flat_map(|root| super::Networks::open(&root).read_all().unwrap_or_default())
        .map(|net| net.bridge)
        .collect()
}

/// True for the names hull gives bridges: `hull-<id10>` (user networks), `hull0` (the default
/// store's default network) and `hull0-<store>` (other stores' default network). Veths are
/// `hull<8 hex>`, so never match.
fn bridge_named_by_hull(name: &str) -> bool {
    name == "hull0" || name.starts_with("hull-") || name.starts_with("hull0-")
}

/// Bridges named like hull's, untagged (a create killed before it tagged the bridge), with no
/// port, that no network of a registered store names: nothing says whose they are, so they are
/// only reported (a registered store's own goes with its `network rm` or sweep).
fn unclaimed_untagged_bridges(links: &[netlink::Link], claimed: &[String]) -> Vec<String> {
    links
        .iter()
        .filter(|l| l.alias.as_deref().is_none_or(str::is_empty))
        .filter(|l| bridge_named_by_hull(&l.name))
        .filter(|l| !links.iter().any(|port| port.master == Some(l.index)))
        .filter(|l| !claimed.contains(&l.name))
        .map(|l| l.name.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_tags_come_from_hull_tags_only() {
        assert_eq!(store_of("hull 0a1b2c3d net 123456789012"), Some("0a1b2c3d"));
        assert_eq!(store_of("hull 0a1b2c3d ep 1234 owner"), Some("0a1b2c3d"));
        assert_eq!(store_of("hull zz net x"), None);
        assert_eq!(store_of("docker0"), None);
    }

    #[test]
    fn untagged_hull_bridges_without_ports_or_network_are_reported() {
        let link = |index, name: &str, alias: Option<&str>, master| netlink::Link {
            index,
            name: name.into(),
            alias: alias.map(String::from),
            master,
        };
        let links = [
            link(1, "hull-aaaaaaaaaa", None, None),
            link(2, "hull-bbbbbbbbbb", None, None),
            link(3, "hull0-12345678", Some(""), None),
            link(4, "hull-cccccccccc", Some("hull 12345678 net cccc"), None),
            link(5, "hull-dddddddddd", None, None),
            link(6, "hull1a2b3c4d", None, Some(5)),
            link(7, "docker0", None, None),
            link(8, "hull0", None, None),
        ];
        let claimed = ["hull-bbbbbbbbbb".to_string()];
        assert_eq!(
            unclaimed_untagged_bridges(&links, &claimed),
            ["hull-aaaaaaaaaa", "hull0-12345678", "hull0"]
        );
    }
}
