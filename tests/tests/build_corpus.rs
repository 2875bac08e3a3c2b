//! The Dockerfile corpus (tests/fixtures/build/<case>/) built twice, by `hull build` and by
//! Debian's `buildah bud`, and the results compared: the file tree (type, owner, mode, contents,
//! link targets), the config (Env, Cmd, Entrypoint, WorkingDir, User, ExposedPorts, Volumes,
//! Labels, Healthcheck, StopSignal, and OnBuild, which both store) and the number of layers. A case's Dockerfile names the fixture
//! registry as `@REGISTRY@`; an optional `flags` file holds the build flags both builders get
//! (`--target`, `--build-arg`). A case buildah cannot build (its `buildah-skip` file says why)
//! is checked against its `expect` file instead. Then a built image runs under hull and podman.

mod corpus_support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use corpus_support::{podman_available, tool_on_path, tree, Buildah, Podman};
use hull_tests::{fixture, repo_root, require_root, Hull};

fn corpus_dir() -> PathBuf {
    repo_root().join("tests/fixtures/build")
}

/// The cases compared with buildah: every directory of the corpus but the real build (its own
/// test, it needs a mirror) and the hostile contexts (made at test time).
fn cases() -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(corpus_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n != "real")
        .collect();
    out.sort();
    out
}

/// Copies case `name` into `dir/name` (without its test-only files) with `@REGISTRY@`
/// replaced, and returns the context and the case's build flags.
fn prepare(name: &str, dir: &Path) -> (PathBuf, Vec<String>) {
    let src = corpus_dir().join(name);
    let ctx = dir.join(name);
    let st = std::process::Command::new("cp")
        .arg("-a")
        .arg(&src)
        .arg(&ctx)
        .status()
        .unwrap();
    assert!(st.success(), "cp -a {}", src.display());
    for extra in ["flags", "expect", "buildah-skip"] {
        let _ = std::fs::remove_file(ctx.join(extra));
    }
    let df = std::fs::read_to_string(ctx.join("Dockerfile")).unwrap();
    let df = df.replace("@REGISTRY@", &fixture("HULL_TEST_REGISTRY"));
    std::fs::write(ctx.join("Dockerfile"), df).unwrap();
    let flags = std::fs::read_to_string(src.join("flags")).unwrap_or_default();
    (ctx, flags.split_whitespace().map(String::from).collect())
}

/// The config fields the issue names, from a Docker-style config object.
fn config_fields(cfg: &serde_json::Value) -> BTreeMap<&'static str, serde_json::Value> {
    let mut out = BTreeMap::new();
    for key in [
        "Env",
        "Cmd",
        "Entrypoint",
        "WorkingDir",
        "User",
        "ExposedPorts",
        "Volumes",
        "Labels",
        "Healthcheck",
        "StopSignal",
        "OnBuild",
    ] {
        let mut v = cfg.get(key).cloned().unwrap_or(serde_json::Value::Null);
        // Absent, null, "" and {} / [] all mean "not set" to a runtime; the two tools pick
        // different spellings of that.
        let empty = match &v {
            serde_json::Value::String(s) => s.is_empty(),
            serde_json::Value::Array(a) => a.is_empty(),
            serde_json::Value::Object(o) => o.is_empty(),
            _ => false,
        };
        if empty {
            v = serde_json::Value::Null;
        }
        out.insert(key, v);
    }
    // buildah stamps its own version label on every image it commits (by design).
    if let Some(labels) = out.get_mut("Labels").and_then(|l| l.as_object_mut()) {
        labels.remove("io.buildah.version");
    }
    if out["Labels"].as_object().is_some_and(|l| l.is_empty()) {
        out.insert("Labels", serde_json::Value::Null);
    }
    // buildah writes WorkingDir "/" when no WORKDIR was given (by design); Docker leaves it
    // unset, which a runtime reads as "/".
    if out["WorkingDir"].is_null() {
        out.insert("WorkingDir", serde_json::json!("/"));
    }
    out
}

