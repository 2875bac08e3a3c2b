//! `hull volume` and volumes in `hull run`: named and anonymous volumes, copy-up from the image,
//! `--volumes-from`, the local driver's tmpfs and bind options, bad input, and kill -9 during
//! volume creation and copy-up.

use std::path::Path;

use hull_tests::{busybox, container_pids, require_root, wait_until, Hull};

/// Removes every container (rm -f -v) when the test ends, passing or failing.
struct Cleanup<'a>(&'a Hull);

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        let ids = self.0.run(&["ps", "-aq", "--no-trunc"]);
        for id in String::from_utf8_lossy(&ids.stdout).split_whitespace() {
            let _ = self.0.run(&["rm", "-f", "-v", id]);
            for pid in container_pids(id) {
                let _ = std::process::Command::new("kill")
                    .args(["-9", &pid])
                    .status();
            }
        }
        for v in String::from_utf8_lossy(&self.0.run(&["volume", "ls", "-q"]).stdout).lines() {
            let _ = self.0.run(&["volume", "rm", v]);
        }
    }
}

fn names(h: &Hull, args: &[&str]) -> Vec<String> {
    let mut argv = vec!["volume", "ls", "-q"];
    argv.extend_from_slice(args);
    let mut v: Vec<String> = h.ok(&argv).lines().map(String::from).collect();
    v.sort();
    v
}

fn inspect(h: &Hull, what: &[&str]) -> serde_json::Value {
    serde_json::from_str(&h.ok(what)).unwrap()
}

#[test]
fn volume_commands_follow_docker() {
    require_root!();
    let h = Hull::new();
    let _c = Cleanup(&h);
    assert_eq!(
        h.ok(&["volume", "create", "--label", "tier=db", "data"])
            .trim(),
        "data"
    );
    assert_eq!(
        h.ok(&["volume", "create", "--name", "other"]).trim(),
        "other"
    );
    // Creating an existing volume returns it.
    assert_eq!(h.ok(&["volume", "create", "data"]).trim(), "data");
    let anon = h.ok(&["volume", "create"]).trim().to_string();
    assert_eq!(anon.len(), 64, "{anon}");
    assert_eq!(names(&h, &[]), {
        let mut v = vec![anon.clone(), "data".into(), "other".into()];
        v.sort();
        v
    });
    assert_eq!(names(&h, &["-f", "label=tier=db"]), ["data"]);
    assert_eq!(names(&h, &["-f", "label=tier"]), ["data"]);
    assert_eq!(names(&h, &["-f", "name=oth"]), ["other"]);
    assert_eq!(
        names(&h, &["-f", "dangling=true", "-f", "name=data"]),
        ["data"]
    );
    let table = h.ok(&["volume", "ls"]);
    assert!(table.starts_with("DRIVER"), "{table}");
    assert!(table.contains("VOLUME NAME"), "{table}");
    let fmt = h.ok(&[
        "volume",
        "ls",
        "-f",
        "name=data",
        "--format",
        "{{.Name}} {{.Driver}} {{.Labels}}",
    ]);
    assert_eq!(fmt.trim(), "data local tier=db");
    let v = inspect(&h, &["volume", "inspect", "data"]);
    let d = &v[0];
    assert_eq!(d["Name"], "data");
    assert_eq!(d["Driver"], "local");
    assert_eq!(d["Scope"], "local");
    assert_eq!(d["Labels"]["tier"], "db");
    let mp = h.root().join("volumes/data/_data");
    assert_eq!(d["Mountpoint"], mp.display().to_string());
    assert!(mp.is_dir());
    let created = d["CreatedAt"].as_str().unwrap();
    assert!(
        created.starts_with("20") && created.ends_with('Z') && created.len() == 20,
        "{created}"
    );
    // Bad input: one line naming the thing.
    let err = h.fails(&["volume", "create", "bad!name"]);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("bad!name") && err.contains("invalid characters"),
        "{err}"
    );
    let err = h.fails(&["volume", "create", "-o", "colour=red", "x1"]);
    assert!(err.contains("invalid option: \"colour\""), "{err}");
    let err = h.fails(&["volume", "create", "-o", "type=tmpfs", "x3"]);
    assert!(err.contains("missing required option: \"device\""), "{err}");
    let err = h.fails(&[
        "volume",
        "create",
        "-o",
        "o=bind",
        "-o",
        "device=/tmp",
        "x4",
    ]);
    assert!(err.contains("missing required option: \"type\""), "{err}");
    let plain = inspect(&h, &["volume", "inspect", "other"]);
    assert!(
        plain[0]["Labels"].is_null() && plain[0]["Options"].is_null(),
        "{plain}"
    );
    let err = h.fails(&["volume", "create", "-d", "nfsish", "x2"]);
    assert!(err.contains("nfsish"), "{err}");
    assert!(!names(&h, &[]).contains(&"x1".to_string()));
    let err = h.fails(&["volume", "inspect", "nope"]);
    assert!(err.contains("no such volume"), "{err}");
    let err = h.fails(&["volume", "rm", "nope"]);
    assert!(
        err.contains("nope") && err.contains("no such volume"),
        "{err}"
    );
    h.ok(&["volume", "rm", "-f", "nope"]);
    // Prune without -a removes only anonymous volumes: a created one is not (Docker 23), so
    // nothing goes here (the anonymous test prunes one); with -a every unused one goes.
    let out = h.ok(&["volume", "prune", "-f"]);
    assert_eq!(out.trim(), "Total reclaimed space: 0B");
    assert_eq!(names(&h, &[]).len(), 3);
    h.ok(&["volume", "prune", "-a", "-f"]);
    assert!(names(&h, &[]).is_empty());
    assert!(!mp.exists());
}

