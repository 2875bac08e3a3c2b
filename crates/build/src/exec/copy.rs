//! COPY and ADD (local sources): a layer tar written directly, then stored as the next layer.
//!
//! Files keep their mode and mtime, owners are 0:0 unless `--chown=USER[:GROUP]` (numbers, or
//! names from the image's /etc/passwd and /etc/group), `--chmod=OCTAL` replaces modes. Missing
//! parents of a destination are added as 0755 directories. `--from` copies from a built stage or an image: the named paths are
//! first merged out of its layer directories (lowest first) into a temporary directory.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File, Metadata};
use std::io::{Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use hull_oci::image::History;

use super::{fail, lookup_fn, now, BuildError, Builder, Current};
use crate::context::Context;
use crate::dest::{plan, DestRequest};
use crate::dockerfile::{Copy, Dockerfile, Heredoc, Source};
use crate::ignore::DockerIgnore;

struct Owner {
    uid: u64,
    gid: u64,
    mode: Option<u32>,
}

impl Builder<'_> {
    pub(super) fn copy(
        &mut self,
        file: &Dockerfile,
        cur: Current,
        c: &Copy,
        kw: &str,
        line: usize,
        args: &BTreeMap<String, String>,
    ) -> Result<Current, BuildError> {
        let at = |m: String| fail(format!("{kw} (Dockerfile:{line}): {m}"));
        let lookup = lookup_fn(&cur, args);
        let dest = self.expand(&c.dest, &lookup, line)?;
        let (patterns, heredocs) = self.split_sources(c, &lookup, line)?;
        let (urls, patterns) = self.urls_of(c, kw, patterns, line)?;
        let ids = |file: &str, name: &str| self.id_of(&cur, file, name);
        let owner = owner(c, &lookup, self.escape, &ids).map_err(at)?;
        let workdir = workdir_of(&cur);
        let (_tmp, from_ctx) = match &c.flags.from {
            Some(f) => {
                let (tmp, ctx) =
                    self.other_stage_sources(file, f, &lookup, &patterns, line, &at)?;
                (Some(tmp), Some(ctx))
            }
            None => (None, None),
        };
        let ctx = from_ctx.as_ref().unwrap_or(self.context);
        let abs_dest = super::config::join(if workdir.is_empty() { "/" } else { &workdir }, &dest);
        let req = DestRequest {
            instr: kw,
            dest: &dest,
            workdir: &workdir,
            args: c.sources.len(),
            exists_as_dir: self.is_dir(&cur, &abs_dest),
        };
        let steps = local_steps(ctx, &req, &patterns).map_err(at)?;
        let into_dir = abs_dest.ends_with('/') || c.sources.len() > 1;
        let fetched = self.fetched(&urls, c, &abs_dest, into_dir, kw, line)?;
        let mut tar = Tar {
            b: tar::Builder::new(tempfile::tempfile().map_err(|e| at(e.to_string()))?),
            seen: BTreeSet::new(),
            owner,
        };
        let mut w = || -> std::io::Result<()> {
            for s in &steps {
                let full = ctx.root().join(&s.source);
                if kw == "ADD" && c.flags.from.is_none() && is_archive(&full) {
                    let into = match abs_dest.ends_with('/') || c.sources.len() > 1 {
                        true => s.dest.rsplit_once('/').map(|p| p.0).unwrap_or("/"),
                        false => s.dest.as_str(),
                    };
                    self.parents(&cur, &mut tar, &format!("{into}/x"))?;
                    tar.extract(&full, into)?;
                    continue;
                }
                self.parents(&cur, &mut tar, &s.dest)?;
                tar.tree(ctx, &s.source, &s.dest)?;
            }
            for (d, target) in &fetched {
                self.parents(&cur, &mut tar, target)?;
                tar.file(&d.path, target, 0o600)?;
            }
            for h in &heredocs {
                let target = if abs_dest.ends_with('/') {
                    format!("{abs_dest}{}", h.name)
                } else {
                    abs_dest.clone()
                };
                self.parents(&cur, &mut tar, &target)?;
                tar.data(&target, h.body.as_bytes())?;
            }
            Ok(())
        };
        w().map_err(|e| at(format!("write the layer: {e}")))?;
        let f = tar.b.into_inner().map_err(|e| at(e.to_string()))?;
        self.add_layer(cur, f, line).map_err(at)
    }

    /// Stores the layer tar `f` on top of `cur`, with the instruction's history entry, and the
    /// resulting image.
    fn add_layer(
        &self,
        mut cur: Current,
        mut f: std::fs::File,
        line: usize,
    ) -> Result<Current, String> {
        f.seek(SeekFrom::Start(0)).map_err(|e| e.to_string())?;
        let new = self
            .engine
            .images
            .add_layer_from_tar(f)
            .map_err(|e| format!("store the layer: {e}"))?;
        let text = self.source_line(line);
        cur.config.rootfs.diff_ids.push(new.layer.diff_id.clone());
        cur.config.history.push(History {
            created: Some(now()),
            created_by: Some(format!("/bin/sh -c #(nop) {text}")),
            author: None,
            comment: None,
            empty_layer: None,
        });
        cur.layers.push(new.layer);
        let id = self
            .engine
            .images
            .add_local_image(&cur.config, cur.layers.clone(), &[])
            .map_err(|e| format!("store the image: {e}"))?;
        cur.id = Some(id);
        Ok(cur)
    }

    /// `--from=stage|image`: the sources copied out of that stage's or image's tree into a
    /// private directory, as a context of their own.
    fn other_stage_sources(
        &self,
        file: &Dockerfile,
        from: &str,
        lookup: &dyn Fn(&str) -> Option<String>,
        patterns: &[String],
        line: usize,
        at: &dyn Fn(String) -> BuildError,
    ) -> Result<(tempfile::TempDir, Context), BuildError> {
        let name = self.expand(from, lookup, line)?;
        let src = match super::stage_by_name(file, &name).and_then(|i| self.done.get(&i)) {
            Some(s) => s.clone(),
            None => self.image(&name, line)?,
        };
        self.materialize(&src, patterns).map_err(at)
    }

    /// The sources of a COPY/ADD: path patterns (substituted) and heredocs.
    fn split_sources(
        &self,
        c: &Copy,
        lookup: &dyn Fn(&str) -> Option<String>,
        line: usize,
    ) -> Result<(Vec<String>, Vec<Heredoc>), BuildError> {
        let mut patterns = Vec::new();
        let mut heredocs = Vec::new();
        for s in &c.sources {
            match s {
                Source::Path(p) => patterns.push(self.expand(p, lookup, line)?),
                // An unquoted delimiter's body has its variables substituted (BuildKit).
                Source::Heredoc(h) if h.expand => {
                    let body =
                        crate::dockerfile::subst::expand_heredoc(&h.body, self.escape, lookup)
                            .map_err(|e| fail(format!("Dockerfile:{line}: {e}")))?;
                    heredocs.push(Heredoc { body, ..h.clone() });
                }
                Source::Heredoc(h) => heredocs.push(h.clone()),
            }
        }
        Ok((patterns, heredocs))
    }

    /// The topmost layer's entry at `path`, if any.
    fn lookup_path(&self, cur: &Current, path: &str) -> Option<Metadata> {
        self.in_layers(cur, path).map(|(_, m)| m)
    }

    /// Where `path` of the image is on the host and what it is: links resolved inside the
    /// image (never through the host's tree), the topmost layer that has it, None when it is
    /// missing or a whiteout removed it.
    fn in_layers(&self, cur: &Current, path: &str) -> Option<(PathBuf, Metadata)> {
        let dirs = self.layer_dirs(cur);
        let rel = super::mounts::resolve_in_layers(&dirs, path)?;
        // Topmost first: the first layer that holds the path has it; a whiteout or an opaque
        // directory on the way hides the layers below.
        for d in dirs.iter().rev() {
            let view = layer_view(d, &rel);
            if view.link_above {
                continue;
            }
            if view.entry.is_some() {
                return view.entry;
            }
            if view.hides_below {
                return None;
            }
        }
        None
    }

    /// The ID of `name` in the image's `/etc/passwd` or `/etc/group` (third field).
    fn id_of(&self, cur: &Current, file: &str, name: &str) -> Option<u64> {
        let (at, meta) = self.in_layers(cur, file)?;
        if !meta.is_file() {
            return None;
        }
        let text = fs::read_to_string(at).ok()?;
        text.lines()
            .map(|l| l.split(':').collect::<Vec<_>>())
            .find(|f| f.len() > 2 && f[0] == name)
            .and_then(|f| f[2].parse().ok())
    }

    fn is_dir(&self, cur: &Current, path: &str) -> bool {
        path.trim_matches('/').is_empty() || self.lookup_path(cur, path).is_some_and(|m| m.is_dir())
    }

    /// Directory entries for the missing parents of `dest`.
    fn parents(&self, cur: &Current, tar: &mut Tar, dest: &str) -> std::io::Result<()> {
        let mut acc = String::new();
        let parts: Vec<&str> = dest.split('/').filter(|p| !p.is_empty()).collect();
        for p in parts.iter().take(parts.len().saturating_sub(1)) {
            acc.push('/');
            acc.push_str(p);
            if !self.is_dir(cur, &acc) {
                tar.dir(&acc, 0o755, 0)?;
            }
        }
        Ok(())
    }

    /// The `patterns` of image `src` merged out of its layers into a temporary context.
    fn materialize(
        &self,
        src: &Current,
        patterns: &[String],
    ) -> Result<(tempfile::TempDir, Context), String> {
        let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
        let dirs = self.layer_dirs(src);
        for pattern in patterns {
            // A wildcard is matched later, in the temp context: what is merged out here is the
            // directory above the first component that has one (the whole tree for `/*`).
            let p = &wildcard_free_prefix(pattern);
            // Links in the stage's tree resolve inside it, never on the host: the path is
            // resolved over the layers first, and a layer where a parent of it is a link (one
            // an upper layer replaced) is skipped rather than followed.
            let rel = super::mounts::resolve_in_layers(&dirs, p)
                .ok_or_else(|| format!("{p}: too many levels of symbolic links"))?;
            merge_out(&dirs, &rel, &tmp.path().join(lexical(p)))
                .map_err(|e| format!("{p}: {e}"))?;
        }
        let ctx =
            Context::from_dir(tmp.path(), DockerIgnore::empty()).map_err(|e| e.to_string())?;
        Ok((tmp, ctx))
    }
}

