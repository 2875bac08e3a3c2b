use super::*;
use crate::run::{RealHost, RunOptions};

const ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn run(o: RunOptions) -> RunConfig {
    RunConfig::from_options(
        &RunOptions {
            image: "img".into(),
            ..o
        },
        &RealHost,
    )
    .unwrap()
}

fn image(entrypoint: Option<&[&str]>, cmd: Option<&[&str]>) -> ContainerConfig {
    let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    ContainerConfig {
        entrypoint: entrypoint.map(v),
        cmd: cmd.map(v),
        ..ContainerConfig::default()
    }
}

fn etc() -> EtcFiles {
    EtcFiles {
        hostname: "/c/hostname".into(),
        hosts: "/c/hosts".into(),
        resolv_conf: "/c/resolv.conf".into(),
    }
}

fn root_user() -> ExecUser {
    ExecUser {
        uid: 0,
        gid: 0,
        additional_gids: vec![10],
        home: "/root".into(),
    }
}

fn spec_for(r: &RunConfig, cgroup_v2: bool) -> Spec {
    let (user, etc) = (root_user(), etc());
    let inputs = SpecInputs {
        id: ID,
        hostname: "0123456789ab",
        user: &user,
        etc: &etc,
        cgroup_v2,
        seccomp: None,
    };
    build(&image(None, Some(&["sh"])), r, &inputs).unwrap()
}

#[test]
fn entrypoint_and_cmd_merge_like_docker() {
    let args = |a: &[&str]| a.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    type Case<'a> = (
        Option<&'a [&'a str]>,
        Option<&'a [&'a str]>,
        Option<&'a str>,
        &'a [&'a str],
        Vec<&'a str>,
    );
    let table: Vec<Case> = vec![
        // image entrypoint, image cmd, --entrypoint, trailing args → argv
        (None, Some(&["sh"]), None, &[], vec!["sh"]),
        (
            None,
            Some(&["sh"]),
            None,
            &["echo", "hi"],
            vec!["echo", "hi"],
        ),
        (Some(&["/ep"]), Some(&["a"]), None, &[], vec!["/ep", "a"]),
        (Some(&["/ep"]), Some(&["a"]), None, &["b"], vec!["/ep", "b"]),
        (
            Some(&["/ep"]),
            Some(&["a"]),
            Some("/new"),
            &[],
            vec!["/new"],
        ),
        (
            Some(&["/ep"]),
            Some(&["a"]),
            Some("/new"),
            &["x"],
            vec!["/new", "x"],
        ),
        (Some(&["/ep"]), Some(&["a"]), Some(""), &["ls"], vec!["ls"]),
        (None, None, None, &["true"], vec!["true"]),
    ];
    for (ep, cmd, flag, trailing, want) in table {
        let r = run(RunOptions {
            entrypoint: flag.map(String::from),
            args: args(trailing),
            ..RunOptions::default()
        });
        assert_eq!(
            command(&image(ep, cmd), &r).unwrap(),
            want,
            "{ep:?} {cmd:?} {flag:?} {trailing:?}"
        );
    }
    let r = run(RunOptions::default());
    assert_eq!(command(&image(None, None), &r), Err(SpecError::NoCommand));
    let cleared = run(RunOptions {
        entrypoint: Some(String::new()),
        ..RunOptions::default()
    });
    assert_eq!(
        command(&image(Some(&["/ep"]), Some(&["a"])), &cleared),
        Err(SpecError::NoCommand)
    );
}

#[test]
fn environment_merges_in_docker_order() {
    let mut img = image(None, Some(&["sh"]));
    img.env = Some(vec![
        "PATH=/opt/bin:/bin".into(),
        "A=image".into(),
        "B=image".into(),
    ]);
    let r = run(RunOptions {
        env: vec!["B=user".into(), "C=user".into()],
        tty: true,
        ..RunOptions::default()
    });
    assert_eq!(
        environment(&img, &r, "h", "/root"),
        [
            "PATH=/opt/bin:/bin",
            "HOSTNAME=h",
            "TERM=xterm",
            "A=image",
            "B=user",
            "C=user",
            "HOME=/root"
        ]
    );
    let plain = run(RunOptions::default());
    assert_eq!(
        environment(&image(None, None), &plain, "h", "/"),
        [DEFAULT_PATH, "HOSTNAME=h", "HOME=/"]
    );
    let own_home = run(RunOptions {
        env: vec!["HOME=/mine".into(), "HOSTNAME=x".into()],
        ..RunOptions::default()
    });
    assert_eq!(
        environment(&image(None, None), &own_home, "h", "/root"),
        [DEFAULT_PATH, "HOSTNAME=x", "HOME=/mine"]
    );
}

