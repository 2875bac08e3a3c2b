//! Hand-built tar streams for tests, including hostile ones (`..`, absolute paths) that
//! `tar::Builder` refuses to write.

use std::io::Read;

use tar::{EntryType, Header};

/// Builds a tar stream entry by entry, writing raw header bytes.
#[derive(Default)]
pub struct TarBuf {
    out: Vec<u8>,
}

/// Per-entry header fields with defaults.
#[derive(Clone)]
pub struct Fields {
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub mtime: u64,
}

impl Default for Fields {
    fn default() -> Self {
        Fields {
            mode: 0o644,
            uid: 0,
            gid: 0,
            mtime: 1_600_000_000,
        }
    }
}

fn pad(out: &mut Vec<u8>) {
    let rem = out.len() % 512;
    if rem != 0 {
        out.resize(out.len() + 512 - rem, 0);
    }
}

/// One PAX record: `"<len> key=value\n"` where len counts the whole record.
fn pax_record(key: &str, value: &[u8]) -> Vec<u8> {
    let body = key.len() + value.len() + 3; // ' ', '=', '\n'
    let mut len = body + 1;
    while len != body + len.to_string().len() {
        len = body + len.to_string().len();
    }
    let mut rec = format!("{len} {key}=").into_bytes();
    rec.extend_from_slice(value);
    rec.push(b'\n');
    rec
}

impl TarBuf {
    pub fn new() -> TarBuf {
        TarBuf::default()
    }

    /// Appends an entry with a raw (unchecked) path and link name of at most 100 bytes each.
    pub fn raw(
        mut self,
        kind: EntryType,
        path: &[u8],
        link: &[u8],
        data: &[u8],
        f: &Fields,
    ) -> TarBuf {
        let mut h = Header::new_gnu();
        h.as_old_mut().name[..path.len()].copy_from_slice(path);
        h.as_old_mut().linkname[..link.len()].copy_from_slice(link);
        h.set_entry_type(kind);
        h.set_size(data.len() as u64);
        h.set_mode(f.mode);
        h.set_uid(f.uid);
        h.set_gid(f.gid);
        h.set_mtime(f.mtime);
        h.set_cksum();
        self.out.extend_from_slice(h.as_bytes());
        self.out.extend_from_slice(data);
        pad(&mut self.out);
        self
    }

    /// A PAX extended header applying to the next entry.
    pub fn pax(self, records: &[(&str, &[u8])]) -> TarBuf {
        let data: Vec<u8> = records.iter().flat_map(|(k, v)| pax_record(k, v)).collect();
        self.raw(
            EntryType::XHeader,
            b"PaxHeader",
            b"",
            &data,
            &Fields::default(),
        )
    }

    /// A GNU long-name header applying to the next entry.
    pub fn gnu_long_name(self, name: &[u8]) -> TarBuf {
        let mut data = name.to_vec();
        data.push(0);
        self.raw(
            EntryType::GNULongName,
            b"././@LongLink",
            b"",
            &data,
            &Fields::default(),
        )
    }

    pub fn file(self, path: &str, data: &[u8]) -> TarBuf {
        self.file_with(path, data, &Fields::default())
    }

    pub fn file_with(self, path: &str, data: &[u8], f: &Fields) -> TarBuf {
        self.raw(EntryType::Regular, path.as_bytes(), b"", data, f)
    }

    pub fn dir(self, path: &str) -> TarBuf {
        let f = Fields {
            mode: 0o755,
            ..Fields::default()
        };
        self.dir_with(path, &f)
    }

    pub fn dir_with(self, path: &str, f: &Fields) -> TarBuf {
        self.raw(EntryType::Directory, path.as_bytes(), b"", b"", f)
    }

    pub fn symlink(self, path: &str, target: &str) -> TarBuf {
        let f = Fields {
            mode: 0o777,
            ..Fields::default()
        };
        self.raw(
            EntryType::Symlink,
            path.as_bytes(),
            target.as_bytes(),
            b"",
            &f,
        )
    }

    pub fn hardlink(self, path: &str, target: &str) -> TarBuf {
        let f = Fields::default();
        self.raw(EntryType::Link, path.as_bytes(), target.as_bytes(), b"", &f)
    }

    /// A device node or fifo.
    pub fn node(self, kind: EntryType, path: &str, major: u32, minor: u32, mode: u32) -> TarBuf {
        let mut t = self.raw(
            kind,
            path.as_bytes(),
            b"",
            b"",
            &Fields {
                mode,
                ..Fields::default()
            },
        );
        // Patch the device numbers into the header just written, then fix its checksum.
        let at = t.out.len() - 512;
        let mut h = Header::new_gnu();
        h.as_mut_bytes().copy_from_slice(&t.out[at..]);
        h.set_device_major(major).unwrap();
        h.set_device_minor(minor).unwrap();
        h.set_cksum();
        t.out[at..].copy_from_slice(h.as_bytes());
        t
    }

    /// The stream with its two end-of-archive blocks.
    pub fn finish(mut self) -> Vec<u8> {
        self.out.extend_from_slice(&[0u8; 1024]);
        self.out
    }
}

/// A reader that counts how many bytes were consumed.
pub struct Counting<R> {
    pub inner: R,
    pub read: u64,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        Ok(n)
    }
}

pub fn is_root() -> bool {
    hull_sys::fs::is_root()
}
