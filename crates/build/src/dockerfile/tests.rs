//! Parser tables: directives, lines, every instruction form, heredocs, errors, no panics.

use super::*;

fn df(text: &str) -> Dockerfile {
    parse("Dockerfile", text).unwrap_or_else(|e| panic!("{text:?}: {e}"))
}

/// The instructions of `FROM img` followed by `body`.
fn instrs(body: &str) -> Vec<Instruction> {
    let d = df(&format!("FROM img\n{body}"));
    d.stages[0]
        .instructions
        .iter()
        .map(|l| l.value.clone())
        .collect()
}

fn one(body: &str) -> Instruction {
    let mut all = instrs(body);
    assert_eq!(all.len(), 1, "{body:?}: {all:?}");
    all.remove(0)
}

fn err(text: &str) -> String {
    parse("Dockerfile", text).unwrap_err().to_string()
}

fn s(v: &str) -> String {
    v.to_string()
}

fn sv(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

fn kv(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: s(k),
        value: s(v),
    }
}

fn shell_run(cmd: &str) -> Instruction {
    Instruction::Run(Run {
        flags: RunFlags::default(),
        command: Command::Shell(s(cmd)),
        heredocs: vec![],
    })
}

#[test]
fn directives_table() {
    let cases: &[(&str, Option<&str>, char, Option<&str>)] = &[
        ("FROM a", None, '\\', None),
        (
            "# syntax=docker/dockerfile:1\nFROM a",
            Some("docker/dockerfile:1"),
            '\\',
            None,
        ),
        ("#SYNTAX = x\n# Escape=`\nFROM a", Some("x"), '`', None),
        ("  # escape=`\nFROM a", None, '\\', None),
        (
            "# check=skip=all\n# escape=`\nFROM a",
            None,
            '`',
            Some("skip=all"),
        ),
        // A blank line, a comment or an unknown directive ends the directives.
        ("\n# escape=`\nFROM a", None, '\\', None),
        ("# hello\n# escape=`\nFROM a", None, '\\', None),
        ("# unknown=1\n# escape=`\nFROM a", None, '\\', None),
        ("FROM a\n# escape=`", None, '\\', None),
        ("# escape = ` \nFROM a", None, '`', None),
    ];
    for (text, syntax, escape, check) in cases {
        let d = df(text).directives;
        assert_eq!(d.syntax.as_deref(), *syntax, "{text:?}");
        assert_eq!(d.escape, *escape, "{text:?}");
        assert_eq!(d.check.as_deref(), *check, "{text:?}");
    }
}

#[test]
fn continuations_and_comments() {
    let cases: &[(&str, &str)] = &[
        ("RUN a \\\n  b", "a   b"),
        ("RUN a \\   \n b", "a  b"),
        ("RUN a \\\n# comment\n  # indented comment\n b", "a  b"),
        ("RUN a \\\n\n   \n b", "a  b"),
        ("RUN a \\\r\n b\r\n", "a  b"),
        ("   run    a  ", "a"),
        ("RUN a \\", "a"),
        ("RUN a # not a comment", "a # not a comment"),
        ("RUN a \\\n b \\\n c", "a  b  c"),
    ];
    for (body, want) in cases {
        assert_eq!(instrs(body), vec![shell_run(want)], "{body:?}");
    }
    // An escaped escape at the end does not continue the line.
    let got = instrs("RUN a\\\\\nUSER u");
    assert_eq!(got, vec![shell_run("a\\\\"), Instruction::User(s("u"))]);
}

#[test]
fn backtick_escape() {
    let d = df("# escape=`\nFROM img\nRUN dir c:\\ `\n  /b\nCOPY a\\b c:\\dest\\\nWORKDIR c:\\x");
    let got: Vec<_> = d.stages[0]
        .instructions
        .iter()
        .map(|l| l.value.clone())
        .collect();
    let copy = Instruction::Copy(Copy {
        flags: CopyFlags::default(),
        sources: vec![Source::Path(s("a\\b"))],
        dest: s("c:\\dest\\"),
        json: false,
    });
    let want = vec![
        shell_run("dir c:\\   /b"),
        copy,
        Instruction::Workdir(s("c:\\x")),
    ];
    assert_eq!(got, want);
}