#[test]
fn working_dir_and_hostname_defaults() {
    let mut img = image(None, None);
    img.working_dir = Some("/app".into());
    assert_eq!(working_dir(&img, &run(RunOptions::default())), "/app");
    assert_eq!(
        working_dir(
            &img,
            &run(RunOptions {
                workdir: Some("/w".into()),
                ..RunOptions::default()
            })
        ),
        "/w"
    );
    assert_eq!(
        working_dir(&image(None, None), &run(RunOptions::default())),
        "/"
    );
    assert_eq!(
        hostname(&run(RunOptions::default()), ID, "host"),
        "0123456789ab"
    );
    assert_eq!(
        hostname(
            &run(RunOptions {
                network: Some("host".into()),
                ..RunOptions::default()
            }),
            ID,
            "host"
        ),
        "host"
    );
    assert_eq!(
        hostname(
            &run(RunOptions {
                hostname: Some("web".into()),
                ..RunOptions::default()
            }),
            ID,
            "host"
        ),
        "web"
    );
}

#[test]
fn default_spec_has_dockers_mounts_namespaces_and_security() {
    let s = spec_for(&run(RunOptions::default()), false);
    let dests: Vec<String> = s
        .mounts
        .iter()
        .map(|m| m.destination.display().to_string())
        .collect();
    assert_eq!(
        dests,
        [
            "/proc",
            "/dev",
            "/dev/pts",
            "/sys",
            "/sys/fs/cgroup",
            "/dev/mqueue",
            "/dev/shm",
            "/etc/resolv.conf",
            "/etc/hostname",
            "/etc/hosts"
        ]
    );
    let sys = &s.mounts[3];
    assert!(sys.options.contains(&"ro".to_string()));
    let shm = &s.mounts[6];
    assert!(shm.options.contains(&"size=67108864".to_string()));
    assert!(shm.options.contains(&"mode=1777".to_string()));
    let pts = &s.mounts[2];
    assert!(
        pts.options.contains(&"newinstance".to_string())
            && pts.options.contains(&"gid=5".to_string())
    );
    assert_eq!(
        s.mounts[9].source.as_deref(),
        Some(std::path::Path::new("/c/hosts"))
    );

    let linux = s.linux.as_ref().unwrap();
    let ns: Vec<&str> = linux.namespaces.iter().map(|n| n.kind.as_str()).collect();
    assert_eq!(ns, ["pid", "ipc", "uts", "mount", "network"]);
    assert_eq!(
        linux.cgroups_path.as_deref(),
        Some(format!("/hull/{ID}").as_str())
    );
    assert_eq!(linux.masked_paths.len(), 12);
    assert!(linux.masked_paths.contains(&"/proc/kcore".to_string()));
    assert_eq!(linux.readonly_paths.len(), 5);
    let devices = &linux.resources.as_ref().unwrap().devices;
    assert_eq!(
        devices[0],
        DeviceRule {
            allow: false,
            access: Some("rwm".into()),
            ..DeviceRule::default()
        }
    );
    assert!(devices
        .iter()
        .any(|d| d.allow && d.major == Some(1) && d.minor == Some(3)));
    assert!(devices
        .iter()
        .any(|d| d.allow && d.major == Some(136) && d.minor.is_none()));

    let p = s.process.as_ref().unwrap();
    let caps = p.capabilities.as_ref().unwrap();
    assert_eq!(caps.bounding.len(), 14);
    assert_eq!(caps.bounding, caps.effective);
    assert_eq!(caps.bounding, caps.permitted);
    assert!(caps.inheritable.is_empty() && caps.ambient.is_empty());
    assert!(!p.no_new_privileges);
    assert_eq!(p.user.additional_gids, [10]);
    assert_eq!(s.hostname.as_deref(), Some("0123456789ab"));
    assert_eq!(s.root.as_ref().unwrap().path, PathBuf::from("rootfs"));
    assert!(!s.root.as_ref().unwrap().readonly);
}

#[test]
fn cgroup_v2_and_host_network_change_namespaces() {
    let s = spec_for(
        &run(RunOptions {
            network: Some("host".into()),
            ..RunOptions::default()
        }),
        true,
    );
    let ns: Vec<&str> = s
        .linux
        .as_ref()
        .unwrap()
        .namespaces
        .iter()
        .map(|n| n.kind.as_str())
        .collect();
    assert_eq!(ns, ["pid", "ipc", "uts", "mount", "cgroup"]);
}

