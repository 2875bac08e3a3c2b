//! The commands that look into a container: inspect, top, stats, cp and export.

use hull_tests::{busybox, require_root, Hull, Removed};

#[test]
fn inspect_format_picks_docker_fields() {
    require_root!();
    let h = Hull::new();
    let c = h.detach(
        &["--name", "insp2", "-e", "A=1", "--memory", "32m"],
        &["sleep", "100"],
    );
    let f = |t: &str| h.ok(&["inspect", "-f", t, "insp2"]).trim().to_string();
    assert_eq!(f("{{.State.Status}}"), "running");
    assert_eq!(f("{{.State.Running}}"), "true");
    assert_eq!(f("{{.Name}}"), "/insp2");
    assert_eq!(f("{{.Id}}"), c.1);
    assert_eq!(f("{{.HostConfig.Memory}}"), (32 << 20).to_string());
    assert_eq!(f("{{json .Config.Cmd}}"), r#"["sleep","100"]"#);
    let pid: i32 = f("{{.State.Pid}}").parse().unwrap();
    assert!(pid > 0);
    let env = f("{{json .Config.Env}}");
    assert!(env.contains("\"A=1\""), "{env}");
    let v: serde_json::Value = serde_json::from_str(&h.ok(&["inspect", "insp2"])).unwrap();
    assert_eq!(v[0]["HostConfig"]["NetworkMode"], "bridge");
    h.ok(&["kill", "insp2"]);
    h.ok(&["wait", "insp2"]);
    assert_eq!(f("{{.State.Status}}"), "exited");
    assert_eq!(f("{{.State.ExitCode}}"), "137");
}

/// A temp dir on the host for the copies.
fn scratch() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("hull-cp-")
        .tempdir()
        .unwrap()
}

fn s(p: &std::path::Path) -> String {
    p.display().to_string()
}

/// The script of the container the cp tests look into: a file it wrote, a directory, symlinks
/// that point at /etc (absolute and relative), and a shadow file only the container has.
const CP_SCRIPT: &str =
    "echo written > /written; mkdir -p /d/sub; echo a > /d/a; echo b > /d/sub/b; \
     ln -s /etc /x; ln -s ../../../../../etc /y; echo container-shadow > /etc/shadow; \
     touch /ready; sleep 300";

fn cp_container(h: &Hull) -> Removed<'_> {
    let c = h.detach(&["--name", "cpc"], &["sh", "-c", CP_SCRIPT]);
    hull_tests::wait_until("the container's files", || {
        h.run(&["cp", "cpc:/ready", "-"]).status.success()
    });
    c
}

#[test]
fn cp_copies_files_and_directories_both_ways() {
    require_root!();
    let h = Hull::new();
    let _c = cp_container(&h);
    let tmp = scratch();
    let t = tmp.path();

    h.ok(&["cp", "cpc:/written", &s(&t.join("w"))]);
    assert_eq!(std::fs::read_to_string(t.join("w")).unwrap(), "written\n");
    // Into an existing directory: under the source's name.
    h.ok(&["cp", "cpc:/d", &s(t)]);
    assert_eq!(std::fs::read_to_string(t.join("d/sub/b")).unwrap(), "b\n");
    // To a new name: the directory's contents.
    h.ok(&["cp", "cpc:/d", &s(&t.join("new"))]);
    assert_eq!(std::fs::read_to_string(t.join("new/a")).unwrap(), "a\n");
    // `dir/.` into an existing directory: only the contents.
    std::fs::create_dir(t.join("contents")).unwrap();
    h.ok(&["cp", "cpc:/d/.", &s(&t.join("contents"))]);
    assert!(t.join("contents/sub/b").exists());
    assert!(!t.join("contents/d").exists());
    // A file to a missing directory (trailing /) is an error.
    let err = h.fails(&["cp", "cpc:/written", &format!("{}/", s(&t.join("nodir")))]);
    assert!(err.contains("must exist"), "{err}");

    // Host → container: a file, a directory, then read them back.
    std::fs::write(t.join("in.txt"), "into the container\n").unwrap();
    h.ok(&["cp", &s(&t.join("in.txt")), "cpc:/d/"]);
    std::fs::create_dir_all(t.join("tree/deep")).unwrap();
    std::fs::write(t.join("tree/deep/f"), "deep\n").unwrap();
    h.ok(&["cp", &s(&t.join("tree")), "cpc:/"]);
    let back = h.ok(&["cp", "cpc:/d/in.txt", "-"]);
    assert!(back.contains("into the container"), "tar of /d/in.txt");
    h.ok(&["cp", "cpc:/tree/deep/f", &s(&t.join("f"))]);
    assert_eq!(std::fs::read_to_string(t.join("f")).unwrap(), "deep\n");
}

