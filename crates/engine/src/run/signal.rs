//! Signals by number or name, as `hull kill --signal` takes them.

#[derive(Debug, thiserror::Error)]
#[error("invalid signal: {0}")]
pub struct BadSignal(String);

/// A signal by number or name, with or without `SIG` (`9`, `KILL`, `SIGKILL`, `sigterm`).
pub fn parse_signal(s: &str) -> Result<i32, BadSignal> {
    hull_sys::signal::parse(s).ok_or_else(|| BadSignal(s.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_parse_by_number_and_name() {
        assert_eq!(parse_signal("9").unwrap(), 9);
        assert_eq!(parse_signal("KILL").unwrap(), libc::SIGKILL);
        assert_eq!(parse_signal("sigusr1").unwrap(), libc::SIGUSR1);
        assert_eq!(parse_signal("SIGTERM").unwrap(), libc::SIGTERM);
        assert!(parse_signal("NOPE").is_err());
        assert!(parse_signal("0").is_err());
    }
}
