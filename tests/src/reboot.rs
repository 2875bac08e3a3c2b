//! What a reboot does to a store's containers, for the tests of `hull system boot`: every
//! monitor and container process of the store is killed with -9 (by PID), and what a reboot
//! takes with them is removed: rootfs mounts, cgroups, the store's bridges (their veths went
//! with the network namespaces) and its nft rules, and its `/run/hull/stores` registration
//! (tmpfs). What a reboot keeps stays: the records, the runtime's state files and the leases,
//! all in the store on disk.

use std::process::Command;

use crate::host::{host_objects, monitor_pids};
use crate::{cgroup_dirs, container_pids, unmount_below, wait_until, Hull};

fn is_gone(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |s| s.contains(") Z "))
}

/// What a reboot does to the store's containers: kill -9 of every monitor and container process
/// (only this store's, by PID), then what went with them and with the tmpfs and the kernel's
/// state.
pub fn simulate_reboot(h: &Hull, ids: &[String]) {
    let mut pids = monitor_pids(h);
    for id in ids {
        pids.extend(container_pids(id));
    }
    assert!(!pids.is_empty(), "nothing to kill");
    for pid in &pids {
        let _ = Command::new("kill").args(["-9", pid]).status();
    }
    wait_until("the killed processes are gone", || {
        pids.iter().all(|p| is_gone(p))
    });
    for id in ids {
        unmount_below(&h.root().join("containers").join(id));
        for dir in cgroup_dirs(id) {
            let _ = std::fs::remove_dir(&dir);
        }
    }
    let (links, _) = host_objects(h);
    for line in links {
        // `N: name@peer: <…> … alias hull …`
        let name = line.split(": ").nth(1).unwrap_or("").split('@').next();
        if let Some(name) = name.filter(|n| !n.is_empty()) {
            let _ = Command::new("ip").args(["link", "del", name]).status();
        }
    }
    delete_store_rules(h);
    let tag = hull_net::store_tag(&h.root());
    let _ = std::fs::remove_file(format!("/run/hull/stores/{tag}"));
    let (links, rules) = host_objects(h);
    assert!(links.is_empty(), "links survived the reboot: {links:#?}");
    assert!(rules.is_empty(), "rules survived the reboot: {rules:#?}");
}

/// Deletes this store's tagged rules from hull's nft table, by handle.
fn delete_store_rules(h: &Hull) {
    let tag = format!("hull {} ", hull_net::store_tag(&h.root()));
    let out = Command::new("nft")
        .args(["-a", "list", "table", "ip", "hull"])
        .output()
        .expect("run nft");
    let listing = String::from_utf8_lossy(&out.stdout);
    let mut chain = String::new();
    for line in listing.lines().map(str::trim) {
        if let Some(name) = line.strip_prefix("chain ") {
            // `chain NAME { # handle N`
            chain = name.split_whitespace().next().unwrap_or("").to_string();
        } else if line.contains(&tag) {
            if let Some(handle) = line.rsplit("# handle ").next() {
                let _ = Command::new("nft")
                    .args([
                        "delete",
                        "rule",
                        "ip",
                        "hull",
                        &chain,
                        "handle",
                        handle.trim(),
                    ])
                    .status();
            }
        }
    }
}
