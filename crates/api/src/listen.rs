//! Where the service listens: systemd's sockets, a unix socket (mode 0660, replacing a stale
//! one but never a live one), or TCP on an address given explicitly.

use std::os::fd::OwnedFd;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use tokio::net::{TcpListener, UnixListener};

use crate::error::ServiceError;
use crate::DEFAULT_SOCKET;

pub enum Listener {
    Unix(UnixListener),
    Tcp(TcpListener),
}

/// A socket file this service created, removed when the service ends.
pub struct SocketFile(Option<PathBuf>);

impl Drop for SocketFile {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// Where `uri` (or systemd, or the default) says to listen.
pub fn open(
    uri: Option<&str>,
    activated: Vec<OwnedFd>,
) -> Result<(Vec<Listener>, SocketFile), ServiceError> {
    if uri.is_none() && !activated.is_empty() {
        let listeners = activated
            .into_iter()
            .map(from_activation)
            .collect::<Result<_, _>>()?;
        return Ok((listeners, SocketFile(None)));
    }
    let uri = uri.unwrap_or(DEFAULT_SOCKET);
    let fail = |why: String| ServiceError::Listen {
        uri: uri.to_string(),
        why,
    };
    if let Some(addr) = uri.strip_prefix("tcp://") {
        let std = std::net::TcpListener::bind(addr).map_err(|e| fail(e.to_string()))?;
        eprintln!(
            "WARNING: hull: the API on tcp://{addr} is not encrypted nor authenticated: whoever \
             can connect to it is root on this host"
        );
        let l = tcp(std).map_err(|e| fail(e.to_string()))?;
        return Ok((vec![Listener::Tcp(l)], SocketFile(None)));
    }
    let path = match uri.strip_prefix("unix://") {
        Some(p) => Path::new(p),
        None if uri.starts_with('/') => Path::new(uri),
        None => {
            return Err(fail(
                "the URI is neither unix:///PATH nor tcp://HOST:PORT".into(),
            ))
        }
    };
    let l = bind_unix(path).map_err(fail)?;
    Ok((
        vec![Listener::Unix(l)],
        SocketFile(Some(path.to_path_buf())),
    ))
}

fn bind_unix(path: &Path) -> Result<UnixListener, String> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
    }
    if std::os::unix::net::UnixStream::connect(path).is_ok() {
        return Err("another service is listening there".into());
    }
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("remove the stale socket: {e}")),
    }
    let std = std::os::unix::net::UnixListener::bind(path).map_err(|e| e.to_string())?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))
        .map_err(|e| format!("chmod 0660: {e}"))?;
    std.set_nonblocking(true).map_err(|e| e.to_string())?;
    UnixListener::from_std(std).map_err(|e| e.to_string())
}

fn tcp(std: std::net::TcpListener) -> std::io::Result<TcpListener> {
    std.set_nonblocking(true)?;
    TcpListener::from_std(std)
}

/// A socket systemd passed: a unix or a TCP listener, whichever it is.
fn from_activation(fd: OwnedFd) -> Result<Listener, ServiceError> {
    let fail = |e: std::io::Error| ServiceError::Listen {
        uri: "the socket systemd passed".into(),
        why: e.to_string(),
    };
    let family = rustix::net::getsockname(&fd).map_err(|e| fail(e.into()))?;
    if family.address_family() == rustix::net::AddressFamily::UNIX {
        let std = std::os::unix::net::UnixListener::from(fd);
        std.set_nonblocking(true).map_err(fail)?;
        return UnixListener::from_std(std)
            .map(Listener::Unix)
            .map_err(fail);
    }
    tcp(std::net::TcpListener::from(fd))
        .map(Listener::Tcp)
        .map_err(fail)
}
