//! `hull system df`: Docker's summary of images, containers, local volumes and build cache,
//! with what is active and what a prune could give back.

use hull_tests::{busybox, fixture, require_root, Hull};

/// Runs (to its exit) the container `wrote`, which writes 5000 bytes into its writable layer and
/// `volume_bytes` into the volume `used`.
fn run_writer(h: &Hull, image: &str, volume_bytes: u32) {
    let script = format!("head -c {volume_bytes} /dev/zero > /data/f; head -c 5000 /dev/zero > /x");
    h.ok(&[
        "run",
        "--name",
        "wrote",
        "-v",
        "used:/data",
        image,
        "sh",
        "-c",
        &script,
    ]);
}

#[test]
fn system_df_counts_what_is_used_and_what_is_reclaimable() {
    require_root!();
    let h = Hull::new();
    let empty = h.ok(&["system", "df"]);
    assert_eq!(
        empty,
        "TYPE            TOTAL     ACTIVE    SIZE      RECLAIMABLE\n\
         Images          0         0         0B        0B\n\
         Containers      0         0         0B        0B\n\
         Local Volumes   0         0         0B        0B\n\
         Build Cache     0         0         0B        0B\n"
    );
    let bb = busybox();
    h.ok(&["pull", "-q", &bb]);
    // An exited container with 5000 bytes in its writable layer and 100000 in a volume it
    // keeps using; a running one with nothing written; a volume nothing uses, with 3000.
    run_writer(&h, &bb, 100000);
    h.ok(&[
        "run",
        "--rm",
        "-v",
        "spare:/data",
        &bb,
        "sh",
        "-c",
        "head -c 3000 /dev/zero > /data/f",
    ]);
    h.ok(&["run", "-d", "--name", "up", &bb, "sleep", "600"]);

    let out = h.ok(&[
        "system",
        "df",
        "--format",
        "{{.Type}}|{{.TotalCount}}|{{.Active}}|{{.Size}}|{{.Reclaimable}}",
    ]);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("Images|1|1|"), "{out}");
    assert!(lines[0].ends_with("|0B (0%)"), "{out}");
    assert_eq!(lines[1], "Containers|2|1|5kB|5kB (100%)", "{out}");
    assert_eq!(lines[2], "Local Volumes|2|1|103kB|3kB (2%)", "{out}");
    assert_eq!(lines[3], "Build Cache|0|0|0B|0B", "{out}");

    // Once nothing uses the image, all of it is reclaimable.
    h.ok(&["rm", "-f", "up", "wrote"]);
    let out = h.ok(&[
        "system",
        "df",
        "--format",
        "{{.Type}} {{.Active}} {{.Reclaimable}}",
    ]);
    assert!(out.lines().next().unwrap().ends_with(" (100%)"), "{out}");
    assert!(
        out.lines().next().unwrap().starts_with("Images 0 "),
        "{out}"
    );
    assert_eq!(
        out.lines().nth(2),
        Some("Local Volumes 0 103kB (100%)"),
        "{out}"
    );
    h.ok(&["volume", "rm", "used", "spare"]);
}

/// Go's `%.4g` of a decimal size, as Docker's SHARED SIZE, UNIQUE SIZE and volume SIZE read.
fn size4(bytes: u64) -> String {
    go_size(bytes, 4)
}

/// `%.3g`, as an image's and a container's SIZE read.
fn human(bytes: u64) -> String {
    go_size(bytes, 3)
}

/// A decimal size with `digits` significant digits, trailing zeros dropped.
fn go_size(bytes: u64, digits: usize) -> String {
    let units = ["B", "kB", "MB", "GB"];
    let (mut value, mut unit) = (bytes as f64, 0);
    while value >= 1000.0 {
        value /= 1000.0;
        unit += 1;
    }
    let whole = value.max(1.0).log10().floor() as usize + 1;
    let text = format!("{value:.prec$}", prec = digits.saturating_sub(whole));
    let text = match text.contains('.') {
        true => text.trim_end_matches('0').trim_end_matches('.'),
        false => &text,
    };
    format!("{text}{}", units[unit])
}

