//! Where hull keeps things, and the registry settings file. Roots are resolved here once and passed
//! down; nothing below the CLI reads the environment.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use hull_image::registry::{DockerConfig, RegistryConfig};

pub const DEFAULT_ROOT: &str = "/var/lib/hull";
pub fn root(cli_root: Option<&Path>) -> PathBuf {
    cli_root.map_or_else(|| PathBuf::from(DEFAULT_ROOT), Path::to_path_buf)
}

/// Registry client settings from the config file, docker's credentials and an optional
/// `--cert-dir`.
pub fn registry_config(
    config_file: Option<&Path>,
    cert_dir: Option<&Path>,
) -> Result<RegistryConfig> {
    let creds_path = DockerConfig::default_path();
    let credentials = DockerConfig::load(&creds_path)
        .with_context(|| format!("read credentials {}", creds_path.display()))?;
    Ok(hull_engine::settings::registry_config(
        config_file,
        cert_dir,
        Some(credentials),
    )?)
}
