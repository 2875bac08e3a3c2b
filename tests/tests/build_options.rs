//! `hull build`'s image options: `--label`, `--pull`, `--platform` (and `FROM --platform`,
//! the automatic platform ARGs), `--format` (checked in the pushed manifest), `--output` and
//! `--iidfile`; `COPY --link`; ADD of a URL (with `--checksum`, and the step cache following
//! the served content); and Ctrl-C while a step that is not a RUN waits.

use std::path::{Path, PathBuf};
use std::process::Command;

use hull_tests::build::interrupt;
use hull_tests::{busybox, fixture, require_root, Hull};
use serde_json::Value;

fn context(h: &Hull, name: &str, dockerfile: &str) -> PathBuf {
    let dir = h.root().parent().unwrap().join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("Dockerfile"), dockerfile).unwrap();
    dir
}

fn build_args(flags: &[&str], ctx: &Path) -> Vec<String> {
    let mut args = vec!["build".to_string()];
    args.extend(flags.iter().map(|s| s.to_string()));
    args.push(ctx.display().to_string());
    args
}

fn build(h: &Hull, flags: &[&str], ctx: &Path) -> std::process::Output {
    let args = build_args(flags, ctx);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = h.run(&args);
    assert!(
        out.status.success(),
        "hull {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The manifest the plain fixture registry serves for `repo:tag`.
fn manifest(repo: &str, tag: &str) -> Value {
    let accept = "Accept: application/vnd.oci.image.manifest.v1+json, \
                  application/vnd.docker.distribution.manifest.v2+json";
    let url = format!(
        "http://{}/v2/{repo}/manifests/{tag}",
        fixture("HULL_TEST_REGISTRY")
    );
    let out = Command::new("curl")
        .args(["-sSf", "--max-time", "30", "-H", accept, &url])
        .output()
        .expect("run curl");
    assert!(
        out.status.success(),
        "GET {url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn layer_types(m: &Value) -> Vec<String> {
    m["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["mediaType"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn the_manifest_is_oci_by_default_and_docker_with_format_docker() {
    require_root!();
    let h = Hull::new();
    // A base layer as pulled, plus one made here: both must be in the manifest's family.
    let df = format!("FROM {}\nRUN echo made > /made\n", busybox());
    let ctx = context(&h, "fmt", &df);
    let repo = format!("hull-build-test/format-{}", std::process::id());
    let reg = fixture("HULL_TEST_REGISTRY");
    for (format, tag) in [(None, "oci"), (Some("docker"), "docker")] {
        let name = format!("{reg}/{repo}:{tag}");
        let mut flags = vec!["-t", name.as_str()];
        if let Some(f) = format {
            flags.extend(["--format", f]);
        }
        build(&h, &flags, &ctx);
        h.ok(&["push", &name]);
        let m = manifest(&repo, tag);
        let types = layer_types(&m);
        assert_eq!(types.len(), 2, "{m}");
        let (manifest_type, family) = match format {
            None => (
                "application/vnd.oci.image.manifest.v1+json",
                "application/vnd.oci.",
            ),
            Some(_) => (
                "application/vnd.docker.distribution.manifest.v2+json",
                "application/vnd.docker.",
            ),
        };
        assert_eq!(m["mediaType"], manifest_type, "{m}");
        assert!(types.iter().all(|t| t.starts_with(family)), "{types:?}");
        assert!(
            m["config"]["mediaType"]
                .as_str()
                .unwrap()
                .starts_with(family),
            "{m}"
        );
    }
    let bad = h.fails(
        &build_args(&["--format", "appc"], &ctx)
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    assert!(
        bad.contains("--format \"appc\": must be oci or docker"),
        "{bad}"
    );
}

#[test]
fn labels_are_set_on_the_final_image_over_the_dockerfiles() {
    require_root!();
    let h = Hull::new();
    let df = format!("FROM {}\nLABEL a=from-file b=kept\n", busybox());
    let ctx = context(&h, "labels", &df);
    build(
        &h,
        &[
            "-t",
            "local/labels",
            "--label",
            "a=from-flag",
            "--label",
            "c=",
        ],
        &ctx,
    );
    let v: Value = serde_json::from_str(&h.ok(&["image", "inspect", "local/labels"])).unwrap();
    let labels = &v[0]["Config"]["Labels"];
    assert_eq!(labels["a"], "from-flag", "{labels}");
    assert_eq!(labels["b"], "kept", "{labels}");
    assert_eq!(labels["c"], "", "{labels}");
}

#[test]
fn pull_pulls_a_present_base_again_and_only_then() {
    require_root!();
    let h = Hull::new();
    let df = format!("FROM {}\nENV X=1\n", busybox());
    let ctx = context(&h, "pull", &df);
    let first = build(&h, &[], &ctx);
    let first_err = String::from_utf8_lossy(&first.stderr);
    assert!(first_err.contains("Unable to find image"), "{first_err}");
    let plain = build(&h, &[], &ctx);
    let plain_err = String::from_utf8_lossy(&plain.stderr);
    assert!(
        !plain_err.contains("Digest:"),
        "pulled without --pull: {plain_err}"
    );
    let pulled = build(&h, &["--pull"], &ctx);
    let pulled_err = String::from_utf8_lossy(&pulled.stderr);
    assert!(
        pulled_err.contains("Digest: sha256:"),
        "no pull with --pull: {pulled_err}"
    );
    assert!(!pulled_err.contains("Unable to find image"), "{pulled_err}");
}

#[test]
fn only_the_hosts_platform_builds_and_platform_args_name_it() {
    require_root!();
    let h = Hull::new();
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    let other = if arch == "amd64" {
        "linux/arm64"
    } else {
        "linux/amd64"
    };
    let df = format!(
        "FROM --platform=$BUILDPLATFORM {}\nARG TARGETARCH\nARG TARGETPLATFORM\n\
         RUN echo \"$TARGETARCH $TARGETPLATFORM\" > /arch\nCMD [\"cat\", \"/arch\"]\n",
        busybox()
    );
    let ctx = context(&h, "platform", &df);
    let host = format!("linux/{arch}");
    build(&h, &["-t", "local/platform", "--platform", &host], &ctx);
    assert_eq!(
        h.ok(&["run", "--rm", "local/platform"]),
        format!("{arch} linux/{arch}\n")
    );

    let args = build_args(&["-t", "local/other", "--platform", other], &ctx);
    let err = h.fails(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(err.contains("only the host's platform"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    let df = format!("FROM --platform={other} {}\n", busybox());
    let ctx = context(&h, "platform-from", &df);
    let args = build_args(&["-t", "local/other"], &ctx);
    let err = h.fails(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(err.contains("FROM --platform (Dockerfile:1)"), "{err}");
    assert!(h.run(&["image", "inspect", "local/other"]).status.code() != Some(0));
}

#[test]
fn output_writes_the_images_tree_to_a_directory_or_a_tar() {
    require_root!();
    let h = Hull::new();
    let df = format!(
        "FROM {}\nRUN mkdir /app && echo built > /app/f && chown 12:34 /app/f && chmod 640 /app/f\n",
        busybox()
    );
    let ctx = context(&h, "output", &df);
    let dir = h.root().parent().unwrap().join("out-dir");
    let tar = h.root().parent().unwrap().join("out.tar");
    let local = format!("type=local,dest={}", dir.display());
    build(&h, &["-o", &local], &ctx);
    let f = dir.join("app/f");
    assert_eq!(std::fs::read_to_string(&f).unwrap(), "built\n");
    let meta = std::fs::metadata(&f).unwrap();
    use std::os::unix::fs::MetadataExt;
    assert_eq!(
        (meta.uid(), meta.gid(), meta.mode() & 0o777),
        (12, 34, 0o640)
    );
    assert!(
        dir.join("bin/busybox").exists(),
        "the base image's files are there too"
    );

    let spec = format!("type=tar,dest={}", tar.display());
    build(&h, &["--output", &spec], &ctx);
    let listing = Command::new("tar").arg("-tvf").arg(&tar).output().unwrap();
    let listing = String::from_utf8_lossy(&listing.stdout);
    assert!(
        listing
            .lines()
            .any(|l| l.contains("12/34") && l.ends_with("app/f")),
        "{listing}"
    );
    assert_eq!(
        h.ok(&["ps", "-a", "-q"]).trim(),
        "",
        "the export container stays"
    );

    let args = build_args(&["-o", "type=registry"], &ctx);
    let err = h.fails(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(err.contains("--output \"type=registry\""), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

/// `python3 -m http.server` on a free loopback port, serving `dir`; killed on drop.
struct Server(std::process::Child, u16);

impl Server {
    fn start(dir: &Path) -> Server {
        let port = hull_tests::free_port();
        let child = Command::new("python3")
            .args([
                "-m",
                "http.server",
                "--bind",
                "127.0.0.1",
                &port.to_string(),
            ])
            .current_dir(dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start python3 -m http.server");
        let s = Server(child, port);
        hull_tests::wait_until("the http server to listen", || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        s
    }

    fn url(&self, file: &str) -> String {
        format!("http://127.0.0.1:{}/{file}", self.1)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn sha256_hex(data: &[u8]) -> String {
    let out = Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(data)?;
            c.wait_with_output()
        })
        .unwrap();
    String::from_utf8_lossy(&out.stdout)[..64].to_string()
}

#[test]
fn add_fetches_a_url_checks_its_checksum_and_caches_by_content() {
    require_root!();
    let h = Hull::new();
    let served = h.root().parent().unwrap().join("served");
    std::fs::create_dir_all(&served).unwrap();
    std::fs::write(served.join("data.txt"), "version 1\n").unwrap();
    let server = Server::start(&served);
    let sum = sha256_hex(b"version 1\n");
    let df = format!(
        "FROM {}\nADD {} /dl/\nADD --checksum=sha256:{sum} {} /checked.txt\n\
         RUN stat -c '%a %u' /dl/data.txt > /meta\nCMD cat /dl/data.txt /checked.txt /meta\n",
        busybox(),
        server.url("data.txt"),
        server.url("data.txt"),
    );
    let ctx = context(&h, "url", &df);
    build(&h, &["-t", "local/url"], &ctx);
    assert_eq!(
        h.ok(&["run", "--rm", "local/url"]),
        "version 1\nversion 1\n600 0\n"
    );
    // The same content: every step from the cache. New content: the ADD reruns.
    let again = String::from_utf8_lossy(&build(&h, &["-t", "local/url"], &ctx).stdout).into_owned();
    assert_eq!(again.matches("Using cache").count(), 4, "{again}");
    std::fs::write(served.join("data.txt"), "version 2\n").unwrap();
    let args = build_args(&["-t", "local/url"], &ctx);
    let err = h.fails(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(err.contains("checksum mismatch: expected sha256:"), "{err}");
    assert!(err.contains("(Dockerfile:3)"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    std::fs::write(served.join("data.txt"), "version 1\n").unwrap();
    let df2 = format!("FROM {}\nADD {} /dl/\n", busybox(), server.url("data.txt"));
    let ctx2 = context(&h, "url2", &df2);
    build(&h, &["-t", "local/url2"], &ctx2);
    std::fs::write(served.join("data.txt"), "version 3\n").unwrap();
    let rerun =
        String::from_utf8_lossy(&build(&h, &["-t", "local/url2"], &ctx2).stdout).into_owned();
    assert!(
        !rerun.contains("Using cache"),
        "the changed URL came from the cache: {rerun}"
    );

    let df3 = format!("FROM {}\nCOPY {} /x\n", busybox(), server.url("data.txt"));
    let ctx3 = context(&h, "url3", &df3);
    let args = build_args(&[], &ctx3);
    let err = h.fails(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(
        err.contains("COPY (Dockerfile:2): a source cannot be a URL"),
        "{err}"
    );
}

#[test]
fn network_none_host_and_default_reach_the_run_containers() {
    require_root!();
    let h = Hull::new();
    let df = format!(
        "FROM {}\nRUN ls /sys/class/net | sort | tr '\\n' ' ' > /nets\n",
        busybox()
    );
    let ctx = context(&h, "nets", &df);
    let nets = |flags: &[&str], tag: &str| {
        let mut all = vec!["--no-cache", "-t", tag];
        all.extend_from_slice(flags);
        build(&h, &all, &ctx);
        h.ok(&["run", "--rm", "--network", "none", tag, "cat", "/nets"])
    };
    assert_eq!(nets(&["--network", "none"], "local/net-none"), "lo ");
    let default = nets(&[], "local/net-default");
    assert_eq!(default, "eth0 lo ", "the default bridge, as a run gets");
    let got = nets(&["--network", "host"], "local/net-host");
    // The host's namespace: the same interfaces as the host's own, leaving out the links
    // that other tests' containers add and remove meanwhile.
    let stable = |names: Vec<String>| -> Vec<String> {
        let mut n: Vec<String> = names
            .into_iter()
            .filter(|n| !n.starts_with("hull") && !n.starts_with("veth"))
            .collect();
        n.sort();
        n
    };
    let host = stable(
        std::fs::read_dir("/sys/class/net")
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect(),
    );
    let seen = stable(got.split_whitespace().map(str::to_string).collect());
    assert_eq!(seen, host, "the RUN did not see the host's interfaces");
    if host == ["eth0", "lo"] {
        println!("note: this host's interfaces (eth0, lo) are a container's too: host vs default is not told apart");
    }
    let err = h.fails(&["build", "--network", "bogus", ctx.to_str().unwrap()]);
    assert!(
        err.contains("--network \"bogus\": must be default, none or host"),
        "{err}"
    );
}

#[test]
fn iidfile_holds_the_built_images_id_and_copy_link_copies_as_copy_does() {
    require_root!();
    let h = Hull::new();
    let df = format!(
        "FROM {}\nCOPY --link --chmod=600 f /linked/f\nCOPY --chmod=600 f /plain/f\n",
        busybox()
    );
    let ctx = context(&h, "iidfile", &df);
    std::fs::write(ctx.join("f"), "copied\n").unwrap();
    let iidfile = h.root().parent().unwrap().join("iid");
    let iid = iidfile.display().to_string();
    let out = build(&h, &["-q", "--iidfile", &iid], &ctx);
    let printed = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let written = std::fs::read_to_string(&iidfile).unwrap();
    assert!(written.starts_with("sha256:"), "{written}");
    assert_eq!(written, printed, "--iidfile holds what -q prints");
    let listing = h.ok(&[
        "run",
        "--rm",
        &written,
        "ls",
        "-ln",
        "/linked/f",
        "/plain/f",
    ]);
    let modes: Vec<(&str, &str)> = listing
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f[0], f[2])
        })
        .collect();
    assert_eq!(
        modes,
        [("-rw-------", "0"), ("-rw-------", "0")],
        "{listing}"
    );
    let body = h.ok(&["run", "--rm", &written, "cat", "/linked/f"]);
    assert_eq!(body, "copied\n");
}

/// A server on a free loopback port for one GET: it reports the request on the first channel
/// and answers `body` once the second one sends (never, if that sender is dropped first).
fn held_server(
    body: &'static str,
) -> (
    u16,
    std::sync::mpsc::Receiver<()>,
    std::sync::mpsc::Sender<()>,
) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (asked_tx, asked) = std::sync::mpsc::channel();
    let (go, go_rx) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        let Ok((mut conn, _)) = listener.accept() else {
            return;
        };
        let mut req = Vec::new();
        let mut buf = [0u8; 1024];
        while !req.windows(4).any(|w| w == b"\r\n\r\n") {
            match conn.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => req.extend_from_slice(&buf[..n]),
            }
        }
        let _ = asked_tx.send(());
        if go_rx.recv().is_ok() {
            let head = format!("HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n", body.len());
            let _ = conn.write_all(head.as_bytes());
            let _ = conn.write_all(body.as_bytes());
        }
    });
    (port, asked, go)
}

#[test]
fn ctrl_c_after_a_run_stops_the_build_at_the_next_step_and_a_second_ends_it() {
    require_root!();
    let h = Hull::new();
    h.ok(&["pull", &busybox()]);
    let start = |port: u16, name: &str| {
        let df = format!(
            "FROM {}\nRUN true\nADD http://127.0.0.1:{port}/f /f\nRUN true\n",
            busybox()
        );
        let args = build_args(&["-t", "local/int"], &context(&h, name, &df));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        h.command(&args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let wait = std::time::Duration::from_secs(60);
    // One Ctrl-C while the ADD fetches, after a foreground RUN: the step ends, no other runs.
    let (port, asked, go) = held_server("fetched\n");
    let child = start(port, "int-once");
    asked.recv_timeout(wait).expect("the ADD's request");
    interrupt(&child);
    std::thread::sleep(std::time::Duration::from_millis(300));
    go.send(()).unwrap();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the build ran on: {err}");
    assert!(
        err.contains("build interrupted before Dockerfile:4"),
        "{err}"
    );
    assert_eq!(h.ok(&["images", "-q", "local/int"]).trim(), "");

    // A second Ctrl-C while the fetch still waits ends hull at once.
    let (port, asked, go) = held_server("never\n");
    let child = start(port, "int-twice");
    asked.recv_timeout(wait).expect("the ADD's request");
    interrupt(&child);
    std::thread::sleep(std::time::Duration::from_millis(300));
    interrupt(&child);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{out:?}");
    drop(go);
    assert_eq!(h.ok(&["ps", "-a", "-q"]).trim(), "");
}