#[test]
fn line_numbers() {
    let d = df("# syntax=x\n\nARG V=1\nFROM img AS Base\n\nRUN a \\\n  b\n# c\nENV X=1\nFROM base\nUSER me");
    assert_eq!(d.global_args[0].line, 3);
    assert_eq!(d.stages[0].line, 4);
    assert_eq!(d.stages[0].name.as_deref(), Some("base"));
    let lines: Vec<usize> = d.stages[0].instructions.iter().map(|l| l.line).collect();
    assert_eq!(lines, vec![6, 9]);
    assert_eq!(d.stages[1].instructions[0].line, 11);
    assert_eq!(d.stages[1].base, "base");
}

#[test]
fn from_forms() {
    let cases: &[(&str, &str, Option<&str>, Option<&str>)] = &[
        ("FROM alpine", "alpine", None, None),
        (
            "from alpine:3.19 as Build-1",
            "alpine:3.19",
            Some("build-1"),
            None,
        ),
        (
            "FROM --platform=$BUILDPLATFORM golang AS b",
            "golang",
            Some("b"),
            Some("$BUILDPLATFORM"),
        ),
        (
            "FROM ${IMG:-debian}@sha256:ab",
            "${IMG:-debian}@sha256:ab",
            None,
            None,
        ),
        ("FROM scratch", "scratch", None, None),
    ];
    for (text, base, name, platform) in cases {
        let st = &df(text).stages[0];
        assert_eq!(st.base, *base, "{text:?}");
        assert_eq!(st.name.as_deref(), *name, "{text:?}");
        assert_eq!(st.platform.as_deref(), *platform, "{text:?}");
    }
}

#[test]
fn run_cmd_entrypoint_forms() {
    let exec = |v: &[&str]| Command::Exec(sv(v));
    let cases: Vec<(&str, Instruction)> = vec![
        ("RUN echo hi", shell_run("echo hi")),
        (
            "RUN [\"echo\", \"hi\"]",
            Instruction::Run(Run {
                flags: RunFlags::default(),
                command: exec(&["echo", "hi"]),
                heredocs: vec![],
            }),
        ),
        ("RUN [echo, hi]", shell_run("[echo, hi]")),
        ("RUN [\"a\", 1]", shell_run("[\"a\", 1]")),
        ("RUN [ -f x ] && y", shell_run("[ -f x ] && y")),
        (
            "CMD [\"nginx\", \"-g\", \"daemon off;\"]",
            Instruction::Cmd(exec(&["nginx", "-g", "daemon off;"])),
        ),
        ("CMD []", Instruction::Cmd(exec(&[]))),
        (
            "CMD echo $HOME",
            Instruction::Cmd(Command::Shell(s("echo $HOME"))),
        ),
        (
            "entrypoint [\"/bin/app\"]",
            Instruction::Entrypoint(exec(&["/bin/app"])),
        ),
        (
            "ENTRYPOINT exec app",
            Instruction::Entrypoint(Command::Shell(s("exec app"))),
        ),
    ];
    for (body, want) in cases {
        assert_eq!(one(body), want, "{body:?}");
    }
}

#[test]
fn run_flags() {
    let got = one("RUN --mount=type=cache,target=/root/.cache --mount=type=secret,id=t \\\n  --network=none --security=sandbox cargo build");
    let want = Instruction::Run(Run {
        flags: RunFlags {
            mounts: sv(&["type=cache,target=/root/.cache", "type=secret,id=t"]),
            network: Some(s("none")),
            security: Some(s("sandbox")),
        },
        command: Command::Shell(s("cargo build")),
        heredocs: vec![],
    });
    assert_eq!(got, want);
}

