//! Errors of the registry client. Each names the operation ("fetch manifest
//! localhost:5000/busybox:latest"), the object and the cause, and maps to an [`ErrorKind`] callers
//! can match on.

use std::io;
use std::path::PathBuf;

/// What went wrong, coarsely, for callers that branch on it (exit codes, retry, `hull login` hints).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// 404: no such repository, manifest or blob.
    NotFound,
    /// 401: missing or wrong credentials.
    Unauthorized,
    /// 403: the credentials are valid but may not pull this.
    Denied,
    /// 429: rate limited.
    TooManyRequests,
    /// 5xx from the registry.
    Server,
    /// Could not connect, or the connection broke.
    Network,
    /// The registry answered something we refuse: bad digest, schema 1, oversized, bad redirect.
    Protocol,
    /// The caller passed something unusable (a malformed domain or repository).
    InvalidInput,
    /// Local files: certificates or the credentials file.
    Local,
}

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The registry answered with an unexpected HTTP status; `message` comes from its JSON error
    /// body when it sent one, else from the reason phrase.
    #[error("{op}: {status} {message}")]
    Status {
        op: String,
        status: u16,
        message: String,
    },
    #[error("{op}: authentication required: run `hull login {host}`")]
    AuthRequired { op: String, host: String },
    /// The credentials we sent were refused (by the registry or its token service).
    #[error("authenticate to {host}: {status} {message}")]
    Auth {
        host: String,
        status: u16,
        message: String,
    },
    /// Connecting, or sending the request or reading the response headers, failed.
    #[error("{op}: {cause}")]
    Transport {
        op: String,
        cause: String,
        transient: bool,
    },
    /// Reading a response body failed (truncated, reset, timed out).
    #[error("{op}: read response: {source}")]
    Read {
        op: String,
        #[source]
        source: io::Error,
    },
    #[error("manifest {reference} uses docker schema 1, which is obsolete and not supported")]
    Schema1 { reference: String },
    #[error("{op}: digest mismatch: expected {expected}, got {actual}")]
    DigestMismatch {
        op: String,
        expected: String,
        actual: String,
    },
    #[error("{op}: response larger than the {limit} byte limit")]
    TooLarge { op: String, limit: u64 },
    #[error("{op}: {cause}")]
    Protocol { op: String, cause: String },
    #[error("{op}: more than {max} redirects")]
    TooManyRedirects { op: String, max: u32 },
    #[error("invalid {what} {value:?}: {reason}")]
    InvalidInput {
        what: &'static str,
        value: String,
        reason: &'static str,
    },
    #[error("read CA certificates {path}: {source}")]
    ReadCa {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("build TLS configuration for {host}: {cause}")]
    Tls { host: String, cause: String },
    #[error("read credentials file {path}: {source}")]
    ReadCredentials {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("parse credentials file {path}: {source}")]
    ParseCredentials {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("write credentials file {path}: {source}")]
    WriteCredentials {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

impl RegistryError {
    pub fn kind(&self) -> ErrorKind {
        use RegistryError::*;
        match self {
            Status { status, .. } => kind_of_status(*status),
            AuthRequired { .. } => ErrorKind::Unauthorized,
            Auth { status, .. } if *status == 403 => ErrorKind::Denied,
            Auth { .. } => ErrorKind::Unauthorized,
            Transport { .. } | Read { .. } => ErrorKind::Network,
            Schema1 { .. }
            | DigestMismatch { .. }
            | TooLarge { .. }
            | Protocol { .. }
            | TooManyRedirects { .. } => ErrorKind::Protocol,
            InvalidInput { .. } => ErrorKind::InvalidInput,
            ReadCa { .. }
            | Tls { .. }
            | ReadCredentials { .. }
            | ParseCredentials { .. }
            | WriteCredentials { .. } => ErrorKind::Local,
        }
    }

    /// True when trying the same request again later may succeed: 5xx, 429, refused or reset
    /// connections and timeouts.
    pub fn is_transient(&self) -> bool {
        match self {
            RegistryError::Status { status, .. } => is_transient_status(*status),
            RegistryError::Transport { transient, .. } => *transient,
            RegistryError::Read { source, .. } => is_transient_io(source.kind()),
            _ => false,
        }
    }
}

fn kind_of_status(status: u16) -> ErrorKind {
    match status {
        401 => ErrorKind::Unauthorized,
        403 => ErrorKind::Denied,
        404 => ErrorKind::NotFound,
        429 => ErrorKind::TooManyRequests,
        500..=599 => ErrorKind::Server,
        _ => ErrorKind::Protocol,
    }
}

/// Statuses worth retrying: the server is overloaded or briefly broken, not refusing us.
pub(crate) fn is_transient_status(status: u16) -> bool {
    matches!(status, 429 | 500 | 502 | 503 | 504)
}

pub(crate) fn is_transient_io(kind: io::ErrorKind) -> bool {
    use io::ErrorKind::*;
    matches!(
        kind,
        ConnectionRefused
            | ConnectionReset
            | ConnectionAborted
            | BrokenPipe
            | TimedOut
            | WouldBlock
            | UnexpectedEof
            | Interrupted
    )
}
