//! A request's query string: Docker's parameters, booleans as Go's strconv.ParseBool reads them,
//! and the JSON `filters` document in both of its shapes.

use std::collections::BTreeMap;

use crate::error::ApiError;

#[derive(Debug, Default)]
pub struct Query(Vec<(String, String)>);

impl Query {
    pub fn parse(q: Option<&str>) -> Query {
        Query(
            form_urlencoded::parse(q.unwrap_or_default().as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// The last value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a repeated `key`.
    pub fn all(&self, key: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// A boolean: absent is `default`; `1`, `t`, `true` (any case) and `0`, `f`, `false`, as
    /// Docker's parser; anything else is a 400 naming the parameter.
    pub fn flag(&self, key: &str, default: bool) -> Result<bool, ApiError> {
        match self.get(key) {
            None | Some("") => Ok(default),
            Some(v) => match v.to_ascii_lowercase().as_str() {
                "1" | "t" | "true" => Ok(true),
                "0" | "f" | "false" => Ok(false),
                _ => Err(ApiError::bad(format!(
                    "invalid value for {key}: {v:?} is not a boolean"
                ))),
            },
        }
    }

    /// A number, or None when absent; a 400 naming the parameter when it is not one.
    pub fn number<T: std::str::FromStr>(&self, key: &str) -> Result<Option<T>, ApiError> {
        match self.get(key) {
            None | Some("") => Ok(None),
            Some(v) => v
                .parse()
                .map(Some)
                .map_err(|_| ApiError::bad(format!("invalid value for {key}: {v:?}"))),
        }
    }

    /// [`Query::filters`] as `key=value` words, the form the engine's filter parsers take
    /// (as the command line's `--filter`).
    pub fn filter_words(&self) -> Result<Vec<String>, ApiError> {
        Ok(self
            .filters()?
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect())
    }

    /// `filters`: `{"key": ["v", …]}`, or the older `{"key": {"v": true}}`; as `key=v` pairs.
    pub fn filters(&self) -> Result<Vec<(String, String)>, ApiError> {
        let Some(text) = self.get("filters").filter(|t| !t.is_empty()) else {
            return Ok(Vec::new());
        };
        let bad = |e: String| ApiError::bad(format!("invalid filter: {e}"));
        let doc: BTreeMap<String, serde_json::Value> =
            serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
        let mut out = Vec::new();
        for (key, values) in doc {
            match values {
                serde_json::Value::Array(vs) => {
                    for v in vs {
                        let v = v
                            .as_str()
                            .ok_or_else(|| bad(format!("{key}: not a string")))?;
                        out.push((key.clone(), v.to_string()));
                    }
                }
                serde_json::Value::Object(m) => {
                    out.extend(m.keys().map(|v| (key.clone(), v.clone())));
                }
                _ => return Err(bad(format!("{key}: not a list"))),
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_read_as_docker_reads_them() {
        let q = Query::parse(Some("a=1&b=False&c=&d=yes"));
        assert!(q.flag("a", false).unwrap());
        assert!(!q.flag("b", true).unwrap());
        assert!(q.flag("c", true).unwrap());
        assert!(q.flag("missing", true).unwrap());
        assert!(q.flag("d", false).unwrap_err().message.contains("d"));
    }

    #[test]
    fn filters_take_both_shapes() {
        let q = Query::parse(Some(
            "filters=%7B%22label%22%3A%5B%22a%3Db%22%5D%2C%22status%22%3A%7B%22exited%22%3Atrue%7D%7D",
        ));
        assert_eq!(
            q.filters().unwrap(),
            vec![
                ("label".to_string(), "a=b".to_string()),
                ("status".to_string(), "exited".to_string())
            ]
        );
        assert!(Query::parse(Some("filters=%5B1%5D")).filters().is_err());
    }
}
