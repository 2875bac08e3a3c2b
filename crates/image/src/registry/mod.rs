//! Registry client for the OCI distribution spec (Docker Registry HTTP API v2), blocking.
//!
//! One [`Registry`] per registry host, shared by every thread of a pull: it caches bearer tokens
//! per scope, so the layer threads reuse the token the manifest fetch earned.
//!
//! ```no_run
//! # use hull_image::registry::*;
//! # use std::io::Read;
//! let config = RegistryConfig::default();
//! let registry = Registry::new("localhost:5000", &config)?;
//! let manifest = registry.fetch_manifest("library/busybox", "latest")?;
//! # let layer: hull_oci::Digest = "sha256:0000000000000000000000000000000000000000000000000000000000000000".parse().unwrap();
//! let mut blob = registry.fetch_blob("library/busybox", &layer)?;
//! std::io::copy(&mut blob.reader, &mut std::io::sink()).unwrap(); // really: verify + unpack
//! # Ok::<(), RegistryError>(())
//! ```
//!
//! What the client guarantees and what it leaves to the caller:
//! - Manifests are size-capped ([`MAX_MANIFEST_BYTES`]), schema 1 is refused, and a manifest
//!   fetched by digest is verified against it.
//! - Blob bodies are streamed unverified. A body cut short of its `Content-Length` (or of its final
//!   chunk) makes a read fail with `UnexpectedEof`; a body with neither (close-delimited) just ends,
//!   and the caller's size and digest check catches it. Verifying size and digest is the caller's
//!   job in both cases.
//! - Retries cover manifest fetches, token fetches and blob fetches up to their response headers;
//!   a body that breaks mid-stream is not resumed.
//! - Pushing (`upload.rs`): blob HEAD, mount, monolithic and chunked uploads, manifest PUT, with
//!   the same auth, TLS and retries; request bodies are buffers, resent whole on a retry.
//!
//! Known gaps:
//! - `identitytoken` (OAuth2 refresh tokens) in config.json is preserved but not used, and a
//!   credential helper answering with the `<token>` username is passed on as Basic credentials.
//! - `DockerConfig::set` always stores inline in `auths`, even when `credsStore` names a helper.
//! - No client certificates (`certs.d/<host>/client.cert` + `client.key`), no HTTP(S)_PROXY, no
//!   `Retry-After`, no token `expires_in` (an expired token is refreshed on its 401 instead).
//! - A blob body that breaks mid-stream is not resumed with a Range request.

mod auth;
mod credentials;
mod endpoint;
mod error;
mod fetch_url;
mod manifest;
mod tls;
mod transport;
mod upload;
mod url;

#[cfg(test)]
pub(crate) mod fake;
#[cfg(test)]
pub(crate) mod fake_push;
#[cfg(test)]
mod tests;

use std::path::PathBuf;
use std::time::Duration;

use hull_oci::image::media;
use hull_oci::Digest;

use auth::{AuthState, BearerParams, Challenge, Credentials};
use transport::{status_error, Request, Transport};

pub use credentials::{DockerConfig, DOCKER_HUB_KEY};
pub use error::{ErrorKind, RegistryError};
pub use fetch_url::fetch_url;
pub use manifest::MAX_MANIFEST_BYTES;
pub use upload::{BlobCheck, UploadSession, MONOLITHIC_MAX};

/// Token-service answers are a few hundred bytes; this only bounds a hostile one.
const MAX_TOKEN_BODY: u64 = 1 << 20;

#[derive(Debug, Clone)]
pub struct RegistryConfig {
    /// Directories holding `<host[:port]>/*.crt` CA files, e.g. `/etc/docker/certs.d`.
    pub certs_dirs: Vec<PathBuf>,
    /// `host[:port]` entries allowed to use plain HTTP (loopback hosts always may).
    pub insecure: Vec<String>,
    pub credentials: Option<DockerConfig>,
    pub user_agent: String,
    /// Attempts in all for a request that fails transiently (5xx, 429, reset, timeout).
    pub max_attempts: u32,
}

