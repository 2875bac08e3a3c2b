//! Lexical cleaning of tar entry paths before any syscall sees them.
//!
//! A leading `/` is dropped (layer paths are relative to the layer root), `.` and empty
//! components are skipped, and `..` pops a component; a `..` that would climb above the root is
//! refused. Symlinks are not looked at here: the kernel resolves them inside the root later
//! (`RESOLVE_IN_ROOT`), so this is the first of two independent fences.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::error::Refusal;

/// A cleaned entry path: the parent directory (relative, possibly empty) and the final name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct EntryPath {
    pub parent: PathBuf,
    pub name: Box<OsStr>,
}

impl EntryPath {
    /// The full relative path (`parent/name`).
    pub fn full(&self) -> PathBuf {
        self.parent.join(&*self.name)
    }
}

/// Cleans `raw`. `Ok(None)` means the path names the layer root itself (`.`, `./`, `/`).
pub(super) fn clean(raw: &[u8]) -> Result<Option<EntryPath>, Refusal> {
    let mut comps: Vec<&[u8]> = Vec::new();
    for comp in raw.split(|b| *b == b'/') {
        match comp {
            b"" | b"." => {}
            b".." => {
                if comps.pop().is_none() {
                    return Err(Refusal::Escapes);
                }
            }
            c if c.contains(&0) => return Err(Refusal::NulByte),
            c => comps.push(c),
        }
    }
    let Some(name) = comps.pop() else {
        return Ok(None);
    };
    let mut parent = PathBuf::new();
    for c in comps {
        parent.push(OsStr::from_bytes(c));
    }
    Ok(Some(EntryPath {
        parent,
        name: OsStr::from_bytes(name).into(),
    }))
}

/// Number of components, used to order directories deepest first.
pub(super) fn depth(p: &Path) -> usize {
    p.components().count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(raw: &str) -> (String, String) {
        let p = clean(raw.as_bytes()).unwrap().unwrap();
        (
            p.parent.to_str().unwrap().to_owned(),
            p.name.to_str().unwrap().to_owned(),
        )
    }

    #[test]
    fn cleans_relative_absolute_and_dotted_paths() {
        assert_eq!(ok("a/b/c"), ("a/b".into(), "c".into()));
        assert_eq!(ok("/etc/passwd"), ("etc".into(), "passwd".into()));
        assert_eq!(ok("./a//b/./"), ("a".into(), "b".into()));
        assert_eq!(ok("a/x/../b"), ("a".into(), "b".into()));
        assert_eq!(ok("f"), ("".into(), "f".into()));
    }

    #[test]
    fn root_itself_is_none() {
        for raw in [".", "./", "/", "", "a/.."] {
            assert_eq!(clean(raw.as_bytes()), Ok(None), "{raw}");
        }
    }

    #[test]
    fn refuses_climbing_above_root() {
        for raw in [
            "..",
            "../x",
            "a/../../x",
            "/../x",
            "./../x",
            "a/b/../../../x",
        ] {
            assert_eq!(clean(raw.as_bytes()), Err(Refusal::Escapes), "{raw}");
        }
    }

    #[test]
    fn refuses_nul() {
        assert_eq!(clean(b"a\0b"), Err(Refusal::NulByte));
    }
}
