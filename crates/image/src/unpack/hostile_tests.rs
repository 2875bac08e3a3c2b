//! Hostile tar table, in the spirit of containerd's `TestBreakouts`: every case unpacks into
//! `tmp/root` beside `tmp/outside` (holding a victim file) and asserts the expected outcome AND
//! that nothing outside `tmp/root` was created or modified.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use proptest::prelude::*;
use tar::EntryType;

use super::testutil::{is_root, TarBuf};
use super::*;

const VICTIM: &[u8] = b"precious";
/// A name hostile cases try to plant outside; checked in tmp, /tmp and /.
const CANARY: &str = "hull-escape-canary";

struct Sandbox {
    tmp: tempfile::TempDir,
}

impl Sandbox {
    fn new() -> Sandbox {
        let tmp = tempfile::tempdir().unwrap();
        fs::create_dir(tmp.path().join("root")).unwrap();
        fs::create_dir(tmp.path().join("outside")).unwrap();
        fs::write(tmp.path().join("outside/victim"), VICTIM).unwrap();
        std::os::unix::fs::symlink("victim", tmp.path().join("outside/victim-link")).unwrap();
        Sandbox { tmp }
    }
    fn root(&self) -> PathBuf {
        self.tmp.path().join("root")
    }
    /// The absolute path of `outside`, for absolute symlink and hardlink targets.
    fn outside(&self) -> String {
        self.tmp.path().join("outside").to_str().unwrap().to_owned()
    }
}

/// Everything observable outside the root: tmp's listing, and for every path under `outside`
/// its type, mode, owner, size, mtime, content or link target, and xattr names.
fn snapshot(tmp: &Path) -> BTreeMap<PathBuf, String> {
    let mut out = BTreeMap::new();
    let mut top: Vec<_> = fs::read_dir(tmp)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    top.sort();
    out.insert(PathBuf::from("<tmp listing>"), format!("{top:?}"));
    walk(&tmp.join("outside"), tmp, &mut out);
    for p in [
        tmp.join(CANARY),
        Path::new("/tmp").join(CANARY),
        Path::new("/").join(CANARY),
    ] {
        out.insert(
            p.clone(),
            format!("exists={}", p.symlink_metadata().is_ok()),
        );
    }
    out
}

fn walk(p: &Path, base: &Path, out: &mut BTreeMap<PathBuf, String>) {
    let md = fs::symlink_metadata(p).unwrap();
    let xattrs = hull_sys::fs::llistxattr(p).unwrap_or_default();
    let content = if md.is_file() {
        format!("{:?}", fs::read(p).unwrap())
    } else if md.file_type().is_symlink() {
        format!("-> {:?}", fs::read_link(p).unwrap())
    } else {
        String::new()
    };
    let desc = format!(
        "mode={:o} uid={} gid={} size={} mtime={}.{} ino={} {content} xattrs={xattrs:?}",
        md.mode(),
        md.uid(),
        md.gid(),
        md.len(),
        md.mtime(),
        md.mtime_nsec(),
        md.ino(),
    );
    out.insert(p.strip_prefix(base).unwrap().to_owned(), desc);
    if md.is_dir() {
        for e in fs::read_dir(p).unwrap() {
            walk(&e.unwrap().path(), base, out);
        }
    }
}

/// The expected outcome of a case.
enum Expect {
    /// Refused by policy with exactly this reason.
    Refused(Refusal),
    /// Any error (e.g. EPERM from the kernel) is acceptable; safety is what is tested.
    AnyError,
    /// Succeeds, then `check` inspects the root.
    Ok(fn(&Path)),
}

struct Case {
    name: &'static str,
    tar: fn(&Sandbox) -> TarBuf,
    expect: Expect,
}

fn file(root: &Path, p: &str) -> Vec<u8> {
    fs::read(root.join(p)).unwrap_or_else(|e| panic!("read {p}: {e}"))
}