/// hull's image: its config fields, its layer count and its file tree (a container made from
/// it, exported and unpacked as root with numeric owners).
fn hull_result(
    h: &Hull,
    image: &str,
    work: &Path,
) -> (
    BTreeMap<&'static str, serde_json::Value>,
    usize,
    BTreeMap<String, String>,
) {
    let doc: serde_json::Value = serde_json::from_str(&h.ok(&["image", "inspect", image])).unwrap();
    let cfg = config_fields(&doc[0]["Config"]);
    let layers = doc[0]["RootFS"]["Layers"].as_array().unwrap().len();
    let name = format!("export-{}", image.replace(['/', ':'], "-"));
    h.ok(&["create", "--name", &name, image]);
    let tar = work.join(format!("{name}.tar"));
    h.ok(&["export", "-o", tar.to_str().unwrap(), &name]);
    h.ok(&["rm", &name]);
    let root = work.join(format!("{name}.rootfs"));
    std::fs::create_dir_all(&root).unwrap();
    let st = std::process::Command::new("tar")
        .args(["--numeric-owner", "--same-owner", "-xpf"])
        .arg(&tar)
        .arg("-C")
        .arg(&root)
        .status()
        .unwrap();
    assert!(st.success(), "unpack {}", tar.display());
    (cfg, layers, tree(&root))
}

fn diff_maps<K: Ord + std::fmt::Debug, V: std::fmt::Debug + PartialEq>(
    what: &str,
    hull: &BTreeMap<K, V>,
    buildah: &BTreeMap<K, V>,
) -> Vec<String> {
    let mut out = Vec::new();
    for (k, v) in hull {
        match buildah.get(k) {
            Some(b) if b == v => {}
            Some(b) => out.push(format!("{what} {k:?}: hull {v:?}, buildah {b:?}")),
            None => out.push(format!("{what} {k:?}: only hull has it: {v:?}")),
        }
    }
    for (k, b) in buildah {
        if !hull.contains_key(k) {
            out.push(format!("{what} {k:?}: only buildah has it: {b:?}"));
        }
    }
    out
}

/// `expect` lines: `PATH CONTENT`, CONTENT with `\n` for newlines, checked in hull's tree.
fn check_expect(case: &str, root_tree: &BTreeMap<String, String>, rootfs: &Path) -> Vec<String> {
    let Ok(text) = std::fs::read_to_string(corpus_dir().join(case).join("expect")) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let (path, want) = line.split_once(' ').unwrap_or((line, ""));
        let want = want.replace("\\n", "\n");
        if !root_tree.contains_key(path) {
            out.push(format!("{case}: {path} missing"));
            continue;
        }
        let got =
            std::fs::read_to_string(rootfs.join(path.trim_start_matches('/'))).unwrap_or_default();
        if got != want {
            out.push(format!("{case}: {path}: got {got:?}, want {want:?}"));
        }
    }
    out
}

/// A case's `buildah-differs` file: where buildah 1.28 departs from Docker's reference (each
/// with its reason in a `#` comment there). `config KEY JSON`: hull's value must be JSON (what
/// Docker makes), and buildah's is not compared. `file PATH`: buildah's file is not compared
/// (the case's `expect` file checks hull's). `tree`: buildah's file tree is not read at all.
fn known_differences(
    case: &str,
    cfg: &BTreeMap<&'static str, serde_json::Value>,
    bcfg: &mut BTreeMap<&'static str, serde_json::Value>,
    files: &BTreeMap<String, String>,
    bfiles: &mut BTreeMap<String, String>,
) -> Vec<String> {
    let path = corpus_dir().join(case).join("buildah-differs");
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let mut parts = line.splitn(3, ' ');
        match (parts.next(), parts.next(), parts.next()) {
            (Some("config"), Some(key), Some(json)) => {
                let want: serde_json::Value = serde_json::from_str(json).unwrap();
                let key = *cfg
                    .keys()
                    .find(|k| **k == key)
                    .expect("a compared config key");
                if cfg[key] != want {
                    out.push(format!(
                        "{case} config {key}: hull {}, want {want}",
                        cfg[key]
                    ));
                }
                bcfg.insert(key, cfg[key].clone());
            }
            (Some("file"), Some(p), None) => match files.get(p) {
                Some(mine) => {
                    bfiles.insert(p.to_string(), mine.clone());
                }
                None => out.push(format!("{case}: {p} missing")),
            },
            (Some("tree"), None, None) => {}
            _ => panic!("{case}/buildah-differs: bad line {line:?}"),
        }
    }
    out
}

