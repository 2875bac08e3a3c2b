//! Entry metadata read from the tar header and its PAX records.

use std::ffi::OsString;
use std::io::{self, Read};
use std::os::unix::ffi::OsStringExt;

use hull_sys::fs::FileTime;

use super::error::{Failure, Op, Refusal};

/// What gets restored on an entry besides its contents.
#[derive(Debug, Clone)]
pub(super) struct Meta {
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub atime: FileTime,
    pub mtime: FileTime,
    pub xattrs: Vec<(OsString, Vec<u8>)>,
}

const XATTR_PAX_PREFIX: &str = "SCHILY.xattr.";

impl Meta {
    /// Reads the header fields, then lets PAX `mtime`/`atime`/`SCHILY.xattr.*` override them.
    pub fn read<R: Read>(entry: &mut tar::Entry<'_, R>) -> Result<Meta, Failure> {
        let h = entry.header();
        let bad = |f| Failure::Refused(Refusal::BadHeader(f));
        let mode = h.mode().map_err(|_| bad("mode"))? & 0o7777;
        let uid = u32::try_from(h.uid().map_err(|_| bad("uid"))?).map_err(|_| bad("uid"))?;
        let gid = u32::try_from(h.gid().map_err(|_| bad("gid"))?).map_err(|_| bad("gid"))?;
        let secs = i64::try_from(h.mtime().map_err(|_| bad("mtime"))?).map_err(|_| bad("mtime"))?;
        let mtime = FileTime { sec: secs, nsec: 0 };
        let mut meta = Meta {
            mode,
            uid,
            gid,
            atime: mtime,
            mtime,
            xattrs: Vec::new(),
        };
        meta.apply_pax(entry)?;
        Ok(meta)
    }

    fn apply_pax<R: Read>(&mut self, entry: &mut tar::Entry<'_, R>) -> Result<(), Failure> {
        let Some(pax) = entry.pax_extensions().op("read pax records")? else {
            return Ok(());
        };
        let mut atime = None;
        for rec in pax {
            let rec = rec.op("read pax records")?;
            let Ok(key) = rec.key() else { continue };
            if let Some(name) = key.strip_prefix(XATTR_PAX_PREFIX) {
                let name = OsString::from_vec(name.as_bytes().to_vec());
                self.xattrs.push((name, rec.value_bytes().to_vec()));
            } else if key == "mtime" {
                self.mtime =
                    parse_time(rec.value_bytes()).ok_or(Refusal::BadHeader("pax mtime"))?;
            } else if key == "atime" {
                atime = Some(parse_time(rec.value_bytes()).ok_or(Refusal::BadHeader("pax atime"))?);
            }
        }
        self.atime = atime.unwrap_or(self.mtime);
        Ok(())
    }
}

/// Parses a PAX time such as `1700000000.123456789` or `-1.5`.
pub(super) fn parse_time(v: &[u8]) -> Option<FileTime> {
    let s = std::str::from_utf8(v).ok()?;
    let (neg, s) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let sec: i64 = int.parse().ok()?;
    let mut nsec: u32 = 0;
    for (i, b) in frac.bytes().take(9).enumerate() {
        nsec += u32::from(b - b'0') * 10u32.pow(8 - i as u32);
    }
    if !neg {
        return Some(FileTime { sec, nsec });
    }
    Some(match nsec {
        0 => FileTime { sec: -sec, nsec: 0 },
        n => FileTime {
            sec: -sec - 1,
            nsec: 1_000_000_000 - n,
        },
    })
}

/// Reads `src` into `dst` through `buf`, separating read (archive) from write (disk) errors.
pub(super) fn copy_contents(
    src: &mut impl Read,
    dst: &mut impl io::Write,
    buf: &mut [u8],
) -> Result<u64, Failure> {
    let mut total = 0u64;
    loop {
        let n = match src.read(buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Failure::Io("read contents".into(), e)),
        };
        dst.write_all(&buf[..n]).op("write file")?;
        total += n as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_pax_times() {
        let t = |s: &str| parse_time(s.as_bytes());
        assert_eq!(t("12"), Some(FileTime { sec: 12, nsec: 0 }));
        assert_eq!(
            t("1700000000.123456789"),
            Some(FileTime {
                sec: 1_700_000_000,
                nsec: 123_456_789
            })
        );
        assert_eq!(
            t("5.5"),
            Some(FileTime {
                sec: 5,
                nsec: 500_000_000
            })
        );
        assert_eq!(
            t("1.1234567899"),
            Some(FileTime {
                sec: 1,
                nsec: 123_456_789
            })
        );
        assert_eq!(
            t("-1.5"),
            Some(FileTime {
                sec: -2,
                nsec: 500_000_000
            })
        );
        assert_eq!(t("x"), None);
        assert_eq!(t("1.x"), None);
        assert_eq!(t(""), None);
    }
}