fn cases() -> Vec<Case> {
    use Expect::*;
    vec![
        Case {
            name: "dotdot prefix",
            tar: |_| TarBuf::new().file("../hull-escape-canary", b"x"),
            expect: Refused(Refusal::Escapes),
        },
        Case {
            name: "deep dotdot",
            tar: |_| TarBuf::new().file("../../../../../../hull-escape-canary", b"x"),
            expect: Refused(Refusal::Escapes),
        },
        Case {
            name: "absolute path stays inside",
            tar: |_| {
                TarBuf::new()
                    .file("/abs/escape", b"x")
                    .file("/hull-escape-canary", b"y")
            },
            expect: Ok(|r| {
                assert_eq!(file(r, "abs/escape"), b"x");
                assert_eq!(file(r, "hull-escape-canary"), b"y");
            }),
        },
        Case {
            name: "dotdot in the middle",
            tar: |_| TarBuf::new().file("a/../../hull-escape-canary", b"x"),
            expect: Refused(Refusal::Escapes),
        },
        Case {
            name: "symlink to .. then write through it",
            tar: |_| {
                TarBuf::new()
                    .symlink("evil", "..")
                    .file("evil/hull-escape-canary", b"x")
            },
            expect: Ok(|r| assert_eq!(file(r, "hull-escape-canary"), b"x")),
        },
        Case {
            name: "symlink to / then write through it",
            tar: |_| {
                TarBuf::new()
                    .symlink("evil", "/")
                    .file("evil/tmp/hull-escape-canary", b"x")
            },
            expect: Ok(|r| assert_eq!(file(r, "tmp/hull-escape-canary"), b"x")),
        },
        Case {
            name: "symlink to ../outside then overwrite victim",
            tar: |_| {
                TarBuf::new()
                    .symlink("evil", "../outside")
                    .file("evil/victim", b"pwned")
            },
            expect: Refused(Refusal::DanglingParent("evil".into())),
        },
        Case {
            name: "absolute symlink to the real outside dir then overwrite victim",
            tar: |s| {
                let t = TarBuf::new().symlink("evil", &s.outside());
                t.file("evil/victim", b"pwned")
            },
            expect: Refused(Refusal::DanglingParent("evil".into())),
        },
        Case {
            name: "symlink chain to outside",
            tar: |_| {
                TarBuf::new()
                    .symlink("a", "b")
                    .symlink("b", "c/../../outside")
                    .dir("c")
                    .file("a/victim", b"pwned")
            },
            expect: Refused(Refusal::DanglingParent("a".into())),
        },
        Case {
            name: "symlink chain that resolves inside",
            tar: |_| {
                TarBuf::new()
                    .dir("real")
                    .symlink("a", "b")
                    .symlink("b", "/../../real")
                    .file("a/f", b"in")
            },
            expect: Ok(|r| assert_eq!(file(r, "real/f"), b"in")),
        },
        Case {
            name: "hardlink to ../outside/victim",
            tar: |_| TarBuf::new().hardlink("x", "../outside/victim"),
            expect: Refused(Refusal::Escapes),
        },
        Case {
            name: "hardlink to absolute host path of victim",
            tar: |s| TarBuf::new().hardlink("x", &format!("{}/victim", s.outside())),
            expect: Refused(Refusal::LinkTargetMissing(String::new())),
        },
        Case {
            name: "hardlink through a symlinked dir to outside",
            tar: |_| {
                TarBuf::new()
                    .symlink("evil", "../outside")
                    .hardlink("x", "evil/victim")
            },
            expect: Refused(Refusal::LinkTargetMissing("evil/victim".into())),
        },
        Case {
            name: "hardlink through an absolute symlinked dir to outside",
            tar: |s| {
                TarBuf::new()
                    .symlink("evil", &s.outside())
                    .hardlink("x", "evil/victim")
            },
            expect: Refused(Refusal::LinkTargetMissing("evil/victim".into())),
        },
        Case {
            name: "hardlink to a symlink that points outside links the symlink only",
            tar: |s| {
                let t = TarBuf::new().symlink("s", &format!("{}/victim", s.outside()));
                t.hardlink("h", "s").file("h", b"pwned")
            },
            expect: Ok(|r| {
                assert_eq!(file(r, "h"), b"pwned");
                assert!(fs::symlink_metadata(r.join("s"))
                    .unwrap()
                    .file_type()
                    .is_symlink());
            }),
        },
        Case {
            name: "hardlink to nonexistent target",
            tar: |_| TarBuf::new().hardlink("x", "nope/missing"),
            expect: Refused(Refusal::LinkTargetMissing("nope/missing".into())),
        },
        Case {
            name: "file then a symlink replacing its parent dir",
            tar: |_| {
                TarBuf::new()
                    .file("d/f", b"1")
                    .symlink("d", "../outside")
                    .file("d/victim", b"pwned")
            },
            expect: Refused(Refusal::DanglingParent("d".into())),
        },
        Case {
            name: "file then an absolute symlink replacing its parent dir",
            tar: |s| {
                let t = TarBuf::new().file("d/f", b"1").symlink("d", &s.outside());
                t.file("d/victim", b"pwned")
            },
            expect: Refused(Refusal::DanglingParent("d".into())),
        },
        Case {
            name: "device node used as a parent dir",
            tar: |_| {
                TarBuf::new()
                    .node(EntryType::Fifo, "dev", 0, 0, 0o644)
                    .file("dev/x", b"1")
            },
            expect: Refused(Refusal::ParentNotDir("dev".into())),
        },
        Case {
            name: "char device used as a parent dir",
            tar: |_| {
                TarBuf::new()
                    .node(EntryType::Char, "dev", 1, 3, 0o644)
                    .file("dev/x", b"1")
            },
            expect: if is_root() {
                Refused(Refusal::ParentNotDir("dev".into()))
            } else {
                AnyError
            },
        },
        Case {
            name: "whiteout of ..",
            tar: |_| TarBuf::new().file(".wh..", b""),
            expect: Refused(Refusal::BadWhiteout),
        },
        Case {
            name: "whiteout of .. in a dir",
            tar: |_| TarBuf::new().file("dir/.wh..", b""),
            expect: Refused(Refusal::BadWhiteout),
        },
        Case {
            name: "whiteout of . and of nothing",
            tar: |_| TarBuf::new().file("dir/.wh.", b""),
            expect: Refused(Refusal::BadWhiteout),
        },
        Case {
            name: "whiteout through a symlink to outside",
            tar: |s| {
                TarBuf::new()
                    .symlink("evil", &s.outside())
                    .file("evil/.wh.victim", b"")
            },
            expect: Refused(Refusal::DanglingParent("evil".into())),
        },
        Case {
            name: "opaque marker inside a symlinked dir pointing outside",
            tar: |_| {
                TarBuf::new()
                    .symlink("evil", "../outside")
                    .file("evil/.wh..wh..opq", b"")
            },
            expect: Refused(Refusal::DanglingParent("evil".into())),
        },
        Case {
            name: "opaque marker inside an absolute symlink to outside",
            tar: |s| {
                TarBuf::new()
                    .symlink("evil", &s.outside())
                    .file("evil/.wh..wh..opq", b"")
            },
            expect: Refused(Refusal::DanglingParent("evil".into())),
        },
        Case {
            name: "absolute symlink to victim then a file written at the link",
            tar: |s| {
                let t = TarBuf::new().symlink("l", &format!("{}/victim", s.outside()));
                t.file("l", b"pwned")
            },
            expect: Ok(|r| assert_eq!(file(r, "l"), b"pwned")),
        },
        Case {
            name: "absolute symlink then a dir entry at the link",
            tar: |s| {
                TarBuf::new()
                    .symlink("l", &s.outside())
                    .dir("l")
                    .file("l/victim", b"in")
            },
            expect: Ok(|r| assert_eq!(file(r, "l/victim"), b"in")),
        },
        Case {
            name: "symlink to outside victim then hardlink over it",
            tar: |s| {
                let t = TarBuf::new().symlink("l", &format!("{}/victim", s.outside()));
                t.file("f", b"mine").hardlink("l", "f")
            },
            expect: Ok(|r| assert_eq!(file(r, "l"), b"mine")),
        },
        Case {
            name: "symlink named like a dir then xattrs set on it",
            tar: |s| {
                let t = TarBuf::new().symlink("l", &s.outside());
                t.pax(&[("SCHILY.xattr.user.evil", b"1")]).dir("l/sub")
            },
            expect: Refused(Refusal::DanglingParent("l".into())),
        },
        Case {
            name: "pax path with dotdot",
            tar: |_| {
                TarBuf::new()
                    .pax(&[("path", b"../hull-escape-canary")])
                    .file("innocent", b"x")
            },
            expect: Refused(Refusal::Escapes),
        },
        Case {
            name: "gnu long name with dotdot",
            tar: |_| {
                // 60 components down, 61 up: longer than 100 bytes, one level above the root.
                let name = format!("{}{}{CANARY}", "a/".repeat(60), "../".repeat(61));
                TarBuf::new()
                    .gnu_long_name(name.as_bytes())
                    .file("innocent", b"x")
            },
            expect: Refused(Refusal::Escapes),
        },
        Case {
            name: "dotdot symlink target as hardlink parent",
            tar: |_| {
                TarBuf::new()
                    .symlink("up", "../../..")
                    .hardlink("x", "up/outside/victim")
            },
            expect: Refused(Refusal::LinkTargetMissing("up/outside/victim".into())),
        },
        Case {
            name: "symlink loop as a parent",
            tar: |_| {
                TarBuf::new()
                    .symlink("a", "b")
                    .symlink("b", "a")
                    .file("a/x", b"1")
            },
            expect: AnyError,
        },
    ]
}

