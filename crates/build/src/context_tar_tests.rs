//! Tar contexts: plain and gzip-compressed, and hostile archives that must not write outside
//! the private temp directory.

use std::io::Write;

use tar::{EntryType, Header};

use super::*;

/// Appends a tar entry with a raw, unchecked name and link name (each at most 100 bytes).
fn raw(out: &mut Vec<u8>, kind: EntryType, name: &[u8], link: &[u8], data: &[u8]) {
    let mut h = Header::new_gnu();
    h.as_old_mut().name[..name.len()].copy_from_slice(name);
    h.as_old_mut().linkname[..link.len()].copy_from_slice(link);
    h.set_entry_type(kind);
    h.set_size(data.len() as u64);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h.set_mode(if kind == EntryType::Directory {
        0o755
    } else {
        0o644
    });
    h.set_cksum();
    out.extend_from_slice(h.as_bytes());
    out.extend_from_slice(data);
    out.resize(out.len().div_ceil(512) * 512, 0);
}

fn finish(mut out: Vec<u8>) -> Vec<u8> {
    out.extend_from_slice(&[0; 1024]);
    out
}

fn sample_tar() -> Vec<u8> {
    let mut t = Vec::new();
    raw(
        &mut t,
        EntryType::Regular,
        b"Dockerfile",
        b"",
        b"FROM scratch\n",
    );
    raw(
        &mut t,
        EntryType::Regular,
        b".dockerignore",
        b"",
        b"*.log\n",
    );
    raw(&mut t, EntryType::Directory, b"app/", b"", b"");
    raw(
        &mut t,
        EntryType::Regular,
        b"app/main.rs",
        b"",
        b"fn main() {}\n",
    );
    raw(&mut t, EntryType::Regular, b"debug.log", b"", b"noise");
    finish(t)
}

fn check_sample(ctx: &Context) {
    let srcs = ctx.resolve_sources(&["app/*".into()]).unwrap();
    assert_eq!(srcs, vec![PathBuf::from("app/main.rs")]);
    assert!(
        ctx.resolve_sources(&["debug.log".into()]).is_err(),
        "its .dockerignore applies"
    );
    let dockerfile = fs::read_to_string(ctx.root().join("Dockerfile")).unwrap();
    assert_eq!(dockerfile, "FROM scratch\n");
}

#[test]
fn plain_gzip_and_zstd_tars_unpack_into_a_private_dir_removed_on_drop() {
    let parent = tempfile::tempdir().unwrap();
    let plain = sample_tar();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&plain).unwrap();
    let gz = gz.finish().unwrap();
    let zst = zstd::encode_all(&plain[..], 3).unwrap();
    let mut sums = Vec::new();
    for bytes in [plain, gz, zst] {
        let ctx = Context::from_tar_in(&bytes[..], parent.path()).unwrap();
        assert!(ctx
            .root()
            .starts_with(fs::canonicalize(parent.path()).unwrap()));
        check_sample(&ctx);
        sums.push(ctx.checksum(&[PathBuf::from(".")]).unwrap());
        let root = ctx.root().to_owned();
        drop(ctx);
        assert!(!root.exists(), "temp dir removed on drop");
    }
    assert!(
        sums.iter().all(|s| *s == sums[0]),
        "same tree, same checksum"
    );
}

#[test]
fn a_non_tar_is_a_one_line_error() {
    let parent = tempfile::tempdir().unwrap();
    let err = Context::from_tar_in(&b""[..], parent.path())
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("build context from tar: "), "{err}");
    assert!(!err.contains('\n'));
}

/// Every hostile archive is refused or contained: after it, the watched directory holds only
/// what the test put there.
#[test]
fn hostile_tars_write_nothing_outside() {
    let watch = tempfile::tempdir().unwrap();
    let parent = watch.path().join("tmp");
    fs::create_dir(&parent).unwrap();
    let outside = watch.path().to_str().unwrap().as_bytes().to_vec();
    let mut abs_victim = outside.clone();
    abs_victim.extend_from_slice(b"/abs-victim");
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("dot-dot", {
            let mut t = Vec::new();
            raw(&mut t, EntryType::Regular, b"../x", b"", b"pwned");
            raw(&mut t, EntryType::Regular, b"a/../../y", b"", b"pwned");
            finish(t)
        }),
        ("absolute", {
            let mut t = Vec::new();
            raw(&mut t, EntryType::Regular, &abs_victim, b"", b"pwned");
            finish(t)
        }),
        ("symlink then write through", {
            let mut t = Vec::new();
            raw(&mut t, EntryType::Symlink, b"l", &outside, b"");
            raw(&mut t, EntryType::Regular, b"l/through", b"", b"pwned");
            finish(t)
        }),
        ("relative symlink up then write through", {
            let mut t = Vec::new();
            raw(&mut t, EntryType::Symlink, b"up", b"../..", b"");
            raw(&mut t, EntryType::Regular, b"up/through2", b"", b"pwned");
            finish(t)
        }),
        ("hardlink out", {
            let mut t = Vec::new();
            raw(&mut t, EntryType::Link, b"h", b"../../etc/hostname", b"");
            finish(t)
        }),
    ];
    for (what, bytes) in cases {
        let result = Context::from_tar_in(&bytes[..], &parent);
        eprintln!(
            "DBG {what}: {:?}",
            result.as_ref().err().map(|e| e.to_string())
        );
        let mut names: Vec<_> = fs::read_dir(watch.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        assert_eq!(
            names,
            vec![std::ffi::OsString::from("tmp")],
            "{what}: wrote outside"
        );
        if let Ok(ctx) = result {
            // Contained: whatever was written sits inside the private dir.
            assert!(
                ctx.root().starts_with(fs::canonicalize(&parent).unwrap()),
                "{what}"
            );
        }
        assert!(!Path::new("/through").exists() && !Path::new("/through2").exists());
    }
}
