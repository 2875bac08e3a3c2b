//! hull as a runc-compatible OCI runtime: `hull-runtime …` (argv[0]) or `hull runtime …`.
//! Only the runtime crate is used here; nothing of images or the engine. Errors follow runc's
//! contract: one line on stderr holding the word `error` (youki's contest looks for it) and
//! runc's words where clients match on them, exit status 1 (255 for `exec`, as runc), and with
//! `--log` a line in the log file. `tests/oci-conformance/error_contract.rs` holds the table.

mod args;
mod commands;
mod exec;
mod spec;
mod update;

use std::ffi::OsString;
use std::io::Write;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use clap::Parser;

use args::{LogFormat, OciCli};

/// The file name that makes the binary speak runc's CLI.
pub const ARGV0: &str = "hull-runtime";

/// Whether `args` asks for the runtime CLI; returns the args to parse (argv[0] first).
pub fn wants_runtime_cli(args: &[OsString]) -> Option<Vec<OsString>> {
    let argv0 = args.first().map(Path::new).and_then(Path::file_name);
    if argv0.is_some_and(|n| n == ARGV0) {
        return Some(args.to_vec());
    }
    if args.get(1).is_some_and(|a| a == "runtime") {
        let mut rest = vec![OsString::from(ARGV0)];
        rest.extend_from_slice(&args[2..]);
        return Some(rest);
    }
    None
}

/// Runs the runtime CLI and returns the exit status.
pub fn main(args: Vec<OsString>) -> u8 {
    let cli = match OciCli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) if e.use_stderr() => {
            let text = e.render().to_string();
            let first = text.lines().next().unwrap_or_default();
            let first = first.strip_prefix("error: ").unwrap_or(first);
            eprintln!("{ARGV0}: error: {first}");
            return 1;
        }
        Err(e) => {
            let _ = e.print();
            return 0;
        }
    };
    let (log, format) = (cli.log.clone(), cli.log_format);
    // runc exits 255 when `exec` fails (its own exit codes are the process's).
    let failed = match cli.command {
        Some(args::OciCommand::Exec(_)) => 255,
        _ => 1,
    };
    match commands::run(cli) {
        Ok(code) => code,
        Err(e) => {
            let msg = crate::one_line(&e);
            eprintln!("{ARGV0}: error: {msg}");
            if let Some(path) = log {
                log_error(&path, format, &msg);
            }
            failed
        }
    }
}

/// Appends an error line to the `--log` file, as text or as runc's JSON lines.
fn log_error(path: &Path, format: LogFormat, msg: &str) {
    let time = rfc3339(SystemTime::now());
    let line = match format {
        LogFormat::Json => {
            serde_json::json!({"level": "error", "msg": msg, "time": time}).to_string()
        }
        LogFormat::Text => format!("time=\"{time}\" level=error msg={msg:?}"),
    };
    let file = std::fs::File::options()
        .create(true)
        .append(true)
        .open(path);
    if let Ok(mut f) = file {
        let _ = writeln!(f, "{line}");
    }
}

/// A UTC time as RFC 3339 with seconds (`2024-01-02T03:04:05Z`).
pub(crate) fn rfc3339(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()) as i64;
    let (days, rem) = (secs.div_euclid(86400), secs.rem_euclid(86400));
    let (y, m, d) = civil_from_days(days);
    let (hh, mm, ss) = (rem / 3600, rem % 3600 / 60, rem % 60);
    format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}Z")
}

/// Howard Hinnant's days-to-civil algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn dispatches_on_argv0_or_subcommand() {
        assert!(wants_runtime_cli(&os(&["/usr/bin/hull-runtime", "list"])).is_some());
        let sub = wants_runtime_cli(&os(&["hull", "runtime", "state", "x"])).unwrap();
        assert_eq!(sub, os(&["hull-runtime", "state", "x"]));
        assert!(wants_runtime_cli(&os(&["hull", "run", "busybox"])).is_none());
    }

    #[test]
    fn formats_rfc3339() {
        let t = UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
        assert_eq!(rfc3339(t), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
    }

    #[test]
    fn parses_runc_grammar() {
        let cli = OciCli::try_parse_from(os(&[
            "hull-runtime",
            "--root",
            "/r",
            "--log-format",
            "json",
            "create",
            "-b",
            "/b",
            "--pid-file",
            "/p",
            "--no-pivot",
            "c1",
        ]))
        .unwrap();
        assert_eq!(cli.root, Path::new("/r"));
        let Some(args::OciCommand::Create(c)) = cli.command else {
            panic!("not create")
        };
        assert_eq!((c.id.as_str(), c.no_pivot), ("c1", true));
        assert!(OciCli::try_parse_from(os(&["hull-runtime", "kill", "c1", "KILL"])).is_ok());
    }
}
