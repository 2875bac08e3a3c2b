//! The TLS client configuration for one registry: the system roots plus the CA files the user put
//! in `<certs_dir>/<host:port>/*.crt` or `<certs_dir>/<host>/*.crt` (Docker's and podman's
//! `certs.d` layout).

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore};

use super::error::RegistryError;
use super::url::split_host_port;

/// The system trust store, loaded once per process: reading it costs a few milliseconds and
/// every registry needs it. Unreadable system certificates are skipped, as every TLS client does.
fn system_roots() -> &'static [CertificateDer<'static>] {
    static ROOTS: OnceLock<Vec<CertificateDer<'static>>> = OnceLock::new();
    ROOTS.get_or_init(|| rustls_native_certs::load_native_certs().certs)
}

/// Builds the client configuration for `host_port`, trusting the system roots and its certs.d CAs.
pub(crate) fn client_config(
    host_port: &str,
    certs_dirs: &[PathBuf],
) -> Result<Arc<ClientConfig>, RegistryError> {
    let mut roots = RootCertStore::empty();
    roots.add_parsable_certificates(system_roots().iter().cloned());
    for cert in registry_cas(host_port, certs_dirs)? {
        roots.add(cert).map_err(|e| RegistryError::Tls {
            host: host_port.to_string(),
            cause: format!("bad CA certificate: {e}"),
        })?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| RegistryError::Tls {
            host: host_port.to_string(),
            cause: e.to_string(),
        })?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Every certificate from the `*.crt` files in the registry's certs.d directories.
pub(crate) fn registry_cas(
    host_port: &str,
    certs_dirs: &[PathBuf],
) -> Result<Vec<CertificateDer<'static>>, RegistryError> {
    let mut certs = Vec::new();
    for dir in candidate_dirs(host_port, certs_dirs) {
        for file in crt_files(&dir)? {
            certs.extend(read_pem_certs(&file)?);
        }
    }
    Ok(certs)
}

/// `<dir>/<host:port>` and, when a port is given, `<dir>/<host>`.
fn candidate_dirs(host_port: &str, certs_dirs: &[PathBuf]) -> Vec<PathBuf> {
    let (host, port) = split_host_port(host_port);
    let mut names = vec![host_port];
    if port.is_some() {
        names.push(host);
    }
    certs_dirs
        .iter()
        .flat_map(|dir| names.iter().map(move |name| dir.join(name)))
        .collect()
}

/// The `*.crt` files in `dir`, sorted; a missing directory has none.
fn crt_files(dir: &Path) -> Result<Vec<PathBuf>, RegistryError> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(RegistryError::ReadCa {
                path: dir.to_path_buf(),
                source,
            })
        }
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|ext| ext == "crt"))
        .collect();
    files.sort();
    Ok(files)
}

fn read_pem_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, RegistryError> {
    let read_err = |source| RegistryError::ReadCa {
        path: path.to_path_buf(),
        source,
    };
    let pem = fs::read(path).map_err(read_err)?;
    let certs = rustls_pemfile::certs(&mut pem.as_slice())
        .collect::<Result<Vec<_>, _>>()
        .map_err(read_err)?;
    if certs.is_empty() {
        let none = std::io::Error::new(std::io::ErrorKind::InvalidData, "no PEM certificate");
        return Err(read_err(none));
    }
    Ok(certs)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A self-signed P-256 CA made with `openssl req -x509 -newkey ec`, valid until 2126.
    const TEST_CA: &str = "-----BEGIN CERTIFICATE-----
MIIBhjCCASugAwIBAgIUXkO3Hw4tyWWXcIBhn4AAmGm+mrMwCgYIKoZIzj0EAwIw
FzEVMBMGA1UEAwwMaHVsbCB0ZXN0IGNhMCAXDTI2MTEyOTAzMjU1NVoYDzIxMjYx
MTA1MDMyNTU1WjAXMRUwEwYDVQQDDAxodWxsIHRlc3QgY2EwWTATBgcqhkjOPQIB
BggqhkjOPQMBBwNCAARPgsEInLbXBqVf/5BrN5wA6oEydkPwKqtztxpp+zfpgrMh
ENxme+l4Ih0uahIAIX93KJ2AuYEekDgW8ez7+lKdo1MwUTAdBgNVHQ4EFgQUJ5Ty
+WHyL4FoVSs3MZf0aEfZPnYwHwYDVR0jBBgwFoAUJ5Ty+WHyL4FoVSs3MZf0aEfZ
PnYwDwYDVR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNJADBGAiEA7MEyjwheoooV
he0Y6mmgPMFLFtq6BKtEys4Rx7EfO08CIQDJo3SEJq35c6F0pIMdtuHfPDJHA0MJ
uahCkLeddJNT+g==
-----END CERTIFICATE-----
";

    fn write(path: &Path, text: &str) {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }

    #[test]
    fn loads_cas_for_host_port_and_bare_host() {
        let docker = tempfile::tempdir().unwrap();
        let podman = tempfile::tempdir().unwrap();
        write(&docker.path().join("reg.lan:5000/ca.crt"), TEST_CA);
        write(&podman.path().join("reg.lan/extra.crt"), TEST_CA);
        write(&docker.path().join("reg.lan:5000/client.key"), "not a cert");
        write(&docker.path().join("other.lan/ca.crt"), TEST_CA);
        let dirs = [docker.path().to_path_buf(), podman.path().to_path_buf()];
        assert_eq!(registry_cas("reg.lan:5000", &dirs).unwrap().len(), 2);
        assert_eq!(registry_cas("reg.lan", &dirs).unwrap().len(), 1);
        assert_eq!(registry_cas("none.lan", &dirs).unwrap().len(), 0);
        assert!(client_config("reg.lan:5000", &dirs).is_ok());
    }

    #[test]
    fn garbage_ca_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        write(&dir.path().join("reg.lan/ca.crt"), "garbage");
        let err = client_config("reg.lan", &[dir.path().to_path_buf()]).unwrap_err();
        assert!(err.to_string().contains("reg.lan/ca.crt"), "{err}");
    }
}
