//! `hull build` end to end on the fixture busybox: config instructions, COPY with
//! .dockerignore, RUN, multi-stage and `--target`, a failing RUN, a parse error, build args.

use hull_tests::build::{build, context, interrupt};
use hull_tests::{busybox, require_root, Hull};

fn image_config(h: &Hull, name: &str) -> serde_json::Value {
    let out = h.ok(&["image", "inspect", name]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    v[0]["Config"].clone()
}

/// No container may outlive a build, failed or not.
fn assert_no_containers(h: &Hull) {
    let left = h.ok(&["ps", "-a", "-q"]);
    assert_eq!(left.trim(), "", "build containers left behind");
}

#[test]
fn a_dockerfile_of_config_copy_and_run_steps_builds_a_runnable_image() {
    require_root!();
    let h = Hull::new();
    let dockerfile = format!(
        "FROM {}\nENV GREETING=hello\nWORKDIR /app\nCOPY a.txt sub ./\nCOPY . /all/\n\
         RUN echo \"$GREETING from run\" > out.txt && cat a.txt b.txt >> out.txt\n\
         CMD [\"cat\", \"/app/out.txt\"]\n",
        busybox()
    );
    let ctx = context(
        &h,
        "ctx1",
        &[
            ("Dockerfile", &dockerfile),
            ("a.txt", "A\n"),
            ("sub/b.txt", "B\n"),
            ("secret.txt", "no\n"),
            (".dockerignore", "secret.txt\n"),
        ],
    );
    let out = build(&h, &["-t", "local/built:1"], &ctx);
    assert!(out.contains("Step 1/7 : FROM"), "{out}");
    assert!(out.contains("Step 6/7 : RUN echo"), "{out}");
    let removed = out
        .lines()
        .position(|l| l.starts_with("Removing intermediate container "));
    let running = out.lines().position(|l| l.starts_with(" ---> Running in "));
    assert!(removed > running && running.is_some(), "{out}");
    assert!(out.contains("Successfully tagged local/built:1"), "{out}");
    assert_eq!(
        h.ok(&["run", "--rm", "local/built:1"]),
        "hello from run\nA\nB\n"
    );
    let listing = h.ok(&["run", "--rm", "local/built:1", "ls", "/all"]);
    assert!(listing.contains("a.txt"), "{listing}");
    assert!(
        !listing.contains("secret.txt"),
        "ignored file copied: {listing}"
    );
    let cfg = image_config(&h, "local/built:1");
    assert_eq!(cfg["WorkingDir"], "/app");
    assert_eq!(cfg["Cmd"], serde_json::json!(["cat", "/app/out.txt"]));
    let env = cfg["Env"].as_array().unwrap();
    assert!(env.iter().any(|e| e == "GREETING=hello"), "{env:?}");
    let history = h.ok(&["history", "--no-trunc", "local/built:1"]);
    for step in [
        "ENV GREETING=hello",
        "WORKDIR /app",
        "COPY a.txt sub ./",
        "echo \"$GREETING",
    ] {
        assert!(history.contains(step), "{step} missing from:\n{history}");
    }
    assert_no_containers(&h);
}

#[test]
fn multi_stage_copies_from_an_earlier_stage_and_target_stops_there() {
    require_root!();
    let h = Hull::new();
    let dockerfile = format!(
        "FROM {bb} AS build\nRUN mkdir /out && echo built > /out/artifact\n\
         FROM {bb}\nCOPY --from=build /out/artifact /artifact\nCMD [\"cat\", \"/artifact\"]\n",
        bb = busybox()
    );
    let ctx = context(&h, "ctx2", &[("Dockerfile", &dockerfile)]);
    build(&h, &["-t", "local/final"], &ctx);
    assert_eq!(h.ok(&["run", "--rm", "local/final"]), "built\n");
    let out = build(&h, &["--target", "build", "-t", "local/stage"], &ctx);
    assert!(
        out.contains("Step 2/2 : RUN"),
        "only the first stage: {out}"
    );
    assert!(!out.contains("COPY --from"), "{out}");
    assert_eq!(
        h.ok(&["run", "--rm", "local/stage", "cat", "/out/artifact"]),
        "built\n"
    );
    assert!(h
        .run(&["run", "--rm", "local/stage", "test", "-e", "/artifact"])
        .status
        .code()
        .is_some_and(|c| c != 0));
}

#[test]
fn a_failing_run_names_the_line_and_code_and_leaves_nothing_behind() {
    require_root!();
    let h = Hull::new();
    let dockerfile = format!("FROM {}\nENV A=1\nRUN echo before; exit 3\n", busybox());
    let ctx = context(&h, "ctx3", &[("Dockerfile", &dockerfile)]);
    let ctx_s = ctx.display().to_string();
    let out = h.run(&["build", "-t", "local/broken", &ctx_s]);
    assert_eq!(out.status.code(), Some(3), "the failing RUN's exit code");
    let err = String::from_utf8_lossy(&out.stderr);
    let line = err.lines().last().unwrap_or_default();
    assert!(
        line.starts_with("hull: build: RUN echo before; exit 3 (Dockerfile:3): exit code 3"),
        "{err}"
    );
    assert_no_containers(&h);
    let images = h.ok(&["images", "-q", "local/broken"]);
    assert_eq!(images.trim(), "", "no tag for a failed build");
}

#[test]
fn a_parse_error_is_one_line_with_file_and_line_and_creates_nothing() {
    require_root!();
    let h = Hull::new();
    let ctx = context(
        &h,
        "ctx4",
        &[("Dockerfile", "FROM busybox\nFROBNICATE now\n")],
    );
    let ctx_s = ctx.display().to_string();
    let err = h.fails(&["build", "-t", "local/bad", &ctx_s]);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("Dockerfile:2"), "{err}");
    assert_eq!(
        h.ok(&["images", "-q"]).trim(),
        "",
        "nothing pulled or built"
    );
}

