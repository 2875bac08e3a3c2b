//! `POST /containers/prune`'s filters: `until` (a Unix time, an RFC 3339 time, or a Go duration
//! before now) and `label` / `label!` (`KEY` or `KEY=VALUE`), as Docker's prune reads them.

use hull_engine::state::Record;
use hull_image::time::{now_secs, parse_rfc3339};

use crate::error::ApiError;

#[derive(Debug, Default)]
pub struct PruneFilter {
    /// Only containers created before this (seconds since the epoch).
    until: Option<i64>,
    /// Every one must match.
    label: Vec<(String, Option<String>)>,
    /// None may match.
    not_label: Vec<(String, Option<String>)>,
}

fn kv(v: &str) -> (String, Option<String>) {
    match v.split_once('=') {
        Some((k, v)) => (k.to_string(), Some(v.to_string())),
        None => (v.to_string(), None),
    }
}

impl PruneFilter {
    pub fn parse(pairs: &[(String, String)]) -> Result<PruneFilter, ApiError> {
        let mut f = PruneFilter::default();
        for (key, value) in pairs {
            match key.as_str() {
                "until" => f.until = Some(until(value)?),
                "label" => f.label.push(kv(value)),
                "label!" => f.not_label.push(kv(value)),
                other => {
                    return Err(ApiError::bad(format!(
                        "invalid filter '{other}': prune takes until, label and label!"
                    )))
                }
            }
        }
        Ok(f)
    }

    pub fn matches(&self, r: &Record) -> bool {
        let labels = &r.config.labels;
        let has = |(k, v): &(String, Option<String>)| {
            hull_engine::run::labels::matches(labels, k, v.as_deref())
        };
        let created = parse_rfc3339(&r.created).unwrap_or(0);
        self.until.is_none_or(|u| created < u)
            && self.label.iter().all(has)
            && !self.not_label.iter().any(has)
    }
}

/// Docker's `until`: `1700000000`, `1700000000.5`, `2023-11-14T22:13:20Z`, or `10m` ago.
fn until(v: &str) -> Result<i64, ApiError> {
    if let Ok(secs) = v.parse::<f64>() {
        return Ok(secs.floor() as i64);
    }
    if let Some(t) = parse_rfc3339(v) {
        return Ok(t);
    }
    match hull_engine::run::units::parse_go_duration(v) {
        Ok(ns) => Ok(now_secs() - ns / 1_000_000_000),
        Err(_) => Err(ApiError::bad(format!(
            "invalid filter 'until={v}': expected a Unix time, an RFC 3339 time or a duration"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn until_takes_dockers_three_spellings() {
        assert_eq!(until("1700000000").unwrap(), 1_700_000_000);
        assert_eq!(until("2023-11-14T22:13:20Z").unwrap(), 1_700_000_000);
        let ago = until("1h").unwrap();
        assert!((now_secs() - 3600 - ago).abs() <= 1);
        assert!(until("soon").unwrap_err().message.contains("until=soon"));
        assert!(PruneFilter::parse(&pairs(&[("status", "exited")])).is_err());
        let f = PruneFilter::parse(&pairs(&[("label", "a=b"), ("label!", "c")])).unwrap();
        assert_eq!(f.label, [("a".to_string(), Some("b".to_string()))]);
        assert_eq!(f.not_label, [("c".to_string(), None)]);
    }
}
