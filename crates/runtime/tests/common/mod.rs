//! Helpers shared by the runtime's root test targets.

use std::path::PathBuf;

/// Puts the host's `cgroup.subtree_control` at `dir` back as it was: creating the container's
/// cgroup enables the controllers it may use in every ancestor, the mount's root included.
pub struct RestoreSubtreeControl {
    file: PathBuf,
    before: String,
}

impl RestoreSubtreeControl {
    pub fn new(dir: &std::path::Path) -> RestoreSubtreeControl {
        let file = dir.join("cgroup.subtree_control");
        let before = std::fs::read_to_string(&file).unwrap_or_default();
        RestoreSubtreeControl { file, before }
    }
}

impl Drop for RestoreSubtreeControl {
    fn drop(&mut self) {
        let now = std::fs::read_to_string(&self.file).unwrap_or_default();
        let was: Vec<&str> = self.before.split_whitespace().collect();
        for added in now.split_whitespace().filter(|c| !was.contains(c)) {
            if let Err(e) = std::fs::write(&self.file, format!("-{added}")) {
                eprintln!("cleanup: disable {added} in {}: {e}", self.file.display());
            }
        }
    }
}
