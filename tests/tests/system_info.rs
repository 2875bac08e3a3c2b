//! `hull version`, `hull info` (and `hull system info`) and `hull completion`, as a user reads
//! them: the counts follow what the store holds, the host facts are the host's.

use std::io::Write;
use std::process::{Command, Stdio};

use hull_tests::{busybox, require_root, Hull};
use serde_json::Value;

fn info(h: &Hull) -> Value {
    serde_json::from_str(h.ok(&["info", "--format", "json"]).trim()).expect("info json")
}

#[test]
fn info_counts_containers_by_state_and_reads_the_host() {
    require_root!();
    let h = Hull::new();
    let empty = info(&h);
    assert_eq!(
        (empty["Containers"].clone(), empty["Images"].clone()),
        (0.into(), 0.into())
    );
    let image = busybox();
    h.ok(&["pull", "-q", &image]);
    h.ok(&["run", "-d", "--name", "up", &image, "sleep", "60"]);
    h.ok(&["run", "-d", "--name", "frozen", &image, "sleep", "60"]);
    h.ok(&["pause", "frozen"]);
    h.ok(&["create", "--name", "made", &image, "true"]);
    let i = info(&h);
    let counts: Vec<u64> = [
        "Containers",
        "ContainersRunning",
        "ContainersPaused",
        "ContainersStopped",
        "Images",
    ]
    .iter()
    .map(|k| i[*k].as_u64().unwrap_or(99))
    .collect();
    assert_eq!(counts, [3, 1, 1, 1, 1], "{i}");
    assert_eq!(i["DockerRootDir"], h.root().display().to_string());
    let uname = |flag: &str| {
        let out = Command::new("uname").arg(flag).output().expect("uname");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    assert_eq!(i["KernelVersion"], uname("-r"));
    assert_eq!(i["Architecture"], uname("-m"));
    let cpus = std::thread::available_parallelism().unwrap().get();
    assert_eq!(i["NCPU"], cpus);
    let v2 = std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
    assert_eq!(i["CgroupVersion"], if v2 { "2" } else { "1" });

    // The text form, and `system info` as its other name.
    let text = h.ok(&["system", "info"]);
    assert!(
        text.contains("\n Containers: 3\n  Running: 1\n  Paused: 1\n  Stopped: 1\n Images: 1\n"),
        "{text}"
    );
    assert!(
        text.contains(&format!(" Kernel Version: {}\n", uname("-r"))),
        "{text}"
    );
    assert_eq!(
        h.ok(&["info", "--format", "{{.ContainersPaused}}/{{.Driver}}"])
            .trim(),
        "1/overlay"
    );
    h.ok(&["unpause", "frozen"]);
}

#[test]
fn version_names_the_build_and_the_host() {
    let h = Hull::new();
    let v: Value = serde_json::from_str(h.ok(&["version", "--format", "json"]).trim()).unwrap();
    assert_eq!(v["Version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(v["Os"], "linux");
    let text = h.ok(&["version"]);
    assert!(
        text.starts_with(&format!("Version:      {}\n", env!("CARGO_PKG_VERSION"))),
        "{text}"
    );
    assert_eq!(h.ok(&["version", "--format", "{{.Os}}"]).trim(), "linux");
}

#[test]
fn completion_scripts_are_valid_for_their_shells() {
    let h = Hull::new();
    let bash = h.ok(&["completion", "bash"]);
    assert!(
        bash.contains("complete -F _hull") && bash.contains("volume"),
        "{bash}"
    );
    // bash parses it, and after sourcing it the function completes `hull vol` to `volume`.
    let mut sh = Command::new("bash")
        .args(["-c", "source /dev/stdin; COMP_WORDS=(hull vol); COMP_CWORD=1; _hull hull vol hull; echo \"${COMPREPLY[@]}\""])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("bash");
    sh.stdin.take().unwrap().write_all(bash.as_bytes()).unwrap();
    let out = sh.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "volume");
    assert!(h.ok(&["completion", "zsh"]).starts_with("#compdef hull"));
    assert!(h.ok(&["completion", "fish"]).contains("complete -c hull"));
    let err = h.fails(&["completion", "tcsh"]);
    assert!(err.contains("invalid value 'tcsh'"), "{err}");
}
