//! Container labels: `--label-file` and `--label`/`-l` flags (Docker's `ReadKVStrings`: the
//! files first, then the flags, a later key replacing an earlier one), merged over the image's
//! labels when the container is created, so that its record holds what `inspect` shows and
//! `ps --filter label=` matches.
//!
//! ```
//! # use hull_engine::run::labels;
//! # use std::collections::BTreeMap;
//! let user = labels::parse_flags(&["tier=web".into(), "beta".into()], &[], &|_| unreachable!())
//!     .unwrap();
//! let image = BTreeMap::from([("tier".to_string(), "base".to_string())]);
//! let merged = labels::merge(Some(&image), &user);
//! assert_eq!(merged["tier"], "web"); // the container's label wins
//! assert_eq!(merged["beta"], "");
//! ```

use std::path::{Path, PathBuf};

use crate::run::config::FlagError;
pub use crate::run::config::Labels;

/// `--label-file` contents, then `--label` values; `read` reads a file (injected, for tests).
pub fn parse_flags(
    labels: &[String],
    files: &[PathBuf],
    read: &dyn Fn(&Path) -> std::io::Result<String>,
) -> Result<Labels, FlagError> {
    let mut out = Labels::new();
    for file in files {
        let text = read(file).map_err(|e| FlagError {
            flag: "--label-file",
            value: file.display().to_string(),
            reason: e.to_string(),
        })?;
        for line in file_lines(&text) {
            insert(&mut out, "--label-file", line)?;
        }
    }
    for l in labels {
        insert(&mut out, "--label", l)?;
    }
    Ok(out)
}

/// A label file's entries: one per line; blank lines and `#` comments are skipped.
fn file_lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines()
        .map(|l| l.trim_start())
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
}

/// `KEY=VALUE`, or `KEY` for an empty value; an empty key is an error.
fn insert(out: &mut Labels, flag: &'static str, entry: &str) -> Result<(), FlagError> {
    let (key, value) = entry.split_once('=').unwrap_or((entry, ""));
    if key.trim().is_empty() {
        return Err(FlagError {
            flag,
            value: entry.to_string(),
            reason: "invalid label: empty key".to_string(),
        });
    }
    out.insert(key.to_string(), value.to_string());
    Ok(())
}

/// The image's labels with the container's over them (Docker's create-time merge).
pub fn merge(image: Option<&Labels>, container: &Labels) -> Labels {
    let mut merged = image.cloned().unwrap_or_default();
    merged.extend(container.iter().map(|(k, v)| (k.clone(), v.clone())));
    merged
}

/// `docker ps --format '{{.Labels}}'`: `k=v` pairs joined by commas, sorted by key.
pub fn display(labels: &Labels) -> String {
    labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// `--filter label=KEY` (any value) or `label=KEY=VALUE`.
pub fn matches(labels: &Labels, key: &str, value: Option<&str>) -> bool {
    labels
        .get(key)
        .is_some_and(|v| value.is_none_or(|want| v == want))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_files(_: &Path) -> std::io::Result<String> {
        Err(std::io::ErrorKind::NotFound.into())
    }

    #[test]
    fn flags_override_files_and_a_bare_key_has_an_empty_value() {
        let read = |p: &Path| {
            assert_eq!(p, Path::new("/l"));
            Ok("# comment\n\n  a=file\nb=file=x\nc\n".to_string())
        };
        let got = parse_flags(&["a=flag".into(), "d".into()], &["/l".into()], &read).unwrap();
        let want: Labels = [("a", "flag"), ("b", "file=x"), ("c", ""), ("d", "")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn bad_labels_and_missing_files_name_the_flag() {
        let err = parse_flags(&["=v".into()], &[], &no_files).unwrap_err();
        assert_eq!(err.flag, "--label");
        let err = parse_flags(&[], &["/nope".into()], &no_files).unwrap_err();
        assert_eq!(err.flag, "--label-file");
        assert_eq!(err.value, "/nope");
    }

    #[test]
    fn the_container_wins_the_merge_and_filters_match_key_or_pair() {
        let image: Labels = [("a".to_string(), "img".to_string())].into();
        let user: Labels = [("b".to_string(), "1".to_string())].into();
        let m = merge(Some(&image), &user);
        assert_eq!(display(&m), "a=img,b=1");
        assert!(matches(&m, "a", None) && matches(&m, "b", Some("1")));
        assert!(!matches(&m, "b", Some("2")) && !matches(&m, "c", None));
        let over: Labels = [("a".to_string(), "mine".to_string())].into();
        assert_eq!(merge(Some(&image), &over)["a"], "mine");
        assert_eq!(merge(None, &user), user);
    }
}
