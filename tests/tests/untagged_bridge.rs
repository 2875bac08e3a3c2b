//! Bridges left untagged: the kernel ignores a link's alias at creation, so hull tags a new
//! bridge in a second message, and a kill in between leaves `hull-<id10>` without a tag.
//! `network rm` and `network sweep` still remove it by its name when the network is the
//! store's; the host-wide sweep reports one that no registered store's network names.

use std::process::Command;

use hull_tests::{require_root, Hull};

/// Deletes the link when the test ends, passing or failing.
struct LinkGuard(String);

impl Drop for LinkGuard {
    fn drop(&mut self) {
        if link_exists(&self.0) {
            let _ = Command::new("ip").args(["link", "del", &self.0]).status();
        }
    }
}

fn link_exists(name: &str) -> bool {
    std::path::Path::new("/sys/class/net").join(name).exists()
}

/// `ip link add NAME type bridge`: a bridge as a create killed before tagging leaves it.
fn add_untagged_bridge(name: &str) -> LinkGuard {
    let guard = LinkGuard(name.to_string());
    let st = Command::new("ip")
        .args(["link", "add", name, "type", "bridge"])
        .status()
        .unwrap();
    assert!(st.success(), "ip link add {name}");
    let alias = std::fs::read_to_string(format!("/sys/class/net/{name}/ifalias")).unwrap();
    assert_eq!(alias.trim(), "", "created untagged");
    guard
}

/// Creates a user network (10.234.<n>.0/24 beside the store's default 10.240.<n>.0/24) and
/// returns its bridge's name, `hull-<id10>`.
fn create_network(h: &Hull, name: &str) -> String {
    let subnet = h.default_subnet().replacen("10.240.", "10.234.", 1);
    let id = h.ok(&["network", "create", "--subnet", &subnet, name]);
    let id = id.trim();
    assert_eq!(id.len(), 64, "{id:?}");
    format!("hull-{}", &id[..10])
}

#[test]
fn network_rm_removes_its_untagged_bridge() {
    require_root!();
    let h = Hull::new();
    let bridge = create_network(&h, "untagged-rm");
    let _guard = add_untagged_bridge(&bridge);
    h.ok(&["network", "rm", "untagged-rm"]);
    assert!(!link_exists(&bridge), "{bridge} left behind by network rm");
}

#[test]
fn network_sweep_removes_the_stores_untagged_bridge_and_reports_a_strangers() {
    require_root!();
    let h = Hull::new();
    let bridge = create_network(&h, "untagged-sweep");
    let _guard = add_untagged_bridge(&bridge);
    // Named like a hull bridge, but no network of any registered store names it.
    let stranger = format!("hull-{}", &bridge[5..].replace(|c: char| c != 'f', "f"));
    let stranger = if stranger == bridge {
        "hull-eeeeeeeeee".to_string()
    } else {
        stranger
    };
    let _stranger_guard = add_untagged_bridge(&stranger);

    let out = h.run(&["network", "sweep"]);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.lines().any(|l| l == format!("link {bridge}")),
        "{stdout}"
    );
    assert!(!link_exists(&bridge), "{bridge} left behind by sweep");
    assert!(stderr.contains(&stranger), "not reported: {stderr}");
    assert!(link_exists(&stranger), "a stranger's bridge is left alone");
    // The network itself stays; its bridge comes back with its next endpoint.
    assert!(h.ok(&["network", "ls"]).contains("untagged-sweep"));
}
