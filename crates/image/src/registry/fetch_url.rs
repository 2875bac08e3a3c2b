//! One GET of an arbitrary http(s) URL with the registry client's rules (`hull import URL`):
//! the same TLS trust (system roots plus the host's certs.d CAs), retries and redirect handling,
//! and no credentials.

use super::transport::{status_error, Request, Transport};
use super::{tls, BlobStream, RegistryConfig, RegistryError};

/// Opens `url` (`http://` or `https://`) for reading.
pub fn fetch_url(url: &str, config: &RegistryConfig) -> Result<BlobStream, RegistryError> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| RegistryError::Status {
            op: format!("fetch {url}"),
            status: 0,
            message: "not an http:// or https:// URL".into(),
        })?;
    let host_port = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    let tls = tls::client_config(host_port, &config.certs_dirs)?;
    let transport = Transport::new(tls, &config.user_agent, config.max_attempts);
    let op = format!("fetch {url}");
    let resp = transport.get(&Request {
        op: &op,
        url: url.to_string(),
        headers: &[],
        authorization: None,
    })?;
    if !(200..300).contains(&resp.status()) {
        return Err(status_error(&op, resp));
    }
    let length = resp
        .header("Content-Length")
        .and_then(|l| l.parse::<u64>().ok());
    Ok(BlobStream {
        reader: Box::new(resp.into_reader()),
        length,
    })
}
