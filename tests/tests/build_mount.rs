//! `RUN --mount` and `hull build --secret` end to end on the fixture busybox: cache mounts
//! (persistence, sharing), binds from the context and from a stage, secrets as files and
//! variables, tmpfs, and mount points left out of the committed layer.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use hull_tests::build::{build, context};
use hull_tests::{busybox, require_root, wait_until, Hull};
use sha2::{Digest as _, Sha256};

const SECRET: &str = "s3cr3t-value-7f1c";

/// A failing build's stderr (the base image pulled first, so only the error is left).
fn build_fails(h: &Hull, ctx: &Path) -> String {
    h.ok(&["pull", &busybox()]);
    let ctx = ctx.display().to_string();
    h.fails(&["build", &ctx])
}

/// `sh -c SCRIPT` in a fresh container of `image`: stdout, or None when it fails.
fn sh(h: &Hull, image: &str, script: &str) -> Option<String> {
    let out = h.run(&["run", "--rm", image, "sh", "-c", script]);
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Asserts `path` is not in `image` (the container must run to say so).
fn absent(h: &Hull, image: &str, path: &str) {
    let script =
        format!("if test -e {path} || test -L {path}; then echo present; else echo absent; fi");
    assert_eq!(
        sh(h, image, &script).as_deref(),
        Some("absent\n"),
        "{path} is in {image}"
    );
}

/// No build container, no mount of a stage's layers and no temp dir of this store outlives a
/// build, failed or not.
fn assert_no_containers(h: &Hull) {
    assert_eq!(
        h.ok(&["ps", "-a", "-q"]).trim(),
        "",
        "build containers left"
    );
    let tmp = h.root().join("build-cache/tmp");
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let prefix = tmp.display().to_string();
    let left: Vec<&str> = mounts.lines().filter(|l| l.contains(&prefix)).collect();
    assert!(left.is_empty(), "layer mounts left: {left:?}");
    let dirs: Vec<_> = std::fs::read_dir(&tmp)
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(dirs.is_empty(), "temp dirs left: {dirs:?}");
}

#[test]
fn a_cache_mount_persists_across_builds_and_dockerfiles_and_stays_out_of_the_image() {
    require_root!();
    let h = Hull::new();
    let first = format!(
        "FROM {}\nRUN --mount=type=cache,id=shared,target=/cache echo one > /cache/f\n\
         RUN --mount=type=cache,target=/var/own,uid=1000,gid=2,mode=0700 ls -ldn /var/own > /own\n",
        busybox()
    );
    let ctx = context(&h, "c1", &[("Dockerfile", &first)]);
    build(&h, &["-t", "local/c1"], &ctx);
    // Another Dockerfile, another target, the same id: the same directory.
    let second = format!(
        "FROM {}\nRUN --mount=type=cache,id=shared,target=/elsewhere cat /elsewhere/f > /seen\n\
         RUN --mount=type=cache,target=/var/own ls -n /var/own > /own2\n",
        busybox()
    );
    let ctx = context(&h, "c2", &[("Dockerfile", &second)]);
    build(&h, &["-t", "local/c2"], &ctx);
    assert_eq!(sh(&h, "local/c2", "cat /seen").unwrap(), "one\n");
    let own = sh(&h, "local/c1", "cat /own").unwrap();
    let fields: Vec<&str> = own.split_whitespace().collect();
    assert_eq!(fields[0], "drwx------", "{own}");
    assert_eq!((fields[2], fields[3]), ("1000", "2"), "{own}");
    for p in ["/cache", "/cache/f"] {
        absent(&h, "local/c1", p);
    }
    absent(&h, "local/c2", "/elsewhere");
    assert_no_containers(&h);
}

#[test]
fn a_cache_mount_is_seeded_from_a_stage_once_and_run_network_still_applies() {
    require_root!();
    let h = Hull::new();
    let df = |n: &str| {
        format!(
            "FROM {} AS seed\nRUN mkdir /seed && echo {n} > /seed/x\nFROM {}\n\
             RUN --network=none --mount=type=cache,id=seeded,target=/s,from=seed,source=/seed \
             cat /s/x > /got && echo more >> /s/x && ls /sys/class/net > /nets\n",
            busybox(),
            busybox()
        )
    };
    let ctx = context(&h, "sd1", &[("Dockerfile", &df("first"))]);
    build(&h, &["-t", "local/sd1"], &ctx);
    assert_eq!(sh(&h, "local/sd1", "cat /got").unwrap(), "first\n");
    assert_eq!(sh(&h, "local/sd1", "cat /nets").unwrap(), "lo\n");
    // The directory exists now: a changed stage does not reseed it, and earlier writes stay.
    let ctx = context(&h, "sd2", &[("Dockerfile", &df("second"))]);
    build(&h, &["-t", "local/sd2"], &ctx);
    assert_eq!(sh(&h, "local/sd2", "cat /got").unwrap(), "first\nmore\n");
    absent(&h, "local/sd2", "/s");
    assert_no_containers(&h);
}

/// The lock file of the cache mount whose id starts with `prefix`.
fn lock_of(h: &Hull, prefix: &str) -> Option<PathBuf> {
    let dir = h.root().join("build-cache/mounts");
    std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            let n = p.file_name().unwrap().to_string_lossy();
            n.starts_with(prefix) && n.ends_with(".lock")
        })
}

