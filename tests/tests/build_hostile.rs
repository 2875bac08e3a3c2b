//! Hostile build contexts: a symlink in the context that points outside it, `COPY ../x`, and
//! `ADD` of tars that try to write outside (`../` paths, absolute paths, a symlink or hard link
//! to a host directory followed by a write through it). None of them may read or write outside:
//! a canary directory outside the context keeps exactly its one file, unchanged, and no
//! secret from outside appears in the image.

use std::path::{Path, PathBuf};
use std::process::Command;

use hull_tests::{busybox, require_root, Hull};

const SECRET: &str = "CANARY-SECRET-the-build-must-never-read-this";

struct Setup {
    _dir: tempfile::TempDir,
    ctx: PathBuf,
    canary: PathBuf,
}

fn setup() -> Setup {
    let dir = tempfile::Builder::new()
        .prefix("hull-hostile-")
        .tempdir()
        .unwrap();
    let ctx = dir.path().join("ctx");
    let canary = dir.path().join("canary");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::create_dir_all(&canary).unwrap();
    std::fs::write(canary.join("secret"), SECRET).unwrap();
    std::fs::write(dir.path().join("x"), SECRET).unwrap();
    Setup {
        _dir: dir,
        ctx,
        canary,
    }
}

/// The canary directory holds its one file, unchanged, with one link.
fn assert_canary_intact(s: &Setup) {
    let names: Vec<String> = std::fs::read_dir(&s.canary)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(
        names,
        ["secret"],
        "something was written next to the canary"
    );
    let p = s.canary.join("secret");
    assert_eq!(std::fs::read_to_string(&p).unwrap(), SECRET);
    use std::os::unix::fs::MetadataExt;
    assert_eq!(
        std::fs::metadata(&p).unwrap().nlink(),
        1,
        "canary hard-linked"
    );
}

/// The image's whole file tree (an exported container) does not hold the secret.
fn assert_image_clean(h: &Hull, image: &str, work: &Path) {
    h.ok(&["create", "--name", "probe", image]);
    let tar = work.join("export.tar");
    h.ok(&["export", "-o", tar.to_str().unwrap(), "probe"]);
    h.ok(&["rm", "probe"]);
    let bytes = std::fs::read(&tar).unwrap();
    assert!(
        !bytes.windows(SECRET.len()).any(|w| w == SECRET.as_bytes()),
        "the secret from outside the context is in the image"
    );
}

fn build(h: &Hull, s: &Setup, dockerfile: &str) -> std::process::Output {
    std::fs::write(s.ctx.join("Dockerfile"), dockerfile).unwrap();
    h.run(&["build", "-q", "-t", "hostile/img", s.ctx.to_str().unwrap()])
}

fn outcome(out: &std::process::Output) -> String {
    match out.status.success() {
        true => "built".into(),
        false => format!("refused: {}", String::from_utf8_lossy(&out.stderr).trim()),
    }
}

#[test]
fn a_symlink_in_the_context_to_outside_is_not_followed_out() {
    require_root!();
    let h = Hull::new();
    let s = setup();
    std::os::unix::fs::symlink(s.canary.join("secret"), s.ctx.join("abs-link")).unwrap();
    std::os::unix::fs::symlink("../canary/secret", s.ctx.join("rel-link")).unwrap();
    std::os::unix::fs::symlink(&s.canary, s.ctx.join("dir-link")).unwrap();
    for df in [
        "COPY . /ctx/\n",
        "COPY abs-link /a\n",
        "COPY rel-link /r\n",
        "COPY dir-link/secret /d\n",
        "COPY dir-link /dl/\n",
        "ADD abs-link /aa\n",
    ] {
        let out = build(&h, &s, &format!("FROM {}\n{df}", busybox()));
        println!("{}: {}", df.trim(), outcome(&out));
        if out.status.success() {
            assert_image_clean(&h, "hostile/img", s._dir.path());
        } else {
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(err.contains("Dockerfile:2"), "{df}: {err}");
        }
        assert_canary_intact(&s);
    }
}

#[test]
fn copy_of_a_parent_path_is_refused() {
    require_root!();
    let h = Hull::new();
    let s = setup();
    for src in ["../x", "../canary/secret", "sub/../../x", "/../x"] {
        let out = build(&h, &s, &format!("FROM {}\nCOPY {src} /x\n", busybox()));
        if out.status.success() {
            // `/../x` is `/x` of the context (absent here), so success would be a leak.
            assert_image_clean(&h, "hostile/img", s._dir.path());
            panic!("COPY {src} built");
        }
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("Dockerfile:2"), "COPY {src}: {err}");
        assert_canary_intact(&s);
    }
}