fn check_case(case: &Case) {
    let sb = Sandbox::new();
    let tar = (case.tar)(&sb).finish();
    let before = snapshot(sb.tmp.path());
    let res = unpack(&tar[..], &sb.root(), &UnpackOptions { chown: is_root() });
    let after = snapshot(sb.tmp.path());
    assert_eq!(
        before, after,
        "case {:?} changed something outside the root",
        case.name
    );
    match (&case.expect, res) {
        (Expect::Refused(want), Err(e)) => match (want, e.refusal()) {
            // The absolute-path case names a tmp path that differs per run.
            (Refusal::LinkTargetMissing(w), Some(Refusal::LinkTargetMissing(_)))
                if w.is_empty() => {}
            (want, got) => assert_eq!(Some(want), got, "case {:?}: {e}", case.name),
        },
        (Expect::AnyError, Err(e)) => eprintln!("case {:?}: refused: {e}", case.name),
        (Expect::Ok(check), Ok(_)) => check(&sb.root()),
        (_, Err(e)) => panic!("case {:?}: unexpected error {e}", case.name),
        (_, Ok(_)) => panic!("case {:?}: unexpectedly succeeded", case.name),
    }
}

#[test]
fn breakouts() {
    for case in cases() {
        check_case(&case);
    }
}