/// Whether some process waits in /proc/locks for a lock on `file`.
fn someone_waits_on(file: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let ino = std::fs::metadata(file).unwrap().ino();
    let locks = std::fs::read_to_string("/proc/locks").unwrap();
    locks.lines().any(|l| {
        l.contains("->")
            && l.split_whitespace()
                .any(|f| f.ends_with(&format!(":{ino}")))
    })
}

/// Releases the holder build (a `go` file in every cache directory) and waits for every
/// build it was given, whatever the test's outcome, so no build or container outlives it.
struct Release {
    mounts: PathBuf,
    builds: Vec<std::process::Child>,
}

impl Release {
    fn release(&self) {
        for e in std::fs::read_dir(&self.mounts)
            .into_iter()
            .flatten()
            .flatten()
        {
            if e.path().is_dir() {
                let _ = std::fs::write(e.path().join("go"), "");
            }
        }
    }

    /// Waits for build `i`; true when it succeeded.
    fn wait(&mut self, i: usize) -> bool {
        self.builds[i].wait().unwrap().success()
    }
}

impl Drop for Release {
    fn drop(&mut self) {
        self.release();
        for b in &mut self.builds {
            let _ = b.wait();
        }
    }
}

fn spawn_build(h: &Hull, ctx: &Path) -> std::process::Child {
    h.command(&["build", "-q", ctx.to_str().unwrap()])
        .stdout(Stdio::null())
        .spawn()
        .unwrap()
}

/// The cache directory holding a `busy` file.
fn busy_dir(mounts: &Path) -> Option<PathBuf> {
    std::fs::read_dir(mounts)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.join("busy").exists())
}

#[test]
fn locked_sharing_waits_for_the_holder_and_private_gets_its_own_directory() {
    require_root!();
    let h = Hull::new();
    let spec = "--mount=type=cache,id=locktest,target=/c,sharing";
    let holder = format!(
        "FROM {}\nRUN {spec}=locked touch /c/busy && while [ ! -e /c/go ]; do sleep 0.1; done \
         && rm /c/busy /c/go\n",
        busybox()
    );
    let waiter = format!(
        "FROM {}\nRUN {spec}=locked test ! -e /c/busy && echo after > /c/second\n",
        busybox()
    );
    let private = format!(
        "FROM {}\nRUN {spec}=private test ! -e /c/busy && ls -A /c > /listing\n",
        busybox()
    );
    let c1 = context(&h, "l1", &[("Dockerfile", &holder)]);
    let c2 = context(&h, "l2", &[("Dockerfile", &waiter)]);
    let c3 = context(&h, "l3", &[("Dockerfile", &private)]);
    h.ok(&["pull", &busybox()]);
    let mounts = h.root().join("build-cache/mounts");
    let mut builds = Release {
        mounts: mounts.clone(),
        builds: vec![spawn_build(&h, &c1)],
    };
    wait_until("the first build holds the cache", || {
        busy_dir(&mounts).is_some()
    });
    let lock = lock_of(&h, "locktest").unwrap();
    // private: does not wait, and sees a fresh directory (no busy file).
    build(&h, &["-t", "local/private"], &c3);
    assert_eq!(sh(&h, "local/private", "cat /listing").unwrap(), "");
    builds.builds.push(spawn_build(&h, &c2));
    wait_until("the second build waits for the lock", || {
        someone_waits_on(&lock)
    });
    let dir = busy_dir(&mounts).unwrap();
    assert!(!dir.join("second").exists(), "locked let a second user in");
    builds.release();
    assert!(builds.wait(0), "the holder failed");
    assert!(builds.wait(1), "the waiter saw the holder's files");
    assert!(dir.join("second").exists());
    assert_no_containers(&h);
}

