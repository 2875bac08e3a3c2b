//! The push side of the registry client: blob existence checks, cross-repository mounts,
//! monolithic and chunked blob uploads, and manifest PUTs (distribution spec, "Pushing").
//!
//! Every request goes through [`Registry::authorized`], so pushes get the same auth (Basic, or a
//! bearer token for `repository:<repo>:push,pull`, plus `repository:<from>:pull` for a mount),
//! the same TLS rules and the same bounded retries as pulls. Bodies are in-memory buffers of at
//! most [`MONOLITHIC_MAX`] bytes, so a retried request resends its body whole.

use hull_oci::Digest;

use super::error::RegistryError;
use super::transport::status_error;
use super::{url, Registry};

/// Blobs up to this size go up in one `PUT`; larger ones in `PATCH` chunks of this size. 8 MiB
/// keeps a chunk's round trip small against its transfer time on a fast link, bounds what one
/// retry resends, and keeps at most two chunks per layer in memory.
pub const MONOLITHIC_MAX: usize = 8 << 20;

/// Times a failed `PATCH` is resumed from the registry's reported offset before giving up.
const MAX_RESUMES: u32 = 3;

/// What the registry said when asked to start a blob upload.
#[derive(Debug)]
pub enum BlobCheck {
    /// The cross-repository mount worked: the blob is now in the target repository.
    Mounted,
    /// Upload the bytes to this session.
    Upload(UploadSession),
}

/// An upload in progress: where to send the next request, and how many bytes the registry holds.
#[derive(Debug, Clone)]
pub struct UploadSession {
    repo: String,
    url: String,
    offset: u64,
}

impl UploadSession {
    pub fn offset(&self) -> u64 {
        self.offset
    }
}

impl Registry {
    /// `repository:<repo>:push,pull`, plus `repository:<from>:pull` when mounting from `from`.
    fn push_scope(repo: &str, from: Option<&str>) -> String {
        match from {
            Some(from) => format!("repository:{repo}:push,pull repository:{from}:pull"),
            None => format!("repository:{repo}:push,pull"),
        }
    }

    /// `scheme://host`, deciding it (and meeting the auth challenge) with a `GET /v2/` first.
    fn push_base(&self, repo: &str) -> Result<String, RegistryError> {
        if let Some(base) = self.base.get() {
            return Ok(base.clone());
        }
        let op = format!("push to {}/{repo}", self.domain);
        let resp = self.get_v2(&self.auth, &op, "/v2/", &[], &Self::push_scope(repo, None))?;
        if !(200..300).contains(&resp.status()) {
            return Err(status_error(&op, resp));
        }
        Ok(self.base.get().cloned().unwrap_or_default())
    }

    /// `HEAD /v2/<repo>/blobs/<digest>`: true when the repository already has the blob.
    pub fn blob_exists(&self, repo: &str, digest: &Digest) -> Result<bool, RegistryError> {
        super::validate_repo(repo)?;
        let base = self.push_base(repo)?;
        let op = format!("check blob {}/{repo}@{digest}", self.domain);
        let url = format!("{base}/v2/{repo}/blobs/{digest}");
        let scope = Self::push_scope(repo, None);
        let resp = self.authorized(&self.auth, &op, "HEAD", url, &[], &scope, &[])?;
        match resp.status() {
            200 => Ok(true),
            404 => Ok(false),
            _ => Err(status_error(&op, resp)),
        }
    }

    /// `POST /v2/<repo>/blobs/uploads/`, asking to mount `digest` from repository `from` when
    /// given. A registry that cannot mount answers with a plain upload session.
    pub fn start_upload(
        &self,
        repo: &str,
        mount: Option<(&Digest, &str)>,
    ) -> Result<BlobCheck, RegistryError> {
        super::validate_repo(repo)?;
        if let Some((_, from)) = mount {
            super::validate_repo(from)?;
        }
        let base = self.push_base(repo)?;
        let op = format!("start upload to {}/{repo}", self.domain);
        let query = mount.map_or_else(String::new, |(digest, from)| {
            format!("?mount={digest}&from={}", super::encode_query_value(from))
        });
        let url = format!("{base}/v2/{repo}/blobs/uploads/{query}");
        let scope = Self::push_scope(repo, mount.map(|(_, from)| from));
        let headers = [("Content-Length", "0".to_string())];
        let resp = self.authorized(&self.auth, &op, "POST", url.clone(), &headers, &scope, &[])?;
        match resp.status() {
            201 if mount.is_some() => Ok(BlobCheck::Mounted),
            202 => Ok(BlobCheck::Upload(UploadSession {
                repo: repo.to_string(),
                url: location(&op, &url, &resp)?,
                offset: 0,
            })),
            _ => Err(status_error(&op, resp)),
        }
    }

    /// Sends `chunk` as the next `PATCH` of the upload. A request that fails (after its own
    /// retries) or is refused as out of range is resumed from the offset the registry reports.
    pub fn patch_chunk(
        &self,
        session: &mut UploadSession,
        chunk: &[u8],
    ) -> Result<(), RegistryError> {
        let op = format!("upload blob chunk to {}/{}", self.domain, session.repo);
        let end = session.offset + chunk.len() as u64;
        let mut resumes = 0;
        while session.offset < end {
            let start = (chunk.len() as u64 - (end - session.offset)) as usize;
            let part = &chunk[start..];
            let outcome = self.patch_once(&op, session, part);
            let retry = match &outcome {
                Ok(()) => return Ok(()),
                Err(e) => {
                    e.is_transient() || matches!(e, RegistryError::Status { status: 416, .. })
                }
            };
            if !retry || resumes >= MAX_RESUMES {
                return outcome;
            }
            resumes += 1;
            let held = self.upload_offset(&op, session)?;
            if held < end - chunk.len() as u64 || held > end {
                return Err(RegistryError::Protocol {
                    op,
                    cause: format!(
                        "the registry holds {held} bytes of the upload, outside the chunk being resent"
                    ),
                });
            }
            session.offset = held;
        }
        Ok(())
    }

