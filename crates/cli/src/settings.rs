//! Where hull keeps things, and the registry settings file. Roots are resolved here once and passed
//! down; nothing below the CLI reads the environment.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use hull_image::registry::{DockerConfig, RegistryConfig};
use serde::Deserialize;

pub const DEFAULT_ROOT: &str = "/var/lib/hull";
pub const DEFAULT_CONFIG: &str = "/etc/hull/config.json";

/// `/etc/hull/config.json`, in the spirit of Docker's daemon.json.
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
    pub fn load(path: Option<&Path>) -> Result<FileSettings> {
        let (path, explicit) = match path {
            Some(p) => (p.to_path_buf(), true),
            None => (PathBuf::from(DEFAULT_CONFIG), false),
        };
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .with_context(|| format!("read config {}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => Ok(Self::default()),
            Err(e) => Err(e).with_context(|| format!("read config {}", path.display())),
        }
    }
}

pub fn root(cli_root: Option<&Path>) -> PathBuf {
    cli_root.map_or_else(|| PathBuf::from(DEFAULT_ROOT), Path::to_path_buf)
}

/// Registry client settings from the config file, docker's credentials and an optional
/// `--cert-dir`.
pub fn registry_config(
    config_file: Option<&Path>,
    cert_dir: Option<&Path>,
) -> Result<RegistryConfig> {
    let file = FileSettings::load(config_file)?;
    let mut certs_dirs: Vec<PathBuf> = cert_dir.into_iter().map(Path::to_path_buf).collect();
    certs_dirs.extend(file.certs_dirs);
    certs_dirs.push("/etc/docker/certs.d".into());
    certs_dirs.push("/etc/containers/certs.d".into());
    let creds_path = DockerConfig::default_path();
    let credentials = DockerConfig::load(&creds_path)
        .with_context(|| format!("read credentials {}", creds_path.display()))?;
    Ok(RegistryConfig {
        certs_dirs,
        insecure: file.insecure_registries,
        credentials: Some(credentials),
        user_agent: format!("hull/{}", env!("CARGO_PKG_VERSION")),
        max_attempts: 4,
    })
}
