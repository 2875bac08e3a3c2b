//! Push against the in-process fake registry: images pulled from it (pushed byte-for-byte) and
//! images with uncompressed layers as `hull load`/`commit` store them (compressed on the way).

use std::io::{Read, Write};
use std::sync::Mutex;
use std::time::Duration;

use hull_oci::image::media;
use hull_oci::Digest;
use serde_json::json;

use super::*;
use crate::platform::PlatformSpec;
use crate::registry::fake::{FakeAuth, FakeRegistry};
use crate::registry::fake_push::{Fault, FaultKind};
use crate::registry::{RegistryConfig, MONOLITHIC_MAX};
use crate::store::{ImageRecord, LayerRef};

const SRC: &str = "src/img";
const DST: &str = "dst/img";

fn tar_of(name: &str, data: &[u8]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(1_600_000_000);
    h.set_cksum();
    b.append_data(&mut h, name, data).unwrap();
    b.into_inner().unwrap()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(data).unwrap();
    gz.finish().unwrap()
}

fn noise(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

fn config(diff_ids: &[&Digest], arch: &str) -> Vec<u8> {
    let ids: Vec<String> = diff_ids.iter().map(|d| d.to_string()).collect();
    serde_json::to_vec(&json!({
        "architecture": arch, "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": ids},
    }))
    .unwrap()
}

fn host_arch() -> &'static str {
    if PlatformSpec::host().architecture == "arm64" {
        "arm64"
    } else {
        "amd64"
    }
}

/// Serves a one-layer image at `SRC:tag` (and by digest); returns the manifest bytes.
fn serve(fake: &FakeRegistry, tag: &str, layer_tar: &[u8], arch: &str) -> Vec<u8> {
    let blob = gzip(layer_tar);
    let cfg = config(&[&Digest::sha256_of(layer_tar)], arch);
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": media::DOCKER_MANIFEST,
        "config": {"mediaType": media::DOCKER_CONFIG,
                   "digest": Digest::sha256_of(&cfg).to_string(), "size": cfg.len()},
        "layers": [{"mediaType": media::DOCKER_LAYER_GZIP,
                    "digest": Digest::sha256_of(&blob).to_string(), "size": blob.len()}],
    }))
    .unwrap();
    let mut state = fake.state();
    for key in [tag.to_string(), Digest::sha256_of(&manifest).to_string()] {
        let value = (media::DOCKER_MANIFEST.to_string(), manifest.clone());
        state.manifests.insert(format!("{SRC}/{key}"), value);
    }
    for bytes in [blob, cfg] {
        let digest = Digest::sha256_of(&bytes).to_string();
        state
            .push
            .repo_blobs
            .insert((SRC.to_string(), digest.clone()));
        state.blobs.insert(digest, bytes);
    }
    manifest
}

struct Env {
    _dir: tempfile::TempDir,
    store: Store,
    fake: FakeRegistry,
    registry: Registry,
}

fn env() -> Env {
    env_with(FakeAuth::None, None)
}

fn env_with(auth: FakeAuth, creds: Option<(&str, &str)>) -> Env {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("root")).unwrap();
    let fake = FakeRegistry::start();
    fake.state().auth = auth;
    let mut credentials = crate::registry::DockerConfig::default();
    if let Some((user, pass)) = creds {
        credentials.set(&fake.addr, user, pass);
    }
    let config = RegistryConfig {
        certs_dirs: Vec::new(),
        max_attempts: 2,
        credentials: Some(credentials),
        ..RegistryConfig::default()
    };
    let registry = Registry::new(&fake.addr, &config)
        .unwrap()
        .with_retry_delay(Duration::from_millis(1));
    Env {
        _dir: dir,
        store,
        fake,
        registry,
    }
}

#[derive(Default)]
struct Events(Mutex<Vec<PushEvent>>);
impl PushObserver for Events {
    fn event(&self, event: PushEvent) {
        self.0.lock().unwrap().push(event);
    }
}

impl Env {
    fn reference(&self, repo: &str, tag: &str) -> Reference {
        Reference::parse(&format!("{}/{repo}:{tag}", self.fake.addr)).unwrap()
    }