#[test]
fn named_volume_is_filled_from_the_image_and_outlives_containers() {
    require_root!();
    let h = Hull::new();
    let _c = Cleanup(&h);
    let image = busybox();
    let out = h.ok(&[
        "run",
        "--name",
        "ww",
        "-v",
        "etc:/etc",
        &image,
        "sh",
        "-c",
        "stat -c '%a %u' /etc/passwd; echo kept > /etc/new",
    ]);
    let want = h.ok(&["run", "--rm", &image, "stat", "-c", "%a %u", "/etc/passwd"]);
    assert_eq!(out, want);
    let data = h.root().join("volumes/etc/_data");
    assert!(data.join("passwd").is_file() && data.join("new").is_file());
    // In use by a stopped container: refused, with Docker's message, and nothing lost.
    let id = hull_tests::container_id_of(&h, "ww");
    let err = h.fails(&["volume", "rm", "etc"]);
    assert_eq!(
        err.trim(),
        format!("hull: remove etc: volume is in use - [{id}]")
    );
    assert!(data.join("new").is_file());
    let v = inspect(&h, &["inspect", "ww"]);
    let m = &v[0]["Mounts"][0];
    assert_eq!(m["Type"], "volume");
    assert_eq!(m["Name"], "etc");
    assert_eq!(m["Source"], data.display().to_string());
    assert_eq!(m["Destination"], "/etc");
    assert_eq!(m["Driver"], "local");
    assert_eq!(m["RW"], true);
    assert_eq!(m["Mode"], "z");
    // rm without -v keeps a named volume, and a new container sees the data (no copy-up now).
    h.ok(&["rm", "-v", "ww"]);
    let out = h.ok(&[
        "run",
        "--rm",
        "--mount",
        "type=volume,source=etc,target=/x,readonly",
        &image,
        "sh",
        "-c",
        "cat /x/new; touch /x/y 2>/dev/null || echo ro",
    ]);
    assert_eq!(out, "kept\nro\n");
    // nocopy: a new volume stays empty.
    let out = h.ok(&[
        "run",
        "--rm",
        "--mount",
        "type=volume,src=empty,dst=/etc,volume-nocopy",
        &image,
        "/bin/ls",
        "-A",
        "/etc",
    ]);
    assert!(!out.contains("passwd"), "{out}");
    h.ok(&["volume", "rm", "etc", "empty"]);
}

