//! `hull ps`: which containers to show (`-a`, `--filter`) and the state each is in, in Docker's
//! words. Pure functions over records, so that listing stays one read per container.
//!
//! ```
//! # use hull_engine::state::listing::Filters;
//! let f = Filters::parse(&["status=exited".into(), "status=created".into(), "name=web".into()])
//!     .unwrap();
//! assert!(f.implies_all()); // a status filter shows stopped containers without -a
//! ```

use crate::state::{Record, Status};

/// Docker's container states, as `ps --format '{{.State}}'` and `--filter status=` name them.
pub const STATES: [&str; 6] = [
    "created",
    "running",
    "paused",
    "restarting",
    "exited",
    "dead",
];

/// The Docker state of a record (as read back, i.e. reconciled with its runner's liveness).
pub fn state_name(r: &Record) -> &'static str {
    match r.state.status {
        Status::Created => "created",
        Status::Running if r.state.paused => "paused",
        Status::Running => "running",
        Status::Restarting => "restarting",
        Status::Exited => "exited",
        Status::Dead => "dead",
    }
}

/// Docker's health filter values; `none` is a container without a health check.
const HEALTH: [&str; 4] = ["starting", "healthy", "unhealthy", "none"];

/// The health of a record in Docker's words (`none`: it never had a health check).
pub fn health_name(r: &Record) -> &'static str {
    r.state
        .health
        .as_ref()
        .map_or("none", |h| h.status.as_str())
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FilterError {
    #[error("invalid filter '{0}'")]
    Invalid(String),
    #[error("invalid filter 'status={0}'")]
    BadStatus(String),
    #[error("invalid filter 'exited={0}'")]
    BadExitCode(String),
    #[error("Unrecognised filter value for health: {0}")]
    BadHealth(String),
}

/// `--filter key=value`, repeated: values of one key OR, different keys AND (Docker's rule).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Filters {
    status: Vec<String>,
    name: Vec<String>,
    id: Vec<String>,
    /// `label=KEY` or `label=KEY=VALUE`.
    label: Vec<(String, Option<String>)>,
    exited: Vec<i32>,
    /// `health=starting|healthy|unhealthy|none`.
    health: Vec<String>,
}

impl Filters {
    pub fn parse(args: &[String]) -> Result<Filters, FilterError> {
        let mut f = Filters::default();
        for arg in args {
            let (key, value) = arg
                .split_once('=')
                .ok_or_else(|| FilterError::Invalid(arg.clone()))?;
            let value = value.to_string();
            match key.to_ascii_lowercase().as_str() {
                "status" if STATES.contains(&value.as_str()) => f.status.push(value),
                "status" => return Err(FilterError::BadStatus(value)),
                "name" => f.name.push(value.trim_start_matches('/').to_string()),
                "id" => f.id.push(value),
                "label" => f.label.push(match value.split_once('=') {
                    Some((k, v)) => (k.to_string(), Some(v.to_string())),
                    None => (value, None),
                }),
                "exited" => f.exited.push(
                    value
                        .parse()
                        .map_err(|_| FilterError::BadExitCode(value.clone()))?,
                ),
                "health" if HEALTH.contains(&value.as_str()) => f.health.push(value),
                "health" => return Err(FilterError::BadHealth(value)),
                _ => return Err(FilterError::Invalid(key.to_string())),
            }
        }
        Ok(f)
    }

    /// Docker shows stopped containers without `-a` when the filter asks for a state.
    pub fn implies_all(&self) -> bool {
        !self.status.is_empty() || !self.exited.is_empty()
    }

    pub fn matches(&self, r: &Record) -> bool {
        let any = |values: &[String], pred: &dyn Fn(&str) -> bool| {
            values.is_empty() || values.iter().any(|v| pred(v))
        };
        let state = state_name(r);
        any(&self.status, &|s| s == state)
            && any(&self.name, &|n| name_matches(n, &r.name))
            && any(&self.id, &|p| r.id.starts_with(p))
            // Unlike other keys, every label filter must match (Docker's MatchKVList).
            && self.label.iter().all(|(k, v)| {
                crate::run::labels::matches(&r.config.labels, k, v.as_deref())
            })
            && any(&self.health, &|h| h == health_name(r))
            && (self.exited.is_empty()
                || (r.state.status == Status::Exited
                    && self.exited.contains(&r.state.exit_code.unwrap_or(0))))
    }
}

