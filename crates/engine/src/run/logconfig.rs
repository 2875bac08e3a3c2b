//! Docker's json-file log driver options, `--log-driver` and `--log-opt`.
//!
//! ```text
//! --log-driver json-file|none
//! --log-opt max-size=10m   rotate once the file reached 10 MiB (k/m/g units)
//! --log-opt max-file=3     keep <id>-json.log.1 (newest) … .2 (oldest) besides <id>-json.log;
//!                          only with max-size; 1 (the default) truncates instead of rotating
//! ```

use serde::{Deserialize, Serialize};

use crate::run::units::parse_bytes;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum LogDriver {
    #[default]
    JsonFile,
    /// No log at all; `hull logs` refuses to read it, as Docker does.
    None,
}

/// The validated `--log-driver` and `--log-opt` flags.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogConfig {
    pub driver: LogDriver,
    /// Bytes; None: the file grows without bound.
    pub max_size: Option<u64>,
    /// Files kept, the current one included (at least 1).
    pub max_file: u32,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            driver: LogDriver::JsonFile,
            max_size: None,
            max_file: 1,
        }
    }
}

impl LogConfig {
    /// Parses `--log-driver` and the `--log-opt key=value` list; errors read like Docker's.
    pub fn parse(driver: Option<&str>, opts: &[String]) -> Result<LogConfig, String> {
        let driver = match driver.unwrap_or("json-file") {
            "json-file" => LogDriver::JsonFile,
            "none" => LogDriver::None,
            other => return Err(format!("no log driver named '{other}' is registered")),
        };
        let mut config = LogConfig {
            driver,
            ..LogConfig::default()
        };
        let driver_name = match driver {
            LogDriver::JsonFile => "json-file",
            LogDriver::None => "none",
        };
        for opt in opts {
            let (key, value) = opt
                .split_once('=')
                .ok_or_else(|| format!("invalid log opt format {opt:?}: expected key=value"))?;
            match (driver, key) {
                (LogDriver::JsonFile, "max-size") => {
                    let size = parse_bytes(value)?;
                    if size <= 0 {
                        return Err(format!("max-size must be positive: {value:?}"));
                    }
                    config.max_size = Some(size as u64);
                }
                (LogDriver::JsonFile, "max-file") => {
                    config.max_file = value
                        .parse()
                        .ok()
                        .filter(|n| *n >= 1)
                        .ok_or_else(|| format!("max-file must be at least 1: {value:?}"))?;
                }
                _ => {
                    return Err(format!(
                        "unknown log opt '{key}' for {driver_name} log driver"
                    ))
                }
            }
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_parse_and_unknown_keys_fail() {
        let c = LogConfig::parse(None, &["max-size=1k".into(), "max-file=3".into()]).unwrap();
        assert_eq!(c.max_size, Some(1024));
        assert_eq!(c.max_file, 3);
        assert_eq!(LogConfig::parse(None, &[]).unwrap(), LogConfig::default());
        assert_eq!(
            LogConfig::parse(Some("none"), &[]).unwrap().driver,
            LogDriver::None
        );
        let e = LogConfig::parse(None, &["colour=red".into()]).unwrap_err();
        assert_eq!(e, "unknown log opt 'colour' for json-file log driver");
        assert!(LogConfig::parse(None, &["max-file=0".into()]).is_err());
        assert!(LogConfig::parse(None, &["max-size=lots".into()]).is_err());
        assert!(LogConfig::parse(Some("syslog"), &[]).is_err());
        assert!(LogConfig::parse(Some("none"), &["max-size=1k".into()]).is_err());
    }
}
