//! `hull load` and `hull save`: docker-archive (`docker save`) and oci-archive tarballs.
//!
//! Loading never trusts the archive: its members are copied to private temp files by name (no
//! member is ever written to a path it names), every blob is checked against the digest that
//! refers to it, and layers go through the same breakout-safe extractor as pulled layers.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Read, Seek, Write};
use std::path::{Component, Path, PathBuf};

use hull_oci::image::{media, Compression, ImageConfig, Index, Manifest};
use hull_oci::Digest;
use serde::{Deserialize, Serialize};

use crate::content::VerifyingReader;
use crate::fsutil::{remove_any, TempName};
use crate::layers::{LayerMeta, SourceBlob};
use crate::platform::PlatformSpec;
use crate::pull::{decompress, now_rfc3339};
use crate::reference::Reference;
use crate::store::{ImageRecord, LayerRef, Store, StoreError};
use crate::unpack::{pack, unpack, UnpackOptions};

#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("archive: {0}")]
    Invalid(String),
    #[error("archive member {member}: {reason}")]
    Member { member: String, reason: String },
    #[error("archive layer {layer}: {reason}")]
    Layer { layer: String, reason: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{op}: {source}")]
    Io { op: String, source: io::Error },
}

fn io_err(op: impl Into<String>) -> impl FnOnce(io::Error) -> ArchiveError {
    let op = op.into();
    move |source| ArchiveError::Io { op, source }
}

/// An image that `load` added.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub id: Digest,
    pub tags: Vec<Reference>,
}

/// The members of an archive, copied to temp files keyed by their normalized path.
struct Members {
    dir: PathBuf,
    files: BTreeMap<String, PathBuf>,
}

impl Drop for Members {
    fn drop(&mut self) {
        let _ = remove_any(&self.dir);
    }
}

impl Members {
    fn get(&self, name: &str) -> Result<&Path, ArchiveError> {
        let key = normalize(name).ok_or_else(|| ArchiveError::Member {
            member: name.to_string(),
            reason: "path escapes the archive".to_string(),
        })?;
        self.files
            .get(&key)
            .map(PathBuf::as_path)
            .ok_or_else(|| ArchiveError::Member {
                member: name.to_string(),
                reason: "missing from the archive".to_string(),
            })
    }

    fn read_json<T: serde::de::DeserializeOwned>(&self, name: &str) -> Result<T, ArchiveError> {
        let bytes = self.read(name)?;
        serde_json::from_slice(&bytes).map_err(|e| ArchiveError::Member {
            member: name.to_string(),
            reason: format!("invalid JSON: {e}"),
        })
    }

    fn read(&self, name: &str) -> Result<Vec<u8>, ArchiveError> {
        let path = self.get(name)?;
        fs::read(path).map_err(io_err(format!("read archive member {name}")))
    }
}

