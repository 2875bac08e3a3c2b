//! Which events a reader wants: Docker's event filters (`type`, `event`, `container`, `image`,
//! `network`, `volume`, `label`, …) and the `since`/`until` window.

use std::collections::BTreeMap;

use super::{Event, Kind};

/// The filter keys Docker's `/events` accepts.
const KEYS: [&str; 14] = [
    "config",
    "container",
    "daemon",
    "event",
    "image",
    "label",
    "network",
    "node",
    "plugin",
    "scope",
    "secret",
    "service",
    "type",
    "volume",
];

/// The keys matched against an event's ID or `name` attribute, for events of that type only.
const NAMED: [&str; 9] = [
    "config",
    "container",
    "daemon",
    "network",
    "node",
    "plugin",
    "secret",
    "service",
    "volume",
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    #[error("invalid filter '{0}'")]
    UnknownKey(String),
    #[error("invalid filter '{0}': expected key=value")]
    NotKeyValue(String),
    #[error("invalid value for {field}: {value:?} is not a time (RFC 3339, Unix seconds or a duration such as 10m)")]
    Time { field: &'static str, value: String },
    #[error("`since` time ({since}) cannot be after `until` time ({until})")]
    SinceAfterUntil { since: String, until: String },
}

/// Docker's event filters: within a key any value may match; every key must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    by_key: BTreeMap<String, Vec<String>>,
}

impl EventFilter {
    /// From `key=value` pairs (the CLI's `--filter`s, the API's `filters` document).
    pub fn new(pairs: &[(String, String)]) -> Result<EventFilter, FilterError> {
        let mut by_key: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (k, v) in pairs {
            if !KEYS.contains(&k.as_str()) {
                return Err(FilterError::UnknownKey(k.clone()));
            }
            by_key.entry(k.clone()).or_default().push(v.clone());
        }
        Ok(EventFilter { by_key })
    }

