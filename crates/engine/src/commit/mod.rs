//! Images made from containers and from tars: `hull commit` and `hull import`.
//!
//! Commit writes the container's overlay upper dir as one layer tar (`hull_image::unpack::
//! pack_with`: whiteouts and opaque dirs in OCI form, hard links, xattrs, owners; symlinks never
//! followed) and streams it through a pipe into `Store::add_layer_from_tar`, which keeps it as
//! an uncompressed blob and unpacks it into the layer store. The new config is the image's with
//! the container's own run settings (as Docker commits `Config`), then the `-c` changes, a new
//! diff ID and a history entry. A running container is frozen for the walk unless `pause` is
//! off, and thawed again whatever happens.
//!
//! Layering: `commit → {view, lifecycle}`; [`changes`] is pure and `build` reuses it.

pub mod changes;
mod import;

use std::io;
use std::path::{Path, PathBuf};

use hull_image::local::{LocalError, NewLayer};
use hull_image::store::ImageRecord;
use hull_image::unpack::{pack_with, PackOptions};
use hull_image::Reference;
use hull_oci::image::{ContainerConfig, History, ImageConfig};
use hull_oci::Digest;
use serde_json::json;

pub use changes::ChangeError;
pub use import::{ImportOptions, ImportSource};

use crate::engine::now;
use crate::lifecycle::changes::MOUNT_POINTS;
use crate::run::labels;
use crate::state::{Record, Status};
use crate::view::container::{entrypoint_and_cmd, exposed_ports, merged_env};
use crate::{Engine, EngineError};

/// What `hull commit` was asked for.
#[derive(Debug, Clone)]
pub struct CommitOptions {
    pub author: Option<String>,
    pub message: Option<String>,
    /// Dockerfile instructions, see [`changes`].
    pub changes: Vec<String>,
    /// Freeze a running container while its layer is written.
    pub pause: bool,
    /// None: the image is left untagged (dangling), as Docker leaves it.
    pub tag: Option<Reference>,
    /// The API's request body: each field it sets replaces the container's, before `changes`.
    pub overrides: Option<ContainerConfig>,
}

/// Why commit or import failed beyond the store's own errors.
#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    #[error(transparent)]
    Change(#[from] ChangeError),
    #[error(transparent)]
    Local(#[from] LocalError),
    #[error("write the layer of container {id}: {cause}")]
    Pack { id: String, cause: String },
    #[error("import {source_name}: {cause}")]
    Import { source_name: String, cause: String },
}

/// Thaws the container it froze when dropped, so an error on the way never leaves it paused.
struct Frozen<'a> {
    engine: &'a Engine,
    id: Option<String>,
}

impl Drop for Frozen<'_> {
    fn drop(&mut self) {
        if let Some(id) = self.id.take() {
            let _ = self.engine.unpause(&id);
        }
    }
}

impl Engine {
    /// `hull commit`: the container's writable layer as a new image on top of its image.
    /// Returns the new image's ID.
    pub fn commit(&self, name: &str, opts: &CommitOptions) -> Result<Digest, EngineError> {
        let r = self.containers.resolve(name)?;
        let image = self.images.resolve(&r.image_id)?;
        let base = self.images.config(&image.id)?;
        let mut cc = container_config(&r, base.config.clone().unwrap_or_default());
        if let Some(o) = &opts.overrides {
            override_with(&mut cc, o.clone());
        }
        changes::apply_all(&mut cc, &opts.changes).map_err(CommitError::from)?;
        let _gc = self.images.gc_shared()?;
        let new = {
            let _frozen = self.freeze(&r, opts.pause)?;
            self.layer_of(&r, &[])?
        };
        let config = committed_config(base, cc, &r, opts, &new);
        let tags: Vec<Reference> = opts.tag.iter().cloned().collect();
        let id = self.store_image(&image, &config, new, &tags)?;
        let comment = opts.message.clone().unwrap_or_default();
        self.container_event(&r, "commit", &[("comment", comment)]);
        Ok(id)
    }

    /// `hull build`'s RUN step: the container's writable layer on top of its image, with
    /// `config` (the build stage's, not the container's run settings) and a history entry
    /// `created_by`. The image is left untagged. Returns its ID. `skip` names upper-dir paths
    /// (relative, e.g. `run/secrets`) left out of the layer with everything below them: the
    /// mount points a `RUN --mount` made the runtime create.
    pub fn commit_build(
        &self,
        name: &str,
        config: ContainerConfig,
        created_by: &str,
        skip: &[PathBuf],
    ) -> Result<Digest, EngineError> {
        let r = self.containers.resolve(name)?;
        let image = self.images.resolve(&r.image_id)?;
        let base = self.images.config(&image.id)?;
        let _gc = self.images.gc_shared()?;
        let new = self.layer_of(&r, skip)?;
        let entry = History {
            created_by: Some(created_by.to_string()),
            ..History::default()
        };
        let config = with_layer(base, config, &new, entry);
        self.store_image(&image, &config, new, &[])
    }

    /// Records `config` as an image: `image`'s layers plus `new`, tagged `tags`.
    fn store_image(
        &self,
        image: &ImageRecord,
        config: &ImageConfig,
        new: NewLayer,
        tags: &[Reference],
    ) -> Result<Digest, EngineError> {
        let mut layers = image.layers.clone();
        layers.push(new.layer);
        let id = self
            .images
            .add_local_image(config, layers, tags)
            .map_err(CommitError::from)?;
        Ok(id)
    }