#[test]
fn flag_words() {
    let got = one("COPY --chown=\"app user\":'g' --chmod=07\\55 -- --odd /d");
    let flags = CopyFlags {
        chown: Some(s("app user:g")),
        chmod: Some(s("0755")),
        ..CopyFlags::default()
    };
    assert_eq!(got, Instruction::Copy(copy(flags, &["--odd"], "/d", false)));
}

#[test]
fn env_label_arg_forms() {
    let cases: Vec<(&str, Instruction)> = vec![
        ("ENV A=1", Instruction::Env(vec![kv("A", "1")])),
        (
            "ENV A=1 B=\"two words\" C='$x' D=a\\ b",
            Instruction::Env(vec![
                kv("A", "1"),
                kv("B", "\"two words\""),
                kv("C", "'$x'"),
                kv("D", "a\\ b"),
            ]),
        ),
        (
            "ENV LEGACY some value here",
            Instruction::Env(vec![kv("LEGACY", "some value here")]),
        ),
        ("ENV E=", Instruction::Env(vec![kv("E", "")])),
        (
            "LABEL a.b=c \"k k\"=v",
            Instruction::Label(vec![kv("a.b", "c"), kv("\"k k\"", "v")]),
        ),
        (
            "LABEL version 1.0",
            Instruction::Label(vec![kv("version", "1.0")]),
        ),
        (
            "ARG A",
            Instruction::Arg(vec![ArgDecl {
                name: s("A"),
                default: None,
            }]),
        ),
        (
            "ARG A=1 B C=\"x y\"",
            Instruction::Arg(vec![
                ArgDecl {
                    name: s("A"),
                    default: Some(s("1")),
                },
                ArgDecl {
                    name: s("B"),
                    default: None,
                },
                ArgDecl {
                    name: s("C"),
                    default: Some(s("\"x y\"")),
                },
            ]),
        ),
    ];
    for (body, want) in cases {
        assert_eq!(one(body), want, "{body:?}");
    }
}

#[test]
fn simple_forms() {
    let cases: Vec<(&str, Instruction)> = vec![
        (
            "EXPOSE 80 443/tcp $P",
            Instruction::Expose(sv(&["80", "443/tcp", "$P"])),
        ),
        ("VOLUME /data", Instruction::Volume(sv(&["/data"]))),
        ("VOLUME /a /b", Instruction::Volume(sv(&["/a", "/b"]))),
        (
            "VOLUME [\"/a\", \"/b c\"]",
            Instruction::Volume(sv(&["/a", "/b c"])),
        ),
        ("USER app:app", Instruction::User(s("app:app"))),
        (
            "WORKDIR /srv/my app",
            Instruction::Workdir(s("/srv/my app")),
        ),
        ("STOPSIGNAL SIGQUIT", Instruction::StopSignal(s("SIGQUIT"))),
        (
            "SHELL [\"/bin/bash\", \"-euo\", \"pipefail\", \"-c\"]",
            Instruction::Shell(sv(&["/bin/bash", "-euo", "pipefail", "-c"])),
        ),
        (
            "MAINTAINER Jane <j@x.org>",
            Instruction::Maintainer(s("Jane <j@x.org>")),
        ),
    ];
    for (body, want) in cases {
        assert_eq!(one(body), want, "{body:?}");
    }
}

fn copy(flags: CopyFlags, sources: &[&str], dest: &str, json: bool) -> Copy {
    let sources = sources.iter().map(|p| Source::Path(s(p))).collect();
    Copy {
        flags,
        sources,
        dest: s(dest),
        json,
    }
}

