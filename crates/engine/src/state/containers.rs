//! Container records: one directory per container under `<root>/containers`, holding
//! `container.json` (written atomically), the bundle, and the overlay upper and work dirs.
//!
//! ```text
//! containers/lock                  store-wide: held while names are checked and taken
//! containers/<id>/container.json   the Record
//! containers/<id>/lock             per-container: held for read-modify-write of the record
//! containers/<id>/running.lock     held exclusively by the `hull run`/`start` process for as
//!                                  long as the container runs; free means nobody runs it
//! containers/<id>/bundle/          config.json + rootfs/ (the overlay mount point)
//! containers/<id>/{upper,work}/    the overlay's writable layer
//! containers/<id>/{hostname,hosts,resolv.conf}
//! containers/.<id>.creating/       a new container until its record is complete (then renamed
//!                                  to <id>; swept by the next create if its creator died)
//! containers/.<id>.exit            made by a waiter on a `--rm` container's removal, which
//!                                  leaves its exit code there (swept a minute after removal)
//! ```
//!
//! A container lives while its runner holds `running.lock`, or, when the runner was killed, while
//! the runtime's state (`<root>/runtime/<id>/state.json`) names a live, started init.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use hull_runtime::state::Status as RtStatus;

use crate::run::RunConfig;
use crate::state::names;
use crate::state::record::unknown_config;
use crate::state::record::{valid_name, Record, State, Status, UNKNOWN_EXIT};

/// The suffix of a new container's directory until its record is complete.
const STAGING: &str = ".creating";
/// The suffix of the note of a removed `--rm` container's exit code.
const EXIT_NOTE: &str = ".exit";
/// How long such a note stays: any waiter looks again well within it.
const EXIT_NOTE_TTL: std::time::Duration = std::time::Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum ContainerError {
    #[error("no such container: {0}")]
    NotFound(String),
    #[error("container prefix {prefix:?} is ambiguous: matches {}", candidates.join(", "))]
    Ambiguous {
        prefix: String,
        candidates: Vec<String>,
    },
    #[error("Conflict. The container name \"/{name}\" is already in use by container \"{id}\". You have to remove (or rename) that container to be able to reuse that name.")]
    NameInUse { name: String, id: String },
    #[error("invalid container name ({0}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")]
    InvalidName(String),
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error("container record {path}: {source}")]
    Corrupt {
        path: PathBuf,
        source: serde_json::Error,
    },
}

fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> ContainerError + 'a {
    move |source| ContainerError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