fn bind_dockerfile() -> String {
    format!(
        "FROM {} AS stage\nRUN mkdir /out && echo from-stage > /out/s.txt && echo old > /out/old\n\
         RUN rm /out/old\n\
         FROM {}\n\
         RUN --mount=type=bind,source=data,target=/mnt-ctx cat /mnt-ctx/a.txt > /r1 && \
         (touch /mnt-ctx/new 2>/dev/null && echo writable || echo read-only) > /r2\n\
         RUN --mount=type=bind,from=stage,source=/out,target=/mnt-st cat /mnt-st/s.txt > /r3 && \
         (touch /mnt-st/new 2>/dev/null && echo writable || echo read-only) >> /r3 && \
         ls /mnt-st >> /r3\n\
         RUN --mount=type=bind,source=data,target=/mnt-rw,rw touch /mnt-rw/new && ls /mnt-rw > /r4\n\
         RUN --mount=type=bind,target=/whole ls /whole > /r5\n",
        busybox(),
        busybox()
    )
}

#[test]
fn bind_mounts_from_the_context_and_a_stage_are_read_only_and_not_in_the_image() {
    require_root!();
    let h = Hull::new();
    let df = bind_dockerfile();
    let ctx = context(
        &h,
        "b1",
        &[
            ("Dockerfile", &df),
            ("data/a.txt", "A1\n"),
            ("hidden", "h\n"),
        ],
    );
    std::fs::write(ctx.join(".dockerignore"), "hidden\n").unwrap();
    build(&h, &["-t", "local/b1"], &ctx);
    assert_eq!(
        sh(&h, "local/b1", "cat /r1 /r2").unwrap(),
        "A1\nread-only\n"
    );
    assert_eq!(
        sh(&h, "local/b1", "cat /r3").unwrap(),
        "from-stage\nread-only\ns.txt\n"
    );
    assert_eq!(sh(&h, "local/b1", "cat /r4").unwrap(), "a.txt\nnew\n");
    let whole = sh(&h, "local/b1", "cat /r5").unwrap();
    assert!(
        whole.contains("data") && !whole.contains("hidden"),
        "{whole}"
    );
    assert!(
        !ctx.join("data/new").exists(),
        "an rw bind wrote into the context"
    );
    for p in ["/mnt-ctx", "/mnt-st", "/mnt-rw", "/whole"] {
        absent(&h, "local/b1", p);
    }
    // Unchanged: every step from the cache. A changed bound file reruns its step.
    let again = build(&h, &["-t", "local/b1"], &ctx);
    assert_eq!(again.matches("Using cache").count(), 6, "{again}");
    std::fs::write(ctx.join("data/a.txt"), "A2\n").unwrap();
    build(&h, &["-t", "local/b2"], &ctx);
    assert_eq!(sh(&h, "local/b2", "cat /r1").unwrap(), "A2\n");
    assert_no_containers(&h);
}

