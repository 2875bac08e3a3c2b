//! `RUN --mount`: each parsed [`Mount`] turned into a run-time mount of the step's container.
//!
//! - `cache`: `<store>/build-cache/mounts/<id, sanitised>-<hash>`, made once with `uid/gid/mode`
//!   (seeded from `from=`'s `source` when given) and kept across builds and Dockerfiles. A
//!   lock file next to it is held for the step: shared (`sharing=shared`), exclusive and
//!   waited for (`locked`), or tried exclusively, falling back to a fresh directory removed
//!   after the step (`private`).
//! - `bind`: from the context, the source (`.dockerignore` honoured) is copied into a private
//!   temp dir under `<store>/build-cache/tmp` that is bound, read-only unless `rw`, so `rw`
//!   writes vanish with the step and nothing can write into the context; from a stage or an
//!   image, its layers are mounted there ([`hull_engine::Engine::mount_layers`]: read-only, or
//!   over a throw-away upper dir for `rw`) and the source inside is bound. The source is
//!   resolved inside its root (`..` and symlinks stop at it).
//! - `secret`: `--secret`'s value written to a private file in /dev/shm (mode 0400 unless
//!   `mode=`) bound
//!   read-only, or set as the variable `env=`. Never in a layer, the config or the history.
//! - `tmpfs`: a tmpfs (`size=`).
//!
//! Every temp dir and lock is held by [`Prepared`] and released when it drops, after the
//! step's container is removed.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

use hull_engine::images::{sweep_dead_build_mounts, MountedLayers, BUILD_MOUNT_PREFIX};
use hull_oci::Digest;
use tempfile::TempDir;

use super::{fail, lookup_fn, BuildError, Builder, Current};
use crate::context::Context;
use crate::dockerfile::mount::{parse_mount, Mount, MountType, Sharing};
use crate::dockerfile::{Dockerfile, Run};

/// Where a `--secret` comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    File(PathBuf),
    Env(String),
}

/// Parses `hull build --secret` as `docker buildx` takes it: `id=ID,src=PATH`,
/// `id=ID,type=file,source=PATH`, `id=ID,env=VAR` or `id=ID,type=env[,src=VAR]`; a bare
/// `id=ID` reads the variable ID if it is set, else the file ID.
pub fn parse_secret(spec: &str) -> Result<(String, SecretSource), String> {
    let (mut id, mut kind, mut src, mut env) = (None, None, None, None);
    for field in spec.split(',') {
        let (k, v) = field
            .split_once('=')
            .ok_or_else(|| format!("--secret {spec:?}: {field:?} is not key=value"))?;
        match k {
            "id" => id = Some(v.to_string()),
            "type" if v == "file" || v == "env" => kind = Some(v.to_string()),
            "src" | "source" => src = Some(v.to_string()),
            "env" => env = Some(v.to_string()),
            _ => return Err(format!("--secret {spec:?}: unexpected {field:?}")),
        }
    }
    let id = match id.or_else(|| src.as_deref().or(env.as_deref()).map(base_name)) {
        Some(id) if !id.is_empty() => id,
        _ => return Err(format!("--secret {spec:?}: needs id=")),
    };
    let source = match (kind.as_deref(), src, env) {
        (_, None, Some(var)) | (Some("env"), Some(var), None) => SecretSource::Env(var),
        (Some("env"), None, None) => SecretSource::Env(id.clone()),
        (_, Some(path), None) => SecretSource::File(PathBuf::from(path)),
        (None | Some("file"), None, None) if std::env::var_os(&id).is_some() && kind.is_none() => {
            SecretSource::Env(id.clone())
        }
        (None | Some("file"), None, None) => SecretSource::File(PathBuf::from(&id)),
        _ => return Err(format!("--secret {spec:?}: both src= and env=")),
    };
    Ok((id, source))
}

fn base_name(p: &str) -> String {
    p.rsplit('/').next().unwrap_or(p).to_string()
}

