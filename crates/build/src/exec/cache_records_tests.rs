use super::*;

fn store() -> (tempfile::TempDir, std::path::PathBuf) {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("build-cache");
    fs::create_dir_all(dir.join("mounts/pip/wheels")).unwrap();
    fs::write(dir.join("aa"), "sha256:1234").unwrap();
    fs::write(dir.join("bb"), "sha256:56").unwrap();
    // Being written: a temp name.
    fs::write(dir.join(".cc.1"), "sha256:78").unwrap();
    fs::write(dir.join("mounts/pip/wheels/w.whl"), vec![0u8; 1000]).unwrap();
    fs::create_dir_all(dir.join("mounts/apt")).unwrap();
    fs::write(dir.join("mounts/apt/list"), vec![0u8; 300]).unwrap();
    (root, dir)
}

#[test]
fn records_are_the_entries_and_the_mounts_with_their_sizes_and_use() {
    let root = tempfile::tempdir().unwrap();
    assert_eq!(cache_records(root.path()).unwrap(), Vec::new());
    let (root, dir) = store();
    let busy = File::create(dir.join("mounts/apt.lock")).unwrap();
    busy.lock_shared().unwrap();
    let recs = cache_records(root.path()).unwrap();
    let seen: Vec<(&str, CacheKind, u64, bool)> = recs
        .iter()
        .map(|r| (r.id.as_str(), r.kind, r.size, r.in_use))
        .collect();
    assert_eq!(
        seen,
        [
            ("aa", CacheKind::Step, 11, false),
            ("apt", CacheKind::CacheMount, 300, true),
            ("bb", CacheKind::Step, 9, false),
            ("pip", CacheKind::CacheMount, 1000, false),
        ]
    );
    assert!(recs
        .iter()
        .all(|r| r.created > 0 && r.last_used >= r.created));
    assert_eq!(CacheKind::CacheMount.docker_type(), "exec.cachemount");
}

#[test]
fn prune_removes_what_no_build_uses_and_leaves_entries_being_written() {
    let (root, dir) = store();
    let busy = File::create(dir.join("mounts/apt.lock")).unwrap();
    busy.lock_shared().unwrap();
    // What a prune killed mid-way left.
    fs::create_dir_all(dir.join("mounts/.pruned.old/x")).unwrap();
    let pruned = prune_cache(root.path()).unwrap();
    assert_eq!(pruned.keys, ["aa", "bb", "pip"]);
    assert_eq!(pruned.bytes, 11 + 9 + 1000);
    assert!(dir.join(".cc.1").exists());
    assert!(!dir.join("aa").exists() && !dir.join("mounts/pip").exists());
    assert!(!dir.join("mounts/.pruned.old").exists());
    assert!(dir.join("mounts/apt/list").exists(), "a mount in use stays");
    drop(busy);
    let pruned = prune_cache(root.path()).unwrap();
    assert_eq!(pruned.keys, ["apt"]);
    assert_eq!(prune_cache(root.path()).unwrap(), PrunedCache::default());
}