/// The rows of the `-v` section titled `title` (its header first), cells split at the
/// three-space gaps of the table.
fn section(out: &str, title: &str) -> Vec<Vec<String>> {
    let body = out.split(title).nth(1).expect(title);
    body.trim_start_matches('\n')
        .lines()
        .take_while(|l| !l.is_empty())
        .map(|l| {
            l.split("   ")
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(String::from)
                .collect()
        })
        .collect()
}

fn image_size(h: &Hull, image: &str) -> (u64, Vec<String>) {
    let v: serde_json::Value = serde_json::from_str(&h.ok(&["image", "inspect", image])).unwrap();
    let layers = v[0]["RootFS"]["Layers"].as_array().unwrap();
    let layers = layers.iter().map(|l| l.as_str().unwrap().to_string());
    (v[0]["Size"].as_u64().unwrap(), layers.collect())
}

#[test]
fn system_df_verbose_lists_each_image_container_and_volume() {
    require_root!();
    let h = Hull::new();
    let (bb, layers) = (
        busybox(),
        format!("{}/layers:latest", fixture("HULL_TEST_REGISTRY")),
    );
    h.ok(&["pull", "-q", &bb]);
    h.ok(&["pull", "-q", &layers]);
    // `layers` is built on busybox's one layer: that layer is all the two share.
    let (bb_size, bb_layers) = image_size(&h, &bb);
    let (layers_size, layers_layers) = image_size(&h, &layers);
    assert_eq!(bb_layers.len(), 1);
    assert_eq!(layers_layers[0], bb_layers[0]);
    assert!(layers_size > bb_size, "{layers_size} {bb_size}");
    run_writer(&h, &bb, 123456);
    h.ok(&["volume", "create", "spare"]);
    h.ok(&["create", "--name", "idle", &bb, "true"]);

    let out = h.ok(&["system", "df", "-v"]);
    println!("{out}");
    let images = section(&out, "Images space usage:\n");
    assert_eq!(
        images[0].join("|"),
        "REPOSITORY|TAG|IMAGE ID|CREATED|SIZE|SHARED SIZE|UNIQUE SIZE|CONTAINERS"
    );
    let row = |repo: &str| {
        let r = images.iter().find(|r| r[0].ends_with(repo)).expect(repo);
        r[4..].join("|")
    };
    let shared = size4(bb_size);
    assert_eq!(
        row("/busybox"),
        format!("{}|{shared}|0B|2", human(bb_size)),
        "{out}"
    );
    assert_eq!(
        row("/layers"),
        format!(
            "{}|{shared}|{}|0",
            human(layers_size),
            size4(layers_size - bb_size)
        ),
        "{out}"
    );
    // The summary counts busybox's layer once, as Docker does; busybox is used, but its
    // bytes are all shared, so (Docker's rule) every byte counts as reclaimable.
    let summary = h.ok(&[
        "system",
        "df",
        "--format",
        "{{.Type}}|{{.TotalCount}}|{{.Active}}|{{.Size}}|{{.Reclaimable}}",
    ]);
    let total = human(layers_size);
    assert_eq!(
        summary.lines().next(),
        Some(format!("Images|2|1|{total}|{total} (100%)").as_str()),
        "{summary}"
    );
    let containers = section(&out, "Containers space usage:\n");
    assert_eq!(
        containers[0].join("|"),
        "CONTAINER ID|IMAGE|COMMAND|LOCAL VOLUMES|SIZE|CREATED|STATUS|NAMES"
    );
    let row = |name: &str| {
        let r = containers.iter().find(|r| r[7] == name).expect(name);
        format!("{}|{}|{}", r[3], r[4], r[6])
    };
    assert!(row("wrote").starts_with("1|5kB|Exited (0) "), "{out}");
    assert_eq!(row("idle"), "0|0B|Created", "{out}");
    assert_eq!(
        section(&out, "Local Volumes space usage:\n"),
        [
            vec!["VOLUME NAME", "LINKS", "SIZE"],
            vec!["spare", "0", "0B"],
            vec!["used", "1", "123.5kB"],
        ]
    );
    assert!(
        out.ends_with("\nBuild cache usage: 0B\n\nCACHE ID   CACHE TYPE   SIZE      CREATED   LAST USED   USAGE     SHARED\n"),
        "{out}"
    );
    let err = h.fails(&["system", "df", "-v", "--format", "json"]);
    assert!(
        err.contains("--format") && err.contains("--verbose"),
        "{err}"
    );
}