#[test]
fn copy_add_forms() {
    let flags = CopyFlags {
        from: Some(s("build")),
        chown: Some(s("1000:1000")),
        chmod: Some(s("0755")),
        link: true,
        exclude: sv(&["*.md", "tmp"]),
        ..CopyFlags::default()
    };
    let add_flags = CopyFlags {
        checksum: Some(s("sha256:ab")),
        keep_git_dir: true,
        link: false,
        unpack: Some(s("false")),
        ..CopyFlags::default()
    };
    let cases: Vec<(&str, Instruction)> = vec![
        ("COPY a b", Instruction::Copy(copy(CopyFlags::default(), &["a"], "b", false))),
        ("COPY a b c /d/", Instruction::Copy(copy(CopyFlags::default(), &["a", "b", "c"], "/d/", false))),
        ("COPY [\"a b\", \"/c d/\"]", Instruction::Copy(copy(CopyFlags::default(), &["a b"], "/c d/", true))),
        ("COPY \"a b\" /x", Instruction::Copy(copy(CopyFlags::default(), &["\"a b\""], "/x", false))),
        ("COPY --from=build --chown=1000:1000 --chmod=0755 --link --exclude=*.md --exclude=tmp /out /bin/", Instruction::Copy(copy(flags, &["/out"], "/bin/", false))),
        ("COPY --parents=true a/b /", Instruction::Copy(copy(CopyFlags { parents: true, ..CopyFlags::default() }, &["a/b"], "/", false))),
        ("ADD --checksum=sha256:ab --keep-git-dir --link=false --unpack=false https://x/y.tgz /", Instruction::Add(copy(add_flags, &["https://x/y.tgz"], "/", false))),
        ("add a.tar /", Instruction::Add(copy(CopyFlags::default(), &["a.tar"], "/", false))),
    ];
    for (body, want) in cases {
        assert_eq!(one(body), want, "{body:?}");
    }
}

#[test]
fn healthcheck_and_onbuild() {
    let flags = HealthFlags {
        interval: Some(s("30s")),
        timeout: Some(s("3s")),
        start_period: Some(s("5s")),
        start_interval: Some(s("1s")),
        retries: Some(s("3")),
    };
    let cases: Vec<(&str, Instruction)> = vec![
        ("HEALTHCHECK NONE", Instruction::Healthcheck(Healthcheck::None)),
        ("healthcheck none", Instruction::Healthcheck(Healthcheck::None)),
        ("HEALTHCHECK --interval=30s --timeout=3s --start-period=5s --start-interval=1s --retries=3 CMD curl -f http://localhost/ || exit 1",
         Instruction::Healthcheck(Healthcheck::Check { flags, command: Command::Shell(s("curl -f http://localhost/ || exit 1")) })),
        ("HEALTHCHECK cmd [\"/bin/check\"]", Instruction::Healthcheck(Healthcheck::Check {
            flags: HealthFlags::default(), command: Command::Exec(sv(&["/bin/check"])) })),
        ("ONBUILD RUN make", Instruction::Onbuild { text: s("RUN make"), trigger: Box::new(shell_run("make")) }),
        ("ONBUILD RUN <<-EOF\n\tmake\n\tEOF", Instruction::Onbuild { text: s("RUN <<-EOF\nmake\nEOF"),
            trigger: Box::new(run_docs("<<-EOF", vec![doc("EOF", "make\n", true, true)])) }),
        ("ONBUILD copy . /src", Instruction::Onbuild { text: s("copy . /src"),
            trigger: Box::new(Instruction::Copy(copy(CopyFlags::default(), &["."], "/src", false))) }),
    ];
    for (body, want) in cases {
        assert_eq!(one(body), want, "{body:?}");
    }
}

fn doc(name: &str, body: &str, expand: bool, strip_tabs: bool) -> Heredoc {
    Heredoc {
        name: s(name),
        body: s(body),
        expand,
        strip_tabs,
        fd: None,
    }
}

fn run_docs(cmd: &str, heredocs: Vec<Heredoc>) -> Instruction {
    Instruction::Run(Run {
        flags: RunFlags::default(),
        command: Command::Shell(s(cmd)),
        heredocs,
    })
}

