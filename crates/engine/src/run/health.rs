//! Health checks as configured: the `--health-*` flags ([`HealthOptions`]) validated into
//! Docker's `HealthConfig` ([`HealthConfig`], durations in nanoseconds, as an image config's
//! `Healthcheck` and `inspect`'s `Config.Healthcheck` spell them), merged field by field over
//! the image's, and the [`Probe`] the monitor runs from it (`lifecycle::health`).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::run::config::{flag_err, FlagError};
use crate::run::units::parse_go_duration;

/// The `--health-*` flags as typed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HealthOptions {
    pub cmd: Option<String>,
    pub interval: Option<String>,
    pub timeout: Option<String>,
    pub start_period: Option<String>,
    pub start_interval: Option<String>,
    pub retries: Option<i64>,
    /// `--no-healthcheck`.
    pub none: bool,
}

/// Docker's HealthConfig: `Test` is `["CMD", args…]`, `["CMD-SHELL", "command"]`, `["NONE"]`
/// or empty (inherit the image's); a zero duration or retry count means "inherit, else the
/// default".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HealthConfig {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub test: Vec<String>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub interval: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub timeout: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub start_period: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub start_interval: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub retries: i64,
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

/// Docker's defaults: every 30s, 30s to answer, no start period, every 5s during it, 3 failures.
const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_START_INTERVAL: Duration = Duration::from_secs(5);
const DEFAULT_RETRIES: u32 = 3;
/// Docker refuses durations below a millisecond (other than 0, "default").
const MIN_DURATION_NS: i64 = 1_000_000;

impl HealthOptions {
    fn any_setting(&self) -> bool {
        self.cmd.is_some()
            || self.interval.is_some()
            || self.timeout.is_some()
            || self.start_period.is_some()
            || self.start_interval.is_some()
            || self.retries.is_some()
    }

    /// The user's HealthConfig, None when no flag asks for one (the image's applies then).
    pub fn validate(&self) -> Result<Option<HealthConfig>, FlagError> {
        if self.none {
            if self.any_setting() {
                return Err(flag_err(
                    "--no-healthcheck",
                    "true",
                    "conflicts with --health-* options",
                ));
            }
            return Ok(Some(HealthConfig {
                test: vec!["NONE".into()],
                ..Default::default()
            }));
        }
        if !self.any_setting() {
            return Ok(None);
        }
        let retries = self.retries.unwrap_or(0);
        if retries < 0 {
            return Err(flag_err(
                "--health-retries",
                &retries.to_string(),
                "cannot be negative",
            ));
        }
        Ok(Some(HealthConfig {
            test: match self.cmd.as_deref() {
                Some(c) if !c.is_empty() => vec!["CMD-SHELL".into(), c.into()],
                _ => Vec::new(),
            },
            interval: duration_flag("--health-interval", &self.interval)?,
            timeout: duration_flag("--health-timeout", &self.timeout)?,
            start_period: duration_flag("--health-start-period", &self.start_period)?,
            start_interval: duration_flag("--health-start-interval", &self.start_interval)?,
            retries,
        }))
    }
}

fn duration_flag(flag: &'static str, value: &Option<String>) -> Result<i64, FlagError> {
    let Some(v) = value else { return Ok(0) };
    let ns = parse_go_duration(v).map_err(|r| flag_err(flag, v, r))?;
    if ns < 0 {
        return Err(flag_err(flag, v, "cannot be negative"));
    }
    if ns != 0 && ns < MIN_DURATION_NS {
        return Err(flag_err(flag, v, "cannot be less than 1ms"));
    }
    Ok(ns)
}

/// Docker's merge of the user's HealthConfig over the image's: a user's NONE or command wins
/// whole; otherwise each unset field comes from the image.
pub fn merge(image: Option<&HealthConfig>, user: Option<HealthConfig>) -> Option<HealthConfig> {
    let Some(image) = image else { return user };
    let Some(mut user) = user else {
        return Some(image.clone());
    };
    if user.test.is_empty() {
        user.test = image.test.clone();
    }
    let inherit = |mine: &mut i64, theirs: i64| {
        if *mine == 0 {
            *mine = theirs;
        }
    };
    inherit(&mut user.interval, image.interval);
    inherit(&mut user.timeout, image.timeout);
    inherit(&mut user.start_period, image.start_period);
    inherit(&mut user.start_interval, image.start_interval);
    inherit(&mut user.retries, image.retries);
    Some(user)
}

/// The image config's `Healthcheck` (a Docker extension, kept among its unknown fields).
pub fn from_image(image: &hull_oci::image::ContainerConfig) -> Option<HealthConfig> {
    serde_json::from_value(image.extra.get("Healthcheck")?.clone()).ok()
}

/// What the monitor runs: the command and its timings, defaults filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    pub args: Vec<String>,
    pub interval: Duration,
    pub timeout: Duration,
    pub start_period: Duration,
    pub start_interval: Duration,
    pub retries: u32,
}

