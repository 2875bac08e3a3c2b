//! `hull system df`: Docker's summary of images, containers, local volumes and build cache,
//! with what is active and what a prune could give back.

use hull_tests::{busybox, require_root, Hull};

#[test]
fn system_df_counts_what_is_used_and_what_is_reclaimable() {
    require_root!();
    let h = Hull::new();
    let empty = h.ok(&["system", "df"]);
    assert_eq!(
        empty,
        "TYPE            TOTAL   ACTIVE   SIZE   RECLAIMABLE\n\
         Images          0       0        0B     0B\n\
         Containers      0       0        0B     0B\n\
         Local Volumes   0       0        0B     0B\n\
         Build Cache     0       0        0B     0B\n"
    );
    let bb = busybox();
    h.ok(&["pull", "-q", &bb]);
    // An exited container with 5000 bytes in its writable layer and 100000 in a volume it
    // keeps using; a running one with nothing written; a volume nothing uses, with 3000.
    h.ok(&[
        "run",
        "--name",
        "wrote",
        "-v",
        "used:/data",
        &bb,
        "sh",
        "-c",
        "head -c 100000 /dev/zero > /data/f; head -c 5000 /dev/zero > /x",
    ]);
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
