//! Docker's restart policies, `--restart no|on-failure[:N]|always|unless-stopped`; the
//! monitor acts on them (`lifecycle::restart`).

use serde::{Deserialize, Serialize};

/// When the monitor runs an exited container again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum RestartPolicy {
    #[default]
    No,
    /// Only after a non-zero exit; at most `max` times when `max` is not 0.
    OnFailure {
        max: u32,
    },
    Always,
    /// As `Always` while the monitor lives; it differs from it only across engine restarts,
    /// which a daemonless engine does not have.
    UnlessStopped,
}

impl RestartPolicy {
    /// Parses Docker's `--restart` value.
    pub fn parse(s: &str) -> Result<RestartPolicy, String> {
        let (name, count) = match s.split_once(':') {
            Some((n, c)) => (n, Some(c)),
            None => (s, None),
        };
        let policy = match name {
            "" | "no" => RestartPolicy::No,
            "always" => RestartPolicy::Always,
            "unless-stopped" => RestartPolicy::UnlessStopped,
            "on-failure" => RestartPolicy::OnFailure { max: 0 },
            _ => return Err(format!("invalid restart policy {name:?}")),
        };
        match (policy, count) {
            (_, None) => Ok(policy),
            (RestartPolicy::OnFailure { .. }, Some(c)) => c
                .parse::<u32>()
                .map(|max| RestartPolicy::OnFailure { max })
                .map_err(|_| format!("maximum retry count must be a non-negative integer: {c:?}")),
            (_, Some(_)) => Err(format!(
                "maximum retry count cannot be used with restart policy '{name}'"
            )),
        }
    }

    /// Docker's name for it, as `inspect` shows it under `HostConfig.RestartPolicy.Name`.
    pub fn name(&self) -> &'static str {
        match self {
            RestartPolicy::No => "no",
            RestartPolicy::OnFailure { .. } => "on-failure",
            RestartPolicy::Always => "always",
            RestartPolicy::UnlessStopped => "unless-stopped",
        }
    }

    pub fn max_retries(&self) -> u32 {
        match self {
            RestartPolicy::OnFailure { max } => *max,
            RestartPolicy::No | RestartPolicy::Always | RestartPolicy::UnlessStopped => 0,
        }
    }

    pub fn is_no(&self) -> bool {
        *self == RestartPolicy::No
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_parse_like_dockers() {
        assert_eq!(RestartPolicy::parse("no").unwrap(), RestartPolicy::No);
        assert_eq!(
            RestartPolicy::parse("always").unwrap(),
            RestartPolicy::Always
        );
        assert_eq!(
            RestartPolicy::parse("unless-stopped").unwrap(),
            RestartPolicy::UnlessStopped
        );
        assert_eq!(
            RestartPolicy::parse("on-failure").unwrap(),
            RestartPolicy::OnFailure { max: 0 }
        );
        assert_eq!(
            RestartPolicy::parse("on-failure:3").unwrap(),
            RestartPolicy::OnFailure { max: 3 }
        );
        assert!(RestartPolicy::parse("on-failure:-1").is_err());
        assert!(RestartPolicy::parse("always:3")
            .unwrap_err()
            .contains("cannot be used with restart policy 'always'"));
        assert!(RestartPolicy::parse("sometimes").is_err());
    }
}
