//! The rotating json-file log the monitor writes, by the options in
//! [`crate::run::logconfig::LogConfig`].

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::run::logconfig::{LogConfig, LogDriver};

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
