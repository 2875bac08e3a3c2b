//! ADD of a URL: each URL is fetched once per build (with the registry client's TLS rules, as
//! `hull import URL`) into a temp file beside the store, hashed on the way, and checked against
//! `--checksum=sha256:…`. The step's cache key holds the content digests, so a changed file
//! reruns the step, as Docker's classic builder does. The file lands with mode 0600 (Docker's
//! default for a download, `--chmod` wins) and mtime 0: the layer is the same for the same
//! content. It is not extracted, even when it is an archive.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::Arc;

use hull_oci::Digest;
use sha2::{Digest as _, Sha256};

use super::{fail, BuildError, Builder};
use crate::dockerfile::Copy;

/// A fetched URL.
pub(crate) struct Download {
    pub path: PathBuf,
    pub digest: Digest,
    /// The last segment of the URL's path: the file name under a directory destination.
    pub name: String,
}

/// The URLs fetched in this build, and the temp dir that holds them.
#[derive(Default)]
pub(crate) struct Downloads {
    dir: RefCell<Option<tempfile::TempDir>>,
    done: RefCell<BTreeMap<String, Arc<Download>>>,
}

pub(crate) fn is_url(source: &str) -> bool {
    source.starts_with("http://") || source.starts_with("https://")
}

/// The file name a URL gives (its path's last segment), if it has one.
fn file_name(url: &str) -> Option<String> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let path = rest.split(['?', '#']).next().unwrap_or(rest);
    let (_, path) = path.split_once('/')?;
    let name = path.rsplit('/').next()?;
    (!name.is_empty() && name != "." && name != "..").then(|| name.to_string())
}

impl Builder<'_> {
    /// `url`, fetched once per build and checked against `checksum` (`sha256:HEX`).
    pub(super) fn download(
        &self,
        url: &str,
        checksum: Option<&str>,
        kw: &str,
        line: usize,
    ) -> Result<Arc<Download>, BuildError> {
        let at = |m: String| fail(format!("{kw} {url} (Dockerfile:{line}): {m}"));
        let got = self.downloads.done.borrow().get(url).cloned();
        let d = match got {
            Some(d) => d,
            None => {
                let d = Arc::new(self.fetch(url).map_err(at)?);
                self.downloads
                    .done
                    .borrow_mut()
                    .insert(url.to_string(), d.clone());
                d
            }
        };
        if let Some(want) = checksum {
            let want: Digest = want
                .parse()
                .map_err(|e| at(format!("--checksum={want}: {e}")))?;
            if want != d.digest {
                return Err(at(format!(
                    "checksum mismatch: expected {want}, got {}",
                    d.digest
                )));
            }
        }
        Ok(d)
    }

    fn fetch(&self, url: &str) -> Result<Download, String> {
        let name = file_name(url).unwrap_or_default();
        let mut dir = self.downloads.dir.borrow_mut();
        if dir.is_none() {
            let root = self.engine.images.root().join("tmp");
            std::fs::create_dir_all(&root)
                .map_err(|e| format!("create {}: {e}", root.display()))?;
            *dir = Some(tempfile::tempdir_in(&root).map_err(|e| format!("temp dir: {e}"))?);
        }
        let dir = dir.as_ref().expect("made above").path();
        let path = dir.join(format!("{}", self.downloads.done.borrow().len()));
        let mut stream =
            hull_image::registry::fetch_url(url, &self.opts.registry).map_err(|e| e.to_string())?;
        let mut out =
            std::fs::File::create(&path).map_err(|e| format!("write {}: {e}", path.display()))?;
        let mut hash = Sha256::new();
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = stream
                .reader
                .read(&mut buf)
                .map_err(|e| format!("read: {e}"))?;
            if n == 0 {
                break;
            }
            hash.update(&buf[..n]);
            out.write_all(&buf[..n])
                .map_err(|e| format!("write {}: {e}", path.display()))?;
        }
        let digest = Digest::from_sha256_bytes(&hash.finalize());
        Ok(Download { path, digest, name })
    }
}

impl Builder<'_> {
    /// Splits URL sources from local patterns: only ADD takes URLs, and `--checksum` needs
    /// exactly one URL and nothing else.
    pub(super) fn urls_of(
        &self,
        c: &Copy,
        kw: &str,
        patterns: Vec<String>,
        line: usize,
    ) -> Result<(Vec<String>, Vec<String>), BuildError> {
        let at = |m: &str| fail(format!("{kw} (Dockerfile:{line}): {m}"));
        let (urls, local): (Vec<String>, Vec<String>) =
            patterns.into_iter().partition(|p| is_url(p));
        if kw == "COPY" && !urls.is_empty() {
            return Err(at("a source cannot be a URL (ADD fetches URLs)"));
        }
        if c.flags.checksum.is_some() && (urls.len() != 1 || c.sources.len() != 1) {
            return Err(at("--checksum needs exactly one source, a URL"));
        }
        Ok((urls, local))
    }

    /// Each URL fetched, with the path it takes in the layer.
    pub(super) fn fetched(
        &self,
        urls: &[String],
        c: &Copy,
        abs_dest: &str,
        into_dir: bool,
        kw: &str,
        line: usize,
    ) -> Result<Vec<(Arc<Download>, String)>, BuildError> {
        let mut out = Vec::new();
        for u in urls {
            let d = self.download(u, c.flags.checksum.as_deref(), kw, line)?;
            let target = match (into_dir, d.name.is_empty()) {
                (false, _) => abs_dest.to_string(),
                (true, false) => format!("{}/{}", abs_dest.trim_end_matches('/'), d.name),
                (true, true) => {
                    return Err(fail(format!(
                    "{kw} {u} (Dockerfile:{line}): the URL names no file; give a file destination"
                )))
                }
            };
            out.push((d, target));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_name_is_the_paths_last_segment() {
        assert_eq!(
            file_name("https://h/a/b.tar.gz?x=1#f").as_deref(),
            Some("b.tar.gz")
        );
        assert_eq!(file_name("http://h:8080/file").as_deref(), Some("file"));
        assert_eq!(file_name("http://h/"), None);
        assert_eq!(file_name("http://h"), None);
        assert_eq!(file_name("http://h/dir/.."), None);
        assert!(is_url("https://x/y") && !is_url("ftp://x/y") && !is_url("x/y"));
    }
}