    /// From the CLI's `key=value` words.
    pub fn parse_words(words: &[String]) -> Result<EventFilter, FilterError> {
        let pairs = words
            .iter()
            .map(|w| {
                w.split_once('=')
                    .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.to_string()))
                    .ok_or_else(|| FilterError::NotKeyValue(w.clone()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        EventFilter::new(&pairs)
    }

    /// Whether `e` passes every key.
    pub fn matches(&self, e: &Event) -> bool {
        self.action_matches(e)
            && self.exact("type", e.kind.as_str())
            && self.exact("scope", &e.scope)
            && NAMED.iter().all(|k| self.named(k, e))
            && self.image_matches(e)
            && self.labels_match(&e.actor.attributes)
    }

    fn values(&self, key: &str) -> Option<&Vec<String>> {
        self.by_key.get(key).filter(|v| !v.is_empty())
    }

    fn exact(&self, key: &str, source: &str) -> bool {
        self.values(key)
            .is_none_or(|vs| vs.iter().any(|v| v == source))
    }

    /// Exact, or a value is a prefix of `source` (Docker's fuzzy match).
    fn fuzzy(&self, key: &str, source: &str) -> bool {
        self.values(key)
            .is_none_or(|vs| vs.iter().any(|v| source.starts_with(v.as_str())))
    }

    /// `event=`: exact, but a prefix for `health_status`, `exec_create` and `exec_start`, whose
    /// actions carry a suffix (`health_status: healthy`), as Docker matches them.
    fn action_matches(&self, e: &Event) -> bool {
        let loose = self.values("event").is_some_and(|vs| {
            vs.iter()
                .any(|v| matches!(v.as_str(), "health_status" | "exec_create" | "exec_start"))
        });
        if loose {
            self.fuzzy("event", &e.action)
        } else {
            self.exact("event", &e.action)
        }
    }

    /// `container=`, `network=`, `volume=`…: by ID or name prefix, and only events of that type.
    fn named(&self, key: &str, e: &Event) -> bool {
        if self.values(key).is_none() {
            return true;
        }
        if e.kind.as_str() != key {
            return false;
        }
        let name = e.actor.attributes.get("name").map_or("", String::as_str);
        self.fuzzy(key, &e.actor.id) || (!name.is_empty() && self.fuzzy(key, name))
    }

    /// `image=`: an image event's ID or name, a container event's image, with or without tag.
    fn image_matches(&self, e: &Event) -> bool {
        let Some(vs) = self.values("image") else {
            return true;
        };
        let attr = if e.kind == Kind::Image {
            "name"
        } else {
            "image"
        };
        let name = e.actor.attributes.get(attr).map_or("", String::as_str);
        let candidates = [
            e.actor.id.as_str(),
            name,
            strip_tag(&e.actor.id),
            strip_tag(name),
        ];
        vs.iter()
            .any(|v| candidates.iter().any(|c| !c.is_empty() && c == v))
    }

    /// `label=k` or `label=k=v`: every one must be among the attributes.
    fn labels_match(&self, attrs: &BTreeMap<String, String>) -> bool {
        self.values("label").is_none_or(|vs| {
            vs.iter().all(|l| match l.split_once('=') {
                Some((k, v)) => attrs.get(k).is_some_and(|a| a == v),
                None => attrs.contains_key(l.as_str()),
            })
        })
    }
}

/// `busybox:1.36` → `busybox`; a registry's port is not a tag.
fn strip_tag(name: &str) -> &str {
    let name = name.split('@').next().unwrap_or(name);
    match name.rfind(':') {
        Some(i) if !name[i..].contains('/') => &name[..i],
        _ => name,
    }
}

pub use super::time::Window;

impl Window {
    /// Parses Docker's `since`/`until` values (see [`time::parse`]) against `now`; an empty
    /// value is none.
    pub fn for_events(
        since: Option<&str>,
        until: Option<&str>,
        now: i128,
    ) -> Result<Window, FilterError> {
        let w = Window::parse_at(since, until, ("since", "until"), now)
            .map_err(|(field, value)| FilterError::Time { field, value })?;
        if let (Some(s), Some(u)) = (w.since, w.until) {
            if s > u {
                return Err(FilterError::SinceAfterUntil {
                    since: since.unwrap_or_default().to_string(),
                    until: until.unwrap_or_default().to_string(),
                });
            }
        }
        Ok(w)
    }

    /// Whether past events are wanted (Docker replays them only with `since` or `until`).
    pub fn replays(&self) -> bool {
        self.since.is_some() || self.until.is_some()
    }

    pub fn contains(&self, e: &Event) -> bool {
        self.holds(i128::from(e.time_nano))
    }

    /// Whether a follower is done at `now`: past `until`.
    pub fn ended(&self, now: i128) -> bool {
        self.until.is_some_and(|u| now > u)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(kind: Kind, action: &str, id: &str, attrs: &[(&str, &str)]) -> Event {
        let attrs = attrs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Event::at(5_000_000_000, kind, action, id, attrs)
    }

    fn filter(words: &[&str]) -> EventFilter {
        EventFilter::parse_words(&words.iter().map(|w| w.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn filters_match_as_dockers_do() {
        let start = ev(
            Kind::Container,
            "start",
            "4f2a9c1b7e3d00",
            &[
                ("name", "web"),
                ("image", "busybox:latest"),
                ("tier", "front"),
            ],
        );
        let vol = ev(Kind::Volume, "create", "data", &[("driver", "local")]);
        let health = ev(Kind::Container, "health_status: healthy", "4f2a", &[]);
        assert!(filter(&[]).matches(&start));
        assert!(filter(&["type=container"]).matches(&start));
        assert!(!filter(&["type=container"]).matches(&vol));
        assert!(filter(&["type=volume", "type=container"]).matches(&vol));
        assert!(filter(&["event=start", "event=die"]).matches(&start));
        assert!(!filter(&["event=stop"]).matches(&start));
        assert!(filter(&["event=health_status"]).matches(&health));
        assert!(!filter(&["event=health"]).matches(&health));
        assert!(filter(&["container=web"]).matches(&start));
        assert!(filter(&["container=4f2a9c"]).matches(&start));
        assert!(!filter(&["container=db"]).matches(&start));
        assert!(!filter(&["container=data"]).matches(&vol));
        assert!(filter(&["volume=data"]).matches(&vol));
        assert!(filter(&["image=busybox"]).matches(&start));
        assert!(filter(&["image=busybox:latest"]).matches(&start));
        assert!(!filter(&["image=alpine"]).matches(&start));
        assert!(filter(&["label=tier"]).matches(&start));
        assert!(filter(&["label=tier=front"]).matches(&start));
        assert!(!filter(&["label=tier=back"]).matches(&start));
        assert!(!filter(&["label=tier", "label=zone"]).matches(&start));
        assert!(!filter(&["type=container", "event=stop"]).matches(&start));
    }

    #[test]
    fn bad_filters_name_what_is_wrong() {
        let err = EventFilter::parse_words(&["colour=red".to_string()]).unwrap_err();
        assert_eq!(err.to_string(), "invalid filter 'colour'");
        let err = EventFilter::parse_words(&["type".to_string()]).unwrap_err();
        assert!(err.to_string().contains("expected key=value"));
    }

    #[test]
    fn windows_take_dockers_times_and_include_both_ends() {
        const S: i128 = 1_000_000_000;
        let w = Window::for_events(Some("4"), Some("5"), 100 * S).unwrap();
        let e = ev(Kind::Volume, "create", "v", &[]);
        assert!(w.contains(&e) && w.replays());
        assert!(!Window::for_events(Some("5.1"), None, 0)
            .unwrap()
            .contains(&e));
        let w = Window::for_events(None, Some("10s"), 100 * S).unwrap();
        assert_eq!(w.until, Some(90 * S));
        assert!(w.ended(91 * S) && !w.ended(90 * S));
        assert!(!Window::default().replays());
        let err = Window::for_events(Some("yesterday"), None, 0).unwrap_err();
        assert!(err
            .to_string()
            .starts_with("invalid value for since: \"yesterday\""));
        assert!(matches!(
            Window::for_events(Some("10"), Some("5"), 0),
            Err(FilterError::SinceAfterUntil { .. })
        ));
    }

    #[test]
    fn tags_come_off_but_registry_ports_stay() {
        assert_eq!(strip_tag("busybox:1.36"), "busybox");
        assert_eq!(strip_tag("localhost:5000/app"), "localhost:5000/app");
        assert_eq!(strip_tag("localhost:5000/app:v1"), "localhost:5000/app");
    }
}
