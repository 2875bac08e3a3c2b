//! `hull commit`, `hull import` and `hull history` end to end: a container's changes (and a
//! deletion, as a whiteout) become an image that runs; imports of GNU tar files, stdin and
//! hostile tars.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use hull_tests::{busybox, busybox_rootfs, require_root, wait_until, Hull};

/// The sha256 ID commit and import print, checked for shape.
fn printed_id(out: &str) -> String {
    let id = out.trim();
    let hex = id
        .strip_prefix("sha256:")
        .unwrap_or_else(|| panic!("{id:?}"));
    assert_eq!(hex.len(), 64, "{id:?}");
    id.to_string()
}

fn image_doc(h: &Hull, name: &str) -> serde_json::Value {
    let out = h.ok(&["image", "inspect", name]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    v[0].clone()
}

/// The directory of the image's top layer in the store.
fn top_layer_dir(h: &Hull, name: &str) -> std::path::PathBuf {
    let doc = image_doc(h, name);
    let layers = doc["RootFS"]["Layers"].as_array().unwrap();
    let top = layers.last().unwrap().as_str().unwrap();
    let hex = top.strip_prefix("sha256:").unwrap();
    h.root().join("layers").join(hex).join("diff")
}

const CHANGES: &str = "echo new > /newfile; rm /bin/vi; mkdir -p /opt/x; \
    echo in-volume > /data/inside; ln -s /etc/shadow /evil; touch /ready; sleep 300";

#[test]
fn commit_of_a_running_container_keeps_its_changes_and_hides_deletions() {
    require_root!();
    let h = Hull::new();
    let image = busybox();
    let _c = h.detach(
        &["--name", "src", "-v", "cvol:/data"],
        &["sh", "-c", CHANGES],
    );
    wait_until("the container's changes", || {
        h.run(&["exec", "src", "test", "-e", "/ready"])
            .status
            .success()
    });
    let out = h.ok(&[
        "commit",
        "-a",
        "Jane <jane@example.com>",
        "-m",
        "first commit",
        "-c",
        "ENV FOO=bar",
        "-c",
        "CMD [\"cat\", \"/newfile\"]",
        "-c",
        "EXPOSE 8080",
        "-c",
        "WORKDIR /opt",
        "src",
        "local/committed:1",
    ]);
    let id = printed_id(&out);
    let state = h.ok(&[
        "inspect",
        "-f",
        "{{.State.Status}} {{.State.Paused}}",
        "src",
    ]);
    assert_eq!(state.trim(), "running false", "commit thaws what it froze");

    assert_eq!(h.ok(&["run", "--rm", "local/committed:1"]), "new\n");
    let probe = "test ! -e /bin/vi && echo vi-gone; readlink /evil; ls -A /data; \
        test -d /opt/x && echo opt; pwd";
    let seen = h.ok(&["run", "--rm", "local/committed:1", "sh", "-c", probe]);
    assert_eq!(
        seen, "vi-gone\n/etc/shadow\nopt\n/opt\n",
        "volume files stay out"
    );
    // The base image still has vi: the deletion is a whiteout in the new layer only.
    h.ok(&["run", "--rm", &image, "test", "-e", "/bin/vi"]);

    let layer = top_layer_dir(&h, "local/committed:1");
    assert!(layer.join("newfile").is_file(), "{}", layer.display());
    for bound in [
        "etc/hosts",
        "etc/hostname",
        "etc/resolv.conf",
        "data/inside",
    ] {
        assert!(!layer.join(bound).exists(), "{bound} must not be committed");
    }
    let evil = std::fs::symlink_metadata(layer.join("evil")).unwrap();
    assert!(evil.file_type().is_symlink(), "committed as a symlink");

    let doc = image_doc(&h, &id);
    assert_eq!(doc["Author"], "Jane <jane@example.com>");
    assert_eq!(doc["Comment"], "first commit");
    let cfg = &doc["Config"];
    assert!(
        cfg["Env"].as_array().unwrap().contains(&"FOO=bar".into()),
        "{cfg}"
    );
    assert_eq!(cfg["Cmd"], serde_json::json!(["cat", "/newfile"]));
    assert_eq!(cfg["WorkingDir"], "/opt");
    assert!(cfg["ExposedPorts"]["8080/tcp"].is_object(), "{cfg}");

    let hist = h.ok(&["history", "local/committed:1"]);
    let lines: Vec<&str> = hist.lines().collect();
    assert!(lines[0].starts_with("IMAGE "), "{hist}");
    assert!(lines[1].starts_with(&id[7..19]), "{hist}");
    assert!(lines[1].ends_with("first commit"), "{hist}");
    assert!(
        lines[1].contains("sh -c echo new > /newfile; rm /bin/vi; mkdir…"),
        "{hist}"
    );
    assert!(lines[2].starts_with("<missing>"), "{hist}");
    let quiet = h.ok(&["history", "-q", "--no-trunc", "local/committed:1"]);
    assert_eq!(quiet.lines().next(), Some(id.as_str()));
    let fmt = h.ok(&[
        "history",
        "--format",
        "{{.Comment}}|{{.Size}}",
        "--human=false",
        &id,
    ]);
    assert_eq!(fmt.lines().next(), Some("first commit|4"), "{fmt}");
}

#[test]
fn commit_of_a_stopped_container_without_a_name_is_dangling() {
    require_root!();
    let h = Hull::new();
    let image = busybox();
    h.ok(&[
        "run",
        "--name",
        "done",
        &image,
        "sh",
        "-c",
        "echo s > /stopped",
    ]);
    let before = h.ok(&["images", "-q"]).lines().count();
    let err = h.fails(&["commit", "-c", "RUN make", "done"]);
    assert!(
        err.contains("-c RUN make: unknown instruction RUN (allowed: CMD, ENTRYPOINT"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert_eq!(h.ok(&["images", "-q"]).lines().count(), before);

    let id = printed_id(&h.ok(&["commit", "--pause=false", "done"]));
    assert!(h.ok(&["images"]).contains("<none>"), "untagged");
    assert_eq!(h.ok(&["run", "--rm", &id, "cat", "/stopped"]), "s\n");
    h.ok(&["rm", "done"]);
}

fn gnu_tar_of(dir: &Path, out: &Path, compress: Option<&str>) {
    let mut cmd = Command::new("tar");
    cmd.arg("-C").arg(dir).arg("-cf").arg(out);
    if let Some(c) = compress {
        cmd.arg(c);
    }
    let st = cmd.arg(".").status().unwrap();
    assert!(st.success());
}

#[test]
fn import_of_gnu_tar_files_and_stdin_runs() {
    require_root!();
    let h = Hull::new();
    let t = tempfile::tempdir().unwrap();
    let rootfs = t.path().join("rootfs");
    busybox_rootfs(&rootfs, &["sh", "cat", "echo"]);
    std::fs::create_dir_all(rootfs.join("etc")).unwrap();
    std::fs::write(rootfs.join("etc/hello"), "imported\n").unwrap();
    for (name, flag) in [
        ("plain.tar", None),
        ("gz.tar.gz", Some("--gzip")),
        ("z.tar.zst", Some("--zstd")),
    ] {
        let file = t.path().join(name);
        gnu_tar_of(&rootfs, &file, flag);
        let tag = format!("local/imp:{}", name.split('.').next().unwrap());
        let args = [
            "import",
            "-m",
            "from gnu tar",
            "-c",
            "CMD [\"/bin/cat\", \"/etc/hello\"]",
        ];
        let mut argv: Vec<&str> = args.to_vec();
        let f = file.to_str().unwrap();
        argv.extend([f, tag.as_str()]);
        printed_id(&h.ok(&argv));
        assert_eq!(h.ok(&["run", "--rm", &tag]), "imported\n", "{name}");
    }
    let hist = h.ok(&[
        "history",
        "--no-trunc",
        "--format",
        "{{.CreatedBy}}|{{.Comment}}",
        "local/imp:gz",
    ]);
    let want = format!(
        "Imported from {}|from gnu tar\n",
        t.path().join("gz.tar.gz").display()
    );
    assert_eq!(hist, want);

    let mut child = h
        .command(&["import", "-", "local/imp:stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let tar = std::fs::read(t.path().join("gz.tar.gz")).unwrap();
    child.stdin.take().unwrap().write_all(&tar).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    printed_id(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(
        h.ok(&["run", "--rm", "local/imp:stdin", "/bin/cat", "/etc/hello"]),
        "imported\n"
    );
    let hist = h.ok(&["history", "--format", "{{.CreatedBy}}", "local/imp:stdin"]);
    assert_eq!(hist, "Imported from -\n");
}

/// A tar that climbs out with `..`, and one that writes through an absolute symlink: import
/// fails with one line and nothing lands outside the store.
#[test]
fn import_of_hostile_tars_is_contained() {
    require_root!();
    let h = Hull::new();
    let t = tempfile::tempdir().unwrap();
    let outside = t.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    let script = format!(
        r#"
import tarfile, io
def add(tf, name, data=b"x", kind=tarfile.REGTYPE, link=""):
    ti = tarfile.TarInfo(name); ti.type = kind; ti.linkname = link
    ti.size = len(data) if kind == tarfile.REGTYPE else 0
    tf.addfile(ti, io.BytesIO(data) if kind == tarfile.REGTYPE else None)
with tarfile.open("{dir}/climb.tar", "w", format=tarfile.GNU_FORMAT) as tf:
    add(tf, "../../../../{out}/climbed")
with tarfile.open("{dir}/through.tar", "w", format=tarfile.GNU_FORMAT) as tf:
    add(tf, "link", kind=tarfile.SYMTYPE, link="{out}")
    add(tf, "link/written")
with tarfile.open("{dir}/hard.tar", "w", format=tarfile.GNU_FORMAT) as tf:
    add(tf, "h", kind=tarfile.LNKTYPE, link="{out}/target")
"#,
        dir = t.path().display(),
        out = outside.display()
    );
    std::fs::write(outside.join("target"), "host file").unwrap();
    let st = Command::new("python3")
        .arg("-c")
        .arg(&script)
        .status()
        .unwrap();
    assert!(st.success());
    for name in ["climb.tar", "through.tar", "hard.tar"] {
        let file = t.path().join(name);
        let out = h.run(&["import", file.to_str().unwrap(), "local/hostile"]);
        let err = String::from_utf8_lossy(&out.stderr);
        println!("{name}: success={} {}", out.status.success(), err.trim());
        if out.status.success() {
            // Contained: the link lives inside the image and points nowhere outside.
            let seen = h.ok(&["image", "inspect", "local/hostile"]);
            assert!(!seen.is_empty());
        } else {
            assert_eq!(err.trim().lines().count(), 1, "{name}: {err}");
            assert!(err.contains("import"), "{name}: {err}");
        }
        let mut left: Vec<String> = std::fs::read_dir(&outside)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, ["target"], "{name} wrote outside");
        assert_eq!(
            std::fs::read_to_string(outside.join("target")).unwrap(),
            "host file"
        );
    }
    assert_eq!(
        std::fs::read_dir(h.root().join("tmp"))
            .map(|d| d.count())
            .unwrap_or(0),
        0,
        "no temp files left"
    );
}

/// The fixture registry's busybox layer (a gzip rootfs tar) by its blob URL.
fn busybox_layer_path() -> String {
    let reg = hull_tests::fixture("HULL_TEST_REGISTRY");
    let out = hull_tests::stdout_ok(
        Command::new("curl")
            .args([
                "-sf",
                "-H",
                "Accept: application/vnd.docker.distribution.manifest.v2+json",
            ])
            .arg(format!("http://{reg}/v2/busybox/manifests/latest")),
        "curl the busybox manifest",
    );
    let m: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let digest = m["layers"][0]["digest"].as_str().unwrap();
    format!("/v2/busybox/blobs/{digest}")
}

/// `import URL`: plain HTTP from a loopback registry, and HTTPS checked against the registry
/// client's CAs (refused with one line without them, taken from certs.d with them).
#[test]
fn import_from_urls_uses_the_registry_clients_tls_rules() {
    require_root!();
    let h = Hull::new();
    let path = busybox_layer_path();
    let plain = format!("http://{}{path}", hull_tests::fixture("HULL_TEST_REGISTRY"));
    printed_id(&h.ok(&["import", &plain, "local/url:plain"]));
    assert_eq!(
        h.ok(&["run", "--rm", "local/url:plain", "echo", "hi"]),
        "hi\n"
    );
    let hist = h.ok(&[
        "history",
        "--no-trunc",
        "--format",
        "{{.CreatedBy}}",
        "local/url:plain",
    ]);
    assert_eq!(hist, format!("Imported from {plain}\n"));

    let tls = hull_tests::fixture("HULL_TEST_TLS_REGISTRY");
    let https = format!("https://{tls}{path}");
    let err = h.fails(&["import", &https, "local/url:tls"]);
    assert!(err.to_lowercase().contains("certificate"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    let certs = h.dir.path().join("certs.d");
    std::fs::create_dir_all(certs.join(&tls)).unwrap();
    std::fs::copy(
        hull_tests::fixture("HULL_TEST_TLS_CA"),
        certs.join(&tls).join("ca.crt"),
    )
    .unwrap();
    let h = h.with_config(&format!(r#"{{"certs-dirs": ["{}"]}}"#, certs.display()));
    printed_id(&h.ok(&["import", &https, "local/url:tls"]));
    assert_eq!(
        h.ok(&["run", "--rm", "local/url:tls", "echo", "tls"]),
        "tls\n"
    );
    let missing = format!(
        "http://{}/v2/busybox/blobs/sha256:{}",
        hull_tests::fixture("HULL_TEST_REGISTRY"),
        "0".repeat(64)
    );
    let err = h.fails(&["import", &missing]);
    assert!(
        err.contains("404") || err.to_lowercase().contains("not found"),
        "{err}"
    );
}

/// `kill -9` of an import half-way through its tar (the stream stops mid-entry, and the
/// process dies while its blob and layer sit in tmp/): no image appears, and the next
/// command's sweep leaves no blob, layer or temp file; the same import then completes.
#[test]
fn import_killed_mid_stream_leaves_nothing_and_can_be_redone() {
    require_root!();
    let h = Hull::new();
    let t = tempfile::tempdir().unwrap();
    let rootfs = t.path().join("rootfs");
    busybox_rootfs(&rootfs, &["sh", "echo"]);
    std::fs::write(rootfs.join("big"), vec![7u8; 4 << 20]).unwrap();
    let file = t.path().join("r.tar");
    gnu_tar_of(&rootfs, &file, None);
    let tar = std::fs::read(&file).unwrap();

    let mut child = h
        .command(&["import", "-", "local/killed"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(&tar[..tar.len() / 2]).unwrap();
    stdin.flush().unwrap();
    wait_until("the import to hold a temp blob", || {
        std::fs::read_dir(h.root().join("tmp"))
            .map(|d| d.count() >= 2)
            .unwrap_or(false)
    });
    child.kill().unwrap(); // SIGKILL, by the child's own pid
    child.wait().unwrap();
    drop(stdin);

    assert_eq!(h.ok(&["images", "-q"]), "", "no image from a killed import");
    h.ok(&["image", "prune", "-f"]); // runs gc, whose sweep removes the dead pid's temps
    let count = |d: &str| {
        std::fs::read_dir(h.root().join(d))
            .map(|d| d.count())
            .unwrap_or(0)
    };
    assert_eq!(
        (count("tmp"), count("blobs/sha256"), count("layers")),
        (0, 0, 0),
        "tmp, blobs, layers"
    );
    printed_id(&h.ok(&["import", file.to_str().unwrap(), "local/killed"]));
    assert_eq!(
        h.ok(&["run", "--rm", "local/killed", "echo", "whole"]),
        "whole\n"
    );
}