/// The components of `pattern` before the first with a wildcard (`*`, `?`, `[`), as a path;
/// the whole pattern when it has none.
fn wildcard_free_prefix(pattern: &str) -> String {
    let parts: Vec<&str> = pattern.split('/').collect();
    match parts.iter().position(|c| c.contains(['*', '?', '['])) {
        Some(i) => format!("/{}", parts[..i].join("/").trim_start_matches('/')),
        None => pattern.to_string(),
    }
}

/// `path` relative to the root with `.` and `..` taken lexically (`..` stops at the root).
fn lexical(path: &str) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            n => out.push(n),
        }
    }
    out
}

/// What one layer holds at `rel` (links already resolved), from one walk down from its root.
struct LayerView {
    /// A proper parent of `rel` is a link in this layer (one an upper layer replaced): the layer
    /// does not hold `rel`.
    link_above: bool,
    /// A whiteout, or an opaque directory, at or above `rel`: what the layers below have there
    /// is hidden.
    hides_below: bool,
    /// `rel` in this layer and what it is (never a whiteout).
    entry: Option<(PathBuf, Metadata)>,
}

fn layer_view(dir: &Path, rel: &Path) -> LayerView {
    let mut view = LayerView {
        link_above: false,
        hides_below: false,
        entry: None,
    };
    let mut at = dir.to_path_buf();
    // What the walk reached last: after the loop, `rel` itself (None: `rel` is the root).
    let mut last: Option<Metadata> = None;
    for c in rel.components() {
        if last.as_ref().is_some_and(|m| m.file_type().is_symlink()) {
            view.link_above = true;
            return view;
        }
        at.push(c);
        let Ok(m) = fs::symlink_metadata(&at) else {
            return view;
        };
        if is_whiteout(&m) {
            view.hides_below = true;
            return view;
        }
        view.hides_below |= m.is_dir() && is_opaque(&at);
        last = Some(m);
    }
    view.entry = last
        .or_else(|| fs::symlink_metadata(&at).ok())
        .map(|m| (at, m));
    view
}

