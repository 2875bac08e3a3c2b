//! Where COPY/ADD put their sources in the image: Docker's destination rules as a pure plan,
//! no file system touched.
//!
//! - A relative destination is joined to WORKDIR (`/` when unset); the result is cleaned.
//! - The destination is a directory when it ends in `/` (or is `.`), when it already is a
//!   directory in the image (the caller looks), or when the sources matched several entries;
//!   a file source then lands at `<dest>/<its name>`. Otherwise a single file source is
//!   written *at* the destination path.
//! - Several source arguments need a destination ending in `/` (Docker refuses otherwise).
//! - A directory source copies its *contents* into the destination, never the directory
//!   itself (`COPY dir/ /dst/` and `COPY dir /dst` both fill `/dst`).

use std::path::{Path, PathBuf};

use crate::glob::clean;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DestError {
    #[error("{instr} {dest:?}: an empty destination")]
    Empty { instr: String, dest: String },
    #[error(
        "{instr} with more than one source: the destination {dest:?} must be a directory \
         ending in /"
    )]
    NotDir { instr: String, dest: String },
}

/// One resolved source (see `Context::resolve_sources`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// Relative to the context root.
    pub path: PathBuf,
    pub is_dir: bool,
}

/// The destination half of a COPY/ADD.
#[derive(Debug, Clone, Copy)]
pub struct DestRequest<'a> {
    /// `COPY` or `ADD`, for errors.
    pub instr: &'a str,
    /// As written in the Dockerfile (after variable expansion).
    pub dest: &'a str,
    /// The stage's WORKDIR; empty means `/`.
    pub workdir: &'a str,
    /// How many source arguments were written (before glob expansion).
    pub args: usize,
    /// Whether the destination already exists as a directory in the image.
    pub exists_as_dir: bool,
}

/// One copy to perform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyStep {
    /// Relative to the context root.
    pub source: PathBuf,
    /// Absolute, cleaned path in the image.
    pub dest: String,
    /// The source is a directory whose contents go into `dest`.
    pub contents: bool,
}

/// The plan for `sources` (all matches of all source arguments, in order).
pub fn plan(req: &DestRequest<'_>, sources: &[Source]) -> Result<Vec<CopyStep>, DestError> {
    let dest = req.dest.trim();
    if dest.is_empty() {
        return Err(DestError::Empty {
            instr: req.instr.into(),
            dest: req.dest.into(),
        });
    }
    let slash = dest.ends_with('/') || dest == "." || dest.ends_with("/.");
    if req.args > 1 && !slash {
        return Err(DestError::NotDir {
            instr: req.instr.into(),
            dest: req.dest.into(),
        });
    }
    let into_dir = slash || req.exists_as_dir || sources.len() > 1;
    let base = absolute(dest, req.workdir);
    Ok(sources
        .iter()
        .map(|src| {
            let dest = match (src.is_dir, into_dir, file_name(&src.path)) {
                (false, true, Some(name)) => clean(&format!("{base}/{name}")),
                _ => base.clone(),
            };
            CopyStep {
                source: src.path.clone(),
                dest,
                contents: src.is_dir,
            }
        })
        .collect())
}

fn absolute(dest: &str, workdir: &str) -> String {
    if dest.starts_with('/') {
        return clean(dest);
    }
    let workdir = if workdir.is_empty() { "/" } else { workdir };
    clean(&format!("/{workdir}/{dest}"))
}

fn file_name(path: &Path) -> Option<String> {
    path.file_name().map(|n| n.to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(spec: &str) -> Source {
        match spec.strip_suffix('/') {
            Some(dir) => Source {
                path: dir.into(),
                is_dir: true,
            },
            None => Source {
                path: spec.into(),
                is_dir: false,
            },
        }
    }

    /// (sources (a trailing / marks a directory), args, dest, workdir, exists_as_dir,
    ///  expected (dest, contents) per source)
    type Row = (
        &'static [&'static str],
        usize,
        &'static str,
        &'static str,
        bool,
        &'static [&'static str],
    );

    const TABLE: &[Row] = &[
        (&["a.txt"], 1, "/dst", "", false, &["/dst"]),
        (&["a.txt"], 1, "/dst/", "", false, &["/dst/a.txt"]),
        (&["a.txt"], 1, "/dst", "", true, &["/dst/a.txt"]),
        (&["sub/a.txt"], 1, "/dst/", "", false, &["/dst/a.txt"]),
        (&["a.txt"], 1, "rel", "/app", false, &["/app/rel"]),
        (&["a.txt"], 1, "rel/", "/app", false, &["/app/rel/a.txt"]),
        (&["a.txt"], 1, ".", "/app", false, &["/app/a.txt"]),
        (&["a.txt"], 1, "./", "", false, &["/a.txt"]),
        (&["a.txt"], 1, "../up", "/app/x", false, &["/app/up"]),
        (&["a.txt"], 1, "x", "", false, &["/x"]),
        (&["a.txt"], 1, "/../../etc/x", "", false, &["/etc/x"]),
        (&["dir/"], 1, "/dst", "", false, &["/dst*"]),
        (&["dir/"], 1, "/dst/", "", false, &["/dst*"]),
        (&["./"], 1, "/app/", "", false, &["/app*"]),
        (
            &["a.txt", "b.txt"],
            1,
            "/dst",
            "",
            false,
            &["/dst/a.txt", "/dst/b.txt"],
        ),
        (
            &["a.txt", "dir/"],
            2,
            "/dst/",
            "/w",
            false,
            &["/dst/a.txt", "/dst*"],
        ),
        (
            &["a.txt", "b.txt"],
            2,
            "d/",
            "/w",
            false,
            &["/w/d/a.txt", "/w/d/b.txt"],
        ),
    ];

    #[test]
    fn docker_destination_rules() {
        for (sources, args, dest, workdir, exists, want) in TABLE {
            let sources: Vec<Source> = sources.iter().map(|s| src(s)).collect();
            let req = DestRequest {
                instr: "COPY",
                dest,
                workdir,
                args: *args,
                exists_as_dir: *exists,
            };
            let got: Vec<String> = plan(&req, &sources)
                .unwrap_or_else(|e| panic!("{dest}: {e}"))
                .into_iter()
                .map(|s| format!("{}{}", s.dest, if s.contents { "*" } else { "" }))
                .collect();
            assert_eq!(got, *want, "{sources:?} -> {dest} (workdir {workdir})");
        }
    }

    #[test]
    fn several_arguments_need_a_directory_destination() {
        let req = DestRequest {
            instr: "COPY",
            dest: "/dst",
            workdir: "",
            args: 2,
            exists_as_dir: true,
        };
        let err = plan(&req, &[src("a"), src("b")]).unwrap_err().to_string();
        assert_eq!(
            err,
            "COPY with more than one source: the destination \"/dst\" must be a directory ending in /"
        );
        let empty = DestRequest { dest: " ", ..req };
        assert!(plan(&empty, &[src("a")]).is_err());
    }
}