#[test]
fn a_bind_source_cannot_leave_the_context_or_the_stage() {
    require_root!();
    let h = Hull::new();
    std::fs::write(h.root().parent().unwrap().join("outside.txt"), "HOST\n").unwrap();
    for (name, spec) in [
        ("e1", "source=../outside.txt"),
        ("e2", "source=up"),
        ("e3", "source=abs/outside.txt"),
    ] {
        let df = format!(
            "FROM {}\nRUN --mount=type=bind,{spec},target=/m cat /m > /leak\n",
            busybox()
        );
        let ctx = context(&h, name, &[("Dockerfile", &df)]);
        std::os::unix::fs::symlink("../outside.txt", ctx.join("up")).unwrap();
        let parent = h.root().parent().unwrap().to_path_buf();
        std::os::unix::fs::symlink(&parent, ctx.join("abs")).unwrap();
        let err = build_fails(&h, &ctx);
        assert_eq!(err.trim().lines().count(), 1, "{spec}: {err}");
        assert!(err.contains("Dockerfile:2"), "{spec}: {err}");
    }
    // From a stage: a link to / and a climbing source stay inside the stage's tree.
    let df = format!(
        "FROM {} AS s\nRUN ln -s / /root-link && echo inside > /marker\n\
         FROM {}\nRUN --mount=type=bind,from=s,source=/root-link/../../marker,target=/m cat /m > /got\n",
        busybox(),
        busybox()
    );
    let ctx = context(&h, "e4", &[("Dockerfile", &df)]);
    build(&h, &["-t", "local/e4"], &ctx);
    assert_eq!(sh(&h, "local/e4", "cat /got").unwrap(), "inside\n");
    // A stage's file removed by a later layer is gone from the mount: one-line error.
    let df = format!(
        "FROM {} AS s\nRUN echo x > /f\nRUN rm /f\n\
         FROM {}\nRUN --mount=type=bind,from=s,source=/f,target=/m,rw cat /m\n",
        busybox(),
        busybox()
    );
    let ctx = context(&h, "e5", &[("Dockerfile", &df)]);
    let err = build_fails(&h, &ctx);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("Dockerfile:5") && err.contains("not found"),
        "{err}"
    );
    assert_no_containers(&h);
}

fn sha256_hex(s: &str) -> String {
    Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Every file below `dir` whose bytes contain `needle`.
fn files_containing(dir: &Path, needle: &[u8]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in rd.flatten() {
        let p = e.path();
        let Ok(ft) = e.file_type() else { continue };
        if ft.is_dir() {
            out.extend(files_containing(&p, needle));
        } else if ft.is_file() {
            let body = std::fs::read(&p).unwrap_or_default();
            if body.windows(needle.len()).any(|w| w == needle) {
                out.push(p);
            }
        }
    }
    out
}

#[test]
fn a_secret_is_readable_in_run_and_appears_nowhere_in_the_image_or_the_store() {
    require_root!();
    let h = Hull::new();
    let df = format!(
        "FROM {}\nRUN --mount=type=secret,id=tok sha256sum /run/secrets/tok | cut -d' ' -f1 > /sum && \
         ls -ln /run/secrets/tok | cut -c1-10 > /mode && echo visible-canary > /canary\n\
         RUN --mount=type=secret,id=viaenv,env=TOKEN printf %s \"$TOKEN\" | sha256sum | cut -d' ' -f1 > /sum2\n\
         RUN --mount=type=secret,id=absent test ! -e /run/secrets/absent\n",
        busybox()
    );
    let ctx = context(&h, "s1", &[("Dockerfile", &df)]);
    let file = h.root().parent().unwrap().join("tok.txt");
    std::fs::write(&file, SECRET).unwrap();
    let src = format!("id=tok,src={}", file.display());
    let out = h
        .command(&[
            "build",
            "-t",
            "local/s1",
            "--secret",
            &src,
            "--secret",
            "id=viaenv,env=HULL_TEST_SECRET",
            ctx.to_str().unwrap(),
        ])
        .env("HULL_TEST_SECRET", SECRET)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let want = format!("{}\n", sha256_hex(SECRET));
    assert_eq!(sh(&h, "local/s1", "cat /sum").unwrap(), want);
    assert_eq!(sh(&h, "local/s1", "cat /sum2").unwrap(), want);
    assert_eq!(sh(&h, "local/s1", "cat /mode").unwrap(), "-r--------\n");
    absent(&h, "local/s1", "/run/secrets");
    // The layers (through save), the config and the history: the canary is there, the secret not.
    let tar = h.root().parent().unwrap().join("s1.tar");
    h.ok(&["save", "-o", tar.to_str().unwrap(), "local/s1"]);
    let saved = std::fs::read(&tar).unwrap();
    let has = |hay: &[u8], n: &str| hay.windows(n.len()).any(|w| w == n.as_bytes());
    assert!(
        has(&saved, "visible-canary"),
        "the saved layers are not searchable"
    );
    assert!(!has(&saved, SECRET), "the secret is in the saved image");
    let inspect = h.ok(&["image", "inspect", "local/s1"]);
    let history = h.ok(&["history", "--no-trunc", "local/s1"]);
    assert!(history.contains("sha256sum"), "{history}");
    assert!(!inspect.contains(SECRET) && !history.contains(SECRET));
    // Nothing the store keeps (layers, blobs, records, cache) holds it.
    assert_eq!(
        files_containing(&h.root(), SECRET.as_bytes()),
        Vec::<PathBuf>::new()
    );
    assert_no_containers(&h);
}

#[test]
fn a_missing_required_secret_fails_in_one_line() {
    require_root!();
    let h = Hull::new();
    let df = format!(
        "FROM {}\nRUN --mount=type=secret,id=needed,required=true true\n",
        busybox()
    );
    let ctx = context(&h, "s2", &[("Dockerfile", &df)]);
    let err = build_fails(&h, &ctx);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("Dockerfile:2"), "{err}");
    assert!(err.contains("secret \"needed\" is required"), "{err}");
    let err = h.fails(&[
        "build",
        "--secret",
        "id=x,colour=red",
        ctx.to_str().unwrap(),
    ]);
    assert!(err.contains("--secret"), "{err}");
    assert_no_containers(&h);
}