#[test]
fn heredocs_table() {
    let cases: Vec<(&str, Vec<Instruction>)> = vec![
        (
            "RUN <<EOF\necho $A\n  # kept\n\nEOF\nUSER x",
            vec![
                run_docs(
                    "<<EOF",
                    vec![doc("EOF", "echo $A\n  # kept\n\n", true, false)],
                ),
                Instruction::User(s("x")),
            ],
        ),
        (
            "RUN <<-EOT\n\t\techo a\n\tEOT",
            vec![run_docs("<<-EOT", vec![doc("EOT", "echo a\n", true, true)])],
        ),
        (
            "RUN <<\"EOF\"\necho $A\nEOF",
            vec![run_docs(
                "<<\"EOF\"",
                vec![doc("EOF", "echo $A\n", false, false)],
            )],
        ),
        (
            "RUN <<'EOF'\nx\nEOF",
            vec![run_docs("<<'EOF'", vec![doc("EOF", "x\n", false, false)])],
        ),
        (
            "RUN python3 <<EOF\nprint(1)\nEOF",
            vec![run_docs(
                "python3 <<EOF",
                vec![doc("EOF", "print(1)\n", true, false)],
            )],
        ),
        (
            "RUN <<A cat - <<B\na\nA\nb\nB",
            vec![run_docs(
                "<<A cat - <<B",
                vec![doc("A", "a\n", true, false), doc("B", "b\n", true, false)],
            )],
        ),
        (
            "RUN 3<<X cat /dev/fd/3\nx\nX",
            vec![run_docs(
                "3<<X cat /dev/fd/3",
                vec![Heredoc {
                    fd: Some(3),
                    ..doc("X", "x\n", true, false)
                }],
            )],
        ),
        (
            "RUN <<EOF\nEOF",
            vec![run_docs("<<EOF", vec![doc("EOF", "", true, false)])],
        ),
        ("RUN cat <<<word", vec![shell_run("cat <<<word")]),
        ("RUN echo \"<<EOF\"", vec![shell_run("echo \"<<EOF\"")]),
        (
            "RUN a \\\n  <<EOF\nbody \\\nEOF",
            vec![run_docs(
                "a   <<EOF",
                vec![doc("EOF", "body \\\n", true, false)],
            )],
        ),
        (
            "COPY <<EOF /file\nhello\nEOF",
            vec![Instruction::Copy(Copy {
                flags: CopyFlags::default(),
                sources: vec![Source::Heredoc(doc("EOF", "hello\n", true, false))],
                dest: s("/file"),
                json: false,
            })],
        ),
        (
            "COPY --chmod=755 <<a.sh <<'b' x /dest/\nA\na.sh\nB\nb",
            vec![Instruction::Copy(Copy {
                flags: CopyFlags {
                    chmod: Some(s("755")),
                    ..CopyFlags::default()
                },
                sources: vec![
                    Source::Heredoc(doc("a.sh", "A\n", true, false)),
                    Source::Heredoc(doc("b", "B\n", false, false)),
                    Source::Path(s("x")),
                ],
                dest: s("/dest/"),
                json: false,
            })],
        ),
    ];
    for (body, want) in cases {
        assert_eq!(instrs(body), want, "{body:?}");
    }
}

#[test]
fn expands_variables_matches_reference() {
    let yes = [
        "ADD a b",
        "COPY a b",
        "ENV A=1",
        "EXPOSE 1",
        "LABEL a=b",
        "STOPSIGNAL 9",
        "USER u",
        "VOLUME /v",
        "WORKDIR /w",
        "ARG A",
    ];
    let no = [
        "RUN a",
        "CMD a",
        "ENTRYPOINT a",
        "SHELL [\"a\"]",
        "HEALTHCHECK NONE",
        "ONBUILD COPY a b",
        "MAINTAINER m",
    ];
    for body in yes {
        assert!(one(body).expands_variables(), "{body}");
    }
    for body in no {
        assert!(!one(body).expands_variables(), "{body}");
    }
}