    fn freeze(&self, r: &Record, pause: bool) -> Result<Frozen<'_>, EngineError> {
        let running = r.state.status == Status::Running && !r.state.paused;
        if !(pause && running) {
            return Ok(Frozen {
                engine: self,
                id: None,
            });
        }
        self.pause(&r.id)?;
        Ok(Frozen {
            engine: self,
            id: Some(r.id.clone()),
        })
    }

    /// Packs the upper dir into the store through a pipe (a container never started has an
    /// empty layer).
    fn layer_of(&self, r: &Record, extra: &[PathBuf]) -> Result<NewLayer, EngineError> {
        let upper = self.containers.dir(&r.id).join("upper");
        let mut skip: Vec<PathBuf> = MOUNT_POINTS
            .iter()
            .map(|m| PathBuf::from(m.trim_start_matches('/')))
            .collect();
        skip.extend_from_slice(extra);
        let opts = PackOptions { skip, upper: true };
        let (reader, writer) = io::pipe().map_err(|e| pack_err(&r.id, e))?;
        let (stored, packed) = std::thread::scope(|s| {
            let packer = s.spawn(|| pack_upper(&upper, writer, &opts));
            let stored = self.images.add_layer_from_tar(reader);
            (stored, packer.join())
        });
        let packed = packed.unwrap_or_else(|_| Err("the tar writer panicked".into()));
        // A pack failure shows up on the reading side as a short tar: report the cause.
        if let Err(cause) = packed {
            return Err(CommitError::Pack {
                id: r.id.clone(),
                cause,
            }
            .into());
        }
        Ok(stored.map_err(CommitError::from)?)
    }
}

fn pack_upper(upper: &Path, writer: io::PipeWriter, opts: &PackOptions) -> Result<(), String> {
    if !upper.exists() {
        return tar::Builder::new(writer)
            .into_inner()
            .map(drop)
            .map_err(|e| e.to_string());
    }
    pack_with(upper, writer, opts)
        .map(drop)
        .map_err(|e| e.to_string())
}

fn pack_err(id: &str, e: io::Error) -> EngineError {
    CommitError::Pack {
        id: id.to_string(),
        cause: e.to_string(),
    }
    .into()
}

/// Docker's commit keeps the container's Config: the image's with the run flags applied.
fn container_config(r: &Record, image: ContainerConfig) -> ContainerConfig {
    let c = &r.config;
    let (entrypoint, cmd) = entrypoint_and_cmd(r, &image);
    let non_empty = |v: Vec<String>| (!v.is_empty()).then_some(v);
    let labels = labels::merge(image.labels.as_ref(), &c.labels);
    let mut out = ContainerConfig {
        user: c.user.clone().or(image.user.clone()),
        exposed_ports: exposed_ports(&image, c).map(|m| m.into_iter().collect()),
        env: non_empty(merged_env(image.env.as_deref().unwrap_or_default(), &c.env)),
        entrypoint: non_empty(entrypoint),
        cmd: non_empty(cmd),
        volumes: image.volumes.clone().filter(|v| !v.is_empty()),
        working_dir: c.workdir.clone().or(image.working_dir.clone()),
        labels: (!labels.is_empty()).then_some(labels),
        stop_signal: c.stop_signal.clone().or(image.stop_signal.clone()),
        extra: image.extra,
    };
    if let Some(h) = &c.healthcheck {
        if let Ok(v) = serde_json::to_value(h) {
            out.extra.insert("Healthcheck".into(), v);
        }
    }
    out
}

/// Docker's commit body: every field the client set wins.
fn override_with(cc: &mut ContainerConfig, o: ContainerConfig) {
    macro_rules! take {
        ($($f:ident),*) => { $( if o.$f.is_some() { cc.$f = o.$f; } )* };
    }
    take!(
        user,
        exposed_ports,
        env,
        entrypoint,
        cmd,
        volumes,
        working_dir,
        labels,
        stop_signal
    );
    for (k, v) in o.extra {
        if !v.is_null() {
            cc.extra.insert(k, v);
        }
    }
}

fn committed_config(
    base: ImageConfig,
    cc: ContainerConfig,
    r: &Record,
    opts: &CommitOptions,
    new: &NewLayer,
) -> ImageConfig {
    let entry = History {
        created_by: Some(r.command.join(" ")),
        author: opts.author.clone(),
        comment: opts.message.clone().filter(|m| !m.is_empty()),
        ..History::default()
    };
    let mut config = with_layer(base, cc, new, entry);
    config.author = opts.author.clone();
    config.extra.insert("container".into(), json!(r.id));
    config
}

/// `base` with `cc` as its config and `new` as one more layer, which `entry` records in the
/// history (stamped now, as the image is).
fn with_layer(
    mut base: ImageConfig,
    cc: ContainerConfig,
    new: &NewLayer,
    mut entry: History,
) -> ImageConfig {
    let created = now();
    base.created = Some(created.clone());
    base.config = Some(cc);
    base.rootfs.diff_ids.push(new.layer.diff_id.clone());
    entry.created = Some(created);
    base.history.push(entry);
    base.extra.remove("container_config");
    base
}
