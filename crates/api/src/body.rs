//! Response bodies: a whole buffer, or a stream fed through a channel (pull progress, logs,
//! events, stats), sent chunked. Requests' bodies are read whole, up to a limit.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Body, Frame, Incoming};
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Response, StatusCode};
use serde_json::Value;
use tokio::sync::mpsc;

use crate::error::ApiError;

/// Every response's body.
pub enum ApiBody {
    Full(Full<Bytes>),
    Stream(mpsc::Receiver<Bytes>),
}

impl Body for ApiBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match self.get_mut() {
            ApiBody::Full(full) => Pin::new(full).poll_frame(cx),
            ApiBody::Stream(rx) => rx.poll_recv(cx).map(|b| b.map(|b| Ok(Frame::data(b)))),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            ApiBody::Full(full) => full.is_end_stream(),
            ApiBody::Stream(_) => false,
        }
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        match self {
            ApiBody::Full(full) => full.size_hint(),
            ApiBody::Stream(_) => hyper::body::SizeHint::default(),
        }
    }
}

pub type Reply = Response<ApiBody>;

/// A response with `body` of `content_type`.
pub fn bytes(status: StatusCode, content_type: &str, body: impl Into<Bytes>) -> Reply {
    let mut r = Response::new(ApiBody::Full(Full::new(body.into())));
    *r.status_mut() = status;
    if let Ok(v) = HeaderValue::from_str(content_type) {
        r.headers_mut().insert(CONTENT_TYPE, v);
    }
    r
}

/// A JSON document.
pub fn json(status: StatusCode, v: &Value) -> Reply {
    bytes(status, "application/json", json_line(v))
}

/// `v` serialized, with the newline Docker ends its JSON with.
pub fn json_line(v: &Value) -> Vec<u8> {
    let mut out = serde_json::to_vec(v).unwrap_or_default();
    out.push(b'\n');
    out
}

/// A response with no body (204, 304, …).
pub fn empty(status: StatusCode) -> Reply {
    let mut r = Response::new(ApiBody::Full(Full::new(Bytes::new())));
    *r.status_mut() = status;
    r
}

/// A chunked stream of `content_type`; the sender's half feeds it and ends it when dropped. A
/// send fails once the client went away, which is how producers learn to stop.
pub fn stream(content_type: &str) -> (mpsc::Sender<Bytes>, Reply) {
    let (tx, rx) = mpsc::channel(64);
    let mut r = Response::new(ApiBody::Stream(rx));
    if let Ok(v) = HeaderValue::from_str(content_type) {
        r.headers_mut().insert(CONTENT_TYPE, v);
    }
    (tx, r)
}

/// Docker's error document.
pub fn error(e: &ApiError) -> Reply {
    json(e.status, &serde_json::json!({ "message": e.message }))
}

/// The most a request body may hold (image loads and archive uploads stream instead).
pub const BODY_LIMIT: usize = 32 << 20;

/// Reads a request's body whole, refusing one larger than [`BODY_LIMIT`].
pub async fn read_all(body: Incoming) -> Result<Bytes, ApiError> {
    match Limited::new(body, BODY_LIMIT).collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("request body is larger than {BODY_LIMIT} bytes"),
        )),
        Err(e) => Err(ApiError::bad(format!("read the request body: {e}"))),
    }
}

/// The body as JSON of type `T` (an empty body is `{}`); a 400 names what is wrong. Unknown
/// fields are ignored, as Docker ignores them.
pub fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        body
    };
    serde_json::from_slice(body).map_err(|e| ApiError::bad(format!("invalid JSON body: {e}")))
}
