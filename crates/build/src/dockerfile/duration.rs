//! Go's duration syntax (`30s`, `1m30s`, `1.5h`, `500ms`), which HEALTHCHECK's flags use.

use std::time::Duration;

/// Parses a Go duration (`0` alone allowed, no sign); None when malformed.
pub fn parse_go_duration(text: &str) -> Option<Duration> {
    if text == "0" {
        return Some(Duration::ZERO);
    }
    let mut rest = text;
    let mut total = 0f64;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest[..n].parse().ok()?;
        rest = &rest[n..];
        let u = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        total += number * unit_nanos(&rest[..u])?;
        rest = &rest[u..];
    }
    (total.is_finite() && total < u64::MAX as f64).then(|| Duration::from_nanos(total as u64))
}

fn unit_nanos(unit: &str) -> Option<f64> {
    Some(match unit {
        "ns" => 1.0,
        "us" | "µs" | "μs" => 1e3,
        "ms" => 1e6,
        "s" => 1e9,
        "m" => 60e9,
        "h" => 3600e9,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        let ok: &[(&str, u64)] = &[
            ("0", 0),
            ("30s", 30_000_000_000),
            ("1m30s", 90_000_000_000),
            ("1.5h", 5_400_000_000_000),
            ("500ms", 500_000_000),
            ("10us", 10_000),
            ("2ns", 2),
        ];
        for (text, nanos) in ok {
            assert_eq!(
                parse_go_duration(text),
                Some(Duration::from_nanos(*nanos)),
                "{text}"
            );
        }
        for bad in ["", "s", "10", "10x", "-1s", "1..2s", "abc"] {
            assert_eq!(parse_go_duration(bad), None, "{bad}");
        }
    }
}
