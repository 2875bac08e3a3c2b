//! What hull added to its nft table, by tag, with the rules' chains and handles: kept in
//! `/run/hull/nft-rules.json` (a tmpfs, emptied at boot like the kernel's ruleset) so that the
//! hot path of `hull run` neither spawns `nft list` to learn whether a network's rules exist
//! nor to find the handles of an endpoint's rules when it leaves.
//!
//! Only changed under the host-wide firewall lock. Every listing of the table (`remove` with a
//! predicate, i.e. sweeps and the removal of the last tag) rewrites it from what the kernel
//! has, so a ledger gone stale (rules deleted behind hull's back) heals with `hull network
//! sweep`. A process killed between `nft -f` and the ledger write leaves rules the ledger does
//! not know: they are found by the next listing like any other leftover.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::nft::Listed;
use super::NetworkError;

pub const PATH: &str = "/run/hull/nft-rules.json";

/// One rule hull added: its base chain and kernel handle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub chain: String,
    pub handle: u64,
}

/// Tag → the rules added under it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ledger {
    pub tags: BTreeMap<String, Vec<Entry>>,
}

impl Ledger {
    /// The ledger at `path`; empty when missing or unreadable (then listings rebuild it).
    pub fn load(path: &Path) -> Ledger {
        std::fs::read(path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    /// Written atomically; no fsync, since a reboot empties both it and the ruleset.
    pub fn save(&self, path: &Path) -> Result<(), NetworkError> {
        let bytes = serde_json::to_vec(self).expect("ledger serializes");
        let io = |op| {
            let path = PathBuf::from(path);
            move |source| NetworkError::Io { op, path, source }
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io("create dir for"))?;
        }
        hull_sys::fs::write_atomic(path, &bytes, hull_sys::fs::Durability::ProcessCrash)
            .map_err(io("write"))
    }

    /// The ledger that matches a listing of the table.
    pub fn from_listing(rules: &[Listed]) -> Ledger {
        let mut l = Ledger::default();
        for r in rules {
            l.tags.entry(r.comment.clone()).or_default().push(Entry {
                chain: r.chain.clone(),
                handle: r.handle,
            });
        }
        l
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_a_listing_by_tag_and_round_trips() {
        let listed = |chain: &str, handle, comment: &str| Listed {
            chain: chain.into(),
            handle,
            comment: comment.into(),
        };
        let l = Ledger::from_listing(&[
            listed("postrouting", 3, "hull s net a"),
            listed("forward", 4, "hull s net a"),
            listed("prerouting", 9, "hull s ep a c"),
        ]);
        assert_eq!(l.tags.len(), 2);
        assert_eq!(l.tags["hull s net a"].len(), 2);
        assert_eq!(l.tags["hull s ep a c"][0].handle, 9);
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("sub/ledger.json");
        assert_eq!(Ledger::load(&p), Ledger::default());
        l.save(&p).unwrap();
        assert_eq!(Ledger::load(&p), l);
    }
}
