//! `hull system prune [-a]`: stopped and created containers, unused networks, dangling images
//! (with `-a` every image no container uses), in Docker's output.

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
    // A dangling image: pause, whose only tag then moves to busybox.
    let pause = format!("{}/cri/pause:latest", fixture("HULL_TEST_REGISTRY"));
    h.ok(&["pull", "-q", &pause]);
    let pause_id = image_id(&h, &pause);
    assert_ne!(pause_id, bb_id);
    h.ok(&["tag", &bb, &pause]);

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
        "Deleted Networks:\nunused\n\nDeleted Images:\ndeleted: {pause_id}\n\nTotal reclaimed space: "
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

    let err = h.fails(&["system", "prune", "--volumes"]);
    assert!(err.contains("--volumes"), "{err}");
}
