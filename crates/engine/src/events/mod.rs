//! Events without a daemon: every state change is appended to the store's journal
//! (`journal`) as one line in Docker's event format ([`Event`]); `hull events` and the API's
//! `/events` read and follow it through Docker's filters and time window (`filter`, `time`).
//! The engine writes the events where the changes happen (`emit`); a failed append is a
//! warning, never the operation's failure. Imports `state/`.

mod emit;
pub mod filter;
pub mod journal;
#[cfg(test)]
mod journal_tests;
pub mod time;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use filter::{EventFilter, FilterError, Window};
pub use journal::{Journal, JournalError, Reader};

/// What an event is about (Docker's `Type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Container,
    Image,
    Network,
    Volume,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Container => "container",
            Kind::Image => "image",
            Kind::Network => "network",
            Kind::Volume => "volume",
        }
    }
}

/// The object of an event: its ID (a container's or image's ID, a network's ID, a volume's
/// name) and attributes (a container's name, image and labels, …).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "Attributes", default)]
    pub attributes: BTreeMap<String, String>,
}

/// One event, as Docker's `/events` sends it: with API 1.22's `status`, `id` and `from` for
/// containers (and the first two for images), as Docker 20.10 still fills them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(rename = "Type")]
    pub kind: Kind,
    #[serde(rename = "Action")]
    pub action: String,
    #[serde(rename = "Actor")]
    pub actor: Actor,
    pub scope: String,
    pub time: i64,
    #[serde(rename = "timeNano")]
    pub time_nano: i64,
}

impl Event {
    /// An event that happens now.
    pub fn new(kind: Kind, action: &str, id: &str, attributes: BTreeMap<String, String>) -> Event {
        Event::at(time::now() as i64, kind, action, id, attributes)
    }

    /// An event at `time_nano` (nanoseconds since the epoch).
    pub fn at(
        time_nano: i64,
        kind: Kind,
        action: &str,
        id: &str,
        attributes: BTreeMap<String, String>,
    ) -> Event {
        let legacy = matches!(kind, Kind::Container | Kind::Image);
        let from = match kind {
            Kind::Container => attributes.get("image").cloned(),
            _ => None,
        };
        Event {
            status: legacy.then(|| action.to_string()),
            id: legacy.then(|| id.to_string()),
            from,
            kind,
            action: action.to_string(),
            actor: Actor {
                id: id.to_string(),
                attributes,
            },
            scope: "local".into(),
            time: time_nano.div_euclid(1_000_000_000),
            time_nano,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_container_event_has_dockers_fields_and_the_legacy_ones() {
        let attrs = BTreeMap::from([
            ("image".to_string(), "busybox".to_string()),
            ("name".to_string(), "web".to_string()),
        ]);
        let e = Event::at(
            1_700_000_000_123_456_789,
            Kind::Container,
            "start",
            "abc",
            attrs,
        );
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["status"], "start");
        assert_eq!(v["id"], "abc");
        assert_eq!(v["from"], "busybox");
        assert_eq!(v["Type"], "container");
        assert_eq!(v["Action"], "start");
        assert_eq!(v["Actor"]["ID"], "abc");
        assert_eq!(v["Actor"]["Attributes"]["name"], "web");
        assert_eq!(v["scope"], "local");
        assert_eq!(v["time"], 1_700_000_000);
        assert_eq!(v["timeNano"], 1_700_000_000_123_456_789_i64);
        let back: Event = serde_json::from_value(v).unwrap();
        assert_eq!(back, e);
    }

    #[test]
    fn network_and_volume_events_have_no_legacy_fields() {
        let e = Event::at(0, Kind::Volume, "create", "data", BTreeMap::new());
        let v = serde_json::to_value(&e).unwrap();
        assert!(v.get("status").is_none() && v.get("id").is_none() && v.get("from").is_none());
        let e = Event::at(0, Kind::Image, "pull", "busybox:latest", BTreeMap::new());
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!((v["status"].as_str(), v.get("from")), (Some("pull"), None));
    }
}