#[test]
fn build_arg_overrides_an_arg_default() {
    require_root!();
    let h = Hull::new();
    let dockerfile = format!(
        "ARG BASE={}\nFROM $BASE\nARG FLAVOR=plain\nENV FLAVOR=$FLAVOR\n\
         RUN echo \"$FLAVOR\" > /flavor\n",
        busybox()
    );
    let ctx = context(&h, "ctx5", &[("Dockerfile", &dockerfile)]);
    build(&h, &["-t", "local/plain"], &ctx);
    build(
        &h,
        &["-t", "local/spicy", "--build-arg", "FLAVOR=spicy"],
        &ctx,
    );
    assert_eq!(
        h.ok(&["run", "--rm", "local/plain", "cat", "/flavor"]),
        "plain\n"
    );
    assert_eq!(
        h.ok(&["run", "--rm", "local/spicy", "cat", "/flavor"]),
        "spicy\n"
    );
    let env = image_config(&h, "local/spicy")["Env"].clone();
    assert!(
        env.as_array().unwrap().iter().any(|e| e == "FLAVOR=spicy"),
        "{env}"
    );
    let ctx_s = ctx.display().to_string();
    let out = h.run(&["build", "-q", "--build-arg", "NOPE=1", &ctx_s]);
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("[NOPE] were not consumed"), "{stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.trim().starts_with("sha256:"), "{stdout}");
}

