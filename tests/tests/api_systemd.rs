//! The API service as systemd runs it: contrib/systemd's hull.socket and hull.service (the
//! shipped files, with this test's paths), socket-activated by the first request, gone after its
//! idle time, and started again by the next; a container started through it outlives the
//! service (KillMode=process keeps its monitor). Needs systemd as init (the VM tier); skipped
//! elsewhere.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use hull_tests::{busybox, hull_bin, repo_root, require_root, Hull};

const UNIT: &str = "hull-apitest";

/// The shipped units, pointed at this test's binary, store and socket; removed (and stopped)
/// when dropped.
struct Units {
    dir: PathBuf,
}

impl Units {
    fn install(h: &Hull, sock: &Path) -> Units {
        let contrib = repo_root().join("contrib/systemd");
        let read = |f: &str| std::fs::read_to_string(contrib.join(f)).unwrap();
        let socket = read("hull.socket").replace(
            "ListenStream=/run/hull/hull.sock",
            &format!("ListenStream={}", sock.display()),
        );
        let env: String = h
            .command(&[])
            .get_envs()
            .filter_map(|(k, v)| Some(format!(" \"{}={}\"", k.to_str()?, v?.to_str()?)))
            .collect();
        let service = read("hull.service")
            .replace("Requires=hull.socket", &format!("Requires={UNIT}.socket"))
            .replace("After=hull.socket", &format!("After={UNIT}.socket"))
            .replace("Also=hull.socket", &format!("Also={UNIT}.socket"))
            .replace(
                "ExecStart=/usr/local/bin/hull system service --time 5",
                &format!(
                    "Environment={env}\nExecStart={} system service --time 1",
                    hull_bin().display()
                ),
            );
        assert!(
            service.contains("--time 1"),
            "hull.service's ExecStart changed"
        );
        let dir = PathBuf::from("/run/systemd/system");
        std::fs::write(dir.join(format!("{UNIT}.socket")), socket).unwrap();
        std::fs::write(dir.join(format!("{UNIT}.service")), service).unwrap();
        systemctl(&["daemon-reload"]);
        Units { dir }
    }
}

impl Drop for Units {
    fn drop(&mut self) {
        let _ = Command::new("systemctl")
            .args([
                "stop",
                &format!("{UNIT}.socket"),
                &format!("{UNIT}.service"),
            ])
            .status();
        for ext in ["socket", "service"] {
            let _ = std::fs::remove_file(self.dir.join(format!("{UNIT}.{ext}")));
        }
        let _ = Command::new("systemctl").arg("daemon-reload").status();
    }
}

fn systemctl(args: &[&str]) -> String {
    let out = Command::new("systemctl").args(args).output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// One HTTP/1.1 request over the socket: the status code and the body.
fn request(sock: &Path, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut s = UnixStream::connect(sock).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: hull\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut reply = String::new();
    s.read_to_string(&mut reply).unwrap();
    let status = reply[9..12].parse().unwrap();
    let body = reply.split_once("\r\n\r\n").map(|(_, b)| b.to_string());
    (status, body.unwrap_or_default())
}

#[test]
fn socket_activated_service_exits_idle_and_its_container_outlives_it() {
    require_root!();
    if !Path::new("/run/systemd/system").is_dir() {
        eprintln!("skipped: the API under systemd (systemd is not running on this host)");
        return;
    }
    let h = Hull::new();
    let image = busybox();
    h.ok(&["pull", "-q", &image]);
    let sock = h.root().with_file_name("api.sock");
    let _units = Units::install(&h, &sock);
    systemctl(&["start", &format!("{UNIT}.socket")]);
    let service = format!("{UNIT}.service");
    assert_eq!(systemctl(&["is-active", &service]), "inactive");

    let (status, body) = request(&sock, "GET", "/_ping", "");
    assert_eq!((status, body.as_str()), (200, "OK"));
    let create = format!(r#"{{"Image":"{image}","Cmd":["sleep","300"]}}"#);
    let (status, body) = request(
        &sock,
        "POST",
        "/v1.41/containers/create?name=survivor",
        &create,
    );
    assert_eq!(status, 201, "{body}");
    let (status, body) = request(&sock, "POST", "/v1.41/containers/survivor/start", "");
    assert_eq!(status, 204, "{body}");

    let gone = hull_tests::poll(30, || systemctl(&["is-active", &service]) != "active");
    assert!(gone, "the idle service did not exit");
    let state = || h.ok(&["inspect", "-f", "{{.State.Status}}", "survivor"]);
    assert_eq!(
        state().trim(),
        "running",
        "the container died with the service"
    );

    let (status, body) = request(&sock, "GET", "/v1.41/containers/survivor/json", "");
    assert_eq!(
        status, 200,
        "the next request did not start the service again: {body}"
    );
    assert!(body.contains(r#""Running":true"#), "{body}");
    h.ok(&["rm", "-f", "survivor"]);
}