fn build_flags<'a>(flags: &'a [String], tag: &'a str, ctx: &'a str) -> Vec<&'a str> {
    let mut args = vec!["-q", "-t", tag];
    args.extend(flags.iter().map(String::as_str));
    args.push(ctx);
    args
}

#[test]
fn every_corpus_case_builds_the_same_image_as_buildah() {
    require_root!();
    let h = Hull::new();
    let work = tempfile::Builder::new()
        .prefix("hull-corpus-")
        .tempdir()
        .unwrap();
    let buildah = Buildah::new();
    if buildah.is_none() {
        println!(
            "skipped: the buildah comparison (buildah is not installed); hull-only checks run"
        );
    }
    let mut problems = Vec::new();
    for case in cases() {
        let (ctx, flags) = prepare(&case, work.path());
        let ctx_s = ctx.display().to_string();
        let tag = format!("corpus/{case}:hull");
        let mut args = vec!["build"];
        args.extend(build_flags(&flags, &tag, &ctx_s));
        h.ok(&args);
        let (cfg, layers, files) = hull_result(&h, &tag, work.path());
        let rootfs = work
            .path()
            .join(format!("export-{}.rootfs", tag.replace(['/', ':'], "-")));
        problems.extend(check_expect(&case, &files, &rootfs));
        let skip = corpus_dir().join(&case).join("buildah-skip");
        if let Ok(why) = std::fs::read_to_string(&skip) {
            println!("{case}: not compared with buildah: {}", why.trim());
            continue;
        }
        let Some(b) = &buildah else { continue };
        let btag = format!("corpus/{case}:buildah");
        let differs = std::fs::read_to_string(corpus_dir().join(&case).join("buildah-differs"));
        let read_tree = !differs.is_ok_and(|d| d.lines().any(|l| l.trim() == "tree"));
        let (bcfg, blayers, bfiles) = b.build(&build_flags(&flags, &btag, &ctx_s), read_tree);
        let bfiles = if read_tree { bfiles } else { files.clone() };
        let mut bcfg = config_fields(&bcfg);
        let mut bfiles = bfiles;
        problems.extend(known_differences(
            &case,
            &cfg,
            &mut bcfg,
            &files,
            &mut bfiles,
        ));
        problems.extend(diff_maps(&format!("{case} config"), &cfg, &bcfg));
        problems.extend(diff_maps(&format!("{case} file"), &files, &bfiles));
        if layers != blayers {
            problems.push(format!("{case}: {layers} layers, buildah {blayers}"));
        }
        println!("{case}: compared ({layers} layers, {} paths)", files.len());
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn a_built_image_runs_under_hull_and_under_podman() {
    require_root!();
    let h = Hull::new();
    let work = tempfile::tempdir().unwrap();
    let (ctx, flags) = prepare("multistage", work.path());
    let ctx_s = ctx.display().to_string();
    let mut args = vec!["build"];
    args.extend(build_flags(&flags, "corpus/runs:1", &ctx_s));
    h.ok(&args);
    assert_eq!(h.ok(&["run", "--rm", "corpus/runs:1"]), "built\n");
    if !podman_available() || tool_on_path("runc").is_none() {
        println!("skipped: the podman run (podman or runc is not installed)");
        return;
    }
    let archive = work.path().join("img.tar");
    h.ok(&["save", "-o", archive.to_str().unwrap(), "corpus/runs:1"]);
    let podman = Podman::new();
    let loaded = podman.cmd(&["load", "-i", archive.to_str().unwrap()]);
    assert!(loaded.status.success(), "podman load: {loaded:?}");
    let out = podman.run("localhost/corpus/runs:1", &[]);
    let seen = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "podman run: {out:?}");
    assert_eq!(seen, "built\n");
    let out = podman.run("localhost/corpus/runs:1", &["cat", "/app/derived"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "built\nderived\n");
}