/// Merges `rel` (links already resolved) out of `layers`, lowest first, into `to` as the
/// image shows it: a layer where a parent of `rel` is a link does not hold it, and a whiteout or
/// an opaque directory at or above it hides what the layers below gave. Whether `to` exists
/// after.
pub(super) fn merge_out(layers: &[PathBuf], rel: &Path, to: &Path) -> std::io::Result<bool> {
    for dir in layers {
        let view = layer_view(dir, rel);
        if view.link_above {
            continue;
        }
        if view.hides_below {
            remove_any(to)?;
        }
        if let Some((from, _)) = view.entry {
            merge(&from, to)?;
        }
    }
    Ok(fs::symlink_metadata(to).is_ok())
}

/// Removes whatever is at `path` (nothing there is fine).
fn remove_any(path: &Path) -> std::io::Result<()> {
    match fs::symlink_metadata(path) {
        Ok(t) if t.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
        Err(_) => Ok(()),
    }
}

/// Copies `from` over `to` (directories merged, files replaced; a whiteout removes what a
/// lower layer put at `to`, an opaque directory replaces what was there).
fn merge(from: &Path, to: &Path) -> std::io::Result<()> {
    let m = fs::symlink_metadata(from)?;
    if is_whiteout(&m) {
        return remove_any(to);
    }
    if let Some(parent) = to.parent() {
        fs::create_dir_all(parent)?;
    }
    let ft = m.file_type();
    if ft.is_dir() {
        if is_opaque(from) {
            remove_any(to)?;
        }
        if !to.is_dir() {
            let _ = fs::remove_file(to);
            fs::create_dir(to)?;
        }
        fs::set_permissions(to, m.permissions())?;
        for e in fs::read_dir(from)? {
            let e = e?;
            merge(&e.path(), &to.join(e.file_name()))?;
        }
    } else if ft.is_symlink() {
        let _ = fs::remove_file(to);
        std::os::unix::fs::symlink(fs::read_link(from)?, to)?;
    } else if ft.is_file() {
        let _ = fs::remove_file(to);
        fs::copy(from, to)?;
    }
    Ok(())
}

