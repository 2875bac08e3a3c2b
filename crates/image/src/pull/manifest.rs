//! From a reference to the manifest for one platform and its image config: fetched, verified
//! against their digests, parsed and stored.

use std::io::Read;

use hull_oci::image::{media, Compression, ImageConfig, Index, Manifest};
use hull_oci::Digest;

use super::PullError;
use crate::content::VerifyingReader;
use crate::platform::PlatformSpec;
use crate::reference::{Reference, Target};
use crate::registry::Registry;
use crate::store::{Store, StoreError};

/// Manifests and configs are small; anything bigger is hostile or broken.
const MAX_CONFIG_BYTES: u64 = 8 << 20;

/// A manifest resolved for one platform, with the digest the reference resolved to.
pub(super) struct Resolved {
    pub(super) top_digest: Digest,
    pub(super) manifest_digest: Digest,
    pub(super) manifest: Manifest,
}

pub(super) fn resolve(
    store: &Store,
    registry: &Registry,
    reference: &Reference,
    platform: &PlatformSpec,
) -> Result<Resolved, PullError> {
    let target = match reference.target() {
        Target::Tag(t) => t.to_string(),
        Target::Digest(d) => d.to_string(),
    };
    let (top_digest, top) = fetch_manifest(store, registry, reference, &target)?;
    match top {
        Parsed::Manifest(manifest) => Ok(Resolved {
            manifest_digest: top_digest.clone(),
            top_digest,
            manifest,
        }),
        Parsed::Index(index) => {
            let chosen = platform
                .select(&index.manifests)
                .ok_or_else(|| PullError::Platform {
                    reference: reference.familiar(),
                    platform: platform.to_string(),
                    available: available_platforms(&index),
                })?;
            let (digest, child) =
                fetch_manifest(store, registry, reference, &chosen.digest.to_string())?;
            match child {
                Parsed::Manifest(manifest) => Ok(Resolved {
                    top_digest,
                    manifest_digest: digest,
                    manifest,
                }),
                Parsed::Index(_) => Err(manifest_error(reference, "an index nested in an index")),
            }
        }
    }
}

fn available_platforms(index: &Index) -> String {
    let list: Vec<String> = index
        .manifests
        .iter()
        .filter_map(|d| d.platform.as_ref())
        .map(|p| match &p.variant {
            Some(v) => format!("{}/{}/{v}", p.os, p.architecture),
            None => format!("{}/{}", p.os, p.architecture),
        })
        .collect();
    if list.is_empty() {
        "none".to_string()
    } else {
        list.join(", ")
    }
}

enum Parsed {
    Index(Index),
    Manifest(Manifest),
}

fn manifest_error(reference: &Reference, reason: impl Into<String>) -> PullError {
    PullError::Manifest {
        reference: reference.familiar(),
        reason: reason.into(),
    }
}

/// Fetches, verifies, parses and stores one manifest or index.
fn fetch_manifest(
    store: &Store,
    registry: &Registry,
    reference: &Reference,
    target: &str,
) -> Result<(Digest, Parsed), PullError> {
    let fetched = registry.fetch_manifest(reference.path(), target)?;
    let digest = Digest::sha256_of(&fetched.bytes);
    if let Some(claimed) = &fetched.digest {
        if claimed != &digest {
            return Err(manifest_error(
                reference,
                format!("digest mismatch: registry says {claimed}, content hashes to {digest}"),
            ));
        }
    }
    let parsed = parse_manifest(reference, &fetched.media_type, &fetched.bytes)?;
    store
        .content
        .put(&fetched.bytes, Some(&digest))
        .map_err(StoreError::from)?;
    Ok((digest, parsed))
}

fn parse_manifest(
    reference: &Reference,
    media_type: &str,
    bytes: &[u8],
) -> Result<Parsed, PullError> {
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| manifest_error(reference, format!("invalid JSON: {e}")))?;
    let declared = value
        .get("mediaType")
        .and_then(|v| v.as_str())
        .unwrap_or(media_type);
    let kind = if declared == media::OCI_INDEX || declared == media::DOCKER_MANIFEST_LIST {
        "index"
    } else if declared == media::OCI_MANIFEST || declared == media::DOCKER_MANIFEST {
        "manifest"
    } else if value.get("manifests").is_some() {
        "index"
    } else if value.get("layers").is_some() {
        "manifest"
    } else if value.get("schemaVersion").and_then(|v| v.as_u64()) == Some(1) {
        return Err(manifest_error(
            reference,
            "docker schema 1 is obsolete and not supported",
        ));
    } else {
        return Err(manifest_error(
            reference,
            format!("unsupported media type {declared:?}"),
        ));
    };
    let bad = |e: serde_json::Error| manifest_error(reference, format!("malformed {kind}: {e}"));
    if value.get("schemaVersion").and_then(|v| v.as_u64()) != Some(2) {
        return Err(manifest_error(reference, "schemaVersion must be 2"));
    }
    Ok(if kind == "index" {
        Parsed::Index(serde_json::from_value(value).map_err(bad)?)
    } else {
        let m: Manifest = serde_json::from_value(value).map_err(bad)?;
        validate_manifest(reference, &m)?;
        Parsed::Manifest(m)
    })
}

fn validate_manifest(reference: &Reference, m: &Manifest) -> Result<(), PullError> {
    for layer in &m.layers {
        if Compression::of_layer_media_type(&layer.media_type).is_none() {
            return Err(manifest_error(
                reference,
                format!(
                    "layer {} has unsupported media type {:?}",
                    layer.digest, layer.media_type
                ),
            ));
        }
    }
    if m.config.size > MAX_CONFIG_BYTES {
        return Err(manifest_error(reference, "config is larger than 8 MiB"));
    }
    Ok(())
}

pub(super) fn fetch_config(
    store: &Store,
    registry: &Registry,
    reference: &Reference,
    manifest: &Manifest,
) -> Result<ImageConfig, PullError> {
    let desc = &manifest.config;
    if !store.content.contains(&desc.digest) {
        let blob = registry.fetch_blob(reference.path(), &desc.digest)?;
        let mut bytes = Vec::new();
        VerifyingReader::new(blob.reader, desc.digest.clone(), Some(desc.size))
            .take(MAX_CONFIG_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| manifest_error(reference, format!("config {}: {e}", desc.digest)))?;
        store
            .content
            .put(&bytes, Some(&desc.digest))
            .map_err(StoreError::from)?;
    }
    let bytes = store.content.read(&desc.digest).map_err(StoreError::from)?;
    serde_json::from_slice(&bytes)
        .map_err(|e| manifest_error(reference, format!("config {}: invalid: {e}", desc.digest)))
}

pub(super) fn check_layers_match_config(
    reference: &Reference,
    manifest: &Manifest,
    config: &ImageConfig,
) -> Result<(), PullError> {
    let (layers, diffs) = (manifest.layers.len(), config.rootfs.diff_ids.len());
    if layers != diffs {
        return Err(manifest_error(
            reference,
            format!("the manifest lists {layers} layers but the config has {diffs} diff_ids"),
        ));
    }
    Ok(())
}
