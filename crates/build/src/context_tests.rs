use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};

use super::*;

fn write(root: &Path, rel: &str, data: &str) {
    let p = root.join(rel);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, data).unwrap();
}

/// A context: a.txt b.txt c.md sub/f1 sub/f2 sub/deep/f3 docs/keep.txt docs/drop.txt
/// secret.key, with .dockerignore excluding *.key and docs except docs/keep.txt.
fn tree() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path();
    for f in ["a.txt", "b.txt", "c.md", "sub/f1", "sub/f2", "sub/deep/f3"] {
        write(r, f, f);
    }
    write(r, "docs/keep.txt", "keep");
    write(r, "docs/drop.txt", "drop");
    write(r, "secret.key", "hunter2");
    write(r, ".dockerignore", "*.key\ndocs\n!docs/keep.txt\n");
    dir
}

fn open(dir: &Path) -> Context {
    Context::from_dir(dir, DockerIgnore::load(dir).unwrap()).unwrap()
}

fn resolve(ctx: &Context, pats: &[&str]) -> Result<Vec<String>, String> {
    let pats: Vec<String> = pats.iter().map(|s| s.to_string()).collect();
    ctx.resolve_sources(&pats)
        .map(|v| v.iter().map(|p| p.display().to_string()).collect())
        .map_err(|e| e.to_string())
}

#[test]
fn sources_resolve_with_docker_globs() {
    let dir = tree();
    let ctx = open(dir.path());
    let ok: &[(&[&str], &[&str])] = &[
        (&["a.txt"], &["a.txt"]),
        (&["/a.txt"], &["a.txt"]),
        (&["*.txt"], &["a.txt", "b.txt"]),
        (&["?.md"], &["c.md"]),
        (&["[ab].txt"], &["a.txt", "b.txt"]),
        (&["sub/*"], &["sub/deep", "sub/f1", "sub/f2"]),
        (&["*/f?"], &["sub/f1", "sub/f2"]),
        (&["sub/../a.txt"], &["a.txt"]),
        (&["."], &["."]),
        (&["b.txt", "a.txt"], &["b.txt", "a.txt"]),
        (&["docs"], &["docs"]), // excluded, but holds a re-included file
        (&["docs/keep.txt"], &["docs/keep.txt"]),
    ];
    let kinds = ctx
        .sources(&[PathBuf::from("sub"), PathBuf::from("a.txt")])
        .unwrap();
    assert_eq!(
        kinds.iter().map(|s| s.is_dir).collect::<Vec<_>>(),
        vec![true, false]
    );
    for (pats, want) in ok {
        let want: Vec<String> = want.iter().map(|s| s.to_string()).collect();
        assert_eq!(resolve(&ctx, pats), Ok(want), "{pats:?}");
    }
}

#[test]
fn sources_outside_missing_or_ignored_are_errors() {
    let dir = tree();
    let ctx = open(dir.path());
    let bad: &[(&str, &str)] = &[
        (
            "../x",
            "COPY ../x: forbidden path outside the build context",
        ),
        (
            "sub/../../x",
            "COPY sub/../../x: forbidden path outside the build context",
        ),
        (
            "missing.txt",
            "COPY missing.txt: no source files matched in the build context",
        ),
        (
            "*.nope",
            "COPY *.nope: no source files matched in the build context",
        ),
        (
            "secret.key",
            "COPY secret.key: no source files matched in the build context",
        ),
        (
            "*.key",
            "COPY *.key: no source files matched in the build context",
        ),
        (
            "docs/drop.txt",
            "COPY docs/drop.txt: no source files matched in the build context",
        ),
        (
            "a.txt/x",
            "COPY a.txt/x: no source files matched in the build context",
        ),
    ];
    for (pat, want) in bad {
        assert_eq!(resolve(&ctx, &[pat]), Err(want.to_string()), "{pat}");
    }
    let err = resolve(&ctx, &["[x"]).unwrap_err();
    assert!(err.starts_with("COPY [x: bad pattern"), "{err}");
}

