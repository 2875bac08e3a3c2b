//! The volume store `<root>/volumes/`: create, read, list and remove volumes, each step atomic
//! by a rename (see the module docs of `volume`).

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

use super::{io_err, Volume, VolumeError};
use crate::run::mounts::valid_volume_name;

const RECORD: &str = "volume.json";
const DATA: &str = "_data";

/// `hull volume create`'s request.
#[derive(Debug, Clone, Default)]
pub struct CreateRequest {
    /// None: an anonymous volume with a random 64-hex name.
    pub name: Option<String>,
    /// `-d`; only `local` exists.
    pub driver: Option<String>,
    /// `-o key=value`.
    pub options: BTreeMap<String, String>,
    /// `--label`; None for a volume made on first use.
    pub labels: Option<BTreeMap<String, String>>,
}

/// The volumes under one store root.
#[derive(Debug, Clone)]
pub struct Volumes {
    dir: PathBuf,
}

impl Volumes {
    pub fn open(root: &Path) -> Volumes {
        Volumes {
            dir: root.join("volumes"),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Now, as Docker stamps a volume's CreatedAt (RFC 3339, seconds).
    pub fn now() -> String {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        // `….000000000Z` with no fraction.
        let full = hull_image::time::format_rfc3339(secs as i64, 0);
        format!("{}Z", &full[..19])
    }

    /// Where the volume `name` keeps its data (`volumes/<name>/_data`).
    pub fn mountpoint(&self, name: &str) -> PathBuf {
        self.path(name).join(DATA)
    }

    /// Creates the volume, or returns the one of that name (false: it existed already, which
    /// Docker does not count as an error).
    pub fn create(&self, req: &CreateRequest, now: String) -> Result<(Volume, bool), VolumeError> {
        let name = match &req.name {
            Some(n) if !valid_volume_name(n) => return Err(VolumeError::InvalidName(n.clone())),
            Some(n) => n.clone(),
            None => crate::state::names::new_id().map_err(io_err("-", "random name", &self.dir))?,
        };
        check_options(&name, req)?;
        if let Ok(v) = self.get(&name) {
            return Ok((v, false));
        }
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o701)
            .create(&self.dir)
            .map_err(io_err(&name, "create directory", &self.dir))?;
        let volume = Volume {
            name: name.clone(),
            driver: "local".into(),
            created_at: now,
            // Docker shows no labels or options as null.
            labels: req.labels.clone().filter(|l| !l.is_empty()),
            options: Some(req.options.clone()).filter(|o| !o.is_empty()),
            mountpoint: self.path(&name).join(DATA),
        };
        let tmp = self.dir.join(format!(".{}.{name}.tmp", std::process::id()));
        let staged = stage(&tmp, &volume);
        let done = staged.and_then(|()| {
            test_pause("HULL_TEST_PAUSE_VOLUME_CREATE");
            fs::rename(&tmp, self.path(&name))
        });
        match done {
            Ok(()) => {
                sync_dir(&self.dir).map_err(io_err(&name, "sync", &self.dir))?;
                Ok((volume, true))
            }
            Err(e) => {
                let _ = fs::remove_dir_all(&tmp);
                // Another creator won the rename: theirs is the volume.
                self.get(&name)
                    .map(|v| (v, false))
                    .map_err(|_| VolumeError::Io {
                        name: name.clone(),
                        op: "create",
                        path: self.path(&name),
                        source: e,
                    })
            }
        }
    }

    /// The volume named `name`.
    pub fn get(&self, name: &str) -> Result<Volume, VolumeError> {
        if !valid_volume_name(name) {
            return Err(VolumeError::NotFound(name.to_string()));
        }
        let path = self.path(name).join(RECORD);
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(VolumeError::NotFound(name.to_string()))
            }
            Err(e) => return Err(io_err(name, "read", &path)(e)),
        };
        let mut v: Volume = serde_json::from_slice(&bytes)
            .map_err(|source| VolumeError::Corrupt { path, source })?;
        v.mountpoint = self.path(name).join(DATA);
        Ok(v)
    }

    /// Every volume, by name; sweeps what dead creators and removers left.
    pub fn list(&self) -> Result<Vec<Volume>, VolumeError> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_err("-", "list", &self.dir)(e)),
        };
        let mut out = Vec::new();
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                sweep_temp(&entry.path(), &name);
                continue;
            }
            match self.get(&name) {
                Ok(v) => out.push(v),
                Err(VolumeError::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Removes the volume: renamed aside first (so it is gone at once, whatever happens next),
    /// then deleted. A mount on `_data` is taken off before, so a bound host directory is never
    /// deleted through it.
    pub fn remove(&self, v: &Volume) -> Result<(), VolumeError> {
        unmount_data(&v.mountpoint);
        let from = self.path(&v.name);
        let aside = self
            .dir
            .join(format!(".{}.{}.rm.tmp", std::process::id(), v.name));
        fs::rename(&from, &aside).map_err(io_err(&v.name, "remove", &from))?;
        fs::remove_dir_all(&aside).map_err(io_err(&v.name, "remove", &aside))
    }
}

/// `_data` and the record, written and synced in the temp directory.
fn stage(tmp: &Path, volume: &Volume) -> io::Result<()> {
    fs::create_dir(tmp)?;
    fs::DirBuilder::new().mode(0o755).create(tmp.join(DATA))?;
    let bytes = serde_json::to_vec_pretty(volume).expect("volume records serialize");
    let path = tmp.join(RECORD);
    fs::write(&path, bytes)?;
    fs::File::open(&path)?.sync_all()?;
    sync_dir(tmp)
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    fs::File::open(dir)?.sync_all()
}

/// The local driver's options, checked as Docker checks them.
fn check_options(name: &str, req: &CreateRequest) -> Result<(), VolumeError> {
    let bad = |reason: String| VolumeError::BadOptions {
        name: name.to_string(),
        reason,
    };
    match req.driver.as_deref() {
        None | Some("local") => {}
        Some(d) => {
            return Err(bad(format!(
                "driver {d:?} not found: hull has only \"local\""
            )))
        }
    }
    if let Some(k) = req
        .options
        .keys()
        .find(|k| !matches!(k.as_str(), "type" | "device" | "o"))
    {
        return Err(bad(format!("invalid option: {k:?}")));
    }
    let (kind, device) = (req.options.get("type"), req.options.get("device"));
    // Docker's rules: any option needs `type`, and `type` needs `device`.
    if !req.options.is_empty() && kind.is_none() {
        return Err(bad("missing required option: \"type\"".into()));
    }
    if kind.is_some() && device.is_none() {
        return Err(bad("missing required option: \"device\"".into()));
    }
    let bind = req
        .options
        .get("o")
        .is_some_and(|o| o.split(',').any(|f| f == "bind" || f == "rbind"));
    if bind && !device.is_some_and(|d| Path::new(d).is_absolute()) {
        return Err(bad("o=bind needs device=/an/absolute/host/path".into()));
    }
    Ok(())
}

/// Takes a leftover mount off a volume's `_data` (lazily, as a dead user may hold it).
pub(crate) fn unmount_data(data: &Path) {
    while hull_sys::mount::is_mountpoint(data).unwrap_or(false) {
        if hull_sys::mount::unmount(data, true).is_err() {
            break;
        }
    }
}

/// Removes `.<pid>.<rest>.tmp` when its pid is gone.
fn sweep_temp(path: &Path, name: &str) {
    let Some(pid) = name
        .strip_prefix('.')
        .and_then(|r| r.split('.').next())
        .and_then(|p| p.parse::<u32>().ok())
    else {
        return;
    };
    if name.ends_with(".tmp") && hull_sys::process::process_is_gone(pid) {
        unmount_data(&path.join(DATA));
        let _ = fs::remove_dir_all(path);
    }
}

/// A test hook: sleeps for the seconds in `var` (so a test can kill the process mid-step).
pub(crate) fn test_pause(var: &str) {
    if let Some(secs) = std::env::var(var).ok().and_then(|s| s.parse::<u64>().ok()) {
        std::thread::sleep(std::time::Duration::from_secs(secs));
    }
}

/// The apparent size of what is below `dir` (each hard-linked file once), as `system df`
/// counts it; 0 for what cannot be read.
pub fn disk_usage(dir: &Path) -> u64 {
    let mut seen = std::collections::HashSet::new();
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let Ok(md) = e.path().symlink_metadata() else {
                continue;
            };
            if md.is_dir() {
                stack.push(e.path());
            } else if md.nlink() < 2 || seen.insert((md.dev(), md.ino())) {
                total += md.len();
            }
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(name: &str, opts: &[(&str, &str)]) -> CreateRequest {
        CreateRequest {
            name: Some(name.into()),
            options: opts
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn create_get_list_remove() {
        let tmp = tempfile::tempdir().unwrap();
        let vols = Volumes::open(tmp.path());
        let (v, new) = vols.create(&req("db", &[]), Volumes::now()).unwrap();
        assert!(new && v.mountpoint.is_dir() && v.labels.is_none() && v.options.is_none());
        assert!(!vols.create(&req("db", &[]), Volumes::now()).unwrap().1);
        std::fs::write(v.mountpoint.join("f"), b"12345").unwrap();
        assert_eq!(disk_usage(&v.mountpoint), 5);
        // A dead creator's temp is swept by the listing; a live one's is left.
        let dead = tmp.path().join("volumes/.4194305.x.tmp");
        let live = tmp
            .path()
            .join(format!("volumes/.{}.y.tmp", std::process::id()));
        std::fs::create_dir_all(&dead).unwrap();
        std::fs::create_dir_all(&live).unwrap();
        let names: Vec<_> = vols.list().unwrap().into_iter().map(|v| v.name).collect();
        assert_eq!(names, ["db"]);
        assert!(!dead.exists() && live.exists());
        vols.remove(&vols.get("db").unwrap()).unwrap();
        assert!(matches!(vols.get("db"), Err(VolumeError::NotFound(_))));
    }

    #[test]
    fn options_follow_the_local_driver() {
        let tmp = tempfile::tempdir().unwrap();
        let vols = Volumes::open(tmp.path());
        let err = |r: CreateRequest| vols.create(&r, Volumes::now()).unwrap_err().to_string();
        assert!(err(req("a", &[])).contains("invalid characters"));
        assert!(err(req("ok", &[("size", "1")])).contains("invalid option: \"size\""));
        assert!(err(req("ok", &[("type", "tmpfs")])).contains("\"device\""));
        assert!(err(req("ok", &[("o", "bind"), ("device", "/x")])).contains("\"type\""));
        let bind = [("type", "none"), ("o", "bind"), ("device", "rel")];
        assert!(err(req("ok", &bind)).contains("absolute"));
        let tmpfs = [("type", "tmpfs"), ("device", "tmpfs"), ("o", "size=1m")];
        let (v, _) = vols.create(&req("ok", &tmpfs), Volumes::now()).unwrap();
        assert!(v.is_mounted_kind() && v.option("o") == Some("size=1m"));
        assert_eq!(Volumes::now().len(), 20);
    }
}