/// `a/./b/../c` → `a/c`; None for anything that climbs out or is absolute.
fn normalize(name: &str) -> Option<String> {
    let mut parts: Vec<String> = Vec::new();
    for c in Path::new(name).components() {
        match c {
            Component::Normal(p) => parts.push(p.to_string_lossy().into_owned()),
            Component::CurDir => {}
            Component::ParentDir => {
                parts.pop()?;
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}

/// Opens an archive that may be gzip-compressed.
fn open_maybe_gzip<R: Read + 'static>(reader: R) -> io::Result<Box<dyn Read>> {
    let mut buf = BufReader::new(reader);
    let magic = buf.fill_buf()?;
    Ok(if magic.starts_with(&[0x1f, 0x8b]) {
        Box::new(flate2::read::MultiGzDecoder::new(buf))
    } else {
        Box::new(buf)
    })
}

fn copy_members(store: &Store, reader: Box<dyn Read>) -> Result<Members, ArchiveError> {
    let dir = store
        .root()
        .join("tmp")
        .join(TempName::new("load").to_string());
    fs::create_dir_all(&dir).map_err(io_err("create temp dir"))?;
    let mut members = Members {
        dir,
        files: BTreeMap::new(),
    };
    let mut links = Vec::new();
    let mut archive = tar::Archive::new(reader);
    let entries = archive
        .entries()
        .map_err(|e| ArchiveError::Invalid(format!("not a tar archive: {e}")))?;
    for (n, entry) in entries.enumerate() {
        let mut entry = entry.map_err(|e| ArchiveError::Invalid(format!("corrupt tar: {e}")))?;
        let raw = entry
            .path()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        let Some(name) = normalize(&raw) else {
            continue;
        };
        let kind = entry.header().entry_type();
        if kind.is_file() {
            let path = members.dir.join(n.to_string());
            let mut f = File::create(&path).map_err(io_err("create temp file"))?;
            io::copy(&mut entry, &mut f).map_err(|e| ArchiveError::Member {
                member: raw.clone(),
                reason: e.to_string(),
            })?;
            members.files.insert(name, path);
        } else if kind.is_symlink() || kind.is_hard_link() {
            if let Ok(Some(target)) = entry.link_name() {
                let target = target.to_string_lossy().into_owned();
                let base = if kind.is_symlink() {
                    Path::new(&name).parent().map(|p| p.join(&target))
                } else {
                    Some(PathBuf::from(&target))
                };
                links.push((name, base.map(|b| b.to_string_lossy().into_owned())));
            }
        }
    }
    // `docker save` of old versions links duplicate layers to one copy.
    for (name, target) in links {
        if let Some(path) = target
            .and_then(|t| normalize(&t))
            .and_then(|t| members.files.get(&t).cloned())
        {
            members.files.insert(name, path);
        }
    }
    Ok(members)
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DockerManifestEntry {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

/// A source of one layer inside the archive.
struct LayerSource {
    member: String,
    /// The descriptor's digest for OCI layouts; docker-archive names only paths.
    digest: Option<Digest>,
    media_type: Option<String>,
}

/// Loads every image in a docker-archive or oci-archive (gzip or not).
pub fn load<R: Read + 'static>(store: &Store, reader: R) -> Result<Vec<Loaded>, ArchiveError> {
    let _gc = store.gc_shared()?;
    let reader = open_maybe_gzip(reader).map_err(io_err("read archive"))?;
    let members = copy_members(store, reader)?;
    if members.files.contains_key("manifest.json") {
        load_docker(store, &members)
    } else if members.files.contains_key("index.json") {
        load_oci(store, &members)
    } else {
        Err(ArchiveError::Invalid(
            "neither manifest.json (docker-archive) nor index.json (oci-archive) found".into(),
        ))
    }
}

fn load_docker(store: &Store, members: &Members) -> Result<Vec<Loaded>, ArchiveError> {
    let entries: Vec<DockerManifestEntry> = members.read_json("manifest.json")?;
    let mut out = Vec::new();
    for entry in entries {
        let config_bytes = members.read(&entry.config)?;
        let layers = entry
            .layers
            .iter()
            .map(|l| LayerSource {
                member: l.clone(),
                digest: None,
                media_type: None,
            })
            .collect();
        let tags = parse_tags(entry.repo_tags.unwrap_or_default())?;
        out.push(import(store, members, &config_bytes, None, layers, tags)?);
    }
    Ok(out)
}

fn parse_tags(tags: Vec<String>) -> Result<Vec<Reference>, ArchiveError> {
    tags.iter()
        .map(|t| {
            Reference::parse_with_default_tag(t)
                .map_err(|e| ArchiveError::Invalid(format!("repo tag: {e}")))
        })
        .collect()
}

fn blob_member(d: &Digest) -> String {
    format!("blobs/sha256/{}", d.hex())
}

fn load_oci(store: &Store, members: &Members) -> Result<Vec<Loaded>, ArchiveError> {
    let index: Index = members.read_json("index.json")?;
    let mut out = Vec::new();
    for desc in &index.manifests {
        let tags = oci_ref_name(&desc.annotations).into_iter().collect();
        let (manifest_digest, manifest) = resolve_oci_manifest(members, &desc.digest)?;
        let config_bytes = verified_member(members, &manifest.config.digest)?;
        let layers = manifest
            .layers
            .iter()
            .map(|l| LayerSource {
                member: blob_member(&l.digest),
                digest: Some(l.digest.clone()),
                media_type: Some(l.media_type.clone()),
            })
            .collect();
        let manifest_bytes = members.read(&blob_member(&manifest_digest))?;
        store
            .content
            .put(&manifest_bytes, Some(&manifest_digest))
            .map_err(StoreError::from)?;
        out.push(import(
            store,
            members,
            &config_bytes,
            Some(manifest_digest),
            layers,
            tags,
        )?);
    }
    Ok(out)
}

/// The image name an OCI layout gives a manifest: containerd's full name, else the ref name
/// when it is a whole reference (a bare tag like `latest` names no repository).
fn oci_ref_name(annotations: &BTreeMap<String, String>) -> Option<Reference> {
    let full = annotations.get("io.containerd.image.name");
    let short = annotations.get("org.opencontainers.image.ref.name");
    full.or(short).and_then(|n| {
        let looks_whole = n.contains('/') || n.contains(':');
        looks_whole
            .then(|| Reference::parse_with_default_tag(n).ok())
            .flatten()
    })
}

fn verified_member(members: &Members, digest: &Digest) -> Result<Vec<u8>, ArchiveError> {
    let bytes = members.read(&blob_member(digest))?;
    let actual = Digest::sha256_of(&bytes);
    if &actual != digest {
        return Err(ArchiveError::Member {
            member: blob_member(digest),
            reason: format!("digest mismatch: content hashes to {actual}"),
        });
    }
    Ok(bytes)
}

/// Follows an index entry to a platform manifest (choosing the host's platform in a nested index).
fn resolve_oci_manifest(
    members: &Members,
    digest: &Digest,
) -> Result<(Digest, Manifest), ArchiveError> {
    let bytes = verified_member(members, digest)?;
    let value: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| ArchiveError::Invalid(format!("manifest {digest}: {e}")))?;
    let media = value
        .get("mediaType")
        .and_then(|m| m.as_str())
        .unwrap_or("");
    if value.get("manifests").is_some()
        || media == media::OCI_INDEX
        || media == media::DOCKER_MANIFEST_LIST
    {
        let index: Index = serde_json::from_value(value)
            .map_err(|e| ArchiveError::Invalid(format!("index {digest}: {e}")))?;
        let chosen = PlatformSpec::host()
            .select(&index.manifests)
            .ok_or_else(|| {
                ArchiveError::Invalid(format!(
                    "index {digest} has no manifest for {}",
                    PlatformSpec::host()
                ))
            })?;
        return resolve_oci_manifest(members, &chosen.digest);
    }
    let manifest: Manifest = serde_json::from_value(value)
        .map_err(|e| ArchiveError::Invalid(format!("manifest {digest}: {e}")))?;
    Ok((digest.clone(), manifest))
}

fn import(
    store: &Store,
    members: &Members,
    config_bytes: &[u8],
    manifest: Option<Digest>,
    layers: Vec<LayerSource>,
    tags: Vec<Reference>,
) -> Result<Loaded, ArchiveError> {
    let config: ImageConfig = serde_json::from_slice(config_bytes)
        .map_err(|e| ArchiveError::Invalid(format!("image config: {e}")))?;
    if config.rootfs.diff_ids.len() != layers.len() {
        return Err(ArchiveError::Invalid(format!(
            "the image lists {} layers but its config has {} diff_ids",
            layers.len(),
            config.rootfs.diff_ids.len()
        )));
    }
    let id = store
        .content
        .put(config_bytes, None)
        .map_err(StoreError::from)?;
    let mut refs = Vec::new();
    let mut size = 0;
    for (source, diff_id) in layers.iter().zip(&config.rootfs.diff_ids) {
        let (layer, bytes) = import_layer(store, members, source, diff_id)?;
        size += bytes;
        refs.push(layer);
    }
    let record = ImageRecord {
        id: id.clone(),
        repo_digests: Vec::new(),
        manifest,
        layers: refs,
        size,
        added: now_rfc3339(),
    };
    store.add_image(record, &tags)?;
    Ok(Loaded { id, tags })
}

/// Stores the layer's blob and unpacks it (unless the layer is already present).
fn import_layer(
    store: &Store,
    members: &Members,
    source: &LayerSource,
    diff_id: &Digest,
) -> Result<(LayerRef, u64), ArchiveError> {
    let fail = |reason: String| ArchiveError::Layer {
        layer: source.member.clone(),
        reason,
    };
    let path = members.get(&source.member)?;
    let blob = digest_file(path).map_err(|e| fail(e.to_string()))?;
    if let Some(expected) = &source.digest {
        if expected != &blob {
            return Err(fail(format!(
                "digest mismatch: expected {expected}, content hashes to {blob}"
            )));
        }
    }
    let compression = sniff_compression(path).map_err(|e| fail(e.to_string()))?;
    let media_type = source
        .media_type
        .clone()
        .unwrap_or_else(|| media_type_for(compression).to_string());
    let blob_size = fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    if !store.content.contains(&blob) {
        let mut ingest = store
            .content
            .ingest(&blob, Some(blob_size))
            .map_err(StoreError::from)?;
        io::copy(
            &mut File::open(path).map_err(|e| fail(e.to_string()))?,
            &mut ingest,
        )
        .map_err(|e| fail(e.to_string()))?;
        ingest.commit().map_err(StoreError::from)?;
    }
    let size = match store.layers.meta(diff_id) {
        Ok(meta) => meta.size,
        Err(_) => unpack_layer(store, path, compression, diff_id, &blob, &media_type)
            .map_err(|e| fail(e.to_string()))?,
    };
    Ok((
        LayerRef {
            diff_id: diff_id.clone(),
            blob: Some(blob),
            media_type,
            blob_size,
        },
        size,
    ))
}

fn unpack_layer(
    store: &Store,
    path: &Path,
    compression: Compression,
    diff_id: &Digest,
    blob: &Digest,
    media_type: &str,
) -> io::Result<u64> {
    let writer = store.layers.begin().map_err(io::Error::other)?;
    let file = BufReader::with_capacity(256 << 10, File::open(path)?);
    let mut verified = VerifyingReader::new(decompress(file, compression)?, diff_id.clone(), None);
    let opts = UnpackOptions {
        chown: rustix::process::geteuid().is_root(),
    };
    let stats = unpack(&mut verified, &writer.diff_dir(), &opts)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
    io::copy(&mut verified, &mut io::sink())?;
    let meta = LayerMeta {
        diff_id: diff_id.clone(),
        source: Some(SourceBlob {
            digest: blob.clone(),
            media_type: media_type.to_string(),
        }),
        size: stats.bytes,
    };
    store
        .layers
        .commit(writer, &meta)
        .map_err(io::Error::other)?;
    Ok(stats.bytes)
}

fn digest_file(path: &Path) -> io::Result<Digest> {
    use sha2::Digest as _;
    let mut hasher = sha2::Sha256::new();
    let mut f = File::open(path)?;
    let mut buf = vec![0u8; 256 << 10];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(Digest::from_sha256_bytes(&hasher.finalize()))
}

/// docker-archive layers carry no media type; their first bytes tell.
fn sniff_compression(path: &Path) -> io::Result<Compression> {
    let mut magic = [0u8; 4];
    let mut f = File::open(path)?;
    let n = f.read(&mut magic)?;
    Ok(match &magic[..n] {
        [0x1f, 0x8b, ..] => Compression::Gzip,
        [0x28, 0xb5, 0x2f, 0xfd] => Compression::Zstd,
        _ => Compression::None,
    })
}

fn media_type_for(c: Compression) -> &'static str {
    match c {
        Compression::None => media::OCI_LAYER,
        Compression::Gzip => media::DOCKER_LAYER_GZIP,
        Compression::Zstd => media::OCI_LAYER_ZSTD,
    }
}

/// The images `save NAME…` writes, with the tags to record for each: a name that is one of its
/// image's tags saves that tag; an ID saves every tag of the image.
pub fn select(
    store: &Store,
    names: &[String],
) -> Result<Vec<(ImageRecord, Vec<Reference>)>, StoreError> {
    let tags = store.tags_by_image()?;
    let mut images = Vec::new();
    for name in names {
        let record = store.resolve(name)?;
        let named = Reference::parse_with_default_tag(name)
            .ok()
            .filter(|r| tags.get(&record.id).is_some_and(|t| t.contains(r)));
        let refs = match named {
            Some(r) => vec![r],
            None => tags.get(&record.id).cloned().unwrap_or_default(),
        };
        images.push((record, refs));
    }
    Ok(images)
}

/// Writes `images` (with the tags to record for each) as one docker-archive. Each layer is the
/// original uncompressed tar, so it hashes to the diff ID in the config, as `docker load` checks.
pub fn save<W: Write>(
    store: &Store,
    images: &[(ImageRecord, Vec<Reference>)],
    out: W,
) -> Result<W, ArchiveError> {
    let mut builder = tar::Builder::new(out);
    let mut manifest = Vec::new();
    let mut written = std::collections::BTreeSet::new();
    for (record, tags) in images {
        let config_name = format!("{}.json", record.id.hex());
        if written.insert(config_name.clone()) {
            let bytes = store.content.read(&record.id).map_err(StoreError::from)?;
            append_bytes(&mut builder, &config_name, &bytes)?;
        }
        let mut layers = Vec::new();
        for layer in &record.layers {
            let name = format!("{}/layer.tar", layer.diff_id.hex());
            if written.insert(name.clone()) {
                append_layer(store, &mut builder, &name, &layer.diff_id)?;
            }
            layers.push(name);
        }
        manifest.push(DockerManifestEntry {
            config: config_name,
            repo_tags: Some(tags.iter().map(|t| t.familiar()).collect()),
            layers,
        });
    }
    let json = serde_json::to_vec(&manifest).map_err(|e| ArchiveError::Invalid(e.to_string()))?;
    append_bytes(&mut builder, "manifest.json", &json)?;
    builder.into_inner().map_err(io_err("write archive"))
}

fn header(name: &str, size: u64) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    h.set_size(size);
    h.set_mode(0o644);
    h.set_mtime(0);
    h.set_entry_type(tar::EntryType::Regular);
    let _ = name;
    h
}

