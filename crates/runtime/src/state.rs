//! `<state_root>/<id>/state.json`: the OCI state plus what the runtime needs later (init's start
//! time to tell a live init from a reused pid, the cgroup path). Written atomically (temp,
//! rename) but not fsynced: it only describes live processes, which a host crash ends, so losing
//! an update to a power loss costs nothing, and [`read`] takes a file that a power loss left
//! empty or torn for a stopped container. Callers hold the per-container flock ([`lock`]) around
//! read-modify-write.

use hull_sys::fs::Durability;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use crate::cgroups::CgroupVersion;
use hull_oci::runtime::{Resources, State};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Creating,
    Created,
    Running,
    /// Frozen by [`crate::Runtime::pause`] (runc's extra state).
    Paused,
    Stopped,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContainerState {
    pub id: String,
    pub status: Status,
    pub pid: Option<i32>,
    /// Field 22 of /proc/<pid>/stat when init was created.
    pub pid_start_time: Option<u64>,
    pub bundle: PathBuf,
    pub cgroup_path: Option<String>,
    /// The cgroup version `cgroup_path` was created on; later operations open it there. None in
    /// files written before hull recorded it: the host's version is detected, as it was then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cgroup_version: Option<CgroupVersion>,
    /// The systemd scope holding `cgroup_path` (systemd cgroup driver): update and delete go
    /// through systemd for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub systemd_unit: Option<String>,
    #[serde(default)]
    pub annotations: std::collections::BTreeMap<String, String>,
    /// `linux.resources` as last applied: the spec's at create, merged with each `update`
    /// (as runc keeps them in its state), so a later update starts from the current values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<Resources>,
}

impl ContainerState {
    pub fn oci(&self, status: Status) -> State {
        State {
            oci_version: hull_oci::runtime::OCI_VERSION.to_string(),
            id: self.id.clone(),
            status: status.as_str().to_string(),
            pid: self.pid,
            bundle: self.bundle.clone(),
            annotations: self.annotations.clone(),
        }
    }
}

pub const STATE_FILE: &str = "state.json";
pub const LOCK_FILE: &str = "lock";
pub const EXEC_FIFO: &str = "exec.fifo";
/// The spec as `create` read it: what the container is, whatever happens to the bundle's
/// config.json afterwards (runtime.md: later changes must not affect the container).
pub const SPEC_FILE: &str = "config.json";

/// Takes the container's exclusive lock (released when the file is dropped).
pub fn lock(dir: &Path) -> io::Result<File> {
    let path = dir.join(LOCK_FILE);
    let f = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)?;
    f.lock()?;
    Ok(f)
}

/// Reads state.json. A file that is not JSON at all (empty, cut short, zeros) can only be what
/// a power loss left of an unsynced write (a process crash never tears it, see [`write`]), so
/// it reads as a stopped container with no pid and no cgroup: whatever it described died with
/// the host. Valid JSON of the wrong shape stays an error rather than a guess.
pub fn read(dir: &Path) -> io::Result<ContainerState> {
    let bytes = std::fs::read(dir.join(STATE_FILE))?;
    match serde_json::from_slice(&bytes) {
        Ok(st) => Ok(st),
        Err(e) if torn(&e) => Ok(stopped_after_host_crash(dir)),
        Err(e) => Err(io::Error::new(io::ErrorKind::InvalidData, e)),
    }
}

/// True for errors of bytes that are not a complete JSON document (vs a document of another
/// shape).
fn torn(e: &serde_json::Error) -> bool {
    matches!(
        e.classify(),
        serde_json::error::Category::Eof | serde_json::error::Category::Syntax
    )
}

fn stopped_after_host_crash(dir: &Path) -> ContainerState {
    let id = dir.file_name().unwrap_or_default().to_string_lossy();
    ContainerState {
        id: id.into_owned(),
        status: Status::Stopped,
        pid: None,
        pid_start_time: None,
        bundle: PathBuf::new(),
        cgroup_path: None,
        cgroup_version: None,
        systemd_unit: None,
        annotations: Default::default(),
        resources: None,
    }
}

/// Writes state.json atomically: a reader sees the old or the new file, never a torn one, even
/// when the writer is killed. Not fsynced (see the module comment): a host crash may lose the
/// update or, on some file systems, leave the file torn, which [`read`] handles.
pub fn write(dir: &Path, st: &ContainerState) -> io::Result<()> {
    // The temp file of a writer killed before its rename (a cheap readdir of a small dir).
    let _ = hull_sys::fs::sweep_atomic_temps(dir);
    let bytes = serde_json::to_vec_pretty(st).map_err(io::Error::other)?;
    hull_sys::fs::write_atomic(&dir.join(STATE_FILE), &bytes, Durability::ProcessCrash)
}