#[test]
fn a_second_build_uses_the_cache_until_a_copied_file_changes() {
    require_root!();
    let h = Hull::new();
    let dockerfile = format!(
        "FROM {}\nENV X=1\nCOPY f.txt /f.txt\nRUN cat /f.txt > /g.txt\nCMD [\"cat\", \"/g.txt\"]\n",
        busybox()
    );
    let ctx = context(
        &h,
        "ctx6",
        &[("Dockerfile", &dockerfile), ("f.txt", "one\n")],
    );
    let ctx_s = ctx.display().to_string();
    let first = h.ok(&["build", "-q", &ctx_s]);
    let again = build(&h, &[], &ctx);
    assert_eq!(again.matches(" ---> Using cache").count(), 4, "{again}");
    assert!(!again.contains("Running in"), "a cached RUN ran: {again}");
    let second = h.ok(&["build", "-q", &ctx_s]);
    assert_eq!(first.trim(), second.trim(), "same context, same image");

    std::fs::write(ctx.join("f.txt"), "two\n").unwrap();
    let changed = build(&h, &["-t", "local/changed"], &ctx);
    assert_eq!(changed.matches(" ---> Using cache").count(), 1, "{changed}");
    assert!(changed.contains("Running in"), "{changed}");
    assert_eq!(h.ok(&["run", "--rm", "local/changed"]), "two\n");

    let uncached = build(&h, &["--no-cache"], &ctx);
    assert!(!uncached.contains("Using cache"), "{uncached}");

    // Another Dockerfile in another directory that starts with the same steps shares them.
    let other = format!(
        "FROM {}\nENV X=1\nCOPY f.txt /f.txt\nRUN cat /f.txt > /g.txt\nLABEL other=1\n",
        busybox()
    );
    let ctx2 = context(
        &h,
        "ctx6-other",
        &[("other.Dockerfile", &other), ("f.txt", "two\n")],
    );
    // As with docker's CLI, a relative -f is taken from the current directory.
    let file = ctx2.join("other.Dockerfile").display().to_string();
    let shared = build(&h, &["-f", &file], &ctx2);
    assert_eq!(shared.matches(" ---> Using cache").count(), 3, "{shared}");
    assert!(!shared.contains("Running in"), "a shared RUN ran: {shared}");
    assert_no_containers(&h);
}

/// `hull build ARGS…` started with its output piped, once `runs` RUN containers are running.
fn build_until_running(h: &Hull, args: &[&str], runs: usize) -> std::process::Child {
    let mut all = vec!["build"];
    all.extend_from_slice(args);
    let child = h
        .command(&all)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    hull_tests::wait_until("the build's RUN containers", || {
        h.ok(&["ps", "-q"]).trim().lines().count() == runs
    });
    child
}

#[test]
fn ctrl_c_during_run_stops_the_build_and_removes_its_container() {
    require_root!();
    let h = Hull::new();
    let dockerfile = format!("FROM {}\nRUN touch /started; sleep 60\n", busybox());
    let ctx = context(&h, "ctx7", &[("Dockerfile", &dockerfile)]);
    let ctx_s = ctx.display().to_string();
    h.ok(&["pull", &busybox()]);
    let mut child = build_until_running(&h, &["-t", "local/interrupted", &ctx_s], 1);
    interrupt(&child);
    let started = std::time::Instant::now();
    let status = child.wait().unwrap();
    assert!(!status.success());
    assert!(
        started.elapsed().as_secs() < 30,
        "the RUN was not interrupted"
    );
    let mut err = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert!(err.contains("(Dockerfile:2): exit code 130"), "{err}");
    assert_no_containers(&h);
    assert_eq!(h.ok(&["images", "-q", "local/interrupted"]).trim(), "");
}

#[test]
fn copy_sets_owners_by_number_or_name_and_modes() {
    require_root!();
    let h = Hull::new();
    let dockerfile = format!(
        "FROM {}\nCOPY --chown=1000:1001 --chmod=600 f.txt /num/f.txt\n\
         COPY --chown=nobody f.txt /named/f.txt\nCOPY <<EOF /here.txt\ninline\nEOF\n",
        busybox()
    );
    let ctx = context(&h, "ctx8", &[("Dockerfile", &dockerfile), ("f.txt", "x\n")]);
    build(&h, &["-t", "local/owners"], &ctx);
    let probe = "stat -c '%u:%g %a' /num/f.txt /named/f.txt; cat /here.txt";
    let out = h.ok(&["run", "--rm", "local/owners", "sh", "-c", probe]);
    assert_eq!(out, "1000:1001 600\n65534:65534 644\ninline\n");
    let ctx_s = ctx.display().to_string();
    std::fs::write(
        ctx.join("Dockerfile"),
        format!("FROM {}\nCOPY --chown=nosuchuser f.txt /f\n", busybox()),
    )
    .unwrap();
    let err = h.fails(&["build", &ctx_s]);
    assert!(
        err.contains("no \"nosuchuser\" in the image's /etc/passwd"),
        "{err}"
    );
}