/// The mounts of one RUN step, ready for the container, and what must live as long as it.
#[derive(Default)]
pub(super) struct Prepared {
    /// `--mount` strings of `hull run` (type=bind|tmpfs).
    pub mounts: Vec<String>,
    /// Secrets given as `env=`.
    pub env: Vec<String>,
    /// The mount points, absolute.
    pub targets: Vec<String>,
    /// Stages' and images' layers mounted for binds: declared before `temps` (fields drop in
    /// order), so they are unmounted before their directories are removed.
    layers: Vec<MountedLayers>,
    temps: Vec<TempDir>,
    locks: Vec<File>,
}

impl Prepared {
    fn bind(&mut self, source: &Path, target: &str, readonly: bool) {
        let ro = if readonly { ",readonly" } else { "" };
        self.mounts.push(format!(
            "type=bind,source={},target={target}{ro}",
            source.display()
        ));
        self.targets.push(target.to_string());
    }
}

/// What a RUN's cache key adds for its mounts: the context checksum of each bind source and
/// the image ID of each `from=`. Secrets add nothing (their spec text is in the instruction).
pub(super) fn cache_extra(
    b: &Builder<'_>,
    file: &Dockerfile,
    cur: &Current,
    r: &Run,
    line: usize,
    args: &BTreeMap<String, String>,
) -> Result<String, BuildError> {
    let mut parts = Vec::new();
    for spec in &r.flags.mounts {
        let m = b.parse_spec(cur, spec, line, args)?;
        let at = |e: String| fail(format!("RUN --mount={spec} (Dockerfile:{line}): {e}"));
        match (&m.kind, &m.from) {
            (MountType::Bind | MountType::Cache, Some(from)) => {
                parts.push(
                    b.source_image(file, from, line)?
                        .id
                        .map(|d| d.to_string())
                        .unwrap_or_default(),
                );
            }
            (MountType::Bind, None) => {
                let rel = context_source(b.context, &m).map_err(at)?;
                let sum = b.context.checksum(&[rel]).map_err(|e| at(e.to_string()))?;
                parts.push(sum.to_string());
            }
            _ => parts.push(String::new()),
        }
    }
    Ok(parts.join(","))
}

fn context_source(ctx: &Context, m: &Mount) -> Result<PathBuf, String> {
    let src = m.source.clone().unwrap_or_else(|| ".".into());
    if src.contains(['*', '?', '[']) {
        return Err(format!("source {src:?}: wildcards are not allowed"));
    }
    let mut found = ctx
        .resolve_sources_as("RUN --mount", &[src])
        .map_err(|e| e.to_string())?;
    Ok(found.remove(0))
}

