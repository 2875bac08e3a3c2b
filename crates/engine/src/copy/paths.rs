//! Docker's `cp` path rules, as pure functions of the paths and what they name.
//!
//! | source | destination          | result                                               |
//! |--------|----------------------|------------------------------------------------------|
//! | file   | missing, no `/`      | written as DEST (its parent must exist)              |
//! | file   | missing, ends in `/` | error: the destination directory must exist          |
//! | file   | a file               | DEST is overwritten                                  |
//! | file   | a directory          | copied into it under its own name                    |
//! | dir    | missing              | DEST is created with the contents of SRC             |
//! | dir    | a file               | error: cannot copy a directory to a file             |
//! | dir    | a directory          | SRC copied into it; with `SRC/.` only its contents   |

use std::ffi::{OsStr, OsString};
use std::path::{Component, Path, PathBuf};

/// What a path names, following symlinks at the destination as Docker does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Missing,
    File,
    Dir,
}

/// Where the copy lands: the directory the archive is extracted into, and the name its top
/// entry gets there (`None`: the source's contents go straight into `dir`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub dir: PathBuf,
    pub top: Option<OsString>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("source {0:?} is not a directory")]
    SourceNotDir(String),
    #[error("destination directory {0:?} must exist")]
    DestDirMissing(String),
    #[error("cannot copy a directory {src:?} to a file {dest:?}")]
    DirToFile { src: String, dest: String },
    #[error("destination {0:?} is not a directory")]
    DestNotDir(String),
}

/// A source path split into the directory holding it and its final name (`.` for the root),
/// plus whether it asked for its contents only (`dir/.`) or insisted on a directory (`dir/`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub parent: PathBuf,
    pub name: OsString,
    pub contents_only: bool,
    pub must_be_dir: bool,
}

pub fn split_source(path: &str) -> Result<Source, PathError> {
    let contents_only = path.ends_with("/.") || path == ".";
    let must_be_dir = contents_only || path.ends_with('/');
    let clean = clean(path);
    let (parent, name) = match clean.file_name() {
        Some(name) => (
            clean.parent().unwrap_or(Path::new("")).to_path_buf(),
            name.to_os_string(),
        ),
        // The root itself: copying "/" means its contents.
        None => (clean.clone(), OsString::from(".")),
    };
    Ok(Source {
        contents_only: contents_only || name == ".",
        must_be_dir,
        parent,
        name,
    })
}

/// The path relative to its root: drops `.`, empty components and a leading `/`, and lets `..`
/// climb no higher than the root (as the kernel does with `RESOLVE_IN_ROOT`). Host paths are
/// made absolute before they get here.
pub fn clean(path: &str) -> PathBuf {
    let mut out = PathBuf::new();
    for c in Path::new(path).components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir | Component::RootDir | Component::Prefix(_) => {}
        }
    }
    out
}

/// Applies the table above. `src_is_dir` is what the source names (a symlink is not a dir).
pub fn plan(src: &Source, src_is_dir: bool, dest: &str, kind: Kind) -> Result<Plan, PathError> {
    if src.must_be_dir && !src_is_dir {
        return Err(PathError::SourceNotDir(
            src.parent.join(&src.name).display().to_string(),
        ));
    }
    let dest_clean = clean(dest);
    let into_parent = || Plan {
        dir: dest_clean.parent().unwrap_or(Path::new("")).to_path_buf(),
        top: Some(
            dest_clean
                .file_name()
                .unwrap_or(OsStr::new("."))
                .to_os_string(),
        ),
    };
    match (src_is_dir, kind) {
        (_, Kind::Dir) => Ok(Plan {
            dir: dest_clean.clone(),
            top: (!src.contents_only).then(|| src.name.clone()),
        }),
        (false, Kind::Missing) if dest.ends_with('/') => {
            Err(PathError::DestDirMissing(dest.to_string()))
        }
        (false, Kind::File) if dest.ends_with('/') => Err(PathError::DestNotDir(dest.to_string())),
        (false, Kind::Missing | Kind::File) => Ok(into_parent()),
        (true, Kind::File) => Err(PathError::DirToFile {
            src: src.parent.join(&src.name).display().to_string(),
            dest: dest.to_string(),
        }),
        (true, Kind::Missing) => Ok(into_parent()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(
        src: &str,
        is_dir: bool,
        dest: &str,
        kind: Kind,
    ) -> Result<(String, Option<String>), PathError> {
        let s = split_source(src)?;
        plan(&s, is_dir, dest, kind).map(|p| {
            (
                p.dir.display().to_string(),
                p.top.map(|t| t.to_string_lossy().into_owned()),
            )
        })
    }

    fn some(dir: &str, top: Option<&str>) -> Result<(String, Option<String>), PathError> {
        Ok((dir.to_string(), top.map(String::from)))
    }

    #[test]
    fn files_follow_dockers_table() {
        assert_eq!(
            p("/etc/passwd", false, "/tmp/x", Kind::Missing),
            some("tmp", Some("x"))
        );
        assert_eq!(
            p("/etc/passwd", false, "/tmp/x/", Kind::Missing),
            Err(PathError::DestDirMissing("/tmp/x/".into()))
        );
        assert_eq!(
            p("/etc/passwd", false, "/tmp/x", Kind::File),
            some("tmp", Some("x"))
        );
        assert_eq!(
            p("/etc/passwd", false, "/tmp", Kind::Dir),
            some("tmp", Some("passwd"))
        );
        assert_eq!(
            p("etc/passwd", false, ".", Kind::Dir),
            some("", Some("passwd"))
        );
        assert!(matches!(
            p("/etc/passwd/", false, "/tmp", Kind::Dir),
            Err(PathError::SourceNotDir(_))
        ));
    }

    #[test]
    fn directories_follow_dockers_table() {
        assert_eq!(
            p("/etc", true, "/tmp/new", Kind::Missing),
            some("tmp", Some("new"))
        );
        assert_eq!(
            p("/etc/.", true, "/tmp/new", Kind::Missing),
            some("tmp", Some("new"))
        );
        assert_eq!(p("/etc", true, "/tmp", Kind::Dir), some("tmp", Some("etc")));
        assert_eq!(
            p("/etc/", true, "/tmp", Kind::Dir),
            some("tmp", Some("etc"))
        );
        assert_eq!(p("/etc/.", true, "/tmp", Kind::Dir), some("tmp", None));
        assert_eq!(p("/", true, "/tmp", Kind::Dir), some("tmp", None));
        assert!(matches!(
            p("/etc", true, "/tmp/f", Kind::File),
            Err(PathError::DirToFile { .. })
        ));
    }

    #[test]
    fn dot_dot_stays_below_the_root() {
        assert_eq!(clean("/a/./b//c"), PathBuf::from("a/b/c"));
        assert_eq!(clean("/a/../../etc"), PathBuf::from("etc"));
        assert_eq!(split_source("../x").unwrap().name, OsString::from("x"));
    }
}
