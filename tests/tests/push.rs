//! `hull push` against the real fixture registries (plain, basic auth, TLS), checked with
//! skopeo, podman and curl: a pulled image goes up byte-for-byte (same manifest digest) and pulls
//! back to the same image ID; an uncompressed (docker-archive) image goes up compressed and
//! podman sees the same image ID and file tree; a wrong password fails in one line and leaves no
//! tag; a push killed mid-upload leaves no tag and a valid image. Every pushed manifest is
//! deleted again through the registry API when the test ends.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use hull_tests::{fixture, require_root, stdout_ok, Hull};

static SEQ: AtomicUsize = AtomicUsize::new(0);

/// A repository name of this test run alone.
fn unique_repo() -> String {
    let n = SEQ.fetch_add(1, Ordering::SeqCst);
    format!("hull-push-test/{}-{n}", std::process::id())
}

/// How curl and skopeo reach one fixture registry.
#[derive(Clone)]
struct Reg {
    addr: String,
    creds: Option<String>,
    ca: Option<String>,
}

impl Reg {
    fn plain() -> Reg {
        Reg {
            addr: fixture("HULL_TEST_REGISTRY"),
            creds: None,
            ca: None,
        }
    }

    fn auth() -> Reg {
        let creds = format!(
            "{}:{}",
            fixture("HULL_TEST_AUTH_USER"),
            fixture("HULL_TEST_AUTH_PASS")
        );
        Reg {
            addr: fixture("HULL_TEST_AUTH_REGISTRY"),
            creds: Some(creds),
            ca: None,
        }
    }

    fn tls() -> Reg {
        Reg {
            addr: fixture("HULL_TEST_TLS_REGISTRY"),
            creds: None,
            ca: Some(fixture("HULL_TEST_TLS_CA")),
        }
    }

    fn url(&self, path: &str) -> String {
        let scheme = if self.ca.is_some() { "https" } else { "http" };
        format!("{scheme}://{}{path}", self.addr)
    }

    fn curl(&self, args: &[&str]) -> std::process::Output {
        let mut c = Command::new("curl");
        c.args(["-sS", "--max-time", "30"]);
        if let Some(creds) = &self.creds {
            c.args(["-u", creds]);
        }
        if let Some(ca) = &self.ca {
            c.args(["--cacert", ca]);
        }
        c.args(args).output().expect("run curl")
    }

    /// The raw manifest under `repo:tag`, or None when the registry has no such tag.
    fn manifest(&self, repo: &str, tag: &str) -> Option<Vec<u8>> {
        let accept = "Accept: application/vnd.oci.image.manifest.v1+json, \
                      application/vnd.docker.distribution.manifest.v2+json, \
                      application/vnd.oci.image.index.v1+json, \
                      application/vnd.docker.distribution.manifest.list.v2+json";
        let url = self.url(&format!("/v2/{repo}/manifests/{tag}"));
        let out = self.curl(&["-f", "-H", accept, &url]);
        out.status.success().then_some(out.stdout)
    }

    fn skopeo_args(&self) -> Vec<String> {
        let mut args = Vec::new();
        match &self.ca {
            Some(ca) => {
                let dir = Path::new(ca).parent().unwrap().display().to_string();
                args.push(format!("--cert-dir={dir}"));
            }
            None => args.push("--tls-verify=false".into()),
        }
        if let Some(creds) = &self.creds {
            args.push(format!("--creds={creds}"));
        }
        args
    }

    /// `skopeo inspect --raw`: the manifest as skopeo fetches it.
    fn skopeo_raw(&self, repo: &str, tag: &str) -> Vec<u8> {
        let target = format!("docker://{}/{repo}:{tag}", self.addr);
        stdout_ok(
            Command::new("skopeo")
                .args(["inspect", "--raw"])
                .args(self.skopeo_args())
                .arg(&target),
            &format!("skopeo inspect {target}"),
        )
    }
}

/// Deletes every manifest pushed to the repositories it was told about, even when a test fails.
struct Cleanup(Vec<(Reg, String, String)>);

impl Cleanup {
    fn watch(&mut self, reg: &Reg, repo: &str, tag: &str) {
        self.0
            .push((reg.clone(), repo.to_string(), tag.to_string()));
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        for (reg, repo, tag) in &self.0 {
            let Some(bytes) = reg.manifest(repo, tag) else {
                continue;
            };
            let digest = sha256(&bytes);
            let url = reg.url(&format!("/v2/{repo}/manifests/{digest}"));
            let _ = reg.curl(&["-X", "DELETE", &url]);
        }
    }
}

