//! Crash safety and concurrency of `hull pull` against the real fixture registry.
//!
//! `kill -9` lands at chosen moments of a pull (found by polling the store, so the interesting
//! windows are hit deterministically rather than by luck with timers); after each kill the store
//! must satisfy its invariants, and the next pull must complete and yield the same tree as a
//! pull into a fresh store.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hull_tests::{entries, fixture, require_root, Hull};

fn image(name: &str) -> String {
    format!("{}/{name}", fixture("HULL_TEST_REGISTRY"))
}

/// How long one kill point may wait for its moment (a debug build pulls `large` in ~20 s).
const MOMENT_TIMEOUT: Duration = Duration::from_secs(120);

/// A spawned `hull` that is SIGKILLed and reaped when dropped, so a failing test never leaves it
/// running (and a reaped pid is really dead, which the temp sweep relies on).
struct Running(Option<Child>);

impl Running {
    fn spawn(mut cmd: Command) -> Running {
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        Running(Some(cmd.spawn().expect("spawn hull")))
    }

    fn child(&mut self) -> &mut Child {
        self.0.as_mut().expect("child until waited")
    }

    fn pid(&mut self) -> u32 {
        self.child().id()
    }

    /// True when the process has already exited.
    fn exited(&mut self) -> bool {
        self.child().try_wait().expect("try_wait").is_some()
    }