#[test]
fn cp_through_hostile_symlinks_stays_in_the_container() {
    require_root!();
    let h = Hull::new();
    let _c = cp_container(&h);
    let tmp = scratch();
    let t = tmp.path();
    let host_passwd = std::fs::read("/etc/passwd").unwrap();
    std::fs::write(t.join("passwd"), "evil:x:0:0::/:/bin/sh\n").unwrap();
    for link in ["/x", "/y"] {
        h.ok(&["cp", &s(&t.join("passwd")), &format!("cpc:{link}/passwd")]);
        assert_eq!(
            std::fs::read("/etc/passwd").unwrap(),
            host_passwd,
            "host /etc/passwd via {link}"
        );
        // The container's own /etc/passwd took the write.
        let back = t.join(format!("back{}", &link[1..]));
        h.ok(&["cp", "cpc:/etc/passwd", &s(&back)]);
        assert_eq!(
            std::fs::read_to_string(&back).unwrap(),
            "evil:x:0:0::/:/bin/sh\n"
        );
        // Reads through the links see the container's files, not the host's.
        let shadow = t.join(format!("shadow{}", &link[1..]));
        h.ok(&["cp", &format!("cpc:{link}/shadow"), &s(&shadow)]);
        assert_eq!(
            std::fs::read_to_string(&shadow).unwrap(),
            "container-shadow\n"
        );
    }
    // A symlink as the source is copied as a link; with -L, what it points to, which is the
    // container's /etc however the link spells it.
    h.ok(&["cp", "cpc:/x", &s(&t.join("link"))]);
    assert_eq!(
        std::fs::read_link(t.join("link")).unwrap(),
        std::path::Path::new("/etc")
    );
    h.ok(&["cp", "-L", "cpc:/y", &s(&t.join("followed"))]);
    assert_eq!(
        std::fs::read_to_string(t.join("followed/shadow")).unwrap(),
        "container-shadow\n"
    );
    // `..` cannot climb out either.
    let up = t.join("up");
    h.ok(&["cp", "cpc:/../../../../etc/shadow", &s(&up)]);
    assert_eq!(std::fs::read_to_string(&up).unwrap(), "container-shadow\n");
}

