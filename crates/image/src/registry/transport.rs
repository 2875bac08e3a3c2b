//! One GET, as the registry client needs it: bounded retries with exponential backoff on transient
//! failures, redirects followed by hand so the Authorization header never leaves the origin it was
//! meant for, and every non-2xx status handed back as a response for the caller to judge.

use std::io::Read;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use super::error::{is_transient_io, is_transient_status, RegistryError};
use super::url;

/// Redirect hops followed before giving up; registries use one (to a CDN), rarely two.
pub(crate) const MAX_REDIRECTS: u32 = 5;
/// Error bodies are read for their message only; more than this is not a message.
const MAX_ERROR_BODY: u64 = 64 * 1024;

pub(crate) struct Transport {
    agent: ureq::Agent,
    pub max_attempts: u32,
    /// Delay before the second attempt; doubled before each further one.
    pub retry_delay: Duration,
}

/// A GET to send. `authorization` goes only to URLs with the same origin as `url`.
pub(crate) struct Request<'a> {
    pub op: &'a str,
    pub url: String,
    pub headers: &'a [(&'static str, String)],
    pub authorization: Option<String>,
}

impl Transport {
    pub fn new(tls: Arc<rustls::ClientConfig>, user_agent: &str, max_attempts: u32) -> Self {
        let agent = ureq::AgentBuilder::new()
            .tls_config(tls)
            .redirects(0)
            .user_agent(user_agent)
            .timeout_connect(Duration::from_secs(30))
            // Per socket read, not per body: a slow but moving layer download is fine.
            .timeout_read(Duration::from_secs(60))
            .timeout_write(Duration::from_secs(60))
            .build();
        Transport {
            agent,
            max_attempts: max_attempts.max(1),
            retry_delay: Duration::from_millis(200),
        }
    }

    /// Sends the GET, retrying 5xx, 429 and broken connections up to `max_attempts` times in all.
    /// Returns the last response whatever its status; only transport failures are errors.
    pub fn get(&self, req: &Request) -> Result<ureq::Response, RegistryError> {
        let mut attempt = 1;
        loop {
            let outcome = self.get_following_redirects(req);
            let transient = match &outcome {
                Ok(resp) => is_transient_status(resp.status()),
                Err(e) => e.is_transient(),
            };
            if !transient || attempt >= self.max_attempts {
                return outcome;
            }
            thread::sleep(self.retry_delay * 2u32.saturating_pow(attempt - 1));
            attempt += 1;
        }
    }

    /// Sends one non-GET request (HEAD, POST, PATCH, PUT) with `body`, retrying like [`get`]:
    /// the body is a buffer, so every attempt resends it whole. Redirects are not followed:
    /// registries answer uploads directly, and a redirected PUT would need its body again.
    ///
    /// [`get`]: Transport::get
    pub fn send(
        &self,
        method: &str,
        req: &Request,
        body: &[u8],
    ) -> Result<ureq::Response, RegistryError> {
        let mut attempt = 1;
        loop {
            let outcome = self.send_once(method, req, body);
            let transient = match &outcome {
                Ok(resp) => is_transient_status(resp.status()),
                Err(e) => e.is_transient(),
            };
            if !transient || attempt >= self.max_attempts {
                return outcome;
            }
            thread::sleep(self.retry_delay * 2u32.saturating_pow(attempt - 1));
            attempt += 1;
        }
    }

    fn send_once(
        &self,
        method: &str,
        req: &Request,
        body: &[u8],
    ) -> Result<ureq::Response, RegistryError> {
        let mut request = self.agent.request(method, &req.url);
        for (name, value) in req.headers {
            request = request.set(name, value);
        }
        if let Some(value) = &req.authorization {
            request = request.set("Authorization", value);
        }
        let outcome = if method == "HEAD" || method == "GET" {
            request.call()
        } else {
            request.send_bytes(body)
        };
        match outcome {
            Ok(resp) | Err(ureq::Error::Status(_, resp)) => Ok(resp),
            Err(ureq::Error::Transport(t)) => Err(transport_error(req.op, &req.url, &t)),
        }
    }

    fn get_following_redirects(&self, req: &Request) -> Result<ureq::Response, RegistryError> {
        let origin = url::origin(&req.url);
        let mut current = req.url.clone();
        for _ in 0..=MAX_REDIRECTS {
            let same_origin = origin.is_some() && url::origin(&current) == origin;
            let authorization = req.authorization.as_deref().filter(|_| same_origin);
            let resp = self.get_once(req.op, &current, req.headers, authorization)?;
            if !is_redirect(resp.status()) {
                return Ok(resp);
            }
            current = redirect_target(req.op, &current, &resp)?;
        }
        Err(RegistryError::TooManyRedirects {
            op: req.op.to_string(),
            max: MAX_REDIRECTS,
        })
    }

