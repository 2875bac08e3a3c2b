//! Platform selection from an image index (`--platform os/arch[/variant]`).

use std::fmt;
use std::str::FromStr;

use hull_oci::image::{Descriptor, Platform};

/// A wanted platform. `variant: None` accepts any variant (preferring none, or v8 on arm64).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformSpec {
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
}

impl PlatformSpec {
    /// The platform this hull binary runs on, in OCI (GOARCH) spelling.
    pub fn host() -> PlatformSpec {
        let (architecture, variant) = match std::env::consts::ARCH {
            "x86_64" => ("amd64", None),
            "aarch64" => ("arm64", None),
            "arm" => ("arm", Some("v7")),
            "x86" => ("386", None),
            "powerpc64" => ("ppc64le", None),
            "s390x" => ("s390x", None),
            "riscv64" => ("riscv64", None),
            other => (other, None),
        };
        PlatformSpec {
            os: "linux".to_string(),
            architecture: architecture.to_string(),
            variant: variant.map(str::to_string),
        }
    }

    pub fn matches(&self, p: &Platform) -> bool {
        p.os == self.os
            && p.architecture == self.architecture
            && match (&self.variant, &p.variant) {
                (Some(want), Some(have)) => want == have,
                (Some(want), None) => self.architecture == "arm64" && want == "v8",
                (None, _) => true,
            }
    }

    /// The best entry of an index for this platform. Entries without a platform are skipped
    /// (attestations and the like).
    pub fn select<'a>(&self, manifests: &'a [Descriptor]) -> Option<&'a Descriptor> {
        let candidates = manifests
            .iter()
            .filter(|d| d.platform.as_ref().is_some_and(|p| self.matches(p)));
        candidates.min_by_key(|d| variant_rank(self, d.platform.as_ref()))
    }
}

/// Lower is better: an exact variant, then no variant, then v8 on arm64, then anything.
fn variant_rank(want: &PlatformSpec, p: Option<&Platform>) -> u8 {
    let have = p.and_then(|p| p.variant.as_deref());
    match (want.variant.as_deref(), have) {
        (Some(w), Some(h)) if w == h => 0,
        (_, None) => 1,
        (_, Some("v8")) => 2,
        _ => 3,
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid platform {0:?}: expected os/arch[/variant], for example linux/amd64")]
pub struct PlatformError(String);

impl FromStr for PlatformSpec {
    type Err = PlatformError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = s.split('/').collect();
        let ok =
            |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        match parts.as_slice() {
            [os, arch] if ok(os) && ok(arch) => Ok(PlatformSpec {
                os: os.to_string(),
                architecture: normalize_arch(arch),
                variant: None,
            }),
            [os, arch, variant] if ok(os) && ok(arch) && ok(variant) => Ok(PlatformSpec {
                os: os.to_string(),
                architecture: normalize_arch(arch),
                variant: Some(variant.to_string()),
            }),
            _ => Err(PlatformError(s.to_string())),
        }
    }
}

fn normalize_arch(arch: &str) -> String {
    match arch {
        "x86_64" | "x86-64" => "amd64",
        "aarch64" => "arm64",
        "i386" => "386",
        other => other,
    }
    .to_string()
}

impl fmt::Display for PlatformSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hull_oci::Digest;

    fn desc(arch: &str, variant: Option<&str>) -> Descriptor {
        Descriptor {
            media_type: String::new(),
            digest: Digest::sha256_of(format!("{arch}{variant:?}").as_bytes()),
            size: 1,
            platform: Some(Platform {
                architecture: arch.to_string(),
                os: "linux".to_string(),
                variant: variant.map(str::to_string),
                os_version: None,
            }),
            urls: vec![],
            annotations: Default::default(),
        }
    }

    #[test]
    fn parses_and_normalizes() {
        let p: PlatformSpec = "linux/x86_64".parse().unwrap();
        assert_eq!(p.to_string(), "linux/amd64");
        let p: PlatformSpec = "linux/arm/v7".parse().unwrap();
        assert_eq!(p.variant.as_deref(), Some("v7"));
        assert!("linux".parse::<PlatformSpec>().is_err());
        assert!("linux//x".parse::<PlatformSpec>().is_err());
    }

    #[test]
    fn selects_matching_entry() {
        let list = vec![
            desc("amd64", None),
            desc("arm64", Some("v8")),
            desc("arm", Some("v6")),
            desc("arm", Some("v7")),
        ];
        let amd: PlatformSpec = "linux/amd64".parse().unwrap();
        assert_eq!(amd.select(&list), Some(&list[0]));
        let arm64: PlatformSpec = "linux/arm64".parse().unwrap();
        assert_eq!(arm64.select(&list), Some(&list[1]));
        let v7: PlatformSpec = "linux/arm/v7".parse().unwrap();
        assert_eq!(v7.select(&list), Some(&list[3]));
        let s390: PlatformSpec = "linux/s390x".parse().unwrap();
        assert_eq!(s390.select(&list), None);
    }
}