/// `import` (and `commit`) go through `Store::add_layer_from_tar`: every case is refused or
/// kept exactly as by `unpack`, and a refused one leaves no blob, layer or temp file behind.
#[test]
fn imported_breakouts_are_as_safe_as_pulled_ones() {
    for case in cases() {
        let sb = Sandbox::new();
        let tar = (case.tar)(&sb).finish();
        let store = crate::Store::open(&sb.root()).unwrap();
        let before = snapshot(sb.tmp.path());
        let res = store.add_layer_from_tar(&tar[..]);
        assert_eq!(before, snapshot(sb.tmp.path()), "case {:?}", case.name);
        match (&case.expect, res) {
            (Expect::Ok(check), Ok(new)) => check(&store.layers.diff_dir(&new.layer.diff_id)),
            (Expect::Ok(_), Err(e)) => panic!("case {:?}: unexpected error {e}", case.name),
            (_, Ok(_)) => panic!("case {:?}: unexpectedly imported", case.name),
            (_, Err(_)) => {
                assert_eq!(store.content.list().unwrap(), vec![], "{}", case.name);
                assert_eq!(store.layers.list().unwrap(), vec![], "{}", case.name);
            }
        }
        let tmp = fs::read_dir(sb.root().join("tmp")).unwrap().count();
        assert_eq!(tmp, 0, "case {:?} left temp files", case.name);
    }
}

#[test]
fn snapshot_detects_changes_outside() {
    // Guards the guard: a write to outside/victim and a new file in tmp must both show up.
    let sb = Sandbox::new();
    let before = snapshot(sb.tmp.path());
    fs::write(sb.tmp.path().join("outside/victim"), b"changed").unwrap();
    assert_ne!(before, snapshot(sb.tmp.path()));
    let sb = Sandbox::new();
    let before = snapshot(sb.tmp.path());
    fs::write(sb.tmp.path().join("new"), b"").unwrap();
    assert_ne!(before, snapshot(sb.tmp.path()));
}

