//! The processes in a cgroup: joining it, listing them, freezing and thawing, signalling.

use std::fs;
use std::io;
use std::path::Path;
use std::time::{Duration, Instant};

use super::{read_file, read_optional, stats, write_file, Cgroup, CgroupError, Dirs};

/// How long `freeze` waits for every task to reach the frozen state.
const FREEZE_PATIENCE: Duration = Duration::from_secs(5);

/// `file` (`tasks` or `cgroup.procs`) of the cgroup directory `dir`, opened for the write of
/// "0" by which a process moves itself there.
pub(super) fn open_join_file(dir: &Path, file: &str) -> Result<fs::File, CgroupError> {
    fs::OpenOptions::new()
        .write(true)
        .open(dir.join(file))
        .map_err(|source| CgroupError::Write {
            file: file.into(),
            value: "0".into(),
            dir: dir.into(),
            source,
        })
}

impl Cgroup {
    /// Moves process `pid` into the cgroup, in every hierarchy.
    pub fn add_process(&self, pid: i32) -> Result<(), CgroupError> {
        let pid = pid.to_string();
        self.distinct_dirs()
            .into_iter()
            .try_for_each(|dir| write_file(dir, "cgroup.procs", &pid))
    }

    /// v1 only (None on v2): every hierarchy's `tasks` file, opened for writing by the caller.
    /// A single-threaded process that writes "0" to them moves itself, and the kernel then
    /// skips the threadgroup rwsem write lock whose RCU synchronisation makes the first
    /// `cgroup.procs` write of a [`Cgroup::add_process`] take 5-30 ms.
    pub fn self_join_files(&self) -> Result<Option<Vec<fs::File>>, CgroupError> {
        if matches!(self.dirs, Dirs::V2 { .. }) {
            return Ok(None);
        }
        self.distinct_dirs()
            .into_iter()
            .map(|dir| open_join_file(dir, "tasks"))
            .collect::<Result<_, _>>()
            .map(Some)
    }

    /// Files through which a single-threaded process moves itself into the cgroup by writing
    /// "0": every v1 hierarchy's `tasks`, or the v2 directory's `cgroup.procs` (`exec` joins a
    /// running container's cgroup this way, before it forks the process that will execve).
    pub fn join_files(&self) -> Result<Vec<fs::File>, CgroupError> {
        if let Some(files) = self.self_join_files()? {
            return Ok(files);
        }
        open_join_file(self.distinct_dirs()[0], "cgroup.procs").map(|f| vec![f])
    }

    /// `lines` of a `/proc/<pid>/cgroup` (controllers → path) with the path of every v1
    /// hierarchy this cgroup spans replaced by the cgroup's path there: what a member process
    /// of the cgroup that was otherwise where `lines` says reads from its /proc/self/cgroup.
    pub fn member_proc_cgroup(&self, lines: Vec<(String, String)>) -> Vec<(String, String)> {
        let Dirs::V1(dirs) = &self.dirs else {
            return lines;
        };
        let ours = |controllers: &str| {
            let (mount, dir) = controllers.split(',').find_map(|c| dirs.get(c))?;
            let rel = dir.strip_prefix(mount).ok()?;
            Some(format!("/{}", rel.display()))
        };
        lines
            .into_iter()
            .map(|(c, path)| {
                let path = ours(&c).unwrap_or(path);
                (c, path)
            })
            .collect()
    }

    /// Pids of the processes in the cgroup (not in its children).
    pub fn pids(&self) -> Result<Vec<i32>, CgroupError> {
        let dir = ["pids", "memory", "freezer"]
            .iter()
            .find_map(|c| self.dir(c))
            .or_else(|| self.distinct_dirs().first().copied())
            .ok_or_else(|| CgroupError::NotFound {
                path: self.path.clone(),
            })?;
        let text = read_optional(dir, "cgroup.procs")?.unwrap_or_default();
        Ok(text.lines().filter_map(|l| l.trim().parse().ok()).collect())
    }