impl Builder<'_> {
    fn parse_spec(
        &self,
        cur: &Current,
        spec: &str,
        line: usize,
        args: &BTreeMap<String, String>,
    ) -> Result<Mount, BuildError> {
        let lookup = lookup_fn(cur, args);
        let text = self.expand(spec, &lookup, line)?;
        parse_mount(&text).map_err(|e| fail(format!("Dockerfile:{line}: RUN --mount={spec}: {e}")))
    }

    fn source_image(
        &self,
        file: &Dockerfile,
        from: &str,
        line: usize,
    ) -> Result<Current, BuildError> {
        match super::stage_by_name(file, from).and_then(|i| self.done.get(&i)) {
            Some(s) => Ok(s.clone()),
            None => self.image(from, line),
        }
    }

    /// The mounts of `r`, prepared on the host.
    pub(super) fn prepare_mounts(
        &self,
        file: &Dockerfile,
        cur: &Current,
        r: &Run,
        line: usize,
        args: &BTreeMap<String, String>,
    ) -> Result<Prepared, BuildError> {
        let mut p = Prepared::default();
        let workdir = cur
            .config
            .config
            .as_ref()
            .and_then(|c| c.working_dir.clone())
            .unwrap_or_else(|| "/".into());
        for spec in &r.flags.mounts {
            let m = self.parse_spec(cur, spec, line, args)?;
            let at = |e: String| fail(format!("RUN --mount={spec} (Dockerfile:{line}): {e}"));
            let target = match &m.target {
                Some(t) => Some(absolute(&workdir, t).map_err(at)?),
                None => None,
            };
            match m.kind {
                MountType::Tmpfs => {
                    let t = target.unwrap_or_default();
                    let size = m
                        .size
                        .map(|s| format!(",tmpfs-size={s}"))
                        .unwrap_or_default();
                    p.mounts.push(format!("type=tmpfs,target={t}{size}"));
                    p.targets.push(t);
                }
                MountType::Secret => self.secret(&mut p, &m, target, line)?,
                MountType::Cache => {
                    let dir = self.cache_mount(&mut p, file, &m, line).map_err(at)?;
                    p.bind(&dir, &target.unwrap_or_default(), m.readonly);
                }
                MountType::Bind => {
                    // Held by `p` from here on, so a layer mount inside it is undone before
                    // the directory is removed, on every path.
                    // In the store: on the layers' file system, and per store.
                    let parent = self.engine.images.root().join("build-cache").join("tmp");
                    // What a killed build left (its layer mounts included).
                    sweep_dead_build_mounts(&parent);
                    p.temps.push(private_dir(Some(&parent)).map_err(at)?);
                    let dir = p.temps[p.temps.len() - 1].path().to_path_buf();
                    let src = match &m.from {
                        None => {
                            let rel = context_source(self.context, &m).map_err(at)?;
                            export_context(self.context, &rel, &dir).map_err(at)?
                        }
                        Some(from) => {
                            let img = self.source_image(file, from, line)?;
                            let path = m.source.as_deref().unwrap_or("/");
                            self.mount_image(&mut p, &img, path, m.readonly, &dir)
                                .map_err(at)?
                        }
                    };
                    p.bind(&src, &target.unwrap_or_default(), m.readonly);
                }
            }
        }
        Ok(p)
    }

    fn secret(
        &self,
        p: &mut Prepared,
        m: &Mount,
        target: Option<String>,
        line: usize,
    ) -> Result<(), BuildError> {
        let id = m.id.clone().unwrap_or_default();
        let at = |e: String| {
            fail(format!(
                "RUN --mount=type=secret,id={id} (Dockerfile:{line}): {e}"
            ))
        };
        let Some(source) = self.opts.secrets.get(&id) else {
            if m.required {
                return Err(at(format!(
                    "secret {id:?} is required but was not provided (hull build --secret id={id},src=FILE)"
                )));
            }
            return Ok(());
        };
        let value = match source {
            SecretSource::File(path) => fs::read(path)
                .map_err(|e| at(format!("read the secret file {}: {e}", path.display())))?,
            SecretSource::Env(var) => std::env::var_os(var)
                .ok_or_else(|| at(format!("the variable {var} of the secret is not set")))?
                .into_encoded_bytes(),
        };
        if let Some(var) = &m.env {
            p.env
                .push(format!("{var}={}", String::from_utf8_lossy(&value)));
        }
        if let Some(t) = target {
            // Kept off the store's disk: /dev/shm when there is one.
            let shm = Path::new("/dev/shm");
            let tmp = private_dir(shm.is_dir().then_some(shm)).map_err(at)?;
            let f = tmp.path().join("secret");
            fs::write(&f, &value).map_err(|e| at(format!("write the secret: {e}")))?;
            std::os::unix::fs::chown(&f, Some(m.uid.unwrap_or(0)), Some(m.gid.unwrap_or(0)))
                .map_err(|e| at(format!("chown the secret: {e}")))?;
            fs::set_permissions(&f, fs::Permissions::from_mode(m.mode.unwrap_or(0o400)))
                .map_err(|e| at(format!("chmod the secret: {e}")))?;
            p.bind(&f, &t, true);
            p.temps.push(tmp);
        }
        Ok(())
    }

    /// The cache directory of `m` (made on first use), its lock held in `p`.
    fn cache_mount(
        &self,
        p: &mut Prepared,
        file: &Dockerfile,
        m: &Mount,
        line: usize,
    ) -> Result<PathBuf, String> {
        let root = self.engine.images.root().join("build-cache").join("mounts");
        fs::create_dir_all(&root).map_err(|e| format!("create {}: {e}", root.display()))?;
        let id = m.id.clone().unwrap_or_default();
        let name = sanitise(&id);
        let dir = root.join(&name);
        let lock = File::create(root.join(format!("{name}.lock")))
            .map_err(|e| format!("open the lock of cache {id:?}: {e}"))?;
        let dir = match m.sharing {
            Sharing::Shared => lock.lock_shared().map(|_| dir),
            Sharing::Locked => lock.lock().map(|_| dir),
            Sharing::Private => match lock.try_lock() {
                Ok(()) => Ok(dir),
                Err(_) => {
                    let tmp = tempfile::Builder::new()
                        .prefix(&format!(".{name}.private."))
                        .tempdir_in(&root)
                        .map_err(|e| format!("make a private cache {id:?}: {e}"))?;
                    let d = tmp.path().join("dir");
                    p.temps.push(tmp);
                    Ok(d)
                }
            },
        }
        .map_err(|e| format!("lock cache {id:?}: {e}"))?;
        p.locks.push(lock);
        // Made under a lock of its own: a rename over a just-made empty directory would
        // otherwise replace it under another builder that already mounted it.
        let create = File::create(root.join(".create.lock"))
            .and_then(|f| f.lock().map(|_| f))
            .map_err(|e| format!("lock the cache directory: {e}"))?;
        if !dir.exists() {
            self.new_cache_dir(file, m, &dir, line)?;
        }
        drop(create);
        Ok(dir)
    }

    /// Makes a cache directory (seeded from `from=`), under a temp name then renamed.
    fn new_cache_dir(
        &self,
        file: &Dockerfile,
        m: &Mount,
        dir: &Path,
        line: usize,
    ) -> Result<(), String> {
        let parent = dir.parent().unwrap_or(Path::new("/"));
        let tmp = tempfile::Builder::new()
            .prefix(".new.")
            .tempdir_in(parent)
            .map_err(|e| format!("make a cache directory: {e}"))?;
        let fresh = tmp.path().join("dir");
        match &m.from {
            Some(from) => {
                let img = self.source_image(file, from, line).map_err(|e| e.message)?;
                let src = m.source.as_deref().unwrap_or("/");
                let got = self.export_image(&img, src, tmp.path())?;
                fs::rename(&got, &fresh).map_err(|e| format!("seed the cache: {e}"))?;
            }
            None => fs::create_dir(&fresh).map_err(|e| format!("make a cache directory: {e}"))?,
        }
        std::os::unix::fs::chown(&fresh, Some(m.uid.unwrap_or(0)), Some(m.gid.unwrap_or(0)))
            .map_err(|e| format!("chown the cache directory: {e}"))?;
        fs::set_permissions(&fresh, fs::Permissions::from_mode(m.mode.unwrap_or(0o755)))
            .map_err(|e| format!("chmod the cache directory: {e}"))?;
        fs::rename(&fresh, dir)
            .map_err(|e| format!("make the cache directory {}: {e}", dir.display()))
    }

    /// `path` of image `img`, symlinks resolved inside its root, in a mount of its layers
    /// under `into` (read-only, or over a throw-away upper dir); the mount is held in `p`.
    fn mount_image(
        &self,
        p: &mut Prepared,
        img: &Current,
        path: &str,
        readonly: bool,
        into: &Path,
    ) -> Result<PathBuf, String> {
        let layers = self.layer_dirs(img);
        let missing = || format!("source {path:?}: not found in {}", short(&img.id));
        let rel = resolve_in_layers(&layers, path).ok_or_else(missing)?;
        if img.layers.is_empty() {
            return Err(missing());
        }
        let merged = into.join("merged");
        let mk = |d: &Path| fs::create_dir(d).map_err(|e| format!("create {}: {e}", d.display()));
        mk(&merged)?;
        let upper = if readonly {
            None
        } else {
            let (u, w) = (into.join("upper"), into.join("work"));
            mk(&u)?;
            mk(&w)?;
            Some((u, w))
        };
        let diff_ids: Vec<Digest> = img.layers.iter().map(|l| l.diff_id.clone()).collect();
        let mounted = self
            .engine
            .mount_layers(&diff_ids, &merged, upper)
            .map_err(|e| format!("mount the layers of {}: {e}", short(&img.id)))?;
        p.layers.push(mounted);
        let src = merged.join(&rel);
        fs::symlink_metadata(&src).map_err(|_| missing())?;
        Ok(src)
    }

    /// `path` of image `img`, symlinks resolved inside its root, copied out of its layers
    /// into `into`; returns the copy's path.
    pub(super) fn export_image(
        &self,
        img: &Current,
        path: &str,
        into: &Path,
    ) -> Result<PathBuf, String> {
        let layers = self.layer_dirs(img);
        let rel = resolve_in_layers(&layers, path)
            .ok_or_else(|| format!("source {path:?}: not found in {}", short(&img.id)))?;
        let out = into.join("src");
        let found = super::copy::merge_out(&layers, &rel, &out)
            .map_err(|e| format!("source {path:?}: {e}"))?;
        if !found {
            return Err(format!("source {path:?}: not found in {}", short(&img.id)));
        }
        Ok(out)
    }
}