#[test]
fn a_tmpfs_mount_starts_empty_and_is_not_committed() {
    require_root!();
    let h = Hull::new();
    let df = format!(
        "FROM {}\nRUN mkdir -p /work && echo keep > /work/keep\n\
         RUN --mount=type=tmpfs,target=/work,size=1m ls -A /work > /listing && \
         grep -q ' /work tmpfs ' /proc/mounts && echo junk > /work/junk\n\
         RUN --mount=type=tmpfs,target=/fresh/t echo x > /fresh/t/x\n",
        busybox()
    );
    let ctx = context(&h, "t1", &[("Dockerfile", &df)]);
    build(&h, &["-t", "local/t1"], &ctx);
    assert_eq!(sh(&h, "local/t1", "cat /listing").unwrap(), "");
    assert_eq!(sh(&h, "local/t1", "ls -A /work").unwrap(), "keep\n");
    absent(&h, "local/t1", "/fresh");
    assert_no_containers(&h);
}

#[test]
fn mount_points_the_runtime_made_are_left_out_but_other_writes_stay() {
    require_root!();
    let h = Hull::new();
    let df = format!(
        "FROM {}\nRUN --mount=type=cache,target=/data/mp echo x > /data/mp/x && echo kept > /data/keep\n\
         RUN --mount=type=tmpfs,target=/a/b/c true\n\
         RUN mkdir /gone && touch /gone/f\nRUN rm -r /gone\n\
         RUN --mount=type=tmpfs,target=/gone true\n\
         RUN --mount=type=bind,target=/etc/ctx-file,source=f.txt cat /etc/ctx-file > /copied\n",
        busybox()
    );
    let ctx = context(&h, "m1", &[("Dockerfile", &df), ("f.txt", "F\n")]);
    build(&h, &["-t", "local/m1"], &ctx);
    assert_eq!(
        sh(&h, "local/m1", "cat /data/keep /copied").unwrap(),
        "kept\nF\n"
    );
    // /gone: the layer that removed it decides, not the older one that made it.
    for p in ["/data/mp", "/a", "/etc/ctx-file", "/gone"] {
        absent(&h, "local/m1", p);
    }
    // A mount over a path the image has keeps that path.
    assert!(sh(&h, "local/m1", "test -d /etc").is_some());
    assert_no_containers(&h);
}

#[test]
fn run_security_insecure_is_refused_in_one_line() {
    require_root!();
    let h = Hull::new();
    let df = format!("FROM {}\nRUN --security=insecure true\n", busybox());
    let ctx = context(&h, "i1", &[("Dockerfile", &df)]);
    let err = build_fails(&h, &ctx);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("Dockerfile:2: RUN --security=insecure"),
        "{err}"
    );
}