#[test]
fn anonymous_volumes_go_with_rm_v_only() {
    require_root!();
    let h = Hull::new();
    let _c = Cleanup(&h);
    let image = busybox();
    h.ok(&[
        "run",
        "--name",
        "aa",
        "-v",
        "/data",
        &image,
        "sh",
        "-c",
        "echo 1 > /data/f",
    ]);
    let v = inspect(&h, &["inspect", "aa"]);
    let name = v[0]["Mounts"][0]["Name"].as_str().unwrap().to_string();
    assert_eq!(name.len(), 64, "{name}");
    assert_eq!(v[0]["Mounts"][0]["Mode"], "");
    let vol = inspect(&h, &["volume", "inspect", &name]);
    assert!(
        vol[0]["Labels"]
            .get("com.docker.volume.anonymous")
            .is_some(),
        "{vol}"
    );
    // --volumes-from shares it; :ro makes it read-only.
    let out = h.ok(&[
        "run",
        "--rm",
        "--volumes-from",
        "aa:ro",
        &image,
        "sh",
        "-c",
        "cat /data/f; touch /data/g 2>/dev/null || echo ro",
    ]);
    assert_eq!(out, "1\nro\n");
    h.ok(&["rm", "aa"]);
    assert_eq!(names(&h, &[]), std::slice::from_ref(&name));
    assert_eq!(
        names(&h, &["-f", "dangling=true"]),
        std::slice::from_ref(&name)
    );
    // Kept by rm, but prune (without -a) takes an unused anonymous volume.
    h.ok(&["run", "--name", "keep", "-v", "/data", &image, "true"]);
    h.ok(&["run", "--name", "bb", "-v", "/data", &image, "true"]);
    let v = inspect(&h, &["inspect", "bb"]);
    let second = v[0]["Mounts"][0]["Name"].as_str().unwrap().to_string();
    h.ok(&["rm", "-v", "bb"]);
    assert!(!names(&h, &[]).contains(&second));
    // run --rm removes its anonymous volumes too.
    h.ok(&["run", "--rm", "-v", "/data", &image, "true"]);
    assert_eq!(names(&h, &[]).len(), 2);
    let out = h.ok(&["volume", "prune", "-f"]);
    assert!(
        out.starts_with("Deleted Volumes:") && out.contains(&name),
        "{out}"
    );
    assert_eq!(
        names(&h, &[]).len(),
        1,
        "prune took the volume of a container"
    );
}

#[test]
fn bad_mounts_are_refused_in_one_line() {
    require_root!();
    let h = Hull::new();
    let _c = Cleanup(&h);
    let image = busybox();
    h.ok(&["pull", "-q", &image]);
    for (flags, want) in [
        (vec!["-v", "data:rel"], "must be absolute"),
        (vec!["-v", "bad!:/x"], "invalid characters"),
        (
            vec!["--mount", "type=volume,source=aa,target=x"],
            "must be absolute",
        ),
        (vec!["-v", "aa:/x", "-v", "bb:/x"], "duplicate mount point"),
        (vec!["--volumes-from", "ghost"], "ghost"),
        (vec!["--volumes-from", "cc:rx"], "CONTAINER[:ro|:rw]"),
    ] {
        let mut argv = vec!["run", "--rm"];
        argv.extend_from_slice(&flags);
        argv.extend_from_slice(&[&image, "true"]);
        let err = h.fails(&argv);
        assert_eq!(err.trim().lines().count(), 1, "{flags:?}: {err}");
        assert!(err.contains(want), "{flags:?}: {err}");
    }
    assert!(names(&h, &[]).is_empty(), "a refused run made volumes");
}

