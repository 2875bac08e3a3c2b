//! An in-process fake registry on 127.0.0.1:0 for the client's tests: manifests and blobs from
//! maps, switchable auth, failures and redirects, and a log of what every request carried.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};

use tiny_http::{Header, Response, Server};

use super::auth::basic_header;

#[derive(Debug, Clone, Default)]
pub(crate) enum FakeAuth {
    #[default]
    None,
    Basic {
        user: String,
        pass: String,
    },
    /// Resources need `Bearer <token>`; the token endpoint at `/token` hands it out, demanding
    /// Basic `creds` when set.
    Bearer {
        creds: Option<(String, String)>,
        token: String,
    },
}

/// One request as the fake saw it.
#[derive(Debug, Clone)]
pub(crate) struct Seen {
    pub method: String,
    pub url: String,
    pub content_range: Option<String>,
    pub content_type: Option<String>,
    pub authorization: Option<String>,
    pub accept: Option<String>,
}

#[derive(Debug, Default)]
pub(crate) struct FakeState {
    /// Keyed by "repo/reference": (Content-Type, body).
    pub manifests: HashMap<String, (String, Vec<u8>)>,
    /// Keyed by digest string.
    pub blobs: HashMap<String, Vec<u8>>,
    pub auth: FakeAuth,
    /// Answer this many /v2/ requests with 503 before behaving.
    pub fail_first: u32,
    /// Answer every /v2/ request with this status.
    pub always_status: Option<u16>,
    /// Redirect blob GETs (307) to this base URL; "" redirects to the same server.
    pub blob_redirect: Option<String>,
    /// Sent as Docker-Content-Digest on manifests.
    pub digest_header: Option<String>,
    /// Keyed by digest string: (bytes, times). The next `times` GETs of that blob get its full
    /// Content-Length but only its first `bytes` bytes before the connection closes.
    pub cut_blobs: HashMap<String, (usize, u32)>,
    pub log: Vec<Seen>,
    pub token_hits: u32,
    /// The push side: see `fake_push.rs`.
    pub push: super::fake_push::PushState,
}

pub(crate) struct FakeRegistry {
    server: Arc<Server>,
    state: Arc<Mutex<FakeState>>,
    thread: Option<JoinHandle<()>>,
    /// "127.0.0.1:<port>", usable as a registry domain.
    pub addr: String,
}

impl FakeRegistry {
    pub fn start() -> FakeRegistry {
        let server = Arc::new(Server::http("127.0.0.1:0").expect("bind fake registry"));
        let addr = server
            .server_addr()
            .to_ip()
            .expect("ip listener")
            .to_string();
        let state = Arc::new(Mutex::new(FakeState::default()));
        let thread = {
            let (server, state, addr) = (server.clone(), state.clone(), addr.clone());
            thread::spawn(move || {
                for request in server.incoming_requests() {
                    handle(&state, &addr, request);
                }
            })
        };
        FakeRegistry {
            server,
            state,
            thread: Some(thread),
            addr,
        }
    }

