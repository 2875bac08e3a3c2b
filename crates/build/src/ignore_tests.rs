use super::*;

fn rules(text: &str) -> DockerIgnore {
    DockerIgnore::parse(".dockerignore", text).unwrap_or_else(|e| panic!("{e}"))
}

/// (dockerignore text, path, excluded?)
const TABLE: &[(&str, &str, bool)] = &[
    ("", "a.md", false),
    ("*.md", "README.md", true),
    ("*.md", "docs/README.md", false), // `*` does not cross `/`
    ("*.md", "a.mdx", false),
    ("**/*.md", "docs/x/README.md", true),
    ("**/*.md", "README.md", true), // `**` matches zero directories
    ("**/*.go", "cmd/main.go", true),
    ("**/*.go", "cmd/main.rs", false),
    ("*.md\n!README.md", "README.md", false),
    ("*.md\n!README.md", "CHANGES.md", true),
    ("!README.md\n*.md", "README.md", true), // later lines override earlier ones
    ("docs/**", "docs/a/b/c.txt", true),
    ("docs/**", "docs", false), // `docs/**` needs something below docs
    ("docs/**", "docsx/a", false),
    ("docs", "docs/a/b/c.txt", true), // a parent path match excludes everything below
    ("docs", "docs", true),
    ("docs", "src/docs", false), // relative to the root, not anywhere
    ("docs/", "docs/a", true),   // a trailing slash is cleaned away
    ("docs/", "docs", true),
    ("/abs", "abs", true), // a leading slash is dropped
    ("/abs", "x/abs", false),
    ("./a/../b", "b", true), // cleaned like filepath.Clean
    ("a//b", "a/b", true),
    ("**", "anything/at/all", true),
    ("**\n!keep", "keep", false),
    ("**\n!keep", "other", true),
    ("docs\n!docs/keep.txt", "docs/keep.txt", false),
    ("docs\n!docs/keep.txt", "docs/drop.txt", true),
    ("docs\n!docs/sub", "docs/sub/deep/f", false), // an exception re-includes a whole subtree
    ("[a-c].txt", "b.txt", true),
    ("[a-c].txt", "d.txt", false),
    ("[^a-c].txt", "d.txt", true),
    ("?.txt", "x.txt", true),
    ("?.txt", "xy.txt", false),
    ("\\*.txt", "*.txt", true),
    ("\\*.txt", "a.txt", false),
    ("# comment\n", "# comment", false),
    ("  spaced.txt  ", "spaced.txt", true),
    ("\n\n  \nx", "x", true),
    ("a/*/c", "a/b/c", true),
    ("a/*/c", "a/b/b/c", false),
    ("a/**/c", "a/b/b/c", true),
    ("a/**/c", "a/c", true),
    ("*", "dir/file", true), // `*` matches the top directory, so its contents go too
    ("Dockerfile\n.dockerignore", "Dockerfile", true),
];

#[test]
fn docker_rules_table() {
    let mut failures = Vec::new();
    for (text, path, want) in TABLE {
        if rules(text).is_excluded(path) != *want {
            failures.push(format!("{text:?} on {path:?}: want excluded={want}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn walker_learns_whether_an_excluded_dir_may_hold_exceptions() {
    let table: &[(&str, &str, bool)] = &[
        ("docs", "docs", false),
        ("docs\n!docs/keep.txt", "docs", true),
        ("docs\n!docs/keep.txt", "src", false),
        ("docs\n!docs/a/b/keep.txt", "docs/a", true),
        ("docs\n!docs/a/b/keep.txt", "docs/x", false),
        ("docs\n!**/keep.txt", "docs/any/where", true),
        ("docs\n!docs/*/keep", "docs/q", true),
        ("docs\n!docs", "docs", false), // the exception matches docs itself, nothing below
    ];
    for (text, dir, want) in table {
        assert_eq!(
            rules(text).may_reinclude_below(dir),
            *want,
            "{text:?} on dir {dir:?}"
        );
    }
}

#[test]
fn bad_patterns_name_file_line_and_pattern() {
    for (text, line, pat) in [
        ("ok\n\n[abc", 3, "[abc"),
        ("x\\", 1, "x\\"),
        ("a\n!", 2, "!"),
    ] {
        let err = DockerIgnore::parse("ctx/.dockerignore", text)
            .expect_err(text)
            .to_string();
        assert!(
            err.starts_with(&format!("ctx/.dockerignore:{line}: bad pattern {pat:?}")),
            "{err}"
        );
        assert!(!err.contains('\n'), "one line: {err}");
    }
}

#[test]
fn load_reads_the_file_or_means_nothing() {
    let dir = tempfile::tempdir().unwrap();
    assert!(DockerIgnore::load(dir.path()).unwrap().is_empty());
    std::fs::write(dir.path().join(".dockerignore"), "\u{feff}*.log\n").unwrap();
    let ign = DockerIgnore::load(dir.path()).unwrap();
    assert!(ign.is_excluded("x.log"));
    assert!(!ign.is_excluded("x.txt"));
}

#[test]
fn a_dockerfile_specific_ignore_file_wins() {
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path();
    std::fs::write(r.join(".dockerignore"), "*.log\n").unwrap();
    let df = r.join("app.Dockerfile");
    let ign = DockerIgnore::load_for(r, &df).unwrap();
    assert!(ign.is_excluded("x.log"), "falls back to .dockerignore");
    std::fs::write(r.join("app.Dockerfile.dockerignore"), "*.tmp\n").unwrap();
    let ign = DockerIgnore::load_for(r, &df).unwrap();
    assert!(ign.is_excluded("x.tmp") && !ign.is_excluded("x.log"));
    std::fs::write(r.join(".dockerignore"), "[bad\n").unwrap();
    let err = DockerIgnore::load(r).unwrap_err().to_string();
    assert!(
        err.contains(".dockerignore:1: bad pattern \"[bad\""),
        "{err}"
    );
}
