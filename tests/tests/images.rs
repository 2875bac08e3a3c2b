//! End-to-end tests of the image commands against the real fixture registries.

use std::fs;
use std::path::Path;
use std::process::Command;

use hull_tests::{entries, fixture, repo_root, require_root, Hull};

fn reg() -> String {
    fixture("HULL_TEST_REGISTRY")
}

fn image(name: &str) -> String {
    format!("{}/{name}", reg())
}

/// Mounts `name`, runs `check` on the mount point, unmounts.
fn with_mount(h: &Hull, name: &str, check: impl FnOnce(&Path)) {
    let mp = h.ok(&["image", "mount", name]);
    let mp = Path::new(mp.trim());
    assert!(
        mp.starts_with(h.root()),
        "mount point {mp:?} is outside the store"
    );
    check(mp);
    h.ok(&["image", "unmount", name]);
    assert!(!mp.join("bin").exists(), "still mounted after unmount");
}

#[test]
fn pull_docker_schema2_prints_docker_like_status_and_is_listed() {
    require_root!();
    let h = Hull::new();
    let out = h.ok(&["pull", &image("busybox:latest")]);
    assert!(out.contains("latest: Pulling from busybox"), "{out}");
    assert!(out.contains("Pull complete"), "{out}");
    assert!(out.contains("Digest: sha256:"), "{out}");
    assert!(
        out.contains(&format!(
            "Status: Downloaded newer image for {}",
            image("busybox:latest")
        )),
        "{out}"
    );
    let again = h.ok(&["pull", &image("busybox:latest")]);
    assert!(
        again.contains("Already exists") || again.contains("Image is up to date"),
        "{again}"
    );
    assert!(again.contains("Status: Image is up to date"), "{again}");

    let list = h.ok(&["images"]);
    let mut lines = list.lines();
    let header = lines.next().unwrap();
    for col in ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"] {
        assert!(header.contains(col), "{header}");
    }
    let row = lines.next().expect("one image row");
    assert!(row.starts_with(&image("busybox")), "{row}");
    assert!(row.contains("latest"), "{row}");
    let ids = h.ok(&["images", "-q"]);
    assert_eq!(ids.trim().len(), 12, "{ids}");
    let digests = h.ok(&["images", "--digests"]);
    assert!(
        digests.contains("DIGEST") && digests.contains("sha256:"),
        "{digests}"
    );
}

#[test]
fn pull_quiet_prints_only_the_reference() {
    require_root!();
    let h = Hull::new();
    let out = h.ok(&["pull", "-q", &image("busybox:oci")]);
    assert_eq!(out.trim(), image("busybox:oci"));
}

