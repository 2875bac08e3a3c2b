//! `hull diff` and the API's `GET /containers/{id}/changes`: what a container's writable layer
//! holds against its image, in Docker's three kinds. The overlay's upper dir is walked: a
//! whiteout (a 0/0 character device) is a deletion; any other entry is a change when the image
//! has that path, else an addition. Directories a change lies in show as changed, as Docker
//! shows them. The files hull binds over `/etc/hosts`, `/etc/hostname` and `/etc/resolv.conf`
//! leave their mount points in the upper dir; Docker keeps those in a layer of its own that
//! `diff` does not show, so they are left out here too (and a directory changed only by them).

use std::fs;
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use crate::engine::io_err;
use crate::{Engine, EngineError};

/// Docker's kinds, numbered as its API numbers them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Modified = 0,
    Added = 1,
    Deleted = 2,
}

impl ChangeKind {
    /// `C`, `A` or `D`, as `docker diff` prints it.
    pub fn letter(self) -> char {
        match self {
            ChangeKind::Modified => 'C',
            ChangeKind::Added => 'A',
            ChangeKind::Deleted => 'D',
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Absolute, inside the container.
    pub path: String,
    pub kind: ChangeKind,
}

impl Engine {
    /// The changes of the container `name` holds in its writable layer, in path order (none
    /// before its first start).
    pub fn changes(&self, name: &str) -> Result<Vec<Change>, EngineError> {
        let r = self.containers.resolve(name)?;
        let upper = self.containers.dir(&r.id).join("upper");
        let image = self.images.resolve(&r.image_id)?;
        // Top layer first: the first layer that has a path decides.
        let lowers: Vec<PathBuf> = image
            .diff_ids()
            .iter()
            .rev()
            .map(|d| self.images.layers.diff_dir(d))
            .collect();
        let mut out = Vec::new();
        match walk(&upper, Path::new("/"), &lowers, &mut out) {
            Ok(()) => Ok(out),
            Err(e) if e.kind() == io::ErrorKind::NotFound && !upper.exists() => Ok(out),
            Err(e) => Err(io_err(&r.id, "read the writable layer", &upper)(e)),
        }
    }
}

fn is_whiteout(md: &fs::Metadata) -> bool {
    md.file_type().is_char_device() && md.rdev() == 0
}

/// Whether the image's layers (top first) hold `rel`: the first layer with an entry there
/// decides, and a whiteout there means the image deleted it.
fn in_image(lowers: &[PathBuf], rel: &Path) -> bool {
    let rel = rel.strip_prefix("/").unwrap_or(rel);
    for lower in lowers {
        if let Ok(md) = fs::symlink_metadata(lower.join(rel)) {
            return !is_whiteout(&md);
        }
    }
    false
}

/// The mount points of the files hull binds into every container (see the module's doc).
pub(crate) const MOUNT_POINTS: [&str; 3] = ["/etc/hosts", "/etc/hostname", "/etc/resolv.conf"];

/// Whether the image's entry at `rel` has another mode or owner than `md`.
fn meta_differs(lowers: &[PathBuf], rel: &Path, md: &fs::Metadata) -> bool {
    let rel = rel.strip_prefix("/").unwrap_or(rel);
    let image = lowers
        .iter()
        .find_map(|l| fs::symlink_metadata(l.join(rel)).ok());
    image.is_none_or(|i| (i.mode(), i.uid(), i.gid()) != (md.mode(), md.uid(), md.gid()))
}

fn walk(dir: &Path, rel: &Path, lowers: &[PathBuf], out: &mut Vec<Change>) -> io::Result<()> {
    let mut entries = fs::read_dir(dir)?.collect::<Result<Vec<_>, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let md = e.metadata()?;
        let path = rel.join(e.file_name());
        if MOUNT_POINTS.iter().any(|m| Path::new(m) == path) {
            continue;
        }
        let kind = if is_whiteout(&md) {
            ChangeKind::Deleted
        } else if in_image(lowers, &path) {
            ChangeKind::Modified
        } else {
            ChangeKind::Added
        };
        let at = out.len();
        out.push(Change {
            path: path.display().to_string(),
            kind,
        });
        if md.is_dir() && kind != ChangeKind::Deleted {
            walk(&e.path(), &path, lowers, out)?;
            // A directory of the image that is only in the upper dir because of what it holds
            // is shown only when something inside it is.
            let empty = out.len() == at + 1;
            if kind == ChangeKind::Modified && empty && !meta_differs(lowers, &path, &md) {
                out.pop();
            }
        }
    }
    Ok(())
}
