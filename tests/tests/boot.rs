//! `hull system boot` after a simulated reboot (`hull_tests::reboot`: kill -9 of every monitor
//! and container process, and what a reboot takes with them removed). Which containers come
//! back is dockerd 20.10's rule (see engine `lifecycle/boot.rs`).

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpStream};

use hull_tests::host::{host_objects, leases, monitor_pids};
use hull_tests::reboot::simulate_reboot;
use hull_tests::{busybox, container_id_of, free_port, poll, require_root, Hull};

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
    let pid_before = h.inspect("web")["State"]["Pid"].as_i64().unwrap();
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
        let doc = h.inspect(name);
        assert_eq!(doc["State"]["Running"], true, "{name}");
        assert_eq!(doc["RestartCount"], 0, "{name}: dockerd starts it with 0");
    }
    assert_ne!(
        h.inspect("web")["State"]["Pid"].as_i64().unwrap(),
        pid_before
    );
    let plain = h.inspect("plain");
    assert_eq!(plain["State"]["Running"], false);
    assert_eq!(plain["State"]["ExitCode"], 255, "died unseen: Docker's 255");
    assert_eq!(h.inspect("held")["State"]["Running"], false);
    assert_eq!(h.inspect("fresh")["State"]["Status"], "created");
    let ps = h.ok(&["ps", "-a", "--format", "{{.Names}} {{.Status}}"]);
    assert!(ps.contains("plain Exited (255)"), "{ps}");
    assert!(ps.contains("fresh Created"), "{ps}");

    // Idempotent: a second boot starts nothing and leaves every process where it was.
    let monitors = monitor_pids(&h).len();
    assert_eq!(monitors, 3, "one monitor per running container");
    let web_pid = h.inspect("web")["State"]["Pid"].clone();
    let again = h.run(&["system", "boot"]);
    assert!(again.status.success(), "{again:?}");
    assert_eq!(String::from_utf8_lossy(&again.stdout), "", "{again:?}");
    assert_eq!(monitor_pids(&h).len(), 3);
    assert_eq!(h.inspect("web")["State"]["Pid"], web_pid);

    let mut args = vec!["rm", "-f"];
    args.extend(names);
    h.ok(&args);
    h.ok(&["network", "rm", "bootnet"]);
    let (links, rules) = host_objects(&h);
    assert!(links.is_empty() && rules.is_empty(), "{links:?} {rules:?}");
}
