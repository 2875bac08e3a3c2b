//! The pull pipeline against the in-process fake registry, with images built in memory: what
//! ends up in the store on success, and that every kind of bad input fails with an error naming
//! the culprit while leaving no layer, image, layer blob or temp entry behind.

use std::collections::BTreeSet;
use std::fs;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use hull_oci::image::media;
use hull_oci::Digest;
use serde_json::json;

use crate::platform::PlatformSpec;
use crate::pull::{pull, PullError, PullOptions, PullOutcome, Quiet};
use crate::reference::Reference;
use crate::registry::fake::FakeRegistry;
use crate::registry::{Registry, RegistryConfig};
use crate::store::Store;

const REPO: &str = "test/img";

/// A tar stream of regular files with raw (unchecked) names, so hostile names can be written.
fn tar(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, data) in files {
        let mut h = tar::Header::new_gnu();
        h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        h.set_entry_type(tar::EntryType::Regular);
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(1_600_000_000);
        h.set_cksum();
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.resize(out.len() + 1024, 0);
    out
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(data).unwrap();
    gz.finish().unwrap()
}

#[derive(Clone)]
struct Layer {
    blob: Vec<u8>,
    digest: Digest,
    diff_id: Digest,
}

impl Layer {
    fn new(files: &[(&str, &[u8])]) -> Layer {
        let tar = tar(files);
        let blob = gzip(&tar);
        Layer {
            digest: Digest::sha256_of(&blob),
            diff_id: Digest::sha256_of(&tar),
            blob,
        }
    }

    fn descriptor(&self) -> serde_json::Value {
        json!({
            "mediaType": media::OCI_LAYER_GZIP,
            "digest": self.digest.to_string(),
            "size": self.blob.len(),
        })
    }
}

fn config_for(diff_ids: &[&Digest], arch: &str) -> Vec<u8> {
    let diff_ids: Vec<String> = diff_ids.iter().map(|d| d.to_string()).collect();
    serde_json::to_vec(&json!({
        "architecture": arch,
        "os": "linux",
        "config": {"Cmd": ["sh"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }))
    .unwrap()
}

#[derive(Clone)]
struct Image {
    config: Vec<u8>,
    manifest: Vec<u8>,
    layers: Vec<Layer>,
}

impl Image {
    fn new(layers: &[&Layer]) -> Image {
        let diff_ids: Vec<&Digest> = layers.iter().map(|l| &l.diff_id).collect();
        Image::with_config(layers, config_for(&diff_ids, host_arch()))
    }

    fn with_config(layers: &[&Layer], config: Vec<u8>) -> Image {
        let manifest = serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": media::OCI_MANIFEST,
            "config": {
                "mediaType": media::OCI_CONFIG,
                "digest": Digest::sha256_of(&config).to_string(),
                "size": config.len(),
            },
            "layers": layers.iter().map(|l| l.descriptor()).collect::<Vec<_>>(),
        }))
        .unwrap();
        Image {
            config,
            manifest,
            layers: layers.iter().map(|l| (*l).clone()).collect(),
        }
    }

    fn id(&self) -> Digest {
        Digest::sha256_of(&self.config)
    }

    fn manifest_digest(&self) -> Digest {
        Digest::sha256_of(&self.manifest)
    }

    /// The manifest under `tag` and its digest, and every blob.
    fn serve(&self, fake: &FakeRegistry, tag: &str) {
        let mut state = fake.state();
        for key in [tag.to_string(), self.manifest_digest().to_string()] {
            state.manifests.insert(
                format!("{REPO}/{key}"),
                (media::OCI_MANIFEST.to_string(), self.manifest.clone()),
            );
        }
        state
            .blobs
            .insert(self.id().to_string(), self.config.clone());
        for l in &self.layers {
            state.blobs.insert(l.digest.to_string(), l.blob.clone());
        }
    }
}

fn host_arch() -> &'static str {
    let arch = PlatformSpec::host().architecture;
    if arch == "arm64" {
        "arm64"
    } else {
        "amd64"
    }
}

fn host_platform() -> PlatformSpec {
    PlatformSpec {
        os: "linux".into(),
        architecture: host_arch().into(),
        variant: None,
    }
}

struct Env {
    _dir: tempfile::TempDir,
    store: Store,
    fake: FakeRegistry,
    registry: Registry,
}

fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("root")).unwrap();
    let fake = FakeRegistry::start();
    let config = RegistryConfig {
        certs_dirs: Vec::new(),
        max_attempts: 2,
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

impl Env {
    fn reference(&self, tag: &str) -> Reference {
        Reference::parse(&format!("{}/{REPO}:{tag}", self.fake.addr)).unwrap()
    }

    fn pull_with(&self, tag: &str, platform: PlatformSpec) -> Result<PullOutcome, PullError> {
        let opts = PullOptions {
            platform,
            ..PullOptions::default()
        };
        pull(
            &self.store,
            &self.registry,
            &self.reference(tag),
            &opts,
            &Quiet,
        )
    }

    fn pull(&self, tag: &str) -> Result<PullOutcome, PullError> {
        self.pull_with(tag, host_platform())
    }

    /// Pulls `tag`, expecting failure; returns the error message, checked to be one line.
    fn pull_fails(&self, tag: &str) -> String {
        let err = self
            .pull(tag)
            .expect_err("the pull should fail")
            .to_string();
        assert_eq!(err.lines().count(), 1, "one-line error: {err}");
        err
    }

    fn root(&self) -> &Path {
        self.store.root()
    }

    fn names(&self, sub: &str) -> BTreeSet<String> {
        fs::read_dir(self.root().join(sub))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect()
    }

    /// After a failed pull: no layer, no image, no tag, nothing in tmp/, and no blobs but the
    /// verified manifests and configs in `allowed` (committed before the layers are fetched).
    fn assert_clean(&self, allowed: &[Digest]) {
        assert!(
            self.names("layers").is_empty(),
            "layers/ {:?}",
            self.names("layers")
        );
        assert!(
            self.names("images").is_empty(),
            "images/ {:?}",
            self.names("images")
        );
        assert!(self.names("tmp").is_empty(), "tmp/ {:?}", self.names("tmp"));
        assert!(!self.root().join("repositories.json").exists());
        let allowed: BTreeSet<String> = allowed.iter().map(|d| d.hex().to_string()).collect();
        let blobs = self.names("blobs/sha256");
        assert!(blobs.is_subset(&allowed), "blobs/ {blobs:?}");
        for hex in blobs {
            let d = Digest::from_hex(&hex).unwrap();
            self.store
                .content
                .read(&d)
                .expect("blob hashes to its name");
        }
    }

    /// GETs the fake saw for a blob.
    fn blob_gets(&self, digest: &Digest) -> usize {
        let path = format!("/v2/{REPO}/blobs/{digest}");
        let state = self.fake.state();
        state
            .log
            .iter()
            .filter(|s| s.url.split('?').next() == Some(path.as_str()))
            .count()
    }
}

fn two_layers() -> (Layer, Layer) {
    (
        Layer::new(&[("etc/hello", b"hello\n")]),
        Layer::new(&[("bin/tool", b"#!/bin/sh\necho tool\n"), ("etc/motd", b"hi")]),
    )
}

#[test]
fn happy_path_records_the_image_tags_it_and_unpacks_every_layer() {
    let env = env();
    let (a, b) = two_layers();
    let image = Image::new(&[&a, &b]);
    image.serve(&env.fake, "latest");
    let outcome = env.pull("latest").unwrap();
    assert_eq!(outcome.id, image.id());
    assert_eq!(outcome.digest, image.manifest_digest());
    assert!(outcome.updated);

    let record = env
        .store
        .resolve(&env.reference("latest").to_string())
        .unwrap();
    assert_eq!(record.id, image.id());
    assert_eq!(
        record.diff_ids(),
        vec![a.diff_id.clone(), b.diff_id.clone()]
    );
    assert_eq!(record.manifest, Some(image.manifest_digest()));
    assert_eq!(
        fs::read(env.store.layers.diff_dir(&a.diff_id).join("etc/hello")).unwrap(),
        b"hello\n"
    );
    assert_eq!(
        fs::read(env.store.layers.diff_dir(&b.diff_id).join("etc/motd")).unwrap(),
        b"hi"
    );
    for d in [&a.digest, &b.digest, &image.id(), &image.manifest_digest()] {
        env.store.content.read(d).expect("blob stored and verified");
    }
    assert!(env.names("tmp").is_empty());

    let again = env.pull("latest").unwrap();
    assert!(!again.updated, "pulling again changes nothing");
}

#[test]
fn layer_blob_not_matching_its_digest_fails_and_stores_nothing() {
    let env = env();
    let (_, b) = two_layers();
    let image = Image::new(&[&b]);
    image.serve(&env.fake, "latest");
    // Same size and the same tar inside (so the diff ID checks out), different bytes: the gzip
    // header's OS field. Only the blob digest can catch it, and the layer must not commit.
    let mut forged = b.blob.clone();
    forged[9] ^= 1;
    env.fake.state().blobs.insert(b.digest.to_string(), forged);
    let err = env.pull_fails("latest");
    assert!(err.contains(&b.digest.to_string()), "{err}");
    assert!(err.contains("digest mismatch"), "{err}");
    env.assert_clean(&[image.manifest_digest(), image.id()]);
}

#[test]
fn config_not_matching_its_digest_fails_and_stores_no_config() {
    let env = env();
    let (a, _) = two_layers();
    let image = Image::new(&[&a]);
    image.serve(&env.fake, "latest");
    let forged = String::from_utf8(image.config.clone())
        .unwrap()
        .replace("linux", "LINUX");
    env.fake
        .state()
        .blobs
        .insert(image.id().to_string(), forged.into_bytes());
    let err = env.pull_fails("latest");
    assert!(err.contains(&image.id().to_string()), "{err}");
    assert!(err.contains("digest mismatch"), "{err}");
    env.assert_clean(&[image.manifest_digest()]);
    assert_eq!(env.blob_gets(&a.digest), 0, "no layer fetched");
}

#[test]
fn wrong_diff_id_fails_naming_the_layer_and_stores_no_layer() {
    let env = env();
    let (a, _) = two_layers();
    let wrong = Digest::sha256_of(b"not the tar");
    let image = Image::with_config(&[&a], config_for(&[&wrong], host_arch()));
    image.serve(&env.fake, "latest");
    let err = env.pull_fails("latest");
    assert!(err.contains(&a.digest.to_string()), "{err}");
    assert!(err.contains(&wrong.to_string()), "{err}");
    env.assert_clean(&[image.manifest_digest(), image.id()]);
}

#[test]
fn layer_body_cut_short_fails_after_retries_and_stores_nothing() {
    let env = env();
    let (a, _) = two_layers();
    let image = Image::new(&[&a]);
    image.serve(&env.fake, "latest");
    let keep = a.blob.len() / 2;
    env.fake
        .state()
        .cut_blobs
        .insert(a.digest.to_string(), (keep, u32::MAX));
    let err = env.pull_fails("latest");
    assert!(err.contains(&a.digest.to_string()), "{err}");
    env.assert_clean(&[image.manifest_digest(), image.id()]);
}

#[test]
fn layer_body_cut_short_once_is_retried_and_the_pull_succeeds() {
    let env = env();
    let (a, _) = two_layers();
    let image = Image::new(&[&a]);
    image.serve(&env.fake, "latest");
    env.fake
        .state()
        .cut_blobs
        .insert(a.digest.to_string(), (a.blob.len() / 2, 1));
    env.pull("latest").expect("the second attempt succeeds");
    assert!(env.store.layers.contains(&a.diff_id));
    assert!(env.names("tmp").is_empty(), "the cut attempt left nothing");
}

#[test]
fn hostile_layer_fails_with_one_line_naming_layer_and_entry() {
    let env = env();
    let (a, _) = two_layers();
    let evil = Layer::new(&[("ok", b"fine"), ("../escape", b"pwned")]);
    let image = Image::new(&[&a, &evil]);
    image.serve(&env.fake, "latest");
    let err = env.pull_fails("latest");
    assert!(err.contains(&evil.digest.to_string()), "{err}");
    assert!(err.contains("../escape"), "{err}");
    let outside = env.root().parent().unwrap();
    assert!(!outside.join("escape").exists());
    assert!(!env.root().join("escape").exists());
    assert!(!env.root().join("tmp/escape").exists());
    assert!(!env.names("layers").contains(evil.diff_id.hex()));
    assert!(!env.names("blobs/sha256").contains(evil.digest.hex()));
    assert!(env.names("images").is_empty());
    assert!(env.names("tmp").is_empty());
}

#[test]
fn layer_count_not_matching_diff_ids_is_a_clear_error() {
    let env = env();
    let (a, b) = two_layers();
    let image = Image::with_config(&[&a, &b], config_for(&[&a.diff_id], host_arch()));
    image.serve(&env.fake, "latest");
    let err = env.pull_fails("latest");
    assert!(
        err.contains("the manifest lists 2 layers but the config has 1 diff_ids"),
        "{err}"
    );
    env.assert_clean(&[image.manifest_digest(), image.id()]);
    assert_eq!(env.blob_gets(&a.digest), 0);
}

#[test]
fn schema_1_manifest_is_refused_clearly() {
    let env = env();
    let body = json!({
        "schemaVersion": 1,
        "name": REPO,
        "tag": "old",
        "fsLayers": [{"blobSum": Digest::sha256_of(b"x").to_string()}],
    });
    env.fake.state().manifests.insert(
        format!("{REPO}/old"),
        (
            media::DOCKER_MANIFEST_V1_SIGNED.to_string(),
            serde_json::to_vec(&body).unwrap(),
        ),
    );
    let err = env.pull_fails("old");
    assert!(err.to_lowercase().contains("schema 1"), "{err}");
    env.assert_clean(&[]);
}

#[test]
fn a_layer_already_present_is_not_fetched_again() {
    let env = env();
    let (a, b) = two_layers();
    let first = Image::new(&[&a]);
    first.serve(&env.fake, "first");
    env.pull("first").unwrap();
    assert_eq!(env.blob_gets(&a.digest), 1);

    let second = Image::new(&[&a, &b]);
    second.serve(&env.fake, "second");
    env.fake.state().log.clear();
    env.pull("second").unwrap();
    assert_eq!(env.blob_gets(&a.digest), 0, "shared layer fetched again");
    assert_eq!(env.blob_gets(&b.digest), 1);
    assert_eq!(env.names("layers").len(), 2);
}

/// An index of one image per architecture, served under `multi`.
fn serve_index(env: &Env, arches: &[&str]) -> Vec<Image> {
    let images: Vec<Image> = arches
        .iter()
        .map(|arch| {
            let layer = Layer::new(&[("etc/arch", arch.as_bytes())]);
            Image::with_config(&[&layer], config_for(&[&layer.diff_id], arch))
        })
        .collect();
    let manifests: Vec<serde_json::Value> = images
        .iter()
        .zip(arches)
        .map(|(image, arch)| {
            image.serve(&env.fake, &format!("only-{arch}"));
            json!({
                "mediaType": media::OCI_MANIFEST,
                "digest": image.manifest_digest().to_string(),
                "size": image.manifest.len(),
                "platform": {"os": "linux", "architecture": arch},
            })
        })
        .collect();
    let index = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": media::OCI_INDEX,
        "manifests": manifests,
    }))
    .unwrap();
    env.fake.state().manifests.insert(
        format!("{REPO}/multi"),
        (media::OCI_INDEX.to_string(), index),
    );
    images
}

