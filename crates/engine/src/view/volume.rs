//! `volume inspect`'s document and `volume ls`'s rows, Docker-shaped, and `volume ls`'s
//! filters.

use serde_json::{json, Value};

use crate::volume::Volume;

/// The JSON `docker volume inspect` prints for one volume.
pub fn document(v: &Volume) -> Value {
    json!({
        "CreatedAt": v.created_at,
        "Driver": v.driver,
        "Labels": v.labels,
        "Mountpoint": v.mountpoint,
        "Name": v.name,
        "Options": v.options,
        "Scope": "local",
    })
}

/// One `volume ls` row, the fields `--format` reads.
pub fn row(v: &Volume) -> Value {
    let labels: Vec<String> = v
        .labels
        .iter()
        .flatten()
        .map(|(k, val)| format!("{k}={val}"))
        .collect();
    json!({
        "Driver": v.driver, "Labels": labels.join(","), "Links": "N/A",
        "Mountpoint": v.mountpoint, "Name": v.name, "Scope": "local", "Size": "N/A",
    })
}

/// A `volume ls -f` filter that is not one of Docker's.
#[derive(Debug, thiserror::Error)]
#[error("invalid filter '{0}'")]
pub struct BadFilter(pub String);

/// `volume ls` filters: one key's values OR, keys AND, as Docker's.
#[derive(Debug, Default)]
pub struct Filters(Vec<(String, String)>);

impl Filters {
    pub fn parse(args: &[String]) -> Result<Filters, BadFilter> {
        let mut out = Vec::new();
        for a in args {
            let (k, v) = a.split_once('=').ok_or_else(|| BadFilter(a.clone()))?;
            let ok = match k {
                "dangling" => matches!(v, "true" | "false" | "1" | "0"),
                "name" | "label" | "driver" => true,
                _ => false,
            };
            if !ok {
                return Err(BadFilter(a.clone()));
            }
            out.push((k.to_string(), v.to_string()));
        }
        Ok(Filters(out))
    }

    /// Whether `v` passes; `in_use` says whether a container uses it.
    pub fn matches(&self, v: &Volume, in_use: bool) -> bool {
        ["dangling", "name", "label", "driver"].iter().all(|key| {
            let mut values = self.0.iter().filter(|(k, _)| k == key).peekable();
            values.peek().is_none() || values.any(|(_, val)| one(key, val, v, in_use))
        })
    }
}

fn one(key: &str, val: &str, v: &Volume, in_use: bool) -> bool {
    match key {
        "dangling" => matches!(val, "true" | "1") != in_use,
        "name" => v.name.contains(val),
        "driver" => v.driver == val,
        _ => {
            let labels = v.labels.clone().unwrap_or_default();
            match val.split_once('=') {
                Some((k, want)) => labels.get(k).is_some_and(|have| have == want),
                None => labels.contains_key(val),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vol(name: &str, labels: &[(&str, &str)]) -> Volume {
        Volume {
            name: name.into(),
            driver: "local".into(),
            created_at: "2026-01-01T00:00:00Z".into(),
            labels: Some(
                labels
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
            options: None,
            mountpoint: "/v".into(),
        }
    }

    #[test]
    fn filters_or_within_a_key_and_across_keys() {
        let f =
            |args: &[&str]| Filters::parse(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        let db = vol("db", &[("tier", "data")]);
        let web = vol("web", &[]);
        let both = f(&["name=db", "name=web"]).unwrap();
        assert!(both.matches(&db, false) && both.matches(&web, true));
        let and = f(&["name=db", "dangling=true"]).unwrap();
        assert!(and.matches(&db, false) && !and.matches(&db, true));
        assert!(f(&["label=tier=data"]).unwrap().matches(&db, false));
        assert!(!f(&["label=tier=x"]).unwrap().matches(&db, false));
        assert!(!f(&["label=tier"]).unwrap().matches(&web, false));
        assert!(f(&["dangling=maybe"]).is_err() && f(&["colour=red"]).is_err());
        assert_eq!(document(&db)["Scope"], "local");
        assert_eq!(row(&db)["Labels"], "tier=data");
    }
}