#[test]
fn add_extracts_a_local_archive_and_copies_other_files() {
    require_root!();
    let h = Hull::new();
    let dockerfile = format!(
        "FROM {}\nADD pkg.tar.gz /opt/\nADD plain.txt /opt/plain.txt\n",
        busybox()
    );
    let ctx = context(
        &h,
        "ctx9",
        &[
            ("Dockerfile", &dockerfile),
            ("plain.txt", "plain\n"),
            ("src/pkg/bin/tool", "tool\n"),
        ],
    );
    let status = std::process::Command::new("tar")
        .args(["-czf", "pkg.tar.gz", "-C", "src", "pkg"])
        .current_dir(&ctx)
        .status()
        .unwrap();
    assert!(status.success());
    build(&h, &["-t", "local/added"], &ctx);
    let probe = "cat /opt/pkg/bin/tool /opt/plain.txt; test -e /opt/pkg.tar.gz || echo no-archive";
    let out = h.ok(&["run", "--rm", "local/added", "sh", "-c", probe]);
    assert_eq!(out, "tool\nplain\nno-archive\n");
}

#[test]
fn onbuild_triggers_fire_in_the_child_build_and_do_not_pass_on() {
    require_root!();
    let h = Hull::new();
    let parent = format!(
        "FROM {}\nONBUILD COPY marker.txt /from-child/\nONBUILD RUN echo fired >> /fired\n",
        busybox()
    );
    let pctx = context(&h, "onb-parent", &[("Dockerfile", &parent)]);
    let out = build(&h, &["-t", "local/onb-parent"], &pctx);
    assert!(
        !out.contains("Executing"),
        "triggers fired in their own build: {out}"
    );
    let cfg = image_config(&h, "local/onb-parent");
    assert_eq!(
        cfg["OnBuild"],
        serde_json::json!(["COPY marker.txt /from-child/", "RUN echo fired >> /fired"])
    );
    let child = context(
        &h,
        "onb-child",
        &[
            (
                "Dockerfile",
                "FROM local/onb-parent\nCMD [\"cat\", \"/fired\"]\n",
            ),
            ("marker.txt", "from the child's context\n"),
        ],
    );
    let out = build(&h, &["-t", "local/onb-child"], &child);
    assert!(out.contains("# Executing 2 build triggers"), "{out}");
    assert_eq!(h.ok(&["run", "--rm", "local/onb-child"]), "fired\n");
    let marker = h.ok(&[
        "run",
        "--rm",
        "local/onb-child",
        "cat",
        "/from-child/marker.txt",
    ]);
    assert_eq!(marker, "from the child's context\n");
    let cfg = image_config(&h, "local/onb-child");
    assert!(
        cfg["OnBuild"].is_null() || cfg["OnBuild"] == serde_json::json!([]),
        "{cfg}"
    );
    // The grandchild does not fire them again: /fired keeps one line.
    let grand = context(
        &h,
        "onb-grand",
        &[("Dockerfile", "FROM local/onb-child\nRUN true\n")],
    );
    let out = build(&h, &["-t", "local/onb-grand"], &grand);
    assert!(!out.contains("Executing"), "{out}");
    assert_eq!(h.ok(&["run", "--rm", "local/onb-grand"]), "fired\n");
    // A trigger that fails fails the child's build, naming the trigger.
    let failing = format!("FROM {}\nONBUILD RUN exit 3\n", busybox());
    let fctx = context(&h, "onb-fail", &[("Dockerfile", &failing)]);
    build(&h, &["-t", "local/onb-fail"], &fctx);
    let fchild = context(
        &h,
        "onb-fail-child",
        &[("Dockerfile", "FROM local/onb-fail\n")],
    );
    let err = h.fails(&["build", fchild.to_str().unwrap()]);
    assert!(err.contains("exit code 3"), "{err}");
    assert_no_containers(&h);
}

