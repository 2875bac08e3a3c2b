use std::collections::BTreeMap;
use std::io;
use std::path::Path;

use super::*;
use crate::run::UserMount;

#[derive(Default)]
struct FakeHost {
    env: BTreeMap<String, String>,
    files: BTreeMap<String, String>,
}

impl Host for FakeHost {
    fn env(&self, key: &str) -> Option<String> {
        self.env.get(key).cloned()
    }
    fn read_file(&self, path: &Path) -> io::Result<String> {
        self.files
            .get(&path.display().to_string())
            .cloned()
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))
    }
}

fn opts() -> RunOptions {
    RunOptions {
        image: "busybox".into(),
        ..RunOptions::default()
    }
}

fn ok(o: RunOptions) -> RunConfig {
    RunConfig::from_options(&o, &FakeHost::default()).unwrap()
}

fn err(o: RunOptions) -> FlagError {
    RunConfig::from_options(&o, &FakeHost::default()).unwrap_err()
}

#[test]
fn defaults_are_dockers() {
    let c = ok(opts());
    assert_eq!(c.network, NetworkMode::Bridge("bridge".into()));
    assert!(c.publish.is_empty() && !c.publish_all);
    assert_eq!(c.pull, PullPolicy::Missing);
    assert_eq!(c.seccomp, SeccompChoice::Default);
    assert!(!c.no_new_privileges);
    assert_eq!(c.limits, Limits::default());
    assert!(c.mounts.is_empty());
}

#[test]
fn bad_values_name_the_flag_and_the_value() {
    let table: Vec<(RunOptions, &str, &str)> = vec![
        (
            RunOptions {
                memory: Some("lots".into()),
                ..opts()
            },
            "--memory",
            "lots",
        ),
        (
            RunOptions {
                memory: Some("1m".into()),
                ..opts()
            },
            "--memory",
            "6MB",
        ),
        (
            RunOptions {
                memory_swap: Some("64m".into()),
                ..opts()
            },
            "--memory-swap",
            "--memory",
        ),
        (
            RunOptions {
                memory: Some("64m".into()),
                memory_swap: Some("32m".into()),
                ..opts()
            },
            "--memory-swap",
            "32m",
        ),
        (
            RunOptions {
                cpus: Some("x".into()),
                ..opts()
            },
            "--cpus",
            "x",
        ),
        (
            RunOptions {
                cpu_shares: Some(1),
                ..opts()
            },
            "--cpu-shares",
            "1",
        ),
        (
            RunOptions {
                cpuset_cpus: Some("2-1".into()),
                ..opts()
            },
            "--cpuset-cpus",
            "2-1",
        ),
        (
            RunOptions {
                ulimits: vec!["nofile=x".into()],
                ..opts()
            },
            "--ulimit",
            "nofile=x",
        ),
        (
            RunOptions {
                network: Some("my net".into()),
                ..opts()
            },
            "--network",
            "my net",
        ),
        (
            RunOptions {
                network: Some("none".into()),
                publish: vec!["80".into()],
                ..opts()
            },
            "--publish",
            "none",
        ),
        (
            RunOptions {
                network: Some("container:web".into()),
                hostname: Some("h".into()),
                ..opts()
            },
            "--hostname",
            "container:web",
        ),
        (
            RunOptions {
                publish: vec!["80/sctp".into()],
                ..opts()
            },
            "--publish",
            "80/sctp",
        ),
        (
            RunOptions {
                volumes: vec!["da!ta:/data".into()],
                ..opts()
            },
            "--volume",
            "invalid characters",
        ),
        (
            RunOptions {
                volumes: vec!["data".into()],
                ..opts()
            },
            "--volume",
            "absolute",
        ),
        (
            RunOptions {
                volumes: vec!["/a:rel".into()],
                ..opts()
            },
            "--volume",
            "absolute",
        ),
        (
            RunOptions {
                volumes: vec!["/a:/b:xx".into()],
                ..opts()
            },
            "--volume",
            "invalid mode",
        ),
        (
            RunOptions {
                mounts: vec!["type=volume,source=x,target=/x".into()],
                ..opts()
            },
            "--mount",
            "invalid characters",
        ),
        (
            RunOptions {
                volumes_from: vec!["web:rx".into()],
                ..opts()
            },
            "--volumes-from",
            "CONTAINER[:ro|:rw]",
        ),
        (
            RunOptions {
                mounts: vec!["type=bind,target=/x".into()],
                ..opts()
            },
            "--mount",
            "source",
        ),
        (
            RunOptions {
                mounts: vec!["type=bind,source=/a".into()],
                ..opts()
            },
            "--mount",
            "target",
        ),
        (
            RunOptions {
                tmpfs: vec!["relative".into()],
                ..opts()
            },
            "--tmpfs",
            "relative",
        ),
        (
            RunOptions {
                cap_add: vec!["CAP_BOGUS".into()],
                ..opts()
            },
            "--cap-add",
            "CAP_BOGUS",
        ),
        (
            RunOptions {
                security_opt: vec!["apparmor=x".into()],
                ..opts()
            },
            "--security-opt",
            "apparmor",
        ),
        (
            RunOptions {
                pull: Some("sometimes".into()),
                ..opts()
            },
            "--pull",
            "sometimes",
        ),
        (
            RunOptions {
                workdir: Some("rel".into()),
                ..opts()
            },
            "--workdir",
            "absolute",
        ),
        (
            RunOptions {
                name: Some("-bad".into()),
                ..opts()
            },
            "--name",
            "-bad",
        ),
        (
            RunOptions {
                add_hosts: vec!["db".into()],
                ..opts()
            },
            "--add-host",
            "db",
        ),
        (
            RunOptions {
                add_hosts: vec!["db:notanip".into()],
                ..opts()
            },
            "--add-host",
            "notanip",
        ),
        (
            RunOptions {
                dns: vec!["dns.example".into()],
                ..opts()
            },
            "--dns",
            "dns.example",
        ),
        (
            RunOptions {
                platform: Some("linux".into()),
                ..opts()
            },
            "--platform",
            "linux",
        ),
        (
            RunOptions {
                user: Some("a:".into()),
                ..opts()
            },
            "--user",
            "a:",
        ),
    ];
    for (o, flag, needle) in table {
        let e = err(o);
        let msg = e.to_string();
        assert_eq!(e.flag, flag, "{msg}");
        assert!(msg.contains(needle), "{msg} should mention {needle}");
        assert!(!msg.contains('\n'), "{msg}");
    }
}

