//! `.dockerignore`: Docker's rules, which are not gitignore's.
//!
//! One pattern a line; `#` starts a comment line; blank lines are skipped; whitespace around a
//! line is trimmed; a pattern is cleaned like Go's `filepath.Clean` and a leading `/` dropped
//! (patterns are relative to the context root, a trailing `/` therefore means nothing); `!`
//! makes an exception; the last matching line wins. Within a segment `*`, `?`, `[...]` and `\`
//! behave like Go's `filepath.Match`; a whole segment `**` matches any number of directories,
//! zero included. A path is matched as is and through each of its parent directories (Docker's
//! "parent path matches" rule), so `docs` excludes `docs/a/b` — yet a later `!docs/a/keep`
//! re-includes that file, which is why a walker asks [`DockerIgnore::may_reinclude_below`]
//! before it skips an excluded directory.
//!
//! The `Dockerfile` and `.dockerignore` themselves may be excluded: they are then invisible to
//! COPY/ADD, but the builder still reads them — the caller opens them directly, not through the
//! context.

use std::io;
use std::path::{Path, PathBuf};

use crate::glob::{clean, Segment};

#[derive(Debug, thiserror::Error)]
pub enum IgnoreError {
    #[error("{file}:{line}: bad pattern {pattern:?}: {why}")]
    BadPattern {
        file: String,
        line: usize,
        pattern: String,
        why: String,
    },
    #[error("read {path:?}: {cause}")]
    Read { path: PathBuf, cause: io::Error },
}

/// The compiled rules of one `.dockerignore` (or none).
#[derive(Debug, Clone, Default)]
pub struct DockerIgnore {
    rules: Vec<Rule>,
}

#[derive(Debug, Clone)]
struct Rule {
    exception: bool,
    parts: Vec<Part>,
}

#[derive(Debug, Clone)]
enum Part {
    /// `**`: any number of segments, zero included.
    Any,
    One(Segment),
}

impl DockerIgnore {
    /// No rules: nothing is excluded.
    pub fn empty() -> DockerIgnore {
        DockerIgnore::default()
    }

    /// Reads `<root>/.dockerignore`; a missing file means no rules.
    pub fn load(root: &Path) -> Result<DockerIgnore, IgnoreError> {
        Ok(DockerIgnore::read(&root.join(".dockerignore"))?.unwrap_or_default())
    }

    /// BuildKit's choice for the Dockerfile at `dockerfile`: `<dockerfile>.dockerignore` next
    /// to it when that exists (e.g. `app.Dockerfile.dockerignore`), else `<root>/.dockerignore`.
    pub fn load_for(root: &Path, dockerfile: &Path) -> Result<DockerIgnore, IgnoreError> {
        let mut own = dockerfile.as_os_str().to_owned();
        own.push(".dockerignore");
        match DockerIgnore::read(Path::new(&own))? {
            Some(rules) => Ok(rules),
            None => DockerIgnore::load(root),
        }
    }

    fn read(path: &Path) -> Result<Option<DockerIgnore>, IgnoreError> {
        match std::fs::read(path) {
            Ok(bytes) => {
                let text = bytes_to_text(&bytes);
                DockerIgnore::parse(&path.display().to_string(), &text).map(Some)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(cause) => Err(IgnoreError::Read {
                path: path.to_owned(),
                cause,
            }),
        }
    }

    /// Compiles the text of a `.dockerignore`; `file` names it in errors.
    pub fn parse(file: &str, text: &str) -> Result<DockerIgnore, IgnoreError> {
        let mut rules = Vec::new();
        for (idx, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = |why: String| IgnoreError::BadPattern {
                file: file.to_string(),
                line: idx + 1,
                pattern: line.to_string(),
                why,
            };
            let (exception, body) = match line.strip_prefix('!') {
                Some(rest) => (true, rest.trim()),
                None => (false, line),
            };
            if body.is_empty() {
                return Err(bad("an exception '!' needs a pattern".into()));
            }
            let cleaned = clean(body);
            let cleaned = cleaned.strip_prefix('/').unwrap_or(&cleaned);
            if cleaned.is_empty() || cleaned == "." {
                continue; // names the context root itself: Docker never excludes the root
            }
            let parts = cleaned
                .split('/')
                .map(|seg| match seg {
                    "**" => Ok(Part::Any),
                    s => Segment::parse(s).map(Part::One),
                })
                .collect::<Result<Vec<_>, _>>()
                .map_err(bad)?;
            rules.push(Rule { exception, parts });
        }
        Ok(DockerIgnore { rules })
    }

    /// True when `rel` (a `/`-separated path relative to the context root, no leading `/`) is
    /// excluded from the context.
    pub fn is_excluded(&self, rel: &str) -> bool {
        let segs: Vec<&str> = rel
            .split('/')
            .filter(|s| !s.is_empty() && *s != ".")
            .collect();
        if segs.is_empty() {
            return false;
        }
        let mut excluded = false;
        for rule in &self.rules {
            if rule.exception == excluded && rule.matches_self_or_parent(&segs) {
                excluded = !rule.exception;
            }
        }
        excluded
    }

    /// True when some exception could re-include an entry below the directory `rel`: a walker
    /// must then descend into `rel` even though `rel` itself is excluded. Conservative: it may
    /// say yes for a directory where in the end nothing comes back.
    pub fn may_reinclude_below(&self, rel: &str) -> bool {
        let segs: Vec<&str> = rel
            .split('/')
            .filter(|s| !s.is_empty() && *s != ".")
            .collect();
        self.rules
            .iter()
            .any(|r| r.exception && could_continue_below(&r.parts, &segs))
    }

    /// True when there are no rules at all.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
}

impl Rule {
    fn matches_self_or_parent(&self, segs: &[&str]) -> bool {
        (1..=segs.len()).any(|n| match_parts(&self.parts, &segs[..n]))
    }
}

/// Full match of pattern parts against path segments.
fn match_parts(parts: &[Part], segs: &[&str]) -> bool {
    match parts.split_first() {
        None => segs.is_empty(),
        // A trailing `**` needs at least one segment (`docs/**` is not `docs`); elsewhere it
        // may match none (`**/x` matches `x`).
        Some((Part::Any, [])) => !segs.is_empty(),
        Some((Part::Any, rest)) => (0..=segs.len()).any(|skip| match_parts(rest, &segs[skip..])),
        Some((Part::One(seg), rest)) => match segs.split_first() {
            Some((name, tail)) => seg.matches(name) && match_parts(rest, tail),
            None => false,
        },
    }
}

/// Whether the pattern could match some path strictly below the directory `segs`: the
/// directory is a prefix of a possible match and pattern parts remain after it.
fn could_continue_below(parts: &[Part], segs: &[&str]) -> bool {
    match (parts.split_first(), segs.split_first()) {
        (None, _) => false,
        (Some((Part::Any, _)), _) => true,
        (Some(_), None) => true,
        (Some((Part::One(seg), rest)), Some((name, tail))) => {
            seg.matches(name) && could_continue_below(rest, tail)
        }
    }
}

fn bytes_to_text(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    text.strip_prefix('\u{feff}').unwrap_or(&text).to_string()
}

#[cfg(test)]
#[path = "ignore_tests.rs"]
mod tests;