impl Default for RegistryConfig {
    fn default() -> Self {
        RegistryConfig {
            certs_dirs: vec![
                PathBuf::from("/etc/docker/certs.d"),
                PathBuf::from("/etc/containers/certs.d"),
            ],
            insecure: Vec::new(),
            credentials: None,
            user_agent: format!("hull/{}", env!("CARGO_PKG_VERSION")),
            max_attempts: 4,
        }
    }
}

#[derive(Debug, Clone)]
pub struct FetchedManifest {
    pub bytes: Vec<u8>,
    pub media_type: String,
    /// The `Docker-Content-Digest` header, when the registry sent a sha256 one (checked against
    /// the bytes).
    pub digest: Option<Digest>,
}

/// A blob body being downloaded. Reading it is the download; see the module docs for how a
/// truncated body shows up.
pub struct BlobStream {
    pub reader: Box<dyn std::io::Read + Send>,
    /// `Content-Length`, when the registry sent one.
    pub length: Option<u64>,
}

impl std::fmt::Debug for BlobStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobStream")
            .field("length", &self.length)
            .finish()
    }
}

pub struct Registry {
    /// The reference domain as given ("docker.io"), for messages and credentials.
    domain: String,
    /// The API host, `host[:port]`.
    host: String,
    /// May this registry be reached over plain HTTP (loopback, or listed insecure)?
    http_allowed: bool,
    /// `scheme://api-host`, without a trailing slash; decided on first use (see [`Registry::base`]).
    base: std::sync::OnceLock<String>,
    transport: Transport,
    auth: AuthState,
}

impl Registry {
    /// Prepares a client for `domain` ("docker.io", "localhost:5000", "quay.io"...). Loads the
    /// TLS roots and looks up credentials; contacts nothing.
    pub fn new(domain: &str, config: &RegistryConfig) -> Result<Registry, RegistryError> {
        endpoint::validate_domain(domain)?;
        let host = endpoint::api_host(domain);
        let scheme = endpoint::scheme_for(host, &config.insecure);
        let tls = tls::client_config(host, &config.certs_dirs)?;
        let credentials = config.credentials.as_ref().and_then(|c| c.get(domain));
        let credentials =
            credentials.map(|(username, password)| Credentials { username, password });
        Ok(Registry {
            domain: domain.to_string(),
            host: host.to_string(),
            http_allowed: scheme == endpoint::Scheme::Http,
            base: std::sync::OnceLock::new(),
            transport: Transport::new(tls, &config.user_agent, config.max_attempts),
            auth: AuthState::new(credentials),
        })
    }