#[test]
fn tmpfs_and_bind_volumes_mount_while_used() {
    require_root!();
    let h = Hull::new();
    let _c = Cleanup(&h);
    let image = busybox();
    h.ok(&[
        "volume",
        "create",
        "-o",
        "type=tmpfs",
        "-o",
        "device=tmpfs",
        "-o",
        "o=size=1m",
        "tm",
    ]);
    let out = h.ok(&[
        "run",
        "--rm",
        "-v",
        "tm:/t",
        &image,
        "sh",
        "-c",
        "grep ' /t ' /proc/mounts",
    ]);
    assert!(out.contains("tmpfs") && out.contains("size=1024k"), "{out}");
    let data = h.root().join("volumes/tm/_data");
    assert!(
        !hull_sys::mount::is_mountpoint(&data).unwrap(),
        "left mounted after the run"
    );
    let host = tempfile::tempdir().unwrap();
    std::fs::write(host.path().join("keep"), b"host").unwrap();
    let dev = format!("device={}", host.path().display());
    h.ok(&[
        "volume",
        "create",
        "-o",
        "type=none",
        "-o",
        "o=bind",
        "-o",
        &dev,
        "bd",
    ]);
    h.ok(&[
        "run",
        "--rm",
        "-v",
        "bd:/b",
        &image,
        "sh",
        "-c",
        "cat /b/keep && echo c > /b/new",
    ]);
    assert_eq!(std::fs::read(host.path().join("new")).unwrap(), b"c\n");
    h.ok(&["volume", "rm", "bd"]);
    assert!(
        host.path().join("keep").is_file(),
        "volume rm deleted the bound host directory"
    );
    let err = h.fails(&[
        "volume",
        "create",
        "-o",
        "type=none",
        "-o",
        "o=bind",
        "-o",
        "device=rel",
        "bb",
    ]);
    assert!(err.contains("absolute"), "{err}");
}

/// Waits for `dir` to hold an entry whose name starts with `prefix`.
fn wait_for_entry(dir: &Path, prefix: &str) {
    wait_until(&format!("an entry {prefix}* in {}", dir.display()), || {
        std::fs::read_dir(dir).is_ok_and(|mut d| {
            d.any(|e| e.is_ok_and(|e| e.file_name().to_string_lossy().starts_with(prefix)))
        })
    });
}

#[test]
fn kill_9_during_create_or_copy_up_leaves_a_volume_complete_or_absent() {
    require_root!();
    let h = Hull::new();
    let _c = Cleanup(&h);
    let image = busybox();
    // Create: killed between staging and the rename.
    let mut child = h
        .command(&["volume", "create", "half"])
        .env("HULL_TEST_PAUSE_VOLUME_CREATE", "30")
        .spawn()
        .unwrap();
    let vols = h.root().join("volumes");
    wait_for_entry(&vols, &format!(".{}.half", child.id()));
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(names(&h, &[]).is_empty());
    assert!(!vols.join("half").exists());
    assert_eq!(
        std::fs::read_dir(&vols).unwrap().count(),
        0,
        "ls left the dead temp"
    );
    assert_eq!(h.ok(&["volume", "create", "half"]).trim(), "half");
    // Copy-up: killed after the copy, before it is swapped in.
    h.ok(&["pull", "-q", &image]);
    let mut child = h
        .command(&["run", "--name", "cu", "-v", "cu:/etc", &image, "true"])
        .env("HULL_TEST_PAUSE_VOLUME_COPYUP", "30")
        .spawn()
        .unwrap();
    let dir = vols.join("cu");
    wait_for_entry(&dir, ".copyup.");
    child.kill().unwrap();
    child.wait().unwrap();
    let data = dir.join("_data");
    assert_eq!(
        std::fs::read_dir(&data).unwrap().count(),
        0,
        "a half copy is visible"
    );
    h.ok(&["rm", "-f", "cu"]);
    let out = h.ok(&["run", "--rm", "-v", "cu:/etc", &image, "cat", "/etc/passwd"]);
    assert!(out.contains("root:"), "{out}");
    let left: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(left.len(), 2, "{left:?}");
}