/// An overlay opaque directory as the layer store keeps it: `trusted.overlay.opaque=y`, which
/// hides what the layers below have in it.
fn is_opaque(dir: &Path) -> bool {
    hull_sys::fs::lgetxattr(dir, std::ffi::OsStr::new("trusted.overlay.opaque"))
        .is_ok_and(|v| v.as_deref() == Some(b"y"))
}

/// An overlay whiteout as the layer store keeps it: a 0/0 character device.
pub(super) fn is_whiteout(m: &Metadata) -> bool {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    m.file_type().is_char_device() && m.rdev() == 0
}

fn owner(
    c: &Copy,
    lookup: &dyn Fn(&str) -> Option<String>,
    escape: char,
    ids: &dyn Fn(&str, &str) -> Option<u64>,
) -> Result<Owner, String> {
    let mut o = Owner {
        uid: 0,
        gid: 0,
        mode: None,
    };
    if let Some(ch) = &c.flags.chown {
        let ch = crate::dockerfile::subst::expand(ch, escape, lookup).map_err(|e| e.to_string())?;
        let (u, g) = ch.split_once(':').unwrap_or((&ch, &ch));
        let num = |s: &str, file: &str| match s.parse::<u64>() {
            Ok(n) => Ok(n),
            Err(_) => {
                ids(file, s).ok_or_else(|| format!("--chown={ch}: no {s:?} in the image's {file}"))
            }
        };
        o.uid = num(u, "/etc/passwd")?;
        // A user without a group: the same number as the UID (Docker's rule).
        o.gid = match ch.split_once(':') {
            Some(_) => num(g, "/etc/group")?,
            None => o.uid,
        };
    }
    if let Some(m) = &c.flags.chmod {
        let mode = u32::from_str_radix(m, 8)
            .ok()
            .filter(|m| *m <= 0o7777)
            .ok_or_else(|| format!("--chmod={m}: not an octal mode"))?;
        o.mode = Some(mode);
    }
    Ok(o)
}