#[test]
fn inspect_shows_the_image_config() {
    require_root!();
    let h = Hull::new();
    h.ok(&["pull", "-q", &image("busybox:latest")]);
    let out = h.ok(&["image", "inspect", &image("busybox")]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let doc = &v[0];
    assert!(doc["Id"].as_str().unwrap().starts_with("sha256:"));
    assert_eq!(doc["Config"]["Cmd"], serde_json::json!(["sh"]));
    assert_eq!(doc["Config"]["WorkingDir"], "/");
    let env = doc["Config"]["Env"].to_string();
    assert!(env.contains("HULL_FIXTURE=busybox"), "{env}");
    assert_eq!(doc["Os"], "linux");
    assert_eq!(doc["RootFS"]["Layers"].as_array().unwrap().len(), 1);
    assert_eq!(
        doc["RepoTags"],
        serde_json::json!([image("busybox:latest")])
    );
    let id = h.ok(&["image", "inspect", "-f", "{{.Id}}", &image("busybox")]);
    assert_eq!(id.trim(), doc["Id"].as_str().unwrap());
    // An unambiguous ID prefix selects the image too.
    let short = &doc["Id"].as_str().unwrap()[7..12];
    h.ok(&["image", "inspect", short]);
}

#[test]
fn oci_and_docker_formats_yield_the_same_image() {
    require_root!();
    let h = Hull::new();
    h.ok(&["pull", "-q", &image("busybox:latest")]);
    h.ok(&["pull", "-q", &image("busybox:oci")]);
    let a = h.ok(&[
        "image",
        "inspect",
        "-f",
        "{{.Id}}",
        &image("busybox:latest"),
    ]);
    let b = h.ok(&["image", "inspect", "-f", "{{.Id}}", &image("busybox:oci")]);
    assert_eq!(a, b, "same config blob, same image id");
    assert_eq!(
        entries(&h.root().join("layers")).len(),
        1,
        "the layer is shared"
    );
}

#[test]
fn multi_layer_image_mounts_with_every_overlay_rule_applied() {
    require_root!();
    let h = Hull::new();
    h.ok(&["pull", "-q", &image("layers:latest")]);
    with_mount(&h, &image("layers:latest"), |mp| {
        let status = Command::new(repo_root().join("scripts/fixtures-verify-layers"))
            .arg(mp)
            .status()
            .unwrap();
        assert!(
            status.success(),
            "merged tree differs from tests/fixtures/layers-expected.txt"
        );
        assert!(mp.join("bin/busybox").is_file());
    });
}

#[test]
fn zstd_layers_unpack() {
    require_root!();
    let h = Hull::new();
    h.ok(&["pull", "-q", &image("busybox:zstd")]);
    with_mount(&h, &image("busybox:zstd"), |mp| {
        assert!(mp.join("bin/busybox").is_file());
        assert!(mp.join("etc/passwd").is_file());
    });
}

fn arch_file(h: &Hull, name: &str) -> String {
    let mut arch = String::new();
    with_mount(h, name, |mp| {
        arch = fs::read_to_string(mp.join("etc/hull-arch")).unwrap();
    });
    arch.trim().to_string()
}

#[test]
fn multi_arch_index_selects_host_or_requested_platform() {
    require_root!();
    for tag in ["multiarch:latest", "multiarch:docker"] {
        let h = Hull::new();
        h.ok(&["pull", "-q", &image(tag)]);
        assert_eq!(arch_file(&h, &image(tag)), "amd64", "{tag}");
        let arm = Hull::new();
        arm.ok(&["pull", "-q", "--platform", "linux/arm64", &image(tag)]);
        assert_eq!(arch_file(&arm, &image(tag)), "arm64", "{tag}");
        let err = arm.fails(&["pull", "--platform", "linux/s390x", &image(tag)]);
        assert!(
            err.contains("no manifest for platform linux/s390x"),
            "{err}"
        );
    }
}

#[test]
fn pull_by_digest_records_the_repo_digest() {
    require_root!();
    let h = Hull::new();
    let out = h.ok(&["pull", &image("busybox:latest")]);
    let digest = out
        .lines()
        .find_map(|l| l.strip_prefix("Digest: "))
        .unwrap()
        .to_string();
    let other = Hull::new();
    let pinned = format!("{}@{digest}", image("busybox"));
    other.ok(&["pull", &pinned]);
    let inspect = other.ok(&["image", "inspect", "-f", "{{json .RepoDigests}}", &pinned]);
    assert!(inspect.contains(&digest), "{inspect}");
}

#[test]
fn auth_registry_needs_login_and_rejects_bad_credentials() {
    require_root!();
    let h = Hull::new();
    let auth = fixture("HULL_TEST_AUTH_REGISTRY");
    let img = format!("{auth}/busybox:latest");
    let err = h.fails(&["pull", &img]);
    assert!(err.contains("authentication required"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "one-line error: {err}");
    let err = h.fails(&["login", "-u", "hulltest", "-p", "wrong", &auth]);
    assert!(err.contains("401") || err.contains("unauthorized"), "{err}");
    let out = h.ok(&[
        "login",
        "-u",
        &fixture("HULL_TEST_AUTH_USER"),
        "-p",
        &fixture("HULL_TEST_AUTH_PASS"),
        &auth,
    ]);
    assert!(out.contains("Login Succeeded"), "{out}");
    let cfg = fs::read_to_string(h.dir.path().join("docker/config.json")).unwrap();
    assert!(cfg.contains(&auth), "{cfg}");
    h.ok(&["pull", "-q", &img]);
    h.ok(&["logout", &auth]);
    let cfg = fs::read_to_string(h.dir.path().join("docker/config.json")).unwrap();
    assert!(!cfg.contains(&auth), "{cfg}");
}

#[test]
fn tls_registry_needs_its_ca() {
    require_root!();
    let tls = fixture("HULL_TEST_TLS_REGISTRY");
    let img = format!("{tls}/busybox:latest");
    let h = Hull::new();
    let err = h.fails(&["pull", &img]);
    assert!(err.to_lowercase().contains("certificate"), "{err}");
    // A per-registry CA in a certs.d-style directory: <dir>/<host:port>/ca.crt.
    let certs = h.dir.path().join("certs.d");
    fs::create_dir_all(certs.join(&tls)).unwrap();
    fs::copy(fixture("HULL_TEST_TLS_CA"), certs.join(&tls).join("ca.crt")).unwrap();
    let h = h.with_config(&format!(r#"{{"certs-dirs": ["{}"]}}"#, certs.display()));
    h.ok(&["pull", "-q", &img]);
    let other = Hull::new();
    other.ok(&["pull", "-q", "--cert-dir", certs.to_str().unwrap(), &img]);
}

#[test]
fn load_docker_archive_plain_and_gzip_and_oci_archive() {
    require_root!();
    for (var, name) in [
        ("HULL_TEST_DOCKER_ARCHIVE", "busybox:archive"),
        ("HULL_TEST_DOCKER_ARCHIVE_GZ", "busybox:archive"),
        ("HULL_TEST_OCI_ARCHIVE", "busybox:ociarchive"),
    ] {
        let h = Hull::new();
        let out = h.ok(&["load", "-i", &fixture(var)]);
        assert!(
            out.contains(&format!("Loaded image: {name}")),
            "{var}: {out}"
        );
        with_mount(&h, name, |mp| assert!(mp.join("bin/busybox").is_file()));
    }
}

#[test]
fn save_then_load_round_trips_the_image_id() {
    require_root!();
    let h = Hull::new();
    h.ok(&["pull", "-q", &image("layers:latest")]);
    let id = h.ok(&["image", "inspect", "-f", "{{.Id}}", &image("layers")]);
    let tar = h.dir.path().join("saved.tar");
    h.ok(&["save", "-o", tar.to_str().unwrap(), &image("layers")]);
    let other = Hull::new();
    other.ok(&["load", "-i", tar.to_str().unwrap()]);
    let id2 = other.ok(&["image", "inspect", "-f", "{{.Id}}", &image("layers")]);
    assert_eq!(id, id2);
    with_mount(&other, &image("layers"), |mp| {
        let status = Command::new(repo_root().join("scripts/fixtures-verify-layers"))
            .arg(mp)
            .status()
            .unwrap();
        assert!(status.success());
    });
    // skopeo, a real peer, reads our archive too.
    let status = Command::new("skopeo")
        .args(["inspect", &format!("docker-archive:{}", tar.display())])
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
}

#[test]
fn tag_rmi_and_garbage_collection() {
    require_root!();
    let h = Hull::new();
    h.ok(&["pull", "-q", &image("busybox:latest")]);
    h.ok(&["tag", &image("busybox:latest"), "mine:v1"]);
    assert!(h.ok(&["images"]).contains("mine"));
    // Referenced by two repositories: deleting by ID needs -f.
    let id = h.ok(&["images", "-q"]).trim().to_string();
    let err = h.fails(&["rmi", &id]);
    assert!(err.contains("must be forced"), "{err}");
    let out = h.ok(&["rmi", "mine:v1"]);
    assert_eq!(out.trim(), "Untagged: mine:v1");
    let out = h.ok(&["rmi", &image("busybox:latest")]);
    assert!(
        out.contains("Untagged:") && out.contains("Deleted: sha256:"),
        "{out}"
    );
    assert!(
        entries(&h.root().join("layers")).is_empty(),
        "layers collected"
    );
    assert!(
        entries(&h.root().join("blobs/sha256")).is_empty(),
        "blobs collected"
    );
    assert!(entries(&h.root().join("tmp")).is_empty());
    let err = h.fails(&["rmi", "nothere"]);
    assert!(err.contains("no such image"), "{err}");
}

#[test]
fn prune_removes_dangling_images_only() {
    require_root!();
    let h = Hull::new();
    h.ok(&["pull", "-q", &image("busybox:latest")]);
    h.ok(&["pull", "-q", &image("layers:latest")]);
    // Retagging busybox's name onto layers leaves busybox dangling.
    h.ok(&["tag", &image("layers:latest"), &image("busybox:latest")]);
    assert!(h.ok(&["images"]).contains("<none>"));
    let out = h.ok(&["image", "prune", "-f"]);
    assert!(out.contains("Deleted: sha256:"), "{out}");
    assert!(!h.ok(&["images"]).contains("<none>"));
    assert_eq!(h.ok(&["images", "-q"]).lines().count(), 1);
}

#[test]
fn bad_input_gives_one_line_errors_and_exit_125() {
    require_root!();
    let h = Hull::new();
    for (args, want) in [
        (vec!["pull", "UPPER/case"], "must be lowercase"),
        (vec!["pull", &image("nosuch:latest")], "manifest unknown"),
        (
            vec!["pull", &image("busybox:nosuchtag")],
            "manifest unknown",
        ),
        (vec!["pull", "--platform", "bogus", "x"], "invalid platform"),
        (vec!["image", "inspect", "nothere"], "no such image"),
        (vec!["image", "mount", "nothere"], "no such image"),
        (vec!["load", "-i", "/nonexistent.tar"], "/nonexistent.tar"),
    ] {
        let out = h.run(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?}");
        assert!(err.contains(want), "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: one line: {err}");
    }
    assert_eq!(h.run(&["pull", "Bad::ref"]).status.code(), Some(125));
    assert!(
        entries(&h.root().join("tmp")).is_empty(),
        "nothing half-done"
    );
    assert!(entries(&h.root().join("images")).is_empty());
}
