//! The fake registry's push side: blob HEAD, upload sessions (POST, PATCH with Content-Range,
//! GET for the offset, PUT ?digest= verifying the digest), cross-repository mounts, manifest
//! PUTs that demand every referenced blob be present, and injectable faults.

use std::collections::{BTreeSet, HashMap, VecDeque};

use hull_oci::Digest;
use tiny_http::{Header, Response};

use super::fake::{error, FakeState, Reply, Seen};

/// A fault for the next request with this method (and, when set, whose path contains `path`).
#[derive(Debug, Clone)]
pub(crate) struct Fault {
    pub method: &'static str,
    pub path: Option<&'static str>,
    pub kind: FaultKind,
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum FaultKind {
    /// Answer with this status.
    Status(u16),
    /// Keep the first half of a PATCH body, then answer 503 (a chunk cut off midway).
    HalfThen503,
}

#[derive(Debug, Default)]
pub(crate) struct PushState {
    /// (repository, digest) pairs the registry holds.
    pub repo_blobs: BTreeSet<(String, String)>,
    /// Upload sessions by id: bytes received so far and the repository.
    pub uploads: HashMap<String, (String, Vec<u8>)>,
    pub next_upload: u32,
    /// Answer `POST ?mount=` with a plain session instead of mounting.
    pub refuse_mounts: bool,
    /// Hand out absolute `Location`s (with a query) instead of relative ones.
    pub absolute_locations: Option<String>,
    pub faults: VecDeque<Fault>,
}

/// Pops and applies the first fault matching this request.
pub(crate) fn fault(state: &mut FakeState, seen: &Seen, body: &[u8]) -> Option<Reply> {
    let i = state
        .push
        .faults
        .iter()
        .position(|f| f.method == seen.method && f.path.is_none_or(|p| seen.url.contains(p)))?;
    let fault = state.push.faults.remove(i)?;
    match fault.kind {
        FaultKind::Status(status) => Some(error(status, "UNAVAILABLE", "injected fault")),
        FaultKind::HalfThen503 => {
            let id = upload_id(&seen.url)?;
            let (_, held) = state.push.uploads.get_mut(&id)?;
            held.extend_from_slice(&body[..body.len() / 2]);
            Some(error(
                503,
                "UNAVAILABLE",
                "injected fault after half the chunk",
            ))
        }
    }
}

pub(crate) fn route(
    state: &mut FakeState,
    api_path: &str,
    query: &str,
    seen: &Seen,
    body: &[u8],
) -> Reply {
    if let Some((repo, rest)) = api_path.split_once("/blobs/uploads/") {
        return upload(state, repo, rest, query, seen, body);
    }
    if let Some((repo, digest)) = api_path.split_once("/blobs/") {
        let held = state
            .push
            .repo_blobs
            .contains(&(repo.to_string(), digest.to_string()));
        return match (seen.method.as_str(), held) {
            ("HEAD", true) => Response::from_data(Vec::new())
                .with_header(Header::from_bytes("Docker-Content-Digest", digest).unwrap()),
            _ => error(404, "BLOB_UNKNOWN", "blob unknown to registry"),
        };
    }
    if let Some((repo, reference)) = api_path.split_once("/manifests/") {
        if seen.method == "PUT" {
            return put_manifest(state, repo, reference, seen, body);
        }
    }
    error(405, "UNSUPPORTED", "method not allowed")
}

fn upload(
    state: &mut FakeState,
    repo: &str,
    id: &str,
    query: &str,
    seen: &Seen,
    body: &[u8],
) -> Reply {
    let params: HashMap<&str, &str> = query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .collect();
    if seen.method == "POST" {
        if let (Some(digest), Some(from)) = (params.get("mount"), params.get("from")) {
            let from = from.replace("%2F", "/");
            let key = (from, digest.to_string());
            if !state.push.refuse_mounts && state.push.repo_blobs.contains(&key) {
                state
                    .push
                    .repo_blobs
                    .insert((repo.to_string(), digest.to_string()));
                return Response::from_data(Vec::new()).with_status_code(201);
            }
        }
        state.push.next_upload += 1;
        let id = format!("u{}", state.push.next_upload);
        state
            .push
            .uploads
            .insert(id.clone(), (repo.to_string(), Vec::new()));
        return session_reply(state, 202, repo, &id, 0);
    }
    let Some((_, held)) = state.push.uploads.get_mut(id) else {
        return error(404, "BLOB_UPLOAD_UNKNOWN", "blob upload unknown");
    };
    match seen.method.as_str() {
        "GET" => {
            let len = held.len();
            session_reply(state, 204, repo, id, len)
        }
        "PATCH" => {
            let start = seen
                .content_range
                .as_deref()
                .and_then(|r| r.split_once('-'))
                .and_then(|(s, _)| s.parse::<usize>().ok());
            if start != Some(held.len()) {
                return error(
                    416,
                    "BLOB_UPLOAD_INVALID",
                    "range does not continue the upload",
                );
            }
            held.extend_from_slice(body);
            let len = held.len();
            session_reply(state, 202, repo, id, len)
        }
        "PUT" => finish(state, repo, id, params.get("digest").copied(), body),
        _ => error(405, "UNSUPPORTED", "method not allowed"),
    }
}

fn finish(state: &mut FakeState, repo: &str, id: &str, digest: Option<&str>, body: &[u8]) -> Reply {
    let (_, mut bytes) = state.push.uploads.remove(id).expect("checked by caller");
    bytes.extend_from_slice(body);
    let actual = Digest::sha256_of(&bytes).to_string();
    if digest != Some(actual.as_str()) {
        return error(
            400,
            "DIGEST_INVALID",
            "provided digest did not match uploaded content",
        );
    }
    state
        .push
        .repo_blobs
        .insert((repo.to_string(), actual.clone()));
    state.blobs.insert(actual.clone(), bytes);
    Response::from_data(Vec::new())
        .with_status_code(201)
        .with_header(Header::from_bytes("Docker-Content-Digest", actual).unwrap())
}

fn session_reply(state: &FakeState, status: u16, repo: &str, id: &str, len: usize) -> Reply {
    let path = format!("/v2/{repo}/blobs/uploads/{id}?_state=s{len}");
    let location = match &state.push.absolute_locations {
        Some(base) => format!("{base}{path}"),
        None => path,
    };
    let mut reply = Response::from_data(Vec::new())
        .with_status_code(status)
        .with_header(Header::from_bytes("Location", location).unwrap());
    if len > 0 {
        let range = format!("0-{}", len - 1);
        reply.add_header(Header::from_bytes("Range", range).unwrap());
    }
    reply
}

fn upload_id(url: &str) -> Option<String> {
    let path = url.split('?').next()?;
    Some(path.rsplit('/').next()?.to_string())
}

/// Stores a manifest by tag and digest once every blob (or child manifest) it names is there.
fn put_manifest(
    state: &mut FakeState,
    repo: &str,
    reference: &str,
    seen: &Seen,
    body: &[u8],
) -> Reply {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else {
        return error(400, "MANIFEST_INVALID", "manifest invalid");
    };
    let digests = |key: &str| -> Vec<String> {
        let list = match value.get(key) {
            Some(serde_json::Value::Array(a)) => a.clone(),
            Some(one) => vec![one.clone()],
            None => Vec::new(),
        };
        list.iter()
            .filter_map(|d| d.get("digest")?.as_str().map(str::to_string))
            .collect()
    };
    for blob in digests("layers").into_iter().chain(digests("config")) {
        if !state.push.repo_blobs.contains(&(repo.to_string(), blob)) {
            return error(400, "MANIFEST_BLOB_UNKNOWN", "blob unknown to registry");
        }
    }
    for child in digests("manifests") {
        if !state.manifests.contains_key(&format!("{repo}/{child}")) {
            return error(400, "MANIFEST_UNKNOWN", "manifest unknown");
        }
    }
    let digest = Digest::sha256_of(body).to_string();
    let content_type = seen.content_type.clone().unwrap_or_default();
    for key in [format!("{repo}/{reference}"), format!("{repo}/{digest}")] {
        state
            .manifests
            .insert(key, (content_type.clone(), body.to_vec()));
    }
    Response::from_data(Vec::new())
        .with_status_code(201)
        .with_header(Header::from_bytes("Docker-Content-Digest", digest).unwrap())
}

/// A TCP proxy on 127.0.0.1:0 in front of the fake (point `absolute_locations` at it): the next
/// `drops` connections are cut once the request head has arrived, without an answer (a broken
/// connection); the others are piped through. Its threads live until the test process ends.
pub(crate) fn flaky_proxy(
    upstream: String,
    drops: std::sync::Arc<std::sync::atomic::AtomicU32>,
) -> String {
    use std::io::{Read, Write};
    use std::net::{Shutdown, TcpListener, TcpStream};
    use std::sync::atomic::Ordering;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(mut client) = client else { return };
            let cut = drops
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok();
            if cut {
                let mut head = [0u8; 64];
                let _ = client.read(&mut head);
                let _ = client.shutdown(Shutdown::Both);
                continue;
            }
            let Ok(server) = TcpStream::connect(&upstream) else {
                continue;
            };
            let pipe = |mut from: TcpStream, mut to: TcpStream| {
                std::thread::spawn(move || {
                    let mut buf = [0u8; 64 << 10];
                    while let Ok(n) = from.read(&mut buf) {
                        if n == 0 || to.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                    let _ = to.shutdown(Shutdown::Write);
                });
            };
            pipe(client.try_clone().unwrap(), server.try_clone().unwrap());
            pipe(server, client);
        }
    });
    addr
}
