use super::*;
use crate::dockerfile::parse;

#[test]
fn bind_is_the_default_type_and_read_only() {
    let m = parse_mount("target=/src,source=app").unwrap();
    assert_eq!(m.kind, MountType::Bind);
    assert_eq!(m.target.as_deref(), Some("/src"));
    assert_eq!(m.source.as_deref(), Some("app"));
    assert!(m.readonly);
    let m = parse_mount("type=bind,dst=/src,rw").unwrap();
    assert!(!m.readonly);
    let m = parse_mount("type=bind,destination=/src,readwrite=true").unwrap();
    assert!(!m.readonly);
    let m = parse_mount("type=bind,target=/src,from=build,src=/out").unwrap();
    assert_eq!(m.from.as_deref(), Some("build"));
}

#[test]
fn cache_defaults_its_id_to_the_target_and_reads_sharing_mode_and_owner() {
    let m = parse_mount("type=cache,target=/var/cache/apt").unwrap();
    assert_eq!(m.kind, MountType::Cache);
    assert_eq!(m.id.as_deref(), Some("/var/cache/apt"));
    assert_eq!(m.sharing, Sharing::Shared);
    assert!(!m.readonly);
    let m =
        parse_mount("type=cache,target=/c,id=x,sharing=locked,mode=0700,uid=1000,gid=50").unwrap();
    assert_eq!(m.id.as_deref(), Some("x"));
    assert_eq!(m.sharing, Sharing::Locked);
    assert_eq!((m.mode, m.uid, m.gid), (Some(0o700), Some(1000), Some(50)));
    let m = parse_mount("type=cache,target=/c,sharing=private").unwrap();
    assert_eq!(m.sharing, Sharing::Private);
}

#[test]
fn secret_defaults_target_from_id_and_id_from_target() {
    let m = parse_mount("type=secret,id=tok").unwrap();
    assert_eq!(m.target.as_deref(), Some("/run/secrets/tok"));
    assert!(m.readonly && !m.required);
    let m = parse_mount("type=secret,target=/etc/key.pem,required").unwrap();
    assert_eq!(m.id.as_deref(), Some("key.pem"));
    assert!(m.required);
    let m = parse_mount("type=secret,id=tok,env=TOKEN").unwrap();
    assert_eq!(m.target, None);
    assert_eq!(m.env.as_deref(), Some("TOKEN"));
    let m = parse_mount("type=secret,id=tok,required=false").unwrap();
    assert!(!m.required);
}

#[test]
fn tmpfs_reads_its_size() {
    let m = parse_mount("type=tmpfs,target=/t,size=64m").unwrap();
    assert_eq!(m.kind, MountType::Tmpfs);
    assert_eq!(m.size, Some(64 << 20));
    assert!(!m.readonly);
    assert_eq!(
        parse_mount("type=tmpfs,target=/t,size=4096").unwrap().size,
        Some(4096)
    );
}

#[test]
fn bad_specs_are_one_line_errors_naming_the_problem() {
    for (spec, want) in [
        ("type=nfs,target=/x", "unknown mount type \"nfs\""),
        ("type=ssh", "type=ssh is not supported"),
        ("type=cache,target=/x,colour=red", "unknown key \"colour\""),
        ("type=cache", "a cache mount needs a target"),
        ("type=bind,source=x", "the mount needs a target"),
        ("type=tmpfs", "the mount needs a target"),
        ("type=secret", "a secret mount needs an id or a target"),
        (
            "type=cache,target=/x,sharing=sometimes",
            "unknown sharing mode",
        ),
        (
            "type=cache,target=/x,mode=999",
            "mode=999: not a valid mode",
        ),
        ("type=cache,target=/x,uid=-1", "uid=-1: not a valid uid"),
        ("type=bind,target=/x,ro=maybe", "ro=maybe: not a boolean"),
        ("type=tmpfs,target=/x,size=lots", "size=lots: not a size"),
        ("type=cache,target=/x,env=A", "env= is only for type=secret"),
        ("type=secret,id=a,rw", "a secret mount is read-only"),
        ("type=bind,target", "target needs a value"),
    ] {
        let err = parse_mount(spec).unwrap_err();
        assert!(err.contains(want), "{spec}: {err}");
        assert!(!err.contains('\n'), "{spec}: {err}");
    }
}

#[test]
fn the_dockerfile_parser_names_file_and_line_for_a_bad_mount_and_insecure_security() {
    let err = parse(
        "Dockerfile",
        "FROM busybox\n\nRUN --mount=type=cache,tagret=/x true\n",
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.starts_with("Dockerfile:3: RUN --mount=type=cache,tagret=/x: unknown key \"tagret\""),
        "{err}"
    );
    let err = parse("Dockerfile", "FROM busybox\nRUN --mount=type=ssh true\n")
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("Dockerfile:2: "), "{err}");
    assert!(err.contains("type=ssh is not supported"), "{err}");
    let err = parse("Dockerfile", "FROM busybox\nRUN --security=insecure true\n")
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("Dockerfile:2: RUN --security=insecure"),
        "{err}"
    );
    // A spec with a variable is checked after substitution, by the executor.
    parse(
        "Dockerfile",
        "FROM busybox\nARG T=cache\nRUN --mount=type=$T,target=/c true\n",
    )
    .unwrap();
    parse("Dockerfile", "FROM busybox\nRUN --security=sandbox true\n").unwrap();
}
