use super::*;
use hull_engine::run::{NetworkMode, RestartPolicy, UserMount};
use serde_json::json;

fn plan(doc: Value) -> Result<Plan, ApiError> {
    translate(&doc, Some("web"), None)
}

#[test]
fn a_full_create_becomes_the_run_config_the_flags_would_make() {
    let p = plan(json!({
        "Image": "busybox", "Cmd": ["sh", "-c", "true"], "Entrypoint": [""],
        "Env": ["A=1", "UNSET"], "WorkingDir": "/srv", "User": "1:2", "Hostname": "h1",
        "Labels": {"tier": "api"}, "ExposedPorts": {"90/udp": {}}, "Tty": true,
        "OpenStdin": true, "StopSignal": "SIGINT", "StopTimeout": 3,
        "Volumes": {"/data": {}, "/bound": {}},
        "Healthcheck": {"Test": ["CMD", "true"], "Interval": 2_000_000_000i64, "Retries": 2},
        "Whatever": {"unknown": true},
        "HostConfig": {
            "Binds": ["/tmp:/bound:ro"], "Tmpfs": {"/run": "size=1m"},
            "Mounts": [{"Type": "volume", "Source": "vol1", "Target": "/v", "ReadOnly": true}],
            "PortBindings": {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8080"}]},
            "RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 2},
            "Memory": 64 << 20, "NanoCpus": 500_000_000, "CpuShares": 512, "PidsLimit": 50,
            "CpusetCpus": "0", "Ulimits": [{"Name": "nofile", "Soft": 100, "Hard": 200}],
            "CapAdd": ["NET_ADMIN"], "CapDrop": ["MKNOD"], "SecurityOpt": ["no-new-privileges", "apparmor=unconfined"],
            "NetworkMode": "net1", "Dns": ["1.1.1.1"], "DnsSearch": ["example.com"],
            "ExtraHosts": ["db:10.0.0.2"], "LogConfig": {"Type": "json-file", "Config": {"max-size": "1m"}},
            "ReadonlyRootfs": true, "Init": true, "AutoRemove": false
        },
        "NetworkingConfig": {"EndpointsConfig": {"net1": {"Aliases": ["web1"], "IPAMConfig": {"IPv4Address": "10.9.0.5"}}}}
    }))
    .unwrap();
    let c = &p.config;
    assert_eq!(c.name.as_deref(), Some("web"));
    assert_eq!(c.args, ["sh", "-c", "true"]);
    assert_eq!(c.entrypoint, Some(vec![]));
    assert_eq!(c.env, ["A=1"]);
    assert_eq!(
        (c.workdir.as_deref(), c.user.as_deref()),
        (Some("/srv"), Some("1:2"))
    );
    assert_eq!(c.labels.get("tier").map(String::as_str), Some("api"));
    assert_eq!(c.expose, ["90/udp"]);
    assert!(c.tty && c.interactive && c.read_only && c.init && c.no_new_privileges);
    assert_eq!(
        (c.stop_signal.as_deref(), c.stop_timeout),
        (Some("SIGINT"), Some(3))
    );
    assert_eq!(c.healthcheck.as_ref().unwrap().interval, 2_000_000_000);
    assert_eq!(c.publish.len(), 1);
    assert_eq!(
        (c.publish[0].host_port, c.publish[0].container_port),
        (8080, 80)
    );
    assert_eq!(c.restart, RestartPolicy::OnFailure { max: 2 });
    assert_eq!(c.limits.memory, Some(64 << 20));
    assert_eq!(c.limits.cpu_quota, Some(50_000));
    assert_eq!(
        (c.limits.cpu_shares, c.limits.pids_limit),
        (Some(512), Some(50))
    );
    assert_eq!(c.ulimits[0].soft, 100);
    assert_eq!(c.network, NetworkMode::Bridge("net1".into()));
    assert_eq!(c.network_aliases, ["web1"]);
    assert_eq!(c.ip.map(|i| i.to_string()).as_deref(), Some("10.9.0.5"));
    assert_eq!(c.add_hosts, [("db".to_string(), "10.0.0.2".to_string())]);
    assert_eq!(c.log.max_size, Some(1 << 20));
    let targets: Vec<&str> = c.mounts.iter().map(|m| m.target()).collect();
    assert_eq!(targets, ["/bound", "/data", "/v", "/run"]);
    assert!(matches!(
        &c.mounts[0],
        UserMount::Bind { readonly: true, .. }
    ));
    assert!(
        p.warnings.iter().any(|w| w.contains("apparmor")),
        "{:?}",
        p.warnings
    );
}

#[test]
fn bad_values_are_400s_naming_the_field() {
    let bad = |doc: Value| plan(doc).unwrap_err();
    let e = bad(json!({"Image": "b", "HostConfig": {"Memory": "lots"}}));
    assert!(e.message.contains("HostConfig.Memory"), "{}", e.message);
    let e = bad(
        json!({"Image": "b", "HostConfig": {"PortBindings": {"abc/tcp": [{"HostPort": "1"}]}}}),
    );
    assert!(
        e.message.starts_with("invalid port specification"),
        "{}",
        e.message
    );
    let e = bad(
        json!({"Image": "b", "HostConfig": {"RestartPolicy": {"Name": "always", "MaximumRetryCount": 3}}}),
    );
    assert!(
        e.message.contains("HostConfig.RestartPolicy"),
        "{}",
        e.message
    );
    let e = bad(json!({"Image": "b", "HostConfig": {"Memory": 1024}}));
    assert!(e.message.contains("HostConfig.Memory"), "{}", e.message);
    let e = bad(json!({"Image": "b", "Healthcheck": {"Interval": 5}}));
    assert!(e.message.contains("Healthcheck.Interval"), "{}", e.message);
    let e = bad(json!({"Image": "b", "WorkingDir": "rel"}));
    assert!(
        e.message.contains("invalid value for WorkingDir"),
        "{}",
        e.message
    );
    let e = bad(json!({"Cmd": ["true"]}));
    assert!(e.message.contains("Image"), "{}", e.message);
    let e = bad(json!({"Image": "b", "NetworkingConfig": {"EndpointsConfig": {"a": {}, "b": {}}}}));
    assert!(e.message.contains("a, b"), "{}", e.message);
    assert_eq!(e.status, hyper::StatusCode::BAD_REQUEST);
}

#[test]
fn nulls_and_strings_are_read_as_docker_reads_them() {
    let p = plan(
        json!({"Image": "b", "Cmd": "ls", "Entrypoint": null, "HostConfig": null,
                        "NetworkingConfig": {"EndpointsConfig": {"net2": {}}}}),
    )
    .unwrap();
    assert_eq!(p.config.args, ["ls"]);
    assert_eq!(p.config.entrypoint, None);
    assert_eq!(p.config.network, NetworkMode::Bridge("net2".into()));
    assert_eq!(p.config.restart, RestartPolicy::No);
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
    let p = plan(
        json!({"Image": "b", "HostConfig": {"ShmSize": 0, "IpcMode": "",
                        "Devices": [{"PathOnHost": "/dev/fuse"}], "Sysctls": {}}}),
    )
    .unwrap();
    assert_eq!(
        p.warnings,
        ["HostConfig.Devices is not supported by hull and was ignored"]
    );
}
