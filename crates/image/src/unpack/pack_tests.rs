//! `pack_with` on a writable layer (what `commit` writes), read back with the `tar` crate.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use tar::EntryType;

use super::testutil::is_root;
use super::{pack_with, PackOptions};

/// One entry as read back: type, link target, size, uid, mode, xattrs.
#[derive(Debug, Clone, PartialEq)]
struct Seen {
    kind: EntryType,
    link: Option<String>,
    data: Vec<u8>,
    mode: u32,
    xattrs: BTreeMap<String, Vec<u8>>,
}

fn read_back(tar: &[u8]) -> Vec<(String, Seen)> {
    let mut a = tar::Archive::new(tar);
    let mut out = Vec::new();
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        let mut xattrs = BTreeMap::new();
        if let Some(exts) = e.pax_extensions().unwrap() {
            for x in exts {
                let x = x.unwrap();
                if let Some(k) = x.key().unwrap().strip_prefix("SCHILY.xattr.") {
                    xattrs.insert(k.to_string(), x.value_bytes().to_vec());
                }
            }
        }
        let path = e.path().unwrap().to_string_lossy().into_owned();
        let link = e
            .link_name()
            .unwrap()
            .map(|l| l.to_string_lossy().into_owned());
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut e, &mut data).unwrap();
        let h = e.header();
        out.push((
            path,
            Seen {
                kind: h.entry_type(),
                link,
                data,
                mode: h.mode().unwrap(),
                xattrs,
            },
        ));
    }
    out
}

fn find<'a>(entries: &'a [(String, Seen)], path: &str) -> Option<&'a Seen> {
    entries
        .iter()
        .find(|(p, _)| p.trim_end_matches('/') == path)
        .map(|(_, s)| s)
}

fn upper_opts(skip: &[&str]) -> PackOptions {
    PackOptions {
        skip: skip.iter().map(PathBuf::from).collect(),
        upper: true,
    }
}

/// Files, dirs, symlinks (absolute and climbing), hard links, a skipped mount point.
fn build_upper(dir: &Path) {
    fs::create_dir_all(dir.join("etc")).unwrap();
    fs::write(dir.join("etc/hosts"), b"mount point").unwrap();
    fs::write(dir.join("etc/motd"), b"hello").unwrap();
    fs::create_dir_all(dir.join("data/sub")).unwrap();
    fs::write(dir.join("data/sub/f"), b"12345").unwrap();
    fs::hard_link(dir.join("data/sub/f"), dir.join("data/link")).unwrap();
    symlink("/etc/shadow", dir.join("data/abs")).unwrap();
    symlink("../../../../etc/passwd", dir.join("data/up")).unwrap();
    // A symlink to a directory outside: the walk must not go through it.
    symlink("/", dir.join("root")).unwrap();
}

#[test]
fn upper_dir_becomes_a_layer_without_following_links() {
    let t = tempfile::tempdir().unwrap();
    build_upper(t.path());
    let tar = pack_with(t.path(), Vec::new(), &upper_opts(&["etc/hosts"])).unwrap();
    let e = read_back(&tar);
    assert!(find(&e, "etc/hosts").is_none(), "mount points are left out");
    assert_eq!(find(&e, "etc/motd").unwrap().data, b"hello");
    let abs = find(&e, "data/abs").unwrap();
    assert_eq!(
        (abs.kind, abs.link.as_deref()),
        (EntryType::Symlink, Some("/etc/shadow"))
    );
    let up = find(&e, "data/up").unwrap();
    assert_eq!(up.link.as_deref(), Some("../../../../etc/passwd"));
    let root = find(&e, "root").unwrap();
    assert_eq!(root.kind, EntryType::Symlink);
    assert!(
        e.iter().all(|(p, _)| !p.starts_with("root/")),
        "nothing read through a symlink: {e:?}"
    );
    // The first name in byte order carries the data; the other is a hard link to it.
    let link = find(&e, "data/link").unwrap();
    let first = find(&e, "data/sub/f").unwrap();
    assert_eq!(link.data, b"12345");
    assert_eq!(
        (first.kind, first.link.as_deref()),
        (EntryType::Link, Some("data/link"))
    );
}

#[test]
fn same_upper_dir_packs_to_the_same_bytes() {
    let t = tempfile::tempdir().unwrap();
    build_upper(t.path());
    let a = pack_with(t.path(), Vec::new(), &upper_opts(&[])).unwrap();
    let b = pack_with(t.path(), Vec::new(), &upper_opts(&[])).unwrap();
    assert_eq!(a, b);
    let names: Vec<String> = read_back(&a).into_iter().map(|(p, _)| p).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "entries in path order");
}

fn set_xattr(path: &Path, name: &str, value: &[u8]) -> bool {
    rustix::fs::lsetxattr(
        path,
        OsStr::new(name),
        value,
        rustix::fs::XattrFlags::empty(),
    )
    .is_ok()
}

#[test]
fn user_xattrs_travel_and_user_overlay_marks_become_opaque_markers() {
    let t = tempfile::tempdir().unwrap();
    let f = t.path().join("f");
    fs::write(&f, b"x").unwrap();
    if !set_xattr(&f, "user.hull.test", b"v1") {
        println!("skipped: user xattrs (the temp dir's file system refuses user.* xattrs)");
        return;
    }
    let d = t.path().join("opq");
    fs::create_dir(&d).unwrap();
    assert!(set_xattr(&d, "user.overlay.opaque", b"y"));
    let tar = pack_with(t.path(), Vec::new(), &upper_opts(&[])).unwrap();
    let e = read_back(&tar);
    let x = &find(&e, "f").unwrap().xattrs;
    assert_eq!(x.get("user.hull.test").map(Vec::as_slice), Some(&b"v1"[..]));
    assert!(find(&e, "opq/.wh..wh..opq").is_some(), "{e:?}");
    let dir = find(&e, "opq").unwrap();
    assert!(
        dir.xattrs.keys().all(|k| !k.starts_with("user.overlay.")),
        "overlay's own marks do not travel: {:?}",
        dir.xattrs
    );
}

#[test]
fn overlay_whiteouts_and_trusted_opaque_dirs_become_oci_markers() {
    if !is_root() {
        println!("skipped: whiteout devices and trusted xattrs (needs root)");
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let gone = t.path().join("gone");
    rustix::fs::mknodat(
        rustix::fs::CWD,
        &gone,
        rustix::fs::FileType::CharacterDevice,
        rustix::fs::Mode::from_raw_mode(0),
        0,
    )
    .unwrap();
    let d = t.path().join("dir");
    fs::create_dir(&d).unwrap();
    fs::write(d.join("kept"), b"k").unwrap();
    if !set_xattr(&d, "trusted.overlay.opaque", b"y") {
        println!("skipped: trusted.overlay.opaque (the temp dir's file system refuses it)");
        return;
    }
    let tar = pack_with(t.path(), Vec::new(), &upper_opts(&[])).unwrap();
    let e = read_back(&tar);
    let names: Vec<&str> = e.iter().map(|(p, _)| p.as_str()).collect();
    assert!(names.contains(&".wh.gone"), "{names:?}");
    assert!(!names.contains(&"gone"), "{names:?}");
    assert!(names.contains(&"dir/.wh..wh..opq"), "{names:?}");
    assert!(names.contains(&"dir/kept"), "{names:?}");
    assert_eq!(find(&e, ".wh.gone").unwrap().mode & 0o777, 0);
}
