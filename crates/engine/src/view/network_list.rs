//! `network ls` and `GET /networks`: every network's document (the store's, then the
//! pre-defined `host` and `none`) and Docker's filters over them, so that the CLI and the API
//! list and select alike.

use std::collections::BTreeSet;
use std::path::Path;

use hull_net::{NetworkError, Networks};
use serde_json::Value;

use super::network::{inspect, Predefined};

/// Every network's `network inspect` document as JSON, in the store's order then `host` and
/// `none`; one removed while listed is left out.
pub fn documents(root: &Path, nets: &Networks) -> Result<Vec<Value>, NetworkError> {
    let mut names: Vec<String> = nets.list()?.into_iter().map(|n| n.id).collect();
    names.extend(Predefined::ALL.iter().map(|p| p.name().to_string()));
    let mut out = Vec::new();
    for n in names {
        match inspect(root, nets, &n) {
            Ok(doc) => out.push(serde_json::to_value(doc).unwrap_or(Value::Null)),
            Err(NetworkError::NotFound { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

/// Docker's network filters: `name`, `id`, `driver`, `label`, `scope`, `type=custom|builtin`
/// and `dangling`; anything else is Docker's error text.
pub fn check_filter(key: &str, value: &str) -> Result<(), String> {
    let ok = match key {
        "name" | "id" | "driver" | "label" | "scope" => true,
        "type" => matches!(value, "custom" | "builtin"),
        "dangling" => matches!(value, "true" | "false" | "1" | "0"),
        _ => false,
    };
    match ok {
        true => Ok(()),
        false => Err(format!("invalid filter '{key}={value}'")),
    }
}

/// Whether the document passes `filters`: one key's values are alternatives, keys all apply.
pub fn matches(filters: &[(String, String)], doc: &Value) -> bool {
    let text = |k: &str| doc[k].as_str().unwrap_or_default().to_string();
    let builtin = matches!(text("Name").as_str(), "bridge" | "host" | "none");
    let one = |k: &str, v: &str| match k {
        "name" => text("Name").contains(v),
        "id" => text("Id").starts_with(v),
        "driver" => text("Driver") == v,
        "scope" => v == "local",
        "type" => (v == "builtin") == builtin,
        "dangling" => {
            let unused = doc["Containers"].as_object().is_none_or(|m| m.is_empty());
            matches!(v, "true" | "1") == (unused && !builtin)
        }
        _ => match v.split_once('=') {
            Some((lk, lv)) => doc["Labels"][lk].as_str() == Some(lv),
            None => doc["Labels"].get(v).is_some(),
        },
    };
    let keys: BTreeSet<&str> = filters.iter().map(|(k, _)| k.as_str()).collect();
    keys.into_iter().all(|key| {
        filters
            .iter()
            .filter(|(k, _)| k == key)
            .any(|(k, v)| one(k, v))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn f(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn filters_select_as_dockers_do() {
        let mine = json!({"Name": "web-net", "Id": "abc123", "Driver": "bridge",
                          "Labels": {"team": "a"}, "Containers": {}});
        let host = json!({"Name": "host", "Id": "def456", "Driver": "host", "Labels": {},
                          "Containers": {}});
        assert!(matches(&f(&[("name", "web")]), &mine));
        assert!(!matches(&f(&[("name", "db")]), &mine));
        assert!(
            matches(&f(&[("name", "db"), ("name", "web")]), &mine),
            "values are alternatives"
        );
        assert!(
            !matches(&f(&[("name", "web"), ("driver", "host")]), &mine),
            "keys all apply"
        );
        assert!(matches(&f(&[("id", "abc")]), &mine) && !matches(&f(&[("id", "bc")]), &mine));
        assert!(
            matches(&f(&[("label", "team=a")]), &mine) && matches(&f(&[("label", "team")]), &mine)
        );
        assert!(!matches(&f(&[("label", "team=b")]), &mine));
        assert!(
            matches(&f(&[("type", "builtin")]), &host)
                && !matches(&f(&[("type", "builtin")]), &mine)
        );
        assert!(
            matches(&f(&[("dangling", "true")]), &mine)
                && !matches(&f(&[("dangling", "true")]), &host)
        );
        assert_eq!(
            check_filter("colour", "x").unwrap_err(),
            "invalid filter 'colour=x'"
        );
        assert!(check_filter("type", "other").is_err() && check_filter("type", "custom").is_ok());
    }
}