    /// True when the OOM killer killed a process in this cgroup (`oom_kill N` with N > 0 in
    /// v2 memory.events or v1 memory.oom_control, the latter since Linux 4.13).
    pub fn oom_killed(&self) -> Result<bool, CgroupError> {
        let file = match self.dirs {
            Dirs::V1(_) => "memory.oom_control",
            Dirs::V2 { .. } => "memory.events",
        };
        let Some(dir) = self.dir("memory") else {
            return Ok(false);
        };
        let text = read_optional(dir, file)?.unwrap_or_default();
        Ok(stats::keyed(&text, "oom_kill").is_some_and(|n| n > 0))
    }

    /// Stops every task (`hull pause`) and waits until the kernel reports them frozen.
    pub fn freeze(&self) -> Result<(), CgroupError> {
        self.set_frozen(true)
    }

    /// Resumes the tasks after [`Cgroup::freeze`].
    pub fn thaw(&self) -> Result<(), CgroupError> {
        self.set_frozen(false)
    }

    fn set_frozen(&self, frozen: bool) -> Result<(), CgroupError> {
        let (dir, file, value, state_file, want) = match &self.dirs {
            Dirs::V2 { dir, .. } => {
                let (v, want) = if frozen {
                    ("1", "frozen 1")
                } else {
                    ("0", "frozen 0")
                };
                (dir.as_path(), "cgroup.freeze", v, "cgroup.events", want)
            }
            Dirs::V1(_) => {
                let dir = self
                    .dir("freezer")
                    .ok_or_else(|| CgroupError::ControllerMissing {
                        controller: "freezer".into(),
                        file: "freezer.state".into(),
                    })?;
                let v = if frozen { "FROZEN" } else { "THAWED" };
                (dir, "freezer.state", v, "freezer.state", v)
            }
        };
        write_file(dir, file, value)?;
        let start = Instant::now();
        loop {
            if read_file(dir, state_file)?
                .lines()
                .any(|l| l.trim() == want)
            {
                return Ok(());
            }
            if start.elapsed() > FREEZE_PATIENCE {
                return Err(CgroupError::FreezeTimeout {
                    dir: dir.into(),
                    waited: start.elapsed(),
                });
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Sends `signal` to every process in the cgroup. SIGKILL on v2 uses `cgroup.kill` (Linux
    /// 5.14+), which also catches processes forked meanwhile; otherwise the cgroup is frozen (if
    /// it can be) while signalling, so nothing forks between reading the list and the kill.
    pub fn kill_all(&self, signal: i32) -> Result<(), CgroupError> {
        if let Dirs::V2 { dir, .. } = &self.dirs {
            if signal == libc::SIGKILL && dir.join("cgroup.kill").exists() {
                return write_file(dir, "cgroup.kill", "1");
            }
        }
        let sig = rustix::process::Signal::from_named_raw(signal).ok_or_else(|| {
            CgroupError::InvalidResource {
                what: "signal",
                reason: format!("{signal} is not a signal"),
            }
        })?;
        let frozen = self.freeze().is_ok();
        let result = self.signal_each(sig, signal);
        if frozen {
            self.thaw()?;
        }
        result
    }

    fn signal_each(&self, sig: rustix::process::Signal, raw: i32) -> Result<(), CgroupError> {
        for pid in self.pids()? {
            let Some(p) = rustix::process::Pid::from_raw(pid) else {
                continue;
            };
            match rustix::process::kill_process(p, sig) {
                Ok(()) | Err(rustix::io::Errno::SRCH) => {}
                Err(e) => {
                    return Err(CgroupError::Kill {
                        signal: raw,
                        pid,
                        path: self.path.clone(),
                        source: io::Error::from_raw_os_error(e.raw_os_error()),
                    })
                }
            }
        }
        Ok(())
    }
}