    fn patch_once(
        &self,
        op: &str,
        session: &mut UploadSession,
        part: &[u8],
    ) -> Result<(), RegistryError> {
        let last = session.offset + part.len() as u64 - 1;
        let headers = [
            ("Content-Type", "application/octet-stream".to_string()),
            ("Content-Range", format!("{}-{last}", session.offset)),
        ];
        let scope = Self::push_scope(&session.repo, None);
        let url = session.url.clone();
        let resp = self.authorized(&self.auth, op, "PATCH", url.clone(), &headers, &scope, part)?;
        if resp.status() != 202 {
            return Err(status_error(op, resp));
        }
        session.url = location(op, &url, &resp)?;
        session.offset = last + 1;
        Ok(())
    }

    /// `GET <upload url>`: the registry's `Range: 0-<last>` says how many bytes it holds.
    fn upload_offset(&self, op: &str, session: &mut UploadSession) -> Result<u64, RegistryError> {
        let scope = Self::push_scope(&session.repo, None);
        let url = session.url.clone();
        let resp = self.authorized(&self.auth, op, "GET", url.clone(), &[], &scope, &[])?;
        if resp.status() != 204 && resp.status() != 200 {
            return Err(status_error(op, resp));
        }
        let held = resp
            .header("Range")
            .and_then(|r| r.rsplit_once('-'))
            .and_then(|(_, last)| last.trim().parse::<u64>().ok())
            .map_or(0, |last| last + 1);
        if resp.header("Location").is_some() {
            session.url = location(op, &url, &resp)?;
        }
        Ok(held)
    }

    /// Completes the upload with `PUT <url>?digest=<digest>`, carrying `body` (the whole blob for
    /// a monolithic upload, empty after chunks). The registry verifies the digest.
    pub fn finish_upload(
        &self,
        session: UploadSession,
        digest: &Digest,
        body: &[u8],
    ) -> Result<(), RegistryError> {
        let op = format!("push blob {}/{}@{digest}", self.domain, session.repo);
        let url = with_query(&session.url, &format!("digest={digest}"));
        let headers = [("Content-Type", "application/octet-stream".to_string())];
        let scope = Self::push_scope(&session.repo, None);
        let resp = self.authorized(&self.auth, &op, "PUT", url, &headers, &scope, body)?;
        match resp.status() {
            201 | 204 => Ok(()),
            _ => Err(status_error(&op, resp)),
        }
    }

    /// `PUT /v2/<repo>/manifests/<reference>` with `media_type`; checks that the registry's
    /// `Docker-Content-Digest` is the digest of `bytes` and returns it.
    pub fn put_manifest(
        &self,
        repo: &str,
        reference: &str,
        media_type: &str,
        bytes: &[u8],
    ) -> Result<Digest, RegistryError> {
        super::validate_repo(repo)?;
        super::parse_reference(reference)?;
        let base = self.push_base(repo)?;
        let name = self.display_name(repo, reference, reference.contains(':'));
        let op = format!("push manifest {name}");
        let url = format!("{base}/v2/{repo}/manifests/{reference}");
        let headers = [("Content-Type", media_type.to_string())];
        let scope = Self::push_scope(repo, None);
        let resp = self.authorized(&self.auth, &op, "PUT", url, &headers, &scope, bytes)?;
        if resp.status() != 201 && resp.status() != 200 {
            return Err(status_error(&op, resp));
        }
        let ours = Digest::sha256_of(bytes);
        match resp.header("Docker-Content-Digest") {
            Some(theirs) if theirs != ours.to_string() => Err(RegistryError::DigestMismatch {
                op,
                expected: ours.to_string(),
                actual: theirs.to_string(),
            }),
            _ => Ok(ours),
        }
    }
}

/// The absolute URL in a response's `Location`, resolved against the request's `url`.
fn location(op: &str, url: &str, resp: &ureq::Response) -> Result<String, RegistryError> {
    let bad = |cause: String| RegistryError::Protocol {
        op: op.to_string(),
        cause,
    };
    let value = resp
        .header("Location")
        .ok_or_else(|| bad(format!("{} without a Location header", resp.status())))?;
    url::resolve(url, value)
        .filter(|u| url::origin(u).is_some())
        .ok_or_else(|| bad(format!("bad upload location {value:?}")))
}

/// Appends `pair` to `url`'s query, which the registry may already have started.
fn with_query(url: &str, pair: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}{pair}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_is_appended_to_an_existing_one() {
        assert_eq!(
            with_query("http://r/u/1", "digest=d"),
            "http://r/u/1?digest=d"
        );
        assert_eq!(
            with_query("http://r/u/1?_state=x", "digest=d"),
            "http://r/u/1?_state=x&digest=d"
        );
    }

    #[test]
    fn several_scopes_become_several_parameters() {
        let scope = Registry::push_scope("a/b", Some("c/d"));
        let url = super::super::token_url("http://t/token", Some("svc"), Some(&scope));
        assert_eq!(
            url,
            "http://t/token?service=svc&scope=repository%3Aa%2Fb%3Apush%2Cpull&scope=repository%3Ac%2Fd%3Apull"
        );
    }
}