/// Writes `dir/<trick>.tar` for each trick, with Python's tarfile (it writes what it is told,
/// `..` and absolute names included); each tar also holds a harmless `ok.txt`. Returns the names.
fn hostile_tars(dir: &Path, canary: &Path) -> Vec<String> {
    let script = r#"
import io, sys, tarfile
out, canary = sys.argv[1], sys.argv[2]
up = "../" * 12
def data(t, name, body=b"PWNED\n"):
    i = tarfile.TarInfo(name); i.size = len(body); t.addfile(i, io.BytesIO(body))
def link(t, name, target, kind=tarfile.SYMTYPE):
    i = tarfile.TarInfo(name); i.type = kind; i.linkname = target; t.addfile(i)
tricks = {
    "dotdot": lambda t: data(t, up + canary + "/dotdot"),
    "absolute": lambda t: data(t, canary + "/absolute"),
    "symlink-abs": lambda t: (link(t, "sym", canary), data(t, "sym/through-symlink")),
    "symlink-rel": lambda t: (link(t, "rel", up + canary), data(t, "rel/through-relsym")),
    "hardlink-abs": lambda t: (link(t, "hard", canary + "/secret", tarfile.LNKTYPE),
                               data(t, "hard", b"OVERWRITTEN\n")),
    "hardlink-rel": lambda t: link(t, "hard2", up + canary + "/secret", tarfile.LNKTYPE),
}
for name, make in tricks.items():
    t = tarfile.open(f"{out}/{name}.tar", "w")
    data(t, "ok.txt", b"fine\n")
    make(t)
    t.close()
    print(name)
"#;
    let out = Command::new("/usr/bin/python3")
        .args(["-c", script])
        .arg(dir)
        .arg(canary)
        .output()
        .expect("python3");
    assert!(out.status.success(), "make the hostile tars: {out:?}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(String::from)
        .collect()
}

#[test]
fn add_of_a_hostile_tar_writes_nothing_outside() {
    require_root!();
    let h = Hull::new();
    let s = setup();
    if !Path::new("/usr/bin/python3").exists() {
        println!("skipped: hostile ADD tars (no /usr/bin/python3 to write them)");
        return;
    }
    let tricks = hostile_tars(&s.ctx, &s.canary);
    assert_eq!(tricks.len(), 6, "{tricks:?}");
    for trick in &tricks {
        for dest in ["/unpacked/", "/"] {
            let df = format!("FROM {}\nADD {trick}.tar {dest}\n", busybox());
            let out = build(&h, &s, &df);
            println!("ADD {trick}.tar {dest}: {}", outcome(&out));
            assert_canary_intact(&s);
            if out.status.success() {
                assert_image_clean(&h, "hostile/img", s._dir.path());
                let ok = h.ok(&[
                    "run",
                    "--rm",
                    "hostile/img",
                    "cat",
                    &format!("{dest}ok.txt"),
                ]);
                assert_eq!(ok, "fine\n");
            } else {
                let err = String::from_utf8_lossy(&out.stderr);
                assert!(
                    err.contains("Dockerfile:2"),
                    "ADD {trick}.tar {dest}: {err}"
                );
            }
        }
    }
    // Nothing landed at the host's root either.
    assert!(!Path::new("/absolute").exists() && !Path::new("/dotdot").exists());
}

#[test]
fn copy_from_a_stage_resolves_its_links_inside_the_stage() {
    require_root!();
    let h = Hull::new();
    let s = setup();
    // The stage links /x to the canary's absolute host path and /e to /etc; the paths below
    // are the stage's, never the host's (the canary directory does not exist in the stage).
    let canary = s.canary.display();
    let stage = format!(
        "FROM {bb} AS s\nRUN ln -s {canary} /x && ln -s /etc /e && ln -s ../../../.. /up\n",
        bb = busybox()
    );
    for (copy, must_build) in [
        ("COPY --from=s /x/secret /got", false),
        ("COPY --from=s /up/x/secret /got", false),
        ("COPY --from=s /../../x/secret /got", false),
        ("COPY --from=s /e/passwd /got", true),
    ] {
        let df = format!("{stage}FROM {}\n{copy}\n", busybox());
        let out = build(&h, &s, &df);
        println!("{copy}: {}", outcome(&out));
        assert_eq!(
            out.status.success(),
            must_build,
            "{copy}: {}",
            outcome(&out)
        );
        if must_build {
            assert_image_clean(&h, "hostile/img", s._dir.path());
            let got = h.ok(&["run", "--rm", "hostile/img", "cat", "/got"]);
            let theirs = h.ok(&["run", "--rm", &busybox(), "cat", "/etc/passwd"]);
            assert_eq!(got, theirs, "{copy}: not the stage's /etc/passwd");
        }
        assert_canary_intact(&s);
    }
}

#[test]
fn chown_by_name_reads_the_images_passwd_never_the_hosts() {
    require_root!();
    let h = Hull::new();
    let s = setup();
    // A passwd on the host that names a user the image does not have, and a base image whose
    // /etc/passwd (and /etc/group) are absolute links to it.
    let host_passwd = s._dir.path().join("passwd");
    std::fs::write(&host_passwd, "hostonly:x:4242:4242::/:/bin/sh\n").unwrap();
    let link = host_passwd.display();
    let base = format!(
        "FROM {}\nRUN ln -sf {link} /etc/passwd && ln -sf {link} /etc/group\n",
        busybox()
    );
    let built = build(&h, &s, &base);
    assert!(built.status.success(), "{}", outcome(&built));
    h.ok(&["tag", "hostile/img", "hostile/linked-passwd"]);
    std::fs::write(s.ctx.join("a.txt"), "a\n").unwrap();
    let out = build(
        &h,
        &s,
        "FROM hostile/linked-passwd\nCOPY --chown=hostonly a.txt /a\n",
    );
    let said = outcome(&out);
    println!("COPY --chown=hostonly: {said}");
    assert!(!out.status.success(), "the host's passwd was read: {said}");
    assert!(said.contains("hostonly"), "{said}");
    assert_canary_intact(&s);
}
