//! The monitor's decision after each exit under a container's
//! [`RestartPolicy`]: restart or not, and after how long.
//!
//! The delay follows Docker's restart manager: 100 ms, doubled after every restart, capped at
//! one minute, and back to 100 ms once a run lasted 10 s or more.

use std::time::Duration;

use crate::run::restart::RestartPolicy;

const FIRST_DELAY: Duration = Duration::from_millis(100);
const MAX_DELAY: Duration = Duration::from_secs(60);
/// A run at least this long resets the delay to [`FIRST_DELAY`].
const STABLE_RUN: Duration = Duration::from_secs(10);

/// The monitor's restart bookkeeping for one container.
#[derive(Debug, Clone)]
pub struct Restarter {
    policy: RestartPolicy,
    /// Restarts made so far (Docker's RestartCount).
    pub count: u32,
    delay: Option<Duration>,
}

impl Restarter {
    /// A policy changed by `hull update`; the count and the back-off go on.
    pub fn set_policy(&mut self, policy: RestartPolicy) {
        self.policy = policy;
    }

    pub fn new(policy: RestartPolicy) -> Restarter {
        Restarter {
            policy,
            count: 0,
            delay: None,
        }
    }

    /// After an exit with `code` from a run that lasted `ran`: the delay before the next run,
    /// or None when the container stays exited. `stopped_by_user` (`hull stop`/`kill`) always
    /// wins, as Docker's does.
    pub fn next(&mut self, code: i32, ran: Duration, stopped_by_user: bool) -> Option<Duration> {
        if ran >= STABLE_RUN {
            self.delay = None;
        }
        let delay = match self.delay {
            None => FIRST_DELAY,
            Some(d) => (d * 2).min(MAX_DELAY),
        };
        self.delay = Some(delay);
        let restart = !stopped_by_user
            && match self.policy {
                RestartPolicy::No => false,
                RestartPolicy::Always | RestartPolicy::UnlessStopped => true,
                RestartPolicy::OnFailure { max } => code != 0 && (max == 0 || self.count < max),
            };
        if !restart {
            return None;
        }
        self.count += 1;
        Some(delay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn on_failure_restarts_failures_at_most_n_times() {
        let mut r = Restarter::new(RestartPolicy::OnFailure { max: 2 });
        let quick = Duration::from_millis(1);
        assert_eq!(r.next(0, quick, false), None, "success is not a failure");
        assert!(r.next(1, quick, false).is_some());
        assert!(r.next(1, quick, false).is_some());
        assert_eq!(r.next(1, quick, false), None);
        assert_eq!(r.count, 2);
    }

    #[test]
    fn delays_double_reset_after_a_stable_run_and_cap() {
        let mut r = Restarter::new(RestartPolicy::Always);
        let quick = Duration::from_millis(1);
        let ms = |d: Option<Duration>| d.unwrap().as_millis();
        assert_eq!(ms(r.next(0, quick, false)), 100);
        assert_eq!(ms(r.next(0, quick, false)), 200);
        assert_eq!(ms(r.next(0, quick, false)), 400);
        assert_eq!(ms(r.next(0, STABLE_RUN, false)), 100);
        for _ in 0..20 {
            r.next(0, quick, false);
        }
        assert_eq!(r.next(0, quick, false), Some(MAX_DELAY));
    }

    #[test]
    fn a_user_stop_ends_every_policy() {
        for p in [
            RestartPolicy::Always,
            RestartPolicy::UnlessStopped,
            RestartPolicy::OnFailure { max: 0 },
        ] {
            assert_eq!(Restarter::new(p).next(1, Duration::ZERO, true), None);
        }
    }
}
