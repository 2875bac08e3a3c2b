//! Errors: the service's own (it could not start), and a request's, which Docker's clients read
//! as `{"message": "..."}` with Docker's status code.

use std::io;

use hull_engine::state::ContainerError;
use hull_engine::EngineError;
use hull_image::store::StoreError;
use hyper::StatusCode;

/// Why the service could not start (or stopped serving).
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("{op}: {source}")]
    Io {
        op: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("listen on {uri}: {why}")]
    Listen { uri: String, why: String },
    #[error("open the store {path}: {source}")]
    Store {
        path: String,
        #[source]
        source: Box<EngineError>,
    },
}

/// A request's failure: Docker's status code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
    }

    /// 400, for a parameter or body field: the message names it.
    pub fn bad(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, message)
    }

    pub fn conflict(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, message)
    }

    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }

    /// An engine failure about the container the client named `name`.
    pub fn container(name: &str, e: EngineError) -> ApiError {
        match e {
            EngineError::Container(ContainerError::NotFound(_)) => {
                ApiError::not_found(format!("No such container: {name}"))
            }
            EngineError::Container(ContainerError::Ambiguous { .. }) => {
                ApiError::bad(format!("{e}"))
            }
            EngineError::Container(ContainerError::NameInUse { .. })
            | EngineError::RemoveRunning(_)
            | EngineError::AlreadyPaused(_)
            | EngineError::NotPaused(_)
            | EngineError::NotRunning(_)
            | EngineError::ExecPaused(_)
            | EngineError::RestartWithRm(_) => ApiError::conflict(capitalized(&e.to_string())),
            EngineError::Container(ContainerError::InvalidName(_)) | EngineError::Signal(_) => {
                ApiError::bad(e.to_string())
            }
            EngineError::Image(ref s) => ApiError::image(name, s),
            other => ApiError::internal(one_line(&other)),
        }
    }

    /// An image store failure about the image the client named `name`.
    pub fn image(name: &str, e: &StoreError) -> ApiError {
        match e {
            StoreError::NotFound(_) => ApiError::not_found(format!("No such image: {name}")),
            StoreError::Ambiguous { .. } | StoreError::Reference(_) => ApiError::bad(e.to_string()),
            StoreError::MultipleTags { .. } | StoreError::Mounted { .. } => {
                ApiError::conflict(e.to_string())
            }
            other => ApiError::internal(one_line(other)),
        }
    }
}

/// Docker's messages start with a capital ("Conflict. …", "Container … is not running").
fn capitalized(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// An error and its causes on one line.
pub fn one_line(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cause = c.source();
    }
    out.replace('\n', " ")
}
