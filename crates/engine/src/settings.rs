//! The registry settings file (`/etc/hull/config.json`, in the spirit of Docker's daemon.json)
//! and the registry client's configuration made from it, for every front end that pulls.

use std::path::{Path, PathBuf};

use hull_image::registry::{DockerConfig, RegistryConfig};
use serde::Deserialize;

pub const DEFAULT_CONFIG: &str = "/etc/hull/config.json";

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("read config {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("read config {path}: {source}")]
    Parse {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct FileSettings {
    /// Registries (host[:port]) that may be reached over plain HTTP.
    #[serde(default)]
    pub insecure_registries: Vec<String>,
    /// Extra directories of per-registry CA certificates.
    #[serde(default)]
    pub certs_dirs: Vec<PathBuf>,
}

impl FileSettings {
    /// `path`, else the default file; only the default may be missing.
    pub fn load(path: Option<&Path>) -> Result<FileSettings, SettingsError> {
        let (path, explicit) = match path {
            Some(p) => (p.to_path_buf(), true),
            None => (PathBuf::from(DEFAULT_CONFIG), false),
        };
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|source| SettingsError::Parse { path, source }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => Ok(Self::default()),
            Err(source) => Err(SettingsError::Read { path, source }),
        }
    }
}

/// The registry client's settings: the file's, an optional extra certificates directory, and
/// the credentials to use (the CLI's from `hull login`, the API's from the request).
pub fn registry_config(
    config_file: Option<&Path>,
    cert_dir: Option<&Path>,
    credentials: Option<DockerConfig>,
) -> Result<RegistryConfig, SettingsError> {
    let file = FileSettings::load(config_file)?;
    let mut certs_dirs: Vec<PathBuf> = cert_dir.into_iter().map(Path::to_path_buf).collect();
    certs_dirs.extend(file.certs_dirs);
    certs_dirs.push("/etc/docker/certs.d".into());
    certs_dirs.push("/etc/containers/certs.d".into());
    Ok(RegistryConfig {
        certs_dirs,
        insecure: file.insecure_registries,
        credentials,
        user_agent: format!("hull/{}", env!("CARGO_PKG_VERSION")),
        max_attempts: 4,
    })
}
