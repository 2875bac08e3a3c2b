//! The content store: blobs addressed by digest under `<root>/blobs/sha256/<hex>`.
//!
//! Lifecycle of a blob: [`ContentStore::ingest`] opens a temp file under `<root>/tmp`; the caller
//! writes the bytes (usually while they stream from the network); [`Ingest::commit`] checks size and
//! digest, fsyncs, and renames into place. A blob is therefore visible only once verified, and a
//! crash at any moment leaves at most a temp file, which [`crate::sweep_stale`] removes later.
//!
//! ```no_run
//! # use hull_image::content::ContentStore;
//! # use std::io::Write;
//! let store = ContentStore::open("/var/lib/hull".as_ref()).unwrap();
//! let bytes = b"{}";
//! let digest = hull_oci::Digest::sha256_of(bytes);
//! let mut ingest = store.ingest(&digest, Some(2)).unwrap();
//! ingest.write_all(bytes).unwrap();
//! ingest.commit().unwrap();
//! assert!(store.contains(&digest));
//! ```

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use hull_oci::Digest;
use sha2::{Digest as _, Sha256};

use crate::fsutil::{fsync_dir, TempName};

#[derive(Debug, thiserror::Error)]
pub enum ContentError {
    #[error("blob {0} not found in the content store")]
    NotFound(Digest),
    #[error("blob {digest}: size mismatch: expected {expected} bytes, got {actual}")]
    SizeMismatch {
        digest: Digest,
        expected: u64,
        actual: u64,
    },
    #[error("blob {expected}: digest mismatch: content hashes to {actual}")]
    DigestMismatch { expected: Digest, actual: Digest },
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        source: io::Error,
    },
}

impl ContentError {
    fn io<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> ContentError + 'a {
        move |source| ContentError::Io {
            op,
            path: path.to_path_buf(),
            source,
        }
    }
}

#[derive(Debug, Clone)]
pub struct ContentStore {
    blobs: PathBuf,
    tmp: PathBuf,
}

impl ContentStore {
    /// Opens (creating if needed) the content store under `root`.
    pub fn open(root: &Path) -> Result<ContentStore, ContentError> {
        let blobs = root.join("blobs").join("sha256");
        let tmp = root.join("tmp");
        for dir in [&blobs, &tmp] {
            fs::create_dir_all(dir).map_err(ContentError::io("create directory", dir))?;
        }
        Ok(ContentStore { blobs, tmp })
    }

    pub fn path(&self, digest: &Digest) -> PathBuf {
        self.blobs.join(digest.hex())
    }

    pub fn contains(&self, digest: &Digest) -> bool {
        self.path(digest).is_file()
    }

    /// Opens a committed blob for streaming.
    pub fn open_blob(&self, digest: &Digest) -> Result<File, ContentError> {
        let path = self.path(digest);
        File::open(&path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => ContentError::NotFound(digest.clone()),
            _ => ContentError::io("open blob", &path)(e),
        })
    }

    /// Reads a whole (small) blob and re-verifies it, so a corrupted manifest or config on disk is
    /// caught instead of trusted.
    pub fn read(&self, digest: &Digest) -> Result<Vec<u8>, ContentError> {
        let mut bytes = Vec::new();
        let path = self.path(digest);
        self.open_blob(digest)?
            .read_to_end(&mut bytes)
            .map_err(ContentError::io("read blob", &path))?;
        let actual = Digest::sha256_of(&bytes);
        if &actual != digest {
            return Err(ContentError::DigestMismatch {
                expected: digest.clone(),
                actual,
            });
        }
        Ok(bytes)
    }

    /// Stores `bytes`, which must hash to `expected` when given. Returns the digest.
    pub fn put(&self, bytes: &[u8], expected: Option<&Digest>) -> Result<Digest, ContentError> {
        let digest = Digest::sha256_of(bytes);
        if let Some(expected) = expected {
            if expected != &digest {
                return Err(ContentError::DigestMismatch {
                    expected: expected.clone(),
                    actual: digest,
                });
            }
        }
        if !self.contains(&digest) {
            let mut ingest = self.ingest(&digest, Some(bytes.len() as u64))?;
            ingest
                .write_all(bytes)
                .map_err(ContentError::io("write blob", &ingest.path))?;
            ingest.commit()?;
        }
        Ok(digest)
    }

    /// Starts writing a blob that must hash to `expected` (and be `size` bytes, when known).
    pub fn ingest(&self, expected: &Digest, size: Option<u64>) -> Result<Ingest, ContentError> {
        self.start_ingest(Some(expected.clone()), size)
    }

    /// Starts writing a blob whose digest is not known yet (a tar hull writes itself, a layer
    /// being compressed): it is named by what it hashes to when committed.
    pub fn ingest_unknown(&self) -> Result<Ingest, ContentError> {
        self.start_ingest(None, None)
    }

    fn start_ingest(
        &self,
        expected: Option<Digest>,
        size: Option<u64>,
    ) -> Result<Ingest, ContentError> {
        let path = self.tmp.join(TempName::new("blob").to_string());
        let file = File::create(&path).map_err(ContentError::io("create temp blob", &path))?;
        Ok(Ingest {
            file: Some(file),
            path,
            blobs: self.blobs.clone(),
            hasher: Sha256::new(),
            written: 0,
            expected,
            size,
        })
    }

    /// Removes a blob; a missing blob is not an error.
    pub fn remove(&self, digest: &Digest) -> Result<(), ContentError> {
        let path = self.path(digest);
        match fs::remove_file(&path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                Err(ContentError::io("remove blob", &path)(e))
            }
            _ => Ok(()),
        }
    }

    /// Every committed blob.
    pub fn list(&self) -> Result<Vec<Digest>, ContentError> {
        let entries = fs::read_dir(&self.blobs).map_err(ContentError::io("list", &self.blobs))?;
        Ok(entries
            .filter_map(|e| e.ok())
            .filter_map(|e| Digest::from_hex(&e.file_name().to_string_lossy()).ok())
            .collect())
    }

    /// Total bytes of a committed blob.
    pub fn size(&self, digest: &Digest) -> Option<u64> {
        fs::metadata(self.path(digest)).ok().map(|m| m.len())
    }
}

