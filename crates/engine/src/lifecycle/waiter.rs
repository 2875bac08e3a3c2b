//! Docker's `wait` conditions, one look at a time: a caller that must not block a thread for as
//! long as a container runs (the API service) polls [`Engine::wait_check`] on its own clock.
//! `hull wait` blocks in [`Engine::wait`] instead (`stop`).

use crate::state::{Record, Status};
use crate::{Engine, EngineError};

/// What `wait?condition=` waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitCondition {
    /// The container does not run (at once for one that does not), or exited and its restart
    /// policy runs it again.
    NotRunning,
    /// The next exit after the wait began, whatever the container's state then.
    NextExit,
    /// The container's record is gone (`rm`, or `--rm` after its exit).
    Removed,
}

impl WaitCondition {
    /// Docker's names; empty is `not-running`.
    pub fn parse(s: &str) -> Option<WaitCondition> {
        match s {
            "" | "not-running" => Some(WaitCondition::NotRunning),
            "next-exit" => Some(WaitCondition::NextExit),
            "removed" => Some(WaitCondition::Removed),
            _ => None,
        }
    }
}

/// A wait in progress: the record as it was when it began, and the last exit code seen.
#[derive(Debug, Clone)]
pub struct Waiter {
    pub condition: WaitCondition,
    seen: Record,
    last_code: Option<i32>,
    exit: Option<i32>,
}

impl Engine {
    /// Begins a wait on the container the client calls `name`.
    pub fn waiter(&self, name: &str, condition: WaitCondition) -> Result<Waiter, EngineError> {
        let seen = self.containers.resolve(name)?;
        if seen.config.rm {
            self.containers.expect_exit_code(&seen.id);
        }
        Ok(Waiter {
            condition,
            last_code: seen.state.exit_code,
            seen,
            exit: None,
        })
    }

    /// One look: the exit code once the wait's condition holds, else None.
    pub fn wait_check(&self, w: &mut Waiter) -> Option<i32> {
        let id = w.seen.id.clone();
        let now = self.containers.load(&id).ok();
        let new_exit = now.as_ref().filter(|r| {
            r.state.finished_at.is_some() && r.state.finished_at != w.seen.state.finished_at
        });
        if let Some(r) = &now {
            w.last_code = r.state.exit_code.or(w.last_code);
        }
        if let Some(r) = new_exit {
            w.exit = w.exit.or(r.state.exit_code);
        }
        // Once removed: the code a `--rm` container left, else the last one seen.
        let left = || self.containers.left_exit_code(&id);
        let code = || left().or(w.last_code).unwrap_or(0);
        match w.condition {
            WaitCondition::Removed => now.is_none().then(code),
            WaitCondition::NextExit if now.is_none() => Some(code()),
            WaitCondition::NextExit => new_exit.map(|_| w.exit.unwrap_or(0)),
            WaitCondition::NotRunning if !self.containers.is_alive(&id) => {
                Some(match self.containers.load(&id) {
                    Ok(r) => r.state.exit_code.unwrap_or(0),
                    Err(_) => code(),
                })
            }
            // Exited, and the restart policy runs it again: that exit counts (as Docker's).
            WaitCondition::NotRunning => match (w.exit, &now) {
                (Some(c), Some(r)) if r.state.status != Status::Exited => Some(c),
                _ => None,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_have_dockers_names() {
        assert_eq!(WaitCondition::parse(""), Some(WaitCondition::NotRunning));
        assert_eq!(
            WaitCondition::parse("next-exit"),
            Some(WaitCondition::NextExit)
        );
        assert_eq!(
            WaitCondition::parse("removed"),
            Some(WaitCondition::Removed)
        );
        assert_eq!(WaitCondition::parse("gone"), None);
    }
}