#[test]
fn privileged_drops_masks_and_grants_everything() {
    let s = spec_for(
        &run(RunOptions {
            privileged: true,
            ..RunOptions::default()
        }),
        false,
    );
    let linux = s.linux.as_ref().unwrap();
    assert!(linux.masked_paths.is_empty() && linux.readonly_paths.is_empty());
    assert_eq!(
        linux.resources.as_ref().unwrap().devices,
        [DeviceRule {
            allow: true,
            access: Some("rwm".into()),
            ..DeviceRule::default()
        }]
    );
    assert_eq!(
        s.process
            .as_ref()
            .unwrap()
            .capabilities
            .as_ref()
            .unwrap()
            .bounding
            .len(),
        // All 41 where hull holds them all; only the ones it holds otherwise.
        (0..41)
            .filter(|n| crate::run::caps::permitted_mask() & (1u64 << n) != 0)
            .count()
    );
    assert!(s.mounts[3].options.contains(&"rw".to_string()));
}

#[test]
fn flags_reach_the_spec() {
    let r = run(RunOptions {
        read_only: true,
        security_opt: vec!["no-new-privileges".into()],
        cap_drop: vec!["ALL".into()],
        cap_add: vec!["NET_BIND_SERVICE".into()],
        memory: Some("32m".into()),
        cpus: Some("1.5".into()),
        cpu_shares: Some(512),
        pids_limit: Some(64),
        cpuset_cpus: Some("0".into()),
        ulimits: vec!["nofile=1024:2048".into()],
        volumes: vec!["/srv:/data:ro".into()],
        tmpfs: vec!["/scratch".into()],
        tty: true,
        ..RunOptions::default()
    });
    let s = spec_for(&r, false);
    assert!(s.root.as_ref().unwrap().readonly);
    let p = s.process.as_ref().unwrap();
    assert!(p.terminal && p.no_new_privileges);
    assert_eq!(
        p.capabilities.as_ref().unwrap().bounding,
        ["CAP_NET_BIND_SERVICE"]
    );
    assert_eq!(
        p.rlimits,
        [Rlimit {
            kind: "RLIMIT_NOFILE".into(),
            soft: 1024,
            hard: 2048
        }]
    );
    let res = s.linux.as_ref().unwrap().resources.clone().unwrap();
    assert_eq!(res.memory.as_ref().unwrap().limit, Some(32 << 20));
    assert_eq!(res.memory.as_ref().unwrap().swap, Some(64 << 20));
    let cpu = res.cpu.unwrap();
    assert_eq!(
        (cpu.quota, cpu.period, cpu.shares),
        (Some(150_000), Some(100_000), Some(512))
    );
    assert_eq!(cpu.cpus.as_deref(), Some("0"));
    assert_eq!(res.pids, Some(Pids { limit: 64 }));
    let user: Vec<&Mount> = s.mounts.iter().skip(10).collect();
    assert_eq!(user[0].destination, PathBuf::from("/data"));
    assert_eq!(user[0].options, ["rbind", "rprivate", "ro"]);
    assert_eq!(user[1].kind.as_deref(), Some("tmpfs"));
    assert_eq!(user[1].options, ["noexec", "nosuid", "nodev"]);
}

#[test]
fn seccomp_follows_the_choice() {
    assert!(seccomp(&run(RunOptions::default()), None)
        .unwrap()
        .is_some());
    let unconfined = run(RunOptions {
        security_opt: vec!["seccomp=unconfined".into()],
        ..RunOptions::default()
    });
    assert_eq!(seccomp(&unconfined, None).unwrap(), None);
    assert_eq!(
        seccomp(
            &run(RunOptions {
                privileged: true,
                ..RunOptions::default()
            }),
            None
        )
        .unwrap(),
        None
    );
    let profile = run(RunOptions {
        security_opt: vec!["seccomp=/p.json".into()],
        ..RunOptions::default()
    });
    let e = seccomp(&profile, Some(b"not json")).unwrap_err();
    assert!(
        e.to_string().starts_with("seccomp profile /p.json: "),
        "{e}"
    );
}

#[test]
fn a_swap_limit_can_be_dropped_and_the_memory_limit_stays() {
    let mut spec = Spec::default();
    assert!(!drop_swap_limit(&mut spec), "no resources, nothing dropped");
    spec.linux = Some(Linux {
        resources: Some(Resources {
            memory: Some(Memory {
                limit: Some(64 << 20),
                swap: Some(128 << 20),
                ..Memory::default()
            }),
            ..Resources::default()
        }),
        ..Linux::default()
    });
    assert!(drop_swap_limit(&mut spec));
    let memory = spec.linux.unwrap().resources.unwrap().memory.unwrap();
    assert_eq!((memory.limit, memory.swap), (Some(64 << 20), None));
}
