//! Times for `--since`/`--until` (`hull logs`, `hull events`, the API), as Docker reads them:
//! a relative duration (`10s`, `2m`, `1h30m`: that long before now), a Unix timestamp
//! (`1700000000[.123]`), or an RFC 3339 time (`2024-01-02T15:04:05Z`, with an offset, without
//! a zone = UTC, or just a date). Everything is nanoseconds since the epoch.

/// Parses a `--since`/`--until` value relative to `now` (nanoseconds since the epoch).
pub fn parse(value: &str, now: i128) -> Option<i128> {
    if let Some(d) = duration(value) {
        return Some(now - d);
    }
    if let Some(t) = unix(value) {
        return Some(t);
    }
    rfc3339(value)
}

/// Go's duration syntax, as `time.ParseDuration`: one or more `<number><unit>`. As Docker reads
/// `--since`, a bare `0` is a time (the epoch), not a duration; a signed value is not a duration
/// here either.
fn duration(s: &str) -> Option<i128> {
    if s == "0" || s.starts_with(['-', '+']) {
        return None;
    }
    crate::run::units::parse_go_duration(s).ok().map(i128::from)
}

/// `seconds[.fraction]`.
fn unix(s: &str) -> Option<i128> {
    let (secs, frac) = s.split_once('.').unwrap_or((s, ""));
    if secs.is_empty() || !secs.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(i128::from(secs.parse::<i64>().ok()?) * 1_000_000_000 + fraction(frac)?)
}

/// Up to nine digits after the point, as nanoseconds.
fn fraction(digits: &str) -> Option<i128> {
    if digits.len() > 9 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    format!("{digits:0<9}").parse().ok()
}

/// An RFC 3339 time, Docker's shortened forms included; the fraction is kept.
pub fn rfc3339(s: &str) -> Option<i128> {
    let full = match s.len() {
        10 => format!("{s}T00:00:00Z"),
        _ if s.contains('T') && !has_zone(s) => format!("{s}Z"),
        _ => s.to_string(),
    };
    let secs = hull_image::time::parse_rfc3339(&full)?;
    let nanos = match full.split_once('.') {
        Some((_, rest)) => {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            fraction(&digits)?
        }
        None => 0,
    };
    Some(i128::from(secs) * 1_000_000_000 + nanos)
}

fn has_zone(s: &str) -> bool {
    let time = s.split_once('T').map_or("", |(_, t)| t);
    time.ends_with(['Z', 'z']) || time.contains(['+', '-'])
}

/// A `since`/`until` window, in nanoseconds since the epoch, both ends included; each end
/// optional. `hull logs`, `hull events` and the API's logs and events share it (each module adds
/// what it asks of the window in its own `impl`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Window {
    pub since: Option<i128>,
    pub until: Option<i128>,
}

impl Window {
    /// Parses the two values (see [`parse`]) against `now`; an empty value is none. A value
    /// that is no time is returned with the name (from `names`) of the end it was given for.
    pub fn parse_at(
        since: Option<&str>,
        until: Option<&str>,
        names: (&'static str, &'static str),
        now: i128,
    ) -> Result<Window, (&'static str, String)> {
        let one = |name: &'static str, v: Option<&str>| match v.filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(v) => parse(v, now).map(Some).ok_or((name, v.to_string())),
        };
        Ok(Window {
            since: one(names.0, since)?,
            until: one(names.1, until)?,
        })
    }

    /// Whether `t` lies in the window.
    pub fn holds(&self, t: i128) -> bool {
        self.since.is_none_or(|s| t >= s) && self.until.is_none_or(|u| t <= u)
    }
}

/// Now, in nanoseconds since the epoch.
pub fn now() -> i128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i128)
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i128 = 1_000_000_000;

    #[test]
    fn durations_count_back_from_now() {
        let now = 1_000 * S;
        assert_eq!(parse("10s", now), Some(990 * S));
        assert_eq!(parse("2m", now), Some(880 * S));
        assert_eq!(parse("1m30s", now), Some(910 * S));
        assert_eq!(parse("1.5s", now), Some(now - 3 * S / 2));
        assert_eq!(parse("0.25h", now), Some(now - 900 * S));
        assert_eq!(parse("10x", now), None);
    }

    #[test]
    fn unix_and_rfc3339_times_are_absolute() {
        assert_eq!(parse("1700000000", 0), Some(1_700_000_000 * S));
        assert_eq!(parse("1700000000.5", 0), Some(1_700_000_000 * S + S / 2));
        let t = 1_700_000_000 * S + 5;
        assert_eq!(parse("2023-11-14T22:13:20.000000005Z", 0), Some(t));
        assert_eq!(parse("2023-11-14T22:13:20Z", 0), Some(t - 5));
        assert_eq!(parse("2023-11-14T22:13:20", 0), Some(t - 5));
        assert_eq!(parse("2023-11-14T23:13:20+01:00", 0), Some(t - 5));
        assert_eq!(
            parse("2023-11-14", 0),
            Some((t - 5) - (22 * 3600 + 13 * 60 + 20) * S)
        );
        assert_eq!(parse("yesterday", 0), None);
    }
}