/// Docker matches `name=` as a regular expression; hull understands the common subset: a
/// substring, anchored with `^` and/or `$`.
fn name_matches(pattern: &str, name: &str) -> bool {
    let (start, rest) = match pattern.strip_prefix('^') {
        Some(p) => (true, p),
        None => (false, pattern),
    };
    let (end, text) = match rest.strip_suffix('$') {
        Some(p) => (true, p),
        None => (false, rest),
    };
    match (start, end) {
        (true, true) => name == text,
        (true, false) => name.starts_with(text),
        (false, true) => name.ends_with(text),
        (false, false) => name.contains(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::RunOptions;
    use crate::state::record::test_record;
    use crate::state::State;

    fn record(name: &str, id: &str, status: Status, exit: Option<i32>) -> Record {
        Record {
            id: id.to_string() + &"0".repeat(64 - id.len()),
            name: name.into(),
            created: "t".into(),
            state: State {
                status,
                exit_code: exit,
                ..State::default()
            },
            ..test_record(RunOptions::default())
        }
    }

    fn f(args: &[&str]) -> Filters {
        Filters::parse(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn health_filters_by_status_and_none() {
        use crate::state::health::{Health, HealthStatus};
        let plain = record("plain", "ab12", Status::Running, None);
        let mut ok = record("ok", "cd34", Status::Running, None);
        ok.state.health = Some(Health {
            status: HealthStatus::Healthy,
            ..Health::default()
        });
        let healthy = f(&["health=healthy"]);
        assert!(healthy.matches(&ok) && !healthy.matches(&plain));
        let none = f(&["health=none"]);
        assert!(none.matches(&plain) && !none.matches(&ok));
        assert!(!f(&["health=starting"]).matches(&ok));
        assert_eq!(
            Filters::parse(&["health=fine".into()]),
            Err(FilterError::BadHealth("fine".into()))
        );
    }

    #[test]
    fn same_key_ors_and_different_keys_and() {
        let web = record("web", "ab12", Status::Running, None);
        let db = record("db", "cd34", Status::Exited, Some(3));
        let new = record("webnew", "ab99", Status::Created, None);
        let st = f(&["status=running", "status=exited"]);
        assert!(st.matches(&web) && st.matches(&db) && !st.matches(&new));
        let both = f(&["status=running", "name=web"]);
        assert!(both.matches(&web) && !both.matches(&db) && !both.matches(&new));
        let ids = f(&["id=ab"]);
        assert!(ids.matches(&web) && ids.matches(&new) && !ids.matches(&db));
        let code = f(&["exited=3"]);
        assert!(code.matches(&db) && !code.matches(&web));
        assert!(!f(&["exited=0"]).matches(&db));
        assert!(!f(&["label=a=b"]).matches(&web));
        let mut labelled = record("lab", "ff", Status::Running, None);
        labelled.config.labels = [("a", "b"), ("c", "")]
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .into();
        assert!(f(&["label=a=b"]).matches(&labelled) && f(&["label=a"]).matches(&labelled));
        assert!(f(&["label=a", "label=c"]).matches(&labelled));
        assert!(!f(&["label=a", "label=x"]).matches(&labelled));
        assert!(!f(&["label=a=c"]).matches(&labelled) && !f(&["label=c=x"]).matches(&labelled));
        assert!(Filters::default().matches(&new));
        assert!(f(&["name=^web$"]).matches(&web) && !f(&["name=^web$"]).matches(&new));
        assert!(f(&["name=^web"]).matches(&new) && !f(&["name=new$"]).matches(&web));
    }

    #[test]
    fn paused_is_its_own_state() {
        let mut r = record("p", "ee", Status::Running, None);
        r.state.paused = true;
        assert_eq!(state_name(&r), "paused");
        assert!(f(&["status=paused"]).matches(&r));
        assert!(!f(&["status=running"]).matches(&r));
    }

    #[test]
    fn bad_filters_are_refused_like_docker() {
        let parse = |a: &str| Filters::parse(&[a.to_string()]).unwrap_err().to_string();
        assert_eq!(parse("status=sleeping"), "invalid filter 'status=sleeping'");
        assert_eq!(parse("color=red"), "invalid filter 'color'");
        assert_eq!(parse("nokey"), "invalid filter 'nokey'");
        assert_eq!(parse("exited=x"), "invalid filter 'exited=x'");
        assert!(f(&["status=exited"]).implies_all());
        assert!(!f(&["name=x"]).implies_all());
    }
}
