//! The time namespace (runtime-spec 1.2 `linux.timeOffsets`).
//!
//! A time namespace's clock offsets can be written only until a process enters it, and a
//! process made by clone(CLONE_NEWTIME) is in it at once (with zero offsets). So init is cloned
//! without that flag and, once it is root in its user namespace (which must own the new time
//! namespace, as runc's does), runs [`enter_new`]: unshare(CLONE_NEWTIME), which makes the
//! namespace for init's children only; the offsets, through `/proc/self/timens_offsets`; then
//! setns into `/proc/self/ns/time_for_children`, so init itself, and the program it executes,
//! are in it. `exec` joins it through `/proc/<init>/ns/time` like any other namespace.

use std::collections::BTreeMap;
use std::io;

use hull_oci::runtime::{Linux, TimeOffset};
use rustix::fs::{Mode, OFlags};
use rustix::thread::LinkNameSpaceType;

/// The clocks a time namespace offsets (time_namespaces(7)).
const CLOCKS: &[&str] = &["monotonic", "boottime"];

/// Checks `linux.timeOffsets` against the namespaces: offsets need a new time namespace (a
/// joined one is someone else's, and its offsets are fixed once a process is in it).
pub fn validate(linux: &Linux) -> Result<(), String> {
    if linux.time_offsets.is_empty() {
        return Ok(());
    }
    match linux.namespaces.iter().find(|n| n.kind == "time") {
        None => {
            return Err(
                "linux.timeOffsets is set but linux.namespaces has no time namespace".into(),
            )
        }
        Some(n) if n.path.is_some() => {
            return Err(format!(
                "linux.timeOffsets is set but the time namespace is joined ({}): offsets apply \
                 only to a new one",
                n.path.as_deref().unwrap_or_else(|| "".as_ref()).display()
            ))
        }
        Some(_) => {}
    }
    for (clock, offset) in &linux.time_offsets {
        if !CLOCKS.contains(&clock.as_str()) {
            return Err(format!(
                "linux.timeOffsets: unknown clock {clock:?} (a time namespace offsets {})",
                CLOCKS.join(" and ")
            ));
        }
        if offset.nanosecs.unwrap_or(0) >= 1_000_000_000 {
            return Err(format!(
                "linux.timeOffsets.{clock}.nanosecs {} is not below one second",
                offset.nanosecs.unwrap_or(0)
            ));
        }
    }
    Ok(())
}

/// The text `/proc/<pid>/timens_offsets` takes: one `<clock> <secs> <nanosecs>` line each.
pub fn offsets_text(offsets: &BTreeMap<String, TimeOffset>) -> String {
    offsets
        .iter()
        .map(|(clock, o)| {
            format!(
                "{clock} {} {}\n",
                o.secs.unwrap_or(0),
                o.nanosecs.unwrap_or(0)
            )
        })
        .collect()
}

/// In init: makes the new time namespace, sets its offsets and moves into it (see the module
/// docs). Needs /proc (the host's is still there before pivot_root) and a single thread.
pub fn enter_new(offsets: &BTreeMap<String, TimeOffset>) -> io::Result<()> {
    hull_sys::process::unshare_time_namespace()
        .map_err(|e| io::Error::new(e.kind(), format!("unshare time namespace: {e}")))?;
    if !offsets.is_empty() {
        let path = "/proc/self/timens_offsets";
        std::fs::write(path, offsets_text(offsets))
            .map_err(|e| io::Error::new(e.kind(), format!("write {path}: {e}")))?;
    }
    let path = "/proc/self/ns/time_for_children";
    let fd = rustix::fs::open(path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
        .map_err(|e| io::Error::new(io::Error::from(e).kind(), format!("open {path}: {e}")))?;
    rustix::thread::move_into_link_name_space(
        std::os::fd::AsFd::as_fd(&fd),
        Some(LinkNameSpaceType::Time),
    )
    .map_err(|e| {
        io::Error::new(
            io::Error::from(e).kind(),
            format!("join the new time namespace: {e}"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use hull_oci::runtime::Namespace;

    fn linux(ns_path: Option<&str>, with_ns: bool, clock: &str, nanosecs: u32) -> Linux {
        let mut l = Linux::default();
        if with_ns {
            l.namespaces.push(Namespace {
                kind: "time".into(),
                path: ns_path.map(Into::into),
            });
        }
        l.time_offsets.insert(
            clock.into(),
            TimeOffset {
                secs: Some(-5),
                nanosecs: Some(nanosecs),
            },
        );
        l
    }

    #[test]
    fn offsets_need_a_new_time_namespace() {
        assert!(validate(&linux(None, true, "monotonic", 1)).is_ok());
        assert!(
            validate(&Linux::default()).is_ok(),
            "no offsets, nothing to check"
        );
        let e = validate(&linux(None, false, "monotonic", 1)).unwrap_err();
        assert!(e.contains("no time namespace"), "{e}");
        let e = validate(&linux(Some("/proc/1/ns/time"), true, "boottime", 1)).unwrap_err();
        assert!(e.contains("joined (/proc/1/ns/time)"), "{e}");
    }

    #[test]
    fn refuses_unknown_clocks_and_nanoseconds_past_a_second() {
        let e = validate(&linux(None, true, "realtime", 1)).unwrap_err();
        assert!(e.contains("unknown clock \"realtime\""), "{e}");
        let e = validate(&linux(None, true, "boottime", 1_000_000_000)).unwrap_err();
        assert!(e.contains("boottime.nanosecs 1000000000"), "{e}");
    }

    #[test]
    fn offsets_text_has_one_line_per_clock() {
        let mut l = linux(None, true, "monotonic", 7);
        l.time_offsets
            .insert("boottime".into(), TimeOffset::default());
        assert_eq!(
            offsets_text(&l.time_offsets),
            "boottime 0 0\nmonotonic -5 7\n"
        );
    }
}
