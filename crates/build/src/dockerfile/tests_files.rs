//! Realistic Dockerfiles parsed whole, the full AST asserted.

use super::*;

fn s(v: &str) -> String {
    v.to_string()
}

fn sv(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

fn at<T>(line: usize, value: T) -> Located<T> {
    Located { line, value }
}

fn shell(cmd: &str) -> Command {
    Command::Shell(s(cmd))
}

fn run(flags: RunFlags, cmd: &str, heredocs: Vec<Heredoc>) -> Instruction {
    Instruction::Run(Run {
        flags,
        command: shell(cmd),
        heredocs,
    })
}

fn copy(flags: CopyFlags, sources: &[&str], dest: &str) -> Instruction {
    Instruction::Copy(Copy {
        flags,
        sources: sources.iter().map(|p| Source::Path(s(p))).collect(),
        dest: s(dest),
        json: false,
    })
}

const RUST_MULTI_STAGE: &str = "\
# syntax=docker/dockerfile:1.7
ARG RUST_VERSION=1.83
ARG APP=hello

FROM --platform=$BUILDPLATFORM rust:${RUST_VERSION}-slim AS Build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
RUN --mount=type=cache,target=/usr/local/cargo/registry \\
    --mount=type=cache,target=/src/target \\
    cargo build --release && \\
    # keep the binary out of the cache mount
    cp target/release/$APP /out

FROM gcr.io/distroless/cc AS runtime
ARG APP
COPY --from=build --chown=65532:65532 /out /usr/local/bin/app
USER 65532
ENTRYPOINT [\"/usr/local/bin/app\"]
";

#[test]
fn rust_multi_stage() {
    let got = parse("Dockerfile", RUST_MULTI_STAGE).unwrap();
    let cache = RunFlags {
        mounts: sv(&[
            "type=cache,target=/usr/local/cargo/registry",
            "type=cache,target=/src/target",
        ]),
        ..RunFlags::default()
    };
    let from_build = CopyFlags {
        from: Some(s("build")),
        chown: Some(s("65532:65532")),
        ..CopyFlags::default()
    };
    let want = Dockerfile {
        directives: Directives {
            syntax: Some(s("docker/dockerfile:1.7")),
            ..Directives::default()
        },
        global_args: vec![
            at(
                2,
                ArgDecl {
                    name: s("RUST_VERSION"),
                    default: Some(s("1.83")),
                },
            ),
            at(
                3,
                ArgDecl {
                    name: s("APP"),
                    default: Some(s("hello")),
                },
            ),
        ],
        stages: vec![
            Stage {
                name: Some(s("build")),
                base: s("rust:${RUST_VERSION}-slim"),
                platform: Some(s("$BUILDPLATFORM")),
                line: 5,
                instructions: vec![
                    at(6, Instruction::Workdir(s("/src"))),
                    at(
                        7,
                        copy(CopyFlags::default(), &["Cargo.toml", "Cargo.lock"], "./"),
                    ),
                    at(
                        8,
                        run(
                            cache,
                            "cargo build --release &&     cp target/release/$APP /out",
                            vec![],
                        ),
                    ),
                ],
            },
            Stage {
                name: Some(s("runtime")),
                base: s("gcr.io/distroless/cc"),
                platform: None,
                line: 14,
                instructions: vec![
                    at(
                        15,
                        Instruction::Arg(vec![ArgDecl {
                            name: s("APP"),
                            default: None,
                        }]),
                    ),
                    at(16, copy(from_build, &["/out"], "/usr/local/bin/app")),
                    at(17, Instruction::User(s("65532"))),
                    at(
                        18,
                        Instruction::Entrypoint(Command::Exec(sv(&["/usr/local/bin/app"]))),
                    ),
                ],
            },
        ],
    };
    assert_eq!(got, want);
}

const NGINX: &str = "\
FROM nginx:1.27-alpine
LABEL org.opencontainers.image.title=\"static site\" \\
      maintainer=ops@example.org
ENV NGINX_PORT=8080 \\
    TZ=UTC
COPY site/ /usr/share/nginx/html/
EXPOSE 8080
VOLUME [\"/var/cache/nginx\"]
HEALTHCHECK --interval=10s --timeout=2s --retries=3 \\
  CMD wget -qO- http://127.0.0.1:8080/ || exit 1
STOPSIGNAL SIGQUIT
CMD [\"nginx\", \"-g\", \"daemon off;\"]
";

#[test]
fn nginx_with_healthcheck() {
    let got = parse("Dockerfile", NGINX).unwrap();
    let kv = |k: &str, v: &str| KeyValue {
        key: s(k),
        value: s(v),
    };
    let health = Healthcheck::Check {
        flags: HealthFlags {
            interval: Some(s("10s")),
            timeout: Some(s("2s")),
            retries: Some(s("3")),
            ..HealthFlags::default()
        },
        command: shell("wget -qO- http://127.0.0.1:8080/ || exit 1"),
    };
    let want = Dockerfile {
        directives: Directives::default(),
        global_args: vec![],
        stages: vec![Stage {
            name: None,
            base: s("nginx:1.27-alpine"),
            platform: None,
            line: 1,
            instructions: vec![
                at(
                    2,
                    Instruction::Label(vec![
                        kv("org.opencontainers.image.title", "\"static site\""),
                        kv("maintainer", "ops@example.org"),
                    ]),
                ),
                at(
                    4,
                    Instruction::Env(vec![kv("NGINX_PORT", "8080"), kv("TZ", "UTC")]),
                ),
                at(
                    6,
                    copy(CopyFlags::default(), &["site/"], "/usr/share/nginx/html/"),
                ),
                at(7, Instruction::Expose(sv(&["8080"]))),
                at(8, Instruction::Volume(sv(&["/var/cache/nginx"]))),
                at(9, Instruction::Healthcheck(health)),
                at(11, Instruction::StopSignal(s("SIGQUIT"))),
                at(
                    12,
                    Instruction::Cmd(Command::Exec(sv(&["nginx", "-g", "daemon off;"]))),
                ),
            ],
        }],
    };
    assert_eq!(got, want);
}

const HEREDOCS: &str = "\
# syntax=docker/dockerfile:1
FROM debian:bookworm-slim
RUN <<EOF
set -e
apt-get update
apt-get install -y --no-install-recommends python3
EOF
COPY <<-'CONF' /etc/app.conf
\tname = $NAME
\tCONF
RUN python3 <<PY > /out.txt
print(\"hi\")
PY
SHELL [\"/bin/bash\", \"-c\"]
CMD cat /out.txt
";

#[test]
fn heredoc_file() {
    let got = parse("Dockerfile", HEREDOCS).unwrap();
    let doc = |name: &str, body: &str, expand: bool, strip_tabs: bool| Heredoc {
        name: s(name),
        body: s(body),
        expand,
        strip_tabs,
        fd: None,
    };
    let script = "set -e\napt-get update\napt-get install -y --no-install-recommends python3\n";
    let conf = Instruction::Copy(Copy {
        flags: CopyFlags::default(),
        sources: vec![Source::Heredoc(doc("CONF", "name = $NAME\n", false, true))],
        dest: s("/etc/app.conf"),
        json: false,
    });
    let want = Dockerfile {
        directives: Directives {
            syntax: Some(s("docker/dockerfile:1")),
            ..Directives::default()
        },
        global_args: vec![],
        stages: vec![Stage {
            name: None,
            base: s("debian:bookworm-slim"),
            platform: None,
            line: 2,
            instructions: vec![
                at(
                    3,
                    run(
                        RunFlags::default(),
                        "<<EOF",
                        vec![doc("EOF", script, true, false)],
                    ),
                ),
                at(8, conf),
                at(
                    11,
                    run(
                        RunFlags::default(),
                        "python3 <<PY > /out.txt",
                        vec![doc("PY", "print(\"hi\")\n", true, false)],
                    ),
                ),
                at(14, Instruction::Shell(sv(&["/bin/bash", "-c"]))),
                at(15, Instruction::Cmd(shell("cat /out.txt"))),
            ],
        }],
    };
    assert_eq!(got, want);
}

#[test]
fn ast_serialises() {
    let d = parse("Dockerfile", HEREDOCS).unwrap();
    let json = serde_json::to_string(&d).unwrap();
    let back: Dockerfile = serde_json::from_str(&json).unwrap();
    assert_eq!(back, d);
}