fn short(id: &Option<Digest>) -> String {
    id.as_ref()
        .map(|d| d.hex()[..12].to_string())
        .unwrap_or_else(|| "scratch".into())
}

/// A private temp dir (in `parent`, else the system's), world-traversable so a non-root RUN
/// user reaches what it holds.
fn private_dir(parent: Option<&Path>) -> Result<TempDir, String> {
    let prefix = format!("{BUILD_MOUNT_PREFIX}{}.", std::process::id());
    let mut b = tempfile::Builder::new();
    b.prefix(&prefix);
    let tmp = match parent {
        Some(dir) => fs::create_dir_all(dir).and_then(|_| b.tempdir_in(dir)),
        None => b.tempdir(),
    }
    .map_err(|e| format!("make a temp dir: {e}"))?;
    fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o755))
        .map_err(|e| format!("chmod a temp dir: {e}"))?;
    Ok(tmp)
}

/// A container path: absolute (relative ones against `workdir`), cleaned, not `/`.
fn absolute(workdir: &str, target: &str) -> Result<String, String> {
    let joined = if target.starts_with('/') {
        target.to_string()
    } else {
        format!("{workdir}/{target}")
    };
    let mut parts: Vec<&str> = Vec::new();
    for c in joined.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    if parts.is_empty() {
        return Err(format!("target {target:?}: cannot mount over /"));
    }
    Ok(format!("/{}", parts.join("/")))
}