    fn get_once(
        &self,
        op: &str,
        url: &str,
        headers: &[(&'static str, String)],
        authorization: Option<&str>,
    ) -> Result<ureq::Response, RegistryError> {
        let mut request = self.agent.get(url);
        for (name, value) in headers {
            request = request.set(name, value);
        }
        if let Some(value) = authorization {
            request = request.set("Authorization", value);
        }
        match request.call() {
            Ok(resp) | Err(ureq::Error::Status(_, resp)) => Ok(resp),
            Err(ureq::Error::Transport(t)) => Err(transport_error(op, url, &t)),
        }
    }
}

fn is_redirect(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}

/// The absolute URL a redirect points to; only http(s) targets are followed.
fn redirect_target(op: &str, from: &str, resp: &ureq::Response) -> Result<String, RegistryError> {
    let bad = |cause: String| RegistryError::Protocol {
        op: op.to_string(),
        cause,
    };
    let location = resp
        .header("Location")
        .ok_or_else(|| bad(format!("{} redirect without Location", resp.status())))?;
    url::resolve(from, location)
        .filter(|target| url::origin(target).is_some())
        .ok_or_else(|| bad(format!("bad redirect location {location:?}")))
}

fn transport_error(op: &str, url: &str, t: &ureq::Transport) -> RegistryError {
    let authority =
        url::origin(url).map_or_else(|| url.to_string(), |o| format!("{}:{}", o.host, o.port));
    let io_kind = std::error::Error::source(t)
        .and_then(|s| s.downcast_ref::<std::io::Error>())
        .map(std::io::Error::kind);
    let detail = std::error::Error::source(t)
        .map(|s| s.to_string())
        .or_else(|| t.message().map(str::to_string))
        .unwrap_or_else(|| format!("{:?}", t.kind()));
    let (cause, transient) = match t.kind() {
        ureq::ErrorKind::ConnectionFailed => (format!("connect to {authority}: {detail}"), true),
        ureq::ErrorKind::Dns => (format!("connect to {authority}: {detail}"), false),
        ureq::ErrorKind::Io => (
            format!("talk to {authority}: {detail}"),
            io_kind.is_none_or(is_transient_io),
        ),
        _ => (format!("talk to {authority}: {t}"), false),
    };
    RegistryError::Transport {
        op: op.to_string(),
        cause,
        transient,
    }
}

/// Turns a response with an unexpected status into an error carrying the registry's message.
pub(crate) fn status_error(op: &str, resp: ureq::Response) -> RegistryError {
    let status = resp.status();
    RegistryError::Status {
        op: op.to_string(),
        status,
        message: error_message(resp),
    }
}

/// The message of an error response: the distribution-spec `errors` array when the body has one,
/// else a token service's `details`/`error`/`message`, else the reason phrase. Lowercase, so it
/// reads naturally after the status code.
pub(crate) fn error_message(resp: ureq::Response) -> String {
    let reason = resp.status_text().to_ascii_lowercase();
    let mut body = Vec::new();
    let read = resp
        .into_reader()
        .take(MAX_ERROR_BODY)
        .read_to_end(&mut body);
    let from_body = read.ok().and_then(|_| message_from_body(&body));
    from_body.unwrap_or(reason)
}

fn message_from_body(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    if let Some(errors) = value.get("errors").and_then(|e| e.as_array()) {
        let parts: Vec<String> = errors.iter().filter_map(describe_error).collect();
        return (!parts.is_empty()).then(|| parts.join("; "));
    }
    ["details", "error_description", "error", "message"]
        .iter()
        .find_map(|key| value.get(key)?.as_str().filter(|s| !s.is_empty()))
        .map(str::to_string)
}

/// `{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}` → "manifest unknown";
/// `{"code":"UNAUTHORIZED","message":"bad password"}` → "unauthorized: bad password".
fn describe_error(error: &serde_json::Value) -> Option<String> {
    let field = |name| {
        error
            .get(name)
            .and_then(|v| v.as_str())
            .filter(|s| !s.is_empty())
    };
    let code = field("code").map(|c| c.to_ascii_lowercase().replace('_', " "));
    match (code, field("message")) {
        (Some(code), Some(msg)) if code == msg.to_ascii_lowercase() => Some(msg.to_string()),
        (Some(code), Some(msg)) => Some(format!("{code}: {msg}")),
        (Some(code), None) => Some(code),
        (None, Some(msg)) => Some(msg.to_string()),
        (None, None) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_error_bodies() {
        let cases: [(&str, Option<&str>); 7] = [
            (
                r#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{}}]}"#,
                Some("manifest unknown"),
            ),
            (
                r#"{"errors":[{"code":"UNAUTHORIZED","message":"invalid username or password"}]}"#,
                Some("unauthorized: invalid username or password"),
            ),
            (
                r#"{"errors":[{"code":"DENIED"},{"message":"second"}]}"#,
                Some("denied; second"),
            ),
            (
                r#"{"details":"incorrect username or password"}"#,
                Some("incorrect username or password"),
            ),
            (r#"{"error":"invalid_grant"}"#, Some("invalid_grant")),
            (r#"{"errors":[]}"#, None),
            ("<html>oops</html>", None),
        ];
        for (body, want) in cases {
            assert_eq!(
                message_from_body(body.as_bytes()).as_deref(),
                want,
                "{body}"
            );
        }
    }
}