impl HealthConfig {
    /// The probe to run; None for `NONE`, an empty test or an unknown kind.
    pub fn probe(&self) -> Option<Probe> {
        let args = match self.test.split_first()? {
            (kind, rest) if kind == "CMD" && !rest.is_empty() => rest.to_vec(),
            // Docker appends every word after the shell's `-c` (one, as its CLI writes it).
            (kind, rest) if kind == "CMD-SHELL" && !rest.is_empty() => {
                [vec!["/bin/sh".into(), "-c".into()], rest.to_vec()].concat()
            }
            _ => return None,
        };
        let or = |ns: i64, default: Duration| match u64::try_from(ns) {
            Ok(n) if n > 0 => Duration::from_nanos(n),
            _ => default,
        };
        Some(Probe {
            args,
            interval: or(self.interval, DEFAULT_INTERVAL),
            timeout: or(self.timeout, DEFAULT_TIMEOUT),
            start_period: or(self.start_period, Duration::ZERO),
            start_interval: or(self.start_interval, DEFAULT_START_INTERVAL),
            retries: u32::try_from(self.retries)
                .ok()
                .filter(|&r| r > 0)
                .unwrap_or(DEFAULT_RETRIES),
        })
    }
}

/// Go's `Duration.String()` for whole milliseconds and up (`1s`, `1.5s`, `500ms`, `1m30s`),
/// as Docker's timeout message prints the timeout.
pub fn go_duration_string(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let (h, m, s_ms) = (ms / 3_600_000, (ms / 60_000) % 60, ms % 60_000);
    let secs = match s_ms % 1000 {
        0 => format!("{}s", s_ms / 1000),
        frac => format!(
            "{}.{}s",
            s_ms / 1000,
            format!("{frac:03}").trim_end_matches('0')
        ),
    };
    match (h, m) {
        (0, 0) => secs,
        (0, m) => format!("{m}m{secs}"),
        (h, m) => format!("{h}h{m}m{secs}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations_parse_and_print() {
        assert_eq!(parse_go_duration("1s"), Ok(1_000_000_000));
        assert_eq!(parse_go_duration("1m30s"), Ok(90_000_000_000));
        assert_eq!(parse_go_duration("1.5s"), Ok(1_500_000_000));
        assert_eq!(parse_go_duration("250ms"), Ok(250_000_000));
        assert_eq!(parse_go_duration("0"), Ok(0));
        assert_eq!(parse_go_duration("-2s"), Ok(-2_000_000_000));
        assert!(parse_go_duration("5").unwrap_err().contains("missing unit"));
        assert!(parse_go_duration("abc").is_err());
        assert!(parse_go_duration("3x")
            .unwrap_err()
            .contains("unknown unit"));
        assert_eq!(go_duration_string(Duration::from_secs(30)), "30s");
        assert_eq!(go_duration_string(Duration::from_millis(1500)), "1.5s");
        assert_eq!(go_duration_string(Duration::from_millis(500)), "500ms");
        assert_eq!(go_duration_string(Duration::from_secs(90)), "1m30s");
    }

    #[test]
    fn flags_validate_like_dockers() {
        let o = HealthOptions {
            cmd: Some("true".into()),
            interval: Some("2s".into()),
            retries: Some(4),
            ..Default::default()
        };
        let c = o.validate().unwrap().unwrap();
        assert_eq!(c.test, ["CMD-SHELL", "true"]);
        assert_eq!((c.interval, c.timeout, c.retries), (2_000_000_000, 0, 4));
        assert_eq!(HealthOptions::default().validate(), Ok(None));
        let bad = |o: HealthOptions| o.validate().unwrap_err().to_string();
        let e = bad(HealthOptions {
            timeout: Some("soon".into()),
            ..Default::default()
        });
        assert!(
            e.contains("--health-timeout") && e.contains("invalid duration"),
            "{e}"
        );
        let e = bad(HealthOptions {
            interval: Some("-1s".into()),
            ..Default::default()
        });
        assert!(
            e.contains("--health-interval") && e.contains("negative"),
            "{e}"
        );
        let e = bad(HealthOptions {
            retries: Some(-1),
            ..Default::default()
        });
        assert!(e.contains("--health-retries"), "{e}");
        let e = bad(HealthOptions {
            none: true,
            cmd: Some("true".into()),
            ..Default::default()
        });
        assert!(e.contains("--no-healthcheck"), "{e}");
    }

    #[test]
    fn user_settings_merge_over_the_images_field_by_field() {
        let image: HealthConfig = serde_json::from_str(
            r#"{"Test":["CMD","/bin/check"],"Interval":5000000000,"Retries":2}"#,
        )
        .unwrap();
        let user = HealthConfig {
            timeout: 1_000_000_000,
            interval: 7_000_000_000,
            ..Default::default()
        };
        let m = merge(Some(&image), Some(user)).unwrap();
        assert_eq!(m.test, ["CMD", "/bin/check"]);
        assert_eq!(
            (m.interval, m.timeout, m.retries),
            (7_000_000_000, 1_000_000_000, 2)
        );
        let none = HealthConfig {
            test: vec!["NONE".into()],
            ..Default::default()
        };
        assert_eq!(
            merge(Some(&image), Some(none.clone())).unwrap().probe(),
            None
        );
        let p = merge(Some(&image), None).unwrap().probe().unwrap();
        assert_eq!(p.args, ["/bin/check"]);
        assert_eq!(p.interval, Duration::from_secs(5));
        assert_eq!((p.timeout, p.retries), (DEFAULT_TIMEOUT, 2));
        assert_eq!(p.start_interval, DEFAULT_START_INTERVAL);
    }
}
