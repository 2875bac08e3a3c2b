//! Platforms: hull builds for the host's platform only (no emulation), so `--platform` and
//! `FROM --platform=` must name it; BuildKit's automatic platform ARGs describe it.

use std::collections::BTreeMap;

use hull_image::platform::PlatformSpec;

use super::{fail, BuildError};

/// Checks that `wanted` (as given to `what`) is the host's platform.
pub fn check(wanted: &str, what: &str) -> Result<(), BuildError> {
    let host = PlatformSpec::host();
    let spec: PlatformSpec = wanted.parse().map_err(|e| fail(format!("{what}: {e}")))?;
    let same_variant = spec.variant.is_none() || spec.variant == host.variant;
    if spec.os == host.os && spec.architecture == host.architecture && same_variant {
        return Ok(());
    }
    Err(fail(format!(
        "{what}: {spec}: only the host's platform ({host}) can be built (hull does not emulate)"
    )))
}

/// BuildKit's automatic ARGs (TARGETPLATFORM, TARGETOS, TARGETARCH, TARGETVARIANT and the
/// BUILD* four): in the global scope for FROM, and inside a stage once declared by `ARG NAME`.
pub(crate) fn automatic_args() -> BTreeMap<String, String> {
    let host = PlatformSpec::host();
    let mut out = BTreeMap::new();
    for side in ["TARGET", "BUILD"] {
        out.insert(format!("{side}PLATFORM"), host.to_string());
        out.insert(format!("{side}OS"), host.os.clone());
        out.insert(format!("{side}ARCH"), host.architecture.clone());
        out.insert(
            format!("{side}VARIANT"),
            host.variant.clone().unwrap_or_default(),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_hosts_platform_passes() {
        let host = PlatformSpec::host().to_string();
        check(&host, "--platform").unwrap();
        let other = if host.contains("amd64") {
            "linux/arm64"
        } else {
            "linux/amd64"
        };
        let e = check(other, "--platform").unwrap_err().to_string();
        assert!(e.starts_with("--platform: linux/"), "{e}");
        assert!(e.contains("only the host's platform"), "{e}");
        assert!(check("linux", "--platform").is_err());
    }

    #[test]
    fn automatic_args_name_the_host() {
        let a = automatic_args();
        assert_eq!(a["TARGETPLATFORM"], PlatformSpec::host().to_string());
        assert_eq!(a["BUILDARCH"], PlatformSpec::host().architecture);
        assert_eq!(a["TARGETOS"], "linux");
    }
}