/// Runs hull with `input` on stdin; asserts success and returns stdout.
fn with_stdin(h: &Hull, args: &[&str], input: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    use std::process::Stdio;
    let mut child = h
        .command(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "hull {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[test]
fn cp_dash_streams_tar_both_ways() {
    require_root!();
    let h = Hull::new();
    let _c = cp_container(&h);
    let tmp = scratch();
    let t = tmp.path();
    // Out: a tar of /d with entries under d/.
    let tar = h.command(&["cp", "cpc:/d", "-"]).output().unwrap();
    assert!(tar.status.success());
    std::fs::write(t.join("d.tar"), &tar.stdout).unwrap();
    let list = std::process::Command::new("tar")
        .arg("tf")
        .arg(t.join("d.tar"))
        .output()
        .unwrap();
    let list = String::from_utf8_lossy(&list.stdout);
    for entry in ["d/", "d/a", "d/sub/", "d/sub/b"] {
        assert!(list.lines().any(|l| l == entry), "{entry} in:\n{list}");
    }
    // In: that tar extracted into another directory of the container.
    with_stdin(&h, &["cp", "-", "cpc:/tmp"], &tar.stdout);
    let b = t.join("b");
    h.ok(&["cp", "cpc:/tmp/d/sub/b", &s(&b)]);
    assert_eq!(std::fs::read_to_string(&b).unwrap(), "b\n");
    // A tar into something that is not a directory is refused.
    let out = h.command(&["cp", "-", "cpc:/written"]).output().unwrap();
    assert!(!out.status.success());
}

#[test]
fn cp_and_export_work_on_a_stopped_container() {
    require_root!();
    let h = Hull::new();
    let c = h.detach(&["--name", "stopped"], &["sh", "-c", "echo made > /made"]);
    h.ok(&["wait", "stopped"]);
    let tmp = scratch();
    let t = tmp.path();
    h.ok(&["cp", "stopped:/made", &s(&t.join("made"))]);
    assert_eq!(std::fs::read_to_string(t.join("made")).unwrap(), "made\n");
    // Reads see the image's layers too.
    h.ok(&["cp", "stopped:/bin/busybox", &s(&t.join("busybox"))]);
    assert!(std::fs::metadata(t.join("busybox")).unwrap().len() > 100_000);
    std::fs::write(t.join("put"), "put\n").unwrap();
    h.ok(&["cp", &s(&t.join("put")), "stopped:/put"]);
    h.ok(&["export", "-o", &s(&t.join("fs.tar")), "stopped"]);
    let list = std::process::Command::new("tar")
        .arg("tf")
        .arg(t.join("fs.tar"))
        .output()
        .unwrap();
    let list = String::from_utf8_lossy(&list.stdout);
    for entry in ["bin/busybox", "made", "put", "etc/passwd"] {
        assert!(list.lines().any(|l| l == entry), "{entry} in export");
    }
    // Nothing stays mounted, and the container still starts afterwards.
    let rootfs = h.root().join("containers").join(&c.1).join("bundle/rootfs");
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.contains(&s(&rootfs)), "rootfs left mounted");
    let out = h.command(&["start", "-a", "stopped"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn export_of_a_running_container_to_stdout() {
    require_root!();
    let h = Hull::new();
    let _c = cp_container(&h);
    let out = h.command(&["export", "cpc"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tmp = scratch();
    std::fs::write(tmp.path().join("x.tar"), &out.stdout).unwrap();
    let list = std::process::Command::new("tar")
        .arg("tf")
        .arg(tmp.path().join("x.tar"))
        .output()
        .unwrap();
    let list = String::from_utf8_lossy(&list.stdout);
    assert!(list.lines().any(|l| l == "bin/busybox"));
    assert!(list.lines().any(|l| l == "written"));
}

#[test]
fn top_lists_the_containers_processes_with_host_pids() {
    require_root!();
    let h = Hull::new();
    let c = h.detach(
        &["--name", "topc"],
        &["sh", "-c", "sleep 300 & sleep 301; echo"],
    );
    let mut expected = Vec::new();
    hull_tests::wait_until("both sleeps", || {
        expected = hull_tests::container_pids(&c.1);
        expected.len() == 3
    });
    let out = h.ok(&["top", "topc"]);
    let mut lines = out.lines();
    let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split_whitespace().collect()).collect();
    let mut pids: Vec<String> = rows.iter().map(|r| r[1].to_string()).collect();
    pids.sort();
    expected.sort();
    assert_eq!(pids, expected, "{out}");
    assert!(
        out.contains("sleep 300") && out.contains("sleep 301"),
        "{out}"
    );
    assert!(rows.iter().all(|r| r[0] == "root"), "{out}");
    // With ps options: the host's ps, filtered to the container.
    let ps = h.ok(&["top", "topc", "-o", "pid,comm"]);
    assert_eq!(ps.lines().count(), 4, "{ps}");
    assert!(ps
        .lines()
        .skip(1)
        .all(|l| expected.contains(&l.split_whitespace().next().unwrap().to_string())));
    h.ok(&["kill", "topc"]);
    h.ok(&["wait", "topc"]);
    let err = h.fails(&["top", "topc"]);
    assert!(err.contains("is not running"), "{err}");
}

/// The number in a `12.5%` or `1.2MiB` figure.
fn leading_number(s: &str) -> f64 {
    let end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    s[..end]
        .parse()
        .unwrap_or_else(|_| panic!("no number in {s:?}"))
}

#[test]
fn stats_no_stream_shows_cpu_memory_and_the_limit() {
    require_root!();
    let h = Hull::new();
    let _c = h.detach(
        // No network: then the network I/O is exactly zero.
        &["--name", "busy", "--memory", "32m", "--network", "none"],
        &["sh", "-c", "while :; do :; done"],
    );
    let out = h.ok(&["stats", "--no-stream", "--format", "json", "busy"]);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["Name"], "busy");
    let cpu = leading_number(v["CPUPerc"].as_str().unwrap());
    assert!(cpu > 0.0, "{out}");
    let mem = v["MemUsage"].as_str().unwrap();
    let (usage, limit) = mem.split_once(" / ").unwrap();
    assert!(leading_number(usage) > 0.0, "{out}");
    assert_eq!(limit, "32MiB", "{out}");
    assert_eq!(v["PIDs"], "1");
    assert_eq!(v["NetIO"], "0B / 0B");
    // The table has Docker's columns.
    let table = h.ok(&["stats", "--no-stream", "busy"]);
    let header = table.lines().next().unwrap();
    for col in [
        "CONTAINER ID",
        "NAME",
        "CPU %",
        "MEM USAGE / LIMIT",
        "MEM %",
        "NET I/O",
        "BLOCK I/O",
        "PIDS",
    ] {
        assert!(header.contains(col), "{header}");
    }
    assert!(table.lines().nth(1).unwrap().contains("busy"));
}

#[test]
fn cp_into_a_read_only_container_is_refused() {
    require_root!();
    let h = Hull::new();
    let _c = h.detach(&["--name", "ro", "--read-only"], &["sleep", "300"]);
    let tmp = scratch();
    std::fs::write(tmp.path().join("f"), "x").unwrap();
    let err = h.fails(&["cp", &s(&tmp.path().join("f")), "ro:/f"]);
    assert!(err.contains("read-only"), "{err}");
    // Reading out still works.
    h.ok(&["cp", "ro:/etc/passwd", &s(&tmp.path().join("passwd"))]);
}

#[test]
fn labels_show_in_inspect_and_select_in_ps() {
    require_root!();
    let h = Hull::new();
    let file = h.dir.path().join("labels");
    std::fs::write(&file, "# team labels\ntier=file\nteam=core\n").unwrap();
    let image = busybox();
    h.ok(&["pull", "-q", &image]);
    let file = file.to_str().unwrap();
    let create = |name, extra: &[&str]| {
        let mut argv = vec!["create", "--name", name];
        argv.extend_from_slice(extra);
        argv.push(&image);
        h.ok(&argv);
    };
    let _a = Removed(&h, "lab_a".into());
    create(
        "lab_a",
        &["--label-file", file, "-l", "tier=web", "--label", "solo"],
    );
    let _b = Removed(&h, "lab_b".into());
    create("lab_b", &["--label", "tier=db"]);

    let labels = h.ok(&["inspect", "-f", "{{json .Config.Labels}}", "lab_a"]);
    let labels: serde_json::Value = serde_json::from_str(&labels).unwrap();
    assert_eq!(
        labels,
        serde_json::json!({"solo": "", "team": "core", "tier": "web"})
    );
    let ps = |filters: &[&str]| {
        let mut argv = vec!["ps", "-a", "--format", "{{.Names}}"];
        for f in filters {
            argv.extend(["--filter", f]);
        }
        let mut names: Vec<String> = h.ok(&argv).lines().map(str::to_string).collect();
        names.sort();
        names
    };
    assert_eq!(ps(&["label=tier"]), ["lab_a", "lab_b"]);
    assert_eq!(ps(&["label=tier=db"]), ["lab_b"]);
    assert_eq!(ps(&["label=tier", "label=team=core"]), ["lab_a"]);
    assert!(ps(&["label=nope"]).is_empty());
    let shown = h.ok(&[
        "ps",
        "-a",
        "--filter",
        "name=lab_a",
        "--format",
        "{{.Labels}}",
    ]);
    assert_eq!(shown.trim(), "solo=,team=core,tier=web");
    let err = h.fails(&["create", "--label", "=x", &image]);
    assert!(err.contains("--label"), "{err}");
}

/// `hull diff`: Docker's A/C/D lines for what the container did to its files, directories the
/// changes lie in as C, and nothing for the files hull binds over /etc (nor for a container
/// that changed nothing, nor one never started).
#[test]
fn diff_lists_added_changed_and_deleted_paths() {
    require_root!();
    let h = Hull::new();
    let image = busybox();
    h.ok(&["create", "--name", "untouched", &image, "true"]);
    assert_eq!(h.ok(&["diff", "untouched"]), "", "never started");
    h.ok(&["start", "-a", "untouched"]);
    assert_eq!(h.ok(&["diff", "untouched"]), "", "changed nothing");
    let script = "touch /tmp/new; mkdir -p /tmp/d/e; echo x >> /etc/passwd; rm /bin/ls";
    h.ok(&["run", "--name", "changer", &image, "sh", "-c", script]);
    let want =
        "C /bin\nD /bin/ls\nC /etc\nC /etc/passwd\nC /tmp\nA /tmp/d\nA /tmp/d/e\nA /tmp/new\n";
    assert_eq!(h.ok(&["diff", "changer"]), want);
    let err = h.fails(&["diff", "no-such-ctr"]);
    assert!(err.contains("no such container: no-such-ctr"), "{err}");
    h.ok(&["rm", "untouched", "changer"]);
}
