//! `hull import`: a root filesystem tar (a file, a URL or stdin; plain, gzip or zstd) as a
//! one-layer image. The layer kept is the uncompressed tar, unpacked by the same extractor as a
//! pull, so a hostile tar is refused or contained exactly as a hostile layer is.

use std::io::Read;

use hull_image::local::open_tar;
use hull_image::platform::PlatformSpec;
use hull_image::registry::{fetch_url, RegistryConfig};
use hull_image::Reference;
use hull_oci::image::{ContainerConfig, History, ImageConfig, RootFs};
use hull_oci::Digest;

use super::{changes, CommitError};
use crate::engine::now;
use crate::{Engine, EngineError};

/// Where the tar comes from.
pub enum ImportSource {
    /// A path, or `-` for stdin.
    Path(String),
    /// An `http://` or `https://` URL.
    Url(String),
    /// An already open stream (the API's request body), with the name history records.
    Reader(Box<dyn Read + Send>, String),
}

impl ImportSource {
    /// `-`, a URL or a path, as the command line gives it.
    pub fn parse(arg: &str) -> ImportSource {
        if arg.starts_with("http://") || arg.starts_with("https://") {
            ImportSource::Url(arg.to_string())
        } else {
            ImportSource::Path(arg.to_string())
        }
    }

    fn name(&self) -> &str {
        match self {
            ImportSource::Path(p) => p,
            ImportSource::Url(u) => u,
            ImportSource::Reader(_, n) => n,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    pub changes: Vec<String>,
    pub message: Option<String>,
    /// `os/arch[/variant]`; the host's when None.
    pub platform: Option<String>,
    pub tag: Option<Reference>,
    /// TLS rules for a URL source.
    pub registry: Option<RegistryConfig>,
}

impl Engine {
    /// Imports the tar `source` as a new one-layer image and returns its ID.
    pub fn import(
        &self,
        source: ImportSource,
        opts: &ImportOptions,
    ) -> Result<Digest, EngineError> {
        let name = source.name().to_string();
        let fail = |cause: String| CommitError::Import {
            source_name: name.clone(),
            cause: printable(&cause),
        };
        let mut cc = ContainerConfig::default();
        changes::apply_all(&mut cc, &opts.changes).map_err(CommitError::from)?;
        let platform = platform(opts.platform.as_deref()).map_err(&fail)?;
        let reader: Box<dyn Read + Send> = match source {
            ImportSource::Path(p) if p == "-" => Box::new(std::io::stdin()),
            ImportSource::Path(p) => {
                Box::new(std::fs::File::open(&p).map_err(|e| fail(e.to_string()))?)
            }
            ImportSource::Url(u) => {
                let config = opts.registry.clone().unwrap_or_default();
                fetch_url(&u, &config)
                    .map_err(|e| fail(e.to_string()))?
                    .reader
            }
            ImportSource::Reader(r, _) => r,
        };
        let tar = open_tar(reader).map_err(|e| fail(e.to_string()))?;
        let _gc = self.images.gc_shared()?;
        let new = self
            .images
            .add_layer_from_tar(tar)
            .map_err(|e| fail(e.to_string()))?;
        let created = now();
        let config = ImageConfig {
            created: Some(created.clone()),
            architecture: platform.architecture,
            os: platform.os,
            variant: platform.variant,
            config: (cc != ContainerConfig::default()).then_some(cc),
            rootfs: RootFs {
                kind: "layers".into(),
                diff_ids: vec![new.layer.diff_id.clone()],
            },
            history: vec![History {
                created: Some(created),
                created_by: Some(format!("Imported from {name}")),
                author: None,
                comment: opts.message.clone().filter(|m| !m.is_empty()),
                empty_layer: None,
            }],
            ..Default::default()
        };
        let tags: Vec<Reference> = opts.tag.iter().cloned().collect();
        let id = self
            .images
            .add_local_image(&config, vec![new.layer], &tags)
            .map_err(CommitError::from)?;
        let tag = opts.tag.as_ref().map(|t| t.familiar()).unwrap_or_default();
        self.image_event("import", &id.to_string(), &tag);
        Ok(id)
    }
}

/// A cause that stays one readable line: the tar reader quotes the bytes it choked on.
fn printable(cause: &str) -> String {
    let clean: String = cause
        .chars()
        .map(|c| match c {
            c if c.is_control() || c == '\u{fffd}' => '?',
            c => c,
        })
        .collect();
    match clean.char_indices().nth(200) {
        Some((i, _)) => format!("{}…", &clean[..i]),
        None => clean,
    }
}

/// `os/arch[/variant]`, checked for shape; the host's platform when None.
fn platform(arg: Option<&str>) -> Result<PlatformSpec, String> {
    let Some(arg) = arg else {
        return Ok(PlatformSpec::host());
    };
    let parts: Vec<&str> = arg.split('/').collect();
    match parts.as_slice() {
        [os, arch] | [os, arch, _] if !os.is_empty() && !arch.is_empty() => Ok(PlatformSpec {
            os: os.to_string(),
            architecture: arch.to_string(),
            variant: parts.get(2).map(|v| v.to_string()),
        }),
        _ => Err(format!("--platform {arg:?}: want os/arch[/variant]")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platforms_and_causes() {
        let p = platform(Some("linux/arm64/v8")).unwrap();
        assert_eq!((p.os.as_str(), p.architecture.as_str()), ("linux", "arm64"));
        assert_eq!(p.variant.as_deref(), Some("v8"));
        assert_eq!(platform(None).unwrap().os, "linux");
        for bad in ["linux", "/amd64", "a/b/c/d"] {
            assert!(platform(Some(bad)).is_err(), "{bad}");
        }
        assert_eq!(printable("bad \n\u{1}x\u{fffd}"), "bad ??x?");
        assert_eq!(printable(&"y".repeat(300)).chars().count(), 201);
    }
}