#[test]
fn error_messages() {
    let cases: &[(&str, &str)] = &[
        ("", "Dockerfile: file with no instructions"),
        ("# only\n\n  \n", "Dockerfile: file with no instructions"),
        ("ARG A", "Dockerfile: no FROM instruction"),
        ("FROM a\n\n\n\n\n\nRUUN x", "Dockerfile:7: unknown instruction: RUUN"),
        ("FROM a\n\nCOPY x", "Dockerfile:3: COPY requires at least two arguments"),
        ("FROM a\nADD [\"x\"]", "Dockerfile:2: ADD requires at least two arguments"),
        ("RUN x", "Dockerfile:1: no FROM before RUN"),
        ("ARG A\nENV A=1\nFROM a", "Dockerfile:2: no FROM before ENV"),
        ("FROM a AS build\nFROM b AS BUILD", "Dockerfile:2: duplicate stage name \"build\""),
        ("FROM a\n\n\nRUN <<EOF\nx", "Dockerfile:4: unterminated heredoc <<EOF"),
        ("FROM a\nCOPY <<A <<B /d\nA\nA", "Dockerfile:2: unterminated heredoc <<B"),
        ("FROM a\nCOPY x <<EOF\nEOF", "Dockerfile:2: COPY cannot take a heredoc as its destination"),
        ("FROM a\nSHELL /bin/sh -c", "Dockerfile:2: SHELL requires the arguments to be in JSON form"),
        ("FROM a\nCOPY --foo a b", "Dockerfile:2: unknown flag --foo for COPY"),
        ("FROM a\nCOPY --checksum=x a b", "Dockerfile:2: unknown flag --checksum for COPY"),
        ("FROM a\nRUN --mount x", "Dockerfile:2: RUN flag --mount requires a value"),
        ("FROM a\nCMD --x y", "Dockerfile:2: unknown flag --x for CMD"),
        ("FROM a\nCOPY --link=maybe a b", "Dockerfile:2: COPY flag --link expects a boolean, not \"maybe\""),
        ("FROM --foo=1 a", "Dockerfile:1: unknown flag --foo for FROM"),
        ("FROM a b", "Dockerfile:1: FROM requires either one or three arguments"),
        ("FROM", "Dockerfile:1: FROM requires either one or three arguments"),
        ("FROM a AS 1x", "Dockerfile:1: invalid name for build stage: \"1x\", name can't start with a number or contain symbols"),
        ("FROM a\nRUN", "Dockerfile:2: RUN requires at least one argument"),
        ("FROM a\nENV", "Dockerfile:2: ENV requires at least one argument"),
        ("FROM a\nENV A", "Dockerfile:2: ENV must have two arguments"),
        ("FROM a\nENV A=1 B", "Dockerfile:2: syntax error: can't find = in \"B\", it must be of the form name=value"),
        ("FROM a\nLABEL =x", "Dockerfile:2: LABEL names can not be blank"),
        ("FROM a\nARG =1", "Dockerfile:2: ARG names can not be blank"),
        ("FROM a\nEXPOSE", "Dockerfile:2: EXPOSE requires at least one argument"),
        ("FROM a\nVOLUME [\"\"]", "Dockerfile:2: VOLUME specified can not be an empty string"),
        ("FROM a\nUSER", "Dockerfile:2: USER requires exactly one argument"),
        ("FROM a\nWORKDIR   ", "Dockerfile:2: WORKDIR requires exactly one argument"),
        ("FROM a\nSHELL []", "Dockerfile:2: SHELL requires at least one argument"),
        ("FROM a\nHEALTHCHECK", "Dockerfile:2: HEALTHCHECK requires at least one argument"),
        ("FROM a\nHEALTHCHECK NONE x", "Dockerfile:2: HEALTHCHECK NONE takes no arguments"),
        ("FROM a\nHEALTHCHECK --retries=3 NONE", "Dockerfile:2: HEALTHCHECK NONE takes no arguments"),
        ("FROM a\nHEALTHCHECK CMD", "Dockerfile:2: HEALTHCHECK CMD requires a command"),
        ("FROM a\nHEALTHCHECK RUN x", "Dockerfile:2: unknown type \"RUN\" in HEALTHCHECK (try CMD)"),
        ("FROM a\nHEALTHCHECK --foo=1 CMD x", "Dockerfile:2: unknown flag --foo for HEALTHCHECK"),
        ("FROM a\nHEALTHCHECK --interval=5 CMD x", "Dockerfile:2: HEALTHCHECK flag --interval: invalid value \"5\""),
        ("FROM a\nHEALTHCHECK --timeout=10us CMD x", "Dockerfile:2: HEALTHCHECK flag --timeout: invalid value \"10us\""),
        ("FROM a\nHEALTHCHECK --retries=-1 CMD x", "Dockerfile:2: HEALTHCHECK flag --retries: invalid value \"-1\""),
        ("FROM a\nONBUILD ONBUILD RUN x", "Dockerfile:2: ONBUILD ONBUILD isn't allowed"),
        ("FROM a\nONBUILD FROM b", "Dockerfile:2: FROM isn't allowed as an ONBUILD trigger"),
        ("FROM a\nONBUILD MAINTAINER me", "Dockerfile:2: MAINTAINER isn't allowed as an ONBUILD trigger"),
        ("FROM a\nONBUILD", "Dockerfile:2: ONBUILD requires at least one argument"),
        ("FROM a\nONBUILD BOGUS", "Dockerfile:2: unknown instruction: BOGUS"),
        ("FROM a\nONBUILD RUN <<EOF", "Dockerfile:2: unterminated heredoc <<EOF"),
        ("FROM a\nONBUILD --x RUN y", "Dockerfile:2: unknown flag --x for ONBUILD"),
        ("# escape=x\nFROM a", "Dockerfile:1: invalid escape token \"x\": it must be ` or \\"),
        ("# syntax=a\n# syntax=b\nFROM a", "Dockerfile:2: only one syntax parser directive can be used"),
        ("FROM a\nRUN a \\\n  b \\\n  c\nCOPY x", "Dockerfile:5: COPY requires at least two arguments"),
    ];
    for (text, want) in cases {
        assert_eq!(err(text), *want, "{text:?}");
    }
    let e = parse("sub/Containerfile", "FROM a\nNOPE").unwrap_err();
    assert_eq!((e.file.as_str(), e.line), ("sub/Containerfile", Some(2)));
}