/// ADD's auto-extraction test: a regular file that is a tar (plain, gzip or zstd) by content.
fn is_archive(path: &Path) -> bool {
    let Ok(m) = fs::metadata(path) else {
        return false;
    };
    if !m.is_file() {
        return false;
    }
    let Ok(mut r) = File::open(path).and_then(hull_image::local::open_tar) else {
        return false;
    };
    let mut head = [0u8; 512];
    std::io::Read::read_exact(&mut r, &mut head).is_ok() && &head[257..262] == b"ustar"
}

/// The layer tar being written.
struct Tar {
    b: tar::Builder<File>,
    seen: BTreeSet<String>,
    owner: Owner,
}

impl Tar {
    fn header(&self, mode: u32, mtime: u64, kind: tar::EntryType) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(self.owner.mode.unwrap_or(mode & 0o7777));
        h.set_uid(self.owner.uid);
        h.set_gid(self.owner.gid);
        h.set_mtime(mtime);
        h.set_size(0);
        h
    }

    fn dir(&mut self, path: &str, mode: u32, mtime: u64) -> std::io::Result<()> {
        let name = format!("{}/", path.trim_matches('/'));
        if name == "/" || !self.seen.insert(name.clone()) {
            return Ok(());
        }
        let mut h = self.header(mode, mtime, tar::EntryType::Directory);
        if self.owner.mode.is_some() {
            h.set_mode(mode & 0o7777);
        }
        self.b.append_data(&mut h, name, std::io::empty())
    }

    /// The regular file at `src` as `path`, mode `mode` (unless `--chmod`), mtime 0.
    fn file(&mut self, src: &Path, path: &str, mode: u32) -> std::io::Result<()> {
        let f = File::open(src)?;
        let mut h = self.header(mode, 0, tar::EntryType::Regular);
        h.set_size(f.metadata()?.len());
        self.b.append_data(&mut h, path.trim_start_matches('/'), f)
    }

    fn data(&mut self, path: &str, body: &[u8]) -> std::io::Result<()> {
        let mut h = self.header(0o644, 0, tar::EntryType::Regular);
        h.set_size(body.len() as u64);
        self.b
            .append_data(&mut h, path.trim_start_matches('/'), body)
    }

    /// `src` (relative to the context root) at `dest`, directories with their visible contents.
    fn tree(&mut self, ctx: &Context, src: &Path, dest: &str) -> std::io::Result<()> {
        let full = ctx.root().join(src);
        let m = fs::symlink_metadata(&full)?;
        self.entry(&full, &m, dest)?;
        if !m.is_dir() {
            return Ok(());
        }
        let mut entries: Vec<(PathBuf, Metadata)> = Vec::new();
        ctx.walk(src, &mut |p, m| {
            entries.push((p.to_path_buf(), m.clone()));
            Ok(())
        })
        .map_err(std::io::Error::other)?;
        for (p, m) in entries {
            let rel = p.strip_prefix(src).unwrap_or(&p);
            let target = format!("{}/{}", dest.trim_end_matches('/'), rel.display());
            self.entry(&ctx.root().join(&p), &m, &target)?;
        }
        Ok(())
    }

    /// ADD of a local archive: its entries under `into`, owners and modes as archived.
    fn extract(&mut self, archive: &Path, into: &str) -> std::io::Result<()> {
        let reader = hull_image::local::open_tar(File::open(archive)?)?;
        let mut a = tar::Archive::new(reader);
        for e in a.entries()? {
            let mut e = e?;
            let path = e.path()?.into_owned();
            let rel = path.to_string_lossy().trim_start_matches("./").to_string();
            if rel.is_empty() || rel.split('/').any(|c| c == "..") {
                continue;
            }
            let name = format!("{}/{}", into.trim_matches('/'), rel.trim_start_matches('/'));
            let name = name.trim_start_matches('/').to_string();
            let mut h = e.header().clone();
            if h.entry_type().is_dir()
                && !self.seen.insert(format!("{}/", name.trim_end_matches('/')))
            {
                continue;
            }
            if let Some(link) = e.link_name()? {
                let link = link.into_owned();
                if h.entry_type().is_hard_link() {
                    let target = format!("{}/{}", into.trim_matches('/'), link.display());
                    self.b
                        .append_link(&mut h, &name, target.trim_start_matches('/'))?;
                } else {
                    self.b.append_link(&mut h, &name, link)?;
                }
                continue;
            }
            self.b.append_data(&mut h, &name, &mut e)?;
        }
        Ok(())
    }

    fn entry(&mut self, full: &Path, m: &Metadata, dest: &str) -> std::io::Result<()> {
        let mtime = m.mtime().max(0) as u64;
        let name = dest.trim_start_matches('/');
        let ft = m.file_type();
        if ft.is_dir() {
            return self.dir(dest, m.mode(), mtime);
        }
        if ft.is_symlink() {
            let mut h = self.header(0o777, mtime, tar::EntryType::Symlink);
            h.set_mode(0o777);
            return self.b.append_link(&mut h, name, fs::read_link(full)?);
        }
        if !ft.is_file() {
            return Ok(());
        }
        let mut h = self.header(m.mode(), mtime, tar::EntryType::Regular);
        h.set_size(m.len());
        self.b.append_data(&mut h, name, File::open(full)?)
    }
}