    /// Pulls `SRC:tag` and tags it `DST:tag`.
    fn pull(&self, tag: &str, arch: &str) -> Digest {
        let opts = crate::pull::PullOptions {
            platform: PlatformSpec {
                os: "linux".into(),
                architecture: arch.into(),
                variant: None,
            },
            ..Default::default()
        };
        let src = self.reference(SRC, tag);
        let id = crate::pull::pull(
            &self.store,
            &self.registry,
            &src,
            &opts,
            &crate::pull::Quiet,
        )
        .unwrap()
        .id;
        self.store
            .tag(&src.to_string(), &self.reference(DST, tag))
            .unwrap();
        id
    }

    /// An image as `hull load` of a docker-archive stores it: an uncompressed layer blob.
    fn uncompressed(&self, tag: &str, layer_tar: &[u8]) -> ImageRecord {
        let diff_id = self.store.content.put(layer_tar, None).unwrap();
        let cfg = config(&[&diff_id], host_arch());
        let id = self.store.content.put(&cfg, None).unwrap();
        let record = ImageRecord {
            id,
            repo_digests: Vec::new(),
            manifest: None,
            layers: vec![LayerRef {
                diff_id: diff_id.clone(),
                blob: Some(diff_id),
                media_type: media::OCI_LAYER.to_string(),
                blob_size: layer_tar.len() as u64,
            }],
            size: 0,
            added: String::new(),
        };
        let tag = self.reference(DST, tag);
        self.store.add_image(record.clone(), &[tag]).unwrap();
        record
    }

    fn push(
        &self,
        tag: &str,
        opts: &PushOptions,
    ) -> Result<(PushOutcome, Vec<PushEvent>), PushError> {
        let events = Events::default();
        let outcome = push(
            &self.store,
            &self.registry,
            &self.reference(DST, tag),
            opts,
            &events,
        )?;
        Ok((outcome, events.0.into_inner().unwrap()))
    }

    fn requests(&self, method: &str, contains: &str) -> usize {
        let state = self.fake.state();
        let hits = state
            .log
            .iter()
            .filter(|s| s.method == method && s.url.contains(contains));
        hits.count()
    }

    fn pushed_manifest(&self, tag: &str) -> Option<(String, Vec<u8>)> {
        self.fake
            .state()
            .manifests
            .get(&format!("{DST}/{tag}"))
            .cloned()
    }

    fn registry_blob(&self, digest: &Digest) -> Vec<u8> {
        self.fake.state().blobs[&digest.to_string()].clone()
    }
}

fn opts() -> PushOptions {
    PushOptions::default()
}

#[test]
fn pulled_image_goes_up_byte_for_byte_heads_first_manifest_last() {
    let env = env();
    env.fake.state().push.refuse_mounts = true;
    let manifest = serve(&env.fake, "v1", &tar_of("etc/a", b"alpha"), host_arch());
    env.pull("v1", host_arch());
    let (outcome, events) = env.push("v1", &opts()).unwrap();
    assert_eq!(outcome.digest, Digest::sha256_of(&manifest));
    assert_eq!(outcome.size, manifest.len() as u64);
    let (content_type, bytes) = env.pushed_manifest("v1").unwrap();
    assert_eq!(
        (content_type.as_str(), bytes),
        (media::DOCKER_MANIFEST, manifest)
    );
    let log = env.fake.state().log.clone();
    let last = log.last().unwrap();
    assert_eq!(
        (last.method.as_str(), last.url.as_str()),
        ("PUT", "/v2/dst/img/manifests/v1")
    );
    let first_upload = log.iter().position(|s| s.method == "POST").unwrap();
    let heads = log[..first_upload]
        .iter()
        .filter(|s| s.method == "HEAD")
        .count();
    assert!(heads >= 1, "a HEAD precedes the first upload: {log:?}");
    assert_eq!(
        events
            .iter()
            .filter(|e| matches!(e, PushEvent::Pushed(_)))
            .count(),
        2
    );

    let (again, events) = env.push("v1", &opts()).unwrap();
    assert_eq!(again.digest, outcome.digest);
    assert_eq!(
        events
            .iter()
            .filter(|e| matches!(e, PushEvent::Exists(_)))
            .count(),
        2
    );
    assert_eq!(
        env.requests("POST", "/blobs/uploads/"),
        2,
        "no upload the second time"
    );
}