#[test]
fn index_selects_the_requested_platform() {
    let env = env();
    let images = serve_index(&env, &["amd64", "arm64"]);
    let arm = PlatformSpec {
        os: "linux".into(),
        architecture: "arm64".into(),
        variant: None,
    };
    let outcome = env.pull_with("multi", arm).unwrap();
    assert_eq!(outcome.id, images[1].id());
    let layer = &images[1].layers[0];
    assert_eq!(
        fs::read(env.store.layers.diff_dir(&layer.diff_id).join("etc/arch")).unwrap(),
        b"arm64"
    );
    assert_eq!(env.blob_gets(&images[0].layers[0].digest), 0);
    let record = env.store.record(&outcome.id).unwrap();
    assert_eq!(record.manifest, Some(images[1].manifest_digest()));
    assert_ne!(
        outcome.digest,
        images[1].manifest_digest(),
        "the index digest"
    );
}

#[test]
fn index_without_the_platform_lists_what_it_offers() {
    let env = env();
    serve_index(&env, &["amd64", "arm64"]);
    let s390x = PlatformSpec {
        os: "linux".into(),
        architecture: "s390x".into(),
        variant: None,
    };
    let err = env.pull_with("multi", s390x).unwrap_err().to_string();
    assert!(
        err.contains("no manifest for platform linux/s390x"),
        "{err}"
    );
    assert!(err.contains("linux/amd64, linux/arm64"), "{err}");
    assert!(env.names("layers").is_empty());
    assert!(env.names("images").is_empty());
    assert!(env.names("tmp").is_empty());
}
