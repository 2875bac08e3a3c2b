//! What a hull store leaves on the host: links, firewall rules, leases, monitors, mounts,
//! temp files. Shared by the tests that check that nothing of a store outlives its cleanup.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::Hull;

/// What on the host belongs to this store: links tagged with its store tag or named after
/// its bridges, nft rules with its tag.
pub fn host_objects(h: &Hull) -> (Vec<String>, Vec<String>) {
    let tag = format!("hull {} ", hull_net::store_tag(&h.root()));
    let bridge = hull_net::store::default_bridge(&h.root());
    let links = command_output("ip", &["-o", "link"]);
    let rules = command_output("nft", &["list", "ruleset"]);
    (
        links
            .lines()
            .filter(|l| l.contains(&tag) || l.contains(&format!(" {bridge}:")))
            .map(String::from)
            .collect(),
        rules
            .lines()
            .filter(|l| l.contains(&tag))
            .map(String::from)
            .collect(),
    )
}

fn command_output(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run {program}: {e}"));
    String::from_utf8(out.stdout).unwrap()
}

/// Every lease of every network of the store.
pub fn leases(h: &Hull) -> Vec<String> {
    let nets = hull_net::Networks::open(&h.root());
    let mut out = Vec::new();
    for n in nets.list().unwrap() {
        out.extend(nets.ipam(&n).leases().unwrap().into_keys());
    }
    out
}

/// The pids of this store's monitors (their command line names the store).
pub fn monitor_pids(h: &Hull) -> Vec<String> {
    let root = h.root().display().to_string();
    crate::pids_where(|pid| {
        std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| {
            let c = String::from_utf8_lossy(&c);
            c.contains("__monitor") && c.contains(&root)
        })
    })
}

/// Mount points at or below the store's temp dir.
pub fn mounts_below(h: &Hull) -> Vec<String> {
    let prefix = h.dir.path().display().to_string();
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|p| p.starts_with(&prefix))
        .map(String::from)
        .collect()
}

/// Every `hull_sys::fs::write_atomic` temp file (`.<name>.<pid>.<n>.tmp`) below `dir`.
pub fn atomic_temps_below(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let Ok(ft) = e.file_type() else { continue };
            if ft.is_dir() {
                todo.push(e.path());
            } else if name.starts_with('.') && name.ends_with(".tmp") {
                found.push(e.path());
            }
        }
    }
    found
}
