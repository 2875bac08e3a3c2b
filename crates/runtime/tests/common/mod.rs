//! Helpers shared by the runtime's root test targets.

use std::path::{Path, PathBuf};

/// Puts the host's `cgroup.subtree_control` at `dir` back as it was: creating the container's
/// cgroup enables the controllers it may use in every ancestor, the mount's root included.
/// Not at the root of a pure-v2 host (`/sys/fs/cgroup` with controllers): there systemd, other
/// engines and the tests running beside this one use them, hull itself leaves them enabled, and
/// disabling one would pull its files from under a concurrent test's cgroup.
pub struct RestoreSubtreeControl {
    file: PathBuf,
    before: Option<String>,
}

impl RestoreSubtreeControl {
    pub fn new(dir: &Path) -> RestoreSubtreeControl {
        let file = dir.join("cgroup.subtree_control");
        let host_v2_root = dir == Path::new("/sys/fs/cgroup")
            && std::fs::read_to_string(dir.join("cgroup.controllers"))
                .is_ok_and(|c| !c.trim().is_empty());
        let before = (!host_v2_root).then(|| std::fs::read_to_string(&file).unwrap_or_default());
        RestoreSubtreeControl { file, before }
    }
}

impl Drop for RestoreSubtreeControl {
    fn drop(&mut self) {
        let Some(before) = &self.before else {
            return;
        };
        let now = std::fs::read_to_string(&self.file).unwrap_or_default();
        let was: Vec<&str> = before.split_whitespace().collect();
        for added in now.split_whitespace().filter(|c| !was.contains(c)) {
            if let Err(e) = std::fs::write(&self.file, format!("-{added}")) {
                eprintln!("cleanup: disable {added} in {}: {e}", self.file.display());
            }
        }
    }
}