/// A full container ID: 64 hex digits (a directory named otherwise is not a container).
fn is_full_id(name: &str) -> bool {
    name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A file time as RFC 3339 (UTC, seconds).
fn rfc3339(t: std::time::SystemTime) -> String {
    let secs = t
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    hull_image::time::format_rfc3339(secs as i64, 0)
}

/// The container records under one root.
#[derive(Debug, Clone)]
pub struct Containers {
    dir: PathBuf,
}

/// A held `flock`; released on drop (or by the kernel when the process dies).
#[derive(Debug)]
pub struct Lock(#[allow(dead_code)] File);

fn open_lock(path: &Path) -> Result<File, ContainerError> {
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(io_err("open lock", path))
}

/// Writes a container record durably (it must be true after a host crash).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    hull_sys::fs::write_atomic(path, bytes, hull_sys::fs::Durability::Durable)
}

/// How an update of an existing record is written. A `--rm` container's record is deleted when
/// it stops, so its updates (Running, Exited, its network) only need to survive a killed process:
/// after a host crash its record is read as Exited whether the Running update made it or not.
/// Every other record stays Durable. A new record ([`Containers::create`]) is always Durable,
/// so a host crash never leaves a container directory without a readable record.
fn save_durability(record: &Record) -> hull_sys::fs::Durability {
    match record.config.rm {
        true => hull_sys::fs::Durability::ProcessCrash,
        false => hull_sys::fs::Durability::Durable,
    }
}

impl Containers {
    pub fn open(root: &Path) -> Result<Containers, ContainerError> {
        let dir = root.join("containers");
        fs::create_dir_all(&dir).map_err(io_err("create directory", &dir))?;
        Ok(Containers { dir })
    }

    pub fn dir(&self, id: &str) -> PathBuf {
        self.dir.join(id)
    }

    pub fn bundle(&self, id: &str) -> PathBuf {
        self.dir(id).join("bundle")
    }

    pub fn rootfs(&self, id: &str) -> PathBuf {
        self.bundle(id).join("rootfs")
    }

    fn record_path(&self, id: &str) -> PathBuf {
        self.dir(id).join("container.json")
    }

    fn names_lock(&self) -> Result<Lock, ContainerError> {
        let p = self.dir.join("lock");
        let f = open_lock(&p)?;
        f.lock().map_err(io_err("lock", &p))?;
        Ok(Lock(f))
    }

    /// The per-container record lock.
    pub fn lock(&self, id: &str) -> Result<Lock, ContainerError> {
        let p = self.dir(id).join("lock");
        let f = open_lock(&p)?;
        f.lock().map_err(io_err("lock", &p))?;
        Ok(Lock(f))
    }

    /// Claims the right to run the container; None when another process runs it.
    pub fn try_claim_running(&self, id: &str) -> Result<Option<Lock>, ContainerError> {
        let p = self.dir(id).join("running.lock");
        let f = open_lock(&p)?;
        match f.try_lock() {
            Ok(()) => Ok(Some(Lock(f))),
            Err(fs::TryLockError::WouldBlock) => Ok(None),
            Err(fs::TryLockError::Error(e)) => Err(io_err("lock", &p)(e)),
        }
    }

    /// True while some process holds the container's running lock.
    pub fn is_running(&self, id: &str) -> bool {
        let p = self.dir(id).join("running.lock");
        let Ok(f) = OpenOptions::new().write(true).open(&p) else {
            return false;
        };
        matches!(f.try_lock_shared(), Err(fs::TryLockError::WouldBlock))
    }

    /// True when the container's processes live: its runner holds the running lock, or the
    /// runner was killed (-9) and the runtime's init for it still lives on, orphaned.
    pub fn is_alive(&self, id: &str) -> bool {
        self.is_running(id) || self.orphan_alive(id)
    }

    /// True when the runtime has a live, started init for the container (with no runner
    /// holding it, an orphan).
    /// Reads the runtime's state file directly: this runs for every stale record `ps` reads.
    pub fn orphan_alive(&self, id: &str) -> bool {
        let Some(root) = self.dir.parent() else {
            return false;
        };
        hull_runtime::state::read(&root.join("runtime").join(id)).is_ok_and(|st| {
            // An init still waiting to be started (Created) runs nothing of the user's.
            matches!(st.status, RtStatus::Running | RtStatus::Paused)
                && st
                    .pid
                    .is_some_and(|pid| hull_runtime::state::is_alive(pid, st.pid_start_time))
        })
    }

    /// `hull rename`: gives the container `new_name`, checked and taken under the store-wide
    /// names lock like a new container's name.
    pub fn rename(&self, name_or_id: &str, new_name: &str) -> Result<Record, ContainerError> {
        let new_name = new_name.strip_prefix('/').unwrap_or(new_name);
        if !valid_name(new_name) {
            return Err(ContainerError::InvalidName(new_name.to_string()));
        }
        let _names = self.names_lock()?;
        let record = self.resolve(name_or_id)?;
        if let Some(owner) = self.list()?.into_iter().find(|r| r.name == new_name) {
            return Err(ContainerError::NameInUse {
                name: new_name.to_string(),
                id: owner.id,
            });
        }
        self.update(&record.id, |r| r.name = new_name.to_string())
    }

    /// Creates the record of a new container (status Created), taking `name` or a generated one
    /// under the store-wide lock so two concurrent runs can never get the same name.
    pub fn create(
        &self,
        config: RunConfig,
        command: Vec<String>,
        image: &str,
        image_id: &str,
        created: String,
    ) -> Result<Record, ContainerError> {
        let _names = self.names_lock()?;
        let existing = self.list()?;
        let owner = |n: &str| existing.iter().find(|r| r.name == n).map(|r| r.id.clone());
        let name = match &config.name {
            Some(n) => match owner(n) {
                Some(id) => {
                    return Err(ContainerError::NameInUse {
                        name: n.clone(),
                        id,
                    })
                }
                None => n.clone(),
            },
            None => names::unique_name(|n| owner(n).is_some())
                .map_err(io_err("read random bytes", Path::new("/dev/urandom")))?,
        };
        let id = names::new_id().map_err(io_err("read random bytes", Path::new("/dev/urandom")))?;
        let record = Record {
            id: id.clone(),
            name,
            image: image.to_string(),
            image_id: image_id.to_string(),
            created,
            command,
            config,
            state: State::default(),
        };
        self.publish(&record)?;
        Ok(record)
    }

    /// Makes a new container's directory appear with its record in one rename, so that a
    /// process killed half-way leaves no directory without a record (which `ps` could not show
    /// nor `rm` remove), only a staging directory that the next create sweeps.
    fn publish(&self, record: &Record) -> Result<(), ContainerError> {
        self.sweep_staging();
        let staging = self.dir.join(format!(".{}{STAGING}", record.id));
        fs::create_dir_all(&staging).map_err(io_err("create directory", &staging))?;
        let p = staging.join("container.json");
        let bytes = serde_json::to_vec_pretty(record).expect("records serialize");
        write_atomic(&p, &bytes).map_err(io_err("write container record", &p))?;
        let dir = self.dir(&record.id);
        fs::rename(&staging, &dir).map_err(io_err("rename into place", &dir))
    }

    /// Removes staging directories of creates that died (only called under the names lock, which
    /// every create holds, so none of them is in progress), and exit notes past their time.
    fn sweep_staging(&self) {
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return;
        };
        for e in entries.flatten() {
            let name = e.file_name();
            let name = name.to_string_lossy();
            if name.starts_with('.') && name.ends_with(STAGING) {
                let _ = fs::remove_dir_all(e.path());
            }
            let stale = || {
                e.metadata()
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.elapsed().ok())
                    .is_some_and(|age| age > EXIT_NOTE_TTL)
            };
            // Kept while its container lives (a waiter may wait longer than the note's time).
            let owner = name.trim_start_matches('.').trim_end_matches(EXIT_NOTE);
            let gone = || !self.dir(owner).exists();
            if name.starts_with('.') && name.ends_with(EXIT_NOTE) && gone() && stale() {
                let _ = fs::remove_file(e.path());
            }
        }
    }

    /// Sweeps the staging directories of creates killed half-way when no create is in progress
    /// (the names lock is free), so they do not wait for the next create.
    fn sweep_dead_creates(&self) {
        let p = self.dir.join("lock");
        let Ok(f) = open_lock(&p) else {
            return;
        };
        if f.try_lock().is_ok() {
            self.sweep_staging();
        }
    }

    pub fn save(&self, record: &Record) -> Result<(), ContainerError> {
        let p = self.record_path(&record.id);
        let bytes = serde_json::to_vec_pretty(record).expect("records serialize");
        hull_sys::fs::write_atomic(&p, &bytes, save_durability(record))
            .map_err(io_err("write container record", &p))
    }

    /// Reads a record by full ID. A Running record whose runner is gone reads as Exited.
    pub fn load(&self, id: &str) -> Result<Record, ContainerError> {
        let p = self.record_path(id);
        let bytes = match fs::read(&p) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(ContainerError::NotFound(id.to_string()))
            }
            Err(e) => return Err(io_err("read container record", &p)(e)),
        };
        let mut r: Record = serde_json::from_slice(&bytes)
            .map_err(|source| ContainerError::Corrupt { path: p, source })?;
        // A monitor between restarts (Restarting) has no container process an orphan could be.
        let gone = match r.state.status {
            Status::Running => !self.is_alive(id),
            Status::Restarting => !self.is_running(id),
            Status::Created | Status::Exited | Status::Dead => false,
        };
        if gone {
            r.state.status = Status::Exited;
            r.state.pid = None;
            r.state.paused = false;
            // Its runner died before it could record the exit (a host reboot, kill -9): the
            // code is unknown, which Docker shows as 255.
            r.state.exit_code.get_or_insert(UNKNOWN_EXIT);
            r.state.clear_networks();
        }
        Ok(r)
    }

    /// Read-modify-write of a record under its lock.
    pub fn update(&self, id: &str, f: impl FnOnce(&mut Record)) -> Result<Record, ContainerError> {
        let _lock = self.lock(id)?;
        // What a writer killed before its rename left (a cheap readdir of a small dir).
        let _ = hull_sys::fs::sweep_atomic_temps(&self.dir(id));
        let mut r = self.load(id)?;
        f(&mut r);
        self.save(&r)?;
        Ok(r)
    }

    /// Every container, newest first.
    pub fn list(&self) -> Result<Vec<Record>, ContainerError> {
        self.sweep_dead_creates();
        let entries = fs::read_dir(&self.dir).map_err(io_err("list", &self.dir))?;
        let mut out: Vec<Record> = entries
            .flatten()
            .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
            // A directory without a record (a removal in progress) reads as NotFound and is
            // skipped here like any unreadable entry.
            .filter_map(|e| self.load_or_dead(&e.file_name().to_string_lossy()).ok())
            .collect();
        out.sort_by(|a, b| b.created.cmp(&a.created));
        Ok(out)
    }

    /// Finds a container by name, full ID or unambiguous ID prefix.
    pub fn resolve(&self, name: &str) -> Result<Record, ContainerError> {
        let name = name.strip_prefix('/').unwrap_or(name);
        // A full ID needs no listing (prune and rm of many stay linear).
        if is_full_id(name) {
            match self.load_or_dead(name) {
                Err(ContainerError::NotFound(_)) => {}
                found => return found,
            }
        }
        let all = self.list()?;
        if let Some(r) = all.iter().find(|r| r.id == name || r.name == name) {
            return Ok(r.clone());
        }
        let matches: Vec<&Record> = all.iter().filter(|r| r.id.starts_with(name)).collect();
        match matches.as_slice() {
            [one] if !name.is_empty() => Ok((*one).clone()),
            [] | [_] => Err(ContainerError::NotFound(name.to_string())),
            many => Err(ContainerError::Ambiguous {
                prefix: name.to_string(),
                candidates: many.iter().map(|r| r.short_id().to_string()).collect(),
            }),
        }
    }

    /// Reads a record like [`Containers::load`], but one that cannot be parsed reads as a dead
    /// container ([`Containers::dead_record`]) instead of an error, so that `ps` shows it and
    /// `rm` finds it.
    pub fn load_or_dead(&self, id: &str) -> Result<Record, ContainerError> {
        match self.load(id) {
            Err(ContainerError::Corrupt { .. }) if is_full_id(id) => Ok(self.dead_record(id)),
            other => other,
        }
    }

    /// What is known of a container whose record cannot be read: its ID (the directory's name)
    /// and when its directory was made. Its name is unknown, so it is named by its ID, as
    /// Docker names a container it lost the name of.
    pub fn dead_record(&self, id: &str) -> Record {
        let created = fs::metadata(self.dir(id))
            .and_then(|m| m.modified())
            .map(rfc3339)
            .unwrap_or_default();
        Record {
            id: id.to_string(),
            name: id.to_string(),
            image: String::new(),
            image_id: String::new(),
            created,
            command: Vec::new(),
            config: unknown_config(),
            state: State {
                status: Status::Dead,
                ..State::default()
            },
        }
    }

    /// Asks a `--rm` container to leave its exit code when it is removed, for a waiter on its
    /// removal (Docker's `wait?condition=removed` answers with it): an empty note, which
    /// [`Containers::leave_exit_code`] fills. Best effort.
    pub fn expect_exit_code(&self, id: &str) {
        let _ = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.exit_note(id));
    }

    /// Fills the note of a `--rm` container about to be removed, when somebody asked for it.
    pub fn leave_exit_code(&self, id: &str, code: i32) {
        let note = self.exit_note(id);
        if note.exists() {
            let _ = write_atomic(&note, code.to_string().as_bytes());
        }
    }

    /// The exit code a removed `--rm` container left, while its note lasts.
    pub fn left_exit_code(&self, id: &str) -> Option<i32> {
        fs::read_to_string(self.exit_note(id))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    fn exit_note(&self, id: &str) -> PathBuf {
        self.dir.join(format!(".{id}{EXIT_NOTE}"))
    }

    /// Removes the container's directory (record, bundle, upper and work dirs).
    pub fn remove(&self, id: &str) -> Result<(), ContainerError> {
        let dir = self.dir(id);
        match fs::remove_dir_all(&dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err("remove container directory", &dir)(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::{RealHost, RunOptions};

    fn config(name: Option<&str>) -> RunConfig {
        RunConfig::from_options(
            &RunOptions {
                image: "busybox".into(),
                name: name.map(String::from),
                ..RunOptions::default()
            },
            &RealHost,
        )
        .unwrap()
    }

    #[test]
    fn records_round_trip_and_resolve_by_name_and_prefix() {
        let dir = tempfile::tempdir().unwrap();
        let c = Containers::open(dir.path()).unwrap();
        let r = c
            .create(
                config(Some("web")),
                vec!["sh".into()],
                "busybox",
                "sha256:ab",
                "2024-01-01T00:00:00Z".into(),
            )
            .unwrap();
        assert_eq!(r.state.status, Status::Created);
        assert_eq!(c.load(&r.id).unwrap(), r);
        assert_eq!(c.resolve("web").unwrap().id, r.id);
        assert_eq!(c.resolve("/web").unwrap().id, r.id);
        assert_eq!(c.resolve(&r.id[..8]).unwrap().id, r.id);
        assert!(matches!(
            c.resolve("nope"),
            Err(ContainerError::NotFound(_))
        ));
        c.remove(&r.id).unwrap();
        assert!(c.list().unwrap().is_empty());
    }

    #[test]
    fn a_removed_containers_exit_code_stays_a_minute() {
        let d = tempfile::tempdir().unwrap();
        let c = Containers::open(d.path()).unwrap();
        c.leave_exit_code("unasked", 2);
        assert_eq!(c.left_exit_code("unasked"), None, "nobody asked: no note");
        for id in ["abc", "old", "alive"] {
            c.expect_exit_code(id);
        }
        assert_eq!(c.left_exit_code("abc"), None, "not removed yet");
        c.leave_exit_code("abc", 3);
        c.leave_exit_code("old", 4);
        assert_eq!(c.left_exit_code("abc"), Some(3));
        assert!(c.list().unwrap().is_empty(), "a note is no container");
        fs::create_dir(c.dir("alive")).unwrap();
        let long_ago = std::time::SystemTime::now() - EXIT_NOTE_TTL * 2;
        for id in ["old", "alive"] {
            let note = File::options().write(true).open(c.exit_note(id)).unwrap();
            note.set_modified(long_ago).unwrap();
        }
        c.sweep_staging();
        assert_eq!(c.left_exit_code("old"), None);
        assert_eq!(c.left_exit_code("abc"), Some(3));
        assert!(c.exit_note("alive").exists(), "its container lives");
    }

    #[test]
    fn only_rm_records_skip_fsync_on_update() {
        let d = tempfile::tempdir().unwrap();
        let c = Containers::open(d.path()).unwrap();
        let mut r = c
            .create(config(None), Vec::new(), "i", "sha256:ab", "t".into())
            .unwrap();
        assert_eq!(save_durability(&r), hull_sys::fs::Durability::Durable);
        r.config.rm = true;
        assert_eq!(save_durability(&r), hull_sys::fs::Durability::ProcessCrash);
        c.save(&r).unwrap();
        assert!(c.load(&r.id).unwrap().config.rm);
    }

    fn record_with_id(c: &Containers, id: &str, name: &str) -> Record {
        let mut r = c
            .create(config(Some(name)), Vec::new(), "i", "sha256:ab", "t".into())
            .unwrap();
        c.remove(&r.id).unwrap();
        r.id = id.to_string() + &"0".repeat(64 - id.len());
        fs::create_dir_all(c.dir(&r.id)).unwrap();
        c.save(&r).unwrap();
        r
    }

    #[test]
    fn ambiguous_prefixes_list_the_candidates_and_exact_names_win() {
        let dir = tempfile::tempdir().unwrap();
        let c = Containers::open(dir.path()).unwrap();
        let a = record_with_id(&c, "abc123", "first");
        let b = record_with_id(&c, "ab9f", "second");
        // A container named like a prefix of another's ID.
        let named = record_with_id(&c, "ffee", "ab");
        let e = c.resolve("a").unwrap_err().to_string();
        assert!(
            e.starts_with("container prefix \"a\" is ambiguous: matches "),
            "{e}"
        );
        assert!(e.contains(a.short_id()) && e.contains(b.short_id()), "{e}");
        assert_eq!(c.resolve("ab").unwrap().id, named.id);
        assert_eq!(c.resolve("abc").unwrap().id, a.id);
        assert_eq!(c.resolve(&b.id).unwrap().id, b.id);
    }

    #[test]
    fn rename_keeps_names_unique() {
        let dir = tempfile::tempdir().unwrap();
        let c = Containers::open(dir.path()).unwrap();
        let a = c
            .create(
                config(Some("old")),
                Vec::new(),
                "i",
                "sha256:ab",
                "t".into(),
            )
            .unwrap();
        c.create(
            config(Some("taken")),
            Vec::new(),
            "i",
            "sha256:ab",
            "t".into(),
        )
        .unwrap();
        let e = c.rename("old", "taken").unwrap_err();
        assert!(matches!(e, ContainerError::NameInUse { .. }), "{e}");
        assert!(matches!(
            c.rename("old", "bad name"),
            Err(ContainerError::InvalidName(_))
        ));
        assert_eq!(c.rename("old", "/new").unwrap().name, "new");
        assert_eq!(c.resolve("new").unwrap().id, a.id);
        assert!(c.resolve("old").is_err());
    }

    #[test]
    fn a_running_record_whose_runtime_init_lives_reads_as_running() {
        let dir = tempfile::tempdir().unwrap();
        let c = Containers::open(dir.path()).unwrap();
        let r = c
            .create(config(None), Vec::new(), "i", "sha256:ab", "t".into())
            .unwrap();
        c.save(&Record {
            state: State {
                status: Status::Running,
                ..r.state.clone()
            },
            ..r.clone()
        })
        .unwrap();
        assert_eq!(c.load(&r.id).unwrap().state.status, Status::Exited);
        assert_eq!(c.load(&r.id).unwrap().state.exit_code, Some(UNKNOWN_EXIT));
        // The runtime's state of an init that lives on: this test process stands in for it.
        let me = std::process::id() as i32;
        let rt_dir = dir.path().join("runtime").join(&r.id);
        fs::create_dir_all(&rt_dir).unwrap();
        let mut st = hull_runtime::state::ContainerState {
            id: r.id.clone(),
            status: RtStatus::Running,
            pid: Some(me),
            pid_start_time: hull_runtime::state::pid_start_time(me),
            bundle: PathBuf::from("/"),
            cgroup_path: None,
            cgroup_version: None,
            systemd_unit: None,
            annotations: Default::default(),
            resources: None,
        };
        hull_runtime::state::write(&rt_dir, &st).unwrap();
        assert!(c.orphan_alive(&r.id));
        assert_eq!(c.load(&r.id).unwrap().state.status, Status::Running);
        // A reused pid (another start time) is not the init.
        st.pid_start_time = st.pid_start_time.map(|t| t + 1);
        hull_runtime::state::write(&rt_dir, &st).unwrap();
        assert_eq!(c.load(&r.id).unwrap().state.status, Status::Exited);
    }

    #[test]
    fn a_create_that_died_half_way_leaves_nothing_listed_and_is_swept() {
        let dir = tempfile::tempdir().unwrap();
        let c = Containers::open(dir.path()).unwrap();
        let dead = dir
            .path()
            .join("containers")
            .join(format!(".{}{STAGING}", "f".repeat(64)));
        fs::create_dir_all(&dead).unwrap();
        fs::write(dead.join("container.json"), b"{").unwrap();
        assert!(c.list().unwrap().is_empty());
        let r = c
            .create(config(None), Vec::new(), "i", "sha256:ab", "t".into())
            .unwrap();
        assert!(!dead.exists());
        assert_eq!(c.list().unwrap(), vec![r]);
    }

    #[test]
    fn a_record_that_cannot_be_parsed_lists_as_dead_named_by_its_id() {
        let dir = tempfile::tempdir().unwrap();
        let c = Containers::open(dir.path()).unwrap();
        let r = c
            .create(
                config(Some("torn")),
                Vec::new(),
                "i",
                "sha256:ab",
                "t".into(),
            )
            .unwrap();
        for garbage in [&b""[..], b"{\"id\": \"ab", b"\0\0\0"] {
            fs::write(c.record_path(&r.id), garbage).unwrap();
            assert!(matches!(c.load(&r.id), Err(ContainerError::Corrupt { .. })));
            let listed = c.list().unwrap();
            assert_eq!(listed.len(), 1);
            assert_eq!(listed[0].id, r.id);
            assert_eq!(listed[0].name, r.id);
            assert_eq!(listed[0].state.status, Status::Dead);
            assert!(!listed[0].created.is_empty());
            assert_eq!(c.resolve(&r.id).unwrap().state.status, Status::Dead);
            assert_eq!(c.resolve(&r.id[..8]).unwrap().state.status, Status::Dead);
            assert!(matches!(
                c.resolve("torn"),
                Err(ContainerError::NotFound(_))
            ));
        }
        // Never rewritten from what was read back: updates still fail.
        assert!(c.update(&r.id, |_| {}).is_err());
        c.remove(&r.id).unwrap();
        assert!(c.list().unwrap().is_empty());
    }

    #[test]
    fn only_a_container_id_directory_reads_as_dead() {
        let dir = tempfile::tempdir().unwrap();
        let c = Containers::open(dir.path()).unwrap();
        let stray = dir.path().join("containers").join("not-an-id");
        fs::create_dir_all(&stray).unwrap();
        fs::write(stray.join("container.json"), b"{").unwrap();
        assert!(c.list().unwrap().is_empty());
    }

    /// A pid above the kernel's largest pid_max (2^22): never alive.
    const DEAD_PID: u32 = 99_999_999;

    #[test]
    fn temp_files_of_killed_writers_go_with_list_and_update() {
        let dir = tempfile::tempdir().unwrap();
        let c = Containers::open(dir.path()).unwrap();
        let r = c
            .create(config(None), Vec::new(), "i", "sha256:ab", "t".into())
            .unwrap();
        let staging = dir
            .path()
            .join("containers")
            .join(format!(".{}{STAGING}", "f".repeat(64)));
        fs::create_dir_all(&staging).unwrap();
        let staged_temp = staging.join(format!(".container.json.{DEAD_PID}.0.tmp"));
        fs::write(&staged_temp, b"{").unwrap();
        let temp = c
            .dir(&r.id)
            .join(format!(".container.json.{DEAD_PID}.3.tmp"));
        fs::write(&temp, b"{").unwrap();
        let live = c
            .dir(&r.id)
            .join(format!(".container.json.{}.9.tmp", std::process::id()));
        fs::write(&live, b"{").unwrap();
        assert_eq!(c.list().unwrap(), vec![r.clone()]);
        assert!(!staging.exists(), "list sweeps a dead create's staging dir");
        c.update(&r.id, |_| {}).unwrap();
        assert!(!temp.exists(), "update sweeps a dead writer's temp");
        assert!(live.exists(), "a live writer's temp stays");
    }

    #[test]
    fn names_are_unique() {
        let dir = tempfile::tempdir().unwrap();
        let c = Containers::open(dir.path()).unwrap();
        let first = c
            .create(config(Some("x1")), Vec::new(), "i", "sha256:ab", "t".into())
            .unwrap();
        let e = c
            .create(config(Some("x1")), Vec::new(), "i", "sha256:ab", "t".into())
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "Conflict. The container name \"/x1\" is already in use by container \"{}\". You have to remove (or rename) that container to be able to reuse that name.",
                first.id
            )
        );
        let a = c
            .create(config(None), Vec::new(), "i", "sha256:ab", "t".into())
            .unwrap();
        let b = c
            .create(config(None), Vec::new(), "i", "sha256:ab", "t".into())
            .unwrap();
        assert_ne!(a.name, b.name);
    }

    #[test]
    fn a_running_record_without_a_runner_reads_as_exited() {
        let dir = tempfile::tempdir().unwrap();
        let c = Containers::open(dir.path()).unwrap();
        let r = c
            .create(config(None), Vec::new(), "i", "sha256:ab", "t".into())
            .unwrap();
        let claim = c.try_claim_running(&r.id).unwrap().expect("free");
        assert!(
            c.try_claim_running(&r.id).unwrap().is_none(),
            "second claim fails"
        );
        c.update(&r.id, |r| {
            r.state.status = Status::Running;
            r.state.pid = Some(1);
        })
        .unwrap();
        assert!(c.is_running(&r.id));
        assert_eq!(c.load(&r.id).unwrap().state.status, Status::Running);
        drop(claim);
        assert!(!c.is_running(&r.id));
        let back = c.load(&r.id).unwrap();
        assert_eq!(back.state.status, Status::Exited);
        assert_eq!(back.state.pid, None);
    }
}
