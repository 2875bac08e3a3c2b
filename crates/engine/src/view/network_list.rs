//! `network ls` and `GET /networks`: every network's document (the store's, then the
//! pre-defined `host` and `none`) and Docker's filters over them, so that the CLI and the API
//! list and select alike.

use std::collections::BTreeSet;
use std::path::Path;

use hull_net::{NetworkError, Networks};
use serde_json::{json, Value};

use crate::run::config::Labels;
use crate::run::labels;

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

/// `network ls -f` arguments (`KEY=VALUE` each) as checked filter pairs.
pub fn parse_filters(args: &[String]) -> Result<Vec<(String, String)>, String> {
    args.iter()
        .map(|a| {
            let (k, v) = a
                .split_once('=')
                .ok_or_else(|| format!("bad format of filter (expected name=value): {a}"))?;
            check_filter(k, v)?;
            Ok((k.to_string(), v.to_string()))
        })
        .collect()
}

/// One `network ls` row from the network's inspect document: the fields `--format` reads, every
/// one a string as Docker gives them, the ID cut to 12 characters with `trunc`.
pub fn row(doc: &Value, trunc: bool) -> Value {
    let text = |k: &str| doc[k].as_str().unwrap_or_default().to_string();
    let mut id = text("Id");
    if trunc {
        id = id.chars().take(12).collect();
    }
    let labels: Labels = serde_json::from_value(doc["Labels"].clone()).unwrap_or_default();
    json!({
        "ID": id,
        "Name": text("Name"),
        "Driver": text("Driver"),
        "Scope": "local",
        "IPv6": "false",
        "Internal": "false",
        "Labels": labels::display(&labels),
        "CreatedAt": super::ps::docker_time(&text("Created")),
    })
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
        let args = |a: &[&str]| parse_filters(&a.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(
            args(&["name=web", "label=a=b"]).unwrap(),
            f(&[("name", "web"), ("label", "a=b")])
        );
        assert!(args(&["name"]).unwrap_err().contains("expected name=value"));
        assert_eq!(
            args(&["colour=red"]).unwrap_err(),
            "invalid filter 'colour=red'"
        );
    }

    #[test]
    fn rows_are_dockers_network_ls_fields() {
        let doc = json!({"Id": "abcdef0123456789", "Name": "web", "Driver": "bridge",
                         "Labels": {"b": "2", "a": "1"}, "Created": "2024-01-02T15:04:05.5Z"});
        let r = row(&doc, true);
        assert_eq!(r["ID"], "abcdef012345");
        assert_eq!(row(&doc, false)["ID"], "abcdef0123456789");
        assert_eq!(r["Labels"], "a=1,b=2");
        assert_eq!(r["CreatedAt"], "2024-01-02 15:04:05 +0000 UTC");
        assert_eq!(
            (r["Scope"].as_str(), r["IPv6"].as_str()),
            (Some("local"), Some("false"))
        );
    }
}