fn sha256(bytes: &[u8]) -> String {
    hull_oci::Digest::sha256_of(bytes).to_string()
}

fn image_id(h: &Hull, name: &str) -> String {
    h.ok(&["image", "inspect", "--format", "{{.Id}}", name])
        .trim()
        .to_string()
}

#[test]
fn pulled_image_pushes_byte_for_byte_mounts_and_pulls_back_the_same() {
    require_root!();
    let reg = Reg::plain();
    let mut cleanup = Cleanup(Vec::new());
    let h = Hull::new();
    let source = format!("{}/busybox:latest", reg.addr);
    h.ok(&["pull", "-q", &source]);
    let source_digest = sha256(&reg.manifest("busybox", "latest").unwrap());
    let repo = unique_repo();
    let target = format!("{}/{repo}:v1", reg.addr);
    h.ok(&["tag", &source, &target]);
    cleanup.watch(&reg, &repo, "v1");
    let out = h.ok(&["push", &target]);
    assert!(
        out.starts_with(&format!(
            "The push refers to repository [{}/{repo}]",
            reg.addr
        )),
        "{out}"
    );
    assert!(
        out.contains(": Mounted from busybox"),
        "cross-repo mount: {out}"
    );
    let last = out.trim().lines().last().unwrap();
    assert!(
        last.starts_with(&format!("v1: digest: {source_digest} size: ")),
        "{out}"
    );
    assert_eq!(sha256(&reg.skopeo_raw(&repo, "v1")), source_digest);

    let again = h.ok(&["push", &target]);
    assert!(again.contains(": Layer already exists"), "{again}");
    let until = format!("{}", std::time::UNIX_EPOCH.elapsed().unwrap().as_secs() + 1);
    let events = h.ok(&[
        "events",
        "--since",
        "0",
        "--until",
        &until,
        "-f",
        "event=push",
    ]);
    assert_eq!(
        events.lines().count(),
        2,
        "one push event per push: {events}"
    );
    assert!(events.contains(&format!("image push {target}")), "{events}");

    let fresh = Hull::new();
    fresh.ok(&["pull", "-q", &target]);
    assert_eq!(image_id(&fresh, &target), image_id(&h, &source));
    let quiet = h.ok(&["push", "-q", &target]);
    assert_eq!(quiet.trim(), target);

    let v2 = format!("{}/{repo}:v2", reg.addr);
    h.ok(&["tag", &source, &v2]);
    cleanup.watch(&reg, &repo, "v2");
    let all = h.ok(&["push", "--all-tags", &format!("{}/{repo}", reg.addr)]);
    for tag in ["v1", "v2"] {
        let line = format!("{tag}: digest: {source_digest} size: ");
        assert!(all.contains(&line), "{all}");
        assert_eq!(sha256(&reg.manifest(&repo, tag).unwrap()), source_digest);
    }
}