#[test]
fn cp_reads_and_writes_through_volumes_and_binds() {
    require_root!();
    let h = Hull::new();
    let _c = Cleanup(&h);
    let image = busybox();
    let host = tempfile::tempdir().unwrap();
    let bind = format!("{}:/b", host.path().display());
    let src = host.path().join("in.txt");
    std::fs::write(&src, b"from host").unwrap();
    let src = src.display().to_string();
    // Stopped (created, then exited) and running: both see the volume and the bind.
    h.ok(&[
        "create", "--name", "st", "-v", "cpv:/v", "-v", &bind, &image, "true",
    ]);
    h.ok(&["start", "-a", "st"]);
    h.ok(&["cp", &src, "st:/v/in.txt"]);
    assert_eq!(
        std::fs::read(h.root().join("volumes/cpv/_data/in.txt")).unwrap(),
        b"from host"
    );
    h.ok(&["cp", &src, "st:/b/copied.txt"]);
    assert_eq!(
        std::fs::read(host.path().join("copied.txt")).unwrap(),
        b"from host"
    );
    let out = host.path().join("out.txt");
    h.ok(&["cp", "st:/v/in.txt", &out.display().to_string()]);
    assert_eq!(std::fs::read(&out).unwrap(), b"from host");
    assert!(
        hull_tests::host::mounts_below(&h).is_empty(),
        "cp left mounts"
    );
    let run = h.detach(&["-v", "cpv:/v"], &["sleep", "60"]);
    let ctr = |p: &str| format!("{}:{p}", run.1.as_str());
    h.ok(&["cp", &src, &ctr("/v/running.txt")]);
    assert!(h.root().join("volumes/cpv/_data/running.txt").is_file());
    let out = host.path().join("out2.txt");
    h.ok(&["cp", &ctr("/v/in.txt"), &out.display().to_string()]);
    assert_eq!(std::fs::read(&out).unwrap(), b"from host");
}

/// `busybox:vol`: the fixture's busybox archive with `VOLUME ["/etc", "/data/", "/srv/pg"]`
/// added to its config (a new config file under its own digest) and a second layer made by GNU
/// tar: `/srv/pg` owned by 999:999, mode 0700, holding `PG_VERSION` (0600, xattr
/// `user.vol=kept`) and a hard link to it; loaded.
fn load_image_with_volumes(h: &Hull) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let archive = hull_tests::fixture("HULL_TEST_DOCKER_ARCHIVE");
    let st = std::process::Command::new("tar")
        .args(["-C", &dir.display().to_string(), "-xf", &archive])
        .status()
        .unwrap();
    assert!(st.success());
    let manifest_path = dir.join("manifest.json");
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&manifest_path).unwrap()).unwrap();
    let config_name = manifest[0]["Config"].as_str().unwrap().to_string();
    let mut config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join(&config_name)).unwrap()).unwrap();
    config["config"]["Volumes"] = serde_json::json!({"/etc": {}, "/data/": {}, "/srv/pg": {}});
    let layer2 = owned_layer(dir);
    let diff = format!("sha256:{}", sha256_hex(&dir.join(&layer2)));
    config["rootfs"]["diff_ids"]
        .as_array_mut()
        .unwrap()
        .push(diff.into());
    let bytes = serde_json::to_vec(&config).unwrap();
    std::fs::write(dir.join("new.json"), &bytes).unwrap();
    let sum = std::process::Command::new("sha256sum")
        .arg(dir.join("new.json"))
        .output()
        .unwrap();
    let hex = String::from_utf8_lossy(&sum.stdout)[..64].to_string();
    let new_config = format!("{hex}.json");
    manifest[0]["Layers"]
        .as_array_mut()
        .unwrap()
        .push(layer2.clone().into());
    std::fs::rename(dir.join("new.json"), dir.join(&new_config)).unwrap();
    manifest[0]["Config"] = new_config.clone().into();
    manifest[0]["RepoTags"] = serde_json::json!(["busybox:vol"]);
    std::fs::write(&manifest_path, serde_json::to_vec(&manifest).unwrap()).unwrap();
    let layer = manifest[0]["Layers"][0].as_str().unwrap().to_string();
    let out = dir.join("vol.tar");
    let st = std::process::Command::new("tar")
        .args([
            "-C",
            &dir.display().to_string(),
            "-cf",
            &out.display().to_string(),
        ])
        .args(["manifest.json", &new_config, &layer, &layer2])
        .status()
        .unwrap();
    assert!(st.success());
    h.ok(&["load", "-i", &out.display().to_string()]);
}

fn sha256_hex(p: &Path) -> String {
    let out = std::process::Command::new("sha256sum")
        .arg(p)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)[..64].to_string()
}