/// A blob being written. Dropping it without [`Ingest::commit`] deletes the temp file.
pub struct Ingest {
    file: Option<File>,
    path: PathBuf,
    blobs: PathBuf,
    hasher: Sha256,
    written: u64,
    /// None for [`ContentStore::ingest_unknown`].
    expected: Option<Digest>,
    size: Option<u64>,
}

impl Write for Ingest {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Some(size) = self.size {
            if self.written + buf.len() as u64 > size {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "blob {} is larger than its declared {size} bytes",
                        self.digest_name()
                    ),
                ));
            }
        }
        let file = self
            .file
            .as_mut()
            .expect("ingest file is open until commit");
        let n = file.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Ingest {
    pub fn written(&self) -> u64 {
        self.written
    }

    /// The digest of what was written so far.
    pub fn digest_so_far(&self) -> Digest {
        Digest::from_sha256_bytes(&self.hasher.clone().finalize())
    }

    fn digest_name(&self) -> String {
        self.expected
            .as_ref()
            .map_or_else(|| "(unnamed)".to_string(), |d| d.to_string())
    }

    /// Verifies size and digest, then makes the blob durable and visible.
    pub fn commit(mut self) -> Result<Digest, ContentError> {
        self.verify()?;
        let digest = self.digest_so_far();
        let file = self.file.take().expect("ingest file is open until commit");
        file.sync_all()
            .map_err(ContentError::io("fsync blob", &self.path))?;
        drop(file);
        let dest = self.blobs.join(digest.hex());
        fs::rename(&self.path, &dest).map_err(ContentError::io("commit blob", &dest))?;
        fsync_dir(&self.blobs).map_err(ContentError::io("fsync", &self.blobs))?;
        Ok(digest)
    }

    fn verify(&self) -> Result<(), ContentError> {
        let actual = self.digest_so_far();
        if let Some(size) = self.size {
            if size != self.written {
                return Err(ContentError::SizeMismatch {
                    digest: self.expected.clone().unwrap_or(actual),
                    expected: size,
                    actual: self.written,
                });
            }
        }
        match &self.expected {
            Some(expected) if *expected != actual => Err(ContentError::DigestMismatch {
                expected: expected.clone(),
                actual,
            }),
            _ => Ok(()),
        }
    }
}

impl Drop for Ingest {
    fn drop(&mut self) {
        if self.file.is_some() {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// A reader that hashes what passes through and fails its final read (EOF) when the content does
/// not match `expected`, so unverified bytes never look like a complete stream.
pub struct VerifyingReader<R> {
    inner: R,
    hasher: Sha256,
    read: u64,
    expected: Digest,
    size: Option<u64>,
    verified: bool,
}

impl<R: Read> VerifyingReader<R> {
    pub fn new(inner: R, expected: Digest, size: Option<u64>) -> Self {
        VerifyingReader {
            inner,
            hasher: Sha256::new(),
            read: 0,
            expected,
            size,
            verified: false,
        }
    }

    /// Bytes read so far.
    pub fn count(&self) -> u64 {
        self.read
    }

    /// True once EOF was reached and the digest matched.
    pub fn verified(&self) -> bool {
        self.verified
    }

    fn check_at_eof(&mut self) -> io::Result<()> {
        if let Some(size) = self.size {
            if size != self.read {
                return Err(invalid(format!(
                    "{}: size mismatch: expected {size} bytes, got {}",
                    self.expected, self.read
                )));
            }
        }
        let actual = Digest::from_sha256_bytes(&self.hasher.clone().finalize());
        if actual != self.expected {
            return Err(invalid(format!(
                "digest mismatch: expected {}, content hashes to {actual}",
                self.expected
            )));
        }
        self.verified = true;
        Ok(())
    }
}

impl<R: Read> Read for VerifyingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 {
            if !self.verified {
                self.check_at_eof()?;
            }
            return Ok(0);
        }
        self.read += n as u64;
        if self.size.is_some_and(|s| self.read > s) {
            return Err(invalid(format!(
                "{}: more than the declared {} bytes",
                self.expected,
                self.size.unwrap_or_default()
            )));
        }
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// A reader that copies everything it reads into a writer (the blob being ingested).
pub struct TeeReader<R, W> {
    inner: R,
    sink: W,
}

impl<R: Read, W: Write> TeeReader<R, W> {
    pub fn new(inner: R, sink: W) -> Self {
        TeeReader { inner, sink }
    }

    pub fn into_parts(self) -> (R, W) {
        (self.inner, self.sink)
    }
}

impl<R: Read, W: Write> Read for TeeReader<R, W> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.sink.write_all(&buf[..n])?;
        Ok(n)
    }
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, ContentStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = ContentStore::open(dir.path()).unwrap();
        (dir, store)
    }