    /// Waits and asserts success.
    fn success(mut self, what: &str) {
        let child = self.0.take().expect("child until waited");
        let out = child.wait_with_output().expect("wait hull");
        assert!(
            out.status.success(),
            "{what} failed ({}):\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(child) = self.0.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The moments at which a pull gets `kill -9`.
#[derive(Debug, Clone, Copy)]
enum Moment {
    /// A plain delay after spawning.
    After(Duration),
    /// The pull created its first temp entry of this kind (`blob` or `layer`) under `tmp/`.
    TmpEntry(&'static str),
    /// `layers/` holds at least this many layers.
    Layers(usize),
    /// A layer blob is committed but its layer is not (yet): more layer-sized blobs than layers.
    BlobBeforeItsLayer,
    /// Every layer is committed but no image record exists yet.
    LayersButNoRecord(usize),
}

fn layer_dirs(root: &Path) -> BTreeSet<String> {
    entries(&root.join("layers")).into_iter().collect()
}

fn reached(moment: Moment, root: &Path, pid: u32, t: Instant) -> bool {
    match moment {
        Moment::After(d) => t.elapsed() >= d,
        Moment::TmpEntry(kind) => entries(&root.join("tmp"))
            .iter()
            .any(|e| e.starts_with(&format!("{pid}.")) && e.ends_with(&format!(".{kind}"))),
        Moment::Layers(n) => layer_dirs(root).len() >= n,
        Moment::BlobBeforeItsLayer => big_blobs(root) > layer_dirs(root).len(),
        Moment::LayersButNoRecord(n) => {
            layer_dirs(root).len() >= n && entries(&root.join("images")).is_empty()
        }
    }
}

/// Blobs too big to be a manifest or config: every layer blob of `large` is megabytes.
fn big_blobs(root: &Path) -> usize {
    let dir = root.join("blobs/sha256");
    entries(&dir)
        .iter()
        .filter(|b| fs::metadata(dir.join(b)).is_ok_and(|m| m.len() > 64 << 10))
        .count()
}

/// Starts `hull pull`, waits for `moment`, and SIGKILLs it. Returns false when the pull had
/// already finished on its own.
fn pull_and_kill(h: &Hull, name: &str, moment: Moment) -> bool {
    let root = h.root();
    let start = Instant::now();
    let mut pull = Running::spawn(h.command(&["pull", "-q", name]));
    let pid = pull.pid();
    loop {
        if pull.exited() {
            eprintln!("{moment:?}: the pull finished before the moment came");
            return false;
        }
        if reached(moment, &root, pid, start) {
            break;
        }
        assert!(
            start.elapsed() < MOMENT_TIMEOUT,
            "{moment:?} never came within {MOMENT_TIMEOUT:?}"
        );
        std::thread::sleep(Duration::from_micros(500));
    }
    drop(pull); // SIGKILL and reap
    eprintln!(
        "{moment:?}: killed after {:?}, {} layers committed",
        start.elapsed(),
        layer_dirs(&root).len()
    );
    true
}

fn sha256_hex(path: &Path) -> String {
    let out = Command::new("sha256sum")
        .arg(path)
        .output()
        .expect("sha256sum");
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

fn is_hex64(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn hex_of(digest: &serde_json::Value) -> String {
    let d = digest.as_str().expect("digest string");
    d.strip_prefix("sha256:")
        .expect("sha256 digest")
        .to_string()
}

/// `.<pid>.<n>.json`: the temp file of an atomic JSON write.
fn is_temp_json(name: &str) -> bool {
    // hull_sys::fs::write_atomic's temp files: `.<name>.<pid>.<n>.tmp`.
    let Some(rest) = name.strip_prefix('.').and_then(|r| r.strip_suffix(".tmp")) else {
        return false;
    };
    let mut parts = rest.rsplitn(3, '.');
    parts.next().is_some_and(|n| n.parse::<u64>().is_ok())
        && parts.next().is_some_and(|p| p.parse::<u32>().is_ok())
        && parts.next().is_some_and(|n| !n.is_empty())
}

/// The store's crash invariants: every blob hashes to its name, every layer directory is
/// complete, and every image record and tag points at things that exist.
fn assert_store_consistent(root: &Path) {
    let blobs = root.join("blobs/sha256");
    for name in entries(&blobs) {
        assert!(is_hex64(&name), "stray entry in blobs/: {name}");
        assert_eq!(
            sha256_hex(&blobs.join(&name)),
            name,
            "blob {name} does not hash to its name"
        );
    }
    for name in entries(&root.join("layers")) {
        assert!(is_hex64(&name), "stray entry in layers/: {name}");
        let meta = root.join("layers").join(&name).join("meta.json");
        let meta: serde_json::Value = serde_json::from_slice(
            &fs::read(&meta).unwrap_or_else(|e| panic!("layer {name} has no meta.json: {e}")),
        )
        .unwrap_or_else(|e| panic!("layer {name}: bad meta.json: {e}"));
        assert_eq!(hex_of(&meta["diff_id"]), name, "layer {name}: meta diff_id");
        assert!(root.join("layers").join(&name).join("diff").is_dir());
    }
    let mut ids = BTreeSet::new();
    for file in entries(&root.join("images")) {
        if is_temp_json(&file) {
            continue; // a record being written (or abandoned by a kill); never read as a record
        }
        let id = file
            .strip_suffix(".json")
            .filter(|h| is_hex64(h))
            .unwrap_or_else(|| panic!("stray entry in images/: {file}"));
        ids.insert(id.to_string());
        let record: serde_json::Value =
            serde_json::from_slice(&fs::read(root.join("images").join(&file)).unwrap()).unwrap();
        let blob_exists = |hex: &str| blobs.join(hex).is_file();
        assert!(blob_exists(id), "image {id}: config blob missing");
        if !record["manifest"].is_null() {
            let m = hex_of(&record["manifest"]);
            assert!(blob_exists(&m), "image {id}: manifest blob {m} missing");
        }
        for layer in record["layers"].as_array().unwrap() {
            let diff = hex_of(&layer["diff_id"]);
            assert!(
                root.join("layers").join(&diff).join("meta.json").is_file(),
                "image {id}: layer {diff} missing"
            );
            if !layer["blob"].is_null() {
                let b = hex_of(&layer["blob"]);
                assert!(blob_exists(&b), "image {id}: layer blob {b} missing");
            }
        }
    }
    if let Ok(bytes) = fs::read(root.join("repositories.json")) {
        let repos: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        for (tag, id) in repos["tags"].as_object().unwrap() {
            assert!(ids.contains(&hex_of(id)), "tag {tag} points at no image");
        }
    }
}

/// No temp entry of a dead process is left: not in `tmp/`, and no `.<pid>.<n>.json` temp of an
/// atomic JSON write (image record, tags) killed between create and rename.
fn assert_no_leftovers(root: &Path) {
    assert_eq!(entries(&root.join("tmp")), Vec::<String>::new(), "tmp/");
    for dir in [root.to_path_buf(), root.join("images")] {
        let temps: Vec<String> = entries(&dir)
            .into_iter()
            .filter(|e| e.starts_with('.') && is_temp_json(e))
            .collect();
        assert!(
            temps.is_empty(),
            "abandoned temp files in {}: {temps:?}",
            dir.display()
        );
    }
}

/// Every file, directory and symlink below `dir`.
fn count_tree(dir: &Path) -> usize {
    let mut n = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap().flatten() {
            n += 1;
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            }
        }
    }
    n
}

fn mounted_count(h: &Hull, name: &str) -> usize {
    let mp = PathBuf::from(h.ok(&["image", "mount", name]).trim());
    let n = count_tree(&mp);
    h.ok(&["image", "unmount", name]);
    n
}

fn layer_count(h: &Hull, name: &str) -> usize {
    let out = h.ok(&["image", "inspect", "-f", "{{json .RootFS.Layers}}", name]);
    let layers: Vec<String> = serde_json::from_str(out.trim()).unwrap();
    layers.len()
}

#[test]
fn kill_9_at_any_moment_leaves_the_store_consistent_and_the_next_pull_completes() {
    require_root!();
    let large = image("large:latest");
    // The reference pull into a fresh store runs alongside the kills.
    let reference = Hull::new();
    let reference_pull = Running::spawn(reference.command(&["pull", "-q", &large]));

    let h = Hull::new();
    let root = h.root();
    let mut moments: Vec<Moment> = [0, 5, 20, 60, 150]
        .into_iter()
        .map(|ms| Moment::After(Duration::from_millis(ms)))
        .collect();
    moments.extend([
        Moment::TmpEntry("blob"),
        Moment::TmpEntry("layer"),
        Moment::Layers(1),
        Moment::BlobBeforeItsLayer,
        Moment::Layers(3),
        Moment::Layers(5),
        Moment::LayersButNoRecord(7),
    ]);
    let mut killed = 0;
    for moment in moments {
        killed += usize::from(pull_and_kill(&h, &large, moment));
        assert_store_consistent(&root);
    }
    assert!(killed >= 8, "only {killed} pulls were killed mid-way");

    h.ok(&["pull", "-q", &large]);
    assert_store_consistent(&root);
    assert_no_leftovers(&root);
    let layers = layer_count(&h, &large);
    assert_eq!(entries(&root.join("layers")).len(), layers);
    assert_eq!(h.ok(&["images", "-q"]).lines().count(), 1);

    reference_pull.success("reference pull");
    assert_eq!(
        mounted_count(&h, &large),
        mounted_count(&reference, &large),
        "the recovered image differs from a fresh pull"
    );
}

#[test]
fn two_concurrent_pulls_of_the_same_image_both_succeed_and_store_it_once() {
    require_root!();
    // `layers` has several layers and is small enough to race a few times; both pulls download
    // and unpack every layer at once and all but one commit lose the rename.
    let name = image("layers:latest");
    for round in 0..3 {
        let h = Hull::new();
        let a = Running::spawn(h.command(&["pull", "-q", &name]));
        let b = Running::spawn(h.command(&["pull", "-q", &name]));
        a.success("first concurrent pull");
        b.success("second concurrent pull");
        let root = h.root();
        assert_store_consistent(&root);
        assert_no_leftovers(&root);
        let layers = layer_count(&h, &name);
        assert!(layers > 1, "{name} should have several layers");
        assert_eq!(entries(&root.join("layers")).len(), layers, "round {round}");
        // Each layer blob, the config and the manifest, once each.
        assert_eq!(
            entries(&root.join("blobs/sha256")).len(),
            layers + 2,
            "round {round}"
        );
        let list = h.ok(&["images"]);
        assert_eq!(list.lines().count(), 2, "round {round}: {list}");
        assert!(list.contains("layers"), "{list}");
    }
}

#[test]
fn concurrent_pulls_of_images_sharing_a_layer_both_succeed() {
    require_root!();
    for round in 0..3 {
        let h = Hull::new();
        let a = Running::spawn(h.command(&["pull", "-q", &image("busybox:latest")]));
        let b = Running::spawn(h.command(&["pull", "-q", &image("busybox:oci")]));
        a.success("pull busybox:latest");
        b.success("pull busybox:oci");
        let root = h.root();
        assert_store_consistent(&root);
        assert_no_leftovers(&root);
        assert_eq!(
            entries(&root.join("layers")).len(),
            1,
            "round {round}: the layer is stored once"
        );
        let list = h.ok(&["images"]);
        assert_eq!(list.lines().count(), 3, "round {round}: two tags: {list}");
        assert_eq!(
            h.ok(&["images", "-q"]).lines().count(),
            1,
            "round {round}: one image id"
        );
        let mp = PathBuf::from(h.ok(&["image", "mount", &image("busybox:oci")]).trim());
        assert!(mp.join("bin/busybox").is_file());
        h.ok(&["image", "unmount", &image("busybox:oci")]);
    }
}