/// Where each local source goes (none without local sources: ADD of URLs only).
fn local_steps(
    ctx: &Context,
    req: &DestRequest,
    patterns: &[String],
) -> Result<Vec<crate::dest::CopyStep>, String> {
    if patterns.is_empty() {
        return Ok(Vec::new());
    }
    let paths = ctx
        .resolve_sources_as(req.instr, patterns)
        .map_err(|e| e.to_string())?;
    let sources = ctx.sources(&paths).map_err(|e| e.to_string())?;
    plan(req, &sources).map_err(|e| e.to_string())
}

/// The stage's WORKDIR so far ("" when unset).
fn workdir_of(cur: &Current) -> String {
    cur.config
        .config
        .as_ref()
        .and_then(|c| c.working_dir.clone())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::wildcard_free_prefix;

    #[test]
    fn a_wildcard_source_is_merged_from_the_directory_above_it() {
        assert_eq!(wildcard_free_prefix("/out/*.bin"), "/out");
        assert_eq!(wildcard_free_prefix("out/a?/x"), "/out");
        assert_eq!(wildcard_free_prefix("/a/b/[xy].txt"), "/a/b");
        assert_eq!(wildcard_free_prefix("/*"), "/");
        assert_eq!(wildcard_free_prefix("/out/plain.txt"), "/out/plain.txt");
    }
}
