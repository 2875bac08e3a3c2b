//! The final image: `--label`s over the target stage's config, its layers in the chosen
//! manifest family (`--format`), stored and tagged.

use std::collections::BTreeMap;

use hull_image::store::LayerRef;

use super::{fail, BuildError, Current};

/// `--format`: the family the image's manifest takes when it is pushed or saved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// OCI image-spec media types (the default, as buildah and BuildKit).
    #[default]
    Oci,
    /// Docker's schema 2 (`--format docker`), as Docker's classic builder makes.
    Docker,
}

impl std::str::FromStr for Format {
    type Err = BuildError;
    fn from_str(s: &str) -> Result<Format, BuildError> {
        match s {
            "oci" => Ok(Format::Oci),
            "docker" => Ok(Format::Docker),
            _ => Err(fail(format!("--format {s:?}: must be oci or docker"))),
        }
    }
}

/// `--label K=V`s set on the final config (a label of the same key from the Dockerfile is
/// replaced), with no history entry: they describe the build, not a step.
pub(crate) fn add_labels(last: &mut Current, labels: &BTreeMap<String, String>) {
    if labels.is_empty() {
        return;
    }
    let config = last.config.config.get_or_insert_with(Default::default);
    let map = config.labels.get_or_insert_with(Default::default);
    for (k, v) in labels {
        map.insert(k.clone(), v.clone());
    }
}

/// The layers with media types in `format`'s family: the bytes stay, only the declared type
/// changes (gzip is gzip and a tar a tar in both). A zstd layer has no Docker type.
pub(crate) fn in_format(layers: &[LayerRef], format: Format) -> Result<Vec<LayerRef>, BuildError> {
    let oci = format == Format::Oci;
    layers
        .iter()
        .map(|l| {
            let mut l = l.clone();
            match hull_oci::image::layer_media_type_in(&l.media_type, oci) {
                Some(t) => l.media_type = t.to_string(),
                None if !oci => {
                    return Err(fail(format!(
                        "--format docker: layer {} is {}, which Docker's format cannot hold",
                        l.diff_id, l.media_type
                    )))
                }
                None => {}
            }
            Ok(l)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use hull_oci::image::media;
    use hull_oci::Digest;

    fn layer(media_type: &str) -> LayerRef {
        LayerRef {
            diff_id: Digest::sha256_of(media_type.as_bytes()),
            blob: None,
            media_type: media_type.into(),
            blob_size: 0,
        }
    }

    #[test]
    fn layers_take_the_formats_family() {
        let mixed = [layer(media::DOCKER_LAYER_GZIP), layer(media::OCI_LAYER)];
        let oci = in_format(&mixed, Format::Oci).unwrap();
        assert_eq!(oci[0].media_type, media::OCI_LAYER_GZIP);
        assert_eq!(oci[1].media_type, media::OCI_LAYER);
        let docker = in_format(&mixed, Format::Docker).unwrap();
        assert_eq!(docker[0].media_type, media::DOCKER_LAYER_GZIP);
        assert_eq!(docker[1].media_type, media::DOCKER_LAYER);
        assert_eq!(docker[0].diff_id, mixed[0].diff_id);
    }

    #[test]
    fn a_zstd_layer_cannot_be_docker() {
        let e = in_format(&[layer(media::OCI_LAYER_ZSTD)], Format::Docker).unwrap_err();
        assert!(e.to_string().contains("--format docker"), "{e}");
        assert!(in_format(&[layer(media::OCI_LAYER_ZSTD)], Format::Oci).is_ok());
        assert!("podman".parse::<Format>().is_err());
    }
}