#[test]
fn symlinks_are_never_followed_out_of_the_context() {
    let outside = tempfile::tempdir().unwrap();
    write(outside.path(), "stolen", "outside data");
    let dir = tree();
    let r = dir.path();
    symlink(outside.path(), r.join("out")).unwrap();
    symlink(outside.path().join("stolen"), r.join("flink")).unwrap();
    symlink("../../..", r.join("sub/up")).unwrap();
    symlink("sub", r.join("inside")).unwrap();
    let ctx = open(r);
    // A directory link to the outside resolves inside the root, where nothing is.
    assert!(resolve(&ctx, &["out/*"]).is_err());
    assert!(resolve(&ctx, &["out/stolen"]).is_err());
    // `..` through a link stops at the root: sub/up/a.txt is the context's own a.txt.
    assert_eq!(resolve(&ctx, &["sub/up/a.txt"]), Ok(vec!["a.txt".into()]));
    // A link inside the context is followed inside it.
    assert_eq!(resolve(&ctx, &["inside/f1"]), Ok(vec!["sub/f1".into()]));
    // A matched link is the link itself; its checksum covers the target string only.
    assert_eq!(resolve(&ctx, &["flink"]), Ok(vec!["flink".into()]));
    let before = ctx.checksum(&[PathBuf::from("flink")]).unwrap();
    write(outside.path(), "stolen", "changed outside");
    assert_eq!(ctx.checksum(&[PathBuf::from("flink")]).unwrap(), before);
}

fn sum(dir: &Path, paths: &[&str]) -> Digest {
    let paths: Vec<PathBuf> = paths.iter().map(PathBuf::from).collect();
    open(dir).checksum(&paths).unwrap()
}

#[test]
fn checksum_changes_with_content_mode_and_names_not_mtime_or_order() {
    let base_dir = tree();
    let base = sum(base_dir.path(), &["."]);
    assert_eq!(sum(base_dir.path(), &["."]), base, "deterministic");
    type Edit = fn(&Path);
    let changes: &[(&str, Edit)] = &[
        ("content", |r| write(r, "sub/deep/f3", "other")),
        ("same size content", |r| write(r, "a.txt", "A.txt")),
        ("rename", |r| {
            fs::rename(r.join("sub/f1"), r.join("sub/f9")).unwrap()
        }),
        ("chmod", |r| {
            fs::set_permissions(r.join("b.txt"), fs::Permissions::from_mode(0o755)).unwrap()
        }),
        ("dir chmod", |r| {
            fs::set_permissions(r.join("sub"), fs::Permissions::from_mode(0o700)).unwrap()
        }),
        ("new empty dir", |r| {
            fs::create_dir(r.join("sub/empty")).unwrap()
        }),
        ("symlink", |r| symlink("a.txt", r.join("l")).unwrap()),
        ("re-included file", |r| write(r, "docs/keep.txt", "KEEP")),
    ];
    for (what, edit) in changes {
        let dir = tree();
        edit(dir.path());
        assert_ne!(
            sum(dir.path(), &["."]),
            base,
            "{what} must change the checksum"
        );
    }
    let same: &[(&str, Edit)] = &[
        ("mtime", |r| {
            let f = fs::File::options()
                .write(true)
                .open(r.join("a.txt"))
                .unwrap();
            f.set_modified(std::time::UNIX_EPOCH).unwrap();
        }),
        ("ignored file", |r| write(r, "secret.key", "other secret")),
        ("ignored file in dir", |r| {
            write(r, "docs/drop.txt", "other")
        }),
        ("new ignored file", |r| write(r, "new.key", "x")),
    ];
    for (what, edit) in same {
        let dir = tree();
        edit(dir.path());
        assert_eq!(
            sum(dir.path(), &["."]),
            base,
            "{what} must not change the checksum"
        );
    }
}