#[test]
fn a_build_sweeps_the_layer_mounts_and_temp_dirs_a_killed_build_left() {
    require_root!();
    let h = Hull::new();
    let tmp = h.root().join("build-cache/tmp");
    // A killed builder's dir (no process has this pid: it is over pid_max) with a live mount,
    // and a running builder's (this test's pid), which must stay.
    let dead = tmp.join("hull-build-mount.999999999.k1");
    let live = tmp.join(format!("hull-build-mount.{}.k2", std::process::id()));
    let victim = h.root().parent().unwrap().join("victim");
    for d in [dead.join("merged"), live.clone(), victim.clone()] {
        std::fs::create_dir_all(d).unwrap();
    }
    std::fs::write(victim.join("keep"), "k").unwrap();
    let mounted = std::process::Command::new("mount")
        .args([
            "--bind",
            victim.to_str().unwrap(),
            dead.join("merged").to_str().unwrap(),
        ])
        .status()
        .unwrap();
    assert!(mounted.success(), "mount --bind");
    let df = format!(
        "FROM {}\nRUN --mount=type=bind,target=/m cat /m/Dockerfile > /dev/null\n",
        busybox()
    );
    let ctx = context(&h, "k", &[("Dockerfile", &df)]);
    build(&h, &["-t", "local/k"], &ctx);
    assert!(!dead.exists(), "the killed build's dir is still there");
    assert!(victim.join("keep").exists(), "removed through the mount");
    assert!(live.exists(), "a live builder's dir was swept");
    std::fs::remove_dir(&live).unwrap();
    assert_no_containers(&h);
}

#[test]
fn builder_prune_removes_the_steps_and_the_cache_mounts_no_build_uses() {
    require_root!();
    let h = Hull::new();
    let df = format!(
        "FROM {}\nRUN --mount=type=cache,id=kept,target=/c echo x >> /c/runs && cat /c/runs > /seen\n",
        busybox()
    );
    let ctx = context(&h, "bp", &[("Dockerfile", &df)]);
    build(&h, &["-t", "local/bp"], &ctx);
    assert!(build(&h, &["-t", "local/bp"], &ctx).contains("Using cache"));
    // system df counts the step entries and the cache mount, none in use.
    let line = h.ok(&[
        "system",
        "df",
        "--format",
        "{{.Type}}|{{.TotalCount}}|{{.Active}}",
    ]);
    assert!(line.contains("Build Cache|2|0"), "{line}");
    let verbose = h.ok(&["system", "df", "-v"]);
    assert!(
        verbose
            .lines()
            .any(|l| l.starts_with("kept-") && l.contains("exec.cachemount")),
        "{verbose}"
    );

    // While a build holds the mount (its lock), prune leaves it and df marks it in use.
    // The mount's directory is named by its id and a hash of it.
    let mounts = h.root().join("build-cache/mounts");
    let name = std::fs::read_dir(&mounts)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .find(|n| n.starts_with("kept-") && !n.ends_with(".lock"))
        .expect("the cache mount's directory");
    let held = std::fs::File::open(mounts.join(format!("{name}.lock"))).unwrap();
    held.lock_shared().unwrap();
    let out = h.ok(&["builder", "prune", "-f"]);
    assert!(out.starts_with("Deleted build cache objects:\n"), "{out}");
    assert!(!out.lines().any(|l| l == name), "{out}");
    assert!(h
        .ok(&["system", "df", "-v"])
        .contains(&format!("{}*", &name[..12])));
    let again = build(&h, &["-t", "local/bp"], &ctx);
    assert!(!again.contains("Using cache"), "{again}");
    assert_eq!(sh(&h, "local/bp", "cat /seen").unwrap(), "x\nx\n");

    // Once nothing holds it, prune removes it: the next build starts with an empty cache.
    drop(held);
    let out = h.ok(&["builder", "prune"]);
    assert!(out.lines().any(|l| l == name), "{out}");
    build(&h, &["-t", "local/bp"], &ctx);
    assert_eq!(sh(&h, "local/bp", "cat /seen").unwrap(), "x\n");
    // system prune removes the build cache too, as Docker's does.
    let system = h.ok(&["system", "prune", "-f"]);
    assert!(
        system.contains("Deleted build cache objects:") && system.lines().any(|l| l == name),
        "{system}"
    );
    assert_eq!(h.ok(&["builder", "prune"]), "Total reclaimed space: 0B\n");
    let line = h.ok(&[
        "system",
        "df",
        "--format",
        "{{.Type}}|{{.TotalCount}}|{{.Size}}",
    ]);
    assert!(line.contains("Build Cache|0|0B"), "{line}");
}