/// A directory name for a cache id: its safe characters, then a hash of the whole id.
fn sanitise(id: &str) -> String {
    let safe: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect();
    let hash = Digest::sha256_of(id.as_bytes());
    format!("{}-{}", safe.trim_start_matches('.'), &hash.hex()[..16])
}

/// `path` inside the merged tree of `layers` (lowest first) with every symlink resolved inside
/// the root (an absolute target restarts at it, `..` stops at it). None when a link loops.
pub(super) fn resolve_in_layers(layers: &[PathBuf], path: &str) -> Option<PathBuf> {
    let lstat = |rel: &Path| {
        layers
            .iter()
            .rev()
            .find_map(|l| fs::symlink_metadata(l.join(rel)).ok().map(|m| (l, m)))
    };
    let mut todo: Vec<String> = path.split('/').rev().map(str::to_string).collect();
    let mut done = PathBuf::new();
    let mut hops = 0;
    while let Some(part) = todo.pop() {
        match part.as_str() {
            "" | "." => continue,
            ".." => {
                done.pop();
                continue;
            }
            _ => done.push(&part),
        }
        let Some((layer, meta)) = lstat(&done) else {
            continue;
        };
        if !meta.file_type().is_symlink() {
            continue;
        }
        hops += 1;
        if hops > 40 {
            return None;
        }
        let target = fs::read_link(layer.join(&done)).ok()?;
        done.pop();
        if target.is_absolute() {
            done = PathBuf::new();
        }
        for c in target.components().rev() {
            match c {
                Component::Normal(n) => todo.push(n.to_string_lossy().into_owned()),
                Component::ParentDir => todo.push("..".into()),
                _ => {}
            }
        }
    }
    Some(done)
}