/// `hull ARGS…` with `input` on its stdin.
fn with_stdin(h: &Hull, args: &[&str], input: &[u8]) -> std::process::Output {
    use std::io::Write as _;
    let mut child = h
        .command(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

fn stdout_of(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_dockerfile_or_a_context_tar_comes_on_stdin() {
    require_root!();
    let h = Hull::new();
    // A lone Dockerfile: an empty context.
    let lone = format!(
        "FROM {}\nRUN echo lone > /lone\nCMD [\"cat\", \"/lone\"]\n",
        busybox()
    );
    stdout_of(&with_stdin(
        &h,
        &["build", "-t", "local/lone", "-"],
        lone.as_bytes(),
    ));
    assert_eq!(h.ok(&["run", "--rm", "local/lone"]), "lone\n");
    let copy = format!("FROM {}\nCOPY a.txt /\n", busybox());
    let out = with_stdin(&h, &["build", "-"], copy.as_bytes());
    assert!(!out.status.success(), "COPY from an empty context worked");
    // -f -: the Dockerfile on stdin, the files from the directory.
    let ctx = context(&h, "stdin-ctx", &[("a.txt", "from the dir\n")]);
    let with_dir = format!(
        "FROM {}\nCOPY a.txt /\nCMD [\"cat\", \"/a.txt\"]\n",
        busybox()
    );
    let args = [
        "build",
        "-t",
        "local/fdash",
        "-f",
        "-",
        ctx.to_str().unwrap(),
    ];
    stdout_of(&with_stdin(&h, &args, with_dir.as_bytes()));
    assert_eq!(h.ok(&["run", "--rm", "local/fdash"]), "from the dir\n");
    // A gzipped tar on stdin is a context with its own Dockerfile.
    std::fs::write(ctx.join("Dockerfile"), &with_dir).unwrap();
    let tar = std::process::Command::new("tar")
        .args(["-cz", "-C", ctx.to_str().unwrap(), "."])
        .output()
        .unwrap();
    assert!(tar.status.success());
    stdout_of(&with_stdin(
        &h,
        &["build", "-t", "local/tgz", "-"],
        &tar.stdout,
    ));
    assert_eq!(h.ok(&["run", "--rm", "local/tgz"]), "from the dir\n");
    let both = with_stdin(&h, &["build", "-f", "-", "-"], lone.as_bytes());
    assert!(!both.status.success());
    let err = String::from_utf8_lossy(&both.stderr);
    assert!(err.contains("stdin cannot be both"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

#[test]
fn quiet_prints_only_the_id_and_shows_run_output_only_when_the_build_fails() {
    require_root!();
    let h = Hull::new();
    h.ok(&["pull", &busybox()]);
    let good = format!("FROM {}\nRUN echo visible-run-output\n", busybox());
    let ctx = context(&h, "quiet-ok", &[("Dockerfile", &good)]);
    let out = h.run(&["build", "-q", "--no-cache", ctx.to_str().unwrap()]);
    let stdout = stdout_of(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stdout.trim().starts_with("sha256:"), "{stdout}");
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(!stderr.contains("visible-run-output"), "{stderr}");
    let bad = format!("FROM {}\nRUN echo why-it-failed; exit 4\n", busybox());
    let ctx = context(&h, "quiet-bad", &[("Dockerfile", &bad)]);
    let out = h.run(&["build", "-q", ctx.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(4), "the failing RUN's exit code");
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("why-it-failed"), "{stderr}");
    assert!(stderr.contains("exit code 4"), "{stderr}");
    assert_no_containers(&h);
}

/// Two stages that each wait (up to 60 s) for the other to start, through a shared cache
/// mount: the build passes only when they run at the same time.
fn rendezvous_dockerfile(first: &str, second: &str) -> String {
    let stage = |me: &str, other: &str| {
        format!(
            "FROM {img} AS {me}\nRUN --mount=type=cache,id=rendezvous,target=/r,sharing=shared \
             touch /r/{me}; i=0; while [ ! -e /r/{other} ]; do i=$((i+1)); \
             [ $i -gt 600 ] && exit 9; sleep 0.1; done; echo {me} > /{me}\n",
            img = busybox()
        )
    };
    format!(
        "{}{}FROM {}\nCOPY --from={first} /{first} /\nCOPY --from={second} /{second} /\n\
         CMD [\"cat\", \"/{first}\", \"/{second}\"]\n",
        stage(first, second),
        stage(second, first),
        busybox()
    )
}

#[test]
fn independent_stages_build_at_the_same_time_and_print_in_turn() {
    require_root!();
    let h = Hull::new();
    h.ok(&["pull", &busybox()]);
    let ctx = context(
        &h,
        "par",
        &[("Dockerfile", &rendezvous_dockerfile("left", "right"))],
    );
    let out = build(&h, &["-t", "local/par"], &ctx);
    assert_eq!(h.ok(&["run", "--rm", "local/par"]), "left\nright\n");
    // Each stage's lines come as one block, numbered in order.
    let steps: Vec<&str> = out.lines().filter(|l| l.starts_with("Step ")).collect();
    assert_eq!(steps.len(), 8, "{out}");
    for (n, s) in steps.iter().enumerate() {
        assert!(s.starts_with(&format!("Step {}/8 : ", n + 1)), "{out}");
    }
    assert!(
        steps[0].contains("AS left") && steps[2].contains("AS right"),
        "{out}"
    );
    assert_no_containers(&h);
}

#[test]
fn ctrl_c_during_parallel_stages_stops_both_and_leaves_nothing_running() {
    require_root!();
    let h = Hull::new();
    h.ok(&["pull", &busybox()]);
    let stage = |name: &str| format!("FROM {} AS {name}\nRUN sleep 120\n", busybox());
    let dockerfile = format!(
        "{}{}FROM {}\nCOPY --from=one /etc/hostname /1\nCOPY --from=two /etc/hostname /2\n",
        stage("one"),
        stage("two"),
        busybox()
    );
    let ctx = context(&h, "par-int", &[("Dockerfile", &dockerfile)]);
    let child = build_until_running(&h, &["-t", "local/par-int", ctx.to_str().unwrap()], 2);
    interrupt(&child);
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("interrupted"), "{err}");
    hull_tests::wait_until("the build containers to go", || {
        h.ok(&["ps", "-a", "-q"]).trim().is_empty()
    });
    assert_eq!(h.ok(&["images", "-q", "local/par-int"]).trim(), "");
}

/// `hull build FLAGS… CTX` on a terminal of its own: its exit code and what the terminal showed.
fn build_on_tty(
    h: &Hull,
    flags: &[&str],
    ctx: &std::path::Path,
    ctrl_c_at: Option<&str>,
) -> (Option<i32>, String) {
    let mut pty = hull_tests::pty::Pty::open(24, 80);
    let mut args = vec!["build"];
    args.extend_from_slice(flags);
    let ctx = ctx.display().to_string();
    args.push(&ctx);
    let mut child = pty.spawn(&h.command(&args));
    if let Some(want) = ctrl_c_at {
        assert!(pty.read_until(want, 60), "never saw {want:?}: {}", pty.seen);
        pty.write(b"\x03");
    }
    let status = child.wait().unwrap();
    pty.drain();
    (status.code(), pty.seen.clone())
}

#[test]
fn on_a_terminal_a_step_shows_a_live_window_that_plain_does_not() {
    require_root!();
    let h = Hull::new();
    h.ok(&["pull", &busybox()]);
    let dockerfile = format!(
        "FROM {}\nRUN for i in 1 2 3 4 5 6 7 8 9; do echo out-$i; sleep 0.05; done\n",
        busybox()
    );
    let ctx = context(&h, "tty", &[("Dockerfile", &dockerfile)]);
    // auto on a terminal is the live view: output lines drawn in the window, erased after.
    let (code, seen) = build_on_tty(&h, &["--no-cache"], &ctx, None);
    assert_eq!(code, Some(0), "{seen}");
    assert!(seen.contains("  | out-9"), "no window: {seen:?}");
    assert!(
        seen.contains("A\x1b[J"),
        "the window was never erased: {seen:?}"
    );
    assert!(seen.contains("Successfully built"), "{seen}");
    let (code, seen) = build_on_tty(&h, &["--no-cache", "--progress", "plain"], &ctx, None);
    assert_eq!(code, Some(0), "{seen}");
    assert!(
        seen.contains("out-9") && !seen.contains("  | out-"),
        "{seen:?}"
    );
    assert!(!seen.contains("\x1b[J"), "plain drew: {seen:?}");
    let err = h.fails(&["build", "--progress", "fancy", ctx.to_str().unwrap()]);
    assert!(
        err.contains("--progress \"fancy\": must be auto, plain or tty"),
        "{err}"
    );
    assert_no_containers(&h);
}

#[test]
fn on_a_terminal_a_failed_step_shows_its_output_and_ctrl_c_stops_the_build() {
    require_root!();
    let h = Hull::new();
    h.ok(&["pull", &busybox()]);
    let failing = format!("FROM {}\nRUN echo why-it-broke; exit 5\n", busybox());
    let ctx = context(&h, "tty-fail", &[("Dockerfile", &failing)]);
    let (code, seen) = build_on_tty(&h, &["--progress", "tty"], &ctx, None);
    assert_eq!(code, Some(5), "{seen}");
    let error_at = seen.find("hull: build: RUN").expect("the error line");
    // The window is erased, then the step's output is printed whole, then the error.
    assert!(
        seen[..error_at].ends_with("\x1b[Jwhy-it-broke\r\n"),
        "the step's output is not right before the error: {seen:?}"
    );
    let endless = format!("FROM {}\nRUN echo started; sleep 120\n", busybox());
    let ctx = context(&h, "tty-int", &[("Dockerfile", &endless)]);
    let (code, seen) = build_on_tty(&h, &["--progress", "tty"], &ctx, Some("| started"));
    assert_ne!(code, Some(0), "{seen}");
    hull_tests::wait_until("the build container to go", || {
        h.ok(&["ps", "-a", "-q"]).trim().is_empty()
    });
}

#[test]
fn copy_from_a_stage_matches_wildcards_against_its_final_tree() {
    require_root!();
    let h = Hull::new();
    let dockerfile = format!(
        "FROM {b} AS make\nRUN mkdir /out && echo 1 > /out/a.bin && echo 2 > /out/b.bin && \
         echo x > /out/c.txt && echo old > /out/old.bin\nRUN rm /out/old.bin\n\
         FROM {b}\nCOPY --from=make /out/*.bin /bins/\nCOPY --from=make /out/?.txt /txt/\n",
        b = busybox()
    );
    let ctx = context(&h, "wild-from", &[("Dockerfile", &dockerfile)]);
    build(&h, &["-t", "local/wild-from"], &ctx);
    let ls = h.ok(&[
        "run",
        "--rm",
        "local/wild-from",
        "sh",
        "-c",
        "ls /bins /txt",
    ]);
    assert_eq!(ls, "/bins:\na.bin\nb.bin\n\n/txt:\nc.txt\n");
    let none = format!(
        "FROM {b} AS make\nRUN true\nFROM {b}\nCOPY --from=make /nowhere/*.bin /x/\n",
        b = busybox()
    );
    let ctx = context(&h, "wild-none", &[("Dockerfile", &none)]);
    let err = h.fails(&["build", ctx.to_str().unwrap()]);
    assert!(err.contains("/nowhere/*.bin"), "{err}");
    assert_no_containers(&h);
}

/// A RUN that removes a directory and makes it again leaves an opaque directory in its layer,
/// and one that removes it leaves a whiteout: what the lower layers had there is gone from the
/// stage, and from what COPY --from and RUN --mount=type=bind,from= take.
#[test]
fn copy_from_a_stage_honours_directories_removed_or_made_again_over_lower_ones() {
    require_root!();
    let h = Hull::new();
    let dockerfile = format!(
        "FROM {b} AS make\nRUN mkdir -p /d/sub /w/x && echo old > /d/old && echo deep > /d/sub/deep \
         && echo a > /w/x/a\nRUN rm -rf /d /w && mkdir -p /d/sub && echo new > /d/new\n\
         FROM {b}\nCOPY --from=make /d /d\nCOPY --from=make /d/sub /sub\n\
         RUN --mount=type=bind,from=make,source=/d,target=/m ls -R /m > /seen\n",
        b = busybox()
    );
    let ctx = context(&h, "opaque-from", &[("Dockerfile", &dockerfile)]);
    build(&h, &["-t", "local/opaque-from"], &ctx);
    let ls = h.ok(&["run", "--rm", "local/opaque-from", "ls", "-R", "/d", "/sub"]);
    assert_eq!(ls, "/d:\nnew\nsub\n\n/d/sub:\n\n/sub:\n", "{ls}");
    let seen = h.ok(&["run", "--rm", "local/opaque-from", "cat", "/seen"]);
    assert_eq!(seen, "/m:\nnew\nsub\n\n/m/sub:\n", "{seen}");
    for gone in ["/d/old", "/w/x"] {
        let df = format!("{dockerfile}COPY --from=make {gone} /gone\n");
        let ctx = context(&h, "opaque-gone", &[("Dockerfile", &df)]);
        let err = h.fails(&["build", ctx.to_str().unwrap()]);
        assert!(err.contains(gone), "{err}");
        let df =
            format!("{dockerfile}RUN --mount=type=bind,from=make,source={gone},target=/m true\n");
        let ctx = context(&h, "opaque-gone", &[("Dockerfile", &df)]);
        let err = h.fails(&["build", ctx.to_str().unwrap()]);
        assert!(err.contains(gone), "{err}");
    }
    assert_no_containers(&h);
}

#[test]
fn a_build_killed_mid_run_leaves_a_container_the_next_build_removes() {
    require_root!();
    let h = Hull::new();
    h.ok(&["pull", &busybox()]);
    let endless = format!("FROM {}\nRUN sleep 300\n", busybox());
    let ctx = context(&h, "killed", &[("Dockerfile", &endless)]);
    // --progress tty runs the RUN detached, so it outlives a SIGKILLed build.
    let mut child = build_until_running(&h, &["--progress", "tty", ctx.to_str().unwrap()], 1);
    child.kill().unwrap();
    child.wait().unwrap();
    let left = h.ok(&["ps", "-a", "--format", "{{.Names}}"]);
    assert!(
        left.starts_with("hull-build-"),
        "nothing left to sweep: {left:?}"
    );
    let quick = format!("FROM {}\nENV A=1\n", busybox());
    let qctx = context(&h, "after-kill", &[("Dockerfile", &quick)]);
    build(&h, &[], &qctx);
    assert_no_containers(&h);
}

#[test]
fn proxy_build_args_reach_run_without_arg_and_stay_out_of_cache_and_history() {
    require_root!();
    let h = Hull::new();
    let dockerfile = format!(
        "# syntax=docker/dockerfile:1\nFROM {}\nRUN echo \"proxy=$HTTP_PROXY\" > /p\n",
        busybox()
    );
    let ctx = context(&h, "proxy", &[("Dockerfile", &dockerfile)]);
    let ctx_s = ctx.to_str().unwrap();
    let first = "HTTP_PROXY=http://first.invalid:3128";
    let out = h.run(&["build", "-t", "local/proxy", "--build-arg", first, ctx_s]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stdout.contains("Note: # syntax=docker/dockerfile:1 is ignored"),
        "{stdout}"
    );
    assert!(!stderr.contains("were not consumed"), "{stderr}");
    let p = h.ok(&["run", "--rm", "local/proxy", "cat", "/p"]);
    assert_eq!(p, "proxy=http://first.invalid:3128\n");
    let history = h.ok(&["history", "--no-trunc", "local/proxy"]);
    assert!(!history.contains("first.invalid"), "{history}");
    // Another proxy value does not invalidate the step, as in Docker.
    let second = "HTTP_PROXY=http://second.invalid:3128";
    let again = build(&h, &["--build-arg", second], &ctx);
    assert!(again.contains("Using cache"), "{again}");
}