#[test]
fn blobs_from_another_repository_are_mounted() {
    let env = env();
    serve(&env.fake, "v1", &tar_of("etc/a", b"alpha"), host_arch());
    env.pull("v1", host_arch());
    let (_, events) = env.push("v1", &opts()).unwrap();
    let mounted: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            PushEvent::Mounted { from, .. } => Some(from.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(mounted, [SRC, SRC]);
    assert_eq!(env.requests("PUT", "/blobs/uploads/"), 0);
    assert_eq!(
        env.requests("POST", &format!("from={}", SRC.replace('/', "%2F"))),
        2
    );
}

#[test]
fn uncompressed_layer_is_compressed_pushed_and_the_record_switches() {
    let env = env();
    let layer = tar_of("etc/big", &b"compress me ".repeat(10_000));
    let before = env.uncompressed("v1", &layer);
    let tar = before.layers[0].blob.clone().unwrap();
    let (outcome, _) = env.push("v1", &opts()).unwrap();
    let (content_type, bytes) = env.pushed_manifest("v1").unwrap();
    assert_eq!(content_type, media::OCI_MANIFEST);
    let manifest: hull_oci::image::Manifest = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(manifest.layers[0].media_type, media::OCI_LAYER_GZIP);
    let blob = env.registry_blob(&manifest.layers[0].digest);
    assert_eq!(blob.len() as u64, manifest.layers[0].size);
    let mut plain = Vec::new();
    flate2::read::GzDecoder::new(&blob[..])
        .read_to_end(&mut plain)
        .unwrap();
    assert_eq!(
        plain, layer,
        "the registry's blob decompresses to the exact tar"
    );

    let after = env.store.record(&before.id).unwrap();
    assert_eq!(after.layers[0].diff_id, before.layers[0].diff_id);
    assert_eq!(
        after.layers[0].blob.as_ref(),
        Some(&manifest.layers[0].digest)
    );
    assert_eq!(after.layers[0].media_type, media::OCI_LAYER_GZIP);
    assert_eq!(after.manifest, Some(outcome.digest.clone()));
    assert!(
        !env.store.content.contains(&tar),
        "the uncompressed tar is gone"
    );
    assert!(env.store.content.contains(&manifest.layers[0].digest));

    let (again, events) = env.push("v1", &opts()).unwrap();
    assert_eq!(
        again.digest, outcome.digest,
        "the next push is byte-for-byte"
    );
    assert!(events.iter().all(|e| !matches!(e, PushEvent::Pushed(_))));
}

#[test]
fn zstd_layers_decompress_to_the_tar() {
    let env = env();
    let layer = tar_of("etc/z", &noise(300_000, 7));
    env.uncompressed("v1", &layer);
    let opts = PushOptions {
        format: Format::Zstd,
        ..opts()
    };
    env.push("v1", &opts).unwrap();
    let (_, bytes) = env.pushed_manifest("v1").unwrap();
    let manifest: hull_oci::image::Manifest = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(manifest.layers[0].media_type, media::OCI_LAYER_ZSTD);
    let blob = env.registry_blob(&manifest.layers[0].digest);
    assert_eq!(zstd::decode_all(&blob[..]).unwrap(), layer);
}

#[test]
fn large_blob_goes_in_patch_chunks_with_resume_and_retries() {
    let env = env();
    env.fake.state().push.absolute_locations = Some(env.fake.url());
    env.fake.state().push.faults.extend([
        Fault {
            method: "PATCH",
            path: None,
            kind: FaultKind::Status(503),
        },
        Fault {
            method: "PATCH",
            path: None,
            kind: FaultKind::HalfThen503,
        },
        Fault {
            method: "PUT",
            path: Some("/blobs/uploads/"),
            kind: FaultKind::Status(429),
        },
    ]);
    let layer = tar_of("big", &noise(MONOLITHIC_MAX * 2 + 12345, 3));
    env.uncompressed("v1", &layer);
    env.push("v1", &opts()).unwrap();
    let (_, bytes) = env.pushed_manifest("v1").unwrap();
    let manifest: hull_oci::image::Manifest = serde_json::from_slice(&bytes).unwrap();
    let blob = env.registry_blob(&manifest.layers[0].digest);
    let mut plain = Vec::new();
    flate2::read::GzDecoder::new(&blob[..])
        .read_to_end(&mut plain)
        .unwrap();
    assert_eq!(plain, layer);
    let state = env.fake.state();
    let ranges: Vec<_> = state
        .log
        .iter()
        .filter(|s| s.method == "PATCH")
        .map(|s| {
            (
                s.content_range.clone().unwrap(),
                s.content_type.clone().unwrap(),
            )
        })
        .collect();
    assert!(ranges.len() >= 3, "{ranges:?}");
    assert!(ranges.iter().all(|(_, t)| t == "application/octet-stream"));
    assert_eq!(ranges[0].0, format!("0-{}", MONOLITHIC_MAX - 1));
    assert!(
        state
            .log
            .iter()
            .any(|s| s.method == "GET" && s.url.contains("/uploads/")),
        "the cut chunk was resumed from the registry's offset"
    );
}

#[test]
fn retries_exhausted_fail_without_a_manifest_and_keep_the_record() {
    let env = env();
    let before = env.uncompressed("v1", &tar_of("etc/a", b"alpha"));
    let faults = (0..4).map(|_| Fault {
        method: "PUT",
        path: Some("/blobs/uploads/"),
        kind: FaultKind::Status(503),
    });
    env.fake.state().push.faults.extend(faults);
    let err = env.push("v1", &opts()).unwrap_err().to_string();
    assert!(err.contains("503"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert_eq!(
        env.requests("PUT", "/manifests/"),
        0,
        "no manifest without its blobs"
    );
    assert_eq!(env.store.record(&before.id).unwrap(), before);
    assert!(env
        .store
        .content
        .contains(before.layers[0].blob.as_ref().unwrap()));
    let tmp = std::fs::read_dir(env.store.root().join("tmp"))
        .unwrap()
        .count();
    assert_eq!(tmp, 0, "no temp blob left");
}

#[test]
fn whole_index_is_pushed_when_every_platform_is_stored() {
    let env = env();
    let amd = serve(&env.fake, "only-amd64", &tar_of("arch", b"amd64"), "amd64");
    let arm = serve(&env.fake, "only-arm64", &tar_of("arch", b"arm64"), "arm64");
    let index = serde_json::to_vec(&json!({
    "schemaVersion": 2, "mediaType": media::DOCKER_MANIFEST_LIST,
    "manifests": [
        {"mediaType": media::DOCKER_MANIFEST, "digest": Digest::sha256_of(&amd).to_string(),
         "size": amd.len(), "platform": {"os": "linux", "architecture": "amd64"}},
        {"mediaType": media::DOCKER_MANIFEST, "digest": Digest::sha256_of(&arm).to_string(),
         "size": arm.len(), "platform": {"os": "linux", "architecture": "arm64"}},
    ]}))
    .unwrap();
    let value = (media::DOCKER_MANIFEST_LIST.to_string(), index.clone());
    env.fake
        .state()
        .manifests
        .insert(format!("{SRC}/multi"), value);
    env.pull("multi", "amd64");
    let (partial, events) = env.push("multi", &opts()).unwrap();
    assert_eq!(
        partial.digest,
        Digest::sha256_of(&amd),
        "one platform held: its manifest"
    );
    assert!(events
        .iter()
        .any(|e| matches!(e, PushEvent::Note(n) if n.contains("1 of the 2"))));
    env.pull("multi", "arm64");
    let (whole, _) = env.push("multi", &opts()).unwrap();
    assert_eq!(whole.digest, Digest::sha256_of(&index));
    assert_eq!(env.pushed_manifest("multi").unwrap().1, index);
    let children = format!("{DST}/{}", Digest::sha256_of(&arm));
    assert!(env.fake.state().manifests.contains_key(&children));
}

#[test]
fn a_layer_without_a_stored_blob_is_refused_in_one_line() {
    let env = env();
    let record = env.uncompressed("v1", &tar_of("etc/a", b"alpha"));
    env.store
        .content
        .remove(record.layers[0].blob.as_ref().unwrap())
        .unwrap();
    let err = env.push("v1", &opts()).unwrap_err().to_string();
    assert!(
        err.contains(&format!("layer {}", record.layers[0].diff_id)),
        "{err}"
    );
    assert!(err.contains("the store has no blob for it"), "{err}");
    assert_eq!(env.requests("POST", ""), 0);
}

#[test]
fn wrong_password_is_one_clear_error_and_nothing_is_put() {
    let auth = FakeAuth::Basic {
        user: "u".into(),
        pass: "right".into(),
    };
    let env = env_with(auth, Some(("u", "wrong")));
    env.uncompressed("v1", &tar_of("etc/a", b"alpha"));
    let err = env.push("v1", &opts()).unwrap_err().to_string();
    assert!(
        err.contains("401") && err.contains("invalid username or password"),
        "{err}"
    );
    assert_eq!(env.requests("PUT", ""), 0);
}

#[test]
fn bearer_tokens_carry_push_and_mount_scopes() {
    let auth = FakeAuth::Bearer {
        creds: Some(("u".into(), "p".into())),
        token: "tok".into(),
    };
    let env = env_with(auth, Some(("u", "p")));
    serve(&env.fake, "v1", &tar_of("etc/a", b"alpha"), host_arch());
    env.pull("v1", host_arch());
    env.push("v1", &opts()).unwrap();
    let state = env.fake.state();
    let token_urls: Vec<&str> = state
        .log
        .iter()
        .filter(|s| s.url.starts_with("/token"))
        .map(|s| s.url.as_str())
        .collect();
    assert!(
        token_urls
            .iter()
            .any(|u| u.contains("scope=repository%3Adst%2Fimg%3Apush%2Cpull")
                && u.contains("&scope=repository%3Asrc%2Fimg%3Apull")),
        "{token_urls:?}"
    );
}

#[test]
fn broken_connections_are_retried_and_the_push_succeeds() {
    let env = env();
    let drops = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let proxy = crate::registry::fake_push::flaky_proxy(env.fake.addr.clone(), drops.clone());
    env.fake.state().push.absolute_locations = Some(format!("http://{proxy}"));
    let layer = tar_of("big", &noise(MONOLITHIC_MAX + 4096, 5));
    env.uncompressed("v1", &layer);
    // The first request through the proxy (the first PATCH) meets a cut connection.
    drops.store(1, std::sync::atomic::Ordering::SeqCst);
    let opts = PushOptions {
        concurrency: 1,
        ..opts()
    };
    env.push("v1", &opts).unwrap();
    assert_eq!(
        drops.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "the cut happened"
    );
    let (_, bytes) = env.pushed_manifest("v1").unwrap();
    let manifest: hull_oci::image::Manifest = serde_json::from_slice(&bytes).unwrap();
    let blob = env.registry_blob(&manifest.layers[0].digest);
    assert_eq!(Digest::sha256_of(&blob), manifest.layers[0].digest);
}

#[test]
fn broken_connections_past_the_retries_fail_without_a_manifest() {
    let env = env();
    let drops = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(100));
    let proxy = crate::registry::fake_push::flaky_proxy(env.fake.addr.clone(), drops);
    env.fake.state().push.absolute_locations = Some(format!("http://{proxy}"));
    env.uncompressed("v1", &tar_of("etc/a", b"alpha"));
    let err = env.push("v1", &opts()).unwrap_err().to_string();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains(&proxy), "names the connection: {err}");
    assert_eq!(env.requests("PUT", "/manifests/"), 0);
}

#[test]
fn docker_layers_without_a_manifest_get_a_v2s2_one_that_the_record_keeps() {
    let env = env();
    let layer = tar_of("etc/a", b"alpha");
    let blob = gzip(&layer);
    let digest = env.store.content.put(&blob, None).unwrap();
    let cfg = config(&[&Digest::sha256_of(&layer)], host_arch());
    let id = env.store.content.put(&cfg, None).unwrap();
    let record = ImageRecord {
        id: id.clone(),
        repo_digests: Vec::new(),
        manifest: None,
        layers: vec![LayerRef {
            diff_id: Digest::sha256_of(&layer),
            blob: Some(digest.clone()),
            media_type: media::DOCKER_LAYER_GZIP.to_string(),
            blob_size: blob.len() as u64,
        }],
        size: 0,
        added: String::new(),
    };
    env.store
        .add_image(record, &[env.reference(DST, "v1")])
        .unwrap();
    let (outcome, _) = env.push("v1", &opts()).unwrap();
    let (content_type, bytes) = env.pushed_manifest("v1").unwrap();
    assert_eq!(content_type, media::DOCKER_MANIFEST);
    let manifest: hull_oci::image::Manifest = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(manifest.config.media_type, media::DOCKER_CONFIG);
    assert_eq!(
        manifest.layers[0].digest, digest,
        "the stored blob, as it is"
    );
    assert_eq!(
        env.store.record(&id).unwrap().manifest,
        Some(outcome.digest)
    );
}
