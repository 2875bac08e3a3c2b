//! AUFS-style whiteout names in tar layers, mapped to overlayfs conventions.
//!
//! | tar entry               | becomes                                            |
//! |-------------------------|----------------------------------------------------|
//! | `dir/.wh.name`          | character device 0/0 at `dir/name`                 |
//! | `dir/.wh..wh..opq`      | xattr `trusted.overlay.opaque=y` on `dir`          |
//! | `dir/.wh..wh.<other>`   | ignored (AUFS metadata such as `.wh..wh.plnk`)     |
//! | `.wh.`, `.wh..`, `.wh...` | refused                                          |

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

use super::error::Refusal;

/// The prefix AUFS uses for whiteout names.
pub const PREFIX: &str = ".wh.";
/// The name that marks its directory opaque.
pub const OPAQUE: &str = ".wh..wh..opq";
/// The overlayfs xattr that marks a directory opaque.
pub const OPAQUE_XATTR: &str = "trusted.overlay.opaque";
/// The xattr namespace reserved for overlayfs; never taken from, or written to, a tar stream.
pub const OVERLAY_XATTR_PREFIX: &str = "trusted.overlay.";

/// What a final path component means as a whiteout.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Whiteout<'a> {
    /// An ordinary name.
    None,
    /// Mark the parent directory opaque.
    Opaque,
    /// Hide `name` from lower layers.
    Remove(&'a OsStr),
    /// AUFS bookkeeping with no overlay meaning.
    AufsMeta,
}

/// Classifies the final component `name` of an entry path.
pub(super) fn classify(name: &OsStr) -> Result<Whiteout<'_>, Refusal> {
    let bytes = name.as_bytes();
    let Some(rest) = bytes.strip_prefix(PREFIX.as_bytes()) else {
        return Ok(Whiteout::None);
    };
    if bytes == OPAQUE.as_bytes() {
        return Ok(Whiteout::Opaque);
    }
    if rest.starts_with(PREFIX.as_bytes()) {
        return Ok(Whiteout::AufsMeta);
    }
    match rest {
        b"" | b"." | b".." => Err(Refusal::BadWhiteout),
        _ => Ok(Whiteout::Remove(OsStr::from_bytes(rest))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &str) -> Result<Whiteout<'_>, Refusal> {
        classify(OsStr::new(s))
    }

    #[test]
    fn classifies_names() {
        assert_eq!(c("file"), Ok(Whiteout::None));
        assert_eq!(c(".whx"), Ok(Whiteout::None));
        assert_eq!(c(".wh.file"), Ok(Whiteout::Remove(OsStr::new("file"))));
        assert_eq!(
            c(".wh..hidden"),
            Ok(Whiteout::Remove(OsStr::new(".hidden")))
        );
        assert_eq!(c(".wh..wh..opq"), Ok(Whiteout::Opaque));
        assert_eq!(c(".wh..wh.plnk"), Ok(Whiteout::AufsMeta));
        assert_eq!(c(".wh..wh.aufs"), Ok(Whiteout::AufsMeta));
    }

    #[test]
    fn refuses_dot_dotdot_and_empty() {
        for n in [".wh.", ".wh..", ".wh..."] {
            assert_eq!(c(n), Err(Refusal::BadWhiteout), "{n}");
        }
    }
}
