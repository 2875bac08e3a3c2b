//! Docker's json-file log driver options and the rotating log file the monitor writes.
//!
//! ```text
//! --log-driver json-file|none
//! --log-opt max-size=10m   rotate once the file reached 10 MiB (k/m/g units)
//! --log-opt max-file=3     keep <id>-json.log.1 (newest) … .2 (oldest) besides <id>-json.log;
//!                          only with max-size; 1 (the default) truncates instead of rotating
//! ```

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

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

/// The `n`th rotated file of the log at `path`: `<path>.<n>`, 1 the newest.
pub fn rotated(path: &Path, n: u32) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(format!(".{n}"));
    PathBuf::from(p)
}

/// Every file of the log, oldest first: the rotated ones that exist, then `path` itself.
pub fn files_oldest_first(path: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = (1..)
        .map(|n| rotated(path, n))
        .take_while(|p| p.exists())
        .collect();
    files.reverse();
    files.push(path.to_path_buf());
    files
}

/// The log as the monitor writes it: whole entries appended, rotated by size.
#[derive(Debug)]
pub struct LogFile {
    path: PathBuf,
    /// None with the `none` driver: entries are dropped.
    file: Option<File>,
    size: u64,
    config: LogConfig,
}

fn open_append(path: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

impl LogFile {
    pub fn open(path: &Path, config: &LogConfig) -> io::Result<LogFile> {
        let file = match config.driver {
            LogDriver::JsonFile => Some(open_append(path)?),
            LogDriver::None => None,
        };
        let size = match &file {
            Some(f) => f.metadata()?.len(),
            None => 0,
        };
        Ok(LogFile {
            path: path.to_path_buf(),
            file,
            size,
            config: config.clone(),
        })
    }

    /// Appends one entry (a whole line). Rotates first when the file already reached
    /// max-size, so a file exceeds it by at most one entry, as Docker's do.
    pub fn write_entry(&mut self, entry: &[u8]) -> io::Result<()> {
        if self.file.is_none() {
            return Ok(());
        }
        if self.config.max_size.is_some_and(|max| self.size >= max) {
            self.rotate()?;
        }
        let file = self.file.as_mut().expect("checked above");
        file.write_all(entry)?;
        self.size += entry.len() as u64;
        Ok(())
    }

    fn rotate(&mut self) -> io::Result<()> {
        if self.config.max_file < 2 {
            self.file.as_ref().expect("json-file").set_len(0)?;
            self.size = 0;
            return Ok(());
        }
        for n in (1..self.config.max_file - 1).rev() {
            match fs::rename(rotated(&self.path, n), rotated(&self.path, n + 1)) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        fs::rename(&self.path, rotated(&self.path, 1))?;
        self.file = Some(open_append(&self.path)?);
        self.size = 0;
        Ok(())
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

    fn write_lines(log: &mut LogFile, n: usize) {
        for i in 0..n {
            log.write_entry(format!("line {i:04}\n").as_bytes())
                .unwrap();
        }
    }

    #[test]
    fn rotation_keeps_max_file_files_newest_last() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x-json.log");
        let config = LogConfig::parse(None, &["max-size=20".into(), "max-file=3".into()]).unwrap();
        let mut log = LogFile::open(&path, &config).unwrap();
        write_lines(&mut log, 10); // 10 bytes each: two per file
        let files = files_oldest_first(&path);
        assert_eq!(files.len(), 3, "{files:?}");
        let text: String = files
            .iter()
            .map(|f| fs::read_to_string(f).unwrap())
            .collect();
        assert_eq!(
            text,
            "line 0004\nline 0005\nline 0006\nline 0007\nline 0008\nline 0009\n"
        );
        assert!(!rotated(&path, 3).exists());
    }

    #[test]
    fn one_file_truncates_and_none_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x-json.log");
        let config = LogConfig::parse(None, &["max-size=20".into()]).unwrap();
        let mut log = LogFile::open(&path, &config).unwrap();
        write_lines(&mut log, 5);
        assert_eq!(fs::read_to_string(&path).unwrap(), "line 0004\n");
        assert_eq!(files_oldest_first(&path).len(), 1);
        let none = dir.path().join("none.log");
        let mut log = LogFile::open(&none, &LogConfig::parse(Some("none"), &[]).unwrap()).unwrap();
        write_lines(&mut log, 1);
        assert!(!none.exists());
    }
}