    pub fn state(&self) -> MutexGuard<'_, FakeState> {
        self.state.lock().unwrap()
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for FakeRegistry {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

pub(crate) type Reply = Response<std::io::Cursor<Vec<u8>>>;

fn handle(state: &Mutex<FakeState>, addr: &str, mut request: tiny_http::Request) {
    let header = |name: &'static str| {
        request
            .headers()
            .iter()
            .find(|h| h.field.equiv(name))
            .map(|h| h.value.to_string())
    };
    let seen = Seen {
        method: request.method().as_str().to_string(),
        url: request.url().to_string(),
        content_range: header("Content-Range"),
        content_type: header("Content-Type"),
        authorization: header("Authorization"),
        accept: header("Accept"),
    };
    let mut body = Vec::new();
    let _ = request.as_reader().read_to_end(&mut body);
    let reply = {
        let mut state = state.lock().unwrap();
        state.log.push(seen.clone());
        match super::fake_push::fault(&mut state, &seen, &body) {
            Some(reply) => reply,
            None => route(&mut state, addr, &seen, &body),
        }
    };
    let _ = request.respond(reply);
}

fn route(state: &mut FakeState, addr: &str, seen: &Seen, body: &[u8]) -> Reply {
    let (path, query) = seen.url.split_once('?').unwrap_or((&seen.url, ""));
    if path == "/token" {
        return token_endpoint(state, seen);
    }
    let Some(api_path) = path.strip_prefix("/v2/") else {
        return error(404, "NOT_FOUND", "no such path");
    };
    if state.fail_first > 0 {
        state.fail_first -= 1;
        return error(503, "UNAVAILABLE", "try again");
    }
    if let Some(status) = state.always_status {
        return error(status, "UNAVAILABLE", "always failing");
    }
    if let Some(challenge) = check_auth(state, addr, api_path, seen) {
        return challenge;
    }
    if api_path.is_empty() {
        return json(200, "{}");
    }
    if seen.method != "GET" || api_path.contains("/blobs/uploads/") {
        return super::fake_push::route(state, api_path, query, seen, body);
    }
    if let Some((repo, reference)) = api_path.split_once("/manifests/") {
        return manifest(state, repo, reference);
    }
    if let Some((repo, digest)) = api_path.split_once("/blobs/") {
        return blob(state, repo, digest, query);
    }
    error(404, "NAME_UNKNOWN", "repository name not known to registry")
}

fn token_endpoint(state: &mut FakeState, seen: &Seen) -> Reply {
    state.token_hits += 1;
    let FakeAuth::Bearer { creds, token } = &state.auth else {
        return error(404, "NOT_FOUND", "no token service");
    };
    if let Some((user, pass)) = creds {
        if seen.authorization.as_deref() != Some(&basic_header(user, pass)) {
            return json(401, r#"{"details":"incorrect username or password"}"#);
        }
    }
    json(200, &format!(r#"{{"token":"{token}","expires_in":300}}"#))
}

/// A 401 with a challenge when the request lacks what the fake's auth mode wants.
fn check_auth(state: &FakeState, addr: &str, api_path: &str, seen: &Seen) -> Option<Reply> {
    let sent = seen.authorization.as_deref();
    let (wanted, challenge) = match &state.auth {
        FakeAuth::None => return None,
        FakeAuth::Basic { user, pass } => (
            basic_header(user, pass),
            r#"Basic realm="fake registry""#.to_string(),
        ),
        FakeAuth::Bearer { token, .. } => {
            let repo = api_path.split("/manifests/").next().unwrap_or("");
            let repo = repo.split("/blobs/").next().unwrap_or("");
            let pushing = seen.method != "GET";
            let scope = if repo.is_empty() {
                String::new()
            } else {
                let actions = if pushing { "push,pull" } else { "pull" };
                format!(r#","scope="repository:{repo}:{actions}""#)
            };
            let challenge = format!(r#"Bearer realm="http://{addr}/token",service="fake"{scope}"#);
            (format!("Bearer {token}"), challenge)
        }
    };
    if sent == Some(wanted.as_str()) {
        return None;
    }
    let message = if sent.is_some() {
        "invalid username or password"
    } else {
        "authentication required"
    };
    let reply = error(401, "UNAUTHORIZED", message);
    Some(reply.with_header(Header::from_bytes("WWW-Authenticate", challenge).unwrap()))
}

fn manifest(state: &FakeState, repo: &str, reference: &str) -> Reply {
    let Some((content_type, body)) = state.manifests.get(&format!("{repo}/{reference}")) else {
        return error(404, "MANIFEST_UNKNOWN", "manifest unknown");
    };
    let mut reply = Response::from_data(body.clone())
        .with_header(Header::from_bytes("Content-Type", content_type.as_str()).unwrap());
    if let Some(digest) = &state.digest_header {
        reply.add_header(Header::from_bytes("Docker-Content-Digest", digest.as_str()).unwrap());
    }
    reply
}

fn blob(state: &mut FakeState, repo: &str, digest: &str, query: &str) -> Reply {
    if let Some(target) = state.blob_redirect.as_ref().filter(|_| query.is_empty()) {
        let location = format!("{target}/v2/{repo}/blobs/{digest}?redirected=1");
        return Response::from_data(Vec::new())
            .with_status_code(307)
            .with_header(Header::from_bytes("Location", location).unwrap());
    }
    if let Some(reply) = cut_blob(state, repo, digest) {
        return reply;
    }
    match state.blobs.get(digest) {
        Some(body) => Response::from_data(body.clone()),
        None => error(404, "BLOB_UNKNOWN", "blob unknown to registry"),
    }
}

/// tiny_http cannot send less than its Content-Length and then hang up, so a cut body comes from a
/// one-shot [`raw_server`] the blob GET is redirected to.
fn cut_blob(state: &mut FakeState, repo: &str, digest: &str) -> Option<Reply> {
    let (keep, times) = state.cut_blobs.get_mut(digest)?;
    if *times == 0 {
        return None;
    }
    *times -= 1;
    let body = state.blobs.get(digest)?;
    let mut response = format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    response.extend_from_slice(&body[..(*keep).min(body.len())]);
    let (addr, _detached) = raw_server(response);
    let location = format!("http://{addr}/v2/{repo}/blobs/{digest}?redirected=1");
    Some(
        Response::from_data(Vec::new())
            .with_status_code(307)
            .with_header(Header::from_bytes("Location", location).unwrap()),
    )
}

pub(crate) fn json(status: u16, body: &str) -> Reply {
    Response::from_data(body.as_bytes().to_vec())
        .with_status_code(status)
        .with_header(Header::from_bytes("Content-Type", "application/json").unwrap())
}

pub(crate) fn error(status: u16, code: &str, message: &str) -> Reply {
    json(
        status,
        &format!(r#"{{"errors":[{{"code":"{code}","message":"{message}"}}]}}"#),
    )
}

/// A one-shot raw HTTP server: answers the first connection with `response` verbatim, then
/// closes it. For replies tiny_http will not produce, such as a body shorter than its
/// Content-Length.
pub(crate) fn raw_server(response: Vec<u8>) -> (String, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let thread = thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        read_request_head(&mut stream);
        let _ = stream.write_all(&response);
        let _ = stream.shutdown(std::net::Shutdown::Both);
    });
    (addr, thread)
}

fn read_request_head(stream: &mut TcpStream) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap_or(0) == 1 {
        head.push(byte[0]);
    }
}
