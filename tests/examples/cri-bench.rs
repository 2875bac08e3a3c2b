//! The driver of bench/cri.sh: pod start and pod churn through containerd's CRI, with the
//! runtime handlers in turn (see bench/cri.sh for what is measured and how to run it).
//!
//!   cri-bench HULL_BINARY STARTS CHURN HANDLER...
//!
//! Needs root and the fixture registry (`HULL_TEST_REGISTRY`, from `scripts/fixtures env`);
//! containerd's directories go below `HULL_CRI_TMPDIR` (default /tmp). Prints one
//! `start HANDLER MS` line per measured pod start, one `churn HANDLER S` line per churn run.

// Shared with the CRI tier, which uses more of them.
#[path = "../cri/client.rs"]
#[allow(dead_code)]
mod client;
#[path = "../cri/harness.rs"]
#[allow(dead_code)]
mod harness;
#[path = "../cri/pause_image.rs"]
mod pause_image;
#[path = "../cri/stream.rs"]
#[allow(dead_code)]
mod stream;

use std::time::Instant;

use client::Spec;
use harness::{poll, Containerd};
use k8s_cri::v1::ContainerState;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: cri-bench HULL_BINARY STARTS CHURN HANDLER...";
    let [hull, starts, churn, handlers @ ..] = args.as_slice() else {
        eprintln!("{usage}");
        std::process::exit(2);
    };
    let count = |v: &str, what: &str| -> usize {
        v.parse().ok().filter(|n| *n > 0).unwrap_or_else(|| {
            eprintln!("cri-bench: {what} {v:?}: not a positive number");
            std::process::exit(2)
        })
    };
    let (starts, churn) = (count(starts, "STARTS"), count(churn, "CHURN"));
    if let Some(why) = harness::missing_prerequisite() {
        eprintln!("cri-bench: {why}");
        std::process::exit(1);
    }
    let registry = std::env::var("HULL_TEST_REGISTRY").unwrap_or_else(|_| {
        eprintln!("cri-bench: HULL_TEST_REGISTRY is not set (eval \"$(scripts/fixtures env)\")");
        std::process::exit(2)
    });
    let image = format!("{registry}/busybox:latest");
    let c = Containerd::start(std::path::Path::new(hull), &registry);
    c.pull(&image);
    eprintln!(
        "cri-bench: containerd in {} ({:?} driver)",
        c.dir.display(),
        c.driver
    );
    // One unmeasured pod per handler first: the first shim, cgroup parent and CNI call of each.
    for h in handlers {
        pod_start(&c, h, &image, "warm");
    }
    // Rounds interleave the handlers, each round starting one handler later, so that the
    // load of a shared machine falls on all of them.
    for round in 0..starts {
        for k in 0..handlers.len() {
            let h = &handlers[(round + k) % handlers.len()];
            let ms = pod_start(&c, h, &image, &format!("s{round}"));
            println!("start {h} {ms:.1}");
        }
    }
    for h in handlers {
        let start = Instant::now();
        for i in 0..churn {
            pod_start(&c, h, &image, &format!("c{i}"));
        }
        println!("churn {h} {:.2}", start.elapsed().as_secs_f64());
    }
}

/// RunPodSandbox, CreateContainer, StartContainer until ContainerStatus says running: the
/// milliseconds that took. The pod is then stopped and removed (unmeasured).
fn pod_start(c: &Containerd, handler: &str, image: &str, tag: &str) -> f64 {
    let start = Instant::now();
    let pod = c.run_pod(&format!("b-{handler}-{tag}"), handler, false);
    let id = c.create_start(&pod, &Spec::new("sleeper", image, &["sleep", "3600"]));
    let running = poll(60, || c.state(&id) == ContainerState::ContainerRunning);
    let ms = start.elapsed().as_secs_f64() * 1000.0;
    assert!(running, "{handler}: container {id} not running after 60 s");
    c.remove_pod(&pod);
    ms
}