/// Copies the visible entries of context path `rel` into `into`; returns the copy's path.
fn export_context(ctx: &Context, rel: &Path, into: &Path) -> Result<PathBuf, String> {
    let out = into.join("src");
    let full = ctx.root().join(rel);
    let meta = fs::symlink_metadata(&full).map_err(|e| format!("{}: {e}", rel.display()))?;
    copy_entry(&full, &out, &meta).map_err(|e| format!("copy {}: {e}", rel.display()))?;
    if !meta.is_dir() {
        return Ok(out);
    }
    ctx.walk(rel, &mut |child, m| {
        let sub = child.strip_prefix(rel).unwrap_or(child);
        copy_entry(&ctx.root().join(child), &out.join(sub), m).map_err(|cause| {
            crate::context::ContextError::Io {
                op: "copy",
                path: child.to_path_buf(),
                cause,
            }
        })
    })
    .map_err(|e| e.to_string())?;
    Ok(out)
}

fn copy_entry(from: &Path, to: &Path, m: &fs::Metadata) -> std::io::Result<()> {
    let ft = m.file_type();
    if ft.is_dir() {
        fs::create_dir_all(to)?;
    } else if ft.is_symlink() {
        return std::os::unix::fs::symlink(fs::read_link(from)?, to);
    } else if ft.is_file() {
        fs::copy(from, to)?;
    } else {
        return Ok(());
    }
    fs::set_permissions(to, m.permissions())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_flags_take_buildx_forms() {
        let f = |s: &str| parse_secret(s).unwrap();
        assert_eq!(
            f("id=a,src=/k"),
            ("a".into(), SecretSource::File("/k".into()))
        );
        assert_eq!(
            f("id=a,type=file,source=/k"),
            ("a".into(), SecretSource::File("/k".into()))
        );
        assert_eq!(
            f("id=a,env=TOKEN"),
            ("a".into(), SecretSource::Env("TOKEN".into()))
        );
        assert_eq!(
            f("id=a,type=env,src=T"),
            ("a".into(), SecretSource::Env("T".into()))
        );
        assert_eq!(
            f("src=/x/key.pem"),
            ("key.pem".into(), SecretSource::File("/x/key.pem".into()))
        );
        assert!(parse_secret("id=a,colour=red")
            .unwrap_err()
            .contains("unexpected"));
        assert!(parse_secret("type=file").unwrap_err().contains("needs id="));
    }

    #[test]
    fn targets_are_made_absolute_and_cache_ids_safe() {
        assert_eq!(absolute("/app", "cache").unwrap(), "/app/cache");
        assert_eq!(absolute("/app", "/a/../b/").unwrap(), "/b");
        assert!(absolute("/", "..").is_err());
        let s = sanitise("/root/.cache/go-build");
        assert!(s.starts_with("_root_.cache_go-build-"), "{s}");
        assert_ne!(sanitise("a/b"), sanitise("a_b"));
        assert!(!sanitise("../..").contains('/'));
    }

    #[test]
    fn image_paths_resolve_links_inside_the_root() {
        let t = tempfile::tempdir().unwrap();
        let (low, high) = (t.path().join("l0"), t.path().join("l1"));
        fs::create_dir_all(low.join("etc")).unwrap();
        fs::create_dir_all(&high).unwrap();
        std::os::unix::fs::symlink("/etc", high.join("up")).unwrap();
        std::os::unix::fs::symlink("../../../..", high.join("climb")).unwrap();
        let layers = [low, high];
        assert_eq!(
            resolve_in_layers(&layers, "/up/passwd").unwrap(),
            Path::new("etc/passwd")
        );
        assert_eq!(
            resolve_in_layers(&layers, "climb/etc").unwrap(),
            Path::new("etc")
        );
        assert_eq!(
            resolve_in_layers(&layers, "../../x").unwrap(),
            Path::new("x")
        );
    }
}