/// The file names a layer tar lists, normalized (no `./`, no trailing `/`).
fn tar_names(layer: &Path, zstd: bool) -> BTreeSet<String> {
    let mode = if zstd { "--zstd" } else { "-z" };
    let out = stdout_ok(
        Command::new("tar").args([mode, "-tf"]).arg(layer),
        "tar -tf",
    );
    String::from_utf8_lossy(&out)
        .lines()
        .map(|l| l.trim_start_matches("./").trim_end_matches('/').to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

/// Every path under `root`, relative.
fn tree(root: &Path) -> BTreeSet<String> {
    let out = Command::new("find")
        .arg(".")
        .arg("-mindepth")
        .arg("1")
        .current_dir(root)
        .output()
        .expect("run find");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.trim_start_matches("./").to_string())
        .collect()
}

/// `podman pull` of `image` into a vfs store under `dir`: the image ID podman computes and the
/// file tree it mounts.
fn podman_pull(dir: &Path, image: &str) -> (String, BTreeSet<String>) {
    let root = dir.join("podman");
    let podman = |args: &[&str]| {
        let out = stdout_ok(
            Command::new("podman")
                .arg("--root")
                .arg(root.join("root"))
                .arg("--runroot")
                .arg(root.join("run"))
                .args(["--storage-driver", "vfs", "--cgroup-manager", "cgroupfs"])
                .args(args),
            &format!("podman {args:?}"),
        );
        String::from_utf8_lossy(&out).trim().to_string()
    };
    podman(&["pull", "-q", "--tls-verify=false", image]);
    let id = podman(&["image", "inspect", "--format", "{{.Id}}", image]);
    let mp = podman(&["image", "mount", image]);
    let files = tree(Path::new(&mp));
    podman(&["image", "unmount", "-a"]);
    podman(&["rmi", "-a", "-f"]);
    (id, files)
}

#[test]
fn loaded_uncompressed_image_is_compressed_on_push_and_pulls_back_with_skopeo_and_podman() {
    require_root!();
    let reg = Reg::plain();
    let mut cleanup = Cleanup(Vec::new());
    for (format, zstd) in [("gzip", false), ("zstd", true)] {
        let h = Hull::new();
        h.ok(&["load", "-i", &fixture("HULL_TEST_DOCKER_ARCHIVE")]);
        let repo = unique_repo();
        let target = format!("{}/{repo}:v1", reg.addr);
        h.ok(&["tag", "busybox:archive", &target]);
        cleanup.watch(&reg, &repo, "v1");
        let out = h.ok(&["push", "--compression-format", format, &target]);
        assert!(out.contains(": Pushed"), "{out}");
        let raw = reg.skopeo_raw(&repo, "v1");
        let manifest: serde_json::Value = serde_json::from_slice(&raw).unwrap();
        let media = manifest["layers"][0]["mediaType"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(
            media.ends_with(if zstd { "+zstd" } else { "+gzip" }),
            "{media}"
        );

        let dir = h.dir.path().join(format!("copy-{format}"));
        stdout_ok(
            Command::new("skopeo")
                .args(["copy", "--src-tls-verify=false"])
                .arg(format!("docker://{target}"))
                .arg(format!("dir:{}", dir.display())),
            "skopeo copy",
        );
        let digest = manifest["layers"][0]["digest"].as_str().unwrap();
        let layer = dir.join(digest.trim_start_matches("sha256:"));
        let pushed = tar_names(&layer, zstd);
        let mp = h.ok(&["image", "mount", &target]);
        let local = tree(Path::new(mp.trim()));
        h.ok(&["image", "unmount", &target]);
        assert_eq!(
            pushed, local,
            "the pushed layer holds the image's file tree"
        );

        let (podman_id, podman_tree) = podman_pull(h.dir.path(), &target);
        assert_eq!(format!("sha256:{podman_id}"), image_id(&h, &target));
        assert_eq!(podman_tree, local, "podman sees the same file tree");

        let again = h.ok(&["push", &target]);
        assert!(again.contains(": Layer already exists"), "{again}");
        assert!(
            again.contains(&format!("digest: {}", sha256(&raw))),
            "{again}"
        );
        let _ = fs::remove_dir_all(&dir);
    }
}

#[test]
fn auth_registry_push_needs_the_right_password() {
    require_root!();
    let reg = Reg::auth();
    let mut cleanup = Cleanup(Vec::new());
    let h = Hull::new();
    h.ok(&["load", "-i", &fixture("HULL_TEST_DOCKER_ARCHIVE")]);
    let repo = unique_repo();
    let target = format!("{}/{repo}:v1", reg.addr);
    h.ok(&["tag", "busybox:archive", &target]);
    cleanup.watch(&reg, &repo, "v1");
    let user = fixture("HULL_TEST_AUTH_USER");
    let config = h.dir.path().join("docker/config.json");
    let wrong = format!("{user}:wrong");
    let auths = |creds: &str| {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD.encode(creds);
        format!(r#"{{"auths":{{"{}":{{"auth":"{b64}"}}}}}}"#, reg.addr)
    };
    fs::write(&config, auths(&wrong)).unwrap();
    let err = h.fails(&["push", &target]);
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    assert!(err.contains(&format!("push {target}")), "{err}");
    assert!(err.contains("401") || err.contains("unauthorized"), "{err}");
    assert!(
        reg.manifest(&repo, "v1").is_none(),
        "no tag after a refused push"
    );

    fs::write(&config, auths(reg.creds.as_deref().unwrap())).unwrap();
    let out = h.ok(&["push", &target]);
    let raw = reg.skopeo_raw(&repo, "v1");
    assert!(
        out.contains(&format!("v1: digest: {}", sha256(&raw))),
        "{out}"
    );
}

#[test]
fn tls_registry_push_uses_the_cert_dir() {
    require_root!();
    let reg = Reg::tls();
    let mut cleanup = Cleanup(Vec::new());
    let h = Hull::new();
    let source = format!("{}/busybox:latest", Reg::plain().addr);
    h.ok(&["pull", "-q", &source]);
    let repo = unique_repo();
    let target = format!("{}/{repo}:v1", reg.addr);
    h.ok(&["tag", &source, &target]);
    cleanup.watch(&reg, &repo, "v1");
    let err = h.fails(&["push", &target]);
    assert!(err.to_lowercase().contains("certificate"), "{err}");
    let certs = h.dir.path().join("certs.d");
    fs::create_dir_all(certs.join(&reg.addr)).unwrap();
    fs::copy(
        reg.ca.as_ref().unwrap(),
        certs.join(&reg.addr).join("ca.crt"),
    )
    .unwrap();
    let out = h.ok(&["push", "--cert-dir", certs.to_str().unwrap(), &target]);
    let source_digest = sha256(&Reg::plain().manifest("busybox", "latest").unwrap());
    assert!(
        out.contains(&format!("v1: digest: {source_digest}")),
        "{out}"
    );
    assert_eq!(sha256(&reg.skopeo_raw(&repo, "v1")), source_digest);
}

/// A docker-archive with one layer of `mib` MiB of random bytes, tagged `name`.
fn big_archive(dir: &Path, name: &str, mib: usize) -> std::path::PathBuf {
    let work = dir.join("archive-src");
    let rootfs = work.join("rootfs");
    fs::create_dir_all(&rootfs).unwrap();
    let sh = |script: &str| {
        stdout_ok(Command::new("sh").arg("-c").arg(script), script);
    };
    let (w, r) = (work.display(), rootfs.display());
    sh(&format!(
        "head -c {mib}M /dev/urandom > {r}/big && tar -C {r} -cf {w}/layer.tar big"
    ));
    let diff_id = sha256(&fs::read(work.join("layer.tar")).unwrap());
    let config = format!(
        r#"{{"architecture":"amd64","os":"linux","rootfs":{{"type":"layers","diff_ids":["{diff_id}"]}}}}"#
    );
    fs::write(work.join("config.json"), config).unwrap();
    let manifest =
        format!(r#"[{{"Config":"config.json","RepoTags":["{name}"],"Layers":["layer.tar"]}}]"#);
    fs::write(work.join("manifest.json"), manifest).unwrap();
    let archive = dir.join("big.tar");
    sh(&format!(
        "tar -C {w} -cf {} manifest.json config.json layer.tar",
        archive.display()
    ));
    fs::remove_dir_all(&work).unwrap();
    archive
}

#[test]
fn push_killed_mid_upload_leaves_a_valid_image_and_no_tag() {
    use std::io::BufRead;
    require_root!();
    let reg = Reg::plain();
    let mut cleanup = Cleanup(Vec::new());
    let h = Hull::new();
    let repo = unique_repo();
    let target = format!("{}/{repo}:v1", reg.addr);
    let archive = big_archive(h.dir.path(), &target, 24);
    h.ok(&["load", "-i", archive.to_str().unwrap()]);
    cleanup.watch(&reg, &repo, "v1");
    let mut child = h
        .command(&["push", &target])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut seen = Vec::new();
    for line in stdout.lines() {
        let line = line.unwrap();
        let pushing = line.ends_with(": Pushing");
        seen.push(line);
        if pushing {
            break;
        }
    }
    assert!(
        seen.last().is_some_and(|l| l.ends_with(": Pushing")),
        "the push got to uploading: {seen:?}"
    );
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success(), "killed mid-push, not finished: {seen:?}");
    assert!(
        reg.manifest(&repo, "v1").is_none(),
        "no tag from a killed push"
    );

    let mp = h.ok(&["image", "mount", &target]);
    let big = Path::new(mp.trim()).join("big");
    assert_eq!(fs::metadata(&big).unwrap().len(), 24 << 20);
    h.ok(&["image", "unmount", &target]);
    let out = h.ok(&["push", &target]);
    let raw = reg.manifest(&repo, "v1").expect("pushed the second time");
    assert!(
        out.contains(&format!("v1: digest: {}", sha256(&raw))),
        "{out}"
    );
    let tmp: Vec<_> = fs::read_dir(h.root().join("tmp")).unwrap().collect();
    assert!(
        tmp.is_empty(),
        "the killed push's temp blob was swept: {tmp:?}"
    );
}