/// One generated entry; `@OUT` in a name or target is replaced by the absolute outside path.
#[derive(Debug, Clone)]
enum Gen {
    File(String),
    Dir(String),
    Symlink(String, String),
    Hardlink(String, String),
    Whiteout(String),
    Opaque(String),
}

fn component() -> impl Strategy<Value = &'static str> {
    // Weighted by repetition: mostly names that earlier entries may have turned into symlinks,
    // and fewer `..`, which would end most streams at once with a refusal.
    prop::sample::select(vec![
        "a",
        "a",
        "a",
        "b",
        "b",
        "evil",
        "evil",
        "evil",
        "victim",
        "victim",
        "outside",
        "tmp",
        "victim-link",
        "..",
        ".",
        "",
    ])
}

fn gen_path() -> impl Strategy<Value = String> {
    (
        prop::bool::weighted(0.2),
        prop::collection::vec(component(), 1..5),
    )
        .prop_map(|(abs, c)| {
            let p = c.join("/");
            if abs {
                format!("/{p}")
            } else {
                p
            }
        })
}

fn gen_target() -> impl Strategy<Value = String> {
    prop_oneof![
        gen_path(),
        prop::sample::select(vec![
            "..",
            "../outside",
            "../outside/victim",
            "/",
            "@OUT",
            "@OUT/victim",
            "../../..",
            "/../outside"
        ])
        .prop_map(String::from),
    ]
}

fn gen_entry() -> impl Strategy<Value = Gen> {
    prop_oneof![
        gen_path().prop_map(Gen::File),
        gen_path().prop_map(Gen::Dir),
        (gen_path(), gen_target()).prop_map(|(p, t)| Gen::Symlink(p, t)),
        (gen_path(), gen_target()).prop_map(|(p, t)| Gen::Hardlink(p, t)),
        (gen_path(), component()).prop_map(|(p, n)| Gen::Whiteout(format!("{p}/.wh.{n}"))),
        gen_path().prop_map(|p| Gen::Opaque(format!("{p}/.wh..wh..opq"))),
    ]
}

fn build(entries: &[Gen], outside: &str) -> Vec<u8> {
    let s = |x: &str| x.replace("@OUT", outside);
    let mut t = TarBuf::new();
    for e in entries {
        t = match e {
            Gen::File(p) => t.file(&s(p), b"pwned"),
            Gen::Dir(p) => t.dir(&s(p)),
            Gen::Symlink(p, l) => t.symlink(&s(p), &s(l)),
            Gen::Hardlink(p, l) => t.hardlink(&s(p), &s(l)),
            Gen::Whiteout(p) | Gen::Opaque(p) => t.file(&s(p), b""),
        };
    }
    t.finish()
}

fn assert_outside_untouched(
    sb: &Sandbox,
    before: &BTreeMap<PathBuf, String>,
) -> Result<(), TestCaseError> {
    prop_assert_eq!(before, &snapshot(sb.tmp.path()));
    prop_assert_eq!(
        fs::read(sb.tmp.path().join("outside/victim")).unwrap(),
        VICTIM
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// The whole stream at once (exercises the parent cache), then entry by entry into one root
    /// (so an early refusal does not hide what later entries would have done).
    #[test]
    fn random_streams_never_touch_outside(entries in prop::collection::vec(gen_entry(), 1..12)) {
        let opts = UnpackOptions { chown: is_root() };
        let sb = Sandbox::new();
        let before = snapshot(sb.tmp.path());
        let _ = unpack(&build(&entries, &sb.outside())[..], &sb.root(), &opts);
        assert_outside_untouched(&sb, &before)?;

        let sb = Sandbox::new();
        let before = snapshot(sb.tmp.path());
        for e in &entries {
            let _ = unpack(&build(std::slice::from_ref(e), &sb.outside())[..], &sb.root(), &opts);
        }
        assert_outside_untouched(&sb, &before)?;
    }
}
