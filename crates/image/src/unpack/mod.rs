//! Breakout-safe layer extraction into overlayfs-convention directories, and the reverse.
//!
//! Lifecycle: the content store hands over a verified-while-streaming reader of an (already
//! decompressed) layer tar; [`unpack`] writes it into an empty directory that later becomes an
//! overlay lower dir; the caller syncs the layer once (see [`sync_layer`]) and renames it into
//! place. [`pack`] turns such a directory back into a layer tar for `save`/`export`.
//!
//! ```no_run
//! use hull_image::unpack::{unpack, sync_layer, UnpackOptions};
//! # fn demo(reader: impl std::io::Read) -> Result<(), Box<dyn std::error::Error>> {
//! let dest = std::path::Path::new("/var/lib/hull/layers/tmp-123");
//! let stats = unpack(reader, dest, &UnpackOptions { chown: true })?;
//! sync_layer(dest)?;
//! println!("{} entries, {} bytes", stats.entries, stats.bytes);
//! # Ok(()) }
//! ```
//!
//! Security: every entry path is cleaned lexically (`..` may not climb above the root), then its
//! parent is opened by the kernel with `RESOLVE_IN_ROOT`, and the final component is only
//! touched with no-follow `*at` calls. See `hostile_tests.rs` for the attacks this must stop.

mod entry;
mod error;
mod meta;
mod pack;
mod path;
mod root;
mod whiteout;

#[cfg(test)]
mod hostile_tests;
#[cfg(test)]
mod pack_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod testutil;

use std::io::{self, Read};
use std::os::fd::AsFd;
use std::path::Path;

pub use error::{Refusal, UnpackError};
pub use pack::{pack, pack_with, PackOptions};

/// How to unpack.
#[derive(Debug, Clone, Default)]
pub struct UnpackOptions {
    /// Restore uid/gid from the archive; true when running as root.
    pub chown: bool,
}

/// What an unpack wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnpackStats {
    /// Tar entries processed (PAX global headers and long-name headers are not counted).
    pub entries: u64,
    /// Regular file bytes written.
    pub bytes: u64,
}

/// Extracts the tar stream `tar` into `dest`, an existing empty directory.
///
/// The reader is consumed to EOF even after the end-of-archive blocks, so that a digest-checking
/// wrapper sees the whole blob. On error, `dest` holds a partial layer and should be discarded.
pub fn unpack<R: Read>(
    tar: R,
    dest: &Path,
    opts: &UnpackOptions,
) -> Result<UnpackStats, UnpackError> {
    let root = root::Root::open(dest).map_err(|cause| UnpackError::Root {
        path: dest.to_owned(),
        cause,
    })?;
    let mut unpacker = entry::Unpacker::new(root, opts);
    let mut archive = tar::Archive::new(tar);
    for e in archive.entries().map_err(UnpackError::Read)? {
        let mut e = e.map_err(UnpackError::Read)?;
        unpacker.entry(&mut e)?;
    }
    let stats = unpacker.finish()?;
    io::copy(&mut archive.into_inner(), &mut io::sink()).map_err(UnpackError::Read)?;
    Ok(stats)
}

/// Flushes the whole file system holding `dir` with one `syncfs`, instead of an fsync per file.
pub fn sync_layer(dir: &Path) -> io::Result<()> {
    let fd = hull_sys::fs::open_dir(dir)?;
    hull_sys::fs::syncfs(fd.as_fd())
}
