//! The engine's writers: one call per state change, where it happens. A journal that cannot be
//! written costs a warning on stderr, never the operation.

use std::collections::BTreeMap;

use hull_image::store::Removal;

use super::{Event, Journal, Kind};
use crate::state::health::HealthStatus;
use crate::state::{NetworkState, Record};
use crate::Engine;

type Attrs = BTreeMap<String, String>;

impl Engine {
    /// The store's events journal.
    pub fn journal(&self) -> Journal {
        Journal::open(&self.root)
    }

    /// Appends `event`; a failure is a warning.
    pub fn record_event(&self, event: &Event) {
        if let Err(e) = self.journal().append(event) {
            eprintln!("hull: warning: {e}");
        }
    }

    /// A container event: its labels, `image` (as the user named it) and `name` as attributes,
    /// plus `extra` (`exitCode` for die, `signal` for kill, …).
    pub fn container_event(&self, record: &Record, action: &str, extra: &[(&str, String)]) {
        let mut attrs: Attrs = record.config.labels.clone();
        attrs.insert("image".into(), record.image.clone());
        attrs.insert("name".into(), record.name.clone());
        extend(&mut attrs, extra);
        self.record_event(&Event::new(Kind::Container, action, &record.id, attrs));
    }

    /// A container event for the container `id`, read from its record; a record that cannot be
    /// read costs the event (with a warning).
    pub fn container_event_id(&self, id: &str, action: &str, extra: &[(&str, String)]) {
        match self.containers.load(id) {
            Ok(record) => self.container_event(&record, action, extra),
            Err(e) => eprintln!("hull: warning: event {action} of container {id}: {e}"),
        }
    }

    /// A run's end: `oom` when the kernel killed it for memory (before `die`, as Docker), then
    /// `die` with its exit code.
    pub(crate) fn exit_events(&self, id: &str, code: i32, oom: bool) {
        match self.containers.load(id) {
            Ok(r) => {
                if oom {
                    self.container_event(&r, "oom", &[]);
                }
                self.container_event(&r, "die", &[("exitCode", code.to_string())]);
            }
            Err(e) => eprintln!("hull: warning: event die of container {id}: {e}"),
        }
    }

    /// `die` for a run that failed after it was recorded as started (a failure before that
    /// had no `start` either, so it has no `die`).
    pub(crate) fn failed_run_event(&self, id: &str, code: i32) {
        if let Ok(r) = self.containers.load(id) {
            if r.state.status == crate::state::Status::Running {
                self.container_event(&r, "die", &[("exitCode", code.to_string())]);
            }
        }
    }

    /// `health_status: healthy` (or unhealthy, starting) when a check changed the status.
    pub(crate) fn health_event(&self, before: Option<HealthStatus>, after: &Record) {
        let now = after.state.health.as_ref().map(|h| h.status);
        if let Some(status) = now.filter(|s| Some(*s) != before) {
            let action = format!("health_status: {}", status.as_str());
            self.container_event(after, &action, &[]);
        }
    }

    /// `connect` or `disconnect` of the network a run attached the container `id` to.
    pub(crate) fn endpoint_event(&self, action: &str, id: &str, attached: &Option<NetworkState>) {
        if let Some(n) = attached {
            let c = [("container", id.to_string())];
            self.network_event(action, &n.network_id, &n.network, "bridge", &c);
        }
    }

    /// `exec_create` and `exec_start` of `args` in the container (one step in hull); returns
    /// the exec's ID for [`Engine::exec_die_event`].
    pub(crate) fn exec_start_events(&self, record: &Record, args: &[String]) -> String {
        let exec_id = crate::state::names::new_id().unwrap_or_default();
        let cmd = args.join(" ");
        for action in ["exec_create", "exec_start"] {
            let extra = [("execID", exec_id.clone())];
            self.container_event(record, &format!("{action}: {cmd}"), &extra);
        }
        exec_id
    }

    /// `exec_die` with the exec's exit code (-1 when it could not be waited for).
    pub(crate) fn exec_die_event(&self, record: &Record, exec_id: String, code: Option<i32>) {
        let code = code.unwrap_or(-1).to_string();
        self.container_event(
            record,
            "exec_die",
            &[("execID", exec_id), ("exitCode", code)],
        );
    }

    /// An image event: `id` is what Docker names (a reference for pull, an image ID for tag,
    /// untag, delete), `name` the reference it concerns; the image's labels are added when
    /// `id` resolves in the store.
    pub fn image_event(&self, action: &str, id: &str, name: &str) {
        let mut attrs: Attrs = self
            .images
            .resolve(id)
            .ok()
            .and_then(|img| self.images.config(&img.id).ok())
            .and_then(|c| c.config)
            .and_then(|c| c.labels)
            .map(|l| l.into_iter().collect())
            .unwrap_or_default();
        attrs.insert("name".into(), name.to_string());
        self.record_event(&Event::new(Kind::Image, action, id, attrs));
    }

    /// After a pull of `reference` (Docker's familiar form, `busybox:latest`): `pull`.
    pub fn image_pulled(&self, reference: &str) {
        self.image_event("pull", reference, reference);
    }

    /// After `source` was tagged `target`: `tag` of the image's ID, named by the new tag.
    pub fn image_tagged(&self, source: &str, target: &str) {
        if let Ok(img) = self.images.resolve(source) {
            self.image_event("tag", &img.id.to_string(), target);
        }
    }

    /// After a removal (rmi, prune): `untag` for each tag removed (of `image_id` when known, else
    /// named by the tag), `delete` for each image deleted.
    pub fn images_removed(&self, image_id: Option<&str>, removals: &[Removal]) {
        for r in removals {
            match r {
                Removal::Untagged(tag) => {
                    let id = image_id.unwrap_or(tag);
                    self.image_event("untag", id, id);
                }
                Removal::Deleted(d) => self.image_event("delete", &d.to_string(), &d.to_string()),
            }
        }
    }

    /// After a load: `load` of each image, named by its first tag (its ID without one).
    pub fn image_loaded(&self, id: &str, tags: &[String]) {
        self.image_event("load", id, tags.first().map_or(id, String::as_str));
    }

    /// `restart` for the container named `name` (after `hull restart` stopped and started it).
    pub fn container_event_id_by_name(&self, name: &str, action: &str) {
        if let Ok(record) = self.containers.resolve(name) {
            self.container_event(&record, action, &[]);
        }
    }

    /// A network event (`create`, `connect`, `disconnect`, `destroy`): `name` and `type` as
    /// attributes, plus `extra` (`container` for connect and disconnect).
    pub fn network_event(
        &self,
        action: &str,
        id: &str,
        name: &str,
        driver: &str,
        extra: &[(&str, String)],
    ) {
        let mut attrs = Attrs::from([
            ("name".to_string(), name.to_string()),
            ("type".to_string(), driver.to_string()),
        ]);
        extend(&mut attrs, extra);
        self.record_event(&Event::new(Kind::Network, action, id, attrs));
    }

    /// A volume event (`create`, `mount`, `destroy`): its `driver`, plus `extra` (the
    /// container, destination and mode for mount).
    pub fn volume_event(&self, action: &str, name: &str, extra: &[(&str, String)]) {
        let mut attrs = Attrs::from([("driver".to_string(), "local".to_string())]);
        extend(&mut attrs, extra);
        self.record_event(&Event::new(Kind::Volume, action, name, attrs));
    }
}

fn extend(attrs: &mut Attrs, extra: &[(&str, String)]) {
    attrs.extend(extra.iter().map(|(k, v)| (k.to_string(), v.clone())));
}