fn append_bytes<W: Write>(
    b: &mut tar::Builder<W>,
    name: &str,
    bytes: &[u8],
) -> Result<(), ArchiveError> {
    let mut h = header(name, bytes.len() as u64);
    b.append_data(&mut h, name, bytes)
        .map_err(io_err(format!("write {name}")))
}

/// Spools the uncompressed layer to a temp file (a tar member needs its size up front), then
/// appends it. Without a stored source blob the layer directory is re-packed.
fn append_layer<W: Write>(
    store: &Store,
    b: &mut tar::Builder<W>,
    name: &str,
    diff_id: &Digest,
) -> Result<(), ArchiveError> {
    let fail = |e: io::Error| ArchiveError::Layer {
        layer: diff_id.to_string(),
        reason: e.to_string(),
    };
    let spool_path = store
        .root()
        .join("tmp")
        .join(TempName::new("save").to_string());
    let mut spool = tempfile_at(&spool_path).map_err(fail)?;
    let meta = store.layers.meta(diff_id).map_err(StoreError::from)?;
    match meta.source {
        Some(src) if store.content.contains(&src.digest) => {
            let blob = store
                .content
                .open_blob(&src.digest)
                .map_err(StoreError::from)?;
            let compression =
                Compression::of_layer_media_type(&src.media_type).unwrap_or(Compression::Gzip);
            let mut reader = decompress(BufReader::new(blob), compression).map_err(fail)?;
            io::copy(&mut reader, &mut spool).map_err(fail)?;
        }
        _ => {
            pack(&store.layers.diff_dir(diff_id), &mut spool)
                .map_err(|e| fail(io::Error::other(e.to_string())))?;
        }
    }
    let size = spool.stream_position().map_err(fail)?;
    spool.rewind().map_err(fail)?;
    let mut h = header(name, size);
    let result = b
        .append_data(&mut h, name, &mut spool)
        .map_err(io_err(format!("write {name}")));
    let _ = fs::remove_file(&spool_path);
    result
}

fn tempfile_at(path: &Path) -> io::Result<File> {
    fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_refuses_escapes() {
        assert_eq!(normalize("a/./b/../c").as_deref(), Some("a/c"));
        assert_eq!(normalize("../x"), None);
        assert_eq!(normalize("/abs"), None);
        assert_eq!(
            normalize("./manifest.json").as_deref(),
            Some("manifest.json")
        );
    }

    #[test]
    fn oci_names_need_a_repository() {
        let mut a = BTreeMap::new();
        a.insert(
            "org.opencontainers.image.ref.name".to_string(),
            "latest".to_string(),
        );
        assert!(oci_ref_name(&a).is_none());
        a.insert(
            "io.containerd.image.name".to_string(),
            "docker.io/library/x:1".to_string(),
        );
        assert_eq!(
            oci_ref_name(&a).unwrap().to_string(),
            "docker.io/library/x:1"
        );
    }
}
