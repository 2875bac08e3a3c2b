//! Checks on a fetched manifest before anyone parses it: size cap, media type, schema 1 refusal and
//! digest verification.

use std::io::Read;

use hull_oci::image::media;
use hull_oci::Digest;

use super::error::RegistryError;

/// Largest manifest we accept. Real manifests and indexes are a few KiB; an index listing every
/// platform of a big multi-arch image stays under 100 KiB. 4 MiB leaves ample room while keeping
/// a hostile registry from making us buffer gigabytes.
pub const MAX_MANIFEST_BYTES: u64 = 4 << 20;

/// Content types that say nothing about the manifest, so the JSON `mediaType` decides.
const GENERIC_TYPES: [&str; 5] = [
    "",
    "application/json",
    "text/plain",
    "application/octet-stream",
    "binary/octet-stream",
];

/// Reads at most `limit` bytes of body, failing rather than truncating when there are more.
pub(crate) fn read_capped(
    op: &str,
    resp: ureq::Response,
    limit: u64,
) -> Result<Vec<u8>, RegistryError> {
    let too_large = || RegistryError::TooLarge {
        op: op.to_string(),
        limit,
    };
    let declared = resp
        .header("Content-Length")
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit) {
        return Err(too_large());
    }
    let mut bytes = Vec::new();
    resp.into_reader()
        .take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|source| RegistryError::Read {
            op: op.to_string(),
            source,
        })?;
    if bytes.len() as u64 > limit {
        return Err(too_large());
    }
    Ok(bytes)
}

/// The manifest's media type: the Content-Type header unless it is generic, then the JSON
/// `mediaType`, then a guess from the shape (`manifests` → index, else image manifest).
/// Schema 1, by type or by `schemaVersion`, is refused.
pub(crate) fn media_type(
    reference: &str,
    content_type: &str,
    bytes: &[u8],
) -> Result<String, RegistryError> {
    let json: Option<serde_json::Value> = serde_json::from_slice(bytes).ok();
    let field = |name: &str| json.as_ref().and_then(|j| j.get(name).cloned());
    let header = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let declared = field("mediaType").and_then(|v| v.as_str().map(str::to_string));
    let media_type = if GENERIC_TYPES.contains(&header.as_str()) {
        declared.unwrap_or_else(|| guess_from_shape(field("manifests").is_some()))
    } else {
        header
    };
    let schema_v1 = field("schemaVersion").and_then(|v| v.as_u64()) == Some(1);
    if schema_v1 || is_schema1_type(&media_type) {
        return Err(RegistryError::Schema1 {
            reference: reference.to_string(),
        });
    }
    Ok(media_type)
}

fn is_schema1_type(media_type: &str) -> bool {
    media_type == media::DOCKER_MANIFEST_V1 || media_type == media::DOCKER_MANIFEST_V1_SIGNED
}

fn guess_from_shape(has_manifests: bool) -> String {
    let guess = if has_manifests {
        media::OCI_INDEX
    } else {
        media::OCI_MANIFEST
    };
    guess.to_string()
}

/// Fails unless `bytes` hash to `expected`.
pub(crate) fn verify_digest(
    op: &str,
    expected: &Digest,
    bytes: &[u8],
) -> Result<(), RegistryError> {
    let actual = Digest::sha256_of(bytes);
    if &actual == expected {
        return Ok(());
    }
    Err(RegistryError::DigestMismatch {
        op: op.to_string(),
        expected: expected.to_string(),
        actual: actual.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_type_sources() {
        let index = br#"{"schemaVersion":2,"manifests":[]}"#;
        let typed = br#"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json"}"#;
        let cases = [
            (media::OCI_MANIFEST, &typed[..], media::OCI_MANIFEST),
            ("application/json", &typed[..], media::DOCKER_MANIFEST),
            ("", &index[..], media::OCI_INDEX),
            (
                "text/plain; charset=utf-8",
                br#"{"schemaVersion":2}"#,
                media::OCI_MANIFEST,
            ),
            (
                "Application/Vnd.Oci.Image.Index.v1+json; charset=utf-8",
                &index[..],
                media::OCI_INDEX,
            ),
        ];
        for (header, body, want) in cases {
            assert_eq!(media_type("r", header, body).unwrap(), want, "{header}");
        }
    }

    #[test]
    fn schema1_is_refused_by_type_or_version() {
        let v1 = br#"{"schemaVersion":1,"name":"x","fsLayers":[]}"#;
        let v2 = br#"{"schemaVersion":2}"#;
        let cases = [
            (media::DOCKER_MANIFEST_V1, &v2[..]),
            (media::DOCKER_MANIFEST_V1_SIGNED, &v2[..]),
            ("application/json", &v1[..]),
            (media::DOCKER_MANIFEST, &v1[..]),
        ];
        for (header, body) in cases {
            let err = media_type("localhost:5000/x:y", header, body).unwrap_err();
            assert_eq!(
                err.to_string(),
                "manifest localhost:5000/x:y uses docker schema 1, which is obsolete and not supported"
            );
        }
    }
}
