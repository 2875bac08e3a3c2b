//! `hull system prune [-a] [--volumes]`: stopped and created containers, unused networks,
//! unused anonymous volumes, dangling images (with `-a` every image no container uses), in
//! Docker's output.

use hull_tests::{busybox, container_id_of, fixture, require_root, Hull};

fn image_id(h: &Hull, name: &str) -> String {
    h.ok(&["image", "inspect", "-f", "{{.Id}}", name])
        .trim()
        .to_string()
}

fn image_ids(h: &Hull) -> Vec<String> {
    let out = h.ok(&["images", "-q", "--no-trunc"]);
    let mut ids: Vec<String> = out.lines().map(String::from).collect();
    ids.dedup();
    ids
}

fn network_names(h: &Hull) -> String {
    h.ok(&["network", "ls", "--no-trunc"])
}

#[test]
fn system_prune_removes_what_nothing_uses_in_dockers_order() {
    require_root!();
    let h = Hull::new();
    let bb = busybox();
    h.ok(&["pull", "-q", &bb]);
    let bb_id = image_id(&h, &bb);
    // A dangling image: the fixtures' layers image, whose only tag then moves to busybox.
    let other = format!("{}/layers:latest", fixture("HULL_TEST_REGISTRY"));
    h.ok(&["pull", "-q", &other]);
    let other_id = image_id(&h, &other);
    assert_ne!(other_id, bb_id);
    h.ok(&["tag", &bb, &other]);

    h.ok(&["network", "create", "unused"]);
    h.ok(&["network", "create", "busy"]);
    h.ok(&["run", "--name", "done", &bb, "true"]);
    h.ok(&["create", "--name", "made", &bb, "true"]);
    h.ok(&[
        "run",
        "-d",
        "--name",
        "up",
        "--network",
        "busy",
        &bb,
        "sleep",
        "600",
    ]);
    let gone = [container_id_of(&h, "done"), container_id_of(&h, "made")];

    let out = h.ok(&["system", "prune", "-f"]);
    let (c0, c1) = (&gone[0], &gone[1]);
    let containers_a = format!("Deleted Containers:\n{c0}\n{c1}\n\n");
    let containers_b = format!("Deleted Containers:\n{c1}\n{c0}\n\n");
    let rest = format!(
        "Deleted Networks:\nunused\n\nDeleted Images:\ndeleted: {other_id}\n\nTotal reclaimed space: "
    );
    assert!(
        (out.starts_with(&containers_a) || out.starts_with(&containers_b))
            && out.contains(&rest)
            && out.lines().count() == 11,
        "unexpected output:\n{out}"
    );
    assert_eq!(
        h.ok(&["ps", "-a", "--format", "{{.Names}}"]).trim(),
        "up",
        "only the running container stays"
    );
    let nets = network_names(&h);
    assert!(!nets.contains("unused") && nets.contains("busy"), "{nets}");
    assert_eq!(image_ids(&h), vec![bb_id.clone()]);

    // -a: busybox stays while a container uses it, and goes with the container.
    let out = h.ok(&["system", "prune", "-a", "-f"]);
    assert_eq!(out, "Total reclaimed space: 0B\n");
    assert_eq!(image_ids(&h), vec![bb_id.clone()]);
    h.ok(&["image", "prune", "-a", "-f"]);
    assert_eq!(
        image_ids(&h),
        vec![bb_id.clone()],
        "image prune -a took a used image"
    );
    h.ok(&["rm", "-f", "up"]);
    let out = h.ok(&["system", "prune", "--all", "--force"]);
    assert!(
        out.starts_with("Deleted Networks:\nbusy\n\nDeleted Images:\n"),
        "{out}"
    );
    assert!(out.contains(&format!("untagged: {bb}\n")), "{out}");
    assert!(out.contains(&format!("deleted: {bb_id}\n")), "{out}");
    let total = out.lines().last().unwrap();
    assert!(
        total.starts_with("Total reclaimed space: ") && total != "Total reclaimed space: 0B",
        "{out}"
    );
    assert!(image_ids(&h).is_empty());
}

fn volume_names(h: &Hull) -> Vec<String> {
    let mut names: Vec<String> = h
        .ok(&["volume", "ls", "-q"])
        .lines()
        .map(String::from)
        .collect();
    names.sort();
    names
}

fn first_volume(h: &Hull, container: &str) -> String {
    let doc: serde_json::Value = serde_json::from_str(&h.ok(&["inspect", container])).unwrap();
    doc[0]["Mounts"][0]["Name"].as_str().unwrap().to_string()
}

/// `--volumes` adds anonymous volumes no container uses (Docker 23+: named ones stay, even with
/// `-a`), in their own section after the networks; without it every volume stays.
#[test]
fn system_prune_volumes_takes_unused_anonymous_volumes_only() {
    require_root!();
    let h = Hull::new();
    let bb = busybox();
    h.ok(&["pull", "-q", &bb]);
    h.ok(&["volume", "create", "named"]);
    h.ok(&["create", "--name", "left", "-v", "/data", &bb, "true"]);
    let left = first_volume(&h, "left");
    h.ok(&["rm", "left"]);
    h.ok(&[
        "run", "-d", "--name", "up", "-v", "/busy", &bb, "sleep", "600",
    ]);
    let busy = first_volume(&h, "up");
    let mut all = vec!["named".to_string(), left.clone(), busy.clone()];
    all.sort();
    assert_eq!(volume_names(&h), all, "the volumes before pruning");

    h.ok(&["system", "prune", "-f"]);
    assert_eq!(
        volume_names(&h),
        all,
        "system prune without --volumes took a volume"
    );

    let out = h.ok(&["system", "prune", "-a", "-f", "--volumes"]);
    assert!(
        out.starts_with(&format!("Deleted Volumes:\n{left}\n\n")),
        "unexpected output:\n{out}"
    );
    let mut kept = vec!["named".to_string(), busy];
    kept.sort();
    assert_eq!(volume_names(&h), kept, "a named or used volume was pruned");
    h.ok(&["rm", "-f", "-v", "up"]);
}