#[test]
fn resources_convert_to_limits() {
    let c = ok(RunOptions {
        memory: Some("32m".into()),
        cpus: Some("1.5".into()),
        cpu_shares: Some(512),
        pids_limit: Some(100),
        cpuset_cpus: Some("0-1".into()),
        ..opts()
    });
    assert_eq!(c.limits.memory, Some(32 << 20));
    assert_eq!(
        c.limits.memory_swap,
        Some(64 << 20),
        "Docker defaults swap to memory"
    );
    assert_eq!(c.limits.cpu_quota, Some(150_000));
    assert_eq!(c.limits.cpu_shares, Some(512));
    assert_eq!(c.limits.pids_limit, Some(100));
    assert_eq!(c.limits.cpuset_cpus.as_deref(), Some("0-1"));
    let unlimited = ok(RunOptions {
        memory: Some("32m".into()),
        memory_swap: Some("-1".into()),
        pids_limit: Some(-1),
        ..opts()
    });
    assert_eq!(unlimited.limits.memory_swap, Some(-1));
    assert_eq!(unlimited.limits.pids_limit, None);
}

#[test]
fn mounts_parse_from_all_three_flags() {
    let c = ok(RunOptions {
        volumes: vec!["/srv/data:/data:ro".into(), "/srv/logs:/logs/".into()],
        mounts: vec![
            "type=bind,source=/etc/x,target=/x,readonly".into(),
            "type=tmpfs,target=/cache,tmpfs-size=1m".into(),
        ],
        tmpfs: vec!["/run:size=64k,mode=1777".into()],
        ..opts()
    });
    assert_eq!(
        c.mounts,
        vec![
            UserMount::Bind {
                source: "/srv/data".into(),
                target: "/data".into(),
                readonly: true
            },
            UserMount::Bind {
                source: "/srv/logs".into(),
                target: "/logs".into(),
                readonly: false
            },
            UserMount::Bind {
                source: "/etc/x".into(),
                target: "/x".into(),
                readonly: true
            },
            UserMount::Tmpfs {
                target: "/cache".into(),
                options: vec!["nosuid".into(), "nodev".into(), "size=1048576".into()]
            },
            UserMount::Tmpfs {
                target: "/run".into(),
                options: vec![
                    "noexec".into(),
                    "nosuid".into(),
                    "nodev".into(),
                    "size=65536".into(),
                    "mode=1777".into()
                ]
            },
        ]
    );
    let dup = err(RunOptions {
        volumes: vec!["/a:/x".into()],
        tmpfs: vec!["/x".into()],
        ..opts()
    });
    assert!(dup.reason.contains("duplicate"));
}

#[test]
fn env_files_come_first_and_bare_keys_read_the_host() {
    let mut host = FakeHost::default();
    host.env.insert("FROM_HOST".into(), "h".into());
    host.files.insert(
        "/tmp/env".into(),
        "# comment\n\nA=file\nFROM_HOST\nMISSING\n".into(),
    );
    let o = RunOptions {
        env: vec!["A=flag".into(), "FROM_HOST".into(), "B=".into()],
        env_files: vec!["/tmp/env".into()],
        ..opts()
    };
    let c = RunConfig::from_options(&o, &host).unwrap();
    assert_eq!(
        c.env,
        ["A=file", "FROM_HOST=h", "A=flag", "FROM_HOST=h", "B="]
    );
    let missing = RunConfig::from_options(
        &RunOptions {
            env_files: vec!["/nope".into()],
            ..opts()
        },
        &host,
    )
    .unwrap_err();
    assert_eq!(missing.flag, "--env-file");
    assert!(
        err(RunOptions {
            env: vec!["=x".into()],
            ..opts()
        })
        .flag
            == "--env"
    );
}