    /// GETs `path` (from `/v2/` on) on the registry. A registry that may use plain HTTP
    /// (loopback, or listed insecure) is asked over HTTP first; when it answers 400 or the
    /// connection breaks, it speaks TLS only (Go's and nginx's TLS servers answer plaintext with
    /// 400), and HTTPS is used from then on, so a loopback registry with TLS gets its certificate
    /// checked. A TLS-only server never answers 401 to plaintext, so no credentials leak.
    fn get_v2(
        &self,
        auth: &AuthState,
        op: &str,
        path: &str,
        headers: &[(&'static str, String)],
        scope: &str,
    ) -> Result<ureq::Response, RegistryError> {
        if let Some(base) = self.base.get() {
            return self.get_authorized(auth, op, format!("{base}{path}"), headers, scope);
        }
        let https = format!("https://{}", self.host);
        if !self.http_allowed {
            let _ = self.base.set(https.clone());
            return self.get_authorized(auth, op, format!("{https}{path}"), headers, scope);
        }
        let http = format!("http://{}", self.host);
        let plain = self.get_authorized(auth, op, format!("{http}{path}"), headers, scope);
        let tls_only = match &plain {
            Ok(resp) => resp.status() == 400,
            Err(e) => e.kind() == ErrorKind::Network,
        };
        if tls_only {
            let _ = self.base.set(https.clone());
            return self.get_authorized(auth, op, format!("{https}{path}"), headers, scope);
        }
        let _ = self.base.set(http);
        plain
    }

    /// True while talking plain HTTP: decided, or still undecided for an HTTP-allowed registry
    /// (whose first request goes over HTTP).
    fn is_plain_http(&self) -> bool {
        self.base
            .get()
            .map_or(self.http_allowed, |b| b.starts_with("http://"))
    }

    /// Sets the delay before the first retry (doubled before each further one); 200 ms by default.
    pub fn with_retry_delay(mut self, delay: Duration) -> Registry {
        self.transport.retry_delay = delay;
        self
    }

    /// Fetches a manifest or index by tag or digest, refusing schema 1 and verifying digests.
    pub fn fetch_manifest(
        &self,
        repo: &str,
        reference: &str,
    ) -> Result<FetchedManifest, RegistryError> {
        validate_repo(repo)?;
        let pinned = parse_reference(reference)?;
        let name = self.display_name(repo, reference, pinned.is_some());
        let op = format!("fetch manifest {name}");
        let path = format!("/v2/{repo}/manifests/{reference}");
        let headers = [("Accept", media::ACCEPTED_MANIFESTS.join(", "))];
        let resp = self.get_v2(&self.auth, &op, &path, &headers, &pull_scope(repo))?;
        if resp.status() != 200 {
            return Err(status_error(&op, resp));
        }
        let content_type = resp.header("Content-Type").unwrap_or("").to_string();
        let header_digest = resp
            .header("Docker-Content-Digest")
            .and_then(|d| d.parse().ok());
        let bytes = manifest::read_capped(&op, resp, MAX_MANIFEST_BYTES)?;
        let media_type = manifest::media_type(&name, &content_type, &bytes)?;
        for expected in pinned.iter().chain(header_digest.iter()) {
            manifest::verify_digest(&op, expected, &bytes)?;
        }
        Ok(FetchedManifest {
            bytes,
            media_type,
            digest: header_digest,
        })
    }

    /// Starts downloading a blob. The body is not verified here: see the module docs.
    pub fn fetch_blob(&self, repo: &str, digest: &Digest) -> Result<BlobStream, RegistryError> {
        validate_repo(repo)?;
        let op = format!("fetch blob {}/{repo}@{digest}", self.domain);
        let path = format!("/v2/{repo}/blobs/{digest}");
        // Blobs are already compressed; asking for identity keeps the body byte-for-byte what
        // the digest covers (ureq would otherwise gunzip a gzip Content-Encoding).
        let headers = [("Accept-Encoding", "identity".to_string())];
        let resp = self.get_v2(&self.auth, &op, &path, &headers, &pull_scope(repo))?;
        if resp.status() != 200 {
            return Err(status_error(&op, resp));
        }
        let encoded = resp
            .header("Content-Encoding")
            .is_some_and(|e| !e.eq_ignore_ascii_case("identity"));
        let length = resp.header("Content-Length").and_then(|v| v.parse().ok());
        Ok(BlobStream {
            length: length.filter(|_| !encoded),
            reader: Box::new(resp.into_reader()),
        })
    }

    /// GET /v2/ with these credentials, as `hull login` does before saving them. A registry that
    /// needs no authentication accepts any credentials, as with Docker.
    pub fn check_login(&self, username: &str, password: &str) -> Result<(), RegistryError> {
        let auth = AuthState::new(Some(Credentials {
            username: username.to_string(),
            password: password.to_string(),
        }));
        let op = format!("log in to {}", self.domain);
        let path = "/v2/";
        let resp = self.get_v2(&auth, &op, path, &[], "")?;
        if !(200..300).contains(&resp.status()) {
            return Err(status_error(&op, resp));
        }
        Ok(())
    }

    /// `domain/repo:tag` or `domain/repo@digest`, as users wrote it.
    fn display_name(&self, repo: &str, reference: &str, is_digest: bool) -> String {
        let separator = if is_digest { '@' } else { ':' };
        format!("{}/{repo}{separator}{reference}", self.domain)
    }

    /// GETs `url` with whatever authorization the registry wants: anonymous, or the scheme of the
    /// last challenge, answering one fresh 401 by fetching a token or sending Basic credentials.
    fn get_authorized(
        &self,
        auth: &AuthState,
        op: &str,
        url: String,
        headers: &[(&'static str, String)],
        scope: &str,
    ) -> Result<ureq::Response, RegistryError> {
        self.authorized(auth, op, "GET", url, headers, scope, &[])
    }

    /// Sends `method` to `url` as [`Registry::get_authorized`] does; GETs follow redirects,
    /// other methods carry `body` (resent whole on a retry or after a 401).
    #[allow(clippy::too_many_arguments)]
    fn authorized(
        &self,
        auth: &AuthState,
        op: &str,
        method: &str,
        url: String,
        headers: &[(&'static str, String)],
        scope: &str,
        body: &[u8],
    ) -> Result<ureq::Response, RegistryError> {
        let sent = self.authorization_for(auth, scope)?;
        let mut request = Request {
            op,
            url,
            headers,
            authorization: sent.clone(),
        };
        let send = |request: &Request| match method {
            "GET" => self.transport.get(request),
            _ => self.transport.send(method, request, body),
        };
        let resp = send(&request)?;
        if resp.status() != 401 {
            return Ok(resp);
        }
        let Some(challenge) = challenge_of(&resp) else {
            return Err(self.unauthorized(auth, op, resp));
        };
        auth.remember_challenge(challenge.clone());
        let fresh = self.answer_challenge(auth, op, &challenge, scope, sent.as_deref(), resp)?;
        request.authorization = Some(fresh);
        let resp = send(&request)?;
        if resp.status() == 401 {
            return Err(self.unauthorized(auth, op, resp));
        }
        Ok(resp)
    }

    /// The Authorization header to send before any 401, from what the registry asked last time.
    fn authorization_for(
        &self,
        auth: &AuthState,
        scope: &str,
    ) -> Result<Option<String>, RegistryError> {
        match auth.challenge() {
            None => Ok(None),
            Some(Challenge::Basic) => Ok(auth.basic()),
            Some(Challenge::Bearer(params)) => match auth.cached_token(scope) {
                Some(token) => Ok(Some(bearer_header(&token))),
                None => self.token(auth, &params, scope, None).map(Some),
            },
        }
    }

    /// The Authorization header answering `challenge`, given what we `sent` and got 401 for.
    fn answer_challenge(
        &self,
        auth: &AuthState,
        op: &str,
        challenge: &Challenge,
        scope: &str,
        sent: Option<&str>,
        resp: ureq::Response,
    ) -> Result<String, RegistryError> {
        match challenge {
            Challenge::Basic => match auth.basic() {
                Some(basic) if sent != Some(basic.as_str()) => Ok(basic),
                _ => Err(self.unauthorized(auth, op, resp)),
            },
            Challenge::Bearer(params) => {
                let stale = sent.and_then(|s| s.strip_prefix("Bearer "));
                self.token(auth, params, scope, stale)
            }
        }
    }

    /// A bearer header for `scope`: the cached token unless it is `stale`, else a new one.
    /// Serialized by `fetch_lock` so concurrent threads share one token fetch.
    fn token(
        &self,
        auth: &AuthState,
        params: &BearerParams,
        scope: &str,
        stale: Option<&str>,
    ) -> Result<String, RegistryError> {
        let _one_fetch_at_a_time = auth::lock(&auth.fetch_lock);
        if let Some(token) = auth.cached_token(scope) {
            if Some(token.as_str()) != stale {
                return Ok(bearer_header(&token));
            }
        }
        let token = self.request_token(auth, params, scope)?;
        auth.store_token(scope, token.clone());
        Ok(bearer_header(&token))
    }

    /// Asks the challenge's realm for a token, with Basic credentials when we have them.
    fn request_token(
        &self,
        auth: &AuthState,
        params: &BearerParams,
        scope: &str,
    ) -> Result<String, RegistryError> {
        let op = format!("authenticate to {}", self.domain);
        let scope = Some(scope)
            .filter(|s| !s.is_empty())
            .or(params.scope.as_deref());
        let request = Request {
            op: &op,
            url: token_url(&params.realm, params.service.as_deref(), scope),
            headers: &[],
            authorization: auth
                .basic()
                .filter(|_| may_send_credentials(self.is_plain_http(), &params.realm)),
        };
        let resp = self.transport.get(&request)?;
        match resp.status() {
            200 => {}
            401 | 403 => return Err(self.unauthorized(auth, &op, resp)),
            _ => return Err(status_error(&op, resp)),
        }
        let body = manifest::read_capped(&op, resp, MAX_TOKEN_BODY)?;
        auth::token_from_json(&body).ok_or_else(|| RegistryError::Protocol {
            op,
            cause: "token service answered without a token".to_string(),
        })
    }

    /// The error for a final 401/403: "log in first" without credentials, else a refusal that
    /// carries the registry's message.
    fn unauthorized(&self, auth: &AuthState, op: &str, resp: ureq::Response) -> RegistryError {
        let status = resp.status();
        if auth.credentials.is_none() && status == 401 {
            return RegistryError::AuthRequired {
                op: op.to_string(),
                host: self.domain.clone(),
            };
        }
        RegistryError::Auth {
            host: self.domain.clone(),
            status,
            message: transport::error_message(resp),
        }
    }
}

fn challenge_of(resp: &ureq::Response) -> Option<Challenge> {
    resp.all("WWW-Authenticate")
        .into_iter()
        .find_map(auth::parse_challenge)
}

/// Credentials go to a token realm over TLS, or in the clear only when the registry itself is
/// plain HTTP (loopback or user-listed insecure): a challenge must not be able to downgrade an
/// HTTPS registry's password to cleartext.
fn may_send_credentials(registry_is_plain_http: bool, realm: &str) -> bool {
    realm.starts_with("https://") || registry_is_plain_http
}

fn bearer_header(token: &str) -> String {
    format!("Bearer {token}")
}

fn pull_scope(repo: &str) -> String {
    format!("repository:{repo}:pull")
}

/// `realm?service=..&scope=..`, keeping any query the realm already has.
fn token_url(realm: &str, service: Option<&str>, scope: Option<&str>) -> String {
    // Several scopes (push to one repository, pull from another for a mount) are separate
    // `scope` parameters, as the token spec has them.
    let scopes = scope.into_iter().flat_map(|s| s.split(' ')).map(Some);
    let params: Vec<String> = std::iter::once(("service", service))
        .chain(scopes.map(|s| ("scope", s)))
        .filter_map(|(k, v)| v.map(|v| format!("{k}={}", encode_query_value(v))))
        .collect();
    if params.is_empty() {
        return realm.to_string();
    }
    let separator = if realm.contains('?') { '&' } else { '?' };
    format!("{realm}{separator}{}", params.join("&"))
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
fn encode_query_value(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Repository paths go into URLs; refuse anything the reference grammar would not produce.
fn validate_repo(repo: &str) -> Result<(), RegistryError> {
    let component_ok = |c: &str| {
        !c.is_empty()
            && c.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
            && c.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
    };
    if repo.split('/').all(component_ok) {
        return Ok(());
    }
    Err(RegistryError::InvalidInput {
        what: "repository",
        value: repo.to_string(),
        reason: "expected lowercase path components like library/busybox",
    })
}

/// A digest reference parses to `Some(digest)`; a tag must match the tag grammar.
fn parse_reference(reference: &str) -> Result<Option<Digest>, RegistryError> {
    let invalid = |reason| RegistryError::InvalidInput {
        what: "manifest reference",
        value: reference.to_string(),
        reason,
    };
    if reference.contains(':') {
        return reference
            .parse()
            .map(Some)
            .map_err(|_| invalid("expected sha256:<64 hex characters>"));
    }
    let first_ok = reference
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_');
    let rest_ok = reference
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
    if first_ok && rest_ok && reference.len() <= 128 {
        return Ok(None);
    }
    Err(invalid("expected a tag like latest or a digest"))
}