/// Field 22 (starttime, in clock ticks since boot) of /proc/<pid>/stat, or None if gone.
pub fn pid_start_time(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_start_time(&stat)
}

pub fn parse_start_time(stat: &str) -> Option<u64> {
    hull_sys::process::stat_field(stat, 22)?.parse().ok()
}

/// True when `pid` exists, is not a zombie, and is the same process (same start time).
pub fn is_alive(pid: i32, start_time: Option<u64>) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    !hull_sys::process::stat_is_zombie(&stat)
        && (start_time.is_none() || parse_start_time(&stat) == start_time)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_sweeps_the_temp_of_a_writer_killed_before_its_rename() {
        let dir = tempfile::tempdir().unwrap();
        // pid 99999999 is above the kernel's largest pid_max (2^22): never alive.
        let temp = dir.path().join(".state.json.99999999.0.tmp");
        std::fs::write(&temp, b"{").unwrap();
        let st = ContainerState {
            id: "c1".into(),
            status: Status::Created,
            pid: None,
            pid_start_time: None,
            bundle: "/b".into(),
            cgroup_path: None,
            cgroup_version: None,
            systemd_unit: None,
            annotations: Default::default(),
            resources: None,
        };
        write(dir.path(), &st).unwrap();
        assert!(!temp.exists());
        assert!(dir.path().join(STATE_FILE).exists());
    }

    #[test]
    fn parses_start_time_past_a_tricky_comm() {
        let stat = "42 (a) b) S 1 42 42 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 98765 1000 10";
        assert_eq!(parse_start_time(stat), Some(98765));
    }

    #[test]
    fn our_own_process_is_alive_and_matches_its_start_time() {
        let me = std::process::id() as i32;
        let t = pid_start_time(me);
        assert!(t.is_some());
        assert!(is_alive(me, t));
        assert!(!is_alive(me, t.map(|t| t + 1)));
    }

    #[test]
    fn writes_atomically_and_reads_back() {
        let d = tempfile::tempdir().unwrap();
        let st = ContainerState {
            id: "c1".into(),
            status: Status::Created,
            pid: Some(7),
            pid_start_time: Some(1),
            bundle: "/b".into(),
            cgroup_path: None,
            cgroup_version: None,
            systemd_unit: None,
            annotations: Default::default(),
            resources: None,
        };
        let _l = lock(d.path()).unwrap();
        write(d.path(), &st).unwrap();
        assert_eq!(read(d.path()).unwrap(), st);
        let oci = st.oci(Status::Running);
        assert_eq!(oci.status, "running");
        let on_disk: serde_json::Value =
            serde_json::from_slice(&std::fs::read(d.path().join(STATE_FILE)).unwrap()).unwrap();
        assert_eq!(on_disk["status"], "created");
    }

    #[test]
    fn an_empty_or_torn_state_file_reads_as_stopped() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("c2");
        std::fs::create_dir(&dir).unwrap();
        for torn in [&b""[..], b"{\n  \"id\": \"c2\",\n  \"sta", b"\0\0\0\0"] {
            std::fs::write(dir.join(STATE_FILE), torn).unwrap();
            let st = read(&dir).unwrap();
            assert_eq!(st.status, Status::Stopped);
            assert_eq!((st.id.as_str(), st.pid, st.cgroup_path), ("c2", None, None));
        }
    }

    #[test]
    fn a_state_file_of_another_shape_is_an_error() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join(STATE_FILE), br#"{"id": 5}"#).unwrap();
        assert_eq!(
            read(d.path()).unwrap_err().kind(),
            io::ErrorKind::InvalidData
        );
    }

    #[test]
    fn the_cgroup_version_is_recorded_and_old_files_still_read() {
        let d = tempfile::tempdir().unwrap();
        let old = br#"{"id":"c3","status":"running","pid":7,"pid_start_time":1,
            "bundle":"/b","cgroup_path":"/hull/c3","annotations":{}}"#;
        std::fs::write(d.path().join(STATE_FILE), old).unwrap();
        let mut st = read(d.path()).unwrap();
        assert_eq!(st.cgroup_path.as_deref(), Some("/hull/c3"));
        assert_eq!(st.cgroup_version, None);
        st.cgroup_version = Some(CgroupVersion::V2);
        write(d.path(), &st).unwrap();
        let on_disk: serde_json::Value =
            serde_json::from_slice(&std::fs::read(d.path().join(STATE_FILE)).unwrap()).unwrap();
        assert_eq!(on_disk["cgroup_version"], "v2");
        assert_eq!(read(d.path()).unwrap(), st);
    }

    #[test]
    fn a_missing_state_file_is_not_found() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(read(d.path()).unwrap_err().kind(), io::ErrorKind::NotFound);
    }
}
