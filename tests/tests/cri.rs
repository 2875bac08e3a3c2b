//! The CRI tier: containerd 1.6's CRI plugin with Debian's CNI bridge plugin, a locally built
//! pause image and the runtime handlers `runc` and `hull` (hull-runtime behind the runc v2
//! shim). Every case runs against both handlers with the same expectations, through the CRI
//! gRPC API (k8s-cri over containerd's socket) and its streaming server (websocket). At the
//! end nothing of the pods may remain on the host: cgroups, mounts, network namespaces,
//! veths, shims and their processes.
//!
//! The cgroup driver: `HULL_CRI_CGROUP_DRIVER=cgroupfs|systemd`, by default systemd where
//! systemd runs (the VM tier), cgroupfs elsewhere. `HULL_CRI_HANDLERS` (space-separated)
//! narrows the handlers, for a developer; the tier itself runs both.

#[path = "../cri/cases.rs"]
mod cases;
#[path = "../cri/client.rs"]
mod client;
#[path = "../cri/harness.rs"]
mod harness;
#[path = "../cri/pause_image.rs"]
mod pause_image;
#[path = "../cri/stream.rs"]
mod stream;

use std::panic::AssertUnwindSafe;

use harness::Containerd;

#[test]
fn cri_tier() {
    hull_tests::require_root!();
    if let Some(why) = harness::missing_prerequisite() {
        println!("skipped: the CRI tier ({why})");
        return;
    }
    let image = hull_tests::busybox();
    let registry = hull_tests::fixture("HULL_TEST_REGISTRY");
    let c = Containerd::start(&hull_tests::hull_bin(), &registry);
    println!(
        "cri: containerd in {} ({:?} driver, bridge {} on {})",
        c.dir.display(),
        c.driver,
        c.bridge,
        c.subnet
    );
    c.pull(&image);
    let before = cases::Leftovers::of(&c);
    let handlers = std::env::var("HULL_CRI_HANDLERS").unwrap_or_else(|_| "runc hull".into());
    let mut failures = Vec::new();
    for handler in handlers.split_whitespace() {
        for (name, case) in cases::CASES {
            let start = std::time::Instant::now();
            let r = std::panic::catch_unwind(AssertUnwindSafe(|| case(&c, handler, &image)));
            match r {
                Ok(()) => println!(
                    "ok: {name} ({handler}, {:.1} s)",
                    start.elapsed().as_secs_f64()
                ),
                Err(e) => {
                    let msg = e
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_default();
                    println!("FAIL: {name} ({handler}): {msg}");
                    failures.push(format!("{name} ({handler}): {msg}"));
                }
            }
            // A failed case's pods go now, so that the next case starts clean.
            c.remove_all_pods();
        }
    }
    let after = cases::Leftovers::of(&c);
    let leaks = before.new_in(&after);
    if !failures.is_empty() {
        println!("--- containerd log (tail)\n{}", c.log_tail());
    }
    drop(c);
    // One report of both: what failed, and what the pods left (also after a failed case).
    assert!(
        failures.is_empty() && leaks.is_empty(),
        "CRI cases failed:\n{}\nleft on the host after every pod was removed: {leaks:#?}",
        failures.join("\n")
    );
}
