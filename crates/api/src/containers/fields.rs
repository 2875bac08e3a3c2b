//! Reading a Docker JSON document field by field, so that a value of the wrong type is a 400
//! naming the field (`HostConfig.Memory`), and unknown fields are ignored, as Docker does.

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::error::ApiError;

/// An object of the request body (or an absent one) and its path from the body's root.
pub struct Fields<'a> {
    obj: Option<&'a Map<String, Value>>,
    path: String,
}

impl<'a> Fields<'a> {
    /// The body itself: an object, or null (nothing set).
    pub fn root(v: &'a Value) -> Result<Fields<'a>, ApiError> {
        Fields::at(v, String::new())
    }

    fn at(v: &'a Value, path: String) -> Result<Fields<'a>, ApiError> {
        match v {
            Value::Null => Ok(Fields { obj: None, path }),
            Value::Object(m) => Ok(Fields { obj: Some(m), path }),
            other => Err(ApiError::bad(format!(
                "invalid value for {}: {} is not an object",
                if path.is_empty() { "the body" } else { &path },
                kind(other)
            ))),
        }
    }

    /// `key`'s full name, `HostConfig.Memory`.
    pub fn name(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    fn raw(&self, key: &str) -> Option<&'a Value> {
        self.obj?.get(key).filter(|v| !v.is_null())
    }

    /// The value of `key` as `T`; None when absent or null.
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, ApiError> {
        let Some(v) = self.raw(key) else {
            return Ok(None);
        };
        T::deserialize(v)
            .map(Some)
            .map_err(|e| ApiError::bad(format!("invalid value for {}: {e}", self.name(key))))
    }

    /// `get`, with the type's default when absent.
    pub fn or_default<T: DeserializeOwned + Default>(&self, key: &str) -> Result<T, ApiError> {
        Ok(self.get(key)?.unwrap_or_default())
    }

    /// A string that is empty when unset, as None.
    pub fn text(&self, key: &str) -> Result<Option<String>, ApiError> {
        Ok(self.get::<String>(key)?.filter(|s| !s.is_empty()))
    }

    /// The object under `key` (absent: an empty one).
    pub fn object(&self, key: &str) -> Result<Fields<'a>, ApiError> {
        match self.raw(key) {
            None => Ok(Fields {
                obj: None,
                path: self.name(key),
            }),
            Some(v) => Fields::at(v, self.name(key)),
        }
    }

    /// The keys of this object, in order.
    pub fn keys(&self) -> Vec<&'a str> {
        self.obj
            .map(|m| m.keys().map(String::as_str).collect())
            .unwrap_or_default()
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Docker's strslice: a list of strings, or one string (`"Cmd": "echo hi"` is `["echo hi"]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum StrSlice {
    One(String),
    Many(Vec<String>),
}

impl StrSlice {
    pub fn into_vec(self) -> Vec<String> {
        match self {
            StrSlice::One(s) => vec![s],
            StrSlice::Many(v) => v,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn wrong_types_name_the_field_and_unknown_fields_pass() {
        let doc = json!({"HostConfig": {"Memory": "lots", "Nope": 1}, "Tty": true, "Cmd": "ls"});
        let root = Fields::root(&doc).unwrap();
        assert_eq!(root.get::<bool>("Tty").unwrap(), Some(true));
        let cmd: StrSlice = root.get("Cmd").unwrap().unwrap();
        assert_eq!(cmd.into_vec(), ["ls"]);
        let host = root.object("HostConfig").unwrap();
        let e = host.get::<i64>("Memory").unwrap_err();
        assert_eq!(e.status, hyper::StatusCode::BAD_REQUEST);
        assert!(e.message.contains("HostConfig.Memory"), "{}", e.message);
        assert_eq!(host.get::<i64>("Missing").unwrap(), None);
        let doc = json!({"HostConfig": 3});
        let e = Fields::root(&doc).unwrap().object("HostConfig");
        assert!(e
            .err()
            .unwrap()
            .message
            .contains("HostConfig: a number is not an object"));
        assert!(Fields::root(&json!([1])).is_err());
    }
}