proptest::proptest! {
    #[test]
    fn never_panics(text in "(?s).{0,300}") {
        if let Err(e) = parse("Dockerfile", &text) {
            proptest::prop_assert!(!e.to_string().contains('\n'), "{e}");
        }
    }

    #[test]
    fn never_panics_on_dockerfile_like_text(
        lines in proptest::collection::vec(
            "(FROM|RUN|COPY|ADD|ENV|ARG|HEALTHCHECK|ONBUILD|#|# escape=|)[ \\-=a-z<\"'`\\\\\\[\\]{}$:]{0,20}",
            0..12,
        )
    ) {
        if let Err(e) = parse("Dockerfile", &lines.join("\n")) {
            proptest::prop_assert!(!e.to_string().contains('\n'), "{e}");
        }
    }

    #[test]
    fn subst_never_panics(text in "(?s)[$\\{}:+?#%/*'\" a-zA-Z\n-]{0,60}") {
        let lookup = |name: &str| (name == "a").then(|| "x y".to_string());
        let _ = super::subst::expand(&text, '\\', &lookup);
        let _ = super::subst::expand_words(&text, '`', &lookup);
    }
}

#[test]
fn a_heredoc_inside_a_shell_command_goes_to_the_shell_with_its_delimiter() {
    let d = |name: &str, body: &str| doc(name, body, true, false);
    assert_eq!(
        shell_script("cat <<EOF > /f", &[d("EOF", "a\nb\n")]),
        "cat <<EOF > /f\na\nb\nEOF"
    );
    assert_eq!(
        shell_script("cat <<A <<B", &[d("A", "1\n"), d("B", "2\n")]),
        "cat <<A <<B\n1\nA\n2\nB"
    );
}