    fn tmp_entries(dir: &Path) -> usize {
        fs::read_dir(dir.join("tmp")).unwrap().count()
    }

    #[test]
    fn commit_makes_verified_blob_visible() {
        let (dir, store) = store();
        let d = store.put(b"hello", None).unwrap();
        assert!(store.contains(&d));
        assert_eq!(store.read(&d).unwrap(), b"hello");
        assert_eq!(store.list().unwrap(), vec![d]);
        assert_eq!(tmp_entries(dir.path()), 0);
    }

    #[test]
    fn digest_mismatch_is_never_visible() {
        let (dir, store) = store();
        let wrong = Digest::sha256_of(b"other");
        let mut ingest = store.ingest(&wrong, None).unwrap();
        ingest.write_all(b"hello").unwrap();
        let err = ingest.commit().unwrap_err();
        assert!(matches!(err, ContentError::DigestMismatch { .. }), "{err}");
        assert!(!store.contains(&wrong));
        assert_eq!(tmp_entries(dir.path()), 0, "temp file must be removed");
    }

    #[test]
    fn size_is_enforced_while_writing_and_at_commit() {
        let (_dir, store) = store();
        let d = Digest::sha256_of(b"hello");
        let mut ingest = store.ingest(&d, Some(3)).unwrap();
        assert!(ingest.write_all(b"hello").is_err());
        let mut short = store.ingest(&d, Some(10)).unwrap();
        short.write_all(b"hello").unwrap();
        assert!(matches!(
            short.commit().unwrap_err(),
            ContentError::SizeMismatch {
                expected: 10,
                actual: 5,
                ..
            }
        ));
    }

    #[test]
    fn abandoned_ingest_leaves_nothing() {
        let (dir, store) = store();
        let d = Digest::sha256_of(b"x");
        let mut ingest = store.ingest(&d, None).unwrap();
        ingest.write_all(b"x").unwrap();
        drop(ingest);
        assert_eq!(tmp_entries(dir.path()), 0);
        assert!(!store.contains(&d));
    }

    #[test]
    fn corrupted_blob_on_disk_is_detected_on_read() {
        let (_dir, store) = store();
        let d = store.put(b"good", None).unwrap();
        let path = store.path(&d);
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        fs::write(&path, b"evil").unwrap();
        assert!(matches!(
            store.read(&d).unwrap_err(),
            ContentError::DigestMismatch { .. }
        ));
    }

    #[test]
    fn verifying_reader_fails_final_read_on_mismatch() {
        let data = b"payload".to_vec();
        let good = Digest::sha256_of(&data);
        let mut ok = VerifyingReader::new(&data[..], good.clone(), Some(7));
        let mut out = Vec::new();
        ok.read_to_end(&mut out).unwrap();
        assert!(ok.verified());

        let mut bad = VerifyingReader::new(&b"payloaX"[..], good.clone(), Some(7));
        let err = bad.read_to_end(&mut Vec::new()).unwrap_err();
        assert!(err.to_string().contains("digest mismatch"), "{err}");

        let mut truncated = VerifyingReader::new(&b"pay"[..], good.clone(), Some(7));
        let err = truncated.read_to_end(&mut Vec::new()).unwrap_err();
        assert!(err.to_string().contains("size mismatch"), "{err}");

        let mut long = VerifyingReader::new(&b"payload-and-more"[..], good, Some(7));
        assert!(long.read_to_end(&mut Vec::new()).is_err());
    }

    #[test]
    fn tee_copies_everything_read() {
        let mut tee = TeeReader::new(&b"abc"[..], Vec::new());
        let mut out = Vec::new();
        tee.read_to_end(&mut out).unwrap();
        assert_eq!(tee.into_parts().1, b"abc");
    }
}
