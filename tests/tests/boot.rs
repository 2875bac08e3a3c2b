//! `hull system boot` after a simulated reboot: every monitor and container process of the
//! store is killed with -9 (by PID), and what a reboot takes with them is removed: rootfs
//! mounts, cgroups, the store's bridges (their veths went with the network namespaces) and its
//! nft rules, and its `/run/hull/stores` registration (tmpfs). What a reboot keeps stays: the
//! records, the runtime's state files and the leases, all in the store on disk. Which
//! containers come back is dockerd 20.10's rule (see engine `lifecycle/boot.rs`).

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::process::Command;

use hull_tests::host::{host_objects, leases, monitor_pids};
use hull_tests::{
    busybox, cgroup_dirs, container_id_of, container_pids, free_port, poll, require_root,
    unmount_below, wait_until, Hull,
};
use serde_json::Value;

fn inspect(h: &Hull, name: &str) -> Value {
    let out = h.ok(&["inspect", "--format", "json", name]);
    serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("inspect {name}: {e}: {out}"))
}

fn sleeper(h: &Hull, name: &str, flags: &[&str]) {
    let image = busybox();
    let mut args = vec!["run", "-d", "--name", name];
    args.extend_from_slice(flags);
    args.extend([image.as_str(), "sleep", "600"]);
    h.ok(&args);
}

fn http_answers(port: u16) -> bool {
    TcpStream::connect((Ipv4Addr::LOCALHOST, port))
        .and_then(|mut s| {
            s.set_read_timeout(Some(std::time::Duration::from_secs(2)))?;
            s.write_all(b"GET / HTTP/1.0\r\n\r\n")?;
            let mut v = String::new();
            s.read_to_string(&mut v)?;
            Ok(v.contains("hello-after-boot"))
        })
        .unwrap_or(false)
}

fn is_gone(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |s| s.contains(") Z "))
}

/// What a reboot does to the store's containers: kill -9 of every monitor and container process
/// (only this store's, by PID), then what went with them and with the tmpfs and the kernel's
/// state.
fn simulate_reboot(h: &Hull, ids: &[String]) {
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

fn running_names(h: &Hull) -> Vec<String> {
    let mut names: Vec<String> = h
        .ok(&["ps", "--format", "{{.Names}}"])
        .lines()
        .map(String::from)
        .collect();
    names.sort();
    names
}

#[test]
fn boot_brings_back_exactly_the_containers_dockers_rule_restarts() {
    require_root!();
    let h = Hull::new();
    h.ok(&["pull", "-q", &busybox()]);
    h.ok(&["network", "create", "bootnet"]);
    let port = free_port();
    let publish = format!("{port}:80");
    h.ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "--restart",
        "always",
        "-p",
        &publish,
        &busybox(),
        "sh",
        "-c",
        "mkdir -p /www && echo hello-after-boot > /www/index.html && exec httpd -f -p 80 -h /www",
    ]);
    let net = ["--network", "bootnet"];
    sleeper(
        &h,
        "keep",
        &[&net[..], &["--restart", "unless-stopped"]].concat(),
    );
    sleeper(&h, "held", &["--restart", "unless-stopped"]);
    h.ok(&["stop", "-t", "1", "held"]);
    sleeper(
        &h,
        "retry",
        &[&net[..], &["--restart", "on-failure"]].concat(),
    );
    sleeper(&h, "plain", &[]);
    h.ok(&[
        "create",
        "--name",
        "fresh",
        "--restart",
        "always",
        &busybox(),
        "true",
    ]);
    let names = ["web", "keep", "held", "retry", "plain", "fresh"];
    let ids: Vec<String> = names.iter().map(|n| container_id_of(&h, n)).collect();
    let pid_before = inspect(&h, "web")["State"]["Pid"].as_i64().unwrap();
    assert!(
        poll(10, || http_answers(port)),
        "httpd never answered before the reboot"
    );

    simulate_reboot(&h, &ids);
    assert!(!leases(&h).is_empty(), "the leases stay on disk");

    // Two boots at once (a unit and an impatient admin): between them each container starts
    // once.
    let second = h
        .command(&["system", "boot"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let out = h.run(&["system", "boot"]);
    let second = second.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned()
        + &String::from_utf8_lossy(&second.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned()
        + &String::from_utf8_lossy(&second.stdout);
    assert!(
        out.status.success() && second.status.success(),
        "boot failed:\n{stdout}\n{stderr}"
    );
    assert_eq!(stderr, "", "boot warned or failed");
    let mut started: Vec<&str> = stdout
        .lines()
        .map(|l| l.split_whitespace().nth(1).unwrap_or(l))
        .collect();
    started.sort();
    assert_eq!(started, ["keep", "retry", "web"], "boot said:\n{stdout}");
    assert!(
        stdout.lines().all(|l| l.starts_with("started ")),
        "{stdout}"
    );

    assert_eq!(running_names(&h), ["keep", "retry", "web"]);
    assert!(
        poll(10, || http_answers(port)),
        "the published port does not answer after boot"
    );
    let ping = h.run(&["exec", "keep", "ping", "-c1", "-W2", "retry"]);
    assert!(
        ping.status.success(),
        "DNS or the network is broken: {ping:?}"
    );
    for name in ["web", "keep", "retry"] {
        let doc = inspect(&h, name);
        assert_eq!(doc["State"]["Running"], true, "{name}");
        assert_eq!(doc["RestartCount"], 0, "{name}: dockerd starts it with 0");
    }
    assert_ne!(
        inspect(&h, "web")["State"]["Pid"].as_i64().unwrap(),
        pid_before
    );
    let plain = inspect(&h, "plain");
    assert_eq!(plain["State"]["Running"], false);
    assert_eq!(plain["State"]["ExitCode"], 255, "died unseen: Docker's 255");
    assert_eq!(inspect(&h, "held")["State"]["Running"], false);
    assert_eq!(inspect(&h, "fresh")["State"]["Status"], "created");
    let ps = h.ok(&["ps", "-a", "--format", "{{.Names}} {{.Status}}"]);
    assert!(ps.contains("plain Exited (255)"), "{ps}");
    assert!(ps.contains("fresh Created"), "{ps}");

    // Idempotent: a second boot starts nothing and leaves every process where it was.
    let monitors = monitor_pids(&h).len();
    assert_eq!(monitors, 3, "one monitor per running container");
    let web_pid = inspect(&h, "web")["State"]["Pid"].clone();
    let again = h.run(&["system", "boot"]);
    assert!(again.status.success(), "{again:?}");
    assert_eq!(String::from_utf8_lossy(&again.stdout), "", "{again:?}");
    assert_eq!(monitor_pids(&h).len(), 3);
    assert_eq!(inspect(&h, "web")["State"]["Pid"], web_pid);

    let mut args = vec!["rm", "-f"];
    args.extend(names);
    h.ok(&args);
    h.ok(&["network", "rm", "bootnet"]);
    let (links, rules) = host_objects(&h);
    assert!(links.is_empty() && rules.is_empty(), "{links:?} {rules:?}");
}