/// The second layer of `busybox:vol` (see there), as `layer2.tar` in `dir`; its name.
fn owned_layer(dir: &Path) -> String {
    use std::os::unix::fs::PermissionsExt;
    let src = dir.join("layer2");
    let pg = src.join("srv/pg");
    std::fs::create_dir_all(&pg).unwrap();
    std::fs::write(pg.join("PG_VERSION"), b"15\n").unwrap();
    std::fs::hard_link(pg.join("PG_VERSION"), pg.join("link")).unwrap();
    let f = std::fs::File::open(pg.join("PG_VERSION")).unwrap();
    use std::os::fd::AsFd;
    hull_sys::fs::fsetxattr(f.as_fd(), std::ffi::OsStr::new("user.vol"), b"kept").unwrap();
    std::fs::set_permissions(
        pg.join("PG_VERSION"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    std::fs::set_permissions(&pg, std::fs::Permissions::from_mode(0o700)).unwrap();
    let st = std::process::Command::new("tar")
        .args([
            "--xattrs",
            "--xattrs-include=user.*",
            "--owner=999",
            "--group=999",
            "--numeric-owner",
        ])
        .args(["-C", &src.display().to_string(), "-cf"])
        .arg(dir.join("layer2.tar"))
        .arg("srv")
        .status()
        .unwrap();
    assert!(st.success());
    "layer2.tar".into()
}

#[test]
fn image_volumes_get_anonymous_volumes_unless_mounted() {
    require_root!();
    let h = Hull::new();
    let _c = Cleanup(&h);
    load_image_with_volumes(&h);
    h.ok(&[
        "run",
        "--name",
        "iv",
        "busybox:vol",
        "sh",
        "-c",
        "echo d > /data/f",
    ]);
    let v = inspect(&h, &["inspect", "iv"]);
    let mounts = v[0]["Mounts"].as_array().unwrap().clone();
    let pg = mounts
        .iter()
        .find(|m| m["Destination"] == "/srv/pg")
        .expect("a volume on /srv/pg");
    check_owned_copy(Path::new(pg["Source"].as_str().unwrap()));
    let mut targets: Vec<&str> = mounts
        .iter()
        .map(|m| m["Destination"].as_str().unwrap())
        .collect();
    targets.sort();
    assert_eq!(targets, ["/data", "/etc", "/srv/pg"]);
    for m in &mounts {
        assert_eq!(m["Type"], "volume");
        assert_eq!(m["Name"].as_str().unwrap().len(), 64, "{m}");
    }
    let etc = mounts.iter().find(|m| m["Destination"] == "/etc").unwrap();
    let src = Path::new(etc["Source"].as_str().unwrap());
    assert!(
        src.join("passwd").is_file(),
        "the image's /etc was not copied up"
    );
    // A mount on the VOLUME's path replaces its anonymous volume.
    h.ok(&[
        "run",
        "--name",
        "mine",
        "-v",
        "myetc:/etc",
        "busybox:vol",
        "true",
    ]);
    let v = inspect(&h, &["inspect", "mine"]);
    let etc: Vec<_> = v[0]["Mounts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["Destination"] == "/etc")
        .map(|m| m["Name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(etc, ["myetc"]);
    assert_eq!(names(&h, &[]).len(), 6);
    h.ok(&["rm", "-v", "iv", "mine"]);
    assert_eq!(names(&h, &[]), ["myetc"]);
}

/// The copy-up of `/srv/pg` kept owners, modes, the xattr and the hard link.
fn check_owned_copy(data: &Path) {
    use std::os::unix::fs::MetadataExt;
    let d = std::fs::metadata(data).unwrap();
    assert_eq!((d.uid(), d.gid(), d.mode() & 0o7777), (999, 999, 0o700));
    let f = std::fs::metadata(data.join("PG_VERSION")).unwrap();
    assert_eq!((f.uid(), f.gid(), f.mode() & 0o7777), (999, 999, 0o600));
    assert_eq!(f.ino(), std::fs::metadata(data.join("link")).unwrap().ino());
    let x = hull_sys::fs::lgetxattr(&data.join("PG_VERSION"), std::ffi::OsStr::new("user.vol"));
    assert_eq!(x.unwrap().as_deref(), Some(&b"kept"[..]));
}