#[test]
fn security_opts_and_caps() {
    let c = ok(RunOptions {
        security_opt: vec!["no-new-privileges".into(), "seccomp=unconfined".into()],
        cap_add: vec!["net_admin".into()],
        cap_drop: vec!["all".into()],
        ..opts()
    });
    assert!(c.no_new_privileges);
    assert_eq!(c.seccomp, SeccompChoice::Unconfined);
    assert_eq!(c.cap_add, ["CAP_NET_ADMIN"]);
    assert_eq!(c.cap_drop, ["ALL"]);
    let p = ok(RunOptions {
        security_opt: vec!["no-new-privileges=false".into(), "seccomp=/p.json".into()],
        ..opts()
    });
    assert!(!p.no_new_privileges);
    assert_eq!(p.seccomp, SeccompChoice::Profile("/p.json".into()));
    assert!(
        ok(RunOptions {
            security_opt: vec!["no-new-privileges:true".into()],
            ..opts()
        })
        .no_new_privileges
    );
}

#[test]
fn entrypoint_hosts_and_names() {
    assert_eq!(
        ok(RunOptions {
            entrypoint: Some(String::new()),
            ..opts()
        })
        .entrypoint,
        Some(vec![])
    );
    assert_eq!(
        ok(RunOptions {
            entrypoint: Some("/bin/sh".into()),
            ..opts()
        })
        .entrypoint,
        Some(vec!["/bin/sh".to_string()])
    );
    let c = ok(RunOptions {
        add_hosts: vec!["db:10.0.0.2".into(), "v6=::1".into()],
        dns: vec!["1.1.1.1".into()],
        name: Some("/web.1".into()),
        network: Some("host".into()),
        ulimits: vec!["nofile=1024:2048".into()],
        ..opts()
    });
    assert_eq!(
        c.add_hosts,
        [
            ("db".to_string(), "10.0.0.2".to_string()),
            ("v6".into(), "::1".into())
        ]
    );
    assert_eq!(c.dns, ["1.1.1.1"]);
    assert_eq!(c.name.as_deref(), Some("web.1"));
    assert_eq!(c.network, NetworkMode::Host);
    assert_eq!(
        c.ulimits,
        [Ulimit {
            kind: "RLIMIT_NOFILE".into(),
            soft: 1024,
            hard: 2048
        }]
    );
}

#[test]
fn restart_and_log_flags_validate_like_dockers() {
    let c = ok(RunOptions {
        restart: Some("on-failure:3".into()),
        log_opts: vec!["max-size=1k".into(), "max-file=3".into()],
        ..opts()
    });
    assert_eq!(c.restart, RestartPolicy::OnFailure { max: 3 });
    assert_eq!(c.log.max_size, Some(1024));
    assert_eq!(ok(opts()).restart, RestartPolicy::No);
    let e = err(RunOptions {
        restart: Some("always".into()),
        rm: true,
        ..opts()
    });
    assert!(
        e.to_string()
            .contains("Conflicting options: --restart and --rm"),
        "{e}"
    );
    let c = ok(RunOptions {
        restart: Some("no".into()),
        rm: true,
        ..opts()
    });
    assert!(c.rm);
    let e = err(RunOptions {
        log_opts: vec!["nope=1".into()],
        ..opts()
    });
    assert!(e.to_string().contains("unknown log opt 'nope'"), "{e}");
}

#[test]
fn ports_with_the_host_network_are_a_warning_not_an_error() {
    let c = ok(RunOptions {
        network: Some("host".into()),
        publish: vec!["8080:80".into()],
        ..opts()
    });
    assert_eq!(
        c.warnings(),
        ["Published ports are discarded when using host network mode"]
    );
    let all = ok(RunOptions {
        network: Some("host".into()),
        publish_all: true,
        ..opts()
    });
    assert_eq!(all.warnings().len(), 1);
    assert!(ok(opts()).warnings().is_empty());
    let bridge = ok(RunOptions {
        publish: vec!["80".into()],
        ..opts()
    });
    assert!(bridge.warnings().is_empty());
}

#[test]
fn volumes_parse_named_anonymous_and_nocopy() {
    let c = ok(RunOptions {
        volumes: vec!["data:/data:ro".into(), "/anon/".into()],
        mounts: vec!["type=volume,src=db,dst=/db,volume-nocopy".into()],
        volumes_from: vec!["web:ro".into()],
        ..opts()
    });
    let vol = |name: &str, target: &str, readonly, nocopy| UserMount::Volume {
        name: name.into(),
        target: target.into(),
        readonly,
        nocopy,
    };
    assert_eq!(
        c.mounts,
        [
            vol("data", "/data", true, false),
            vol("", "/anon", false, false),
            vol("db", "/db", false, true),
        ]
    );
    assert_eq!(c.volumes_from, ["web:ro"]);
}