#[test]
fn checksum_ignores_creation_and_selection_order() {
    let (one, two) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    for f in ["x/1", "x/2", "y", "z/q/r"] {
        write(one.path(), f, f);
    }
    for f in ["z/q/r", "y", "x/2", "x/1"] {
        write(two.path(), f, f);
    }
    assert_eq!(sum(one.path(), &["."]), sum(two.path(), &["."]));
    assert_eq!(sum(one.path(), &["y", "x"]), sum(two.path(), &["x", "y"]));
    assert_ne!(sum(one.path(), &["x"]), sum(one.path(), &["y"]));
    assert_ne!(sum(one.path(), &["x"]), sum(one.path(), &["x", "y"]));
}

#[test]
fn stats_count_only_visible_files() {
    let dir = tree();
    let stats = open(dir.path()).stats().unwrap();
    // a.txt b.txt c.md sub/f1 sub/f2 sub/deep/f3 docs/keep.txt .dockerignore
    let bytes =
        "a.txtb.txtc.mdsub/f1sub/f2sub/deep/f3keep".len() + "*.key\ndocs\n!docs/keep.txt\n".len();
    assert_eq!(
        stats,
        ContextStats {
            files: 8,
            bytes: bytes as u64
        }
    );
    let line = ContextStats {
        files: 1,
        bytes: 2_050_000,
    }
    .progress_line();
    assert_eq!(line, "transferring context: 2.05MB");
}

#[path = "context_tar_tests.rs"]
mod tar_tests;

mod props {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;

    fn build(files: &BTreeMap<String, Vec<u8>>, reverse: bool) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let mut order: Vec<_> = files.iter().collect();
        if reverse {
            order.reverse();
        }
        for (name, data) in order {
            let p = dir.path().join(name);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, data).unwrap();
        }
        dir
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn same_tree_same_sum_and_any_edit_changes_it(
            files in prop::collection::btree_map("[ab]/[cd]?[ef]", prop::collection::vec(any::<u8>(), 0..64), 1..6),
            pick in any::<prop::sample::Index>(),
            byte in any::<u8>(),
        ) {
            let one = build(&files, false);
            let two = build(&files, true);
            let base = sum(one.path(), &["."]);
            prop_assert_eq!(&base, &sum(two.path(), &["."]));
            let (name, data) = files.iter().nth(pick.index(files.len())).unwrap();
            let mut edited = data.clone();
            match edited.first_mut() {
                Some(b) if *b != byte => *b = byte,
                Some(b) => *b = byte.wrapping_add(1),
                None => edited.push(byte),
            }
            fs::write(two.path().join(name), &edited).unwrap();
            prop_assert_ne!(base, sum(two.path(), &["."]));
        }
    }
}

#[test]
fn archives_are_told_from_dockerfiles_by_their_first_bytes() {
    let mut tar = vec![0u8; 512];
    tar[..4].copy_from_slice(b"file");
    tar[257..262].copy_from_slice(b"ustar");
    assert!(looks_like_archive(&tar));
    assert!(looks_like_archive(&[0x1f, 0x8b, 8, 0]));
    assert!(looks_like_archive(&[0x28, 0xb5, 0x2f, 0xfd, 1]));
    assert!(looks_like_archive(b"BZh91AY"));
    assert!(!looks_like_archive(b"FROM busybox\nRUN true\n"));
    let mut long = b"FROM busybox\n".repeat(40);
    long.truncate(300);
    assert!(!looks_like_archive(&long));
    assert!(!looks_like_archive(b""));
}

#[test]
fn an_empty_context_has_no_files_and_goes_when_dropped() {
    let ctx = Context::empty().unwrap();
    let root = ctx.root().to_path_buf();
    assert_eq!(fs::read_dir(&root).unwrap().count(), 0);
    drop(ctx);
    assert!(!root.exists());
}
